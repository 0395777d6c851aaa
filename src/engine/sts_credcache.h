/*
 * sts_credcache.h - remembers password checks that succeeded, for a short time.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A yescrypt check costs tens of milliseconds on purpose. A client that
 * authenticates on every request (UsernameToken, client_secret_basic) would
 * pay that each time; this cache lets a (name, secret) pair that passed the
 * check against a stored hash pass again until the TTL runs out, as long as
 * the stored hash is still the one it passed against.
 *
 * What it keeps per entry: HMAC-SHA256 under a per-process random key of
 * (realm, name, secret), a SHA-256 of the stored hash, and an expiry. Never
 * the secret, never an unkeyed hash of it. Only successes go in (the caller's
 * job: see sts_engine.c); a lookup that does not match is a miss, so the cache
 * can only ever answer "yes, as before" or "ask crypt(3)".
 *
 * Bounded: a fixed number of slots, allocated at creation; a new entry
 * replaces whatever held its slot. Thread-safe: the slots are split into
 * shards, each under its own mutex, so concurrent lookups rarely meet.
 */
#ifndef STS_CREDCACHE_H
#define STS_CREDCACHE_H

#include <stddef.h>
#include <time.h>

typedef struct sts_credcache sts_credcache_t;

/** Credential namespaces: a user and an OAuth client may share a name. */
typedef enum sts_cred_realm {
    STS_CRED_REALM_USER = 1,
    STS_CRED_REALM_CLIENT = 2
} sts_cred_realm_t;

/**
 * @brief A cache of @capacity entries (rounded up to a multiple of the shard
 * count) that each live @ttl seconds.
 * @return a new cache (free with sts_credcache_free()), or NULL when @ttl <= 0
 *         (disabled: every function below accepts NULL and then caches nothing)
 *         or on allocation or randomness failure (also: nothing is cached).
 */
sts_credcache_t *sts_credcache_new(size_t capacity, long ttl);
void sts_credcache_free(sts_credcache_t *cache);

/**
 * @brief Whether @secret for @name in @realm passed a check against @hash
 * less than the TTL ago (before @now). An entry for the same (realm, name,
 * secret) cached with a different @hash is dropped: the account changed.
 * All strings borrowed; NULL @hash is always a miss.
 */
int sts_credcache_hit(sts_credcache_t *cache, sts_cred_realm_t realm, const char *name,
                      const char *secret, const char *hash, time_t now);

/** @brief Remember that @secret for @name in @realm passed the check against
 *  @hash at @now. Call only after a successful check. */
void sts_credcache_put(sts_credcache_t *cache, sts_cred_realm_t realm, const char *name,
                       const char *secret, const char *hash, time_t now);

/** Counters since creation (tests, metrics). */
typedef struct sts_credcache_stats {
    unsigned long hits;
    unsigned long misses;
    unsigned long entries; /* live or expired entries still held */
} sts_credcache_stats_t;

void sts_credcache_stats(sts_credcache_t *cache, sts_credcache_stats_t *out);

#endif /* STS_CREDCACHE_H */
