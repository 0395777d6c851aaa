/*
 * sts_soap_ops.c - the four WS-Trust 1.3 operations: translation only.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each gSOAP operation callback maps the request into engine structs, calls
 * the engine and maps the answer back, or raises the fault of the engine's
 * error through the fault table. Which binding runs is decided by
 * wst:RequestType; an action, when present, must agree with it.
 */
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_soap_int.h"
#include "sts_time.h"

#include <libxml/tree.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/*
 * A WS-Trust version as this face speaks it. The request's RST namespace
 * picks it and the answer is given in the same one: AD FS and WCF clients
 * on "trust/2005" endpoints still send Feb 2005.
 */
typedef struct wst_version {
    const char *name;       /* for logs */
    const char *ns;
    int collection;         /* Issue answers with an RSTRC (1.3), not a bare RSTR (2005) */
    const char *status_tt;  /* Validate TokenType asking for a status answer */
    const char *status_valid;
    const char *status_invalid;
    const char *key_types[3]; /* this version's spelling of engine_key_types[] */
    const char *ck_psha1;     /* ComputedKeyAlgorithm P_SHA1 */
    const char *nonce;        /* BinarySecret Type of entropy */
    const char *secret_key;   /* BinarySecret Type of a symmetric key */
} wst_version_t;

/* wst:Status/wst:Reason of Validate: the same text for every invalid token. */
#define STS_VALIDATE_REASON_VALID "The token is valid."
#define STS_VALIDATE_REASON_INVALID "The token is not valid."

/* The key types the engine speaks (WS-Trust 1.3 URIs). */
static const char *const engine_key_types[3] = {STS_WST13_BEARER, STS_WST13_SYMMETRIC,
                                                STS_WST13_PUBLICKEY};

static const wst_version_t wst13 = {
    "1.3", STS_NS_WST13, 1, STS_WST13_STATUS_TT, STS_WST13_STATUS_VALID, STS_WST13_STATUS_INVALID,
    {STS_WST13_BEARER, STS_WST13_SYMMETRIC, STS_WST13_PUBLICKEY},
    STS_NS_WST13 "/CK/PSHA1", STS_NS_WST13 "/Nonce", STS_NS_WST13 "/SymmetricKey"};

static const wst_version_t wst05 = {
    "2005/02", STS_NS_WST05, 0, STS_WST05_STATUS_TT, STS_WST05_STATUS_VALID,
    STS_WST05_STATUS_INVALID, {STS_WST05_NO_PROOF_KEY, STS_WST05_SYMMETRIC, STS_WST05_PUBLICKEY},
    STS_NS_WST05 "/CK/PSHA1", STS_NS_WST05 "/Nonce", STS_NS_WST05 "/SymmetricKey"};

typedef struct binding_row {
    sts_binding_t binding;
    const char *name;
    const wst_version_t *wst;
    const char *request_type;
    const char *action;
    const char *reply_action;
} binding_row_t;

static const binding_row_t bindings[] = {
    {STS_BINDING_ISSUE, "Issue", &wst13, STS_WST13_ISSUE, STS_WST13_ACTION_ISSUE,
     STS_WST13_ACTION_ISSUE_FINAL},
    {STS_BINDING_VALIDATE, "Validate", &wst13, STS_WST13_VALIDATE, STS_WST13_ACTION_VALIDATE,
     STS_WST13_ACTION_VALIDATE_FINAL},
    {STS_BINDING_RENEW, "Renew", &wst13, STS_WST13_RENEW, STS_WST13_ACTION_RENEW,
     STS_WST13_ACTION_RENEW_FINAL},
    {STS_BINDING_CANCEL, "Cancel", &wst13, STS_WST13_CANCEL, STS_WST13_ACTION_CANCEL,
     STS_WST13_ACTION_CANCEL_FINAL},
    {STS_BINDING_ISSUE, "Issue", &wst05, STS_WST05_ISSUE, STS_WST05_ACTION_ISSUE,
     STS_WST05_ACTION_ISSUE_REPLY},
    {STS_BINDING_VALIDATE, "Validate", &wst05, STS_WST05_VALIDATE, STS_WST05_ACTION_VALIDATE,
     STS_WST05_ACTION_VALIDATE_REPLY},
    {STS_BINDING_RENEW, "Renew", &wst05, STS_WST05_RENEW, STS_WST05_ACTION_RENEW,
     STS_WST05_ACTION_RENEW_REPLY},
    {STS_BINDING_CANCEL, "Cancel", &wst05, STS_WST05_CANCEL, STS_WST05_ACTION_CANCEL,
     STS_WST05_ACTION_CANCEL_REPLY},
};

static const binding_row_t *by_request_type(const char *uri)
{
    for (size_t i = 0; uri && i < sizeof(bindings) / sizeof(bindings[0]); i++)
        if (strcmp(uri, bindings[i].request_type) == 0)
            return &bindings[i];
    return NULL;
}

static const binding_row_t *by_action(const char *uri)
{
    for (size_t i = 0; uri && i < sizeof(bindings) / sizeof(bindings[0]); i++)
        if (strcmp(uri, bindings[i].action) == 0)
            return &bindings[i];
    return NULL;
}

/* A key type as @v spells it -> the engine's URI (NULL stays NULL: the
 * engine's default; an unknown one goes to the engine, which refuses it). */
static const char *key_type_in(const wst_version_t *v, const char *uri)
{
    for (size_t i = 0; uri && i < 3; i++)
        if (strcmp(uri, v->key_types[i]) == 0)
            return engine_key_types[i];
    return uri;
}

/* The engine's key type URI -> @v's spelling. */
static const char *key_type_out(const wst_version_t *v, const char *uri)
{
    for (size_t i = 0; uri && i < 3; i++)
        if (strcmp(uri, engine_key_types[i]) == 0)
            return v->key_types[i];
    return uri;
}

/*
 * gSOAP answers each namespace prefix in the namespace that matched it in the
 * request, and would take the last wst-pattern URI it met anywhere in the
 * envelope. The answer's wst prefix (RSTR, faults) must be the RST's own
 * namespace: set it. gSOAP owns the string (malloc/free).
 */
static int answer_in(struct soap *soap, const char *ns)
{
    for (struct Namespace *p = soap->local_namespaces; p && p->id; p++) {
        if (strcmp(p->id, "wst") != 0)
            continue;
        if (p->out != NULL ? strcmp(p->out, ns) == 0 : strcmp(p->ns, ns) == 0)
            return 0;
        char *copy = strdup(ns);
        if (copy == NULL)
            return -1;
        free(p->out);
        p->out = copy;
        return 0;
    }
    return -1;
}

static int is_anonymous(const char *address, int none_ok)
{
    return address != NULL && (strcmp(address, STS_WSA_ANONYMOUS) == 0 ||
                               (none_ok && strcmp(address, STS_WSA_NONE) == 0));
}

/* WS-Addressing 2004/08 has no "none" address; its anonymous one is a role. */
#define WSA04_ANONYMOUS "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

static int is_anonymous04(const char *address)
{
    return address != NULL && strcmp(address, WSA04_ANONYMOUS) == 0;
}

/* The path of an absolute http(s) URI @uri (after its authority, "" when it
 * has none), or NULL for another scheme. */
static const char *http_uri_path(const char *uri)
{
    if (strncmp(uri, "http://", 7) == 0)
        uri += 7;
    else if (strncmp(uri, "https://", 8) == 0)
        uri += 8;
    else
        return NULL;
    return uri + strcspn(uri, "/?#");
}

/*
 * Whether @to names this endpoint: anonymous, or an http(s) URI whose path is
 * our endpoint's, "/sts" or, behind server.public_url, its path + "/sts".
 * Scheme, host and port are not compared: a proxy, a port forward or a client
 * configured with another host name for us changes them (WCF's address filter
 * leaves the host name out by default too). Another path is another service.
 */
static int is_our_endpoint(const sts_soap_conn_t *conn, const char *to)
{
    const char *path, *base;
    size_t n;

    if (to == NULL)
        return 0;
    if (strcmp(to, STS_WSA_ANONYMOUS) == 0 || strcmp(to, WSA04_ANONYMOUS) == 0)
        return 1;
    if ((path = http_uri_path(to)) == NULL)
        return 0;
    if (strcmp(path, "/sts") == 0)
        return 1;
    base = conn->base_url != NULL ? http_uri_path(conn->base_url) : NULL;
    n = base != NULL ? strlen(base) : 0;
    return n > 0 && strncmp(path, base, n) == 0 && strcmp(path + n, "/sts") == 0;
}

/* ReplyTo and FaultTo (WS-Addressing 1.0 or 2004/08) must be anonymous: the
 * answer goes back on the connection, never anywhere else. wsa:To, when
 * present, must name us. */
static sts_errc_t check_addressing(const sts_soap_conn_t *conn, const sts_soap_envelope_t *env,
                                   sts_err_t *err)
{
    if ((env->wsa_reply_to_present && !is_anonymous(env->wsa_reply_to, 0)) ||
        (env->wsa_fault_to_present && !is_anonymous(env->wsa_fault_to, 1)))
        return STS_ERR(err, STS_E_INVALID_REQUEST,
                       "non-anonymous ReplyTo/FaultTo: replies only go back on the connection");
    if ((env->wsa04_reply_to_present && !is_anonymous04(env->wsa04_reply_to)) ||
        (env->wsa04_fault_to_present && !is_anonymous04(env->wsa04_fault_to)))
        return STS_ERR(err, STS_E_INVALID_REQUEST,
                       "non-anonymous WS-Addressing 2004/08 ReplyTo/FaultTo: replies only go "
                       "back on the connection");
    if ((env->wsa_to_present && !is_our_endpoint(conn, env->wsa_to)) ||
        (env->wsa04_to_present && !is_our_endpoint(conn, env->wsa04_to)))
        return STS_ERR(err, STS_E_INVALID_REQUEST, "wsa:To names another endpoint");
    return STS_OK;
}

/* RST children each binding understands; anything else is refused, never
 * dropped. ActAs is WS-Trust 1.4, an extension of 1.3 only. */
static unsigned allowed_children(const binding_row_t *row)
{
    unsigned common = STS_RST_TOKEN_TYPE | STS_RST_REQUEST_TYPE;
    switch (row->binding) {
    case STS_BINDING_ISSUE:
        return common | STS_RST_APPLIES_TO | STS_RST_LIFETIME | STS_RST_KEY_TYPE |
               STS_RST_ON_BEHALF_OF | STS_RST_CLAIMS | STS_RST_ENTROPY | STS_RST_KEY_SIZE |
               STS_RST_COMPUTED_KEY_ALG | STS_RST_SECONDARY | STS_RST_ALLOW_POSTDATING |
               STS_RST_RENEWING | STS_RST_USE_KEY |
               (row->wst == &wst13 ? STS_RST_ACT_AS : 0);
    case STS_BINDING_VALIDATE: return common | STS_RST_VALIDATE_TARGET;
    case STS_BINDING_RENEW: return common | STS_RST_RENEW_TARGET;
    case STS_BINDING_CANCEL: return common | STS_RST_CANCEL_TARGET;
    default: return 0;
    }
}

/*
 * Which binding this request asks for, refusing any disagreement: RequestType
 * decides; the HTTP action and wsa:Action, when present, must agree with it
 * and with each other; and gSOAP must have dispatched to that operation (or to
 * Issue, its fallback when no action matched).
 */
static sts_errc_t pick_binding(struct soap *soap, sts_binding_t op, const sts_soap_envelope_t *env,
                               const binding_row_t **out, sts_err_t *err)
{
    const sts_soap_conn_t *conn = soap->user;
    const binding_row_t *b = by_request_type(env->request_type);
    const char *action = env->wsa_action ? env->wsa_action : conn->soapaction;

    if (b == NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "unsupported RequestType");
    if (strcmp(b->wst->ns, env->wst_ns) != 0)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "RequestType of another WS-Trust version");
    if (env->wsa_action && conn->soapaction && strcmp(env->wsa_action, conn->soapaction) != 0)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "SOAPAction and wsa:Action disagree");
    if (action != NULL && by_action(action) != b)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "action does not match RequestType %s",
                       b->name);
    if (op != b->binding && op != STS_BINDING_ISSUE)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "dispatched to another operation");
    if (check_addressing(conn, env, err) != STS_OK)
        return STS_E_INVALID_REQUEST;
    if (env->present & ~allowed_children(b))
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "RST element not supported by %s: %s",
                       b->name, env->other_child ? env->other_child : "a target or field");
    *out = b;
    return STS_OK;
}

/* Decodes the base64 text of @node into the soap arena. */
static sts_errc_t b64_text(struct soap *soap, xmlNodePtr node, unsigned char **out, size_t *len,
                           sts_err_t *err)
{
    xmlChar *text = xmlNodeGetContent(node);
    size_t n = 0;
    int dec = -1;

    if (text != NULL) {
        for (xmlChar *p = text; *p; p++)
            if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                text[n++] = *p;
        text[n] = '\0';
        *out = n % 4 == 0 && n > 0 ? soap_malloc(soap, n / 4 * 3 + 1) : NULL;
        if (*out != NULL)
            dec = EVP_DecodeBlock(*out, text, (int)n);
    }
    if (dec >= 0)
        *len = (size_t)dec - (text[n - 1] == '=') - (text[n - 2] == '=');
    xmlFree(text);
    if (dec < 0)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "%s is not base64", (const char *)node->name);
    return STS_OK;
}

/*
 * X.509 requester authentication: the signature's certificate is the
 * BinarySecurityToken; what it must cover is the Body we process and the
 * Timestamp we checked. The engine decides the rest.
 */
static sts_errc_t authenticate_signed(struct soap *soap, sts_soap_conn_t *conn,
                                      const sts_soap_envelope_t *env, sts_principal_t *who,
                                      sts_err_t *err)
{
    xmlNodePtr required[2] = {env->rst->parent, env->timestamp};
    unsigned char *der = NULL;
    size_t der_len = 0;
    sts_errc_t rc;

    if (env->x509_bst == NULL || env->signature == NULL || env->have_cred ||
        env->timestamp == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED,
                       "a signature needs its X509v3 token and a Timestamp, and no UsernameToken");
    if ((rc = b64_text(soap, env->x509_bst, &der, &der_len, err)) != STS_OK)
        return STS_ERR(err, STS_E_AUTH_FAILED, "BinarySecurityToken is not base64");
    return sts_engine_authenticate_x509(conn->engine, der, der_len, env->signature, required, 2,
                                        &env->ts, who, err);
}

static sts_errc_t authenticate(struct soap *soap, sts_soap_conn_t *conn,
                               const sts_soap_envelope_t *env, sts_principal_t *who,
                               sts_err_t *err)
{
    sts_errc_t rc = sts_engine_check_timestamp(conn->engine, env->have_timestamp ? &env->ts : NULL,
                                               err);
    if (rc != STS_OK)
        return rc;
    if (env->signature != NULL || env->x509_bst != NULL)
        return authenticate_signed(soap, conn, env, who, err);
    if (!env->have_cred)
        return STS_ERR(err, STS_E_AUTH_FAILED, "no UsernameToken");
    if ((rc = sts_soap_check_password_transport(conn, env->cred.kind, err)) != STS_OK)
        return rc;
    return sts_engine_authenticate(conn->engine, &env->cred, who, err);
}

/* ---- mapping out ------------------------------------------------------------- */

static struct wst__TokenHolderType *holder(struct soap *soap, const char *xml)
{
    struct wst__TokenHolderType *h = soap_malloc(soap, sizeof(*h));
    if (h == NULL)
        return NULL;
    soap_default_wst__TokenHolderType(soap, h);
    h->__any = soap_strdup(soap, xml);
    return h->__any ? h : NULL;
}

/* Serialises @root (the only node of @doc) into the soap arena. */
static char *dump_node(struct soap *soap, xmlDocPtr doc, xmlNodePtr root)
{
    xmlBufferPtr buf = xmlBufferCreate();
    char *out = NULL;

    if (buf != NULL && xmlNodeDump(buf, doc, root, 0, 0) > 0)
        out = soap_strdup(soap, (const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}

/* What an issued token is, for its reference. */
typedef enum ref_kind { REF_SAML2, REF_SAML11, REF_JWT } ref_kind_t;

/* wsse:SecurityTokenReference to a token by its ID: a SAML 2.0 assertion by
 * its ID or a SAML 1.1 one by its AssertionID (SAML token profile 1.1 sections
 * 3.4.2 and 3.5: wsse11:TokenType #SAMLV2.0 / #SAMLV1.1, KeyIdentifier
 * ValueType #SAMLID / 1.0#SAMLAssertionID), or a JWT by its jti. Built with
 * libxml2 so the ID is escaped. */
static char *token_reference(struct soap *soap, const char *id, ref_kind_t kind)
{
    static const char *const token_types[] = {STS_TT_SAML2_WSS, STS_TT_SAML11_WSS, STS_TT_JWT};
    static const char *const value_types[] = {STS_SAML2_KEYID_VALUETYPE,
                                              STS_SAML11_KEYID_VALUETYPE, STS_TT_JWT};
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr str = NULL, kid;
    xmlNsPtr wsse, wsse11;
    char *out = NULL;

    if (doc == NULL)
        return NULL;
    str = xmlNewDocNode(doc, NULL, BAD_CAST "SecurityTokenReference", NULL);
    if (str == NULL)
        goto done;
    xmlDocSetRootElement(doc, str);
    wsse = xmlNewNs(str, BAD_CAST STS_NS_WSSE, BAD_CAST "wsse");
    wsse11 = xmlNewNs(str, BAD_CAST STS_NS_WSSE11, BAD_CAST "wsse11");
    xmlSetNs(str, wsse);
    if (xmlNewNsProp(str, wsse11, BAD_CAST "TokenType", BAD_CAST token_types[kind]) == NULL)
        goto done;
    kid = xmlNewTextChild(str, wsse, BAD_CAST "KeyIdentifier", BAD_CAST id);
    if (kid == NULL || xmlNewProp(kid, BAD_CAST "ValueType", BAD_CAST value_types[kind]) == NULL)
        goto done;
    out = dump_node(soap, doc, str);
done:
    xmlFreeDoc(doc);
    return out;
}

/* A JWT travels in a wsse:BinarySecurityToken, base64 of its characters
 * (as AD FS and WIF carry JWTs in WS-Trust). */
static char *jwt_bst(struct soap *soap, const char *jwt, size_t len)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr bst;
    xmlNsPtr wsse;
    unsigned char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    char *out = NULL;

    if (doc == NULL || b64 == NULL || len > INT_MAX / 2)
        goto done;
    EVP_EncodeBlock(b64, (const unsigned char *)jwt, (int)len);
    bst = xmlNewDocNode(doc, NULL, BAD_CAST "BinarySecurityToken", b64);
    if (bst == NULL)
        goto done;
    xmlDocSetRootElement(doc, bst);
    wsse = xmlNewNs(bst, BAD_CAST STS_NS_WSSE, BAD_CAST "wsse");
    xmlSetNs(bst, wsse);
    if (xmlNewProp(bst, BAD_CAST "ValueType", BAD_CAST STS_TT_JWT) == NULL ||
        xmlNewProp(bst, BAD_CAST "EncodingType", BAD_CAST STS_WSSE_BASE64) == NULL)
        goto done;
    out = dump_node(soap, doc, bst);
done:
    free(b64);
    if (doc != NULL)
        xmlFreeDoc(doc);
    return out;
}

static struct wsp__AppliesToType *applies_to(struct soap *soap, const char *address)
{
    struct wsp__AppliesToType *a = soap_malloc(soap, sizeof(*a));
    if (a == NULL)
        return NULL;
    soap_default_wsp__AppliesToType(soap, a);
    a->wsa5__EndpointReference = soap_malloc(soap, sizeof(*a->wsa5__EndpointReference));
    if (a->wsa5__EndpointReference == NULL)
        return NULL;
    soap_default_wsa5__EndpointReferenceType(soap, a->wsa5__EndpointReference);
    a->wsa5__EndpointReference->Address = soap_strdup(soap, address);
    return a;
}

static struct wst__LifetimeType *lifetime(struct soap *soap, time_t created, time_t expires)
{
    struct wst__LifetimeType *l = soap_malloc(soap, sizeof(*l));
    char buf[STS_TIME_BUFLEN];
    if (l == NULL)
        return NULL;
    soap_default_wst__LifetimeType(soap, l);
    l->wsu__Created = soap_strdup(soap, sts_time_format(created, buf, sizeof(buf)));
    l->wsu__Expires = soap_strdup(soap, sts_time_format(expires, buf, sizeof(buf)));
    return l;
}

/* A literal element <wst:@name [Type=@type]>@text</wst:@name> of version @v. */
static char *wst_elem(struct soap *soap, const wst_version_t *v, const char *name,
                      const char *type, const char *text)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr n = doc ? xmlNewDocNode(doc, NULL, BAD_CAST name, BAD_CAST text) : NULL;
    char *out = NULL;

    if (n != NULL) {
        xmlDocSetRootElement(doc, n);
        xmlSetNs(n, xmlNewNs(n, BAD_CAST v->ns, BAD_CAST "wst"));
        if (n->ns != NULL && (type == NULL || xmlNewProp(n, BAD_CAST "Type", BAD_CAST type)))
            out = dump_node(soap, doc, n);
    }
    if (doc != NULL)
        xmlFreeDoc(doc);
    return out;
}

/* SymmetricKey: RequestedProofToken (ComputedKey P_SHA1, or the key as a
 * BinarySecret), our Entropy when the key is computed, and KeySize. 0 or -1. */
static int put_proof(struct soap *soap, struct wst__RequestSecurityTokenResponseType *r,
                     const sts_issued_t *is, const wst_version_t *v)
{
    const unsigned char *bytes = is->server_entropy ? is->server_entropy : is->proof_key;
    size_t len = is->server_entropy ? is->server_entropy_len : is->proof_key_len;
    char *b64 = soap_malloc(soap, 4 * ((len + 2) / 3) + 1), *proof, *entropy = NULL;

    if (b64 == NULL || bytes == NULL)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len);
    if (is->server_entropy != NULL) {
        proof = wst_elem(soap, v, "ComputedKey", NULL, v->ck_psha1);
        entropy = wst_elem(soap, v, "BinarySecret", v->nonce, b64);
        if (entropy == NULL || (r->Entropy = holder(soap, entropy)) == NULL)
            return -1;
    } else {
        proof = wst_elem(soap, v, "BinarySecret", v->secret_key, b64);
    }
    r->RequestedProofToken = proof ? holder(soap, proof) : NULL;
    r->KeySize = soap_malloc(soap, sizeof(*r->KeySize));
    if (r->RequestedProofToken == NULL || r->KeySize == NULL)
        return -1;
    *r->KeySize = is->key_size;
    return 0;
}

/* Fill @r with an issued token, children in the order AD FS answers with. */
static sts_errc_t put_issued(struct soap *soap, struct wst__RequestSecurityTokenResponseType *r,
                             const sts_issued_t *is, const binding_row_t *b, sts_err_t *err)
{
    int jwt = strcmp(is->token_type, STS_TT_JWT) == 0 ||
              strcmp(is->token_type, STS_TT_ACCESS_TOKEN) == 0;
    int saml11 = strcmp(is->token_type, STS_TT_SAML11_URN) == 0 ||
                 strcmp(is->token_type, STS_TT_SAML11_WSS) == 0 ||
                 strcmp(is->token_type, STS_TT_SAML1) == 0;
    char *ref = token_reference(soap, is->id, jwt ? REF_JWT : saml11 ? REF_SAML11 : REF_SAML2);
    char *tok = jwt ? jwt_bst(soap, is->token, is->token_len) : is->token;

    r->Lifetime = lifetime(soap, is->created, is->expires);
    r->wsp__AppliesTo = applies_to(soap, is->applies_to);
    r->RequestedSecurityToken = tok ? holder(soap, tok) : NULL; /* verbatim, as signed */
    r->RequestedAttachedReference = ref ? holder(soap, ref) : NULL;
    r->RequestedUnattachedReference = ref ? holder(soap, ref) : NULL;
    r->TokenType = soap_strdup(soap, is->token_type);
    r->RequestType = soap_strdup(soap, b->request_type);
    r->KeyType = soap_strdup(soap, key_type_out(b->wst, is->key_type));
    if (is->key_size != 0 && put_proof(soap, r, is, b->wst) != 0)
        return STS_ERR(err, STS_E_NOMEM, "response allocation");
    if (r->Lifetime == NULL || r->wsp__AppliesTo == NULL || r->RequestedSecurityToken == NULL ||
        r->RequestedAttachedReference == NULL || r->TokenType == NULL || r->RequestType == NULL ||
        r->KeyType == NULL)
        return STS_ERR(err, STS_E_NOMEM, "response allocation");
    return STS_OK;
}

/* ---- the bindings ------------------------------------------------------------ */

/* The token inside RST/@target_name: an XML token element as it is, or the
 * JWT inside a wsse:BinarySecurityToken (base64 of its characters). */
static sts_errc_t target_token(struct soap *soap, const sts_soap_envelope_t *env,
                               const char *ns, const char *target_name, sts_token_in_t *tok,
                               sts_err_t *err)
{
    xmlNodePtr node = NULL;
    xmlChar *vt = NULL, *et = NULL;
    unsigned char *jwt = NULL;
    size_t len = 0;
    sts_errc_t rc;

    memset(tok, 0, sizeof(*tok));
    if ((rc = sts_soap_envelope_target(env, ns, target_name, &node, err)) != STS_OK)
        return rc;
    if (!sts_xml_is(node, STS_NS_WSSE, "BinarySecurityToken")) {
        tok->node = node;
        return STS_OK;
    }
    vt = xmlGetNoNsProp(node, BAD_CAST "ValueType");
    et = xmlGetNoNsProp(node, BAD_CAST "EncodingType");
    if (vt == NULL || strcmp((const char *)vt, STS_TT_JWT) != 0 ||
        (et != NULL && strcmp((const char *)et, STS_WSSE_BASE64) != 0)) {
        rc = STS_ERR(err, STS_E_INVALID_REQUEST, "%s: BinarySecurityToken is not a JWT",
                     target_name);
        goto done;
    }
    if (b64_text(soap, node, &jwt, &len, err) != STS_OK) {
        rc = STS_ERR(err, STS_E_INVALID_REQUEST, "%s: BinarySecurityToken is not base64",
                     target_name);
        goto done;
    }
    jwt[len] = '\0'; /* b64_text leaves room for it */
    tok->text = (const char *)jwt;
    tok->text_len = len;
    tok->type = STS_TT_JWT;
done:
    xmlFree(vt);
    xmlFree(et);
    return rc;
}

#define MAX_CLAIMS 64

/* wst:Claims in the identity dialect: i:ClaimType Uri="..." Optional="true|false".
 * Another dialect or content is not understood (refused, never ignored). */
static sts_errc_t read_claims(struct soap *soap, const sts_soap_envelope_t *env,
                              sts_issue_req_t *req, sts_err_t *err)
{
    xmlNodePtr claims = NULL;
    xmlChar *dialect;
    sts_claim_req_t *list;
    size_t n = 0;
    int ok;

    for (xmlNodePtr c = sts_xml_first_elem(env->rst); c; c = sts_xml_next_elem(c))
        if (sts_xml_is(c, env->wst_ns, "Claims"))
            claims = c;
    /* the RST's own Claims win over the relying party's template */
    for (xmlNodePtr c = sts_xml_first_elem(env->secondary); claims == NULL && c;
         c = sts_xml_next_elem(c))
        if (sts_xml_is(c, env->wst_ns, "Claims"))
            claims = c;
    if (claims == NULL)
        return STS_OK;
    dialect = xmlGetNoNsProp(claims, BAD_CAST "Dialect");
    ok = dialect != NULL && strcmp((const char *)dialect, STS_NS_IDENTITY) == 0;
    xmlFree(dialect);
    if (!ok)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "wst:Claims of an unsupported Dialect");
    if (sts_xml_count_elems(claims) > MAX_CLAIMS)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "more than %d claims", MAX_CLAIMS);
    list = soap_malloc(soap, (MAX_CLAIMS + 1) * sizeof(*list));
    if (list == NULL)
        return STS_ERR(err, STS_E_NOMEM, "claims");
    for (xmlNodePtr c = sts_xml_first_elem(claims); c; c = sts_xml_next_elem(c)) {
        xmlChar *uri = xmlGetNoNsProp(c, BAD_CAST "Uri");
        xmlChar *opt = xmlGetNoNsProp(c, BAD_CAST "Optional");
        int bad_opt = opt != NULL && strcmp((const char *)opt, "true") != 0 &&
                      strcmp((const char *)opt, "false") != 0 &&
                      strcmp((const char *)opt, "1") != 0 && strcmp((const char *)opt, "0") != 0;
        list[n].uri = uri != NULL && uri[0] != '\0' ? soap_strdup(soap, (const char *)uri) : NULL;
        list[n].optional = opt != NULL && (opt[0] == 't' || opt[0] == '1');
        xmlFree(uri);
        xmlFree(opt);
        if (!sts_xml_is(c, STS_NS_IDENTITY, "ClaimType"))
            return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "wst:Claims holds %s", (const char *)c->name);
        if (list[n].uri == NULL || bad_opt)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "ClaimType without Uri or bad Optional");
        n++;
    }
    req->claims = list;
    req->nclaims = n;
    req->with_claims = 1;
    return STS_OK;
}

/* KeySize, ComputedKeyAlgorithm and the requester's wst:Entropy/wst:BinarySecret
 * (Type Nonce) of a SymmetricKey request. */
static sts_errc_t read_key_params(struct soap *soap, const binding_row_t *b,
                                  const sts_soap_envelope_t *env, sts_issue_req_t *req,
                                  sts_err_t *err)
{
    xmlNodePtr secret = NULL;
    xmlChar *type = NULL;
    int ok;

    if (((env->present & STS_RST_KEY_SIZE) && env->key_size == NULL) ||
        ((env->present & STS_RST_COMPUTED_KEY_ALG) && env->computed_key_alg == NULL))
        return STS_ERR(err, STS_E_INVALID_REQUEST, "KeySize or ComputedKeyAlgorithm not text");
    if (env->key_size != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(env->key_size, &end, 10);
        if (end == env->key_size || *end != '\0' || v == 0 || v > 65536)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "KeySize not a number of bits");
        req->key_size = (unsigned)v;
    }
    if (env->computed_key_alg != NULL && strcmp(env->computed_key_alg, b->wst->ck_psha1) != 0)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "ComputedKeyAlgorithm not P_SHA1");
    if (env->entropy == NULL) {
        if (env->computed_key_alg != NULL && (env->present & STS_RST_COMPUTED_KEY_ALG))
            return STS_ERR(err, STS_E_INVALID_REQUEST, "ComputedKeyAlgorithm without Entropy");
        return STS_OK;
    }
    secret = sts_xml_first_elem(env->entropy);
    if (!sts_xml_is(secret, env->wst_ns, "BinarySecret") || sts_xml_next_elem(secret) != NULL)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "Entropy other than one BinarySecret");
    type = xmlGetNoNsProp(secret, BAD_CAST "Type");
    ok = type == NULL || strcmp((const char *)type, b->wst->nonce) == 0;
    xmlFree(type);
    if (!ok)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "Entropy BinarySecret not a Nonce");
    return b64_text(soap, secret, (unsigned char **)&req->client_entropy,
                    &req->client_entropy_len, err);
}

/* ds:KeyValue/ds:RSAKeyValue of a UseKey: its Modulus and Exponent. */
static sts_errc_t read_rsa_key_value(struct soap *soap, xmlNodePtr kv, sts_issue_req_t *req,
                                     sts_err_t *err)
{
    xmlNodePtr rsa = sts_xml_first_elem(kv), mod, ex;
    unsigned char *m = NULL, *e = NULL;
    size_t mlen = 0, elen = 0;

    mod = sts_xml_first_elem(rsa);
    ex = sts_xml_next_elem(mod);
    if (!sts_xml_is(rsa, STS_NS_DS, "RSAKeyValue") || sts_xml_next_elem(rsa) != NULL ||
        !sts_xml_is(mod, STS_NS_DS, "Modulus") || !sts_xml_is(ex, STS_NS_DS, "Exponent") ||
        sts_xml_next_elem(ex) != NULL)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "UseKey KeyValue other than an RSAKeyValue");
    if (b64_text(soap, mod, &m, &mlen, err) != STS_OK ||
        b64_text(soap, ex, &e, &elen, err) != STS_OK)
        return STS_E_INVALID_REQUEST;
    req->use_key_modulus = m;
    req->use_key_modulus_len = mlen;
    req->use_key_exponent = e;
    req->use_key_exponent_len = elen;
    return STS_OK;
}

/* wst:UseKey holding the requester's key: a wsse:BinarySecurityToken (X509v3),
 * or a ds:KeyInfo with one ds:X509Data/ds:X509Certificate or one
 * ds:KeyValue/ds:RSAKeyValue. Other keys (references, DSA) are not understood. */
static sts_errc_t read_use_key(struct soap *soap, const sts_soap_envelope_t *env,
                               sts_issue_req_t *req, sts_err_t *err)
{
    xmlNodePtr uk = NULL, k, cert = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    sts_errc_t rc;

    if (!(env->present & STS_RST_USE_KEY))
        return STS_OK;
    for (xmlNodePtr c = sts_xml_first_elem(env->rst); c; c = sts_xml_next_elem(c))
        if (sts_xml_is(c, env->wst_ns, "UseKey"))
            uk = c;
    k = sts_xml_first_elem(uk);
    if (k == NULL || sts_xml_next_elem(k) != NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "UseKey must hold one key");
    if (sts_xml_is(k, STS_NS_WSSE, "BinarySecurityToken")) {
        xmlChar *vt = xmlGetNoNsProp(k, BAD_CAST "ValueType");
        int x509 = vt != NULL && strcmp((const char *)vt, STS_WSSE_X509V3) == 0;
        xmlFree(vt);
        cert = x509 ? k : NULL;
    } else if (sts_xml_is(k, STS_NS_DS, "KeyInfo")) {
        xmlNodePtr x5d = sts_xml_first_elem(k);
        if (sts_xml_is(x5d, STS_NS_DS, "KeyValue") && sts_xml_next_elem(x5d) == NULL)
            return read_rsa_key_value(soap, x5d, req, err);
        if (sts_xml_is(x5d, STS_NS_DS, "X509Data") && sts_xml_next_elem(x5d) == NULL &&
            sts_xml_is(sts_xml_first_elem(x5d), STS_NS_DS, "X509Certificate") &&
            sts_xml_next_elem(sts_xml_first_elem(x5d)) == NULL)
            cert = sts_xml_first_elem(x5d);
    }
    if (cert == NULL)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "UseKey other than an X.509 certificate");
    if ((rc = b64_text(soap, cert, &der, &len, err)) != STS_OK)
        return rc;
    req->use_key_cert = der;
    req->use_key_cert_len = len;
    return STS_OK;
}

/* An xs:boolean attribute of @node: 1, 0, or @def when absent; -1 when malformed. */
static int bool_attr(xmlNodePtr node, const char *name, int def)
{
    xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
    int r = v == NULL                                                        ? def
            : strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0 ? 1
            : strcmp((const char *)v, "false") == 0 || strcmp((const char *)v, "0") == 0 ? 0
                                                                                       : -1;
    xmlFree(v);
    return r;
}

/* wst:AllowPostdating (empty) and wst:Renewing Allow="..." OK="..." (empty). */
static sts_errc_t read_renew_rules(const sts_soap_envelope_t *env, sts_issue_req_t *req,
                                   sts_err_t *err)
{
    int allow, ok;

    if (env->present & STS_RST_ALLOW_POSTDATING) {
        for (xmlNodePtr c = sts_xml_first_elem(env->rst); c; c = sts_xml_next_elem(c))
            if (sts_xml_is(c, env->wst_ns, "AllowPostdating") && c->children != NULL)
                return STS_ERR(err, STS_E_INVALID_REQUEST, "AllowPostdating is not empty");
        req->allow_postdating = 1;
    }
    if (env->renewing == NULL)
        return STS_OK;
    allow = bool_attr(env->renewing, "Allow", 1);
    ok = bool_attr(env->renewing, "OK", 0);
    if (allow < 0 || ok < 0 || env->renewing->children != NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "Renewing: Allow/OK not xs:boolean or content");
    if (!allow && ok)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "Renewing OK without Allow");
    req->not_renewable = !allow;
    req->renew_after_expiry = ok;
    return STS_OK;
}

static sts_errc_t do_issue(sts_soap_conn_t *conn, struct soap *soap, const binding_row_t *b,
                           const sts_soap_envelope_t *env, const sts_principal_t *who,
                           struct wst__RequestSecurityTokenResponseType *r, sts_err_t *err)
{
    sts_issue_req_t req = {.applies_to = env->applies_to,
                           .token_type = env->token_type,
                           .key_type = key_type_in(b->wst, env->key_type),
                           .lifetime_created = env->lifetime_created,
                           .lifetime_expires = env->lifetime_expires};
    sts_token_in_t delegated = {.node = NULL};
    sts_issued_t *is = NULL;
    sts_errc_t rc;

    if ((rc = read_claims(soap, env, &req, err)) != STS_OK ||
        (rc = read_key_params(soap, b, env, &req, err)) != STS_OK ||
        (rc = read_renew_rules(env, &req, err)) != STS_OK ||
        (rc = read_use_key(soap, env, &req, err)) != STS_OK)
        return rc;
    /* OnBehalfOf (1.3 or 2005) or wst14:ActAs: the token of the subject. */
    if (env->present & STS_RST_ON_BEHALF_OF) {
        if ((rc = target_token(soap, env, NULL, "OnBehalfOf", &delegated, err)) != STS_OK)
            return rc;
        req.on_behalf_of = &delegated;
    }
    if (env->present & STS_RST_ACT_AS) {
        if (req.on_behalf_of != NULL)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "OnBehalfOf and ActAs together");
        if ((rc = target_token(soap, env, STS_NS_WST14, "ActAs", &delegated, err)) != STS_OK)
            return rc;
        req.act_as = &delegated;
    }
    if ((rc = sts_engine_issue(conn->engine, who, &req, &is, err)) == STS_OK)
        rc = put_issued(soap, r, is, b, err);
    sts_issued_free(is);
    return rc;
}

/* Validate: a status answer, or (WS-Trust 1.3 sec. 7) with a TokenType other
 * than RSTR/Status, the status and a new token of that type when valid. */
static sts_errc_t do_validate(sts_soap_conn_t *conn, struct soap *soap, const binding_row_t *b,
                              const sts_soap_envelope_t *env, const sts_principal_t *who,
                              struct wst__RequestSecurityTokenResponseType *r, sts_err_t *err)
{
    sts_token_in_t tok = {.node = NULL};
    sts_verdict_t v = {.valid = 0};
    sts_issued_t *is = NULL;
    int status_only = env->token_type == NULL || strcmp(env->token_type, b->wst->status_tt) == 0;
    sts_errc_t rc;

    if ((rc = target_token(soap, env, NULL, "ValidateTarget", &tok, err)) != STS_OK)
        return rc;
    rc = status_only ? sts_engine_validate(conn->engine, who, &tok, &v, err)
                     : sts_engine_transform(conn->engine, who, &tok, env->token_type, &v, &is, err);
    if (rc != STS_OK)
        return rc;
    sts_verdict_clear(&v); /* RSTR/Status answers with the verdict alone */
    if (is != NULL)
        rc = put_issued(soap, r, is, b, err);
    else
        r->TokenType = soap_strdup(soap, b->wst->status_tt);
    sts_issued_free(is);
    r->Status = soap_malloc(soap, sizeof(*r->Status));
    if (rc != STS_OK || r->Status == NULL)
        return rc != STS_OK ? rc : STS_ERR(err, STS_E_NOMEM, "response allocation");
    soap_default_wst__StatusType(soap, r->Status);
    r->Status->Code = soap_strdup(soap, v.valid ? b->wst->status_valid : b->wst->status_invalid);
    /* One reason per status: which check failed (tampered, expired, foreign,
     * cancelled, unknown...) would be an oracle; the engine logged it. */
    r->Status->Reason = soap_strdup(soap, v.valid ? STS_VALIDATE_REASON_VALID
                                                  : STS_VALIDATE_REASON_INVALID);
    return STS_OK;
}

static sts_errc_t do_renew(sts_soap_conn_t *conn, struct soap *soap, const binding_row_t *b,
                           const sts_soap_envelope_t *env, const sts_principal_t *who,
                           struct wst__RequestSecurityTokenResponseType *r, sts_err_t *err)
{
    sts_token_in_t tok = {.node = NULL};
    sts_issued_t *is = NULL;
    sts_errc_t rc;

    if ((rc = target_token(soap, env, NULL, "RenewTarget", &tok, err)) != STS_OK)
        return rc;
    if ((rc = sts_engine_renew(conn->engine, who, &tok, env->token_type, &is, err)) == STS_OK)
        rc = put_issued(soap, r, is, b, err);
    sts_issued_free(is);
    return rc;
}

static sts_errc_t do_cancel(sts_soap_conn_t *conn, struct soap *soap,
                            const sts_soap_envelope_t *env, const sts_principal_t *who,
                            struct wst__RequestSecurityTokenResponseType *r, sts_err_t *err)
{
    sts_token_in_t tok = {.node = NULL};
    sts_errc_t rc;

    if ((rc = target_token(soap, env, NULL, "CancelTarget", &tok, err)) != STS_OK)
        return rc;
    if ((rc = sts_engine_cancel(conn->engine, who, &tok, err)) != STS_OK)
        return rc;
    r->RequestedTokenCancelled = soap_malloc(soap, sizeof(*r->RequestedTokenCancelled));
    if (r->RequestedTokenCancelled == NULL)
        return STS_ERR(err, STS_E_NOMEM, "response allocation");
    soap_default_wst__RequestedTokenCancelledType(soap, r->RequestedTokenCancelled);
    return STS_OK;
}

/* A bare RSTR sent by hand: the request reached the Issue operation (no
 * action) but asked for another binding, whose answer is not a collection. */
static int send_rstr(struct soap *soap, struct wst__RequestSecurityTokenResponseType *r)
{
    soap->encodingStyle = NULL;
    soap_serializeheader(soap);
    soap_serialize_wst__RequestSecurityTokenResponseType(soap, r);
    if (soap_begin_count(soap))
        return soap->error;
    if ((soap->mode & SOAP_IO_LENGTH) &&
        (soap_envelope_begin_out(soap) || soap_putheader(soap) || soap_body_begin_out(soap) ||
         soap_put_wst__RequestSecurityTokenResponseType(soap, r, "wst:RequestSecurityTokenResponse",
                                                        "") ||
         soap_body_end_out(soap) || soap_envelope_end_out(soap)))
        return soap->error;
    if (soap_end_count(soap) || soap_response(soap, SOAP_OK) || soap_envelope_begin_out(soap) ||
        soap_putheader(soap) || soap_body_begin_out(soap) ||
        soap_put_wst__RequestSecurityTokenResponseType(soap, r, "wst:RequestSecurityTokenResponse",
                                                       "") ||
        soap_body_end_out(soap) || soap_envelope_end_out(soap) || soap_end_send(soap))
        return soap->error;
    sts_soap_request_done(soap);
    soap_closesock(soap);
    return SOAP_STOP; /* answered: gSOAP sends nothing more */
}

/*
 * The one handler behind the four operations. @op is the operation gSOAP
 * dispatched to; exactly one of @rstrc (Issue) and @rstr (others) is set.
 * gSOAP's request struct is not read: the envelope comes from the one tree
 * the hardened parser built.
 */
static int handle(struct soap *soap, sts_binding_t op,
                  struct wst__RequestSecurityTokenResponseCollectionType *rstrc,
                  struct wst__RequestSecurityTokenResponseType *rstr)
{
    sts_soap_conn_t *conn = soap->user;
    sts_soap_envelope_t env;
    const binding_row_t *b = NULL;
    struct wst__RequestSecurityTokenResponseType *r;
    sts_principal_t who;
    sts_err_t err;
    sts_errc_t rc;

    sts_err_clear(&err);
    memset(&env, 0, sizeof(env));
    r = rstr;
    if (r == NULL) {
        r = soap_malloc(soap, sizeof(*r));
        if (r == NULL)
            return soap->error = SOAP_EOM;
    }
    soap_default_wst__RequestSecurityTokenResponseType(soap, r);

    rc = sts_soap_envelope_read(conn, &env, &err);
    if (env.wsa_message_id != NULL || env.wsa_action != NULL) {
        conn->reply_wsa = 1;
        conn->reply_relates_to = soap_strdup(soap, env.wsa_message_id);
    }
    if (rc == STS_OK && env.not_understood != NULL) {
        /* SOAP's own fault (SOAP 1.1 section 4.2.3, SOAP 1.2 part 1 5.4.8) */
        sts_info("soap -> MustUnderstand (header block %s)", env.not_understood);
        sts_soap_envelope_free(&env);
        sts_soap_reply_header(soap, STS_WSA_FAULT_ACTION);
        return soap->error = SOAP_MUSTUNDERSTAND;
    }
    /* Answer (result or fault) in the namespace of the RST, whatever else
     * the envelope declared. */
    if (rc == STS_OK && answer_in(soap, env.wst_ns) != 0)
        rc = STS_ERR(&err, STS_E_NOMEM, "answer namespace");
    if (rc != STS_OK || (rc = pick_binding(soap, op, &env, &b, &err)) != STS_OK ||
        (rc = authenticate(soap, conn, &env, &who, &err)) != STS_OK)
        goto fault;
    r->Context = soap_strdup(soap, env.context);
    switch (b->binding) {
    case STS_BINDING_ISSUE: rc = do_issue(conn, soap, b, &env, &who, r, &err); break;
    case STS_BINDING_VALIDATE: rc = do_validate(conn, soap, b, &env, &who, r, &err); break;
    case STS_BINDING_RENEW: rc = do_renew(conn, soap, b, &env, &who, r, &err); break;
    case STS_BINDING_CANCEL: rc = do_cancel(conn, soap, &env, &who, r, &err); break;
    default: rc = STS_ERR(&err, STS_E_INTERNAL, "binding %d", (int)b->binding); break;
    }
    if (rc != STS_OK)
        goto fault;
    sts_soap_envelope_free(&env);

    sts_info("soap %s (WS-Trust %s) -> ok", b->name, b->wst->name);
    soap->action = soap_strdup(soap, b->reply_action); /* SOAP 1.2 Content-Type action */
    sts_soap_reply_header(soap, b->reply_action);
    /* gSOAP's operation answers with what it was declared with: an RSTRC
     * from Issue (op Issue is also where requests without a known action
     * land), a bare RSTR from the others. Anything else is sent by hand. */
    if (rstrc != NULL && b->binding == STS_BINDING_ISSUE && b->wst->collection) {
        rstrc->__sizeRequestSecurityTokenResponse = 1;
        rstrc->RequestSecurityTokenResponse = r;
        return SOAP_OK;
    }
    if (rstrc != NULL || op != b->binding)
        return send_rstr(soap, r);
    return SOAP_OK;

fault:
    sts_soap_envelope_free(&env);
    return sts_soap_fault(soap, &err);
}

int __wst__Issue(struct soap *soap, struct wst__RequestSecurityTokenType *rst,
                 struct wst__RequestSecurityTokenResponseCollectionType *out)
{
    (void)rst;
    return handle(soap, STS_BINDING_ISSUE, out, NULL);
}

int __wst__Validate(struct soap *soap, struct wst__RequestSecurityTokenType *rst,
                    struct wst__RequestSecurityTokenResponseType *out)
{
    (void)rst;
    return handle(soap, STS_BINDING_VALIDATE, NULL, out);
}

int __wst__Renew(struct soap *soap, struct wst__RequestSecurityTokenType *rst,
                 struct wst__RequestSecurityTokenResponseType *out)
{
    (void)rst;
    return handle(soap, STS_BINDING_RENEW, NULL, out);
}

int __wst__Cancel(struct soap *soap, struct wst__RequestSecurityTokenType *rst,
                  struct wst__RequestSecurityTokenResponseType *out)
{
    (void)rst;
    return handle(soap, STS_BINDING_CANCEL, NULL, out);
}
