/*
 * sts_claims.c - which attributes an assertion carries.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Attributes come only from a user of the realm (never for another issuer's
 * subject of the same name) and only those its relying party is released
 * (relying_parties[].claims, by attribute name or claim URI; absent: all).
 * Without wst:Claims an assertion carries every released attribute under
 * its plain name. With wst:Claims (dialect .../2005/05/identity) it carries
 * exactly the claims asked for that can be supplied, named by their URI as
 * the relying party asked; a required one that cannot be supplied fails the
 * request, an optional one is left out.
 */
#include "sts_engine_int.h"

#include "sts_log.h"

#include <stdlib.h>
#include <string.h>

#define IDENTITY_CLAIMS "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"

/* Well-known claim types -> the attribute of our users that supplies them;
 * NULL: the subject's name itself. Any other claim URI is supplied by an
 * attribute of exactly that name. */
static const struct {
    const char *uri;
    const char *attr;
} known_claims[] = {
    {IDENTITY_CLAIMS "emailaddress", "email"},
    {IDENTITY_CLAIMS "givenname", "givenName"},
    {IDENTITY_CLAIMS "surname", "surname"},
    {IDENTITY_CLAIMS "upn", "upn"},
    {IDENTITY_CLAIMS "name", NULL},
    {IDENTITY_CLAIMS "nameidentifier", NULL},
    {"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "role"},
};

static int listed(char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

static const sts_cfg_attr_t *user_attr(const sts_cfg_user_t *user, const char *name)
{
    for (size_t i = 0; user != NULL && name != NULL && i < user->nattrs; i++)
        if (strcmp(user->attrs[i].name, name) == 0)
            return &user->attrs[i];
    return NULL;
}

int sts_rp_accepts(const sts_cfg_rp_t *rp, int kind)
{
    /* A party that wants its tokens encrypted gets no JWT: there is no JWE here. */
    if (rp != NULL && rp->encryption_cert != NULL && kind == STS_KIND_JWT)
        return 0;
    const char *name = kind == STS_KIND_SAML2    ? "saml2"
                       : kind == STS_KIND_SAML11 ? "saml1"
                                                 : "jwt";
    return rp == NULL || rp->token_types == NULL || listed(rp->token_types, rp->ntoken_types, name);
}

/* Fill @a with claim @uri for @subject (@user: its realm entry, or NULL).
 * Returns 1 when it can be supplied to @rp, 0 when not. */
static int supply(const sts_cfg_rp_t *rp, const sts_cfg_user_t *user, const char *const *subject,
                  const char *uri, sts_saml_attr_t *a)
{
    const char *attr = uri;
    int by_subject = 0;
    const sts_cfg_attr_t *ua;

    for (size_t k = 0; k < sizeof(known_claims) / sizeof(known_claims[0]); k++)
        if (strcmp(known_claims[k].uri, uri) == 0) {
            attr = known_claims[k].attr;
            by_subject = attr == NULL;
        }
    if (rp != NULL && rp->claims != NULL && !listed(rp->claims, rp->nclaims, uri) &&
        (attr == NULL || !listed(rp->claims, rp->nclaims, attr)))
        return 0; /* not released to this party */
    a->name = uri;
    a->uri = 1;
    if (by_subject) {
        a->values = subject;
        a->nvalues = 1;
        return 1;
    }
    if ((ua = user_attr(user, attr)) == NULL || ua->nvalues == 0)
        return 0;
    a->values = (const char *const *)ua->values;
    a->nvalues = ua->nvalues;
    return 1;
}

sts_errc_t sts_claims_release(const sts_engine_t *e, const sts_saml_mint_params_t *sp,
                              sts_saml_attr_t **out, size_t *nout, sts_err_t *err)
{
    const sts_cfg_rp_t *rp = sts_cfg_find_rp(e->cfg, sp->audience);
    const sts_cfg_user_t *user =
        sp->origin.subject_issuer == NULL ? sts_cfg_find_user(e->cfg, sp->origin.subject) : NULL;
    size_t cap = sp->with_claims ? sp->nclaims : user ? user->nattrs : 0, n = 0;
    sts_saml_attr_t *attrs = calloc(cap ? cap : 1, sizeof(*attrs));

    *out = NULL;
    *nout = 0;
    if (attrs == NULL)
        return STS_ERR(err, STS_E_NOMEM, "attribute list");
    if (!sp->with_claims) {
        for (size_t i = 0; user != NULL && i < user->nattrs; i++) {
            const sts_cfg_attr_t *ua = &user->attrs[i];
            if (rp != NULL && rp->claims != NULL && !listed(rp->claims, rp->nclaims, ua->name))
                continue;
            attrs[n].name = ua->name;
            attrs[n].values = (const char *const *)ua->values;
            attrs[n++].nvalues = ua->nvalues;
        }
    } else {
        for (size_t i = 0; i < sp->nclaims; i++) {
            const sts_claim_req_t *c = &sp->claims[i];
            if (supply(rp, user, &sp->origin.subject, c->uri, &attrs[n])) {
                n++;
            } else if (!c->optional) {
                free(attrs);
                return STS_ERR(err, STS_E_REQUEST_FAILED,
                               "required claim %s cannot be supplied for %s", c->uri,
                               sp->audience);
            }
        }
    }
    *out = attrs;
    *nout = n;
    return STS_OK;
}
