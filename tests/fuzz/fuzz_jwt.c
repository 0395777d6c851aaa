/*
 * fuzz_jwt.c - compact JWS verification against our two dev keys (RS256 and
 * ES256): header/payload parsing, the algorithm allow-list, kid lookup,
 * signature decoding. A verified token can only come from the seeds.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fuzz_common.h"
#include "sts_jwt.h"

static sts_keys_t *g_keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char key[512], crt[512];
    const char *dir;
    sts_err_t err;

    (void)argc, (void)argv;
    fuzz_setup();
    dir = sts_cfg_dev_certs_dir();
    snprintf(key, sizeof(key), "%s/sts-signing.key", dir);
    snprintf(crt, sizeof(crt), "%s/sts-signing.crt", dir);
    if (sts_keys_load(key, crt, &g_keys[0], &err) != STS_OK)
        exit(1);
    snprintf(key, sizeof(key), "%s/sts-signing-ec.key", dir);
    snprintf(crt, sizeof(crt), "%s/sts-signing-ec.crt", dir);
    if (sts_keys_load(key, crt, &g_keys[1], &err) != STS_OK)
        exit(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *hdr = NULL, *claims = NULL;

    if (sts_jwt_verify(g_keys, 2, (const char *)data, size, &hdr, &claims, NULL) == STS_OK) {
        json_decref(hdr);
        json_decref(claims);
    }
    return 0;
}
