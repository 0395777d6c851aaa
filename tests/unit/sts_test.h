/*
 * sts_test.h - the smallest test harness: CHECK() counts, the summary line
 * is the one ctest and CI read ("N passed, N failed").
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_TEST_H
#define STS_TEST_H

#include <stdio.h>

static int sts_test_passed, sts_test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            sts_test_passed++;                                                                     \
        } else {                                                                                   \
            sts_test_failed++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

static inline int sts_test_summary(void)
{
    printf("%d passed, %d failed\n", sts_test_passed, sts_test_failed);
    return sts_test_failed == 0 && sts_test_passed > 0 ? 0 : 1;
}

#endif /* STS_TEST_H */
