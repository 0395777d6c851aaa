/*
 * sts_cfg.c - load, validate and free the STS configuration.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) the STS authors
 *
 * Owns the JSON configuration format (docs/config.md): defaults -> one JSON
 * file (plus an optional users file) -> cross-field checks -> an immutable
 * sts_cfg_t. Every error names FILE:LINE:COLUMN. jansson parses and keeps
 * values but not where object keys are, so a small scanner over the raw text
 * maps a JSON path ("users[0].attributes") to the line and column of its key;
 * it runs only when there is an error to report. This module does not open
 * keys, certificates or stores: it only names them.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "sts_cfg.h"

#include "sts_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STS_DEV_CERTS_DIR
#error "STS_DEV_CERTS_DIR must name the development certs/ directory"
#endif
#ifndef STS_DEV_WSDL
#error "STS_DEV_WSDL must name wsdl/sts.wsdl"
#endif

#define CFG_EMBEDDED_SOURCE "<embedded default>"
#define CFG_MAX_FILE (64L * 1024 * 1024) /* bytes of a config or users file */
#define CFG_PATH_MAX 1024                /* bytes of a JSON path in messages */
#define CFG_SCAN_MAX_DEPTH 2048          /* jansson's own nesting limit */
#define CFG_MAX_LIFETIME 2592000L        /* 30 days */
#define CFG_USER_NAME_MAX 256            /* characters */
#define CFG_CLIENT_ID_MAX 128            /* characters */
#define CFG_KID_MAX 128                  /* characters of a trusted issuer's kid */
#define CFG_MAX_EXTRA_KEYS 8             /* entries of engine.additional_signing_keys */
#define CFG_TLS_CIPHERS_MAX 1024         /* bytes of server.tls_ciphers */

/* The values a client's "token_types" and "grant_types" may list. */
#define CFG_TT_PREFIX "urn:ietf:params:oauth:token-type:"
#define CFG_TT_ACCESS_TOKEN CFG_TT_PREFIX "access_token"
#define CFG_TT_JWT CFG_TT_PREFIX "jwt"
#define CFG_GT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"

/*
 * The demo realm used when no config file is given. Loaded through the same
 * parser as a file, so it is validated too; relative paths resolve against
 * sts_cfg_dev_certs_dir(). alice's password is "wonderland": password_hash was
 * made with sts_password_hash() and digest_secret with sts_seal() under
 * certs/dev-secrets.key. After `certs/make-dev-pki.sh --force` the secret must
 * be resealed (`sts passwd --digest`) and pasted here (see certs/README.md).
 * The demo OAuth client migration-tester's secret is "s3cret"; its
 * secret_hash was made with `sts passwd` (sts_password_hash()). JWTs for
 * https://api.example.com/ are signed with the EC development key.
 */
static const char embedded_json[] =
    "{\n"
    "  \"server\": {\n"
    "    \"listen\": \"127.0.0.1:8080\"\n"
    "  },\n"
    "  \"engine\": {\n"
    "    \"issuer\": \"https://sts.example.com/\",\n"
    "    \"signing_key\": \"sts-signing.key\",\n"
    "    \"signing_cert\": \"sts-signing.crt\",\n"
    "    \"additional_signing_keys\": [{\"key\": \"sts-signing-ec.key\", "
    "\"cert\": \"sts-signing-ec.crt\"}],\n"
    "    \"secrets_key\": \"dev-secrets.key\"\n"
    "  },\n"
    "  \"users\": [\n"
    "    {\n"
    "      \"name\": \"alice\",\n"
    "      \"password_hash\": "
    "\"$y$j9T$xSLkU4/TMywYzBVcUsr3w.$11iZ4FG//tHMIQ5ZGhz7KhtAPCOx7vPprizPPsTxrP5\",\n"
    "      \"digest_secret\": \"v1:OyLGPpLrp0SlrhJgJoNBNqOR1i2o+8PYEcAmchOQTQ/VwbAbR0A=\",\n"
    "      \"attributes\": {\n"
    "        \"email\": \"alice@example.com\",\n"
    "        \"displayName\": \"Alice Liddell\",\n"
    "        \"role\": \"doctor\"\n"
    "      }\n"
    "    }\n"
    "  ],\n"
    "  \"relying_parties\": [\n"
    "    {\"applies_to\": \"https://rp.example.com/\", \"match\": \"exact\"},\n"
    "    {\"applies_to\": \"https://api.example.com/\", \"match\": \"exact\", "
    "\"signing_alg\": \"ES256\"}\n"
    "  ],\n"
    "  \"clients\": [\n"
    "    {\n"
    "      \"client_id\": \"migration-tester\",\n"
    "      \"secret_hash\": "
    "\"$y$j9T$.hgUxYKJb9nw7KRn51Xg40$I3bXyayypYj7G2OeqD/g3jDMTuB4lCaB8wLL5Jlu9m0\",\n"
    "      \"audiences\": [\"https://rp.example.com/\", \"https://api.example.com/\"],\n"
    "      \"scopes\": [\"openid\", \"profile\", \"email\", \"api.read\", \"api.write\"],\n"
    "      \"token_types\": [\n"
    "        \"urn:ietf:params:oauth:token-type:access_token\",\n"
    "        \"urn:ietf:params:oauth:token-type:jwt\",\n"
    "        \"urn:ietf:params:oauth:token-type:saml2\",\n"
    "        \"urn:ietf:params:oauth:token-type:saml1\",\n"
    "        \"urn:ietf:params:oauth:token-type:refresh_token\"\n"
    "      ],\n"
    "      \"grant_types\": [\"urn:ietf:params:oauth:grant-type:token-exchange\", "
    "\"refresh_token\"]\n"
    "    }\n"
    "  ]\n"
    "}\n";

/* ------------------------------------------------------------------------- */
/* JSON paths: "server.listen", "users[0].attributes.role[1]"; "" is the root */

typedef struct cfg_path {
    char s[CFG_PATH_MAX];
    size_t len;
    int trunc; /* a segment did not fit: the path names nothing */
} cfg_path_t;

typedef struct cfg_mark {
    size_t len;
    int trunc;
} cfg_mark_t;

static cfg_mark_t path_key(cfg_path_t *p, const char *key, size_t klen)
{
    cfg_mark_t m = {p->len, p->trunc};
    size_t need = klen + (p->len > 0 ? 1 : 0);

    if (p->trunc || p->len + need >= sizeof(p->s)) {
        p->trunc = 1;
        return m;
    }
    if (p->len > 0)
        p->s[p->len++] = '.';
    memcpy(p->s + p->len, key, klen);
    p->len += klen;
    p->s[p->len] = '\0';
    return m;
}

static cfg_mark_t path_index(cfg_path_t *p, size_t idx)
{
    cfg_mark_t m = {p->len, p->trunc};
    int n;

    if (p->trunc)
        return m;
    n = snprintf(p->s + p->len, sizeof(p->s) - p->len, "[%zu]", idx);
    if (n < 0 || (size_t)n >= sizeof(p->s) - p->len) {
        p->s[p->len] = '\0';
        p->trunc = 1;
        return m;
    }
    p->len += (size_t)n;
    return m;
}

static void path_restore(cfg_path_t *p, cfg_mark_t m)
{
    p->len = m.len;
    p->trunc = m.trunc;
    p->s[p->len] = '\0';
}

/* ------------------------------------------------------------------------- */
/* Position scanner: raw JSON text -> (path, line, column) of every key and  */
/* array element. Columns count characters (not bytes) from 1, as jansson.   */

typedef struct scan_ent {
    char *path;
    size_t keyoff; /* for keys: where the key starts in @path */
    size_t end;    /* byte offset just past the key's closing quote (keys) */
    int line;
    int col;
    int is_key;
} scan_ent_t;

typedef struct scanner {
    const char *s;
    size_t len;
    size_t pos;
    int line;
    int col; /* column of the last character consumed */
    cfg_path_t path;
    char *kbuf; /* decoded key */
    size_t klen;
    size_t kcap;
    scan_ent_t *ents;
    size_t nents;
    size_t cap;
} scanner_t;

static void scan_adv(scanner_t *sc)
{
    unsigned char c = (unsigned char)sc->s[sc->pos++];

    if (c == '\n') {
        sc->line++;
        sc->col = 0;
    } else if ((c & 0xC0) != 0x80) { /* first byte of a UTF-8 character */
        sc->col++;
    }
}

static int scan_peek(const scanner_t *sc)
{
    return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void scan_ws(scanner_t *sc)
{
    int c;

    while ((c = scan_peek(sc)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        scan_adv(sc);
}

static int scan_record(scanner_t *sc, int line, int col, int is_key, size_t keyoff)
{
    scan_ent_t *e;

    if (sc->path.trunc)
        return 0;
    if (sc->nents == sc->cap) {
        size_t ncap = sc->cap ? 2 * sc->cap : 64;
        scan_ent_t *n = realloc(sc->ents, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        sc->ents = n;
        sc->cap = ncap;
    }
    e = &sc->ents[sc->nents];
    e->path = strdup(sc->path.s);
    if (e->path == NULL)
        return -1;
    e->keyoff = keyoff;
    e->end = sc->pos;
    e->line = line;
    e->col = col;
    e->is_key = is_key;
    sc->nents++;
    return 0;
}

static int scan_kput(scanner_t *sc, unsigned char c)
{
    if (sc->klen + 1 >= sc->kcap) {
        size_t ncap = sc->kcap ? 2 * sc->kcap : 64;
        char *n = realloc(sc->kbuf, ncap);
        if (n == NULL)
            return -1;
        sc->kbuf = n;
        sc->kcap = ncap;
    }
    sc->kbuf[sc->klen++] = (char)c;
    return 0;
}

static int scan_hex4(scanner_t *sc, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        int c = scan_peek(sc);
        if (c >= '0' && c <= '9')
            v = v * 16 + (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (unsigned)(c - 'A' + 10);
        else
            return -1;
        scan_adv(sc);
    }
    *out = v;
    return 0;
}

/* Consume a string (at its opening quote); when @keep, decode it into kbuf. */
static int scan_string(scanner_t *sc, int keep)
{
    sc->klen = 0;
    scan_adv(sc); /* opening quote */
    for (;;) {
        int c = scan_peek(sc);
        unsigned cp, lo;

        if (c < 0x20) /* end of input or a raw control character */
            return -1;
        scan_adv(sc);
        if (c == '"')
            break;
        if (c != '\\') {
            if (keep && scan_kput(sc, (unsigned char)c) != 0)
                return -1;
            continue;
        }
        c = scan_peek(sc);
        if (c < 0)
            return -1;
        scan_adv(sc);
        switch (c) {
        case '"': case '\\': case '/': cp = (unsigned)c; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (scan_hex4(sc, &cp) != 0)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (scan_peek(sc) != '\\')
                    return -1;
                scan_adv(sc);
                if (scan_peek(sc) != 'u')
                    return -1;
                scan_adv(sc);
                if (scan_hex4(sc, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            break;
        default: return -1;
        }
        if (!keep)
            continue;
        if (cp < 0x80) {
            if (scan_kput(sc, (unsigned char)cp) != 0)
                return -1;
        } else if (cp < 0x800) {
            if (scan_kput(sc, (unsigned char)(0xC0 | cp >> 6)) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | (cp & 0x3F))) != 0)
                return -1;
        } else if (cp < 0x10000) {
            if (scan_kput(sc, (unsigned char)(0xE0 | cp >> 12)) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | ((cp >> 6) & 0x3F))) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | (cp & 0x3F))) != 0)
                return -1;
        } else {
            if (scan_kput(sc, (unsigned char)(0xF0 | cp >> 18)) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | ((cp >> 12) & 0x3F))) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | ((cp >> 6) & 0x3F))) != 0 ||
                scan_kput(sc, (unsigned char)(0x80 | (cp & 0x3F))) != 0)
                return -1;
        }
    }
    return 0;
}

/*
 * One JSON value at sc->pos whose path is sc->path. Returns -1 on a syntax
 * error or the end of input; what was recorded until then stays valid.
 */
static int scan_value(scanner_t *sc, int depth)
{
    int c;

    if (depth > CFG_SCAN_MAX_DEPTH)
        return -1;
    scan_ws(sc);
    c = scan_peek(sc);
    if (c == '{') {
        scan_adv(sc);
        scan_ws(sc);
        if (scan_peek(sc) == '}') {
            scan_adv(sc);
            return 0;
        }
        for (;;) {
            int line, col;
            size_t keyoff;
            cfg_mark_t m;

            scan_ws(sc);
            if (scan_peek(sc) != '"')
                return -1;
            line = sc->line;
            col = sc->col + 1;
            if (scan_string(sc, 1) != 0)
                return -1;
            keyoff = sc->path.len + (sc->path.len > 0 ? 1 : 0);
            m = path_key(&sc->path, sc->kbuf ? sc->kbuf : "", sc->klen);
            if (scan_record(sc, line, col, 1, keyoff) != 0)
                return -1;
            scan_ws(sc);
            if (scan_peek(sc) != ':')
                return -1;
            scan_adv(sc);
            if (scan_value(sc, depth + 1) != 0)
                return -1;
            path_restore(&sc->path, m);
            scan_ws(sc);
            c = scan_peek(sc);
            if (c < 0 || (c != ',' && c != '}'))
                return -1;
            scan_adv(sc);
            if (c == '}')
                return 0;
        }
    }
    if (c == '[') {
        scan_adv(sc);
        scan_ws(sc);
        if (scan_peek(sc) == ']') {
            scan_adv(sc);
            return 0;
        }
        for (size_t idx = 0;; idx++) {
            cfg_mark_t m;

            scan_ws(sc);
            m = path_index(&sc->path, idx);
            if (scan_record(sc, sc->line, sc->col + 1, 0, 0) != 0)
                return -1;
            if (scan_value(sc, depth + 1) != 0)
                return -1;
            path_restore(&sc->path, m);
            scan_ws(sc);
            c = scan_peek(sc);
            if (c < 0 || (c != ',' && c != ']'))
                return -1;
            scan_adv(sc);
            if (c == ']')
                return 0;
        }
    }
    if (c == '"')
        return scan_string(sc, 0);
    /* number, true, false, null: their syntax is jansson's business */
    {
        size_t start = sc->pos;
        while ((c = scan_peek(sc)) >= 0 && c != ',' && c != '}' && c != ']' && c != ' ' &&
               c != '\t' && c != '\n' && c != '\r')
            scan_adv(sc);
        return sc->pos > start ? 0 : -1;
    }
}

/* ------------------------------------------------------------------------- */
/* Sources: the config file, the users file, or the embedded text            */

typedef struct cfg_src {
    char *name;     /* as given, for messages */
    char *text;     /* raw JSON */
    size_t len;
    char *base_dir; /* relative paths in this source resolve here */
    json_t *root;
    scan_ent_t *ents; /* positions, scanned on first error */
    size_t nents;
    int scanned;
} cfg_src_t;

static void src_cleanup(cfg_src_t *src)
{
    for (size_t i = 0; i < src->nents; i++)
        free(src->ents[i].path);
    free(src->ents);
    json_decref(src->root);
    free(src->base_dir);
    free(src->text);
    free(src->name);
    memset(src, 0, sizeof(*src));
}

/* Scan src->text[0..len) once; a failed scan leaves whatever it found. */
static void src_scan(cfg_src_t *src, size_t len)
{
    scanner_t sc;

    if (src->scanned)
        return;
    memset(&sc, 0, sizeof(sc));
    sc.s = src->text;
    sc.len = len;
    sc.line = 1;
    if (scan_record(&sc, 1, 1, 0, 0) == 0) /* the root */
        (void)scan_value(&sc, 0);
    free(sc.kbuf);
    src->ents = sc.ents;
    src->nents = sc.nents;
    src->scanned = 1;
}

static const scan_ent_t *src_find(cfg_src_t *src, const char *path)
{
    src_scan(src, src->len);
    for (size_t i = 0; i < src->nents; i++)
        if (strcmp(src->ents[i].path, path) == 0)
            return &src->ents[i];
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Validation context and error reporting                                    */

typedef struct cfg_origin {
    cfg_src_t *src;
    size_t idx; /* index in that source's "users" or "relying_parties" */
} cfg_origin_t;

typedef struct cfg_ctx {
    sts_cfg_t *cfg;
    cfg_src_t *src; /* the source being read */
    cfg_path_t path;
    cfg_origin_t *uorig; /* parallel to cfg->users */
    sts_err_t *err;
    sts_errc_t rc;
} cfg_ctx_t;

static int cfg_oom(cfg_ctx_t *ctx)
{
    ctx->rc = STS_ERR(ctx->err, STS_E_NOMEM, "configuration: out of memory");
    return -1;
}

/* The one place that formats "FILE:LINE:COL: message" (line <= 0: "FILE: message"). */
static int cfg_report(cfg_ctx_t *ctx, const char *name, int line, int col, const char *msg)
{
    /* Room for the longest @msg (a duplicate path, CFG_PATH_MAX + 64) so that
     * GCC's -Wformat-truncation (on in Release builds) has nothing to say. */
    char text[CFG_PATH_MAX + 512];

    if (line > 0)
        snprintf(text, sizeof(text), "%s:%d:%d: %s", name, line, col, msg);
    else
        snprintf(text, sizeof(text), "%s: %s", name, msg);
    /* err->detail keeps the first 255 bytes; that is enough for any real path */
    ctx->rc = STS_ERR_PUB(ctx->err, STS_E_CONFIG, text, "%s", text);
    return -1;
}

/* Report @msg at the first of @paths (NULL-terminated) found in @src. */
static int cfg_fail_vat(cfg_ctx_t *ctx, cfg_src_t *src, const char *const *paths, const char *fmt,
                        va_list ap) __attribute__((format(printf, 4, 0)));
static int cfg_fail_vat(cfg_ctx_t *ctx, cfg_src_t *src, const char *const *paths, const char *fmt,
                        va_list ap)
{
    char msg[256];
    const scan_ent_t *e = NULL;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (; paths != NULL && *paths != NULL && e == NULL; paths++)
        e = src_find(src, *paths);
    return cfg_report(ctx, src->name, e ? e->line : 0, e ? e->col : 0, msg);
}

static int cfg_fail_at(cfg_ctx_t *ctx, cfg_src_t *src, const char *const *paths, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static int cfg_fail_at(cfg_ctx_t *ctx, cfg_src_t *src, const char *const *paths, const char *fmt,
                       ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = cfg_fail_vat(ctx, src, paths, fmt, ap);
    va_end(ap);
    return r;
}

/* Report @msg at the key of the value being read (ctx->path). */
static int cfg_fail(cfg_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfg_fail(cfg_ctx_t *ctx, const char *fmt, ...)
{
    const char *paths[] = {ctx->path.trunc ? NULL : ctx->path.s, NULL};
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = cfg_fail_vat(ctx, ctx->src, paths, fmt, ap);
    va_end(ap);
    return r;
}

/* Report @key, a member of the object at ctx->path, as unknown: at the key itself. */
static int cfg_unknown_key(cfg_ctx_t *ctx, const char *key)
{
    char parent[CFG_PATH_MAX];
    cfg_mark_t m;
    int r;

    snprintf(parent, sizeof(parent), "%s", ctx->path.s);
    m = path_key(&ctx->path, key, strlen(key));
    if (parent[0] == '\0')
        r = cfg_fail(ctx, "unknown key \"%s\" at the top level", key);
    else
        r = cfg_fail(ctx, "unknown key \"%s\" in \"%s\"", key, parent);
    path_restore(&ctx->path, m);
    return r;
}

/* Report "\"<path>.<key>\" <message>" at member @key of the object at ctx->path. */
static int cfg_fail_member(cfg_ctx_t *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_fail_member(cfg_ctx_t *ctx, const char *key, const char *fmt, ...)
{
    char msg[256];
    cfg_mark_t m;
    va_list ap;
    int r;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    m = path_key(&ctx->path, key, strlen(key));
    r = cfg_fail(ctx, "\"%s\" %s", ctx->path.s, msg);
    path_restore(&ctx->path, m);
    return r;
}

static int cfg_missing_key(cfg_ctx_t *ctx, const char *key)
{
    if (ctx->path.len == 0)
        return cfg_fail(ctx, "missing required key \"%s\"", key);
    return cfg_fail(ctx, "missing required key \"%s\" in \"%s\"", key, ctx->path.s);
}

/* ------------------------------------------------------------------------- */
/* Value checks: validators return a message, NULL when the value is fine   */

static const char *v_uri(const char *s)
{
    const char *p = s;

    /* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return "must be an absolute URI (scheme:...)";
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':' || p[1] == '\0')
        return "must be an absolute URI (scheme:...)";
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return "must be an absolute URI without spaces or control characters";
    return NULL;
}

/* RFC 6749 sec. 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
static const char *v_scope(const char *s)
{
    const char *p = s;

    for (; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\')
            break;
    if (p == s || *p != '\0')
        return "must be a scope token (RFC 6749 sec. 3.3): printable ASCII characters except "
               "space, '\"' and '\\'";
    return NULL;
}

/* RFC 8693 sec. 3 token type identifiers that a client may request. */
static const char *v_token_type(const char *s)
{
    static const char *const known[] = {CFG_TT_ACCESS_TOKEN,
                                        CFG_TT_JWT,
                                        CFG_TT_PREFIX "saml2",
                                        CFG_TT_PREFIX "saml1",
                                        CFG_TT_PREFIX "refresh_token",
                                        NULL};

    for (size_t i = 0; known[i] != NULL; i++)
        if (strcmp(s, known[i]) == 0)
            return NULL;
    return "must be \"" CFG_TT_PREFIX "\" followed by access_token, jwt, saml2, saml1 or "
           "refresh_token";
}

static const char *v_grant_type(const char *s)
{
    if (strcmp(s, CFG_GT_TOKEN_EXCHANGE) == 0 || strcmp(s, "refresh_token") == 0)
        return NULL;
    return "must be \"" CFG_GT_TOKEN_EXCHANGE "\" or \"refresh_token\"";
}

/* The JWS algorithms a relying party or client may ask its JWTs to be signed with. */
static const char *v_signing_alg(const char *s)
{
    if (strcmp(s, "RS256") == 0 || strcmp(s, "ES256") == 0)
        return NULL;
    return "must be \"RS256\" or \"ES256\"";
}

/*
 * server.public_url: "http://" or "https://", a host, printable ASCII without
 * spaces, no query or fragment (RFC 8414 endpoint URLs are built by appending
 * paths). *@len is its length without trailing '/'s.
 */
static const char *v_public_url(const char *s, size_t *len)
{
    const char *host;
    size_t n;

    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return "must start with \"http://\" or \"https://\"";
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return "must be printable ASCII without spaces";
        if (*p == '?' || *p == '#')
            return "must not have a query or a fragment (\"?\", \"#\")";
    }
    n = strlen(s);
    while (n > (size_t)(host - s) && s[n - 1] == '/')
        n--;
    if (host == s + n || *host == '/')
        return "must name a host after the scheme";
    *len = n;
    return NULL;
}

/*
 * server.tls_ciphers: the syntax of an OpenSSL cipher list (ciphers(1)): one or
 * more non-empty elements joined by ':', each made of letters, digits and
 * "+-!@=_." ("ECDHE+AESGCM", "!aNULL", "@SECLEVEL=2"). Whether it names real
 * suites, and only forward-secret AEAD ones, is for the server to find out when
 * it builds its TLS context: this module does not link libssl.
 */
static const char *v_ciphers(const char *s)
{
    size_t n = strlen(s);

    if (n == 0)
        return "must not be empty";
    if (n > CFG_TLS_CIPHERS_MAX)
        return "must be at most 1024 bytes"; /* CFG_TLS_CIPHERS_MAX */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ':' ? i == 0 || s[i + 1] == '\0' || s[i + 1] == ':'
                     : !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || strchr("+-!@=_.", c) != NULL))
            return "must be an OpenSSL cipher list: names joined by ':' (letters, digits and "
                   "\"+-!@=_.\")";
    }
    return NULL;
}

/* "host:port" or "[v6]:port"; @host/@hlen name the host inside @s, without brackets. */
static const char *v_listen(const char *s, const char **host, size_t *hlen, int *port)
{
    const char *colon;
    const char *hend;
    const char *hstart = s;
    char buf[INET6_ADDRSTRLEN];
    long v = 0;

    if (*s == '[') {
        hstart = s + 1;
        hend = strchr(hstart, ']');
        if (hend == NULL || hend[1] != ':')
            return "must be host:port or [IPv6]:port";
        colon = hend + 1;
        if ((size_t)(hend - hstart) >= sizeof(buf))
            return "has an invalid IPv6 address";
        memcpy(buf, hstart, (size_t)(hend - hstart));
        buf[hend - hstart] = '\0';
        {
            struct in6_addr a6;
            if (inet_pton(AF_INET6, buf, &a6) != 1)
                return "has an invalid IPv6 address";
        }
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "must be host:port or [IPv6]:port";
        hend = colon;
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return "must put an IPv6 address in brackets: [::1]:8080";
        for (const char *p = s; p < hend; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
                return "has an invalid host name";
    }
    if (hend == hstart)
        return "must name a host: 127.0.0.1:8080, [::1]:8080, localhost:8080";
    if (colon[1] == '\0')
        return "must end with a port number";
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return "must end with a port number 0..65535";
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return "must end with a port number 0..65535";
    *host = hstart;
    *hlen = (size_t)(hend - hstart);
    *port = (int)v;
    return NULL;
}

const char *sts_cfg_set_listen(sts_cfg_t *cfg, const char *value)
{
    const char *host = NULL, *msg;
    size_t hlen = 0;
    int port = 0;
    char *copy;

    if ((msg = v_listen(value, &host, &hlen, &port)) != NULL)
        return msg;
    if ((copy = strndup(host, hlen)) == NULL)
        return "out of memory";
    free(cfg->listen_host);
    cfg->listen_host = copy;
    cfg->listen_port = port;
    return NULL;
}

/* A user name: 1..CFG_USER_NAME_MAX UTF-8 characters (jansson has checked the
 * encoding), no control characters. */
static int name_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n >= 1 && n <= CFG_USER_NAME_MAX;
}

/* A client_id: 1..CFG_CLIENT_ID_MAX of RFC 6749 VSCHAR (%x20-7E) without ':',
 * since HTTP Basic (RFC 6749 sec. 2.3.1) splits user-id and password there. */
static int client_id_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == ':')
            return 0;
    return n >= 1 && n <= CFG_CLIENT_ID_MAX;
}

/* A trusted issuer's kid: 1..CFG_KID_MAX printable ASCII characters (%x20-7E). */
static int kid_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return n >= 1 && n <= CFG_KID_MAX;
}

/* @value resolved against @base (NULL: as it is). Returns a new string or NULL. */
static char *resolve_path(const char *base, const char *value)
{
    char *out = NULL;

    if (base == NULL || value[0] == '/')
        return strdup(value);
    while (value[0] == '.' && value[1] == '/') {
        value += 2;
        while (*value == '/')
            value++;
    }
    if (value[0] == '\0' || strcmp(value, ".") == 0)
        return strdup(base);
    if (asprintf(&out, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", value) < 0)
        return NULL;
    return out;
}

/* ------------------------------------------------------------------------- */
/* The option tables (Redis static_configs[] style)                          */

typedef enum cfg_type {
    CT_INT,      /* int, integer in [min, max] */
    CT_LONG,     /* long, integer in [min, max] */
    CT_BOOL,     /* int 0/1 */
    CT_PATH,     /* char *, resolved against the source's directory */
    CT_URI,      /* char *, absolute URI */
    CT_LISTEN,   /* listen_host + listen_port */
    CT_LOGLEVEL, /* int sts_log_level_t */
    CT_URL,      /* char *, http(s) base URL without trailing '/' */
    CT_KEYPAIRS, /* signing_keys + nsigning_keys: an array of {"key", "cert"} */
    CT_CIPHERS,  /* char *, an OpenSSL cipher list (syntax only: see v_ciphers()) */
} cfg_type_t;

#define CF_REQUIRED 1u

typedef struct cfg_opt {
    const char *name;
    cfg_type_t type;
    size_t off;
    long min, max;
    long def;         /* numeric default */
    const char *sdef; /* string default, used as it is (not resolved) */
    unsigned flags;
} cfg_opt_t;

#define OPT_NUM(n, t, f, lo, hi, d) {n, t, offsetof(sts_cfg_t, f), lo, hi, d, NULL, 0}
#define OPT_STR(n, t, f, d, fl) {n, t, offsetof(sts_cfg_t, f), 0, 0, 0, d, fl}

static const cfg_opt_t server_opts[] = {
    OPT_STR("listen", CT_LISTEN, listen_host, "127.0.0.1:8080", 0),
    OPT_STR("data_dir", CT_PATH, data_dir, "./var", 0),
    OPT_NUM("workers", CT_INT, workers, 1, 1024, 32),
    OPT_NUM("backlog", CT_INT, backlog, 1, 65535, 128),
    OPT_NUM("recv_timeout", CT_INT, recv_timeout, 1, 300, 5),
    OPT_NUM("send_timeout", CT_INT, send_timeout, 1, 300, 5),
    OPT_NUM("max_keep_alive", CT_INT, max_keep_alive, 1, 10000, 100),
    OPT_NUM("keep_alive_timeout", CT_INT, keep_alive_timeout, 1, 3600, 15),
    OPT_NUM("max_connections", CT_INT, max_connections, 1, 65536, 1024),
    OPT_NUM("max_message_size", CT_LONG, max_message_size, 1024, 67108864L, 1048576L),
    OPT_STR("log_level", CT_LOGLEVEL, log_level, "info", 0),
    OPT_STR("public_url", CT_URL, public_url, NULL, 0),
    OPT_STR("tls_cert", CT_PATH, tls_cert_file, NULL, 0),
    OPT_STR("tls_key", CT_PATH, tls_key_file, NULL, 0),
    OPT_STR("tls_ciphers", CT_CIPHERS, tls_ciphers, STS_CFG_TLS_CIPHERS, 0),
};

static const cfg_opt_t engine_opts[] = {
    OPT_STR("issuer", CT_URI, issuer, "https://sts.example.com/", 0),
    OPT_STR("signing_key", CT_PATH, signing_key_file, NULL, CF_REQUIRED),
    OPT_STR("signing_cert", CT_PATH, signing_cert_file, NULL, CF_REQUIRED),
    OPT_STR("additional_signing_keys", CT_KEYPAIRS, signing_keys, NULL, 0),
    OPT_STR("secrets_key", CT_PATH, secrets_key_file, NULL, 0),
    OPT_NUM("default_lifetime", CT_LONG, default_lifetime, 1, CFG_MAX_LIFETIME, 3600),
    OPT_NUM("max_lifetime", CT_LONG, max_lifetime, 1, CFG_MAX_LIFETIME, 3600),
    OPT_NUM("clock_skew", CT_LONG, clock_skew, 0, 3600, 300),
    OPT_NUM("renew_window", CT_LONG, renew_window, 0, CFG_MAX_LIFETIME, 3600),
    OPT_NUM("refresh_lifetime", CT_LONG, refresh_lifetime, 60, CFG_MAX_LIFETIME, 28800),
    OPT_NUM("credential_cache_ttl", CT_LONG, credential_cache_ttl, 0, 3600, 60),
};

static const cfg_opt_t soap_opts[] = {
    OPT_NUM("require_timestamp", CT_BOOL, require_timestamp, 0, 1, 1),
    OPT_NUM("timestamp_max_age", CT_LONG, timestamp_max_age, 1, 86400, 300),
    OPT_NUM("digest_max_age", CT_LONG, digest_max_age, 1, 86400, 300),
    OPT_NUM("max_xml_depth", CT_INT, max_xml_depth, 8, 256, 64),
    OPT_NUM("max_xml_string", CT_LONG, max_xml_string, 1024, 67108864L, 65536),
    OPT_STR("wsdl", CT_PATH, wsdl_file, STS_DEV_WSDL, 0),
    OPT_STR("client_ca", CT_PATH, client_ca_file, NULL, 0),
    /* -1 (only as the default: JSON gives 0 or 1) = decided by the listen address */
    OPT_NUM("require_tls_for_password_text", CT_BOOL, require_tls_for_password_text, -1, 1, -1),
};

static const cfg_opt_t rest_opts[] = {
    /* -1 (only as the default: JSON gives 0 or 1) = decided by the listen address */
    OPT_NUM("require_tls", CT_BOOL, rest_require_tls, -1, 1, -1),
};

typedef struct cfg_section {
    const char *name;
    const cfg_opt_t *opts;
    size_t nopts;
} cfg_section_t;

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const cfg_section_t sections[] = {
    {"server", server_opts, NELEM(server_opts)},
    {"engine", engine_opts, NELEM(engine_opts)},
    {"soap", soap_opts, NELEM(soap_opts)},
    {"rest", rest_opts, NELEM(rest_opts)},
};

/*
 * The string lists of a client: char ** + size_t count in sts_cfg_client_t, a
 * default (NULL-terminated; unused when CF_REQUIRED) and a validator for each
 * element. Elements are exact strings and may not repeat.
 */
#define CF_NONEMPTY 2u

typedef struct cfg_list_opt {
    const char *name;
    size_t off;  /* char ** */
    size_t noff; /* size_t count */
    const char *const *def;
    const char *(*check)(const char *s);
    unsigned flags;
} cfg_list_opt_t;

/* The JSON key is the field's name; its count is n<field>. */
#define OPT_LIST(f, d, v, fl)                                                                      \
    {#f, offsetof(sts_cfg_client_t, f), offsetof(sts_cfg_client_t, n##f), d, v, fl}

static const char *const def_none[] = {NULL};
static const char *const def_token_types[] = {CFG_TT_ACCESS_TOKEN, CFG_TT_JWT, NULL};
static const char *const def_grant_types[] = {CFG_GT_TOKEN_EXCHANGE, NULL};

static const cfg_list_opt_t client_lists[] = {
    OPT_LIST(audiences, def_none, v_uri, CF_REQUIRED | CF_NONEMPTY),
    OPT_LIST(scopes, def_none, v_scope, 0),
    OPT_LIST(token_types, def_token_types, v_token_type, CF_NONEMPTY),
    OPT_LIST(grant_types, def_grant_types, v_grant_type, CF_NONEMPTY),
    OPT_LIST(trusted_issuers, def_none, v_uri, 0),
};

/* Store a string option; @base NULL for defaults (used as they are). */
static int opt_set_str(cfg_ctx_t *ctx, const cfg_opt_t *o, const char *s, const char *base)
{
    char **field = (char **)((char *)ctx->cfg + o->off);
    const char *msg = NULL;
    char *v = NULL;

    switch (o->type) {
    case CT_LISTEN: {
        const char *host = NULL;
        size_t hlen = 0;
        int port = 0;

        msg = v_listen(s, &host, &hlen, &port);
        if (msg == NULL) {
            if ((v = strndup(host, hlen)) == NULL)
                return cfg_oom(ctx);
            ctx->cfg->listen_port = port;
        }
        break;
    }
    case CT_LOGLEVEL: {
        int lvl = sts_log_level_parse(s);
        if (lvl < 0)
            return cfg_fail(ctx, "\"%s\" must be one of error, warn, notice, info, debug, trace",
                            ctx->path.s);
        ctx->cfg->log_level = lvl;
        return 0;
    }
    case CT_URI:
        msg = v_uri(s);
        if (msg == NULL && (v = strdup(s)) == NULL)
            return cfg_oom(ctx);
        break;
    case CT_URL: {
        size_t len = 0;

        msg = v_public_url(s, &len);
        if (msg == NULL && (v = strndup(s, len)) == NULL)
            return cfg_oom(ctx);
        break;
    }
    case CT_CIPHERS:
        msg = v_ciphers(s);
        if (msg == NULL && (v = strdup(s)) == NULL)
            return cfg_oom(ctx);
        break;
    case CT_PATH:
        if (s[0] == '\0')
            return cfg_fail(ctx, "\"%s\" must not be empty", ctx->path.s);
        if ((v = resolve_path(base, s)) == NULL)
            return cfg_oom(ctx);
        break;
    default: return cfg_fail(ctx, "\"%s\" has no string type", ctx->path.s);
    }
    if (msg != NULL)
        return cfg_fail(ctx, "\"%s\" %s", ctx->path.s, msg);
    if (v == NULL)
        return cfg_oom(ctx);
    free(*field);
    *field = v;
    return 0;
}

static int opt_set_num(cfg_ctx_t *ctx, const cfg_opt_t *o, long long v)
{
    void *field = (char *)ctx->cfg + o->off;

    if (v < o->min || v > o->max)
        return cfg_fail(ctx, "\"%s\" must be between %ld and %ld (got %lld)", ctx->path.s, o->min,
                        o->max, v);
    if (o->type == CT_LONG)
        *(long *)field = (long)v;
    else
        *(int *)field = (int)v;
    return 0;
}

static int opt_defaults(cfg_ctx_t *ctx)
{
    for (size_t i = 0; i < NELEM(sections); i++) {
        for (size_t j = 0; j < sections[i].nopts; j++) {
            const cfg_opt_t *o = &sections[i].opts[j];
            int r = 0;

            if (o->type == CT_INT || o->type == CT_LONG || o->type == CT_BOOL)
                r = opt_set_num(ctx, o, o->def);
            else if (o->sdef != NULL)
                r = opt_set_str(ctx, o, o->sdef, NULL);
            if (r != 0)
                return r;
        }
    }
    return 0;
}

static int keypairs_parse(cfg_ctx_t *ctx, json_t *arr);

/* One value of a section: type check, then the typed setter. */
static int opt_set_json(cfg_ctx_t *ctx, const cfg_opt_t *o, json_t *v)
{
    switch (o->type) {
    case CT_KEYPAIRS:
        return keypairs_parse(ctx, v);
    case CT_INT:
    case CT_LONG:
        if (!json_is_integer(v))
            return cfg_fail(ctx, "\"%s\" must be an integer", ctx->path.s);
        return opt_set_num(ctx, o, json_integer_value(v));
    case CT_BOOL:
        if (!json_is_boolean(v))
            return cfg_fail(ctx, "\"%s\" must be true or false", ctx->path.s);
        return opt_set_num(ctx, o, json_is_true(v) ? 1 : 0);
    default:
        if (!json_is_string(v))
            return cfg_fail(ctx, "\"%s\" must be a string", ctx->path.s);
        return opt_set_str(ctx, o, json_string_value(v), ctx->src->base_dir);
    }
}

static int cfg_section(cfg_ctx_t *ctx, const cfg_section_t *sec, json_t *obj)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj))
        return cfg_fail(ctx, "\"%s\" must be an object", ctx->path.s);
    json_object_foreach(obj, key, v) {
        const cfg_opt_t *o = NULL;
        cfg_mark_t m;
        int r;

        for (size_t i = 0; i < sec->nopts && o == NULL; i++)
            if (strcmp(sec->opts[i].name, key) == 0)
                o = &sec->opts[i];
        if (o == NULL)
            return cfg_unknown_key(ctx, key);
        m = path_key(&ctx->path, key, strlen(key));
        r = opt_set_json(ctx, o, v);
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    for (size_t i = 0; i < sec->nopts; i++)
        if ((sec->opts[i].flags & CF_REQUIRED) && json_object_get(obj, sec->opts[i].name) == NULL)
            return cfg_missing_key(ctx, sec->opts[i].name);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Users, relying parties and clients                                        */

static int key_known(const char *key, const char *const *known)
{
    for (; *known; known++)
        if (strcmp(*known, key) == 0)
            return 1;
    return 0;
}

/* @obj must be an object whose members are all in @known. */
static int object_check(cfg_ctx_t *ctx, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj))
        return cfg_fail(ctx, "\"%s\" must be an object", ctx->path.s);
    json_object_foreach(obj, key, v) {
        if (!key_known(key, known))
            return cfg_unknown_key(ctx, key);
    }
    return 0;
}

/* The string member @name of @obj, or NULL; fails on a non-string. */
static int get_string(cfg_ctx_t *ctx, json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);
    cfg_mark_t m;
    int r = 0;

    *out = NULL;
    if (v == NULL)
        return 0;
    m = path_key(&ctx->path, name, strlen(name));
    if (!json_is_string(v))
        r = cfg_fail(ctx, "\"%s\" must be a string", ctx->path.s);
    else
        *out = json_string_value(v);
    path_restore(&ctx->path, m);
    return r;
}

static int get_lifetime(cfg_ctx_t *ctx, json_t *obj, const char *name, long *out)
{
    json_t *v = json_object_get(obj, name);
    cfg_mark_t m;
    int r = 0;

    *out = 0;
    if (v == NULL)
        return 0;
    m = path_key(&ctx->path, name, strlen(name));
    if (!json_is_integer(v))
        r = cfg_fail(ctx, "\"%s\" must be an integer", ctx->path.s);
    else if (json_integer_value(v) < 0 || json_integer_value(v) > CFG_MAX_LIFETIME)
        r = cfg_fail(ctx, "\"%s\" must be between 0 and %ld (got %lld)", ctx->path.s,
                     CFG_MAX_LIFETIME, (long long)json_integer_value(v));
    else
        *out = (long)json_integer_value(v);
    path_restore(&ctx->path, m);
    return r;
}

static void attr_cleanup(sts_cfg_attr_t *a)
{
    for (size_t i = 0; i < a->nvalues; i++)
        free(a->values[i]);
    free(a->values);
    free(a->name);
}

static void user_cleanup(sts_cfg_user_t *u)
{
    for (size_t i = 0; i < u->nattrs; i++)
        attr_cleanup(&u->attrs[i]);
    free(u->attrs);
    free(u->name);
    free(u->password_hash);
    free(u->digest_secret);
}

static int attr_parse(cfg_ctx_t *ctx, sts_cfg_attr_t *a, const char *name, json_t *v)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;

    if (name[0] == '\0')
        return cfg_fail(ctx, "attribute names must not be empty");
    if (!json_is_string(v) && !(json_is_array(v) && n > 0))
        return cfg_fail(ctx, "\"%s\" must be a string or a non-empty array of strings",
                        ctx->path.s);
    if ((a->name = strdup(name)) == NULL || (a->values = calloc(n, sizeof(char *))) == NULL)
        return cfg_oom(ctx);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e)) {
            cfg_mark_t m = path_index(&ctx->path, i);
            int r = cfg_fail(ctx, "\"%s\" must be a string", ctx->path.s);
            path_restore(&ctx->path, m);
            return r;
        }
        if ((a->values[i] = strdup(json_string_value(e))) == NULL)
            return cfg_oom(ctx);
        a->nvalues++;
    }
    return 0;
}

static int user_parse(cfg_ctx_t *ctx, sts_cfg_user_t *u, json_t *obj)
{
    static const char *const known[] = {"name", "password_hash", "digest_secret", "attributes",
                                        NULL};
    const char *key, *name, *hash, *secret;
    json_t *v, *attrs;

    if (object_check(ctx, obj, known) != 0)
        return -1;
    if (get_string(ctx, obj, "name", &name) != 0 ||
        get_string(ctx, obj, "password_hash", &hash) != 0 ||
        get_string(ctx, obj, "digest_secret", &secret) != 0)
        return -1;
    if (name == NULL)
        return cfg_missing_key(ctx, "name");
    if (hash == NULL)
        return cfg_missing_key(ctx, "password_hash");
    if (!name_ok(name))
        return cfg_fail_member(ctx, "name", "must be 1 to %d characters without control characters",
                               CFG_USER_NAME_MAX);
    if (hash[0] != '$')
        return cfg_fail_member(ctx, "password_hash",
                               "must be a crypt(3) hash starting with \"$\" (see sts passwd)");
    if (secret != NULL && strncmp(secret, "v1:", 3) != 0)
        return cfg_fail_member(ctx, "digest_secret",
                               "must be a sealed secret \"v1:...\" (see sts passwd --digest)");
    if ((u->name = strdup(name)) == NULL || (u->password_hash = strdup(hash)) == NULL ||
        (secret != NULL && (u->digest_secret = strdup(secret)) == NULL))
        return cfg_oom(ctx);

    attrs = json_object_get(obj, "attributes");
    if (attrs != NULL) {
        cfg_mark_t m = path_key(&ctx->path, "attributes", 10);
        int r = 0;

        if (!json_is_object(attrs)) {
            r = cfg_fail(ctx, "\"%s\" must be an object", ctx->path.s);
        } else if (json_object_size(attrs) > 0 &&
                   (u->attrs = calloc(json_object_size(attrs), sizeof(*u->attrs))) == NULL) {
            r = cfg_oom(ctx);
        } else {
            json_object_foreach(attrs, key, v) {
                cfg_mark_t am = path_key(&ctx->path, key, strlen(key));
                r = attr_parse(ctx, &u->attrs[u->nattrs], key, v);
                u->nattrs++; /* even when partly filled: user_cleanup() frees it */
                path_restore(&ctx->path, am);
                if (r != 0)
                    break;
            }
        }
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Append the users of @arr (ctx->path names it) to ctx->cfg. */
static int users_parse(cfg_ctx_t *ctx, json_t *arr)
{
    sts_cfg_t *cfg = ctx->cfg;
    size_t n;

    if (!json_is_array(arr))
        return cfg_fail(ctx, "\"%s\" must be an array", ctx->path.s);
    n = json_array_size(arr);
    if (n == 0)
        return 0;
    {
        sts_cfg_user_t *u = realloc(cfg->users, (cfg->nusers + n) * sizeof(*u));
        if (u == NULL)
            return cfg_oom(ctx);
        cfg->users = u;
    }
    {
        cfg_origin_t *o = realloc(ctx->uorig, (cfg->nusers + n) * sizeof(*o));
        if (o == NULL)
            return cfg_oom(ctx);
        ctx->uorig = o;
    }
    for (size_t i = 0; i < n; i++) {
        sts_cfg_user_t *u = &cfg->users[cfg->nusers];
        cfg_mark_t m = path_index(&ctx->path, i);
        int r;

        memset(u, 0, sizeof(*u));
        ctx->uorig[cfg->nusers].src = ctx->src;
        ctx->uorig[cfg->nusers].idx = i;
        cfg->nusers++;
        r = user_parse(ctx, u, json_array_get(arr, i));
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

/*
 * A prefix on a hierarchical URI must end its authority, or
 * "https://rp.example.com" would also match "https://rp.example.com.evil/".
 */
static int prefix_is_safe(const char *uri)
{
    const char *auth = strstr(uri, "://");

    return auth == NULL || strchr(auth + 3, '/') != NULL;
}

/*
 * Runs @parse on each element of the JSON array @arr (ctx->path names it);
 * the caller has allocated the entries. *@count grows before each element is
 * parsed, so that the free path also cleans an element a failure left half
 * filled.
 */
static int array_each(cfg_ctx_t *ctx, json_t *arr, size_t *count,
                      int (*parse)(cfg_ctx_t *ctx, size_t i, json_t *obj))
{
    if (!json_is_array(arr))
        return cfg_fail(ctx, "\"%s\" must be an array", ctx->path.s);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        cfg_mark_t m = path_index(&ctx->path, i);
        int r;

        (*count)++;
        r = parse(ctx, i, json_array_get(arr, i));
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

/* A relying party's token_types: kinds, whatever spelling a request uses. */
static const char *v_rp_token_type(const char *s)
{
    return strcmp(s, "saml2") == 0 || strcmp(s, "saml1") == 0 || strcmp(s, "jwt") == 0
               ? NULL
               : "must be \"saml2\", \"saml1\" or \"jwt\"";
}

static const char *v_subject(const char *s);

static const cfg_list_opt_t rp_lists[] = {
    {"claims", offsetof(sts_cfg_rp_t, claims), offsetof(sts_cfg_rp_t, nclaims), def_none,
     v_subject, 0},
    {"token_types", offsetof(sts_cfg_rp_t, token_types), offsetof(sts_cfg_rp_t, ntoken_types),
     def_none, v_rp_token_type, CF_NONEMPTY},
};

static int list_parse(cfg_ctx_t *ctx, void *base, const cfg_list_opt_t *o, json_t *v);
static int get_path(cfg_ctx_t *ctx, json_t *obj, const char *name, char **out);

static int rp_parse(cfg_ctx_t *ctx, sts_cfg_rp_t *rp, json_t *obj)
{
    static const char *const known[] = {"applies_to",   "match",       "default_lifetime",
                                        "max_lifetime", "signing_alg", "claims",
                                        "token_types",  "encryption_cert", NULL};
    const char *applies_to, *match, *alg, *msg;

    if (object_check(ctx, obj, known) != 0)
        return -1;
    if (get_string(ctx, obj, "applies_to", &applies_to) != 0 ||
        get_string(ctx, obj, "match", &match) != 0 ||
        get_string(ctx, obj, "signing_alg", &alg) != 0 ||
        get_lifetime(ctx, obj, "default_lifetime", &rp->default_lifetime) != 0 ||
        get_lifetime(ctx, obj, "max_lifetime", &rp->max_lifetime) != 0)
        return -1;
    if (applies_to == NULL)
        return cfg_missing_key(ctx, "applies_to");
    if (match == NULL || strcmp(match, "exact") == 0) {
        rp->match = STS_MATCH_EXACT;
    } else if (strcmp(match, "prefix") == 0) {
        rp->match = STS_MATCH_PREFIX;
    } else {
        return cfg_fail_member(ctx, "match", "must be \"exact\" or \"prefix\"");
    }
    msg = v_uri(applies_to);
    if (msg == NULL && rp->match == STS_MATCH_PREFIX && !prefix_is_safe(applies_to))
        msg = "must have a path after the host when \"match\" is \"prefix\" (end it with \"/\")";
    if (msg != NULL)
        return cfg_fail_member(ctx, "applies_to", "%s", msg);
    if (alg != NULL && (msg = v_signing_alg(alg)) != NULL)
        return cfg_fail_member(ctx, "signing_alg", "%s", msg);
    if ((rp->applies_to = strdup(applies_to)) == NULL ||
        (alg != NULL && (rp->signing_alg = strdup(alg)) == NULL))
        return cfg_oom(ctx);
    if (json_object_get(obj, "encryption_cert") != NULL &&
        get_path(ctx, obj, "encryption_cert", &rp->encryption_cert) != 0)
        return -1;
    for (size_t i = 0; i < NELEM(rp_lists); i++) {
        json_t *v = json_object_get(obj, rp_lists[i].name);
        cfg_mark_t m;
        int r;

        if (v == NULL)
            continue; /* absent: every one */
        m = path_key(&ctx->path, rp_lists[i].name, strlen(rp_lists[i].name));
        r = list_parse(ctx, rp, &rp_lists[i], v);
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

static int rp_parse_at(cfg_ctx_t *ctx, size_t i, json_t *obj)
{
    return rp_parse(ctx, &ctx->cfg->rps[i], obj);
}

static int rps_parse(cfg_ctx_t *ctx, json_t *arr)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n > 0 && (ctx->cfg->rps = calloc(n, sizeof(*ctx->cfg->rps))) == NULL)
        return cfg_oom(ctx);
    return array_each(ctx, arr, &ctx->cfg->nrps, rp_parse_at);
}
static void client_cleanup(sts_cfg_client_t *cl)
{
    for (size_t i = 0; i < NELEM(client_lists); i++) {
        char **list = *(char ***)((char *)cl + client_lists[i].off);
        size_t n = *(size_t *)((char *)cl + client_lists[i].noff);

        for (size_t j = 0; j < n; j++)
            free(list[j]);
        free(list);
    }
    free(cl->client_id);
    free(cl->secret_hash);
    free(cl->signing_alg);
}

static const cfg_list_opt_t *client_list_find(const char *key)
{
    for (size_t i = 0; i < NELEM(client_lists); i++)
        if (strcmp(client_lists[i].name, key) == 0)
            return &client_lists[i];
    return NULL;
}

/* One list of the struct at @base (a client, a delegation rule) from @v (NULL:
 * the default); ctx->path names its key. */
static int list_parse(cfg_ctx_t *ctx, void *base, const cfg_list_opt_t *o, json_t *v)
{
    char ***list = (char ***)((char *)base + o->off);
    size_t *n = (size_t *)((char *)base + o->noff);
    size_t cnt = 0;

    if (v == NULL) {
        while (o->def[cnt] != NULL)
            cnt++;
    } else if (!json_is_array(v) || ((o->flags & CF_NONEMPTY) && json_array_size(v) == 0)) {
        return cfg_fail(ctx, "\"%s\" must be %s array of strings", ctx->path.s,
                        (o->flags & CF_NONEMPTY) ? "a non-empty" : "an");
    } else {
        cnt = json_array_size(v);
    }
    if (cnt == 0)
        return 0;
    if ((*list = calloc(cnt, sizeof(char *))) == NULL)
        return cfg_oom(ctx);
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = v != NULL ? json_array_get(v, i) : NULL;
        const char *s = v != NULL ? json_string_value(e) : o->def[i];
        const char *msg = NULL;
        cfg_mark_t m;
        int r = 0;

        m = path_index(&ctx->path, i);
        if (s == NULL) {
            r = cfg_fail(ctx, "\"%s\" must be a string", ctx->path.s);
        } else if ((msg = o->check(s)) != NULL) {
            r = cfg_fail(ctx, "\"%s\" %s", ctx->path.s, msg);
        } else {
            for (size_t j = 0; j < *n && r == 0; j++)
                if (strcmp((*list)[j], s) == 0)
                    r = cfg_fail(ctx, "\"%s\": \"%s\" is listed twice", ctx->path.s, s);
        }
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
        if (((*list)[i] = strdup(s)) == NULL)
            return cfg_oom(ctx);
        (*n)++;
    }
    return 0;
}

static int client_parse(cfg_ctx_t *ctx, sts_cfg_client_t *cl, json_t *obj)
{
    static const char *const known[] = {"client_id", "secret_hash", "signing_alg", NULL};
    const char *key, *client_id, *hash, *alg, *msg;
    json_t *v;

    if (!json_is_object(obj))
        return cfg_fail(ctx, "\"%s\" must be an object", ctx->path.s);
    json_object_foreach(obj, key, v) {
        if (!key_known(key, known) && client_list_find(key) == NULL)
            return cfg_unknown_key(ctx, key);
    }
    if (get_string(ctx, obj, "client_id", &client_id) != 0 ||
        get_string(ctx, obj, "secret_hash", &hash) != 0 ||
        get_string(ctx, obj, "signing_alg", &alg) != 0)
        return -1;
    if (client_id == NULL)
        return cfg_missing_key(ctx, "client_id");
    if (hash == NULL)
        return cfg_missing_key(ctx, "secret_hash");
    if (!client_id_ok(client_id))
        return cfg_fail_member(ctx, "client_id",
                               "must be 1 to %d printable ASCII characters without \":\"",
                               CFG_CLIENT_ID_MAX);
    if (hash[0] != '$')
        return cfg_fail_member(ctx, "secret_hash",
                               "must be a crypt(3) hash starting with \"$\" (see sts passwd)");
    if (alg != NULL && (msg = v_signing_alg(alg)) != NULL)
        return cfg_fail_member(ctx, "signing_alg", "%s", msg);
    if ((cl->client_id = strdup(client_id)) == NULL || (cl->secret_hash = strdup(hash)) == NULL ||
        (alg != NULL && (cl->signing_alg = strdup(alg)) == NULL))
        return cfg_oom(ctx);
    for (size_t i = 0; i < NELEM(client_lists); i++) {
        const cfg_list_opt_t *o = &client_lists[i];
        cfg_mark_t m;
        int r;

        v = json_object_get(obj, o->name);
        if (v == NULL && (o->flags & CF_REQUIRED))
            return cfg_missing_key(ctx, o->name);
        m = path_key(&ctx->path, o->name, strlen(o->name));
        r = list_parse(ctx, cl, o, v);
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

static int client_parse_at(cfg_ctx_t *ctx, size_t i, json_t *obj)
{
    return client_parse(ctx, &ctx->cfg->clients[i], obj);
}

static int clients_parse(cfg_ctx_t *ctx, json_t *arr)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n > 0 && (ctx->cfg->clients = calloc(n, sizeof(*ctx->cfg->clients))) == NULL)
        return cfg_oom(ctx);
    return array_each(ctx, arr, &ctx->cfg->nclients, client_parse_at);
}

/* ------------------------------------------------------------------------- */
/* Additional signing keys and trusted issuers                               */

/* The path member @name of @obj, resolved (CT_PATH rules); it must be present. */
static int get_path(cfg_ctx_t *ctx, json_t *obj, const char *name, char **out)
{
    const char *s;

    if (get_string(ctx, obj, name, &s) != 0)
        return -1;
    if (s == NULL)
        return cfg_missing_key(ctx, name);
    if (s[0] == '\0')
        return cfg_fail_member(ctx, name, "must not be empty");
    if ((*out = resolve_path(ctx->src->base_dir, s)) == NULL)
        return cfg_oom(ctx);
    return 0;
}

/* engine.additional_signing_keys[i] -> cfg->signing_keys[i + 1] */
static int keypair_parse_at(cfg_ctx_t *ctx, size_t i, json_t *obj)
{
    static const char *const known[] = {"key", "cert", NULL};
    sts_cfg_keypair_t *kp = &ctx->cfg->signing_keys[i + 1];

    if (object_check(ctx, obj, known) != 0)
        return -1;
    if (get_path(ctx, obj, "key", &kp->key_file) != 0 ||
        get_path(ctx, obj, "cert", &kp->cert_file) != 0)
        return -1;
    return 0;
}

/*
 * [0] of cfg->signing_keys is engine.signing_key/signing_cert, filled in by
 * cfg_finish() once the whole engine section is read; the entries of @arr
 * follow it.
 */
static int keypairs_parse(cfg_ctx_t *ctx, json_t *arr)
{
    sts_cfg_t *cfg = ctx->cfg;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n > CFG_MAX_EXTRA_KEYS)
        return cfg_fail(ctx, "\"%s\" must have at most %d entries (got %zu)", ctx->path.s,
                        CFG_MAX_EXTRA_KEYS, n);
    if ((cfg->signing_keys = calloc(n + 1, sizeof(*cfg->signing_keys))) == NULL)
        return cfg_oom(ctx);
    cfg->nsigning_keys = 1;
    return array_each(ctx, arr, &cfg->nsigning_keys, keypair_parse_at);
}

static void trusted_issuer_cleanup(sts_cfg_trusted_issuer_t *ti)
{
    free(ti->issuer);
    free(ti->cert_file);
    free(ti->kid);
}

static int trusted_issuer_parse_at(cfg_ctx_t *ctx, size_t i, json_t *obj)
{
    static const char *const known[] = {"issuer", "cert", "kid", NULL};
    sts_cfg_trusted_issuer_t *ti = &ctx->cfg->trusted_issuers[i];
    const char *issuer, *cert, *kid, *msg;

    if (object_check(ctx, obj, known) != 0)
        return -1;
    if (get_string(ctx, obj, "issuer", &issuer) != 0 ||
        get_string(ctx, obj, "cert", &cert) != 0 || get_string(ctx, obj, "kid", &kid) != 0)
        return -1;
    if (issuer == NULL)
        return cfg_missing_key(ctx, "issuer");
    if (cert == NULL)
        return cfg_missing_key(ctx, "cert");
    if ((msg = v_uri(issuer)) != NULL)
        return cfg_fail_member(ctx, "issuer", "%s", msg);
    if (kid != NULL && !kid_ok(kid))
        return cfg_fail_member(ctx, "kid", "must be 1 to %d printable ASCII characters",
                               CFG_KID_MAX);
    if (get_path(ctx, obj, "cert", &ti->cert_file) != 0)
        return -1;
    if ((ti->issuer = strdup(issuer)) == NULL || (kid != NULL && (ti->kid = strdup(kid)) == NULL))
        return cfg_oom(ctx);
    return 0;
}

static int trusted_issuers_parse(cfg_ctx_t *ctx, json_t *arr)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n > 0 &&
        (ctx->cfg->trusted_issuers = calloc(n, sizeof(*ctx->cfg->trusted_issuers))) == NULL)
        return cfg_oom(ctx);
    return array_each(ctx, arr, &ctx->cfg->ntrusted_issuers, trusted_issuer_parse_at);
}

/* ------------------------------------------------------------------------- */
/* Delegation rules                                                          */

/* A subject name of a rule: "*" or 1..1024 bytes without control characters. */
static const char *v_subject(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 1024)
        return "must be 1 to 1024 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "must not hold control characters";
    return NULL;
}

static const cfg_list_opt_t delegation_subjects = {
    "subjects", offsetof(sts_cfg_delegation_t, subjects),
    offsetof(sts_cfg_delegation_t, nsubjects), def_none, v_subject, CF_REQUIRED | CF_NONEMPTY};

static void delegation_cleanup(sts_cfg_delegation_t *d)
{
    for (size_t i = 0; i < d->nsubjects; i++)
        free(d->subjects[i]);
    free(d->subjects);
    free(d->actor);
}

static int get_flag(cfg_ctx_t *ctx, json_t *obj, const char *name, int *out)
{
    json_t *v = json_object_get(obj, name);

    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return cfg_fail_member(ctx, name, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

static int delegation_parse_at(cfg_ctx_t *ctx, size_t i, json_t *obj)
{
    static const char *const known[] = {"actor", "subjects", "act_as", "on_behalf_of", NULL};
    sts_cfg_delegation_t *d = &ctx->cfg->delegation[i];
    json_t *subjects = json_object_get(obj, "subjects");
    const char *actor;
    cfg_mark_t m;
    int r;

    if (object_check(ctx, obj, known) != 0 || get_string(ctx, obj, "actor", &actor) != 0 ||
        get_flag(ctx, obj, "act_as", &d->act_as) != 0 ||
        get_flag(ctx, obj, "on_behalf_of", &d->on_behalf_of) != 0)
        return -1;
    if (actor == NULL)
        return cfg_missing_key(ctx, "actor");
    if (subjects == NULL)
        return cfg_missing_key(ctx, "subjects");
    if (!d->act_as && !d->on_behalf_of)
        return cfg_fail(ctx, "\"%s\" allows nothing: set \"act_as\" or \"on_behalf_of\" to true",
                        ctx->path.s);
    if ((d->actor = strdup(actor)) == NULL)
        return cfg_oom(ctx);
    m = path_key(&ctx->path, "subjects", strlen("subjects"));
    r = list_parse(ctx, d, &delegation_subjects, subjects);
    path_restore(&ctx->path, m);
    return r;
}

static int delegation_parse(cfg_ctx_t *ctx, json_t *arr)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n > 0 && (ctx->cfg->delegation = calloc(n, sizeof(*ctx->cfg->delegation))) == NULL)
        return cfg_oom(ctx);
    return array_each(ctx, arr, &ctx->cfg->ndelegation, delegation_parse_at);
}

int sts_cfg_may_delegate(const sts_cfg_t *cfg, const char *actor, const char *subject,
                         int foreign, int act_as)
{
    for (size_t i = 0; actor && subject && i < cfg->ndelegation; i++) {
        const sts_cfg_delegation_t *d = &cfg->delegation[i];
        if (strcmp(d->actor, actor) != 0 || !(act_as ? d->act_as : d->on_behalf_of))
            continue;
        for (size_t j = 0; j < d->nsubjects; j++)
            if (strcmp(d->subjects[j], "*") == 0 ||
                (!foreign && strcmp(d->subjects[j], subject) == 0))
                return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Reading sources                                                           */

/* Read @path into src->text. */
static sts_errc_t read_text(const char *path, cfg_src_t *src, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    struct stat st;
    FILE *f = NULL;

    f = fopen(path, "re");
    STS_FAIL_IF(f == NULL, err, STS_E_CONFIG, "%s: cannot open: %s", path, strerror(errno));
    STS_FAIL_IF(fstat(fileno(f), &st) != 0, err, STS_E_CONFIG, "%s: cannot stat: %s", path,
                strerror(errno));
    STS_FAIL_IF(!S_ISREG(st.st_mode), err, STS_E_CONFIG, "%s: not a regular file", path);
    STS_FAIL_IF(st.st_size > CFG_MAX_FILE, err, STS_E_CONFIG, "%s: larger than %ld bytes", path,
                CFG_MAX_FILE);
    src->text = malloc((size_t)st.st_size + 1);
    STS_FAIL_IF(src->text == NULL, err, STS_E_NOMEM, "%s: out of memory", path);
    src->len = fread(src->text, 1, (size_t)st.st_size, f);
    STS_FAIL_IF(ferror(f) || src->len != (size_t)st.st_size, err, STS_E_CONFIG,
                "%s: cannot read: %s", path, ferror(f) ? strerror(errno) : "file changed size");
    src->text[src->len] = '\0';

cleanup:
    if (f != NULL)
        fclose(f);
    return rc;
}

/* The absolute directory of @path. Returns a new string or NULL. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *cwd = NULL;
    char *out = NULL;

    if (slash == path)
        return strdup("/");
    if (path[0] == '/')
        return strndup(path, (size_t)(slash - path));
    cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return NULL;
    if (slash == NULL)
        return cwd;
    if (asprintf(&out, "%s%s%.*s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", (int)(slash - path),
                 path) < 0)
        out = NULL;
    free(cwd);
    return out;
}

/* Parse src->text with jansson; syntax errors become FILE:LINE:COL. */
static int src_parse(cfg_ctx_t *ctx, cfg_src_t *src)
{
    json_error_t jerr;

    src->root = json_loadb(src->text, src->len, JSON_REJECT_DUPLICATES, &jerr);
    if (src->root != NULL)
        return 0;
    if (json_error_code(&jerr) == json_error_duplicate_key && jerr.position > 0 &&
        (size_t)jerr.position <= src->len) {
        /* jansson stops just past the second key: scan up to there and name it. */
        const scan_ent_t *dup = NULL;
        char msg[CFG_PATH_MAX + 64];

        src_scan(src, (size_t)jerr.position);
        for (size_t i = src->nents; i-- > 0 && dup == NULL;)
            if (src->ents[i].is_key && src->ents[i].end == (size_t)jerr.position)
                dup = &src->ents[i];
        if (dup != NULL) {
            if (dup->keyoff == 0)
                snprintf(msg, sizeof(msg), "duplicate key \"%s\" at the top level", dup->path);
            else
                snprintf(msg, sizeof(msg), "duplicate key \"%s\" in \"%.*s\"",
                         dup->path + dup->keyoff, (int)(dup->keyoff - 1), dup->path);
            return cfg_report(ctx, src->name, dup->line, dup->col, msg);
        }
    }
    return cfg_report(ctx, src->name, jerr.line, jerr.column, jerr.text);
}

/* ------------------------------------------------------------------------- */
/* Top level, users file, cross-field checks                                 */

/* The top-level object; @users_file receives the resolved users_file path. */
static int cfg_root(cfg_ctx_t *ctx, char **users_file)
{
    json_t *root = ctx->src->root;
    const char *key;
    json_t *v;

    if (!json_is_object(root))
        return cfg_fail(ctx, "the top level must be an object");
    json_object_foreach(root, key, v) {
        const cfg_section_t *sec = NULL;
        cfg_mark_t m;
        int r;

        for (size_t i = 0; i < NELEM(sections) && sec == NULL; i++)
            if (strcmp(sections[i].name, key) == 0)
                sec = &sections[i];
        if (sec == NULL && strcmp(key, "users") != 0 && strcmp(key, "users_file") != 0 &&
            strcmp(key, "relying_parties") != 0 && strcmp(key, "clients") != 0 &&
            strcmp(key, "trusted_issuers") != 0 && strcmp(key, "delegation") != 0)
            return cfg_unknown_key(ctx, key);
        m = path_key(&ctx->path, key, strlen(key));
        if (sec != NULL) {
            r = cfg_section(ctx, sec, v);
        } else if (strcmp(key, "users") == 0) {
            r = users_parse(ctx, v);
        } else if (strcmp(key, "relying_parties") == 0) {
            r = rps_parse(ctx, v);
        } else if (strcmp(key, "clients") == 0) {
            r = clients_parse(ctx, v);
        } else if (strcmp(key, "trusted_issuers") == 0) {
            r = trusted_issuers_parse(ctx, v);
        } else if (strcmp(key, "delegation") == 0) {
            r = delegation_parse(ctx, v);
        } else if (!json_is_string(v)) {
            r = cfg_fail(ctx, "\"%s\" must be a string", ctx->path.s);
        } else if (json_string_value(v)[0] == '\0') {
            r = cfg_fail(ctx, "\"%s\" must not be empty", ctx->path.s);
        } else {
            *users_file = resolve_path(ctx->src->base_dir, json_string_value(v));
            r = *users_file == NULL ? cfg_oom(ctx) : 0;
        }
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    /* Required keys of a section that is missing altogether. */
    for (size_t i = 0; i < NELEM(sections); i++) {
        if (json_object_get(root, sections[i].name) != NULL)
            continue;
        for (size_t j = 0; j < sections[i].nopts; j++)
            if (sections[i].opts[j].flags & CF_REQUIRED)
                return cfg_fail(ctx, "missing required key \"%s\" in \"%s\"",
                                sections[i].opts[j].name, sections[i].name);
    }
    return 0;
}

/* Load the users file named by the main source's "users_file" into @usrc. */
static int users_file_load(cfg_ctx_t *ctx, cfg_src_t *main_src, cfg_src_t *usrc, const char *path)
{
    static const char *const at[] = {"users_file", NULL};
    sts_err_t rerr;
    const char *key;
    json_t *v;

    memset(&rerr, 0, sizeof(rerr));
    if ((usrc->name = strdup(path)) == NULL)
        return cfg_oom(ctx);
    if (read_text(path, usrc, &rerr) != STS_OK) {
        if (rerr.code == STS_E_NOMEM)
            return cfg_oom(ctx);
        return cfg_fail_at(ctx, main_src, at, "\"users_file\": %s", rerr.detail);
    }
    /* A users file has no paths; its base is never used. */
    ctx->src = usrc;
    if (src_parse(ctx, usrc) != 0)
        return -1;
    if (!json_is_object(usrc->root))
        return cfg_fail(ctx, "the top level must be an object");
    json_object_foreach(usrc->root, key, v) {
        cfg_mark_t m;
        int r;

        if (strcmp(key, "users") != 0)
            return cfg_unknown_key(ctx, key);
        m = path_key(&ctx->path, key, strlen(key));
        r = users_parse(ctx, v);
        path_restore(&ctx->path, m);
        if (r != 0)
            return r;
    }
    return 0;
}

typedef struct user_ref {
    const char *name;
    size_t k; /* index in cfg->users: document order, main file first */
} user_ref_t;

static int user_ref_cmp(const void *a, const void *b)
{
    const user_ref_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Report the earliest second definition of a user name, if any. */
static int check_duplicate_users(cfg_ctx_t *ctx)
{
    sts_cfg_t *cfg = ctx->cfg;
    user_ref_t *refs;
    size_t first = 0, later = SIZE_MAX;

    if (cfg->nusers < 2)
        return 0;
    if ((refs = calloc(cfg->nusers, sizeof(*refs))) == NULL)
        return cfg_oom(ctx);
    for (size_t k = 0; k < cfg->nusers; k++) {
        refs[k].name = cfg->users[k].name;
        refs[k].k = k;
    }
    qsort(refs, cfg->nusers, sizeof(*refs), user_ref_cmp);
    for (size_t i = 1, g = 0; i < cfg->nusers; i++) {
        if (strcmp(refs[i].name, refs[g].name) != 0) {
            g = i;
        } else if (refs[i].k < later) {
            later = refs[i].k;
            first = refs[g].k;
        }
    }
    free(refs);
    if (later == SIZE_MAX)
        return 0;
    {
        const cfg_origin_t *o1 = &ctx->uorig[first], *o2 = &ctx->uorig[later];
        char p1[64], p2[64];
        const char *at[] = {p2, NULL};
        const scan_ent_t *e;

        snprintf(p1, sizeof(p1), "users[%zu].name", o1->idx);
        snprintf(p2, sizeof(p2), "users[%zu].name", o2->idx);
        e = src_find(o1->src, p1);
        if (e != NULL)
            return cfg_fail_at(ctx, o2->src, at, "duplicate user \"%s\" (first defined at %s:%d:%d)",
                               cfg->users[later].name, o1->src->name, e->line, e->col);
        return cfg_fail_at(ctx, o2->src, at, "duplicate user \"%s\"", cfg->users[later].name);
    }
}

/* client_ids are unique; every audience is served by a relying party. */
static int check_clients(cfg_ctx_t *ctx, cfg_src_t *main_src)
{
    const sts_cfg_t *c = ctx->cfg;
    char p1[96], p2[64];
    const char *at[] = {p1, p2, "clients", "", NULL};

    for (size_t i = 0; i < c->nclients; i++) {
        const sts_cfg_client_t *cl = &c->clients[i];

        snprintf(p2, sizeof(p2), "clients[%zu]", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->clients[j].client_id, cl->client_id) == 0) {
                snprintf(p1, sizeof(p1), "clients[%zu].client_id", i);
                return cfg_fail_at(ctx, main_src, at, "duplicate client \"%s\" (also clients[%zu])",
                                   cl->client_id, j);
            }
        }
        for (size_t k = 0; k < cl->ntrusted_issuers; k++) {
            int found = 0;
            for (size_t t = 0; t < c->ntrusted_issuers; t++)
                found |= strcmp(c->trusted_issuers[t].issuer, cl->trusted_issuers[k]) == 0;
            if (!found) {
                snprintf(p1, sizeof(p1), "clients[%zu].trusted_issuers[%zu]", i, k);
                return cfg_fail_at(ctx, main_src, at,
                                   "client \"%s\" trusted issuer \"%s\" is not in trusted_issuers",
                                   cl->client_id, cl->trusted_issuers[k]);
            }
        }
        for (size_t k = 0; k < cl->naudiences; k++) {
            if (sts_cfg_find_rp(c, cl->audiences[k]) == NULL) {
                snprintf(p1, sizeof(p1), "clients[%zu].audiences[%zu]", i, k);
                return cfg_fail_at(ctx, main_src, at,
                                   "client \"%s\" audience \"%s\" matches no relying party",
                                   cl->client_id, cl->audiences[k]);
            }
        }
    }
    return 0;
}

/* Every delegation rule names a user of the realm as its actor. */
static int check_delegation(cfg_ctx_t *ctx, cfg_src_t *main_src)
{
    const sts_cfg_t *c = ctx->cfg;
    char p1[64], p2[64];
    const char *at[] = {p1, p2, "delegation", "", NULL};

    for (size_t i = 0; i < c->ndelegation; i++) {
        if (sts_cfg_find_user(c, c->delegation[i].actor) != NULL)
            continue;
        snprintf(p1, sizeof(p1), "delegation[%zu].actor", i);
        snprintf(p2, sizeof(p2), "delegation[%zu]", i);
        return cfg_fail_at(ctx, main_src, at, "actor \"%s\" is no user", c->delegation[i].actor);
    }
    return 0;
}

/* Trusted issuers are unique, and none of them is the STS itself. */
static int check_trusted_issuers(cfg_ctx_t *ctx, cfg_src_t *main_src)
{
    const sts_cfg_t *c = ctx->cfg;
    char p1[64], p2[64];
    const char *at[] = {p1, p2, "trusted_issuers", "", NULL};

    for (size_t i = 0; i < c->ntrusted_issuers; i++) {
        const char *iss = c->trusted_issuers[i].issuer;

        snprintf(p1, sizeof(p1), "trusted_issuers[%zu].issuer", i);
        snprintf(p2, sizeof(p2), "trusted_issuers[%zu]", i);
        if (strcmp(iss, c->issuer) == 0)
            return cfg_fail_at(ctx, main_src, at,
                               "trusted issuer \"%s\" is the STS itself (\"engine.issuer\")",
                               iss);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->trusted_issuers[j].issuer, iss) == 0)
                return cfg_fail_at(ctx, main_src, at,
                                   "duplicate trusted issuer \"%s\" (also trusted_issuers[%zu])",
                                   iss, j);
    }
    return 0;
}

/* server.tls_cert and server.tls_key come together; server.tls_ciphers only with them. */
static int check_server_tls(cfg_ctx_t *ctx, cfg_src_t *main_src)
{
    const sts_cfg_t *c = ctx->cfg;
    json_t *server = json_object_get(main_src->root, "server");

    if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL)) {
        const char *have = c->tls_cert_file ? "server.tls_cert" : "server.tls_key";
        const char *at[] = {have, "server", "", NULL};

        return cfg_fail_at(ctx, main_src, at, "\"%s\" needs \"%s\" too (TLS takes both or neither)",
                           have, c->tls_cert_file ? "server.tls_key" : "server.tls_cert");
    }
    if (c->tls_cert_file == NULL && json_object_get(server, "tls_ciphers") != NULL) {
        const char *at[] = {"server.tls_ciphers", "server", "", NULL};

        return cfg_fail_at(ctx, main_src, at,
                           "\"server.tls_ciphers\" needs \"server.tls_cert\" and "
                           "\"server.tls_key\" (without them the server speaks plain HTTP)");
    }
    return 0;
}

static int cfg_check(cfg_ctx_t *ctx, cfg_src_t *main_src)
{
    sts_cfg_t *c = ctx->cfg;
    char p1[64], p2[64], p3[64];
    const char *at[] = {p1, p2, p3, "", NULL};

    if (c->default_lifetime > c->max_lifetime) {
        const char *lat[] = {"engine.default_lifetime", "engine.max_lifetime", "engine", "", NULL};
        return cfg_fail_at(ctx, main_src, lat,
                           "\"engine.default_lifetime\" (%ld) must not exceed "
                           "\"engine.max_lifetime\" (%ld)",
                           c->default_lifetime, c->max_lifetime);
    }
    if (c->nrps == 0) {
        const char *rat[] = {"relying_parties", "", NULL};
        return cfg_fail_at(ctx, main_src, rat,
                           "at least one relying party is required in \"relying_parties\"");
    }
    for (size_t i = 0; i < c->nrps; i++) {
        const sts_cfg_rp_t *rp = &c->rps[i];
        long dflt = rp->default_lifetime ? rp->default_lifetime : c->default_lifetime;
        long max = rp->max_lifetime ? rp->max_lifetime : c->max_lifetime;

        snprintf(p3, sizeof(p3), "relying_parties[%zu]", i);
        if (rp->max_lifetime > c->max_lifetime) {
            snprintf(p1, sizeof(p1), "relying_parties[%zu].max_lifetime", i);
            snprintf(p2, sizeof(p2), "%s", p3);
            return cfg_fail_at(ctx, main_src, at,
                               "\"%s\" (%ld) must not exceed \"engine.max_lifetime\" (%ld)", p1,
                               rp->max_lifetime, c->max_lifetime);
        }
        if (dflt > max) {
            snprintf(p1, sizeof(p1), "relying_parties[%zu].default_lifetime", i);
            snprintf(p2, sizeof(p2), "relying_parties[%zu].max_lifetime", i);
            return cfg_fail_at(ctx, main_src, at,
                               "\"%s\": default lifetime %ld%s exceeds maximum lifetime %ld%s", p3,
                               dflt, rp->default_lifetime ? "" : " (engine default)", max,
                               rp->max_lifetime ? "" : " (engine maximum)");
        }
        for (size_t j = 0; j < i; j++) {
            if (c->rps[j].match == rp->match && strcmp(c->rps[j].applies_to, rp->applies_to) == 0) {
                snprintf(p1, sizeof(p1), "relying_parties[%zu].applies_to", i);
                snprintf(p2, sizeof(p2), "%s", p3);
                return cfg_fail_at(ctx, main_src, at,
                                   "duplicate relying party \"%s\" (also relying_parties[%zu])",
                                   rp->applies_to, j);
            }
        }
    }
    if (check_duplicate_users(ctx) != 0)
        return -1;
    if (c->secrets_key_file == NULL) {
        for (size_t k = 0; k < c->nusers; k++) {
            if (c->users[k].digest_secret != NULL) {
                snprintf(p1, sizeof(p1), "users[%zu].digest_secret", ctx->uorig[k].idx);
                snprintf(p2, sizeof(p2), "users[%zu]", ctx->uorig[k].idx);
                snprintf(p3, sizeof(p3), "users");
                return cfg_fail_at(ctx, ctx->uorig[k].src, at,
                                   "user \"%s\" has a digest_secret but \"engine.secrets_key\" "
                                   "is not set",
                                   c->users[k].name);
            }
        }
    }
    if (check_clients(ctx, main_src) != 0 || check_server_tls(ctx, main_src) != 0 ||
        check_delegation(ctx, main_src) != 0)
        return -1;
    return check_trusted_issuers(ctx, main_src);
}

/* After the checks: signing_keys[0] = engine.signing_key/signing_cert (copies). */
static int cfg_finish(cfg_ctx_t *ctx)
{
    sts_cfg_t *c = ctx->cfg;

    if (c->signing_keys == NULL) {
        if ((c->signing_keys = calloc(1, sizeof(*c->signing_keys))) == NULL)
            return cfg_oom(ctx);
        c->nsigning_keys = 1;
    }
    if ((c->signing_keys[0].key_file = strdup(c->signing_key_file)) == NULL ||
        (c->signing_keys[0].cert_file = strdup(c->signing_cert_file)) == NULL)
        return cfg_oom(ctx);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Public API                                                                */

const char *sts_cfg_dev_certs_dir(void)
{
    const char *env = getenv("STS_CERTS_DIR");

    return env != NULL && env[0] != '\0' ? env : STS_DEV_CERTS_DIR;
}

sts_errc_t sts_cfg_load(const char *path, sts_cfg_t **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    cfg_src_t main_src, users_src;
    cfg_ctx_t ctx;
    char *users_file = NULL;
    sts_cfg_t *cfg = NULL;

    memset(&main_src, 0, sizeof(main_src));
    memset(&users_src, 0, sizeof(users_src));
    memset(&ctx, 0, sizeof(ctx));
    if (out != NULL)
        *out = NULL;
    STS_FAIL_IF(out == NULL, err, STS_E_INTERNAL, "sts_cfg_load: out is NULL");
    cfg = calloc(1, sizeof(*cfg));
    STS_FAIL_IF(cfg == NULL, err, STS_E_NOMEM, "configuration: out of memory");
    ctx.cfg = cfg;
    ctx.err = err;
    ctx.src = &main_src;

    if (path == NULL) {
        main_src.name = strdup(CFG_EMBEDDED_SOURCE);
        main_src.text = strdup(embedded_json);
        main_src.len = sizeof(embedded_json) - 1;
        main_src.base_dir = strdup(sts_cfg_dev_certs_dir());
        STS_FAIL_IF(main_src.text == NULL || main_src.base_dir == NULL, err, STS_E_NOMEM,
                    "configuration: out of memory");
        cfg->strict_key_perms = 0;
    } else {
        main_src.name = strdup(path);
        STS_CHECK(read_text(path, &main_src, err));
        main_src.base_dir = dir_of(path);
        STS_FAIL_IF(main_src.base_dir == NULL, err, STS_E_CONFIG,
                    "%s: cannot find its directory: %s", path, strerror(errno));
        cfg->strict_key_perms = 1;
    }
    cfg->source = strdup(path ? path : CFG_EMBEDDED_SOURCE);
    STS_FAIL_IF(main_src.name == NULL || cfg->source == NULL, err, STS_E_NOMEM,
                "configuration: out of memory");

    if (opt_defaults(&ctx) != 0 || src_parse(&ctx, &main_src) != 0 ||
        cfg_root(&ctx, &users_file) != 0 ||
        (users_file != NULL && users_file_load(&ctx, &main_src, &users_src, users_file) != 0) ||
        cfg_check(&ctx, &main_src) != 0 || cfg_finish(&ctx) != 0) {
        rc = ctx.rc != STS_OK ? ctx.rc : STS_ERR(err, STS_E_INTERNAL, "configuration failed");
        goto cleanup;
    }
    if (path == NULL)
        sts_notice("using the embedded development configuration: test keys from %s, demo user "
                   "alice, demo client migration-tester; never use it in production",
                   main_src.base_dir);
    *out = cfg;
    cfg = NULL;

cleanup:
    sts_cfg_free(cfg);
    src_cleanup(&main_src);
    src_cleanup(&users_src);
    free(users_file);
    free(ctx.uorig);
    return rc;
}

void sts_cfg_free(sts_cfg_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nusers; i++)
        user_cleanup(&cfg->users[i]);
    free(cfg->users);
    for (size_t i = 0; i < cfg->nrps; i++) {
        sts_cfg_rp_t *rp = &cfg->rps[i];
        for (size_t j = 0; j < rp->nclaims; j++)
            free(rp->claims[j]);
        for (size_t j = 0; j < rp->ntoken_types; j++)
            free(rp->token_types[j]);
        free(rp->claims);
        free(rp->token_types);
        free(rp->encryption_cert);
        free(rp->applies_to);
        free(rp->signing_alg);
    }
    free(cfg->rps);
    for (size_t i = 0; i < cfg->nclients; i++)
        client_cleanup(&cfg->clients[i]);
    free(cfg->clients);
    for (size_t i = 0; i < cfg->nsigning_keys; i++) {
        free(cfg->signing_keys[i].key_file);
        free(cfg->signing_keys[i].cert_file);
    }
    free(cfg->signing_keys);
    for (size_t i = 0; i < cfg->ntrusted_issuers; i++)
        trusted_issuer_cleanup(&cfg->trusted_issuers[i]);
    free(cfg->trusted_issuers);
    for (size_t i = 0; i < cfg->ndelegation; i++)
        delegation_cleanup(&cfg->delegation[i]);
    free(cfg->delegation);
    free(cfg->public_url);
    free(cfg->tls_cert_file);
    free(cfg->tls_key_file);
    free(cfg->tls_ciphers);
    free(cfg->listen_host);
    free(cfg->data_dir);
    free(cfg->issuer);
    free(cfg->signing_key_file);
    free(cfg->signing_cert_file);
    free(cfg->secrets_key_file);
    free(cfg->wsdl_file);
    free(cfg->client_ca_file);
    free(cfg->source);
    free(cfg);
}

/*
 * What follows a prefix relying party's address must stay under it, however
 * the party's URL parser reads it:
 *  - printable ASCII only: WHATWG parsers drop tab, CR and LF (".\t." would
 *    become ".."), and no non-ASCII byte, raw or percent-encoded, is left to
 *    anyone's normalisation (fullwidth dots);
 *  - no dot segment ("." or ".."), also before a ";" path parameter ("..;/",
 *    which servlet containers strip);
 *  - no percent-encoded dot, slash, backslash or percent (double encoding),
 *    and no backslash.
 * Without this, "https://apps.example/app1/" would match "…/app1/../app2/".
 */
static int prefix_rest_is_safe(const char *rest)
{
    static const char *const encoded[] = {"%2e", "%2f", "%5c", "%25"};
    const char *seg = rest;

    for (const unsigned char *p = (const unsigned char *)rest; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
            return 0;
        if (*p == '%' && p[1] != '\0' && strchr("89abcdefABCDEF", p[1]) != NULL)
            return 0; /* a percent-encoded non-ASCII byte */
        for (size_t i = 0; *p == '%' && i < sizeof(encoded) / sizeof(encoded[0]); i++)
            if (strncasecmp((const char *)p, encoded[i], 3) == 0)
                return 0;
    }
    for (;;) {
        size_t n = strcspn(seg, "/?#"), dots = strcspn(seg, "/?#;");

        if ((dots == 1 && seg[0] == '.') || (dots == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (seg[n] != '/')
            return 1;
        seg += n + 1;
    }
}

const sts_cfg_rp_t *sts_cfg_find_rp(const sts_cfg_t *cfg, const char *applies_to)
{
    const sts_cfg_rp_t *best = NULL;
    size_t best_len = 0;

    if (cfg == NULL || applies_to == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->nrps; i++)
        if (cfg->rps[i].match == STS_MATCH_EXACT && strcmp(cfg->rps[i].applies_to, applies_to) == 0)
            return &cfg->rps[i];
    for (size_t i = 0; i < cfg->nrps; i++) {
        const sts_cfg_rp_t *rp = &cfg->rps[i];
        size_t n = strlen(rp->applies_to);

        if (rp->match == STS_MATCH_PREFIX && n > best_len &&
            strncmp(rp->applies_to, applies_to, n) == 0 && prefix_rest_is_safe(applies_to + n)) {
            best = rp;
            best_len = n;
        }
    }
    return best;
}

const sts_cfg_user_t *sts_cfg_find_user(const sts_cfg_t *cfg, const char *name)
{
    if (cfg == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->nusers; i++)
        if (strcmp(cfg->users[i].name, name) == 0)
            return &cfg->users[i];
    return NULL;
}

const sts_cfg_client_t *sts_cfg_find_client(const sts_cfg_t *cfg, const char *client_id)
{
    if (cfg == NULL || client_id == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->nclients; i++)
        if (strcmp(cfg->clients[i].client_id, client_id) == 0)
            return &cfg->clients[i];
    return NULL;
}

int sts_cfg_client_allows(char *const *list, size_t n, const char *value)
{
    if (list == NULL || value == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (list[i] != NULL && strcmp(list[i], value) == 0)
            return 1;
    return 0;
}

int sts_cfg_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (host == NULL)
        return 0;
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

int sts_cfg_rest_requires_tls(const sts_cfg_t *cfg, int *defaulted)
{
    int tls = cfg->tls_cert_file != NULL && cfg->tls_key_file != NULL;

    if (defaulted != NULL)
        *defaulted = cfg->rest_require_tls < 0;
    return !tls && (cfg->rest_require_tls == 1 ||
                    (cfg->rest_require_tls < 0 && !sts_cfg_is_loopback(cfg->listen_host)));
}
