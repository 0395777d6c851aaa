/*
 * sts_exchange.c - RFC 8693 token exchange and the refresh grant.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The policy of the REST face, in the engine so that it holds for every
 * token whichever face issued it:
 *  - the client may use the grant and ask for the requested token type;
 *  - the subject (and actor) token verifies and is usable now; our own
 *    token must have been issued to this client or be addressed to one of
 *    its audiences; a trusted issuer's must name us in "aud";
 *  - every target (audience, resource) is allowed for the client;
 *  - scope only narrows what the client and the subject token allow;
 *  - an actor becomes "act", nested over the subject's own "act"; a subject
 *    with "may_act" accepts only the actor it names and is refused without
 *    one (Keycloak #52691); a subject acting for itself is refused;
 *  - an assertion (SAML 2.0 or 1.1) names one audience and carries no
 *    scope; act goes into a SAML 2.0 DelegationRestriction and cannot go
 *    into SAML 1.1: what cannot be carried is refused, never dropped;
 *  - nothing issued (access token, JWT, assertion, refresh token) outlives
 *    the subject token; a refresh token family lives at most
 *    engine.refresh_lifetime within that.
 */
#include "sts_engine_int.h"

#include "sts_log.h"
#include "sts_time.h"

#include <stdlib.h>
#include <string.h>

#define GRANT_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define GRANT_REFRESH "refresh_token"

static int str_eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static int client_allows(char *const *list, size_t n, const char *v)
{
    return sts_cfg_client_allows(list, n, v);
}

/* ---- scope ------------------------------------------------------------------ */

/* Whether the space-separated @set holds the token @tok (@len bytes). */
static int scope_has(const char *set, const char *tok, size_t len)
{
    for (const char *p = set; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, tok, len) == 0)
            return 1;
        p += n;
        p += *p == ' ';
    }
    return 0;
}

/* RFC 6749 sec. 3.3 scope-token characters. */
static int scope_char(unsigned char c) { return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E); }

static int client_has_scope(const sts_cfg_client_t *c, const char *tok, size_t len)
{
    for (size_t i = 0; i < c->nscopes; i++)
        if (strlen(c->scopes[i]) == len && memcmp(c->scopes[i], tok, len) == 0)
            return 1;
    return 0;
}

/* Appends token @tok (@len bytes) to @buf (length *o) unless it is there. */
static void scope_add(char *buf, size_t *o, const char *tok, size_t len)
{
    if (scope_has(buf, tok, len))
        return;
    if (*o > 0)
        buf[(*o)++] = ' ';
    memcpy(buf + *o, tok, len);
    *o += len;
    buf[*o] = '\0';
}

/* RFC 6749 sec. 3.3: scope-tokens separated by single spaces. */
static int scope_well_formed(const char *s)
{
    size_t n;

    for (;;) {
        n = 0;
        while (scope_char((unsigned char)s[n]))
            n++;
        if (n == 0)
            return 0;
        if (s[n] == '\0')
            return 1;
        if (s[n] != ' ')
            return 0;
        s += n + 1;
    }
}

/*
 * The scope to grant. @requested (NULL: none) must be well-formed and each of
 * its tokens allowed by the client and, when @bound is not NULL, in @bound.
 * Without a request: the tokens of @bound the client may have, or none.
 * *out: a new string (free()), or NULL for no scope.
 */
static sts_errc_t pick_scope(const sts_cfg_client_t *c, const char *requested, const char *bound,
                             char **out, sts_err_t *err)
{
    const char *src = requested ? requested : bound;
    size_t o = 0;
    char *buf;

    *out = NULL;
    if (src == NULL)
        return STS_OK;
    if (requested != NULL && !scope_well_formed(requested))
        return STS_ERR_PUB(err, STS_E_INVALID_SCOPE, "scope is malformed",
                           "scope not RFC 6749 scope-tokens separated by single spaces");
    buf = calloc(1, strlen(src) + 1);
    if (buf == NULL)
        return STS_ERR(err, STS_E_NOMEM, "scope");
    for (const char *p = src; *p;) {
        size_t n = strcspn(p, " ");
        int allowed = n > 0 && client_has_scope(c, p, n);
        if (requested != NULL && (!allowed || (bound != NULL && !scope_has(bound, p, n)))) {
            free(buf);
            return STS_ERR_PUB(err, STS_E_INVALID_SCOPE,
                               "requested scope exceeds what the client and the token allow",
                               "a scope token of %zu bytes is not allowed", n);
        }
        if (allowed)
            scope_add(buf, &o, p, n);
        p += n;
        p += *p == ' ';
    }
    if (o == 0) {
        free(buf);
        /* A scoped token never turns into an unscoped (= unlimited) one. */
        if (bound != NULL)
            return STS_ERR_PUB(err, STS_E_INVALID_SCOPE,
                               "the token's scope and the client's scopes have nothing in common",
                               "empty scope intersection");
        return STS_OK;
    }
    *out = buf;
    return STS_OK;
}

/* ---- targets ---------------------------------------------------------------- */

/* RFC 8707 sec. 2: an absolute URI without a fragment. */
static int resource_ok(const char *r)
{
    size_t n = strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return n > 0 && r[n] == ':' && r[n + 1] != '\0' && strchr(r, '#') == NULL &&
           strpbrk(r, " \t\r\n") == NULL;
}

/* Collects the distinct targets into @out (borrowed strings), each allowed
 * for the client. Without any: the client's only audience, if it has one. */
static sts_errc_t pick_targets(const sts_cfg_client_t *c, const sts_exchange_req_t *req,
                               const char **out, size_t *n, sts_err_t *err)
{
    *n = 0;
    for (size_t i = 0; i < req->nresources; i++)
        if (!resource_ok(req->resources[i]))
            return STS_ERR_PUB(err, STS_E_INVALID_TARGET,
                               "resource must be an absolute URI without a fragment",
                               "resource %zu malformed", i);
    for (size_t k = 0; k < req->naudiences + req->nresources; k++) {
        const char *t = k < req->naudiences ? req->audiences[k] : req->resources[k - req->naudiences];
        int seen = 0;
        if (!client_allows(c->audiences, c->naudiences, t))
            return STS_ERR_PUB(err, STS_E_INVALID_TARGET,
                               "the client may not obtain tokens for this audience or resource",
                               "target %zu not allowed for client %s", k, c->client_id);
        for (size_t j = 0; j < *n; j++)
            seen |= strcmp(out[j], t) == 0;
        if (seen)
            continue;
        if (*n == STS_MAX_TARGETS)
            return STS_ERR_PUB(err, STS_E_INVALID_TARGET, "too many audiences or resources",
                               "more than %d targets", STS_MAX_TARGETS);
        out[(*n)++] = t;
    }
    if (*n == 0 && c->naudiences == 1)
        out[(*n)++] = c->audiences[0];
    if (*n == 0)
        return STS_ERR_PUB(err, STS_E_INVALID_TARGET, "audience or resource required",
                           "no target and client %s has several audiences", c->client_id);
    return STS_OK;
}

/* ---- presented tokens ----------------------------------------------------------- */

/* Read @in, the subject token or (@actor) the actor token, for client @c:
 * verified, usable now, and acceptable from this client. */
static sts_errc_t read_presented(sts_engine_t *e, const sts_cfg_client_t *c,
                                 const sts_token_in_t *in, int actor, sts_vtoken_t *t, time_t now,
                                 sts_err_t *err)
{
    const char *what = actor ? "actor_token" : "subject_token", *why = NULL;
    char pub[64];
    sts_errc_t rc = sts_vtoken_read(e, in, t, &why, err);
    int mine = 0;

    snprintf(pub, sizeof(pub), "%s is not acceptable", what);
    if (rc == STS_E_INVALID_TOKEN) {
        char inner[sizeof(err->detail)]; /* err->detail is rewritten below */
        snprintf(inner, sizeof(inner), "%s", err ? err->detail : "-");
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: %s (%s)", what, why, inner);
    }
    if (rc != STS_OK)
        return rc;
    if ((why = sts_vtoken_unusable(e, t, now)) != NULL)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: %s", what, why);
    /* Whatever the skew allowed: nothing is issued from an expired token. */
    if (t->view->expires <= now)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: expired", what);
    if (t->kind == STS_KIND_REFRESH && actor)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: a refresh token", what);
    /* A holder-of-key token is only usable with its key: never the basis of
     * a new (bearer) token. */
    if (t->view->holder_of_key)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: a holder-of-key token", what);
    if (!t->ours) { /* a trusted issuer's, addressed to us (sts_vtoken_read) */
        if (!client_allows(c->trusted_issuers, c->ntrusted_issuers, t->view->issuer))
            return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub,
                               "%s: client %s may not present tokens of issuer %s", what,
                               c->client_id, t->view->issuer);
        return STS_OK;
    }
    mine = t->rec->requester_kind == STS_REQUESTER_CLIENT && str_eq(t->rec->requester, c->client_id);
    /* An actor token stands for whoever acts: one another OAuth client
     * obtained is that client's, not this one's to present. */
    if (actor && t->rec->requester_kind == STS_REQUESTER_CLIENT && !mine)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s %s: issued to another client",
                           what, t->rec->id);
    if (t->kind == STS_KIND_REFRESH && !mine)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s: refresh token of another client",
                           what);
    for (size_t i = 0; !mine && i < t->view->naudiences; i++)
        mine = client_allows(c->audiences, c->naudiences, t->view->audiences[i]);
    if (!mine)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub,
                           "%s %s: neither issued to client %s nor for one of its audiences", what,
                           t->rec->id, c->client_id);
    return STS_OK;
}

/* An "act" chain of @n actors' subs ([0] the current actor), nothing else:
 * members a presented token carried inside its "act" are never copied. */
json_t *sts_act_chain(char *const *subs, size_t n)
{
    json_t *act = NULL, *outer;

    for (size_t i = n; i-- > 0;) {
        outer = json_pack("{s:s}", "sub", subs[i]);
        if (outer == NULL || (act != NULL && json_object_set_new(outer, "act", act) != 0)) {
            json_decref(outer);
            return NULL;
        }
        act = outer;
    }
    return act;
}

sts_errc_t sts_pick_act(const sts_vtoken_t *subj, const char *actor_sub, const char *actor_iss,
                        json_t **out, sts_err_t *err)
{
    const sts_token_view_t *v = subj->view;
    const char *may = v->may_act;
    char *chain[STS_ACT_MAX_DEPTH + 1];

    *out = NULL;
    if (actor_sub == NULL) {
        if (may != NULL)
            return STS_ERR_PUB(err, STS_E_INVALID_REQUEST,
                               "subject_token names a permitted actor (may_act): present it as "
                               "actor_token",
                               "may_act without actor_token");
        if (v->nactors == 0)
            return STS_OK;
        *out = sts_act_chain(v->actors, v->nactors);
        return *out == NULL ? STS_ERR(err, STS_E_NOMEM, "act") : STS_OK;
    }
    if (str_eq(actor_sub, v->subject) && str_eq(actor_iss, v->issuer))
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, "actor_token is the subject itself",
                           "actor and subject are the same principal");
    if (may != NULL) {
        const char *may_iss =
            json_string_value(json_object_get(json_object_get(subj->claims, "may_act"), "iss"));
        if (!str_eq(may, actor_sub) || (may_iss != NULL && !str_eq(may_iss, actor_iss)))
            return STS_ERR_PUB(err, STS_E_INVALID_REQUEST,
                               "actor_token is not the actor the subject_token permits (may_act)",
                               "may_act names another actor");
    }
    if (v->nactors + 1 > STS_ACT_MAX_DEPTH)
        return STS_ERR_PUB(err, STS_E_INVALID_REQUEST, "delegation chain too long",
                           "act chain would exceed %d", STS_ACT_MAX_DEPTH);
    chain[0] = (char *)actor_sub;
    for (size_t i = 0; i < v->nactors; i++)
        chain[i + 1] = v->actors[i];
    *out = sts_act_chain(chain, v->nactors + 1);
    return *out == NULL ? STS_ERR(err, STS_E_NOMEM, "act") : STS_OK;
}

size_t sts_act_subs(json_t *act, const char **subs, size_t max)
{
    size_t n = 0;

    for (; act != NULL; act = json_object_get(act, "act")) {
        const char *sub = json_string_value(json_object_get(act, "sub"));
        if (sub == NULL || n == max)
            return (size_t)-1;
        subs[n++] = sub;
    }
    return n;
}

/* ---- minting for a client ----------------------------------------------------- */

/* What an access token / JWT and its refresh token share. */
typedef struct grant {
    const sts_cfg_client_t *client;
    const char *subject;
    const char *scope; /* or NULL */
    json_t *act;       /* or NULL */
    time_t now;
    const char *subject_issuer; /* NULL: a subject of our realm */
    time_t bound;      /* no token of the grant, nor a renewal, expires later */
} grant_t;

/* The store-row origin of a token of @g issued from @parent. */
static sts_row_origin_t grant_origin(const grant_t *g, const char *parent)
{
    sts_row_origin_t o = {.subject = g->subject,
                          .requester = g->client->client_id,
                          .requester_kind = STS_REQUESTER_CLIENT,
                          .parent = parent,
                          .subject_issuer = g->subject_issuer,
                          .bound = g->bound};
    return o;
}

/* A refresh token for @g: aud is the STS itself, so no relying party takes
 * it; sts_targets remembers the access tokens' audiences. */
static sts_errc_t mint_refresh(sts_engine_t *e, const grant_t *g, json_t *targets, time_t expires,
                               const char *parent, sts_issued_t **out, sts_token_rec_t *rec,
                               sts_err_t *err)
{
    const char *aud = e->cfg->issuer;
    sts_jwt_params_t p = {.kind = STS_KIND_REFRESH,
                          .typ = STS_TYP_REFRESH,
                          .token_type = STS_TT_REFRESH_TOKEN,
                          .audiences = &aud,
                          .naudiences = 1,
                          .client_id = g->client->client_id,
                          .scope = g->scope,
                          .act = g->act,
                          .targets = targets,
                          .now = g->now,
                          .expires = expires,
                          .origin = grant_origin(g, parent)};
    return sts_mint_jwt(e, &p, out, rec, err);
}

/* An access token (RFC 9068, typ at+jwt) or a plain JWT (@tt) for @g. */
static sts_errc_t mint_access(sts_engine_t *e, const grant_t *g, const char *tt,
                              const char *const *targets, size_t ntargets, time_t expires,
                              const char *parent, sts_issued_t **out, sts_token_rec_t *rec,
                              sts_err_t *err)
{
    sts_jwt_params_t p = {.kind = STS_KIND_JWT,
                          .typ = strcmp(tt, STS_TT_ACCESS_TOKEN) == 0 ? STS_TYP_ACCESS : STS_TYP_JWT,
                          .token_type = tt,
                          .audiences = targets,
                          .naudiences = ntargets,
                          .client_id = g->client->client_id,
                          .scope = g->scope,
                          .act = g->act,
                          .signing_alg = sts_engine_alg_of(e->cfg, g->client, targets[0]),
                          .now = g->now,
                          .expires = expires,
                          .origin = grant_origin(g, parent)};
    return sts_mint_jwt(e, &p, out, rec, err);
}

/* ---- exchange ----------------------------------------------------------------- */

/* The token types an exchange can produce. */
static const char *issuable_type(const char *requested)
{
    static const char *const types[] = {STS_TT_ACCESS_TOKEN, STS_TT_JWT, STS_TT_SAML2,
                                        STS_TT_SAML1, STS_TT_REFRESH_TOKEN};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(requested, types[i]) == 0)
            return types[i];
    return NULL;
}

long sts_engine_lifetime_for(const sts_engine_t *e, const char *target)
{
    const sts_cfg_rp_t *rp = sts_cfg_find_rp(e->cfg, target);
    long max = rp && rp->max_lifetime > 0 ? rp->max_lifetime : e->cfg->max_lifetime;
    long def = rp && rp->default_lifetime > 0 ? rp->default_lifetime : e->cfg->default_lifetime;
    return def < max ? def : max;
}

sts_errc_t sts_engine_exchange(sts_engine_t *e, const sts_principal_t *who,
                               const sts_exchange_req_t *req, sts_issued_t **out, sts_err_t *err)
{
    const sts_cfg_client_t *c = who ? who->client : NULL;
    const char *tt, *targets[STS_MAX_TARGETS];
    size_t ntargets = 0;
    sts_vtoken_t subj, actor;
    sts_issued_t *is = NULL, *rt = NULL;
    sts_token_rec_t recs[2];
    size_t nrecs = 0;
    json_t *act = NULL, *jtargets = NULL;
    char *scope = NULL;
    sts_errc_t rc = STS_OK;
    time_t now = sts_time_now(), expires;
    int with_refresh, is_access, is_refresh, is_saml, saml_kind;
    const char *parent;
    grant_t g;

    *out = NULL;
    memset(&subj, 0, sizeof(subj));
    memset(&actor, 0, sizeof(actor));
    STS_FAIL_IF(c == NULL, err, STS_E_AUTH_FAILED, "token exchange without a client");
    STS_FAIL_IF(!client_allows(c->grant_types, c->ngrant_types, GRANT_EXCHANGE), err,
                STS_E_UNAUTHORIZED, "client %s may not use token exchange", c->client_id);
    STS_FAIL_IF(req->subject.text == NULL || req->subject.type == NULL, err, STS_E_INVALID_REQUEST,
                "subject_token or subject_token_type missing");
    STS_FAIL_IF((req->actor.text == NULL) != (req->actor.type == NULL), err, STS_E_INVALID_REQUEST,
                "actor_token and actor_token_type go together");
    tt = issuable_type(req->requested_token_type ? req->requested_token_type : STS_TT_ACCESS_TOKEN);
    if (tt == NULL) {
        rc = STS_ERR_PUB(err, STS_E_INVALID_REQUEST, "requested_token_type not supported",
                         "requested_token_type not issuable");
        goto cleanup;
    }
    if (!client_allows(c->token_types, c->ntoken_types, tt)) {
        rc = STS_ERR_PUB(err, STS_E_UNAUTHORIZED,
                         "the client may not obtain this requested_token_type",
                         "client %s may not obtain %s", c->client_id, tt);
        goto cleanup;
    }
    is_access = strcmp(tt, STS_TT_ACCESS_TOKEN) == 0;
    is_refresh = strcmp(tt, STS_TT_REFRESH_TOKEN) == 0;
    saml_kind = strcmp(tt, STS_TT_SAML2) == 0    ? STS_KIND_SAML2
                : strcmp(tt, STS_TT_SAML1) == 0 ? STS_KIND_SAML11
                                                : 0;
    is_saml = saml_kind != 0;
    STS_CHECK(read_presented(e, c, &req->subject, 0, &subj, now, err));
    if (req->actor.text != NULL)
        STS_CHECK(read_presented(e, c, &req->actor, 1, &actor, now, err));
    STS_CHECK(pick_targets(c, req, targets, &ntargets, err));
    for (size_t i = 0; !is_refresh && i < ntargets; i++)
        if (!sts_rp_accepts(sts_cfg_find_rp(e->cfg, targets[i]), is_saml ? saml_kind : STS_KIND_JWT)) {
            rc = STS_ERR_PUB(err, STS_E_INVALID_TARGET,
                             "the audience does not accept this requested_token_type",
                             "target %zu does not accept %s", i, tt);
            goto cleanup;
        }
    STS_CHECK(sts_pick_act(&subj, req->actor.text ? actor.view->subject : NULL,
                           req->actor.text ? actor.view->issuer : NULL, &act, err));
    STS_CHECK(pick_scope(c, req->scope, subj.view->scope, &scope, err));
    if (is_saml) {
        /* What an assertion cannot carry is refused, never dropped. */
        const char *v = saml_kind == STS_KIND_SAML11 ? "SAML 1.1" : "SAML 2.0";
        char pub[96];
        if (ntargets > 1) {
            snprintf(pub, sizeof(pub), "a %s assertion names one audience", v);
            rc = STS_ERR_PUB(err, STS_E_INVALID_TARGET, pub, "%s requested for %zu targets",
                             tt, ntargets);
            goto cleanup;
        }
        if (act != NULL && saml_kind == STS_KIND_SAML11) {
            snprintf(pub, sizeof(pub), "delegation (act) cannot be carried in a %s assertion", v);
            rc = STS_ERR_PUB(err, STS_E_INVALID_REQUEST, pub, "%s requested with an actor", tt);
            goto cleanup;
        }
        if (scope != NULL) { /* requested, or the subject's: never dropped */
            snprintf(pub, sizeof(pub), "a %s assertion carries no scope", v);
            rc = STS_ERR_PUB(err, STS_E_INVALID_SCOPE, pub, "%s for a scope", tt);
            goto cleanup;
        }
    }

    /* Nothing issued here, nor any renewal of it, outlives the subject token
     * (or the bound the subject itself inherited); our subject token is the
     * parent of what is issued, so cancelling it cancels them too. */
    g.client = c;
    g.subject = subj.view->subject;
    g.scope = scope;
    g.act = act;
    g.now = now;
    g.subject_issuer = subj.ours ? subj.rec->subject_issuer : subj.view->issuer;
    g.bound = subj.view->expires;
    if (subj.ours && subj.rec->bound != 0 && subj.rec->bound < g.bound)
        g.bound = subj.rec->bound;
    parent = subj.ours ? subj.rec->id : NULL;
    expires = now + sts_engine_lifetime_for(e, targets[0]);
    if (expires > g.bound)
        expires = g.bound;
    /* A refresh token comes with an access token when the client may have one. */
    with_refresh = is_access &&
                   client_allows(c->grant_types, c->ngrant_types, GRANT_REFRESH) &&
                   client_allows(c->token_types, c->ntoken_types, STS_TT_REFRESH_TOKEN);
    if (is_refresh || with_refresh) {
        jtargets = json_array();
        STS_FAIL_IF(jtargets == NULL, err, STS_E_NOMEM, "targets");
        for (size_t i = 0; i < ntargets; i++)
            STS_FAIL_IF(json_array_append_new(jtargets, json_string(targets[i])), err, STS_E_NOMEM,
                        "targets");
        time_t rt_expires = now + e->cfg->refresh_lifetime;
        if (rt_expires > g.bound)
            rt_expires = g.bound;
        STS_CHECK(mint_refresh(e, &g, jtargets, rt_expires, parent, &rt, &recs[nrecs++], err));
    }
    if (is_saml) {
        /* SAML 2.0 carries act as its DelegationRestriction chain. */
        const char *delegates[STS_ACT_MAX_DEPTH];
        size_t ndelegates = sts_act_subs(act, delegates, STS_ACT_MAX_DEPTH);
        STS_FAIL_IF(ndelegates == (size_t)-1, err, STS_E_INTERNAL, "act chain");
        sts_saml_mint_params_t sp = {.kind = saml_kind,
                                     .delegates = delegates,
                                     .ndelegates = ndelegates,
                                     .audience = targets[0],
                                     .token_type = tt,
                                     .now = now,
                                     .expires = expires,
                                     .origin = {.subject = subj.view->subject,
                                                .requester = c->client_id,
                                                .requester_kind = STS_REQUESTER_CLIENT,
                                                .parent = parent,
                                                .subject_issuer = g.subject_issuer,
                                                .bound = g.bound}};
        STS_CHECK(sts_mint_saml(e, &sp, &is, &recs[nrecs++], err));
    } else if (!is_refresh) {
        STS_CHECK(mint_access(e, &g, tt, targets, ntargets, expires, rt ? rt->id : parent, &is,
                              &recs[nrecs++], err));
    }
    if (is == NULL) { /* the refresh token is what was asked for */
        is = rt;
        rt = NULL;
    }
    STS_CHECK(sts_store_commit(e->store, NULL, recs, nrecs, err));
    sts_info("exchange by %s: %s %s for %s (subject %s%s%s), %lds%s", c->client_id,
             is_access ? "access token" : tt, is->id, is->applies_to,
             subj.rec ? subj.rec->id : "of a trusted issuer", act ? ", actor " : "",
             act ? json_string_value(json_object_get(act, "sub")) : "",
             (long)(is->expires - is->created), rt ? ", with a refresh token" : "");
    is->refresh = rt;
    rt = NULL;
    *out = is;
    is = NULL;
cleanup:
    sts_issued_free(is);
    sts_issued_free(rt);
    json_decref(act);
    json_decref(jtargets);
    free(scope);
    sts_vtoken_clear(&subj);
    sts_vtoken_clear(&actor);
    return rc;
}

/* ---- the refresh grant ---------------------------------------------------------- */

sts_errc_t sts_engine_refresh(sts_engine_t *e, const sts_principal_t *who,
                              const sts_token_in_t *rt_in, const char *scope_req,
                              sts_issued_t **out, sts_err_t *err)
{
    const sts_cfg_client_t *c = who ? who->client : NULL;
    sts_token_in_t in;
    sts_vtoken_t t;
    sts_issued_t *at = NULL, *rt = NULL;
    sts_token_rec_t recs[2];
    const char *why = NULL, *targets[STS_MAX_TARGETS];
    size_t ntargets = 0, i;
    json_t *jt, *v;
    char *scope = NULL;
    sts_errc_t rc;
    time_t now = sts_time_now(), expires;
    int changed;
    grant_t g;

    *out = NULL;
    memset(&t, 0, sizeof(t));
    if (c == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED, "refresh without a client");
    if (!client_allows(c->grant_types, c->ngrant_types, GRANT_REFRESH))
        return STS_ERR(err, STS_E_UNAUTHORIZED, "client %s may not use refresh_token",
                       c->client_id);
    in = *rt_in;
    in.type = STS_TT_REFRESH_TOKEN;
    rc = sts_vtoken_read(e, &in, &t, &why, err);
    if (rc == STS_E_INVALID_TOKEN) {
        rc = STS_ERR_PUB(err, STS_E_INVALID_TOKEN, "refresh_token is invalid", "refresh: %s",
                         why);
        goto cleanup;
    }
    if (rc != STS_OK)
        goto cleanup;
    if (t.rec->requester_kind != STS_REQUESTER_CLIENT || !str_eq(t.rec->requester, c->client_id)) {
        rc = STS_ERR_PUB(err, STS_E_INVALID_TOKEN, "refresh_token is invalid",
                         "refresh token %s belongs to another client", t.rec->id);
        goto cleanup;
    }
    if (t.rec->state == STS_TOKEN_RENEWED) {
        /* A rotated refresh token used again: someone holds a copy. Revoke
         * everything issued from it (OAuth 2.0 Security BCP sec. 4.14). */
        sts_store_cancel(e->store, t.rec->id, &changed, NULL);
        sts_warn("refresh token %s reused after rotation: cancelled %d tokens of its family",
                 t.rec->id, changed);
        rc = STS_ERR_PUB(err, STS_E_INVALID_TOKEN, "refresh_token is invalid",
                         "refresh token %s reused", t.rec->id);
        goto cleanup;
    }
    if ((why = sts_vtoken_unusable(e, &t, now)) != NULL) {
        rc = STS_ERR_PUB(err, STS_E_INVALID_TOKEN, "refresh_token is invalid", "refresh %s: %s",
                         t.rec->id, why);
        goto cleanup;
    }
    jt = json_object_get(t.claims, "sts_targets");
    json_array_foreach (jt, i, v)
        if (json_is_string(v) && ntargets < STS_MAX_TARGETS &&
            client_allows(c->audiences, c->naudiences, json_string_value(v)))
            targets[ntargets++] = json_string_value(v);
    STS_FAIL_IF(ntargets == 0, err, STS_E_INVALID_TOKEN, "refresh token %s: no target left",
                t.rec->id);
    STS_CHECK(pick_scope(c, scope_req, t.view->scope, &scope, err));

    /* Rotation: the new refresh token keeps the family's expiry and claims;
     * the access token gets the (possibly narrowed) scope. */
    g.client = c;
    g.subject = t.view->subject;
    g.scope = t.view->scope;
    g.act = json_object_get(t.claims, "act");
    g.now = now;
    g.subject_issuer = t.rec->subject_issuer;
    g.bound = t.rec->bound != 0 && t.rec->bound < t.view->expires ? t.rec->bound : t.view->expires;
    STS_CHECK(mint_refresh(e, &g, jt, t.view->expires, t.rec->id, &rt, &recs[0], err));
    expires = now + sts_engine_lifetime_for(e, targets[0]);
    if (expires > g.bound)
        expires = g.bound;
    g.scope = scope;
    STS_CHECK(mint_access(e, &g, STS_TT_ACCESS_TOKEN, targets, ntargets, expires, rt->id, &at,
                          &recs[1], err));
    recs[0].replaces = t.rec->id;
    rc = sts_store_commit(e->store, t.rec->id, recs, 2, err);
    if (rc == STS_E_UNABLE_TO_RENEW) /* rotated or cancelled by a request in flight */
        rc = STS_ERR_PUB(err, STS_E_INVALID_TOKEN, "refresh_token is invalid",
                         "refresh token %s changed meanwhile", t.rec->id);
    if (rc != STS_OK)
        goto cleanup;
    sts_info("refresh by %s: %s rotated to %s, access token %s", c->client_id, t.rec->id, rt->id,
             at->id);
    at->refresh = rt;
    rt = NULL;
    *out = at;
    at = NULL;
cleanup:
    sts_issued_free(at);
    sts_issued_free(rt);
    free(scope);
    sts_vtoken_clear(&t);
    return rc;
}
