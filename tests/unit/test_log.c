/*
 * test_log.c - log records: one line each, peer bytes escaped, levels, fingerprints.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Records are read back by pointing file descriptor 2 at a temporary file.
 */
#include "sts_log.h"
#include "sts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What sts_log_write(@level, ...) put on stderr for "%s" of @arg: a new
 * NUL-terminated string (free()), or NULL when capturing failed. */
static char *capture(sts_log_level_t level, const char *arg)
{
    FILE *tf = tmpfile();
    int saved = -1;
    long n;
    char *out = NULL;

    if (tf == NULL)
        return NULL;
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fileno(tf), STDERR_FILENO) < 0)
        goto done;
    sts_log_write(level, "src/x/origin.c", 42, "origin_func", "peer said <%s>", arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    if (fseek(tf, 0, SEEK_END) != 0 || (n = ftell(tf)) < 0 || fseek(tf, 0, SEEK_SET) != 0)
        goto done;
    if ((out = calloc(1, (size_t)n + 1)) != NULL && fread(out, 1, (size_t)n, tf) != (size_t)n) {
        free(out);
        out = NULL;
    }
done:
    if (saved >= 0)
        close(saved);
    fclose(tf);
    return out;
}

/* One record: exactly one '\n', at the end, and nothing but printable ASCII before it. */
static int one_clean_line(const char *rec)
{
    size_t n = rec != NULL ? strlen(rec) : 0;

    if (n == 0 || rec[n - 1] != '\n')
        return 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((unsigned char)rec[i] < 0x20 || (unsigned char)rec[i] > 0x7e)
            return 0;
    return 1;
}

/* The message part of a record: between "peer said <" and the last ">". */
static int message_is(const char *rec, const char *want)
{
    const char *s = rec != NULL ? strstr(rec, "peer said <") : NULL;
    const char *e = rec != NULL ? strrchr(rec, '>') : NULL;

    if (s == NULL || e == NULL)
        return 0;
    s += strlen("peer said <");
    if (e < s || (size_t)(e - s) != strlen(want) || strncmp(s, want, strlen(want)) != 0) {
        fprintf(stderr, "message [%.*s], want [%s]\n", e >= s ? (int)(e - s) : 0, s, want);
        return 0;
    }
    return 1;
}

static void expect_escaped(const char *in, const char *want, int line)
{
    char *rec = capture(STS_LOG_ERROR, in);

    if (one_clean_line(rec) && message_is(rec, want)) {
        g_pass++;
    } else {
        g_fail++;
        fprintf(stderr, "%s:%d: record for [%s] is [%s], want message [%s]\n", __FILE__, line,
                in, rec ? rec : "(none)", want);
    }
    free(rec);
}
#define ESCAPED(in, want) expect_escaped((in), (want), __LINE__)

static void test_escaping(void)
{
    char *rec;

    ESCAPED("alice", "alice");
    ESCAPED("a b~!\"#$%&'()*+,-./:;=?@[]^_`{|}", "a b~!\"#$%&'()*+,-./:;=?@[]^_`{|}");
    /* a forged second record */
    ESCAPED("eve\n2026-01-01T00:00:00.000Z error  [-] admin logged in",
            "eve\\x0a2026-01-01T00:00:00.000Z error  [-] admin logged in");
    ESCAPED("a\rb\tc\x1b[31md\x7f" "e", "a\\x0db\\x09c\\x1b[31md\\x7fe");
    ESCAPED("\x01\x1f", "\\x01\\x1f");
    /* U+2028 LINE SEPARATOR, U+0085 NEL (a C1 control), a bare C1 byte,
     * U+202E RIGHT-TO-LEFT OVERRIDE, and plain non-ASCII text */
    ESCAPED("a\xe2\x80\xa8" "b", "a\\xe2\\x80\\xa8b");
    ESCAPED("a\xc2\x85" "b", "a\\xc2\\x85b");
    ESCAPED("a\x85" "b\x9b", "a\\x85b\\x9b");
    ESCAPED("\xe2\x80\xae" "txt.exe", "\\xe2\\x80\\xaetxt.exe");
    ESCAPED("caf\xc3\xa9", "caf\\xc3\\xa9");
    ESCAPED("\xff", "\\xff");
    /* the escape character itself, so that an escape is never ambiguous */
    ESCAPED("a\\b", "a\\\\b");
    ESCAPED("\\x0a", "\\\\x0a");

    /* the longest message the buffer holds, all escaped: still one whole line */
    {
        char big[1100];
        memset(big, 0xff, sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        rec = capture(STS_LOG_ERROR, big);
        CHECK(one_clean_line(rec));
        CHECK(rec != NULL && strstr(rec, "(origin.c:42 origin_func)\n") != NULL);
        /* no half escape where the message was cut */
        {
            const char *s = rec != NULL ? strstr(rec, "peer said <") : NULL;
            size_t n = 0;
            if (s != NULL)
                for (s += strlen("peer said <"); strncmp(s, "\\xff", 4) == 0; s += 4)
                    n++;
            CHECK(n > 1000 && s != NULL && s[0] == ' ' && s[1] == '(');
        }
        free(rec);
    }

    /* the request id is escaped too */
    sts_log_set_reqid("r1\n\\\xe2\x80\xa8");
    CHECK(strcmp(sts_log_reqid(), "r1\\x0a\\\\\\xe2\\x80\\xa8") == 0);
    rec = capture(STS_LOG_ERROR, "x");
    CHECK(one_clean_line(rec) && strstr(rec, " [r1\\x0a\\\\\\xe2\\x80\\xa8] ") != NULL);
    free(rec);
    /* ... and cut only between escapes (40-byte buffer) */
    sts_log_set_reqid("\n\n\n\n\n\n\n\n\n\n\n\n");
    CHECK(strlen(sts_log_reqid()) == 36 && strncmp(sts_log_reqid(), "\\x0a", 4) == 0);
    sts_log_set_reqid(NULL);
    CHECK(strcmp(sts_log_reqid(), "-") == 0);
}

static void test_levels_and_fp(void)
{
    char fp[13];

    CHECK(sts_log_level_parse("error") == STS_LOG_ERROR);
    CHECK(sts_log_level_parse("TRACE") == STS_LOG_TRACE);
    CHECK(sts_log_level_parse("loud") == -1 && sts_log_level_parse(NULL) == -1);
    sts_log_set_level(STS_LOG_WARN);
    CHECK(sts_log_enabled(STS_LOG_ERROR) && sts_log_enabled(STS_LOG_WARN));
    CHECK(!sts_log_enabled(STS_LOG_INFO));
    sts_log_set_level(STS_LOG_INFO);
    /* SHA-256("abc") = ba7816bf8f01cfea... */
    CHECK(strcmp(sts_log_fp("abc", 3, fp), "ba7816bf8f01") == 0);
}

int main(void)
{
    test_escaping();
    test_levels_and_fp();
    return sts_test_summary();
}
