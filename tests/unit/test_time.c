/*
 * test_time.c - strict xs:dateTime parsing and formatting.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_test.h"
#include "sts_time.h"

#include <string.h>

static time_t fixed(void) { return 1441909000; }

int main(void)
{
    time_t t = 0;
    char buf[STS_TIME_BUFLEN];

    CHECK(sts_time_parse("2015-09-10T18:16:40Z", &t) == 0 && t == 1441909000);
    CHECK(sts_time_parse("2015-09-10T18:16:40.505Z", &t) == 0 && t == 1441909000);
    CHECK(sts_time_parse("2015-09-10T20:16:40+02:00", &t) == 0 && t == 1441909000);
    CHECK(sts_time_parse("2015-09-10T13:16:40-05:00", &t) == 0 && t == 1441909000);
    CHECK(sts_time_parse(" 2015-09-10T18:16:40Z\n", &t) == 0 && t == 1441909000);
    /* refused: no zone, bad fields, junk, impossible dates */
    CHECK(sts_time_parse("2015-09-10T18:16:40", &t) == -1);
    CHECK(sts_time_parse("2015-09-10 18:16:40Z", &t) == -1);
    CHECK(sts_time_parse("2015-13-10T18:16:40Z", &t) == -1);
    CHECK(sts_time_parse("2015-02-31T18:16:40Z", &t) == -1);
    CHECK(sts_time_parse("2015-09-10T24:00:00Z", &t) == -1);
    CHECK(sts_time_parse("2015-09-10T18:16:40Zjunk", &t) == -1);
    CHECK(sts_time_parse("2015-09-10T18:16:40.Z", &t) == -1);
    CHECK(sts_time_parse("", &t) == -1);
    CHECK(sts_time_parse(NULL, &t) == -1);
    CHECK(sts_time_parse("1969-12-31T23:59:59Z", &t) == -1);
    /* the day-of-month check does not depend on the seconds, ":60" included */
    CHECK(sts_time_parse("2026-02-31T23:59:60Z", &t) == -1);
    CHECK(sts_time_parse("2026-02-31T00:00:60Z", &t) == -1);
    CHECK(sts_time_parse("2026-02-31T12:30:60.5Z", &t) == -1);
    CHECK(sts_time_parse("2026-02-29T23:59:60Z", &t) == -1); /* 2026 is no leap year */
    CHECK(sts_time_parse("2024-02-30T23:59:60Z", &t) == -1);
    CHECK(sts_time_parse("2026-04-31T23:59:60+02:00", &t) == -1);
    CHECK(sts_time_parse("2026-02-31T23:59:59Z", &t) == -1);
    CHECK(sts_time_parse("2026-02-31T23:59:61Z", &t) == -1);
    /* a leap second on a real day is the next second */
    {
        time_t next = 0;
        CHECK(sts_time_parse("2017-01-01T00:00:00Z", &next) == 0 && next == 1483228800);
        CHECK(sts_time_parse("2016-12-31T23:59:60Z", &t) == 0 && t == next);
        CHECK(sts_time_parse("2016-12-31T23:59:60.25Z", &t) == 0 && t == next);
        CHECK(sts_time_parse("2017-01-01T01:59:60+02:00", &t) == 0 && t == next);
        CHECK(sts_time_parse("2024-03-01T00:00:00Z", &next) == 0);
        CHECK(sts_time_parse("2024-02-29T23:59:60Z", &t) == 0 && t == next);
        CHECK(sts_time_parse("2026-03-01T00:00:00Z", &next) == 0);
        CHECK(sts_time_parse("2026-02-28T23:59:60Z", &t) == 0 && t == next);
        CHECK(sts_time_parse("2015-09-10T18:16:39Z", &next) == 0 && next == 1441908999);
        CHECK(sts_time_parse("2015-09-10T18:15:60Z", &t) == 0 && t == 1441908960);
    }

    CHECK(strcmp(sts_time_format(1441909000, buf, sizeof(buf)), "2015-09-10T18:16:40.000Z") == 0);
    sts_time_set_source(fixed);
    CHECK(sts_time_now() == 1441909000);
    sts_time_set_source(NULL);
    CHECK(sts_time_now() > 1441909000);
    return sts_test_summary();
}
