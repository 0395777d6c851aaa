/*
 * sts_test.h - the smallest test harness: CHECK() counts, the summary line
 * is the one ctest and CI read ("N passed, N failed").
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_TEST_H
#define STS_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Counters, visible to a test that defines its own CHECK-like macros. */
static int g_pass, g_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            g_pass++;                                                                     \
        } else {                                                                                   \
            g_fail++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* rc must be @code and the sts_err_t @e's detail must contain @why (the
 * file using it includes sts_err.h). */
#define CHECK_ERR(rc, code, e, why)                                                                \
    do {                                                                                           \
        int ok_ = (rc) == (code) && strstr((e).detail, (why)) != NULL;                             \
        if (ok_) {                                                                                 \
            g_pass++;                                                                              \
        } else {                                                                                   \
            g_fail++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: rc=%s (want %s), detail=\"%s\" (want \"%s\")\n", \
                    __FILE__, __LINE__, sts_errc_name(rc), sts_errc_name(code), (e).detail,       \
                    (why));                                                                        \
        }                                                                                          \
    } while (0)

static inline int sts_test_summary(void)
{
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 && g_pass > 0 ? 0 : 1;
}

/* Runs a shell command built from @fmt; its exit status, or -1. */
static inline int sts_test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sts_test_run(const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    int n, st;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (cmd = malloc((size_t)n + 1)) == NULL)
        abort();
    va_start(ap, fmt);
    vsnprintf(cmd, (size_t)n + 1, fmt, ap);
    va_end(ap);
    st = system(cmd);
    free(cmd);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* Writes @data to @path; 0 on success. */
static inline int sts_test_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(data, f);
    return fclose(f);
}

#endif /* STS_TEST_H */
