/*
 * test_err.c - error codes and the WS-Trust fault table.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_err.h"
#include "sts_soap_int.h"
#include "sts_test.h"

#include <string.h>

int main(void)
{
    static const char *const wst13_faults[] = {
        "InvalidRequest", "FailedAuthentication", "RequestFailed", "InvalidSecurityToken",
        "AuthenticationBadElements", "BadRequest", "ExpiredData", "InvalidTimeRange",
        "InvalidScope", "RenewNeeded", "UnableToRenew"};
    sts_err_t err;

    /* Every code has a name, a public text and exactly one fault row. */
    for (int c = 1; c < STS_E_LAST; c++) {
        CHECK(strncmp(sts_errc_name((sts_errc_t)c), "STS_E_", 6) == 0);
        CHECK(strcmp(sts_errc_str((sts_errc_t)c), "Unknown error") != 0);
        CHECK(sts_soap_fault_name((sts_errc_t)c) != NULL);
    }
    CHECK(sts_soap_fault_name(STS_E_LAST) == NULL);

    /* Every one of the eleven WS-Trust 1.3 faults is reachable from some code. */
    for (size_t f = 0; f < sizeof(wst13_faults) / sizeof(wst13_faults[0]); f++) {
        int found = 0;
        for (int c = 1; c < STS_E_LAST; c++) {
            const char *name = sts_soap_fault_name((sts_errc_t)c);
            found |= name != NULL && strcmp(name, wst13_faults[f]) == 0;
        }
        CHECK(found);
    }

    /* Specific rows the faces rely on. */
    CHECK(strcmp(sts_soap_fault_name(STS_E_AUTH_FAILED), "FailedAuthentication") == 0);
    CHECK(strcmp(sts_soap_fault_name(STS_E_INVALID_TARGET), "InvalidScope") == 0);
    CHECK(strcmp(sts_soap_fault_name(STS_E_NOT_UNDERSTOOD), "BadRequest") == 0);
    CHECK(strcmp(sts_soap_fault_name(STS_E_UNABLE_TO_RENEW), "UnableToRenew") == 0);

    /* The setter keeps public text and detail apart. */
    CHECK(STS_ERR(&err, STS_E_AUTH_FAILED, "wrong password for %s", "alice") == STS_E_AUTH_FAILED);
    CHECK(err.code == STS_E_AUTH_FAILED);
    CHECK(strcmp(err.pub, "Authentication failed") == 0);
    CHECK(strcmp(err.detail, "wrong password for alice") == 0);
    CHECK(err.line > 0 && strstr(err.file, "test_err.c") != NULL);
    CHECK(STS_ERR(NULL, STS_E_INTERNAL, "no err struct") == STS_E_INTERNAL);
    sts_err_clear(&err);
    CHECK(err.code == STS_OK && err.detail[0] == '\0');
    return sts_test_summary();
}
