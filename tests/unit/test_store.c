/*
 * test_store.c - unit tests of the SQLite token store (sts_store).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every test works in its own mkdtemp() directory, removed at the end.
 */
#include "sts_store.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_test.h"


/* NULL-safe string equality. */
static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* rm -r of the one-level test directory tree (files and one level of subdirs). */
static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[4096];
    struct stat sb;

    if (d == NULL) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static void make_tmp(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");

    snprintf(buf, len, "%s/sts_store_XXXXXX", base ? base : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

/* A record on the caller's stack; strings are borrowed literals. */
static sts_token_rec_t rec_make(const char *id, const char *subject)
{
    sts_token_rec_t r;

    memset(&r, 0, sizeof(r));
    r.id = (char *)id;
    r.kind = STS_KIND_SAML2;
    r.subject = (char *)subject;
    r.issued_at = 1700000000;
    r.expires_at = 1700003600;
    r.state = STS_TOKEN_ACTIVE;
    r.requester_kind = STS_REQUESTER_USER;
    for (size_t i = 0; i < sizeof(r.hash); i++)
        r.hash[i] = (unsigned char)(i * 7 + (unsigned char)id[0]);
    return r;
}

static long count_of(sts_store_t *s)
{
    long n = -1;

    if (sts_store_count(s, &n, NULL) != STS_OK)
        return -1;
    return n;
}

static int state_of(sts_store_t *s, const char *id)
{
    sts_token_rec_t *r = NULL;
    int st = -1;

    if (sts_store_get(s, id, &r, NULL) == STS_OK && r != NULL)
        st = r->state;
    sts_token_rec_free(r);
    return st;
}

/* Full record equality (every field). */
static int rec_eq(const sts_token_rec_t *a, const sts_token_rec_t *b)
{
    return str_eq(a->id, b->id) && a->kind == b->kind && str_eq(a->subject, b->subject) &&
           str_eq(a->audience, b->audience) && str_eq(a->requester, b->requester) &&
           a->issued_at == b->issued_at && a->expires_at == b->expires_at &&
           a->state == b->state && str_eq(a->replaces, b->replaces) &&
           str_eq(a->replaced_by, b->replaced_by) && a->requester_kind == b->requester_kind &&
           str_eq(a->parent, b->parent) && str_eq(a->subject_issuer, b->subject_issuer) &&
           a->bound == b->bound && memcmp(a->hash, b->hash, sizeof(a->hash)) == 0;
}

/* Open a second, raw connection and ask for one text value. */
static int sql_text(const char *dir, const char *sql, char *out, size_t outlen)
{
    char file[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;

    snprintf(file, sizeof(file), "%s/tokens.db", dir);
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
        ok = 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static void test_open_and_schema(const char *tmp)
{
    char dir[4096], file[4200], buf[64];
    sts_store_t *s = NULL;
    sts_err_t err;
    struct stat sb;

    snprintf(dir, sizeof(dir), "%s/a/b", tmp); /* two missing levels */
    CHECK(sts_store_open(dir, &s, &err) == STS_OK);
    CHECK(s != NULL);
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
    snprintf(file, sizeof(file), "%s/tokens.db", dir);
    CHECK(stat(file, &sb) == 0 && (sb.st_mode & 0077) == 0);
    CHECK(count_of(s) == 0);

    CHECK(sql_text(dir, "PRAGMA journal_mode", buf, sizeof(buf)) && strcmp(buf, "wal") == 0);
    CHECK(sql_text(dir, "SELECT max(version) FROM schema_version", buf, sizeof(buf)) &&
          strcmp(buf, "4") == 0);
    CHECK(sql_text(dir, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                        "tbl_name='tokens' AND sql LIKE '%expires_at%'",
                   buf, sizeof(buf)) &&
          strcmp(buf, "1") == 0);
    sts_store_close(s);
    sts_store_close(NULL);

    /* A file where the directory should be: a clean error, no store. */
    snprintf(dir, sizeof(dir), "%s/a/b/tokens.db", tmp);
    s = (sts_store_t *)&sb;
    CHECK(sts_store_open(dir, &s, &err) == STS_E_BACKEND);
    CHECK(s == NULL);
}

static void test_round_trip(sts_store_t *s)
{
    sts_token_rec_t in = rec_make("id-rt-1", "alice");
    sts_token_rec_t *out = NULL;

    in.kind = STS_KIND_JWT;
    in.audience = "https://rp.example/";
    in.requester = "client-7";
    in.requester_kind = STS_REQUESTER_CLIENT;
    in.parent = "id-refresh-1";
    in.subject_issuer = "https://idp.example/";
    in.bound = 1700009999;
    in.issued_at = 1234567890;
    in.expires_at = (time_t)4102444800LL; /* past 2038: needs 64 bits */
    in.replaces = "id-older";
    CHECK(sts_store_insert(s, &in, NULL) == STS_OK);
    CHECK(sts_store_get(s, "id-rt-1", &out, NULL) == STS_OK);
    CHECK(out != NULL);
    if (out != NULL) {
        CHECK(rec_eq(&in, out));
        CHECK(out->id != in.id && out->subject != in.subject); /* deep copy */
    }
    sts_token_rec_free(out);
    out = NULL;

    /* Optional fields absent: NULL back, not "". */
    in = rec_make("id-rt-2", "bob");
    in.kind = STS_KIND_SAML11;
    CHECK(sts_store_insert(s, &in, NULL) == STS_OK);
    CHECK(sts_store_get(s, "id-rt-2", &out, NULL) == STS_OK);
    CHECK(out != NULL && rec_eq(&in, out) && out->audience == NULL && out->requester == NULL &&
          out->replaces == NULL && out->replaced_by == NULL);
    sts_token_rec_free(out);
    sts_token_rec_free(NULL);

    /* Unknown id: STS_OK and NULL. */
    out = &in;
    CHECK(sts_store_get(s, "no-such-id", &out, NULL) == STS_OK);
    CHECK(out == NULL);

    /* A new row must be a new token: ACTIVE, not yet replaced. */
    in = rec_make("id-rt-3", "carol");
    in.state = STS_TOKEN_CANCELLED;
    CHECK(sts_store_insert(s, &in, NULL) == STS_E_INTERNAL);
    CHECK(state_of(s, "id-rt-3") == -1);
}

static void test_duplicate(sts_store_t *s)
{
    sts_token_rec_t in = rec_make("id-dup", "dave");
    sts_err_t err;
    long before;

    CHECK(sts_store_insert(s, &in, NULL) == STS_OK);
    before = count_of(s);
    in.subject = "mallory";
    memset(&err, 0, sizeof(err));
    CHECK(sts_store_insert(s, &in, &err) == STS_E_BACKEND);
    CHECK(err.code == STS_E_BACKEND && err.detail[0] != '\0');
    CHECK(count_of(s) == before);
    /* The first row is untouched. */
    sts_token_rec_t *out = NULL;
    CHECK(sts_store_get(s, "id-dup", &out, NULL) == STS_OK && out != NULL &&
          str_eq(out->subject, "dave"));
    sts_token_rec_free(out);
}

static void test_cancel(sts_store_t *s)
{
    sts_token_rec_t in = rec_make("id-cx", "erin");
    int changed = -1;

    CHECK(sts_store_insert(s, &in, NULL) == STS_OK);
    CHECK(sts_store_cancel(s, "id-cx", &changed, NULL) == STS_OK);
    CHECK(changed == 1);
    CHECK(state_of(s, "id-cx") == STS_TOKEN_CANCELLED);
    changed = -1;
    CHECK(sts_store_cancel(s, "id-cx", &changed, NULL) == STS_OK);
    CHECK(changed == 0);
    CHECK(state_of(s, "id-cx") == STS_TOKEN_CANCELLED);
    changed = -1;
    CHECK(sts_store_cancel(s, "id-unknown", &changed, NULL) == STS_E_INVALID_TOKEN);
    CHECK(changed == 0);
}

static void test_renew(sts_store_t *s)
{
    sts_token_rec_t old = rec_make("id-r-old", "frank");
    sts_token_rec_t nw = rec_make("id-r-new", "frank");
    sts_token_rec_t *a = NULL, *b = NULL;
    sts_err_t err;
    long n;
    int changed;

    old.audience = "aud";
    CHECK(sts_store_insert(s, &old, NULL) == STS_OK);
    n = count_of(s);
    nw.replaces = "id-r-old";
    nw.issued_at = old.issued_at + 100;
    CHECK(sts_store_renew(s, "id-r-old", &nw, NULL) == STS_OK);
    CHECK(count_of(s) == n + 1);
    CHECK(sts_store_get(s, "id-r-old", &a, NULL) == STS_OK && a != NULL);
    CHECK(sts_store_get(s, "id-r-new", &b, NULL) == STS_OK && b != NULL);
    if (a != NULL && b != NULL) {
        CHECK(a->state == STS_TOKEN_RENEWED);
        CHECK(str_eq(a->replaced_by, "id-r-new"));
        CHECK(str_eq(a->audience, "aud"));
        CHECK(b->state == STS_TOKEN_ACTIVE);
        CHECK(str_eq(b->replaces, "id-r-old"));
        CHECK(b->replaced_by == NULL);
        CHECK(rec_eq(&nw, b));
    }
    sts_token_rec_free(a);
    sts_token_rec_free(b);
    n = count_of(s);

    /* Renewing the RENEWED one again fails and inserts nothing. */
    nw = rec_make("id-r-new2", "frank");
    nw.replaces = "id-r-old";
    memset(&err, 0, sizeof(err));
    CHECK(sts_store_renew(s, "id-r-old", &nw, &err) == STS_E_UNABLE_TO_RENEW);
    CHECK(err.code == STS_E_UNABLE_TO_RENEW);
    CHECK(count_of(s) == n);
    CHECK(state_of(s, "id-r-new2") == -1);

    /* replaces left NULL: the store fills it in. */
    nw = rec_make("id-r-new3", "frank");
    CHECK(sts_store_renew(s, "id-r-new", &nw, NULL) == STS_OK);
    CHECK(sts_store_get(s, "id-r-new3", &b, NULL) == STS_OK && b != NULL &&
          str_eq(b->replaces, "id-r-new"));
    sts_token_rec_free(b);
    b = NULL;
    n = count_of(s);

    /* A CANCELLED token cannot be renewed. */
    CHECK(sts_store_cancel(s, "id-r-new3", &changed, NULL) == STS_OK && changed == 1);
    nw = rec_make("id-r-new4", "frank");
    CHECK(sts_store_renew(s, "id-r-new3", &nw, NULL) == STS_E_UNABLE_TO_RENEW);
    CHECK(count_of(s) == n);
    CHECK(state_of(s, "id-r-new4") == -1);

    /* Unknown old id. */
    CHECK(sts_store_renew(s, "id-r-nothing", &nw, NULL) == STS_E_UNABLE_TO_RENEW);
    CHECK(count_of(s) == n);

    /* Cancelling a RENEWED token is a change. */
    CHECK(sts_store_cancel(s, "id-r-old", &changed, NULL) == STS_OK && changed == 1);
    CHECK(state_of(s, "id-r-old") == STS_TOKEN_CANCELLED);

    /* The insert half fails (duplicate new id): the update half is rolled back. */
    old = rec_make("id-r-rb", "grace");
    CHECK(sts_store_insert(s, &old, NULL) == STS_OK);
    n = count_of(s);
    nw = rec_make("id-dup", "grace"); /* exists already (test_duplicate) */
    CHECK(sts_store_renew(s, "id-r-rb", &nw, NULL) == STS_E_BACKEND);
    CHECK(count_of(s) == n);
    CHECK(sts_store_get(s, "id-r-rb", &a, NULL) == STS_OK && a != NULL &&
          a->state == STS_TOKEN_ACTIVE && a->replaced_by == NULL);
    sts_token_rec_free(a);
    a = NULL;

    /* A new row claiming to replace another token is a caller bug. */
    nw = rec_make("id-r-new5", "grace");
    nw.replaces = "someone-else";
    CHECK(sts_store_renew(s, "id-r-rb", &nw, NULL) == STS_E_INTERNAL);
    CHECK(state_of(s, "id-r-rb") == STS_TOKEN_ACTIVE);
    CHECK(count_of(s) == n);

    /* And the store still works after the rollbacks. */
    nw = rec_make("id-r-new6", "grace");
    CHECK(sts_store_renew(s, "id-r-rb", &nw, NULL) == STS_OK);
    CHECK(state_of(s, "id-r-rb") == STS_TOKEN_RENEWED);
    CHECK(count_of(s) == n + 1);
}

/* Close and reopen: everything written before is still there. */
static void test_reopen(const char *dir, sts_store_t **sp)
{
    sts_token_rec_t *a = NULL;
    long before = count_of(*sp);

    sts_store_close(*sp);
    *sp = NULL;
    CHECK(sts_store_open(dir, sp, NULL) == STS_OK);
    if (*sp == NULL)
        return;
    CHECK(count_of(*sp) == before);
    CHECK(sts_store_get(*sp, "id-rt-1", &a, NULL) == STS_OK && a != NULL);
    if (a != NULL) {
        sts_token_rec_t in = rec_make("id-rt-1", "alice");
        in.kind = STS_KIND_JWT;
        in.audience = "https://rp.example/";
        in.requester = "client-7";
        in.issued_at = 1234567890;
        in.expires_at = (time_t)4102444800LL;
        in.replaces = "id-older";
        in.requester_kind = STS_REQUESTER_CLIENT;
        in.parent = "id-refresh-1";
        in.subject_issuer = "https://idp.example/";
        in.bound = 1700009999;
        CHECK(rec_eq(&in, a));
    }
    sts_token_rec_free(a);
    CHECK(state_of(*sp, "id-r-old") == STS_TOKEN_CANCELLED);
    CHECK(state_of(*sp, "id-r-rb") == STS_TOKEN_RENEWED);
    CHECK(state_of(*sp, "id-cx") == STS_TOKEN_CANCELLED);
}

#define N_THREADS 4
#define N_PER_THREAD 500

struct worker {
    sts_store_t *s;
    int t;
    int ok; /* inserts and read-backs that succeeded */
};

static void *insert_worker(void *arg)
{
    struct worker *w = arg;
    char id[64];

    for (int i = 0; i < N_PER_THREAD; i++) {
        sts_token_rec_t r;
        sts_token_rec_t *back = NULL;

        snprintf(id, sizeof(id), "t%d-%04d", w->t, i);
        r = rec_make(id, "worker");
        if (sts_store_insert(w->s, &r, NULL) == STS_OK &&
            sts_store_get(w->s, id, &back, NULL) == STS_OK && back != NULL &&
            str_eq(back->id, id))
            w->ok++;
        sts_token_rec_free(back);
    }
    return NULL;
}

static void test_concurrent(const char *tmp)
{
    char dir[4096];
    sts_store_t *s = NULL;
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    int total = 0;

    snprintf(dir, sizeof(dir), "%s/mt", tmp);
    CHECK(sts_store_open(dir, &s, NULL) == STS_OK);
    if (s == NULL)
        return;
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.s = s, .t = i, .ok = 0};
        CHECK(pthread_create(&th[i], NULL, insert_worker, &w[i]) == 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].ok;
    }
    CHECK(total == N_THREADS * N_PER_THREAD);
    CHECK(count_of(s) == N_THREADS * N_PER_THREAD);
    /* that many random ids grew the WAL past the threshold: the background
     * checkpointer ran (SQLite's automatic one inside a commit is off) */
    {
        unsigned long tx = 0, wr = 0, ck = 0;
        for (int i = 0; i < 200 && ck == 0; i++) {
            sts_store_counters(s, &tx, &wr, &ck);
            if (ck == 0)
                usleep(10000);
        }
        CHECK(ck > 0);
        CHECK(wr == N_THREADS * N_PER_THREAD);
    }
    sts_store_close(s);
}

#define G_THREADS 8
#define G_PER_THREAD 120

struct gworker {
    sts_store_t *s;
    int t;
    int ok, dup_refused, renew_refused, wrong; /* outcomes as expected, or not */
};

/* Writes that succeed, interleaved with writes that must fail: a duplicate id
 * (a failing statement) and a renewal of a token that is not active (a
 * failing job). Each ends as it would alone, whatever batch it shared. */
static void *group_worker(void *arg)
{
    struct gworker *w = arg;
    char id[64], nid[64];

    for (int i = 0; i < G_PER_THREAD; i++) {
        sts_token_rec_t r;
        sts_err_t err;
        sts_errc_t rc;

        snprintf(id, sizeof(id), "g%d-%04d", w->t, i);
        if (i % 5 == 4) {
            r = rec_make("g-dup", "worker");
            rc = sts_store_insert(w->s, &r, &err);
            w->dup_refused += rc == STS_E_BACKEND;
            w->wrong += rc != STS_E_BACKEND;
        } else if (i % 7 == 6) {
            snprintf(nid, sizeof(nid), "g%d-%04d-renewal", w->t, i);
            r = rec_make(nid, "worker");
            r.replaces = "g-cancelled";
            rc = sts_store_renew(w->s, "g-cancelled", &r, &err);
            w->renew_refused += rc == STS_E_UNABLE_TO_RENEW;
            w->wrong += rc != STS_E_UNABLE_TO_RENEW;
        } else {
            r = rec_make(id, "worker");
            rc = sts_store_insert(w->s, &r, &err);
            w->ok += rc == STS_OK;
            w->wrong += rc != STS_OK;
        }
    }
    return NULL;
}

static void test_group_commit(const char *tmp)
{
    char dir[4096];
    sts_store_t *s = NULL;
    pthread_t th[G_THREADS];
    struct gworker w[G_THREADS];
    sts_token_rec_t seed;
    int ok = 0, dups = 0, renews = 0, wrong = 0, changed = 0;
    unsigned long transactions = 0, writes = 0, checkpoints = 0;

    snprintf(dir, sizeof(dir), "%s/group", tmp);
    CHECK(sts_store_open(dir, &s, NULL) == STS_OK);
    if (s == NULL)
        return;
    seed = rec_make("g-dup", "worker");
    CHECK(sts_store_insert(s, &seed, NULL) == STS_OK);
    seed = rec_make("g-cancelled", "worker");
    CHECK(sts_store_insert(s, &seed, NULL) == STS_OK);
    CHECK(sts_store_cancel(s, "g-cancelled", &changed, NULL) == STS_OK && changed == 1);
    for (int i = 0; i < G_THREADS; i++) {
        w[i] = (struct gworker){.s = s, .t = i};
        CHECK(pthread_create(&th[i], NULL, group_worker, &w[i]) == 0);
    }
    for (int i = 0; i < G_THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        dups += w[i].dup_refused;
        renews += w[i].renew_refused;
        wrong += w[i].wrong;
    }
    CHECK(wrong == 0);
    CHECK(ok + dups + renews == G_THREADS * G_PER_THREAD);
    CHECK(dups > 0 && renews > 0);
    /* every good write is there, no failed one left anything behind */
    CHECK(count_of(s) == 2 + ok);
    CHECK(state_of(s, "g-cancelled") == STS_TOKEN_CANCELLED);
    CHECK(state_of(s, "g0-0006-renewal") == -1);
    CHECK(state_of(s, "g7-0000") == STS_TOKEN_ACTIVE);
    /* and concurrent writers did share commits */
    sts_store_counters(s, &transactions, &writes, &checkpoints);
    CHECK(writes == (unsigned long)(G_THREADS * G_PER_THREAD + 3));
    CHECK(transactions < writes);
    sts_store_close(s);
}

/* A refresh token, the access token and rotated refresh token issued from it,
 * and what was issued from those: cancelling the root cancels the family, and
 * nothing outside it. */
static void test_family_cancel(sts_store_t *s)
{
    sts_token_rec_t rt1 = rec_make("fam-rt1", "alice"), at1 = rec_make("fam-at1", "alice");
    sts_token_rec_t rt2 = rec_make("fam-rt2", "alice"), at2 = rec_make("fam-at2", "alice");
    sts_token_rec_t other = rec_make("fam-other", "alice");
    sts_token_rec_t pair[2];
    int changed = -1;

    rt1.kind = rt2.kind = STS_KIND_REFRESH;
    at1.parent = "fam-rt1";
    rt2.parent = "fam-rt1";
    at2.parent = "fam-rt2";
    pair[0] = rt1;
    pair[1] = at1;
    CHECK(sts_store_commit(s, NULL, pair, 2, NULL) == STS_OK);
    CHECK(sts_store_insert(s, &other, NULL) == STS_OK);
    /* Rotation: rt1 -> rt2, with at2 issued from rt2, in one transaction. */
    pair[0] = rt2;
    pair[1] = at2;
    CHECK(sts_store_commit(s, "fam-rt1", pair, 2, NULL) == STS_OK);
    CHECK(state_of(s, "fam-rt1") == STS_TOKEN_RENEWED);

    /* Cancelling rt2 reaches at2 only. */
    CHECK(sts_store_cancel(s, "fam-rt2", &changed, NULL) == STS_OK && changed == 2);
    CHECK(state_of(s, "fam-at2") == STS_TOKEN_CANCELLED);
    CHECK(state_of(s, "fam-at1") == STS_TOKEN_ACTIVE);
    /* Cancelling the root reaches the rest; rows already cancelled do not count. */
    CHECK(sts_store_cancel(s, "fam-rt1", &changed, NULL) == STS_OK && changed == 2);
    CHECK(state_of(s, "fam-rt1") == STS_TOKEN_CANCELLED);
    CHECK(state_of(s, "fam-at1") == STS_TOKEN_CANCELLED);
    CHECK(state_of(s, "fam-other") == STS_TOKEN_ACTIVE);
    CHECK(sts_store_cancel(s, "fam-rt1", &changed, NULL) == STS_OK && changed == 0);
}

/* All or nothing: a duplicate second row leaves neither the first row nor
 * the renewal of the old one behind. */
static void test_commit_atomic(sts_store_t *s)
{
    sts_token_rec_t old = rec_make("atom-old", "bob"), pair[2];
    long before;
    sts_err_t err;

    CHECK(sts_store_insert(s, &old, NULL) == STS_OK);
    before = count_of(s);
    pair[0] = rec_make("atom-new", "bob");
    pair[1] = rec_make("atom-old", "bob"); /* duplicate id */
    CHECK(sts_store_commit(s, "atom-old", pair, 2, &err) == STS_E_BACKEND);
    CHECK(count_of(s) == before);
    CHECK(state_of(s, "atom-old") == STS_TOKEN_ACTIVE);
    CHECK(state_of(s, "atom-new") == -1);
    CHECK(sts_store_commit(s, NULL, pair, 0, &err) == STS_E_INTERNAL);
}

/* A version 1 store (issue #2) is migrated in place: rows kept, read as
 * user-requested tokens without a parent. */
static void test_migrate_v1(const char *tmp)
{
    char dir[512], file[600], buf[32];
    sqlite3 *db = NULL;
    sts_store_t *s = NULL;
    sts_token_rec_t *r = NULL;

    snprintf(dir, sizeof(dir), "%s/v1", tmp);
    mkdir(dir, 0700);
    snprintf(file, sizeof(file), "%s/tokens.db", dir);
    CHECK(sqlite3_open(file, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                       "CREATE TABLE tokens (id TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
                       " subject TEXT NOT NULL, audience TEXT, requester TEXT,"
                       " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
                       " state INTEGER NOT NULL, replaces TEXT, replaced_by TEXT,"
                       " hash BLOB NOT NULL);"
                       "CREATE INDEX tokens_expires_at ON tokens(expires_at);"
                       "INSERT INTO schema_version(version) VALUES(1);"
                       "INSERT INTO tokens VALUES('_v1', 1, 'alice', 'https://rp/', 'alice',"
                       " 1, 2, 2, NULL, NULL, zeroblob(32));",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(sts_store_open(dir, &s, NULL) == STS_OK);
    if (s == NULL)
        return;
    CHECK(sts_store_get(s, "_v1", &r, NULL) == STS_OK && r != NULL);
    CHECK(r != NULL && r->requester_kind == STS_REQUESTER_USER && r->parent == NULL &&
          r->subject_issuer == NULL && r->bound == 0 &&
          r->state == STS_TOKEN_CANCELLED && str_eq(r->requester, "alice"));
    sts_token_rec_free(r);
    sts_store_close(s);
    CHECK(sql_text(dir, "SELECT max(version) FROM schema_version", buf, sizeof(buf)) &&
          strcmp(buf, "4") == 0);
}

int main(void)
{
    char tmp[256], dir[512];
    sts_store_t *s = NULL;

    make_tmp(tmp, sizeof(tmp));
    test_open_and_schema(tmp);

    snprintf(dir, sizeof(dir), "%s/main", tmp);
    CHECK(sts_store_open(dir, &s, NULL) == STS_OK);
    if (s != NULL) {
        test_round_trip(s);
        test_duplicate(s);
        test_cancel(s);
        test_renew(s);
        test_family_cancel(s);
        test_commit_atomic(s);
        test_reopen(dir, &s);
        sts_store_close(s);
    }
    test_concurrent(tmp);
    test_group_commit(tmp);
    test_migrate_v1(tmp);
    rm_tree(tmp);

    return sts_test_summary();
}
