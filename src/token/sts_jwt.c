/*
 * sts_jwt.c - compact JWS for JWTs on OpenSSL EVP + jansson: RS256 and ES256
 * by our own keys, and the public JWK of a key.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Owns the JOSE profile: the algorithm allow-list, base64url, the ES256
 * R||S <-> DER conversion and the one wrapper around EVP_DigestVerify. It does
 * NOT check time, issuer, audience or typ (engine policy), and never fetches a
 * key or trusts one carried by a token. Why not libcjose: see sts_jwt.h.
 */
#include "sts_jwt.h"

#include "sts_log.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

#define ES256_COORD 32 /* bytes in r, s, x and y on P-256 */
#define ES256_SIG (2 * ES256_COORD)

/* The order n of P-256 (FIPS 186-4 D.1.2.3, SEC 2 2.4.2): r and s must be in [1, n-1]. */
static const unsigned char p256_order[ES256_COORD] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* Header members we refuse outright: key injection (jwk/jku/x5u/x5c, RFC 8725
 * 3.10), extensions we do not understand (crit, RFC 7515 4.1.11), unencoded
 * payload (b64, RFC 7797) and JWE-only members (a JWE dressed as a JWS). */
static const char *const forbidden_header[] = {"crit", "jku", "x5u", "jwk",
                                               "x5c",  "b64", "enc", "zip"};

/* ------------------------------------------------------------------------ */
/* base64url (RFC 4648 section 5, no padding, RFC 7515 section 2)           */
/* ------------------------------------------------------------------------ */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Characters needed for @n bytes (no padding, no NUL). */
static size_t b64url_len(size_t n) { return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1); }

/* Encode @n bytes into @out (b64url_len(n) chars, no NUL written). Returns the length. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned long v =
            ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    return o;
}

/* New NUL-terminated base64url string of @n bytes, or NULL (out of memory). free(). */
static char *b64url_new(const unsigned char *in, size_t n)
{
    size_t len = b64url_len(n);
    char *s = malloc(len + 1);

    if (s != NULL)
        s[b64url_encode(in, n, s)] = '\0';
    return s;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1; /* '=', '+', '/', whitespace, NUL, '.', anything else */
}

/*
 * Strict decode of @n chars: only the base64url alphabet, no padding, a
 * length that is not 1 mod 4, and zero unused bits in the last character (so
 * each byte string has exactly one accepted spelling).
 * *out is a new buffer (free()) of *outlen bytes; one spare byte so that an
 * empty result is still a valid pointer. Returns 0, -1 if malformed, -2 on OOM.
 */
static int b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
    unsigned char *buf;
    unsigned long acc = 0;
    size_t i, o = 0;
    int bits = 0;

    *out = NULL;
    *outlen = 0;
    if (n % 4 == 1)
        return -1;
    buf = malloc(n / 4 * 3 + 3);
    if (buf == NULL)
        return -2;
    for (i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = ((acc << 6) | (unsigned long)v) & 0xffffffUL;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* 2 or 4 leftover bits must be zero: "AB" and "AA" must not both decode to 0x00 */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = o;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

/* True when @j nests no deeper than @left more levels. jansson's own limit
 * (JSON_PARSER_MAX_DEPTH, 2048 in 2.14) is compiled in, so this is ours. */
static int depth_ok(json_t *j, int left)
{
    const char *k;
    json_t *v;
    size_t i;

    if (!json_is_object(j) && !json_is_array(j))
        return 1;
    if (left <= 0)
        return 0;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            if (!depth_ok(v, left - 1))
                return 0;
        }
    } else {
        json_array_foreach(j, i, v)
        {
            if (!depth_ok(v, left - 1))
                return 0;
        }
    }
    return 1;
}

/*
 * Parse @len bytes as one JSON object: no duplicate names, no NUL in strings
 * (no JSON_ALLOW_NUL), valid UTF-8, nothing after it, bounded nesting.
 * @what names the segment in the detail. *out new reference on success.
 */
static sts_errc_t parse_object(const unsigned char *buf, size_t len, const char *what, json_t **out,
                               sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    json_error_t jerr;
    json_t *j = NULL;

    *out = NULL;
    j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        /* jerr.text quotes the input ("near '...'"): only the code and offset go to the log */
        enum json_error_code ec = json_error_code(&jerr);
        STS_FAIL_IF(ec == json_error_duplicate_key, err, STS_E_INVALID_TOKEN,
                    "%s: duplicate member name", what);
        STS_FAIL_IF(ec == json_error_out_of_memory, err, STS_E_NOMEM, "out of memory");
        STS_FAIL_IF(1, err, STS_E_INVALID_TOKEN, "%s: not valid JSON (jansson error %d at byte %d)",
                    what, (int)ec, jerr.position);
    }
    STS_FAIL_IF(!json_is_object(j), err, STS_E_INVALID_TOKEN, "%s: not a JSON object", what);
    STS_FAIL_IF(!depth_ok(j, STS_JWT_MAX_DEPTH), err, STS_E_INVALID_TOKEN,
                "%s: nested deeper than %d", what, STS_JWT_MAX_DEPTH);
    *out = j;
    j = NULL;

cleanup:
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ES256 signature encodings                                                */
/* ------------------------------------------------------------------------ */

/* 1 <= v < n for a 32-byte big-endian @v (same length, so memcmp orders them). */
static int p256_scalar_ok(const unsigned char v[ES256_COORD])
{
    static const unsigned char zero[ES256_COORD];

    return memcmp(v, zero, ES256_COORD) != 0 && memcmp(v, p256_order, ES256_COORD) < 0;
}

/* DER ECDSA-Sig-Value from OpenSSL -> 64-byte R||S. Returns 0 or -1. */
static int es256_der_to_raw(const unsigned char *der, size_t derlen, unsigned char raw[ES256_SIG])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    int ok;

    if (sig == NULL)
        return -1;
    ok = p == der + derlen &&
         BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, ES256_COORD) == ES256_COORD &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + ES256_COORD, ES256_COORD) == ES256_COORD;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

/* 64-byte R||S (already range-checked) -> new DER buffer (OPENSSL_free). 0 or -1. */
static int es256_raw_to_der(const unsigned char raw[ES256_SIG], unsigned char **der, size_t *derlen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, ES256_COORD, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_COORD, ES256_COORD, NULL);
    int n = -1;

    *der = NULL;
    *derlen = 0;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        n = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (n <= 0) {
        OPENSSL_free(*der);
        *der = NULL;
        return -1;
    }
    *derlen = (size_t)n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* the EVP wrappers: one place that signs, one that judges a signature      */
/* ------------------------------------------------------------------------ */

static sts_errc_t digest_init(EVP_MD_CTX **mctx, EVP_PKEY *pkey, int is_ec, int sign,
                              sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_PKEY_CTX *pctx = NULL;
    int r;

    *mctx = EVP_MD_CTX_new();
    STS_FAIL_IF(*mctx == NULL, err, STS_E_NOMEM, "out of memory");
    r = sign ? EVP_DigestSignInit(*mctx, &pctx, EVP_sha256(), NULL, pkey)
             : EVP_DigestVerifyInit(*mctx, &pctx, EVP_sha256(), NULL, pkey);
    STS_FAIL_IF(r != 1, err, STS_E_CRYPTO, "EVP_Digest%sInit failed", sign ? "Sign" : "Verify");
    /* PKCS#1 v1.5 is OpenSSL's default; RS256 is pinned here, not inherited */
    STS_FAIL_IF(!is_ec && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1, err,
                STS_E_CRYPTO, "cannot select RSASSA-PKCS1-v1_5");

cleanup:
    if (rc != STS_OK) {
        EVP_MD_CTX_free(*mctx);
        *mctx = NULL;
    }
    return rc;
}

/*
 * Sign @in with @pkey. *sig is a new buffer (free()) of *siglen bytes: the
 * PKCS#1 signature for RSA, the 64-byte R||S for EC.
 */
static sts_errc_t sign_bytes(EVP_PKEY *pkey, int is_ec, const unsigned char *in, size_t inlen,
                             unsigned char **sig, size_t *siglen, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_MD_CTX *mctx = NULL;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;

    *sig = NULL;
    *siglen = 0;
    STS_CHECK(digest_init(&mctx, pkey, is_ec, 1, err));
    STS_FAIL_IF(EVP_DigestSign(mctx, NULL, &cap, in, inlen) != 1 || cap == 0, err, STS_E_CRYPTO,
                "EVP_DigestSign (length) failed");
    if (is_ec && cap < ES256_SIG)
        cap = ES256_SIG; /* R||S replaces the DER form in place */
    buf = malloc(cap);
    len = cap;
    STS_FAIL_IF(buf == NULL, err, STS_E_NOMEM, "out of memory");
    STS_FAIL_IF(EVP_DigestSign(mctx, buf, &len, in, inlen) != 1, err, STS_E_CRYPTO,
                "EVP_DigestSign failed");
    if (is_ec) {
        unsigned char raw[ES256_SIG];
        STS_FAIL_IF(es256_der_to_raw(buf, len, raw) != 0, err, STS_E_CRYPTO,
                    "ECDSA signature is not a P-256 DER signature");
        memcpy(buf, raw, ES256_SIG);
        len = ES256_SIG;
    }
    *sig = buf;
    *siglen = len;
    buf = NULL;

cleanup:
    free(buf);
    EVP_MD_CTX_free(mctx);
    if (rc != STS_OK)
        ERR_clear_error();
    return rc;
}

/*
 * The only verdict: STS_OK iff EVP_DigestVerify() returned 1. 0 (bad
 * signature) and < 0 (malformed, error) both mean STS_E_INVALID_TOKEN.
 * @sig is the JWS signature (R||S for EC, checked and converted here).
 */
static sts_errc_t verify_bytes(EVP_PKEY *pkey, int is_ec, const unsigned char *in, size_t inlen,
                               const unsigned char *sig, size_t siglen, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_MD_CTX *mctx = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    int verdict;

    if (is_ec) {
        STS_FAIL_IF(siglen != ES256_SIG, err, STS_E_INVALID_TOKEN,
                    "ES256 signature is %zu bytes, not 64 (R||S)", siglen);
        STS_FAIL_IF(!p256_scalar_ok(sig) || !p256_scalar_ok(sig + ES256_COORD), err,
                    STS_E_INVALID_TOKEN, "ES256 r or s out of range [1, n-1]");
        STS_FAIL_IF(es256_raw_to_der(sig, &der, &derlen) != 0, err, STS_E_NOMEM,
                    "cannot encode the ECDSA signature");
    } else {
        STS_FAIL_IF(siglen != (size_t)EVP_PKEY_get_size(pkey), err, STS_E_INVALID_TOKEN,
                    "RS256 signature is %zu bytes, not the modulus length %d", siglen,
                    EVP_PKEY_get_size(pkey));
    }
    STS_CHECK(digest_init(&mctx, pkey, is_ec, 0, err));
    verdict = is_ec ? EVP_DigestVerify(mctx, der, derlen, in, inlen)
                    : EVP_DigestVerify(mctx, sig, siglen, in, inlen);
    STS_FAIL_IF(verdict != 1, err, STS_E_INVALID_TOKEN, "signature verification failed (%s)",
                verdict == 0 ? "mismatch" : "error");

cleanup:
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    if (rc != STS_OK)
        ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* sign                                                                     */
/* ------------------------------------------------------------------------ */

sts_errc_t sts_jwt_sign(sts_keys_t *keys, const char *typ, json_t *claims, char **out,
                        sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_PKEY *pkey = sts_keys_pkey(keys);
    int is_ec = sts_keys_is_ec(keys);
    json_t *header = NULL;
    char *hjson = NULL, *pjson = NULL, *jwt = NULL;
    unsigned char *sig = NULL;
    size_t hlen, plen, siglen = 0, input_len, total, o;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(pkey == NULL || sts_keys_kid(keys) == NULL || !json_is_object(claims) ||
                    out == NULL,
                err, STS_E_INTERNAL, "sts_jwt_sign: bad arguments");
    STS_FAIL_IF(!sts_keys_has_private(keys), err, STS_E_INTERNAL,
                "sts_jwt_sign: a public key cannot sign");

    header = json_pack("{s:s, s:s}", "alg", is_ec ? "ES256" : "RS256", "kid", sts_keys_kid(keys));
    STS_FAIL_IF(header == NULL, err, STS_E_NOMEM, "out of memory");
    if (typ != NULL) {
        json_t *t = json_string(typ);
        STS_FAIL_IF(t == NULL, err, STS_E_INTERNAL, "typ is not valid UTF-8");
        STS_FAIL_IF(json_object_set_new(header, "typ", t) != 0, err, STS_E_NOMEM, "out of memory");
    }
    hjson = json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS);
    pjson = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    STS_FAIL_IF(hjson == NULL || pjson == NULL, err, STS_E_NOMEM, "cannot serialise the JWT");
    hlen = strlen(hjson);
    plen = strlen(pjson);
    /* never issue what we would refuse: bound before allocating */
    STS_FAIL_IF(hlen > STS_JWT_MAX_LEN || plen > STS_JWT_MAX_LEN, err, STS_E_INTERNAL,
                "JWT longer than %d bytes", STS_JWT_MAX_LEN);

    /* header.payload.signature; an RSA signature is exactly the modulus length */
    input_len = b64url_len(hlen) + 1 + b64url_len(plen);
    total = input_len + 1 + b64url_len(is_ec ? ES256_SIG : (size_t)EVP_PKEY_get_size(pkey));
    STS_FAIL_IF(total > STS_JWT_MAX_LEN, err, STS_E_INTERNAL, "JWT longer than %d bytes",
                STS_JWT_MAX_LEN);
    jwt = malloc(total + 1);
    STS_FAIL_IF(jwt == NULL, err, STS_E_NOMEM, "out of memory");
    o = b64url_encode((const unsigned char *)hjson, hlen, jwt);
    jwt[o++] = '.';
    o += b64url_encode((const unsigned char *)pjson, plen, jwt + o);

    STS_CHECK(sign_bytes(pkey, is_ec, (const unsigned char *)jwt, o, &sig, &siglen, err));
    jwt[o++] = '.';
    STS_FAIL_IF(o + b64url_len(siglen) > total, err, STS_E_CRYPTO,
                "unexpected signature length %zu", siglen);
    o += b64url_encode(sig, siglen, jwt + o);
    jwt[o] = '\0';

    sts_debug("JWT signed (%s, kid %s)", is_ec ? "ES256" : "RS256", sts_keys_kid(keys));
    *out = jwt;
    jwt = NULL;

cleanup:
    free(jwt);
    free(sig);
    free(hjson);
    free(pjson);
    json_decref(header);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* verify                                                                   */
/* ------------------------------------------------------------------------ */

/* Decode one segment; @what names it in the detail. */
static sts_errc_t decode_segment(const char *s, size_t n, const char *what, unsigned char **out,
                                 size_t *outlen, sts_err_t *err)
{
    switch (b64url_decode(s, n, out, outlen)) {
    case 0:
        return STS_OK;
    case -2:
        return STS_ERR(err, STS_E_NOMEM, "out of memory");
    default:
        return STS_ERR(err, STS_E_INVALID_TOKEN, "%s: not strict base64url", what);
    }
}

/* The key among @keys whose kid equals the header's "kid" string, or NULL. */
static sts_keys_t *find_key(sts_keys_t *const *keys, size_t nkeys, json_t *kid)
{
    const char *want = json_string_value(kid);
    size_t wlen = json_string_length(kid);

    for (size_t i = 0; i < nkeys; i++) {
        const char *have = sts_keys_kid(keys[i]);
        if (have != NULL && strlen(have) == wlen && memcmp(have, want, wlen) == 0)
            return keys[i];
    }
    return NULL;
}

sts_errc_t sts_jwt_verify(sts_keys_t *const *keys, size_t nkeys, const char *jwt, size_t len,
                          json_t **header_out, json_t **claims_out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_err_t local;
    const char *dot1, *dot2, *end;
    unsigned char *hraw = NULL, *praw = NULL, *sig = NULL;
    size_t hrawlen = 0, prawlen = 0, siglen = 0;
    json_t *header = NULL, *claims = NULL, *alg, *kid;
    sts_keys_t *key = NULL;
    int want_ec;
    char fp[13];

    sts_err_clear(&local);
    if (err == NULL)
        err = &local; /* the detail is logged below */
    if (header_out != NULL)
        *header_out = NULL;
    if (claims_out != NULL)
        *claims_out = NULL;
    STS_FAIL_IF(keys == NULL && nkeys > 0, err, STS_E_INTERNAL, "sts_jwt_verify: bad arguments");

    /* bounded before anything is decoded */
    STS_FAIL_IF(jwt == NULL || len == 0, err, STS_E_INVALID_TOKEN, "empty token");
    STS_FAIL_IF(len > STS_JWT_MAX_LEN, err, STS_E_INVALID_TOKEN, "token longer than %d bytes",
                STS_JWT_MAX_LEN);
    end = jwt + len;

    /* exactly three segments (a JWE has five; '.' is not in the alphabet) */
    dot1 = memchr(jwt, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    STS_FAIL_IF(dot2 == NULL, err, STS_E_INVALID_TOKEN, "not three segments (too few dots)");
    STS_FAIL_IF(memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL, err, STS_E_INVALID_TOKEN,
                "not three segments (too many dots)");
    STS_FAIL_IF(dot2 + 1 == end, err, STS_E_INVALID_TOKEN, "empty signature");

    STS_CHECK(decode_segment(jwt, (size_t)(dot1 - jwt), "header", &hraw, &hrawlen, err));
    STS_CHECK(decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &praw, &prawlen, err));
    STS_CHECK(decode_segment(dot2 + 1, (size_t)(end - dot2 - 1), "signature", &sig, &siglen, err));

    /* the header: what to verify with, from our allow-list and our keys only */
    STS_CHECK(parse_object(hraw, hrawlen, "header", &header, err));
    alg = json_object_get(header, "alg");
    STS_FAIL_IF(alg == NULL, err, STS_E_INVALID_TOKEN, "header: no alg");
    STS_FAIL_IF(!json_is_string(alg), err, STS_E_INVALID_TOKEN, "header: alg is not a string");
    if (strcmp(json_string_value(alg), "RS256") == 0)
        want_ec = 0;
    else if (strcmp(json_string_value(alg), "ES256") == 0)
        want_ec = 1;
    else
        STS_FAIL_IF(1, err, STS_E_INVALID_TOKEN, "header: alg not allowed (RS256, ES256 only)");
    for (size_t i = 0; i < sizeof(forbidden_header) / sizeof(forbidden_header[0]); i++)
        STS_FAIL_IF(json_object_get(header, forbidden_header[i]) != NULL, err, STS_E_INVALID_TOKEN,
                    "header: \"%s\" is not accepted", forbidden_header[i]);
    kid = json_object_get(header, "kid");
    STS_FAIL_IF(kid == NULL, err, STS_E_INVALID_TOKEN, "header: no kid");
    STS_FAIL_IF(!json_is_string(kid), err, STS_E_INVALID_TOKEN, "header: kid is not a string");
    key = find_key(keys, nkeys, kid);
    STS_FAIL_IF(key == NULL, err, STS_E_INVALID_TOKEN, "header: unknown kid");
    /* one algorithm per key (RFC 8725 3.1): the header may only name it */
    STS_FAIL_IF(want_ec != sts_keys_is_ec(key) || EVP_PKEY_get_base_id(sts_keys_pkey(key)) !=
                                                      (want_ec ? EVP_PKEY_EC : EVP_PKEY_RSA),
                err, STS_E_INVALID_TOKEN, "header: alg %s does not match the %s key of that kid",
                want_ec ? "ES256" : "RS256", sts_keys_is_ec(key) ? "EC" : "RSA");

    /* the signature over the segments exactly as received */
    STS_CHECK(verify_bytes(sts_keys_pkey(key), want_ec, (const unsigned char *)jwt,
                           (size_t)(dot2 - jwt), sig, siglen, err));

    /* only signed bytes reach the claims parser */
    STS_CHECK(parse_object(praw, prawlen, "payload", &claims, err));

    sts_debug("JWT %s verified (%s, kid %s)", sts_log_fp(jwt, len, fp), want_ec ? "ES256" : "RS256",
              sts_keys_kid(key));
    if (header_out != NULL) {
        *header_out = header;
        header = NULL;
    }
    if (claims_out != NULL) {
        *claims_out = claims;
        claims = NULL;
    }

cleanup:
    if (rc != STS_OK)
        sts_debug("JWT %s rejected: %s", jwt != NULL && len > 0 ? sts_log_fp(jwt, len, fp) : "-",
                  err->detail);
    json_decref(header);
    json_decref(claims);
    free(hraw);
    free(praw);
    free(sig);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* JWK                                                                      */
/* ------------------------------------------------------------------------ */

/* New base64url string of @bn, big-endian, left-padded to @pad bytes (0: minimal). */
static char *bn_b64url(const BIGNUM *bn, int pad)
{
    int n = pad > 0 ? pad : BN_num_bytes(bn);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    char *s = NULL;

    if (buf == NULL)
        return NULL;
    if (pad > 0 ? BN_bn2binpad(bn, buf, pad) == pad : BN_bn2bin(bn, buf) == n)
        s = b64url_new(buf, (size_t)n);
    free(buf);
    return s;
}

/* New standard base64 (RFC 4648 section 4, padded, no newlines) of the DER of @cert. */
static char *cert_b64(X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    char *s = NULL;

    if (n > 0) {
        s = malloc(4 * (((size_t)n + 2) / 3) + 1);
        if (s != NULL)
            EVP_EncodeBlock((unsigned char *)s, der, n);
    }
    OPENSSL_free(der);
    return s;
}

sts_errc_t sts_jwk_public(sts_keys_t *keys, json_t **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    EVP_PKEY *pkey = sts_keys_pkey(keys);
    int is_ec = sts_keys_is_ec(keys);
    BIGNUM *a = NULL, *b = NULL;
    char *a64 = NULL, *b64 = NULL, *x5c = NULL;
    json_t *jwk = NULL;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(pkey == NULL || sts_keys_cert(keys) == NULL || out == NULL, err, STS_E_INTERNAL,
                "sts_jwk_public: bad arguments");
    STS_FAIL_IF(EVP_PKEY_get_bn_param(
                    pkey, is_ec ? OSSL_PKEY_PARAM_EC_PUB_X : OSSL_PKEY_PARAM_RSA_N, &a) != 1 ||
                    EVP_PKEY_get_bn_param(
                        pkey, is_ec ? OSSL_PKEY_PARAM_EC_PUB_Y : OSSL_PKEY_PARAM_RSA_E, &b) != 1,
                err, STS_E_CRYPTO, "cannot read the public key parameters");
    a64 = bn_b64url(a, is_ec ? ES256_COORD : 0);
    b64 = bn_b64url(b, is_ec ? ES256_COORD : 0);
    x5c = cert_b64(sts_keys_cert(keys));
    STS_FAIL_IF(a64 == NULL || b64 == NULL || x5c == NULL, err, STS_E_NOMEM,
                "cannot encode the JWK");

    if (is_ec)
        jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}", "kty", "EC", "crv", "P-256",
                        "x", a64, "y", b64, "kid", sts_keys_kid(keys), "use", "sig", "alg", "ES256",
                        "x5c", x5c);
    else
        jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}", "kty", "RSA", "n", a64, "e", b64,
                        "kid", sts_keys_kid(keys), "use", "sig", "alg", "RS256", "x5c", x5c);
    STS_FAIL_IF(jwk == NULL, err, STS_E_NOMEM, "out of memory");
    *out = jwk;

cleanup:
    BN_free(a);
    BN_free(b);
    free(a64);
    free(b64);
    free(x5c);
    if (rc != STS_OK)
        ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* base64url for other modules (RFC 8693 sec. 3: SAML tokens on the wire)   */
/* ------------------------------------------------------------------------ */

char *sts_b64url_encode(const unsigned char *in, size_t n) { return b64url_new(in, n); }

char *sts_b64_encode(const unsigned char *in, size_t n)
{
    char *out = n <= 65536 ? malloc(4 * ((n + 2) / 3) + 1) : NULL;
    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

int sts_b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
    /* RFC 4648 sec. 5 allows padding; the strict decoder takes none. */
    size_t pad = 0;
    while (pad < 2 && n > pad && in[n - pad - 1] == '=')
        pad++;
    if (pad > 0 && (n % 4 != 0))
        return -1;
    return b64url_decode(in, n - pad, out, outlen);
}
