/*
 * sts_log.h - levelled logging with a per-request id.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Never pass a token, password, key or assertion to these functions: log
 * sts_log_fp() of it (12 hex digits of its SHA-256) instead.
 */
#ifndef STS_LOG_H
#define STS_LOG_H

#include <stddef.h>

typedef enum sts_log_level {
    STS_LOG_ERROR = 0,
    STS_LOG_WARN,
    STS_LOG_NOTICE,
    STS_LOG_INFO,
    STS_LOG_DEBUG,
    STS_LOG_TRACE
} sts_log_level_t;

/** @brief Set the most verbose level that is written (default INFO). Not thread-safe: call at start. */
void sts_log_set_level(sts_log_level_t level);

/** @brief Parse "error".."trace"; returns -1 if unknown. */
int sts_log_level_parse(const char *name);

/** @brief Set the request id of the calling thread ("-" when NULL). Copied. */
void sts_log_set_reqid(const char *reqid);

/** @brief The request id of the calling thread (borrowed, thread-local). */
const char *sts_log_reqid(void);

/** @brief True when @level would be written. */
int sts_log_enabled(sts_log_level_t level);

void sts_log_write(sts_log_level_t level, const char *file, int line, const char *func,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/**
 * @brief Fingerprint of @data for logs: 12 lowercase hex digits of its SHA-256
 * written to @out (13 bytes with the NUL). Returns @out.
 */
char *sts_log_fp(const void *data, size_t len, char out[13]);

#define sts_log(level, ...)                                                                        \
    do {                                                                                           \
        if (sts_log_enabled(level))                                                                \
            sts_log_write((level), __FILE__, __LINE__, __func__, __VA_ARGS__);                     \
    } while (0)
#define sts_error(...) sts_log(STS_LOG_ERROR, __VA_ARGS__)
#define sts_warn(...) sts_log(STS_LOG_WARN, __VA_ARGS__)
#define sts_notice(...) sts_log(STS_LOG_NOTICE, __VA_ARGS__)
#define sts_info(...) sts_log(STS_LOG_INFO, __VA_ARGS__)
#define sts_debug(...) sts_log(STS_LOG_DEBUG, __VA_ARGS__)

#endif /* STS_LOG_H */
