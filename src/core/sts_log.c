/*
 * sts_log.c - log lines to stderr: time, level, request id, message, origin.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_log.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static sts_log_level_t g_level = STS_LOG_INFO;
static __thread char t_reqid[40] = "-";

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug", "trace"};

void sts_log_set_level(sts_log_level_t level) { g_level = level; }

int sts_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (name != NULL && strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

/*
 * Copies @in to @out (@outlen > 0, always NUL-terminated) with every byte that
 * could forge or hide part of a log line escaped as \xNN: C0 controls (CR/LF
 * would start a new record), DEL, and every byte >= 0x80 (C1 controls such as
 * NEL, U+2028/U+2029, bidi overrides are all non-ASCII). A backslash becomes
 * \\ so an escape in the output always means an escaped byte. Only whole
 * escapes are written: truncation never leaves half of one.
 */
static void log_escape(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
            if (o + 1 >= outlen)
                break;
            out[o++] = (char)*p;
        } else if (*p == '\\') {
            if (o + 2 >= outlen)
                break;
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            if (o + 4 >= outlen)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 0x0f];
        }
    }
    out[o] = '\0';
}

void sts_log_set_reqid(const char *reqid)
{
    log_escape(reqid ? reqid : "-", t_reqid, sizeof(t_reqid));
}

const char *sts_log_reqid(void) { return t_reqid; }

int sts_log_enabled(sts_log_level_t level) { return level <= g_level; }

void sts_log_write(sts_log_level_t level, const char *file, int line, const char *func,
                   const char *fmt, ...)
{
    char msg[1024];
    char safe[4 * sizeof(msg)]; /* each byte of msg escapes to at most 4 */
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line per record: peer data in the message never splits or disguises it. */
    log_escape(msg, safe, sizeof(safe));
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%s.%03ldZ %-6s [%s] %s (%s:%d %s)\n", ts, now.tv_nsec / 1000000L,
            level_names[level], t_reqid, safe, base ? base + 1 : file, line, func);
}

char *sts_log_fp(const void *data, size_t len, char out[13])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    static const char hex[] = "0123456789abcdef";

    SHA256(data, len, md);
    for (int i = 0; i < 6; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[12] = '\0';
    return out;
}
