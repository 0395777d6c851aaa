/*
 * fuzz_common.h - what the libFuzzer targets share: a real engine on the
 * embedded default realm, with a store in a fresh temporary directory.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Targets run in one process for many inputs: every allocation an input
 * causes must be freed by the time the call returns (LeakSanitizer checks).
 */
#ifndef STS_FUZZ_COMMON_H
#define STS_FUZZ_COMMON_H

#include "sts_cfg.h"
#include "sts_engine.h"
#include "sts_keys.h"
#include "sts_log.h"
#include "sts_xml.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static sts_cfg_t *g_cfg __attribute__((unused));
static sts_engine_t *g_engine __attribute__((unused));

/* Process-wide set-up, once: libraries and the embedded default config.
 * Exits when they cannot start. */
static inline void fuzz_setup(void)
{
    sts_err_t err;

    sts_log_set_level(STS_LOG_ERROR); /* quiet: refusals are the normal case */
    sts_xml_init();
    if (sts_keys_global_init(&err) != STS_OK || sts_cfg_load(NULL, &g_cfg, &err) != STS_OK) {
        fprintf(stderr, "fuzz set-up: %s\n", err.detail);
        exit(1);
    }
}

/* Then the engine on g_cfg, its store in a fresh temporary directory. */
static inline void fuzz_setup_engine(void)
{
    static char dir[] = "/tmp/sts-fuzz-XXXXXX";
    sts_err_t err;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    free(g_cfg->data_dir);
    g_cfg->data_dir = strdup(dir);
    if (g_cfg->data_dir == NULL || sts_engine_new(g_cfg, &g_engine, &err) != STS_OK) {
        fprintf(stderr, "fuzz set-up: engine: %s\n", err.detail);
        exit(1);
    }
}

#endif /* STS_FUZZ_COMMON_H */
