/*
 * sts_err.h - the one error type that travels from the engine to both faces.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Codes are append-only: never renumber or remove one (retire it as
 * STS_E_OBSOLETE_n). Each face maps them in exactly one table:
 * src/soap/sts_soap_fault.c (WS-Trust faults) and shim/ (OAuth errors).
 * The first line of each code's comment is its default public text.
 */
#ifndef STS_ERR_H
#define STS_ERR_H

#include <stdarg.h>

typedef enum sts_errc {
    STS_OK = 0,
    /** The request was invalid or malformed. */
    STS_E_INVALID_REQUEST = 1,
    /** The request is not understood (unsupported token or key type). */
    STS_E_NOT_UNDERSTOOD = 2,
    /** Authentication failed. */
    STS_E_AUTH_FAILED = 3,
    /** The requester is not allowed to make this request. */
    STS_E_UNAUTHORIZED = 4,
    /** The presented security token is invalid. */
    STS_E_INVALID_TOKEN = 5,
    /** The request data is out-of-date. */
    STS_E_EXPIRED_DATA = 6,
    /** The requested time range is invalid or unsupported. */
    STS_E_INVALID_LIFETIME = 7,
    /** The request scope (AppliesTo, audience) is invalid or unsupported. */
    STS_E_INVALID_TARGET = 8,
    /** A renewable security token has expired. */
    STS_E_RENEW_NEEDED = 9,
    /** The requested renewal failed. */
    STS_E_UNABLE_TO_RENEW = 10,
    /** Insufficient digest elements. */
    STS_E_BAD_ELEMENTS = 11,
    /** The specified request failed. */
    STS_E_REQUEST_FAILED = 12,
    /** The security token has been revoked. */
    STS_E_TOKEN_REVOKED = 13,
    /** The requested scope is invalid or exceeds what is allowed. */
    STS_E_INVALID_SCOPE = 14,
    /** The grant type is not supported. */
    STS_E_UNSUPPORTED_GRANT = 15,
    /** Out of memory. */
    STS_E_NOMEM = 16,
    /** Internal error. */
    STS_E_INTERNAL = 17,
    /** Cryptographic operation failed. */
    STS_E_CRYPTO = 18,
    /** The token store failed. */
    STS_E_BACKEND = 19,
    /** Configuration error. */
    STS_E_CONFIG = 20,
    STS_E_LAST /* never use */
} sts_errc_t;

/**
 * Error details. @pub may be shown to the peer; @detail is for logs only.
 */
typedef struct sts_err {
    sts_errc_t code;
    char pub[128];
    char detail[256];
    const char *file;
    const char *func;
    int line;
} sts_err_t;

/** @brief Default public text of @code (static string, never NULL). */
const char *sts_errc_str(sts_errc_t code);

/** @brief Stable symbolic name of @code, e.g. "STS_E_INVALID_TOKEN". */
const char *sts_errc_name(sts_errc_t code);

/**
 * @brief Fill @err (may be NULL) and return @code.
 * @pub is the default text of the code; @detail is formatted from @fmt.
 */
sts_errc_t sts_err_set(sts_err_t *err, sts_errc_t code, const char *file, int line,
                       const char *func, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/** @brief Same as sts_err_set() but with an explicit public text. */
sts_errc_t sts_err_set_pub(sts_err_t *err, sts_errc_t code, const char *pub, const char *file,
                           int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/** @brief Reset @err to STS_OK. */
void sts_err_clear(sts_err_t *err);

#define STS_ERR(err, code, ...) sts_err_set((err), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define STS_ERR_PUB(err, code, pub, ...)                                                           \
    sts_err_set_pub((err), (code), (pub), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* goto-cleanup helpers: need `sts_errc_t rc` and a `cleanup:` label in scope. */
#define STS_CHECK(call)                                                                            \
    do {                                                                                           \
        if ((rc = (call)) != STS_OK)                                                               \
            goto cleanup;                                                                          \
    } while (0)
#define STS_FAIL_IF(cond, err, code, ...)                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            rc = STS_ERR((err), (code), __VA_ARGS__);                                              \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#endif /* STS_ERR_H */
