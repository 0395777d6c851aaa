/*
 * fuzz_form.c - the x-www-form-urlencoded decoder of the REST face.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fuzz_common.h"
#include "sts_rest_form.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"grant_type", "subject_token", "scope", "audience", NULL};
    sts_form_t form;
    const char *v;

    if (sts_form_parse((const char *)data, size, 4096, &form, NULL) == STS_OK) {
        for (const char *const *n = names; *n; n++) {
            (void)sts_form_one(&form, *n, 0, &v, NULL);
            for (size_t i = 0; sts_form_nth(&form, *n, i) != NULL; i++)
                (void)strlen(sts_form_nth(&form, *n, i));
        }
    }
    sts_form_free(&form);
    return 0;
}
