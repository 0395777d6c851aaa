/*
 * sts_soap_wsse.c - read WS-Security and token targets from the raw envelope.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * gSOAP's own parser skips DTDs and keeps only the last of repeated elements,
 * so the security-relevant parts of a request are read here instead, from the
 * captured request bytes, by the hardened libxml2 parser: one tree, in which
 * the element that is verified is the element that is used. Translation only:
 * the engine decides whether the credentials and tokens are good.
 */
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_soap_int.h"

#include <string.h>

static const char *node_text(xmlNodePtr node)
{
    /* Element content as a single text child; anything else counts as absent. */
    if (node == NULL || node->children == NULL)
        return NULL;
    if (node->children->next != NULL || node->children->type != XML_TEXT_NODE)
        return NULL;
    return (const char *)node->children->content;
}

/* The only child of @parent named {ns}name; NULL if absent; -1 in *dup if repeated. */
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

static sts_errc_t read_timestamp(xmlNodePtr ts, sts_soap_envelope_t *env, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr created = only_child(ts, STS_NS_WSU, "Created", &dup);
    xmlNodePtr expires = only_child(ts, STS_NS_WSU, "Expires", &dup);

    if (dup)
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp with repeated children");
    env->have_timestamp = 1;
    env->ts.created = node_text(created);
    env->ts.expires = node_text(expires);
    if (created != NULL && env->ts.created == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp/Created not plain text");
    return STS_OK;
}

static sts_errc_t read_username_token(xmlNodePtr ut, sts_soap_envelope_t *env, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr user = only_child(ut, STS_NS_WSSE, "Username", &dup);
    xmlNodePtr pass = only_child(ut, STS_NS_WSSE, "Password", &dup);
    xmlNodePtr nonce = only_child(ut, STS_NS_WSSE, "Nonce", &dup);
    xmlNodePtr created = only_child(ut, STS_NS_WSU, "Created", &dup);
    xmlChar *type = NULL, *enc = NULL;
    sts_errc_t rc = STS_OK;

    STS_FAIL_IF(dup, err, STS_E_AUTH_FAILED, "UsernameToken with repeated children");
    STS_FAIL_IF(user == NULL || pass == NULL, err, STS_E_AUTH_FAILED,
                "UsernameToken without Username or Password");
    env->cred.username = node_text(user);
    env->cred.password = node_text(pass);
    STS_FAIL_IF(env->cred.username == NULL || env->cred.password == NULL, err, STS_E_AUTH_FAILED,
                "UsernameToken Username/Password not plain text");
    type = xmlGetNoNsProp(pass, BAD_CAST "Type");
    if (type == NULL || strcmp((const char *)type, STS_WSSE_PASSWORD_TEXT) == 0) {
        env->cred.kind = STS_CRED_PASSWORD_TEXT;
    } else if (strcmp((const char *)type, STS_WSSE_PASSWORD_DIGEST) == 0) {
        env->cred.kind = STS_CRED_PASSWORD_DIGEST;
        STS_FAIL_IF(nonce == NULL || created == NULL, err, STS_E_AUTH_FAILED,
                    "PasswordDigest without Nonce or Created");
        enc = xmlGetNoNsProp(nonce, BAD_CAST "EncodingType");
        STS_FAIL_IF(enc != NULL && strcmp((const char *)enc, STS_WSSE_BASE64) != 0, err,
                    STS_E_AUTH_FAILED, "Nonce EncodingType not Base64Binary");
        env->cred.nonce = node_text(nonce);
        env->cred.created = node_text(created);
    } else {
        rc = STS_ERR(err, STS_E_AUTH_FAILED, "unsupported Password Type");
        goto cleanup;
    }
    env->have_cred = 1;
cleanup:
    xmlFree(type);
    xmlFree(enc);
    return rc;
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
        } else if (sts_xml_is(c, STS_NS_WSSE, "UsernameToken")) {
            if (++nut > 1)
                return STS_ERR(err, STS_E_AUTH_FAILED, "more than one UsernameToken");
            if ((rc = read_username_token(c, env, err)) != STS_OK)
                return rc;
        } else {
            /* Signatures, binary and SAML tokens come with X.509 requester
             * authentication (issue #4); until then they are refused rather
             * than silently ignored. */
            return STS_ERR(err, STS_E_AUTH_FAILED, "unsupported wsse:Security child %s",
                           (const char *)c->name);
        }
    }
    return STS_OK;
}

/* RST children that may appear at most once. */
static const struct {
    const char *ns, *name;
} rst_singletons[] = {
    {STS_NS_WST13, "TokenType"},      {STS_NS_WST13, "RequestType"},
    {STS_NS_WSP, "AppliesTo"},        {STS_NS_WST13, "Lifetime"},
    {STS_NS_WST13, "KeyType"},        {STS_NS_WST13, "ValidateTarget"},
    {STS_NS_WST13, "RenewTarget"},    {STS_NS_WST13, "CancelTarget"},
    {STS_NS_WST13, "OnBehalfOf"},     {STS_NS_WST13, "Claims"},
};

sts_errc_t sts_soap_envelope_read(sts_soap_conn_t *conn, sts_soap_envelope_t *env,
                                  sts_err_t *err)
{
    const sts_cfg_t *cfg = conn->cfg;
    sts_xml_limits_t limits = {cfg->max_xml_depth, cfg->max_xml_string, cfg->max_message_size};
    xmlNodePtr root, header = NULL, body = NULL, sec = NULL;
    const char *soapns;
    sts_errc_t rc;
    int dup = 0;

    memset(env, 0, sizeof(*env));
    if (conn->doc != NULL) { /* parsed ahead, before gSOAP read the body */
        env->doc = conn->doc;
        conn->doc = NULL;
    } else {
        if (conn->raw_overflow)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "message larger than the capture limit");
        if ((rc = sts_xml_parse(conn->raw, conn->raw_len, &limits, &env->doc, err)) != STS_OK)
            return rc;
    }
    root = xmlDocGetRootElement(env->doc);
    if (sts_xml_is(root, STS_NS_SOAP11, "Envelope"))
        soapns = STS_NS_SOAP11;
    else if (sts_xml_is(root, STS_NS_SOAP12, "Envelope"))
        soapns = STS_NS_SOAP12;
    else
        return STS_ERR(err, STS_E_INVALID_REQUEST, "not a SOAP envelope");
    header = only_child(root, soapns, "Header", &dup);
    body = only_child(root, soapns, "Body", &dup);
    if (dup || body == NULL || sts_xml_count_elems(body) != 1)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "envelope needs one Header and one Body child");
    env->rst = sts_xml_first_elem(body);
    if (!sts_xml_is(env->rst, STS_NS_WST13, "RequestSecurityToken"))
        return STS_ERR(err, STS_E_INVALID_REQUEST, "Body does not hold a WS-Trust 1.3 RST");
    /* gSOAP keeps one of repeated elements: refuse what the two parsers could read apart. */
    for (size_t i = 0; i < sizeof(rst_singletons) / sizeof(rst_singletons[0]); i++) {
        only_child(env->rst, rst_singletons[i].ns, rst_singletons[i].name, &dup);
        if (dup)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "RST element %s repeated",
                           rst_singletons[i].name);
    }
    if (header != NULL)
        sec = only_child(header, STS_NS_WSSE, "Security", &dup);
    if (dup)
        return STS_ERR(err, STS_E_AUTH_FAILED, "more than one wsse:Security header");
    if (sec != NULL)
        return read_security(sec, env, err);
    return STS_OK;
}

void sts_soap_envelope_free(sts_soap_envelope_t *env)
{
    if (env->doc != NULL)
        xmlFreeDoc(env->doc);
    memset(env, 0, sizeof(*env));
}

sts_errc_t sts_soap_envelope_target(const sts_soap_envelope_t *env, const char *target_name,
                                    xmlNodePtr *out, sts_err_t *err)
{
    int dup = 0;
    xmlNodePtr target = only_child(env->rst, STS_NS_WST13, target_name, &dup);

    *out = NULL;
    if (target == NULL || dup)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "wst:%s missing or repeated", target_name);
    if (sts_xml_count_elems(target) != 1)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "wst:%s must hold exactly one token",
                       target_name);
    *out = sts_xml_first_elem(target);
    return STS_OK;
}
