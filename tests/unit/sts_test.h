/*
 * sts_test.h - the smallest test harness: CHECK() counts, the summary line
 * is the one ctest and CI read ("N passed, N failed").
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_TEST_H
#define STS_TEST_H

#include <stdio.h>

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

static inline int sts_test_summary(void)
{
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 && g_pass > 0 ? 0 : 1;
}

#endif /* STS_TEST_H */
