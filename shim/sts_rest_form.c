/*
 * sts_rest_form.c - application/x-www-form-urlencoded decoding (RFC 6749 B).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_rest_form.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes @len bytes of @in ("+" is a space, %XX a byte) into a new string;
 * NULL with *why set when malformed, over @max, or holding a NUL byte. */
static char *decode(const char *in, size_t len, size_t max, const char **why)
{
    char *out = malloc(len + 1);
    size_t n = 0;

    if (out == NULL) {
        *why = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(in[i + 1])) < 0 || (lo = hexval(in[i + 2])) < 0) {
                *why = "bad %-escape";
                goto fail;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            *why = "NUL byte";
            goto fail;
        }
        if (n == max) {
            *why = "value too long";
            goto fail;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
fail:
    OPENSSL_cleanse(out, len + 1);
    free(out);
    return NULL;
}

sts_errc_t sts_form_parse(const char *body, size_t len, size_t max_value, sts_form_t *form,
                          sts_err_t *err)
{
    const char *p = body, *end = body + len, *why = NULL;

    memset(form, 0, sizeof(*form));
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        sts_form_param_t *prm;

        if (stop == p) { /* empty pair ("a=1&&b=2"): nothing to keep */
            p = stop + 1;
            continue;
        }
        if (form->n == STS_FORM_MAX_PARAMS)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "more than %d parameters",
                           STS_FORM_MAX_PARAMS);
        if (eq == p)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter without a name");
        prm = &form->params[form->n];
        prm->name = decode(p, (size_t)((eq ? eq : stop) - p), 64, &why);
        if (prm->name == NULL)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter name: %s", why);
        form->n++;
        prm->value = eq ? decode(eq + 1, (size_t)(stop - eq - 1), max_value, &why)
                        : decode("", 0, max_value, &why);
        if (prm->value == NULL)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter %s: %s", prm->name, why);
        p = amp ? amp + 1 : end;
    }
    return STS_OK;
}

char *sts_form_decode(const char *in, size_t len, size_t max)
{
    const char *why = NULL;
    return decode(in, len, max, &why);
}

void sts_form_free_value(char *value)
{
    if (value == NULL)
        return;
    OPENSSL_cleanse(value, strlen(value));
    free(value);
}

void sts_form_free(sts_form_t *form)
{
    for (size_t i = 0; i < form->n; i++) {
        free(form->params[i].name);
        if (form->params[i].value != NULL) {
            OPENSSL_cleanse(form->params[i].value, strlen(form->params[i].value));
            free(form->params[i].value);
        }
    }
    memset(form, 0, sizeof(*form));
}

size_t sts_form_count(const sts_form_t *form, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < form->n; i++)
        n += strcmp(form->params[i].name, name) == 0;
    return n;
}

const char *sts_form_nth(const sts_form_t *form, const char *name, size_t nth)
{
    for (size_t i = 0; i < form->n; i++)
        if (strcmp(form->params[i].name, name) == 0 && nth-- == 0)
            return form->params[i].value;
    return NULL;
}

sts_errc_t sts_form_one(const sts_form_t *form, const char *name, int required, const char **out,
                        sts_err_t *err)
{
    size_t n = sts_form_count(form, name);

    *out = NULL;
    if (n > 1)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter %s repeated", name);
    if (n == 0)
        return required ? STS_ERR(err, STS_E_INVALID_REQUEST, "parameter %s missing", name)
                        : STS_OK;
    *out = sts_form_nth(form, name, 0);
    return STS_OK;
}
