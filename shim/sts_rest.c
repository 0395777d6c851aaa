/*
 * sts_rest.c - the RFC 8693 face: endpoints, wire checks, client authentication.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each endpoint reads its parameters, authenticates the client, calls one
 * engine function and encodes the answer (sts_rest_json.c). Errors of every
 * kind go through sts_rest_error_of(): one table, public text from err.pub,
 * the detail to the log only. No token is parsed and no policy decided here;
 * no token, secret or Authorization value is ever logged.
 */
#include "sts_rest.h"

#include "sts_log.h"
#include "sts_rest_error.h"
#include "sts_rest_form.h"
#include "sts_rest_json.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 6749 5.1: token responses (and our errors on the same endpoints) are
 * never cached. */
#define HDR_NO_STORE "Cache-Control: no-store\r\nPragma: no-cache"
/* RFC 6749 5.2: invalid_client is 401 with a challenge for the scheme we take. */
#define HDR_UNAUTHORIZED HDR_NO_STORE "\r\nWWW-Authenticate: Basic realm=\"sts\""
#define HDR_ALLOW_POST "Allow: POST\r\n" HDR_NO_STORE
#define HDR_ALLOW_GET "Allow: GET"
/* Metadata and keys change only when the server restarts with another
 * configuration; five minutes of caching bounds how long a client keeps an
 * old key set after a rotation. */
#define HDR_PUBLIC "Cache-Control: public, max-age=300"

#define CT_JSON "application/json"
#define CT_FORM "application/x-www-form-urlencoded"

typedef enum endpoint_id { EP_TOKEN, EP_INTROSPECT, EP_REVOKE, EP_METADATA, EP_JWKS } endpoint_id_t;

static const struct endpoint {
    const char *path;
    endpoint_id_t id;
    int form; /* 1: POST with a form body; 0: GET */
} endpoints[] = {
    {"/token", EP_TOKEN, 1},
    {"/introspect", EP_INTROSPECT, 1},
    {"/revoke", EP_REVOKE, 1},
    {"/.well-known/oauth-authorization-server", EP_METADATA, 0},
    {"/.well-known/jwks.json", EP_JWKS, 0},
};

/* The endpoint of @path: exact, case-sensitive. A form endpoint is also found
 * with a query string, which form_endpoint() then refuses (RFC 6749 3.2: the
 * parameters go in the body); for the others a query makes it another path. */
static const struct endpoint *find_endpoint(const char *path)
{
    size_t n = path != NULL ? strcspn(path, "?") : 0;

    for (size_t i = 0; path != NULL && i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        if (strcmp(path, endpoints[i].path) == 0)
            return &endpoints[i];
        if (endpoints[i].form && path[n] == '?' && strlen(endpoints[i].path) == n &&
            strncmp(path, endpoints[i].path, n) == 0)
            return &endpoints[i];
    }
    return NULL;
}

sts_http_route_t sts_rest_serves(const char *method, const char *path)
{
    const struct endpoint *ep = find_endpoint(path);

    if (ep == NULL)
        return STS_HTTP_NOT_OURS;
    return ep->form && method != NULL && strcmp(method, "POST") == 0 ? STS_HTTP_FORM
                                                                     : STS_HTTP_NO_BODY;
}

/* One request in flight. */
typedef struct rest_call {
    sts_engine_t *engine;
    const sts_http_request_t *req;
    sts_http_response_t *resp;
    sts_form_t form;
    sts_principal_t who;
    sts_err_t err;
} rest_call_t;

static void respond(sts_http_response_t *resp, int status, char *body, size_t len,
                    const char *content_type, const char *headers)
{
    resp->status = status;
    resp->body = body;
    resp->body_len = body != NULL ? len : 0;
    resp->content_type = body != NULL ? content_type : NULL;
    resp->headers = headers;
}

/*
 * Answers the OAuth error the table gives for @code (@refresh_grant: the
 * refresh_token grant's column), with HTTP @status instead of the table's
 * when non-zero. Logs the refusal with its detail.
 */
static void fail(rest_call_t *c, sts_errc_t code, int refresh_grant, int status)
{
    const sts_rest_error_t *e = sts_rest_error_of(code, refresh_grant);
    const char *pub = c->err.pub[0] != '\0' ? c->err.pub : sts_errc_str(code);
    size_t len = 0;
    char *body;

    if (e == NULL) /* STS_OK or a code without a row: our bug, never the client's */
        e = sts_rest_error_of(STS_E_INTERNAL, 0);
    if (status == 0)
        status = e->status;
    body = sts_rest_json_error(e->error, pub, &len);
    respond(c->resp, body != NULL ? status : 500, body, len, CT_JSON,
            status == 401 ? HDR_UNAUTHORIZED : HDR_NO_STORE);
    sts_info("%s %.*s -> %d %s (%s: %s)", c->req->method, sts_http_log_path_len(c->req->path),
             c->req->path, c->resp->status, e->error, sts_errc_name(code),
             c->err.detail[0] != '\0' ? c->err.detail : "-");
}

/* An encoder ran out of memory: nothing to answer but a server error. */
static void no_memory(rest_call_t *c)
{
    STS_ERR(&c->err, STS_E_NOMEM, "encoding the response");
    fail(c, STS_E_NOMEM, 0, 0);
}

/* ---- parameters --------------------------------------------------------------- */

/*
 * The single value of @name. RFC 6749 3.1: a parameter sent without a value
 * is treated as omitted, and none may be included more than once; @name is
 * one of ours, so it may appear in the public text.
 */
static sts_errc_t param(rest_call_t *c, const char *name, int required, const char **out)
{
    const char *v, *hit = NULL;
    size_t n = 0;
    char pub[96];

    *out = NULL;
    for (size_t i = 0; (v = sts_form_nth(&c->form, name, i)) != NULL; i++)
        if (v[0] != '\0') {
            hit = v;
            n++;
        }
    if (n > 1) {
        snprintf(pub, sizeof(pub), "Parameter %s is repeated", name);
        return STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST, pub, "parameter %s repeated %zu times",
                           name, n);
    }
    if (n == 0 && required) {
        snprintf(pub, sizeof(pub), "Parameter %s is missing", name);
        return STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST, pub, "parameter %s missing", name);
    }
    *out = hit;
    return STS_OK;
}

/* The non-empty values of a parameter that may repeat (audience, resource). */
static size_t params(rest_call_t *c, const char *name, const char **out)
{
    const char *v;
    size_t n = 0;

    for (size_t i = 0; (v = sts_form_nth(&c->form, name, i)) != NULL; i++)
        if (v[0] != '\0')
            out[n++] = v; /* at most STS_FORM_MAX_PARAMS */
    return n;
}

int sts_rest_form_media_type(const char *content_type, const char **why)
{
    const char *p = content_type;
    size_t n;

    if (p == NULL) {
        *why = "no Content-Type";
        return 0;
    }
    p += strspn(p, " \t");
    n = strcspn(p, "; \t");
    if (n != strlen(CT_FORM) || strncasecmp(p, CT_FORM, n) != 0) {
        *why = "media type is not application/x-www-form-urlencoded";
        return 0;
    }
    p += n;
    for (;;) {
        const char *name, *value;
        size_t nlen, vlen;

        p += strspn(p, " \t");
        if (*p == '\0')
            return 1;
        if (*p != ';') {
            *why = "malformed media type parameters";
            return 0;
        }
        p++;
        p += strspn(p, " \t");
        name = p;
        nlen = strcspn(p, "=; \t");
        p += nlen;
        if (*p != '=') {
            if (nlen == 0)
                continue; /* "type;" or "; ;": empty parameter */
            *why = "malformed media type parameter";
            return 0;
        }
        p++;
        if (*p == '"') { /* quoted-string, without escapes (none is needed for a charset) */
            value = ++p;
            vlen = strcspn(p, "\"");
            if (p[vlen] != '"') {
                *why = "unterminated quoted parameter";
                return 0;
            }
            p += vlen + 1;
        } else {
            value = p;
            vlen = strcspn(p, "; \t");
            p += vlen;
        }
        if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
            !(vlen == 5 && strncasecmp(value, "utf-8", 5) == 0)) {
            *why = "charset other than UTF-8";
            return 0;
        }
    }
}

/* ---- client authentication (RFC 6749 2.3.1) -------------------------------------- */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/*
 * Strict base64 (RFC 4648 section 4): whole quanta, padding only at the end,
 * zero pad bits. Returns a new buffer of *outlen bytes + NUL, or NULL.
 */
static char *b64_decode_strict(const char *in, size_t len, size_t *outlen)
{
    size_t pad = 0, o = 0;
    char *out;

    if (len == 0 || len % 4 != 0)
        return NULL;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    out = malloc(len / 4 * 3 + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        unsigned long q;
        size_t last = i + 4 == len, data = last ? 4 - pad : 4;
        for (size_t k = 0; k < 4; k++) {
            v[k] = k < data ? b64val((unsigned char)in[i + k]) : 0;
            if (v[k] < 0 || (k >= data && in[i + k] != '='))
                goto bad;
        }
        q = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
            (unsigned long)v[3];
        if ((data == 2 && (q & 0xffff) != 0) || (data == 3 && (q & 0xff) != 0))
            goto bad; /* non-zero pad bits: not the canonical encoding */
        out[o++] = (char)(q >> 16);
        if (data > 2)
            out[o++] = (char)(q >> 8 & 0xff);
        if (data > 3)
            out[o++] = (char)(q & 0xff);
    }
    out[o] = '\0';
    *outlen = o;
    return out;
bad:
    OPENSSL_cleanse(out, len / 4 * 3 + 1);
    free(out);
    return NULL;
}

/*
 * Parses "Basic <base64(urlencode(id) ':' urlencode(secret))>" (RFC 7617,
 * RFC 6749 2.3.1): the scheme case-insensitively, strict base64, split at the
 * first ':', each half form-decoded. *id and *secret are new (wipe and free
 * with sts_form_free_value()). Returns 0, or -1 with *why set.
 */
static int parse_basic(const char *value, char **id, char **secret, const char **why)
{
    const char *p = value, *colon;
    size_t len, raw_len = 0;
    char *raw;

    *id = *secret = NULL;
    p += strspn(p, " \t");
    if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t')) {
        *why = "Authorization scheme is not Basic";
        return -1;
    }
    p += 5;
    p += strspn(p, " \t");
    len = strcspn(p, " \t");
    if (p[len + strspn(p + len, " \t")] != '\0') {
        *why = "Basic credentials are not one token";
        return -1;
    }
    raw = b64_decode_strict(p, len, &raw_len);
    if (raw == NULL) {
        *why = "Basic credentials are not strict base64";
        return -1;
    }
    colon = memchr(raw, ':', raw_len);
    if (colon == NULL || memchr(raw, '\0', raw_len) != NULL) {
        *why = colon == NULL ? "Basic credentials without ':'" : "Basic credentials hold a NUL";
    } else {
        *id = sts_form_decode(raw, (size_t)(colon - raw), STS_REST_MAX_VALUE);
        *secret =
            sts_form_decode(colon + 1, raw_len - (size_t)(colon + 1 - raw), STS_REST_MAX_VALUE);
        if (*id == NULL || *secret == NULL)
            *why = "Basic credentials are not form-urlencoded";
    }
    OPENSSL_cleanse(raw, raw_len);
    free(raw);
    if (*id != NULL && *secret != NULL)
        return 0;
    sts_form_free_value(*id);
    sts_form_free_value(*secret);
    *id = *secret = NULL;
    return -1;
}

/*
 * client_secret_basic or client_secret_post, never both (RFC 6749 2.3: one
 * method per request). Fills c->who.
 */
static sts_errc_t authenticate_client(rest_call_t *c)
{
    const sts_http_request_t *req = c->req;
    const char *post_id = NULL, *post_secret = NULL, *why = NULL;
    char *id = NULL, *secret = NULL;
    sts_errc_t rc;

    if ((rc = param(c, "client_id", 0, &post_id)) != STS_OK ||
        (rc = param(c, "client_secret", 0, &post_secret)) != STS_OK)
        return rc;
    if (req->n_authorization > 1)
        return STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST, "More than one Authorization header",
                           "%d Authorization headers", req->n_authorization);
    if (req->n_authorization == 1 && req->authorization != NULL) {
        if (post_secret != NULL)
            return STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST,
                               "More than one client authentication method",
                               "Authorization header and client_secret in the body");
        if (parse_basic(req->authorization, &id, &secret, &why) != 0)
            return STS_ERR(&c->err, STS_E_AUTH_FAILED, "%s", why);
        if (post_id != NULL && strcmp(post_id, id) != 0)
            rc = STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST,
                             "client_id differs from the authenticated client",
                             "body client_id differs from the Basic one");
        else
            rc = sts_engine_authenticate_client(c->engine, id, secret, &c->who, &c->err);
        sts_form_free_value(id);
        sts_form_free_value(secret);
        return rc;
    }
    if (post_id == NULL || post_secret == NULL)
        return STS_ERR(&c->err, STS_E_AUTH_FAILED, "%s",
                       post_id == NULL && post_secret == NULL
                           ? "no client authentication"
                           : "client_secret_post needs client_id and client_secret");
    return sts_engine_authenticate_client(c->engine, post_id, post_secret, &c->who, &c->err);
}

/* ---- endpoints ------------------------------------------------------------------ */

/* Answers an issued token (consumed). */
static void answer_issued(rest_call_t *c, sts_issued_t *is, const char *requested_scope,
                          const char *grant)
{
    size_t len = 0;
    char *body = sts_rest_json_token(is, requested_scope, &len);

    if (body == NULL) {
        sts_issued_free(is);
        no_memory(c);
        return;
    }
    sts_info("%s %s -> 200: %s (%s) for client %s", c->req->method, c->req->path,
             is->token_type ? is->token_type : "-", grant, c->who.client->client_id);
    sts_issued_free(is);
    respond(c->resp, 200, body, len, CT_JSON, HDR_NO_STORE);
}

/* RFC 8693 2.1. */
static void token_exchange(rest_call_t *c)
{
    const char *audiences[STS_FORM_MAX_PARAMS], *resources[STS_FORM_MAX_PARAMS];
    const char *subject, *subject_type, *actor, *actor_type, *requested, *scope;
    sts_exchange_req_t x;
    sts_issued_t *is = NULL;
    sts_errc_t rc;

    if ((rc = param(c, "subject_token", 1, &subject)) != STS_OK ||
        (rc = param(c, "subject_token_type", 1, &subject_type)) != STS_OK ||
        (rc = param(c, "actor_token", 0, &actor)) != STS_OK ||
        (rc = param(c, "actor_token_type", 0, &actor_type)) != STS_OK ||
        (rc = param(c, "requested_token_type", 0, &requested)) != STS_OK ||
        (rc = param(c, "scope", 0, &scope)) != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    if ((actor == NULL) != (actor_type == NULL)) {
        STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST, "actor_token and actor_token_type go together",
                    "%s without %s", actor ? "actor_token" : "actor_token_type",
                    actor ? "actor_token_type" : "actor_token");
        fail(c, STS_E_INVALID_REQUEST, 0, 0);
        return;
    }
    memset(&x, 0, sizeof(x));
    x.subject.text = subject;
    x.subject.text_len = strlen(subject);
    x.subject.type = subject_type;
    x.actor.text = actor;
    x.actor.text_len = actor ? strlen(actor) : 0;
    x.actor.type = actor_type;
    x.requested_token_type = requested;
    x.naudiences = params(c, "audience", audiences);
    x.audiences = audiences;
    x.nresources = params(c, "resource", resources);
    x.resources = resources;
    x.scope = scope;
    rc = sts_engine_exchange(c->engine, &c->who, &x, &is, &c->err);
    if (rc != STS_OK) {
        sts_issued_free(is);
        fail(c, rc, 0, 0);
        return;
    }
    answer_issued(c, is, scope, "token-exchange");
}

/* RFC 6749 6. */
static void refresh_grant(rest_call_t *c)
{
    const char *refresh, *scope;
    sts_token_in_t tok;
    sts_issued_t *is = NULL;
    sts_errc_t rc;

    if ((rc = param(c, "refresh_token", 1, &refresh)) != STS_OK ||
        (rc = param(c, "scope", 0, &scope)) != STS_OK) {
        fail(c, rc, 1, 0);
        return;
    }
    memset(&tok, 0, sizeof(tok));
    tok.text = refresh;
    tok.text_len = strlen(refresh);
    tok.type = STS_TT_REFRESH_TOKEN;
    rc = sts_engine_refresh(c->engine, &c->who, &tok, scope, &is, &c->err);
    if (rc != STS_OK) {
        sts_issued_free(is);
        fail(c, rc, 1, 0);
        return;
    }
    answer_issued(c, is, scope, "refresh_token");
}

static void token_endpoint(rest_call_t *c)
{
    const char *grant;
    sts_errc_t rc = param(c, "grant_type", 1, &grant);

    if (rc != STS_OK) {
        fail(c, rc, 0, 0);
    } else if (strcmp(grant, STS_REST_GRANT_TOKEN_EXCHANGE) == 0) {
        token_exchange(c);
    } else if (strcmp(grant, STS_REST_GRANT_REFRESH) == 0) {
        refresh_grant(c);
    } else {
        STS_ERR(&c->err, STS_E_UNSUPPORTED_GRANT, "grant_type \"%.64s\"", grant);
        fail(c, STS_E_UNSUPPORTED_GRANT, 0, 0);
    }
}

/* RFC 7662: "token", and "token_type_hint", which we do not need. */
static void introspect_endpoint(rest_call_t *c)
{
    const char *token, *hint;
    sts_token_in_t tok;
    sts_verdict_t verdict;
    sts_errc_t rc;
    size_t len = 0;
    char *body;

    if ((rc = param(c, "token", 1, &token)) != STS_OK ||
        (rc = param(c, "token_type_hint", 0, &hint)) != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    memset(&tok, 0, sizeof(tok));
    memset(&verdict, 0, sizeof(verdict));
    tok.text = token;
    tok.text_len = strlen(token);
    rc = sts_engine_validate(c->engine, &c->who, &tok, &verdict, &c->err);
    if (rc != STS_OK) {
        sts_verdict_clear(&verdict);
        fail(c, rc, 0, 0);
        return;
    }
    if (verdict.valid && verdict.view == NULL)
        sts_warn("introspect: the engine called a token valid without a view");
    body = sts_rest_json_introspection(verdict.view, verdict.valid, &len);
    if (body == NULL) {
        sts_verdict_clear(&verdict);
        no_memory(c);
        return;
    }
    sts_info("%s %s -> 200: active %s (%s) for client %s", c->req->method, c->req->path,
             verdict.valid ? "true" : "false", verdict.reason ? verdict.reason : "-",
             c->who.client->client_id);
    sts_verdict_clear(&verdict);
    respond(c->resp, 200, body, len, CT_JSON, HDR_NO_STORE);
}

/* RFC 7009: 200 with no body, also for a token that is unknown or invalid. */
static void revoke_endpoint(rest_call_t *c)
{
    const char *token, *hint;
    sts_token_in_t tok;
    sts_errc_t rc;

    if ((rc = param(c, "token", 1, &token)) != STS_OK ||
        (rc = param(c, "token_type_hint", 0, &hint)) != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    memset(&tok, 0, sizeof(tok));
    tok.text = token;
    tok.text_len = strlen(token);
    rc = sts_engine_revoke(c->engine, &c->who, &tok, &c->err);
    if (rc != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    sts_info("%s %s -> 200 for client %s", c->req->method, c->req->path, c->who.client->client_id);
    respond(c->resp, 200, NULL, 0, NULL, HDR_NO_STORE);
}

static void form_endpoint(rest_call_t *c, const struct endpoint *ep)
{
    const char *why = NULL;
    sts_errc_t rc;
    int defaulted = 0;

    /* Before anything is read: over plain HTTP the client secret and the
     * tokens would already have crossed the network in clear, and the answer
     * would carry new ones the same way. */
    if (sts_cfg_rest_requires_tls(sts_engine_cfg(c->engine), &defaulted)) {
        STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST, "TLS is required: use https",
                    "plain HTTP refused (rest.require_tls%s)",
                    defaulted ? " not set, listening on a non-loopback address" : "");
        fail(c, STS_E_INVALID_REQUEST, 0, 0);
        return;
    }
    if (strchr(c->req->path, '?') != NULL) {
        STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST,
                    "Parameters go in the request body, not in the URI query",
                    "query string on %s", ep->path);
        fail(c, STS_E_INVALID_REQUEST, 0, 0);
        return;
    }
    if (!sts_rest_form_media_type(c->req->content_type, &why)) {
        STS_ERR_PUB(&c->err, STS_E_INVALID_REQUEST,
                    "Content-Type must be application/x-www-form-urlencoded (UTF-8)", "%s", why);
        fail(c, STS_E_INVALID_REQUEST, 0, 415);
        return;
    }
    rc = sts_form_parse(c->req->body ? c->req->body : "", c->req->body_len, STS_REST_MAX_VALUE,
                        &c->form, &c->err);
    if (rc != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    if ((rc = authenticate_client(c)) != STS_OK) {
        fail(c, rc, 0, 0);
        return;
    }
    switch (ep->id) {
    case EP_TOKEN:
        token_endpoint(c);
        break;
    case EP_INTROSPECT:
        introspect_endpoint(c);
        break;
    case EP_REVOKE:
        revoke_endpoint(c);
        break;
    default:
        STS_ERR(&c->err, STS_E_INTERNAL, "no form handler for %s", ep->path);
        fail(c, STS_E_INTERNAL, 0, 0);
        break;
    }
}

static void get_endpoint(rest_call_t *c, const struct endpoint *ep, const char *base_url)
{
    const char *jwks;
    char *body = NULL;
    size_t len = 0;

    if (ep->id == EP_METADATA) {
        body = sts_rest_json_metadata(sts_engine_cfg(c->engine), base_url, &len);
    } else {
        jwks = sts_engine_jwks(c->engine);
        len = jwks ? strlen(jwks) : 0;
        if (jwks != NULL && (body = malloc(len + 1)) != NULL)
            memcpy(body, jwks, len + 1);
    }
    if (body == NULL) {
        STS_ERR(&c->err, ep->id == EP_METADATA ? STS_E_NOMEM : STS_E_INTERNAL, "%s unavailable",
                ep->path);
        fail(c, c->err.code, 0, 0);
        c->resp->headers = NULL; /* an error here is nothing to keep from caches */
        return;
    }
    respond(c->resp, 200, body, len, CT_JSON, HDR_PUBLIC);
}

void sts_rest_handle(sts_engine_t *engine, const char *base_url, const sts_http_request_t *req,
                     sts_http_response_t *resp)
{
    const struct endpoint *ep = find_endpoint(req->path);
    rest_call_t c;

    memset(resp, 0, sizeof(*resp));
    memset(&c, 0, sizeof(c));
    c.engine = engine;
    c.req = req;
    c.resp = resp;
    if (ep == NULL) {
        sts_info("%s %.*s -> 404", req->method, sts_http_log_path_len(req->path), req->path);
        respond(resp, 404, NULL, 0, NULL, NULL);
        return;
    }
    if (strcmp(req->method, ep->form ? "POST" : "GET") != 0) {
        sts_info("%s %.*s -> 405", req->method, sts_http_log_path_len(req->path), req->path);
        respond(resp, 405, NULL, 0, NULL, ep->form ? HDR_ALLOW_POST : HDR_ALLOW_GET);
        return;
    }
    if (ep->form)
        form_endpoint(&c, ep);
    else
        get_endpoint(&c, ep, base_url);
    sts_form_free(&c.form);
}

void sts_rest_refuse(const char *method, const char *path, int status, const char *why,
                     sts_http_response_t *resp)
{
    sts_http_request_t req;
    rest_call_t c;

    memset(resp, 0, sizeof(*resp));
    memset(&req, 0, sizeof(req));
    memset(&c, 0, sizeof(c));
    req.method = method;
    req.path = path;
    c.req = &req;
    c.resp = resp;
    STS_ERR_PUB(&c.err, STS_E_INVALID_REQUEST,
                status == 415   ? "The body must be application/x-www-form-urlencoded (UTF-8), "
                                  "without Content-Encoding"
                : status == 413 ? "The request body is too large"
                : status == 411 ? "Content-Length is required"
                                : "The request was invalid or malformed",
                "%s", why ? why : "-");
    fail(&c, STS_E_INVALID_REQUEST, 0, status);
}

void sts_rest_response_free(sts_http_response_t *resp)
{
    if (resp == NULL)
        return;
    if (resp->body != NULL) {
        OPENSSL_cleanse(resp->body, resp->body_len);
        free(resp->body);
    }
    memset(resp, 0, sizeof(*resp));
}

static void handle_ctx(void *ctx, const char *base_url, const sts_http_request_t *req,
                       sts_http_response_t *resp)
{
    sts_rest_handle(ctx, base_url, req, resp);
}

const sts_http_face_t *sts_rest_face(void)
{
    static const sts_http_face_t face = {sts_rest_serves, sts_rest_form_media_type, handle_ctx,
                                         sts_rest_refuse, sts_rest_response_free};
    return &face;
}
