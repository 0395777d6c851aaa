/*
 * sts_vcache.h - tokens whose signature has been verified, until they expire.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Validation and introspection of the same token over and over would verify
 * the same signature each time (an ES256 verify alone costs more than the
 * rest of an introspection; a SAML verify adds two canonicalisations and an
 * xmlsec context). This cache remembers, by a 32-byte digest of exactly what
 * was verified, what a full, successful read produced: for a JWT its header
 * and claims, for a SAML assertion its version and the facts the verifier
 * read (sts_saml_info_t). The signature check, and for SAML the structure
 * checks of the verifier, can then be skipped for those very bytes until the
 * token expires. Only that: everything that depends on the request or on
 * state (declared type, store row and its revocation state, time window) is
 * still checked on every use by the caller.
 *
 * It cannot be poisoned as long as the caller follows the one rule: put only
 * after the token passed every check (signature by our key, our issuer, and a
 * store row of the right kind), under a digest of everything the verdict
 * depended on (sts_tokens.c says what that is for each form of token). A
 * lookup needs the same digest, i.e. the same bytes; different bytes (a
 * forged or re-encoded signature) are a miss and go through the full check.
 * JWT and SAML entries never answer for each other.
 *
 * Bounded (fixed slots, a new entry replaces its slot's), sharded locks.
 */
#ifndef STS_VCACHE_H
#define STS_VCACHE_H

#include "sts_saml.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

typedef struct sts_vcache sts_vcache_t;

#define STS_VCACHE_DIGEST 32 /* SHA-256 */

/** @brief A cache of about @capacity entries; NULL on allocation failure
 *  (every function below accepts NULL and then caches nothing). */
sts_vcache_t *sts_vcache_new(size_t capacity);
void sts_vcache_free(sts_vcache_t *cache);

/**
 * @brief The verified header and claims of the JWT whose SHA-256 is
 * @digest, if cached and @now < its expiry.
 * @param header, claims set on a hit only: new deep copies (json_decref()).
 * @return 1 on a hit, 0 otherwise.
 */
int sts_vcache_get(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                   time_t now, json_t **header, json_t **claims);

/** @brief Remember @header and @claims (copied) of a fully verified JWT
 *  until @expires. Nothing is cached when @expires <= @now. */
void sts_vcache_put(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                    const json_t *header, const json_t *claims, time_t expires, time_t now);

/**
 * @brief What the verifier read from the SAML assertion whose digest is
 * @digest, if cached and @now < its NotOnOrAfter.
 * @param kind set on a hit only: the version it was verified as (STS_KIND_*).
 * @param info set on a hit only: a new copy (sts_saml_info_free()).
 * @return 1 on a hit, 0 otherwise.
 */
int sts_vcache_get_saml(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                        time_t now, int *kind, sts_saml_info_t **info);

/** @brief Remember @info (copied) of a fully verified assertion of version
 *  @kind until its NotOnOrAfter. Nothing is cached when that is absent or
 *  not after @now. */
void sts_vcache_put_saml(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                         int kind, const sts_saml_info_t *info, time_t now);

typedef struct sts_vcache_stats {
    unsigned long hits;        /* JWTs */
    unsigned long misses;
    unsigned long saml_hits;   /* SAML assertions */
    unsigned long saml_misses;
    unsigned long entries;     /* both */
} sts_vcache_stats_t;

void sts_vcache_stats(sts_vcache_t *cache, sts_vcache_stats_t *out);

#endif /* STS_VCACHE_H */
