/*
 * sts_xenc.h - XML Encryption of an issued token for its relying party.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_XENC_H
#define STS_XENC_H

#include "sts_err.h"
#include "sts_keys.h"

#include <libxml/tree.h>
#include <stddef.h>


/**
 * @brief Encrypt @plain (@len bytes: a signed token element, exactly as
 * signed) for the RSA certificate @rcpt: an xenc:EncryptedData (Type
 * Element, AES-256-GCM) whose ds:KeyInfo holds an xenc:EncryptedKey
 * (rsa-oaep-mgf1p) naming the certificate; with @saml2 wrapped in a
 * saml2:EncryptedAssertion. *out: new NUL-terminated string (free()), all
 * namespaces declared on its root.
 * @return STS_OK, STS_E_CRYPTO, STS_E_NOMEM, STS_E_INTERNAL (not RSA).
 */
sts_errc_t sts_xenc_encrypt(const sts_keys_t *rcpt, const char *plain, size_t len, int saml2,
                            char **out, size_t *out_len, sts_err_t *err);

/**
 * @brief Append to @parent an xenc:EncryptedKey carrying @key (16 to 64 bytes)
 * transported with RSA-OAEP to @rcpt and naming its
 * certificate; the xenc and ds namespaces must be in scope at @parent.
 */
sts_errc_t sts_xenc_add_encrypted_key(const sts_keys_t *rcpt, const unsigned char *key,
                                      size_t key_len, xmlNodePtr parent, sts_err_t *err);

/**
 * @brief P_SHA1(@secret, @seed) of RFC 2246 sec. 5 (TLS 1.0's PRF half), the
 * WS-Trust ComputedKeyAlgorithm .../CK/PSHA1: the requester's entropy is the
 * secret, the issuer's the seed. Writes @out_len bytes. 0, or -1 on failure.
 */
int sts_psha1(const unsigned char *secret, size_t secret_len, const unsigned char *seed,
              size_t seed_len, unsigned char *out, size_t out_len);

#endif /* STS_XENC_H */
