/*
 * sts_soap_fault.c - the one table from engine errors to WS-Trust faults.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * WS-Trust 1.3 section 11 defines eleven fault codes; every one has a row.
 * SOAP 1.1: faultcode = wst:<Name>. SOAP 1.2: Code Sender (or Receiver for
 * our own failures), Subcode wst:<Name>. The reason is always the spec's
 * text; the engine's detail goes to the log only.
 */
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_soap_int.h"

#include <stdio.h>
#include <string.h>

typedef struct fault_row {
    sts_errc_t code;
    int receiver;         /* 1: Receiver/Server fault (our failure) */
    const char *name;     /* wst:<name> */
    const char *reason;   /* WS-Trust 1.3 section 11 text */
} fault_row_t;

#define INVALID_REQUEST "InvalidRequest", "The request was invalid or malformed"
#define FAILED_AUTH "FailedAuthentication", "Authentication failed"
#define REQUEST_FAILED "RequestFailed", "The specified request failed"
#define INVALID_TOKEN "InvalidSecurityToken", "Security token has been revoked"
#define BAD_ELEMENTS "AuthenticationBadElements", "Insufficient Digest Elements"
#define BAD_REQUEST "BadRequest", "The specified RequestSecurityToken is not understood"
#define EXPIRED_DATA "ExpiredData", "The request data is out-of-date"
#define INVALID_TIME "InvalidTimeRange", "The requested time range is invalid or unsupported"
#define INVALID_SCOPE "InvalidScope", "The request scope is invalid or unsupported"
#define RENEW_NEEDED "RenewNeeded", "A renewable security token has expired"
#define UNABLE_TO_RENEW "UnableToRenew", "The requested renewal failed"

static const fault_row_t fault_table[] = {
    {STS_E_INVALID_REQUEST, 0, INVALID_REQUEST},
    {STS_E_NOT_UNDERSTOOD, 0, BAD_REQUEST},
    {STS_E_AUTH_FAILED, 0, FAILED_AUTH},
    {STS_E_UNAUTHORIZED, 0, REQUEST_FAILED},
    {STS_E_INVALID_TOKEN, 0, INVALID_TOKEN},
    {STS_E_EXPIRED_DATA, 0, EXPIRED_DATA},
    {STS_E_INVALID_LIFETIME, 0, INVALID_TIME},
    {STS_E_INVALID_TARGET, 0, INVALID_SCOPE},
    {STS_E_RENEW_NEEDED, 0, RENEW_NEEDED},
    {STS_E_UNABLE_TO_RENEW, 0, UNABLE_TO_RENEW},
    {STS_E_BAD_ELEMENTS, 0, BAD_ELEMENTS},
    {STS_E_REQUEST_FAILED, 0, REQUEST_FAILED},
    {STS_E_TOKEN_REVOKED, 0, INVALID_TOKEN},
    {STS_E_INVALID_SCOPE, 0, INVALID_SCOPE},
    {STS_E_UNSUPPORTED_GRANT, 0, BAD_REQUEST},
    {STS_E_NOMEM, 1, REQUEST_FAILED},
    {STS_E_INTERNAL, 1, REQUEST_FAILED},
    {STS_E_CRYPTO, 1, REQUEST_FAILED},
    {STS_E_BACKEND, 1, REQUEST_FAILED},
    {STS_E_CONFIG, 1, REQUEST_FAILED},
};

static const fault_row_t fault_fallback = {STS_E_INTERNAL, 1, REQUEST_FAILED};

static const fault_row_t *fault_row(sts_errc_t code)
{
    for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++)
        if (fault_table[i].code == code)
            return &fault_table[i];
    return NULL;
}

const char *sts_soap_fault_name(sts_errc_t code)
{
    const fault_row_t *row = fault_row(code);
    return row ? row->name : NULL;
}

int sts_soap_fault(struct soap *soap, const sts_err_t *err)
{
    const fault_row_t *row = fault_row(err->code);
    char qname[64];

    if (row == NULL)
        row = &fault_fallback;

    sts_soap_reply_header(soap, STS_WSA_FAULT_ACTION);
    snprintf(qname, sizeof(qname), "wst:%s", row->name);
    const char *file = err->file ? strrchr(err->file, '/') : NULL;
    sts_info("soap -> %s (%s: %s at %s:%d)", qname, sts_errc_name(err->code), err->detail,
             file ? file + 1 : (err->file ? err->file : "-"), err->line);
    if (row->receiver)
        return soap_receiver_fault_subcode(soap, soap_strdup(soap, qname), row->reason, NULL);
    return soap_sender_fault_subcode(soap, soap_strdup(soap, qname), row->reason, NULL);
}
