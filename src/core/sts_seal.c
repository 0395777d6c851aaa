/*
 * sts_seal.c - secrets at rest: AES-256-GCM sealing and crypt(3) passwords.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) the STS authors
 *
 * Owns the sealed-secret format ("v1:" + base64(nonce[12] | ciphertext |
 * tag[16])), the seal key file format (64 hex digits) and password hashing
 * with libxcrypt (yescrypt). It does not know where keys or users come from:
 * sts_cfg names the files, the engine and the CLI call these functions.
 * Everything here is thread-safe: no static buffers, crypt_ra() with
 * per-call data, never crypt().
 */
#include "sts_seal.h"

#include "sts_log.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_PREFIX "v1:"
#define SEAL_PREFIX_LEN 3
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
/* A sealed secret is a password: anything longer than this is not ours. */
#define SEAL_MAX_PLAIN 4096

/*
 * A yescrypt hash (of a random password nobody knows) with the same cost as
 * crypt_gensalt_ra("$y$", 0, ...) produces: checking a password against it
 * costs what a real check costs, so an unknown or locked user is not revealed
 * by the response time.
 */
static const char dummy_hash[] =
    "$y$j9T$eWJKE/VJAf5PvSDt2hDGb0$NPMLAw7DrqKAuHe.4ePuDhCO.3vtjHI.9IOXDhdlq9D";

void sts_free_secret(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sts_errc_t sts_seal_key_load(const char *path, int strict_perms, unsigned char key[STS_SEAL_KEYLEN],
                             sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    unsigned char buf[2 * STS_SEAL_KEYLEN + 2]; /* 64 hex, newline, one byte to detect excess */
    unsigned char tmp[STS_SEAL_KEYLEN];
    struct stat st;
    size_t len = 0;
    int fd = -1;

    STS_FAIL_IF(path == NULL || key == NULL, err, STS_E_INTERNAL, "seal key: no path");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    STS_FAIL_IF(fd < 0, err, STS_E_CONFIG, "%s: cannot open seal key: %s", path, strerror(errno));
    STS_FAIL_IF(fstat(fd, &st) != 0, err, STS_E_CONFIG, "%s: cannot stat seal key: %s", path,
                strerror(errno));
    STS_FAIL_IF(!S_ISREG(st.st_mode), err, STS_E_CONFIG, "%s: seal key is not a regular file",
                path);
    if ((st.st_mode & 077) != 0) {
        STS_FAIL_IF(strict_perms, err, STS_E_CONFIG,
                    "%s: seal key is accessible by group or others (mode %04o); chmod 600 it",
                    path, (unsigned)(st.st_mode & 07777));
        sts_warn("%s: seal key is accessible by group or others (mode %04o); accepted only "
                 "because this is the development default",
                 path, (unsigned)(st.st_mode & 07777));
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        STS_FAIL_IF(n < 0, err, STS_E_CONFIG, "%s: cannot read seal key: %s", path,
                    strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len == 2 * STS_SEAL_KEYLEN + 1 && buf[len - 1] == '\n')
        len--;
    STS_FAIL_IF(len != 2 * STS_SEAL_KEYLEN, err, STS_E_CONFIG,
                "%s: seal key must be exactly %d hex digits and an optional newline", path,
                2 * STS_SEAL_KEYLEN);
    for (size_t i = 0; i < STS_SEAL_KEYLEN; i++) {
        int hi = hexval(buf[2 * i]);
        int lo = hexval(buf[2 * i + 1]);
        STS_FAIL_IF(hi < 0 || lo < 0, err, STS_E_CONFIG,
                    "%s: seal key must be exactly %d hex digits and an optional newline", path,
                    2 * STS_SEAL_KEYLEN);
        tmp[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(key, tmp, STS_SEAL_KEYLEN);

cleanup:
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(tmp, sizeof(tmp));
    if (fd >= 0)
        close(fd);
    return rc;
}

sts_errc_t sts_seal(const unsigned char key[STS_SEAL_KEYLEN], const char *plain, char **out,
                    sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *raw = NULL;
    char *text = NULL;
    size_t plen, rawlen, textlen;
    int n = 0, fin = 0;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(key == NULL || plain == NULL || out == NULL, err, STS_E_INTERNAL,
                "seal: NULL argument");
    plen = strlen(plain);
    STS_FAIL_IF(plen > SEAL_MAX_PLAIN, err, STS_E_CRYPTO, "seal: secret longer than %d bytes",
                SEAL_MAX_PLAIN);
    rawlen = SEAL_NONCE_LEN + plen + SEAL_TAG_LEN;
    raw = malloc(rawlen);
    textlen = SEAL_PREFIX_LEN + 4 * ((rawlen + 2) / 3);
    text = malloc(textlen + 1);
    STS_FAIL_IF(raw == NULL || text == NULL, err, STS_E_NOMEM, "seal: out of memory");

    STS_FAIL_IF(RAND_bytes(raw, SEAL_NONCE_LEN) != 1, err, STS_E_CRYPTO,
                "seal: no random nonce");
    ctx = EVP_CIPHER_CTX_new();
    STS_FAIL_IF(ctx == NULL, err, STS_E_NOMEM, "seal: out of memory");
    /* AES-256-GCM's default IV length is the 12 bytes we use. */
    STS_FAIL_IF(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
                    EVP_EncryptUpdate(ctx, raw + SEAL_NONCE_LEN, &n, (const unsigned char *)plain,
                                      (int)plen) != 1 ||
                    EVP_EncryptFinal_ex(ctx, raw + SEAL_NONCE_LEN + n, &fin) != 1 ||
                    (size_t)(n + fin) != plen ||
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
                                        raw + SEAL_NONCE_LEN + plen) != 1,
                err, STS_E_CRYPTO, "seal: AES-256-GCM encryption failed");

    memcpy(text, SEAL_PREFIX, SEAL_PREFIX_LEN);
    STS_FAIL_IF((size_t)EVP_EncodeBlock((unsigned char *)text + SEAL_PREFIX_LEN, raw, (int)rawlen) !=
                    textlen - SEAL_PREFIX_LEN,
                err, STS_E_CRYPTO, "seal: base64 encoding failed");
    *out = text;
    text = NULL;

cleanup:
    EVP_CIPHER_CTX_free(ctx);
    free(text);
    free(raw); /* nonce, ciphertext and tag are not secret */
    return rc;
}

/* Strict standard base64 with padding: the only form sts_seal() writes. */
static int b64_valid(const char *s, size_t len)
{
    size_t pad = 0;

    if (len == 0 || len % 4 != 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (i < len - 2)
                return 0;
            pad++;
        } else if (pad != 0) {
            return 0;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return 0;
        }
    }
    return 1;
}

sts_errc_t sts_unseal(const unsigned char key[STS_SEAL_KEYLEN], const char *sealed, char **out,
                      sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *raw = NULL;
    char *plain = NULL;
    const char *b64;
    size_t b64len, rawlen = 0, ctlen = 0;
    int n = 0, fin = 0, dec;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(key == NULL || sealed == NULL || out == NULL, err, STS_E_INTERNAL,
                "unseal: NULL argument");
    STS_FAIL_IF(strncmp(sealed, SEAL_PREFIX, SEAL_PREFIX_LEN) != 0, err, STS_E_CRYPTO,
                "unseal: not a v1 sealed secret");
    b64 = sealed + SEAL_PREFIX_LEN;
    b64len = strlen(b64);
    STS_FAIL_IF(b64len > 4 * ((SEAL_NONCE_LEN + SEAL_MAX_PLAIN + SEAL_TAG_LEN + 2) / 3) ||
                    !b64_valid(b64, b64len),
                err, STS_E_CRYPTO, "unseal: malformed sealed secret");
    raw = malloc(b64len / 4 * 3);
    STS_FAIL_IF(raw == NULL, err, STS_E_NOMEM, "unseal: out of memory");
    dec = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64len);
    STS_FAIL_IF(dec < 0, err, STS_E_CRYPTO, "unseal: malformed sealed secret");
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    rawlen = (size_t)dec - (b64[b64len - 1] == '=') - (b64[b64len - 2] == '=');
    STS_FAIL_IF(rawlen < SEAL_NONCE_LEN + SEAL_TAG_LEN, err, STS_E_CRYPTO,
                "unseal: sealed secret too short");
    ctlen = rawlen - SEAL_NONCE_LEN - SEAL_TAG_LEN;
    plain = malloc(ctlen + 1);
    STS_FAIL_IF(plain == NULL, err, STS_E_NOMEM, "unseal: out of memory");

    ctx = EVP_CIPHER_CTX_new();
    STS_FAIL_IF(ctx == NULL, err, STS_E_NOMEM, "unseal: out of memory");
    STS_FAIL_IF(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
                    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, raw + SEAL_NONCE_LEN,
                                      (int)ctlen) != 1 ||
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
                                        raw + SEAL_NONCE_LEN + ctlen) != 1,
                err, STS_E_CRYPTO, "unseal: AES-256-GCM decryption failed");
    /* Only a verified tag yields the plaintext. */
    STS_FAIL_IF(EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &fin) != 1 ||
                    (size_t)(n + fin) != ctlen,
                err, STS_E_CRYPTO, "unseal: sealed secret failed authentication (wrong key or "
                                   "tampered)");
    plain[ctlen] = '\0';
    STS_FAIL_IF(memchr(plain, '\0', ctlen) != NULL, err, STS_E_CRYPTO,
                "unseal: sealed secret contains a NUL byte");
    *out = plain;
    plain = NULL;

cleanup:
    EVP_CIPHER_CTX_free(ctx);
    if (plain != NULL) {
        OPENSSL_cleanse(plain, ctlen + 1);
        free(plain);
    }
    free(raw);
    return rc;
}

/* crypt_ra() with its own scratch area, wiped afterwards. Returns a new string or NULL. */
static char *crypt_dup(const char *password, const char *setting)
{
    void *data = NULL;
    int size = 0;
    char *res;
    char *copy = NULL;

    res = crypt_ra(password, setting, &data, &size);
    /* libxcrypt signals failure with NULL or a string starting with '*'. */
    if (res != NULL && res[0] != '*')
        copy = strdup(res);
    if (data != NULL) {
        OPENSSL_cleanse(data, (size_t)size);
        free(data);
    }
    return copy;
}

sts_errc_t sts_password_hash(const char *password, char **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    char *setting = NULL;
    char *hash = NULL;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(password == NULL || out == NULL, err, STS_E_INTERNAL,
                "password hash: NULL argument");
    errno = 0;
    setting = crypt_gensalt_ra("$y$", 0, NULL, 0);
    STS_FAIL_IF(setting == NULL, err, STS_E_CRYPTO, "crypt_gensalt_ra($y$) failed: %s",
                strerror(errno));
    hash = crypt_dup(password, setting);
    STS_FAIL_IF(hash == NULL, err, STS_E_CRYPTO, "crypt_ra(yescrypt) failed");
    *out = hash;

cleanup:
    free(setting);
    return rc;
}

int sts_password_check(const char *hash, const char *password)
{
    char *res = NULL;
    int ok = 0;

    if (password == NULL)
        password = "";
    /*
     * "*" and "!" are the shadow(5) ways of locking an account; anything not
     * in "$id$" form is not a hash we issue. Both still pay for one hash.
     */
    if (hash != NULL && hash[0] == '$')
        res = crypt_dup(password, hash);
    if (res == NULL) {
        sts_free_secret(crypt_dup(password, dummy_hash));
        return 0;
    }
    if (strlen(res) == strlen(hash))
        ok = CRYPTO_memcmp(res, hash, strlen(hash)) == 0;
    sts_free_secret(res);
    return ok;
}
