/*
 * sts_credcache.c - a bounded, sharded cache of successful password checks.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See sts_credcache.h for what is kept and why. This file owns the entries and
 * the per-process HMAC key (sts_slots.c the slots and their locks); it never
 * sees whether a password is right (the caller ran crypt(3)) and never logs.
 */
#include "sts_credcache.h"

#include "sts_slots.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CC_KEYLEN SHA256_DIGEST_LENGTH

/* Counters of the slot table. */
enum { CC_HITS, CC_MISSES };

typedef struct cc_entry {
    unsigned char id[CC_KEYLEN];      /* HMAC(realm, name, secret) */
    unsigned char hash_fp[CC_KEYLEN]; /* SHA-256 of the stored hash it passed against */
    time_t expires;
    int used;
} cc_entry_t;

struct sts_credcache {
    unsigned char key[CC_KEYLEN]; /* per process: entries mean nothing outside it */
    long ttl;
    sts_slots_t *slots; /* of cc_entry_t, by id */
};

sts_credcache_t *sts_credcache_new(size_t capacity, long ttl)
{
    sts_credcache_t *c;

    if (ttl <= 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ttl = ttl;
    if (RAND_bytes(c->key, sizeof(c->key)) != 1 ||
        (c->slots = sts_slots_new(capacity, sizeof(cc_entry_t))) == NULL) {
        OPENSSL_cleanse(c->key, sizeof(c->key));
        free(c);
        return NULL;
    }
    return c;
}

static void entry_wipe(void *entry) { OPENSSL_cleanse(entry, sizeof(cc_entry_t)); }

static int entry_used(const void *entry) { return ((const cc_entry_t *)entry)->used; }

void sts_credcache_free(sts_credcache_t *c)
{
    if (c == NULL)
        return;
    sts_slots_free(c->slots, entry_wipe);
    OPENSSL_cleanse(c->key, sizeof(c->key));
    free(c);
}

/* HMAC-SHA256(key, realm | len(name) as 4 bytes | name | secret): the length
 * keeps ("ab", "c") and ("a", "bc") apart. Returns 0, or -1 (no entry then). */
static int entry_id(const sts_credcache_t *c, sts_cred_realm_t realm, const char *name,
                    const char *secret, unsigned char id[CC_KEYLEN])
{
    size_t nlen = strlen(name), slen = strlen(secret), len = 5 + nlen + slen;
    unsigned char *buf;
    unsigned int idlen = 0;
    int rc = -1;

    if (nlen > UINT32_MAX || len < nlen || (buf = malloc(len)) == NULL)
        return -1;
    buf[0] = (unsigned char)realm;
    buf[1] = (unsigned char)(nlen >> 24);
    buf[2] = (unsigned char)(nlen >> 16);
    buf[3] = (unsigned char)(nlen >> 8);
    buf[4] = (unsigned char)nlen;
    memcpy(buf + 5, name, nlen);
    memcpy(buf + 5 + nlen, secret, slen);
    if (HMAC(EVP_sha256(), c->key, (int)sizeof(c->key), buf, len, id, &idlen) != NULL &&
        idlen == CC_KEYLEN)
        rc = 0;
    OPENSSL_cleanse(buf, len); /* it holds the secret */
    free(buf);
    return rc;
}

int sts_credcache_hit(sts_credcache_t *c, sts_cred_realm_t realm, const char *name,
                      const char *secret, const char *hash, time_t now)
{
    unsigned char id[CC_KEYLEN], fp[CC_KEYLEN];
    cc_entry_t *e;
    int hit = 0;

    if (c == NULL || name == NULL || secret == NULL || hash == NULL ||
        entry_id(c, realm, name, secret, id) != 0)
        return 0;
    SHA256((const unsigned char *)hash, strlen(hash), fp);
    e = sts_slots_lock(c->slots, id);
    if (e->used && CRYPTO_memcmp(e->id, id, sizeof(id)) == 0) {
        /* Stale (expired, or the clock went back past its start) or checked
         * against a hash the account no longer has: forget it. */
        if (now >= e->expires || e->expires - now > c->ttl ||
            CRYPTO_memcmp(e->hash_fp, fp, sizeof(fp)) != 0)
            memset(e, 0, sizeof(*e));
        else
            hit = 1;
    }
    sts_slots_unlock(c->slots, e, hit ? CC_HITS : CC_MISSES);
    OPENSSL_cleanse(id, sizeof(id));
    return hit;
}

void sts_credcache_put(sts_credcache_t *c, sts_cred_realm_t realm, const char *name,
                       const char *secret, const char *hash, time_t now)
{
    unsigned char id[CC_KEYLEN], fp[CC_KEYLEN];
    cc_entry_t *e;

    if (c == NULL || name == NULL || secret == NULL || hash == NULL ||
        entry_id(c, realm, name, secret, id) != 0)
        return;
    SHA256((const unsigned char *)hash, strlen(hash), fp);
    e = sts_slots_lock(c->slots, id);
    memcpy(e->id, id, sizeof(id));
    memcpy(e->hash_fp, fp, sizeof(fp));
    e->expires = now + c->ttl;
    e->used = 1;
    sts_slots_unlock(c->slots, e, -1);
    OPENSSL_cleanse(id, sizeof(id));
}

void sts_credcache_stats(sts_credcache_t *c, sts_credcache_stats_t *out)
{
    unsigned long counts[STS_SLOTS_COUNTERS];

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    sts_slots_stats(c->slots, entry_used, counts, &out->entries);
    out->hits = counts[CC_HITS];
    out->misses = counts[CC_MISSES];
}
