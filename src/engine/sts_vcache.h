/*
 * sts_vcache.h - JWTs whose signature has been verified, until they expire.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Validation and introspection of the same token over and over would verify
 * the same signature each time (an ES256 verify alone costs more than the
 * rest of an introspection). This cache remembers, by SHA-256 of the exact
 * token bytes, the header and claims that a full, successful read produced,
 * so that the signature check can be skipped for those very bytes until the
 * token's "exp". Only the signature check: everything that depends on the
 * request or on state (declared type, store row and its revocation state,
 * time window) is still checked on every use by the caller.
 *
 * It cannot be poisoned as long as the caller follows the one rule: put only
 * after the token passed every check (signature by our key, our issuer, and a
 * store row whose hash is these bytes). A lookup needs the same 32-byte
 * digest, i.e. the same bytes; different bytes (a forged or re-encoded
 * signature) are a miss and go through the full check.
 *
 * Bounded (fixed slots, a new entry replaces its slot's), sharded locks.
 */
#ifndef STS_VCACHE_H
#define STS_VCACHE_H

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
 * @brief The verified header and claims of the token whose SHA-256 is
 * @digest, if cached and @now < its expiry.
 * @param header, claims set on a hit only: new deep copies (json_decref()).
 * @return 1 on a hit, 0 otherwise.
 */
int sts_vcache_get(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                   time_t now, json_t **header, json_t **claims);

/** @brief Remember @header and @claims (copied) of a fully verified token
 *  until @expires. Nothing is cached when @expires <= @now. */
void sts_vcache_put(sts_vcache_t *cache, const unsigned char digest[STS_VCACHE_DIGEST],
                    const json_t *header, const json_t *claims, time_t expires, time_t now);

typedef struct sts_vcache_stats {
    unsigned long hits;
    unsigned long misses;
    unsigned long entries;
} sts_vcache_stats_t;

void sts_vcache_stats(sts_vcache_t *cache, sts_vcache_stats_t *out);

#endif /* STS_VCACHE_H */
