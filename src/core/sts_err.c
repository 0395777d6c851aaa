/*
 * sts_err.c - error codes, their public texts and the error setter.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_err.h"

#include <stdio.h>
#include <string.h>

const char *sts_errc_str(sts_errc_t code)
{
    switch (code) {
    case STS_OK: return "Success";
    case STS_E_INVALID_REQUEST: return "The request was invalid or malformed";
    case STS_E_NOT_UNDERSTOOD: return "The specified RequestSecurityToken is not understood";
    case STS_E_AUTH_FAILED: return "Authentication failed";
    case STS_E_UNAUTHORIZED: return "The requester is not allowed to make this request";
    case STS_E_INVALID_TOKEN: return "The presented security token is invalid";
    case STS_E_EXPIRED_DATA: return "The request data is out-of-date";
    case STS_E_INVALID_LIFETIME: return "The requested time range is invalid or unsupported";
    case STS_E_INVALID_TARGET: return "The request scope is invalid or unsupported";
    case STS_E_RENEW_NEEDED: return "A renewable security token has expired";
    case STS_E_UNABLE_TO_RENEW: return "The requested renewal failed";
    case STS_E_BAD_ELEMENTS: return "Insufficient Digest Elements";
    case STS_E_REQUEST_FAILED: return "The specified request failed";
    case STS_E_TOKEN_REVOKED: return "Security token has been revoked";
    case STS_E_INVALID_SCOPE: return "The requested scope is invalid or unsupported";
    case STS_E_UNSUPPORTED_GRANT: return "The grant type is not supported";
    case STS_E_NOMEM: return "The specified request failed";
    case STS_E_INTERNAL: return "The specified request failed";
    case STS_E_CRYPTO: return "The specified request failed";
    case STS_E_BACKEND: return "The specified request failed";
    case STS_E_CONFIG: return "Configuration error";
    case STS_E_LAST: break;
    }
    return "Unknown error";
}

const char *sts_errc_name(sts_errc_t code)
{
    switch (code) {
    case STS_OK: return "STS_OK";
    case STS_E_INVALID_REQUEST: return "STS_E_INVALID_REQUEST";
    case STS_E_NOT_UNDERSTOOD: return "STS_E_NOT_UNDERSTOOD";
    case STS_E_AUTH_FAILED: return "STS_E_AUTH_FAILED";
    case STS_E_UNAUTHORIZED: return "STS_E_UNAUTHORIZED";
    case STS_E_INVALID_TOKEN: return "STS_E_INVALID_TOKEN";
    case STS_E_EXPIRED_DATA: return "STS_E_EXPIRED_DATA";
    case STS_E_INVALID_LIFETIME: return "STS_E_INVALID_LIFETIME";
    case STS_E_INVALID_TARGET: return "STS_E_INVALID_TARGET";
    case STS_E_RENEW_NEEDED: return "STS_E_RENEW_NEEDED";
    case STS_E_UNABLE_TO_RENEW: return "STS_E_UNABLE_TO_RENEW";
    case STS_E_BAD_ELEMENTS: return "STS_E_BAD_ELEMENTS";
    case STS_E_REQUEST_FAILED: return "STS_E_REQUEST_FAILED";
    case STS_E_TOKEN_REVOKED: return "STS_E_TOKEN_REVOKED";
    case STS_E_INVALID_SCOPE: return "STS_E_INVALID_SCOPE";
    case STS_E_UNSUPPORTED_GRANT: return "STS_E_UNSUPPORTED_GRANT";
    case STS_E_NOMEM: return "STS_E_NOMEM";
    case STS_E_INTERNAL: return "STS_E_INTERNAL";
    case STS_E_CRYPTO: return "STS_E_CRYPTO";
    case STS_E_BACKEND: return "STS_E_BACKEND";
    case STS_E_CONFIG: return "STS_E_CONFIG";
    case STS_E_LAST: break;
    }
    return "STS_E_UNKNOWN";
}

__attribute__((format(printf, 7, 0))) static sts_errc_t
err_fill(sts_err_t *err, sts_errc_t code, const char *pub, const char *file, int line,
         const char *func, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    snprintf(err->pub, sizeof(err->pub), "%s", pub ? pub : sts_errc_str(code));
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    err->file = file;
    err->line = line;
    err->func = func;
    return code;
}

sts_errc_t sts_err_set(sts_err_t *err, sts_errc_t code, const char *file, int line,
                       const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_fill(err, code, NULL, file, line, func, fmt, ap);
    va_end(ap);
    return code;
}

sts_errc_t sts_err_set_pub(sts_err_t *err, sts_errc_t code, const char *pub, const char *file,
                           int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_fill(err, code, pub, file, line, func, fmt, ap);
    va_end(ap);
    return code;
}

void sts_err_clear(sts_err_t *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}
