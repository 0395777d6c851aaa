/*
 * test_credcache.c - the cache of successful password checks, on its own:
 * hits, misses, TTL, a changed stored hash, bounds and the disabled cache.
 * (test_engine.c checks how the engine uses it.)
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_credcache.h"
#include "sts_test.h"

#include <stdio.h>
#include <string.h>

#define USER STS_CRED_REALM_USER
#define CLIENT STS_CRED_REALM_CLIENT

static const char H1[] = "$y$j9T$salt1$hash1";
static const char H2[] = "$y$j9T$salt2$hash2";

static sts_credcache_stats_t stats(sts_credcache_t *c)
{
    sts_credcache_stats_t s;
    sts_credcache_stats(c, &s);
    return s;
}

static void test_disabled(void)
{
    sts_credcache_stats_t s;

    CHECK(sts_credcache_new(64, 0) == NULL);
    CHECK(sts_credcache_new(64, -1) == NULL);
    /* NULL is the disabled cache: nothing is remembered, nothing crashes */
    sts_credcache_put(NULL, USER, "alice", "pw", H1, 1000);
    CHECK(!sts_credcache_hit(NULL, USER, "alice", "pw", H1, 1000));
    sts_credcache_stats(NULL, &s);
    CHECK(s.hits == 0 && s.misses == 0 && s.entries == 0);
    sts_credcache_free(NULL);
}

static void test_hit_and_miss(void)
{
    sts_credcache_t *c = sts_credcache_new(64, 60);

    CHECK(c != NULL);
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H1, 1000)); /* nothing yet */
    sts_credcache_put(c, USER, "alice", "pw", H1, 1000);
    CHECK(sts_credcache_hit(c, USER, "alice", "pw", H1, 1001));
    CHECK(sts_credcache_hit(c, USER, "alice", "pw", H1, 1059));
    /* anything else about the pair is a miss */
    CHECK(!sts_credcache_hit(c, USER, "alice", "pW", H1, 1001));
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw ", H1, 1001));
    CHECK(!sts_credcache_hit(c, USER, "alice", "", H1, 1001));
    CHECK(!sts_credcache_hit(c, USER, "Alice", "pw", H1, 1001));
    CHECK(!sts_credcache_hit(c, CLIENT, "alice", "pw", H1, 1001)); /* a client of that name */
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", NULL, 1001));
    CHECK(!sts_credcache_hit(c, USER, NULL, "pw", H1, 1001));
    CHECK(!sts_credcache_hit(c, USER, "alice", NULL, H1, 1001));
    /* misses never displaced the good entry */
    CHECK(sts_credcache_hit(c, USER, "alice", "pw", H1, 1002));
    CHECK(stats(c).hits == 3);
    CHECK(stats(c).entries == 1);
    sts_credcache_free(c);

    /* The name/secret boundary is part of the key. In a cache of its own: two
     * entries may share a slot (direct-mapped by a random HMAC key), and then
     * the newer replaces the older, which a test must not depend on. */
    c = sts_credcache_new(64, 60);
    CHECK(c != NULL);
    sts_credcache_put(c, USER, "ab", "c", H1, 1000);
    CHECK(!sts_credcache_hit(c, USER, "a", "bc", H1, 1001));
    CHECK(sts_credcache_hit(c, USER, "ab", "c", H1, 1001));
    CHECK(stats(c).hits == 1);
    CHECK(stats(c).entries == 1);
    sts_credcache_free(c);
}

static void test_ttl(void)
{
    sts_credcache_t *c = sts_credcache_new(64, 60);

    sts_credcache_put(c, USER, "alice", "pw", H1, 1000);
    CHECK(sts_credcache_hit(c, USER, "alice", "pw", H1, 1059));
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H1, 1060)); /* expired ... */
    CHECK(stats(c).entries == 0);                                 /* ... and dropped */
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H1, 1001));  /* gone for good */

    /* a clock that goes back does not stretch an entry past its TTL */
    sts_credcache_put(c, USER, "alice", "pw", H1, 2000);
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H1, 1990));
    CHECK(stats(c).entries == 0);
    sts_credcache_free(c);
}

static void test_hash_changed(void)
{
    sts_credcache_t *c = sts_credcache_new(64, 60);

    sts_credcache_put(c, USER, "alice", "pw", H1, 1000);
    /* the account now has another hash: the old check no longer counts */
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H2, 1001));
    CHECK(stats(c).entries == 0);
    /* and it was dropped, not just skipped: back to H1, still a miss */
    CHECK(!sts_credcache_hit(c, USER, "alice", "pw", H1, 1002));
    sts_credcache_put(c, USER, "alice", "pw", H2, 1003);
    CHECK(sts_credcache_hit(c, USER, "alice", "pw", H2, 1004));
    sts_credcache_free(c);
}

static void test_bounded(void)
{
    sts_credcache_t *c = sts_credcache_new(64, 60);
    char name[32];

    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        sts_credcache_put(c, USER, name, "pw", H1, 1000);
    }
    CHECK(stats(c).entries <= 64 + 16); /* capacity, rounded up per shard */
    CHECK(stats(c).entries > 16);
    /* the last one in is there */
    CHECK(sts_credcache_hit(c, USER, "user9999", "pw", H1, 1001));
    sts_credcache_free(c);
}

int main(void)
{
    test_disabled();
    test_hit_and_miss();
    test_ttl();
    test_hash_changed();
    test_bounded();
    return sts_test_summary();
}
