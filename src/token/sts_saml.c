/*
 * sts_saml.c - SAML 2.0 and SAML 1.1 bearer assertions: build + sign, verify + read.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Owns the SAML signing profile (enveloped XML-DSig, exc-c14n, one Reference
 * to "#"+ID, RSA-SHA256 or ECDSA-SHA256 by our key only) and all xmlsec use
 * for it. It does NOT decide policy: time window, issuer and audience checks
 * belong to the engine. XML is built with the libxml2 tree API, never printf.
 */
#include "sts_saml.h"
#include "sts_xenc.h"
#include "sts_wssig.h"

#include "sts_log.h"
#include "sts_ns.h"
#include "sts_time.h"
#include "sts_xml.h"

#include <libxml/hash.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlstring.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <xmlsec/base64.h>
#include <xmlsec/crypto.h>
#include <xmlsec/membuf.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <stdlib.h>
#include <string.h>

#define STS_SAML_ID_RANDOM_BYTES 16

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) holding only
 * XML 1.0 Chars: xmlCheckUTF8() accepts overlong forms, so it is not enough. */
static int xml_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL)
        return 0;
    while (*p) {
        unsigned long cp;
        int n;

        if (*p < 0x80) {
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                return 0;
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf) {
            cp = *p & 0x1fUL;
            n = 1;
        } else if (*p >= 0xe0 && *p <= 0xef) {
            cp = *p & 0x0fUL;
            n = 2;
        } else if (*p >= 0xf0 && *p <= 0xf4) {
            cp = *p & 0x07UL;
            n = 3;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3fUL);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
            return 0;
        p += n + 1;
    }
    return 1;
}

/* Our IDs are "_" + hex; accept NCName-safe ASCII only, so "#"+ID and the
 * xpointer(id('...')) xmlsec builds from it can never be ambiguous. */
static int id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n >= STS_SAML_ID_MAX)
        return 0;
    if (!((id[0] >= 'A' && id[0] <= 'Z') || (id[0] >= 'a' && id[0] <= 'z') || id[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int new_id(char id[STS_SAML_ID_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[STS_SAML_ID_RANDOM_BYTES];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -1;
    id[0] = '_';
    for (size_t i = 0; i < sizeof(rnd); i++) {
        id[1 + 2 * i] = hex[rnd[i] >> 4];
        id[2 + 2 * i] = hex[rnd[i] & 0x0f];
    }
    id[1 + 2 * sizeof(rnd)] = '\0';
    return 0;
}

/* xmlChar* (xmlMalloc) -> char* (malloc), so sts_saml_info_free() is plain free(). */
static char *dup_xml(const xmlChar *s)
{
    return s != NULL ? strdup((const char *)s) : NULL;
}

/* ------------------------------------------------------------------------ */
/* issue                                                                    */
/* ------------------------------------------------------------------------ */

static int set_time_prop(xmlNodePtr node, const char *name, time_t t)
{
    char buf[STS_TIME_BUFLEN];
    return xmlNewProp(node, BAD_CAST name, BAD_CAST sts_time_format(t, buf, sizeof(buf))) != NULL
               ? 0
               : -1;
}

/*
 * <saml2:Condition xsi:type="del:DelegationRestrictionType"> with a
 * del:Delegate/saml2:NameID per intermediary, most recent first. The del and
 * xsi namespaces are declared on the assertion (all namespaces are). 0 or -1.
 */
static int add_delegation(xmlNodePtr cond, xmlNsPtr saml, const sts_saml_params_t *p)
{
    xmlNodePtr root = xmlDocGetRootElement(cond->doc), c, d;
    xmlNsPtr del = xmlSearchNsByHref(cond->doc, root, BAD_CAST STS_NS_SAML2_DEL);
    xmlNsPtr xsi = xmlSearchNsByHref(cond->doc, root, BAD_CAST STS_NS_XSI);

    c = xmlNewChild(cond, saml, BAD_CAST "Condition", NULL);
    if (del == NULL || xsi == NULL || c == NULL ||
        xmlNewNsProp(c, xsi, BAD_CAST "type", BAD_CAST "del:DelegationRestrictionType") == NULL)
        return -1;
    for (size_t i = 0; i < p->ndelegates; i++) {
        d = xmlNewChild(c, del, BAD_CAST "Delegate", NULL);
        if (d == NULL ||
            xmlNewTextChild(d, saml, BAD_CAST "NameID", BAD_CAST p->delegates[i]) == NULL)
            return -1;
    }
    return 0;
}

/* Conditions (SAML 2.0 or 1.1, by @saml) with the time window and, when
 * there is one, the audience inside a @restriction element. 0 or -1. */
static int add_conditions(xmlNodePtr root, xmlNsPtr saml, const char *restriction,
                          const sts_saml_params_t *p)
{
    xmlNodePtr cond = xmlNewChild(root, saml, BAD_CAST "Conditions", NULL), ar;

    if (cond == NULL || set_time_prop(cond, "NotBefore", p->not_before) != 0 ||
        set_time_prop(cond, "NotOnOrAfter", p->not_on_or_after) != 0)
        return -1;
    if (p->audience != NULL && p->audience[0] != '\0') {
        ar = xmlNewChild(cond, saml, BAD_CAST restriction, NULL);
        if (ar == NULL ||
            xmlNewTextChild(ar, saml, BAD_CAST "Audience", BAD_CAST p->audience) == NULL)
            return -1;
    }
    return p->ndelegates > 0 ? add_delegation(cond, saml, p) : 0;
}

/* Make every ds:* node of the signature template use the ds namespace
 * declared on the assertion root and drop the template's own declaration,
 * so that all namespaces are declared on the root (exc-c14n is unaffected). */
static void hoist_ds_ns(xmlNodePtr sig, xmlNsPtr root_ds)
{
    xmlNodePtr n = sig;
    xmlNsPtr *pp;

    while (n != NULL) {
        if (n->type == XML_ELEMENT_NODE && n->ns != NULL &&
            xmlStrEqual(n->ns->href, BAD_CAST STS_NS_DS))
            n->ns = root_ds;
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != NULL && n != sig && n->next == NULL)
            n = n->parent;
        if (n == NULL || n == sig)
            break;
        n = n->next;
    }
    for (pp = &sig->nsDef; *pp != NULL;) {
        if (xmlStrEqual((*pp)->href, BAD_CAST STS_NS_DS)) {
            xmlNsPtr dead = *pp;
            *pp = dead->next;
            dead->next = NULL;
            xmlFreeNs(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
}

static sts_errc_t check_params(const sts_saml_params_t *p, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;

    STS_FAIL_IF(p->issuer == NULL || p->issuer[0] == '\0', err, STS_E_INTERNAL,
                "SAML issuer missing");
    STS_FAIL_IF(p->subject == NULL || p->subject[0] == '\0', err, STS_E_INVALID_REQUEST,
                "SAML subject missing");
    STS_FAIL_IF(!xml_text_ok(p->issuer), err, STS_E_INTERNAL, "invalid character in issuer");
    STS_FAIL_IF(!xml_text_ok(p->subject), err, STS_E_INVALID_REQUEST,
                "invalid character in subject");
    STS_FAIL_IF(p->name_qualifier != NULL && !xml_text_ok(p->name_qualifier), err,
                STS_E_INVALID_REQUEST, "invalid character in the subject's issuer");
    STS_FAIL_IF(p->audience != NULL && !xml_text_ok(p->audience), err, STS_E_INVALID_REQUEST,
                "invalid character in audience");
    STS_FAIL_IF(p->authn_context != NULL && !xml_text_ok(p->authn_context), err,
                STS_E_INVALID_REQUEST, "invalid character in authn context");
    STS_FAIL_IF(p->not_on_or_after <= p->not_before, err, STS_E_INVALID_LIFETIME,
                "NotOnOrAfter is not after NotBefore");
    STS_FAIL_IF(p->nattrs > 0 && p->attrs == NULL, err, STS_E_INTERNAL, "attrs missing");
    STS_FAIL_IF(p->hok_key != NULL && (p->hok_rcpt == NULL || p->hok_key_len == 0), err,
                STS_E_INTERNAL, "holder-of-key without a recipient");
    STS_FAIL_IF(p->ndelegates > STS_SAML_MAX_DELEGATES ||
                    (p->ndelegates > 0 && p->delegates == NULL),
                err, STS_E_INVALID_REQUEST, "%zu delegates", p->ndelegates);
    for (size_t i = 0; i < p->ndelegates; i++)
        STS_FAIL_IF(p->delegates[i] == NULL || p->delegates[i][0] == '\0' ||
                        !xml_text_ok(p->delegates[i]),
                    err, STS_E_INVALID_REQUEST, "invalid delegate (#%zu)", i);
    for (size_t i = 0; i < p->nattrs; i++) {
        const sts_saml_attr_t *a = &p->attrs[i];
        STS_FAIL_IF(a->name == NULL || a->name[0] == '\0' || !xml_text_ok(a->name), err,
                    STS_E_INVALID_REQUEST, "invalid attribute name (#%zu)", i);
        STS_FAIL_IF(a->nvalues > 0 && a->values == NULL, err, STS_E_INTERNAL,
                    "attribute values missing (#%zu)", i);
        for (size_t j = 0; j < a->nvalues; j++)
            STS_FAIL_IF(!xml_text_ok(a->values[j]), err, STS_E_INVALID_REQUEST,
                        "invalid attribute value (#%zu/%zu)", i, j);
    }

cleanup:
    return rc;
}

/* Holder-of-key: a symmetric proof key or the requester's certificate. */
#define HOK(p) ((p)->hok_key != NULL || (p)->hok_cert_b64 != NULL || (p)->hok_modulus_b64 != NULL)

/* <ds:KeyInfo> with the proof key under @parent: <xenc:EncryptedKey/> for a
 * symmetric key, <ds:X509Data><ds:X509Certificate/> for a public key. */
static int add_proof_key(xmlNodePtr parent, xmlNsPtr ds, const sts_saml_params_t *p)
{
    xmlNodePtr ki = xmlNewChild(parent, ds, BAD_CAST "KeyInfo", NULL), x5d, kv, rsa;
    if (ki != NULL && p->hok_modulus_b64 != NULL) {
        kv = xmlNewChild(ki, ds, BAD_CAST "KeyValue", NULL);
        rsa = kv ? xmlNewChild(kv, ds, BAD_CAST "RSAKeyValue", NULL) : NULL;
        return rsa != NULL &&
                       xmlNewTextChild(rsa, ds, BAD_CAST "Modulus",
                                       BAD_CAST p->hok_modulus_b64) != NULL &&
                       xmlNewTextChild(rsa, ds, BAD_CAST "Exponent",
                                       BAD_CAST p->hok_exponent_b64) != NULL
                   ? 0
                   : -1;
    }
    if (ki != NULL && p->hok_cert_b64 != NULL) {
        x5d = xmlNewChild(ki, ds, BAD_CAST "X509Data", NULL);
        return x5d != NULL && xmlNewTextChild(x5d, ds, BAD_CAST "X509Certificate",
                                              BAD_CAST p->hok_cert_b64) != NULL
                   ? 0
                   : -1;
    }
    return ki != NULL &&
                   sts_xenc_add_encrypted_key(p->hok_rcpt, p->hok_key, p->hok_key_len, ki, NULL) ==
                       STS_OK
               ? 0
               : -1;
}

/* Builds the unsigned assertion tree into @doc; returns the Issuer node. */
static xmlNodePtr build_assertion(xmlDocPtr doc, const sts_saml_params_t *p, const char *id,
                                  xmlNsPtr *ds_out)
{
    xmlNodePtr root, issuer, subj, sc, scd, authn, actx, as, attr, n;
    xmlNsPtr saml, xs = NULL, xsi = NULL;

    root = xmlNewDocNode(doc, NULL, BAD_CAST "Assertion", NULL);
    if (root == NULL)
        return NULL;
    xmlDocSetRootElement(doc, root);
    saml = xmlNewNs(root, BAD_CAST STS_NS_SAML2, BAD_CAST "saml2");
    *ds_out = xmlNewNs(root, BAD_CAST STS_NS_DS, BAD_CAST "ds");
    if (p->nattrs > 0 || p->ndelegates > 0 || HOK(p)) {
        xs = xmlNewNs(root, BAD_CAST STS_NS_XS, BAD_CAST "xs");
        xsi = xmlNewNs(root, BAD_CAST STS_NS_XSI, BAD_CAST "xsi");
        if (xs == NULL || xsi == NULL)
            return NULL;
    }
    if (p->hok_key != NULL && xmlNewNs(root, BAD_CAST STS_NS_XENC, BAD_CAST "xenc") == NULL)
        return NULL;
    if (p->ndelegates > 0 && xmlNewNs(root, BAD_CAST STS_NS_SAML2_DEL, BAD_CAST "del") == NULL)
        return NULL;
    if (saml == NULL || *ds_out == NULL)
        return NULL;
    xmlSetNs(root, saml);
    if (xmlNewProp(root, BAD_CAST "ID", BAD_CAST id) == NULL ||
        xmlNewProp(root, BAD_CAST "Version", BAD_CAST "2.0") == NULL ||
        set_time_prop(root, "IssueInstant", p->issue_instant) != 0)
        return NULL;

    /* schema order: Issuer, (ds:Signature), Subject, Conditions, statements */
    issuer = xmlNewTextChild(root, saml, BAD_CAST "Issuer", BAD_CAST p->issuer);

    subj = xmlNewChild(root, saml, BAD_CAST "Subject", NULL);
    n = xmlNewTextChild(subj, saml, BAD_CAST "NameID", BAD_CAST p->subject);
    if (issuer == NULL || subj == NULL || n == NULL ||
        (p->name_qualifier != NULL &&
         xmlNewProp(n, BAD_CAST "NameQualifier", BAD_CAST p->name_qualifier) == NULL) ||
        xmlNewProp(n, BAD_CAST "Format", BAD_CAST STS_SAML2_NAMEID_UNSPECIFIED) == NULL)
        return NULL;
    sc = xmlNewChild(subj, saml, BAD_CAST "SubjectConfirmation", NULL);
    if (sc == NULL ||
        xmlNewProp(sc, BAD_CAST "Method",
                   BAD_CAST(HOK(p) ? STS_SAML2_CM_HOK : STS_SAML2_CM_BEARER)) == NULL)
        return NULL;
    scd = xmlNewChild(sc, saml, BAD_CAST "SubjectConfirmationData", NULL);
    if (scd == NULL || set_time_prop(scd, "NotOnOrAfter", p->not_on_or_after) != 0)
        return NULL;
    /* holder-of-key: KeyInfoConfirmationDataType with the encrypted proof key */
    if (HOK(p) &&
        (xmlNewNsProp(scd, xsi, BAD_CAST "type", BAD_CAST "saml2:KeyInfoConfirmationDataType") ==
             NULL ||
         add_proof_key(scd, *ds_out, p) != 0))
        return NULL;

    if (add_conditions(root, saml, "AudienceRestriction", p) != 0)
        return NULL;

    authn = xmlNewChild(root, saml, BAD_CAST "AuthnStatement", NULL);
    if (authn == NULL ||
        set_time_prop(authn, "AuthnInstant",
                      p->authn_instant != 0 ? p->authn_instant : p->issue_instant) != 0)
        return NULL;
    actx = xmlNewChild(authn, saml, BAD_CAST "AuthnContext", NULL);
    if (actx == NULL ||
        xmlNewTextChild(actx, saml, BAD_CAST "AuthnContextClassRef",
                        BAD_CAST(p->authn_context != NULL && p->authn_context[0] != '\0'
                                     ? p->authn_context
                                     : STS_SAML2_AC_UNSPECIFIED)) == NULL)
        return NULL;

    if (p->nattrs > 0) {
        as = xmlNewChild(root, saml, BAD_CAST "AttributeStatement", NULL);
        if (as == NULL)
            return NULL;
        for (size_t i = 0; i < p->nattrs; i++) {
            attr = xmlNewChild(as, saml, BAD_CAST "Attribute", NULL);
            if (attr == NULL ||
                xmlNewProp(attr, BAD_CAST "Name", BAD_CAST p->attrs[i].name) == NULL ||
                xmlNewProp(attr, BAD_CAST "NameFormat",
                           BAD_CAST(p->attrs[i].uri ? STS_SAML2_ATTRNAME_URI
                                                    : STS_SAML2_ATTRNAME_BASIC)) == NULL)
                return NULL;
            for (size_t j = 0; j < p->attrs[i].nvalues; j++) {
                n = xmlNewTextChild(attr, saml, BAD_CAST "AttributeValue",
                                    BAD_CAST p->attrs[i].values[j]);
                if (n == NULL ||
                    xmlNewNsProp(n, xsi, BAD_CAST "type", BAD_CAST "xs:string") == NULL)
                    return NULL;
            }
        }
    }
    return issuer;
}

/* A SAML 1.1 Subject for statement @st: NameIdentifier + bearer confirmation,
 * or holder-of-key with the proof key in a ds:KeyInfo. */
static int add_subject11(xmlNodePtr st, xmlNsPtr saml, xmlNsPtr ds, const sts_saml_params_t *p)
{
    xmlNodePtr subj = xmlNewChild(st, saml, BAD_CAST "Subject", NULL), n, sc;

    if (subj == NULL)
        return -1;
    n = xmlNewTextChild(subj, saml, BAD_CAST "NameIdentifier", BAD_CAST p->subject);
    if (n == NULL ||
        (p->name_qualifier != NULL &&
         xmlNewProp(n, BAD_CAST "NameQualifier", BAD_CAST p->name_qualifier) == NULL) ||
        xmlNewProp(n, BAD_CAST "Format", BAD_CAST STS_SAML2_NAMEID_UNSPECIFIED) == NULL)
        return -1;
    sc = xmlNewChild(subj, saml, BAD_CAST "SubjectConfirmation", NULL);
    if (sc == NULL ||
        xmlNewTextChild(sc, saml, BAD_CAST "ConfirmationMethod",
                        BAD_CAST(HOK(p) ? STS_SAML11_CM_HOK : STS_SAML11_CM_BEARER)) == NULL)
        return -1;
    return HOK(p) ? add_proof_key(sc, ds, p) : 0;
}

/* Builds the unsigned SAML 1.1 assertion tree into @doc; returns its root. */
/* SAML 1.1 AttributeName and AttributeNamespace: a claim URI is split at its
 * last '/' (".../claims/emailaddress" -> namespace ".../claims", name
 * "emailaddress"); a plain name goes in our basic namespace. 0 or -1. */
static int add_name11(xmlNodePtr attr, const sts_saml_attr_t *a)
{
    const char *slash = a->uri ? strrchr(a->name, '/') : NULL;
    xmlChar *ns;
    int rc;

    if (slash == NULL || slash[1] == '\0' || slash == a->name)
        return xmlNewProp(attr, BAD_CAST "AttributeName", BAD_CAST a->name) != NULL &&
                       xmlNewProp(attr, BAD_CAST "AttributeNamespace",
                                  BAD_CAST STS_SAML11_ATTR_NAMESPACE) != NULL
                   ? 0
                   : -1;
    ns = xmlStrndup(BAD_CAST a->name, (int)(slash - a->name));
    rc = ns != NULL && xmlNewProp(attr, BAD_CAST "AttributeName", BAD_CAST(slash + 1)) != NULL &&
                 xmlNewProp(attr, BAD_CAST "AttributeNamespace", ns) != NULL
             ? 0
             : -1;
    xmlFree(ns);
    return rc;
}

static xmlNodePtr build_assertion11(xmlDocPtr doc, const sts_saml_params_t *p, const char *id,
                                    xmlNsPtr *ds_out)
{
    xmlNodePtr root, st, as = NULL, attr;
    xmlNsPtr saml;
    const char *method = p->authn_context != NULL && p->authn_context[0] != '\0'
                             ? p->authn_context
                             : STS_SAML11_AM_UNSPECIFIED;

    root = xmlNewDocNode(doc, NULL, BAD_CAST "Assertion", NULL);
    if (root == NULL)
        return NULL;
    xmlDocSetRootElement(doc, root);
    saml = xmlNewNs(root, BAD_CAST STS_NS_SAML1, BAD_CAST "saml");
    *ds_out = xmlNewNs(root, BAD_CAST STS_NS_DS, BAD_CAST "ds");
    if (saml == NULL || *ds_out == NULL ||
        (p->hok_key != NULL && xmlNewNs(root, BAD_CAST STS_NS_XENC, BAD_CAST "xenc") == NULL))
        return NULL;
    xmlSetNs(root, saml);
    if (xmlNewProp(root, BAD_CAST "MajorVersion", BAD_CAST "1") == NULL ||
        xmlNewProp(root, BAD_CAST "MinorVersion", BAD_CAST "1") == NULL ||
        xmlNewProp(root, BAD_CAST "AssertionID", BAD_CAST id) == NULL ||
        xmlNewProp(root, BAD_CAST "Issuer", BAD_CAST p->issuer) == NULL ||
        set_time_prop(root, "IssueInstant", p->issue_instant) != 0)
        return NULL;

    /* schema order: Conditions, (Advice), statements, ds:Signature */
    if (add_conditions(root, saml, "AudienceRestrictionCondition", p) != 0)
        return NULL;

    st = xmlNewChild(root, saml, BAD_CAST "AuthenticationStatement", NULL);
    if (st == NULL ||
        xmlNewProp(st, BAD_CAST "AuthenticationMethod", BAD_CAST method) == NULL ||
        set_time_prop(st, "AuthenticationInstant",
                      p->authn_instant != 0 ? p->authn_instant : p->issue_instant) != 0 ||
        add_subject11(st, saml, *ds_out, p) != 0)
        return NULL;

    for (size_t i = 0; i < p->nattrs; i++) {
        if (p->attrs[i].nvalues == 0)
            continue; /* SAML 1.1 has no Attribute without an AttributeValue */
        if (as == NULL) {
            as = xmlNewChild(root, saml, BAD_CAST "AttributeStatement", NULL);
            if (as == NULL || add_subject11(as, saml, *ds_out, p) != 0)
                return NULL;
        }
        attr = xmlNewChild(as, saml, BAD_CAST "Attribute", NULL);
        if (attr == NULL || add_name11(attr, &p->attrs[i]) != 0)
            return NULL;
        for (size_t j = 0; j < p->attrs[i].nvalues; j++)
            if (xmlNewTextChild(attr, saml, BAD_CAST "AttributeValue",
                                BAD_CAST p->attrs[i].values[j]) == NULL)
                return NULL;
    }
    return root;
}

/*
 * Signs the assertion that is the root of @doc (its ID in attribute @id_attr)
 * with an enveloped signature placed right after @after, or appended as the
 * root's last child when @after is NULL, and serialises it.
 * *xml_out: new buffer (free()); @doc stays the caller's.
 */
static sts_errc_t sign_and_dump(sts_keys_t *keys, xmlDocPtr doc, const char *id_attr,
                                const char *id, xmlNodePtr after, xmlNsPtr ds, char **xml_out,
                                size_t *len_out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    xmlNodePtr root = xmlDocGetRootElement(doc), sig = NULL, ref, ki, x509;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlSecKeyPtr key;
    xmlBufferPtr buf = NULL;
    char uri[STS_SAML_ID_MAX + 1];
    char *xml = NULL;
    int n;

    snprintf(uri, sizeof(uri), "#%s", id);
    /* SAML's ID is not a DTD ID: register it or "#ID" does not resolve. */
    STS_FAIL_IF(xmlAddID(NULL, doc, BAD_CAST id, xmlHasNsProp(root, BAD_CAST id_attr, NULL)) ==
                    NULL,
                err, STS_E_INTERNAL, "xmlAddID failed");

    sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
                                          sts_keys_is_ec(keys) ? xmlSecTransformEcdsaSha256Id
                                                               : xmlSecTransformRsaSha256Id,
                                          NULL, BAD_CAST "ds");
    STS_FAIL_IF(sig == NULL, err, STS_E_CRYPTO, "xmlSecTmplSignatureCreateNsPref");
    STS_FAIL_IF((after != NULL ? xmlAddNextSibling(after, sig) : xmlAddChild(root, sig)) == NULL,
                err, STS_E_NOMEM, "cannot place the signature");
    ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, BAD_CAST uri, NULL);
    STS_FAIL_IF(ref == NULL, err, STS_E_CRYPTO, "xmlSecTmplSignatureAddReference");
    STS_FAIL_IF(xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
                    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL,
                err, STS_E_CRYPTO, "xmlSecTmplReferenceAddTransform");
    ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
    x509 = ki != NULL ? xmlSecTmplKeyInfoAddX509Data(ki) : NULL;
    STS_FAIL_IF(x509 == NULL || xmlSecTmplX509DataAddCertificate(x509) == NULL, err,
                STS_E_CRYPTO, "cannot add KeyInfo/X509Data");
    hoist_ds_ns(sig, ds);

    key = sts_keys_thread_key(keys);
    STS_FAIL_IF(!sts_keys_has_private(keys), err, STS_E_INTERNAL,
                "a public key cannot sign an assertion");
    STS_FAIL_IF(key == NULL, err, STS_E_NOMEM, "no signing key for this thread");
    ctx = xmlSecDSigCtxCreate(NULL);
    STS_FAIL_IF(ctx == NULL, err, STS_E_NOMEM, "xmlSecDSigCtxCreate");
    ctx->signKey = key; /* LENT: reset before xmlSecDSigCtxDestroy() */
    n = xmlSecDSigCtxSign(ctx, sig);
    ctx->signKey = NULL;
    STS_FAIL_IF(n < 0, err, STS_E_CRYPTO, "xmlSecDSigCtxSign failed");

    buf = xmlBufferCreate();
    STS_FAIL_IF(buf == NULL, err, STS_E_NOMEM, "xmlBufferCreate");
    n = xmlNodeDump(buf, doc, root, 0, 0);
    STS_FAIL_IF(n <= 0, err, STS_E_INTERNAL, "xmlNodeDump failed");
    xml = malloc((size_t)xmlBufferLength(buf) + 1);
    STS_FAIL_IF(xml == NULL, err, STS_E_NOMEM, "out of memory");
    memcpy(xml, xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
    xml[xmlBufferLength(buf)] = '\0';
    *xml_out = xml;
    if (len_out != NULL)
        *len_out = (size_t)xmlBufferLength(buf);
    xml = NULL;

cleanup:
    if (ctx != NULL) {
        ctx->signKey = NULL;
        xmlSecDSigCtxDestroy(ctx);
    }
    if (sig != NULL && sig->parent == NULL)
        xmlFreeNode(sig);
    if (buf != NULL)
        xmlBufferFree(buf);
    free(xml);
    return rc;
}

/* Shared by both versions: check, build (@v2: SAML 2.0, else 1.1), sign. */
static sts_errc_t issue_assertion(sts_keys_t *keys, const sts_saml_params_t *p, int v2,
                                  char **xml_out, size_t *len_out, char id_out[STS_SAML_ID_MAX],
                                  sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr built;
    xmlNsPtr ds = NULL;
    char id[STS_SAML_ID_MAX];

    if (xml_out != NULL)
        *xml_out = NULL;
    if (len_out != NULL)
        *len_out = 0;
    if (id_out != NULL)
        id_out[0] = '\0';
    STS_FAIL_IF(keys == NULL || p == NULL || xml_out == NULL, err, STS_E_INTERNAL,
                "%s: bad arguments", v2 ? "sts_saml2_issue" : "sts_saml11_issue");
    STS_CHECK(check_params(p, err));
    STS_FAIL_IF(!v2 && p->ndelegates > 0, err, STS_E_INVALID_REQUEST,
                "SAML 1.1 has no delegation condition");
    STS_FAIL_IF(new_id(id) != 0, err, STS_E_CRYPTO, "RAND_bytes failed");

    doc = xmlNewDoc(BAD_CAST "1.0");
    STS_FAIL_IF(doc == NULL, err, STS_E_NOMEM, "xmlNewDoc");
    built = v2 ? build_assertion(doc, p, id, &ds) : build_assertion11(doc, p, id, &ds);
    STS_FAIL_IF(built == NULL, err, STS_E_NOMEM, "cannot build the assertion");
    /* SAML 2.0: the signature follows Issuer; SAML 1.1: it ends the assertion */
    STS_CHECK(sign_and_dump(keys, doc, v2 ? "ID" : "AssertionID", id, v2 ? built : NULL, ds,
                            xml_out, len_out, err));
    if (id_out != NULL)
        memcpy(id_out, id, strlen(id) + 1);
    sts_debug("SAML %s assertion %s signed (%s)", v2 ? "2.0" : "1.1", id,
              sts_keys_is_ec(keys) ? "ES256" : "RS256");

cleanup:
    if (doc != NULL)
        xmlFreeDoc(doc);
    return rc;
}

sts_errc_t sts_saml2_issue(sts_keys_t *keys, const sts_saml_params_t *p, char **xml_out,
                           size_t *len_out, char id_out[STS_SAML_ID_MAX], sts_err_t *err)
{
    return issue_assertion(keys, p, 1, xml_out, len_out, id_out, err);
}

sts_errc_t sts_saml11_issue(sts_keys_t *keys, const sts_saml_params_t *p, char **xml_out,
                            size_t *len_out, char id_out[STS_SAML_ID_MAX], sts_err_t *err)
{
    return issue_assertion(keys, p, 0, xml_out, len_out, id_out, err);
}

/* ------------------------------------------------------------------------ */
/* verify                                                                   */
/* ------------------------------------------------------------------------ */

#define BAD(...) STS_ERR(err, STS_E_INVALID_TOKEN, __VA_ARGS__)

static int is_id_attr_name(const xmlChar *name)
{
    /* xmlsec and common profiles treat these local names as IDs, whatever
     * the namespace (xml:id, wsu:Id, x:ID, SAML 1 AssertionID). */
    return xmlStrEqual(name, BAD_CAST "ID") || xmlStrEqual(name, BAD_CAST "Id") ||
           xmlStrEqual(name, BAD_CAST "id") || xmlStrEqual(name, BAD_CAST "AssertionID");
}

/* True when @v equals @id after trimming XML white space (ID normalisation). */
static int same_id(const xmlChar *v, const char *id)
{
    size_t n = strlen(id);

    if (v == NULL)
        return 0;
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
        v++;
    if (strncmp((const char *)v, id, n) != 0)
        return 0;
    for (v += n; *v; v++)
        if (*v != ' ' && *v != '\t' && *v != '\n' && *v != '\r')
            return 0;
    return 1;
}

/* Walks the whole document: no attribute other than @mine may carry @id. */
static int id_is_unique(xmlDocPtr doc, const char *id, const xmlAttr *mine)
{
    xmlNodePtr n = doc->children;

    while (n != NULL) {
        if (n->type == XML_ELEMENT_NODE) {
            for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
                if (a == mine || !is_id_attr_name(a->name))
                    continue;
                xmlChar *v = xmlNodeListGetString(doc, a->children, 1);
                int dup = same_id(v, id);
                xmlFree(v);
                if (dup)
                    return 0;
            }
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
        }
        while (n != NULL && n->next == NULL) {
            n = n->parent;
            if (n != NULL && n->type == XML_DOCUMENT_NODE)
                return 1;
        }
        if (n != NULL)
            n = n->next;
    }
    return 1;
}

int sts_saml_id_unique(xmlNodePtr assertion, int v2, const char *id)
{
    xmlAttrPtr mine;

    if (assertion == NULL || assertion->doc == NULL || id == NULL)
        return 0;
    mine = xmlHasNsProp(assertion, BAD_CAST(v2 ? "ID" : "AssertionID"), NULL);
    return mine != NULL && id_is_unique(assertion->doc, id, mine);
}

/* Counts ds:Signature and nested (SAML 2.0 or 1.x) Assertion elements below @top. */
static void count_below(xmlNodePtr top, int *nsig, int *nassert)
{
    xmlNodePtr n = top->children;

    *nsig = 0;
    *nassert = 0;
    while (n != NULL && n != top) {
        if (n->type == XML_ELEMENT_NODE) {
            if (sts_xml_is(n, STS_NS_DS, "Signature"))
                (*nsig)++;
            else if (sts_xml_is(n, STS_NS_SAML2, "Assertion") ||
                     sts_xml_is(n, STS_NS_SAML1, "Assertion"))
                (*nassert)++;
            if (n->children != NULL) {
                n = n->children;
                continue;
            }
        }
        while (n != NULL && n != top && n->next == NULL)
            n = n->parent;
        if (n == NULL || n == top)
            break;
        n = n->next;
    }
}

/* Element with an exact Algorithm attribute and no element children. */
static int algorithm_is(xmlNodePtr el, const char *ns, const char *name, const char *alg)
{
    xmlChar *v;
    int ok;

    if (!sts_xml_is(el, ns, name) || sts_xml_count_elems(el) != 0)
        return 0;
    v = xmlGetNoNsProp(el, BAD_CAST "Algorithm");
    ok = v != NULL && xmlStrEqual(v, BAD_CAST alg);
    xmlFree(v);
    return ok;
}

/* The SAML signing profile, checked on the DOM before any crypto. @v2: the
 * signature of a SAML 2.0 assertion follows Issuer; a SAML 1.1 one is last. */
static sts_errc_t check_profile(xmlNodePtr assertion, int v2, const char *uri, int is_ec,
                                xmlNodePtr *sig_out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    xmlNodePtr issuer, sig = NULL, si, c, ref = NULL, tr, t;
    xmlChar *ref_uri = NULL;
    int nsig, nassert, nref = 0;

    count_below(assertion, &nsig, &nassert);
    if (nsig == 0)
        return BAD("unsigned assertion");
    if (nsig > 1)
        return BAD("more than one ds:Signature in the assertion");
    if (nassert > 0)
        return BAD("nested assertion");
    if (v2) {
        issuer = sts_xml_first_elem(assertion);
        if (!sts_xml_is(issuer, STS_NS_SAML2, "Issuer"))
            return BAD("Issuer is not the first child");
        sig = sts_xml_next_elem(issuer);
        if (!sts_xml_is(sig, STS_NS_DS, "Signature"))
            return BAD("ds:Signature is not a direct child right after Issuer");
    } else {
        for (c = sts_xml_first_elem(assertion); c != NULL; c = sts_xml_next_elem(c))
            sig = c;
        if (!sts_xml_is(sig, STS_NS_DS, "Signature"))
            return BAD("ds:Signature is not a direct child, the last one");
    }

    /* Signature: SignedInfo, SignatureValue, KeyInfo?; never Object/Manifest */
    si = sts_xml_first_elem(sig);
    c = sts_xml_next_elem(si);
    if (!sts_xml_is(si, STS_NS_DS, "SignedInfo") || !sts_xml_is(c, STS_NS_DS, "SignatureValue"))
        return BAD("malformed ds:Signature");
    c = sts_xml_next_elem(c);
    if (c != NULL && sts_xml_is(c, STS_NS_DS, "KeyInfo"))
        c = sts_xml_next_elem(c);
    if (c != NULL)
        return BAD("unexpected element in ds:Signature (Object?)");

    /* SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference */
    c = sts_xml_first_elem(si);
    if (!algorithm_is(c, STS_NS_DS, "CanonicalizationMethod", STS_DS_ALG_EXC_C14N))
        return BAD("canonicalization method is not exc-c14n");
    c = sts_xml_next_elem(c);
    if (!algorithm_is(c, STS_NS_DS, "SignatureMethod",
                      is_ec ? STS_DS_ALG_ECDSA_SHA256 : STS_DS_ALG_RSA_SHA256))
        return BAD("signature method is not %s", is_ec ? "ECDSA-SHA256" : "RSA-SHA256");
    for (c = sts_xml_next_elem(c); c != NULL; c = sts_xml_next_elem(c)) {
        if (!sts_xml_is(c, STS_NS_DS, "Reference"))
            return BAD("unexpected element in SignedInfo");
        ref = c;
        nref++;
    }
    if (nref != 1)
        return BAD("%d References (exactly one allowed)", nref);

    ref_uri = xmlGetNoNsProp(ref, BAD_CAST "URI");
    STS_FAIL_IF(ref_uri == NULL || !xmlStrEqual(ref_uri, BAD_CAST uri), err,
                STS_E_INVALID_TOKEN, "Reference URI is not the assertion ID");

    /* Reference: Transforms(Enveloped, exc-c14n), DigestMethod SHA-256, DigestValue */
    tr = sts_xml_first_elem(ref);
    STS_FAIL_IF(!sts_xml_is(tr, STS_NS_DS, "Transforms") || sts_xml_count_elems(tr) != 2, err,
                STS_E_INVALID_TOKEN, "transforms are not exactly enveloped + exc-c14n");
    t = sts_xml_first_elem(tr);
    STS_FAIL_IF(!algorithm_is(t, STS_NS_DS, "Transform", STS_DS_ALG_ENVELOPED) ||
                    !algorithm_is(sts_xml_next_elem(t), STS_NS_DS, "Transform",
                                  STS_DS_ALG_EXC_C14N),
                err, STS_E_INVALID_TOKEN, "transforms are not exactly enveloped + exc-c14n");
    c = sts_xml_next_elem(tr);
    STS_FAIL_IF(!algorithm_is(c, STS_NS_DS, "DigestMethod", STS_DS_ALG_SHA256), err,
                STS_E_INVALID_TOKEN, "digest method is not SHA-256");
    c = sts_xml_next_elem(c);
    STS_FAIL_IF(!sts_xml_is(c, STS_NS_DS, "DigestValue") || sts_xml_next_elem(c) != NULL, err,
                STS_E_INVALID_TOKEN, "malformed Reference");
    *sig_out = sig;

cleanup:
    xmlFree(ref_uri);
    return rc;
}

/* Whether @el has text other than XML white space among its children
 * (comments are allowed, as anywhere in a token). */
static int has_stray_text(xmlNodePtr el)
{
    for (xmlNodePtr c = el->children; c != NULL; c = c->next) {
        if (c->type == XML_COMMENT_NODE || c->type == XML_ELEMENT_NODE)
            continue;
        if (c->type != XML_TEXT_NODE)
            return 1;
        for (const xmlChar *p = c->content; p != NULL && *p; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                return 1;
    }
    return 0;
}

/* One ds:X509Certificate: base64 of one DER certificate (nothing after it)
 * whose public key is @pkey. */
static sts_errc_t check_keyinfo_cert(xmlNodePtr el, const sts_keys_t *keys, sts_err_t *err)
{
    EVP_PKEY *pkey = sts_keys_pkey(keys);
    size_t der_len;
    const unsigned char *der = sts_keys_cert_der(keys, &der_len);
    sts_errc_t rc = STS_OK;
    xmlChar *text = NULL;
    xmlSecSize n = 0;
    const unsigned char *p;
    X509 *cert = NULL;

    STS_FAIL_IF(sts_xml_first_elem(el) != NULL, err, STS_E_INVALID_TOKEN,
                "KeyInfo X509Certificate has element content");
    text = xmlNodeGetContent(el);
    STS_FAIL_IF(text == NULL || xmlSecBase64DecodeInPlace(text, &n) < 0 || n == 0, err,
                STS_E_INVALID_TOKEN, "KeyInfo X509Certificate is not base64");
    if (der != NULL && (size_t)n == der_len && memcmp(text, der, der_len) == 0)
        goto cleanup; /* our certificate, byte for byte: what we emit */
    p = text;
    cert = d2i_X509(NULL, &p, (long)n);
    STS_FAIL_IF(cert == NULL || p != text + n, err, STS_E_INVALID_TOKEN,
                "KeyInfo X509Certificate is not one DER certificate");
    STS_FAIL_IF(EVP_PKEY_eq(X509_get0_pubkey(cert), pkey) != 1, err, STS_E_INVALID_TOKEN,
                "KeyInfo names another key than the one that verifies");

cleanup:
    X509_free(cert);
    xmlFree(text);
    return rc;
}

/*
 * The ds:KeyInfo of the signature, when there is one, must name the key that
 * verifies it, in the one form we emit: X509Data elements holding only
 * X509Certificate elements, each our certificate's key. The key is pinned
 * (KeyInfo is never a source of keys), so this refuses a token that claims
 * another key (KeyValue, KeyName, RetrievalMethod, a foreign certificate) or
 * carries a malformed KeyInfo, instead of quietly ignoring it.
 */
static sts_errc_t check_keyinfo(xmlNodePtr sig, const sts_keys_t *keys, sts_err_t *err)
{
    xmlNodePtr ki = NULL;
    int ncert = 0;

    for (xmlNodePtr c = sts_xml_first_elem(sig); c != NULL; c = sts_xml_next_elem(c))
        if (sts_xml_is(c, STS_NS_DS, "KeyInfo"))
            ki = c;
    if (ki == NULL)
        return STS_OK;
    if (sts_keys_pkey(keys) == NULL)
        return STS_ERR(err, STS_E_INTERNAL, "no verification key");
    if (has_stray_text(ki))
        return BAD("KeyInfo has text content");
    for (xmlNodePtr x = sts_xml_first_elem(ki); x != NULL; x = sts_xml_next_elem(x)) {
        if (!sts_xml_is(x, STS_NS_DS, "X509Data"))
            return BAD("KeyInfo holds %s, not X509Data", (const char *)x->name);
        if (has_stray_text(x))
            return BAD("KeyInfo X509Data has text content");
        if (sts_xml_first_elem(x) == NULL)
            return BAD("KeyInfo X509Data is empty");
        for (xmlNodePtr c = sts_xml_first_elem(x); c != NULL; c = sts_xml_next_elem(c)) {
            if (!sts_xml_is(c, STS_NS_DS, "X509Certificate"))
                return BAD("KeyInfo X509Data holds %s, not X509Certificate",
                           (const char *)c->name);
            sts_errc_t rc = check_keyinfo_cert(c, keys, err);
            if (rc != STS_OK)
                return rc;
            ncert++;
        }
    }
    return ncert > 0 ? STS_OK : BAD("KeyInfo without a certificate");
}

/* The one wrapper that turns xmlsec's tri-state into a verdict. */
static sts_errc_t verify_signature(sts_keys_t *keys, xmlNodePtr sig, const char *uri,
                                   sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlSecDSigReferenceCtxPtr rctx;
    xmlSecKeyPtr key;
    int ret, n_env = 0, n_c14n = 0;

    key = sts_keys_thread_key(keys);
    STS_FAIL_IF(key == NULL, err, STS_E_NOMEM, "no verification key for this thread");
    /* our allow-list, enveloped signature, KeyInfo never a source of keys */
    ctx = sts_dsig_verify_ctx(sts_keys_is_ec(keys), 1);
    STS_FAIL_IF(ctx == NULL, err, STS_E_INTERNAL, "cannot set up the xmlsec context");

    ctx->signKey = key; /* LENT */
    ret = xmlSecDSigCtxVerify(ctx, sig);
    ctx->signKey = NULL;

    STS_FAIL_IF(ret < 0, err, STS_E_INVALID_TOKEN, "signature processing failed");
    STS_FAIL_IF(ctx->status != xmlSecDSigStatusSucceeded, err, STS_E_INVALID_TOKEN,
                "signature or digest mismatch");
    STS_FAIL_IF(xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1, err, STS_E_INVALID_TOKEN,
                "verified References != 1");
    rctx = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0);
    STS_FAIL_IF(rctx == NULL || rctx->status != xmlSecDSigStatusSucceeded, err,
                STS_E_INVALID_TOKEN, "Reference not verified");
    STS_FAIL_IF(rctx->uri == NULL || !xmlStrEqual(rctx->uri, BAD_CAST uri), err,
                STS_E_INVALID_TOKEN, "verified Reference URI is not the assertion ID");
    for (xmlSecTransformPtr t = rctx->transformCtx.first; t != NULL; t = t->next) {
        if (t->id == xmlSecTransformEnvelopedId)
            n_env++;
        else if (t->id == xmlSecTransformExclC14NId)
            n_c14n++;
        else if (t->id != xmlSecTransformXPointerId && t->id != xmlSecTransformSha256Id &&
                 t->id != xmlSecTransformMemBufId)
            STS_FAIL_IF(1, err, STS_E_INVALID_TOKEN, "unexpected transform %s",
                        t->id->name != NULL ? (const char *)t->id->name : "?");
    }
    STS_FAIL_IF(n_env != 1 || n_c14n != 1, err, STS_E_INVALID_TOKEN,
                "verified transforms are not enveloped + exc-c14n");

cleanup:
    if (ctx != NULL) {
        ctx->signKey = NULL;
        xmlSecDSigCtxDestroy(ctx);
    }
    return rc;
}

/* Text of a leaf element (comments skipped, child elements refused), malloc'd. */
static sts_errc_t leaf_text(xmlNodePtr el, const char *what, int required, char **out,
                            sts_err_t *err)
{
    xmlChar *v;

    for (xmlNodePtr c = el->children; c != NULL; c = c->next)
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE &&
            c->type != XML_COMMENT_NODE)
            return BAD("%s has mixed content", what);
    v = xmlNodeGetContent(el);
    if (required && (v == NULL || v[0] == '\0')) {
        xmlFree(v);
        return BAD("%s is empty", what);
    }
    *out = dup_xml(v != NULL ? v : BAD_CAST "");
    xmlFree(v);
    return *out != NULL ? STS_OK : STS_ERR(err, STS_E_NOMEM, "out of memory");
}

static sts_errc_t time_attr(xmlNodePtr el, const char *name, int required, time_t *out,
                            sts_err_t *err)
{
    xmlChar *v = xmlGetNoNsProp(el, BAD_CAST name);
    int bad;

    *out = 0;
    if (v == NULL)
        return required ? BAD("%s missing", name) : STS_OK;
    bad = sts_time_parse((const char *)v, out) != 0;
    xmlFree(v);
    return bad ? BAD("%s is not a valid xs:dateTime", name) : STS_OK;
}

static sts_errc_t add_audience(sts_saml_info_t *info, xmlNodePtr aud, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    char *s = NULL;
    char **grown;

    STS_CHECK(leaf_text(aud, "Audience", 1, &s, err));
    grown = realloc(info->audiences, (info->naudiences + 1) * sizeof(*grown));
    STS_FAIL_IF(grown == NULL, err, STS_E_NOMEM, "out of memory");
    info->audiences = grown;
    info->audiences[info->naudiences++] = s;
    s = NULL;

cleanup:
    free(s);
    return rc;
}

/* Whether @cond's xsi:type names {@ns}@local (its prefix resolved in scope). */
static int xsi_type_is(xmlNodePtr cond, const char *ns, const char *local)
{
    xmlChar *type = xmlGetNsProp(cond, BAD_CAST "type", BAD_CAST STS_NS_XSI);
    const char *colon = type ? strchr((const char *)type, ':') : NULL;
    xmlNsPtr decl = NULL;
    int yes = 0;

    if (colon != NULL) {
        xmlChar *prefix = xmlStrndup(type, (int)(colon - (const char *)type));
        decl = prefix ? xmlSearchNs(cond->doc, cond, prefix) : NULL;
        xmlFree(prefix);
        yes = decl != NULL && xmlStrEqual(decl->href, BAD_CAST ns) && strcmp(colon + 1, local) == 0;
    }
    xmlFree(type);
    return yes;
}

/* A DelegationRestriction condition: each Delegate's NameID, in order. */
static sts_errc_t read_delegation(xmlNodePtr cond, sts_saml_info_t *info, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    char *s = NULL;
    char **grown;

    STS_FAIL_IF(info->delegates != NULL, err, STS_E_INVALID_TOKEN,
                "more than one DelegationRestriction");
    for (xmlNodePtr d = sts_xml_first_elem(cond); d != NULL; d = sts_xml_next_elem(d)) {
        xmlNodePtr id = sts_xml_first_elem(d);
        STS_FAIL_IF(!sts_xml_is(d, STS_NS_SAML2_DEL, "Delegate") ||
                        !sts_xml_is(id, STS_NS_SAML2, "NameID") || sts_xml_next_elem(id) != NULL,
                    err, STS_E_INVALID_TOKEN, "a Delegate that is not one NameID");
        STS_FAIL_IF(info->ndelegates == STS_SAML_MAX_DELEGATES, err, STS_E_INVALID_TOKEN,
                    "more than %d delegates", STS_SAML_MAX_DELEGATES);
        STS_CHECK(leaf_text(id, "NameID", 1, &s, err));
        grown = realloc(info->delegates, (info->ndelegates + 1) * sizeof(*grown));
        STS_FAIL_IF(grown == NULL, err, STS_E_NOMEM, "out of memory");
        info->delegates = grown;
        info->delegates[info->ndelegates++] = s;
        s = NULL;
    }
    STS_FAIL_IF(info->ndelegates == 0, err, STS_E_INVALID_TOKEN, "DelegationRestriction empty");
cleanup:
    free(s);
    return rc;
}

/* Conditions (SAML 2.0 or 1.1, by @ns): the time window, every Audience of
 * every @restriction element and (SAML 2.0) a DelegationRestriction; any
 * other saml2:Condition is one we do not understand: not valid (SAML core
 * 2.5.1.1: Indeterminate). */
static sts_errc_t read_conditions(xmlNodePtr conditions, const char *ns, const char *restriction,
                                  sts_saml_info_t *info, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;

    STS_CHECK(time_attr(conditions, "NotBefore", 0, &info->not_before, err));
    STS_CHECK(time_attr(conditions, "NotOnOrAfter", 0, &info->not_on_or_after, err));
    for (xmlNodePtr ar = sts_xml_first_elem(conditions); ar != NULL; ar = sts_xml_next_elem(ar)) {
        if (sts_xml_is(ar, STS_NS_SAML2, "Condition")) {
            STS_FAIL_IF(!xsi_type_is(ar, STS_NS_SAML2_DEL, "DelegationRestrictionType"), err,
                        STS_E_INVALID_TOKEN, "a Condition of an unknown type");
            STS_CHECK(read_delegation(ar, info, err));
            continue;
        }
        if (!sts_xml_is(ar, ns, restriction))
            continue;
        for (xmlNodePtr a = sts_xml_first_elem(ar); a != NULL; a = sts_xml_next_elem(a))
            if (sts_xml_is(a, ns, "Audience"))
                STS_CHECK(add_audience(info, a, err));
    }
cleanup:
    return rc;
}

/* Reads what the caller may use, from the children of the verified node only. */
static sts_errc_t read_info(xmlNodePtr assertion, const char *id, sts_saml_info_t **out,
                            sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_saml_info_t *info = NULL;
    xmlNodePtr subject = NULL, conditions = NULL, nameid = NULL;
    int nsubj = 0, ncond = 0, nname = 0;

    info = calloc(1, sizeof(*info));
    STS_FAIL_IF(info == NULL, err, STS_E_NOMEM, "out of memory");
    info->id = strdup(id);
    STS_FAIL_IF(info->id == NULL, err, STS_E_NOMEM, "out of memory");
    STS_CHECK(time_attr(assertion, "IssueInstant", 1, &info->issue_instant, err));
    /* check_profile() guaranteed the first child is Issuer */
    STS_CHECK(leaf_text(sts_xml_first_elem(assertion), "Issuer", 1, &info->issuer, err));

    for (xmlNodePtr c = sts_xml_first_elem(assertion); c != NULL; c = sts_xml_next_elem(c)) {
        if (sts_xml_is(c, STS_NS_SAML2, "Subject")) {
            subject = c;
            nsubj++;
        } else if (sts_xml_is(c, STS_NS_SAML2, "Conditions")) {
            conditions = c;
            ncond++;
        }
    }
    STS_FAIL_IF(nsubj != 1, err, STS_E_INVALID_TOKEN, "%d Subject elements", nsubj);
    STS_FAIL_IF(ncond > 1, err, STS_E_INVALID_TOKEN, "%d Conditions elements", ncond);
    for (xmlNodePtr c = sts_xml_first_elem(subject); c != NULL; c = sts_xml_next_elem(c)) {
        if (sts_xml_is(c, STS_NS_SAML2, "NameID")) {
            nameid = c;
            nname++;
        } else if (sts_xml_is(c, STS_NS_SAML2, "SubjectConfirmation")) {
            xmlChar *m = xmlGetNoNsProp(c, BAD_CAST "Method");
            info->holder_of_key |= m == NULL || !xmlStrEqual(m, BAD_CAST STS_SAML2_CM_BEARER);
            xmlFree(m);
        }
    }
    STS_FAIL_IF(nname != 1, err, STS_E_INVALID_TOKEN, "%d NameID elements", nname);
    STS_CHECK(leaf_text(nameid, "NameID", 1, &info->subject, err));

    if (conditions != NULL)
        STS_CHECK(read_conditions(conditions, STS_NS_SAML2, "AudienceRestriction", info, err));
    *out = info;
    info = NULL;

cleanup:
    sts_saml_info_free(info);
    return rc;
}

/* One SubjectStatement's Subject/NameIdentifier text, malloc'd; *hok set
 * when a ConfirmationMethod other than bearer is there. */
static sts_errc_t subject11(xmlNodePtr st, char **out, int *hok, sts_err_t *err)
{
    xmlNodePtr subj = sts_xml_first_elem(st), nid = NULL;
    int nsubj = 0, nname = 0;

    for (xmlNodePtr c = subj; c != NULL; c = sts_xml_next_elem(c))
        nsubj += sts_xml_is(c, STS_NS_SAML1, "Subject");
    if (nsubj != 1 || !sts_xml_is(subj, STS_NS_SAML1, "Subject"))
        return BAD("a statement without exactly one Subject, first");
    for (xmlNodePtr c = sts_xml_first_elem(subj); c != NULL; c = sts_xml_next_elem(c)) {
        if (sts_xml_is(c, STS_NS_SAML1, "NameIdentifier")) {
            nid = c;
            nname++;
        } else if (sts_xml_is(c, STS_NS_SAML1, "SubjectConfirmation")) {
            for (xmlNodePtr m = sts_xml_first_elem(c); m != NULL; m = sts_xml_next_elem(m)) {
                xmlChar *t = sts_xml_is(m, STS_NS_SAML1, "ConfirmationMethod")
                                 ? xmlNodeGetContent(m)
                                 : NULL;
                *hok |= t != NULL && !xmlStrEqual(t, BAD_CAST STS_SAML11_CM_BEARER);
                xmlFree(t);
            }
        }
    }
    if (nname != 1)
        return BAD("%d NameIdentifier elements in a Subject", nname);
    return leaf_text(nid, "NameIdentifier", 1, out, err);
}

/* SAML 1.1 counterpart of read_info(): Issuer is an attribute, and the
 * subject is what every subject statement says (they must agree). */
static sts_errc_t read_info11(xmlNodePtr assertion, const char *id, sts_saml_info_t **out,
                              sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_saml_info_t *info = NULL;
    xmlNodePtr conditions = NULL;
    xmlChar *issuer = NULL;
    char *sub = NULL;
    int ncond = 0, nstmt = 0;

    info = calloc(1, sizeof(*info));
    STS_FAIL_IF(info == NULL, err, STS_E_NOMEM, "out of memory");
    info->id = strdup(id);
    STS_FAIL_IF(info->id == NULL, err, STS_E_NOMEM, "out of memory");
    STS_CHECK(time_attr(assertion, "IssueInstant", 1, &info->issue_instant, err));
    issuer = xmlGetNoNsProp(assertion, BAD_CAST "Issuer");
    STS_FAIL_IF(issuer == NULL || issuer[0] == '\0', err, STS_E_INVALID_TOKEN,
                "Issuer attribute missing or empty");
    info->issuer = dup_xml(issuer);
    STS_FAIL_IF(info->issuer == NULL, err, STS_E_NOMEM, "out of memory");

    for (xmlNodePtr c = sts_xml_first_elem(assertion); c != NULL; c = sts_xml_next_elem(c)) {
        if (sts_xml_is(c, STS_NS_SAML1, "Conditions")) {
            conditions = c;
            ncond++;
        } else if (sts_xml_is(c, STS_NS_SAML1, "AuthenticationStatement") ||
                   sts_xml_is(c, STS_NS_SAML1, "AttributeStatement") ||
                   sts_xml_is(c, STS_NS_SAML1, "AuthorizationDecisionStatement") ||
                   sts_xml_is(c, STS_NS_SAML1, "SubjectStatement")) {
            STS_CHECK(subject11(c, &sub, &info->holder_of_key, err));
            if (info->subject == NULL) {
                info->subject = sub;
                sub = NULL;
            } else {
                STS_FAIL_IF(strcmp(info->subject, sub) != 0, err, STS_E_INVALID_TOKEN,
                            "the statements name different subjects");
                free(sub);
                sub = NULL;
            }
            nstmt++;
        }
    }
    STS_FAIL_IF(nstmt == 0, err, STS_E_INVALID_TOKEN, "no subject statement");
    STS_FAIL_IF(ncond > 1, err, STS_E_INVALID_TOKEN, "%d Conditions elements", ncond);
    if (conditions != NULL)
        STS_CHECK(read_conditions(conditions, STS_NS_SAML1, "AudienceRestrictionCondition", info,
                                  err));
    *out = info;
    info = NULL;

cleanup:
    xmlFree(issuer);
    free(sub);
    sts_saml_info_free(info);
    return rc;
}

/* The version attributes of @assertion are 2.0 (@v2) or 1.1. */
static int version_ok(xmlNodePtr assertion, int v2)
{
    xmlChar *a = xmlGetNoNsProp(assertion, BAD_CAST(v2 ? "Version" : "MajorVersion"));
    xmlChar *b = v2 ? NULL : xmlGetNoNsProp(assertion, BAD_CAST "MinorVersion");
    int ok = v2 ? a != NULL && xmlStrEqual(a, BAD_CAST "2.0")
                : a != NULL && b != NULL && xmlStrEqual(a, BAD_CAST "1") &&
                      xmlStrEqual(b, BAD_CAST "1");
    xmlFree(a);
    xmlFree(b);
    return ok;
}


/* Both versions: the same checks, by ID attribute and signature position. */
static sts_errc_t verify_assertion(sts_keys_t *keys, xmlNodePtr assertion, int v2,
                                   sts_saml_info_t **out, sts_err_t *err)
{
    const char *id_name = v2 ? "ID" : "AssertionID";
    sts_errc_t rc = STS_OK;
    xmlDocPtr doc = NULL;
    xmlNodePtr top, sig = NULL;
    xmlAttrPtr id_attr = NULL;
    xmlChar *id = NULL;
    char uri[STS_SAML_ID_MAX + 1];
    int added = 0, had_ids = 0;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(keys == NULL || out == NULL, err, STS_E_INTERNAL,
                "%s: bad arguments", v2 ? "sts_saml2_verify" : "sts_saml11_verify");
    STS_FAIL_IF(!sts_xml_is(assertion, v2 ? STS_NS_SAML2 : STS_NS_SAML1, "Assertion"), err,
                STS_E_INVALID_TOKEN, "not a %s:Assertion", v2 ? "saml2" : "saml1");
    doc = assertion->doc;
    for (top = assertion; top->parent != NULL && top->parent->type == XML_ELEMENT_NODE;)
        top = top->parent;
    STS_FAIL_IF(doc == NULL || top->parent != (xmlNodePtr)doc, err, STS_E_INVALID_TOKEN,
                "assertion is not part of a document");
    had_ids = doc->ids != NULL;

    STS_FAIL_IF(!version_ok(assertion, v2), err, STS_E_INVALID_TOKEN, "%s",
                v2 ? "Version is not 2.0" : "MajorVersion/MinorVersion is not 1.1");
    id_attr = xmlHasNsProp(assertion, BAD_CAST id_name, NULL);
    id = xmlGetNoNsProp(assertion, BAD_CAST id_name);
    STS_FAIL_IF(id_attr == NULL || id == NULL || !id_ok((const char *)id), err,
                STS_E_INVALID_TOKEN, "missing or malformed %s", id_name);
    snprintf(uri, sizeof(uri), "#%s", (const char *)id);

    /* ID collisions are how wrapping attacks redirect "#ID": refuse any. */
    STS_FAIL_IF(!id_is_unique(doc, (const char *)id, id_attr), err, STS_E_INVALID_TOKEN,
                "ID %s is not unique in the document", (const char *)id);
    {
        xmlAttrPtr known = xmlGetID(doc, id);
        if (known == NULL) {
            STS_FAIL_IF(xmlAddID(NULL, doc, id, id_attr) == NULL, err, STS_E_INVALID_TOKEN,
                        "cannot register ID %s", (const char *)id);
            added = 1;
        } else {
            STS_FAIL_IF(known != id_attr, err, STS_E_INVALID_TOKEN,
                        "ID %s is registered to another element", (const char *)id);
        }
    }

    STS_CHECK(check_profile(assertion, v2, uri, sts_keys_is_ec(keys), &sig, err));
    STS_CHECK(check_keyinfo(sig, keys, err));
    STS_CHECK(verify_signature(keys, sig, uri, err));
    /* what "#ID" resolved to is still this node */
    STS_FAIL_IF(xmlGetID(doc, id) != id_attr, err, STS_E_INVALID_TOKEN,
                "ID resolves to another element");
    if (v2)
        STS_CHECK(read_info(assertion, (const char *)id, out, err));
    else
        STS_CHECK(read_info11(assertion, (const char *)id, out, err));
    sts_debug("SAML %s assertion %s verified", v2 ? "2.0" : "1.1", (const char *)id);

cleanup:
    if (added) {
        xmlRemoveID(doc, id_attr);
        /* leave the caller's document as it was: no ID table if it had none */
        if (!had_ids && doc->ids != NULL && xmlHashSize(doc->ids) == 0) {
            xmlFreeIDTable(doc->ids);
            doc->ids = NULL;
        }
    }
    if (rc != STS_OK && err != NULL)
        sts_debug("SAML assertion rejected: %s", err->detail);
    xmlFree(id);
    return rc;
}

sts_errc_t sts_saml2_verify(sts_keys_t *keys, xmlNodePtr assertion, sts_saml_info_t **out,
                            sts_err_t *err)
{
    return verify_assertion(keys, assertion, 1, out, err);
}

sts_errc_t sts_saml11_verify(sts_keys_t *keys, xmlNodePtr assertion, sts_saml_info_t **out,
                             sts_err_t *err)
{
    return verify_assertion(keys, assertion, 0, out, err);
}

void sts_saml_info_free(sts_saml_info_t *info)
{
    if (info == NULL)
        return;
    free(info->id);
    free(info->issuer);
    free(info->subject);
    for (size_t i = 0; i < info->naudiences; i++)
        free(info->audiences[i]);
    free(info->audiences);
    for (size_t i = 0; i < info->ndelegates; i++)
        free(info->delegates[i]);
    free(info->delegates);
    free(info);
}
