/*
 * sts_soap_int.h - internals shared by the SOAP face's modules.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_SOAP_INT_H
#define STS_SOAP_INT_H

#include "soapH.h"
#include "sts_engine.h"
#include "sts_xml.h"

#include <libxml/tree.h>

/* The four WS-Trust bindings. */
typedef enum sts_binding {
    STS_BINDING_NONE = 0,
    STS_BINDING_ISSUE,
    STS_BINDING_VALIDATE,
    STS_BINDING_RENEW,
    STS_BINDING_CANCEL
} sts_binding_t;

/*
 * Per-connection (per worker thread) state, reached through soap->user.
 * The raw capture holds the bytes of the current HTTP body exactly as
 * received (after transfer decoding), bounded by the message size limit.
 */
typedef struct sts_soap_conn {
    sts_engine_t *engine;
    const sts_cfg_t *cfg;
    const char *wsdl;      /* borrowed: the published WSDL, address rewritten */
    size_t wsdl_len;
    int (*http_parse)(struct soap *);                /* gSOAP's own HTTP header parser */
    size_t (*sock_recv)(struct soap *, char *, size_t); /* gSOAP's own socket read */

    char *raw;
    size_t raw_len;
    size_t raw_cap;
    int raw_on;       /* capturing the body as gSOAP reads it (chunked bodies) */
    int raw_overflow; /* more than the limit arrived */
    size_t pre_pos;   /* a body read ahead: gSOAP is fed raw[pre_pos..raw_len) */
    int pre_on;
    xmlDocPtr doc;    /* the body parsed by the hardened parser (owned), or NULL */

    /* per request */
    char reqid[20];
    char *soapaction;   /* SOAPAction / SOAP 1.2 action as received, or NULL */
    int action_conflict; /* SOAPAction and wsa:Action disagree */
    sts_binding_t binding; /* the binding being answered (for the log line) */
} sts_soap_conn_t;

/* sts_soap_wsse.c: what the raw envelope says that gSOAP's structs are not trusted with. */
typedef struct sts_soap_envelope {
    xmlDocPtr doc;          /* owned (taken from the connection when it parsed ahead) */
    xmlNodePtr rst;         /* Body/wst:RequestSecurityToken */
    int have_timestamp;
    sts_timestamp_t ts;     /* borrowed from @doc */
    int have_cred;
    sts_credential_t cred;  /* borrowed from @doc */
} sts_soap_envelope_t;

/**
 * @brief Parse the captured body with the hardened parser and read the
 * wsse:Security header (at most one, with at most one Timestamp and one
 * UsernameToken) and locate the RST.
 * @return STS_OK, STS_E_INVALID_REQUEST (malformed, DTD, structure) or
 *         STS_E_AUTH_FAILED (a Security header we cannot accept).
 */
sts_errc_t sts_soap_envelope_read(sts_soap_conn_t *conn, sts_soap_envelope_t *env,
                                  sts_err_t *err);
void sts_soap_envelope_free(sts_soap_envelope_t *env);

/**
 * @brief The single element inside RST/@target_name (e.g. "ValidateTarget").
 * @return STS_OK with *out, or STS_E_INVALID_REQUEST when the target is
 *         missing, repeated or does not hold exactly one element.
 */
sts_errc_t sts_soap_envelope_target(const sts_soap_envelope_t *env, const char *target_name,
                                    xmlNodePtr *out, sts_err_t *err);

/* sts_soap_fault.c: the one table from sts_errc_t to WS-Trust faults. */

/** @brief The fault QName local part for @code, e.g. "InvalidRequest"; NULL if no row. */
const char *sts_soap_fault_name(sts_errc_t code);

/**
 * @brief Turn @err into the SOAP fault of its code (SOAP 1.1 or 1.2 shape per
 * the request), logging detail, never sending it. Returns SOAP_FAULT.
 */
int sts_soap_fault(struct soap *soap, const sts_err_t *err);

/* sts_soap_server.c */

/** @brief Fresh reply header: wsa:Action/@action and wsa:RelatesTo when the
 *  request used WS-Addressing; never the request's wsse:Security. */
void sts_soap_reply_header(struct soap *soap, const char *action);

#endif /* STS_SOAP_INT_H */
