/*
 * sts_wssig.c - verify a WS-Security message signature (requester X.509).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The signature in a wsse:Security header is checked with the requester's
 * certificate key (never a key named in KeyInfo), with an allow-list we own:
 * exc-c14n, SHA-256 digests, RSA-SHA256 or ECDSA-SHA256, same-document
 * references only. Signature wrapping fails because every wsu:Id in the
 * envelope must be unique, each Reference must resolve to exactly one
 * element, and the caller names the elements it then processes (the Body
 * and the Timestamp): each of them must be covered by a verified Reference.
 */
#include "sts_wssig.h"

#include "sts_log.h"
#include "sts_ns.h"
#include "sts_xml.h"

#include <libxml/tree.h>
#include <libxml/valid.h>
#include <openssl/evp.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/membuf.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>

/* Registers every wsu:Id of the tree under @node as an ID; a repeated value
 * (a wrapping attempt, or just a broken message) is refused. */
static sts_errc_t register_ids(xmlDocPtr doc, xmlNodePtr node, sts_err_t *err)
{
    for (xmlNodePtr c = node; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlAttrPtr a = xmlHasNsProp(c, BAD_CAST "Id", BAD_CAST STS_NS_WSU);
        if (a != NULL) {
            xmlChar *v = xmlNodeListGetString(doc, a->children, 1);
            int ok = v != NULL && v[0] != '\0' && xmlGetID(doc, v) == NULL &&
                     xmlAddID(NULL, doc, v, a) != NULL;
            xmlFree(v);
            if (!ok)
                return STS_ERR(err, STS_E_AUTH_FAILED, "empty or repeated wsu:Id");
        }
        if (register_ids(doc, c->children, err) != STS_OK)
            return STS_E_AUTH_FAILED;
    }
    return STS_OK;
}

/* Whether @node is what the verified Reference @uri ("#id") points at. */
static int covers(xmlDocPtr doc, const xmlChar *uri, const xmlNode *node)
{
    xmlAttrPtr a;

    if (uri == NULL || uri[0] != '#' || (a = xmlGetID(doc, uri + 1)) == NULL)
        return 0;
    return a->parent == node;
}

/* More References than a message signature needs (Body, Timestamp, a few
 * headers) are refused, and so is a Reference with more Transforms than one
 * exc-c14n (two are allowed: some clients write it twice). */
#define STS_WSSIG_MAX_REFERENCES 16
#define STS_WSSIG_MAX_TRANSFORMS 2

/* The Transforms of one Reference, on the DOM: at most one ds:Transforms, of
 * at most STS_WSSIG_MAX_TRANSFORMS exc-c14n Transform elements. */
static sts_errc_t check_transforms(xmlNodePtr ref, size_t i, sts_err_t *err)
{
    size_t lists = 0, n = 0;

    for (xmlNodePtr c = sts_xml_first_elem(ref); c != NULL; c = sts_xml_next_elem(c)) {
        if (!sts_xml_is(c, STS_NS_DS, "Transforms"))
            continue;
        if (++lists > 1)
            return STS_ERR(err, STS_E_AUTH_FAILED, "Reference %zu: two ds:Transforms", i);
        for (xmlNodePtr t = sts_xml_first_elem(c); t != NULL; t = sts_xml_next_elem(t)) {
            xmlChar *alg = xmlGetNoNsProp(t, BAD_CAST "Algorithm");
            int ok = sts_xml_is(t, STS_NS_DS, "Transform") && alg != NULL &&
                     xmlStrEqual(alg, BAD_CAST STS_DS_ALG_EXC_C14N);

            xmlFree(alg);
            if (!ok)
                return STS_ERR(err, STS_E_AUTH_FAILED,
                               "Reference %zu: a transform other than exc-c14n", i);
            if (++n > STS_WSSIG_MAX_TRANSFORMS)
                return STS_ERR(err, STS_E_AUTH_FAILED, "Reference %zu: more than %d transforms",
                               i, STS_WSSIG_MAX_TRANSFORMS);
        }
    }
    return STS_OK;
}

/* Counts the References of @sig's SignedInfo and checks their Transforms on
 * the DOM, before xmlsec canonicalises and digests what each one points at:
 * thousands of References (or of transforms in one) over the same large Body
 * would cost that many passes over it before the signature value is ever
 * checked (catalogue XP-06). */
static sts_errc_t count_references(xmlNodePtr sig, sts_err_t *err)
{
    xmlNodePtr si = sts_xml_first_elem(sig);
    size_t n = 0;
    sts_errc_t rc;

    if (!sts_xml_is(si, STS_NS_DS, "SignedInfo"))
        return STS_ERR(err, STS_E_AUTH_FAILED, "ds:Signature does not start with SignedInfo");
    for (xmlNodePtr c = sts_xml_first_elem(si); c != NULL; c = sts_xml_next_elem(c)) {
        if (!sts_xml_is(c, STS_NS_DS, "Reference"))
            continue;
        if (++n > STS_WSSIG_MAX_REFERENCES)
            return STS_ERR(err, STS_E_AUTH_FAILED, "more than %d References in SignedInfo",
                           STS_WSSIG_MAX_REFERENCES);
        rc = check_transforms(c, n - 1, err);
        if (rc != STS_OK)
            return rc;
    }
    if (n == 0)
        return STS_ERR(err, STS_E_AUTH_FAILED, "no Reference in SignedInfo");
    return STS_OK;
}

static sts_errc_t check_references(xmlSecDSigCtxPtr ctx, xmlDocPtr doc,
                                   xmlNodePtr const *required, size_t nrequired, sts_err_t *err)
{
    size_t n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);

    if (n == 0 || n > STS_WSSIG_MAX_REFERENCES)
        return STS_ERR(err, STS_E_AUTH_FAILED, "%zu References", n);
    for (size_t i = 0; i < n; i++) {
        xmlSecDSigReferenceCtxPtr r = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
        if (r == NULL || r->status != xmlSecDSigStatusSucceeded || r->uri == NULL ||
            r->uri[0] != '#' || xmlGetID(doc, r->uri + 1) == NULL)
            return STS_ERR(err, STS_E_AUTH_FAILED, "Reference %zu not verified by ID", i);
        for (xmlSecTransformPtr t = r->transformCtx.first; t != NULL; t = t->next)
            if (t->id != xmlSecTransformExclC14NId && t->id != xmlSecTransformSha256Id &&
                t->id != xmlSecTransformXPointerId && t->id != xmlSecTransformMemBufId)
                return STS_ERR(err, STS_E_AUTH_FAILED, "unexpected transform in Reference %zu",
                               i);
    }
    /* Each element the caller processes is covered by one of them. */
    for (size_t k = 0; k < nrequired; k++) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++) {
            xmlSecDSigReferenceCtxPtr r = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
            found = covers(doc, r->uri, required[k]);
        }
        if (!found)
            return STS_ERR(err, STS_E_AUTH_FAILED, "%s is not signed",
                           (const char *)required[k]->name);
    }
    return STS_OK;
}

xmlSecDSigCtxPtr sts_dsig_verify_ctx(int ec, int enveloped)
{
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);

    if (ctx == NULL)
        return NULL;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
    /* KeyInfo names the key we already hold: it is never a source of keys
     * (no keys manager, no retrieval, no encrypted keys, key names only). */
    ctx->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
    ctx->keyInfoReadCtx.maxEncryptedKeyLevel = 0;
    if ((enveloped &&
         xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0) ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(
            ctx, ec ? xmlSecTransformEcdsaSha256Id : xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr)xmlSecKeyDataNameId) <
            0) {
        xmlSecDSigCtxDestroy(ctx);
        return NULL;
    }
    return ctx;
}

sts_errc_t sts_wssig_verify(xmlNodePtr sig, EVP_PKEY *pkey, xmlNodePtr const *required,
                            size_t nrequired, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    xmlDocPtr doc = sig ? sig->doc : NULL;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlSecKeyPtr key = NULL;
    xmlSecKeyDataPtr data = NULL;
    int ec, ret;

    STS_FAIL_IF(doc == NULL || pkey == NULL, err, STS_E_INTERNAL, "wssig: bad arguments");
    ec = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC;
    STS_CHECK(count_references(sig, err));
    STS_CHECK(register_ids(doc, xmlDocGetRootElement(doc), err));
    STS_FAIL_IF(EVP_PKEY_up_ref(pkey) != 1, err, STS_E_CRYPTO, "EVP_PKEY_up_ref");
    data = xmlSecOpenSSLEvpKeyAdopt(pkey);
    if (data == NULL)
        EVP_PKEY_free(pkey);
    key = data ? xmlSecKeyCreate() : NULL;
    STS_FAIL_IF(key == NULL || xmlSecKeySetValue(key, data) < 0, err, STS_E_CRYPTO,
                "requester key");
    data = NULL; /* the key owns it */
    /* no enveloped transform: a WS-Security signature sits beside what it signs */
    ctx = sts_dsig_verify_ctx(ec, 0);
    STS_FAIL_IF(ctx == NULL, err, STS_E_INTERNAL, "cannot set up the xmlsec context");
    ctx->signKey = key; /* owned here, not by the context */
    ret = xmlSecDSigCtxVerify(ctx, sig);
    ctx->signKey = NULL;
    STS_FAIL_IF(ret < 0, err, STS_E_AUTH_FAILED, "message signature processing failed");
    STS_FAIL_IF(ctx->status != xmlSecDSigStatusSucceeded, err, STS_E_AUTH_FAILED,
                "message signature or digest mismatch");
    STS_CHECK(check_references(ctx, doc, required, nrequired, err));
cleanup:
    if (ctx != NULL) {
        ctx->signKey = NULL;
        xmlSecDSigCtxDestroy(ctx);
    }
    if (key != NULL)
        xmlSecKeyDestroy(key);
    if (data != NULL)
        xmlSecKeyDataDestroy(data);
    return rc;
}
