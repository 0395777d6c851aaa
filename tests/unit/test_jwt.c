/*
 * test_jwt.c - unit tests of src/token/sts_jwt: sign, verify, JWK, and the
 * JWT attack playbook (security-catalogue.md section 6, JW-01..JW-10).
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Keys are generated at run time in a mkdtemp() directory with the openssl
 * CLI (as test_saml.c). Interop both ways is checked with python3-jwt and
 * cryptography (/usr/bin/python3). Negative tokens are forged here with
 * OpenSSL directly (our own base64url, signer and HMAC, independent of the
 * module) and, where the point is a header or payload rule, carry a valid
 * signature by the trusted key, so that only the rule under test can refuse
 * them. Each rejection asserts STS_E_INVALID_TOKEN, no header/claims
 * returned, and the reason in err.detail.
 */
#define _GNU_SOURCE
#include "sts_err.h"
#include "sts_jwt.h"
#include "sts_keys.h"
#include "sts_log.h"
#include "sts_saml.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sts_test.h"

#define PY "/usr/bin/python3"
#define AUD "https://rp.example"

static char g_dir[64];
static sts_keys_t *g_rsa;
static sts_keys_t *g_ec;
static sts_keys_t *g_evil; /* another RSA key: never trusted */
static sts_keys_t *g_trusted[2];

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Strings made by S() live until pool_free() (keeps the cases short and valgrind clean). */
static char *g_pool[8192];
static size_t g_npool;

static char *pool_add(char *s)
{
    if (s == NULL || g_npool == sizeof(g_pool) / sizeof(g_pool[0]))
        abort();
    g_pool[g_npool++] = s;
    return s;
}

static void pool_free(void)
{
    while (g_npool > 0)
        free(g_pool[--g_npool]);
}

static char *S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *S(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return pool_add(s);
}

static char *path_of(const char *name) { return S("%s/%s", g_dir, name); }

/* Whole file as a pooled string (trailing newline stripped), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;

    if (f == NULL)
        return NULL;
    n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return pool_add(buf);
}

/* base64url without padding, written here with EVP_EncodeBlock (not the module's). */
static char *b64u(const void *in, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    int len;

    if (s == NULL)
        abort();
    len = EVP_EncodeBlock((unsigned char *)s, in, (int)n);
    while (len > 0 && s[len - 1] == '=')
        len--;
    s[len] = '\0';
    for (char *p = s; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return pool_add(s);
}

static char *b64u_str(const char *s) { return b64u(s, strlen(s)); }

/* "b64u(h).b64u(p)" */
static char *signing_input(const char *hdr, const char *pay)
{
    return S("%s.%s", b64u_str(hdr), b64u_str(pay));
}

/* PKCS#1 v1.5 for RSA; for EC the DER signature (*der, if wanted) and R||S (raw). */
static size_t raw_sign(EVP_PKEY *k, const char *input, unsigned char *out, size_t cap,
                       unsigned char *der_out, size_t *der_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char der[600];
    size_t len = sizeof(der), res = 0;

    if (m == NULL || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(m, der, &len, (const unsigned char *)input, strlen(input)) != 1)
        abort();
    EVP_MD_CTX_free(m);
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
        if (sig == NULL || cap < 64 || BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) != 32)
            abort();
        ECDSA_SIG_free(sig);
        res = 64;
    } else {
        if (len > cap)
            abort();
        memcpy(out, der, len);
        res = len;
    }
    if (der_out != NULL) {
        memcpy(der_out, der, len);
        *der_len = len;
    }
    return res;
}

/* A compact JWS of @hdr/@pay with the given signature bytes. */
static char *with_sig(const char *hdr, const char *pay, const void *sig, size_t siglen)
{
    return S("%s.%s", signing_input(hdr, pay), b64u(sig, siglen));
}

/* A compact JWS of @hdr/@pay signed by @k (RS256 or ES256 by key type). */
static char *forge(EVP_PKEY *k, const char *hdr, const char *pay)
{
    unsigned char sig[600];
    char *in = signing_input(hdr, pay);
    size_t n = raw_sign(k, in, sig, sizeof(sig), NULL, NULL);
    return S("%s.%s", in, b64u(sig, n));
}

/* HS256 keyed with @key (the RS/HS confusion forgery). */
static char *forge_hs256(const void *key, size_t keylen, const char *hdr, const char *pay)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *in = signing_input(hdr, pay);

    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)in, strlen(in), md, &mdlen) ==
        NULL)
        abort();
    return S("%s.%s", in, b64u(md, mdlen));
}

static const char *kid_rsa(void) { return sts_keys_kid(g_rsa); }
static const char *kid_ec(void) { return sts_keys_kid(g_ec); }
static EVP_PKEY *pk_rsa(void) { return sts_keys_pkey(g_rsa); }
static EVP_PKEY *pk_ec(void) { return sts_keys_pkey(g_ec); }

static char *hdr_rs(void) { return S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid_rsa()); }
static char *hdr_es(void) { return S("{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid_ec()); }
static const char *PAY = "{\"sub\":\"alice\",\"aud\":\"" AUD "\"}";

/* @rc must be STS_OK; on failure print the detail. */
#define CHECK_OK(rc, e)                                                                            \
    do {                                                                                           \
        sts_errc_t rc_ = (rc);                                                                     \
        if (rc_ == STS_OK) {                                                                       \
            g_pass++;                                                                              \
        } else {                                                                                   \
            g_fail++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK_OK failed: rc=%s detail=\"%s\"\n", __FILE__, __LINE__,   \
                    sts_errc_name(rc_), (e).detail);                                               \
        }                                                                                          \
    } while (0)

static int g_sentinel;
#define SENTINEL ((json_t *)(void *)&g_sentinel)

/* The token must be refused with STS_E_INVALID_TOKEN, nothing returned, @why in the detail. */
static void reject_len(const char *tok, size_t len, const char *why, int line)
{
    json_t *h = SENTINEL, *c = SENTINEL;
    sts_err_t e;
    sts_errc_t rc;

    memset(&e, 0, sizeof(e));
    rc = sts_jwt_verify(g_trusted, 2, tok, len, &h, &c, &e);
    if (rc == STS_E_INVALID_TOKEN && h == NULL && c == NULL && strstr(e.detail, why) != NULL) {
        g_pass++;
    } else {
        g_fail++;
        fprintf(stderr, "%s:%d: REJECT failed: rc=%s detail=\"%s\" (want \"%s\") h=%p c=%p\n",
                __FILE__, line, sts_errc_name(rc), e.detail, why, (void *)h, (void *)c);
        if (h != SENTINEL)
            json_decref(h);
        if (c != SENTINEL)
            json_decref(c);
    }
}
#define REJECT(tok, why) reject_len((tok), strlen(tok), (why), __LINE__)

/* The token must verify; returns the claims (new reference) or NULL. */
static json_t *accept_len(const char *tok, size_t len, int line)
{
    json_t *h = NULL, *c = NULL;
    sts_err_t e;
    sts_errc_t rc;

    memset(&e, 0, sizeof(e));
    rc = sts_jwt_verify(g_trusted, 2, tok, len, &h, &c, &e);
    json_decref(h);
    if (rc == STS_OK && c != NULL) {
        g_pass++;
        return c;
    }
    g_fail++;
    fprintf(stderr, "%s:%d: ACCEPT failed: rc=%s detail=\"%s\"\n", __FILE__, line,
            sts_errc_name(rc), e.detail);
    json_decref(c);
    return NULL;
}
#define ACCEPT(tok) accept_len((tok), strlen(tok), __LINE__)

/* Segment @i (0..2) of @tok as a pooled string. */
static char *segment(const char *tok, int i)
{
    const char *s = tok;
    for (int k = 0; k < i; k++) {
        s = strchr(s, '.');
        if (s == NULL)
            return S("%s", "");
        s++;
    }
    return S("%.*s", (int)strcspn(s, "."), s);
}

/* Decoded segment @i of @tok as a pooled string (test-side decoder: EVP). */
static char *segment_json(const char *tok, int i)
{
    char *seg = segment(tok, i);
    size_t n = strlen(seg);
    char *std = S("%s===", seg), *out;
    int len;

    for (char *p = std; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    std[n + (4 - n % 4) % 4] = '\0';
    out = calloc(1, strlen(std) + 1);
    if (out == NULL)
        abort();
    len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)std, (int)strlen(std));
    if (len < 0)
        abort();
    out[len - (int)((4 - n % 4) % 4)] = '\0';
    return pool_add(out);
}

static json_t *claims_fixture(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:{s:[i,i], s:b}, s:s}", "iss",
                     "https://sts.example", "sub", "alice", "aud", AUD, "iat",
                     (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 300, "n", 42, "nested",
                     "a", 1, 2, "t", 1, "utf8", "gr\xc3\xbc\xc3\x9f \xe2\x82\xac");
}

/* ------------------------------------------------------------------------ */
/* sign + verify                                                            */
/* ------------------------------------------------------------------------ */

static void test_roundtrip(sts_keys_t *keys, const char *alg, const char *crt)
{
    json_t *claims = claims_fixture(), *h = NULL, *c = NULL, *want = NULL;
    char *tok = NULL, *tok2 = NULL, *buf;
    sts_err_t e;
    size_t siglen_chars = strcmp(alg, "ES256") == 0 ? 86 : 342;

    CHECK_OK(sts_jwt_sign(keys, "at+jwt", claims, &tok, &e), e);
    if (tok == NULL) {
        json_decref(claims);
        return;
    }
    pool_add(tok);
    CHECK(strlen(segment(tok, 2)) == siglen_chars);

    /* the header, byte for byte */
    CHECK(strcmp(segment_json(tok, 0), S("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", alg,
                                         sts_keys_kid(keys))) == 0);
    /* the payload is the sorted compact dump of the claims */
    buf = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(buf != NULL && strcmp(segment_json(tok, 1), buf) == 0);
    free(buf);

    CHECK(sts_jwt_verify(g_trusted, 2, tok, strlen(tok), &h, &c, &e) == STS_OK);
    CHECK(c != NULL && json_equal(c, claims));
    want = json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", sts_keys_kid(keys), "typ", "at+jwt");
    CHECK(h != NULL && json_equal(h, want));
    json_decref(want);
    json_decref(h);
    json_decref(c);

    /* outputs are optional; the token need not be NUL-terminated */
    CHECK(sts_jwt_verify(g_trusted, 2, tok, strlen(tok), NULL, NULL, NULL) == STS_OK);
    buf = S("%sAAAA", tok);
    c = accept_len(buf, strlen(tok), __LINE__);
    json_decref(c);
    /* only the key of that kid is tried: the other trusted key alone does not verify */
    CHECK(sts_jwt_verify(keys == g_rsa ? &g_trusted[1] : &g_trusted[0], 1, tok, strlen(tok), NULL,
                         NULL, &e) == STS_E_INVALID_TOKEN &&
          strstr(e.detail, "unknown kid") != NULL);
    CHECK(sts_jwt_verify(&keys, 1, tok, strlen(tok), NULL, NULL, &e) == STS_OK);

    /* typ NULL: no typ member */
    CHECK(sts_jwt_sign(keys, NULL, claims, &tok2, &e) == STS_OK && tok2 != NULL);
    if (tok2 != NULL) {
        pool_add(tok2);
        CHECK(strcmp(segment_json(tok2, 0),
                     S("{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, sts_keys_kid(keys))) == 0);
        c = ACCEPT(tok2);
        json_decref(c);
    }

    /* an independent verifier: python3-jwt with the certificate's public key */
    CHECK(sts_test_write_file(path_of("tok.jwt"), tok) == 0);
    CHECK(sts_test_run(PY " %s %s %s %s %s", path_of("pyverify.py"), path_of(crt), path_of("tok.jwt"), alg,
              sts_keys_kid(keys)) == 0);

    json_decref(claims);
}

/* python3-jwt signs with our private key; C verifies. */
static void test_python_signed(const char *keyfile, const char *alg, const char *kid)
{
    json_t *c;
    char *tok;

    CHECK(sts_test_run(PY " %s %s %s %s %s", path_of("pysign.py"), path_of(keyfile), alg, kid,
              path_of("py.jwt")) == 0);
    tok = read_file(path_of("py.jwt"));
    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    c = ACCEPT(tok);
    CHECK(c != NULL && strcmp(json_string_value(json_object_get(c, "sub")), "bob") == 0 &&
          json_is_true(json_object_get(json_array_get(json_object_get(c, "x"), 1), "y")));
    json_decref(c);
}

static void test_sign_errors(void)
{
    json_t *arr = json_array(), *big = json_object();
    char *tok = (char *)"x";
    sts_err_t e;

    CHECK(sts_jwt_sign(g_rsa, "JWT", arr, &tok, &e) == STS_E_INTERNAL && tok == NULL);
    CHECK(sts_jwt_sign(NULL, "JWT", big, &tok, &e) == STS_E_INTERNAL && tok == NULL);
    CHECK(sts_jwt_sign(g_rsa, "JWT", NULL, &tok, NULL) == STS_E_INTERNAL);
    CHECK(sts_jwt_sign(g_rsa, "JWT", big, NULL, &e) == STS_E_INTERNAL);
    CHECK(sts_jwt_sign(g_rsa, "bad\xff", big, &tok, &e) == STS_E_INTERNAL && tok == NULL);

    /* we never issue what we would refuse */
    {
        char *pad = malloc(STS_JWT_MAX_LEN);
        if (pad == NULL)
            abort();
        memset(pad, 'a', STS_JWT_MAX_LEN - 1);
        pad[STS_JWT_MAX_LEN - 1] = '\0';
        json_object_set_new(big, "pad", json_string(pad));
        free(pad);
    }
    CHECK(sts_jwt_sign(g_rsa, "JWT", big, &tok, &e) == STS_E_INTERNAL && tok == NULL &&
          strstr(e.detail, "longer than") != NULL);
    json_decref(arr);
    json_decref(big);
}

/* ------------------------------------------------------------------------ */
/* public-only key sets (sts_keys_load_public): verify, never sign          */
/* ------------------------------------------------------------------------ */

/* @tok must verify with exactly the key set @k alone; its claims must be @want. */
static void accept_with(sts_keys_t *k, const char *tok, json_t *want, int line)
{
    json_t *c = NULL;
    sts_err_t e;
    sts_errc_t rc;

    memset(&e, 0, sizeof(e));
    rc = sts_jwt_verify(&k, 1, tok, strlen(tok), NULL, &c, &e);
    if (rc == STS_OK && c != NULL && (want == NULL || json_equal(c, want))) {
        g_pass++;
    } else {
        g_fail++;
        fprintf(stderr, "%s:%d: verify with the public-only key failed: rc=%s detail=\"%s\"\n",
                __FILE__, line, sts_errc_name(rc), e.detail);
    }
    json_decref(c);
}

/* Loading must fail with @code and leave *out NULL. */
static void load_public_fails(const char *crt, const char *kid, sts_errc_t code, const char *why,
                              int line)
{
    sts_keys_t *k = (sts_keys_t *)&g_sentinel;
    sts_err_t e;
    sts_errc_t rc;

    memset(&e, 0, sizeof(e));
    rc = sts_keys_load_public(crt, kid, &k, &e);
    if (rc == code && k == NULL && strstr(e.detail, why) != NULL) {
        g_pass++;
    } else {
        g_fail++;
        fprintf(stderr, "%s:%d: load_public: rc=%s detail=\"%s\" (want %s, \"%s\")\n", __FILE__,
                line, sts_errc_name(rc), e.detail, sts_errc_name(code), why);
        if (k != NULL && k != (sts_keys_t *)&g_sentinel)
            sts_keys_free(k);
    }
}
#define LOAD_PUBLIC_FAILS(crt, kid, code, why)                                                     \
    load_public_fails((crt), (kid), (code), (why), __LINE__)

static void test_public_only(void)
{
    static const char *const kid_override = "partner key #1 (2026)";
    sts_keys_t *pub_rsa = NULL, *pub_ec = NULL, *pub_kid = NULL;
    json_t *claims = claims_fixture();
    char *tok = NULL, *out = (char *)"x";
    sts_err_t e;

    CHECK_OK(sts_keys_load_public(path_of("rsa.crt"), NULL, &pub_rsa, &e), e);
    CHECK_OK(sts_keys_load_public(path_of("ec.crt"), NULL, &pub_ec, &e), e);
    CHECK_OK(sts_keys_load_public(path_of("rsa.crt"), kid_override, &pub_kid, &e), e);
    if (pub_rsa == NULL || pub_ec == NULL || pub_kid == NULL)
        goto cleanup;

    /* what the set holds: the certificate and its public key, no private key */
    CHECK(sts_keys_has_private(g_rsa) == 1 && sts_keys_has_private(g_ec) == 1);
    CHECK(sts_keys_has_private(pub_rsa) == 0 && sts_keys_has_private(pub_ec) == 0 &&
          sts_keys_has_private(pub_kid) == 0 && sts_keys_has_private(NULL) == 0);
    CHECK(sts_keys_thread_key(pub_rsa) == NULL && sts_keys_thread_key(pub_ec) == NULL);
    CHECK(EVP_PKEY_eq(sts_keys_pkey(pub_rsa), pk_rsa()) == 1);
    CHECK(EVP_PKEY_eq(sts_keys_pkey(pub_ec), pk_ec()) == 1);
    CHECK(X509_cmp(sts_keys_cert(pub_rsa), sts_keys_cert(g_rsa)) == 0);
    CHECK(X509_cmp(sts_keys_cert(pub_ec), sts_keys_cert(g_ec)) == 0);
    CHECK(sts_keys_is_ec(pub_rsa) == 0 && sts_keys_is_ec(pub_ec) == 1 &&
          sts_keys_is_ec(pub_kid) == 0);
    /* the default kid is the thumbprint, the same as the full key set's */
    CHECK(strcmp(sts_keys_kid(pub_rsa), kid_rsa()) == 0);
    CHECK(strcmp(sts_keys_kid(pub_ec), kid_ec()) == 0);
    CHECK(strcmp(sts_keys_kid(pub_kid), kid_override) == 0);

    /* signed with the private key, verified with the public-only set */
    CHECK_OK(sts_jwt_sign(g_rsa, "JWT", claims, &tok, &e), e);
    if (tok != NULL) {
        pool_add(tok);
        accept_with(pub_rsa, tok, claims, __LINE__);
        /* the override kid is what the token must name */
        CHECK(sts_jwt_verify(&pub_kid, 1, tok, strlen(tok), NULL, NULL, &e) ==
                  STS_E_INVALID_TOKEN &&
              strstr(e.detail, "unknown kid") != NULL);
    }
    tok = NULL;
    CHECK_OK(sts_jwt_sign(g_ec, NULL, claims, &tok, &e), e);
    if (tok != NULL) {
        pool_add(tok);
        accept_with(pub_ec, tok, claims, __LINE__);
        CHECK(sts_jwt_verify(&pub_rsa, 1, tok, strlen(tok), NULL, NULL, &e) ==
                  STS_E_INVALID_TOKEN);
    }
    /* a token by the private key that carries the override kid (as the issuer's would) */
    tok = forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid_override), PAY);
    accept_with(pub_kid, tok, NULL, __LINE__);
    CHECK(sts_jwt_verify(&pub_rsa, 1, tok, strlen(tok), NULL, NULL, &e) == STS_E_INVALID_TOKEN &&
          strstr(e.detail, "unknown kid") != NULL);
    {
        sts_keys_t *both[2] = {pub_ec, pub_kid};
        json_t *c = NULL;

        CHECK(sts_jwt_verify(both, 2, tok, strlen(tok), NULL, &c, &e) == STS_OK && c != NULL);
        json_decref(c);
    }
    /* the key still decides: another key's signature under the override kid fails */
    tok = forge(sts_keys_pkey(g_evil), S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid_override), PAY);
    CHECK(sts_jwt_verify(&pub_kid, 1, tok, strlen(tok), NULL, NULL, &e) == STS_E_INVALID_TOKEN &&
          strstr(e.detail, "signature verification failed") != NULL);

    /* signing needs a private key: a clean error, no token */
    memset(&e, 0, sizeof(e));
    CHECK(sts_jwt_sign(pub_rsa, "JWT", claims, &out, &e) == STS_E_INTERNAL && out == NULL &&
          strstr(e.detail, "a public key cannot sign") != NULL);
    out = (char *)"x";
    CHECK(sts_jwt_sign(pub_ec, "JWT", claims, &out, &e) == STS_E_INTERNAL && out == NULL);
    out = (char *)"x";
    CHECK(sts_jwt_sign(pub_kid, NULL, claims, &out, NULL) == STS_E_INTERNAL && out == NULL);
    {
        /* and the SAML signer, which needs an xmlSecKey, has none to borrow */
        sts_saml_params_t p;
        char id[STS_SAML_ID_MAX];
        char *xml = (char *)"x";
        size_t len = 1;

        memset(&p, 0, sizeof(p));
        p.issuer = "https://sts.example";
        p.subject = "alice";
        p.audience = AUD;
        p.issue_instant = p.not_before = p.authn_instant = time(NULL);
        p.not_on_or_after = p.not_before + 300;
        CHECK(sts_saml2_issue(pub_rsa, &p, &xml, &len, id, &e) == STS_E_INTERNAL && xml == NULL &&
              len == 0 && id[0] == '\0' && strstr(e.detail, "a public key cannot sign") != NULL);
        xml = (char *)"x";
        CHECK(sts_saml2_issue(pub_ec, &p, &xml, &len, id, &e) != STS_OK && xml == NULL);
    }

    /* what is refused */
    LOAD_PUBLIC_FAILS(path_of("nope.crt"), NULL, STS_E_CONFIG, "cannot open");
    LOAD_PUBLIC_FAILS(path_of("rsa.key"), NULL, STS_E_CONFIG, "not a PEM certificate");
    LOAD_PUBLIC_FAILS(path_of("pyverify.py"), NULL, STS_E_CONFIG, "not a PEM certificate");
    LOAD_PUBLIC_FAILS(path_of("rsa.crt"), "", STS_E_CONFIG, "kid must be 1 to 128");
    LOAD_PUBLIC_FAILS(path_of("rsa.crt"), "a\nb", STS_E_CONFIG, "kid must be 1 to 128");
    LOAD_PUBLIC_FAILS(path_of("rsa.crt"), "caf\xc3\xa9", STS_E_CONFIG, "kid must be 1 to 128");
    {
        char kid[STS_KEYS_KID_MAX + 2];
        sts_keys_t *k = NULL;

        memset(kid, '~', STS_KEYS_KID_MAX);
        kid[STS_KEYS_KID_MAX] = '\0';
        CHECK_OK(sts_keys_load_public(path_of("ec.crt"), kid, &k, &e), e);
        CHECK(k != NULL && strcmp(sts_keys_kid(k), kid) == 0);
        sts_keys_free(k);
        kid[STS_KEYS_KID_MAX] = '~';
        kid[STS_KEYS_KID_MAX + 1] = '\0';
        LOAD_PUBLIC_FAILS(path_of("ec.crt"), kid, STS_E_CONFIG, "kid must be 1 to 128");
    }
    LOAD_PUBLIC_FAILS(NULL, NULL, STS_E_INTERNAL, "bad arguments");
    CHECK(sts_keys_load_public(path_of("rsa.crt"), NULL, NULL, NULL) == STS_E_INTERNAL);
    /* only RSA >= 2048 and EC P-256, as for our own keys */
    if (sts_test_run("openssl req -x509 -nodes -days 2 -newkey ed25519 -keyout %s -out %s "
                     "-subj /CN=ed >/dev/null 2>&1",
                     path_of("ed.key"), path_of("ed.crt")) == 0)
        LOAD_PUBLIC_FAILS(path_of("ed.crt"), NULL, STS_E_CONFIG, "unsupported key type");
    else
        CHECK(!"openssl cannot make an Ed25519 certificate");
    CHECK(sts_test_run("openssl req -x509 -nodes -days 2 -sha256 -newkey ec -pkeyopt "
                       "ec_paramgen_curve:P-384 -keyout %s -out %s -subj /CN=p384 >/dev/null 2>&1",
                       path_of("p384.key"), path_of("p384.crt")) == 0);
    LOAD_PUBLIC_FAILS(path_of("p384.crt"), NULL, STS_E_CONFIG, "not on P-256");
    CHECK(sts_test_run("openssl req -x509 -nodes -days 2 -sha256 -newkey rsa:1024 -keyout %s "
                       "-out %s -subj /CN=short >/dev/null 2>&1",
                       path_of("short.key"), path_of("short.crt")) == 0);
    LOAD_PUBLIC_FAILS(path_of("short.crt"), NULL, STS_E_CONFIG, "shorter than 2048");

cleanup:
    json_decref(claims);
    sts_keys_free(pub_rsa);
    sts_keys_free(pub_ec);
    sts_keys_free(pub_kid);
}

/* ------------------------------------------------------------------------ */
/* JWK                                                                      */
/* ------------------------------------------------------------------------ */

static void test_jwk_one(sts_keys_t *keys, const char *alg, const char *crt)
{
    json_t *jwk = NULL, *claims = claims_fixture();
    char *dump = NULL, *tok = NULL;
    sts_err_t e;
    int ec = strcmp(alg, "ES256") == 0;

    CHECK(sts_jwk_public(keys, &jwk, &e) == STS_OK && jwk != NULL);
    if (jwk == NULL) {
        json_decref(claims);
        return;
    }
    CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), ec ? "EC" : "RSA") == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "kid")), sts_keys_kid(keys)) == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "use")), "sig") == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "alg")), alg) == 0);
    CHECK(json_array_size(json_object_get(jwk, "x5c")) == 1);
    CHECK(json_object_get(jwk, "d") == NULL);
    if (ec) {
        CHECK(strcmp(json_string_value(json_object_get(jwk, "crv")), "P-256") == 0);
        CHECK(strlen(json_string_value(json_object_get(jwk, "x"))) == 43);
        CHECK(strlen(json_string_value(json_object_get(jwk, "y"))) == 43);
        CHECK(json_object_size(jwk) == 8);
    } else {
        CHECK(strcmp(json_string_value(json_object_get(jwk, "e")), "AQAB") == 0);
        CHECK(strlen(json_string_value(json_object_get(jwk, "n"))) == 342); /* 256 bytes */
        CHECK(json_object_size(jwk) == 7);
    }

    /* python re-derives the key from the JWK, compares it with the certificate's,
     * checks x5c, and verifies one of our tokens with it */
    dump = json_dumps(jwk, JSON_COMPACT);
    CHECK(dump != NULL && sts_test_write_file(path_of("jwk.json"), dump) == 0);
    free(dump);
    CHECK_OK(sts_jwt_sign(keys, "JWT", claims, &tok, &e), e);
    CHECK(tok != NULL && sts_test_write_file(path_of("jwk.jwt"), tok) == 0);
    free(tok);
    CHECK(sts_test_run(PY " %s %s %s %s %s", path_of("pyjwk.py"), path_of("jwk.json"), path_of(crt),
              path_of("jwk.jwt"), alg) == 0);

    json_decref(jwk);
    json_decref(claims);
}

static void test_jwk(void)
{
    sts_keys_t *pad = NULL;
    json_t *jwk = (json_t *)1;
    sts_err_t e;

    test_jwk_one(g_rsa, "RS256", "rsa.crt");
    test_jwk_one(g_ec, "ES256", "ec.crt");
    CHECK(sts_jwk_public(NULL, &jwk, &e) == STS_E_INTERNAL && jwk == NULL);

    /* an EC key with a coordinate < 2^248: x or y must still be 32 bytes (left-padded) */
    CHECK(sts_test_run(PY " %s %s", path_of("pypadkey.py"), g_dir) == 0);
    CHECK(sts_keys_load(path_of("pad.key"), path_of("pad.crt"), &pad, &e) == STS_OK);
    if (pad != NULL)
        test_jwk_one(pad, "ES256", "pad.crt");
    sts_keys_free(pad);
}

/* ------------------------------------------------------------------------ */
/* the playbook                                                             */
/* ------------------------------------------------------------------------ */

/* JW-01: unsecured JWS */
static void test_alg_none(void)
{
    static const char *const nones[] = {"none", "None", "NONE", "nOnE"};
    unsigned char sig[600];
    size_t n;

    for (size_t i = 0; i < sizeof(nones) / sizeof(nones[0]); i++) {
        char *h = S("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", nones[i], kid_rsa());
        REJECT(S("%s.", signing_input(h, PAY)), "empty signature");
        REJECT(with_sig(h, PAY, "x", 1), "alg not allowed");
        /* "none" with a real RS256 signature over the same bytes */
        n = raw_sign(pk_rsa(), signing_input(h, PAY), sig, sizeof(sig), NULL, NULL);
        REJECT(with_sig(h, PAY, sig, n), "alg not allowed");
    }
    /* RS256 with the signature removed ("null signature", CVE-2020-28042) */
    REJECT(S("%s.", signing_input(hdr_rs(), PAY)), "empty signature");
    REJECT(S("%s.", signing_input(hdr_es(), PAY)), "empty signature");
}

/* JW-03, and every alg outside the allow-list */
static void test_alg_confusion(void)
{
    static const char *const algs[] = {
        "HS256",  "HS384", "HS512", "RS512", "RS384",  "PS256",  "ES384",        "ES512",
        "ES256K", "EdDSA", "rs256", "es256", "RS256 ", " RS256", "RS256\\u0000", ""};
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL, *crt;
    long pemlen;

    /* the RSA public key PEM as the HMAC secret (CVE-2016-10555) */
    CHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, pk_rsa()) == 1);
    pemlen = BIO_get_mem_data(bio, &pem);
    CHECK(pemlen > 0);
    {
        char *h = S("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid_rsa());
        REJECT(forge_hs256(pem, (size_t)pemlen, h, PAY), "alg not allowed");
        /* with and without the trailing newline, as jwt_tool tries */
        REJECT(forge_hs256(pem, (size_t)pemlen - 1, h, PAY), "alg not allowed");
        /* the certificate PEM, and the empty key (CVE-2019-20933) */
        crt = read_file(path_of("rsa.crt"));
        CHECK(crt != NULL);
        if (crt != NULL)
            REJECT(forge_hs256(crt, strlen(crt), h, PAY), "alg not allowed");
        REJECT(forge_hs256("", 0, h, PAY), "alg not allowed");
        /* the kid of the EC key, too */
        h = S("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid_ec());
        REJECT(forge_hs256("", 0, h, PAY), "alg not allowed");
    }
    BIO_free(bio);

    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        REJECT(forge(pk_rsa(), S("{\"alg\":\"%s\",\"kid\":\"%s\"}", algs[i], kid_rsa()), PAY),
               algs[i][0] == 'R' && strstr(algs[i], "u0000") != NULL ? "header"
                                                                     : "alg not allowed");
    REJECT(forge(pk_rsa(), S("{\"kid\":\"%s\"}", kid_rsa()), PAY), "no alg");
    REJECT(forge(pk_rsa(), S("{\"alg\":1,\"kid\":\"%s\"}", kid_rsa()), PAY), "alg is not a string");
    REJECT(forge(pk_rsa(), S("{\"alg\":null,\"kid\":\"%s\"}", kid_rsa()), PAY),
           "alg is not a string");
    REJECT(forge(pk_rsa(), S("{\"alg\":[\"RS256\"],\"kid\":\"%s\"}", kid_rsa()), PAY),
           "alg is not a string");

    /* key-type confusion: RS256 named on the EC key's kid, ES256 on the RSA key's */
    REJECT(forge(pk_ec(), S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid_ec()), PAY),
           "does not match the EC key");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid_rsa()), PAY),
           "does not match the RSA key");
    /* and the signature material of the other type under a matching header */
    REJECT(forge(pk_rsa(), hdr_es(), PAY), "ES256 signature is 256 bytes");
    REJECT(forge(pk_ec(), hdr_rs(), PAY), "RS256 signature is 64 bytes");
}

/* JW-05: kid is an opaque key into our own list */
static void test_kid(void)
{
    static const char *const kids[] = {"",
                                       "../../dev/null",
                                       "../../../../../../dev/null",
                                       "/dev/null",
                                       "/invalid_path",
                                       "|sleep 10",
                                       "x' UNION SELECT '1';--",
                                       "http://127.0.0.1:1/k",
                                       "file:///etc/passwd",
                                       "nope"};
    REJECT(forge(pk_rsa(), "{\"alg\":\"RS256\"}", PAY), "no kid");
    REJECT(forge(pk_rsa(), "{\"alg\":\"RS256\",\"kid\":1}", PAY), "kid is not a string");
    REJECT(forge(pk_rsa(), "{\"alg\":\"RS256\",\"kid\":null}", PAY), "kid is not a string");
    for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kids[i]), PAY),
               "unknown kid");
        REJECT(forge_hs256("", 0, S("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kids[i]), PAY),
               "alg not allowed");
    }
    /* our kid with a suffix, a prefix, a CR/LF, a NUL (jansson refuses \u0000 without
     * JSON_ALLOW_NUL) */
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\\n\"}", kid_rsa()), PAY),
           "unknown kid");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s/../x\"}", kid_rsa()), PAY),
           "unknown kid");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%.42s\"}", kid_rsa()), PAY),
           "unknown kid");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\\u0000\"}", kid_rsa()), PAY),
           "header: not valid JSON");
    /* no keys at all */
    {
        sts_err_t e;
        char *tok = forge(pk_rsa(), hdr_rs(), PAY);
        CHECK(sts_jwt_verify(NULL, 0, tok, strlen(tok), NULL, NULL, &e) == STS_E_INVALID_TOKEN &&
              strstr(e.detail, "unknown kid") != NULL);
    }
    /* our kid, another RSA key's signature */
    REJECT(forge(sts_keys_pkey(g_evil), hdr_rs(), PAY), "signature verification failed");
    /* the evil key's own kid is not trusted */
    REJECT(forge(sts_keys_pkey(g_evil),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\"}", sts_keys_kid(g_evil)), PAY),
           "unknown kid");
}

/* JW-04, JW-08, RFC 7797: members we refuse whatever they say */
static void test_forbidden_headers(void)
{
    json_t *evil_jwk = NULL;
    sts_err_t e;
    char *jwk = NULL;

    CHECK(sts_jwk_public(g_evil, &evil_jwk, &e) == STS_OK);
    jwk = json_dumps(evil_jwk, JSON_COMPACT);
    CHECK(jwk != NULL);
    pool_add(jwk);
    json_decref(evil_jwk);

    /* CVE-2018-0114: the attacker's key embedded, the token signed by it, our kid */
    REJECT(forge(sts_keys_pkey(g_evil),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jwk\":%s}", kid_rsa(), jwk), PAY),
           "\"jwk\" is not accepted");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jwk\":%s}", kid_rsa(), jwk), PAY),
           "\"jwk\" is not accepted");
    REJECT(forge(pk_rsa(),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jku\":\"http://127.0.0.1:9/jwks.json\"}",
                   kid_rsa()),
                 PAY),
           "\"jku\" is not accepted");
    REJECT(forge(pk_rsa(),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"x5u\":\"http://127.0.0.1:9/c.pem\"}",
                   kid_rsa()),
                 PAY),
           "\"x5u\" is not accepted");
    REJECT(
        forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"x5c\":[\"MIIB\"]}", kid_rsa()), PAY),
        "\"x5c\" is not accepted");
    REJECT(forge(pk_ec(), S("{\"alg\":\"ES256\",\"kid\":\"%s\",\"x5c\":[]}", kid_ec()), PAY),
           "\"x5c\" is not accepted");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jku\":null}", kid_rsa()), PAY),
           "\"jku\" is not accepted");
    /* crit, every shape (RFC 7515 4.1.11) */
    REJECT(forge(pk_rsa(),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":[\"x-bind\"],\"x-bind\":\"v\"}",
                   kid_rsa()),
                 PAY),
           "\"crit\" is not accepted");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":[]}", kid_rsa()), PAY),
           "\"crit\" is not accepted");
    REJECT(
        forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}", kid_rsa()), PAY),
        "\"crit\" is not accepted");
    REJECT(forge(pk_rsa(),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":[\"x-missing\"]}", kid_rsa()), PAY),
           "\"crit\" is not accepted");
    REJECT(
        forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":\"b64\"}", kid_rsa()), PAY),
        "\"crit\" is not accepted");
    /* RFC 7797 unencoded payload, with and without crit */
    REJECT(
        forge(pk_rsa(),
              S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"b64\":false,\"crit\":[\"b64\"]}", kid_rsa()),
              PAY),
        "is not accepted");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"b64\":false}", kid_rsa()), PAY),
           "\"b64\" is not accepted");
    /* JWE members on a JWS */
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"enc\":\"A128GCM\"}", kid_rsa()),
                 PAY),
           "\"enc\" is not accepted");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"zip\":\"DEF\"}", kid_rsa()), PAY),
           "\"zip\" is not accepted");
    /* harmless, unknown members are returned to the engine, not refused here */
    {
        json_t *c = ACCEPT(forge(
            pk_rsa(),
            S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\",\"x-foo\":1}", kid_rsa()), PAY));
        json_decref(c);
    }
}

/* JW-02 for ES256: lengths, encodings, scalar range */
static void test_es256_signature(void)
{
    /* n of P-256, big-endian */
    static const unsigned char n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                        0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    unsigned char raw[64], bad[80], der[80];
    size_t derlen = 0;
    int seen[3] = {0, 0, 0};
    char *h = hdr_es(), *in = signing_input(h, PAY);
    const BIGNUM *order = NULL;
    EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    unsigned char obytes[32];

    /* the constant used here is OpenSSL's order of P-256 */
    order = grp != NULL ? EC_GROUP_get0_order(grp) : NULL;
    CHECK(order != NULL && BN_bn2binpad(order, obytes, 32) == 32 && memcmp(obytes, n, 32) == 0);
    EC_GROUP_free(grp);

    CHECK(raw_sign(pk_ec(), in, raw, sizeof(raw), NULL, NULL) == 64);
    {
        json_t *c = ACCEPT(with_sig(h, PAY, raw, 64));
        json_decref(c);
    }
    /* 63 and 65 bytes */
    REJECT(with_sig(h, PAY, raw, 63), "ES256 signature is 63 bytes");
    memcpy(bad, raw, 64);
    bad[64] = 0;
    REJECT(with_sig(h, PAY, bad, 65), "ES256 signature is 65 bytes");
    memmove(bad + 1, raw, 64);
    bad[0] = 0;
    REJECT(with_sig(h, PAY, bad, 65), "ES256 signature is 65 bytes");
    /* DER instead of R||S: valid DER signatures of these very bytes, 70, 71 and 72 long */
    for (int i = 0; i < 400 && !(seen[0] && seen[1] && seen[2]); i++) {
        raw_sign(pk_ec(), in, raw, sizeof(raw), der, &derlen);
        if (derlen >= 70 && derlen <= 72 && !seen[derlen - 70]) {
            seen[derlen - 70] = 1;
            REJECT(with_sig(h, PAY, der, derlen), S("ES256 signature is %zu bytes", derlen));
        }
    }
    CHECK(seen[0] && seen[1] && seen[2]);

    /* r, s out of [1, n-1] (CVE-2022-21449 "psychic signatures": r = s = 0) */
    memset(bad, 0, 64);
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memcpy(bad, raw, 64);
    memset(bad, 0, 32); /* r = 0 */
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memcpy(bad, raw, 64);
    memset(bad + 32, 0, 32); /* s = 0 */
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memcpy(bad, n, 32); /* r = n */
    memcpy(bad + 32, raw + 32, 32);
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memcpy(bad, raw, 32); /* s = n */
    memcpy(bad + 32, n, 32);
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memset(bad, 0xff, 64); /* r, s = 2^256 - 1 */
    REJECT(with_sig(h, PAY, bad, 64), "r or s out of range");
    memcpy(bad, n, 32); /* r = s = n - 1: in range, so it reaches OpenSSL, and fails there */
    bad[31]--;
    memcpy(bad + 32, bad, 32);
    REJECT(with_sig(h, PAY, bad, 64), "signature verification failed");
    memset(bad, 0, 64); /* r = s = 1 */
    bad[31] = bad[63] = 1;
    REJECT(with_sig(h, PAY, bad, 64), "signature verification failed");

    /* the signature with a non-canonical last character (unused bits set) */
    {
        char *tok = with_sig(h, PAY, raw, 64);
        char *last = tok + strlen(tok) - 1;
        /* 86 chars: the last one carries 2 data bits and 4 unused ones */
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        *last = alpha[(strchr(alpha, *last) - alpha) | 1];
        REJECT(tok, "signature: not strict base64url");
    }
}

/* JW-02: tampering and the compact serialisation */
static void test_structure(void)
{
    char *rs = forge(pk_rsa(), hdr_rs(), PAY), *es = forge(pk_ec(), hdr_es(), PAY), *t;
    char *h64 = segment(rs, 0), *p64 = segment(rs, 1), *s64 = segment(rs, 2);
    size_t len = strlen(rs);
    char *big;
    unsigned char sig[600];
    size_t n;

    /* the controls */
    json_decref(ACCEPT(rs));
    json_decref(ACCEPT(es));

    /* tampered payload byte (first char: a full 6 bits of the first byte) */
    t = S("%s.%c%s.%s", h64, p64[0] == 'e' ? 'f' : 'e', p64 + 1, s64);
    REJECT(t, "signature verification failed");
    t = S("%s", es);
    t[strlen(segment(es, 0)) + 1] ^= 0x01; /* 'e' <-> 'd' */
    REJECT(t, "signature verification failed");
    /* a payload claim changed and re-encoded */
    REJECT(S("%s.%s.%s", h64, b64u_str("{\"sub\":\"admin\",\"aud\":\"" AUD "\"}"), s64),
           "signature verification failed");
    /* tampered signature (middle char), RS and ES */
    t = S("%s", rs);
    t[len - 100] = t[len - 100] == 'A' ? 'B' : 'A';
    REJECT(t, "signature verification failed");
    t = S("%s", es);
    t[strlen(t) - 20] = t[strlen(t) - 20] == 'A' ? 'B' : 'A';
    REJECT(t, "signature verification failed");
    /* last 4 characters removed; another token's signature */
    REJECT(S("%.*s", (int)(len - 4), rs), "signature");
    n = raw_sign(pk_rsa(), signing_input(hdr_rs(), "{\"sub\":\"bob\"}"), sig, sizeof(sig), NULL,
                 NULL);
    REJECT(with_sig(hdr_rs(), PAY, sig, n), "signature verification failed");
    /* RS256 signature one byte short / long */
    REJECT(with_sig(hdr_rs(), PAY, sig, n - 1), "not the modulus length");
    sig[n] = 0;
    REJECT(with_sig(hdr_rs(), PAY, sig, n + 1), "not the modulus length");

    /* segments */
    REJECT(S("%s.%s", h64, p64), "too few dots");
    REJECT(h64, "too few dots");
    REJECT(S("%s.%s.%s.%s", h64, p64, s64, s64), "too many dots");
    REJECT(S("%s.", rs), "too many dots");
    REJECT(S("%s.%s.%s.%s.%s", h64, p64, s64, s64, s64), "too many dots"); /* JWE shape */
    REJECT(S(".%s.%s", p64, s64), "header: not valid JSON");
    REJECT(S("%s..%s", h64, s64), "signature verification failed");
    REJECT("..", "empty signature");
    REJECT(".", "too few dots");

    /* padding, whitespace, other alphabets */
    REJECT(S("%s=.%s.%s", h64, p64, s64), "header: not strict base64url");
    REJECT(S("%s.%s==.%s", h64, p64, s64), "payload: not strict base64url");
    REJECT(S("%s.%s.%s=", h64, p64, s64), "signature: not strict base64url");
    REJECT(S("%s.%s.%s==", segment(es, 0), segment(es, 1), segment(es, 2)),
           "signature: not strict base64url");
    REJECT(S(" %s", rs), "header: not strict base64url");
    REJECT(S("%s\n", rs), "signature: not strict base64url");
    REJECT(S("%s\r\n", rs), "signature: not strict base64url");
    REJECT(S("%s.%.10s %s.%s", h64, p64, p64 + 10, s64), "payload: not strict base64url");
    REJECT(S("%s.%.10s\n%s.%s", h64, p64, p64 + 10, s64), "payload: not strict base64url");
    REJECT(S("%s.%s.%.20s\t%s", h64, p64, s64, s64 + 20), "signature: not strict base64url");
    t = S("%s", rs);
    t[len - 50] = '+';
    REJECT(t, "signature: not strict base64url");
    t = S("%s", rs);
    t[len - 50] = '/';
    REJECT(t, "signature: not strict base64url");
    t = S("%s", rs);
    t[3] = '*';
    REJECT(t, "header: not strict base64url");
    /* a length that is 1 mod 4 can never be base64 */
    t = S("%s", h64);
    while (strlen(t) % 4 != 1)
        t = S("%sA", t);
    REJECT(S("%s.%s.%s", t, p64, s64), "header: not strict base64url");
    /* an embedded NUL inside the given length */
    t = S("%s", rs);
    t[len - 10] = '\0';
    reject_len(t, len, "signature: not strict base64url", __LINE__);

    /* size: empty, NULL, one byte over the limit (refused before decoding) */
    reject_len("", 0, "empty token", __LINE__);
    reject_len(NULL, 0, "empty token", __LINE__);
    big = malloc(STS_JWT_MAX_LEN + 2);
    if (big == NULL)
        abort();
    memset(big, 'A', STS_JWT_MAX_LEN + 1);
    big[STS_JWT_MAX_LEN + 1] = '\0';
    pool_add(big);
    reject_len(big, STS_JWT_MAX_LEN + 1, "longer than", __LINE__);
    REJECT(S("%s.%s", rs, big), "longer than");
    /* a valid token of exactly the limit is accepted */
    {
        char *pay, *tok;
        size_t fixed = strlen(forge(pk_rsa(), hdr_rs(), "{\"p\":\"\"}"));
        size_t room = (STS_JWT_MAX_LEN - fixed) / 4 * 3; /* raw bytes that fit in the payload */
        pay = S("{\"p\":\"%*s\"}", (int)room, "");
        tok = forge(pk_rsa(), hdr_rs(), pay);
        if (strlen(tok) < STS_JWT_MAX_LEN) { /* pad to exactly the limit */
            pay = S("{\"p\":\"%*s\"}", (int)(room + (STS_JWT_MAX_LEN - strlen(tok)) * 3 / 4), "");
            tok = forge(pk_rsa(), hdr_rs(), pay);
        }
        CHECK(strlen(tok) <= STS_JWT_MAX_LEN && strlen(tok) > STS_JWT_MAX_LEN - 4);
        json_decref(ACCEPT(tok));
        pay = S("{\"p\":\"%*s\"}", (int)room + 4, "");
        REJECT(forge(pk_rsa(), hdr_rs(), pay), "longer than");
    }
}

/* JW-10: the JSON of the header and the payload */
static void test_json(void)
{
    char *h = hdr_rs(), *deep, *ok;
    int i;

    /* payloads that are not objects, validly signed */
    REJECT(forge(pk_rsa(), h, "[\"sub\",\"alice\"]"), "payload: not a JSON object");
    REJECT(forge(pk_rsa(), h, "[]"), "payload: not a JSON object");
    REJECT(forge(pk_rsa(), h, "\"alice\""), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "42"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "null"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "true"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, ""), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "sub=alice"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"alice\"} {}"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"alice\",}"), "payload: not valid JSON");
    /* duplicate claims, NUL in a string, invalid UTF-8 */
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"alice\",\"sub\":\"admin\"}"),
           "payload: duplicate member name");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"admin\\u0000evil\"}"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"\xc0\xaf\"}"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"\xff\"}"), "payload: not valid JSON");
    REJECT(forge(pk_rsa(), h, "{\"sub\":\"\\ud800\"}"), "payload: not valid JSON");

    /* headers that are not objects, duplicate alg */
    REJECT(forge(pk_rsa(), "[]", PAY), "header: not a JSON object");
    REJECT(forge(pk_rsa(), "\"RS256\"", PAY), "header: not valid JSON");
    REJECT(
        forge(pk_rsa(), S("{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"%s\"}", kid_rsa()), PAY),
        "header: duplicate member name");
    REJECT(
        forge(pk_rsa(), S("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"%s\"}", kid_rsa()), PAY),
        "header: duplicate member name");
    REJECT(forge(pk_rsa(), S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"kid\":\"x\"}", kid_rsa()), PAY),
           "header: duplicate member name");
    REJECT(forge(pk_rsa(),
                 S("{\"alg\":\"RS256\",\"kid\":\"%s\",\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
                   kid_rsa()),
                 PAY),
           "header: nested deeper");

    /* nesting: STS_JWT_MAX_DEPTH containers accepted, one more refused */
    ok = S("%s", "1");
    for (i = 0; i < STS_JWT_MAX_DEPTH; i++)
        ok = S("{\"a\":%s}", ok);
    json_decref(ACCEPT(forge(pk_rsa(), h, ok)));
    REJECT(forge(pk_rsa(), h, S("{\"a\":%s}", ok)), "payload: nested deeper than");
    ok = S("%s", "[1]");
    for (i = 1; i < STS_JWT_MAX_DEPTH; i++)
        ok = S("{\"a\":%s}", ok);
    json_decref(ACCEPT(forge(pk_rsa(), h, ok)));
    REJECT(forge(pk_rsa(), h, S("{\"a\":[%s]}", ok)), "payload: nested deeper than");
    /* beyond jansson's own limit (2048) inside our size limit: refused, no crash */
    deep = malloc(2 * 5000 + 8);
    if (deep == NULL)
        abort();
    pool_add(deep);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', 4000);
    memset(deep + 4005, ']', 4000);
    strcpy(deep + 8005, "}");
    REJECT(forge(pk_rsa(), h, deep), "payload: not valid JSON");
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

static const char pyverify[] =
    "import sys, jwt\n"
    "from cryptography import x509\n"
    "cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())\n"
    "tok = open(sys.argv[2]).read().strip()\n"
    "alg, kid = sys.argv[3], sys.argv[4]\n"
    "h = jwt.get_unverified_header(tok)\n"
    "assert h == {'alg': alg, 'kid': kid, 'typ': 'at+jwt'}, h\n"
    "c = jwt.decode(tok, cert.public_key(), algorithms=[alg], audience='" AUD "')\n"
    "assert c['sub'] == 'alice' and c['n'] == 42 and c['nested'] == {'a': [1, 2], 't': True}, c\n"
    "assert c['utf8'] == 'gr\\u00fc\\u00df \\u20ac', c\n"
    "bad = tok[:-6] + ('AAAAAA' if not tok.endswith('AAAAAA') else 'BBBBBB')\n"
    "try:\n"
    "    jwt.decode(bad, cert.public_key(), algorithms=[alg], audience='" AUD "')\n"
    "    sys.exit('tampered token accepted')\n"
    "except jwt.InvalidSignatureError:\n"
    "    pass\n";

static const char pysign[] =
    "import sys, time, jwt\n"
    "key = open(sys.argv[1]).read()\n"
    "tok = jwt.encode({'iss': 'py', 'sub': 'bob', 'exp': int(time.time()) + 300,\n"
    "                  'x': [1, {'y': True}]}, key, algorithm=sys.argv[2],\n"
    "                 headers={'kid': sys.argv[3]})\n"
    "open(sys.argv[4], 'w').write(tok)\n";

static const char pyjwk[] =
    "import sys, json, base64, jwt\n"
    "from jwt.algorithms import RSAAlgorithm, ECAlgorithm\n"
    "from cryptography import x509\n"
    "from cryptography.hazmat.primitives.serialization import Encoding\n"
    "jwk = json.load(open(sys.argv[1]))\n"
    "cert = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())\n"
    "tok = open(sys.argv[3]).read().strip()\n"
    "alg = sys.argv[4]\n"
    "k = (ECAlgorithm if alg == 'ES256' else RSAAlgorithm).from_jwk(json.dumps(jwk))\n"
    "assert k.public_numbers() == cert.public_key().public_numbers()\n"
    "assert base64.b64decode(jwk['x5c'][0], validate=True) == cert.public_bytes(Encoding.DER)\n"
    "for f in ('n', 'e', 'x', 'y'):\n"
    "    if f in jwk:\n"
    "        assert '=' not in jwk[f] and '+' not in jwk[f] and '/' not in jwk[f]\n"
    "if 'n' in jwk:\n"
    "    raw = base64.urlsafe_b64decode(jwk['n'] + '==')\n"
    "    assert raw[0] != 0, 'leading zero in n'\n"
    "jwt.decode(tok, k, algorithms=[alg], audience='" AUD "')\n";

/* An EC P-256 key whose x or y has a leading zero byte, and its certificate. */
static const char pypadkey[] =
    "import sys, datetime\n"
    "from cryptography import x509\n"
    "from cryptography.x509.oid import NameOID\n"
    "from cryptography.hazmat.primitives import hashes, serialization\n"
    "from cryptography.hazmat.primitives.asymmetric import ec\n"
    "while True:\n"
    "    k = ec.generate_private_key(ec.SECP256R1())\n"
    "    pn = k.public_key().public_numbers()\n"
    "    if pn.x < 2 ** 248 or pn.y < 2 ** 248:\n"
    "        break\n"
    "name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'pad')])\n"
    "now = datetime.datetime.utcnow()\n"
    "c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)\n"
    "     .public_key(k.public_key()).serial_number(x509.random_serial_number())\n"
    "     .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=2))\n"
    "     .sign(k, hashes.SHA256()))\n"
    "open(sys.argv[1] + '/pad.key', 'wb').write(k.private_bytes(serialization.Encoding.PEM,\n"
    "    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))\n"
    "open(sys.argv[1] + '/pad.crt', 'wb').write(c.public_bytes(serialization.Encoding.PEM))\n";

static int make_fixtures(void)
{
    static const char *const reqs[] = {
        "-newkey rsa:2048 -keyout %s/rsa.key -out %s/rsa.crt -subj /CN=sts-test-rsa",
        ("-newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout %s/ec.key -out %s/ec.crt "
         "-subj /CN=sts-test-ec"),
        "-newkey rsa:2048 -keyout %s/evil.key -out %s/evil.crt -subj /CN=sts-test-rsa",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char *args = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        if (asprintf(&args, reqs[i], g_dir, g_dir) < 0)
            abort();
#pragma GCC diagnostic pop
        int rc = sts_test_run("openssl req -x509 -nodes -days 2 -sha256 %s >/dev/null 2>&1", args);
        free(args);
        if (rc != 0)
            return -1;
    }
    if (sts_test_write_file(path_of("pyverify.py"), pyverify) != 0 ||
        sts_test_write_file(path_of("pysign.py"), pysign) != 0 ||
        sts_test_write_file(path_of("pyjwk.py"), pyjwk) != 0 ||
        sts_test_write_file(path_of("pypadkey.py"), pypadkey) != 0)
        return -1;
    return 0;
}

int main(void)
{
    sts_err_t e;

    sts_log_set_level(STS_LOG_WARN);
    snprintf(g_dir, sizeof(g_dir), "/tmp/sts_test_jwt_XXXXXX");
    if (mkdtemp(g_dir) == NULL || make_fixtures() != 0) {
        fprintf(stderr, "cannot prepare test keys\n");
        return 2;
    }
    if (sts_keys_global_init(&e) != STS_OK) {
        fprintf(stderr, "global init: %s\n", e.detail);
        return 2;
    }
    CHECK(sts_keys_load(path_of("rsa.key"), path_of("rsa.crt"), &g_rsa, &e) == STS_OK);
    CHECK(sts_keys_load(path_of("ec.key"), path_of("ec.crt"), &g_ec, &e) == STS_OK);
    CHECK(sts_keys_load(path_of("evil.key"), path_of("evil.crt"), &g_evil, &e) == STS_OK);
    if (g_rsa == NULL || g_ec == NULL || g_evil == NULL) {
        fprintf(stderr, "cannot load test keys: %s\n", e.detail);
        return 2;
    }
    g_trusted[0] = g_rsa;
    g_trusted[1] = g_ec;

    test_roundtrip(g_rsa, "RS256", "rsa.crt");
    test_roundtrip(g_ec, "ES256", "ec.crt");
    test_python_signed("rsa.key", "RS256", kid_rsa());
    test_python_signed("ec.key", "ES256", kid_ec());
    test_sign_errors();
    test_public_only();
    test_jwk();
    test_alg_none();
    test_alg_confusion();
    test_kid();
    test_forbidden_headers();
    test_es256_signature();
    test_structure();
    test_json();
    pool_free();

    sts_keys_free(g_rsa);
    sts_keys_free(g_ec);
    sts_keys_free(g_evil);
    sts_keys_global_cleanup();
    if (g_fail == 0)
        sts_test_run("rm -rf '%s'", g_dir);
    else
        fprintf(stderr, "test files kept in %s\n", g_dir);
    return sts_test_summary();
}
