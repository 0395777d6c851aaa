/*
 * test_rest.c - the REST face's form decoder and OAuth error table.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_rest_error.h"
#include "sts_rest_form.h"
#include "sts_test.h"

#include <string.h>

static int parses(const char *body, size_t max, sts_form_t *f)
{
    return sts_form_parse(body, strlen(body), max, f, NULL) == STS_OK;
}

static void test_form(void)
{
    sts_form_t f;
    const char *v = NULL;
    sts_err_t err;

    /* RFC 8693 section 2.3's request, verbatim */
    CHECK(parses("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                 "&resource=https%3A%2F%2Fbackend.example.com%2Fapi"
                 "&subject_token=accVkjcJyb4BWCxGsndESCJQbdFMogUC5PbRDqceLTC"
                 "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
                 4096, &f));
    CHECK(f.n == 4);
    CHECK(sts_form_one(&f, "grant_type", 1, &v, &err) == STS_OK && v &&
          strcmp(v, "urn:ietf:params:oauth:grant-type:token-exchange") == 0);
    CHECK(sts_form_one(&f, "resource", 1, &v, &err) == STS_OK && v &&
          strcmp(v, "https://backend.example.com/api") == 0);
    CHECK(sts_form_one(&f, "scope", 0, &v, &err) == STS_OK && v == NULL);
    CHECK(sts_form_one(&f, "scope", 1, &v, &err) == STS_E_INVALID_REQUEST);
    CHECK(strstr(err.detail, "scope missing") != NULL);
    sts_form_free(&f);

    /* '+' is a space, escapes of either case, empty values and empty pairs */
    CHECK(parses("scope=a+b%2bc%2Fd&empty=&bare&&x=%41", 64, &f));
    CHECK(strcmp(sts_form_nth(&f, "scope", 0), "a b+c/d") == 0);
    CHECK(strcmp(sts_form_nth(&f, "empty", 0), "") == 0);
    CHECK(strcmp(sts_form_nth(&f, "bare", 0), "") == 0);
    CHECK(strcmp(sts_form_nth(&f, "x", 0), "A") == 0);
    CHECK(f.n == 4);
    sts_form_free(&f);

    /* repeats: kept in order, an error only where one value is read */
    CHECK(parses("audience=a&resource=r1&audience=b&resource=r2", 64, &f));
    CHECK(sts_form_count(&f, "audience") == 2);
    CHECK(strcmp(sts_form_nth(&f, "audience", 1), "b") == 0);
    CHECK(strcmp(sts_form_nth(&f, "resource", 1), "r2") == 0);
    CHECK(sts_form_nth(&f, "resource", 2) == NULL);
    CHECK(sts_form_one(&f, "audience", 0, &v, &err) == STS_E_INVALID_REQUEST && v == NULL);
    CHECK(strstr(err.detail, "repeated") != NULL);
    sts_form_free(&f);

    /* refused, never silently dropped */
    CHECK(!parses("subject_token=%4", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=%zz", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=a%00b", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("=value", 64, &f));
    sts_form_free(&f);
    CHECK(!parses("subject_token=0123456789", 9, &f)); /* over the value limit */
    sts_form_free(&f);
    CHECK(parses("subject_token=012345678", 9, &f)); /* at it */
    sts_form_free(&f);
    CHECK(!parses("a_name_longer_than_sixty_four_bytes_is_not_a_parameter_we_could_know_of=1",
                  64, &f));
    sts_form_free(&f);
    {
        char body[STS_FORM_MAX_PARAMS * 4 + 8];
        size_t n = 0;
        for (int i = 0; i <= STS_FORM_MAX_PARAMS; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%sp=%d", i ? "&" : "", i % 10);
        CHECK(!parses(body, 64, &f)); /* one parameter too many */
        sts_form_free(&f);
    }
    /* a body that is not NUL-terminated: only @len bytes are read */
    CHECK(sts_form_parse("a=1&b=2XXXX", 7, 64, &f, NULL) == STS_OK && f.n == 2 &&
          strcmp(sts_form_nth(&f, "b", 0), "2") == 0);
    sts_form_free(&f);
}

static void test_error_table(void)
{
    const sts_rest_error_t *e;

    for (int c = 1; c < STS_E_LAST; c++) {
        CHECK(sts_rest_error_of((sts_errc_t)c, 0) != NULL);
        CHECK(sts_rest_error_of((sts_errc_t)c, 1) != NULL);
    }
    CHECK(sts_rest_error_of(STS_OK, 0) == NULL);
    CHECK(sts_rest_error_of(STS_E_LAST, 0) == NULL);
    /* RFC 8693 2.2.2: a bad subject/actor token is invalid_request ... */
    e = sts_rest_error_of(STS_E_INVALID_TOKEN, 0);
    CHECK(strcmp(e->error, "invalid_request") == 0 && e->status == 400);
    /* ... but a bad refresh token is invalid_grant (RFC 6749 5.2) */
    e = sts_rest_error_of(STS_E_INVALID_TOKEN, 1);
    CHECK(strcmp(e->error, "invalid_grant") == 0 && e->status == 400);
    e = sts_rest_error_of(STS_E_AUTH_FAILED, 0);
    CHECK(strcmp(e->error, "invalid_client") == 0 && e->status == 401);
    e = sts_rest_error_of(STS_E_INVALID_TARGET, 0);
    CHECK(strcmp(e->error, "invalid_target") == 0 && e->status == 400);
    e = sts_rest_error_of(STS_E_INVALID_SCOPE, 0);
    CHECK(strcmp(e->error, "invalid_scope") == 0);
    e = sts_rest_error_of(STS_E_UNSUPPORTED_GRANT, 0);
    CHECK(strcmp(e->error, "unsupported_grant_type") == 0);
    e = sts_rest_error_of(STS_E_UNAUTHORIZED, 0);
    CHECK(strcmp(e->error, "unauthorized_client") == 0);
    e = sts_rest_error_of(STS_E_BACKEND, 0);
    CHECK(strcmp(e->error, "server_error") == 0 && e->status == 500);
}

int main(void)
{
    test_form();
    test_error_table();
    return sts_test_summary();
}
