/*
 * sts_rest_error.h - the one table from engine errors to OAuth 2.0 errors.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * RFC 6749 section 5.2 codes plus RFC 8693's invalid_target. The token
 * exchange and introspection answer a bad subject or actor token with
 * invalid_request (RFC 8693 section 2.2.2); the refresh_token grant answers a
 * bad grant with invalid_grant (RFC 6749 section 5.2): the grant is the
 * table's second key. Our own failures are server_error with HTTP 500, which
 * RFC 6749 defines for the authorization endpoint only (section 4.1.2.1);
 * the token endpoint uses it the same way.
 */
#ifndef STS_REST_ERROR_H
#define STS_REST_ERROR_H

#include "sts_err.h"

typedef struct sts_rest_error {
    const char *error;  /* the "error" member */
    int status;         /* HTTP status */
} sts_rest_error_t;

/**
 * @brief The OAuth error for @code; @refresh_grant selects the refresh_token
 * grant's column. NULL only for STS_OK and codes without a row.
 */
const sts_rest_error_t *sts_rest_error_of(sts_errc_t code, int refresh_grant);

#endif /* STS_REST_ERROR_H */
