/*
 * sts_rest_json.c - JSON documents of the REST face (jansson, compact).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Encodes what the engine returned; decides nothing. The only transformation
 * is the wire encoding RFC 8693 section 3 asks for: a SAML assertion travels
 * in "access_token" base64url-encoded (without padding, as RFC 7515 base64url).
 */
#include "sts_rest_json.h"

#include "sts_jwt.h"
#include "sts_rest.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Adds @value (stolen, may be NULL after a failed constructor) under @key;
 * clears *ok on any failure so callers check once at the end. */
static void put(json_t *obj, const char *key, json_t *value, int *ok)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *ok = 0;
}

static void put_str(json_t *obj, const char *key, const char *value, int *ok)
{
    put(obj, key, json_string(value), ok);
}

/* Dumps @doc (consumed) compactly, members in insertion order. */
static char *dump(json_t *doc, int ok, size_t *len)
{
    char *out = NULL;

    *len = 0;
    if (doc != NULL && ok)
        out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (out != NULL)
        *len = strlen(out);
    return out;
}

void sts_rest_json_free(char *json)
{
    if (json == NULL)
        return;
    OPENSSL_cleanse(json, strlen(json));
    free(json);
}

/* RFC 6749 5.2: error_description is %x20-21 / %x23-5B / %x5D-7E. */
static int description_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

char *sts_rest_json_error(const char *error, const char *description, size_t *len)
{
    json_t *doc = json_object();
    int ok = doc != NULL;

    if (ok) {
        put_str(doc, "error", error, &ok);
        if (description_ok(description))
            put_str(doc, "error_description", description, &ok);
    }
    return dump(doc, ok, len);
}

static int is_saml(const char *token_type)
{
    return token_type != NULL &&
           (strcmp(token_type, STS_TT_SAML2) == 0 || strcmp(token_type, STS_TT_SAML1) == 0);
}

/* RFC 6749 7.1 / RFC 8693 2.2.1: "Bearer" only for an OAuth access token. */
static const char *usage_type(const char *token_type)
{
    return token_type != NULL && strcmp(token_type, STS_TT_ACCESS_TOKEN) == 0 ? "Bearer" : "N_A";
}

char *sts_rest_json_token(const sts_issued_t *is, const char *requested_scope, size_t *len)
{
    json_t *doc = json_object();
    int ok = doc != NULL;
    char *wire = NULL;

    if (!ok)
        return dump(doc, ok, len);
    if (is_saml(is->token_type)) {
        wire = sts_b64url_encode((const unsigned char *)is->token, is->token_len);
        put(doc, "access_token", wire ? json_string(wire) : NULL, &ok);
        sts_rest_json_free(wire);
    } else {
        put(doc, "access_token", json_stringn(is->token, is->token_len), &ok);
    }
    put_str(doc, "issued_token_type", is->token_type, &ok);
    put_str(doc, "token_type", usage_type(is->token_type), &ok);
    put(doc, "expires_in", json_integer((json_int_t)(is->expires - is->created)), &ok);
    /* RFC 8693 2.2.1: scope is REQUIRED when it differs from the request's,
     * including a scope granted where none was asked for. */
    if (is->scope != NULL && is->scope[0] != '\0' &&
        (requested_scope == NULL || strcmp(is->scope, requested_scope) != 0))
        put_str(doc, "scope", is->scope, &ok);
    if (is->refresh != NULL && is->refresh->token != NULL)
        put(doc, "refresh_token", json_stringn(is->refresh->token, is->refresh->token_len), &ok);
    return dump(doc, ok, len);
}

/* RFC 8693 4.1: the current actor outermost, prior actors nested inside. */
static json_t *act_chain(char *const *actors, size_t n)
{
    json_t *inner = NULL;

    for (size_t i = n; i-- > 0;) {
        json_t *o = json_object();
        int ok = o != NULL;
        if (ok) {
            put_str(o, "sub", actors[i], &ok);
            if (inner != NULL) {
                put(o, "act", inner, &ok);
                inner = NULL;
            }
        }
        json_decref(inner);
        if (!ok) {
            json_decref(o);
            return NULL;
        }
        inner = o;
    }
    return inner;
}

char *sts_rest_json_introspection(const sts_token_view_t *v, int active, size_t *len)
{
    json_t *doc = json_object();
    int ok = doc != NULL;

    if (!ok)
        return dump(doc, ok, len);
    put(doc, "active", json_boolean(active), &ok);
    if (!active || v == NULL)
        return dump(doc, ok, len);
    if (v->scope != NULL)
        put_str(doc, "scope", v->scope, &ok);
    if (v->client_id != NULL)
        put_str(doc, "client_id", v->client_id, &ok);
    put_str(doc, "token_type", usage_type(v->token_type), &ok);
    if (v->token_type != NULL)
        put_str(doc, "issued_token_type", v->token_type, &ok);
    if (v->expires != 0)
        put(doc, "exp", json_integer((json_int_t)v->expires), &ok);
    if (v->issued_at != 0)
        put(doc, "iat", json_integer((json_int_t)v->issued_at), &ok);
    if (v->not_before != 0)
        put(doc, "nbf", json_integer((json_int_t)v->not_before), &ok);
    if (v->subject != NULL)
        put_str(doc, "sub", v->subject, &ok);
    if (v->naudiences == 1) {
        put_str(doc, "aud", v->audiences[0], &ok);
    } else if (v->naudiences > 1) {
        json_t *aud = json_array();
        for (size_t i = 0; aud != NULL && i < v->naudiences; i++)
            if (json_array_append_new(aud, json_string(v->audiences[i])) != 0)
                ok = 0;
        put(doc, "aud", aud, &ok);
    }
    if (v->issuer != NULL)
        put_str(doc, "iss", v->issuer, &ok);
    if (v->id != NULL)
        put_str(doc, "jti", v->id, &ok);
    if (v->nactors > 0)
        put(doc, "act", act_chain(v->actors, v->nactors), &ok);
    if (v->may_act != NULL) {
        json_t *may = json_object();
        if (may != NULL)
            put_str(may, "sub", v->may_act, &ok);
        put(doc, "may_act", may, &ok);
    }
    return dump(doc, ok, len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every client's scopes, sorted, each once. */
static json_t *all_scopes(const sts_cfg_t *cfg)
{
    size_t n = 0, k = 0;
    const char **v;
    json_t *arr = json_array();

    for (size_t c = 0; c < cfg->nclients; c++)
        n += cfg->clients[c].nscopes;
    if (arr == NULL || n == 0)
        return arr;
    v = malloc(n * sizeof(*v));
    if (v == NULL) {
        json_decref(arr);
        return NULL;
    }
    for (size_t c = 0; c < cfg->nclients; c++)
        for (size_t s = 0; s < cfg->clients[c].nscopes; s++)
            v[k++] = cfg->clients[c].scopes[s];
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n && arr != NULL; i++)
        if ((i == 0 || strcmp(v[i], v[i - 1]) != 0) &&
            json_array_append_new(arr, json_string(v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    free(v);
    return arr;
}

static json_t *url(const char *base_url, const char *path)
{
    size_t b = strlen(base_url), p = strlen(path);
    char *s = malloc(b + p + 1);
    json_t *out;

    if (s == NULL)
        return NULL;
    memcpy(s, base_url, b);
    memcpy(s + b, path, p + 1);
    out = json_string(s);
    free(s);
    return out;
}

static json_t *client_auth_methods(void)
{
    return json_pack("[ss]", "client_secret_basic", "client_secret_post");
}

char *sts_rest_json_metadata(const sts_cfg_t *cfg, const char *base_url, size_t *len)
{
    json_t *doc = json_object();
    int ok = doc != NULL;

    if (!ok)
        return dump(doc, ok, len);
    put_str(doc, "issuer", cfg->issuer, &ok);
    put(doc, "token_endpoint", url(base_url, "/token"), &ok);
    put(doc, "introspection_endpoint", url(base_url, "/introspect"), &ok);
    put(doc, "revocation_endpoint", url(base_url, "/revoke"), &ok);
    put(doc, "jwks_uri", url(base_url, "/.well-known/jwks.json"), &ok);
    put(doc, "grant_types_supported",
        json_pack("[ss]", STS_REST_GRANT_TOKEN_EXCHANGE, STS_REST_GRANT_REFRESH), &ok);
    put(doc, "token_endpoint_auth_methods_supported", client_auth_methods(), &ok);
    put(doc, "introspection_endpoint_auth_methods_supported", client_auth_methods(), &ok);
    put(doc, "revocation_endpoint_auth_methods_supported", client_auth_methods(), &ok);
    put(doc, "scopes_supported", all_scopes(cfg), &ok);
    /* REQUIRED by RFC 8414 2; empty: there is no authorization endpoint. */
    put(doc, "response_types_supported", json_array(), &ok);
    return dump(doc, ok, len);
}
