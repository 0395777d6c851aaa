/*
 * sts_time.c - clock and strict xs:dateTime parsing.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static time_t (*g_now)(void);

time_t sts_time_now(void) { return g_now ? g_now() : time(NULL); }

void sts_time_set_source(time_t (*now)(void)) { g_now = now; }

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

int sts_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    const char *p = s;

    if (s == NULL || strlen(s) > 64)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d) || expect(&p, 'T') || digits(&p, 2, &h) || expect(&p, ':') ||
        digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &se))
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 14 || om > 59)
            return -1;
    } else {
        return -1; /* no zone: ambiguous, refused */
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    /* timegm normalises 31 Feb into March: refuse such dates. The check is
     * made at second 0 so that it cannot depend on the seconds: a leap second
     * (":60") would otherwise roll 23:59:60 into the next day and have to be
     * exempted, and the exemption let 31 Feb through. */
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d || back.tm_mon != mo - 1 || back.tm_year != y - 1900)
        return -1;
    /* ":60" is the next second (time_t has no leap seconds) */
    *out = t + se - sign * (oh * 3600 + om * 60);
    return 0;
}

char *sts_time_format(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
}
