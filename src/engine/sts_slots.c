/*
 * sts_slots.c - a direct-mapped table of fixed-size entries in locked shards.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See sts_slots.h. One allocation holds every entry; shard i owns the
 * per_shard entries from i * per_shard, so an entry's address says its shard.
 */
#include "sts_slots.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Enough that the worker threads of one core pair seldom wait on each other;
 * a power of two so that a key byte picks one without bias. */
#define SLOT_SHARDS 16u

typedef struct slot_shard {
    pthread_mutex_t mu;
    unsigned long counts[STS_SLOTS_COUNTERS];
} slot_shard_t;

struct sts_slots {
    unsigned char *entries; /* SLOT_SHARDS * per_shard entries */
    size_t entry_size;
    size_t per_shard;
    slot_shard_t shards[SLOT_SHARDS];
};

sts_slots_t *sts_slots_new(size_t capacity, size_t entry_size)
{
    sts_slots_t *t = calloc(1, sizeof(*t));
    size_t i = 0;

    if (t == NULL || entry_size == 0)
        goto fail;
    t->entry_size = entry_size;
    t->per_shard = capacity / SLOT_SHARDS + 1;
    t->entries = calloc(SLOT_SHARDS * t->per_shard, entry_size);
    if (t->entries == NULL)
        goto fail;
    for (; i < SLOT_SHARDS; i++)
        if (pthread_mutex_init(&t->shards[i].mu, NULL) != 0)
            goto fail;
    return t;
fail:
    while (i-- > 0)
        pthread_mutex_destroy(&t->shards[i].mu);
    if (t != NULL)
        free(t->entries);
    free(t);
    return NULL;
}

void sts_slots_free(sts_slots_t *t, void (*clear)(void *entry))
{
    if (t == NULL)
        return;
    for (size_t i = 0; clear != NULL && i < SLOT_SHARDS * t->per_shard; i++)
        clear(t->entries + i * t->entry_size);
    for (size_t i = 0; i < SLOT_SHARDS; i++)
        pthread_mutex_destroy(&t->shards[i].mu);
    free(t->entries);
    free(t);
}

void *sts_slots_lock(sts_slots_t *t, const unsigned char *key)
{
    size_t shard = key[0] % SLOT_SHARDS;
    uint32_t h = (uint32_t)key[1] << 24 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 8 | key[4];

    pthread_mutex_lock(&t->shards[shard].mu);
    return t->entries + (shard * t->per_shard + h % t->per_shard) * t->entry_size;
}

void sts_slots_unlock(sts_slots_t *t, void *entry, int counter)
{
    size_t index = (size_t)((unsigned char *)entry - t->entries) / t->entry_size;
    slot_shard_t *sh = &t->shards[index / t->per_shard];

    if (counter >= 0 && counter < (int)STS_SLOTS_COUNTERS)
        sh->counts[counter]++;
    pthread_mutex_unlock(&sh->mu);
}

void sts_slots_stats(sts_slots_t *t, int (*used)(const void *entry),
                     unsigned long counts[STS_SLOTS_COUNTERS], unsigned long *entries)
{
    memset(counts, 0, STS_SLOTS_COUNTERS * sizeof(counts[0]));
    *entries = 0;
    if (t == NULL)
        return;
    for (size_t i = 0; i < SLOT_SHARDS; i++) {
        slot_shard_t *sh = &t->shards[i];
        const unsigned char *first = t->entries + i * t->per_shard * t->entry_size;

        pthread_mutex_lock(&sh->mu);
        for (size_t k = 0; k < STS_SLOTS_COUNTERS; k++)
            counts[k] += sh->counts[k];
        for (size_t j = 0; used != NULL && j < t->per_shard; j++)
            *entries += used(first + j * t->entry_size) != 0;
        pthread_mutex_unlock(&sh->mu);
    }
}
