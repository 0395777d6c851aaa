/*
 * sts_store.c - the token store on SQLite: one row per issued token.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns <dir>/tokens.db (WAL, synchronous=FULL: a change is on disk when the
 * call returns), its schema and its prepared statements. It never sees token
 * bytes, only their SHA-256, and never logs anything but ids. It does NOT
 * decide policy (who may renew or cancel what): the engine does.
 *
 * Concurrency: three connections, each with its statements prepared once at
 * open and each used by one thread at a time, so statements,
 * sqlite3_changes() and sqlite3_errmsg() are never shared between two calls
 * in flight:
 *  - the writer (mu): every change, in group commits (below);
 *  - the reader (rmu): lookups. WAL lets it read the last committed state
 *    while the writer waits for its fsync, so a Validate never queues behind
 *    an Issue's commit; a writer returns only after its commit, so whatever a
 *    response said was written is what later lookups read;
 *  - the checkpointer (its own thread): copies the WAL back into the database
 *    file when the writer's WAL hook says it has grown, instead of SQLite's
 *    automatic checkpoint, which would run inside some writer's commit and
 *    stall every writer queued behind it (100 ms and more on a large store).
 *    SQLite starts the WAL over only when a write transaction begins with
 *    every frame already copied back; under a steady load the next batch
 *    always began before the checkpointer was done, so the WAL grew without
 *    end (tens of MB a second) and every commit woke the checkpointer for
 *    another pass with its fsyncs. So once the checkpointer has copied the
 *    bulk, the writer copies the few frames committed since itself, between
 *    two batches, and its next batch starts the WAL over.
 *
 * Group commit: with synchronous=FULL every COMMIT waits for an fsync of the
 * WAL (milliseconds on a real disk), and one transaction per write made that
 * fsync the ceiling of the whole server. Writes (insert, commit/renew, cancel)
 * are therefore queued as jobs; the first writer to find no leader becomes the
 * leader and runs every job queued so far in ONE transaction, each job inside
 * its own SAVEPOINT, so a job that fails is rolled back alone and the others
 * commit. Writers that arrive meanwhile wait and form the next batch. Every
 * writer returns only once the COMMIT that holds its write has returned, i.e.
 * its write is durable, exactly as before; a lone writer is a batch of one.
 * Each waiting writer sleeps on its own semaphore: the leader wakes exactly
 * the writers of its batch, and the first writer of the next batch to lead it
 * (a shared condition variable woke every waiter at every commit, and each
 * woken writer queued on the queue's mutex again).
 */
#include "sts_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STS_STORE_FILE "tokens.db"
#define STS_STORE_SCHEMA_VERSION 4
#define STS_STORE_BUSY_MS 5000
/* WAL frames (pages) after which the checkpointer runs: SQLite's own default. */
#define STS_STORE_CHECKPOINT_FRAMES 1000

/* Prepared statements, by index into sts_store.stmt[]. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT,
    ST_GET,
    ST_EXISTS,
    ST_CANCEL,
    ST_RENEW_OLD,
    ST_COUNT,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_N
};

static const char *const stmt_sql[ST_N] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* Parenthesised: one literal per element (clang -Wstring-concatenation). */
    [ST_INSERT] = ("INSERT INTO tokens(id, kind, subject, audience, requester, issued_at,"
                   " expires_at, state, replaces, replaced_by, hash, requester_kind, parent,"
                   " subject_issuer, bound, renew)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11, ?12, ?13, ?14,"
                   " ?15)"),
    [ST_GET] = ("SELECT kind, subject, audience, requester, issued_at, expires_at, state,"
                " replaces, replaced_by, hash, requester_kind, parent, subject_issuer, bound,"
                " renew FROM tokens WHERE id = ?1"),
    [ST_EXISTS] = "SELECT 1 FROM tokens WHERE id = ?1",
    /* The token and everything issued from it (parent links, any depth). */
    [ST_CANCEL] = ("WITH RECURSIVE family(id) AS (SELECT ?1 UNION"
                   " SELECT t.id FROM tokens t JOIN family f ON t.parent = f.id)"
                   " UPDATE tokens SET state = ?2 WHERE id IN family AND state <> ?2"),
    [ST_RENEW_OLD] = "UPDATE tokens SET state = ?3, replaced_by = ?2 WHERE id = ?1 AND state = ?4",
    [ST_COUNT] = "SELECT count(*) FROM tokens",
    /* One job of a group commit (see the file comment). */
    [ST_SAVEPOINT] = "SAVEPOINT job",
    [ST_RELEASE] = "RELEASE job",
    [ST_ROLLBACK_TO] = "ROLLBACK TO job",
};

/* Schema version 1. Later versions add a migration step in store_schema(). */
static const char schema_v1[] =
    "CREATE TABLE tokens ("
    " id TEXT PRIMARY KEY,"
    " kind INTEGER NOT NULL,"
    " subject TEXT NOT NULL,"
    " audience TEXT,"
    " requester TEXT,"
    " issued_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " replaces TEXT,"
    " replaced_by TEXT,"
    " hash BLOB NOT NULL);"
    "CREATE INDEX tokens_expires_at ON tokens(expires_at);"
    "INSERT INTO schema_version(version) VALUES(1);";

/* Version 2: who asked (user or OAuth client) and the refresh token a token
 * was issued from (revoking a refresh token revokes its family). */
static const char schema_v2[] =
    "ALTER TABLE tokens ADD COLUMN requester_kind INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE tokens ADD COLUMN parent TEXT;"
    "CREATE INDEX tokens_parent ON tokens(parent);"
    "INSERT INTO schema_version(version) VALUES(2);";

/* Version 3: where the subject comes from, and the expiry no renewal may pass. */
static const char schema_v3[] =
    "ALTER TABLE tokens ADD COLUMN subject_issuer TEXT;"
    "ALTER TABLE tokens ADD COLUMN bound INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO schema_version(version) VALUES(3);";

/* Version 4: what Renew may do (wst:Renewing Allow/OK). Rows of an older store
 * keep what Renew did before: renewable, also within the window after expiry. */
static const char schema_v4[] =
    "ALTER TABLE tokens ADD COLUMN renew INTEGER NOT NULL DEFAULT 3;"
    "INSERT INTO schema_version(version) VALUES(4);";

/*
 * A write waiting for, or done by, a group commit. It lives on the writer's
 * stack: the writer sleeps until @done, so the leader may use it until then.
 */
typedef struct store_job {
    /* The write itself; runs under store->mu inside the batch's transaction. */
    sts_errc_t (*run)(sts_store_t *s, struct store_job *job, sts_err_t *err);
    const char *id;              /* cancel, commit: the old token */
    const sts_token_rec_t *recs; /* insert, commit: the new rows */
    size_t n;
    int changed;                 /* out (cancel): rows changed */
    sts_errc_t rc;               /* out */
    sts_err_t err;               /* out, when rc != STS_OK */
    int wake;                    /* why @sem was posted: JOB_DONE or JOB_LEAD */
    sem_t sem;                   /* the writer sleeps on it until its batch is written */
    struct store_job *next;
} store_job_t;

enum { JOB_DONE = 1, JOB_LEAD = 2 };

struct sts_store {
    sqlite3 *db;         /* the writer */
    pthread_mutex_t mu;
    sqlite3_stmt *stmt[ST_N];
    sqlite3 *rdb;        /* the reader: ST_GET and ST_COUNT only */
    pthread_mutex_t rmu;
    sqlite3_stmt *rstmt[ST_N];
    pthread_mutex_t qmu; /* the queue and the leader flag; never held with mu */
    store_job_t *pending, **pending_tail;
    int leader;          /* a batch is being written */
    unsigned long transactions, writes; /* counters (under mu) */
    sqlite3 *ckdb;       /* the checkpointer's */
    pthread_t ckthread;
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
    int ck_wanted, ck_stop, ck_running; /* under ckmu */
    unsigned long checkpoints;          /* under ckmu: the checkpointer's passes */
    unsigned long big_at;               /* under ckmu: checkpoints when wal_big was set */
    int wal_big;                        /* under mu: the WAL is to start over */
    unsigned long restarts;             /* under mu: the writer's own passes */
    int locks_init;      /* every mutex and condition above initialised */
};

/* Fill @err with STS_E_BACKEND: "<what>: <sqlite message>". Caller holds the mutex. */
#define STORE_FAIL(err, db, what)                                                                  \
    STS_ERR((err), STS_E_BACKEND, "%s: %s", (what), sqlite3_errmsg(db))

/* Reset @st for reuse and drop its bindings (releases any read snapshot). */
static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Run a statement that returns no row (BEGIN, COMMIT, UPDATE, INSERT). */
static int stmt_exec(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    stmt_done(st);
    return r == SQLITE_DONE ? SQLITE_OK : r;
}

/* Bind @s as TEXT, or NULL when @s is NULL. SQLITE_TRANSIENT: sqlite copies it. */
static int bind_text_or_null(sqlite3_stmt *st, int idx, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

/* mkdir -p @path; directories we create get mode 0700. */
static sts_errc_t make_dirs(const char *path, sts_err_t *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return STS_ERR(err, STS_E_CONFIG, "store directory path empty or too long");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return STS_ERR(err, STS_E_BACKEND, "mkdir %s: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return STS_ERR(err, STS_E_BACKEND, "store directory %s is not a directory", path);
    return STS_OK;
}

/*
 * Create the db file 0600 before SQLite does (SQLite would use 0644 & ~umask;
 * its -wal and -shm files copy the db file's mode).
 */
static sts_errc_t precreate_db(const char *file, sts_err_t *err)
{
    int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return STS_ERR(err, STS_E_BACKEND, "open %s: %s", file, strerror(errno));
    close(fd);
    return STS_OK;
}

static sts_errc_t store_pragmas(sqlite3 *db, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;

    /* temp_store=MEMORY: a group commit runs each job in a savepoint, whose
     * statement journal would otherwise go to a temporary file. */
    if (sqlite3_busy_timeout(db, STS_STORE_BUSY_MS) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = STORE_FAIL(err, db, "pragmas");
        goto cleanup;
    }
    /* journal_mode answers with the mode in force: refuse to run without WAL. */
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = STORE_FAIL(err, db, "journal_mode");
        goto cleanup;
    }
    mode = sqlite3_column_text(st, 0);
    STS_FAIL_IF(mode == NULL || strcmp((const char *)mode, "wal") != 0, err, STS_E_BACKEND,
                "journal_mode is %s, not wal", mode ? (const char *)mode : "(null)");

cleanup:
    sqlite3_finalize(st);
    return rc;
}

/* Create the schema, or check that the existing one is a version we know. */
static sts_errc_t store_schema(sqlite3 *db, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sqlite3_stmt *st = NULL;
    int in_tx = 0;
    int r;

    /* IMMEDIATE: two processes opening a new store at once must not both create it. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = STORE_FAIL(err, db, "schema begin");
        goto cleanup;
    }
    in_tx = 1;
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = STORE_FAIL(err, db, "schema version");
        goto cleanup;
    }
    r = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;

    if (r == 0) {
        if (sqlite3_exec(db, schema_v1, NULL, NULL, NULL) != SQLITE_OK) {
            rc = STORE_FAIL(err, db, "schema create");
            goto cleanup;
        }
        r = 1;
    }
    if (r == 1) {
        if (sqlite3_exec(db, schema_v2, NULL, NULL, NULL) != SQLITE_OK) {
            rc = STORE_FAIL(err, db, "schema migration to version 2");
            goto cleanup;
        }
        r = 2;
    }
    if (r == 2) {
        if (sqlite3_exec(db, schema_v3, NULL, NULL, NULL) != SQLITE_OK) {
            rc = STORE_FAIL(err, db, "schema migration to version 3");
            goto cleanup;
        }
        r = 3;
    }
    if (r == 3) {
        if (sqlite3_exec(db, schema_v4, NULL, NULL, NULL) != SQLITE_OK) {
            rc = STORE_FAIL(err, db, "schema migration to version 4");
            goto cleanup;
        }
        r = 4;
    }
    if (r != STS_STORE_SCHEMA_VERSION) {
        rc = STS_ERR(err, STS_E_BACKEND, "unsupported store schema version %d (want %d)", r,
                     STS_STORE_SCHEMA_VERSION);
        goto cleanup;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = STORE_FAIL(err, db, "schema commit");
        goto cleanup;
    }
    in_tx = 0;

cleanup:
    sqlite3_finalize(st);
    if (in_tx && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Every mutex and condition of a zeroed @s; 0, or -1 with none left initialised. */
static int store_locks_init(sts_store_t *s)
{
    pthread_mutex_t *mus[] = {&s->mu, &s->rmu, &s->qmu, &s->ckmu};
    pthread_cond_t *cvs[] = {&s->ckcv};
    size_t m = 0, c = 0;

    for (; m < sizeof(mus) / sizeof(mus[0]); m++)
        if (pthread_mutex_init(mus[m], NULL) != 0)
            goto fail;
    for (; c < sizeof(cvs) / sizeof(cvs[0]); c++)
        if (pthread_cond_init(cvs[c], NULL) != 0)
            goto fail;
    s->locks_init = 1;
    return 0;
fail:
    while (c-- > 0)
        pthread_cond_destroy(cvs[c]);
    while (m-- > 0)
        pthread_mutex_destroy(mus[m]);
    return -1;
}

static void store_locks_destroy(sts_store_t *s)
{
    if (!s->locks_init)
        return;
    pthread_cond_destroy(&s->ckcv);
    pthread_mutex_destroy(&s->ckmu);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->rmu);
    pthread_mutex_destroy(&s->mu);
}

/* One connection to @file. NOMUTEX: our own mutexes (or a single thread)
 * serialise every use of each connection. @flags: SQLITE_OPEN_CREATE or 0. */
static sts_errc_t store_connect(const char *file, int flags, sqlite3 **out, sts_err_t *err)
{
    if (sqlite3_open_v2(file, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | flags, NULL) !=
        SQLITE_OK)
        return STS_ERR(err, STS_E_BACKEND, "open %s: %s", file,
                       *out ? sqlite3_errmsg(*out) : "out of memory");
    sqlite3_extended_result_codes(*out, 1);
    if (sqlite3_busy_timeout(*out, STS_STORE_BUSY_MS) != SQLITE_OK)
        return STORE_FAIL(err, *out, "busy timeout");
    return STS_OK;
}

/* The reader connection and its two statements; it may not write. */
static sts_errc_t open_reader(sts_store_t *s, const char *file, sts_err_t *err)
{
    static const int used[] = {ST_GET, ST_COUNT};
    sts_errc_t rc = store_connect(file, 0, &s->rdb, err);

    if (rc != STS_OK)
        return rc;
    if (sqlite3_exec(s->rdb, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_FAIL(err, s->rdb, "reader pragmas");
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
        if (sqlite3_prepare_v3(s->rdb, stmt_sql[used[i]], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->rstmt[used[i]], NULL) != SQLITE_OK)
            return STORE_FAIL(err, s->rdb, "reader prepare");
    return STS_OK;
}

/* The writer's WAL hook, after each commit (under mu): once the WAL holds
 * enough frames, wake the checkpointer for one pass and have the WAL start
 * over after it (wal_big, wal_restart_soon()). */
static int wal_grown(void *arg, sqlite3 *db, const char *name, int frames)
{
    sts_store_t *s = arg;

    (void)db;
    (void)name;
    if (frames >= STS_STORE_CHECKPOINT_FRAMES && !s->wal_big) {
        s->wal_big = 1;
        pthread_mutex_lock(&s->ckmu);
        s->big_at = s->checkpoints;
        s->ck_wanted = 1;
        pthread_cond_signal(&s->ckcv);
        pthread_mutex_unlock(&s->ckmu);
    }
    return SQLITE_OK;
}

/*
 * Between two batches (under mu, no transaction open): when the WAL is to
 * start over and the checkpointer has made a pass since it grew, copy back
 * what was committed after that pass (a batch or two), so that the next
 * BEGIN finds every frame copied and SQLite starts the WAL over at its first
 * write. Busy (the checkpointer is at it) or a reader still on an older
 * snapshot: the next batch tries again.
 */
static void wal_restart_soon(sts_store_t *s)
{
    int nlog = 0, nckpt = 0, ready;

    if (!s->wal_big)
        return;
    pthread_mutex_lock(&s->ckmu);
    ready = s->checkpoints != s->big_at;
    pthread_mutex_unlock(&s->ckmu);
    if (!ready)
        return;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt) ==
            SQLITE_OK &&
        nckpt == nlog) {
        s->wal_big = 0;
        s->restarts++;
    }
}

/* PASSIVE: copy what it can without waiting for readers or the writer, which
 * go on meanwhile; a frame it could not copy waits for the next round. */
static void *checkpointer_main(void *arg)
{
    sts_store_t *s = arg;

    pthread_mutex_lock(&s->ckmu);
    for (;;) {
        while (!s->ck_wanted && !s->ck_stop)
            pthread_cond_wait(&s->ckcv, &s->ckmu);
        if (s->ck_stop)
            break;
        s->ck_wanted = 0;
        pthread_mutex_unlock(&s->ckmu);
        sqlite3_wal_checkpoint_v2(s->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&s->ckmu);
        s->checkpoints++;
    }
    pthread_mutex_unlock(&s->ckmu);
    return NULL;
}

/* The checkpointer's connection and thread; the writer's WAL hook (which
 * replaces SQLite's automatic checkpoint) wakes it. */
static sts_errc_t start_checkpointer(sts_store_t *s, const char *file, sts_err_t *err)
{
    sts_errc_t rc = store_connect(file, 0, &s->ckdb, err);

    if (rc != STS_OK)
        return rc;
    /* FULL: the database file is fsynced before the WAL is reused. */
    if (sqlite3_exec(s->ckdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_FAIL(err, s->ckdb, "checkpointer pragmas");
    if (pthread_create(&s->ckthread, NULL, checkpointer_main, s) != 0)
        return STS_ERR(err, STS_E_INTERNAL, "store open: checkpointer thread");
    s->ck_running = 1;
    sqlite3_wal_hook(s->db, wal_grown, s);
    return STS_OK;
}

sts_errc_t sts_store_open(const char *dir, sts_store_t **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_store_t *s = NULL;
    char file[PATH_MAX];
    int n;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(dir == NULL || out == NULL, err, STS_E_INTERNAL, "store open: NULL argument");
    /* We serialise with our own mutex, but that is only safe if SQLite is thread-aware. */
    STS_FAIL_IF(!sqlite3_threadsafe(), err, STS_E_BACKEND, "SQLite built without thread support");
    n = snprintf(file, sizeof(file), "%s/%s", dir, STS_STORE_FILE);
    STS_FAIL_IF(n < 0 || (size_t)n >= sizeof(file), err, STS_E_CONFIG,
                "store directory path too long");
    STS_CHECK(make_dirs(dir, err));
    STS_CHECK(precreate_db(file, err));

    s = calloc(1, sizeof(*s));
    STS_FAIL_IF(s == NULL, err, STS_E_NOMEM, "store open: out of memory");
    if (store_locks_init(s) != 0) {
        free(s);
        s = NULL;
        rc = STS_ERR(err, STS_E_INTERNAL, "store open: mutex init failed");
        goto cleanup;
    }
    s->pending_tail = &s->pending;
    STS_CHECK(store_connect(file, SQLITE_OPEN_CREATE, &s->db, err));
    STS_CHECK(store_pragmas(s->db, err));
    STS_CHECK(store_schema(s->db, err));
    for (int i = 0; i < ST_N; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            rc = STORE_FAIL(err, s->db, "prepare");
            goto cleanup;
        }
    }
    STS_CHECK(open_reader(s, file, err));
    STS_CHECK(start_checkpointer(s, file, err));
    *out = s;
    s = NULL;

cleanup:
    sts_store_close(s);
    return rc;
}

/* Not thread-safe: no other call on @store may be in flight. NULL is a no-op. */
void sts_store_close(sts_store_t *store)
{
    if (store == NULL)
        return;
    if (store->ck_running) {
        pthread_mutex_lock(&store->ckmu);
        store->ck_stop = 1;
        pthread_cond_signal(&store->ckcv);
        pthread_mutex_unlock(&store->ckmu);
        pthread_join(store->ckthread, NULL);
    }
    if (store->db != NULL)
        sqlite3_wal_hook(store->db, NULL, NULL);
    sqlite3_close(store->ckdb);
    for (int i = 0; i < ST_N; i++) {
        sqlite3_finalize(store->rstmt[i]);
        sqlite3_finalize(store->stmt[i]);
    }
    sqlite3_close(store->rdb);
    /* Last connection: SQLite checkpoints the WAL and removes it. */
    sqlite3_close(store->db);
    store_locks_destroy(store);
    free(store);
}

/*
 * Checks that @rec can be a new row: id and subject present, and the state of
 * a token nobody has renewed or cancelled yet.
 */
static sts_errc_t rec_check_new(const sts_token_rec_t *rec, sts_err_t *err)
{
    if (rec == NULL || rec->id == NULL || rec->subject == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store insert: record without id or subject");
    if (rec->state != STS_TOKEN_ACTIVE || rec->replaced_by != NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store insert %s: new row must be ACTIVE", rec->id);
    return STS_OK;
}

/* Insert @rec with replaces = @replaces. Caller holds the mutex. */
static sts_errc_t insert_locked(sts_store_t *s, const sts_token_rec_t *rec, const char *replaces,
                                sts_err_t *err)
{
    sqlite3_stmt *st = s->stmt[ST_INSERT];

    if (sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, rec->kind) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, rec->subject, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        bind_text_or_null(st, 4, rec->audience) != SQLITE_OK ||
        bind_text_or_null(st, 5, rec->requester) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, (sqlite3_int64)rec->issued_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 7, (sqlite3_int64)rec->expires_at) != SQLITE_OK ||
        sqlite3_bind_int(st, 8, STS_TOKEN_ACTIVE) != SQLITE_OK ||
        bind_text_or_null(st, 9, replaces) != SQLITE_OK ||
        sqlite3_bind_blob(st, 10, rec->hash, (int)sizeof(rec->hash), SQLITE_TRANSIENT) !=
            SQLITE_OK ||
        sqlite3_bind_int(st, 11, rec->requester_kind ? rec->requester_kind : STS_REQUESTER_USER) !=
            SQLITE_OK ||
        bind_text_or_null(st, 12, rec->parent) != SQLITE_OK ||
        bind_text_or_null(st, 13, rec->subject_issuer) != SQLITE_OK ||
        sqlite3_bind_int64(st, 14, (sqlite3_int64)rec->bound) != SQLITE_OK ||
        sqlite3_bind_int(st, 15, rec->renew) != SQLITE_OK) {
        stmt_done(st);
        return STORE_FAIL(err, s->db, "insert bind");
    }
    if (stmt_exec(st) != SQLITE_OK)
        return STS_ERR(err, STS_E_BACKEND, "insert %s: %s", rec->id, sqlite3_errmsg(s->db));
    return STS_OK;
}

/* ---- group commit ----------------------------------------------------------- */

/* Runs @job inside the open transaction, in its own savepoint: on failure its
 * changes are rolled back and the batch goes on. Caller holds mu. */
static void batch_run_one(sts_store_t *s, store_job_t *job)
{
    if (stmt_exec(s->stmt[ST_SAVEPOINT]) != SQLITE_OK) {
        job->rc = STORE_FAIL(&job->err, s->db, "savepoint");
        return;
    }
    job->rc = job->run(s, job, &job->err);
    if (job->rc != STS_OK && !sqlite3_get_autocommit(s->db))
        stmt_exec(s->stmt[ST_ROLLBACK_TO]);
    if (!sqlite3_get_autocommit(s->db))
        stmt_exec(s->stmt[ST_RELEASE]);
}

/* Fails every job of @batch that has not failed yet: the transaction they
 * were written in is gone. Caller holds mu. */
static void batch_fail(sts_store_t *s, store_job_t *batch, const char *what)
{
    for (store_job_t *j = batch; j != NULL; j = j->next)
        if (j->rc == STS_OK)
            j->rc = STORE_FAIL(&j->err, s->db, what);
}

/* Writes @batch in one transaction and one COMMIT (one fsync). */
static void batch_write(sts_store_t *s, store_job_t *batch)
{
    pthread_mutex_lock(&s->mu);
    for (store_job_t *j = batch; j != NULL; j = j->next)
        j->rc = STS_OK;
    wal_restart_soon(s);
    if (stmt_exec(s->stmt[ST_BEGIN]) != SQLITE_OK) {
        batch_fail(s, batch, "batch begin");
        goto unlock;
    }
    for (store_job_t *j = batch; j != NULL; j = j->next) {
        batch_run_one(s, j);
        s->writes++;
        /* An I/O error or SQLITE_FULL may make SQLite roll back the whole
         * transaction by itself: nothing written so far will commit. */
        if (sqlite3_get_autocommit(s->db)) {
            batch_fail(s, batch, "batch rolled back");
            goto unlock;
        }
    }
    s->transactions++;
    if (stmt_exec(s->stmt[ST_COMMIT]) != SQLITE_OK) {
        batch_fail(s, batch, "batch commit");
        if (!sqlite3_get_autocommit(s->db))
            stmt_exec(s->stmt[ST_ROLLBACK]);
    }
unlock:
    pthread_mutex_unlock(&s->mu);
}

/*
 * Queue @job and return once a committed (or failed) batch holds it. The
 * first writer to find no leader writes everything queued, its own job
 * included; the others sleep and the next batch forms meanwhile. When its
 * batch is written, the leader hands the lead to the first writer queued
 * since (or gives it up), then wakes the writers of its batch.
 */
static sts_errc_t group_write(sts_store_t *s, store_job_t *job, sts_err_t *err)
{
    store_job_t *batch, *next_leader;
    int lead;

    job->wake = 0;
    job->next = NULL;
    if (sem_init(&job->sem, 0, 0) != 0)
        return STS_ERR(err, STS_E_INTERNAL, "store write: semaphore");
    pthread_mutex_lock(&s->qmu);
    *s->pending_tail = job;
    s->pending_tail = &job->next;
    lead = !s->leader;
    s->leader = 1;
    pthread_mutex_unlock(&s->qmu);
    if (!lead) {
        while (sem_wait(&job->sem) != 0) /* EINTR */
            ;
        lead = job->wake == JOB_LEAD;
    }
    if (lead) {
        pthread_mutex_lock(&s->qmu);
        batch = s->pending; /* @job among them */
        s->pending = NULL;
        s->pending_tail = &s->pending;
        pthread_mutex_unlock(&s->qmu);
        batch_write(s, batch);
        pthread_mutex_lock(&s->qmu);
        next_leader = s->pending;
        s->leader = next_leader != NULL; /* kept for the next one */
        pthread_mutex_unlock(&s->qmu);
        if (next_leader != NULL) {
            next_leader->wake = JOB_LEAD;
            sem_post(&next_leader->sem);
        }
        for (store_job_t *j = batch, *next; j != NULL; j = next) {
            next = j->next; /* a woken job belongs to its writer again */
            if (j == job)
                continue;
            j->wake = JOB_DONE;
            sem_post(&j->sem);
        }
    }
    sem_destroy(&job->sem);
    if (job->rc != STS_OK && err != NULL)
        *err = job->err;
    return job->rc;
}

static sts_errc_t insert_job(sts_store_t *s, store_job_t *job, sts_err_t *err)
{
    return insert_locked(s, job->recs, job->recs->replaces, err);
}

sts_errc_t sts_store_insert(sts_store_t *store, const sts_token_rec_t *rec, sts_err_t *err)
{
    sts_errc_t rc = rec_check_new(rec, err);
    store_job_t job = {.run = insert_job, .recs = rec, .n = 1};

    if (rc != STS_OK)
        return rc;
    return group_write(store, &job, err);
}

/* Copy of column @col as a new string, NULL for SQL NULL. Sets *oom on failure. */
static char *column_strdup(sqlite3_stmt *st, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    char *copy;

    if (t == NULL)
        return NULL;
    copy = strdup((const char *)t);
    if (copy == NULL)
        *oom = 1;
    return copy;
}

sts_errc_t sts_store_get(sts_store_t *store, const char *id, sts_token_rec_t **out,
                         sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_token_rec_t *rec = NULL;
    sqlite3_stmt *st = store->rstmt[ST_GET]; /* the reader: never waits for a commit */
    int oom = 0;
    int r;

    if (out != NULL)
        *out = NULL;
    if (id == NULL || out == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store get: NULL argument");

    pthread_mutex_lock(&store->rmu);
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        rc = STORE_FAIL(err, store->rdb, "get bind");
        goto cleanup;
    }
    r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        goto cleanup; /* unknown id: STS_OK with *out == NULL */
    if (r != SQLITE_ROW) {
        rc = STS_ERR(err, STS_E_BACKEND, "get %s: %s", id, sqlite3_errmsg(store->rdb));
        goto cleanup;
    }
    STS_FAIL_IF(sqlite3_column_bytes(st, 9) != (int)sizeof(rec->hash), err, STS_E_BACKEND,
                "get %s: stored hash has %d bytes", id, sqlite3_column_bytes(st, 9));

    rec = calloc(1, sizeof(*rec));
    STS_FAIL_IF(rec == NULL, err, STS_E_NOMEM, "store get: out of memory");
    rec->id = strdup(id);
    oom |= rec->id == NULL;
    rec->kind = sqlite3_column_int(st, 0);
    rec->subject = column_strdup(st, 1, &oom);
    rec->audience = column_strdup(st, 2, &oom);
    rec->requester = column_strdup(st, 3, &oom);
    rec->issued_at = (time_t)sqlite3_column_int64(st, 4);
    rec->expires_at = (time_t)sqlite3_column_int64(st, 5);
    rec->state = sqlite3_column_int(st, 6);
    rec->replaces = column_strdup(st, 7, &oom);
    rec->replaced_by = column_strdup(st, 8, &oom);
    memcpy(rec->hash, sqlite3_column_blob(st, 9), sizeof(rec->hash));
    rec->requester_kind = sqlite3_column_int(st, 10);
    rec->parent = column_strdup(st, 11, &oom);
    rec->subject_issuer = column_strdup(st, 12, &oom);
    rec->bound = (time_t)sqlite3_column_int64(st, 13);
    rec->renew = sqlite3_column_int(st, 14);
    STS_FAIL_IF(oom, err, STS_E_NOMEM, "store get: out of memory");
    *out = rec;
    rec = NULL;

cleanup:
    stmt_done(st);
    pthread_mutex_unlock(&store->rmu);
    sts_token_rec_free(rec);
    return rc;
}

/* Cancel job->id and its family; job->changed = rows changed. */
static sts_errc_t cancel_job(sts_store_t *s, store_job_t *job, sts_err_t *err)
{
    sqlite3_stmt *upd = s->stmt[ST_CANCEL];
    sqlite3_stmt *ex = s->stmt[ST_EXISTS];
    sts_errc_t rc = STS_OK;
    int r;

    if (sqlite3_bind_text(upd, 1, job->id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int(upd, 2, STS_TOKEN_CANCELLED) != SQLITE_OK) {
        stmt_done(upd);
        return STORE_FAIL(err, s->db, "cancel bind");
    }
    if (stmt_exec(upd) != SQLITE_OK)
        return STS_ERR(err, STS_E_BACKEND, "cancel %s: %s", job->id, sqlite3_errmsg(s->db));
    if (sqlite3_changes(s->db) > 0) {
        job->changed = sqlite3_changes(s->db);
        return STS_OK;
    }
    /* Nothing changed: already cancelled, or unknown. Same transaction, so no race. */
    if (sqlite3_bind_text(ex, 1, job->id, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        rc = STORE_FAIL(err, s->db, "cancel bind");
        goto cleanup;
    }
    r = sqlite3_step(ex);
    if (r == SQLITE_DONE)
        rc = STS_ERR(err, STS_E_INVALID_TOKEN, "cancel %s: unknown token", job->id);
    else if (r != SQLITE_ROW)
        rc = STS_ERR(err, STS_E_BACKEND, "cancel %s: %s", job->id, sqlite3_errmsg(s->db));
cleanup:
    stmt_done(ex);
    return rc;
}

sts_errc_t sts_store_cancel(sts_store_t *store, const char *id, int *changed, sts_err_t *err)
{
    store_job_t job = {.run = cancel_job, .id = id};
    sts_errc_t rc;

    if (changed != NULL)
        *changed = 0;
    if (id == NULL || changed == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store cancel: NULL argument");
    rc = group_write(store, &job, err);
    if (rc == STS_OK)
        *changed = job.changed;
    return rc;
}

/* Set job->id RENEWED by job->recs[0] (it must be ACTIVE). */
static sts_errc_t renew_old(sts_store_t *s, store_job_t *job, sts_err_t *err)
{
    sqlite3_stmt *upd = s->stmt[ST_RENEW_OLD];

    if (sqlite3_bind_text(upd, 1, job->id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(upd, 2, job->recs[0].id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int(upd, 3, STS_TOKEN_RENEWED) != SQLITE_OK ||
        sqlite3_bind_int(upd, 4, STS_TOKEN_ACTIVE) != SQLITE_OK) {
        stmt_done(upd);
        return STORE_FAIL(err, s->db, "renew bind");
    }
    if (stmt_exec(upd) != SQLITE_OK)
        return STS_ERR(err, STS_E_BACKEND, "renew %s: %s", job->id, sqlite3_errmsg(s->db));
    if (sqlite3_changes(s->db) == 0)
        return STS_ERR(err, STS_E_UNABLE_TO_RENEW, "renew %s: unknown or not active", job->id);
    return STS_OK;
}

/* The renewal (when job->id is set) and the rows: all or nothing, through
 * the job's savepoint. */
static sts_errc_t commit_job(sts_store_t *s, store_job_t *job, sts_err_t *err)
{
    sts_errc_t rc;

    if (job->id != NULL && (rc = renew_old(s, job, err)) != STS_OK)
        return rc;
    for (size_t i = 0; i < job->n; i++) {
        const char *replaces = i == 0 && job->id != NULL ? job->id : job->recs[i].replaces;
        if ((rc = insert_locked(s, &job->recs[i], replaces, err)) != STS_OK)
            return rc;
    }
    return STS_OK;
}

sts_errc_t sts_store_commit(sts_store_t *store, const char *old_id, const sts_token_rec_t *recs,
                            size_t n, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    store_job_t job = {.run = commit_job, .id = old_id, .recs = recs, .n = n};

    STS_FAIL_IF(recs == NULL || n == 0, err, STS_E_INTERNAL, "store commit: no rows");
    for (size_t i = 0; i < n; i++)
        STS_CHECK(rec_check_new(&recs[i], err));
    STS_FAIL_IF(old_id != NULL && recs[0].replaces != NULL && strcmp(recs[0].replaces, old_id) != 0,
                err, STS_E_INTERNAL, "renew %s: new row %s replaces %s", old_id, recs[0].id,
                recs[0].replaces);
    rc = group_write(store, &job, err);
cleanup:
    return rc;
}

sts_errc_t sts_store_renew(sts_store_t *store, const char *old_id, const sts_token_rec_t *new_rec,
                           sts_err_t *err)
{
    if (old_id == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store renew: NULL old id");
    return sts_store_commit(store, old_id, new_rec, 1, err);
}

sts_errc_t sts_store_count(sts_store_t *store, long *out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sqlite3_stmt *st = store->rstmt[ST_COUNT];

    if (out == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "store count: NULL argument");
    *out = 0;
    pthread_mutex_lock(&store->rmu);
    if (sqlite3_step(st) != SQLITE_ROW)
        rc = STORE_FAIL(err, store->rdb, "count");
    else
        *out = (long)sqlite3_column_int64(st, 0);
    stmt_done(st);
    pthread_mutex_unlock(&store->rmu);
    return rc;
}

void sts_store_counters(sts_store_t *store, unsigned long *transactions, unsigned long *writes,
                        unsigned long *checkpoints)
{
    pthread_mutex_lock(&store->mu);
    *transactions = store->transactions;
    *writes = store->writes;
    *checkpoints = store->restarts;
    pthread_mutex_unlock(&store->mu);
    pthread_mutex_lock(&store->ckmu);
    *checkpoints += store->checkpoints;
    pthread_mutex_unlock(&store->ckmu);
}

/* Frees @rec and every string it owns. NULL is a no-op. */
void sts_token_rec_free(sts_token_rec_t *rec)
{
    if (rec == NULL)
        return;
    free(rec->id);
    free(rec->subject);
    free(rec->audience);
    free(rec->requester);
    free(rec->replaces);
    free(rec->replaced_by);
    free(rec->parent);
    free(rec->subject_issuer);
    free(rec);
}
