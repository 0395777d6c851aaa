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

/**
 * The authenticated requester: a user of the realm (SOAP face) or an OAuth
 * client (REST face); exactly one of @user and @client is set.
 */
typedef struct sts_principal {
    const sts_cfg_user_t *user;     /* borrowed from the engine's config */
    const sts_cfg_client_t *client; /* borrowed from the engine's config */
    const char *authn_context;      /* static SAML AuthnContextClassRef */
    time_t authn_instant;
} sts_principal_t;

/**
 * @brief Check a message timestamp: required unless configured otherwise;
 * refused when Created lies in the future beyond the clock skew, is older than
 * the maximum age, or Expires has passed.  @ts NULL means "absent".
 * @return STS_OK, STS_E_EXPIRED_DATA (too old or expired: WS-Trust's
 *         ExpiredData) or STS_E_AUTH_FAILED (detail says why; logs only).
 */
sts_errc_t sts_engine_check_timestamp(sts_engine_t *engine, const sts_timestamp_t *ts,
                                      sts_err_t *err);

/**
 * @brief Authenticate @cred. PasswordDigest also checks the freshness of its
 * Created and remembers its nonce (a replay is refused). PasswordText costs
 * one hash check, known user or not, unless the same user and password
 * passed one within engine.credential_cache_ttl (against the same hash).
 * @return STS_OK with *out, STS_E_BAD_ELEMENTS for a PasswordDigest without
 *         Nonce or Created, or STS_E_AUTH_FAILED for every other cause.
 */
sts_errc_t sts_engine_authenticate(sts_engine_t *engine, const sts_credential_t *cred,
                                   sts_principal_t *out, sts_err_t *err);

/**
 * @brief Authenticate a requester by the X.509 certificate of a WS-Security
 * message signature: @der (the certificate of the wsse:BinarySecurityToken)
 * chains to soap.client_ca and is valid now; its subject CN names a user of
 * the realm; @sig (the ds:Signature) verifies with its key and covers each of
 * the @nrequired elements of @required (the Body and Timestamp the face
 * processes, the Timestamp among them: one is required whatever
 * soap.require_timestamp says, @ts its values, already checked by
 * sts_engine_check_timestamp()). The same signed content from the same
 * certificate within the timestamp window is a replay, and so is a Timestamp
 * created before this engine started (its replay cache is in memory).
 * @return STS_OK with *out (authn context X509), or STS_E_AUTH_FAILED.
 */
sts_errc_t sts_engine_authenticate_x509(sts_engine_t *engine, const unsigned char *der,
                                        size_t der_len, xmlNodePtr sig,
                                        xmlNodePtr const *required, size_t nrequired,
                                        const sts_timestamp_t *ts, sts_principal_t *out,
                                        sts_err_t *err);

/**
 * @brief Authenticate an OAuth client by client_id and secret (RFC 6749
 * sec. 2.3.1; both already form-decoded). Costs one hash check whether or
 * not the client exists, unless the same id and secret passed one within
 * engine.credential_cache_ttl (against the same hash).
 * @return STS_OK with *out (out->client set), or STS_E_AUTH_FAILED.
 */
sts_errc_t sts_engine_authenticate_client(sts_engine_t *engine, const char *client_id,
                                          const char *secret, sts_principal_t *out,
                                          sts_err_t *err);

/* ---- tokens --------------------------------------------------------------- */

/* Token type identifiers (RFC 8693 sec. 3) the engine speaks. */
#define STS_TT_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"
#define STS_TT_REFRESH_TOKEN "urn:ietf:params:oauth:token-type:refresh_token"
#define STS_TT_JWT "urn:ietf:params:oauth:token-type:jwt"
#define STS_TT_SAML2 "urn:ietf:params:oauth:token-type:saml2"
#define STS_TT_SAML1 "urn:ietf:params:oauth:token-type:saml1"
#define STS_TT_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"

/**
 * A presented token, borrowed from the request. The SOAP face hands in an
 * XML element (@node), verified in place, or a JWT it took out of a
 * wsse:BinarySecurityToken (@text); the REST face hands in the parameter
 * value (@text): a compact JWT, or a base64url-encoded SAML assertion, which
 * the engine decodes and parses with the hardened parser.
 */
typedef struct sts_token_in {
    xmlNodePtr node;  /* an XML token element, or NULL */
    const char *text; /* else: the token as text, @text_len bytes */
    size_t text_len;
    const char *type; /* declared type URI (RFC 8693 sec. 3), or NULL to recognise it */
} sts_token_in_t;

/**
 * What a verified token says, for introspection (RFC 7662) and RSTR/Status.
 * Strings are owned by the view; free with sts_token_view_free().
 */
typedef struct sts_token_view {
    const char *token_type; /* static STS_TT_* URI of what it is */
    char *id;               /* assertion ID / jti */
    char *issuer;
    char *subject;
    char **audiences;
    size_t naudiences;
    char *scope;            /* space-separated, or NULL */
    char *client_id;        /* the OAuth client it was issued to, or NULL */
    char **actors;          /* the "act" chain: [0] the current actor's sub, then prior ones */
    size_t nactors;
    char *may_act;          /* the sub that "may_act" names, or NULL */
    int holder_of_key;      /* its use needs a proof key: never the basis of a new token */
    time_t issued_at;
    time_t not_before;      /* 0 when absent */
    time_t expires;
} sts_token_view_t;

void sts_token_view_free(sts_token_view_t *view);

/** A requested claim (wst:Claims, dialect .../2005/05/identity: i:ClaimType). */
typedef struct sts_claim_req {
    const char *uri;  /* the claim type URI */
    int optional;     /* Optional="true": left out when it cannot be supplied */
} sts_claim_req_t;

typedef struct sts_issue_req {
    const char *applies_to;       /* required */
    const char *token_type;       /* URI or NULL (= SAML 2.0); STS_TT_JWT issues a JWT */
    const char *key_type;         /* URI or NULL (= bearer) */
    const char *lifetime_created; /* requested, xs:dateTime, or NULL */
    const char *lifetime_expires; /* requested, xs:dateTime, or NULL */
    /* WS-Trust delegation (at most one): the token of the subject to issue
     * for, presented by the requester as wst:OnBehalfOf (impersonation) or
     * wst14:ActAs (the requester is recorded as actor); NULL: for @who. */
    const sts_token_in_t *on_behalf_of;
    const sts_token_in_t *act_as;
    /* wst:Claims: when @with_claims, the assertion carries exactly the claims
     * asked for (named by their URI) that the subject has and the relying
     * party is released; a required one that cannot be supplied fails the
     * request. Otherwise it carries every released attribute. */
    const sts_claim_req_t *claims;
    size_t nclaims;
    int with_claims;
    /* KeyType SymmetricKey (a holder-of-key assertion whose proof key is
     * encrypted for the relying party's encryption_cert): with
     * @client_entropy the key is P_SHA1(client entropy, issuer entropy)
     * (ComputedKeyAlgorithm .../CK/PSHA1), else a random key. @key_size in
     * bits, 0 = 256. */
    const unsigned char *client_entropy;
    size_t client_entropy_len;
    unsigned key_size;
    /* wst:AllowPostdating: a Lifetime/Created in the future becomes the
     * token's NotBefore (otherwise it is refused). */
    int allow_postdating;
    /* wst:Renewing: Allow="false" makes the token not renewable; OK="true"
     * lets it be renewed after it expired (within engine.renew_window).
     * Without Renewing: renewable, but not once expired (WS-Trust's default). */
    int not_renewable;
    int renew_after_expiry;
    /* KeyType PublicKey: the requester's certificate (DER) from wst:UseKey,
     * bound into a holder-of-key assertion (SAML only). */
    const unsigned char *use_key_cert;
    size_t use_key_cert_len;
    /* ... or its RSA public key from a ds:KeyValue: big-endian Modulus and Exponent */
    const unsigned char *use_key_modulus;
    size_t use_key_modulus_len;
    const unsigned char *use_key_exponent;
    size_t use_key_exponent_len;
} sts_issue_req_t;

/**
 * An issued token. Free with sts_issued_free(). @token is what goes on the
 * wire, verbatim: signed XML for SAML (the REST face base64url-encodes it),
 * the compact JWS for a JWT or refresh token.
 */
typedef struct sts_issued {
    char *token;            /* the signed bytes, emitted verbatim */
    size_t token_len;
    char *id;               /* assertion ID */
    const char *token_type; /* static URI to answer with (the spelling requested) */
    const char *key_type;   /* static URI */
    char *applies_to;
    time_t created;
    time_t expires;
    char *scope;             /* the scope granted (space-separated), or NULL */
    /* SymmetricKey only (both wiped on free): with requester entropy, the
     * issuer's entropy to answer with; without, the proof key itself. */
    unsigned char *server_entropy;
    size_t server_entropy_len;
    unsigned char *proof_key;
    size_t proof_key_len;
    unsigned key_size;       /* bits of the proof key, 0 for bearer */
    struct sts_issued *refresh; /* a refresh token issued with it (REST face), or NULL */
} sts_issued_t;

void sts_issued_free(sts_issued_t *issued);

/**
 * @brief Issue a token for @who, or with req->on_behalf_of / req->act_as for
 * the subject of that token (see sts_delegate.c for the policy). *out new on
 * success.
 * @return STS_OK; STS_E_INVALID_TARGET (no relying party), STS_E_NOT_UNDERSTOOD
 *         (TokenType, KeyType), STS_E_INVALID_LIFETIME, STS_E_INVALID_REQUEST
 *         (a delegation token refused, or act into SAML 1.1),
 *         STS_E_UNAUTHORIZED (no delegation rule), STS_E_REQUEST_FAILED (a
 *         required claim that cannot be supplied), or a server error.
 */
sts_errc_t sts_engine_issue(sts_engine_t *engine, const sts_principal_t *who,
                            const sts_issue_req_t *req, sts_issued_t **out, sts_err_t *err);

/**
 * A validation verdict; @reason is a static string. @view is set (owned:
 * sts_verdict_clear()) when the token is valid.
 */
typedef struct sts_verdict {
    int valid;
    const char *reason;
    sts_token_view_t *view;
} sts_verdict_t;

void sts_verdict_clear(sts_verdict_t *verdict);

/**
 * @brief Validate @token (SAML assertion or JWT, ours): signature by one of
 * our keys over exactly what is read, issuer, time window with the clock
 * skew, and the store's state. A bad token is a verdict (STS_OK, valid = 0),
 * not an error. Any authenticated requester may validate (RFC 7662 and
 * WS-Trust Validate alike).
 */
sts_errc_t sts_engine_validate(sts_engine_t *engine, const sts_principal_t *who,
                               const sts_token_in_t *token, sts_verdict_t *out, sts_err_t *err);

/**
 * @brief WS-Trust Validate with a TokenType other than RSTR/Status (WS-Trust
 * 1.3 sec. 7, as CXF does): @token is judged as by sts_engine_validate()
 * (*verdict, without a view) and, when it is valid, a token of @token_type
 * (SAML 2.0, SAML 1.1 or JWT, in any spelling Issue takes) is issued for the
 * same subject and audiences, with its scope and act (an assertion cannot
 * carry either: refused, never dropped). It is recorded as derived from
 * @token, so cancelling @token cancels it, and never outlives it.
 * @return STS_OK with *out set when valid and NULL when not;
 *         STS_E_NOT_UNDERSTOOD (TokenType), STS_E_INVALID_TARGET (audience
 *         no relying party, several for an assertion), STS_E_INVALID_REQUEST
 *         (scope or act into an assertion), or a server error.
 */
sts_errc_t sts_engine_transform(sts_engine_t *engine, const sts_principal_t *who,
                                const sts_token_in_t *token, const char *token_type,
                                sts_verdict_t *verdict, sts_issued_t **out, sts_err_t *err);

/**
 * @brief Renew @token (ours, ACTIVE, valid or expired within the renew
 * window, and @who is its requester or its subject): a new token of the same
 * kind and claims, linked to the old one, which is no longer valid.
 * @token_type: spelling for the answer, or NULL.
 * @return STS_E_UNABLE_TO_RENEW for any token that cannot be renewed.
 */
sts_errc_t sts_engine_renew(sts_engine_t *engine, const sts_principal_t *who,
                            const sts_token_in_t *token, const char *token_type,
                            sts_issued_t **out, sts_err_t *err);

/**
 * @brief Cancel @token (ours; @who is its requester or its subject).
 * Idempotent. Cancelling a refresh token also cancels every token issued
 * from it (access tokens and its rotated successors).
 * @return STS_E_REQUEST_FAILED when the token does not verify or is not @who's.
 */
sts_errc_t sts_engine_cancel(sts_engine_t *engine, const sts_principal_t *who,
                             const sts_token_in_t *token, sts_err_t *err);

/**
 * @brief RFC 7009 revocation: sts_engine_cancel() with the RFC's answers.
 * A token that does not verify or is unknown is not an error (STS_OK,
 * nothing changes, logged).
 * @return STS_OK, STS_E_UNAUTHORIZED when the token is ours but not @who's,
 *         or a server error.
 */
sts_errc_t sts_engine_revoke(sts_engine_t *engine, const sts_principal_t *who,
                             const sts_token_in_t *token, sts_err_t *err);

/* ---- RFC 8693 token exchange and the refresh grant ------------------------- */

typedef struct sts_exchange_req {
    sts_token_in_t subject;           /* required: text and type */
    sts_token_in_t actor;             /* text NULL when absent; then type must be NULL */
    const char *requested_token_type; /* URI, or NULL = access_token */
    const char *const *audiences;     /* "audience" values, in request order */
    size_t naudiences;
    const char *const *resources;     /* "resource" values (absolute URIs, no fragment) */
    size_t nresources;
    const char *scope;                /* space-separated, or NULL */
} sts_exchange_req_t;

/**
 * @brief RFC 8693 token exchange by the client @who.
 *
 * Policy: the client may use the grant and ask for the requested type; the
 * subject (and actor) token verifies (ours: signature, time, store state;
 * or a JWT from a configured trusted issuer naming us in "aud"); every
 * target is allowed for the client; the scope only narrows what the client
 * and the subject token allow; an actor becomes "act" (nested over the
 * subject's own "act"); a subject with "may_act" accepts only the actor it
 * names and is refused without one. A refresh token is issued alongside an
 * access token when the client may have one (out->refresh).
 * @return STS_OK with *out; STS_E_INVALID_REQUEST (missing/inconsistent
 *         parameters, bad subject or actor token), STS_E_UNAUTHORIZED
 *         (grant or token type not allowed for the client),
 *         STS_E_INVALID_TARGET, STS_E_INVALID_SCOPE, or a server error.
 */
sts_errc_t sts_engine_exchange(sts_engine_t *engine, const sts_principal_t *who,
                               const sts_exchange_req_t *req, sts_issued_t **out,
                               sts_err_t *err);

/**
 * @brief The refresh_token grant (RFC 6749 sec. 6) = Renew of a refresh
 * token: it must be ours, ACTIVE, unexpired and issued to the client @who.
 * Rotates it: the old one becomes RENEWED, *out is a new access token with
 * the new refresh token in out->refresh. Presenting a rotated (RENEWED)
 * refresh token again cancels everything issued from it (reuse detection).
 * @scope: NULL, or a narrowing of the original scope.
 * @return STS_E_INVALID_TOKEN for any refresh token that cannot be used
 *         (the REST table answers invalid_grant), STS_E_INVALID_SCOPE, ...
 */
sts_errc_t sts_engine_refresh(sts_engine_t *engine, const sts_principal_t *who,
                              const sts_token_in_t *refresh_token, const char *scope,
                              sts_issued_t **out, sts_err_t *err);

/* ---- published keys ---------------------------------------------------------- */

/**
 * @brief The JWKS document (RFC 7517) with every public signing key, built
 * once at start-up: a borrowed NUL-terminated JSON string.
 */
const char *sts_engine_jwks(const sts_engine_t *engine);

#endif /* STS_ENGINE_H */
