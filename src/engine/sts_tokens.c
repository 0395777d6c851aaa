/*
 * sts_tokens.c - presented tokens in, JWTs out.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every token either face presents passes through sts_vtoken_read(): a SAML
 * 2.0 or SAML 1.1 assertion (an element of the request, or base64url text
 * from the REST face, parsed here with the hardened parser, its version
 * told by its element) or a compact JWT. What comes
 * out is read only from what was verified. Our own tokens must also have a
 * row in the store; a trusted issuer's JWT must name us in "aud".
 */
#include "sts_engine_int.h"

#include "sts_jwt.h"
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_saml.h"
#include "sts_time.h"
#include "sts_xml.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static int str_eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

void sts_vtoken_clear(sts_vtoken_t *t)
{
    sts_token_view_free(t->view);
    sts_token_rec_free(t->rec);
    json_decref(t->claims);
    if (t->doc != NULL)
        xmlFreeDoc(t->doc);
    memset(t, 0, sizeof(*t));
}

/* ---- views ------------------------------------------------------------------ */

static sts_token_view_t *view_new(void) { return calloc(1, sizeof(sts_token_view_t)); }

static int dup_into(char **dst, const char *src)
{
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

static sts_errc_t view_of_saml(const sts_saml_info_t *info, const sts_token_rec_t *rec,
                               const char *token_type, sts_token_view_t **out, sts_err_t *err)
{
    sts_token_view_t *v = view_new();
    int bad = v == NULL;

    if (!bad) {
        v->token_type = token_type;
        bad |= dup_into(&v->id, info->id) | dup_into(&v->issuer, info->issuer) |
               dup_into(&v->subject, info->subject);
        v->audiences = calloc(info->naudiences ? info->naudiences : 1, sizeof(char *));
        bad |= v->audiences == NULL;
        for (size_t i = 0; !bad && i < info->naudiences; i++, v->naudiences++)
            bad |= dup_into(&v->audiences[i], info->audiences[i]);
        if (!bad && rec->requester_kind == STS_REQUESTER_CLIENT)
            bad |= dup_into(&v->client_id, rec->requester);
        /* The DelegationRestriction chain is the "act" chain: [0] the current actor. */
        if (!bad && info->ndelegates > 0) {
            v->actors = calloc(info->ndelegates, sizeof(char *));
            bad |= v->actors == NULL;
            for (size_t i = 0; !bad && i < info->ndelegates; i++, v->nactors++)
                bad |= dup_into(&v->actors[i], info->delegates[i]);
        }
        v->holder_of_key = info->holder_of_key;
        v->issued_at = info->issue_instant;
        v->not_before = info->not_before;
        v->expires = info->not_on_or_after;
    }
    if (bad) {
        sts_token_view_free(v);
        return STS_ERR(err, STS_E_NOMEM, "token view");
    }
    *out = v;
    return STS_OK;
}

static const char *claim_str(json_t *claims, const char *name)
{
    return json_string_value(json_object_get(claims, name));
}

/* NumericDate (RFC 7519 sec. 2) as a JSON integer; 0 when absent, -1 when
 * not an integer or out of range. RFC 7519 also allows a fraction; we refuse
 * a JSON real (1.9e9, 1900000000.5): every issuer we know writes integers,
 * and an integer has one reading. */
static time_t claim_time(json_t *claims, const char *name)
{
    json_t *j = json_object_get(claims, name);
    json_int_t d;

    if (j == NULL)
        return 0;
    if (!json_is_integer(j))
        return -1;
    d = json_integer_value(j);
    if (d < 1 || d > 253402300799LL) /* 9999-12-31 */
        return -1;
    return (time_t)d;
}

/* Reads the claims every JWT we accept must carry, in the right JSON types.
 * Returns NULL when fine, else a static reason. */
static const char *jwt_claims_check(json_t *c)
{
    json_t *aud = json_object_get(c, "aud"), *act;
    int depth = 0;

    static const char *const bounded[] = {"iss", "sub", "jti", "client_id", "scope", NULL};

    if (claim_str(c, "iss") == NULL || claim_str(c, "sub") == NULL)
        return "iss or sub missing or not a string";
    if (claim_str(c, "sub")[0] == '\0')
        return "sub empty";
    for (const char *const *n = bounded; *n; n++)
        if (claim_str(c, *n) != NULL && strlen(claim_str(c, *n)) > STS_CLAIM_MAX)
            return "a claim is too long";
    if (claim_time(c, "exp") <= 0)
        return "exp missing or malformed";
    if (claim_time(c, "iat") < 0 || claim_time(c, "nbf") < 0)
        return "iat or nbf malformed";
    if (aud != NULL && !json_is_string(aud)) {
        size_t i;
        json_t *a;
        if (!json_is_array(aud) || json_array_size(aud) == 0)
            return "aud neither a string nor a non-empty array";
        json_array_foreach (aud, i, a)
            if (!json_is_string(a) || strlen(json_string_value(a)) > STS_CLAIM_MAX)
                return "aud holds a non-string or a too long one";
    } else if (aud != NULL && strlen(json_string_value(aud)) > STS_CLAIM_MAX) {
        return "aud too long";
    }
    if (json_object_get(c, "scope") != NULL && claim_str(c, "scope") == NULL)
        return "scope not a string";
    if (json_object_get(c, "client_id") != NULL && claim_str(c, "client_id") == NULL)
        return "client_id not a string";
    if (json_object_get(c, "jti") != NULL && claim_str(c, "jti") == NULL)
        return "jti not a string";
    for (act = json_object_get(c, "act"); act != NULL; act = json_object_get(act, "act")) {
        if (!json_is_object(act) || claim_str(act, "sub") == NULL ||
            strlen(claim_str(act, "sub")) > STS_CLAIM_MAX)
            return "act without a string sub, or too long";
        if (++depth > STS_ACT_MAX_DEPTH)
            return "act chain too deep";
    }
    act = json_object_get(c, "may_act");
    if (act != NULL && (!json_is_object(act) || claim_str(act, "sub") == NULL))
        return "may_act without a string sub";
    return NULL;
}

static int aud_has(json_t *claims, const char *want)
{
    json_t *aud = json_object_get(claims, "aud"), *a;
    size_t i;

    if (json_is_string(aud))
        return str_eq(json_string_value(aud), want);
    json_array_foreach (aud, i, a)
        if (str_eq(json_string_value(a), want))
            return 1;
    return 0;
}

static sts_errc_t view_of_jwt(json_t *c, const char *token_type, sts_token_view_t **out,
                              sts_err_t *err)
{
    sts_token_view_t *v = view_new();
    json_t *aud = json_object_get(c, "aud"), *a, *act;
    size_t i, n = json_is_array(aud) ? json_array_size(aud) : aud != NULL;
    int bad = v == NULL;

    if (!bad) {
        v->token_type = token_type;
        bad |= dup_into(&v->id, claim_str(c, "jti")) | dup_into(&v->issuer, claim_str(c, "iss")) |
               dup_into(&v->subject, claim_str(c, "sub")) |
               dup_into(&v->scope, claim_str(c, "scope")) |
               dup_into(&v->client_id, claim_str(c, "client_id"));
        v->audiences = calloc(n ? n : 1, sizeof(char *));
        bad |= v->audiences == NULL;
        if (!bad && json_is_string(aud))
            bad |= dup_into(&v->audiences[v->naudiences++], json_string_value(aud));
        else if (!bad)
            json_array_foreach (aud, i, a)
                bad |= dup_into(&v->audiences[v->naudiences++], json_string_value(a));
        v->actors = calloc(STS_ACT_MAX_DEPTH, sizeof(char *));
        bad |= v->actors == NULL;
        for (act = json_object_get(c, "act"); !bad && act != NULL && v->nactors < STS_ACT_MAX_DEPTH;
             act = json_object_get(act, "act"))
            bad |= dup_into(&v->actors[v->nactors++], claim_str(act, "sub"));
        if (!bad)
            bad |= dup_into(&v->may_act, claim_str(json_object_get(c, "may_act"), "sub"));
        v->issued_at = claim_time(c, "iat");
        v->not_before = claim_time(c, "nbf");
        v->expires = claim_time(c, "exp");
    }
    if (bad) {
        sts_token_view_free(v);
        return STS_ERR(err, STS_E_NOMEM, "token view");
    }
    *out = v;
    return STS_OK;
}

/* ---- reading ---------------------------------------------------------------- */

#define REFUSE(reason)                                                                             \
    do {                                                                                           \
        *why = (reason);                                                                           \
        rc = STS_ERR(err, STS_E_INVALID_TOKEN, "%s", (reason));                                    \
        goto cleanup;                                                                              \
    } while (0)

/* Our row for @id, which must exist and be of @kind. */
static sts_errc_t read_row(sts_engine_t *e, const char *id, int kind, sts_vtoken_t *out,
                           const char **why, sts_err_t *err)
{
    sts_errc_t rc;

    if ((rc = sts_store_get(e->store, id, &out->rec, err)) != STS_OK) {
        *why = "token store unavailable";
        return rc;
    }
    if (out->rec == NULL) {
        *why = "token unknown to this STS";
        return STS_ERR(err, STS_E_INVALID_TOKEN, "token %s not in store", id);
    }
    if (out->rec->kind != kind) {
        *why = "token kind does not match its record";
        return STS_ERR(err, STS_E_INVALID_TOKEN, "token %s stored as kind %d, read as %d", id,
                       out->rec->kind, kind);
    }
    return STS_OK;
}

/* Whether @node is a SAML 1.x assertion (else it is read as SAML 2.0). */
static int is_saml11(const xmlNode *node) { return sts_xml_is(node, STS_NS_SAML1, "Assertion"); }

/* SAML core 2.0 sec. 2.2.5: an assertion's Issuer names an entity; its
 * Format, when present, must say so. Another Format (a persistent NameID, an
 * email address...) names something else, even when the text is our issuer.
 * The sts_saml2_verify() profile put Issuer first. */
#define STS_SAML2_NAMEID_ENTITY "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"

static int issuer_is_entity(xmlNodePtr assertion)
{
    xmlChar *format = xmlGetNoNsProp(sts_xml_first_elem(assertion), BAD_CAST "Format");
    int ok = format == NULL || strcmp((const char *)format, STS_SAML2_NAMEID_ENTITY) == 0;

    xmlFree(format);
    return ok;
}

/*
 * Keys of the verified-token cache for SAML (sts_vcache.h). Each is a SHA-256
 * over a tag that keeps the forms apart (and apart from a JWT's key, the
 * plain SHA-256 of its text) and everything the verifier's verdict and facts
 * depended on:
 *
 *  - an assertion the REST face sent as text: the exact decoded bytes. The
 *    engine parses them itself, as a document of their own, so the bytes are
 *    all there is (a hit skips the parse too).
 *  - an element of a request the SOAP face parsed (the engine gets a libxml2
 *    node inside the envelope, never the raw bytes): the element as libxml2
 *    serialises it (xmlNodeDump, no formatting: a function of the parsed
 *    subtree that keeps every element, attribute, namespace declaration,
 *    prefix, text, CDATA and comment apart), preceded by every namespace
 *    declaration of every ancestor, nearest first. Those are what the element
 *    inherits: exc-c14n renders the ones it uses visibly, and the reader
 *    resolves the prefix inside an xsi:type value against them. Ancestors'
 *    xml:* attributes are not inherited by exc-c14n (the only c14n the
 *    verifier accepts) and no fact is read from them.
 *
 * The verifier also refuses a document in which another element carries the
 * assertion's ID (a wrapping attack's shape, whichever copy is the target).
 * That is a property of the whole envelope, not of the element: a hit checks
 * it again (sts_saml_id_unique()), with the verifier's rule.
 */
#define VC_TAG_BYTES "sts vcache: SAML bytes\n"
#define VC_TAG_NODE "sts vcache: SAML element\n"

/* Returns 0 with @md, or -1 (do not use the cache). */
static int saml_bytes_digest(const unsigned char *xml, size_t len, unsigned char *md)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, VC_TAG_BYTES, sizeof(VC_TAG_BYTES) - 1) == 1 &&
             EVP_DigestUpdate(c, xml, len) == 1 && EVP_DigestFinal_ex(c, md, NULL) == 1;

    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* Returns 0 with @md, or -1 (allocation failure: do not use the cache). */
static int saml_node_digest(xmlNodePtr node, int kind, unsigned char *md)
{
    xmlBufferPtr buf = xmlBufferCreateSize(8192);
    int rc = -1;

    if (buf == NULL)
        return -1;
    /* Self-delimiting: 'E' opens an ancestor, 'N' prefix NUL href NUL or
     * 'D' href NUL a declaration (neither string can hold a NUL), 'X' ends. */
    if (xmlBufferCCat(buf, VC_TAG_NODE) != 0 ||
        xmlBufferCCat(buf, kind == STS_KIND_SAML11 ? "1.1\n" : "2.0\n") != 0)
        goto done;
    for (xmlNodePtr p = node->parent; p != NULL && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (xmlBufferCCat(buf, "E") != 0)
            goto done;
        for (xmlNsPtr ns = p->nsDef; ns != NULL; ns = ns->next)
            if ((ns->prefix != NULL
                     ? xmlBufferCCat(buf, "N") || xmlBufferCat(buf, ns->prefix) ||
                           xmlBufferAdd(buf, BAD_CAST "", 1)
                     : xmlBufferCCat(buf, "D")) ||
                xmlBufferCat(buf, ns->href != NULL ? ns->href : BAD_CAST "") ||
                xmlBufferAdd(buf, BAD_CAST "", 1))
                goto done;
    }
    if (xmlBufferCCat(buf, "X") != 0 || xmlNodeDump(buf, node->doc, node, 0, 0) < 0)
        goto done;
    SHA256(xmlBufferContent(buf), (size_t)xmlBufferLength(buf), md);
    rc = 0;
done:
    xmlBufferFree(buf);
    return rc;
}

/* The facts of an assertion of ours, verified now or before: our issuer (an
 * entity), a store row of its kind (read every time: revocation and
 * renewal), a view. @node: the element, or NULL for a text hit. */
static sts_errc_t saml_ours(sts_engine_t *e, xmlNodePtr node, const sts_saml_info_t *info,
                            int kind, sts_vtoken_t *out, const char **why, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;

    if (!str_eq(info->issuer, e->cfg->issuer))
        REFUSE("not issued by this STS");
    /* @node NULL: a text hit, whose very bytes passed this when they were put */
    if (kind == STS_KIND_SAML2 && node != NULL && !issuer_is_entity(node))
        REFUSE("Issuer Format is not entity");
    out->kind = kind;
    out->ours = 1;
    STS_CHECK(read_row(e, info->id, kind, out, why, err));
    STS_CHECK(view_of_saml(info, out->rec, kind == STS_KIND_SAML11 ? STS_TT_SAML1 : STS_TT_SAML2,
                           &out->view, err));
cleanup:
    return rc;
}

/* An assertion of ours: SAML 2.0, or SAML 1.1 when @kind is STS_KIND_SAML11.
 * @md: when it came as text, its cache key (saml_bytes_digest()), which the
 * caller looked up and missed; else NULL: an element of a request, whose key
 * (saml_node_digest()) is computed and looked up here. */
static sts_errc_t read_saml(sts_engine_t *e, xmlNodePtr node, int kind, const unsigned char *md,
                            sts_vtoken_t *out, const char **why, sts_err_t *err)
{
    sts_saml_info_t *info = NULL;
    unsigned char own[STS_VCACHE_DIGEST];
    time_t now = sts_time_now();
    int cached = 0, ckind = 0;
    sts_errc_t rc;

    if (md == NULL && saml_node_digest(node, kind, own) == 0) {
        md = own;
        if (sts_vcache_get_saml(e->verified, md, now, &ckind, &info)) {
            /* the kind is in the key; the ID must still be unique in this
             * request (else the full check below refuses the envelope) */
            cached = ckind == kind && sts_saml_id_unique(node, kind == STS_KIND_SAML2, info->id);
            if (!cached) {
                sts_saml_info_free(info);
                info = NULL;
            }
        }
    }
    rc = cached ? STS_OK
         : kind == STS_KIND_SAML11 ? sts_saml11_verify(e->keys[0], node, &info, err)
                                   : sts_saml2_verify(e->keys[0], node, &info, err);
    if (rc != STS_OK) {
        *why = "signature or structure invalid";
        goto cleanup; /* @err says why */
    }
    STS_CHECK(saml_ours(e, node, info, kind, out, why, err));
    /* Only an assertion that passed every check above may be remembered. */
    if (!cached && md != NULL)
        sts_vcache_put_saml(e->verified, md, kind, info, now);
cleanup:
    sts_saml_info_free(info);
    return rc;
}

/* An assertion that came as text (@xml, @len decoded bytes) and verified
 * before: its version and a view, without parsing it again. @declared: the
 * type the presenter named, or NULL. Returns 1 with @out (or with a refusal
 * in *rc), 0 when the cache does not hold it. */
static int saml_text_cached(sts_engine_t *e, const unsigned char *md, const char *declared,
                            sts_vtoken_t *out, const char **why, sts_err_t *err,
                            sts_errc_t *rc_out)
{
    sts_saml_info_t *info = NULL;
    sts_errc_t rc = STS_OK;
    int kind = 0;

    if (!sts_vcache_get_saml(e->verified, md, sts_time_now(), &kind, &info))
        return 0;
    if (declared != NULL && (kind == STS_KIND_SAML11) != (strcmp(declared, STS_TT_SAML1) == 0))
        REFUSE("declared token type does not match the token");
    STS_CHECK(saml_ours(e, NULL, info, kind, out, why, err));
cleanup:
    sts_saml_info_free(info);
    *rc_out = rc;
    return 1;
}

/* A JWT of ours, or of a trusted issuer. @declared: the type the presenter
 * named (NULL: any). */
static sts_errc_t read_jwt(sts_engine_t *e, const char *text, size_t len, const char *declared,
                           sts_vtoken_t *out, const char **why, sts_err_t *err)
{
    json_t *hdr = NULL, *claims = NULL;
    const char *typ, *tt, *bad;
    sts_errc_t rc;
    size_t i;
    sts_err_t ignored;
    unsigned char md[SHA256_DIGEST_LENGTH];
    time_t now = sts_time_now();
    int cached;

    /* These very bytes verified before (and passed everything below): skip
     * the signature check only; the rest runs as for a new token. */
    SHA256((const unsigned char *)text, len, md);
    cached = sts_vcache_get(e->verified, md, now, &hdr, &claims);
    rc = cached ? STS_OK : sts_jwt_verify(e->keys, e->nkeys, text, len, &hdr, &claims, err);
    if (rc == STS_OK) {
        typ = json_string_value(json_object_get(hdr, "typ"));
        if ((bad = jwt_claims_check(claims)) != NULL)
            REFUSE(bad);
        if (!str_eq(claim_str(claims, "iss"), e->cfg->issuer))
            REFUSE("not issued by this STS");
        if (claim_str(claims, "jti") == NULL)
            REFUSE("jti missing");
        if (str_eq(typ, STS_TYP_REFRESH)) {
            out->kind = STS_KIND_REFRESH;
            tt = STS_TT_REFRESH_TOKEN;
        } else if (str_eq(typ, STS_TYP_ACCESS)) {
            out->kind = STS_KIND_JWT;
            tt = STS_TT_ACCESS_TOKEN;
        } else if (str_eq(typ, STS_TYP_JWT)) {
            out->kind = STS_KIND_JWT;
            tt = STS_TT_JWT;
        } else {
            REFUSE("typ not one we issue");
        }
        /* A refresh token is only ever a refresh token, and an access token
         * is only what was declared as one (or as a JWT). */
        if (declared != NULL &&
            (out->kind == STS_KIND_REFRESH) != (strcmp(declared, STS_TT_REFRESH_TOKEN) == 0))
            REFUSE("declared token type does not match the token");
        if (declared != NULL && strcmp(declared, STS_TT_ACCESS_TOKEN) == 0 &&
            strcmp(tt, STS_TT_ACCESS_TOKEN) != 0)
            REFUSE("declared an access token, presented another JWT");
        out->ours = 1;
        /* The store row is read every time: it holds the revocation state. */
        STS_CHECK(read_row(e, claim_str(claims, "jti"), out->kind, out, why, err));
        /* The very bytes we issued: an ES256 signature also verifies as
         * (r, n - s), a different token that must not pass for ours. */
        if (CRYPTO_memcmp(md, out->rec->hash, sizeof(md)) != 0)
            REFUSE("not the bytes this STS issued");
        STS_CHECK(view_of_jwt(claims, tt, &out->view, err));
        /* Only a token that passed every check above may be remembered. */
        if (!cached)
            sts_vcache_put(e->verified, md, hdr, claims, claim_time(claims, "exp"), now);
        out->claims = claims;
        claims = NULL;
        goto cleanup;
    }
    if (rc != STS_E_INVALID_TOKEN) {
        *why = "server error";
        goto cleanup;
    }
    /* Not ours: a trusted issuer's, verified by its key alone. */
    for (i = 0; i < e->ntrusted; i++) {
        if (sts_jwt_verify(&e->trusted[i], 1, text, len, NULL, &claims, &ignored) != STS_OK)
            continue;
        if ((bad = jwt_claims_check(claims)) != NULL)
            REFUSE(bad);
        if (!str_eq(claim_str(claims, "iss"), e->cfg->trusted_issuers[i].issuer))
            REFUSE("iss is not the trusted issuer whose key signed it");
        if (!aud_has(claims, e->cfg->issuer))
            REFUSE("trusted issuer's token not addressed to this STS");
        /* An OpenID Connect ID token (OIDC Core 2, 3.1.3.6) authenticates a
         * user to a client; it is not a grant to exchange, whatever type is
         * declared (RFC 8725 3.11, 3.12). */
        if (json_object_get(claims, "nonce") != NULL ||
            json_object_get(claims, "at_hash") != NULL || json_object_get(claims, "c_hash") != NULL)
            REFUSE("an ID token (nonce, at_hash or c_hash) is not exchanged");
        if (declared != NULL && strcmp(declared, STS_TT_REFRESH_TOKEN) == 0)
            REFUSE("another issuer's token is not our refresh token");
        out->kind = STS_KIND_JWT;
        out->ours = 0;
        STS_CHECK(view_of_jwt(claims, STS_TT_JWT, &out->view, err));
        out->claims = claims;
        claims = NULL;
        rc = STS_OK;
        goto cleanup;
    }
    *why = "signature or structure invalid"; /* @err: why our keys refused it */
    rc = STS_E_INVALID_TOKEN;
cleanup:
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

/* Decode base64url XML (RFC 8693 sec. 3) and read it: from the cache when
 * these bytes verified before, else parsed with the hardened parser and
 * verified. @declared: the type named (STS_TT_SAML2/1), or NULL to read the
 * version its element says. */
static sts_errc_t read_saml_text(sts_engine_t *e, const sts_token_in_t *in, const char *declared,
                                 sts_vtoken_t *out, const char **why, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    sts_xml_limits_t limits = {cfg->max_xml_depth, cfg->max_xml_string, cfg->max_message_size};
    unsigned char *xml = NULL, digest[STS_VCACHE_DIGEST], *md = NULL;
    size_t xml_len = 0;
    sts_errc_t rc = STS_OK;
    xmlNodePtr node;
    int r = sts_b64url_decode(in->text, in->text_len, &xml, &xml_len);

    if (r == -2)
        return STS_ERR(err, STS_E_NOMEM, "base64url decode");
    if (r != 0 || xml_len == 0)
        REFUSE("not base64url");
    if (saml_bytes_digest(xml, xml_len, digest) == 0)
        md = digest;
    if (md != NULL && saml_text_cached(e, md, declared, out, why, err, &rc))
        goto cleanup;
    if (sts_xml_parse((const char *)xml, xml_len, &limits, &out->doc, err) != STS_OK)
        REFUSE("not a well-formed XML token");
    /* Undeclared XML is read as the version its element says; a declared
     * type must be the version the element is (else the verify refuses). */
    node = xmlDocGetRootElement(out->doc);
    if (declared == NULL)
        declared = is_saml11(node) ? STS_TT_SAML1 : STS_TT_SAML2;
    else if (is_saml11(node) != (strcmp(declared, STS_TT_SAML1) == 0))
        REFUSE("declared token type does not match the token");
    STS_CHECK(read_saml(e, node,
                        strcmp(declared, STS_TT_SAML1) == 0 ? STS_KIND_SAML11 : STS_KIND_SAML2, md,
                        out, why, err));
cleanup:
    free(xml);
    return rc;
}

sts_errc_t sts_vtoken_read(sts_engine_t *e, const sts_token_in_t *in, sts_vtoken_t *out,
                           const char **why, sts_err_t *err)
{
    const char *type = in ? in->type : NULL;
    sts_errc_t rc = STS_OK;
    size_t dots = 0;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (in == NULL || (in->node == NULL && (in->text == NULL || in->text_len == 0)))
        REFUSE("no token");
    if (in->node != NULL) {
        STS_CHECK(read_saml(e, in->node, is_saml11(in->node) ? STS_KIND_SAML11 : STS_KIND_SAML2,
                            NULL, out, why, err));
        goto cleanup;
    }
    if (in->text_len > STS_JWT_MAX_LEN * 8)
        REFUSE("token too long");
    for (size_t i = 0; i < in->text_len; i++)
        dots += in->text[i] == '.';
    if (type == NULL && dots == 2)
        type = STS_TT_JWT;
    if (type == NULL || strcmp(type, STS_TT_SAML2) == 0 || strcmp(type, STS_TT_SAML1) == 0) {
        STS_CHECK(read_saml_text(e, in, type, out, why, err));
    } else if (strcmp(type, STS_TT_JWT) == 0 || strcmp(type, STS_TT_ACCESS_TOKEN) == 0 ||
               strcmp(type, STS_TT_REFRESH_TOKEN) == 0) {
        STS_CHECK(read_jwt(e, in->text, in->text_len, in->type, out, why, err));
    } else if (strcmp(type, STS_TT_ID_TOKEN) == 0) {
        REFUSE("token type not supported yet");
    } else {
        REFUSE("unknown token type");
    }
cleanup:
    if (rc != STS_OK)
        sts_vtoken_clear(out);
    return rc;
}

const char *sts_vtoken_unusable(const sts_engine_t *e, const sts_vtoken_t *t, time_t now)
{
    /* Our own times come from our clock: no skew for them. */
    long skew = t->ours ? 0 : e->cfg->clock_skew;

    if (t->rec != NULL && t->rec->state == STS_TOKEN_CANCELLED)
        return "token cancelled";
    if (t->rec != NULL && t->rec->state == STS_TOKEN_RENEWED)
        return "token renewed: its successor replaces it";
    if (t->view->expires == 0 || now >= t->view->expires + skew)
        return "token expired";
    if (t->view->not_before != 0 && now < t->view->not_before - skew)
        return "token not yet valid";
    if (t->view->issued_at != 0 && t->view->issued_at > now + skew)
        return "token issued in the future";
    return NULL;
}

int sts_engine_may_manage(const sts_principal_t *who, const sts_token_rec_t *rec)
{
    int kind = rec->requester_kind ? rec->requester_kind : STS_REQUESTER_USER;

    if (who == NULL)
        return 0;
    if (who->client != NULL)
        return kind == STS_REQUESTER_CLIENT && str_eq(rec->requester, who->client->client_id);
    if (who->user != NULL)
        return (kind == STS_REQUESTER_USER && str_eq(rec->requester, who->user->name)) ||
               (rec->subject_issuer == NULL && str_eq(rec->subject, who->user->name));
    return 0;
}

/* ---- minting ---------------------------------------------------------------- */

sts_keys_t *sts_engine_key_for(const sts_engine_t *e, const char *alg)
{
    if (alg == NULL)
        return e->keys[0];
    for (size_t i = 0; i < e->nkeys; i++)
        if (sts_keys_is_ec(e->keys[i]) == (strcmp(alg, "ES256") == 0))
            return e->keys[i];
    return NULL;
}

const char *sts_engine_alg_of(const sts_cfg_t *cfg, const sts_cfg_client_t *client,
                              const char *audience)
{
    const sts_cfg_rp_t *rp = audience ? sts_cfg_find_rp(cfg, audience) : NULL;

    if (client != NULL && client->signing_alg != NULL)
        return client->signing_alg;
    return rp != NULL ? rp->signing_alg : NULL;
}

void sts_issued_row(const sts_issued_t *is, int kind, const sts_row_origin_t *o,
                    sts_token_rec_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->id = is->id;
    rec->kind = kind;
    rec->subject = (char *)o->subject;
    rec->audience = is->applies_to;
    rec->requester = (char *)o->requester;
    rec->requester_kind = o->requester_kind;
    rec->parent = (char *)o->parent;
    rec->subject_issuer = (char *)o->subject_issuer;
    rec->bound = o->bound;
    rec->issued_at = is->created;
    rec->expires_at = is->expires;
    rec->state = STS_TOKEN_ACTIVE;
    rec->renew = STS_RENEW_ALLOW;
    SHA256((const unsigned char *)is->token, is->token_len, rec->hash);
}

/* "_" + 32 hex digits of fresh randomness, like our SAML IDs. */
static int new_jti(char out[34])
{
    unsigned char r[16];
    static const char hex[] = "0123456789abcdef";

    if (RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    out[0] = '_';
    for (size_t i = 0; i < sizeof(r); i++) {
        out[1 + 2 * i] = hex[r[i] >> 4];
        out[2 + 2 * i] = hex[r[i] & 15];
    }
    out[33] = '\0';
    return 0;
}

sts_errc_t sts_mint_jwt(sts_engine_t *e, const sts_jwt_params_t *p, sts_issued_t **out,
                        sts_token_rec_t *rec, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_issued_t *is = NULL;
    json_t *c = NULL, *aud = NULL;
    sts_keys_t *key = sts_engine_key_for(e, p->signing_alg);
    char jti[34];
    int bad;

    *out = NULL;
    STS_FAIL_IF(key == NULL, err, STS_E_CONFIG, "no %s signing key", p->signing_alg);
    STS_FAIL_IF(p->naudiences == 0, err, STS_E_INTERNAL, "JWT without audience");
    STS_FAIL_IF(new_jti(jti) != 0, err, STS_E_CRYPTO, "RAND_bytes");
    c = json_object();
    aud = p->naudiences == 1 ? json_string(p->audiences[0]) : json_array();
    STS_FAIL_IF(c == NULL || aud == NULL, err, STS_E_NOMEM, "JWT claims");
    bad = 0;
    for (size_t i = 0; p->naudiences > 1 && i < p->naudiences; i++)
        bad |= json_array_append_new(aud, json_string(p->audiences[i]));
    bad |= json_object_set_new(c, "iss", json_string(e->cfg->issuer));
    bad |= json_object_set_new(c, "sub", json_string(p->origin.subject));
    /* Another issuer's subject: say whose (RFC 9493 iss_sub subject identifier),
     * so that it is never taken for our user of the same name. */
    if (p->origin.subject_issuer != NULL)
        bad |= json_object_set_new(c, "sub_id",
                                   json_pack("{s:s, s:s, s:s}", "format", "iss_sub", "iss",
                                             p->origin.subject_issuer, "sub",
                                             p->origin.subject));
    bad |= json_object_set(c, "aud", aud);
    bad |= json_object_set_new(c, "exp", json_integer((json_int_t)p->expires));
    bad |= json_object_set_new(c, "iat", json_integer((json_int_t)p->now));
    bad |= json_object_set_new(c, "nbf",
                               json_integer((json_int_t)(p->not_before ? p->not_before : p->now)));
    bad |= json_object_set_new(c, "jti", json_string(jti));
    if (p->client_id != NULL)
        bad |= json_object_set_new(c, "client_id", json_string(p->client_id));
    if (p->scope != NULL)
        bad |= json_object_set_new(c, "scope", json_string(p->scope));
    if (p->act != NULL)
        bad |= json_object_set_new(c, "act", json_deep_copy(p->act));
    if (p->targets != NULL)
        bad |= json_object_set_new(c, "sts_targets", json_deep_copy(p->targets));
    STS_FAIL_IF(bad, err, STS_E_NOMEM, "JWT claims");

    is = calloc(1, sizeof(*is));
    STS_FAIL_IF(is == NULL, err, STS_E_NOMEM, "issued token");
    STS_CHECK(sts_jwt_sign(key, p->typ, c, &is->token, err));
    is->token_len = strlen(is->token);
    is->id = strdup(jti);
    is->applies_to = strdup(p->audiences[0]);
    is->scope = p->scope ? strdup(p->scope) : NULL;
    STS_FAIL_IF(is->id == NULL || is->applies_to == NULL || (p->scope && is->scope == NULL), err,
                STS_E_NOMEM, "issued token");
    is->token_type = p->token_type;
    is->key_type = STS_WST13_BEARER;
    is->created = p->now;
    is->expires = p->expires;

    sts_issued_row(is, p->kind, &p->origin, rec);
    *out = is;
    is = NULL;
cleanup:
    sts_issued_free(is);
    json_decref(aud);
    json_decref(c);
    return rc;
}
