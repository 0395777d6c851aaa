/*
 * sts_xml.h - the one hardened way untrusted XML becomes a libxml2 tree.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Refused: any DOCTYPE (internal or external subset), any processing
 * instruction (the XML declaration is not one), entity references, XInclude
 * elements, nesting deeper than the limit, text or attribute values longer
 * than the limit, input larger than the limit, a start tag with more than
 * STS_XML_DEFAULT_MAX_ATTRS attributes and namespace declarations, more than
 * STS_XML_DEFAULT_MAX_NODES elements, attributes, comments and CDATA sections, and
 * anything but UTF-8 (another declared encoding, a UTF-16/32 byte-order mark,
 * NUL bytes, invalid UTF-8): the bytes are read as UTF-8, as gSOAP reads them.
 * No network, no file access: the external entity loader refuses every URL.
 */
#ifndef STS_XML_H
#define STS_XML_H

#include "sts_err.h"

#include <libxml/tree.h>
#include <stddef.h>

typedef struct sts_xml_limits {
    int max_depth;     /* elements, root = 1 */
    long max_string;   /* bytes of one text node or attribute value */
    long max_size;     /* bytes of input */
} sts_xml_limits_t;

/* Limits used when sts_xml_parse() is given NULL limits. */
#define STS_XML_DEFAULT_MAX_DEPTH 64
#define STS_XML_DEFAULT_MAX_STRING (64L * 1024L)
#define STS_XML_DEFAULT_MAX_SIZE (1024L * 1024L)
/* Attributes plus namespace declarations in one start tag. libxml2 2.9's
 * duplicate check is quadratic in this number (90,000 cost ~13 s), so it is
 * bounded before libxml2 sees the document; real WS-Trust/SAML tags carry a
 * handful. */
#define STS_XML_DEFAULT_MAX_ATTRS 64
/* Elements, attributes (namespace declarations too), comments and CDATA
 * sections in one document. A 1 MiB message of empty sibling elements is
 * 250,000 tree nodes, and one of elements with 64 empty attributes 145,000
 * attributes (32 to 35 MB of memory for the request, catalogue XP-06); a
 * WS-Trust request with its tokens has a few hundred. */
#define STS_XML_DEFAULT_MAX_NODES 10000L

/** @brief Process-wide libxml2 hardening; call once from the main thread before threads start. */
void sts_xml_init(void);

/**
 * @brief Parse @buf as one XML document under @limits (NULL: the defaults above).
 * Thread-safe after sts_xml_init(); each call builds its own document.
 * @param out new document on success; free with xmlFreeDoc().
 * @return STS_OK, or STS_E_INVALID_REQUEST (malformed, DTD, PI, encoding, limit) with detail.
 */
sts_errc_t sts_xml_parse(const char *buf, size_t len, const sts_xml_limits_t *limits,
                         xmlDocPtr *out, sts_err_t *err);

/** @brief First element child of @node (skips text/comments) or NULL. */
xmlNodePtr sts_xml_first_elem(xmlNodePtr node);

/** @brief Next element sibling of @node or NULL. */
xmlNodePtr sts_xml_next_elem(xmlNodePtr node);

/** @brief True when @node is an element named @name in namespace @ns. */
int sts_xml_is(const xmlNode *node, const char *ns, const char *name);

/** @brief Number of element children of @node. */
int sts_xml_count_elems(xmlNodePtr node);

#endif /* STS_XML_H */
