/*
 * sts_time.h - the STS clock and xs:dateTime conversion.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_TIME_H
#define STS_TIME_H

#include <stddef.h>
#include <time.h>

/** @brief Seconds since the epoch (UTC); tests may replace the clock. */
time_t sts_time_now(void);

/** @brief Replace the clock (tests only); NULL restores the system clock. */
void sts_time_set_source(time_t (*now)(void));

/**
 * @brief Parse an xs:dateTime ("2024-01-02T03:04:05Z", optional fraction,
 * "Z" or "+hh:mm"/"-hh:mm" offset). A value without a zone is refused.
 * @return 0 and *out on success, -1 on a malformed value.
 */
int sts_time_parse(const char *s, time_t *out);

/** @brief Format @t as "YYYY-MM-DDThh:mm:ss.000Z" into @buf (>= 25 bytes). */
char *sts_time_format(time_t t, char *buf, size_t len);

#define STS_TIME_BUFLEN 32

#endif /* STS_TIME_H */
