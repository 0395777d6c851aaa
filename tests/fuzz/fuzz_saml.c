/*
 * fuzz_saml.c - the hardened XML parser, then the engine reading the
 * document's root as a presented token (SAML signature checks, wrapping
 * defences, the store lookup) exactly as WS-Trust Validate does.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_setup();
    fuzz_setup_engine();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlDocPtr doc = NULL;
    sts_token_in_t tok = {.node = NULL};
    sts_verdict_t v = {.valid = 0};

    if (sts_xml_parse((const char *)data, size, NULL, &doc, NULL) != STS_OK)
        return 0;
    tok.node = xmlDocGetRootElement(doc);
    if (sts_engine_validate(g_engine, NULL, &tok, &v, NULL) == STS_OK)
        sts_verdict_clear(&v);
    xmlFreeDoc(doc);
    return 0;
}
