/*
 * sts_engine.h - the token lifecycle engine: the ONLY header the faces include.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The engine authenticates requesters, applies policy, issues, validates,
 * renews and cancels tokens, and keeps their state in the store. It knows
 * nothing of SOAP, HTTP, gSOAP or JSON framing: each face translates its wire
 * format into these structs and maps the returned sts_errc_t in one table.
 *
 * Thread-safety: every function may be called concurrently from worker
 * threads on one engine.
 */
#ifndef STS_ENGINE_H
#define STS_ENGINE_H

#include "sts_cfg.h"
#include "sts_err.h"

#include <libxml/tree.h>
#include <stddef.h>
#include <time.h>

typedef struct sts_engine sts_engine_t;

/**
 * @brief Open keys, store and caches for @cfg.
 * @param cfg borrowed: must outlive the engine.
 * @param out new engine; free with sts_engine_free().
 */
sts_errc_t sts_engine_new(const sts_cfg_t *cfg, sts_engine_t **out, sts_err_t *err);
void sts_engine_free(sts_engine_t *engine);

/** @brief The engine's configuration (borrowed). */
const sts_cfg_t *sts_engine_cfg(const sts_engine_t *engine);

/* ---- requester authentication ------------------------------------------- */

typedef enum sts_cred_kind {
    STS_CRED_PASSWORD_TEXT = 1,
    STS_CRED_PASSWORD_DIGEST = 2
} sts_cred_kind_t;

/** Credentials as presented; every pointer borrowed from the request. */
typedef struct sts_credential {
    sts_cred_kind_t kind;
    const char *username;
    const char *password; /* text: the password; digest: base64 of the digest */
    const char *nonce;    /* digest: base64 nonce */
    const char *created;  /* digest: xs:dateTime the digest covers */
} sts_credential_t;

/** A message timestamp (wsu:Timestamp); pointers borrowed, NULL when absent. */
typedef struct sts_timestamp {
    const char *created;
    const char *expires;
} sts_timestamp_t;

/** The authenticated requester. */
typedef struct sts_principal {
    const sts_cfg_user_t *user; /* borrowed from the engine's config */
    const char *authn_context;  /* static SAML AuthnContextClassRef */
    time_t authn_instant;
} sts_principal_t;

/**
 * @brief Check a message timestamp: required unless configured otherwise;
 * refused when Created lies in the future beyond the clock skew, is older than
 * the maximum age, or Expires has passed.  @ts NULL means "absent".
 * @return STS_OK or STS_E_AUTH_FAILED (detail says why; logs only).
 */
sts_errc_t sts_engine_check_timestamp(sts_engine_t *engine, const sts_timestamp_t *ts,
                                      sts_err_t *err);

/**
 * @brief Authenticate @cred. PasswordDigest also checks the freshness of its
 * Created and remembers its nonce (a replay is refused).
 * @return STS_OK with *out, or STS_E_AUTH_FAILED for every cause.
 */
sts_errc_t sts_engine_authenticate(sts_engine_t *engine, const sts_credential_t *cred,
                                   sts_principal_t *out, sts_err_t *err);

/* ---- tokens --------------------------------------------------------------- */

/** A presented token: an element of a request document, verified in place. */
typedef struct sts_token_in {
    xmlNodePtr node; /* borrowed */
} sts_token_in_t;

typedef struct sts_issue_req {
    const char *applies_to;       /* required */
    const char *token_type;       /* URI or NULL (= SAML 2.0) */
    const char *key_type;         /* URI or NULL (= bearer) */
    const char *lifetime_created; /* requested, xs:dateTime, or NULL */
    const char *lifetime_expires; /* requested, xs:dateTime, or NULL */
} sts_issue_req_t;

/** An issued token. Free with sts_issued_free(). */
typedef struct sts_issued {
    char *token;            /* the signed bytes, emitted verbatim */
    size_t token_len;
    char *id;               /* assertion ID */
    const char *token_type; /* static URI to answer with (the spelling requested) */
    const char *key_type;   /* static URI */
    char *applies_to;
    time_t created;
    time_t expires;
} sts_issued_t;

void sts_issued_free(sts_issued_t *issued);

/** @brief Issue a token for @who. *out new on success. */
sts_errc_t sts_engine_issue(sts_engine_t *engine, const sts_principal_t *who,
                            const sts_issue_req_t *req, sts_issued_t **out, sts_err_t *err);

/** A validation verdict; @reason is a static string. */
typedef struct sts_verdict {
    int valid;
    const char *reason;
} sts_verdict_t;

/**
 * @brief Validate @token: signature by our key over exactly the element
 * read, issuer, time window with the clock skew, and the store's state.
 * A bad token is a verdict (STS_OK, valid = 0), not an error.
 */
sts_errc_t sts_engine_validate(sts_engine_t *engine, const sts_principal_t *who,
                               const sts_token_in_t *token, sts_verdict_t *out, sts_err_t *err);

/**
 * @brief Renew @token (ours, ACTIVE, issued to @who, valid or expired within
 * the renew window): a new token, linked to the old one, which is no longer
 * valid. @token_type: spelling for the answer, or NULL.
 * @return STS_E_UNABLE_TO_RENEW for any token that cannot be renewed.
 */
sts_errc_t sts_engine_renew(sts_engine_t *engine, const sts_principal_t *who,
                            const sts_token_in_t *token, const char *token_type,
                            sts_issued_t **out, sts_err_t *err);

/**
 * @brief Cancel @token (ours, issued to @who). Idempotent.
 * @return STS_E_REQUEST_FAILED when the token does not verify or is not @who's.
 */
sts_errc_t sts_engine_cancel(sts_engine_t *engine, const sts_principal_t *who,
                             const sts_token_in_t *token, sts_err_t *err);

#endif /* STS_ENGINE_H */
