/*
 * sts_soap_int.h - internals shared by the SOAP face's modules.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_SOAP_INT_H
#define STS_SOAP_INT_H

#include "soapH.h"
#include "sts_engine.h"
#include "sts_http.h"
#include "sts_xml.h"

#include <libxml/tree.h>
#include <openssl/ssl.h>
#include <signal.h>

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
 */
typedef struct sts_soap_conn {
    sts_engine_t *engine;
    const sts_cfg_t *cfg;
    const sts_http_face_t *face; /* the other face on this port (REST), or NULL */
    const char *wsdl;      /* borrowed: the published WSDL, address rewritten */
    size_t wsdl_len;
    const char *base_url;  /* borrowed: scheme://host[:port] of our endpoints (REST metadata) */
    int (*http_parse)(struct soap *);                /* gSOAP's own HTTP header parser */
    int (*http_header)(struct soap *, const char *, const char *); /* gSOAP's header-line hook */
    size_t (*sock_recv)(struct soap *, char *, size_t); /* gSOAP's own socket read */
    int (*http_posthdr)(struct soap *, const char *, const char *); /* gSOAP's header writer */

    char *raw;        /* the request body, read ahead and decoded (max_message_size) */
    size_t raw_len;
    size_t raw_cap;
    size_t pre_pos;   /* gSOAP is fed raw[pre_pos..raw_len) */
    int pre_on;
    xmlDocPtr doc;    /* the body parsed by the hardened parser (owned), or NULL */

    /* per request */
    char reqid[20];
    char *soapaction;    /* SOAPAction / SOAP 1.2 action as received, or NULL */
    char content_type[128]; /* as received, truncated */
    int content_type_long; /* it did not fit in content_type */
    char *authorization; /* the Authorization value (wiped on reset), or NULL */
    int n_authorization; /* Authorization headers seen */
    int rest_route;      /* sts_http_route_t of this request (0: not the other face's) */
    int no_content_type; /* the response being written has no body: no Content-Type */
    int n_content_length; /* Content-Length headers seen */
    int bad_framing;     /* malformed Content-Length or Transfer-Encoding */
    int has_transfer_encoding;
    int has_content_encoding;
    long long deadline;  /* monotonic ms by which the request must be read; 0: not started */
    int n_header_fields; /* header fields of this request so far */
    size_t header_bytes; /* and their size */
    int reply_wsa;       /* answer with WS-Addressing headers */
    char *reply_relates_to; /* the request's wsa:MessageID (soap arena), or NULL */

    /* transport, fixed at start */
    int tls;                  /* every connection is TLS (server.tls_cert/tls_key) */
    int refuse_password_text; /* plain HTTP, and soap.require_tls_for_password_text (or its
                               * default for a non-loopback address) refuses PasswordText */
} sts_soap_conn_t;

/* sts_soap_wsse.c: the request as the hardened parser reads it. Every field
 * the face uses comes from this one tree; gSOAP's structs only dispatch. */

/* RST children, as a bit set of what a request carries. */
enum {
    STS_RST_TOKEN_TYPE = 1 << 0,
    STS_RST_REQUEST_TYPE = 1 << 1,
    STS_RST_APPLIES_TO = 1 << 2,
    STS_RST_LIFETIME = 1 << 3,
    STS_RST_KEY_TYPE = 1 << 4,
    STS_RST_VALIDATE_TARGET = 1 << 5,
    STS_RST_RENEW_TARGET = 1 << 6,
    STS_RST_CANCEL_TARGET = 1 << 7,
    STS_RST_ON_BEHALF_OF = 1 << 8,
    STS_RST_ACT_AS = 1 << 9, /* wst14:ActAs (WS-Trust 1.4) */
    STS_RST_CLAIMS = 1 << 10,
    STS_RST_ENTROPY = 1 << 11,
    STS_RST_KEY_SIZE = 1 << 12,
    STS_RST_COMPUTED_KEY_ALG = 1 << 13,
    STS_RST_SECONDARY = 1 << 14, /* wst:SecondaryParameters (WCF: the RP's template) */
    STS_RST_ALLOW_POSTDATING = 1 << 15,
    STS_RST_RENEWING = 1 << 16,
    STS_RST_USE_KEY = 1 << 17,
    STS_RST_OTHER = 1 << 18 /* anything else: extensions... */
};

typedef struct sts_soap_envelope {
    xmlDocPtr doc;          /* owned (taken from the connection when it parsed ahead) */
    int soap_version;       /* 1 or 2, from the Envelope namespace */
    xmlNodePtr rst;         /* Body/wst:RequestSecurityToken */
    const char *wst_ns;     /* its namespace: STS_NS_WST13 or STS_NS_WST05 (static) */

    /* WS-Addressing headers (borrowed from @doc, NULL when absent) */
    const char *wsa_action;
    const char *wsa_message_id;
    const char *wsa_reply_to;  /* ReplyTo/Address */
    const char *wsa_fault_to;  /* FaultTo/Address */
    int wsa_reply_to_present;
    int wsa_fault_to_present;
    const char *wsa_to;        /* wsa:To, or NULL */
    int wsa_to_present;
    /* The same three headers in the WS-Addressing 2004/08 namespace (older
     * WCF and WSE clients): never acted on, but checked like the 1.0 ones so
     * that a reply is never expected somewhere else. */
    const char *wsa04_reply_to;
    const char *wsa04_fault_to;
    const char *wsa04_to;
    int wsa04_reply_to_present;
    int wsa04_fault_to_present;
    int wsa04_to_present;

    const char *not_understood; /* a mustUnderstand header block for us we do not know */

    /* wsse:Security addressed to us */
    int have_timestamp;
    sts_timestamp_t ts;     /* borrowed from @doc */
    int have_cred;
    sts_credential_t cred;  /* borrowed from @doc */
    xmlNodePtr timestamp;   /* the wsu:Timestamp element, or NULL */
    xmlNodePtr x509_bst;    /* wsse:BinarySecurityToken X509v3 (a requester signature), or NULL */
    xmlNodePtr signature;   /* ds:Signature in wsse:Security, or NULL */

    /* RST fields (borrowed from @doc, NULL when absent) */
    unsigned present;       /* STS_RST_* bits of the children present */
    const char *other_child; /* local name of the first STS_RST_OTHER child */
    const char *context;
    const char *request_type;
    const char *token_type;
    const char *key_type;
    const char *applies_to;
    const char *lifetime_created;
    const char *lifetime_expires;
    /* SymmetricKey parameters; TokenType, KeyType, KeySize and
     * ComputedKeyAlgorithm fall back to wst:SecondaryParameters' */
    const char *key_size;
    const char *computed_key_alg;
    xmlNodePtr entropy;      /* wst:Entropy, or NULL */
    xmlNodePtr renewing;     /* wst:Renewing, or NULL */
    xmlNodePtr secondary;    /* wst:SecondaryParameters, or NULL */
} sts_soap_envelope_t;

/**
 * @brief Take the body the connection parsed ahead (or parse the captured
 * bytes) and read the envelope: structure [Header?, Body], WS-Addressing
 * headers, the wsse:Security header addressed to us (at most one, with at
 * most one Timestamp and one UsernameToken) and the RST's fields.
 * @return STS_OK, STS_E_INVALID_REQUEST (malformed, DTD, structure,
 *         repeated elements) or STS_E_AUTH_FAILED (a Security header we
 *         cannot accept).
 */
sts_errc_t sts_soap_envelope_read(sts_soap_conn_t *conn, sts_soap_envelope_t *env,
                                  sts_err_t *err);
void sts_soap_envelope_free(sts_soap_envelope_t *env);

/**
 * @brief The single element inside RST/{@ns}@target_name (e.g. "ValidateTarget";
 * @ns NULL: the RST's own namespace).
 * @return STS_OK with *out, or STS_E_INVALID_REQUEST when the target is
 *         missing or does not hold exactly one element.
 */
sts_errc_t sts_soap_envelope_target(const sts_soap_envelope_t *env, const char *ns,
                                    const char *target_name, xmlNodePtr *out, sts_err_t *err);

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
 *  request used WS-Addressing (conn->reply_wsa); never the request's
 *  wsse:Security. */
void sts_soap_reply_header(struct soap *soap, const char *action);

/** @brief A response was sent: the next request's deadline starts with its first read. */
void sts_soap_request_done(struct soap *soap);

/**
 * @brief The transport rule for a UsernameToken of @kind: a PasswordText that
 * came over plain HTTP is refused when conn->refuse_password_text is set (from
 * soap.require_tls_for_password_text, TLS and the listen address, at start).
 * Call it before the password is checked, so that a refused password is never
 * verified (nor logged: the detail names the setting only).
 * @return STS_OK, or STS_E_AUTH_FAILED (the public text of every other
 *         authentication failure).
 */
sts_errc_t sts_soap_check_password_transport(const sts_soap_conn_t *conn, sts_cred_kind_t kind,
                                             sts_err_t *err);

/* sts_soap_poller.c: the client connections while no worker holds them. */

/*
 * One client connection, from accept to close. A worker that takes it moves
 * fd, ssl and keep_alive into its gSOAP context and back; nothing else of a
 * connection outlives a request (gSOAP's input buffer is empty when it is
 * parked, and our per-request state is reset by each request).
 */
typedef struct sts_conn {
    int fd;
    SSL *ssl;          /* after the TLS handshake, else NULL */
    int keep_alive;    /* gSOAP's soap->keep_alive: requests left (server.max_keep_alive) */
    unsigned served;   /* requests begun on it; 0: a new connection */
    /* the poller's (under its lock) */
    int parked;        /* waiting for bytes in the poller's set, no worker holds it */
    long long idle_until; /* monotonic ms at which a parked connection is closed */
    struct sts_conn *prev, *next;
} sts_conn_t;

typedef struct sts_poller sts_poller_t;

/**
 * @brief The poller of listening socket @listen_fd (made non-blocking), with
 * cfg->max_connections, recv_timeout and keep_alive_timeout; @tls says that
 * connections start with a TLS handshake (for the log). Raises the soft
 * RLIMIT_NOFILE for max_connections when it can.
 * @return a new poller (sts_poller_free()), or NULL (logged).
 */
sts_poller_t *sts_poller_new(int listen_fd, const sts_cfg_t *cfg, int tls);

/** @brief Accepts and watches connections until *@stop (the calling thread
 *  is the poller). @return 0, or -1 when epoll fails (logged). */
int sts_poller_run(sts_poller_t *p, volatile sig_atomic_t *stop);

/** @brief For worker number @worker (0..cfg->workers-1, each its own): the
 *  next connection with bytes to read (or a hang-up), waiting for one.
 *  Returns it (the caller holds it until sts_poller_park() or
 *  sts_poller_drop()), or NULL once the poller stops. Thread-safe. */
sts_conn_t *sts_poller_next(sts_poller_t *p, int worker);

/** @brief How many readable connections wait for a worker now. */
size_t sts_poller_backlog(sts_poller_t *p);

/** @brief A worker gives @c back to wait for its next request (nothing may be
 *  buffered for it: gSOAP's buffer empty, no TLS data pending). */
void sts_poller_park(sts_poller_t *p, sts_conn_t *c);

/** @brief A worker ends @c: it leaves the poller's books (and no longer counts
 *  against max_connections) and the record is freed; the caller still closes
 *  the socket and frees the SSL object, after this call. */
void sts_poller_drop(sts_poller_t *p, sts_conn_t *c);

/** @brief Stop: sts_poller_next() returns NULL from now on, and reads on the
 *  connections workers hold end (shutdown SHUT_RD). */
void sts_poller_stop(sts_poller_t *p);

/** @brief "address:port" of the peer on socket @fd (into @buf), for the log. */
const char *sts_soap_peer_name(int fd, char *buf, size_t len);

/** @brief Closes every connection left (call after the workers ended) and frees @p. */
void sts_poller_free(sts_poller_t *p);

#endif /* STS_SOAP_INT_H */
