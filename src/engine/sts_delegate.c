/*
 * sts_delegate.c - WS-Trust Issue with OnBehalfOf or ActAs.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The presented token (ours, or a configured trusted issuer's JWT naming us)
 * is read and verified like an RFC 8693 subject_token; its subject becomes the
 * subject of the issued token. ActAs records the requester as the current
 * actor over the token's own chain (JWT "act", SAML 2.0 DelegationRestriction);
 * OnBehalfOf records no new actor (impersonation) but never drops the chain
 * the token already carries. So a token from SOAP ActAs and one from an RFC
 * 8693 exchange with subject_token + actor_token say the same thing.
 *
 * Policy: a delegation rule of the config must allow the requester to do this
 * for that subject (sts_cfg_may_delegate); the token must be usable now and
 * not a refresh token (a cancelled one of ours: STS_E_TOKEN_REVOKED; one that
 * expired but may be renewed, Renewing OK, within the window:
 * STS_E_RENEW_NEEDED); may_act in the token is honoured; what is issued
 * never outlives it and is its child in the store (cancelling it cancels
 * them).
 */
#include "sts_engine_int.h"

#include "sts_log.h"

#include <string.h>

void sts_delegation_clear(sts_delegation_t *d)
{
    json_decref(d->act);
    sts_vtoken_clear(&d->presented);
    memset(d, 0, sizeof(*d));
}

sts_errc_t sts_delegation_read(sts_engine_t *e, const sts_principal_t *who,
                               const sts_issue_req_t *req, time_t now, sts_delegation_t *d,
                               sts_err_t *err)
{
    int act_as = req->act_as != NULL;
    const char *what = act_as ? "ActAs" : "OnBehalfOf", *why = NULL;
    const sts_token_view_t *v;
    sts_vtoken_t *t = &d->presented;
    sts_errc_t rc;

    memset(d, 0, sizeof(*d));
    if (req->act_as != NULL && req->on_behalf_of != NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "OnBehalfOf and ActAs together");
    if (who->user == NULL)
        return STS_ERR(err, STS_E_UNAUTHORIZED, "%s without a user requester", what);
    rc = sts_vtoken_read(e, act_as ? req->act_as : req->on_behalf_of, t, &why, err);
    if (rc == STS_E_INVALID_TOKEN)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "%s token refused: %s", what, why);
    if (rc != STS_OK)
        return rc;
    v = t->view;
    /* WS-Trust's own faults where they fit: a revoked token, and one of ours
     * that expired but may still be renewed (within engine.renew_window). */
    if (t->ours && t->rec->state == STS_TOKEN_CANCELLED) {
        rc = STS_ERR(err, STS_E_TOKEN_REVOKED, "%s token %s is cancelled", what, t->rec->id);
        goto fail;
    }
    if (t->ours && t->rec->state == STS_TOKEN_ACTIVE && v->expires <= now &&
        (t->rec->renew & STS_RENEW_EXPIRED) && now <= t->rec->expires_at + e->cfg->renew_window &&
        t->kind != STS_KIND_REFRESH) {
        rc = STS_ERR(err, STS_E_RENEW_NEEDED, "%s token %s expired: renew it", what, t->rec->id);
        goto fail;
    }
    if (v->holder_of_key) { /* only usable with its key: never the basis of a new token */
        rc = STS_ERR(err, STS_E_INVALID_REQUEST, "%s token %s is holder-of-key", what,
                     t->rec ? t->rec->id : "-");
        goto fail;
    }
    if ((why = sts_vtoken_unusable(e, t, now)) != NULL || v->expires <= now ||
        t->kind == STS_KIND_REFRESH) {
        rc = STS_ERR(err, STS_E_INVALID_REQUEST, "%s token %s: %s", what,
                     t->rec ? t->rec->id : "of a trusted issuer",
                     why ? why : v->expires <= now ? "expired" : "a refresh token");
        goto fail;
    }
    d->subject = v->subject;
    d->subject_issuer = t->ours ? t->rec->subject_issuer : v->issuer;
    if (!sts_cfg_may_delegate(e->cfg, who->user->name, v->subject, d->subject_issuer != NULL,
                              act_as)) {
        rc = STS_ERR(err, STS_E_UNAUTHORIZED, "no delegation rule lets %s use %s for %s",
                     who->user->name, what, v->subject);
        goto fail;
    }
    /* The actor is a user of our realm: its issuer is ours. */
    rc = sts_pick_act(t, act_as ? who->user->name : NULL, act_as ? e->cfg->issuer : NULL,
                      &d->act, err);
    if (rc != STS_OK)
        goto fail;
    d->parent = t->ours ? t->rec->id : NULL;
    d->bound = v->expires;
    if (t->ours && t->rec->bound != 0 && t->rec->bound < d->bound)
        d->bound = t->rec->bound;
    return STS_OK;
fail:
    sts_delegation_clear(d);
    return rc;
}
