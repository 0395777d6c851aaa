/*
 * sts_slots.h - a fixed table of entries, one slot per key, in locked shards.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The storage behind the engine's small caches (sts_credcache, sts_vcache):
 * a direct-mapped table whose slot is picked by a key that is already
 * uniformly random (an HMAC or SHA-256 output), split into shards with one
 * mutex each so that concurrent lookups rarely meet. A new entry simply
 * replaces whatever held its slot: bounded, no eviction list, no rehashing.
 *
 * The table knows nothing of what an entry holds: the caller's struct, of
 * the size given at creation, zeroed at first. It is read and written only
 * between sts_slots_lock() and sts_slots_unlock(); the caller decides what a
 * match is and keeps its entries' invariants.
 */
#ifndef STS_SLOTS_H
#define STS_SLOTS_H

#include <stddef.h>

typedef struct sts_slots sts_slots_t;

/* Bytes of a key that pick the slot; keys are at least this long. */
#define STS_SLOTS_KEY 5
/* Counters a caller may bump at unlock (hits and misses of up to two kinds). */
#define STS_SLOTS_COUNTERS 4

/**
 * @brief A table of about @capacity zeroed entries of @entry_size bytes each
 * (rounded up to a multiple of the shard count).
 * @return a new table (free with sts_slots_free()), or NULL on allocation failure.
 */
sts_slots_t *sts_slots_new(size_t capacity, size_t entry_size);

/** @brief Frees @t; @clear (may be NULL) is called on every entry first, to
 *  free or wipe what it holds. NULL @t is a no-op. Not thread-safe. */
void sts_slots_free(sts_slots_t *t, void (*clear)(void *entry));

/**
 * @brief Lock the shard of @key (STS_SLOTS_KEY uniformly random bytes or more)
 * and return its slot: borrowed, valid until sts_slots_unlock().
 */
void *sts_slots_lock(sts_slots_t *t, const unsigned char *key);

/** @brief Unlock the shard of @entry (from sts_slots_lock()), first adding 1
 *  to counter @counter (< STS_SLOTS_COUNTERS), or to none when it is -1. */
void sts_slots_unlock(sts_slots_t *t, void *entry, int counter);

/**
 * @brief The counters' sums into @counts, and in *@entries how many entries
 * @used (may be NULL: none) says are in use. Locks one shard at a time.
 */
void sts_slots_stats(sts_slots_t *t, int (*used)(const void *entry),
                     unsigned long counts[STS_SLOTS_COUNTERS], unsigned long *entries);

#endif /* STS_SLOTS_H */
