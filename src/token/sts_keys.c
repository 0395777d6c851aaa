/*
 * sts_keys.c - the STS signing key and certificate, and the per-thread
 * xmlSecKey duplicates that signature contexts borrow; also public-only key
 * sets (a certificate, no private key) that can only verify.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Owns the libxml2/xmlsec/OpenSSL-backend global initialisation and the key
 * registry (the only global state of src/token). It does NOT sign or verify
 * anything itself (sts_saml.c, JWT code) and never logs key material.
 */
#include "sts_keys.h"

#include "sts_log.h"
#include "sts_xml.h"

#include <libxml/parser.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <xmlsec/app.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/openssl/x509.h>
#include <xmlsec/xmlsec.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_KEYS_RSA_MIN_BITS 2048
#define STS_KEYS_KID_LEN 43 /* base64url of 32 bytes, no padding */

_Static_assert(STS_KEYS_KID_MAX >= STS_KEYS_KID_LEN, "a thumbprint kid must fit");

/* One thread's duplicate of the master key. */
typedef struct thread_dup {
    pthread_t thread;
    xmlSecKeyPtr key;
    struct thread_dup *next;
} thread_dup_t;

struct sts_keys {
    unsigned long gen;   /* unique per loaded key set, never reused */
    xmlSecKeyPtr master; /* never lent out: only duplicated; NULL when public-only */
    EVP_PKEY *pkey;      /* the private key, or the certificate's public key */
    X509 *cert;
    unsigned char *cert_der; /* @cert in DER (OPENSSL_free) */
    size_t cert_der_len;
    int is_ec;
    int has_private;
    char kid[STS_KEYS_KID_MAX + 1];
    pthread_mutex_t lock; /* guards dups */
    thread_dup_t *dups;
};

/* Generation counter: a freed key set whose address is reused by a new one
 * never matches a thread's cached entry. */
static atomic_ulong g_keys_gen;

/* Fast path cache of the calling thread (no lock). t_keys is only compared,
 * never dereferenced. */
static __thread const sts_keys_t *t_keys;
static __thread unsigned long t_gen;
static __thread xmlSecKeyPtr t_key;

/* ------------------------------------------------------------------------ */
/* global init                                                              */
/* ------------------------------------------------------------------------ */

/* xmlsec reports every failed verification as an error: expected, so DEBUG. */
static void xmlsec_error_cb(const char *file, int line, const char *func,
                            const char *error_object, const char *error_subject, int reason,
                            const char *msg)
{
    (void)file;
    (void)line;
    sts_debug("xmlsec: %s: obj=%s subj=%s reason=%d %s", func ? func : "-",
              error_object ? error_object : "-", error_subject ? error_subject : "-", reason,
              msg ? msg : "");
}

sts_errc_t sts_keys_global_init(sts_err_t *err)
{
    sts_errc_t rc = STS_OK;

    xmlInitParser();
    sts_xml_init();
    STS_FAIL_IF(xmlSecInit() < 0, err, STS_E_CRYPTO, "xmlSecInit failed");
    STS_FAIL_IF(xmlSecCheckVersion() != 1, err, STS_E_CRYPTO,
                "loaded xmlsec library version is not compatible");
    xmlSecErrorsSetCallback(xmlsec_error_cb);
    STS_FAIL_IF(xmlSecCryptoAppInit(NULL) < 0, err, STS_E_CRYPTO, "xmlSecCryptoAppInit failed");
    STS_FAIL_IF(xmlSecCryptoInit() < 0, err, STS_E_CRYPTO, "xmlSecCryptoInit failed");
    /* Again, last: whatever xmlsec set up, our refusing entity loader wins. */
    sts_xml_init();

cleanup:
    return rc;
}

void sts_keys_global_cleanup(void)
{
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    xmlCleanupParser();
}

/* ------------------------------------------------------------------------ */
/* loading                                                                  */
/* ------------------------------------------------------------------------ */

/* Never prompt on a terminal for a pass phrase: encrypted keys are refused. */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* RSA >= 2048 bits or EC P-256; sets *is_ec. Returns a static reason or NULL. */
static const char *check_key_type(EVP_PKEY *pkey, int *is_ec)
{
    char group[64];
    size_t glen = 0;

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(pkey) < STS_KEYS_RSA_MIN_BITS)
            return "RSA key shorter than 2048 bits";
        *is_ec = 0;
        return NULL;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
            return "EC key without a named curve";
        if (OBJ_sn2nid(group) != NID_X9_62_prime256v1 && OBJ_txt2nid(group) != NID_X9_62_prime256v1)
            return "EC key is not on P-256";
        *is_ec = 1;
        return NULL;
    default:
        return "unsupported key type (RSA or EC P-256 only)";
    }
}

/* Keeps @keys->cert in DER and computes its kid from it (unless @kid_given):
 * kid = base64url(SHA-256(DER certificate)), no padding. */
static int keep_cert_der(sts_keys_t *keys, int kid_given)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
    int derlen = i2d_X509(keys->cert, &keys->cert_der);

    if (derlen <= 0)
        return -1;
    keys->cert_der_len = (size_t)derlen;
    if (kid_given)
        return 0;
    SHA256(keys->cert_der, keys->cert_der_len, md);
    if (EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH) < STS_KEYS_KID_LEN)
        return -1;
    for (int i = 0; i < STS_KEYS_KID_LEN; i++)
        keys->kid[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    keys->kid[STS_KEYS_KID_LEN] = '\0';
    return 0;
}

/* *@out = a new, empty key set (no key, no certificate); free with sts_keys_free(). */
static sts_errc_t keys_new(sts_keys_t **out, sts_err_t *err)
{
    sts_keys_t *keys = calloc(1, sizeof(*keys));

    *out = NULL;
    if (keys == NULL)
        return STS_ERR(err, STS_E_NOMEM, "out of memory");
    if (pthread_mutex_init(&keys->lock, NULL) != 0) {
        free(keys);
        return STS_ERR(err, STS_E_INTERNAL, "pthread_mutex_init");
    }
    *out = keys;
    return STS_OK;
}

/* 1..STS_KEYS_KID_MAX printable ASCII characters (%x20-7E). */
static int kid_ok(const char *kid)
{
    size_t n = 0;

    for (; kid[n] != '\0'; n++)
        if ((unsigned char)kid[n] < 0x20 || (unsigned char)kid[n] > 0x7e)
            return 0;
    return n >= 1 && n <= STS_KEYS_KID_MAX;
}

sts_errc_t sts_keys_load(const char *key_file, const char *cert_file, sts_keys_t **out,
                         sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_keys_t *keys = NULL;
    FILE *fp = NULL;
    const char *why = NULL;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(key_file == NULL || cert_file == NULL || out == NULL, err, STS_E_INTERNAL,
                "sts_keys_load: bad arguments");
    STS_CHECK(keys_new(&keys, err));
    keys->has_private = 1;

    /* OpenSSL copies first: they decide key type and the key/cert match. */
    fp = fopen(key_file, "r");
    STS_FAIL_IF(fp == NULL, err, STS_E_CONFIG, "cannot open signing key %s", key_file);
    keys->pkey = PEM_read_PrivateKey(fp, NULL, no_password_cb, NULL);
    fclose(fp);
    fp = NULL;
    STS_FAIL_IF(keys->pkey == NULL, err, STS_E_CONFIG,
                "%s: not an unencrypted PEM private key", key_file);
    why = check_key_type(keys->pkey, &keys->is_ec);
    STS_FAIL_IF(why != NULL, err, STS_E_CONFIG, "%s: %s", key_file, why);

    fp = fopen(cert_file, "r");
    STS_FAIL_IF(fp == NULL, err, STS_E_CONFIG, "cannot open signing certificate %s", cert_file);
    keys->cert = PEM_read_X509(fp, NULL, no_password_cb, NULL);
    fclose(fp);
    fp = NULL;
    STS_FAIL_IF(keys->cert == NULL, err, STS_E_CONFIG, "%s: not a PEM certificate", cert_file);
    STS_FAIL_IF(X509_check_private_key(keys->cert, keys->pkey) != 1, err, STS_E_CONFIG,
                "%s does not match the private key %s", cert_file, key_file);
    STS_FAIL_IF(keep_cert_der(keys, 0) != 0, err, STS_E_CRYPTO, "cannot compute the key id");

    /* The xmlsec copy: same files, plus the certificate for KeyInfo/X509Data. */
    keys->master = xmlSecCryptoAppKeyLoad(key_file, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    STS_FAIL_IF(keys->master == NULL, err, STS_E_CONFIG, "xmlsec cannot load %s", key_file);
    STS_FAIL_IF(xmlSecCryptoAppKeyCertLoad(keys->master, cert_file, xmlSecKeyDataFormatPem) < 0,
                err, STS_E_CONFIG, "xmlsec cannot load %s", cert_file);
    {
        xmlSecKeyDataPtr value = xmlSecKeyGetValue(keys->master);
        EVP_PKEY *xk = value != NULL ? xmlSecOpenSSLEvpKeyDataGetEvp(value) : NULL;
        STS_FAIL_IF(xk == NULL || EVP_PKEY_eq(xk, keys->pkey) != 1, err, STS_E_CONFIG,
                    "xmlsec and OpenSSL disagree on the key in %s", key_file);
        /* the files were read twice: the KeyInfo certificate must be the one checked */
        xmlSecKeyDataPtr x509 = xmlSecKeyGetData(keys->master, xmlSecOpenSSLKeyDataX509Id);
        STS_FAIL_IF(x509 == NULL || xmlSecOpenSSLKeyDataX509GetCertsSize(x509) != 1 ||
                        X509_cmp(xmlSecOpenSSLKeyDataX509GetCert(x509, 0), keys->cert) != 0,
                    err, STS_E_CONFIG, "xmlsec and OpenSSL disagree on the certificate in %s",
                    cert_file);
    }

    keys->gen = atomic_fetch_add(&g_keys_gen, 1UL) + 1UL;

    sts_info("signing key loaded: %s, kid %s", keys->is_ec ? "EC P-256" : "RSA", keys->kid);
    *out = keys;
    keys = NULL;

cleanup:
    if (fp != NULL)
        fclose(fp);
    sts_keys_free(keys);
    if (rc != STS_OK)
        ERR_clear_error();
    return rc;
}

sts_errc_t sts_keys_load_public(const char *cert_file, const char *kid, sts_keys_t **out,
                                sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_keys_t *keys = NULL;
    FILE *fp = NULL;
    const char *why = NULL;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(cert_file == NULL || out == NULL, err, STS_E_INTERNAL,
                "sts_keys_load_public: bad arguments");
    STS_FAIL_IF(kid != NULL && !kid_ok(kid), err, STS_E_CONFIG,
                "%s: kid must be 1 to %d printable ASCII characters", cert_file,
                STS_KEYS_KID_MAX);
    STS_CHECK(keys_new(&keys, err));

    fp = fopen(cert_file, "r");
    STS_FAIL_IF(fp == NULL, err, STS_E_CONFIG, "cannot open certificate %s", cert_file);
    keys->cert = PEM_read_X509(fp, NULL, no_password_cb, NULL);
    fclose(fp);
    fp = NULL;
    STS_FAIL_IF(keys->cert == NULL, err, STS_E_CONFIG, "%s: not a PEM certificate", cert_file);
    keys->pkey = X509_get_pubkey(keys->cert); /* a new reference */
    STS_FAIL_IF(keys->pkey == NULL, err, STS_E_CONFIG, "%s: cannot read its public key",
                cert_file);
    why = check_key_type(keys->pkey, &keys->is_ec);
    STS_FAIL_IF(why != NULL, err, STS_E_CONFIG, "%s: %s", cert_file, why);
    if (kid != NULL)
        memcpy(keys->kid, kid, strlen(kid) + 1);
    STS_FAIL_IF(keep_cert_der(keys, kid != NULL) != 0, err, STS_E_CRYPTO,
                "cannot encode the certificate or compute the key id");
    /* No xmlsec master: nothing here signs, and the SAML code, the only
     * user of xmlSecKeys, never verifies with a key that is not ours. */
    keys->has_private = 0;
    keys->gen = atomic_fetch_add(&g_keys_gen, 1UL) + 1UL;

    sts_info("verification key loaded from %s: %s, kid %s", cert_file,
             keys->is_ec ? "EC P-256" : "RSA", keys->kid);
    *out = keys;
    keys = NULL;

cleanup:
    if (fp != NULL)
        fclose(fp);
    sts_keys_free(keys);
    if (rc != STS_OK)
        ERR_clear_error();
    return rc;
}

void sts_keys_free(sts_keys_t *keys)
{
    thread_dup_t *d, *next;

    if (keys == NULL)
        return;
    for (d = keys->dups; d != NULL; d = next) {
        next = d->next;
        xmlSecKeyDestroy(d->key);
        free(d);
    }
    if (keys->master != NULL)
        xmlSecKeyDestroy(keys->master);
    EVP_PKEY_free(keys->pkey);
    X509_free(keys->cert);
    OPENSSL_free(keys->cert_der);
    pthread_mutex_destroy(&keys->lock);
    /* The calling thread's cache must not outlive the set (the others hold
     * only a pointer + generation that will never match again). */
    if (t_keys == keys) {
        t_keys = NULL;
        t_gen = 0;
        t_key = NULL;
    }
    free(keys);
}

/* ------------------------------------------------------------------------ */
/* per-thread duplicates                                                    */
/* ------------------------------------------------------------------------ */

xmlSecKeyPtr sts_keys_thread_key(sts_keys_t *keys)
{
    pthread_t self = pthread_self();
    xmlSecKeyPtr key = NULL;
    thread_dup_t *d;

    if (keys == NULL || keys->master == NULL) /* public-only: nothing to sign with */
        return NULL;
    if (t_keys == keys && t_gen == keys->gen)
        return t_key;

    /* Slow path, once per (thread, key set): find or create our duplicate.
     * A duplicate left by a dead thread whose id was recycled is reused
     * safely: that thread can no longer use it. */
    pthread_mutex_lock(&keys->lock);
    for (d = keys->dups; d != NULL; d = d->next) {
        if (pthread_equal(d->thread, self)) {
            key = d->key;
            break;
        }
    }
    if (key == NULL) {
        d = calloc(1, sizeof(*d));
        if (d != NULL)
            d->key = xmlSecKeyDuplicate(keys->master);
        if (d != NULL && d->key != NULL) {
            d->thread = self;
            d->next = keys->dups;
            keys->dups = d;
            key = d->key;
        } else {
            free(d);
        }
    }
    pthread_mutex_unlock(&keys->lock);

    if (key != NULL) {
        t_keys = keys;
        t_gen = keys->gen;
        t_key = key;
    } else {
        sts_error("cannot duplicate the signing key for this thread");
    }
    return key;
}

EVP_PKEY *sts_keys_pkey(const sts_keys_t *keys) { return keys != NULL ? keys->pkey : NULL; }

X509 *sts_keys_cert(const sts_keys_t *keys) { return keys != NULL ? keys->cert : NULL; }

const unsigned char *sts_keys_cert_der(const sts_keys_t *keys, size_t *len)
{
    *len = keys != NULL ? keys->cert_der_len : 0;
    return keys != NULL ? keys->cert_der : NULL;
}

int sts_keys_is_ec(const sts_keys_t *keys) { return keys != NULL && keys->is_ec; }

const char *sts_keys_kid(const sts_keys_t *keys) { return keys != NULL ? keys->kid : NULL; }

int sts_keys_has_private(const sts_keys_t *keys) { return keys != NULL && keys->has_private; }
