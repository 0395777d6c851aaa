/*
 * sts_store.h - the token store: one row per issued token (never the token).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * SQLite in WAL mode with synchronous=FULL: a state change is durable when the
 * call returns, so before the response is sent. Thread-safe; concurrent
 * writes share one transaction and one fsync (group commit, see sts_store.c),
 * each still all-or-nothing on its own.
 */
#ifndef STS_STORE_H
#define STS_STORE_H

#include "sts_err.h"

#include <time.h>

typedef struct sts_store sts_store_t;

typedef enum sts_token_state {
    STS_TOKEN_ACTIVE = 0,
    STS_TOKEN_RENEWED = 1,   /* replaced by a renewal: no longer valid */
    STS_TOKEN_CANCELLED = 2
} sts_token_state_t;

/** Token kinds as stored (append-only numbering). */
typedef enum sts_token_kind {
    STS_KIND_SAML2 = 1,
    STS_KIND_SAML11 = 2,
    STS_KIND_JWT = 3,
    STS_KIND_REFRESH = 4 /* a refresh token (a JWT the STS alone accepts) */
} sts_token_kind_t;

/** Who asked for a token. */
typedef enum sts_requester_kind {
    STS_REQUESTER_USER = 1,  /* a user of the realm (SOAP face) */
    STS_REQUESTER_CLIENT = 2 /* an OAuth client (REST face) */
} sts_requester_kind_t;

typedef struct sts_token_rec {
    char *id;           /* assertion ID / JWT jti */
    int kind;           /* sts_token_kind_t */
    char *subject;
    char *audience;
    char *requester;    /* authenticated requester (user name or client_id) */
    int requester_kind; /* sts_requester_kind_t; 0 is read as USER */
    char *parent;       /* the token this one was issued from (refresh token, or
                         * exchanged subject token), or NULL */
    char *subject_issuer; /* issuer of the subject when not our realm (a trusted
                           * issuer's subject), or NULL */
    time_t bound;       /* latest expiry this token or a renewal of it may have
                         * (its subject token's), or 0 for none */
    time_t issued_at;
    time_t expires_at;
    int state;          /* sts_token_state_t */
    char *replaces;     /* id of the token this one renewed, or NULL */
    char *replaced_by;  /* id of the renewal, or NULL */
    unsigned char hash[32]; /* SHA-256 of the issued bytes */
    int renew;          /* STS_RENEW_* bits (wst:Renewing at issue; a renewal keeps them) */
} sts_token_rec_t;

/* What Renew may do with a token (WS-Trust 1.3 wst:Renewing). */
enum {
    STS_RENEW_ALLOW = 1,  /* Allow: it may be renewed (the default) */
    STS_RENEW_EXPIRED = 2 /* OK: also after it expired (within engine.renew_window) */
};

/**
 * @brief Open (create if needed) the store in directory @dir (file tokens.db).
 * @param out new store; close with sts_store_close().
 */
sts_errc_t sts_store_open(const char *dir, sts_store_t **out, sts_err_t *err);
void sts_store_close(sts_store_t *store);

/** @brief Insert a new ACTIVE token row. Duplicate id: STS_E_BACKEND. */
sts_errc_t sts_store_insert(sts_store_t *store, const sts_token_rec_t *rec, sts_err_t *err);

/**
 * @brief Look up @id. *out = new record (free with sts_token_rec_free()), or
 * NULL when unknown (still STS_OK).
 */
sts_errc_t sts_store_get(sts_store_t *store, const char *id, sts_token_rec_t **out,
                         sts_err_t *err);

/**
 * @brief Mark @id cancelled, and with it every token issued from it (rows
 * whose parent is @id, recursively: a refresh token's access tokens and
 * rotations, the tokens exchanged for a subject token). *changed = number of rows that changed
 * (0 when all were already cancelled). Unknown id: STS_E_INVALID_TOKEN.
 */
sts_errc_t sts_store_cancel(sts_store_t *store, const char *id, int *changed, sts_err_t *err);

/**
 * @brief Atomically: require @old_id ACTIVE, set it RENEWED with replaced_by =
 * @new_rec->id, insert @new_rec (its replaces must be @old_id).
 * @return STS_E_UNABLE_TO_RENEW when @old_id is unknown or not ACTIVE.
 */
sts_errc_t sts_store_renew(sts_store_t *store, const char *old_id, const sts_token_rec_t *new_rec,
                           sts_err_t *err);

/**
 * @brief Atomically: when @old_id is not NULL, require it ACTIVE and set it
 * RENEWED with replaced_by = @recs[0].id; then insert the @n rows of @recs
 * (ACTIVE; recs[0].replaces must be @old_id or NULL). All or nothing.
 * @return STS_E_UNABLE_TO_RENEW when @old_id is unknown or not ACTIVE.
 */
sts_errc_t sts_store_commit(sts_store_t *store, const char *old_id, const sts_token_rec_t *recs,
                            size_t n, sts_err_t *err);

/** @brief Write transactions committed (or attempted) and writes run in
 *  them since open (writes / transactions is the mean group-commit batch),
 *  and background WAL checkpoints run. */
void sts_store_counters(sts_store_t *store, unsigned long *transactions, unsigned long *writes,
                        unsigned long *checkpoints);

/** @brief Number of rows (tests and metrics). */
sts_errc_t sts_store_count(sts_store_t *store, long *out, sts_err_t *err);

void sts_token_rec_free(sts_token_rec_t *rec);

#endif /* STS_STORE_H */
