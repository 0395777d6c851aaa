/*
 * sts_replay.h - a replay cache for nonces (UsernameToken PasswordDigest).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Sharded hash set of SHA-256 keys with an expiry time each; expired entries
 * are purged incrementally in O(1) amortised per insert (per-shard FIFO), so
 * the cost per check stays flat at millions of entries. Thread-safe (one mutex
 * per shard). Bounded: when a shard is full, the check fails closed.
 */
#ifndef STS_REPLAY_H
#define STS_REPLAY_H

#include <stddef.h>
#include <time.h>

typedef struct sts_replay sts_replay_t;

/**
 * @brief New cache holding at most @max_entries live entries in total.
 * Returns NULL on allocation failure; free with sts_replay_free().
 */
sts_replay_t *sts_replay_new(size_t max_entries);
void sts_replay_free(sts_replay_t *rc);

typedef enum sts_replay_result {
    STS_REPLAY_FRESH = 0,   /* not seen before: now remembered until @expires */
    STS_REPLAY_SEEN = 1,    /* seen and not yet expired: a replay */
    STS_REPLAY_FULL = 2     /* no room (fail closed) */
} sts_replay_result_t;

/**
 * @brief Check-and-insert @key (any bytes; hashed internally) remembered until
 * @expires. @now is the current time (entries with expiry <= now are dead).
 */
sts_replay_result_t sts_replay_check(sts_replay_t *rc, const void *key, size_t keylen,
                                     time_t expires, time_t now);

/** @brief Live entries (approximate under concurrency). */
size_t sts_replay_size(sts_replay_t *rc);

#endif /* STS_REPLAY_H */
