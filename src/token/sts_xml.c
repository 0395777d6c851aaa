/*
 * sts_xml.c - the one hardened way untrusted XML becomes a libxml2 tree.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Owns libxml2's process-wide hardening and the bounded parse of untrusted
 * input. It does NOT know SAML, SOAP or signatures (sts_saml.c, sts_soap_*.c).
 * Defence in three layers: a linear pre-scan of the raw bytes refuses what
 * libxml2 would handle too slowly or too differently from gSOAP (too many
 * attributes in one tag, a DOCTYPE, a PI, anything but UTF-8); SAX hooks stop
 * the parser at the first DOCTYPE, PI, entity reference or over-deep element
 * (so a DTD is never processed); then a full iterative walk of the tree
 * re-checks every rule before the caller sees it.
 */
#include "sts_xml.h"

#include "sts_log.h"
#include "sts_ns.h"

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include <limits.h>
#include <string.h>
#include <strings.h>


/* NONET and no NOENT/DTDLOAD/DTDATTR/DTDVALID/HUGE/XINCLUDE, ever. IGNORE_ENC:
 * bytes are UTF-8 whatever the declaration says, as gSOAP reads them (the
 * pre-scan refuses a declaration that says otherwise). */
#define STS_XML_PARSE_OPTIONS                                                                      \
    (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC)

/* ------------------------------------------------------------------------ */
/* process-wide hardening                                                   */
/* ------------------------------------------------------------------------ */

/* Refuses every external resource: DTDs, external entities, XInclude, schemas. */
static xmlParserInputPtr refuse_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL;
}

/* libxml2's generic error channel; parse errors are reported through sts_err_t instead. */
static void quiet_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

void sts_xml_init(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_loader);
    /* These globals are per thread in libxml2 2.9: set this thread's and the
     * defaults that new threads copy. */
    xmlLoadExtDtdDefaultValue = 0;
    xmlThrDefLoadExtDtdDefaultValue(0);
    xmlSubstituteEntitiesDefault(0);
    xmlThrDefSubstituteEntitiesDefaultValue(0);
    xmlSetGenericErrorFunc(NULL, quiet_error);
    xmlThrDefSetGenericErrorFunc(NULL, quiet_error);
}

/* ------------------------------------------------------------------------ */
/* pre-scan: linear, before libxml2 sees a byte                             */
/* ------------------------------------------------------------------------ */

/*
 * libxml2 2.9.14 checks each attribute of a start tag against all earlier ones
 * (quadratic: one 1 MB tag with 90,000 attributes costs ~13 s) before any SAX
 * hook runs, so the count has to be bounded on the raw bytes. The scanner's one
 * duty is to see every start tag libxml2 would parse. It does not guess where
 * libxml2 would resume after a lexical error (libxml2 does resume in content
 * after a broken start tag and parses the next one): anything it cannot lex
 * exactly is refused, which only ever refuses documents libxml2 would refuse
 * too. So a '<' is either markup the scanner lexed itself or inside a comment
 * or CDATA section, which both end at the first "-->" / "]]>" for libxml2 too.
 * Names are lexed more loosely than XML's Name production (libxml2 checks
 * them); quotes, '<' and '>' are what decide where a tag ends.
 *
 * Each function takes the cursor *ip, leaves it where it stopped, and returns
 * NULL or a static reason.
 */

#define PRESCAN_MALFORMED "malformed XML"

static int is_space(unsigned char c) { return c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a; }

static int is_name_byte(unsigned char c)
{
    return !is_space(c) && c != '<' && c != '>' && c != '/' && c != '=' && c != '"' && c != '\'';
}

static size_t skip_space(const unsigned char *b, size_t len, size_t *ip)
{
    size_t start = *ip;
    while (*ip < len && is_space(b[*ip]))
        (*ip)++;
    return *ip - start;
}

static size_t skip_name(const unsigned char *b, size_t len, size_t *ip)
{
    size_t start = *ip;
    while (*ip < len && is_name_byte(b[*ip]))
        (*ip)++;
    return *ip - start;
}

static int has_prefix(const unsigned char *b, size_t len, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return len - i >= n && memcmp(b + i, lit, n) == 0;
}

/* Length of the UTF-8 sequence at @p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        if (p[0] == 0xe0)
            lo = 0xa0;
        else if (p[0] == 0xed)
            hi = 0x9f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        if (p[0] == 0xf0)
            lo = 0x90;
        else if (p[0] == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Only UTF-8. libxml2 with XML_PARSE_IGNORE_ENC still switches encoding on a
 * UTF-16/32 byte-order mark and on the UTF-16/UCS-4/EBCDIC signatures of
 * "<?xm", so those never reach it: BOMs by name, UTF-16/32 by their NUL
 * bytes, EBCDIC as invalid UTF-8. Leaves *ip after a UTF-8 BOM. */
static const char *scan_utf8(const unsigned char *b, size_t len, size_t *ip)
{
    size_t n;

    if (len >= 4 && ((b[0] == 0x00 && b[1] == 0x00 && b[2] == 0xfe && b[3] == 0xff) ||
                     (b[0] == 0xff && b[1] == 0xfe && b[2] == 0x00 && b[3] == 0x00)))
        return "only UTF-8 is accepted (UTF-32 byte-order mark)";
    if (len >= 2 && ((b[0] == 0xfe && b[1] == 0xff) || (b[0] == 0xff && b[1] == 0xfe)))
        return "only UTF-8 is accepted (UTF-16 byte-order mark)";
    for (size_t i = 0; i < len; i += n) {
        if (b[i] == 0x00) {
            *ip = i;
            return "only UTF-8 is accepted (NUL byte)";
        }
        if ((n = utf8_seq_len(b + i, len - i)) == 0) {
            *ip = i;
            return PRESCAN_MALFORMED ": invalid UTF-8";
        }
    }
    *ip = has_prefix(b, len, 0, "\xef\xbb\xbf") ? 3 : 0;
    return NULL;
}

static int ascii_ieq(const unsigned char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp((const char *)s, lit, n) == 0;
}

/* A pseudo-attribute value of the XML declaration (XML 1.0 [26] [81] [32]). */
static int decl_value_ok(int which, const unsigned char *v, size_t n)
{
    size_t k = 0;

    switch (which) {
    case 0: /* VersionNum ::= '1.' [0-9]+ */
        if (n < 3 || v[0] != '1' || v[1] != '.')
            return 0;
        for (k = 2; k < n; k++)
            if (v[k] < '0' || v[k] > '9')
                return 0;
        return 1;
    case 1: /* EncName ::= [A-Za-z] ([A-Za-z0-9._] | '-')* */
        if (n == 0 || !((v[0] | 0x20) >= 'a' && (v[0] | 0x20) <= 'z'))
            return 0;
        for (k = 1; k < n; k++)
            if (!(((v[k] | 0x20) >= 'a' && (v[k] | 0x20) <= 'z') || (v[k] >= '0' && v[k] <= '9') ||
                  v[k] == '.' || v[k] == '_' || v[k] == '-'))
                return 0;
        return 1;
    default: /* 'yes' | 'no' */
        return (n == 3 && memcmp(v, "yes", 3) == 0) || (n == 2 && memcmp(v, "no", 2) == 0);
    }
}

/* The XML declaration at *ip ("<?xml" S ...), read strictly (XML 1.0 [23]-[26],
 * [32], [80], [81]) so that it ends at the same "?>" as for libxml2, and its
 * encoding, if named, must be UTF-8. */
static const char *scan_xml_decl(const unsigned char *b, size_t len, size_t *ip)
{
    static const char *const names[] = {"version", "encoding", "standalone"};
    int next = 0; /* index in names[] of the first one still allowed */

    *ip += 5; /* "<?xml" */
    for (;;) {
        size_t ws = skip_space(b, len, ip), start, vlen;
        int which = -1;
        unsigned char q;

        if (has_prefix(b, len, *ip, "?>")) {
            if (next == 0)
                return PRESCAN_MALFORMED ": XML declaration without version";
            *ip += 2;
            return NULL;
        }
        start = *ip;
        while (*ip < len && b[*ip] >= 'a' && b[*ip] <= 'z')
            (*ip)++;
        for (int k = next; k < 3 && which < 0; k++)
            if (*ip - start == strlen(names[k]) && memcmp(b + start, names[k], *ip - start) == 0)
                which = k;
        /* version comes first and is required; each name once, in order */
        if (ws == 0 || which < 0 || (next == 0 && which != 0))
            return PRESCAN_MALFORMED ": bad XML declaration";
        skip_space(b, len, ip);
        if (*ip >= len || b[*ip] != '=')
            return PRESCAN_MALFORMED ": bad XML declaration";
        (*ip)++;
        skip_space(b, len, ip);
        if (*ip >= len || (b[*ip] != '"' && b[*ip] != '\''))
            return PRESCAN_MALFORMED ": bad XML declaration";
        q = b[(*ip)++];
        start = *ip;
        while (*ip < len && b[*ip] != q)
            (*ip)++;
        if (*ip >= len)
            return PRESCAN_MALFORMED ": bad XML declaration";
        vlen = *ip - start;
        (*ip)++;
        if (!decl_value_ok(which, b + start, vlen))
            return PRESCAN_MALFORMED ": bad XML declaration";
        if (which == 1 && !ascii_ieq(b + start, vlen, "utf-8") && !ascii_ieq(b + start, vlen, "utf8")) {
            *ip = start;
            return "only UTF-8 is accepted (XML declaration names another encoding)";
        }
        next = which + 1;
    }
}

/* "<!--" at *ip to after the first "-->"; "--" inside is not XML (and libxml2
 * would go on looking for "-->" after reporting it: refused instead). */
static const char *skip_comment(const unsigned char *b, size_t len, size_t *ip)
{
    for (size_t i = *ip + 4; i + 1 < len; i++) {
        if (b[i] == '-' && b[i + 1] == '-') {
            *ip = i;
            if (i + 2 < len && b[i + 2] == '>') {
                *ip = i + 3;
                return NULL;
            }
            return PRESCAN_MALFORMED ": \"--\" in a comment";
        }
    }
    return PRESCAN_MALFORMED ": unterminated comment";
}

/* "<![CDATA[" at *ip to after the first "]]>". */
static const char *skip_cdata(const unsigned char *b, size_t len, size_t *ip)
{
    for (size_t i = *ip + 9; i + 2 < len; i++) {
        if (b[i] == ']' && b[i + 1] == ']' && b[i + 2] == '>') {
            *ip = i + 3;
            return NULL;
        }
    }
    return PRESCAN_MALFORMED ": unterminated CDATA section";
}

/* "</" Name S? ">" */
static const char *scan_end_tag(const unsigned char *b, size_t len, size_t *ip)
{
    *ip += 2;
    if (skip_name(b, len, ip) == 0)
        return PRESCAN_MALFORMED ": bad end tag";
    skip_space(b, len, ip);
    if (*ip >= len || b[*ip] != '>')
        return PRESCAN_MALFORMED ": bad end tag";
    (*ip)++;
    return NULL;
}

/* "<" Name (S Name S? "=" S? AttValue)* S? ("/>" | ">"), counting attributes
 * (namespace declarations are attributes here too) per tag against
 * @max_attrs and, as nodes of the tree, against the document's @max_nodes.
 * AttValue never holds '<'. */
static const char *scan_start_tag(const unsigned char *b, size_t len, size_t *ip, int max_attrs,
                                  long *nodes, long max_nodes)
{
    int count = 0;

    *ip += 1;
    if (skip_name(b, len, ip) == 0)
        return PRESCAN_MALFORMED ": bad start tag";
    for (;;) {
        size_t ws = skip_space(b, len, ip);
        unsigned char q;

        if (*ip >= len)
            return PRESCAN_MALFORMED ": unterminated start tag";
        if (b[*ip] == '>' || has_prefix(b, len, *ip, "/>")) {
            *ip += b[*ip] == '>' ? 1 : 2;
            return NULL;
        }
        if (ws == 0 || skip_name(b, len, ip) == 0)
            return PRESCAN_MALFORMED ": bad attribute";
        skip_space(b, len, ip);
        if (*ip >= len || b[*ip] != '=')
            return PRESCAN_MALFORMED ": bad attribute";
        (*ip)++;
        skip_space(b, len, ip);
        if (*ip >= len || (b[*ip] != '"' && b[*ip] != '\''))
            return PRESCAN_MALFORMED ": bad attribute value";
        q = b[(*ip)++];
        while (*ip < len && b[*ip] != q && b[*ip] != '<')
            (*ip)++;
        if (*ip >= len || b[*ip] != q)
            return PRESCAN_MALFORMED ": bad attribute value";
        (*ip)++;
        if (++count > max_attrs)
            return "too many attributes";
        if (++*nodes > max_nodes)
            return "too many nodes";
    }
}

/* The whole pre-scan; on refusal *at is the byte offset it stopped at. Start
 * tags, attributes (namespace declarations included), comments and CDATA
 * sections are counted against @max_nodes: each becomes a tree node or
 * attribute (and the text between them at most one more), so the tree
 * libxml2 builds stays proportional to the limit, not to the input. */
static const char *prescan(const unsigned char *b, size_t len, int max_attrs, long max_nodes,
                           size_t *at)
{
    size_t i = 0;
    long nodes = 0;
    const char *why = scan_utf8(b, len, &i);

    if (why == NULL && has_prefix(b, len, i, "<?xml") && len - i > 5 && is_space(b[i + 5]))
        why = scan_xml_decl(b, len, &i);
    while (why == NULL && i < len) {
        const unsigned char *lt = memchr(b + i, '<', len - i);

        if (lt == NULL)
            break;
        i = (size_t)(lt - b);
        if (i + 1 >= len)
            why = PRESCAN_MALFORMED ": '<' at the end";
        else if (b[i + 1] != '/' && ++nodes > max_nodes)
            why = "too many nodes";
        else if (has_prefix(b, len, i, "<!--"))
            why = skip_comment(b, len, &i);
        else if (has_prefix(b, len, i, "<![CDATA["))
            why = skip_cdata(b, len, &i);
        else if (b[i + 1] == '!') /* never scan on into a DTD */
            why = "DTD not allowed";
        else if (b[i + 1] == '?') /* the XML declaration was read above */
            why = "processing instruction not allowed";
        else if (b[i + 1] == '/')
            why = scan_end_tag(b, len, &i);
        else
            why = scan_start_tag(b, len, &i, max_attrs, &nodes, max_nodes);
    }
    *at = i;
    return why;
}

/* ------------------------------------------------------------------------ */
/* SAX hooks: stop early                                                    */
/* ------------------------------------------------------------------------ */

typedef struct parse_state {
    int depth;
    int max_depth;
    int max_attrs;
    const char *why; /* first refusal seen by a hook (static string) */
    startElementNsSAX2Func start_ns;
    endElementNsSAX2Func end_ns;
} parse_state_t;

static void stop(xmlParserCtxtPtr ctxt, const char *why)
{
    parse_state_t *st = ctxt->_private;
    if (st->why == NULL)
        st->why = why;
    xmlStopParser(ctxt);
}

static void hook_internal_subset(void *ctx, const xmlChar *name, const xmlChar *eid,
                                 const xmlChar *sid)
{
    (void)name;
    (void)eid;
    (void)sid;
    stop(ctx, "DTD not allowed");
}

static void hook_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    (void)target;
    (void)data;
    stop(ctx, "processing instruction not allowed");
}

static void hook_reference(void *ctx, const xmlChar *name)
{
    (void)name;
    stop(ctx, "entity reference not allowed");
}

static void hook_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                       const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                       int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state_t *st = ctxt->_private;

    if (++st->depth > st->max_depth) {
        stop(ctxt, "nesting too deep");
        return;
    }
    /* the pre-scan should have refused this already */
    if (nb_attributes > st->max_attrs || nb_namespaces > st->max_attrs - nb_attributes) {
        stop(ctxt, "too many attributes");
        return;
    }
    st->start_ns(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                 nb_defaulted, attributes);
}

static void hook_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state_t *st = ctxt->_private;

    st->depth--;
    st->end_ns(ctx, localname, prefix, uri);
}

/* ------------------------------------------------------------------------ */
/* tree walk: the authoritative check                                       */
/* ------------------------------------------------------------------------ */

static int too_long(const xmlChar *s, long max)
{
    return s != NULL && (long)strnlen((const char *)s, (size_t)max + 1) > max;
}

static int is_xinclude_ns(const xmlNs *ns)
{
    return ns != NULL && ns->href != NULL &&
           (xmlStrEqual(ns->href, BAD_CAST STS_NS_XINCLUDE) ||
            xmlStrEqual(ns->href, BAD_CAST STS_NS_XINCLUDE_2003));
}

/* Checks one element's own attributes and namespace declarations. */
static const char *check_element(const xmlNode *el, long max_string)
{
    if (is_xinclude_ns(el->ns))
        return "XInclude not allowed";
    for (const xmlNs *ns = el->nsDef; ns != NULL; ns = ns->next)
        if (too_long(ns->href, max_string))
            return "namespace name too long";
    for (const xmlAttr *a = el->properties; a != NULL; a = a->next) {
        long total = 0;
        if (is_xinclude_ns(a->ns))
            return "XInclude not allowed";
        for (const xmlNode *c = a->children; c != NULL; c = c->next) {
            if (c->type != XML_TEXT_NODE)
                return "entity reference not allowed";
            total += (long)strnlen((const char *)c->content, (size_t)max_string + 1);
            if (total > max_string)
                return "attribute value too long";
        }
    }
    return NULL;
}

/* Iterative pre-order walk of the whole document, prolog and epilog included. */
static const char *check_tree(const xmlDoc *doc, int max_depth, long max_string)
{
    const xmlNode *n = doc->children;
    int depth = 1; /* depth of n when n is an element */
    const char *why = NULL;

    if (doc->intSubset != NULL || doc->extSubset != NULL)
        return "DTD not allowed";
    if (xmlDocGetRootElement(doc) == NULL)
        return "no root element";

    while (n != NULL) {
        switch (n->type) {
        case XML_ELEMENT_NODE:
            if (depth > max_depth)
                return "nesting too deep";
            if ((why = check_element(n, max_string)) != NULL)
                return why;
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (too_long(n->content, max_string))
                return "text too long";
            break;
        case XML_COMMENT_NODE:
            if (too_long(n->content, max_string))
                return "comment too long";
            break;
        case XML_PI_NODE:
            return "processing instruction not allowed";
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
        case XML_ENTITY_DECL:
            return "entity reference not allowed";
        case XML_DTD_NODE:
        case XML_DOCUMENT_TYPE_NODE:
        case XML_ELEMENT_DECL:
        case XML_ATTRIBUTE_DECL:
        case XML_NOTATION_NODE:
            return "DTD not allowed";
        case XML_XINCLUDE_START:
        case XML_XINCLUDE_END:
            return "XInclude not allowed";
        default:
            return "unexpected node type";
        }
        /* next in document order, tracking element depth */
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            depth++;
            continue;
        }
        while (n != NULL && n->next == NULL) {
            n = n->parent;
            if (n == NULL || n->type == XML_DOCUMENT_NODE)
                return NULL;
            depth--;
        }
        if (n != NULL)
            n = n->next;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* public API                                                               */
/* ------------------------------------------------------------------------ */

sts_errc_t sts_xml_parse(const char *buf, size_t len, const sts_xml_limits_t *limits,
                         xmlDocPtr *out, sts_err_t *err)
{
    static const sts_xml_limits_t defaults = {STS_XML_DEFAULT_MAX_DEPTH,
                                              STS_XML_DEFAULT_MAX_STRING,
                                              STS_XML_DEFAULT_MAX_SIZE};
    sts_errc_t rc = STS_OK;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    parse_state_t st;
    const char *why = NULL;
    size_t at = 0;
    /* Not yet a member of sts_xml_limits_t: a fourth member breaks every
     * positional {depth, string, size} initialiser under -Wextra -Werror
     * (-Wmissing-field-initializers), and those live in other modules. */
    int max_attrs = STS_XML_DEFAULT_MAX_ATTRS;

    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(out == NULL || (buf == NULL && len > 0), err, STS_E_INTERNAL,
                "sts_xml_parse: bad arguments");
    if (limits == NULL)
        limits = &defaults;
    STS_FAIL_IF(limits->max_depth <= 0 || limits->max_string <= 0 || limits->max_size <= 0, err,
                STS_E_INTERNAL, "sts_xml_parse: limits must be positive");
    /* Bounded before the parser sees a single byte. */
    STS_FAIL_IF(len > (size_t)limits->max_size || len > (size_t)INT_MAX, err,
                STS_E_INVALID_REQUEST, "document too large (%zu bytes)", len);
    STS_FAIL_IF(len == 0, err, STS_E_INVALID_REQUEST, "empty document");
    why = prescan((const unsigned char *)buf, len, max_attrs, STS_XML_DEFAULT_MAX_NODES, &at);
    STS_FAIL_IF(why != NULL, err, STS_E_INVALID_REQUEST, "%s (at byte %zu)", why, at);

    ctxt = xmlCreateMemoryParserCtxt(buf, (int)len);
    STS_FAIL_IF(ctxt == NULL || ctxt->sax == NULL, err, STS_E_NOMEM, "xmlCreateMemoryParserCtxt");
    xmlCtxtUseOptions(ctxt, STS_XML_PARSE_OPTIONS);

    memset(&st, 0, sizeof(st));
    st.max_depth = limits->max_depth;
    st.max_attrs = max_attrs;
    st.start_ns = ctxt->sax->startElementNs;
    st.end_ns = ctxt->sax->endElementNs;
    STS_FAIL_IF(st.start_ns == NULL || st.end_ns == NULL, err, STS_E_INTERNAL,
                "libxml2 SAX2 handler missing");
    ctxt->_private = &st;
    ctxt->sax->internalSubset = hook_internal_subset;
    ctxt->sax->processingInstruction = hook_pi;
    ctxt->sax->reference = hook_reference;
    ctxt->sax->startElementNs = hook_start;
    ctxt->sax->endElementNs = hook_end;

    (void)xmlParseDocument(ctxt);
    doc = ctxt->myDoc; /* ours now, whatever happened */
    ctxt->myDoc = NULL;

    STS_FAIL_IF(st.why != NULL, err, STS_E_INVALID_REQUEST, "%s", st.why);
    STS_FAIL_IF(!ctxt->wellFormed || doc == NULL, err, STS_E_INVALID_REQUEST,
                "malformed XML (libxml2 error %d at line %d)", ctxt->errNo,
                ctxt->input != NULL ? ctxt->input->line : 0);
    /* an unbound prefix is only a namespace error for libxml2: refuse it too */
    STS_FAIL_IF(!ctxt->nsWellFormed, err, STS_E_INVALID_REQUEST, "namespace error");
    why = check_tree(doc, limits->max_depth, limits->max_string);
    STS_FAIL_IF(why != NULL, err, STS_E_INVALID_REQUEST, "%s", why);

    *out = doc;
    doc = NULL;

cleanup:
    if (ctxt != NULL) {
        ctxt->_private = NULL;
        xmlFreeParserCtxt(ctxt);
    }
    if (doc != NULL)
        xmlFreeDoc(doc);
    return rc;
}

xmlNodePtr sts_xml_first_elem(xmlNodePtr node)
{
    if (node == NULL)
        return NULL;
    for (xmlNodePtr c = node->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

xmlNodePtr sts_xml_next_elem(xmlNodePtr node)
{
    if (node == NULL)
        return NULL;
    for (xmlNodePtr c = node->next; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

int sts_xml_is(const xmlNode *node, const char *ns, const char *name)
{
    if (node == NULL || node->type != XML_ELEMENT_NODE || name == NULL ||
        !xmlStrEqual(node->name, BAD_CAST name))
        return 0;
    if (ns == NULL)
        return node->ns == NULL || node->ns->href == NULL;
    return node->ns != NULL && xmlStrEqual(node->ns->href, BAD_CAST ns);
}

int sts_xml_count_elems(xmlNodePtr node)
{
    int n = 0;
    for (xmlNodePtr c = sts_xml_first_elem(node); c != NULL; c = sts_xml_next_elem(c))
        n++;
    return n;
}
