/*
 * sts_seal.h - secrets at rest: AES-256-GCM sealing and password hashing.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * PasswordDigest needs the password itself, so users that may use it carry a
 * sealed copy ("v1:" + base64(nonce[12] | ciphertext | tag[16])) under a key
 * file; password checks otherwise use crypt(3) hashes only.
 */
#ifndef STS_SEAL_H
#define STS_SEAL_H

#include "sts_err.h"

#include <stddef.h>

#define STS_SEAL_KEYLEN 32

/**
 * @brief Read a 32-byte key file (64 hex digits + optional newline).
 * @param strict_perms when true, a file readable by group or other is refused
 *        (STS_E_CONFIG); when false (the embedded dev default, whose keys a git
 *        checkout leaves 0644) it is only logged as a warning.
 */
sts_errc_t sts_seal_key_load(const char *path, int strict_perms, unsigned char key[STS_SEAL_KEYLEN],
                             sts_err_t *err);

/** @brief Seal @plain; *out is a new string, free with free(). */
sts_errc_t sts_seal(const unsigned char key[STS_SEAL_KEYLEN], const char *plain, char **out,
                    sts_err_t *err);

/** @brief Unseal; *out is a new string, free with sts_free_secret(). Tampered: STS_E_CRYPTO. */
sts_errc_t sts_unseal(const unsigned char key[STS_SEAL_KEYLEN], const char *sealed, char **out,
                      sts_err_t *err);

/** @brief Hash @password with yescrypt (crypt_gensalt "$y$"); *out new string, free(). */
sts_errc_t sts_password_hash(const char *password, char **out, sts_err_t *err);

/**
 * @brief Check @password against crypt(3) @hash. @hash NULL (unknown user)
 * still costs one hash computation so timing does not reveal the user.
 * @return 1 on match, 0 otherwise.
 */
int sts_password_check(const char *hash, const char *password);

/** @brief Wipe then free a NUL-terminated secret (NULL ok). */
void sts_free_secret(char *s);

#endif /* STS_SEAL_H */
