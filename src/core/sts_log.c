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

void sts_log_set_reqid(const char *reqid)
{
    snprintf(t_reqid, sizeof(t_reqid), "%s", reqid ? reqid : "-");
}

const char *sts_log_reqid(void) { return t_reqid; }

int sts_log_enabled(sts_log_level_t level) { return level <= g_level; }

void sts_log_write(sts_log_level_t level, const char *file, int line, const char *func,
                   const char *fmt, ...)
{
    char msg[1024];
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line per record: control characters from peer data never split it. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%s.%03ldZ %-6s [%s] %s (%s:%d %s)\n", ts, now.tv_nsec / 1000000L,
            level_names[level], t_reqid, msg, base ? base + 1 : file, line, func);
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
