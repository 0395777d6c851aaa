/*
 * sts_replay.c - bounded replay cache: a sharded hash set of SHA-256 digests.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the digests of the keys it has seen and their expiry; never the keys.
 * It does NOT judge freshness of timestamps (the caller computes @expires and
 * rejects stale messages itself).
 *
 * Layout. The digest's first 4 bytes pick a shard, bytes 4..11 a bucket.
 * Each shard has its own mutex and a fixed pool of nodes allocated at
 * creation. The pool is a ring in insertion order: that ring IS the FIFO,
 * so the oldest insertion is always at ring[head]. Buckets hold chains of
 * pool indices (singly linked, stored as index + 1 so that 0 means "none" and
 * calloc'ed memory is a valid empty table). Buckets >= nodes, so chains are
 * O(1) long on average at any size; there is never a rehash.
 *
 * Purging. Each check first pops ring[head] while it is dead or expired
 * (O(1) amortised: each node is popped once). A node removed out of order
 * (a seen-but-expired key that is inserted again) is unlinked from its chain
 * and marked dead; its ring slot is reclaimed when it reaches the head. A
 * long-lived entry at the head stops the purge; if the shard then looks full,
 * one compaction sweep (O(shard size), at most once per second of @now per
 * shard) reclaims everything dead or expired before the check fails closed.
 */
#include "sts_replay.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX_SHARDS 64
/* Small caches get fewer shards so that their capacity is (nearly) exact. */
#define REPLAY_MIN_PER_SHARD 1024
#define REPLAY_DEAD INT64_MIN /* expiry of a node removed out of FIFO order */

typedef struct replay_node {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int64_t expires; /* REPLAY_DEAD: unlinked, waiting for the ring head */
    uint32_t next;   /* next node in the bucket chain, index + 1; 0 = end */
} replay_node_t;

typedef struct replay_shard {
    alignas(64) pthread_mutex_t mu; /* own cache line: no false sharing between shards */
    replay_node_t *nodes;           /* ring of cap nodes, insertion order */
    uint32_t *buckets;              /* nbuckets chain heads, index + 1; 0 = empty */
    uint32_t cap;
    uint32_t bucket_mask;           /* nbuckets - 1 (a power of two) */
    uint32_t head;                  /* ring index of the oldest node */
    uint32_t used;                  /* ring slots in use (live + dead + expired) */
    uint32_t live;                  /* nodes linked into a chain */
    int64_t last_compact;           /* @now of the last compaction sweep */
} replay_shard_t;

struct sts_replay {
    replay_shard_t *shards; /* aligned_alloc'ed array of nshards */
    uint32_t nshards;       /* a power of two */
    EVP_MD *sha256;         /* fetched once: SHA256() would fetch on every call (~3x slower) */
};

static uint32_t bucket_of(const replay_shard_t *sh, const unsigned char *d)
{
    uint64_t h;

    memcpy(&h, d + 4, sizeof(h));
    return (uint32_t)h & sh->bucket_mask;
}

static uint32_t shard_of(const sts_replay_t *rc, const unsigned char *d)
{
    uint32_t h;

    memcpy(&h, d, sizeof(h));
    return h & (rc->nshards - 1);
}

/* Unlink node @idx from its chain (it must be linked). */
static void chain_unlink(replay_shard_t *sh, uint32_t idx)
{
    uint32_t *link = &sh->buckets[bucket_of(sh, sh->nodes[idx].digest)];

    while (*link != idx + 1)
        link = &sh->nodes[*link - 1].next;
    *link = sh->nodes[idx].next;
    sh->nodes[idx].next = 0;
    sh->live--;
}

static void chain_link(replay_shard_t *sh, uint32_t idx)
{
    uint32_t *head = &sh->buckets[bucket_of(sh, sh->nodes[idx].digest)];

    sh->nodes[idx].next = *head;
    *head = idx + 1;
    sh->live++;
}

/* Pop dead or expired nodes off the FIFO head; stop at the first live one. */
static void purge_head(replay_shard_t *sh, int64_t now)
{
    while (sh->used > 0) {
        replay_node_t *n = &sh->nodes[sh->head];

        if (n->expires != REPLAY_DEAD) {
            if (n->expires > now)
                break;
            chain_unlink(sh, sh->head);
        }
        n->expires = REPLAY_DEAD;
        sh->head = sh->head + 1 == sh->cap ? 0 : sh->head + 1;
        sh->used--;
    }
}

/*
 * Full sweep: keep only live, unexpired nodes, packed from the ring head in
 * their FIFO order, and rebuild the chains. O(cap + nbuckets).
 */
static void compact(replay_shard_t *sh, int64_t now)
{
    uint32_t kept = 0;

    memset(sh->buckets, 0, ((size_t)sh->bucket_mask + 1) * sizeof(*sh->buckets));
    sh->live = 0;
    for (uint32_t i = 0; i < sh->used; i++) {
        uint32_t from = (uint32_t)(((uint64_t)sh->head + i) % sh->cap);
        uint32_t to = (uint32_t)(((uint64_t)sh->head + kept) % sh->cap);

        if (sh->nodes[from].expires == REPLAY_DEAD || sh->nodes[from].expires <= now)
            continue;
        if (to != from)
            sh->nodes[to] = sh->nodes[from];
        chain_link(sh, to);
        kept++;
    }
    sh->used = kept;
    sh->last_compact = now;
}

sts_replay_t *sts_replay_new(size_t max_entries)
{
    sts_replay_t *rc = NULL;
    uint32_t n = REPLAY_MAX_SHARDS;
    size_t base, rem;

    while (n > 1 && max_entries / n < REPLAY_MIN_PER_SHARD)
        n /= 2;
    base = max_entries / n;
    rem = max_entries % n;
    /* Indices are stored + 1 in 32 bits, and buckets are the next power of two. */
    if (base + 1 > (UINT32_C(1) << 31))
        return NULL;

    rc = calloc(1, sizeof(*rc));
    if (rc == NULL)
        return NULL;
    rc->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    rc->shards = aligned_alloc(alignof(replay_shard_t), n * sizeof(replay_shard_t));
    if (rc->sha256 == NULL || rc->shards == NULL) {
        sts_replay_free(rc);
        return NULL;
    }
    memset(rc->shards, 0, n * sizeof(replay_shard_t));
    for (uint32_t i = 0; i < n; i++) {
        replay_shard_t *sh = &rc->shards[i];
        uint32_t nb = 1;

        sh->cap = (uint32_t)(base + (i < rem ? 1 : 0));
        while (nb < sh->cap)
            nb <<= 1;
        sh->bucket_mask = nb - 1;
        sh->last_compact = INT64_MIN;
        /* calloc: untouched pages of a big cache stay unmapped until used. */
        sh->nodes = sh->cap ? calloc(sh->cap, sizeof(*sh->nodes)) : NULL;
        sh->buckets = calloc(nb, sizeof(*sh->buckets));
        if ((sh->cap && sh->nodes == NULL) || sh->buckets == NULL ||
            pthread_mutex_init(&sh->mu, NULL) != 0) {
            free(sh->nodes);
            free(sh->buckets);
            rc->nshards = i; /* free only the shards fully set up */
            sts_replay_free(rc);
            return NULL;
        }
        rc->nshards = i + 1;
    }
    return rc;
}

/* Not thread-safe: no check may be in flight. NULL is a no-op. */
void sts_replay_free(sts_replay_t *rc)
{
    if (rc == NULL)
        return;
    for (uint32_t i = 0; i < rc->nshards; i++) {
        pthread_mutex_destroy(&rc->shards[i].mu);
        free(rc->shards[i].nodes);
        free(rc->shards[i].buckets);
    }
    free(rc->shards);
    EVP_MD_free(rc->sha256);
    free(rc);
}

/* Thread-safe. Locks one shard for O(1) amortised work. */
sts_replay_result_t sts_replay_check(sts_replay_t *rc, const void *key, size_t keylen,
                                     time_t expires, time_t now)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    replay_shard_t *sh;
    sts_replay_result_t res = STS_REPLAY_FRESH;
    uint32_t idx;

    /* Fail closed on misuse: a NULL cache must not read as "never seen". */
    if (rc == NULL || (key == NULL && keylen > 0))
        return STS_REPLAY_FULL;
    if (!EVP_Digest(key != NULL ? key : (const void *)"", keylen, d, NULL, rc->sha256, NULL))
        return STS_REPLAY_FULL;
    sh = &rc->shards[shard_of(rc, d)];

    pthread_mutex_lock(&sh->mu);
    purge_head(sh, (int64_t)now);

    for (idx = sh->buckets[bucket_of(sh, d)]; idx != 0; idx = sh->nodes[idx - 1].next) {
        replay_node_t *n = &sh->nodes[idx - 1];

        if (memcmp(n->digest, d, sizeof(d)) != 0)
            continue;
        if (n->expires > (int64_t)now) {
            res = STS_REPLAY_SEEN;
            goto unlock;
        }
        /* Seen but expired, not at the FIFO head yet: retire it, insert afresh below. */
        chain_unlink(sh, idx - 1);
        n->expires = REPLAY_DEAD;
        break;
    }
    /* Already dead on arrival: not a replay, and nothing worth remembering. */
    if ((int64_t)expires <= (int64_t)now)
        goto unlock;
    if (sh->used == sh->cap && sh->cap > 0 && sh->last_compact != (int64_t)now)
        compact(sh, (int64_t)now);
    if (sh->used == sh->cap) {
        res = STS_REPLAY_FULL;
        goto unlock;
    }
    idx = (uint32_t)(((uint64_t)sh->head + sh->used) % sh->cap);
    memcpy(sh->nodes[idx].digest, d, sizeof(d));
    sh->nodes[idx].expires = (int64_t)expires;
    chain_link(sh, idx);
    sh->used++;

unlock:
    pthread_mutex_unlock(&sh->mu);
    return res;
}

/* Thread-safe; the sum is not a snapshot when checks run concurrently. */
size_t sts_replay_size(sts_replay_t *rc)
{
    size_t total = 0;

    if (rc == NULL)
        return 0;
    for (uint32_t i = 0; i < rc->nshards; i++) {
        pthread_mutex_lock(&rc->shards[i].mu);
        total += rc->shards[i].live;
        pthread_mutex_unlock(&rc->shards[i].mu);
    }
    return total;
}
