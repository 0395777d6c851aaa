/*
 * main.c - the sts command: serve, passwd, check-config.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_cfg.h"
#include "sts_engine.h"
#include "sts_keys.h"
#include "sts_log.h"
#include "sts_rest.h"
#include "sts_seal.h"
#include "sts_soap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: sts serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
          "       sts check-config [--config FILE]\n"
          "       sts passwd [--digest] [--config FILE]   (password on standard input)\n"
          "       sts version\n",
          out);
}

static int replace_str(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

static int load_cfg(const char *path, sts_cfg_t **cfg)
{
    sts_err_t err;
    if (sts_cfg_load(path, cfg, &err) != STS_OK) {
        fprintf(stderr, "sts: %s\n", err.detail);
        return -1;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *listen = NULL, *data_dir = NULL;
    sts_cfg_t *cfg = NULL;
    sts_engine_t *engine = NULL;
    sts_err_t err;
    int rc = 1;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            data_dir = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (load_cfg(config, &cfg) != 0)
        return 1;
    if (listen != NULL) {
        const char *msg = sts_cfg_set_listen(cfg, listen);
        if (msg != NULL) {
            fprintf(stderr, "sts: --listen \"%s\" %s\n", listen, msg);
            goto done;
        }
    }
    if (data_dir != NULL && replace_str(&cfg->data_dir, data_dir) != 0)
        goto done;
    sts_log_set_level((sts_log_level_t)cfg->log_level);
    if (sts_keys_global_init(&err) != STS_OK) {
        sts_error("crypto initialisation failed: %s", err.detail);
        goto done;
    }
    if (sts_engine_new(cfg, &engine, &err) != STS_OK) {
        sts_error("cannot start the engine: %s", err.detail);
        goto cleanup;
    }
    rc = sts_soap_serve(engine, cfg, sts_rest_face());
cleanup:
    sts_engine_free(engine);
    sts_keys_global_cleanup();
done:
    sts_cfg_free(cfg);
    return rc;
}

static int cmd_check_config(int argc, char **argv)
{
    sts_cfg_t *cfg = NULL;
    const char *config = NULL;

    if (argc == 2 && strcmp(argv[0], "--config") == 0)
        config = argv[1];
    else if (argc != 0) {
        usage(stderr);
        return 2;
    }
    if (load_cfg(config, &cfg) != 0)
        return 1;
    printf("%s: OK (%zu users, %zu relying parties, %zu clients)\n", cfg->source, cfg->nusers,
           cfg->nrps, cfg->nclients);
    sts_cfg_free(cfg);
    return 0;
}

/* Reads one line from stdin without echo when it is a terminal. */
static char *read_password(void)
{
    char buf[1024];
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO), restore = 0;
    size_t n;

    if (tty) {
        fputs("password: ", stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    if (fgets(buf, sizeof(buf), stdin) == NULL)
        buf[0] = '\0';
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    char *pw = n ? strdup(buf) : NULL;
    memset(buf, 0, sizeof(buf));
    return pw;
}

static int cmd_passwd(int argc, char **argv)
{
    int digest = 0, rc = 1;
    const char *config = NULL;
    char *pw = NULL, *hash = NULL, *sealed = NULL;
    unsigned char key[STS_SEAL_KEYLEN];
    sts_cfg_t *cfg = NULL;
    sts_err_t err;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--digest") == 0)
            digest = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    pw = read_password();
    if (pw == NULL) {
        fputs("sts: empty password\n", stderr);
        return 1;
    }
    if (sts_password_hash(pw, &hash, &err) != STS_OK) {
        fprintf(stderr, "sts: %s\n", err.detail);
        goto done;
    }
    if (digest) {
        if (load_cfg(config, &cfg) != 0)
            goto done;
        if (cfg->secrets_key_file == NULL) {
            fputs("sts: the configuration has no engine.secrets_key\n", stderr);
            goto done;
        }
        if (sts_seal_key_load(cfg->secrets_key_file, cfg->strict_key_perms, key, &err) != STS_OK ||
            sts_seal(key, pw, &sealed, &err) != STS_OK) {
            fprintf(stderr, "sts: %s\n", err.detail);
            goto done;
        }
        printf("\"password_hash\": \"%s\", \"digest_secret\": \"%s\"\n", hash, sealed);
    } else {
        printf("\"password_hash\": \"%s\"\n", hash);
    }
    rc = 0;
done:
    memset(key, 0, sizeof(key));
    sts_free_secret(pw);
    free(hash);
    free(sealed);
    sts_cfg_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "check-config") == 0)
        return cmd_check_config(argc - 2, argv + 2);
    if (strcmp(argv[1], "passwd") == 0)
        return cmd_passwd(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0) {
        puts("sts 0.1.0");
        return 0;
    }
    usage(stderr);
    return 2;
}
