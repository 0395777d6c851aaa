/*
 * test_rest.c - the REST face: form decoder, OAuth error table, JSON
 * encoders, and sts_rest_handle() on a real engine (embedded default realm,
 * SQLite store in a temporary directory), no network.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_engine.h"
#include "sts_keys.h"
#include "sts_rest.h"
#include "sts_rest_error.h"
#include "sts_rest_form.h"
#include "sts_rest_json.h"
#include "sts_test.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parses(const char *body, size_t max, sts_form_t *f)
{
    return sts_form_parse(body, strlen(body), max, f, NULL) == STS_OK;
}

static void test_form(void)
{
    sts_form_t f;
    const char *v = NULL;
    sts_err_t err;

    /* RFC 8693 section 2.3's request, verbatim */
    CHECK(parses("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                 "&resource=https%3A%2F%2Fbackend.example.com%2Fapi"
                 "&subject_token=accVkjcJyb4BWCxGsndESCJQbdFMogUC5PbRDqceLTC"
                 "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
                 4096, &f));
    CHECK(f.n == 4);
    CHECK(sts_form_one(&f, "grant_type", 1, &v, &err) == STS_OK && v &&
          strcmp(v, "urn:ietf:params:oauth:grant-type:token-exchange") == 0);
    CHECK(sts_form_one(&f, "resource", 1, &v, &err) == STS_OK && v &&
          strcmp(v, "https://backend.example.com/api") == 0);
    CHECK(sts_form_one(&f, "scope", 0, &v, &err) == STS_OK && v == NULL);
    CHECK(sts_form_one(&f, "scope", 1, &v, &err) == STS_E_INVALID_REQUEST);
    CHECK(strstr(err.detail, "scope missing") != NULL);
    sts_form_free(&f);

    /* '+' is a space, escapes of either case, empty values and empty pairs */
    CHECK(parses("scope=a+b%2bc%2Fd&empty=&bare&&x=%41", 64, &f));
    CHECK(strcmp(sts_form_nth(&f, "scope", 0), "a b+c/d") == 0);
    CHECK(strcmp(sts_form_nth(&f, "empty", 0), "") == 0);
    CHECK(strcmp(sts_form_nth(&f, "bare", 0), "") == 0);
    CHECK(strcmp(sts_form_nth(&f, "x", 0), "A") == 0);
    CHECK(f.n == 4);
    sts_form_free(&f);

    /* repeats: kept in order, an error only where one value is read */
    CHECK(parses("audience=a&resource=r1&audience=b&resource=r2", 64, &f));
    CHECK(sts_form_count(&f, "audience") == 2);
    CHECK(strcmp(sts_form_nth(&f, "audience", 1), "b") == 0);
    CHECK(strcmp(sts_form_nth(&f, "resource", 1), "r2") == 0);
    CHECK(sts_form_nth(&f, "resource", 2) == NULL);
    CHECK(sts_form_one(&f, "audience", 0, &v, &err) == STS_E_INVALID_REQUEST && v == NULL);
    CHECK(strstr(err.detail, "repeated") != NULL);
    sts_form_free(&f);

    /* refused, never silently dropped */
    CHECK(!parses("subject_token=%4", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=%zz", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=a%00b", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("=value", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=0123456789", 9, &f)); /* over the value limit */
    sts_form_free(&f);
    CHECK(parses("subject_token=012345678", 9, &f)); /* at it */
    sts_form_free(&f);
    /* a name over STS_FORM_MAX_NAME is an unknown parameter: dropped, not refused (RFC 6749
     * 3.1, 3.2), though it counts; its value is checked like any other */
    CHECK(parses("a_name_longer_than_sixty_four_bytes_is_not_a_parameter_we_could_know_of=1&x=2",
                 64, &f));
    CHECK(f.n == 2 && sts_form_count(&f, "x") == 1 && sts_form_nth(&f, "x", 0) != NULL &&
          strcmp(sts_form_nth(&f, "x", 0), "2") == 0);
    CHECK(sts_form_count(
              &f, "a_name_longer_than_sixty_four_bytes_is_not_a_parameter_we_could_know_of") == 0);
    sts_form_free(&f);
    {
        char name[STS_FORM_MAX_NAME + 2];
        char body[2 * sizeof(name) + 32];
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        name[STS_FORM_MAX_NAME] = '\0'; /* exactly the limit: kept */
        snprintf(body, sizeof(body), "%s=v", name);
        CHECK(parses(body, 64, &f) && sts_form_count(&f, name) == 1);
        sts_form_free(&f);
        name[STS_FORM_MAX_NAME] = 'n'; /* one byte more: dropped */
        snprintf(body, sizeof(body), "%s=v", name);
        CHECK(parses(body, 64, &f) && f.n == 1 && sts_form_count(&f, name) == 0);
        sts_form_free(&f);
        snprintf(body, sizeof(body), "%s=%%zz", name); /* still a malformed body */
        CHECK(!parses(body, 64, &f));
        sts_form_free(&f);
        snprintf(body, sizeof(body), "%s=0123456789", name); /* the value limit still holds */
        CHECK(!parses(body, 9, &f));
        sts_form_free(&f);
    }
    /* names and values are UTF-8 (RFC 6749 B): invalid, overlong and surrogate forms refused */
    CHECK(parses("scope=%C3%A9%E2%82%AC%F0%9F%98%80", 64, &f));
    CHECK(strcmp(sts_form_nth(&f, "scope", 0), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
    sts_form_free(&f);
    {
        static const char *const bad[] = {"scope=%FF", "scope=%C0%AF", "scope=%E0%80%AF",
                                          "scope=%ED%A0%80", "scope=%F4%90%80%80", "scope=a%C3",
                                          "scope=%80", "sc%FFope=x", NULL};
        for (size_t i = 0; bad[i] != NULL; i++) {
            err.detail[0] = '\0';
            CHECK(sts_form_parse(bad[i], strlen(bad[i]), 64, &f, &err) == STS_E_INVALID_REQUEST);
            CHECK(strstr(err.detail, "not UTF-8") != NULL);
            sts_form_free(&f);
        }
    }
    {
        char body[STS_FORM_MAX_PARAMS * 4 + 8];
        size_t n = 0;
        for (int i = 0; i <= STS_FORM_MAX_PARAMS; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%sp=%d", i ? "&" : "", i % 10);
        CHECK(!parses(body, 64, &f)); /* one parameter too many */
        sts_form_free(&f);
    }
    /* a body that is not NUL-terminated: only @len bytes are read */
    CHECK(sts_form_parse("a=1&b=2XXXX", 7, 64, &f, NULL) == STS_OK && f.n == 2 &&
          strcmp(sts_form_nth(&f, "b", 0), "2") == 0);
    sts_form_free(&f);
}

static void test_error_table(void)
{
    const sts_rest_error_t *e;

    for (int c = 1; c < STS_E_LAST; c++) {
        CHECK(sts_rest_error_of((sts_errc_t)c, 0) != NULL);
        CHECK(sts_rest_error_of((sts_errc_t)c, 1) != NULL);
    }
    CHECK(sts_rest_error_of(STS_OK, 0) == NULL);
    CHECK(sts_rest_error_of(STS_E_LAST, 0) == NULL);
    /* RFC 8693 2.2.2: a bad subject/actor token is invalid_request ... */
    e = sts_rest_error_of(STS_E_INVALID_TOKEN, 0);
    CHECK(strcmp(e->error, "invalid_request") == 0 && e->status == 400);
    /* ... but a bad refresh token is invalid_grant (RFC 6749 5.2) */
    e = sts_rest_error_of(STS_E_INVALID_TOKEN, 1);
    CHECK(strcmp(e->error, "invalid_grant") == 0 && e->status == 400);
    e = sts_rest_error_of(STS_E_AUTH_FAILED, 0);
    CHECK(strcmp(e->error, "invalid_client") == 0 && e->status == 401);
    e = sts_rest_error_of(STS_E_INVALID_TARGET, 0);
    CHECK(strcmp(e->error, "invalid_target") == 0 && e->status == 400);
    e = sts_rest_error_of(STS_E_INVALID_SCOPE, 0);
    CHECK(strcmp(e->error, "invalid_scope") == 0);
    e = sts_rest_error_of(STS_E_UNSUPPORTED_GRANT, 0);
    CHECK(strcmp(e->error, "unsupported_grant_type") == 0);
    e = sts_rest_error_of(STS_E_UNAUTHORIZED, 0);
    CHECK(strcmp(e->error, "unauthorized_client") == 0);
    e = sts_rest_error_of(STS_E_BACKEND, 0);
    CHECK(strcmp(e->error, "server_error") == 0 && e->status == 500);
}

/* ---- JSON encoders -------------------------------------------------------------- */

static json_t *load(const char *text)
{
    return text != NULL ? json_loads(text, 0, NULL) : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_json_token(void)
{
    static char xml[] =
        "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>?>";
    sts_issued_t is, rt;
    json_t *j;
    size_t len = 0;
    char *out;

    memset(&is, 0, sizeof(is));
    memset(&rt, 0, sizeof(rt));
    /* SAML: base64url without padding (RFC 8693 3), not an access token */
    is.token = xml;
    is.token_len = strlen(xml);
    is.token_type = STS_TT_SAML2;
    is.created = 1000;
    is.expires = 1600;
    out = sts_rest_json_token(&is, NULL, &len);
    CHECK(out != NULL && len == strlen(out));
    j = load(out);
    CHECK(j != NULL);
    {
        const char *at = jstr(j, "access_token");
        unsigned char back[256];
        char std[256];
        size_t n = at ? strlen(at) : 0;
        CHECK(at != NULL && strchr(at, '=') == NULL && strchr(at, '+') == NULL &&
              strchr(at, '/') == NULL);
        /* back to standard base64 with padding, then decode */
        for (size_t i = 0; i < n && i < 200; i++)
            std[i] = at[i] == '-' ? '+' : at[i] == '_' ? '/' : at[i];
        while (n % 4)
            std[n++] = '=';
        std[n] = '\0';
        CHECK(EVP_DecodeBlock(back, (unsigned char *)std, (int)n) >= (int)strlen(xml) &&
              memcmp(back, xml, strlen(xml)) == 0);
    }
    CHECK(strcmp(jstr(j, "issued_token_type"), STS_TT_SAML2) == 0);
    CHECK(strcmp(jstr(j, "token_type"), "N_A") == 0);
    CHECK(json_integer_value(json_object_get(j, "expires_in")) == 600);
    CHECK(json_object_get(j, "scope") == NULL && json_object_get(j, "refresh_token") == NULL);
    json_decref(j);
    sts_rest_json_free(out);

    /* an access token with a refresh token; scope granted, none requested */
    is.token = (char *)"eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
    is.token_len = strlen(is.token);
    is.token_type = STS_TT_ACCESS_TOKEN;
    is.scope = (char *)"openid api.read";
    rt.token = (char *)"rt.opaque";
    rt.token_len = strlen(rt.token);
    is.refresh = &rt;
    j = load(out = sts_rest_json_token(&is, NULL, &len));
    CHECK(j != NULL && strcmp(jstr(j, "access_token"), is.token) == 0);
    CHECK(strcmp(jstr(j, "token_type"), "Bearer") == 0);
    CHECK(jstr(j, "scope") && strcmp(jstr(j, "scope"), "openid api.read") == 0);
    CHECK(jstr(j, "refresh_token") && strcmp(jstr(j, "refresh_token"), "rt.opaque") == 0);
    json_decref(j);
    sts_rest_json_free(out);
    /* scope as requested: may be left out; narrowed: must be there */
    j = load(out = sts_rest_json_token(&is, "openid api.read", &len));
    CHECK(j != NULL && json_object_get(j, "scope") == NULL);
    json_decref(j);
    sts_rest_json_free(out);
    j = load(out = sts_rest_json_token(&is, "openid api.read api.write", &len));
    CHECK(j != NULL && jstr(j, "scope") && strcmp(jstr(j, "scope"), "openid api.read") == 0);
    json_decref(j);
    sts_rest_json_free(out);
    /* a JWT that is not an access token */
    is.token_type = STS_TT_JWT;
    is.refresh = NULL;
    j = load(out = sts_rest_json_token(&is, "openid api.read", &len));
    CHECK(j != NULL && strcmp(jstr(j, "token_type"), "N_A") == 0 &&
          strcmp(jstr(j, "issued_token_type"), STS_TT_JWT) == 0);
    json_decref(j);
    sts_rest_json_free(out);
}

static void test_json_introspection(void)
{
    char *aud[] = {"https://rp.example.com/", "https://api.example.com/"};
    char *actors[] = {"svc-current", "svc-prior", "svc-first"};
    sts_token_view_t v;
    json_t *j, *act;
    size_t len;
    char *out;

    out = sts_rest_json_introspection(NULL, 0, &len);
    CHECK(out && strcmp(out, "{\"active\":false}") == 0);
    sts_rest_json_free(out);

    memset(&v, 0, sizeof(v));
    v.token_type = STS_TT_ACCESS_TOKEN;
    v.id = "jti-1";
    v.issuer = "https://sts.example.com/";
    v.subject = "alice";
    v.audiences = aud;
    v.naudiences = 1;
    v.scope = "openid";
    v.client_id = "migration-tester";
    v.issued_at = 100;
    v.expires = 200;
    j = load(out = sts_rest_json_introspection(&v, 1, &len));
    CHECK(j != NULL && json_is_true(json_object_get(j, "active")));
    CHECK(strcmp(jstr(j, "aud"), "https://rp.example.com/") == 0); /* one: a string */
    CHECK(strcmp(jstr(j, "token_type"), "Bearer") == 0);
    CHECK(strcmp(jstr(j, "issued_token_type"), STS_TT_ACCESS_TOKEN) == 0);
    CHECK(strcmp(jstr(j, "sub"), "alice") == 0 && strcmp(jstr(j, "jti"), "jti-1") == 0);
    CHECK(strcmp(jstr(j, "iss"), "https://sts.example.com/") == 0);
    CHECK(strcmp(jstr(j, "client_id"), "migration-tester") == 0);
    CHECK(json_integer_value(json_object_get(j, "exp")) == 200 &&
          json_integer_value(json_object_get(j, "iat")) == 100);
    CHECK(json_object_get(j, "nbf") == NULL && json_object_get(j, "act") == NULL &&
          json_object_get(j, "may_act") == NULL);
    json_decref(j);
    sts_rest_json_free(out);

    v.token_type = STS_TT_SAML2;
    v.naudiences = 2;
    v.not_before = 90;
    v.actors = actors;
    v.nactors = 3;
    v.may_act = "admin";
    v.client_id = NULL;
    j = load(out = sts_rest_json_introspection(&v, 1, &len));
    CHECK(j != NULL && json_array_size(json_object_get(j, "aud")) == 2);
    CHECK(strcmp(jstr(j, "token_type"), "N_A") == 0);
    CHECK(strcmp(jstr(j, "issued_token_type"), STS_TT_SAML2) == 0);
    CHECK(json_integer_value(json_object_get(j, "nbf")) == 90);
    CHECK(json_object_get(j, "client_id") == NULL);
    /* RFC 8693 4.1: the current actor outermost */
    act = json_object_get(j, "act");
    CHECK(act && strcmp(jstr(act, "sub"), "svc-current") == 0);
    act = json_object_get(act, "act");
    CHECK(act && strcmp(jstr(act, "sub"), "svc-prior") == 0);
    act = json_object_get(act, "act");
    CHECK(act && strcmp(jstr(act, "sub"), "svc-first") == 0 && json_object_get(act, "act") == NULL);
    CHECK(strcmp(jstr(json_object_get(j, "may_act"), "sub"), "admin") == 0);
    json_decref(j);
    sts_rest_json_free(out);

    /* error_description only when its characters are allowed (RFC 6749 5.2) */
    out = sts_rest_json_error("invalid_request", "Parameter scope is repeated", &len);
    CHECK(out && strcmp(out, "{\"error\":\"invalid_request\",\"error_description\":"
                             "\"Parameter scope is repeated\"}") == 0);
    sts_rest_json_free(out);
    out = sts_rest_json_error("invalid_request", "a \"quoted\" text", &len);
    CHECK(out && strcmp(out, "{\"error\":\"invalid_request\"}") == 0);
    sts_rest_json_free(out);
}

/* ---- sts_rest_handle() on a real engine ------------------------------------------ */

#define BASE "https://sts.example.test:8443"
#define TE "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
#define FORM "application/x-www-form-urlencoded"

static sts_engine_t *g_engine;
static char g_basic_ok[128];  /* "Basic " + base64("migration-tester:s3cret") */
static char g_basic_bad[128]; /* the same with a wrong secret */

static void basic(char *out, const char *user_colon_secret)
{
    strcpy(out, "Basic ");
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)user_colon_secret,
                    (int)strlen(user_colon_secret));
}

/* One request: @auth NULL for none; @nauth Authorization headers. */
static sts_http_response_t *call(const char *method, const char *path, const char *ct,
                                 const char *auth, int nauth, const char *body)
{
    static sts_http_response_t resp;
    sts_http_request_t req;

    sts_rest_response_free(&resp);
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.content_type = ct;
    req.authorization = auth;
    req.n_authorization = auth != NULL ? nauth : 0;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    sts_rest_handle(g_engine, BASE, &req, &resp);
    return &resp;
}

static sts_http_response_t *post(const char *path, const char *auth, const char *body)
{
    return call("POST", path, FORM, auth, 1, body);
}

static int has_header(const sts_http_response_t *r, const char *line)
{
    const char *h = r->headers, *hit;
    size_t n = strlen(line);

    for (; h != NULL && (hit = strstr(h, line)) != NULL; h = hit + 1)
        if ((hit == r->headers || hit[-1] == '\n') && (hit[n] == '\0' || hit[n] == '\r'))
            return 1;
    return 0;
}

static int no_store(const sts_http_response_t *r)
{
    return has_header(r, "Cache-Control: no-store") && has_header(r, "Pragma: no-cache");
}

/* The response is @status with OAuth error @error and the no-store headers. */
static int is_error(const sts_http_response_t *r, int status, const char *error)
{
    json_t *j = load(r->body);
    int ok = r->status == status && j != NULL && jstr(j, "error") != NULL &&
             strcmp(jstr(j, "error"), error) == 0 && r->content_type != NULL &&
             strcmp(r->content_type, "application/json") == 0 && no_store(r) &&
             r->body_len == strlen(r->body);
    if (!ok)
        fprintf(stderr, "  got %d %s\n", r->status, r->body ? r->body : "(no body)");
    json_decref(j);
    return ok;
}

static int is_invalid_client(const sts_http_response_t *r)
{
    return is_error(r, 401, "invalid_client") &&
           has_header(r, "WWW-Authenticate: Basic realm=\"sts\"");
}

static void test_client_authentication(void)
{
    char hdr[256];
    const char *garbage = "token=not-a-token";

    /* none, wrong Basic, wrong post, half of post */
    CHECK(is_invalid_client(post("/token", NULL, TE "&subject_token=x&subject_token_type=y")));
    CHECK(is_invalid_client(post("/introspect", NULL, garbage)));
    CHECK(is_invalid_client(post("/revoke", NULL, garbage)));
    CHECK(is_invalid_client(post("/token", g_basic_bad, TE)));
    CHECK(is_invalid_client(
        post("/introspect", NULL, "token=x&client_id=migration-tester&client_secret=wrong")));
    CHECK(is_invalid_client(post("/introspect", NULL, "token=x&client_id=migration-tester")));
    CHECK(is_invalid_client(post("/introspect", NULL, "token=x&client_secret=s3cret")));
    /* an unknown client, by either method */
    basic(hdr, "nobody:s3cret");
    CHECK(is_invalid_client(post("/introspect", hdr, garbage)));
    CHECK(is_invalid_client(
        post("/introspect", NULL, "token=x&client_id=nobody&client_secret=s3cret")));

    /* malformed Basic: other scheme, not base64, not canonical, no ':' */
    CHECK(is_invalid_client(post("/introspect", "Bearer abc", garbage)));
    CHECK(is_invalid_client(post("/introspect", "Basic", garbage)));
    CHECK(is_invalid_client(post("/introspect", "Basic !!!!", garbage)));
    CHECK(is_invalid_client(post("/introspect", "Basic bWlncmF0aW9uLXRlc3RlcjpzM2NyZXQ", garbage)));
    basic(hdr, "migration-tester:s3cret");
    CHECK(strcmp(hdr + strlen(hdr) - 4, "ZXQ=") == 0);
    hdr[strlen(hdr) - 2] = 'R'; /* "ZXR=": same bytes to a lax decoder, pad bits set */
    CHECK(is_invalid_client(post("/introspect", hdr, garbage)));
    CHECK(is_invalid_client(post("/introspect", "Basic YWJj ZGVm", garbage)));
    CHECK(is_invalid_client(post("/introspect", "Basic YQ==", garbage))); /* "a": no ':' */
    CHECK(is_invalid_client(post("/introspect", "Basic YR==", garbage))); /* pad bits set */
    basic(hdr, "migration-tester:s3cr%zzt");
    CHECK(is_invalid_client(post("/introspect", hdr, garbage))); /* bad %-escape */

    /* good: Basic (scheme in any case, halves form-decoded), and post */
    CHECK(post("/introspect", g_basic_ok, garbage)->status == 200);
    basic(hdr, "migration-tester:s3cret");
    memcpy(hdr, "bAsIc", 5);
    CHECK(post("/introspect", hdr, garbage)->status == 200);
    basic(hdr, "migration%2Dtester:s3cr%65t");
    CHECK(post("/introspect", hdr, garbage)->status == 200);
    CHECK(post("/introspect", NULL, "token=x&client_id=migration-tester&client_secret=s3cret")
              ->status == 200);
    /* the split is at the first ':' (secrets may hold one; ids may not) */
    basic(hdr, "migration-tester:s3cret:");
    CHECK(is_invalid_client(post("/introspect", hdr, garbage)));
    /* Basic + the same client_id in the body is fine */
    CHECK(post("/introspect", g_basic_ok, "token=x&client_id=migration-tester")->status == 200);

    /* two methods at once, or two Authorization headers: invalid_request */
    CHECK(is_error(
        post("/introspect", g_basic_ok, "token=x&client_id=migration-tester&client_secret=s3cret"),
        400, "invalid_request"));
    CHECK(is_error(post("/introspect", g_basic_ok, "token=x&client_secret=s3cret"), 400,
                   "invalid_request"));
    CHECK(is_error(call("POST", "/introspect", FORM, g_basic_ok, 2, garbage), 400,
                   "invalid_request"));
    CHECK(is_error(post("/introspect", g_basic_ok, "token=x&client_id=someone-else"), 400,
                   "invalid_request"));
    CHECK(is_error(post("/introspect", NULL,
                        "token=x&client_id=migration-tester&client_id=migration-tester"
                        "&client_secret=s3cret"),
                   400, "invalid_request"));
}

static void test_token_parameters(void)
{
    const char *ok = g_basic_ok;
    sts_http_response_t *r;
    json_t *j;

    CHECK(is_error(post("/token", ok, "subject_token=x"), 400, "invalid_request"));
    CHECK(
        is_error(post("/token", ok, "grant_type="), 400, "invalid_request")); /* empty = omitted */
    r = post("/token", ok, TE "&" TE "&subject_token=x&subject_token_type=y");
    CHECK(is_error(r, 400, "invalid_request"));
    j = load(r->body);
    CHECK(j && jstr(j, "error_description") &&
          strcmp(jstr(j, "error_description"), "Parameter grant_type is repeated") == 0);
    json_decref(j);
    CHECK(is_error(post("/token", ok, "grant_type=password&username=a&password=b"), 400,
                   "unsupported_grant_type"));
    CHECK(is_error(post("/token", ok, "grant_type=client_credentials"), 400,
                   "unsupported_grant_type"));
    CHECK(is_error(post("/token", ok,
                        TE "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                           "token-type%3Ajwt"),
                   400, "invalid_request"));
    CHECK(is_error(post("/token", ok, TE "&subject_token=x"), 400, "invalid_request"));
    CHECK(is_error(post("/token", ok, TE "&subject_token=&subject_token_type=y"), 400,
                   "invalid_request"));
    CHECK(is_error(post("/token", ok, TE "&subject_token=x&subject_token=x&subject_token_type=y"),
                   400, "invalid_request"));
    CHECK(is_error(post("/token", ok, TE "&subject_token=x&subject_token_type=y&actor_token=a"),
                   400, "invalid_request"));
    CHECK(
        is_error(post("/token", ok, TE "&subject_token=x&subject_token_type=y&actor_token_type=t"),
                 400, "invalid_request"));
    CHECK(is_error(post("/token", ok, TE "&subject_token=x&subject_token_type=y&scope=a&scope=b"),
                   400, "invalid_request"));
    CHECK(is_error(post("/token", ok,
                        TE "&subject_token=x&subject_token_type=y&requested_token_type=a"
                           "&requested_token_type=b"),
                   400, "invalid_request"));
    CHECK(is_error(post("/token", ok, "grant_type=refresh_token"), 400, "invalid_request"));
    CHECK(is_error(post("/token", ok, "grant_type=refresh_token&refresh_token=a&refresh_token=b"),
                   400, "invalid_request"));
    /* form errors are invalid_request too: bad escape, over the value limit */
    CHECK(is_error(post("/token", ok, TE "&subject_token=%zz"), 400, "invalid_request"));
    {
        size_t n = STS_REST_MAX_VALUE + 64;
        char *big = malloc(n + 32);
        if (big != NULL) {
            strcpy(big, "token=");
            memset(big + 6, 'A', STS_REST_MAX_VALUE + 1);
            big[6 + STS_REST_MAX_VALUE + 1] = '\0';
            CHECK(is_error(post("/introspect", ok, big), 400, "invalid_request"));
            big[6 + STS_REST_MAX_VALUE] = '\0'; /* at the limit: parsed, then inactive */
            CHECK(post("/introspect", ok, big)->status == 200);
            free(big);
        }
    }
}

static void test_media_types(void)
{
    const char *body = "token=x";
    const char *why = NULL;

    CHECK(call("POST", "/introspect", FORM "; charset=UTF-8", g_basic_ok, 1, body)->status == 200);
    CHECK(call("POST", "/introspect", "Application/X-WWW-Form-Urlencoded;charset=\"utf-8\"",
               g_basic_ok, 1, body)
              ->status == 200);
    CHECK(call("POST", "/introspect", FORM "; foo=bar", g_basic_ok, 1, body)->status == 200);
    CHECK(is_error(call("POST", "/introspect", FORM "; charset=ISO-8859-1", g_basic_ok, 1, body),
                   415, "invalid_request"));
    CHECK(is_error(call("POST", "/token", FORM "; charset=utf-16", g_basic_ok, 1, body), 415,
                   "invalid_request"));
    CHECK(is_error(call("POST", "/token", "application/json", g_basic_ok, 1, "{}"), 415,
                   "invalid_request"));
    CHECK(is_error(call("POST", "/revoke", NULL, g_basic_ok, 1, body), 415, "invalid_request"));
    CHECK(is_error(call("POST", "/revoke", FORM "x", g_basic_ok, 1, body), 415, "invalid_request"));
    CHECK(sts_rest_form_media_type(FORM, &why) == 1);
    CHECK(sts_rest_form_media_type("multipart/form-data; boundary=x", &why) == 0 && why);
}

static void test_methods(void)
{
    sts_http_response_t *r;

    CHECK(sts_rest_serves("POST", "/token") == STS_HTTP_FORM);
    CHECK(sts_rest_serves("POST", "/introspect") == STS_HTTP_FORM);
    CHECK(sts_rest_serves("POST", "/revoke") == STS_HTTP_FORM);
    CHECK(sts_rest_serves("GET", "/token") == STS_HTTP_NO_BODY);
    CHECK(sts_rest_serves("GET", "/.well-known/jwks.json") == STS_HTTP_NO_BODY);
    CHECK(sts_rest_serves("POST", "/.well-known/oauth-authorization-server") == STS_HTTP_NO_BODY);
    CHECK(sts_rest_serves("POST", "/sts") == STS_HTTP_NOT_OURS);
    CHECK(sts_rest_serves("GET", "/health") == STS_HTTP_NOT_OURS);
    /* a query on a form endpoint is ours, to be refused; elsewhere it is another path */
    CHECK(sts_rest_serves("POST", "/token?x=1") == STS_HTTP_FORM);
    CHECK(sts_rest_serves("POST", "/revoke?") == STS_HTTP_FORM);
    CHECK(sts_rest_serves("POST", "/tokens?x=1") == STS_HTTP_NOT_OURS);
    CHECK(sts_rest_serves("GET", "/.well-known/jwks.json?x=1") == STS_HTTP_NOT_OURS);
    CHECK(sts_rest_serves("POST", "/Token") == STS_HTTP_NOT_OURS);

    r = call("GET", "/token", NULL, NULL, 0, NULL);
    CHECK(r->status == 405 && has_header(r, "Allow: POST") && r->body == NULL && no_store(r));
    /* parameters in the URI query: refused before credentials are read (a
     * secret in a URI is already exposed: RFC 6749 2.3.1, 3.2) */
    r = call("POST", "/token?client_secret=s3cret", FORM, g_basic_ok, 1,
             TE "&subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                "token-type%3Ajwt");
    CHECK(is_error(r, 400, "invalid_request") && strstr(r->body, "URI query") != NULL);
    CHECK(is_error(call("POST", "/introspect?token=x", FORM, NULL, 0, "token=x"), 400,
                   "invalid_request"));
    r = call("PUT", "/revoke", FORM, g_basic_ok, 1, "token=x");
    CHECK(r->status == 405 && has_header(r, "Allow: POST"));
    r = call("POST", "/.well-known/jwks.json", FORM, NULL, 0, "a=b");
    CHECK(r->status == 405 && has_header(r, "Allow: GET") && r->body == NULL);
    r = call("DELETE", "/.well-known/oauth-authorization-server", NULL, NULL, 0, NULL);
    CHECK(r->status == 405 && has_header(r, "Allow: GET"));
}

static void test_metadata_and_jwks(void)
{
    sts_http_response_t *r =
        call("GET", "/.well-known/oauth-authorization-server", NULL, NULL, 0, NULL);
    json_t *j = load(r->body), *a;
    const char *scopes[] = {"api.read", "api.write", "email", "openid", "profile"};

    CHECK(r->status == 200 && strcmp(r->content_type, "application/json") == 0);
    CHECK(has_header(r, "Cache-Control: public, max-age=300"));
    CHECK(j != NULL);
    CHECK(strcmp(jstr(j, "issuer"), sts_engine_cfg(g_engine)->issuer) == 0);
    CHECK(strcmp(jstr(j, "token_endpoint"), BASE "/token") == 0);
    CHECK(strcmp(jstr(j, "introspection_endpoint"), BASE "/introspect") == 0);
    CHECK(strcmp(jstr(j, "revocation_endpoint"), BASE "/revoke") == 0);
    CHECK(strcmp(jstr(j, "jwks_uri"), BASE "/.well-known/jwks.json") == 0);
    a = json_object_get(j, "grant_types_supported");
    CHECK(json_array_size(a) == 2 &&
          strcmp(json_string_value(json_array_get(a, 0)), STS_REST_GRANT_TOKEN_EXCHANGE) == 0 &&
          strcmp(json_string_value(json_array_get(a, 1)), "refresh_token") == 0);
    {
        const char *m[] = {"token_endpoint_auth_methods_supported",
                           "introspection_endpoint_auth_methods_supported",
                           "revocation_endpoint_auth_methods_supported"};
        for (size_t i = 0; i < 3; i++) {
            a = json_object_get(j, m[i]);
            CHECK(json_array_size(a) == 2 &&
                  strcmp(json_string_value(json_array_get(a, 0)), "client_secret_basic") == 0 &&
                  strcmp(json_string_value(json_array_get(a, 1)), "client_secret_post") == 0);
        }
    }
    a = json_object_get(j, "scopes_supported"); /* the demo client's, sorted */
    CHECK(json_array_size(a) == 5);
    for (size_t i = 0; i < 5 && i < json_array_size(a); i++)
        CHECK(strcmp(json_string_value(json_array_get(a, i)), scopes[i]) == 0);
    a = json_object_get(j, "response_types_supported");
    CHECK(json_is_array(a) && json_array_size(a) == 0);
    json_decref(j);

    r = call("GET", "/.well-known/jwks.json", NULL, NULL, 0, NULL);
    CHECK(r->status == 200 && strcmp(r->content_type, "application/json") == 0);
    CHECK(r->body && strcmp(r->body, sts_engine_jwks(g_engine)) == 0);
    CHECK(has_header(r, "Cache-Control: public, max-age=300"));
}

static void test_introspect_and_revoke(void)
{
    sts_http_response_t *r;

    /* garbage is inactive, exactly so (RFC 7662 2.2) */
    r = post("/introspect", g_basic_ok, "token=garbage&token_type_hint=access_token");
    CHECK(r->status == 200 && r->body && strcmp(r->body, "{\"active\":false}") == 0 && no_store(r));
    r = post("/introspect", g_basic_ok, "token=eyJhbGciOiJub25lIn0.e30.");
    CHECK(r->status == 200 && r->body && strcmp(r->body, "{\"active\":false}") == 0);
    /* unknown parameters are ignored (RFC 6749 3.2) */
    r = post("/introspect", g_basic_ok, "token=garbage&foo=bar&foo=baz");
    CHECK(r->status == 200 && r->body && strcmp(r->body, "{\"active\":false}") == 0);
    CHECK(is_error(post("/introspect", g_basic_ok, "token_type_hint=access_token"), 400,
                   "invalid_request"));
    CHECK(is_error(post("/introspect", g_basic_ok, "token=a&token=b"), 400, "invalid_request"));
    CHECK(is_error(post("/introspect", g_basic_ok, "token=a&token_type_hint=x&token_type_hint=y"),
                   400, "invalid_request"));

    /* RFC 7009 2.2: an invalid token is not an error */
    r = post("/revoke", g_basic_ok, "token=garbage&token_type_hint=refresh_token");
    CHECK(r->status == 200 && r->body == NULL && r->body_len == 0 && no_store(r));
    CHECK(is_error(post("/revoke", g_basic_ok, ""), 400, "invalid_request"));
    CHECK(is_error(post("/revoke", g_basic_ok, "token=a&token=b"), 400, "invalid_request"));
}

/* base64url without padding, as a client would send a SAML assertion. */
static char *b64url(const char *in, size_t len)
{
    char *out = malloc(len / 3 * 4 + 8);
    size_t n;

    if (out == NULL)
        return NULL;
    n = (size_t)EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

/* A form body built with %-escapes for everything but unreserved characters. */
static void form_add(char **body, const char *name, const char *value)
{
    size_t have = *body ? strlen(*body) : 0, need = have + strlen(name) + 3 * strlen(value) + 3;
    char *b = realloc(*body, need), *o;

    if (b == NULL)
        abort();
    o = b + have;
    o += sprintf(o, "%s%s=", have ? "&" : "", name);
    for (const unsigned char *v = (const unsigned char *)value; *v; v++)
        o += (isalnum(*v) || strchr("-._~", *v)) ? sprintf(o, "%c", *v) : sprintf(o, "%%%02X", *v);
    *body = b;
}

/*
 * The whole path with the engine's exchange: a SAML assertion issued as the
 * SOAP face would, exchanged here for an access token and for a SAML token,
 * introspected and revoked. Asserts what the shim owns (wire encoding,
 * token_type, headers), not the engine's policy.
 */
static void test_exchange_flow(void)
{
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_issue_req_t ir = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    sts_principal_t alice;
    sts_issued_t *saml = NULL;
    sts_http_response_t *r;
    sts_err_t err;
    char *subject = NULL, *body = NULL, *access = NULL;
    json_t *j;

    CHECK(sts_engine_authenticate(g_engine, &cred, &alice, &err) == STS_OK);
    CHECK(sts_engine_issue(g_engine, &alice, &ir, &saml, &err) == STS_OK);
    if (saml == NULL)
        return;
    subject = b64url(saml->token, saml->token_len);
    form_add(&body, "grant_type", STS_REST_GRANT_TOKEN_EXCHANGE);
    form_add(&body, "subject_token", subject);
    form_add(&body, "subject_token_type", STS_TT_SAML2);
    form_add(&body, "audience", "https://api.example.com/");
    r = post("/token", g_basic_ok, body);
    CHECK(r->status == 200 && no_store(r) && strcmp(r->content_type, "application/json") == 0);
    j = load(r->body);
    CHECK(j != NULL && jstr(j, "access_token") && jstr(j, "issued_token_type"));
    if (j != NULL && jstr(j, "access_token") && jstr(j, "issued_token_type")) {
        const char *itt = jstr(j, "issued_token_type");
        CHECK(strcmp(jstr(j, "token_type"),
                     strcmp(itt, STS_TT_ACCESS_TOKEN) == 0 ? "Bearer" : "N_A") == 0);
        CHECK(json_integer_value(json_object_get(j, "expires_in")) > 0);
        access = strdup(jstr(j, "access_token"));
    }
    json_decref(j);
    free(body);
    body = NULL;

    /* the same subject for a SAML 2.0 token: base64url, no padding */
    form_add(&body, "grant_type", STS_REST_GRANT_TOKEN_EXCHANGE);
    form_add(&body, "subject_token", subject);
    form_add(&body, "subject_token_type", STS_TT_SAML2);
    form_add(&body, "audience", "https://rp.example.com/");
    form_add(&body, "requested_token_type", STS_TT_SAML2);
    r = post("/token", NULL, body); /* no client authentication: refused first */
    CHECK(is_invalid_client(r));
    form_add(&body, "client_id", "migration-tester");
    form_add(&body, "client_secret", "s3cret");
    r = post("/token", NULL, body);
    CHECK(r->status == 200);
    j = load(r->body);
    if (j != NULL && jstr(j, "access_token")) {
        const char *at = jstr(j, "access_token");
        CHECK(strspn(at, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              strlen(at));
        CHECK(strncmp(at, "PHNhbWwyOkFzc2VydGlvb", 21) == 0); /* "<saml2:Assertion" */
        CHECK(strcmp(jstr(j, "issued_token_type"), STS_TT_SAML2) == 0);
        CHECK(strcmp(jstr(j, "token_type"), "N_A") == 0);
    } else {
        CHECK(0);
    }
    json_decref(j);
    free(body);
    body = NULL;

    /* introspection of what we issued, then revocation */
    if (access != NULL) {
        form_add(&body, "token", access);
        r = post("/introspect", g_basic_ok, body);
        j = load(r->body);
        CHECK(r->status == 200 && j != NULL && json_is_true(json_object_get(j, "active")));
        CHECK(j && jstr(j, "sub") && strcmp(jstr(j, "sub"), "alice") == 0);
        CHECK(j && jstr(j, "issued_token_type") && jstr(j, "token_type"));
        json_decref(j);
        r = post("/revoke", g_basic_ok, body);
        CHECK(r->status == 200 && r->body == NULL && no_store(r));
        r = post("/introspect", g_basic_ok, body);
        CHECK(r->status == 200 && r->body && strcmp(r->body, "{\"active\":false}") == 0);
        free(body);
    }
    free(access);
    free(subject);
    sts_issued_free(saml);
}

static void test_refuse(void)
{
    sts_http_response_t r;

    sts_rest_refuse("POST", "/token", 413, "body over the limit", &r);
    CHECK(is_error(&r, 413, "invalid_request"));
    sts_rest_response_free(&r);
    sts_rest_refuse("POST", "/token", 411, "no Content-Length", &r);
    CHECK(is_error(&r, 411, "invalid_request"));
    sts_rest_response_free(&r);
    CHECK(r.body == NULL && r.status == 0);
}

/* Runs @fn with stderr captured (then replayed); the log must hold no secret. */
static void without_secrets_in_log(void (*fn)(void))
{
    char path[] = "/tmp/sts-test-rest-log-XXXXXX";
    static char buf[1 << 20];
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    if (fd < 0 || saved < 0) {
        CHECK(0);
        return;
    }
    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    fputs(buf, stderr);
    CHECK(n > 0 && strstr(buf, "invalid_client") != NULL); /* refusals are logged */
    CHECK(strstr(buf, "s3cret") == NULL && strstr(buf, "wrong-secret") == NULL);
    CHECK(strstr(buf, g_basic_ok + 6) == NULL && strstr(buf, g_basic_bad + 6) == NULL);
    CHECK(strstr(buf, "garbage") == NULL);
}

static void handler_tests(void)
{
    test_client_authentication();
    test_token_parameters();
    test_media_types();
    test_methods();
    test_metadata_and_jwks();
    test_introspect_and_revoke();
    test_exchange_flow();
    test_refuse();
}

/*
 * rest.require_tls in force (the engine's configuration, borrowed, switched
 * by the caller): every POST endpoint answers 400 invalid_request "TLS is
 * required" before credentials are read, so good, wrong and no credentials
 * get the same; the metadata and the JWKS are still served.
 */
static void test_require_tls(void)
{
    static const char *const paths[] = {"/token", "/introspect", "/revoke"};
    const char *creds[] = {g_basic_ok, g_basic_bad, NULL};
    sts_http_response_t *r;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        for (size_t k = 0; k < sizeof(creds) / sizeof(creds[0]); k++) {
            r = call("POST", paths[i], FORM, creds[k], 1, "token=x&" TE);
            CHECK(is_error(r, 400, "invalid_request") &&
                  strstr(r->body, "\"TLS is required: use https\"") != NULL);
        }
    CHECK(call("GET", "/.well-known/jwks.json", NULL, NULL, 0, NULL)->status == 200);
    CHECK(call("GET", "/.well-known/oauth-authorization-server", NULL, NULL, 0, NULL)->status ==
          200);
}

int main(void)
{
    char dir[] = "/tmp/sts-test-rest-XXXXXX";
    sts_cfg_t *cfg = NULL;
    sts_err_t err;

    test_form();
    test_error_table();
    test_json_token();
    test_json_introspection();

    basic(g_basic_ok, "migration-tester:s3cret");
    basic(g_basic_bad, "migration-tester:wrong-secret");
    CHECK(mkdtemp(dir) != NULL);
    CHECK(sts_keys_global_init(&err) == STS_OK);
    CHECK(sts_cfg_load(NULL, &cfg, &err) == STS_OK);
    if (cfg == NULL)
        return sts_test_summary();
    free(cfg->data_dir);
    cfg->data_dir = strdup(dir);
    CHECK(sts_engine_new(cfg, &g_engine, &err) == STS_OK);
    if (g_engine != NULL) {
        without_secrets_in_log(handler_tests);
        /* plain HTTP on a non-loopback address, rest.require_tls unset */
        CHECK(sts_cfg_rest_requires_tls(cfg, NULL) == 0);
        CHECK(sts_cfg_set_listen(cfg, "0.0.0.0:8080") == NULL);
        CHECK(sts_cfg_rest_requires_tls(cfg, NULL) == 1);
        test_require_tls();
        /* then explicitly off, and explicitly on at loopback */
        cfg->rest_require_tls = 0;
        CHECK(call("POST", "/introspect", FORM, g_basic_ok, 1, "token=x")->status == 200);
        cfg->rest_require_tls = 1;
        CHECK(sts_cfg_set_listen(cfg, "127.0.0.1:8080") == NULL);
        test_require_tls();
        cfg->rest_require_tls = -1;
        CHECK(call("POST", "/introspect", FORM, g_basic_ok, 1, "token=x")->status == 200);
        CHECK(call("GET", "/health", NULL, NULL, 0, NULL)->status == 404); /* not ours */
        sts_rest_response_free(call("GET", "/health", NULL, NULL, 0, NULL));
    }
    sts_engine_free(g_engine);
    sts_cfg_free(cfg);
    sts_keys_global_cleanup();
    CHECK(sts_test_run("rm -rf '%s'", dir) == 0);
    return sts_test_summary();
}
