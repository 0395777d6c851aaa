/*
 * sts_xml.c - the one hardened way untrusted XML becomes a libxml2 tree.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (c) 2026 the STS authors
 *
 * Owns libxml2's process-wide hardening and the bounded parse of untrusted
 * input. It does NOT know SAML, SOAP or signatures (sts_saml.c, sts_soap_*.c).
 * Defence in two layers: SAX hooks stop the parser at the first DOCTYPE, PI,
 * entity reference or over-deep element (so a DTD is never processed), then a
 * full iterative walk of the tree re-checks every rule before the caller sees it.
 */
#include "sts_xml.h"

#include "sts_log.h"
#include "sts_ns.h"

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include <limits.h>
#include <string.h>


/* NONET and no NOENT/DTDLOAD/DTDATTR/DTDVALID/HUGE/XINCLUDE, ever. */
#define STS_XML_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

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
/* SAX hooks: stop early                                                    */
/* ------------------------------------------------------------------------ */

typedef struct parse_state {
    int depth;
    int max_depth;
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

    ctxt = xmlCreateMemoryParserCtxt(buf, (int)len);
    STS_FAIL_IF(ctxt == NULL || ctxt->sax == NULL, err, STS_E_NOMEM, "xmlCreateMemoryParserCtxt");
    xmlCtxtUseOptions(ctxt, STS_XML_PARSE_OPTIONS);

    memset(&st, 0, sizeof(st));
    st.max_depth = limits->max_depth;
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
