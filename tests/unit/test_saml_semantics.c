/*
 * test_saml_semantics.c - the engine's verdict on our own assertions whose
 * content was changed and signed again with our key (catalogue SA-01, SA-05):
 * the signature verifies, so what refuses them is the semantic check named in
 * the detail or the verdict's reason.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * The embedded default realm, a real store in a temporary directory and an
 * injected clock, as test_engine.c. Re-signing uses the engine's own signing
 * key (certs/, through the embedded default) and keeps the assertion's ID, so
 * the store row is the issued token's.
 */
#include "sts_engine.h"
#include "sts_engine_int.h" /* e->keys[0]: the key that signs our SAML */
#include "sts_keys.h"
#include "sts_ns.h"
#include "sts_saml.h"
#include "sts_test.h"
#include "sts_test_engine.h"
#include "sts_time.h"
#include "sts_xml.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

static time_t g_now;
static time_t fake_now(void) { return g_now; }

static const sts_xml_limits_t g_lim = {.max_depth = 64, .max_string = 65536,
                                       .max_size = 1 << 20};


static const char *iso(time_t t, char *buf)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The first child element of @parent named {@ns}@name, or NULL. */
static xmlNodePtr child(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = sts_xml_first_elem(parent); c != NULL; c = sts_xml_next_elem(c))
        if (sts_xml_is(c, ns, name))
            return c;
    return NULL;
}

/* A change to an assertion before it is signed again. */
typedef void (*mutate_fn)(xmlNodePtr assertion);

/*
 * @xml (one of our assertions) changed by @mutate and signed again with
 * @keys over "#<value of @id_attr>": enveloped + exc-c14n, RSA-SHA256, the
 * signature right after Issuer (SAML 2.0; first when there is no Issuer) or
 * last (SAML 1.1). Returns a new document (xmlFreeDoc), or NULL.
 */
static xmlDocPtr resign(sts_keys_t *keys, const char *xml, int v2, const char *id_attr,
                        mutate_fn mutate)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, old, sig, ref, issuer;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlChar *id = NULL;
    char uri[STS_SAML_ID_MAX + 2];
    int ok = 0;

    if (sts_xml_parse(xml, strlen(xml), &g_lim, &doc, NULL) != STS_OK)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if ((old = child(root, STS_NS_DS, "Signature")) != NULL) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    if (mutate != NULL)
        mutate(root);
    id = xmlGetNoNsProp(root, BAD_CAST id_attr);
    if (id == NULL || xmlAddID(NULL, doc, id, xmlHasNsProp(root, BAD_CAST id_attr, NULL)) == NULL)
        goto done;
    snprintf(uri, sizeof(uri), "#%s", (const char *)id);
    sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
                                          xmlSecTransformRsaSha256Id, NULL, BAD_CAST "ds");
    if (sig == NULL)
        goto done;
    issuer = v2 ? child(root, STS_NS_SAML2, "Issuer") : NULL;
    if (issuer != NULL)
        xmlAddNextSibling(issuer, sig);
    else if (v2 && sts_xml_first_elem(root) != NULL)
        xmlAddPrevSibling(sts_xml_first_elem(root), sig);
    else
        xmlAddChild(root, sig);
    ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, BAD_CAST uri, NULL);
    if (ref == NULL || xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL ||
        xmlSecTmplKeyInfoAddX509Data(xmlSecTmplSignatureEnsureKeyInfo(sig, NULL)) == NULL)
        goto done;
    if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
        goto done;
    ctx->signKey = sts_keys_thread_key(keys);
    ok = xmlSecDSigCtxSign(ctx, sig) >= 0;
    ctx->signKey = NULL; /* borrowed */
done:
    if (ctx != NULL)
        xmlSecDSigCtxDestroy(ctx);
    xmlFree(id);
    if (!ok) {
        fprintf(stderr, "resign: signing failed\n");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* Validate the root of @doc: the verdict's validity, and its reason in *why. */
static int verdict(sts_engine_t *e, const sts_principal_t *who, xmlDocPtr doc, const char **why)
{
    sts_token_in_t in = {.node = doc ? xmlDocGetRootElement(doc) : NULL};
    sts_verdict_t v = {.valid = 0};
    sts_err_t err;
    int valid = -1;

    *why = NULL;
    if (doc != NULL && sts_engine_validate(e, who, &in, &v, &err) == STS_OK) {
        valid = v.valid;
        *why = v.reason; /* static */
    }
    sts_verdict_clear(&v);
    return valid;
}

/* Expect the engine to call @doc invalid with a reason containing @why. */
#define INVALID(e, who, doc, why)                                                                  \
    do {                                                                                           \
        const char *r_ = NULL;                                                                     \
        int v_ = verdict((e), (who), (doc), &r_);                                                  \
        if (v_ == 0 && r_ != NULL && strstr(r_, (why)) != NULL) {                                  \
            g_pass++;                                                                              \
        } else {                                                                                   \
            g_fail++;                                                                              \
            fprintf(stderr, "%s:%d: want invalid (\"%s\"), got valid=%d reason \"%s\"\n",          \
                    __FILE__, __LINE__, (why), v_, r_ ? r_ : "-");                                 \
        }                                                                                          \
    } while (0)

/* ---- mutations ---------------------------------------------------------------- */

static char g_time_a[32], g_time_b[32];

static void drop_issuer(xmlNodePtr a)
{
    xmlNodePtr issuer = child(a, STS_NS_SAML2, "Issuer");
    xmlUnlinkNode(issuer);
    xmlFreeNode(issuer);
}

static void issuer_persistent(xmlNodePtr a)
{
    xmlSetProp(child(a, STS_NS_SAML2, "Issuer"), BAD_CAST "Format",
               BAD_CAST "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
}

static void issuer_entity(xmlNodePtr a)
{
    xmlSetProp(child(a, STS_NS_SAML2, "Issuer"), BAD_CAST "Format",
               BAD_CAST "urn:oasis:names:tc:SAML:2.0:nameid-format:entity");
}

static void issuer_empty_format(xmlNodePtr a)
{
    xmlSetProp(child(a, STS_NS_SAML2, "Issuer"), BAD_CAST "Format", BAD_CAST "");
}

/* SAML 1.1 AssertionID renamed ID (the SAML 2.0 spelling). */
static void assertion_id_as_id(xmlNodePtr a)
{
    xmlChar *id = xmlGetNoNsProp(a, BAD_CAST "AssertionID");
    xmlUnsetProp(a, BAD_CAST "AssertionID");
    xmlSetProp(a, BAD_CAST "ID", id);
    xmlFree(id);
}

static xmlNodePtr conditions(xmlNodePtr a)
{
    xmlNodePtr c = child(a, STS_NS_SAML2, "Conditions");
    return c != NULL ? c : child(a, STS_NS_SAML1, "Conditions");
}

static void not_before_a(xmlNodePtr a)
{
    xmlSetProp(conditions(a), BAD_CAST "NotBefore", BAD_CAST g_time_a);
}

static void not_on_or_after_a(xmlNodePtr a)
{
    xmlSetProp(conditions(a), BAD_CAST "NotOnOrAfter", BAD_CAST g_time_a);
}

static void window_a_b(xmlNodePtr a)
{
    xmlSetProp(conditions(a), BAD_CAST "NotBefore", BAD_CAST g_time_a);
    xmlSetProp(conditions(a), BAD_CAST "NotOnOrAfter", BAD_CAST g_time_b);
}

static void no_not_on_or_after(xmlNodePtr a)
{
    xmlUnsetProp(conditions(a), BAD_CAST "NotOnOrAfter");
}

static void issue_instant_a(xmlNodePtr a)
{
    xmlSetProp(a, BAD_CAST "IssueInstant", BAD_CAST g_time_a);
}

/* ---- tests -------------------------------------------------------------------- */

static sts_issued_t *issue(sts_engine_t *e, const sts_principal_t *who, const char *token_type)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/", .token_type = token_type};
    sts_issued_t *is = NULL;
    sts_err_t err;

    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK && is != NULL);
    return is;
}

/* SA-05: Issuer and the ID attribute. */
static void test_issuer_and_version(sts_engine_t *e, const sts_principal_t *who)
{
    sts_keys_t *keys = e->keys[0];
    sts_issued_t *t2 = issue(e, who, NULL), *t1 = issue(e, who, STS_TT_SAML11_URN);
    sts_saml_info_t *info = NULL;
    xmlDocPtr d;
    const char *why;
    sts_err_t err;

    if (t2 == NULL || t1 == NULL)
        goto done;
    /* the harness: re-signed unchanged, both versions are valid */
    d = resign(keys, t2->token, 1, "ID", NULL);
    CHECK(verdict(e, who, d, &why) == 1);
    xmlFreeDoc(d);
    d = resign(keys, t1->token, 0, "AssertionID", NULL);
    CHECK(verdict(e, who, d, &why) == 1);
    xmlFreeDoc(d);

    /* no saml2:Issuer: the signing profile refuses it before any crypto */
    d = resign(keys, t2->token, 1, "ID", drop_issuer);
    CHECK(d != NULL);
    if (d != NULL) {
        CHECK_ERR(sts_saml2_verify(keys, xmlDocGetRootElement(d), &info, &err),
                  STS_E_INVALID_TOKEN, err, "Issuer is not the first child");
        CHECK(info == NULL);
    }
    INVALID(e, who, d, "signature or structure invalid");
    xmlFreeDoc(d);

    /* an Issuer Format other than entity: the signature is good, the engine
     * refuses it as not ours */
    d = resign(keys, t2->token, 1, "ID", issuer_persistent);
    CHECK(d != NULL);
    if (d != NULL) {
        CHECK(sts_saml2_verify(keys, xmlDocGetRootElement(d), &info, &err) == STS_OK);
        sts_saml_info_free(info);
        info = NULL;
    }
    INVALID(e, who, d, "Issuer Format is not entity");
    xmlFreeDoc(d);
    d = resign(keys, t2->token, 1, "ID", issuer_empty_format);
    INVALID(e, who, d, "Issuer Format is not entity");
    xmlFreeDoc(d);
    d = resign(keys, t2->token, 1, "ID", issuer_entity); /* written out: still ours */
    CHECK(verdict(e, who, d, &why) == 1);
    xmlFreeDoc(d);

    /* saml1:Assertion with ID instead of AssertionID: renamed first, then
     * signed over #ID (the SAML 2.0 spelling) */
    {
        xmlDocPtr src = NULL;
        xmlBufferPtr buf = xmlBufferCreate();
        CHECK(sts_xml_parse(t1->token, strlen(t1->token), &g_lim, &src, NULL) == STS_OK);
        if (src != NULL && buf != NULL) {
            assertion_id_as_id(xmlDocGetRootElement(src));
            xmlNodeDump(buf, src, xmlDocGetRootElement(src), 0, 0);
            d = resign(keys, (const char *)xmlBufferContent(buf), 0, "ID", NULL);
            CHECK(d != NULL);
            if (d != NULL) {
                CHECK_ERR(sts_saml11_verify(keys, xmlDocGetRootElement(d), &info, &err),
                          STS_E_INVALID_TOKEN, err, "missing or malformed AssertionID");
                CHECK(info == NULL);
            }
            INVALID(e, who, d, "signature or structure invalid");
            xmlFreeDoc(d);
        }
        xmlBufferFree(buf);
        xmlFreeDoc(src);
    }
done:
    sts_issued_free(t1);
    sts_issued_free(t2);
}

/* SA-01: the validity window, both versions. */
static void test_validity_window(sts_engine_t *e, const sts_principal_t *who)
{
    static const struct {
        int v2;
        mutate_fn mutate;
        long a, b; /* g_time_a, g_time_b: now + a, now + b */
        const char *why;
    } cases[] = {
        {1, not_before_a, 600, 0, "not yet valid"},
        {1, window_a_b, 1200, 600, "not yet valid"},      /* NotBefore after NotOnOrAfter */
        {1, window_a_b, -60, -60, "expired"},             /* NotBefore = NotOnOrAfter */
        {1, issue_instant_a, 120, 0, "issued in the future"},
        {1, no_not_on_or_after, 0, 0, "expired"},
        {1, not_on_or_after_a, 0, 0, "expired"},           /* equal to now: on or after */
        {1, not_on_or_after_a, -1, 0, "expired"},
        {0, not_before_a, 600, 0, "not yet valid"},
        {0, issue_instant_a, 120, 0, "issued in the future"},
        {0, no_not_on_or_after, 0, 0, "expired"},
        {0, not_on_or_after_a, 0, 0, "expired"},
    };
    sts_issued_t *t2 = issue(e, who, NULL), *t1 = issue(e, who, STS_TT_SAML11_URN);
    const char *why;
    xmlDocPtr d;

    if (t2 == NULL || t1 == NULL)
        goto done;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        iso(g_now + cases[i].a, g_time_a);
        iso(g_now + cases[i].b, g_time_b);
        d = resign(e->keys[0], cases[i].v2 ? t2->token : t1->token, cases[i].v2,
                   cases[i].v2 ? "ID" : "AssertionID", cases[i].mutate);
        CHECK(d != NULL);
        INVALID(e, who, d, cases[i].why);
        xmlFreeDoc(d);
    }
    /* control: NotOnOrAfter one second ahead is still valid */
    iso(g_now + 1, g_time_a);
    d = resign(e->keys[0], t2->token, 1, "ID", not_on_or_after_a);
    CHECK(verdict(e, who, d, &why) == 1);
    xmlFreeDoc(d);
done:
    sts_issued_free(t1);
    sts_issued_free(t2);
}

int main(void)
{
    char dir[] = "/tmp/sts-test-saml-sem-XXXXXX";
    sts_cfg_t *cfg;
    sts_engine_t *e;
    sts_err_t err;
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_principal_t who;

    g_now = time(NULL);
    sts_time_set_source(fake_now);
    e = sts_test_engine_open(dir, NULL, &cfg);
    if (e != NULL && sts_engine_authenticate(e, &cred, &who, &err) == STS_OK) {
        test_issuer_and_version(e, &who);
        test_validity_window(e, &who);
    } else {
        CHECK(0);
    }
    sts_test_engine_close(dir, cfg, e);
    return sts_test_summary();
}
