/*
 * test_vcache.c - the verified-token cache on its own: hits by exact digest,
 * expiry, copies that do not alias the cache, bounds. (test_engine.c checks
 * that the engine only puts fully verified tokens and still reads the store.)
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_test.h"
#include "sts_vcache.h"

#include <openssl/sha.h>
#include <string.h>

static void digest_of(const char *s, unsigned char md[STS_VCACHE_DIGEST])
{
    SHA256((const unsigned char *)s, strlen(s), md);
}

static sts_vcache_stats_t stats(sts_vcache_t *c)
{
    sts_vcache_stats_t s;
    sts_vcache_stats(c, &s);
    return s;
}

static void test_hit_miss_expiry(void)
{
    sts_vcache_t *c = sts_vcache_new(64);
    unsigned char a[STS_VCACHE_DIGEST], b[STS_VCACHE_DIGEST];
    json_t *hdr = json_pack("{s:s}", "typ", "at+jwt");
    json_t *cl = json_pack("{s:s, s:i}", "sub", "alice", "exp", 2000);
    json_t *h = NULL, *x = NULL;

    CHECK(c != NULL && hdr != NULL && cl != NULL);
    digest_of("token-a", a);
    digest_of("token-b", b);
    CHECK(!sts_vcache_get(c, a, 1000, &h, &x));
    sts_vcache_put(c, a, hdr, cl, 2000, 1000);
    CHECK(!sts_vcache_get(c, b, 1000, &h, &x)); /* other bytes */
    CHECK(h == NULL && x == NULL);
    CHECK(sts_vcache_get(c, a, 1999, &h, &x));
    CHECK(json_equal(h, hdr) && json_equal(x, cl));
    /* copies: changing what we got back does not change the cache */
    json_object_set_new(x, "sub", json_string("mallory"));
    json_decref(h);
    json_decref(x);
    CHECK(sts_vcache_get(c, a, 1999, &h, &x));
    CHECK(strcmp(json_string_value(json_object_get(x, "sub")), "alice") == 0);
    json_decref(h);
    json_decref(x);
    h = x = NULL;
    /* expires with the token, and is dropped */
    CHECK(!sts_vcache_get(c, a, 2000, &h, &x));
    CHECK(stats(c).entries == 0);
    /* an already expired token is never put */
    sts_vcache_put(c, a, hdr, cl, 2000, 2000);
    CHECK(stats(c).entries == 0);
    CHECK(stats(c).hits == 2 && stats(c).misses == 3);
    json_decref(hdr);
    json_decref(cl);
    sts_vcache_free(c);
}

static void test_bounded(void)
{
    sts_vcache_t *c = sts_vcache_new(64);
    unsigned char md[STS_VCACHE_DIGEST];
    json_t *hdr = json_object(), *cl = json_object(), *h, *x;
    char name[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "token-%d", i);
        digest_of(name, md);
        sts_vcache_put(c, md, hdr, cl, 2000, 1000);
    }
    CHECK(stats(c).entries <= 64 + 16 && stats(c).entries > 16);
    CHECK(sts_vcache_get(c, md, 1000, &h, &x)); /* the last one is there */
    json_decref(h);
    json_decref(x);
    json_decref(hdr);
    json_decref(cl);
    sts_vcache_free(c);
    sts_vcache_free(NULL);
    CHECK(!sts_vcache_get(NULL, md, 1000, &h, &x));
}

int main(void)
{
    test_hit_miss_expiry();
    test_bounded();
    return sts_test_summary();
}
