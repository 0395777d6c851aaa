/*
 * sts_engine_int.h - internals shared by the engine's modules (never by a face).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * sts_engine.c   engine life, requester authentication, WS-Trust Issue,
 *                Validate, Renew, Cancel
 * sts_tokens.c   reading presented tokens (SAML 2.0, SAML 1.1 and JWT, ours or
 *                a trusted issuer's) into one shape, and minting JWTs
 * sts_exchange.c RFC 8693 exchange, the refresh grant, RFC 7009 revocation
 */
#ifndef STS_ENGINE_INT_H
#define STS_ENGINE_INT_H

#include "sts_credcache.h"
#include "sts_engine.h"
#include "sts_keys.h"
#include "sts_replay.h"
#include "sts_saml.h"
#include "sts_seal.h"
#include "sts_store.h"
#include "sts_vcache.h"

#include <jansson.h>
#include <openssl/x509.h>

/* Deepest "act" chain accepted or produced (Keycloak uses the same bound). */
#define STS_ACT_MAX_DEPTH 8
/* Longest string claim (iss, sub, aud, jti, client_id, scope, act.sub) accepted. */
#define STS_CLAIM_MAX 1024
/* Most distinct audience + resource targets in one exchange. */
#define STS_MAX_TARGETS 8

/* JWT "typ" header values (RFC 9068 for access tokens). */
#define STS_TYP_ACCESS "at+jwt"
#define STS_TYP_JWT "JWT"
#define STS_TYP_REFRESH "rt+jwt"

struct sts_engine {
    const sts_cfg_t *cfg;
    sts_keys_t **keys;     /* signing keys, cfg->signing_keys order; [0] signs SAML */
    size_t nkeys;
    sts_keys_t **trusted;  /* one public key per cfg->trusted_issuers entry */
    size_t ntrusted;
    sts_keys_t **rp_enc;   /* per cfg->rps entry: its encryption certificate, or NULL */
    X509_STORE *client_ca; /* soap.client_ca: requesters' X.509 trust anchors, or NULL */
    char *jwks;            /* the JWKS document, built once */
    sts_store_t *store;
    sts_replay_t *replay;
    sts_credcache_t *creds; /* successful password checks; NULL when disabled */
    sts_vcache_t *verified; /* our JWTs whose signature verified, by SHA-256 of their bytes */
    unsigned char seal_key[STS_SEAL_KEYLEN];
    int have_seal_key;
    char *dummy_digest_secret; /* a random password sealed under seal_key: an unknown user's
                                * PasswordDigest is checked against it (timing), never accepted */
    time_t started; /* sts_time_now() at creation: the replay cache knows nothing earlier */
};

/** A presented token, verified and read into one shape. */
typedef struct sts_vtoken {
    int kind;               /* STS_KIND_SAML2, STS_KIND_SAML11, STS_KIND_JWT or STS_KIND_REFRESH */
    int ours;               /* 1: issued here (rec is its row); 0: a trusted issuer's JWT */
    sts_token_view_t *view; /* owned */
    sts_token_rec_t *rec;   /* owned; ours only */
    json_t *claims;         /* owned; JWT only */
    xmlDocPtr doc;          /* owned when the engine parsed the token from text */
} sts_vtoken_t;

/**
 * @brief Verify @in and read it: signature by our keys (or a trusted
 * issuer's, JWT only), issuer, a declared type that matches, and for our
 * tokens the store row. Time and state are NOT checked (sts_vtoken_unusable).
 * @return STS_OK with *out; STS_E_INVALID_TOKEN with *why (static) for any
 *         token that does not verify; server errors otherwise.
 */
sts_errc_t sts_vtoken_read(sts_engine_t *e, const sts_token_in_t *in, sts_vtoken_t *out,
                           const char **why, sts_err_t *err);
void sts_vtoken_clear(sts_vtoken_t *t);

/** @brief NULL when @t may be used now (state ACTIVE, time window with the
 *  clock skew), else a static reason. */
const char *sts_vtoken_unusable(const sts_engine_t *e, const sts_vtoken_t *t, time_t now);

/** @brief Whether @who asked for @rec's token or is its subject (a realm user). */
/** @brief The lifetime a token for @target gets by default (its relying
 *  party's default, else the engine's, within the maximum). */
long sts_engine_lifetime_for(const sts_engine_t *e, const char *target);

/**
 * @brief The "act" of a token issued for the subject @subj: with an actor
 * (@actor_sub of issuer @actor_iss), that actor over the subject's own chain;
 * without, the subject's chain as it is. A subject naming "may_act" accepts
 * only that actor and is refused without one; a subject acting for itself and
 * a chain deeper than STS_ACT_MAX_DEPTH are refused (STS_E_INVALID_REQUEST).
 * *out: new reference, or NULL for no delegation.
 */
sts_errc_t sts_pick_act(const sts_vtoken_t *subj, const char *actor_sub, const char *actor_iss,
                        json_t **out, sts_err_t *err);

/** @brief A new "act" chain of the @n subs ([0] the current actor), nothing
 *  else; NULL on allocation failure or @n == 0. */
json_t *sts_act_chain(char *const *subs, size_t n);

/** @brief The subs of an "act" chain into @subs ([0] the outer, current
 *  actor). Returns how many, or (size_t)-1 when one has no sub or there are
 *  more than @max. */
size_t sts_act_subs(json_t *act, const char **subs, size_t max);

/** @brief Decodes xs:base64Binary (white space allowed, as the schema type
 *  says; at most 128 characters) of at most @outmax bytes, padding removed.
 *  Returns 0, or -1 when malformed or too long. */
int sts_b64_decode(const char *in, unsigned char *out, size_t outmax, size_t *outlen);

/** @brief sts_x509auth.c: load soap.client_ca (nothing when it is not set). */
sts_errc_t sts_x509auth_open(sts_engine_t *e, sts_err_t *err);

/* sts_delegate.c: Issue with OnBehalfOf / ActAs. */
typedef struct sts_delegation {
    sts_vtoken_t presented;     /* owned */
    const char *subject;        /* borrowed from presented */
    const char *subject_issuer; /* NULL: a subject of our realm */
    json_t *act;                /* owned: the act chain to issue with, or NULL */
    const char *parent;         /* the presented token's row when ours, or NULL */
    time_t bound;               /* nothing issued from it expires later */
} sts_delegation_t;

/**
 * @brief Read and check req->on_behalf_of or req->act_as for the user @who:
 * verified, usable at @now, allowed by a delegation rule, may_act honoured.
 * @return STS_OK with @d (sts_delegation_clear()), STS_E_INVALID_REQUEST (bad
 *         token, both given), STS_E_UNAUTHORIZED (no rule), or a server error.
 */
sts_errc_t sts_delegation_read(sts_engine_t *e, const sts_principal_t *who,
                               const sts_issue_req_t *req, time_t now, sts_delegation_t *d,
                               sts_err_t *err);
void sts_delegation_clear(sts_delegation_t *d);

int sts_engine_may_manage(const sts_principal_t *who, const sts_token_rec_t *rec);

/** Who a new token is for and where it comes from (store row fields). */
typedef struct sts_row_origin {
    const char *subject;
    const char *requester;
    int requester_kind;
    const char *parent;
    const char *subject_issuer;
    time_t bound;
} sts_row_origin_t;

/** What goes into a JWT the engine mints. Pointers borrowed. */
typedef struct sts_jwt_params {
    int kind;               /* STS_KIND_JWT or STS_KIND_REFRESH */
    const char *typ;        /* STS_TYP_* */
    const char *token_type; /* static URI answered in sts_issued_t.token_type */
    const char *const *audiences;
    size_t naudiences;
    const char *client_id;  /* or NULL */
    const char *scope;      /* or NULL */
    json_t *act;            /* or NULL; copied */
    json_t *targets;        /* refresh tokens: array of the access tokens' audiences */
    const char *signing_alg; /* "RS256"/"ES256", or NULL for the first key */
    time_t now;
    time_t expires;
    time_t not_before;      /* postdated nbf, or 0 for @now */
    sts_row_origin_t origin; /* subject, requester, parent, bound: its store row */
} sts_jwt_params_t;

/**
 * @brief Sign a JWT (claims: iss, sub, aud, exp, iat, nbf, jti, then
 * client_id, scope, act, sts_targets when given) and fill a new issued token
 * and the store row @rec (strings borrowed from *out and @p; not inserted).
 */
sts_errc_t sts_mint_jwt(sts_engine_t *e, const sts_jwt_params_t *p, sts_issued_t **out,
                        sts_token_rec_t *rec, sts_err_t *err);

/** What goes into a SAML assertion the engine mints. Pointers borrowed. */
typedef struct sts_saml_mint_params {
    int kind;                  /* STS_KIND_SAML2 or STS_KIND_SAML11 */
    const char *audience;
    const char *authn_context; /* SAML 2.0 AuthnContextClassRef (SAML 1.1: mapped
                                * to an AuthenticationMethod); NULL: unspecified */
    const char *token_type;    /* static URI answered */
    time_t now;
    time_t expires;
    const char *const *delegates; /* SAML 2.0 DelegationRestriction, [0] the current actor */
    size_t ndelegates;
    const sts_claim_req_t *claims; /* wst:Claims asked for (with_claims), see sts_issue_req_t */
    size_t nclaims;
    int with_claims;
    const unsigned char *hok_key;  /* holder-of-key proof key, for the party's encryption_cert */
    size_t hok_key_len;
    time_t not_before;             /* postdated NotBefore, or 0 for @now */
    const char *hok_cert_b64;      /* holder-of-key by the requester's certificate, or NULL */
    const char *hok_modulus_b64;   /* ... or by its RSA key (with hok_exponent_b64) */
    const char *hok_exponent_b64;
    sts_row_origin_t origin;       /* subject (NameID), requester, parent, bound; a
                                    * realm subject (subject_issuer NULL) gets its attributes */
} sts_saml_mint_params_t;

/* sts_claims.c: which attributes an assertion carries. */

/**
 * @brief The attributes of an assertion for @sp: the subject's (a realm user's
 * only: never a namesake of another issuer), those its relying party
 * releases (relying_parties[].claims; absent: all), and with sp->with_claims
 * exactly the claims asked for, named by their URI. *out is a new array
 * (free()) of strings borrowed from the config and @sp.
 * @return STS_OK, STS_E_REQUEST_FAILED for a required claim that cannot be
 *         supplied, STS_E_NOMEM.
 */
sts_errc_t sts_claims_release(const sts_engine_t *e, const sts_saml_mint_params_t *sp,
                              sts_saml_attr_t **out, size_t *nout, sts_err_t *err);

/** @brief Whether @rp accepts tokens of @kind (STS_KIND_*; relying_parties[].token_types;
 *  a party with an encryption_cert takes assertions only). */
int sts_rp_accepts(const sts_cfg_rp_t *rp, int kind);

/** @brief Sign a SAML 2.0 or 1.1 assertion (p->kind); fill a new issued token
 *  and the store row @rec (strings borrowed from *out and @p; not inserted). */
sts_errc_t sts_mint_saml(sts_engine_t *e, const sts_saml_mint_params_t *p, sts_issued_t **out,
                         sts_token_rec_t *rec, sts_err_t *err);

/** @brief Cancel (@rfc7009 = 0: WS-Trust answers) or revoke (1: RFC 7009 answers) @tok. */
sts_errc_t sts_engine_cancel_token(sts_engine_t *e, const sts_principal_t *who,
                                   const sts_token_in_t *tok, int rfc7009, sts_err_t *err);


/** @brief The store row of a freshly issued @is (ACTIVE; strings borrowed
 *  from @is and @o; replaces NULL). */
void sts_issued_row(const sts_issued_t *is, int kind, const sts_row_origin_t *o,
                    sts_token_rec_t *rec);

/** @brief The signing key for @alg ("RS256"/"ES256"), NULL alg = keys[0]; NULL if none. */
sts_keys_t *sts_engine_key_for(const sts_engine_t *e, const char *alg);

/** @brief The algorithm for a JWT to @audience obtained by @client (may be
 *  NULL): the client's signing_alg, else the party's, else NULL (keys[0]). */
const char *sts_engine_alg_of(const sts_cfg_t *cfg, const sts_cfg_client_t *client,
                              const char *audience);

#endif /* STS_ENGINE_INT_H */
