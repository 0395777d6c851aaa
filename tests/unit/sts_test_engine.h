/*
 * sts_test_engine.h - an engine on the embedded default configuration, its
 * store in a fresh temporary directory, for the unit tests that drive one.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_TEST_ENGINE_H
#define STS_TEST_ENGINE_H

#include "sts_cfg.h"
#include "sts_engine.h"
#include "sts_keys.h"
#include "sts_test.h"

#include <stdlib.h>
#include <string.h>

/*
 * Makes @dir (a mkdtemp() template, rewritten in place) the data directory
 * of the embedded default configuration, applies @adjust (NULL: none; it
 * returns 0 on success) and opens an engine on it. Every step is a CHECK.
 * Returns the engine, or NULL (then *@cfg may still be set); release both
 * with sts_test_engine_close().
 */
static inline sts_engine_t *sts_test_engine_open(char *dir, int (*adjust)(sts_cfg_t *),
                                                 sts_cfg_t **cfg)
{
    sts_engine_t *e = NULL;
    sts_err_t err;

    *cfg = NULL;
    CHECK(mkdtemp(dir) != NULL);
    CHECK(sts_keys_global_init(&err) == STS_OK);
    CHECK(sts_cfg_load(NULL, cfg, &err) == STS_OK);
    if (*cfg == NULL)
        return NULL;
    free((*cfg)->data_dir);
    (*cfg)->data_dir = strdup(dir);
    if (adjust != NULL)
        CHECK(adjust(*cfg) == 0);
    CHECK(sts_engine_new(*cfg, &e, &err) == STS_OK);
    return e;
}

/* Frees what sts_test_engine_open() made and removes @dir. */
static inline void sts_test_engine_close(const char *dir, sts_cfg_t *cfg, sts_engine_t *e)
{
    sts_engine_free(e);
    sts_cfg_free(cfg);
    sts_keys_global_cleanup();
    CHECK(sts_test_run("rm -rf '%s'", dir) == 0);
}

#endif /* STS_TEST_ENGINE_H */
