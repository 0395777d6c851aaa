/*
 * sts_soap_server.c - the gSOAP server: listener, worker pool, hooks.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the transport concerns of both faces on one port: limits and
 * timeouts, routing (http_parse), the raw body capture, WS-Addressing "lite"
 * (action agreement, reply header; the stock wsa plugin, which posts replies
 * to any ReplyTo, is never used), the GET endpoints (/sts?wsdl, /health) and
 * the worker pool. Another face (sts_http.h; the REST face) gets whole requests from
 * here and hands back whole responses. No token logic.
 *
 * Connections (sts_soap_poller.c): the main thread accepts and watches every
 * connection that waits for a request; a worker takes one when its bytes are
 * there, serves that request (serve_conn()) and hands it back, so idle
 * keep-alive clients never hold a worker.
 *
 * TLS (server.tls_cert/tls_key): one SSL_CTX, built in the main thread on the
 * master context before the workers copy it (soap_copy shares it; only the
 * master frees it). A worker does the handshake of a new connection once its
 * ClientHello is there (soap_ssl_accept), bounded by recv_timeout, so the
 * poller never waits on a client; from there on gSOAP's socket I/O
 * (frecv/fsend) goes through the SSL object, which travels with the
 * connection between requests, and everything above it is the same as over
 * plain HTTP.
 */
#include "sts_soap.h"

#include "sts_keys.h"
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_http.h"
#include "sts_soap_int.h"

#include "SecurityTokenService.nsmap"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STS_WSDL_ADDRESS "http://localhost:8080/sts"
#define STS_NEXT_WAIT_MS 2 /* conn_next_soon() */
/* Request header limits (431): gSOAP bounds each line (SOAP_HDRLEN, 8 KiB;
 * the request line at 2 KiB, 414) but not how many there are. */
#define STS_MAX_HEADER_FIELDS 100
#define STS_MAX_HEADER_BYTES 65536

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- request framing and the body read ahead ------------------------------ */

static void conn_reset_request(sts_soap_conn_t *conn)
{
    free(conn->soapaction);
    conn->soapaction = NULL;
    if (conn->authorization != NULL) {
        OPENSSL_cleanse(conn->authorization, strlen(conn->authorization));
        free(conn->authorization);
        conn->authorization = NULL;
    }
    conn->n_authorization = 0;
    conn->content_type_long = 0;
    conn->rest_route = STS_HTTP_NOT_OURS;
    if (conn->doc != NULL) {
        xmlFreeDoc(conn->doc);
        conn->doc = NULL;
    }
    conn->raw_len = 0;
    conn->pre_pos = 0;
    conn->pre_on = 0;
    conn->content_type[0] = '\0';
    conn->n_content_length = 0;
    conn->bad_framing = 0;
    conn->has_transfer_encoding = 0;
    conn->has_content_encoding = 0;
    conn->reply_wsa = 0;
    conn->reply_relates_to = NULL;
    conn->n_header_fields = 0;
    conn->header_bytes = 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Socket I/O of plain (not TLS) connections: try first, wait only when the
 * socket would block. gSOAP's own frecv/fsend wait in select() before every
 * recv() and send() whenever a timeout is set, i.e. always here: two to four
 * system calls per request that wait for nothing (the poller or
 * conn_next_soon() saw the request's bytes; the send buffer has room), each
 * a trip through the kernel. The timeouts are gSOAP's own: recv_timeout and
 * send_timeout bound each wait (> 0 seconds, < 0 microseconds, 0 none) and
 * transfer_timeout the whole message from soap->start. TLS connections keep
 * gSOAP's I/O (SSL_read/SSL_write and their wants).
 */

/* The wait for @events allowed by @timeout (gSOAP's units) and by what is
 * left of transfer_timeout: > 0 ready, 0 timed out, < 0 error (errnum). */
static int io_wait(struct soap *soap, short events, int timeout)
{
    struct pollfd pfd = {.fd = soap->socket, .events = events};
    long long ms = timeout > 0 ? 1000LL * timeout : timeout < 0 ? (999LL - timeout) / 1000 : -1;
    int r;

    if (soap->transfer_timeout != 0 && soap->start != 0) {
        long long total = soap->transfer_timeout > 0 ? 1000LL * soap->transfer_timeout
                                                     : (999LL - soap->transfer_timeout) / 1000;
        long long left = total - 1000LL * (long long)(time(NULL) - (time_t)soap->start);
        if (left <= 0)
            return 0;
        if (ms < 0 || left < ms)
            ms = left;
    }
    do
        r = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        soap->errnum = errno;
    return r;
}

static size_t plain_recv(struct soap *soap, char *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(soap->socket, buf, len, MSG_DONTWAIT);
        if (n >= 0)
            return (size_t)n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            soap->errnum = errno;
            return 0;
        }
        if (io_wait(soap, POLLIN, soap->recv_timeout) <= 0)
            return 0; /* gSOAP reads 0 as the end of the input */
    }
}

static int plain_send(struct soap *soap, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = send(soap->socket, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0) {
            s += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            soap->errnum = errno;
            return SOAP_EOF;
        }
        if (io_wait(soap, POLLOUT, soap->send_timeout) <= 0)
            return SOAP_EOF;
    }
    return SOAP_OK;
}

/* gSOAP's socket read, bounded by the request's deadline; a body read ahead
 * is served from memory, then end-of-file: gSOAP never waits for bytes that
 * will not come. */
static size_t body_recv(struct soap *soap, char *buf, size_t len)
{
    sts_soap_conn_t *conn = soap->user;
    size_t n;

    if (!conn->pre_on) {
        /* A request (idle wait, header and body) gets 4 x recv_timeout in all,
         * however slowly it trickles in: the first read starts the clock,
         * each read may only wait for what is left of it, and
         * sts_soap_request_done() stops it. */
        long long now = now_ms(), left;
        if (conn->deadline == 0)
            conn->deadline = now + 4000LL * conn->cfg->recv_timeout;
        left = conn->deadline - now;
        if (left <= 0)
            return 0;
        soap->recv_timeout = left >= 1000LL * conn->cfg->recv_timeout
                                 ? conn->cfg->recv_timeout
                                 : -(int)(left * 1000); /* negative: microseconds */
        return conn->sock_recv(soap, buf, len);
    }
    n = conn->raw_len - conn->pre_pos;
    if (n > len)
        n = len;
    memcpy(buf, conn->raw + conn->pre_pos, n);
    conn->pre_pos += n;
    return n;
}

/* Reads body bytes: what gSOAP already buffered first, then the socket. */
typedef struct body_reader {
    struct soap *soap;
    sts_soap_conn_t *conn;
    char stage[4096];
    size_t pos, len;
} body_reader_t;

static int rd_fill(body_reader_t *rd)
{
    struct soap *soap = rd->soap;

    if (rd->pos < rd->len)
        return 0;
    if (soap->bufidx < soap->buflen) {
        rd->len = soap->buflen - soap->bufidx;
        if (rd->len > sizeof(rd->stage))
            rd->len = sizeof(rd->stage);
        memcpy(rd->stage, soap->buf + soap->bufidx, rd->len);
        soap->bufidx += rd->len;
    } else {
        rd->len = body_recv(soap, rd->stage, sizeof(rd->stage));
    }
    rd->pos = 0;
    return rd->len > 0 ? 0 : -1;
}

static int rd_byte(body_reader_t *rd)
{
    if (rd_fill(rd) != 0)
        return -1;
    return (unsigned char)rd->stage[rd->pos++];
}

static int rd_bytes(body_reader_t *rd, char *dst, size_t n)
{
    while (n > 0) {
        size_t k;
        if (rd_fill(rd) != 0)
            return -1;
        k = rd->len - rd->pos < n ? rd->len - rd->pos : n;
        memcpy(dst, rd->stage + rd->pos, k);
        rd->pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

/* One CRLF-terminated line (a bare LF is tolerated) of at most @max bytes. */
static int rd_line(body_reader_t *rd, char *line, size_t max)
{
    size_t n = 0;
    int c;

    while ((c = rd_byte(rd)) >= 0 && c != '\n') {
        if (n + 1 >= max)
            return -1;
        line[n++] = (char)c;
    }
    if (c < 0)
        return -1;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    line[n] = '\0';
    return 0;
}

/* RFC 9112 section 7.1: chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF. */
static sts_errc_t read_chunked(body_reader_t *rd, size_t cap, size_t *total, int *too_big,
                               sts_err_t *err)
{
    sts_soap_conn_t *conn = rd->conn;
    char line[256], crlf[2];

    for (;;) {
        unsigned long size = 0;
        const char *p = line;
        if (rd_line(rd, line, sizeof(line)) != 0)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunk header malformed or cut off");
        if (!isxdigit((unsigned char)*p))
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunk size malformed");
        for (; isxdigit((unsigned char)*p); p++) {
            if (size > cap)
                break;
            size = size * 16 + (unsigned long)(isdigit((unsigned char)*p)
                                                   ? *p - '0'
                                                   : (tolower((unsigned char)*p) - 'a' + 10));
        }
        if (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunk size malformed");
        if (size == 0)
            break;
        if (size > cap - conn->raw_len) {
            *too_big = 1;
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunked body over the limit");
        }
        if (rd_bytes(rd, conn->raw + conn->raw_len, size) != 0 || rd_bytes(rd, crlf, 2) != 0 ||
            crlf[0] != '\r' || crlf[1] != '\n')
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunk data cut off or unterminated");
        conn->raw_len += size;
    }
    do { /* trailer fields, ignored, up to the empty line */
        if (rd_line(rd, line, sizeof(line)) != 0)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "chunked trailer malformed");
    } while (line[0] != '\0');
    *total = conn->raw_len;
    return STS_OK;
}

/*
 * Reads the whole body (Content-Length, or @chunked, our own limits) into
 * conn->raw[0..raw_len), decoded. Bytes after the body (a pipelined request,
 * which gSOAP cannot serve) end the connection after this answer. Returns
 * STS_OK, or an error with *http_status set to 413 (too big) or 400.
 */
static sts_errc_t read_body(struct soap *soap, sts_soap_conn_t *conn, int chunked, int *http_status,
                            sts_err_t *err)
{
    body_reader_t rd;
    size_t total = 0;
    int too_big = 0;
    sts_errc_t rc;

    rd.soap = soap;
    rd.conn = conn;
    rd.pos = rd.len = 0;
    conn->raw_len = 0;
    if (chunked) {
        rc = read_chunked(&rd, conn->raw_cap, &total, &too_big, err);
    } else if (soap->length > conn->raw_cap) {
        too_big = 1;
        rc = STS_ERR(err, STS_E_INVALID_REQUEST, "body of %llu bytes over the limit",
                     (unsigned long long)soap->length);
    } else {
        total = (size_t)soap->length;
        rc = rd_bytes(&rd, conn->raw, total) == 0
                 ? STS_OK
                 : STS_ERR(err, STS_E_INVALID_REQUEST, "body cut off before %zu bytes", total);
    }
    if (rc != STS_OK) {
        *http_status = too_big ? 413 : 400;
        return rc;
    }
    if (rd.pos < rd.len || soap->bufidx < soap->buflen) {
        sts_info("pipelined request after the body: answering this one, then closing");
        soap->keep_alive = 0;
        soap->bufidx = soap->buflen;
    }
    conn->raw_len = total;
    return STS_OK;
}

/*
 * SOAP: reads the body (read_body()) and parses it with the hardened parser,
 * so malformed XML, a DTD or a PI is refused before gSOAP's parser sees a
 * byte of it. gSOAP then gets the decoded body from conn->raw through
 * body_recv(). Returns STS_OK, or an error with *http_status set when the
 * answer is an HTTP status rather than a SOAP fault.
 */
static sts_errc_t read_body_ahead(struct soap *soap, sts_soap_conn_t *conn, int *http_status,
                                  sts_err_t *err)
{
    sts_xml_limits_t limits = {conn->cfg->max_xml_depth, conn->cfg->max_xml_string,
                               conn->cfg->max_message_size};
    sts_errc_t rc =
        read_body(soap, conn, (soap->imode & SOAP_IO) == SOAP_IO_CHUNK, http_status, err);

    if (rc != STS_OK)
        return rc;
    conn->pre_pos = 0;
    conn->pre_on = 1;
    soap->length = conn->raw_len;
    soap->imode &= ~SOAP_IO; /* gSOAP reads the decoded body, no chunk framing */
    return sts_xml_parse(conn->raw, conn->raw_len, &limits, &conn->doc, err);
}

#define STS_STR_(x) #x
#define STS_STR(x) STS_STR_(x)

/* A request header over our limits: 431, and the connection is closed (the
 * rest of the header is not read). gSOAP has not parsed the request target
 * yet, and it could hold a secret in a query: the log names neither. */
static int refuse_header(struct soap *soap, const char *why)
{
    sts_info("request header %s -> HTTP 431", why);
    soap->keep_alive = 0;
    return 431;
}

/* Content-Length must be one run of digits; Transfer-Encoding only "chunked";
 * Content-Type once. Authorization is kept for the REST face (counted: two
 * are refused there) and not passed on: gSOAP would decode Basic into
 * soap->userid/passwd, a copy of the secret nobody uses or wipes. */
static int http_header(struct soap *soap, const char *key, const char *val)
{
    sts_soap_conn_t *conn = soap->user;

    conn->header_bytes += strlen(key) + strlen(val) + 4; /* ": " and CRLF */
    if (++conn->n_header_fields > STS_MAX_HEADER_FIELDS)
        return refuse_header(soap, "more than " STS_STR(STS_MAX_HEADER_FIELDS) " fields");
    if (conn->header_bytes > STS_MAX_HEADER_BYTES)
        return refuse_header(soap, "over " STS_STR(STS_MAX_HEADER_BYTES) " bytes");
    if (strcasecmp(key, "Authorization") == 0) {
        if (conn->n_authorization++ == 0 && (conn->authorization = strdup(val)) == NULL)
            return SOAP_EOM;
        return SOAP_OK;
    }

    if (strcasecmp(key, "Content-Length") == 0) {
        size_t n = strspn(val, "0123456789");
        conn->n_content_length++;
        if (n == 0 || n > 12 || val[n] != '\0')
            conn->bad_framing = 1;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        if (conn->has_transfer_encoding++ || strcasecmp(val, "chunked") != 0)
            conn->bad_framing = 1;
    } else if (strcasecmp(key, "Content-Encoding") == 0) {
        if (strcasecmp(val, "identity") != 0)
            conn->has_content_encoding = 1;
    } else if (strcasecmp(key, "Content-Type") == 0) {
        if (conn->content_type[0] != '\0')
            conn->bad_framing = 1; /* two media types: which one would gSOAP act on? */
        if (snprintf(conn->content_type, sizeof(conn->content_type), "%s", val) >=
            (int)sizeof(conn->content_type))
            conn->content_type_long = 1;
    }
    return conn->http_header(soap, key, val);
}

/* text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2): 1 or 2, else 0. */
static int soap_media_type(const char *content_type)
{
    size_t n = strcspn(content_type, "; \t");
    if (n == 8 && strncasecmp(content_type, "text/xml", n) == 0)
        return 1;
    if (n == 20 && strncasecmp(content_type, "application/soap+xml", n) == 0)
        return 2;
    return 0;
}

/* Refuse @status over HTTP and close: the body (if any) was not read. */
static int refuse(struct soap *soap, int status, const char *why)
{
    sts_info("POST %.*s -> HTTP %d (%s)", sts_http_log_path_len(soap->path), soap->path, status,
             why);
    soap->keep_alive = 0;
    return status;
}

/* The framing every POST body must have: 0, or the HTTP status to refuse it
 * with (*why says why, for the log). */
static int check_framing(const sts_soap_conn_t *conn, const char **why)
{
    if (conn->bad_framing || conn->n_content_length > 1 ||
        (conn->n_content_length && conn->has_transfer_encoding)) {
        *why = "ambiguous message framing";
        return 400;
    }
    if (!conn->n_content_length && !conn->has_transfer_encoding) {
        *why = "no Content-Length";
        return 411;
    }
    if (conn->has_content_encoding) {
        *why = "Content-Encoding";
        return 415;
    }
    return 0;
}

/* ---- REST face ------------------------------------------------------------------ */

static const char *method_name(int status)
{
    switch (status) {
    case SOAP_POST:
        return "POST";
    case SOAP_GET:
        return "GET";
    case SOAP_PUT:
        return "PUT";
    case SOAP_PATCH:
        return "PATCH";
    case SOAP_DEL:
        return "DELETE";
    case SOAP_HEAD:
        return "HEAD";
    case SOAP_OPTIONS:
        return "OPTIONS";
    case SOAP_CONNECT:
        return "CONNECT";
    default:
        return "?";
    }
}

/* gSOAP writes a Content-Type (text/xml by default) on every response; one
 * without a body (a 405, a revocation's 200) gets none. It also answers a
 * request with an Origin header with "Access-Control-Allow-Origin: *" and
 * "Access-Control-Allow-Credentials: true": we serve no browser across
 * origins (tokens and secrets must not be readable by other sites' scripts),
 * so no Access-Control-* header is ever written. */
static int http_posthdr(struct soap *soap, const char *key, const char *val)
{
    sts_soap_conn_t *conn = soap->user;

    if (conn->no_content_type && key != NULL && strcasecmp(key, "Content-Type") == 0)
        return SOAP_OK;
    if (key != NULL && strncasecmp(key, "Access-Control-", 15) == 0)
        return SOAP_OK;
    return conn->http_posthdr(soap, key, val);
}

/*
 * An answer of the REST face or a GET endpoint in one send(): gSOAP writes
 * such a message in its "store" mode, whose HTTP header goes out on its own
 * before the body (two system calls and two TCP segments for an answer of a
 * few hundred bytes). While send_whole() runs, the worker's gSOAP sends into
 * this per-thread buffer instead, which goes out when full and at the end.
 */
static _Thread_local struct {
    int (*send)(struct soap *, const char *, size_t); /* the real one */
    size_t len;
    char buf[8192];
} out_buf;

static int out_buf_send(struct soap *soap, const char *s, size_t n)
{
    int rc;

    if (out_buf.len + n <= sizeof(out_buf.buf)) {
        memcpy(out_buf.buf + out_buf.len, s, n);
        out_buf.len += n;
        return SOAP_OK;
    }
    if (out_buf.len > 0) {
        rc = out_buf.send(soap, out_buf.buf, out_buf.len);
        out_buf.len = 0;
        if (rc != SOAP_OK)
            return rc;
    }
    return n <= sizeof(out_buf.buf) ? out_buf_send(soap, s, n) : out_buf.send(soap, s, n);
}

/* soap_response(@status), @body and soap_end_send(), sent as one; SOAP_OK or
 * gSOAP's error. */
static int send_whole(struct soap *soap, int status, const char *body, size_t len)
{
    int rc;

    out_buf.send = soap->fsend;
    out_buf.len = 0;
    soap->fsend = out_buf_send;
    rc = soap_response(soap, status) || (len > 0 && soap_send_raw(soap, body, len)) ||
                 soap_end_send(soap)
             ? (soap->error != SOAP_OK ? soap->error : SOAP_EOF)
             : SOAP_OK;
    soap->fsend = out_buf.send;
    if (rc == SOAP_OK && out_buf.len > 0)
        rc = soap->fsend(soap, out_buf.buf, out_buf.len);
    out_buf.len = 0;
    return rc;
}

/* Writes @resp: status line, gSOAP's standard headers, the shim's extra
 * header lines and content type, and the body with its Content-Length. */
static void send_rest(struct soap *soap, const sts_http_response_t *resp)
{
    sts_soap_conn_t *conn = soap->user;

    /* SOAP_FILE + status: gSOAP writes that status line and http_content
     * as the Content-Type, and adds no headers of its own for a 401 or 405. */
    soap->http_content = resp->content_type;
    soap->http_extra_header = resp->headers; /* gSOAP clears it once written */
    conn->no_content_type = resp->content_type == NULL;
    if (send_whole(soap, SOAP_FILE + resp->status, resp->body, resp->body_len) != SOAP_OK)
        soap_closesock(soap);
    conn->no_content_type = 0;
    soap->http_content = NULL;
    soap->http_extra_header = NULL;
}

/*
 * A request for the REST face: framing checks and the body read for the form
 * endpoints (as for SOAP, but no XML parse), then the face's handle(), and the
 * answer. gSOAP reaches it through its form hook (fform, after http_parse()
 * returned SOAP_FORM) or its GET hook (fget): after either, gSOAP reads and
 * sends nothing more for the request and keep-alive goes on, which is not so
 * when http_parse() itself answers and returns SOAP_STOP (gSOAP then eats
 * the start of the next request, or waits for the peer to close).
 */
static int serve_rest(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;
    sts_http_route_t route = (sts_http_route_t)conn->rest_route;
    const char *method = method_name(soap->status), *why = NULL;
    sts_http_request_t req;
    sts_http_response_t resp;
    sts_err_t err;
    int status = 0;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = soap->path;
    req.content_type = conn->content_type[0] != '\0' ? conn->content_type : NULL;
    req.authorization = conn->authorization;
    req.n_authorization = conn->n_authorization;
    if (route == STS_HTTP_FORM) {
        if ((status = check_framing(conn, &why)) == 0 &&
            (conn->content_type_long || !conn->face->media_type_ok(req.content_type, &why))) {
            status = 415;
            why = conn->content_type_long ? "Content-Type too long" : why;
        }
        /* By the time gSOAP calls fform it has set up its own chunk decoder:
         * what it buffered ends at chunkbuflen, not buflen, and chunked mode
         * is off in imode. Our reader decodes chunks itself, from the raw
         * bytes, as for SOAP: give them back to it. */
        if (soap->chunkbuflen > soap->buflen)
            soap->buflen = soap->chunkbuflen;
        soap->chunkbuflen = 0;
        soap->chunksize = 0;
        if (status == 0 &&
            read_body(soap, conn, conn->has_transfer_encoding, &status, &err) != STS_OK) {
            status = status != 0 ? status : 400;
            why = err.detail;
        }
        if (status != 0) {
            soap->keep_alive = 0; /* the body, if any, was not (all) read */
            conn->face->refuse(method, soap->path, status, why, &resp);
            goto send;
        }
        req.body = conn->raw;
        req.body_len = conn->raw_len;
    } else if (conn->has_transfer_encoding || (conn->n_content_length && soap->length > 0)) {
        soap->keep_alive = 0; /* a body we do not read: the connection cannot go on */
    }
    conn->face->handle(conn->engine, conn->base_url, &req, &resp);
send:
    send_rest(soap, &resp);
    conn->face->response_free(&resp);
    sts_soap_request_done(soap);
    return SOAP_OK;
}

/* This face's own paths and the one method each serves, for 405 answers. */
static const struct own_path {
    const char *path;
    const char *allow; /* the Allow header line */
} own_paths[] = {
    {"/sts", "Allow: POST"},     {"/health", "Allow: GET"}, {"/sts?wsdl", "Allow: GET"},
    {"/sts?WSDL", "Allow: GET"}, {"/sts.wsdl", "Allow: GET"},
};

/* The Allow header line of our own @path, or NULL when it is not ours. */
static const char *own_allow(const char *path)
{
    for (size_t i = 0; i < sizeof(own_paths) / sizeof(own_paths[0]); i++)
        if (strcmp(path, own_paths[i].path) == 0)
            return own_paths[i].allow;
    return NULL;
}

/* A method our path does not serve: 405 with the Allow the path has (RFC
 * 9110 sec. 15.5.6 requires it), or 404 for a path that is not ours; no body.
 * A request body is not read, so the connection then ends. */
static int refuse_method(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;
    const char *allow = own_allow(soap->path);
    sts_http_response_t resp;

    memset(&resp, 0, sizeof(resp));
    resp.status = allow != NULL ? 405 : 404;
    resp.headers = allow;
    sts_info("%s %.*s -> %d", method_name(soap->status), sts_http_log_path_len(soap->path),
             soap->path, resp.status);
    if (conn->has_transfer_encoding || (conn->n_content_length && soap->length > 0))
        soap->keep_alive = 0;
    send_rest(soap, &resp);
    sts_soap_request_done(soap);
    return SOAP_OK;
}

/* PUT, PATCH, DELETE, HEAD, OPTIONS (gSOAP's fput, fpatch, fdel, fhead, fopt
 * hooks): on a REST path the shim's (405 with its Allow); on ours 405 with
 * Allow; elsewhere 404. */
static int http_other_method(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;

    if (conn->rest_route != STS_HTTP_NOT_OURS)
        return serve_rest(soap);
    return refuse_method(soap);
}

/*
 * gSOAP's HTTP header parser, then routing, in this one place:
 *
 *   a REST path (the face's serves()), any method     -> serve_rest(), through the hook
 *                                                    gSOAP calls for that method:
 *                                                    fform for POST (SOAP_FORM),
 *                                                    fget (http_get) for GET, the
 *                                                    others http_other_method()
 *   POST /sts                                     -> framing checks, body read
 *                                                    ahead and parsed, then SOAP
 *   POST to /health or the WSDL                   -> 405 with Allow: GET
 *   POST elsewhere                                -> 404
 *   GET elsewhere                                 -> http_get() (gSOAP's fget):
 *                                                    /health, the WSDL; /sts 405;
 *                                                    else 404
 *   other methods elsewhere                       -> http_other_method(): 405 with
 *                                                    Allow on our paths, else 404
 */
static int http_parse(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;
    static unsigned long long counter;
    sts_http_route_t route;
    sts_err_t err;
    const char *why = NULL;
    int rc, version, status = 0;

    conn_reset_request(conn);
    snprintf(conn->reqid, sizeof(conn->reqid), "%llx",
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    sts_log_set_reqid(conn->reqid);
    soap->fform = NULL; /* set below for this request only */
    soap->http_extra_header = NULL; /* as is any extra header line (refuse with Allow) */
    if ((rc = conn->http_parse(soap)) == SOAP_HDR) { /* a line over SOAP_HDRLEN */
        sts_info("request header line over %d bytes -> HTTP 431", SOAP_HDRLEN);
        soap->keep_alive = 0;
        return 431;
    }
    if (rc == 414) { /* gSOAP's: a request line over its buffer (SOAP_TMPLEN) */
        sts_info("request line over %d bytes -> HTTP 414", SOAP_TMPLEN);
        soap->keep_alive = 0;
        return rc;
    }
    if (rc != SOAP_OK)
        return rc;
    /* gSOAP 2.8's http_parse() measures "PATCH " as 4 bytes and reads the
     * request target of a PATCH with the method's last letter: "H /token". */
    if (soap->status == SOAP_PATCH && strncmp(soap->path, "H ", 2) == 0)
        memmove(soap->path, soap->path + 2, strlen(soap->path + 2) + 1);
    if (soap->action != NULL && soap->action[0] != '\0' &&
        (conn->soapaction = strdup(soap->action)) == NULL)
        return SOAP_EOM;
    if (soap->status != SOAP_POST && soap->bufidx < soap->buflen) {
        /* gSOAP cannot serve pipelined requests */
        sts_info("pipelined request after a %s: answering this one, then closing",
                 method_name(soap->status));
        soap->keep_alive = 0;
    }
    route = conn->face ? conn->face->serves(method_name(soap->status), soap->path)
                       : STS_HTTP_NOT_OURS;
    if (route != STS_HTTP_NOT_OURS) {
        conn->rest_route = route;
        if (soap->status == SOAP_GET)
            return SOAP_OK; /* gSOAP calls fget: http_get() */
        soap->fform = serve_rest;
        return SOAP_FORM;
    }
    if (soap->status != SOAP_POST)
        return SOAP_OK;
    if (strcmp(soap->path, "/sts") != 0) {
        soap->http_extra_header = own_allow(soap->path); /* gSOAP writes it once */
        return refuse(soap, soap->http_extra_header != NULL ? 405 : 404,
                      soap->http_extra_header != NULL ? "not allowed" : "no such endpoint");
    }
    if ((status = check_framing(conn, &why)) != 0)
        return refuse(soap, status, why);
    if ((version = soap_media_type(conn->content_type)) == 0)
        return refuse(soap, 415, "not text/xml or application/soap+xml");
    if (read_body_ahead(soap, conn, &status, &err) != STS_OK) {
        sts_soap_request_done(soap);
        if (status != 0)
            return refuse(soap, status, err.detail);
        /* Answered here, in the SOAP version the Content-Type announces. */
        soap_set_version(soap, (short)version);
        sts_soap_fault(soap, &err);
        soap_send_fault(soap);
        return SOAP_STOP;
    }
    return SOAP_OK;
}

/* After each request on a keep-alive connection: free its arena now, not at
 * the end of the connection (100 requests of 1 MiB would otherwise pile up). */
static int serve_loop(struct soap *soap)
{
    sts_soap_request_done(soap);
    soap_destroy(soap);
    soap_end(soap);
    return SOAP_OK;
}

void sts_soap_request_done(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;
    conn->deadline = 0;
    conn->pre_on = 0; /* the next request is read from the socket */
}

/* ---- WS-Addressing lite ---------------------------------------------------- */

/* Once the SOAP Header is parsed, gSOAP dispatches on wsa:Action when there
 * is one. The operations check the action again against the envelope as the
 * hardened parser read it. */
static int header_hook(struct soap *soap)
{
    const char *wsa_action = soap->header ? soap->header->wsa5__Action : NULL;

    if (wsa_action != NULL)
        soap->action = soap_strdup(soap, wsa_action);
    return SOAP_OK;
}

void sts_soap_reply_header(struct soap *soap, const char *action)
{
    const sts_soap_conn_t *conn = soap->user;
    struct SOAP_ENV__Header *out;

    soap->header = NULL; /* never echo the request header (wsse:Security!) */
    if (conn == NULL || !conn->reply_wsa)
        return;
    out = soap_malloc(soap, sizeof(*out));
    if (out == NULL)
        return;
    soap_default_SOAP_ENV__Header(soap, out);
    out->wsa5__Action = soap_strdup(soap, action);
    if (conn->reply_relates_to != NULL) {
        out->wsa5__RelatesTo = soap_malloc(soap, sizeof(*out->wsa5__RelatesTo));
        if (out->wsa5__RelatesTo != NULL) {
            soap_default_wsa5__RelatesToType(soap, out->wsa5__RelatesTo);
            out->wsa5__RelatesTo->__item = conn->reply_relates_to;
        }
    }
    soap->header = out;
}

/* Every fault gSOAP raises by itself (parse errors of a chunked body, limits,
 * unknown mustUnderstand headers, a Body that is no RST) passes here: a
 * request gSOAP cannot read gets the WS-Trust shape (wst:InvalidRequest) and
 * a clean header, and is logged. */
static void seterror_hook(struct soap *soap, const char **code, const char **reason)
{
    int e = soap->error;

    if (e == SOAP_FAULT || e == SOAP_OK || e == SOAP_EOF || e >= 100 /* HTTP status */)
        return;
    sts_soap_reply_header(soap, STS_WSA_FAULT_ACTION);
    /* soap->tag: the element gSOAP stopped at (a header block, the Body's child) */
    if (e == SOAP_MUSTUNDERSTAND || e == SOAP_VERSIONMISMATCH) {
        sts_info("soap -> %s (element %s)",
                 e == SOAP_MUSTUNDERSTAND ? "MustUnderstand" : "VersionMismatch", soap->tag);
        return; /* SOAP's own fault codes, as the SOAP specs define them */
    }
    if (e == SOAP_EOM || e == SOAP_TCP_ERROR) {
        sts_info("soap -> gSOAP error %d", e);
        return;
    }
    sts_info("soap -> wst:InvalidRequest (gSOAP error %d: %s, element %s)", e,
             *reason ? *reason : "-", soap->tag);
    *code = soap->version == 2 ? "SOAP-ENV:Sender" : "SOAP-ENV:Client";
    *reason = "The request was invalid or malformed";
    *soap_faultsubcode(soap) = "wst:InvalidRequest";
}

/* ---- GET endpoints ---------------------------------------------------------- */

static int send_body(struct soap *soap, int status, const char *type, const char *body,
                     size_t len)
{
    soap->http_content = type;
    if (send_whole(soap, status, body, len) != SOAP_OK)
        return soap_closesock(soap);
    return SOAP_OK;
}

static int http_get(struct soap *soap)
{
    sts_soap_conn_t *conn = soap->user;
    const char *path = soap->path;

    if (conn->rest_route != STS_HTTP_NOT_OURS) /* routed by http_parse() */
        return serve_rest(soap);
    if (strcmp(path, "/sts") == 0)
        return refuse_method(soap);
    if (strcmp(path, "/health") == 0)
        return send_body(soap, SOAP_FILE, "text/plain", "ok\n", 3);
    if (strcmp(path, "/sts?wsdl") == 0 || strcmp(path, "/sts?WSDL") == 0 ||
        strcmp(path, "/sts.wsdl") == 0) {
        if (conn->wsdl == NULL)
            return 404;
        return send_body(soap, SOAP_FILE, "text/xml; charset=utf-8", conn->wsdl, conn->wsdl_len);
    }
    sts_info("GET %.*s -> 404", sts_http_log_path_len(path), path);
    return 404;
}

/* ---- the published WSDL ----------------------------------------------------- */

/* Reads the WSDL and rewrites its placeholder address to the real endpoint.
 * Returns a new string (free()) or NULL. */
/* @text with every @from replaced by @to: a new string (free()), or NULL. */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t flen = strlen(from), tlen = strlen(to), cap = strlen(text) + 1, n = 0;
    const char *p = text, *hit;
    char *out;

    for (hit = strstr(p, from); hit; hit = strstr(hit + flen, from))
        cap += tlen;
    if ((out = malloc(cap)) == NULL)
        return NULL;
    while ((hit = strstr(p, from)) != NULL) {
        memcpy(out + n, p, (size_t)(hit - p));
        n += (size_t)(hit - p);
        memcpy(out + n, to, tlen);
        n += tlen;
        p = hit + flen;
    }
    memcpy(out + n, p, strlen(p) + 1);
    return out;
}

/*
 * The published WSDL: the file with the placeholder address replaced by
 * @endpoint and every binding pointing at the policy that says what this
 * server accepts: over TLS the transport policy (TransportBinding +
 * SignedSupportingTokens) instead of the plain one, and with @x509
 * (soap.client_ca) the variant that also offers an X.509 message signature.
 */
static char *load_wsdl(const char *file, const char *endpoint, int tls, int x509, size_t *len)
{
    static const char *const policy[2][2] = {
        {"#STS_UsernameToken_Policy", "#STS_UsernameToken_X509_Policy"},
        {"#STS_Transport_Policy", "#STS_Transport_X509_Policy"}};
    char from[96], to[96];
    FILE *f = fopen(file, "rb");
    char *text = NULL, *out = NULL, *tmp;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > 4 * 1024 * 1024 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto done;
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size)
        goto done;
    text[size] = '\0';
    out = replace_all(text, STS_WSDL_ADDRESS, endpoint);
    /* the bindings' reference only: the X.509 variants refer to the plain ones */
    snprintf(from, sizeof(from), "<wsp:PolicyReference URI=\"%s\"/>\n    <soap",
             policy[0][0]);
    snprintf(to, sizeof(to), "<wsp:PolicyReference URI=\"%s\"/>\n    <soap",
             policy[tls != 0][x509 != 0]);
    if (out != NULL && (tls || x509)) {
        tmp = replace_all(out, from, to);
        free(out);
        out = tmp;
    }
    if (out != NULL)
        *len = strlen(out);
done:
    free(text);
    fclose(f);
    return out;
}

/* ---- TLS -------------------------------------------------------------------- */

/* The first queued OpenSSL error as text (into @buf), and the queue cleared. */
static const char *tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "no OpenSSL error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* A PEM passphrase callback that has none: an encrypted key fails to load
 * instead of OpenSSL asking on the terminal. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/*
 * server.tls_key: refused, as the seal key is (sts_seal_key_load()), when group
 * or others may read it, unless @strict_perms is 0 (the embedded development
 * default, which has no TLS today). Read from the descriptor that was checked,
 * into a buffer that is wiped afterwards. Returns a new key (EVP_PKEY_free())
 * or NULL, logged.
 */
static EVP_PKEY *tls_key_load(const char *path, int strict_perms)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    struct stat st;
    char buf[65536], ebuf[256];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        sts_error("%s: cannot open the TLS key (server.tls_key): %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sts_error("%s: the TLS key (server.tls_key) is not a regular file", path);
        goto done;
    }
    if ((st.st_mode & 077) != 0) {
        if (strict_perms) {
            sts_error("%s: TLS key is accessible by group or others (mode %04o); chmod 600 it",
                      path, (unsigned)(st.st_mode & 07777));
            goto done;
        }
        sts_warn("%s: TLS key is accessible by group or others (mode %04o); accepted only "
                 "because this is the development default",
                 path, (unsigned)(st.st_mode & 07777));
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sts_error("%s: cannot read the TLS key: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len == sizeof(buf)) {
        sts_error("%s: the TLS key file is larger than %zu bytes", path, sizeof(buf) - 1);
        goto done;
    }
    if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
        pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL);
    if (pkey == NULL)
        sts_error("%s: not an unencrypted PEM private key (%s)", path,
                  tls_error(ebuf, sizeof(ebuf)));
done:
    BIO_free(bio);
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return pkey;
}

/* The first TLS 1.2 suite @ctx enables that is not an AEAD cipher with an
 * ephemeral (EC)DHE key exchange and a signature (forward secrecy, no CBC, no
 * RC4, no static RSA, no anonymous suites), or NULL if there is none. TLS 1.3
 * suites are all AEAD with an ephemeral key exchange. */
static const char *tls_weak_cipher(const SSL_CTX *ctx)
{
    STACK_OF(SSL_CIPHER) *list = SSL_CTX_get_ciphers(ctx);

    for (int i = 0; i < sk_SSL_CIPHER_num(list); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(list, i);
        int kx = SSL_CIPHER_get_kx_nid(c), auth = SSL_CIPHER_get_auth_nid(c);

        if (kx == NID_kx_any) /* a TLS 1.3 suite: the key exchange is not part of it */
            continue;
        if (!SSL_CIPHER_is_aead(c) || (kx != NID_kx_ecdhe && kx != NID_kx_dhe) ||
            (auth != NID_auth_rsa && auth != NID_auth_ecdsa))
            return SSL_CIPHER_get_name(c);
    }
    return NULL;
}

/*
 * The master's TLS context, once, in the main thread, before the workers copy
 * the master: TLS 1.2 and 1.3 only, server.tls_ciphers for TLS 1.2 (OpenSSL's
 * TLS 1.3 suites are all AEAD), the server's cipher order, no compression, no
 * renegotiation, no client certificate asked for, a session cache for
 * resumption (gSOAP turns tickets off). Returns 0, or -1 (logged).
 */
static int tls_setup(struct soap *master, const sts_cfg_t *cfg)
{
    SSL_CTX *ctx;
    EVP_PKEY *pkey = NULL;
    const char *weak;
    char ebuf[256];
    int rc = -1;

    soap_ssl_init(); /* OpenSSL 3 needs no locking callbacks; gSOAP's own init, once */
    /* No keyfile: gSOAP wants key and certificate in one PEM file and reads it
     * unchecked. They are loaded below. NO_AUTHENTICATION: no client
     * certificate is requested; NO_DEFAULT_CA_PATH: no trust store to load. */
    if (soap_ssl_server_context(master,
                                SOAP_SSL_NO_AUTHENTICATION | SOAP_SSL_NO_DEFAULT_CA_PATH |
                                    SOAP_TLSv1_2 | SOAP_TLSv1_3,
                                NULL, NULL, NULL, NULL, NULL, NULL, "sts") != SOAP_OK ||
        master->ctx == NULL) {
        const char **why = soap_faultstring(master);
        sts_error("TLS: cannot make the server context: %s", why && *why ? *why : "?");
        return -1;
    }
    ctx = master->ctx;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
    SSL_CTX_set_options(ctx, SSL_OP_NO_CLIENT_RENEGOTIATION);
#endif
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* An idle connection gives its 16 KiB+ record buffers back: parked TLS
     * connections stay cheap. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, 0 /* the highest OpenSSL has: 1.3 */)) {
        sts_error("TLS: cannot limit the protocol to TLS 1.2+ (%s)",
                  tls_error(ebuf, sizeof(ebuf)));
        goto done;
    }
    if (SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        sts_error("server.tls_ciphers \"%s\" enables no cipher suite (%s)", cfg->tls_ciphers,
                  tls_error(ebuf, sizeof(ebuf)));
        goto done;
    }
    if ((weak = tls_weak_cipher(ctx)) != NULL) {
        sts_error("server.tls_ciphers \"%s\" enables %s, which is not an AEAD suite with an "
                  "ephemeral (EC)DHE key exchange; allow only such suites (default \"%s\")",
                  cfg->tls_ciphers, weak, STS_CFG_TLS_CIPHERS);
        goto done;
    }
    SSL_CTX_set_dh_auto(ctx, 1); /* DHE suites, if listed, get built-in groups */
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        sts_error("%s: cannot load the TLS certificate (server.tls_cert): %s", cfg->tls_cert_file,
                  tls_error(ebuf, sizeof(ebuf)));
        goto done;
    }
    if ((pkey = tls_key_load(cfg->tls_key_file, cfg->strict_key_perms)) == NULL)
        goto done;
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        sts_error("%s is not the key of the certificate in %s (%s)", cfg->tls_key_file,
                  cfg->tls_cert_file, tls_error(ebuf, sizeof(ebuf)));
        goto done;
    }
    rc = 0;
done:
    EVP_PKEY_free(pkey);
    return rc;
}

/*
 * The TLS handshake of a connection a worker took. gSOAP's soap_ssl_accept()
 * polls in 0.1 s steps, ten per second of the larger of recv_timeout and
 * send_timeout: with send_timeout out of the way during the handshake, a
 * client that sends nothing (or not enough) is dropped after
 * server.recv_timeout, and only this worker waited for it. Returns 0, or -1
 * when the handshake failed and the connection is closed.
 */
static int tls_accept(struct soap *soap, const sts_cfg_t *cfg)
{
    int send_timeout = soap->send_timeout, rc;
    char peer[INET6_ADDRSTRLEN + 16], why[256];
    const char **fs;

    soap->recv_timeout = cfg->recv_timeout; /* not what body_recv() left of a deadline */
    soap->send_timeout = 0;
    sts_soap_peer_name(soap->socket, peer, sizeof(peer));
    rc = soap_ssl_accept(soap);
    soap->send_timeout = send_timeout;
    if (rc == SOAP_OK)
        return 0;
    fs = soap_faultstring(soap);
    if (fs && *fs && strncmp(*fs, "SSL_ERROR_WANT_", 15) == 0) /* the polls ran out */
        snprintf(why, sizeof(why), "no handshake within server.recv_timeout (%d s)",
                 cfg->recv_timeout);
    else
        snprintf(why, sizeof(why), "%s", fs && *fs ? *fs : "?");
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = *(p + 1) ? ' ' : '\0';
    sts_info("TLS handshake with %s failed: %s", peer, why);
    return -1;
}

sts_errc_t sts_soap_check_password_transport(const sts_soap_conn_t *conn, sts_cred_kind_t kind,
                                             sts_err_t *err)
{
    if (kind == STS_CRED_PASSWORD_TEXT && conn->refuse_password_text)
        return STS_ERR(err, STS_E_AUTH_FAILED,
                       "PasswordText over plain HTTP refused "
                       "(soap.require_tls_for_password_text; use TLS or PasswordDigest)");
    return STS_OK;
}

/* ---- workers: one request per dispatch ----------------------------------- */

typedef struct sts_worker {
    pthread_t thread;
    struct soap *soap;
    sts_soap_conn_t conn;
    sts_poller_t *poller;
    int index; /* 0..workers-1 */
} sts_worker_t;

/* Moves connection @c into the worker's context. gSOAP keeps no other state
 * of a connection between requests: its input buffer is empty (a connection
 * is parked only so), and our workers never read soap->ip/host/port (the
 * master's soap_accept() would fill them; we accept in the poller). */
static void conn_attach(struct soap *soap, const sts_conn_t *c)
{
    soap->socket = c->fd;
    soap->ssl = c->ssl;
    soap->keep_alive = c->keep_alive;
    soap->bufidx = soap->buflen = 0;
    soap->error = SOAP_OK;
    if (c->ssl != NULL) { /* soap_ssl_accept() set these on the worker that did the handshake */
        soap->imode |= SOAP_ENC_SSL;
        soap->omode |= SOAP_ENC_SSL;
    }
    sts_soap_request_done(soap);
}

/* Moves the connection back out of the worker's context into @c. */
static void conn_detach(struct soap *soap, sts_conn_t *c)
{
    c->fd = soap->socket;
    c->ssl = soap->ssl;
    c->keep_alive = soap->keep_alive;
    soap->socket = SOAP_INVALID_SOCKET;
    soap->ssl = NULL;
    soap->keep_alive = 0;
}

/* Bytes of the connection already read from the socket: gSOAP's buffer, or
 * decrypted TLS data (or a whole record) inside the SSL object. The poller
 * would never see them: the worker goes on serving instead. */
static int conn_buffered(struct soap *soap)
{
    return soap->bufidx < soap->buflen || (soap->ssl != NULL && SSL_has_pending(soap->ssl));
}

/*
 * Whether the next request on the connection is here or comes within
 * STS_NEXT_WAIT_MS, when no other connection waits for a worker. A client
 * that sends requests back to back (a connection pool, a load test) has its
 * next one on the wire a fraction of a millisecond after our answer: waiting
 * that long here saves the trip through the poller (two thread wake-ups);
 * an idle client costs the worker that much and no more.
 */
static int conn_next_soon(sts_worker_t *w, struct soap *soap)
{
    struct pollfd pfd;

    if (sts_poller_backlog(w->poller) > 0)
        return 0;
    pfd.fd = soap->socket;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return poll(&pfd, 1, STS_NEXT_WAIT_MS) == 1;
}

/*
 * One request: the body of the loop of the generated soap_serve(), which would
 * go on to the next request on the connection and so hold the worker for the
 * connection's whole life. Returns 1 when the connection may carry another
 * request (if gSOAP still keeps it alive), 0 when it is over.
 */
static int serve_one(struct soap *soap)
{
    if (soap->keep_alive > 0 && soap->max_keep_alive > 0)
        soap->keep_alive--;
    if (soap_begin_serve(soap) != SOAP_OK)
        return soap->error >= SOAP_STOP; /* >= SOAP_STOP: answered by one of our hooks */
    if ((soap_serve_request(soap) != SOAP_OK ||
         (soap->fserveloop != NULL && soap->fserveloop(soap) != SOAP_OK)) &&
        soap->error != SOAP_OK && soap->error < SOAP_STOP) {
        soap_send_fault(soap);
        return 0;
    }
    return 1;
}

/*
 * Serves what connection @c has for us: the TLS handshake of a new one, then
 * requests as long as their bytes are already here, then parks it with the
 * poller to wait for the next request (or ends it). A new connection starts
 * gSOAP's keep-alive countdown as soap_serve() would.
 */
static void serve_conn(sts_worker_t *w, sts_conn_t *c)
{
    struct soap *soap = w->soap;

    conn_attach(soap, c);
    if (c->served == 0 && c->ssl == NULL) {
        soap->keep_alive = soap->max_keep_alive + 1;
        if (w->conn.tls) {
            if (tls_accept(soap, w->conn.cfg) != 0)
                goto end;
            if (!conn_buffered(soap))
                goto park; /* the request is not here yet: wait for it in the poller */
        }
    }
    do {
        int go_on;
        c->served++;
        go_on = serve_one(soap);
        soap_destroy(soap);
        soap_end(soap);
        if (!go_on || !soap->keep_alive || !soap_valid_socket(soap->socket))
            goto end;
    } while (conn_buffered(soap) || conn_next_soon(w, soap));
park:
    conn_detach(soap, c);
    sts_poller_park(w->poller, c);
    return;
end:
    sts_poller_drop(w->poller, c);
    soap->keep_alive = 0; /* the connection is over: close it (and free its SSL) */
    soap_closesock(soap);
}

static void *worker_main(void *arg)
{
    sts_worker_t *w = arg;
    sts_conn_t *c;

    while ((c = sts_poller_next(w->poller, w->index)) != NULL) {
        serve_conn(w, c);
        soap_destroy(w->soap); /* what a failed handshake left (its fault struct) */
        soap_end(w->soap);
        sts_log_set_reqid(NULL);
    }
    return NULL;
}

/* With port 0 the kernel picks the port: read it back so the log line and
 * the published WSDL name the real one. */
static int bound_port(struct soap *master)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);

    if (getsockname(master->master, (struct sockaddr *)&sa, &len) != 0) {
        sts_error("getsockname: %s", strerror(errno));
        return -1;
    }
    if (sa.ss_family == AF_INET6)
        master->port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    else
        master->port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return 0;
}

static void setup_context(struct soap *soap, const sts_cfg_t *cfg)
{
    soap_set_namespaces(soap, namespaces);
    soap->bind_flags = SO_REUSEADDR;
    soap->recv_timeout = cfg->recv_timeout;
    soap->send_timeout = cfg->send_timeout;
    soap->transfer_timeout = cfg->recv_timeout * 4;
    soap->max_keep_alive = cfg->max_keep_alive;
    /* gSOAP counts the HTTP header too; the body limit itself is ours
     * (read_body_ahead), so leave room for a header of up to 64 KiB. */
    soap->recv_maxlength = (ULONG64)cfg->max_message_size + 65536;
    soap->maxlevel = (unsigned int)cfg->max_xml_depth;
    soap->maxlength = cfg->max_xml_string;
    soap->maxoccurs = 100;
    soap->fget = http_get;
    soap->fheader = header_hook;
    soap->fseterror = seterror_hook;
    soap->fserveloop = serve_loop;
}

int sts_soap_serve(sts_engine_t *engine, const sts_cfg_t *cfg, const sts_http_face_t *face)
{
    struct soap *master = NULL;
    sts_worker_t *workers = NULL;
    sts_poller_t *poller = NULL;
    char *wsdl = NULL;
    size_t wsdl_len = 0;
    int nworkers = cfg->workers, started = 0, rc = 1;
    int tls = cfg->tls_cert_file != NULL && cfg->tls_key_file != NULL, refuse_password_text;
    int rest_tls_defaulted = 0;
    const char *scheme = tls ? "https" : "http";
    char endpoint[1100], base_url[1024];
    struct sigaction sa;
    sigset_t stop_signals, old_mask;


    master = soap_new1(SOAP_C_UTFSTRING | SOAP_IO_KEEPALIVE);
    if (master == NULL)
        goto done;
    setup_context(master, cfg);
    if (tls && tls_setup(master, cfg) != 0)
        goto done;
    if (!soap_valid_socket(soap_bind(master, cfg->listen_host, cfg->listen_port, cfg->backlog))) {
        sts_error("cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                  strerror(master->errnum));
        goto done;
    }
    if (bound_port(master) < 0 || (poller = sts_poller_new(master->master, cfg, tls)) == NULL)
        goto done;
    /* The WSDL address and the REST metadata name endpoints as clients
     * reach them: behind a proxy that is server.public_url, else the address
     * we listen on. */
    if (cfg->public_url != NULL && cfg->public_url[0] != '\0') {
        if (snprintf(base_url, sizeof(base_url), "%s", cfg->public_url) >= (int)sizeof(base_url)) {
            sts_error("server.public_url is longer than %zu bytes", sizeof(base_url) - 1);
            goto done;
        }
    } else {
        snprintf(base_url, sizeof(base_url), "%s://%s%s%s:%d", scheme,
                 strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
                 strchr(cfg->listen_host, ':') ? "]" : "", master->port);
    }
    snprintf(endpoint, sizeof(endpoint), "%s/sts", base_url);
    wsdl = load_wsdl(cfg->wsdl_file, endpoint, tls, cfg->client_ca_file != NULL, &wsdl_len);
    if (wsdl == NULL)
        sts_warn("cannot read the WSDL %s: GET /sts?wsdl will answer 404", cfg->wsdl_file);
    /* soap.require_tls_for_password_text: unset, it is true on a plain HTTP
     * listener that other hosts can reach, false on loopback (development). */
    refuse_password_text = !tls && (cfg->require_tls_for_password_text == 1 ||
                                    (cfg->require_tls_for_password_text < 0 &&
                                     !sts_cfg_is_loopback(cfg->listen_host)));
    if (refuse_password_text)
        sts_notice("UsernameToken PasswordText is refused: plain HTTP%s "
                   "(soap.require_tls_for_password_text)",
                   cfg->require_tls_for_password_text < 0 ? " on a non-loopback address" : "");
    else if (!tls && !sts_cfg_is_loopback(cfg->listen_host))
        sts_warn("UsernameToken PasswordText is accepted over plain HTTP on a non-loopback "
                 "address: passwords cross the network in clear unless a TLS proxy is in front "
                 "(soap.require_tls_for_password_text is false)");
    /* The same rule for the other face's credentials and tokens (the face
     * applies it to each request, from the configuration). */
    if (face != NULL && sts_cfg_rest_requires_tls(cfg, &rest_tls_defaulted))
        sts_notice("/token, /introspect and /revoke are refused: plain HTTP%s (rest.require_tls)",
                   rest_tls_defaulted ? " on a non-loopback address" : "");
    else if (face != NULL && !tls && !sts_cfg_is_loopback(cfg->listen_host))
        sts_warn("/token, /introspect and /revoke are served over plain HTTP on a non-loopback "
                 "address: client secrets and tokens cross the network in clear unless a TLS "
                 "proxy is in front (rest.require_tls is false)");

    workers = calloc((size_t)nworkers, sizeof(*workers));
    if (workers == NULL)
        goto done;
    /* SIGTERM and SIGINT go to the main thread (the poller), whose epoll_wait
     * they interrupt: the workers start with them blocked. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    for (started = 0; started < nworkers; started++) {
        sts_worker_t *w = &workers[started];
        w->poller = poller;
        w->index = started;
        w->soap = soap_copy(master);
        w->conn.engine = engine;
        w->conn.face = face;
        w->conn.cfg = cfg;
        w->conn.wsdl = wsdl;
        w->conn.wsdl_len = wsdl_len;
        w->conn.base_url = base_url;
        w->conn.tls = tls;
        w->conn.refuse_password_text = refuse_password_text;
        w->conn.raw_cap = (size_t)cfg->max_message_size;
        w->conn.raw = malloc(w->conn.raw_cap);
        if (w->soap == NULL || w->conn.raw == NULL)
            break;
        w->soap->user = &w->conn;
        w->conn.http_parse = w->soap->fparse;
        w->soap->fparse = http_parse;
        w->conn.sock_recv = tls ? w->soap->frecv : plain_recv;
        w->soap->frecv = body_recv;
        if (!tls)
            w->soap->fsend = plain_send;
        w->conn.http_header = w->soap->fparsehdr;
        w->soap->fparsehdr = http_header;
        w->conn.http_posthdr = w->soap->fposthdr;
        w->soap->fposthdr = http_posthdr;
        w->soap->fput = w->soap->fpatch = w->soap->fdel = http_other_method;
        w->soap->fhead = w->soap->fopt = http_other_method;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (started < nworkers) {
        sts_error("cannot start worker %d", started);
        goto stop;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sts_notice("listening on %s://%s%s%s:%d (%d workers%s)", scheme,
               strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
               strchr(cfg->listen_host, ':') ? "]" : "", master->port, nworkers,
               tls ? ", TLS 1.2+" : "");

    rc = sts_poller_run(poller, &g_stop) == 0 ? 0 : 1;
    sts_notice("stopping");
stop:
    sts_poller_stop(poller);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    for (int i = 0; i < nworkers && workers; i++) {
        if (workers[i].soap != NULL) {
            workers[i].soap->user = NULL;
            soap_free(workers[i].soap);
        }
        conn_reset_request(&workers[i].conn);
        if (workers[i].conn.doc != NULL)
            xmlFreeDoc(workers[i].conn.doc);
        free(workers[i].conn.raw);
    }
done:
    sts_poller_free(poller); /* the connections no worker held: parked or queued */
    free(workers);
    free(wsdl);
    if (master != NULL) {
        soap_destroy(master);
        soap_end(master);
        soap_free(master);
    }
    return rc;
}
