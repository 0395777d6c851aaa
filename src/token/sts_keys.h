/*
 * sts_keys.h - the STS signing key and certificate.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master key is loaded once. Each thread gets its own xmlSecKey duplicate
 * on first use, which is *lent* to xmlsec signature contexts (never
 * duplicated per signature: that costs ~90 us and discards OpenSSL's cached
 * precomputation, see gsoap-notes.md section 6).
 *
 * A key set from sts_keys_load_public() holds only a certificate and its
 * public key (e.g. a trusted issuer's): it verifies JWTs but cannot sign, and
 * has no xmlSecKey.
 */
#ifndef STS_KEYS_H
#define STS_KEYS_H

#include "sts_err.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <xmlsec/keys.h>

typedef struct sts_keys sts_keys_t;

/** Longest key id (characters) that sts_keys_load_public() accepts as @kid. */
#define STS_KEYS_KID_MAX 128

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

/**
 * @brief Load a PEM certificate (RSA >= 2048 bits or EC P-256 public key; no
 * other key type) as a verify-only key set: no private key, no xmlSecKey.
 *
 * sts_keys_pkey() returns the certificate's public key and sts_keys_cert() the
 * certificate; sts_keys_thread_key() returns NULL and sts_keys_has_private()
 * 0, so sts_jwt_sign() and sts_saml2_issue() fail with an error for it.
 *
 * @param cert_file PEM certificate; only the first certificate is read.
 * @param kid       key id to report from sts_keys_kid(): 1..STS_KEYS_KID_MAX
 *                  printable ASCII characters (%x20-7E); copied. NULL = the
 *                  base64url SHA-256 thumbprint of the certificate, as for
 *                  sts_keys_load().
 * @param out       set on success only: a new key set; free with sts_keys_free().
 * @param err       may be NULL.
 * @return STS_OK; STS_E_CONFIG (unreadable file, not a certificate, key type,
 *         bad @kid), STS_E_NOMEM, STS_E_CRYPTO or STS_E_INTERNAL (bad arguments).
 */
sts_errc_t sts_keys_load_public(const char *cert_file, const char *kid, sts_keys_t **out,
                                sts_err_t *err);

/** @brief Free @keys and every per-thread duplicate (call after worker threads stopped). */
void sts_keys_free(sts_keys_t *keys);

/**
 * @brief The calling thread's xmlSecKey for @keys (created on first use).
 * Borrowed: lend it to a dsig ctx and set ctx->signKey = NULL before destroying the ctx.
 * Returns NULL on allocation failure, and always for a public-only key set.
 */
xmlSecKeyPtr sts_keys_thread_key(sts_keys_t *keys);

/** @brief The signing key as EVP_PKEY (borrowed); the public key for a public-only set. */
EVP_PKEY *sts_keys_pkey(const sts_keys_t *keys);

/** @brief The signing certificate (borrowed). */
X509 *sts_keys_cert(const sts_keys_t *keys);

/** @brief The signing certificate in DER, *@len bytes (borrowed; NULL without one). */
const unsigned char *sts_keys_cert_der(const sts_keys_t *keys, size_t *len);

/** @brief True when the signing key is EC (ECDSA-SHA256), false for RSA (RSA-SHA256). */
int sts_keys_is_ec(const sts_keys_t *keys);

/**
 * @brief Key id: base64url SHA-256 thumbprint of the certificate, or the kid
 * given to sts_keys_load_public() (borrowed string; valid while @keys lives).
 */
const char *sts_keys_kid(const sts_keys_t *keys);

/** @brief 1 when @keys holds a private key (sts_keys_load()), 0 when public-only or NULL. */
int sts_keys_has_private(const sts_keys_t *keys);

#endif /* STS_KEYS_H */
