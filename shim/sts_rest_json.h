/*
 * sts_rest_json.h - the REST face's JSON documents (internal to shim/).
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Encoders only: each takes what the engine returned and writes the members
 * the RFCs name, compact, in a fixed order. No decisions are made here.
 * Every function returns a new NUL-terminated string of *len bytes (free with
 * sts_rest_json_free(), which wipes it), or NULL when memory runs out.
 */
#ifndef STS_REST_JSON_H
#define STS_REST_JSON_H

#include "sts_engine.h"

#include <stddef.h>

/** RFC 6749 5.2: {"error": @error, "error_description": @description}; a
 *  description with characters outside %x20-21/%x23-5B/%x5D-7E is left out. */
char *sts_rest_json_error(const char *error, const char *description, size_t *len);

/**
 * RFC 8693 2.2.1 / RFC 6749 5.1 success response for @is. @requested_scope
 * (NULL when none) decides whether "scope" is echoed: it is when the granted
 * scope differs from it.
 */
char *sts_rest_json_token(const sts_issued_t *is, const char *requested_scope, size_t *len);

/** RFC 7662 2.2 response: {"active":false} unless @active; else "active":true
 *  and the members @view has (@view may be NULL: then "active" alone). */
char *sts_rest_json_introspection(const sts_token_view_t *view, int active, size_t *len);

/** RFC 8414 2 metadata for the endpoints under @base_url. */
char *sts_rest_json_metadata(const sts_cfg_t *cfg, const char *base_url, size_t *len);

/** @brief Wipe and free a string from these encoders (NULL is a no-op). */
void sts_rest_json_free(char *json);

#endif /* STS_REST_JSON_H */
