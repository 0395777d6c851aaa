/*
 * sts_soap_wsse.c - read a request from the one tree the hardened parser built.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * gSOAP's own parser skips DTDs and keeps only one of repeated elements, so
 * it only dispatches: every field the face uses (WS-Addressing headers,
 * wsse:Security, the RST's fields and token targets) is read here, from the
 * request bytes as libxml2 parsed them, so that the element that is checked
 * is the element that is used. Translation only: the engine decides whether
 * the credentials and tokens are good.
 */
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_soap_int.h"

#include <string.h>

#define STS_SOAP12_ROLE_NEXT STS_NS_SOAP12 "/role/next"
#define STS_SOAP12_ROLE_ULTIMATE STS_NS_SOAP12 "/role/ultimateReceiver"
#define STS_SOAP11_ACTOR_NEXT "http://schemas.xmlsoap.org/soap/actor/next"
#define STS_NS_WSA04 "http://schemas.xmlsoap.org/ws/2004/08/addressing"

/* Element content when it is one text node, else NULL (absent or mixed). */
static const char *node_text(xmlNodePtr node)
{
    if (node == NULL || node->children == NULL)
        return NULL;
    if (node->children->next != NULL || node->children->type != XML_TEXT_NODE)
        return NULL;
    return (const char *)node->children->content;
}

/* Value of the attribute {ns}name of @node when it is plain text, else NULL. */
static const char *attr_text(xmlNodePtr node, const char *ns, const char *name)
{
    xmlAttrPtr a = xmlHasNsProp(node, BAD_CAST name, BAD_CAST ns);
    if (a == NULL || a->children == NULL || a->children->next != NULL ||
        a->children->type != XML_TEXT_NODE)
        return NULL;
    return (const char *)a->children->content;
}

/* The only child of @parent named {ns}name; NULL if absent; *dup set if repeated. */
static xmlNodePtr only_child(xmlNodePtr parent, const char *ns, const char *name, int *dup)
{
    xmlNodePtr found = NULL;
    for (xmlNodePtr c = sts_xml_first_elem(parent); c; c = sts_xml_next_elem(c)) {
        if (!sts_xml_is(c, ns, name))
            continue;
        if (found != NULL)
            *dup = 1;
        found = c;
    }
    return found;
}

/* ---- wsse:Security -------------------------------------------------------- */

/*
 * wsu:Timestamp as the Basic Security Profile 1.1 shapes it (sec. 8.3.x):
 * Created then Expires, each at most once, nothing else, and neither with a
 * ValueType. A Timestamp another way round is refused, not reordered.
 */
static sts_errc_t check_timestamp_shape(xmlNodePtr ts, sts_err_t *err)
{
    int seen_expires = 0;

    for (xmlNodePtr c = sts_xml_first_elem(ts); c; c = sts_xml_next_elem(c)) {
        int is_created = sts_xml_is(c, STS_NS_WSU, "Created");
        if (!is_created && !sts_xml_is(c, STS_NS_WSU, "Expires"))
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp holds %s",
                           (const char *)c->name);
        if (is_created && seen_expires)
            return STS_ERR(err, STS_E_AUTH_FAILED,
                           "wsu:Timestamp Expires placed in front of Created");
        seen_expires |= !is_created;
        if (xmlHasProp(c, BAD_CAST "ValueType") != NULL)
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp %s with a ValueType",
                           (const char *)c->name);
    }
    return STS_OK;
}

static sts_errc_t read_timestamp(xmlNodePtr ts, sts_soap_envelope_t *env, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr created = only_child(ts, STS_NS_WSU, "Created", &dup);
    xmlNodePtr expires = only_child(ts, STS_NS_WSU, "Expires", &dup);
    sts_errc_t rc;

    if (dup)
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp with repeated children");
    if ((rc = check_timestamp_shape(ts, err)) != STS_OK)
        return rc;
    env->have_timestamp = 1;
    env->ts.created = node_text(created);
    env->ts.expires = node_text(expires);
    if ((created != NULL && env->ts.created == NULL) || (expires != NULL && env->ts.expires == NULL))
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp values not plain text");
    return STS_OK;
}

static sts_errc_t read_username_token(xmlNodePtr ut, sts_soap_envelope_t *env, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr user = only_child(ut, STS_NS_WSSE, "Username", &dup);
    xmlNodePtr pass = only_child(ut, STS_NS_WSSE, "Password", &dup);
    xmlNodePtr nonce = only_child(ut, STS_NS_WSSE, "Nonce", &dup);
    xmlNodePtr created = only_child(ut, STS_NS_WSU, "Created", &dup);
    const char *type, *enc;

    if (dup)
        return STS_ERR(err, STS_E_AUTH_FAILED, "UsernameToken with repeated children");
    env->cred.username = node_text(user);
    env->cred.password = node_text(pass);
    if (env->cred.username == NULL || env->cred.password == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED, "UsernameToken without plain Username/Password");
    type = attr_text(pass, NULL, "Type");
    if (type == NULL || strcmp(type, STS_WSSE_PASSWORD_TEXT) == 0) {
        env->cred.kind = STS_CRED_PASSWORD_TEXT;
    } else if (strcmp(type, STS_WSSE_PASSWORD_DIGEST) == 0) {
        env->cred.kind = STS_CRED_PASSWORD_DIGEST;
        enc = nonce ? attr_text(nonce, NULL, "EncodingType") : NULL;
        if (nonce == NULL || created == NULL)
            return STS_ERR(err, STS_E_BAD_ELEMENTS, "PasswordDigest without Nonce or Created");
        if (enc != NULL && strcmp(enc, STS_WSSE_BASE64) != 0)
            return STS_ERR(err, STS_E_AUTH_FAILED, "Nonce EncodingType not Base64Binary");
        env->cred.nonce = node_text(nonce);
        env->cred.created = node_text(created);
    } else {
        return STS_ERR(err, STS_E_AUTH_FAILED, "unsupported Password Type");
    }
    env->have_cred = 1;
    return STS_OK;
}

static sts_errc_t read_security(xmlNodePtr sec, sts_soap_envelope_t *env, sts_err_t *err)
{
    sts_errc_t rc;
    int nts = 0, nut = 0;

    for (xmlNodePtr c = sts_xml_first_elem(sec); c; c = sts_xml_next_elem(c)) {
        if (sts_xml_is(c, STS_NS_WSU, "Timestamp")) {
            if (++nts > 1)
                return STS_ERR(err, STS_E_AUTH_FAILED, "more than one wsu:Timestamp");
            if ((rc = read_timestamp(c, env, err)) != STS_OK)
                return rc;
            env->timestamp = c;
        } else if (sts_xml_is(c, STS_NS_WSSE, "BinarySecurityToken")) {
            /* the requester's certificate for an X.509 signature */
            const char *vt = attr_text(c, NULL, "ValueType");
            const char *et = attr_text(c, NULL, "EncodingType");
            if (env->x509_bst != NULL || vt == NULL || strcmp(vt, STS_WSSE_X509V3) != 0 ||
                (et != NULL && strcmp(et, STS_WSSE_BASE64) != 0))
                return STS_ERR(err, STS_E_AUTH_FAILED,
                               "BinarySecurityToken other than one X509v3 certificate");
            env->x509_bst = c;
        } else if (sts_xml_is(c, STS_NS_DS, "Signature")) {
            if (env->signature != NULL)
                return STS_ERR(err, STS_E_AUTH_FAILED, "more than one ds:Signature");
            env->signature = c;
        } else if (sts_xml_is(c, STS_NS_WSSE, "UsernameToken")) {
            if (++nut > 1)
                return STS_ERR(err, STS_E_AUTH_FAILED, "more than one UsernameToken");
            if ((rc = read_username_token(c, env, err)) != STS_OK)
                return rc;
        } else {
            /* SAML tokens, encrypted keys and anything else are refused
             * rather than silently ignored. */
            return STS_ERR(err, STS_E_AUTH_FAILED, "unsupported wsse:Security child %s",
                           (const char *)c->name);
        }
    }
    return STS_OK;
}

/* Is this header block addressed to us, the ultimate receiver? */
static int for_us(xmlNodePtr block, int soap_version)
{
    const char *ns = soap_version == 2 ? STS_NS_SOAP12 : STS_NS_SOAP11;
    const char *name = soap_version == 2 ? "role" : "actor";
    const char *target;

    if (xmlHasNsProp(block, BAD_CAST name, BAD_CAST ns) == NULL)
        return 1;
    if ((target = attr_text(block, ns, name)) == NULL)
        return 0;
    if (soap_version == 2)
        return strcmp(target, STS_SOAP12_ROLE_ULTIMATE) == 0 ||
               strcmp(target, STS_SOAP12_ROLE_NEXT) == 0;
    return strcmp(target, STS_SOAP11_ACTOR_NEXT) == 0;
}

/* ---- header ------------------------------------------------------------------ */

/* Header blocks this face processes (the rest it may ignore unless they must
 * be understood). */
static int understood(xmlNodePtr block)
{
    static const char *const wsa[] = {"Action", "MessageID", "ReplyTo", "FaultTo", "To",
                                      "RelatesTo"};
    if (sts_xml_is(block, STS_NS_WSSE, "Security"))
        return 1;
    for (size_t i = 0; i < sizeof(wsa) / sizeof(wsa[0]); i++)
        if (sts_xml_is(block, STS_NS_WSA, wsa[i]))
            return 1;
    return 0;
}

static int must_understand(xmlNodePtr block, int soap_version)
{
    const char *mu = attr_text(block, soap_version == 2 ? STS_NS_SOAP12 : STS_NS_SOAP11,
                               "mustUnderstand");
    return mu != NULL && (strcmp(mu, "1") == 0 || strcmp(mu, "true") == 0);
}

/* The header {@ns}@name (ReplyTo or FaultTo): *present, and *address its
 * wsa:Address text (NULL when not plain text). *dup is set when the header or
 * its Address is repeated; the return is STS_E_INVALID_REQUEST then. */
static sts_errc_t read_wsa_epr(xmlNodePtr header, const char *ns, const char *name, int *present,
                               const char **address, int *dup)
{
    xmlNodePtr epr = only_child(header, ns, name, dup);

    *present = epr != NULL;
    *address = epr != NULL ? node_text(only_child(epr, ns, "Address", dup)) : NULL;
    return *dup ? STS_E_INVALID_REQUEST : STS_OK;
}

static sts_errc_t read_header(xmlNodePtr header, sts_soap_envelope_t *env, sts_err_t *err)
{
    xmlNodePtr sec = NULL, to;
    int dup = 0;

    for (xmlNodePtr c = sts_xml_first_elem(header); c; c = sts_xml_next_elem(c)) {
        if (!for_us(c, env->soap_version))
            continue; /* for another node: neither our credentials nor our duty */
        if (!understood(c)) {
            if (env->not_understood == NULL && must_understand(c, env->soap_version))
                env->not_understood = (const char *)c->name;
        } else if (sts_xml_is(c, STS_NS_WSSE, "Security")) {
            if (sec != NULL)
                return STS_ERR(err, STS_E_AUTH_FAILED, "more than one wsse:Security for us");
            sec = c;
        }
    }
    env->wsa_action = node_text(only_child(header, STS_NS_WSA, "Action", &dup));
    env->wsa_message_id = node_text(only_child(header, STS_NS_WSA, "MessageID", &dup));
    if (read_wsa_epr(header, STS_NS_WSA, "ReplyTo", &env->wsa_reply_to_present,
                     &env->wsa_reply_to, &dup) != STS_OK ||
        read_wsa_epr(header, STS_NS_WSA, "FaultTo", &env->wsa_fault_to_present,
                     &env->wsa_fault_to, &dup) != STS_OK ||
        read_wsa_epr(header, STS_NS_WSA04, "ReplyTo", &env->wsa04_reply_to_present,
                     &env->wsa04_reply_to, &dup) != STS_OK ||
        read_wsa_epr(header, STS_NS_WSA04, "FaultTo", &env->wsa04_fault_to_present,
                     &env->wsa04_fault_to, &dup) != STS_OK)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "repeated WS-Addressing header");
    to = only_child(header, STS_NS_WSA, "To", &dup);
    env->wsa_to_present = to != NULL;
    env->wsa_to = node_text(to);
    to = only_child(header, STS_NS_WSA04, "To", &dup);
    env->wsa04_to_present = to != NULL;
    env->wsa04_to = node_text(to);
    if (dup)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "repeated WS-Addressing header");
    return sec != NULL ? read_security(sec, env, err) : STS_OK;
}

/* ---- the RST ----------------------------------------------------------------- */

/* The RST children we read; ns NULL: the RST's own WS-Trust namespace (a
 * child of the other version's namespace is "other", so never mixed). */
static const struct {
    const char *ns, *name;
    unsigned bit;
} rst_children[] = {
    {NULL, "TokenType", STS_RST_TOKEN_TYPE},
    {NULL, "RequestType", STS_RST_REQUEST_TYPE},
    {STS_NS_WSP, "AppliesTo", STS_RST_APPLIES_TO},
    {NULL, "Lifetime", STS_RST_LIFETIME},
    {NULL, "KeyType", STS_RST_KEY_TYPE},
    {NULL, "ValidateTarget", STS_RST_VALIDATE_TARGET},
    {NULL, "RenewTarget", STS_RST_RENEW_TARGET},
    {NULL, "CancelTarget", STS_RST_CANCEL_TARGET},
    {NULL, "OnBehalfOf", STS_RST_ON_BEHALF_OF},
    {STS_NS_WST14, "ActAs", STS_RST_ACT_AS},
    {NULL, "Claims", STS_RST_CLAIMS},
    {NULL, "Entropy", STS_RST_ENTROPY},
    {NULL, "KeySize", STS_RST_KEY_SIZE},
    {NULL, "ComputedKeyAlgorithm", STS_RST_COMPUTED_KEY_ALG},
    {NULL, "SecondaryParameters", STS_RST_SECONDARY},
    {NULL, "AllowPostdating", STS_RST_ALLOW_POSTDATING},
    {NULL, "Renewing", STS_RST_RENEWING},
    {NULL, "UseKey", STS_RST_USE_KEY},
};

/* What wst:SecondaryParameters may hold (WCF copies the relying party's
 * RequestSecurityTokenTemplate into it): values the RST itself lacks are taken
 * from it; the algorithm preferences are ours to choose (the token is signed
 * and, for a party with an encryption_cert, encrypted with our algorithms).
 * Anything else is not understood. */
static const char *const secondary_children[] = {
    "TokenType",           "KeyType",    "KeySize",    "ComputedKeyAlgorithm", "Claims",
    "EncryptionAlgorithm", "CanonicalizationAlgorithm", "KeyWrapAlgorithm",   "EncryptWith",
    "SignWith",            NULL};

static sts_errc_t read_secondary(xmlNodePtr sp, sts_soap_envelope_t *env, sts_err_t *err)
{
    const char *wst = env->wst_ns;
    int dup = 0;

    for (xmlNodePtr c = sts_xml_first_elem(sp); c; c = sts_xml_next_elem(c)) {
        int known = 0;
        for (const char *const *n = secondary_children; *n && !known; n++)
            known = sts_xml_is(c, wst, *n);
        if (!known)
            return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "SecondaryParameters holds %s",
                           (const char *)c->name);
    }
    if (env->token_type == NULL)
        env->token_type = node_text(only_child(sp, wst, "TokenType", &dup));
    if (env->key_type == NULL)
        env->key_type = node_text(only_child(sp, wst, "KeyType", &dup));
    if (env->key_size == NULL)
        env->key_size = node_text(only_child(sp, wst, "KeySize", &dup));
    if (env->computed_key_alg == NULL)
        env->computed_key_alg = node_text(only_child(sp, wst, "ComputedKeyAlgorithm", &dup));
    if (dup)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "repeated element in SecondaryParameters");
    env->secondary = sp;
    return STS_OK;
}

static sts_errc_t read_rst(sts_soap_envelope_t *env, sts_err_t *err)
{
    xmlNodePtr rst = env->rst, epr, life;
    const char *wst = env->wst_ns;
    int dup = 0;

    for (xmlNodePtr c = sts_xml_first_elem(rst); c; c = sts_xml_next_elem(c)) {
        unsigned bit = STS_RST_OTHER;
        for (size_t i = 0; i < sizeof(rst_children) / sizeof(rst_children[0]); i++)
            if (sts_xml_is(c, rst_children[i].ns ? rst_children[i].ns : wst,
                           rst_children[i].name))
                bit = rst_children[i].bit;
        if (bit != STS_RST_OTHER && (env->present & bit))
            return STS_ERR(err, STS_E_INVALID_REQUEST, "RST element %s repeated",
                           (const char *)c->name);
        if (bit == STS_RST_OTHER && env->other_child == NULL)
            env->other_child = (const char *)c->name;
        env->present |= bit;
    }
    env->context = attr_text(rst, NULL, "Context");
    env->request_type = node_text(only_child(rst, wst, "RequestType", &dup));
    env->token_type = node_text(only_child(rst, wst, "TokenType", &dup));
    env->key_type = node_text(only_child(rst, wst, "KeyType", &dup));
    epr = only_child(only_child(rst, STS_NS_WSP, "AppliesTo", &dup), STS_NS_WSA,
                     "EndpointReference", &dup);
    env->applies_to = node_text(only_child(epr, STS_NS_WSA, "Address", &dup));
    life = only_child(rst, wst, "Lifetime", &dup);
    env->lifetime_created = node_text(only_child(life, STS_NS_WSU, "Created", &dup));
    env->lifetime_expires = node_text(only_child(life, STS_NS_WSU, "Expires", &dup));
    env->key_size = node_text(only_child(rst, wst, "KeySize", &dup));
    env->computed_key_alg = node_text(only_child(rst, wst, "ComputedKeyAlgorithm", &dup));
    env->entropy = only_child(rst, wst, "Entropy", &dup);
    env->renewing = only_child(rst, wst, "Renewing", &dup);
    if (dup)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "repeated element inside the RST");
    if (env->present & STS_RST_SECONDARY)
        return read_secondary(only_child(rst, wst, "SecondaryParameters", &dup), env, err);
    return STS_OK;
}

sts_errc_t sts_soap_envelope_read(sts_soap_conn_t *conn, sts_soap_envelope_t *env,
                                  sts_err_t *err)
{
    xmlNodePtr root, first, header = NULL, body = NULL;
    const char *soapns;
    sts_errc_t rc;

    memset(env, 0, sizeof(*env));
    /* The body was read and parsed ahead, before gSOAP read it. */
    if (conn->doc == NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "no parsed body");
    env->doc = conn->doc;
    conn->doc = NULL;
    root = xmlDocGetRootElement(env->doc);
    if (sts_xml_is(root, STS_NS_SOAP11, "Envelope")) {
        soapns = STS_NS_SOAP11;
        env->soap_version = 1;
    } else if (sts_xml_is(root, STS_NS_SOAP12, "Envelope")) {
        soapns = STS_NS_SOAP12;
        env->soap_version = 2;
    } else {
        return STS_ERR(err, STS_E_INVALID_REQUEST, "not a SOAP envelope");
    }
    /* Exactly [Header?, Body]: gSOAP reads only a Header before the Body. */
    first = sts_xml_first_elem(root);
    if (sts_xml_is(first, soapns, "Header")) {
        header = first;
        first = sts_xml_next_elem(first);
    }
    if (sts_xml_is(first, soapns, "Body"))
        body = first;
    if (body == NULL || sts_xml_next_elem(body) != NULL)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "envelope must be [Header?, Body]");
    if (sts_xml_count_elems(body) != 1)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "Body must hold exactly one element");
    env->rst = sts_xml_first_elem(body);
    if (sts_xml_is(env->rst, STS_NS_WST13, "RequestSecurityToken"))
        env->wst_ns = STS_NS_WST13;
    else if (sts_xml_is(env->rst, STS_NS_WST05, "RequestSecurityToken"))
        env->wst_ns = STS_NS_WST05;
    else
        return STS_ERR(err, STS_E_INVALID_REQUEST,
                       "Body does not hold a WS-Trust 1.3 or Feb 2005 RST");
    if ((rc = read_rst(env, err)) != STS_OK)
        return rc;
    return header != NULL ? read_header(header, env, err) : STS_OK;
}

void sts_soap_envelope_free(sts_soap_envelope_t *env)
{
    if (env->doc != NULL)
        xmlFreeDoc(env->doc);
    memset(env, 0, sizeof(*env));
}

sts_errc_t sts_soap_envelope_target(const sts_soap_envelope_t *env, const char *ns,
                                    const char *target_name, xmlNodePtr *out, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr target = only_child(env->rst, ns ? ns : env->wst_ns, target_name, &dup);

    *out = NULL;
    if (target == NULL || dup)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "wst:%s missing or repeated", target_name);
    if (sts_xml_count_elems(target) != 1)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "wst:%s must hold exactly one token",
                       target_name);
    *out = sts_xml_first_elem(target);
    return STS_OK;
}
