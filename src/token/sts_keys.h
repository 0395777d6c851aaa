/*
 * sts_keys.h - the STS signing key and certificate.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master key is loaded once. Each thread gets its own xmlSecKey duplicate
 * on first use, which is *lent* to xmlsec signature contexts (never
 * duplicated per signature: that costs ~90 us and discards OpenSSL's cached
 * precomputation, see gsoap-notes.md section 6).
 */
#ifndef STS_KEYS_H
#define STS_KEYS_H

#include "sts_err.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <xmlsec/keys.h>

typedef struct sts_keys sts_keys_t;

/** @brief Initialise libxml2 + xmlsec + the OpenSSL backend once (main thread). */
sts_errc_t sts_keys_global_init(sts_err_t *err);
/** @brief Undo sts_keys_global_init() at exit. */
void sts_keys_global_cleanup(void);

/**
 * @brief Load a PEM private key (RSA or EC P-256) and its PEM certificate.
 * @param out new key set; free with sts_keys_free().
 */
sts_errc_t sts_keys_load(const char *key_file, const char *cert_file, sts_keys_t **out,
                         sts_err_t *err);

/** @brief Free @keys and every per-thread duplicate (call after worker threads stopped). */
void sts_keys_free(sts_keys_t *keys);

/**
 * @brief The calling thread's xmlSecKey for @keys (created on first use).
 * Borrowed: lend it to a dsig ctx and set ctx->signKey = NULL before destroying the ctx.
 * Returns NULL on allocation failure.
 */
xmlSecKeyPtr sts_keys_thread_key(sts_keys_t *keys);

/** @brief The signing key as EVP_PKEY (borrowed). */
EVP_PKEY *sts_keys_pkey(const sts_keys_t *keys);

/** @brief The signing certificate (borrowed). */
X509 *sts_keys_cert(const sts_keys_t *keys);

/** @brief True when the signing key is EC (ECDSA-SHA256), false for RSA (RSA-SHA256). */
int sts_keys_is_ec(const sts_keys_t *keys);

/** @brief Key id: base64url SHA-256 thumbprint of the certificate (borrowed string). */
const char *sts_keys_kid(const sts_keys_t *keys);

#endif /* STS_KEYS_H */
