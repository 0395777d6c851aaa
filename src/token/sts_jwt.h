/*
 * sts_jwt.h - compact JWS (RFC 7515) for JWTs (RFC 7519): sign, verify, JWK.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * DECISION: a small JOSE layer of our own on OpenSSL EVP + jansson rather than
 * libcjose (Debian has libcjose 0.6.2, which mod_auth_openidc uses). The STS
 * needs only compact JWS with RS256/ES256, the design card lists OpenSSL +
 * jansson, and an allow-list we own is easier to audit than a general
 * library's algorithm negotiation.
 *
 * Signing and verifying are by our own keys (sts_keys_t) only: the algorithm
 * follows from the key type (RSA -> RS256, EC P-256 -> ES256), never from the
 * token, and keys are never taken from a token header (jwk, jku, x5u, x5c).
 * This module does NOT check exp/nbf/iat, iss, aud or typ: that is policy and
 * belongs to the engine (with its clock skew). It never logs tokens.
 * All functions are thread-safe (no state; the EVP_PKEY is only read).
 */
#ifndef STS_JWT_H
#define STS_JWT_H

#include "sts_err.h"
#include "sts_keys.h"

#include <jansson.h>
#include <stddef.h>

/** Largest compact JWS accepted by sts_jwt_verify() or produced by sts_jwt_sign(). */
#define STS_JWT_MAX_LEN 16384
/** Deepest array/object nesting accepted in a header or claims set (RFC 8693
 * "act" chains nest one object per actor). */
#define STS_JWT_MAX_DEPTH 16

/**
 * @brief Sign @claims as a compact JWS by @keys.
 *
 * Header: {"alg":"RS256"|"ES256" (by key type),"kid":sts_keys_kid(keys),"typ":@typ}
 * (keys sorted; "typ" omitted when @typ is NULL). Payload: json_dumps(@claims,
 * JSON_COMPACT | JSON_SORT_KEYS). RS256 = RSASSA-PKCS1-v1_5 with SHA-256;
 * ES256 = ECDSA P-256 SHA-256 with the 64-byte R||S signature (RFC 7518 3.4).
 *
 * @param keys   signing key (borrowed).
 * @param typ    header "typ", e.g. "at+jwt" (RFC 9068) or "JWT"; borrowed; may be NULL.
 * @param claims a JSON object; borrowed (not stolen, not modified).
 * @param out    set on success only: a new NUL-terminated string; free with free().
 * @param err    may be NULL.
 * @return STS_OK; STS_E_INTERNAL (bad arguments, token longer than
 *         STS_JWT_MAX_LEN), STS_E_NOMEM or STS_E_CRYPTO.
 */
sts_errc_t sts_jwt_sign(sts_keys_t *keys, const char *typ, json_t *claims, char **out,
                        sts_err_t *err);

/**
 * @brief Verify a compact JWS against @keys and return its header and claims.
 *
 * Checks, in order (each failure says which in err->detail, for logs only):
 *  - 1..STS_JWT_MAX_LEN bytes, before any decoding;
 *  - exactly three segments of strict base64url (A-Z a-z 0-9 - _, no padding,
 *    no whitespace, zero trailing bits); the signature segment is not empty;
 *  - the header is a JSON object (no duplicate names, nesting <= STS_JWT_MAX_DEPTH);
 *  - "alg" is exactly "RS256" or "ES256";
 *  - none of "crit", "jku", "x5u", "jwk", "x5c", "b64" (RFC 7797), "enc", "zip";
 *  - "kid" is a string equal to the kid of one of @keys (an opaque map key:
 *    nothing is looked up anywhere else);
 *  - that key's type matches "alg" (RS256: RSA; ES256: EC P-256);
 *  - the signature: RS256 exactly the modulus length; ES256 exactly 64 bytes
 *    with 1 <= r, s < n, re-encoded as DER for OpenSSL; EVP_DigestVerify == 1;
 *  - then (signed bytes only) the payload is a JSON object like the header.
 *
 * @param keys      the trusted keys (array and keys borrowed); nkeys may be 0.
 * @param jwt       the token, @len bytes (need not be NUL-terminated); borrowed.
 * @param header_out set on success only (may be NULL): new reference; json_decref().
 * @param claims_out set on success only (may be NULL): new reference; json_decref().
 * @param err       may be NULL.
 * @return STS_OK only for a positive signature verdict (EVP_DigestVerify == 1);
 *         STS_E_INVALID_TOKEN for every rejection of the token; local failures
 *         that no token byte can cause keep their own codes (server errors):
 *         STS_E_NOMEM, STS_E_CRYPTO (OpenSSL cannot set up our key),
 *         STS_E_INTERNAL (@keys NULL with @nkeys > 0).
 */
sts_errc_t sts_jwt_verify(sts_keys_t *const *keys, size_t nkeys, const char *jwt, size_t len,
                          json_t **header_out, json_t **claims_out, sts_err_t *err);

/**
 * @brief The public JWK of @keys for a JWKS document (RFC 7517/7518).
 *
 * RSA: {"kty":"RSA","n","e"}; EC: {"kty":"EC","crv":"P-256","x","y"} (each
 * coordinate 32 bytes, left-padded); both base64url. Plus "kid", "use":"sig",
 * "alg" ("RS256"/"ES256") and "x5c": [standard base64 of the DER certificate].
 *
 * @param keys borrowed.
 * @param out  set on success only: a new JSON object; json_decref().
 * @param err  may be NULL.
 */
sts_errc_t sts_jwk_public(sts_keys_t *keys, json_t **out, sts_err_t *err);

/**
 * @brief base64url (RFC 4648 sec. 5) without padding of @n bytes: a new
 * NUL-terminated string (free()), or NULL when out of memory.
 */
char *sts_b64url_encode(const unsigned char *in, size_t n);

/**
 * @brief Standard base64 (RFC 4648 sec. 4) with padding of @n bytes (at most
 * 64 KiB): a new NUL-terminated string (free()), or NULL.
 */
char *sts_b64_encode(const unsigned char *in, size_t n);

/**
 * @brief Strict base64url decode of @n characters (the alphabet only, zero
 * unused bits; '=' padding accepted only when complete). *out is a new
 * buffer (free()) of *outlen bytes. Returns 0, -1 when malformed, -2 on OOM.
 */
int sts_b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen);

#endif /* STS_JWT_H */
