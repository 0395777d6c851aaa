/*
 * sts_http.h - one HTTP exchange, as the server hands it to a face that is not SOAP.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The gSOAP server (src/soap) hosts the SOAP face and, on the same port, any
 * face that implements sts_http_face_t; the REST face (shim/) is one. Neither
 * includes the other: main.c hands the shim's table to the server. Plain data
 * and function pointers only: no gSOAP, no sockets, no engine types.
 */
#ifndef STS_HTTP_H
#define STS_HTTP_H

#include <stddef.h>
#include <string.h>

/** One HTTP request; every pointer borrowed from the server for the call. */
typedef struct sts_http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* request target as received, e.g. "/token" */
    const char *content_type;  /* the Content-Type value, or NULL */
    const char *authorization; /* the Authorization value, or NULL */
    int n_authorization;       /* how many Authorization header fields were received */
    const char *body;          /* @body_len bytes, not NUL-terminated; NULL when empty */
    size_t body_len;
} sts_http_request_t;

/** One HTTP response; the face that filled it releases it (response_free). */
typedef struct sts_http_response {
    int status; /* HTTP status code */
    char *body; /* owned, @body_len bytes (+ NUL), or NULL for no body */
    size_t body_len;
    const char *content_type; /* static; NULL when there is no body */
    const char *headers;      /* static extra header lines, "Name: value" joined by CRLF,
                               * no trailing CRLF; or NULL */
} sts_http_response_t;

/** What a face says about a request (serves()). */
typedef enum sts_http_route {
    STS_HTTP_NOT_OURS = 0, /* not a path of this face */
    STS_HTTP_FORM = 1,     /* a POST whose form body the server reads for the face */
    STS_HTTP_NO_BODY = 2   /* answered without a body (GET, or a wrong method: 405) */
} sts_http_route_t;

/**
 * A face served over plain HTTP. The server asks serves() first; on
 * STS_HTTP_FORM it checks framing, size and media_type_ok() itself
 * (answering through refuse()), reads the body, then calls handle(); on
 * STS_HTTP_NO_BODY it calls handle() without a body. Every response is
 * released with response_free(). All functions may run concurrently.
 */
typedef struct sts_http_face {
    sts_http_route_t (*serves)(const char *method, const char *path);
    int (*media_type_ok)(const char *content_type, const char **why);
    void (*handle)(void *ctx, const char *base_url, const sts_http_request_t *req,
                   sts_http_response_t *resp);
    void (*refuse)(const char *method, const char *path, int status, const char *why,
                   sts_http_response_t *resp);
    void (*response_free)(sts_http_response_t *resp);
} sts_http_face_t;

/**
 * How much of a request target a log line shows: the path without its query
 * ("?..."), which may hold a token or a client secret, and at most 1024
 * bytes. For "%.*s".
 */
static inline int sts_http_log_path_len(const char *path)
{
    size_t n = path != NULL ? strcspn(path, "?") : 0;
    return n > 1024 ? 1024 : (int)n;
}

#endif /* STS_HTTP_H */
