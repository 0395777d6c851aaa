/*
 * sts_vcache.c - a bounded, sharded cache of verified JWT headers and claims.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See sts_vcache.h for the rule that keeps it honest. This file owns the
 * slots and their JSON copies; it verifies nothing and logs nothing.
 */
#include "sts_vcache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VC_SHARDS 16u

typedef struct vc_entry {
    unsigned char digest[STS_VCACHE_DIGEST];
    json_t *header; /* owned; NULL: free slot */
    json_t *claims; /* owned */
    time_t expires;
} vc_entry_t;

typedef struct vc_shard {
    pthread_mutex_t mu;
    vc_entry_t *slots;
    unsigned long hits, misses;
} vc_shard_t;

struct sts_vcache {
    size_t per_shard;
    vc_shard_t shards[VC_SHARDS];
};

sts_vcache_t *sts_vcache_new(size_t capacity)
{
    sts_vcache_t *c = calloc(1, sizeof(*c));
    size_t i = 0;

    if (c == NULL)
        return NULL;
    c->per_shard = capacity / VC_SHARDS + 1;
    for (; i < VC_SHARDS; i++) {
        c->shards[i].slots = calloc(c->per_shard, sizeof(vc_entry_t));
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
    free(c);
    return NULL;
}

static void entry_clear(vc_entry_t *e)
{
    json_decref(e->header);
    json_decref(e->claims);
    memset(e, 0, sizeof(*e));
}

void sts_vcache_free(sts_vcache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < VC_SHARDS; i++) {
        for (size_t j = 0; j < c->per_shard; j++)
            entry_clear(&c->shards[i].slots[j]);
        free(c->shards[i].slots);
        pthread_mutex_destroy(&c->shards[i].mu);
    }
    free(c);
}

/* The shard and slot of @digest (SHA-256 output: uniform bytes). */
static vc_shard_t *shard_of(sts_vcache_t *c, const unsigned char *digest, vc_entry_t **slot)
{
    vc_shard_t *sh = &c->shards[digest[0] % VC_SHARDS];
    uint32_t h = (uint32_t)digest[1] << 24 | (uint32_t)digest[2] << 16 |
                 (uint32_t)digest[3] << 8 | digest[4];

    *slot = &sh->slots[h % c->per_shard];
    return sh;
}

int sts_vcache_get(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST], time_t now,
                   json_t **header, json_t **claims)
{
    vc_entry_t *e;
    vc_shard_t *sh;
    json_t *h = NULL, *cl = NULL;

    if (c == NULL)
        return 0;
    sh = shard_of(c, digest, &e);
    pthread_mutex_lock(&sh->mu);
    if (e->header != NULL && memcmp(e->digest, digest, STS_VCACHE_DIGEST) == 0) {
        if (now >= e->expires) {
            entry_clear(e); /* expired with its token */
        } else {
            /* Copies: the caller may keep and change them; ours stay as verified. */
            h = json_deep_copy(e->header);
            cl = json_deep_copy(e->claims);
        }
    }
    if (h != NULL && cl != NULL)
        sh->hits++;
    else
        sh->misses++;
    pthread_mutex_unlock(&sh->mu);
    if (h == NULL || cl == NULL) {
        json_decref(h);
        json_decref(cl);
        return 0;
    }
    *header = h;
    *claims = cl;
    return 1;
}

void sts_vcache_put(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST],
                    const json_t *header, const json_t *claims, time_t expires, time_t now)
{
    vc_entry_t *e, old;
    vc_shard_t *sh;
    json_t *h, *cl;

    if (c == NULL || expires <= now)
        return;
    h = json_deep_copy(header);
    cl = json_deep_copy(claims);
    if (h == NULL || cl == NULL) {
        json_decref(h);
        json_decref(cl);
        return;
    }
    sh = shard_of(c, digest, &e);
    pthread_mutex_lock(&sh->mu);
    old = *e; /* freed outside the lock */
    memcpy(e->digest, digest, STS_VCACHE_DIGEST);
    e->header = h;
    e->claims = cl;
    e->expires = expires;
    pthread_mutex_unlock(&sh->mu);
    entry_clear(&old);
}

void sts_vcache_stats(sts_vcache_t *c, sts_vcache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    for (size_t i = 0; i < VC_SHARDS; i++) {
        vc_shard_t *sh = &c->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->hits += sh->hits;
        out->misses += sh->misses;
        for (size_t j = 0; j < c->per_shard; j++)
            out->entries += sh->slots[j].header != NULL;
        pthread_mutex_unlock(&sh->mu);
    }
}
