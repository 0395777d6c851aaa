/*
 * sts_xenc.c - XML Encryption of an issued token for its relying party.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * XML Encryption 1.1, the profile SAML 2.0 and WS-Trust relying parties
 * decrypt: xenc:EncryptedData Type="#Element" over the token's exact signed
 * bytes (never re-serialised), content encrypted with AES-256-GCM (IV || data
 * || tag in CipherValue, xmlenc11 section 5.2.4) under a fresh key, which an
 * xenc:EncryptedKey carries transported with RSA-OAEP (rsa-oaep-mgf1p: SHA-1
 * digest and MGF1-SHA1, the defaults every implementation has) to the
 * certificate named in its ds:KeyInfo. OpenSSL does the cryptography; the
 * structure is built with libxml2, so every text is escaped.
 */
#include "sts_xenc.h"

#include "sts_jwt.h"
#include "sts_ns.h"

#include <libxml/tree.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CEK_LEN 32 /* AES-256 */
#define IV_LEN 12
#define TAG_LEN 16

/* AES-256-GCM of @plain under @cek: IV || ciphertext || tag, malloc'd. */
static unsigned char *seal(const unsigned char cek[CEK_LEN], const char *plain, size_t len,
                           size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *out = len <= INT_MAX - IV_LEN - TAG_LEN ? malloc(IV_LEN + len + TAG_LEN) : NULL;
    int n = 0, fin = 0, ok;

    ok = ctx != NULL && out != NULL && RAND_bytes(out, IV_LEN) == 1 &&
         EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) == 1 &&
         EVP_EncryptInit_ex(ctx, NULL, NULL, cek, out) == 1 &&
         EVP_EncryptUpdate(ctx, out + IV_LEN, &n, (const unsigned char *)plain, (int)len) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + IV_LEN + n, &fin) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + IV_LEN + n + fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = IV_LEN + (size_t)n + (size_t)fin + TAG_LEN;
    return out;
}

/* RSA-OAEP (SHA-1, MGF1-SHA1) of the @len bytes of @key for @pkey, malloc'd. */
static unsigned char *wrap_key(EVP_PKEY *pkey, const unsigned char *key, size_t len,
                               size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    unsigned char *out = NULL;
    size_t n = 0;

    if (ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) == 1 &&
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) == 1 &&
        EVP_PKEY_encrypt(ctx, NULL, &n, key, len) == 1 && (out = malloc(n)) != NULL &&
        EVP_PKEY_encrypt(ctx, out, &n, key, len) == 1) {
        *out_len = n;
    } else {
        free(out);
        out = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* <xenc:EncryptionMethod Algorithm=@alg/> under @parent; NULL on failure. */
static xmlNodePtr method(xmlNodePtr parent, xmlNsPtr xenc, const char *alg)
{
    xmlNodePtr m = xmlNewChild(parent, xenc, BAD_CAST "EncryptionMethod", NULL);
    return m != NULL && xmlNewProp(m, BAD_CAST "Algorithm", BAD_CAST alg) != NULL ? m : NULL;
}

/* <xenc:CipherData><xenc:CipherValue>@value</...></...> under @parent. */
static int cipher_data(xmlNodePtr parent, xmlNsPtr xenc, const char *value)
{
    xmlNodePtr cd = xmlNewChild(parent, xenc, BAD_CAST "CipherData", NULL);
    return cd != NULL && xmlNewTextChild(cd, xenc, BAD_CAST "CipherValue", BAD_CAST value) != NULL
               ? 0
               : -1;
}

/* <xenc:EncryptedKey> (rsa-oaep-mgf1p, naming @cert_b64) with @key_b64 under @parent. */
static int encrypted_key(xmlNodePtr parent, xmlNsPtr xenc, xmlNsPtr ds, const char *cert_b64,
                         const char *key_b64)
{
    xmlNodePtr ek = xmlNewChild(parent, xenc, BAD_CAST "EncryptedKey", NULL), m, dm, ki, x5d;

    m = ek ? method(ek, xenc, STS_XENC_RSA_OAEP) : NULL;
    dm = m ? xmlNewChild(m, ds, BAD_CAST "DigestMethod", NULL) : NULL;
    if (dm == NULL || xmlNewProp(dm, BAD_CAST "Algorithm", BAD_CAST STS_XENC_SHA1) == NULL)
        return -1;
    ki = xmlNewChild(ek, ds, BAD_CAST "KeyInfo", NULL);
    x5d = ki ? xmlNewChild(ki, ds, BAD_CAST "X509Data", NULL) : NULL;
    if (x5d == NULL ||
        xmlNewTextChild(x5d, ds, BAD_CAST "X509Certificate", BAD_CAST cert_b64) == NULL)
        return -1;
    return cipher_data(ek, xenc, key_b64);
}

/* The structure around the two cipher values; all namespaces on the root. */
static int build(xmlDocPtr doc, int saml2, const char *cert_b64, const char *key_b64,
                 const char *data_b64)
{
    xmlNodePtr root, ed, ki;
    xmlNsPtr xenc, ds, saml = NULL;

    root = xmlNewDocNode(doc, NULL, BAD_CAST(saml2 ? "EncryptedAssertion" : "EncryptedData"),
                         NULL);
    if (root == NULL)
        return -1;
    xmlDocSetRootElement(doc, root);
    if (saml2 && (saml = xmlNewNs(root, BAD_CAST STS_NS_SAML2, BAD_CAST "saml2")) == NULL)
        return -1;
    xenc = xmlNewNs(root, BAD_CAST STS_NS_XENC, BAD_CAST "xenc");
    ds = xmlNewNs(root, BAD_CAST STS_NS_DS, BAD_CAST "ds");
    if (xenc == NULL || ds == NULL)
        return -1;
    xmlSetNs(root, saml2 ? saml : xenc);
    ed = saml2 ? xmlNewChild(root, xenc, BAD_CAST "EncryptedData", NULL) : root;
    if (ed == NULL || xmlNewProp(ed, BAD_CAST "Type", BAD_CAST STS_XENC_TYPE_ELEMENT) == NULL ||
        method(ed, xenc, STS_XENC_AES256_GCM) == NULL)
        return -1;
    ki = xmlNewChild(ed, ds, BAD_CAST "KeyInfo", NULL);
    if (ki == NULL || encrypted_key(ki, xenc, ds, cert_b64, key_b64) != 0)
        return -1;
    return cipher_data(ed, xenc, data_b64);
}

/* base64 DER of @rcpt's certificate, malloc'd; NULL on failure. */
static char *cert_base64(const sts_keys_t *rcpt)
{
    unsigned char *der = NULL;
    int len = i2d_X509(sts_keys_cert(rcpt), &der);
    char *out = len > 0 ? sts_b64_encode(der, (size_t)len) : NULL;

    OPENSSL_free(der);
    return out;
}

sts_errc_t sts_xenc_add_encrypted_key(const sts_keys_t *rcpt, const unsigned char *key,
                                      size_t key_len, xmlNodePtr parent, sts_err_t *err)
{
    xmlNsPtr xenc = xmlSearchNsByHref(parent->doc, parent, BAD_CAST STS_NS_XENC);
    xmlNsPtr ds = xmlSearchNsByHref(parent->doc, parent, BAD_CAST STS_NS_DS);
    unsigned char *wk = NULL;
    char *cert_b64 = NULL, *key_b64 = NULL;
    size_t wk_len = 0;
    sts_errc_t rc = STS_OK;

    STS_FAIL_IF(rcpt == NULL || sts_keys_is_ec(rcpt) || key_len < 16 || key_len > 64 ||
                    xenc == NULL || ds == NULL,
                err, STS_E_INTERNAL, "encrypted key: bad arguments");
    wk = wrap_key(sts_keys_pkey(rcpt), key, key_len, &wk_len);
    STS_FAIL_IF(wk == NULL, err, STS_E_CRYPTO, "key transport failed");
    cert_b64 = cert_base64(rcpt);
    key_b64 = sts_b64_encode(wk, wk_len);
    STS_FAIL_IF(cert_b64 == NULL || key_b64 == NULL, err, STS_E_NOMEM, "base64");
    STS_FAIL_IF(encrypted_key(parent, xenc, ds, cert_b64, key_b64) != 0, err, STS_E_NOMEM,
                "EncryptedKey");
cleanup:
    if (rc != STS_OK)
        ERR_clear_error();
    free(wk);
    free(cert_b64);
    free(key_b64);
    return rc;
}

sts_errc_t sts_xenc_encrypt(const sts_keys_t *rcpt, const char *plain, size_t len, int saml2,
                            char **out, size_t *out_len, sts_err_t *err)
{
    unsigned char cek[CEK_LEN], *ct = NULL, *wk = NULL;
    char *cert_b64 = NULL, *key_b64 = NULL, *data_b64 = NULL;
    size_t ct_len = 0, wk_len = 0;
    xmlDocPtr doc = NULL;
    xmlBufferPtr buf = NULL;
    sts_errc_t rc = STS_OK;

    *out = NULL;
    *out_len = 0;
    STS_FAIL_IF(rcpt == NULL || sts_keys_pkey(rcpt) == NULL || sts_keys_cert(rcpt) == NULL ||
                    sts_keys_is_ec(rcpt),
                err, STS_E_INTERNAL, "encryption needs an RSA certificate");
    STS_FAIL_IF(RAND_bytes(cek, sizeof(cek)) != 1, err, STS_E_CRYPTO, "RAND_bytes");
    ct = seal(cek, plain, len, &ct_len);
    wk = wrap_key(sts_keys_pkey(rcpt), cek, sizeof(cek), &wk_len);
    OPENSSL_cleanse(cek, sizeof(cek));
    STS_FAIL_IF(ct == NULL || wk == NULL, err, STS_E_CRYPTO, "encryption failed");
    cert_b64 = cert_base64(rcpt);
    key_b64 = sts_b64_encode(wk, wk_len);
    data_b64 = sts_b64_encode(ct, ct_len);
    STS_FAIL_IF(cert_b64 == NULL || key_b64 == NULL || data_b64 == NULL, err, STS_E_NOMEM,
                "base64");
    doc = xmlNewDoc(BAD_CAST "1.0");
    STS_FAIL_IF(doc == NULL || build(doc, saml2, cert_b64, key_b64, data_b64) != 0, err,
                STS_E_NOMEM, "EncryptedData");
    buf = xmlBufferCreate();
    STS_FAIL_IF(buf == NULL || xmlNodeDump(buf, doc, xmlDocGetRootElement(doc), 0, 0) <= 0, err,
                STS_E_NOMEM, "EncryptedData dump");
    *out = strdup((const char *)xmlBufferContent(buf));
    STS_FAIL_IF(*out == NULL, err, STS_E_NOMEM, "EncryptedData copy");
    *out_len = strlen(*out);
cleanup:
    if (rc != STS_OK)
        ERR_clear_error();
    xmlBufferFree(buf);
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(ct);
    free(wk);
    free(cert_b64);
    free(key_b64);
    free(data_b64);
    return rc;
}

int sts_psha1(const unsigned char *secret, size_t secret_len, const unsigned char *seed,
              size_t seed_len, unsigned char *out, size_t out_len)
{
    unsigned char a[EVP_MAX_MD_SIZE], block[EVP_MAX_MD_SIZE], *buf;
    unsigned int alen = 0, blen = 0;
    size_t done = 0;
    int rc = -1;

    if (secret_len > INT_MAX || seed_len > INT_MAX - 20 ||
        (buf = malloc(20 + seed_len)) == NULL)
        return -1;
    /* A(1) = HMAC(secret, seed); block i = HMAC(secret, A(i) || seed) */
    if (HMAC(EVP_sha1(), secret, (int)secret_len, seed, seed_len, a, &alen) == NULL)
        goto done;
    while (done < out_len) {
        memcpy(buf, a, alen);
        memcpy(buf + alen, seed, seed_len);
        if (HMAC(EVP_sha1(), secret, (int)secret_len, buf, alen + seed_len, block, &blen) ==
            NULL)
            goto done;
        memcpy(out + done, block, out_len - done < blen ? out_len - done : blen);
        done += out_len - done < blen ? out_len - done : blen;
        if (HMAC(EVP_sha1(), secret, (int)secret_len, a, alen, a, &alen) == NULL)
            goto done;
    }
    rc = 0;
done:
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(buf, 20 + seed_len);
    free(buf);
    return rc;
}
