/*
 * sts_rest_error.c - engine error -> OAuth error and HTTP status, one table.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_rest_error.h"

#include <stddef.h>

typedef struct rest_row {
    sts_errc_t code;
    sts_rest_error_t exchange; /* token exchange, introspection, revocation */
    sts_rest_error_t refresh;  /* grant_type=refresh_token */
} rest_row_t;

#define REQ {"invalid_request", 400}
#define GRANT {"invalid_grant", 400}
#define SERVER {"server_error", 500}

static const rest_row_t rest_table[] = {
    {STS_E_INVALID_REQUEST, REQ, REQ},
    {STS_E_NOT_UNDERSTOOD, REQ, REQ},
    {STS_E_AUTH_FAILED, {"invalid_client", 401}, {"invalid_client", 401}},
    {STS_E_UNAUTHORIZED, {"unauthorized_client", 400}, {"unauthorized_client", 400}},
    {STS_E_INVALID_TOKEN, REQ, GRANT},
    {STS_E_EXPIRED_DATA, REQ, GRANT},
    {STS_E_INVALID_LIFETIME, REQ, REQ},
    {STS_E_INVALID_TARGET, {"invalid_target", 400}, {"invalid_target", 400}},
    {STS_E_RENEW_NEEDED, GRANT, GRANT},
    {STS_E_UNABLE_TO_RENEW, GRANT, GRANT},
    {STS_E_BAD_ELEMENTS, REQ, REQ},
    {STS_E_REQUEST_FAILED, REQ, GRANT},
    {STS_E_TOKEN_REVOKED, REQ, GRANT},
    {STS_E_INVALID_SCOPE, {"invalid_scope", 400}, {"invalid_scope", 400}},
    {STS_E_UNSUPPORTED_GRANT, {"unsupported_grant_type", 400}, {"unsupported_grant_type", 400}},
    {STS_E_NOMEM, SERVER, SERVER},
    {STS_E_INTERNAL, SERVER, SERVER},
    {STS_E_CRYPTO, SERVER, SERVER},
    {STS_E_BACKEND, SERVER, SERVER},
    {STS_E_CONFIG, SERVER, SERVER},
};

const sts_rest_error_t *sts_rest_error_of(sts_errc_t code, int refresh_grant)
{
    for (size_t i = 0; i < sizeof(rest_table) / sizeof(rest_table[0]); i++)
        if (rest_table[i].code == code)
            return refresh_grant ? &rest_table[i].refresh : &rest_table[i].exchange;
    return NULL;
}
