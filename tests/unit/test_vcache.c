/*
 * test_vcache.c - the verified-token cache on its own (hits by exact digest,
 * expiry, copies that do not alias the cache, bounds, JWT and SAML entries
 * kept apart), then the engine's use of it for SAML assertions: a hit skips
 * the signature check and the store row is read all the same. (test_engine.c
 * does the same for JWTs.)
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_engine_int.h" /* e->verified, e->keys */
#include "sts_jwt.h"        /* sts_b64url_encode */
#include "sts_keys.h"
#include "sts_store.h"
#include "sts_test.h"
#include "sts_test_engine.h"
#include "sts_time.h"
#include "sts_vcache.h"
#include "sts_xml.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static void digest_of(const char *s, unsigned char md[STS_VCACHE_DIGEST])
{
    SHA256((const unsigned char *)s, strlen(s), md);
}

static sts_vcache_stats_t stats(sts_vcache_t *c)
{
    sts_vcache_stats_t s;
    sts_vcache_stats(c, &s);
    return s;
}

static void test_hit_miss_expiry(void)
{
    sts_vcache_t *c = sts_vcache_new(64);
    unsigned char a[STS_VCACHE_DIGEST], b[STS_VCACHE_DIGEST];
    json_t *hdr = json_pack("{s:s}", "typ", "at+jwt");
    json_t *cl = json_pack("{s:s, s:i}", "sub", "alice", "exp", 2000);
    json_t *h = NULL, *x = NULL;

    CHECK(c != NULL && hdr != NULL && cl != NULL);
    digest_of("token-a", a);
    digest_of("token-b", b);
    CHECK(!sts_vcache_get(c, a, 1000, &h, &x));
    sts_vcache_put(c, a, hdr, cl, 2000, 1000);
    CHECK(!sts_vcache_get(c, b, 1000, &h, &x)); /* other bytes */
    CHECK(h == NULL && x == NULL);
    CHECK(sts_vcache_get(c, a, 1999, &h, &x));
    CHECK(json_equal(h, hdr) && json_equal(x, cl));
    /* copies: changing what we got back does not change the cache */
    json_object_set_new(x, "sub", json_string("mallory"));
    json_decref(h);
    json_decref(x);
    CHECK(sts_vcache_get(c, a, 1999, &h, &x));
    CHECK(strcmp(json_string_value(json_object_get(x, "sub")), "alice") == 0);
    json_decref(h);
    json_decref(x);
    h = x = NULL;
    /* expires with the token, and is dropped */
    CHECK(!sts_vcache_get(c, a, 2000, &h, &x));
    CHECK(stats(c).entries == 0);
    /* an already expired token is never put */
    sts_vcache_put(c, a, hdr, cl, 2000, 2000);
    CHECK(stats(c).entries == 0);
    CHECK(stats(c).hits == 2 && stats(c).misses == 3);
    json_decref(hdr);
    json_decref(cl);
    sts_vcache_free(c);
}

static void test_bounded(void)
{
    sts_vcache_t *c = sts_vcache_new(64);
    unsigned char md[STS_VCACHE_DIGEST];
    json_t *hdr = json_object(), *cl = json_object(), *h, *x;
    char name[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "token-%d", i);
        digest_of(name, md);
        sts_vcache_put(c, md, hdr, cl, 2000, 1000);
    }
    CHECK(stats(c).entries <= 64 + 16 && stats(c).entries > 16);
    CHECK(sts_vcache_get(c, md, 1000, &h, &x)); /* the last one is there */
    json_decref(h);
    json_decref(x);
    json_decref(hdr);
    json_decref(cl);
    sts_vcache_free(c);
    sts_vcache_free(NULL);
    CHECK(!sts_vcache_get(NULL, md, 1000, &h, &x));
}

static sts_saml_info_t *info_new(const char *id, time_t expires)
{
    static char *const aud[] = {"https://rp.example.com/"};
    static char *const del[] = {"svc-b", "svc-a"};
    sts_saml_info_t in = {.id = (char *)id,
                          .issuer = "https://sts.example.com/",
                          .subject = "alice",
                          .audiences = (char **)aud,
                          .naudiences = 1,
                          .issue_instant = 900,
                          .not_before = 900,
                          .not_on_or_after = expires,
                          .delegates = (char **)del,
                          .ndelegates = 2,
                          .holder_of_key = 1};
    sts_vcache_t *c = sts_vcache_new(4);
    unsigned char md[STS_VCACHE_DIGEST] = {1};
    sts_saml_info_t *out = NULL;
    int kind = 0;

    /* the cache's own copy is the way to a heap copy of @in */
    sts_vcache_put_saml(c, md, STS_KIND_SAML2, &in, 0);
    if (!sts_vcache_get_saml(c, md, 0, &kind, &out))
        out = NULL;
    sts_vcache_free(c);
    return out;
}

/* SAML entries: the facts come back whole, as copies; they expire with the
 * assertion's NotOnOrAfter; a JWT lookup never answers with one (nor the
 * other way round). */
static void test_saml_entries(void)
{
    sts_vcache_t *c = sts_vcache_new(64);
    sts_saml_info_t *info = info_new("_a1", 2000), *got = NULL;
    unsigned char a[STS_VCACHE_DIGEST], b[STS_VCACHE_DIGEST];
    json_t *h = NULL, *x = NULL;
    int kind = 0;

    CHECK(c != NULL && info != NULL);
    if (info == NULL)
        return;
    CHECK(info->naudiences == 1 && info->ndelegates == 2 && info->holder_of_key == 1);
    digest_of("assertion-a", a);
    digest_of("assertion-b", b);
    CHECK(!sts_vcache_get_saml(c, a, 1000, &kind, &got));
    sts_vcache_put_saml(c, a, STS_KIND_SAML11, info, 1000);
    CHECK(!sts_vcache_get_saml(c, b, 1000, &kind, &got));
    CHECK(!sts_vcache_get(c, a, 1000, &h, &x)); /* a JWT lookup of the same digest */
    CHECK(sts_vcache_get_saml(c, a, 1999, &kind, &got));
    CHECK(kind == STS_KIND_SAML11 && got != NULL && got != info);
    if (got != NULL) {
        CHECK(strcmp(got->id, "_a1") == 0 && strcmp(got->subject, "alice") == 0 &&
              strcmp(got->issuer, info->issuer) == 0 && got->audiences != info->audiences &&
              got->naudiences == 1 && strcmp(got->audiences[0], "https://rp.example.com/") == 0 &&
              got->ndelegates == 2 && strcmp(got->delegates[0], "svc-b") == 0 &&
              strcmp(got->delegates[1], "svc-a") == 0 && got->issue_instant == 900 &&
              got->not_before == 900 && got->not_on_or_after == 2000 && got->holder_of_key == 1);
        free(got->subject); /* the caller's copy: the cache's is untouched */
        got->subject = strdup("mallory");
        sts_saml_info_free(got);
        got = NULL;
    }
    CHECK(sts_vcache_get_saml(c, a, 1000, &kind, &got) && strcmp(got->subject, "alice") == 0);
    sts_saml_info_free(got);
    got = NULL;
    /* a JWT put under the same digest replaces it, and does not answer for SAML */
    h = json_object();
    x = json_object();
    sts_vcache_put(c, a, h, x, 2000, 1000);
    json_decref(h);
    json_decref(x);
    CHECK(!sts_vcache_get_saml(c, a, 1000, &kind, &got) && got == NULL);
    /* expiry: dropped at NotOnOrAfter; never put when already over or absent */
    sts_vcache_put_saml(c, b, STS_KIND_SAML2, info, 1000);
    CHECK(!sts_vcache_get_saml(c, b, 2000, &kind, &got));
    sts_vcache_put_saml(c, b, STS_KIND_SAML2, info, 2000);
    CHECK(!sts_vcache_get_saml(c, b, 1000, &kind, &got));
    info->not_on_or_after = 0;
    sts_vcache_put_saml(c, b, STS_KIND_SAML2, info, 1000);
    CHECK(!sts_vcache_get_saml(c, b, 1000, &kind, &got));
    CHECK(stats(c).saml_hits == 2 && stats(c).saml_misses == 6 && stats(c).entries == 1);
    CHECK(stats(c).hits == 0 && stats(c).misses == 1);
    sts_saml_info_free(info);
    sts_vcache_free(c);
}

/* ---- the engine's SAML reads ---------------------------------------------- */

static time_t g_now;
static time_t fake_now(void) { return g_now; }

static sts_xml_limits_t g_lim = {.max_depth = 64, .max_string = 65536, .max_size = 1 << 20};

/* @xml (NUL-terminated) parsed as a face's request would be: NULL on failure. */
static xmlDocPtr parse_text(const char *xml)
{
    xmlDocPtr doc = NULL;
    if (sts_xml_parse(xml, strlen(xml), &g_lim, &doc, NULL) != STS_OK)
        return NULL;
    return doc;
}

/* @assertion inside a SOAP-like envelope whose root declares @decls; the
 * assertion is the element the SOAP face would hand in. New string. */
static char *wrapped_with(const char *assertion, const char *decls, const char *tail)
{
    static const char fmt[] = "<e:Envelope xmlns:e=\"urn:test:env\" %s><e:Body>"
                              "<e:Target>%s</e:Target>%s</e:Body></e:Envelope>";
    size_t n = sizeof(fmt) + strlen(assertion) + strlen(decls) + strlen(tail);
    char *out = malloc(n);

    if (out != NULL)
        snprintf(out, n, fmt, decls, assertion, tail);
    return out;
}

static char *wrapped(const char *assertion, const char *decls)
{
    return wrapped_with(assertion, decls, "");
}

/* The assertion element of a wrapped() document. */
static xmlNodePtr target_of(xmlDocPtr doc)
{
    xmlNodePtr body = doc ? sts_xml_first_elem(xmlDocGetRootElement(doc)) : NULL;
    return sts_xml_first_elem(sts_xml_first_elem(body));
}

typedef struct verdict_case {
    int valid;
    const char *reason;
    char *subject, *id;
    time_t expires;
} verdict_case_t;

/* One Validate of @in; the verdict and a few facts of the view. */
static verdict_case_t validate(sts_engine_t *e, const sts_principal_t *who,
                               const sts_token_in_t *in)
{
    verdict_case_t r = {.valid = -1};
    sts_verdict_t v = {.valid = 0};
    sts_err_t err;

    if (sts_engine_validate(e, who, in, &v, &err) != STS_OK)
        return r;
    r.valid = v.valid;
    r.reason = v.reason;
    if (v.view != NULL) {
        r.subject = strdup(v.view->subject);
        r.id = strdup(v.view->id);
        r.expires = v.view->expires;
    }
    sts_verdict_clear(&v);
    return r;
}

static void verdict_free(verdict_case_t *r)
{
    free(r->subject);
    free(r->id);
}

static sts_vcache_stats_t engine_stats(sts_engine_t *e) { return stats(e->verified); }

/*
 * An assertion handed in as an element of a request (the SOAP face): the key
 * is the element and the namespace declarations it inherits, not the rest of
 * the envelope; a hit skips the signature check (shown by swapping the
 * verification key for one that cannot verify it); one changed byte, or
 * another namespace context, misses; revocation is read on a hit; an expired
 * entry is not served.
 */
static void test_engine_saml_element(sts_engine_t *e, const sts_principal_t *who)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/"};
    sts_issued_t *is = NULL;
    sts_err_t err;
    char *text = NULL, *p;
    xmlDocPtr d1 = NULL, d2 = NULL, d3 = NULL, d4 = NULL;
    sts_token_in_t in1 = {.node = NULL}, in2 = {.node = NULL}, in3 = {.node = NULL},
                   in4 = {.node = NULL};
    sts_vcache_stats_t before, after;
    verdict_case_t r1, r2, r;
    sts_keys_t *saved_key;
    time_t saved = g_now;

    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK);
    if (is == NULL)
        return;
    /* the same assertion in two envelopes that differ outside it only */
    text = wrapped(is->token, "xmlns:w=\"urn:test:other\"");
    d1 = parse_text(text);
    free(text);
    text = wrapped(is->token, "xmlns:w=\"urn:test:other\"   ");
    d2 = parse_text(text);
    free(text);
    in1.node = target_of(d1);
    in2.node = target_of(d2);
    CHECK(in1.node != NULL && in2.node != NULL && in1.node != in2.node);

    before = engine_stats(e);
    r1 = validate(e, who, &in1); /* verified, then remembered */
    after = engine_stats(e);
    CHECK(r1.valid == 1 && after.saml_misses == before.saml_misses + 1 &&
          after.saml_hits == before.saml_hits && after.entries == before.entries + 1);
    r2 = validate(e, who, &in2); /* another document, the same element: a hit */
    CHECK(engine_stats(e).saml_hits == after.saml_hits + 1);
    CHECK(r2.valid == 1 && r1.subject && r2.subject && strcmp(r1.subject, r2.subject) == 0 &&
          r1.id && r2.id && strcmp(r1.id, r2.id) == 0 && strcmp(r2.id, is->id) == 0 &&
          r1.expires == r2.expires && r2.expires == is->expires);
    verdict_free(&r1);
    verdict_free(&r2);

    /* A hit skips the signature check: with a key that cannot verify the
     * assertion, the cached element still validates, and the same element
     * in another namespace context (a miss) does not. */
    text = wrapped(is->token, "xmlns:w=\"urn:test:third\"");
    d3 = parse_text(text);
    free(text);
    in3.node = target_of(d3);
    saved_key = e->keys[0];
    CHECK(e->nkeys > 1 && sts_keys_is_ec(e->keys[1]) != sts_keys_is_ec(e->keys[0]));
    if (e->nkeys > 1) {
        e->keys[0] = e->keys[1];
        before = engine_stats(e);
        r = validate(e, who, &in1);
        CHECK(r.valid == 1 && engine_stats(e).saml_hits == before.saml_hits + 1);
        verdict_free(&r);
        r = validate(e, who, &in3);
        CHECK(r.valid == 0 && r.reason != NULL &&
              strcmp(r.reason, "signature or structure invalid") == 0);
        CHECK(engine_stats(e).saml_misses == before.saml_misses + 1);
        verdict_free(&r);
        e->keys[0] = saved_key;
    }
    /* ... and under the right key, that context verifies and gets its own entry */
    before = engine_stats(e);
    r = validate(e, who, &in3);
    CHECK(r.valid == 1 && engine_stats(e).saml_misses == before.saml_misses + 1 &&
          engine_stats(e).entries == before.entries + 1);
    verdict_free(&r);

    /* one changed byte (in the NameID) is a miss, fails, and is not remembered */
    text = wrapped(is->token, "xmlns:w=\"urn:test:other\"");
    p = text ? strstr(text, ">alice<") : NULL;
    CHECK(p != NULL);
    if (p != NULL) {
        p[5] = 'f';
        d4 = parse_text(text);
        in4.node = target_of(d4);
        before = engine_stats(e);
        r = validate(e, who, &in4);
        after = engine_stats(e);
        CHECK(r.valid == 0 && after.saml_misses == before.saml_misses + 1 &&
              after.saml_hits == before.saml_hits && after.entries == before.entries);
        verdict_free(&r);
        r = validate(e, who, &in4); /* still a miss: a failure is never cached */
        CHECK(r.valid == 0 && engine_stats(e).saml_hits == before.saml_hits);
        verdict_free(&r);
    }
    free(text);

    /* the same element in an envelope where another element carries its ID:
     * refused, cached or not (the verifier's rule against wrapping) */
    {
        char tail[128];
        xmlDocPtr d5;
        sts_token_in_t in5 = {.node = NULL};

        snprintf(tail, sizeof(tail), "<e:Other ID=\" %s \"/>", is->id);
        text = wrapped_with(is->token, "xmlns:w=\"urn:test:other\"", tail);
        d5 = parse_text(text);
        free(text);
        text = NULL;
        in5.node = target_of(d5);
        r = validate(e, who, &in5);
        CHECK(r.valid == 0 && r.reason != NULL &&
              strcmp(r.reason, "signature or structure invalid") == 0);
        verdict_free(&r);
        xmlFreeDoc(d5);
    }

    /* revocation is read from the store on a hit */
    CHECK(sts_engine_cancel(e, who, &in1, &err) == STS_OK);
    before = engine_stats(e);
    r = validate(e, who, &in2);
    CHECK(r.valid == 0 && r.reason != NULL && strcmp(r.reason, "token cancelled") == 0);
    CHECK(engine_stats(e).saml_hits == before.saml_hits + 1);
    verdict_free(&r);

    /* expired: not served (dropped), and the verdict is the verifier's */
    g_now = is->expires;
    before = engine_stats(e);
    r = validate(e, who, &in2);
    after = engine_stats(e);
    CHECK(r.valid == 0 && after.saml_hits == before.saml_hits &&
          after.saml_misses == before.saml_misses + 1 && after.entries < before.entries);
    verdict_free(&r);
    g_now = saved;

    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    xmlFreeDoc(d4);
    sts_issued_free(is);
}

/* An assertion handed in as base64url text (the REST face): the key is the
 * exact decoded bytes; a hit skips parse and signature, still honours the
 * declared type and the store row. */
static void test_engine_saml_text(sts_engine_t *e, const sts_principal_t *who)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/"};
    sts_issued_t *is = NULL;
    sts_err_t err;
    char *b64 = NULL, *b64bad = NULL, *bad = NULL;
    sts_vcache_stats_t before, after;
    verdict_case_t r;
    sts_keys_t *saved_key;

    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK);
    if (is == NULL)
        return;
    b64 = sts_b64url_encode((const unsigned char *)is->token, is->token_len);
    CHECK(b64 != NULL);
    if (b64 == NULL)
        goto done;
    sts_token_in_t in = {.text = b64, .text_len = strlen(b64), .type = STS_TT_SAML2};
    sts_token_in_t undeclared = {.text = b64, .text_len = strlen(b64)};
    sts_token_in_t wrong = {.text = b64, .text_len = strlen(b64), .type = STS_TT_SAML1};

    before = engine_stats(e);
    r = validate(e, who, &in);
    after = engine_stats(e);
    CHECK(r.valid == 1 && after.saml_misses == before.saml_misses + 1 &&
          after.entries == before.entries + 1);
    verdict_free(&r);
    saved_key = e->keys[0];
    e->keys[0] = e->keys[e->nkeys - 1]; /* the EC key: a full check would fail */
    r = validate(e, who, &undeclared);
    CHECK(r.valid == 1 && r.id != NULL && strcmp(r.id, is->id) == 0 &&
          engine_stats(e).saml_hits == after.saml_hits + 1);
    verdict_free(&r);
    r = validate(e, who, &wrong); /* a hit, and still the wrong version */
    CHECK(r.valid == 0 && r.reason != NULL &&
          strcmp(r.reason, "declared token type does not match the token") == 0);
    CHECK(engine_stats(e).saml_hits == after.saml_hits + 2);
    verdict_free(&r);
    e->keys[0] = saved_key;

    /* one changed byte of the decoded assertion: a miss, refused */
    bad = strdup(is->token);
    CHECK(bad != NULL && strstr(bad, ">alice<") != NULL);
    if (bad != NULL && strstr(bad, ">alice<") != NULL) {
        strstr(bad, ">alice<")[5] = 'f';
        b64bad = sts_b64url_encode((const unsigned char *)bad, strlen(bad));
        sts_token_in_t tampered = {.text = b64bad, .text_len = b64bad ? strlen(b64bad) : 0,
                                   .type = STS_TT_SAML2};
        before = engine_stats(e);
        r = validate(e, who, &tampered);
        CHECK(r.valid == 0 && engine_stats(e).saml_misses == before.saml_misses + 1 &&
              engine_stats(e).entries == before.entries);
        verdict_free(&r);
    }
    /* renewed: the hit reads the row, which says so */
    {
        sts_issued_t *renewed = NULL;
        CHECK(sts_engine_renew(e, who, &in, NULL, &renewed, &err) == STS_OK);
        before = engine_stats(e);
        r = validate(e, who, &in);
        CHECK(r.valid == 0 && r.reason != NULL && strncmp(r.reason, "token renewed", 13) == 0);
        CHECK(engine_stats(e).saml_hits == before.saml_hits + 1);
        verdict_free(&r);
        sts_issued_free(renewed);
    }
done:
    free(bad);
    free(b64bad);
    free(b64);
    sts_issued_free(is);
}

static void test_engine(void)
{
    char dir[] = "/tmp/sts-test-vcache-XXXXXX";
    sts_cfg_t *cfg;
    sts_engine_t *e;
    sts_err_t err;
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_principal_t who;

    g_now = time(NULL);
    sts_time_set_source(fake_now);
    e = sts_test_engine_open(dir, NULL, &cfg);
    if (e != NULL && sts_engine_authenticate(e, &cred, &who, &err) == STS_OK) {
        test_engine_saml_element(e, &who);
        test_engine_saml_text(e, &who);
    } else {
        CHECK(!"engine and alice");
    }
    sts_test_engine_close(dir, cfg, e);
}

int main(void)
{
    test_hit_miss_expiry();
    test_bounded();
    test_saml_entries();
    test_engine();
    return sts_test_summary();
}
