/*
 * sts_credcache.c - a bounded, sharded cache of successful password checks.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See sts_credcache.h for what is kept and why. This file owns the slots, the
 * per-process HMAC key and the locks; it never sees whether a password is
 * right (the caller ran crypt(3)) and never logs.
 */
#include "sts_credcache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Shards: enough that the worker threads of one core pair seldom wait on each
 * other; a power of two so a key byte picks one without bias. */
#define CC_SHARDS 16u
#define CC_KEYLEN SHA256_DIGEST_LENGTH

typedef struct cc_entry {
    unsigned char id[CC_KEYLEN];      /* HMAC(realm, name, secret) */
    unsigned char hash_fp[CC_KEYLEN]; /* SHA-256 of the stored hash it passed against */
    time_t expires;
    int used;
} cc_entry_t;

typedef struct cc_shard {
    pthread_mutex_t mu;
    cc_entry_t *slots;
    unsigned long hits, misses;
} cc_shard_t;

struct sts_credcache {
    unsigned char key[CC_KEYLEN]; /* per process: entries mean nothing outside it */
    long ttl;
    size_t per_shard;
    cc_shard_t shards[CC_SHARDS];
};

sts_credcache_t *sts_credcache_new(size_t capacity, long ttl)
{
    sts_credcache_t *c;
    size_t i = 0;

    if (ttl <= 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ttl = ttl;
    c->per_shard = capacity / CC_SHARDS + 1;
    if (RAND_bytes(c->key, sizeof(c->key)) != 1)
        goto fail;
    for (i = 0; i < CC_SHARDS; i++) {
        c->shards[i].slots = calloc(c->per_shard, sizeof(cc_entry_t));
        if (c->shards[i].slots == NULL || pthread_mutex_init(&c->shards[i].mu, NULL) != 0) {
            free(c->shards[i].slots);
            goto fail;
        }
    }
    return c;
fail:
    while (i-- > 0) {
        pthread_mutex_destroy(&c->shards[i].mu);
        free(c->shards[i].slots);
    }
    OPENSSL_cleanse(c->key, sizeof(c->key));
    free(c);
    return NULL;
}

void sts_credcache_free(sts_credcache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < CC_SHARDS; i++) {
        OPENSSL_cleanse(c->shards[i].slots, c->per_shard * sizeof(cc_entry_t));
        free(c->shards[i].slots);
        pthread_mutex_destroy(&c->shards[i].mu);
    }
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

/* The shard and slot of @id: its bytes are uniformly random (HMAC output). */
static cc_shard_t *shard_of(sts_credcache_t *c, const unsigned char id[CC_KEYLEN],
                            cc_entry_t **slot)
{
    cc_shard_t *sh = &c->shards[id[0] % CC_SHARDS];
    uint32_t h = (uint32_t)id[1] << 24 | (uint32_t)id[2] << 16 | (uint32_t)id[3] << 8 | id[4];

    *slot = &sh->slots[h % c->per_shard];
    return sh;
}

int sts_credcache_hit(sts_credcache_t *c, sts_cred_realm_t realm, const char *name,
                      const char *secret, const char *hash, time_t now)
{
    unsigned char id[CC_KEYLEN], fp[CC_KEYLEN];
    cc_entry_t *e;
    cc_shard_t *sh;
    int hit = 0;

    if (c == NULL || name == NULL || secret == NULL || hash == NULL ||
        entry_id(c, realm, name, secret, id) != 0)
        return 0;
    SHA256((const unsigned char *)hash, strlen(hash), fp);
    sh = shard_of(c, id, &e);
    pthread_mutex_lock(&sh->mu);
    if (e->used && CRYPTO_memcmp(e->id, id, sizeof(id)) == 0) {
        /* Stale (expired, or the clock went back past its start) or checked
         * against a hash the account no longer has: forget it. */
        if (now >= e->expires || e->expires - now > c->ttl ||
            CRYPTO_memcmp(e->hash_fp, fp, sizeof(fp)) != 0)
            memset(e, 0, sizeof(*e));
        else
            hit = 1;
    }
    if (hit)
        sh->hits++;
    else
        sh->misses++;
    pthread_mutex_unlock(&sh->mu);
    OPENSSL_cleanse(id, sizeof(id));
    return hit;
}

void sts_credcache_put(sts_credcache_t *c, sts_cred_realm_t realm, const char *name,
                       const char *secret, const char *hash, time_t now)
{
    unsigned char id[CC_KEYLEN], fp[CC_KEYLEN];
    cc_entry_t *e;
    cc_shard_t *sh;

    if (c == NULL || name == NULL || secret == NULL || hash == NULL ||
        entry_id(c, realm, name, secret, id) != 0)
        return;
    SHA256((const unsigned char *)hash, strlen(hash), fp);
    sh = shard_of(c, id, &e);
    pthread_mutex_lock(&sh->mu);
    memcpy(e->id, id, sizeof(id));
    memcpy(e->hash_fp, fp, sizeof(fp));
    e->expires = now + c->ttl;
    e->used = 1;
    pthread_mutex_unlock(&sh->mu);
    OPENSSL_cleanse(id, sizeof(id));
}

void sts_credcache_stats(sts_credcache_t *c, sts_credcache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    for (size_t i = 0; i < CC_SHARDS; i++) {
        cc_shard_t *sh = &c->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->hits += sh->hits;
        out->misses += sh->misses;
        for (size_t j = 0; j < c->per_shard; j++)
            out->entries += sh->slots[j].used != 0;
        pthread_mutex_unlock(&sh->mu);
    }
}
