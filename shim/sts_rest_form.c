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

/* Whether the @n bytes of @s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

/* Decodes @len bytes of @in ("+" is a space, %XX a byte) into a new string;
 * NULL with *why set when malformed, over @max, holding a NUL byte, or not
 * UTF-8 (RFC 6749 appendix B: the octets are UTF-8). */
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
    if (!utf8_ok((const unsigned char *)out, n)) {
        *why = "not UTF-8";
        goto fail;
    }
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
        /* A name is bounded by the body alone: an over-long one is dropped below. */
        prm->name = decode(p, (size_t)((eq ? eq : stop) - p), (size_t)-1, &why);
        if (prm->name == NULL)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter name: %s", why);
        form->n++;
        prm->value = eq ? decode(eq + 1, (size_t)(stop - eq - 1), max_value, &why)
                        : decode("", 0, max_value, &why);
        if (prm->value == NULL)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "parameter %.64s%s: %s", prm->name,
                           strlen(prm->name) > STS_FORM_MAX_NAME ? "..." : "", why);
        /* No parameter we know has a name this long: it is an unknown one,
         * ignored (RFC 6749 3.1, 3.2), but it still counted above. */
        if (strlen(prm->name) > STS_FORM_MAX_NAME) {
            free(prm->name);
            prm->name = NULL;
            OPENSSL_cleanse(prm->value, strlen(prm->value));
            free(prm->value);
            prm->value = NULL;
        }
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
        n += form->params[i].name != NULL && strcmp(form->params[i].name, name) == 0;
    return n;
}

const char *sts_form_nth(const sts_form_t *form, const char *name, size_t nth)
{
    for (size_t i = 0; i < form->n; i++)
        if (form->params[i].name != NULL && strcmp(form->params[i].name, name) == 0 &&
            nth-- == 0)
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
