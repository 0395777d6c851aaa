/*
 * sts_rest_form.h - application/x-www-form-urlencoded request bodies.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * RFC 6749 appendix B encoding. Parameters are kept in order; nothing is
 * silently dropped: a parameter the endpoint reads once but that is repeated,
 * a value over the limit, a bad %-escape or a NUL byte is an error
 * (STS_E_INVALID_REQUEST), as RFC 6749 section 3.1 says parameters MUST NOT be
 * included more than once. Unknown parameters are kept, and endpoints ignore
 * them as RFC 6749 requires; one whose name is longer than STS_FORM_MAX_NAME
 * bytes cannot be one we know, so it is dropped (it still counts toward
 * STS_FORM_MAX_PARAMS, and its value is decoded and checked like any other).
 * Names and values must be UTF-8 (RFC 6749 appendix B).
 */
#ifndef STS_REST_FORM_H
#define STS_REST_FORM_H

#include "sts_err.h"

#include <stddef.h>

#define STS_FORM_MAX_PARAMS 64
/* Longest parameter name kept (ours are at most 20 bytes). */
#define STS_FORM_MAX_NAME 64

typedef struct sts_form_param {
    char *name;  /* NULL (and value NULL) for a dropped over-long name */
    char *value;
} sts_form_param_t;

typedef struct sts_form {
    sts_form_param_t params[STS_FORM_MAX_PARAMS];
    size_t n;
} sts_form_t;

/**
 * @brief Decode @body (not NUL-terminated, @len bytes) into @form.
 * @param max_value longest decoded value accepted, in bytes.
 * @param form caller storage, filled on success; release with sts_form_free()
 *        (also safe after a failure).
 */
sts_errc_t sts_form_parse(const char *body, size_t len, size_t max_value, sts_form_t *form,
                          sts_err_t *err);

/** @brief Release what sts_form_parse() allocated (values are wiped: they hold tokens). */
void sts_form_free(sts_form_t *form);

/** @brief How many times @name occurs. */
size_t sts_form_count(const sts_form_t *form, const char *name);

/**
 * @brief The single value of @name: *out borrowed from @form, NULL when absent.
 * @return STS_E_INVALID_REQUEST when @name is repeated, or absent and @required.
 */
sts_errc_t sts_form_one(const sts_form_t *form, const char *name, int required, const char **out,
                        sts_err_t *err);

/**
 * @brief The @i-th value of a parameter that may repeat (audience, resource):
 * borrowed, NULL past the last one.
 */
const char *sts_form_nth(const sts_form_t *form, const char *name, size_t i);

/**
 * @brief Decode one form-urlencoded string (@len bytes of @in, "+" is a space,
 * %XX a byte), e.g. the halves of an HTTP Basic credential (RFC 6749 2.3.1).
 * @return a new string (free with sts_form_free_value()), or NULL when it is
 *         malformed, longer than @max bytes decoded, holds a NUL byte, is not
 *         UTF-8, or memory runs out.
 */
char *sts_form_decode(const char *in, size_t len, size_t max);

/** @brief Wipe and free a string from sts_form_decode() (NULL is a no-op). */
void sts_form_free_value(char *value);

#endif /* STS_REST_FORM_H */
