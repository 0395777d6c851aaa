/*
 * test_replay.c - unit tests of the replay cache (sts_replay).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * STS_REPLAY_BIG_N (default 1000000) sets the size of the rolling-expiry run;
 * lower it under valgrind.
 */
#include "sts_replay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_test.h"


/* A 16-byte key "nonce-XX" + 8 bytes of @i. */
static void key_of(uint64_t i, unsigned char k[16])
{
    memcpy(k, "nonce-XX", 8);
    memcpy(k + 8, &i, 8);
}

static sts_replay_result_t chk_i(sts_replay_t *rc, uint64_t i, time_t expires, time_t now)
{
    unsigned char k[16];

    key_of(i, k);
    return sts_replay_check(rc, k, sizeof(k), expires, now);
}

static sts_replay_result_t chk_s(sts_replay_t *rc, const char *s, time_t expires, time_t now)
{
    return sts_replay_check(rc, s, strlen(s), expires, now);
}

static void test_fresh_seen(void)
{
    sts_replay_t *rc = sts_replay_new(1000);

    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    CHECK(sts_replay_size(rc) == 0);
    CHECK(chk_s(rc, "n1", 160, 100) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "n1", 160, 100) == STS_REPLAY_SEEN);
    CHECK(chk_s(rc, "n1", 999, 159) == STS_REPLAY_SEEN); /* a later expiry changes nothing */
    CHECK(sts_replay_size(rc) == 1);
    sts_replay_free(rc);
    sts_replay_free(NULL);
}

static void test_expiry(void)
{
    sts_replay_t *rc = sts_replay_new(1000);

    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    /* At the FIFO head. */
    CHECK(chk_s(rc, "a", 110, 100) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "a", 120, 109) == STS_REPLAY_SEEN);
    CHECK(chk_s(rc, "a", 120, 110) == STS_REPLAY_FRESH); /* expiry <= now: dead */
    CHECK(chk_s(rc, "a", 120, 111) == STS_REPLAY_SEEN);  /* re-inserted until 120 */
    CHECK(chk_s(rc, "a", 130, 121) == STS_REPLAY_FRESH);
    CHECK(sts_replay_size(rc) == 1);

    /* Behind a long-lived head entry: found expired in its chain, retired, re-inserted. */
    CHECK(chk_s(rc, "blocker", 100000, 200) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "b", 210, 200) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "b", 300, 220) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "b", 300, 221) == STS_REPLAY_SEEN);
    CHECK(chk_s(rc, "blocker", 100000, 221) == STS_REPLAY_SEEN);

    /* Already expired on arrival: not a replay, not remembered. */
    CHECK(chk_s(rc, "late", 100, 500) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "late", 100, 500) == STS_REPLAY_FRESH);
    sts_replay_free(rc);
}

static void test_independent(void)
{
    sts_replay_t *rc = sts_replay_new(1000);

    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    CHECK(chk_s(rc, "a", 200, 100) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "b", 200, 100) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "ab", 200, 100) == STS_REPLAY_FRESH);
    CHECK(sts_replay_check(rc, "", 0, 200, 100) == STS_REPLAY_FRESH);
    CHECK(sts_replay_check(rc, "a", 1, 200, 100) == STS_REPLAY_SEEN);
    CHECK(chk_s(rc, "b", 200, 100) == STS_REPLAY_SEEN);
    CHECK(chk_s(rc, "ab", 200, 100) == STS_REPLAY_SEEN);
    CHECK(sts_replay_check(rc, NULL, 0, 200, 100) == STS_REPLAY_SEEN); /* the empty key */
    CHECK(chk_s(rc, "ba", 200, 100) == STS_REPLAY_FRESH);
    CHECK(sts_replay_size(rc) == 5);
    sts_replay_free(rc);
}

static void test_capacity(void)
{
    sts_replay_t *rc = sts_replay_new(100);
    int fresh = 0;

    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    for (uint64_t i = 0; i < 100; i++)
        fresh += chk_i(rc, i, 1000, 100) == STS_REPLAY_FRESH;
    CHECK(fresh == 100);
    CHECK(sts_replay_size(rc) == 100);
    CHECK(chk_i(rc, 100, 1000, 100) == STS_REPLAY_FULL);
    CHECK(chk_i(rc, 5, 1000, 100) == STS_REPLAY_SEEN); /* lookups still work when full */
    CHECK(chk_i(rc, 101, 1000, 101) == STS_REPLAY_FULL);
    /* Time passes: everything expires and there is room again. */
    CHECK(chk_i(rc, 100, 2000, 1000) == STS_REPLAY_FRESH);
    CHECK(chk_i(rc, 5, 2000, 1000) == STS_REPLAY_FRESH);
    CHECK(sts_replay_size(rc) == 2);
    sts_replay_free(rc);

    /* A long-lived entry at the FIFO head does not keep expired ones from being reclaimed. */
    rc = sts_replay_new(100);
    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    CHECK(chk_s(rc, "blocker", 1000000, 100) == STS_REPLAY_FRESH);
    fresh = 0;
    for (uint64_t i = 0; i < 99; i++)
        fresh += chk_i(rc, i, 110, 100) == STS_REPLAY_FRESH;
    CHECK(fresh == 99);
    CHECK(chk_i(rc, 500, 200, 105) == STS_REPLAY_FULL);
    CHECK(chk_i(rc, 500, 200, 120) == STS_REPLAY_FRESH);
    CHECK(chk_i(rc, 501, 200, 120) == STS_REPLAY_FRESH);
    CHECK(chk_s(rc, "blocker", 1000000, 120) == STS_REPLAY_SEEN);
    CHECK(chk_i(rc, 500, 200, 121) == STS_REPLAY_SEEN);
    CHECK(sts_replay_size(rc) == 3);
    sts_replay_free(rc);

    /* Sharded: the total never exceeds max_entries, and every shard fills up. */
    rc = sts_replay_new(65536);
    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    int full = 0;
    fresh = 0;
    for (uint64_t i = 0; i < 4 * 65536; i++) {
        sts_replay_result_t r = chk_i(rc, i, 1000, 100);
        fresh += r == STS_REPLAY_FRESH;
        full += r == STS_REPLAY_FULL;
    }
    CHECK(fresh == 65536);
    CHECK(full == 3 * 65536);
    CHECK(sts_replay_size(rc) == 65536);
    sts_replay_free(rc);

    /* Zero capacity: always full (fail closed), never "fresh". */
    rc = sts_replay_new(0);
    CHECK(rc != NULL);
    if (rc != NULL)
        CHECK(chk_s(rc, "x", 200, 100) == STS_REPLAY_FULL);
    sts_replay_free(rc);
    CHECK(sts_replay_check(NULL, "x", 1, 200, 100) == STS_REPLAY_FULL);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * N checks, 1000 per simulated second, each remembered for 500 s: about
 * 500k live entries in steady state, purged as they expire.
 */
static void test_rolling(void)
{
    const char *env = getenv("STS_REPLAY_BIG_N");
    uint64_t n = env ? strtoull(env, NULL, 10) : 1000000;
    uint64_t win;
    sts_replay_t *rc = sts_replay_new(1000000);
    double t0, t_first = 0, t_last = 0;
    int bad = 0, seen_ok = 0;

    if (n < 2000)
        n = 2000;
    win = n / 10 < 100000 ? n / 10 : 100000;
    CHECK(rc != NULL);
    if (rc == NULL)
        return;
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        time_t now = (time_t)(1000000 + i / 1000);

        if (i == win)
            t_first = now_ns() - t0;
        if (i == n - win)
            t0 = now_ns();
        bad += chk_i(rc, i, now + 500, now) != STS_REPLAY_FRESH;
    }
    t_last = now_ns() - t0;
    CHECK(bad == 0);
    /* Recent keys are replays; keys older than the window are fresh again. */
    time_t now = (time_t)(1000000 + (n - 1) / 1000);
    for (uint64_t i = n - 100; i < n; i++)
        seen_ok += chk_i(rc, i, now + 500, now) == STS_REPLAY_SEEN;
    CHECK(seen_ok == 100);
    if (n > 600000)
        CHECK(chk_i(rc, 0, now + 500, now) == STS_REPLAY_FRESH);
    size_t live = sts_replay_size(rc);
    CHECK(live <= (n < 502000 ? n : 502000) && live + 2000 >= (n < 500000 ? n : 500000));
    printf("replay: %llu checks; avg %.0f ns/check over the first %llu, %.0f ns/check over the "
           "last %llu; %zu live at the end\n",
           (unsigned long long)n, t_first / (double)win, (unsigned long long)win,
           t_last / (double)win, (unsigned long long)win, live);
    sts_replay_free(rc);
}

#define MT_THREADS 4
#define MT_KEYS 200000

struct mt_arg {
    sts_replay_t *rc;
    int t;
    atomic_int *fresh; /* per key: how many threads got FRESH */
    int full;
};

/* Thread t checks the keys of classes t and t+1 (mod 4): every key is checked by two threads. */
static void *mt_worker(void *p)
{
    struct mt_arg *a = p;

    for (uint64_t k = 0; k < MT_KEYS; k++) {
        int c = (int)(k % MT_THREADS);
        if (c != a->t && c != (a->t + 1) % MT_THREADS)
            continue;
        sts_replay_result_t r = chk_i(a->rc, k, 100000, 100);
        if (r == STS_REPLAY_FRESH)
            atomic_fetch_add(&a->fresh[k], 1);
        else if (r == STS_REPLAY_FULL)
            a->full++;
    }
    return NULL;
}

static void test_threads(void)
{
    sts_replay_t *rc = sts_replay_new(2 * MT_KEYS); /* shards fill unevenly */
    atomic_int *fresh = calloc(MT_KEYS, sizeof(*fresh));
    pthread_t th[MT_THREADS];
    struct mt_arg args[MT_THREADS];
    int once = 0, full = 0;

    CHECK(rc != NULL && fresh != NULL);
    if (rc == NULL || fresh == NULL)
        goto cleanup;
    for (int k = 0; k < MT_KEYS; k++)
        atomic_init(&fresh[k], 0);
    for (int t = 0; t < MT_THREADS; t++) {
        args[t] = (struct mt_arg){.rc = rc, .t = t, .fresh = fresh, .full = 0};
        CHECK(pthread_create(&th[t], NULL, mt_worker, &args[t]) == 0);
    }
    for (int t = 0; t < MT_THREADS; t++) {
        pthread_join(th[t], NULL);
        full += args[t].full;
    }
    for (int k = 0; k < MT_KEYS; k++)
        once += atomic_load(&fresh[k]) == 1;
    CHECK(full == 0);
    CHECK(once == MT_KEYS);
    CHECK(sts_replay_size(rc) == MT_KEYS);

cleanup:
    free(fresh);
    sts_replay_free(rc);
}

int main(void)
{
    test_fresh_seen();
    test_expiry();
    test_independent();
    test_capacity();
    test_rolling();
    test_threads();
    return sts_test_summary();
}
