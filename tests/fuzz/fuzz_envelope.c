/*
 * fuzz_envelope.c - the SOAP face's reading of a request, as the server does
 * it once the body is read: the hardened parse, the envelope reader
 * (structure, WS-Addressing, wsse:Security, RST fields), then each binding's
 * target handed to the engine as Validate would.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fuzz_common.h"
#include "sts_soap_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_setup();
    fuzz_setup_engine();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const targets[] = {"ValidateTarget", "RenewTarget", "CancelTarget", NULL};
    sts_xml_limits_t limits = {g_cfg->max_xml_depth, g_cfg->max_xml_string,
                               g_cfg->max_message_size};
    sts_soap_conn_t conn;
    sts_soap_envelope_t env;

    memset(&conn, 0, sizeof(conn));
    conn.engine = g_engine;
    conn.cfg = g_cfg;
    if (sts_xml_parse((const char *)data, size, &limits, &conn.doc, NULL) != STS_OK)
        return 0;
    if (sts_soap_envelope_read(&conn, &env, NULL) == STS_OK && env.rst != NULL) {
        for (const char *const *t = targets; *t; t++) {
            sts_token_in_t tok = {.node = NULL};
            sts_verdict_t v = {.valid = 0};
            if (sts_soap_envelope_target(&env, NULL, *t, &tok.node, NULL) == STS_OK &&
                sts_engine_validate(g_engine, NULL, &tok, &v, NULL) == STS_OK)
                sts_verdict_clear(&v);
        }
    }
    sts_soap_envelope_free(&env);
    if (conn.doc != NULL) /* not taken by the reader */
        xmlFreeDoc(conn.doc);
    return 0;
}
