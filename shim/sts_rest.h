/*
 * sts_rest.h - the RFC 8693 face: OAuth 2.0 endpoints over one engine.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Translates HTTP requests (form bodies, client authentication) into engine
 * calls and engine answers into JSON: token exchange and the refresh_token
 * grant (RFC 8693, RFC 6749) at /token, introspection (RFC 7662), revocation
 * (RFC 7009), authorization server metadata (RFC 8414) and the JWKS. It checks
 * the wire only (methods, media types, parameter presence and repetition,
 * client authentication framing); the engine verifies tokens and decides.
 *
 * Transport-neutral: no gSOAP, no sockets. A server hands in one complete
 * request (body already read and de-chunked within its own size limit) and
 * writes out the response it gets back.
 *
 * Thread-safety: sts_rest_handle() may run concurrently on one engine.
 */
#ifndef STS_REST_H
#define STS_REST_H

#include "sts_engine.h"
#include "sts_http.h"

#include <stddef.h>

/* RFC 8693 section 2.1 grant type; RFC 6749 section 6 is plain "refresh_token". */
#define STS_REST_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define STS_REST_GRANT_REFRESH "refresh_token"

/*
 * Longest decoded value of one form parameter. A base64url SAML assertion
 * with a few attributes is 8-16 KiB and a JWT with a deep "act" chain a few
 * KiB; 64 KiB leaves room for both and bounds what one parameter may cost.
 * The body as a whole is bounded by server.max_message_size before the shim
 * sees it.
 */
#define STS_REST_MAX_VALUE (64 * 1024)

/**
 * @brief Whether this face answers @method on @path (exact, case-sensitive
 * path; a query string makes it another path, except on /token, /introspect
 * and /revoke, where sts_rest_handle() refuses it: RFC 6749 3.2 puts the
 * parameters in the body). Servers route on it: on
 * STS_HTTP_FORM they read the body (refusing bad framing, sizes and
 * non-form media types themselves, see sts_rest_refuse()), then call
 * sts_rest_handle(); on STS_HTTP_NO_BODY they call it without a body.
 */
sts_http_route_t sts_rest_serves(const char *method, const char *path);

/**
 * @brief Whether @content_type (NULL when absent) is one our form endpoints
 * take: application/x-www-form-urlencoded, with no charset or charset=UTF-8
 * (RFC 6749 appendix B), other parameters ignored. Servers may check it before
 * reading a body (answering 415 through sts_rest_refuse()); sts_rest_handle()
 * checks it again.
 * @param why set to a static reason (for logs) when the answer is 0.
 * @return 1 if acceptable, else 0.
 */
int sts_rest_form_media_type(const char *content_type, const char **why);

/**
 * @brief Answer @req. The POST endpoints refuse, before anything else is
 * read, a request over plain HTTP when sts_cfg_rest_requires_tls() says so,
 * and one with a query string.
 * @param base_url scheme://host[:port] of the endpoints as clients reach them
 *        (no trailing '/'), for the metadata document.
 * @param resp filled on return (always: errors are responses); release with
 *        sts_rest_response_free().
 */
void sts_rest_handle(sts_engine_t *engine, const char *base_url, const sts_http_request_t *req,
                     sts_http_response_t *resp);

/**
 * @brief The response to a request the server refused before reading its
 * body (HTTP @status: 400, 411, 413, 415 ...) on one of our form endpoints:
 * an OAuth invalid_request JSON body with the no-store headers.
 * @param why for the log only.
 */
void sts_rest_refuse(const char *method, const char *path, int status, const char *why,
                     sts_http_response_t *resp);

/** @brief Release what a response owns (the body is wiped: it may hold tokens). */
void sts_rest_response_free(sts_http_response_t *resp);

/** @brief This face as the server hosts it (handle()'s ctx is the sts_engine_t). */
const sts_http_face_t *sts_rest_face(void);

#endif /* STS_REST_H */
