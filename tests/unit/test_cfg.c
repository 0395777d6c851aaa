/*
 * test_cfg.c - unit tests of sts_cfg: the embedded default, every mapped
 * field, exact FILE:LINE:COL of each kind of error, users files, relative
 * paths, relying-party and client lookup, and the examples in docs/config.md.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) the STS authors
 */
#define _GNU_SOURCE /* mkdtemp, asprintf */
#include "sts_cfg.h"
#include "sts_log.h"
#include "sts_seal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_test.h"


#define CHECK_STR(a, b) check_str(__FILE__, __LINE__, (a), (b))

static void check_str(const char *file, int line, const char *got, const char *want)
{
    if (got != NULL && want != NULL && strcmp(got, want) == 0) {
        g_pass++;
        return;
    }
    g_fail++;
    fprintf(stderr, "%s:%d: CHECK failed:\n  got:  %s\n  want: %s\n", file, line,
            got ? got : "(null)", want ? want : "(null)");
}

static char g_dir[PATH_MAX];
static const char *g_srcdir;

/* g_dir/@name; a static buffer, valid until the next call. */
static const char *tmp_path(const char *name)
{
    static char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        buf[fread(buf, 1, (size_t)n, f)] = '\0';
    }
    fclose(f);
    return buf;
}

/* Load @text as g_dir/cfg.json and expect exactly "g_dir/cfg.json" + @suffix. */
static void expect_err_at(const char *file, int line, const char *text, const char *suffix)
{
    const char *path = write_file("cfg.json", text);
    sts_cfg_t *cfg = (sts_cfg_t *)1;
    sts_err_t err;
    char want[1024];

    memset(&err, 0, sizeof(err));
    snprintf(want, sizeof(want), "%s%s", path, suffix);
    if (sts_cfg_load(path, &cfg, &err) != STS_E_CONFIG || cfg != NULL) {
        g_fail++;
        fprintf(stderr, "%s:%d: load did not fail with STS_E_CONFIG (want %s)\n", file, line,
                want);
        sts_cfg_free(cfg);
        return;
    }
    check_str(file, line, err.detail, want);
    CHECK(err.code == STS_E_CONFIG);
    CHECK(strncmp(err.pub, err.detail, sizeof(err.pub) - 1) == 0);
}
#define EXPECT_ERR(text, suffix) expect_err_at(__FILE__, __LINE__, (text), (suffix))

/* Expect the load of @path to fail with exactly @want. */
static void expect_err_full_at(const char *file, int line, const char *path, const char *want)
{
    sts_cfg_t *cfg = (sts_cfg_t *)1;
    sts_err_t err;

    memset(&err, 0, sizeof(err));
    if (sts_cfg_load(path, &cfg, &err) != STS_E_CONFIG || cfg != NULL) {
        g_fail++;
        fprintf(stderr, "%s:%d: load did not fail with STS_E_CONFIG (want %s)\n", file, line,
                want);
        sts_cfg_free(cfg);
        return;
    }
    check_str(file, line, err.detail, want);
}
#define EXPECT_ERR_FULL(path, want) expect_err_full_at(__FILE__, __LINE__, (path), (want))

static sts_cfg_t *load_ok_at(const char *file, int line, const char *path)
{
    sts_cfg_t *cfg = NULL;
    sts_err_t err;

    memset(&err, 0, sizeof(err));
    if (sts_cfg_load(path, &cfg, &err) != STS_OK || cfg == NULL) {
        g_fail++;
        fprintf(stderr, "%s:%d: load of %s failed: %s\n", file, line, path ? path : "(default)",
                err.detail);
        return NULL;
    }
    g_pass++;
    return cfg;
}
#define LOAD_OK(path) load_ok_at(__FILE__, __LINE__, (path))

/*
 * A config whose line 2 is the engine section with @eng inside the braces,
 * line 3 the relying parties with @rps inside the brackets, and line 4
 * @extra (if any). Keys inside "engine" start at column 14, relying-party
 * elements at column 23 and @extra at column 3.
 */
#define ENG "\"signing_key\": \"s.key\", \"signing_cert\": \"s.crt\""
#define RPS "{\"applies_to\": \"https://rp.example.com/\"}"
static const char *cfg_text(const char *eng, const char *rps, const char *extra)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf), "{\n  \"engine\": {%s},\n  \"relying_parties\": [%s]%s\n%s%s%s}\n",
             eng, rps, extra ? "," : "", extra ? "  " : "", extra ? extra : "", extra ? "\n" : "");
    return buf;
}

/* ------------------------------------------------------------------------- */

static void test_embedded_default(void)
{
    sts_cfg_t *cfg = LOAD_OK(NULL);
    const sts_cfg_user_t *alice;
    const sts_cfg_client_t *cl;
    const sts_cfg_rp_t *rp;
    char want[PATH_MAX + 64];

    if (cfg == NULL)
        return;
    CHECK_STR(cfg->source, "<embedded default>");
    CHECK(cfg->strict_key_perms == 0);
    CHECK_STR(cfg->listen_host, "127.0.0.1");
    CHECK(cfg->listen_port == 8080);
    CHECK_STR(cfg->data_dir, "./var");
    CHECK_STR(cfg->issuer, "https://sts.example.com/");
    snprintf(want, sizeof(want), "%s/certs", g_srcdir);
    CHECK_STR(sts_cfg_dev_certs_dir(), want);
    snprintf(want, sizeof(want), "%s/certs/sts-signing.key", g_srcdir);
    CHECK_STR(cfg->signing_key_file, want);
    snprintf(want, sizeof(want), "%s/certs/sts-signing.crt", g_srcdir);
    CHECK_STR(cfg->signing_cert_file, want);
    snprintf(want, sizeof(want), "%s/certs/dev-secrets.key", g_srcdir);
    CHECK_STR(cfg->secrets_key_file, want);
    snprintf(want, sizeof(want), "%s/wsdl/sts.wsdl", g_srcdir);
    CHECK_STR(cfg->wsdl_file, want);
    /* two signing keys: the RSA one first, then the EC one */
    CHECK(cfg->nsigning_keys == 2);
    if (cfg->nsigning_keys == 2) {
        CHECK_STR(cfg->signing_keys[0].key_file, cfg->signing_key_file);
        CHECK_STR(cfg->signing_keys[0].cert_file, cfg->signing_cert_file);
        CHECK(cfg->signing_keys[0].key_file != cfg->signing_key_file); /* a copy */
        snprintf(want, sizeof(want), "%s/certs/sts-signing-ec.key", g_srcdir);
        CHECK_STR(cfg->signing_keys[1].key_file, want);
        snprintf(want, sizeof(want), "%s/certs/sts-signing-ec.crt", g_srcdir);
        CHECK_STR(cfg->signing_keys[1].cert_file, want);
    }
    CHECK(cfg->ntrusted_issuers == 0 && cfg->trusted_issuers == NULL);
    CHECK(cfg->public_url == NULL);
    /* the defaults of every numeric option */
    CHECK(cfg->workers == 32 && cfg->backlog == 128);
    CHECK(cfg->recv_timeout == 5 && cfg->send_timeout == 5 && cfg->max_keep_alive == 100);
    CHECK(cfg->keep_alive_timeout == 15 && cfg->max_connections == 1024);
    CHECK(cfg->max_message_size == 1048576 && cfg->log_level == STS_LOG_INFO);
    CHECK(cfg->default_lifetime == 3600 && cfg->max_lifetime == 3600);
    CHECK(cfg->clock_skew == 300 && cfg->renew_window == 3600 && cfg->refresh_lifetime == 28800);
    CHECK(cfg->credential_cache_ttl == 60);
    CHECK(cfg->require_timestamp == 1 && cfg->timestamp_max_age == 300);
    CHECK(cfg->digest_max_age == 300 && cfg->max_xml_depth == 64);
    CHECK(cfg->max_xml_string == 65536);

    CHECK(cfg->nusers == 1);
    alice = sts_cfg_find_user(cfg, "alice");
    CHECK(alice != NULL);
    if (alice != NULL) {
        CHECK(strncmp(alice->password_hash, "$y$", 3) == 0);
        CHECK(alice->digest_secret != NULL && strncmp(alice->digest_secret, "v1:", 3) == 0);
        CHECK(alice->nattrs == 3);
        if (alice->nattrs == 3) {
            CHECK_STR(alice->attrs[0].name, "email");
            CHECK(alice->attrs[0].nvalues == 1);
            CHECK_STR(alice->attrs[0].values[0], "alice@example.com");
            CHECK_STR(alice->attrs[1].name, "displayName");
            CHECK_STR(alice->attrs[1].values[0], "Alice Liddell");
            CHECK_STR(alice->attrs[2].name, "role");
            CHECK_STR(alice->attrs[2].values[0], "doctor");
        }
    }
    CHECK(sts_cfg_find_user(cfg, "Alice") == NULL);
    CHECK(sts_cfg_find_user(cfg, "bob") == NULL);
    CHECK(sts_cfg_find_user(cfg, NULL) == NULL);

    CHECK(cfg->nrps == 2);
    rp = sts_cfg_find_rp(cfg, "https://rp.example.com/");
    CHECK(rp != NULL && rp->match == STS_MATCH_EXACT && rp->default_lifetime == 0 &&
          rp->max_lifetime == 0);
    CHECK(rp != NULL && rp->signing_alg == NULL);
    CHECK(sts_cfg_find_rp(cfg, "https://rp.example.com/x") == NULL);
    rp = sts_cfg_find_rp(cfg, "https://api.example.com/");
    CHECK(rp != NULL && rp == &cfg->rps[1] && rp->match == STS_MATCH_EXACT &&
          rp->default_lifetime == 0 && rp->max_lifetime == 0);
    CHECK(rp != NULL && rp->signing_alg != NULL && strcmp(rp->signing_alg, "ES256") == 0);
    CHECK(sts_cfg_find_rp(cfg, "https://api.example.com/v1") == NULL);

    /* the demo OAuth client */
    CHECK(cfg->nclients == 1);
    cl = sts_cfg_find_client(cfg, "migration-tester");
    CHECK(cl != NULL && cl == &cfg->clients[0]);
    if (cl != NULL) {
        static const char *const scopes[] = {"openid", "profile", "email", "api.read",
                                             "api.write"};
        static const char *const tts[] = {"urn:ietf:params:oauth:token-type:access_token",
                                          "urn:ietf:params:oauth:token-type:jwt",
                                          "urn:ietf:params:oauth:token-type:saml2",
                                          "urn:ietf:params:oauth:token-type:saml1",
                                          "urn:ietf:params:oauth:token-type:refresh_token"};

        CHECK_STR(cl->client_id, "migration-tester");
        CHECK(cl->signing_alg == NULL);
        CHECK(strncmp(cl->secret_hash, "$y$", 3) == 0);
        CHECK(sts_password_check(cl->secret_hash, "s3cret") == 1);
        CHECK(sts_password_check(cl->secret_hash, "S3cret") == 0);
        CHECK(sts_password_check(cl->secret_hash, "") == 0);
        CHECK(cl->naudiences == 2);
        if (cl->naudiences == 2) {
            CHECK_STR(cl->audiences[0], "https://rp.example.com/");
            CHECK_STR(cl->audiences[1], "https://api.example.com/");
        }
        CHECK(cl->nscopes == 5);
        for (size_t i = 0; i < 5 && i < cl->nscopes; i++)
            CHECK_STR(cl->scopes[i], scopes[i]);
        CHECK(cl->ntoken_types == 5);
        for (size_t i = 0; i < 5 && i < cl->ntoken_types; i++)
            CHECK_STR(cl->token_types[i], tts[i]);
        CHECK(cl->ngrant_types == 2);
        if (cl->ngrant_types == 2) {
            CHECK_STR(cl->grant_types[0], "urn:ietf:params:oauth:grant-type:token-exchange");
            CHECK_STR(cl->grant_types[1], "refresh_token");
        }
    }
    CHECK(sts_cfg_find_client(cfg, "Migration-Tester") == NULL);
    sts_cfg_free(cfg);

    /* STS_CERTS_DIR moves the development PKI */
    setenv("STS_CERTS_DIR", "/opt/sts-dev-pki", 1);
    CHECK_STR(sts_cfg_dev_certs_dir(), "/opt/sts-dev-pki");
    cfg = LOAD_OK(NULL);
    if (cfg != NULL) {
        CHECK_STR(cfg->signing_key_file, "/opt/sts-dev-pki/sts-signing.key");
        CHECK_STR(cfg->secrets_key_file, "/opt/sts-dev-pki/dev-secrets.key");
        CHECK(cfg->nsigning_keys == 2 &&
              strcmp(cfg->signing_keys[1].cert_file, "/opt/sts-dev-pki/sts-signing-ec.crt") == 0);
    }
    sts_cfg_free(cfg);
    unsetenv("STS_CERTS_DIR");
    sts_cfg_free(NULL);
}

/* Every key of the format, each with a non-default value. */
static void test_full_example(void)
{
    static const char users_json[] =
        "{\n"
        "  \"users\": [\n"
        "    {\"name\": \"bob\", \"password_hash\": \"$y$bob\"},\n"
        "    {\"name\": \"carol\", \"password_hash\": \"$6$carol\", \"attributes\": {}}\n"
        "  ]\n"
        "}\n";
    static const char text[] =
        "{\n"
        "  \"server\": {\n"
        "    \"listen\": \"[::1]:9443\",\n"
        "    \"data_dir\": \"/srv/sts\",\n"
        "    \"workers\": 8,\n"
        "    \"backlog\": 64,\n"
        "    \"recv_timeout\": 10,\n"
        "    \"send_timeout\": 20,\n"
        "    \"max_keep_alive\": 50,\n"
        "    \"keep_alive_timeout\": 60,\n"
        "    \"max_connections\": 4096,\n"
        "    \"max_message_size\": 2097152,\n"
        "    \"log_level\": \"debug\",\n"
        "    \"public_url\": \"https://sts.example.org:8443/sts/\"\n"
        "  },\n"
        "  \"engine\": {\n"
        "    \"issuer\": \"urn:example:sts\",\n"
        "    \"signing_key\": \"keys/signing.key\",\n"
        "    \"signing_cert\": \"keys/signing.crt\",\n"
        "    \"additional_signing_keys\": [\n"
        "      {\"key\": \"keys/ec.key\", \"cert\": \"/pki/ec.crt\"},\n"
        "      {\"cert\": \"keys/next.crt\", \"key\": \"./keys/next.key\"}\n"
        "    ],\n"
        "    \"secrets_key\": \"keys/secrets.key\",\n"
        "    \"default_lifetime\": 600,\n"
        "    \"max_lifetime\": 7200,\n"
        "    \"clock_skew\": 60,\n"
        "    \"renew_window\": 86400,\n"
        "    \"credential_cache_ttl\": 0\n"
        "  },\n"
        "  \"soap\": {\n"
        "    \"require_timestamp\": false,\n"
        "    \"timestamp_max_age\": 120,\n"
        "    \"digest_max_age\": 90,\n"
        "    \"max_xml_depth\": 32,\n"
        "    \"max_xml_string\": 4096,\n"
        "    \"wsdl\": \"sts.wsdl\"\n"
        "  },\n"
        "  \"users\": [\n"
        "    {\n"
        "      \"name\": \"alice\",\n"
        "      \"password_hash\": \"$y$j9T$abc$def\",\n"
        "      \"digest_secret\": \"v1:AAAA\",\n"
        "      \"attributes\": {\"email\": \"alice@example.com\", \"role\": [\"doctor\", "
        "\"nurse\"]}\n"
        "    }\n"
        "  ],\n"
        "  \"users_file\": \"users.json\",\n"
        "  \"relying_parties\": [\n"
        "    {\"applies_to\": \"https://rp.example.com/app\", \"match\": \"exact\",\n"
        "     \"default_lifetime\": 300, \"max_lifetime\": 900},\n"
        "    {\"applies_to\": \"https://rp.example.com/\", \"match\": \"prefix\", "
        "\"signing_alg\": \"ES256\"}\n"
        "  ],\n"
        "  \"trusted_issuers\": [\n"
        "    {\"issuer\": \"https://idp.example.net/\", \"cert\": \"idp.crt\"},\n"
        "    {\"kid\": \"partner key #1\", \"cert\": \"/pki/partner.crt\", "
        "\"issuer\": \"urn:partner\"}\n"
        "  ]\n"
        "}\n";
    const sts_cfg_user_t *u;
    sts_cfg_t *cfg;
    char want[PATH_MAX + 64];

    write_file("users.json", users_json);
    cfg = LOAD_OK(write_file("cfg.json", text));
    if (cfg == NULL)
        return;
    CHECK_STR(cfg->source, tmp_path("cfg.json"));
    CHECK(cfg->strict_key_perms == 1);
    CHECK_STR(cfg->listen_host, "::1");
    CHECK(cfg->listen_port == 9443);
    CHECK_STR(cfg->data_dir, "/srv/sts");
    CHECK(cfg->workers == 8 && cfg->backlog == 64 && cfg->recv_timeout == 10);
    CHECK(cfg->send_timeout == 20 && cfg->max_keep_alive == 50);
    CHECK(cfg->keep_alive_timeout == 60 && cfg->max_connections == 4096);
    CHECK(cfg->max_message_size == 2097152 && cfg->log_level == STS_LOG_DEBUG);
    CHECK_STR(cfg->public_url, "https://sts.example.org:8443/sts");
    CHECK_STR(cfg->issuer, "urn:example:sts");
    snprintf(want, sizeof(want), "%s/keys/signing.key", g_dir);
    CHECK_STR(cfg->signing_key_file, want);
    snprintf(want, sizeof(want), "%s/keys/signing.crt", g_dir);
    CHECK_STR(cfg->signing_cert_file, want);
    snprintf(want, sizeof(want), "%s/keys/secrets.key", g_dir);
    CHECK_STR(cfg->secrets_key_file, want);
    /* signing keys: engine.signing_key first, then the additional ones in order */
    CHECK(cfg->nsigning_keys == 3);
    if (cfg->nsigning_keys == 3) {
        CHECK_STR(cfg->signing_keys[0].key_file, cfg->signing_key_file);
        CHECK_STR(cfg->signing_keys[0].cert_file, cfg->signing_cert_file);
        snprintf(want, sizeof(want), "%s/keys/ec.key", g_dir);
        CHECK_STR(cfg->signing_keys[1].key_file, want);
        CHECK_STR(cfg->signing_keys[1].cert_file, "/pki/ec.crt");
        snprintf(want, sizeof(want), "%s/keys/next.key", g_dir);
        CHECK_STR(cfg->signing_keys[2].key_file, want);
        snprintf(want, sizeof(want), "%s/keys/next.crt", g_dir);
        CHECK_STR(cfg->signing_keys[2].cert_file, want);
    }
    CHECK(cfg->ntrusted_issuers == 2);
    if (cfg->ntrusted_issuers == 2) {
        CHECK_STR(cfg->trusted_issuers[0].issuer, "https://idp.example.net/");
        snprintf(want, sizeof(want), "%s/idp.crt", g_dir);
        CHECK_STR(cfg->trusted_issuers[0].cert_file, want);
        CHECK(cfg->trusted_issuers[0].kid == NULL);
        CHECK_STR(cfg->trusted_issuers[1].issuer, "urn:partner");
        CHECK_STR(cfg->trusted_issuers[1].cert_file, "/pki/partner.crt");
        CHECK_STR(cfg->trusted_issuers[1].kid, "partner key #1");
    }
    CHECK(cfg->default_lifetime == 600 && cfg->max_lifetime == 7200);
    CHECK(cfg->clock_skew == 60 && cfg->renew_window == 86400);
    CHECK(cfg->credential_cache_ttl == 0); /* 0 (off) is a value, not "unset" */
    CHECK(cfg->require_timestamp == 0 && cfg->timestamp_max_age == 120);
    CHECK(cfg->digest_max_age == 90 && cfg->max_xml_depth == 32 && cfg->max_xml_string == 4096);
    snprintf(want, sizeof(want), "%s/sts.wsdl", g_dir);
    CHECK_STR(cfg->wsdl_file, want);

    /* users: the file's own first, then the users file's, in order */
    CHECK(cfg->nusers == 3);
    if (cfg->nusers == 3) {
        CHECK_STR(cfg->users[0].name, "alice");
        CHECK_STR(cfg->users[1].name, "bob");
        CHECK_STR(cfg->users[2].name, "carol");
    }
    u = sts_cfg_find_user(cfg, "alice");
    CHECK(u != NULL);
    if (u != NULL) {
        CHECK_STR(u->password_hash, "$y$j9T$abc$def");
        CHECK_STR(u->digest_secret, "v1:AAAA");
        CHECK(u->nattrs == 2);
        if (u->nattrs == 2) {
            CHECK_STR(u->attrs[0].name, "email");
            CHECK(u->attrs[0].nvalues == 1);
            CHECK_STR(u->attrs[0].values[0], "alice@example.com");
            CHECK_STR(u->attrs[1].name, "role");
            CHECK(u->attrs[1].nvalues == 2);
            CHECK_STR(u->attrs[1].values[0], "doctor");
            CHECK_STR(u->attrs[1].values[1], "nurse");
        }
    }
    u = sts_cfg_find_user(cfg, "bob");
    CHECK(u != NULL && strcmp(u->password_hash, "$y$bob") == 0 && u->digest_secret == NULL &&
          u->nattrs == 0);
    u = sts_cfg_find_user(cfg, "carol");
    CHECK(u != NULL && strcmp(u->password_hash, "$6$carol") == 0 && u->nattrs == 0);

    CHECK(cfg->nrps == 2);
    if (cfg->nrps == 2) {
        CHECK_STR(cfg->rps[0].applies_to, "https://rp.example.com/app");
        CHECK(cfg->rps[0].match == STS_MATCH_EXACT);
        CHECK(cfg->rps[0].default_lifetime == 300 && cfg->rps[0].max_lifetime == 900);
        CHECK(cfg->rps[0].signing_alg == NULL);
        CHECK_STR(cfg->rps[1].applies_to, "https://rp.example.com/");
        CHECK_STR(cfg->rps[1].signing_alg, "ES256");
        CHECK(cfg->rps[1].match == STS_MATCH_PREFIX);
        CHECK(cfg->rps[1].default_lifetime == 0 && cfg->rps[1].max_lifetime == 0);
    }
    sts_cfg_free(cfg);
}

static void test_defaults_in_file(void)
{
    sts_cfg_t *cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, NULL)));
    char want[PATH_MAX + 64];

    if (cfg == NULL)
        return;
    CHECK_STR(cfg->listen_host, "127.0.0.1");
    CHECK(cfg->listen_port == 8080);
    CHECK_STR(cfg->data_dir, "./var"); /* built-in defaults are used as they are */
    snprintf(want, sizeof(want), "%s/wsdl/sts.wsdl", g_srcdir);
    CHECK_STR(cfg->wsdl_file, want);
    CHECK_STR(cfg->issuer, "https://sts.example.com/");
    CHECK(cfg->secrets_key_file == NULL);
    CHECK(cfg->nusers == 0 && cfg->users == NULL);
    CHECK(cfg->nclients == 0 && cfg->clients == NULL);
    CHECK(cfg->nsigning_keys == 1 && cfg->signing_keys != NULL &&
          strcmp(cfg->signing_keys[0].key_file, cfg->signing_key_file) == 0 &&
          strcmp(cfg->signing_keys[0].cert_file, cfg->signing_cert_file) == 0);
    CHECK(cfg->ntrusted_issuers == 0 && cfg->trusted_issuers == NULL);
    CHECK(cfg->public_url == NULL && cfg->rps[0].signing_alg == NULL);
    CHECK(cfg->workers == 32 && cfg->require_timestamp == 1 && cfg->log_level == STS_LOG_INFO);
    CHECK(cfg->strict_key_perms == 1);
    sts_cfg_free(cfg);

    /* range limits are inclusive */
    cfg = LOAD_OK(write_file(
        "cfg.json",
        cfg_text(ENG ", \"default_lifetime\": 2592000, \"max_lifetime\": 2592000, \"clock_skew\": 0",
                 RPS,
                 "\"server\": {\"workers\": 1024, \"listen\": \"localhost:0\", "
                 "\"max_message_size\": 1024, \"log_level\": \"TRACE\"}, "
                 "\"soap\": {\"max_xml_depth\": 8, \"require_timestamp\": true}")));
    if (cfg != NULL) {
        CHECK(cfg->workers == 1024 && cfg->listen_port == 0 && cfg->max_message_size == 1024);
        CHECK_STR(cfg->listen_host, "localhost");
        CHECK(cfg->max_lifetime == 2592000 && cfg->clock_skew == 0 && cfg->max_xml_depth == 8);
        CHECK(cfg->log_level == STS_LOG_TRACE && cfg->require_timestamp == 1);
    }
    sts_cfg_free(cfg);

    /* empty sections are fine; an empty users list too */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, "\"server\": {}, \"soap\": {}, "
                                                             "\"users\": []")));
    CHECK(cfg != NULL && cfg->nusers == 0);
    sts_cfg_free(cfg);
}

static void test_unknown_keys(void)
{
    /* top level */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"sever\": {}"), ":4:3: unknown key \"sever\" at the top level");
    /* in a section */
    EXPECT_ERR("{\n"
               "  \"engine\": {\"signing_key\": \"s.key\", \"signing_cert\": \"s.crt\"},\n"
               "  \"relying_parties\": [{\"applies_to\": \"https://rp.example.com/\"}],\n"
               "  \"server\": {\n"
               "    \"listen\": \"127.0.0.1:9000\",\n"
               "    \"listn\": 1\n"
               "  }\n"
               "}\n",
               ":6:5: unknown key \"listn\" in \"server\"");
    EXPECT_ERR(cfg_text(ENG ", \"signing_kee\": 1", RPS, NULL),
               ":2:63: unknown key \"signing_kee\" in \"engine\"");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"require_timestamps\": true}"),
               ":4:12: unknown key \"require_timestamps\" in \"soap\"");
    /* in an array element */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [\n"
                        "    {\"name\": \"bob\", \"password_hash\": \"$y$x\", \"pasword\": \"x\"}\n"
                        "  ]"),
               ":5:46: unknown key \"pasword\" in \"users[0]\"");
    EXPECT_ERR("{\n"
               "  \"engine\": {\"signing_key\": \"s.key\", \"signing_cert\": \"s.crt\"},\n"
               "  \"relying_parties\": [\n"
               "    {\"applies_to\": \"https://rp.example.com/\"},\n"
               "    {\n"
               "      \"applies_to\": \"urn:rp:two\",\n"
               "      \"matc\": \"prefix\"\n"
               "    }\n"
               "  ]\n"
               "}\n",
               ":7:7: unknown key \"matc\" in \"relying_parties[1]\"");
    /* columns count characters, not bytes; escaped keys are reported decoded */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [\n"
                        "    {\"name\": \"zo\xc3\xab\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": {\"city\": \"Z\xc3\xbcrich\"}, \"\\u00e9mail\": \"x\"}\n"
                        "  ]"),
               ":5:80: unknown key \"\xc3\xa9mail\" in \"users[0]\"");
    /* tabs and CRLF line ends */
    EXPECT_ERR("{\r\n\t\"engine\": {" ENG "},\r\n\t\"relying_parties\": [" RPS "],\r\n"
               "\t\"server\": {\"workers\": 2,\t\"x\": 1}\r\n}\r\n",
               ":4:27: unknown key \"x\" in \"server\"");
    /* the same name at another depth is still unknown there */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"server\": {}}"),
               ":4:14: unknown key \"server\" in \"server\"");
}

static void test_duplicate_keys(void)
{
    EXPECT_ERR(cfg_text(ENG ", \"signing_key\": \"c\"", RPS, NULL),
               ":2:63: duplicate key \"signing_key\" in \"engine\"");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {},\n  \"server\": {}"),
               ":5:3: duplicate key \"server\" at the top level");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:a\", \"applies_to\": \"urn:b\"}", NULL),
               ":3:47: duplicate key \"applies_to\" in \"relying_parties[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": {\"a\": \"1\", \"a\": \"2\"}}]"),
               ":4:77: duplicate key \"a\" in \"users[0].attributes\"");
}

static void test_syntax_errors(void)
{
    EXPECT_ERR("{\n  \"server\": {\"workers\": 4}\n  \"engine\": {}\n}\n",
               ":3:10: '}' expected near '\"engine\"'");
    EXPECT_ERR("{\n  \"server\": {\"workers\": 4,}\n}\n",
               ":2:27: string or '}' expected near '}'");
    EXPECT_ERR("{\n  \"server\": {\n", ":3:0: string or '}' expected near end of file");
    EXPECT_ERR("", ":1:0: '[' or '{' expected near end of file");
    EXPECT_ERR("{\"server\": tru}", ":1:14: invalid token near 'tru'");
    EXPECT_ERR("[1, 2]\n", ":1:1: the top level must be an object");
}

static void test_types_and_ranges(void)
{
    /* server */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": \"32\"}"),
               ":4:14: \"server.workers\" must be an integer");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": 4.5}"),
               ":4:14: \"server.workers\" must be an integer");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": true}"),
               ":4:14: \"server.workers\" must be an integer");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": 0}"),
               ":4:14: \"server.workers\" must be between 1 and 1024 (got 0)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": 1025}"),
               ":4:14: \"server.workers\" must be between 1 and 1024 (got 1025)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": 99999999999999}"),
               ":4:14: \"server.workers\" must be between 1 and 1024 (got 99999999999999)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"recv_timeout\": 301}"),
               ":4:14: \"server.recv_timeout\" must be between 1 and 300 (got 301)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"keep_alive_timeout\": 0}"),
               ":4:14: \"server.keep_alive_timeout\" must be between 1 and 3600 (got 0)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"max_connections\": 65537}"),
               ":4:14: \"server.max_connections\" must be between 1 and 65536 (got 65537)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"max_message_size\": 100}"),
               ":4:14: \"server.max_message_size\" must be between 1024 and 67108864 (got 100)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"log_level\": \"verbose\"}"),
               ":4:14: \"server.log_level\" must be one of error, warn, notice, info, debug, "
               "trace");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"log_level\": 3}"),
               ":4:14: \"server.log_level\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"8080\"}"),
               ":4:14: \"server.listen\" must be host:port or [IPv6]:port");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"::1:8080\"}"),
               ":4:14: \"server.listen\" must put an IPv6 address in brackets: [::1]:8080");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"[::g]:80\"}"),
               ":4:14: \"server.listen\" has an invalid IPv6 address");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"127.0.0.1:65536\"}"),
               ":4:14: \"server.listen\" must end with a port number 0..65535");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"127.0.0.1:\"}"),
               ":4:14: \"server.listen\" must end with a port number");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \":80\"}"),
               ":4:14: \"server.listen\" must name a host: 127.0.0.1:8080, [::1]:8080, "
               "localhost:8080");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"listen\": \"my host:80\"}"),
               ":4:14: \"server.listen\" has an invalid host name");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"data_dir\": \"\"}"),
               ":4:14: \"server.data_dir\" must not be empty");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": \"fast\""), ":4:3: \"server\" must be an object");
    /* soap */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"require_timestamp\": 1}"),
               ":4:12: \"soap.require_timestamp\" must be true or false");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"max_xml_depth\": 7}"),
               ":4:12: \"soap.max_xml_depth\" must be between 8 and 256 (got 7)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"max_xml_depth\": 257}"),
               ":4:12: \"soap.max_xml_depth\" must be between 8 and 256 (got 257)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"wsdl\": 5}"), ":4:12: \"soap.wsdl\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"wsdl\": null}"),
               ":4:12: \"soap.wsdl\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": []"), ":4:3: \"soap\" must be an object");
    /* engine */
    EXPECT_ERR(cfg_text(ENG ", \"clock_skew\": -1", RPS, NULL),
               ":2:63: \"engine.clock_skew\" must be between 0 and 3600 (got -1)");
    EXPECT_ERR(cfg_text(ENG ", \"default_lifetime\": 0", RPS, NULL),
               ":2:63: \"engine.default_lifetime\" must be between 1 and 2592000 (got 0)");
    EXPECT_ERR(cfg_text(ENG ", \"max_lifetime\": 2592001", RPS, NULL),
               ":2:63: \"engine.max_lifetime\" must be between 1 and 2592000 (got 2592001)");
    EXPECT_ERR(cfg_text(ENG ", \"renew_window\": 2592001", RPS, NULL),
               ":2:63: \"engine.renew_window\" must be between 0 and 2592000 (got 2592001)");
    EXPECT_ERR(cfg_text(ENG ", \"refresh_lifetime\": 59", RPS, NULL),
               ":2:63: \"engine.refresh_lifetime\" must be between 60 and 2592000 (got 59)");
    EXPECT_ERR(cfg_text(ENG ", \"credential_cache_ttl\": 3601", RPS, NULL),
               ":2:63: \"engine.credential_cache_ttl\" must be between 0 and 3600 (got 3601)");
    EXPECT_ERR(cfg_text(ENG ", \"credential_cache_ttl\": -1", RPS, NULL),
               ":2:63: \"engine.credential_cache_ttl\" must be between 0 and 3600 (got -1)");
    EXPECT_ERR(cfg_text(ENG ", \"issuer\": \"sts.example.com\"", RPS, NULL),
               ":2:63: \"engine.issuer\" must be an absolute URI (scheme:...)");
    EXPECT_ERR(cfg_text(ENG ", \"issuer\": \"https://sts example/\"", RPS, NULL),
               ":2:63: \"engine.issuer\" must be an absolute URI without spaces or control "
               "characters");
    EXPECT_ERR(cfg_text(ENG ", \"issuer\": \"https:\"", RPS, NULL),
               ":2:63: \"engine.issuer\" must be an absolute URI (scheme:...)");
    EXPECT_ERR(cfg_text(ENG ", \"issuer\": 5", RPS, NULL),
               ":2:63: \"engine.issuer\" must be a string");
    EXPECT_ERR(cfg_text("\"signing_key\": [\"s.key\"], \"signing_cert\": \"s.crt\"", RPS, NULL),
               ":2:14: \"engine.signing_key\" must be a string");
    /* users */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": {\"name\": \"x\"}"), ":4:3: \"users\" must be an array");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [\"alice\"]"),
               ":4:13: \"users[0]\" must be an object");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"name\": \"x\", \"password_hash\": 5}]"),
               ":4:27: \"users[0].password_hash\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"name\": \"x\", \"password_hash\": \"plain\"}]"),
               ":4:27: \"users[0].password_hash\" must be a crypt(3) hash starting with \"$\" "
               "(see sts passwd)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"password_hash\": \"$y$x\"}]"),
               ":4:13: missing required key \"name\" in \"users[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"name\": \"x\"}]"),
               ":4:13: missing required key \"password_hash\" in \"users[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"name\": \"\", \"password_hash\": \"$y$x\"}]"),
               ":4:14: \"users[0].name\" must be 1 to 256 characters without control characters");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users\": [{\"name\": \"a\\nb\", \"password_hash\": \"$y$x\"}]"),
               ":4:14: \"users[0].name\" must be 1 to 256 characters without control characters");
    {
        /* 256 characters (two bytes each) are fine; 257 are not */
        char name[600], extra[800];
        size_t i;
        for (i = 0; i < 256; i++)
            memcpy(name + 2 * i, "\xc3\xa9", 2);
        name[2 * i] = '\0';
        snprintf(extra, sizeof(extra), "\"users\": [{\"name\": \"%s\", \"password_hash\": \"$y$x\"}]",
                 name);
        sts_cfg_free(LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra))));
        snprintf(extra, sizeof(extra), "\"users\": [{\"name\": \"%sx\", \"password_hash\": \"$y$x\"}]",
                 name);
        EXPECT_ERR(cfg_text(ENG, RPS, extra), ":4:14: \"users[0].name\" must be 1 to 256 characters "
                                              "without control characters");
    }
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"digest_secret\": \"plain\"}]"),
               ":4:52: \"users[0].digest_secret\" must be a sealed secret \"v1:...\" (see sts "
               "passwd --digest)");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": {\"role\": [\"a\", 1]}}]"),
               ":4:81: \"users[0].attributes.role[1]\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": {\"role\": []}}]"),
               ":4:67: \"users[0].attributes.role\" must be a string or a non-empty array of "
               "strings");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": {\"role\": {\"x\": 1}}}]"),
               ":4:67: \"users[0].attributes.role\" must be a string or a non-empty array of "
               "strings");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$x\", "
                        "\"attributes\": 5}]"),
               ":4:52: \"users[0].attributes\" must be an object");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"users_file\": 5"), ":4:3: \"users_file\" must be a string");
    /* relying parties */
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"match\": \"glob\"}",
                        NULL),
               ":3:65: \"relying_parties[0].match\" must be \"exact\" or \"prefix\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"rp.example.com\"}", NULL),
               ":3:24: \"relying_parties[0].applies_to\" must be an absolute URI (scheme:...)");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com\", \"match\": \"prefix\"}",
                        NULL),
               ":3:24: \"relying_parties[0].applies_to\" must have a path after the host when "
               "\"match\" is \"prefix\" (end it with \"/\")");
    EXPECT_ERR(cfg_text(ENG, "{\"match\": \"prefix\"}", NULL),
               ":3:23: missing required key \"applies_to\" in \"relying_parties[0]\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"default_lifetime\": -5}",
                        NULL),
               ":3:65: \"relying_parties[0].default_lifetime\" must be between 0 and 2592000 "
               "(got -5)");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"max_lifetime\": \"5\"}",
                        NULL),
               ":3:65: \"relying_parties[0].max_lifetime\" must be an integer");
    EXPECT_ERR(cfg_text(ENG, "\"https://rp.example.com/\"", NULL),
               ":3:23: \"relying_parties[0]\" must be an object");
    EXPECT_ERR("{\n  \"engine\": {" ENG "},\n  \"relying_parties\": {}\n}\n",
               ":3:3: \"relying_parties\" must be an array");
    EXPECT_ERR("{\n  \"engine\": [],\n  \"relying_parties\": [" RPS "]\n}\n",
               ":2:3: \"engine\" must be an object");
}

static void test_cross_field(void)
{
    /* required keys */
    EXPECT_ERR(cfg_text("\"signing_cert\": \"s.crt\"", RPS, NULL),
               ":2:3: missing required key \"signing_key\" in \"engine\"");
    EXPECT_ERR(cfg_text("\"signing_key\": \"s.key\"", RPS, NULL),
               ":2:3: missing required key \"signing_cert\" in \"engine\"");
    EXPECT_ERR("{\n  \"relying_parties\": [" RPS "]\n}\n",
               ":1:1: missing required key \"signing_key\" in \"engine\"");
    /* lifetimes */
    EXPECT_ERR(cfg_text(ENG ", \"default_lifetime\": 7200", RPS, NULL),
               ":2:63: \"engine.default_lifetime\" (7200) must not exceed \"engine.max_lifetime\" "
               "(3600)");
    EXPECT_ERR(cfg_text(ENG ", \"max_lifetime\": 60", RPS, NULL),
               ":2:63: \"engine.default_lifetime\" (3600) must not exceed \"engine.max_lifetime\" "
               "(60)");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"max_lifetime\": 7200}",
                        NULL),
               ":3:65: \"relying_parties[0].max_lifetime\" (7200) must not exceed "
               "\"engine.max_lifetime\" (3600)");
    EXPECT_ERR(cfg_text(ENG,
                        "{\"applies_to\": \"https://rp.example.com/\", \"default_lifetime\": 600, "
                        "\"max_lifetime\": 300}",
                        NULL),
               ":3:65: \"relying_parties[0]\": default lifetime 600 exceeds maximum lifetime 300");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"max_lifetime\": 300}",
                        NULL),
               ":3:65: \"relying_parties[0]\": default lifetime 3600 (engine default) exceeds "
               "maximum lifetime 300");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", \"default_lifetime\": 5000}",
                        NULL),
               ":3:65: \"relying_parties[0]\": default lifetime 5000 exceeds maximum lifetime 3600 "
               "(engine maximum)");
    /* relying parties */
    EXPECT_ERR(cfg_text(ENG, "", NULL),
               ":3:3: at least one relying party is required in \"relying_parties\"");
    EXPECT_ERR("{\n  \"engine\": {" ENG "}\n}\n",
               ":1:1: at least one relying party is required in \"relying_parties\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:a\"}, {\"applies_to\": \"urn:a\"}", NULL),
               ":3:49: duplicate relying party \"urn:a\" (also relying_parties[0])");
    sts_cfg_free(LOAD_OK(write_file(
        "cfg.json",
        cfg_text(ENG, "{\"applies_to\": \"urn:a:\"}, {\"applies_to\": \"urn:a:\", \"match\": \"prefix\"}",
                 NULL))));
    /* a digest secret needs the key that sealed it */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"users\": [{\"name\": \"x\", \"password_hash\": \"$y$a\", "
                        "\"digest_secret\": \"v1:AAAA\"}]"),
               ":4:52: user \"x\" has a digest_secret but \"engine.secrets_key\" is not set");
}

static void test_users_file(void)
{
    const char *cfg_path;
    sts_cfg_t *cfg;
    char want[3 * (PATH_MAX + 64)];
    char *cfgp = NULL;

    /* duplicate in one file */
    cfg_path = write_file("cfg.json",
                          cfg_text(ENG, RPS,
                                   "\"users\": [{\"name\": \"bob\", \"password_hash\": \"$y$a\"}, "
                                   "{\"name\": \"bob\", \"password_hash\": \"$y$b\"}]"));
    snprintf(want, sizeof(want), "%s:4:56: duplicate user \"bob\" (first defined at %s:4:14)",
             cfg_path, cfg_path);
    EXPECT_ERR_FULL(cfg_path, want);

    /* merge */
    write_file("users.json", "{\n"
                             "  \"users\": [\n"
                             "    {\"name\": \"carol\", \"password_hash\": \"$y$c\"},\n"
                             "    {\"name\": \"dave\", \"password_hash\": \"$y$d\",\n"
                             "     \"attributes\": {\"role\": \"nurse\"}}\n"
                             "  ]\n"
                             "}\n");
    cfg_path = write_file("cfg.json",
                          cfg_text(ENG, RPS,
                                   "\"users\": [{\"name\": \"bob\", \"password_hash\": \"$y$a\"}], "
                                   "\"users_file\": \"users.json\""));
    cfgp = strdup(cfg_path);
    cfg = LOAD_OK(cfgp);
    if (cfg != NULL) {
        CHECK(cfg->nusers == 3);
        CHECK(sts_cfg_find_user(cfg, "bob") != NULL);
        CHECK(sts_cfg_find_user(cfg, "carol") != NULL);
        CHECK(sts_cfg_find_user(cfg, "dave") != NULL &&
              strcmp(sts_cfg_find_user(cfg, "dave")->attrs[0].values[0], "nurse") == 0);
    }
    sts_cfg_free(cfg);

    /* duplicate across the two files: reported where the second one is */
    write_file("users.json", "{\n"
                             "  \"users\": [\n"
                             "    {\"name\": \"bob\", \"password_hash\": \"$y$c\"}\n"
                             "  ]\n"
                             "}\n");
    snprintf(want, sizeof(want), "%s:3:6: duplicate user \"bob\" (first defined at %s:4:14)",
             tmp_path("users.json"), cfgp);
    EXPECT_ERR_FULL(cfgp, want);

    /* errors inside the users file name the users file */
    write_file("users.json", "{\n"
                             "  \"users\": [\n"
                             "    {\"name\": \"bob2\", \"password_hash\": \"$y$x\"},\n"
                             "    {\"name\": \"carol\", \"password_hash\": \"$y$x\", \"role\": \"x\"}\n"
                             "  ]\n"
                             "}\n");
    snprintf(want, sizeof(want), "%s:4:48: unknown key \"role\" in \"users[1]\"",
             tmp_path("users.json"));
    EXPECT_ERR_FULL(cfgp, want);
    write_file("users.json", "{\"users\": [], \"groups\": []}");
    snprintf(want, sizeof(want), "%s:1:15: unknown key \"groups\" at the top level",
             tmp_path("users.json"));
    EXPECT_ERR_FULL(cfgp, want);
    write_file("users.json", "{\"users\": {}}");
    snprintf(want, sizeof(want), "%s:1:2: \"users\" must be an array", tmp_path("users.json"));
    EXPECT_ERR_FULL(cfgp, want);
    write_file("users.json", "{\"users\": [\n  {\"name\": \"x\" \"password_hash\": \"$y$\"}]}");
    snprintf(want, sizeof(want), "%s:2:30: '}' expected near '\"password_hash\"'",
             tmp_path("users.json"));
    EXPECT_ERR_FULL(cfgp, want);
    write_file("users.json", "{\"users\": [{\"name\": \"x\", \"name\": \"y\"}]}");
    snprintf(want, sizeof(want), "%s:1:26: duplicate key \"name\" in \"users[0]\"",
             tmp_path("users.json"));
    EXPECT_ERR_FULL(cfgp, want);

    /* a missing users file is reported at the users_file key */
    write_file("cfg.json", cfg_text(ENG, RPS, "\"users_file\": \"nope.json\""));
    snprintf(want, sizeof(want), "%s:4:3: \"users_file\": %s: cannot open: No such file or directory",
             cfgp, tmp_path("nope.json"));
    EXPECT_ERR_FULL(cfgp, want);
    free(cfgp);
}

static void test_relative_paths(void)
{
    char sub[PATH_MAX + 16], want[PATH_MAX + 64], cwd[PATH_MAX];
    sts_cfg_t *cfg;

    snprintf(sub, sizeof(sub), "%s/etc", g_dir);
    mkdir(sub, 0700);
    write_file("etc/sts.json",
               cfg_text("\"signing_key\": \"keys/s.key\", \"signing_cert\": \"./c.crt\", "
                        "\"secrets_key\": \"/abs/secrets.key\"",
                        RPS, "\"server\": {\"data_dir\": \"var\"}, \"soap\": {\"wsdl\": \"../w.wsdl\"}"));
    cfg = LOAD_OK(tmp_path("etc/sts.json"));
    if (cfg != NULL) {
        snprintf(want, sizeof(want), "%s/keys/s.key", sub);
        CHECK_STR(cfg->signing_key_file, want);
        snprintf(want, sizeof(want), "%s/c.crt", sub);
        CHECK_STR(cfg->signing_cert_file, want);
        CHECK_STR(cfg->secrets_key_file, "/abs/secrets.key");
        snprintf(want, sizeof(want), "%s/var", sub);
        CHECK_STR(cfg->data_dir, want);
        snprintf(want, sizeof(want), "%s/../w.wsdl", sub);
        CHECK_STR(cfg->wsdl_file, want);
    }
    sts_cfg_free(cfg);

    /* a relative config path still yields absolute paths */
    if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(g_dir) != 0) {
        CHECK(!"chdir");
        return;
    }
    cfg = LOAD_OK("etc/sts.json");
    if (cfg != NULL) {
        snprintf(want, sizeof(want), "%s/keys/s.key", sub);
        CHECK_STR(cfg->signing_key_file, want);
        CHECK_STR(cfg->source, "etc/sts.json");
    }
    sts_cfg_free(cfg);
    /* and errors name the file as it was given */
    write_file("etc/bad.json", "{\"x\": 1}");
    EXPECT_ERR_FULL("etc/bad.json", "etc/bad.json:1:2: unknown key \"x\" at the top level");
    EXPECT_ERR_FULL("etc/none.json", "etc/none.json: cannot open: No such file or directory");
    if (chdir(cwd) != 0)
        CHECK(!"chdir back");
}

static void test_find_rp(void)
{
    sts_cfg_t *cfg = LOAD_OK(write_file(
        "cfg.json",
        cfg_text(ENG,
                 "\n    {\"applies_to\": \"https://a.example/\", \"match\": \"prefix\"},\n"
                 "    {\"applies_to\": \"https://a.example/x/\", \"match\": \"prefix\", "
                 "\"max_lifetime\": 60, \"default_lifetime\": 60},\n"
                 "    {\"applies_to\": \"https://a.example/x/y\", \"max_lifetime\": 120, "
                 "\"default_lifetime\": 100},\n"
                 "    {\"applies_to\": \"https://a.example/x/yz/\", \"match\": \"prefix\"},\n"
                 "    {\"applies_to\": \"urn:b\"}\n  ",
                 NULL)));
    const sts_cfg_rp_t *rp;

    if (cfg == NULL)
        return;
    CHECK(cfg->nrps == 5);
    /* exact beats any prefix */
    rp = sts_cfg_find_rp(cfg, "https://a.example/x/y");
    CHECK(rp == &cfg->rps[2]);
    /* the longest prefix wins */
    CHECK(sts_cfg_find_rp(cfg, "https://a.example/x/y/z") == &cfg->rps[1]);
    CHECK(sts_cfg_find_rp(cfg, "https://a.example/x/yz/1") == &cfg->rps[3]);
    CHECK(sts_cfg_find_rp(cfg, "https://a.example/x/") == &cfg->rps[1]);
    CHECK(sts_cfg_find_rp(cfg, "https://a.example/x") == &cfg->rps[0]);
    CHECK(sts_cfg_find_rp(cfg, "https://a.example/") == &cfg->rps[0]);
    CHECK(sts_cfg_find_rp(cfg, "urn:b") == &cfg->rps[4]);
    /* no match */
    CHECK(sts_cfg_find_rp(cfg, "https://a.example") == NULL);
    CHECK(sts_cfg_find_rp(cfg, "https://b.example/") == NULL);
    CHECK(sts_cfg_find_rp(cfg, "urn:b:c") == NULL);
    CHECK(sts_cfg_find_rp(cfg, "HTTPS://A.EXAMPLE/") == NULL);
    CHECK(sts_cfg_find_rp(cfg, "") == NULL);
    CHECK(sts_cfg_find_rp(cfg, NULL) == NULL);
    CHECK(sts_cfg_find_rp(NULL, "urn:b") == NULL);
    sts_cfg_free(cfg);
}

/* ------------------------------------------------------------------------- */
/* OAuth clients                                                             */

/* Two clients: one with every key, one with the defaults. */
static void test_clients_example(void)
{
    static const char text[] =
        "{\n"
        "  \"engine\": {\"signing_key\": \"s.key\", \"signing_cert\": \"s.crt\"},\n"
        "  \"clients\": [\n"
        "    {\n"
        "      \"client_id\": \"svc-a@example.org !~\",\n"
        "      \"secret_hash\": \"$2b$12$abcdefghijklmnopqrstuv\",\n"
        "      \"audiences\": [\"https://rp.example.com/\", \"https://apps.example/x/y\", "
        "\"urn:lab\"],\n"
        "      \"scopes\": [\"openid\", \"a!#[]^~\", \"x:y/z\"],\n"
        "      \"token_types\": [\"urn:ietf:params:oauth:token-type:saml1\",\n"
        "                      \"urn:ietf:params:oauth:token-type:refresh_token\"],\n"
        "      \"grant_types\": [\"refresh_token\"],\n"
        "      \"signing_alg\": \"RS256\"\n"
        "    },\n"
        "    {\"client_id\": \"b\", \"secret_hash\": \"$y$b\", \"audiences\": [\"urn:lab\"]}\n"
        "  ],\n"
        "  \"relying_parties\": [\n"
        "    {\"applies_to\": \"https://rp.example.com/\"},\n"
        "    {\"applies_to\": \"https://apps.example/\", \"match\": \"prefix\"},\n"
        "    {\"applies_to\": \"urn:lab\"}\n"
        "  ]\n"
        "}\n";
    sts_cfg_t *cfg = LOAD_OK(write_file("cfg.json", text));
    const sts_cfg_client_t *a, *b;

    if (cfg == NULL)
        return;
    CHECK(cfg->nclients == 2);
    a = sts_cfg_find_client(cfg, "svc-a@example.org !~");
    b = sts_cfg_find_client(cfg, "b");
    CHECK(a == &cfg->clients[0] && b == &cfg->clients[1]);
    if (a != NULL && b != NULL) {
        CHECK_STR(a->secret_hash, "$2b$12$abcdefghijklmnopqrstuv");
        CHECK_STR(a->signing_alg, "RS256");
        CHECK(b->signing_alg == NULL);
        CHECK(a->naudiences == 3);
        if (a->naudiences == 3) {
            CHECK_STR(a->audiences[0], "https://rp.example.com/");
            CHECK_STR(a->audiences[1], "https://apps.example/x/y"); /* served by a prefix */
            CHECK_STR(a->audiences[2], "urn:lab");
        }
        CHECK(a->nscopes == 3);
        if (a->nscopes == 3) {
            CHECK_STR(a->scopes[0], "openid");
            CHECK_STR(a->scopes[1], "a!#[]^~");
            CHECK_STR(a->scopes[2], "x:y/z");
        }
        CHECK(a->ntoken_types == 2);
        if (a->ntoken_types == 2) {
            CHECK_STR(a->token_types[0], "urn:ietf:params:oauth:token-type:saml1");
            CHECK_STR(a->token_types[1], "urn:ietf:params:oauth:token-type:refresh_token");
        }
        CHECK(a->ngrant_types == 1);
        if (a->ngrant_types == 1)
            CHECK_STR(a->grant_types[0], "refresh_token");

        /* the defaults */
        CHECK_STR(b->secret_hash, "$y$b");
        CHECK(b->naudiences == 1);
        if (b->naudiences == 1)
            CHECK_STR(b->audiences[0], "urn:lab");
        CHECK(b->nscopes == 0 && b->scopes == NULL);
        CHECK(b->ntoken_types == 2);
        if (b->ntoken_types == 2) {
            CHECK_STR(b->token_types[0], "urn:ietf:params:oauth:token-type:access_token");
            CHECK_STR(b->token_types[1], "urn:ietf:params:oauth:token-type:jwt");
        }
        CHECK(b->ngrant_types == 1);
        if (b->ngrant_types == 1)
            CHECK_STR(b->grant_types[0], "urn:ietf:params:oauth:grant-type:token-exchange");
    }
    sts_cfg_free(cfg);

    /* an empty list of clients, an explicitly empty scope list, a 128-character id */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, "\"clients\": []")));
    CHECK(cfg != NULL && cfg->nclients == 0 && cfg->clients == NULL);
    sts_cfg_free(cfg);
    {
        char id[129], extra[512];

        memset(id, 'i', 128);
        id[128] = '\0';
        snprintf(extra, sizeof(extra),
                 "\"clients\": [{\"client_id\": \"%s\", \"secret_hash\": \"$y$x\", "
                 "\"audiences\": [\"https://rp.example.com/\"], \"scopes\": []}]",
                 id);
        cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra)));
        CHECK(cfg != NULL && cfg->nclients == 1 && cfg->clients[0].nscopes == 0 &&
              sts_cfg_find_client(cfg, id) == &cfg->clients[0]);
        sts_cfg_free(cfg);
    }
}

/* Client entries open at line 4, column 15: {"client_id": ... */
#define CL_HASH "\"secret_hash\": \"$y$x\""
#define CL_AUD "\"audiences\": [\"https://rp.example.com/\"]"
#define CL(body) "\"clients\": [{" body "}]"
#define CL_OK "\"client_id\": \"c\", " CL_HASH ", " CL_AUD

static void test_client_errors(void)
{
    /* client_id */
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_HASH ", " CL_AUD)),
               ":4:15: missing required key \"client_id\" in \"clients[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"a:b\", " CL_HASH ", " CL_AUD)),
               ":4:16: \"clients[0].client_id\" must be 1 to 128 printable ASCII characters "
               "without \":\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"\", " CL_HASH ", " CL_AUD)),
               ":4:16: \"clients[0].client_id\" must be 1 to 128 printable ASCII characters "
               "without \":\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"a\\tb\", " CL_HASH ", " CL_AUD)),
               ":4:16: \"clients[0].client_id\" must be 1 to 128 printable ASCII characters "
               "without \":\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"z\xc3\xa9\", " CL_HASH ", " CL_AUD)),
               ":4:16: \"clients[0].client_id\" must be 1 to 128 printable ASCII characters "
               "without \":\"");
    {
        char id[130], extra[512];

        memset(id, 'i', 129);
        id[129] = '\0';
        snprintf(extra, sizeof(extra),
                 "\"clients\": [{\"client_id\": \"%s\", " CL_HASH ", " CL_AUD "}]", id);
        EXPECT_ERR(cfg_text(ENG, RPS, extra),
                   ":4:16: \"clients[0].client_id\" must be 1 to 128 printable ASCII characters "
                   "without \":\"");
    }
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": 7, " CL_HASH ", " CL_AUD)),
               ":4:16: \"clients[0].client_id\" must be a string");
    /* duplicate client_id: at the second one */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"clients\": [\n"
                        "    {\"client_id\": \"c1\", " CL_HASH ", " CL_AUD "},\n"
                        "    {\"client_id\": \"c2\", " CL_HASH ", " CL_AUD "},\n"
                        "    {\"client_id\": \"c1\", " CL_HASH ", " CL_AUD "}\n"
                        "  ]"),
               ":7:6: duplicate client \"c1\" (also clients[0])");
    /* secret_hash */
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"c\", " CL_AUD)),
               ":4:15: missing required key \"secret_hash\" in \"clients[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"c\", \"secret_hash\": \"s3cret\", " CL_AUD)),
               ":4:34: \"clients[0].secret_hash\" must be a crypt(3) hash starting with \"$\" (see "
               "sts passwd)");
    /* audiences */
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"c\", " CL_HASH)),
               ":4:15: missing required key \"audiences\" in \"clients[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"c\", " CL_HASH ", \"audiences\": []")),
               ":4:57: \"clients[0].audiences\" must be a non-empty array of strings");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL("\"client_id\": \"c\", " CL_HASH ", \"audiences\": \"urn:x\"")),
               ":4:57: \"clients[0].audiences\" must be a non-empty array of strings");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL("\"client_id\": \"c\", " CL_HASH
                           ", \"audiences\": [\"https://rp.example.com/\", \"rp.example.com\"]")),
               ":4:98: \"clients[0].audiences[1]\" must be an absolute URI (scheme:...)");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL("\"client_id\": \"c\", " CL_HASH ", \"audiences\": [null]")),
               ":4:71: \"clients[0].audiences[0]\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL("\"client_id\": \"c\", " CL_HASH
                           ", \"audiences\": [\"urn:a\", \"urn:a\"]")),
               ":4:80: \"clients[0].audiences[1]\": \"urn:a\" is listed twice");
    /* an audience that no relying party serves: at that audience (relying parties may
     * come after the clients; columns count characters) */
    EXPECT_ERR("{\n"
               "  \"engine\": {" ENG "},\n"
               "  \"clients\": [\n"
               "    {\"client_id\": \"ok\", " CL_HASH ", " CL_AUD "},\n"
               "    {\"client_id\": \"c2\", " CL_HASH ",\n"
               "     \"audiences\": [\"https://rp.example.com/\",\n"
               "                   \"urn:caf\xc3\xa9\", \"https://p.example/a\", "
               "\"https://rp.example.com/x\"]}\n"
               "  ],\n"
               "  \"relying_parties\": [" RPS ", {\"applies_to\": \"https://p.example/\", "
               "\"match\": \"prefix\"}, {\"applies_to\": \"urn:caf\xc3\xa9\"}]\n"
               "}\n",
               ":7:55: client \"c2\" audience \"https://rp.example.com/x\" matches no relying "
               "party");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL("\"client_id\": \"c\", " CL_HASH
                           ", \"audiences\": [\"https://p.example\"]")),
               ":4:71: client \"c\" audience \"https://p.example\" matches no relying party");
    /* scopes */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK
                           ", \"scopes\": [\"openid\", \"api read\"]")),
               ":4:120: \"clients[0].scopes[1]\" must be a scope token (RFC 6749 sec. 3.3): "
               "printable ASCII characters except space, '\"' and '\\'");
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_OK ", \"scopes\": [\"\"]")),
               ":4:110: \"clients[0].scopes[0]\" must be a scope token (RFC 6749 sec. 3.3): "
               "printable ASCII characters except space, '\"' and '\\'");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK ", \"scopes\": [\"a\\\"b\"]")),
               ":4:110: \"clients[0].scopes[0]\" must be a scope token (RFC 6749 sec. 3.3): "
               "printable ASCII characters except space, '\"' and '\\'");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK ", \"scopes\": [\"a\\\\b\"]")),
               ":4:110: \"clients[0].scopes[0]\" must be a scope token (RFC 6749 sec. 3.3): "
               "printable ASCII characters except space, '\"' and '\\'");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK ", \"scopes\": [\"\xc3\xa9\"]")),
               ":4:110: \"clients[0].scopes[0]\" must be a scope token (RFC 6749 sec. 3.3): "
               "printable ASCII characters except space, '\"' and '\\'");
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_OK ", \"scopes\": \"openid\"")),
               ":4:99: \"clients[0].scopes\" must be an array of strings");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK
                           ", \"scopes\": [\"a\", \"b\", \"a\"]")),
               ":4:120: \"clients[0].scopes[2]\": \"a\" is listed twice");
    /* token_types */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK
                           ", \"token_types\": [\"urn:ietf:params:oauth:token-type:id_token\"]")),
               ":4:115: \"clients[0].token_types[0]\" must be "
               "\"urn:ietf:params:oauth:token-type:\" followed by access_token, jwt, saml2, saml1 "
               "or refresh_token");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK ", \"token_types\": []")),
               ":4:99: \"clients[0].token_types\" must be a non-empty array of strings");
    /* grant_types */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK
                           ", \"grant_types\": [\"refresh_token\", \"client_credentials\"]")),
               ":4:132: \"clients[0].grant_types[1]\" must be "
               "\"urn:ietf:params:oauth:grant-type:token-exchange\" or \"refresh_token\"");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        CL(CL_OK ", \"grant_types\": []")),
               ":4:99: \"clients[0].grant_types\" must be a non-empty array of strings");
    /* unknown keys, and shapes */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        "\"clients\": [\n"
                        "    {\"client_id\": \"c\", " CL_HASH ", " CL_AUD ",\n"
                        "     \"may_act_for\": [\"alice\"]}\n"
                        "  ]"),
               ":6:6: unknown key \"may_act_for\" in \"clients[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL("\"client_id\": \"c\", \"client_secret\": \"s3cret\"")),
               ":4:34: unknown key \"client_secret\" in \"clients[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"clients\": {}"), ":4:3: \"clients\" must be an array");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"clients\": [\"c\"]"),
               ":4:15: \"clients[0]\" must be an object");
    /* clients belong in the main file, not in users_file */
    write_file("users.json", "{\"users\": [], \"clients\": []}");
    {
        char want[2 * PATH_MAX];

        snprintf(want, sizeof(want), "%s:1:15: unknown key \"clients\" at the top level",
                 tmp_path("users.json"));
        EXPECT_ERR_FULL(
            write_file("cfg.json", cfg_text(ENG, RPS, "\"users_file\": \"users.json\"")), want);
    }
}

static void test_find_client(void)
{
    sts_cfg_t *cfg = LOAD_OK(write_file(
        "cfg.json",
        cfg_text(ENG, RPS,
                 "\"clients\": [{\"client_id\": \"one\", " CL_HASH ", " CL_AUD
                 ", \"scopes\": [\"openid\", \"api.read\"]}, "
                 "{\"client_id\": \"One\", " CL_HASH ", " CL_AUD "}]")));
    const sts_cfg_client_t *c;
    static char *const list[] = {"openid", "api.read", "api.write"};

    if (cfg == NULL)
        return;
    c = sts_cfg_find_client(cfg, "one");
    CHECK(c == &cfg->clients[0]);
    CHECK(sts_cfg_find_client(cfg, "One") == &cfg->clients[1]);
    CHECK(sts_cfg_find_client(cfg, "ONE") == NULL);
    CHECK(sts_cfg_find_client(cfg, "one ") == NULL);
    CHECK(sts_cfg_find_client(cfg, "on") == NULL);
    CHECK(sts_cfg_find_client(cfg, "") == NULL);
    CHECK(sts_cfg_find_client(cfg, NULL) == NULL);
    CHECK(sts_cfg_find_client(NULL, "one") == NULL);
    if (c != NULL) {
        CHECK(sts_cfg_client_allows(c->scopes, c->nscopes, "openid") == 1);
        CHECK(sts_cfg_client_allows(c->scopes, c->nscopes, "api.read") == 1);
        CHECK(sts_cfg_client_allows(c->scopes, c->nscopes, "api.write") == 0);
        CHECK(sts_cfg_client_allows(c->audiences, c->naudiences,
                                    "https://rp.example.com/") == 1);
        /* exact strings: no prefixes, no case folding */
        CHECK(sts_cfg_client_allows(c->audiences, c->naudiences,
                                    "https://rp.example.com/x") == 0);
        CHECK(sts_cfg_client_allows(c->audiences, c->naudiences,
                                    "https://rp.example.com") == 0);
        CHECK(sts_cfg_client_allows(c->token_types, c->ntoken_types,
                                    "urn:ietf:params:oauth:token-type:jwt") == 1);
        CHECK(sts_cfg_client_allows(c->token_types, c->ntoken_types,
                                    "urn:ietf:params:oauth:token-type:saml2") == 0);
        CHECK(sts_cfg_client_allows(c->grant_types, c->ngrant_types,
                                    "urn:ietf:params:oauth:grant-type:token-exchange") == 1);
        CHECK(sts_cfg_client_allows(c->grant_types, c->ngrant_types,
                                    "refresh_token") == 0);
        CHECK(sts_cfg_client_allows(c->scopes, c->nscopes, NULL) == 0);
    }
    c = sts_cfg_find_client(cfg, "One");
    if (c != NULL) /* no scopes: nothing is allowed */
        CHECK(sts_cfg_client_allows(c->scopes, c->nscopes, "openid") == 0);
    sts_cfg_free(cfg);
    CHECK(sts_cfg_client_allows(list, 3, "api.write") == 1);
    CHECK(sts_cfg_client_allows(list, 2, "api.write") == 0); /* only the first n count */
    CHECK(sts_cfg_client_allows(list, 3, "API.WRITE") == 0);
    CHECK(sts_cfg_client_allows(list, 3, "") == 0);
    CHECK(sts_cfg_client_allows(list, 0, "openid") == 0);
    CHECK(sts_cfg_client_allows(NULL, 0, "openid") == 0);
}

/* ------------------------------------------------------------------------- */
/* Signing keys, signing_alg, trusted issuers, public_url                    */

/* engine.additional_signing_keys: its key at line 2, column 63 (after ENG). */
#define ASK(arr) ENG ", \"additional_signing_keys\": " arr

static void test_signing_keys(void)
{
    char arr[2048], eng[2200];
    size_t o = 0;
    sts_cfg_t *cfg;

    /* an empty array: only engine.signing_key */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ASK("[]"), RPS, NULL)));
    CHECK(cfg != NULL && cfg->nsigning_keys == 1);
    sts_cfg_free(cfg);

    /* 8 additional keys are fine, 9 are not */
    o += (size_t)snprintf(arr + o, sizeof(arr) - o, "[");
    for (int i = 0; i < 8; i++)
        o += (size_t)snprintf(arr + o, sizeof(arr) - o,
                              "%s{\"key\": \"k%d.key\", \"cert\": \"k%d.crt\"}", i ? ", " : "",
                              i, i);
    snprintf(eng, sizeof(eng), ASK("%s]"), arr);
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(eng, RPS, NULL)));
    CHECK(cfg != NULL && cfg->nsigning_keys == 9);
    if (cfg != NULL && cfg->nsigning_keys == 9) {
        char want[PATH_MAX + 64];

        snprintf(want, sizeof(want), "%s/k7.crt", g_dir);
        CHECK_STR(cfg->signing_keys[8].cert_file, want);
        snprintf(want, sizeof(want), "%s/s.key", g_dir);
        CHECK_STR(cfg->signing_keys[0].key_file, want);
    }
    sts_cfg_free(cfg);
    snprintf(eng, sizeof(eng), ASK("%s, {\"key\": \"k8.key\", \"cert\": \"k8.crt\"}]"), arr);
    EXPECT_ERR(cfg_text(eng, RPS, NULL),
               ":2:63: \"engine.additional_signing_keys\" must have at most 8 entries (got 9)");

    /* the shape of an entry */
    EXPECT_ERR(cfg_text(ASK("[{\"key\": \"a.key\", \"cert\": \"a.crt\", \"kee\": \"b.key\"}]"), RPS,
                        NULL),
               ":2:125: unknown key \"kee\" in \"engine.additional_signing_keys[0]\"");
    EXPECT_ERR(cfg_text(ASK("[{\"key\": \"a.key\", \"cert\": \"a.crt\"}, {\"key\": \"b.key\"}]"),
                        RPS, NULL),
               ":2:126: missing required key \"cert\" in \"engine.additional_signing_keys[1]\"");
    EXPECT_ERR(cfg_text(ASK("[{\"cert\": \"a.crt\"}]"), RPS, NULL),
               ":2:91: missing required key \"key\" in \"engine.additional_signing_keys[0]\"");
    EXPECT_ERR(cfg_text(ASK("[{\"key\": \"\", \"cert\": \"a.crt\"}]"), RPS, NULL),
               ":2:92: \"engine.additional_signing_keys[0].key\" must not be empty");
    EXPECT_ERR(cfg_text(ASK("[{\"key\": \"a.key\", \"cert\": 7}]"), RPS, NULL),
               ":2:108: \"engine.additional_signing_keys[0].cert\" must be a string");
    EXPECT_ERR(cfg_text(ASK("[\"a.key\"]"), RPS, NULL),
               ":2:91: \"engine.additional_signing_keys[0]\" must be an object");
    EXPECT_ERR(cfg_text(ASK("{\"key\": \"a.key\", \"cert\": \"a.crt\"}"), RPS, NULL),
               ":2:63: \"engine.additional_signing_keys\" must be an array");
}

/* relying_parties[i].signing_alg and clients[i].signing_alg */
static void test_signing_alg(void)
{
    sts_cfg_t *cfg = LOAD_OK(write_file(
        "cfg.json", cfg_text(ENG,
                             "{\"applies_to\": \"urn:a\", \"signing_alg\": \"RS256\"}, "
                             "{\"applies_to\": \"urn:b\", \"signing_alg\": \"ES256\"}, "
                             "{\"applies_to\": \"urn:c\"}",
                             CL("\"client_id\": \"c\", " CL_HASH
                                ", \"audiences\": [\"urn:a\"], \"signing_alg\": \"ES256\"}, "
                                "{\"client_id\": \"d\", " CL_HASH
                                ", \"audiences\": [\"urn:b\"]"))));

    if (cfg != NULL) {
        CHECK(cfg->nrps == 3 && cfg->nclients == 2);
        CHECK_STR(cfg->rps[0].signing_alg, "RS256");
        CHECK_STR(cfg->rps[1].signing_alg, "ES256");
        CHECK(cfg->rps[2].signing_alg == NULL);
        CHECK_STR(cfg->clients[0].signing_alg, "ES256");
        CHECK(cfg->clients[1].signing_alg == NULL);
    }
    sts_cfg_free(cfg);

    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:a\", \"signing_alg\": \"HS256\"}", NULL),
               ":3:47: \"relying_parties[0].signing_alg\" must be \"RS256\" or \"ES256\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:a\", \"signing_alg\": \"es256\"}", NULL),
               ":3:47: \"relying_parties[0].signing_alg\" must be \"RS256\" or \"ES256\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:a\", \"signing_alg\": [\"RS256\"]}", NULL),
               ":3:47: \"relying_parties[0].signing_alg\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_OK ", \"signing_alg\": \"PS256\"")),
               ":4:99: \"clients[0].signing_alg\" must be \"RS256\" or \"ES256\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_OK ", \"signing_alg\": \"\"")),
               ":4:99: \"clients[0].signing_alg\" must be \"RS256\" or \"ES256\"");
    EXPECT_ERR(cfg_text(ENG, RPS, CL(CL_OK ", \"signing_alg\": null")),
               ":4:99: \"clients[0].signing_alg\" must be a string");
}

/* Trusted issuer entries open at line 4, column 23: {"issuer": ... */
#define TI(body) "\"trusted_issuers\": [" body "]"
#define TI_A "{\"issuer\": \"https://idp.example/\", \"cert\": \"idp.crt\"}"

static void test_trusted_issuers(void)
{
    char kid[130], extra[512];
    sts_cfg_t *cfg;

    /* omitted and empty are the same; a 128-character kid is fine */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, TI(""))));
    CHECK(cfg != NULL && cfg->ntrusted_issuers == 0 && cfg->trusted_issuers == NULL);
    sts_cfg_free(cfg);
    memset(kid, '~', 128);
    kid[128] = '\0';
    snprintf(extra, sizeof(extra), TI(TI_A ", {\"issuer\": \"urn:x\", \"cert\": \"/x.crt\", "
                                      "\"kid\": \"%s\"}"), kid);
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra)));
    CHECK(cfg != NULL && cfg->ntrusted_issuers == 2 && cfg->trusted_issuers[1].kid != NULL &&
          strcmp(cfg->trusted_issuers[1].kid, kid) == 0 && cfg->trusted_issuers[0].kid == NULL);
    sts_cfg_free(cfg);
    /* engine.issuer may come after the trusted issuers; only an equal string is refused */
    cfg = LOAD_OK(write_file("cfg.json",
                             "{\n  \"trusted_issuers\": [{\"issuer\": \"https://sts.example.com\", "
                             "\"cert\": \"a.crt\"}],\n  \"engine\": {" ENG
                             ", \"issuer\": \"https://sts.example.com/\"},\n"
                             "  \"relying_parties\": [" RPS "]\n}\n"));
    CHECK(cfg != NULL && cfg->ntrusted_issuers == 1);
    sts_cfg_free(cfg);

    /* 129 characters, a control character, empty */
    kid[128] = '~';
    kid[129] = '\0';
    snprintf(extra, sizeof(extra),
             TI("{\"issuer\": \"urn:x\", \"cert\": \"/x.crt\", \"kid\": \"%s\"}"), kid);
    EXPECT_ERR(cfg_text(ENG, RPS, extra),
               ":4:61: \"trusted_issuers[0].kid\" must be 1 to 128 printable ASCII characters");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI("{\"issuer\": \"urn:x\", \"cert\": \"/x.crt\", \"kid\": \"a\\tb\"}")),
               ":4:61: \"trusted_issuers[0].kid\" must be 1 to 128 printable ASCII characters");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI("{\"issuer\": \"urn:x\", \"cert\": \"/x.crt\", \"kid\": \"\"}")),
               ":4:61: \"trusted_issuers[0].kid\" must be 1 to 128 printable ASCII characters");
    EXPECT_ERR(cfg_text(ENG, RPS, TI("{\"issuer\": \"urn:x\", \"cert\": \"/x.crt\", \"kid\": 1}")),
               ":4:61: \"trusted_issuers[0].kid\" must be a string");
    /* issuer */
    EXPECT_ERR(cfg_text(ENG, RPS, TI("{\"issuer\": \"idp.example\", \"cert\": \"a.crt\"}")),
               ":4:24: \"trusted_issuers[0].issuer\" must be an absolute URI (scheme:...)");
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI("{\"issuer\": \"https://idp example/\", \"cert\": \"a.crt\"}")),
               ":4:24: \"trusted_issuers[0].issuer\" must be an absolute URI without spaces or "
               "control characters");
    EXPECT_ERR(cfg_text(ENG, RPS, TI("{\"cert\": \"a.crt\"}")),
               ":4:23: missing required key \"issuer\" in \"trusted_issuers[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, TI("{\"issuer\": \"urn:x\"}")),
               ":4:23: missing required key \"cert\" in \"trusted_issuers[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, TI("{\"issuer\": \"urn:x\", \"cert\": \"\"}")),
               ":4:43: \"trusted_issuers[0].cert\" must not be empty");
    /* duplicates: at the second */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI(TI_A ",\n    {\"issuer\": \"urn:y\", \"cert\": \"y.crt\"},\n"
                                "    {\"cert\": \"b.crt\", \"issuer\": \"https://idp.example/\"}")),
               ":6:23: duplicate trusted issuer \"https://idp.example/\" (also "
               "trusted_issuers[0])");
    /* not the STS itself (here the default engine.issuer) */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI(TI_A ", {\"issuer\": \"https://sts.example.com/\", "
                                "\"cert\": \"a.crt\"}")),
               ":4:79: trusted issuer \"https://sts.example.com/\" is the STS itself "
               "(\"engine.issuer\")");
    EXPECT_ERR(cfg_text(ENG ", \"issuer\": \"urn:sts\"", RPS,
                        TI("{\"cert\": \"a.crt\", \"issuer\": \"urn:sts\"}")),
               ":4:41: trusted issuer \"urn:sts\" is the STS itself (\"engine.issuer\")");
    /* shapes and unknown keys */
    EXPECT_ERR(cfg_text(ENG, RPS,
                        TI("{\"issuer\": \"urn:x\", \"cert\": \"a.crt\", \"aud\": \"urn:sts\"}")),
               ":4:60: unknown key \"aud\" in \"trusted_issuers[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, TI("\"urn:x\"")),
               ":4:23: \"trusted_issuers[0]\" must be an object");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"trusted_issuers\": {}"),
               ":4:3: \"trusted_issuers\" must be an array");
    /* a client lists only configured trusted issuers */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, TI(TI_A) ",\n  " CL(
                                 CL_OK ", \"trusted_issuers\": [\"https://idp.example/\"]"))));
    CHECK(cfg != NULL && cfg->clients[0].ntrusted_issuers == 1);
    sts_cfg_free(cfg);
    EXPECT_ERR(cfg_text(ENG, RPS, TI(TI_A) ",\n  " CL(CL_OK ", \"trusted_issuers\": [\"urn:x\"]")),
               ":5:119: client \"c\" trusted issuer \"urn:x\" is not in trusted_issuers");
    /* not in a users file */
    write_file("users.json", "{\"users\": [], \"trusted_issuers\": []}");
    {
        char want[2 * PATH_MAX];

        snprintf(want, sizeof(want), "%s:1:15: unknown key \"trusted_issuers\" at the top level",
                 tmp_path("users.json"));
        EXPECT_ERR_FULL(
            write_file("cfg.json", cfg_text(ENG, RPS, "\"users_file\": \"users.json\"")), want);
    }
}

/* Delegation rules: users named as actors, explicit modes, subject lists. */
#define DUSERS "\"users\": [{\"name\": \"portal\", \"password_hash\": \"$y$x\"}],\n  "
#define DEL(body) DUSERS "\"delegation\": [" body "]"

static void test_delegation(void)
{
    sts_cfg_t *cfg;

    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, DEL(""))));
    CHECK(cfg != NULL && cfg->ndelegation == 0 && cfg->delegation == NULL);
    sts_cfg_free(cfg);
    cfg = LOAD_OK(write_file(
        "cfg.json", cfg_text(ENG, RPS,
                             DEL("{\"actor\": \"portal\", \"subjects\": [\"*\"], \"act_as\": true},"
                                 "{\"actor\": \"portal\", \"subjects\": [\"bob\", \"carol\"], "
                                 "\"on_behalf_of\": true}"))));
    CHECK(cfg != NULL && cfg->ndelegation == 2);
    if (cfg != NULL && cfg->ndelegation == 2) {
        CHECK(cfg->delegation[0].act_as == 1 && cfg->delegation[0].on_behalf_of == 0);
        CHECK(cfg->delegation[1].nsubjects == 2);
        /* "*": anyone, a namesake of another issuer included; a name: the realm's only */
        CHECK(sts_cfg_may_delegate(cfg, "portal", "alice", 0, 1) == 1);
        CHECK(sts_cfg_may_delegate(cfg, "portal", "alice", 1, 1) == 1);
        CHECK(sts_cfg_may_delegate(cfg, "portal", "alice", 0, 0) == 0);
        CHECK(sts_cfg_may_delegate(cfg, "portal", "bob", 0, 0) == 1);
        CHECK(sts_cfg_may_delegate(cfg, "portal", "bob", 1, 0) == 0);
        CHECK(sts_cfg_may_delegate(cfg, "other", "bob", 0, 0) == 0);
        CHECK(sts_cfg_may_delegate(cfg, "portal", NULL, 0, 1) == 0);
    }
    sts_cfg_free(cfg);

    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"nobody\", \"subjects\": [\"*\"], "
                                      "\"act_as\": true}")),
               ":5:19: actor \"nobody\" is no user");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [\"*\"]}")),
               ":5:18: \"delegation[0]\" allows nothing: set \"act_as\" or \"on_behalf_of\" to true");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [], "
                                      "\"act_as\": true}")),
               ":5:38: \"delegation[0].subjects\" must be a non-empty array of strings");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"act_as\": true}")),
               ":5:18: missing required key \"subjects\" in \"delegation[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"subjects\": [\"*\"], \"act_as\": true}")),
               ":5:18: missing required key \"actor\" in \"delegation[0]\"");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [\"*\"], "
                                      "\"act_as\": 1}")),
               ":5:57: \"delegation[0].act_as\" must be true or false");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [\"a\\u0001\"], "
                                      "\"act_as\": true}")),
               ":5:51: \"delegation[0].subjects[0]\" must not hold control characters");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [\"*\", \"*\"], "
                                      "\"act_as\": true}")),
               ":5:56: \"delegation[0].subjects[1]\": \"*\" is listed twice");
    EXPECT_ERR(cfg_text(ENG, RPS, DEL("{\"actor\": \"portal\", \"subjects\": [\"*\"], "
                                      "\"act_as\": true, \"scope\": \"x\"}")),
               ":5:73: unknown key \"scope\" in \"delegation[0]\"");
}

/* A relying party's release rules: claims and token kinds. */
static void test_rp_registry(void)
{
    sts_cfg_t *cfg = LOAD_OK(write_file(
        "cfg.json", cfg_text(ENG, "{\"applies_to\": \"https://rp.example.com/\", "
                                  "\"claims\": [\"email\", \"urn:c:role\"], "
                                  "\"token_types\": [\"jwt\", \"saml1\"]}",
                             NULL)));
    CHECK(cfg != NULL && cfg->nrps == 1);
    if (cfg != NULL && cfg->nrps == 1) {
        CHECK(cfg->rps[0].nclaims == 2 && strcmp(cfg->rps[0].claims[1], "urn:c:role") == 0);
        CHECK(cfg->rps[0].ntoken_types == 2 && strcmp(cfg->rps[0].token_types[0], "jwt") == 0);
    }
    sts_cfg_free(cfg);
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, NULL)));
    CHECK(cfg != NULL && cfg->rps[0].claims == NULL && cfg->rps[0].token_types == NULL);
    sts_cfg_free(cfg);
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:x\", \"token_types\": [\"saml3\"]}", NULL),
               ":3:63: \"relying_parties[0].token_types[0]\" must be \"saml2\", \"saml1\" or "
               "\"jwt\"");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:x\", \"token_types\": []}", NULL),
               ":3:47: \"relying_parties[0].token_types\" must be a non-empty array of strings");
    EXPECT_ERR(cfg_text(ENG, "{\"applies_to\": \"urn:x\", \"claims\": [\"a\", \"a\"]}", NULL),
               ":3:63: \"relying_parties[0].claims[1]\": \"a\" is listed twice");
}

static void test_public_url(void)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"https://sts.example.com/", "https://sts.example.com"},
        {"https://sts.example.com", "https://sts.example.com"},
        {"http://127.0.0.1:8080/base//", "http://127.0.0.1:8080/base"},
        {"https://[::1]:8443/a/b", "https://[::1]:8443/a/b"},
    };
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"ftp://sts.example.com/", "must start with \"http://\" or \"https://\""},
        {"HTTPS://sts.example.com/", "must start with \"http://\" or \"https://\""},
        {"sts.example.com", "must start with \"http://\" or \"https://\""},
        {"https://sts example.com/", "must be printable ASCII without spaces"},
        {"https://sts.example.com/\\t", "must be printable ASCII without spaces"},
        {"https://st\xc3\xa9.example/", "must be printable ASCII without spaces"},
        {"https://sts.example.com/?x=1", "must not have a query or a fragment (\"?\", \"#\")"},
        {"https://sts.example.com/#top", "must not have a query or a fragment (\"?\", \"#\")"},
        {"https://", "must name a host after the scheme"},
        {"http:///sts", "must name a host after the scheme"},
        {"https:////", "must name a host after the scheme"},
    };
    char extra[256], want[512];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        sts_cfg_t *cfg;

        snprintf(extra, sizeof(extra), "\"server\": {\"public_url\": \"%s\"}", ok[i].in);
        cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra)));
        if (cfg != NULL)
            CHECK_STR(cfg->public_url, ok[i].out);
        sts_cfg_free(cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(extra, sizeof(extra), "\"server\": {\"public_url\": \"%s\"}", bad[i].in);
        snprintf(want, sizeof(want), ":4:14: \"server.public_url\" %s", bad[i].msg);
        EXPECT_ERR(cfg_text(ENG, RPS, extra), want);
    }
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"public_url\": true}"),
               ":4:14: \"server.public_url\" must be a string");
}

/* rest.require_tls, and how sts_cfg_rest_requires_tls() resolves it. */
static void test_rest_require_tls(void)
{
    static const struct {
        const char *listen;
        int loopback;
    } listens[] = {
        {"127.0.0.1:0", 1}, {"127.9.9.9:0", 1}, {"localhost:0", 1}, {"[::1]:0", 1},
        {"[::ffff:127.0.0.1]:0", 1}, {"0.0.0.0:0", 0}, {"[::]:0", 0}, {"10.1.2.3:0", 0},
        {"sts.example.com:0", 0}, {"128.0.0.1:0", 0},
    };
    static const char *const settings[] = {NULL, "true", "false"};
    char extra[256];
    sts_cfg_t *cfg;
    int defaulted = -1;

    /* not set in a file, nor in the embedded default (loopback: served) */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, NULL)));
    CHECK(cfg != NULL && cfg->rest_require_tls == -1);
    CHECK(cfg != NULL && sts_cfg_rest_requires_tls(cfg, &defaulted) == 0 && defaulted == 1);
    sts_cfg_free(cfg);
    cfg = LOAD_OK(NULL);
    CHECK(cfg != NULL && cfg->rest_require_tls == -1 && sts_cfg_rest_requires_tls(cfg, NULL) == 0);
    sts_cfg_free(cfg);

    /* unset: refused on plain HTTP off loopback; true: on plain HTTP; false: never; TLS: never */
    for (size_t s = 0; s < sizeof(settings) / sizeof(settings[0]); s++) {
        for (int tls = 0; tls <= 1; tls++) {
            snprintf(extra, sizeof(extra), "%s%s%s%s%s",
                     tls ? "\"server\": {\"tls_cert\": \"c.crt\", \"tls_key\": \"c.key\"}" : "",
                     tls && settings[s] ? ", " : "", settings[s] ? "\"rest\": {\"require_tls\": " : "",
                     settings[s] ? settings[s] : "", settings[s] ? "}" : "");
            cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra[0] ? extra : NULL)));
            if (cfg == NULL)
                continue;
            CHECK(cfg->rest_require_tls == (settings[s] == NULL ? -1 : s == 1 ? 1 : 0));
            for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
                int want = !tls && (s == 1 || (s == 0 && !listens[i].loopback));
                CHECK(sts_cfg_set_listen(cfg, listens[i].listen) == NULL);
                defaulted = -1;
                if (sts_cfg_rest_requires_tls(cfg, &defaulted) != want || defaulted != (s == 0)) {
                    g_fail++;
                    fprintf(stderr, "%s:%d: rest.require_tls %s, tls %d, listen %s: want %d\n",
                            __FILE__, __LINE__, settings[s] ? settings[s] : "unset", tls,
                            listens[i].listen, want);
                }
            }
            sts_cfg_free(cfg);
        }
    }
    EXPECT_ERR(cfg_text(ENG, RPS, "\"rest\": {\"require_tls\": 1}"),
               ":4:12: \"rest.require_tls\" must be true or false");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"rest\": {\"require_tls\": \"auto\"}"),
               ":4:12: \"rest.require_tls\" must be true or false");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"rest\": {\"require_tsl\": true}"),
               ":4:12: unknown key \"require_tsl\" in \"rest\"");
}

/* server.tls_cert/tls_key/tls_ciphers and soap.require_tls_for_password_text. */
static void test_server_tls(void)
{
    static const struct {
        const char *in, *msg;
    } bad_ciphers[] = {
        {"", "must not be empty"},
        {"ECDHE AESGCM", "must be an OpenSSL cipher list: names joined by ':' (letters, digits "
                         "and \"+-!@=_.\")"},
        {"ECDHE+AESGCM,HIGH", "must be an OpenSSL cipher list: names joined by ':' (letters, "
                              "digits and \"+-!@=_.\")"},
        {"ECDHE+AESGCM:", "must be an OpenSSL cipher list: names joined by ':' (letters, digits "
                          "and \"+-!@=_.\")"},
        {":ECDHE+AESGCM", "must be an OpenSSL cipher list: names joined by ':' (letters, digits "
                          "and \"+-!@=_.\")"},
        {"ECDHE+AESGCM::HIGH", "must be an OpenSSL cipher list: names joined by ':' (letters, "
                               "digits and \"+-!@=_.\")"},
        {"HIGH;rm", "must be an OpenSSL cipher list: names joined by ':' (letters, digits and "
                    "\"+-!@=_.\")"},
        {"\u00e9", "must be an OpenSSL cipher list: names joined by ':' (letters, digits and "
                   "\"+-!@=_.\")"},
    };
    char extra[1400], want[1024], path[PATH_MAX + 64];
    sts_cfg_t *cfg;

    /* off by default, in a file and in the embedded default */
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, NULL)));
    if (cfg != NULL) {
        CHECK(cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL);
        CHECK_STR(cfg->tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20");
        CHECK_STR(cfg->tls_ciphers, STS_CFG_TLS_CIPHERS);
        CHECK(cfg->require_tls_for_password_text == -1);
    }
    sts_cfg_free(cfg);
    cfg = LOAD_OK(NULL);
    if (cfg != NULL) {
        CHECK(cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL);
        CHECK(cfg->require_tls_for_password_text == -1);
        CHECK_STR(cfg->listen_host, "127.0.0.1"); /* plain HTTP on loopback, as before */
    }
    sts_cfg_free(cfg);

    /* both, paths resolved like every other path; a cipher list of every token kind */
    cfg = LOAD_OK(write_file(
        "cfg.json",
        cfg_text(ENG, RPS,
                 "\"server\": {\"tls_cert\": \"./tls/server.crt\", \"tls_key\": \"/abs/server.key\", "
                 "\"tls_ciphers\": \"ECDHE+AESGCM:!aNULL:-DHE:ECDHE-RSA-CHACHA20-POLY1305:"
                 "@SECLEVEL=2:@STRENGTH\"}, \"soap\": {\"require_tls_for_password_text\": true}")));
    if (cfg != NULL) {
        snprintf(path, sizeof(path), "%s/tls/server.crt", g_dir);
        CHECK_STR(cfg->tls_cert_file, path);
        CHECK_STR(cfg->tls_key_file, "/abs/server.key");
        CHECK_STR(cfg->tls_ciphers,
                  "ECDHE+AESGCM:!aNULL:-DHE:ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=2:@STRENGTH");
        CHECK(cfg->require_tls_for_password_text == 1);
    }
    sts_cfg_free(cfg);
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, "\"soap\": "
                                                            "{\"require_tls_for_password_text\": "
                                                            "false}")));
    CHECK(cfg != NULL && cfg->require_tls_for_password_text == 0);
    sts_cfg_free(cfg);

    /* both or neither, at the key that is there */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"tls_cert\": \"s.crt\"}"),
               ":4:14: \"server.tls_cert\" needs \"server.tls_key\" too (TLS takes both or "
               "neither)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"workers\": 2, \"tls_key\": \"s.key\"}"),
               ":4:28: \"server.tls_key\" needs \"server.tls_cert\" too (TLS takes both or "
               "neither)");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"tls_ciphers\": \"ECDHE+AESGCM\"}"),
               ":4:14: \"server.tls_ciphers\" needs \"server.tls_cert\" and \"server.tls_key\" "
               "(without them the server speaks plain HTTP)");

    /* types and syntax */
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"tls_cert\": true, \"tls_key\": \"k\"}"),
               ":4:14: \"server.tls_cert\" must be a string");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"tls_key\": \"\", \"tls_cert\": \"c\"}"),
               ":4:14: \"server.tls_key\" must not be empty");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"server\": {\"tls_ciphers\": [\"HIGH\"]}"),
               ":4:14: \"server.tls_ciphers\" must be a string");
    for (size_t i = 0; i < sizeof(bad_ciphers) / sizeof(bad_ciphers[0]); i++) {
        snprintf(extra, sizeof(extra),
                 "\"server\": {\"tls_ciphers\": \"%s\", \"tls_cert\": \"c\", \"tls_key\": \"k\"}",
                 bad_ciphers[i].in);
        snprintf(want, sizeof(want), ":4:14: \"server.tls_ciphers\" %s", bad_ciphers[i].msg);
        EXPECT_ERR(cfg_text(ENG, RPS, extra), want);
    }
    {
        char longlist[1100];

        memset(longlist, 'A', 1025);
        longlist[1025] = '\0';
        snprintf(extra, sizeof(extra),
                 "\"server\": {\"tls_ciphers\": \"%s\", \"tls_cert\": \"c\", \"tls_key\": \"k\"}",
                 longlist);
        EXPECT_ERR(cfg_text(ENG, RPS, extra),
                   ":4:14: \"server.tls_ciphers\" must be at most 1024 bytes");
        longlist[1024] = '\0';
        snprintf(extra, sizeof(extra),
                 "\"server\": {\"tls_ciphers\": \"%s\", \"tls_cert\": \"c\", \"tls_key\": \"k\"}",
                 longlist);
        cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, extra)));
        CHECK(cfg != NULL && strlen(cfg->tls_ciphers) == 1024);
        sts_cfg_free(cfg);
    }
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"require_tls_for_password_text\": 1}"),
               ":4:12: \"soap.require_tls_for_password_text\" must be true or false");
    EXPECT_ERR(cfg_text(ENG, RPS, "\"soap\": {\"require_tls_for_password_text\": \"auto\"}"),
               ":4:12: \"soap.require_tls_for_password_text\" must be true or false");

    /* The key file is not opened here (the config only names files): its mode
     * is checked when the server starts (integration test_tls.py,
     * TlsStartupTest.test_key_readable_by_group_or_others). */
    write_file("tls.key", "not read");
    chmod(tmp_path("tls.key"), 0644);
    cfg = LOAD_OK(write_file("cfg.json", cfg_text(ENG, RPS, "\"server\": {\"tls_cert\": "
                                                            "\"tls.crt\", \"tls_key\": "
                                                            "\"tls.key\"}")));
    CHECK(cfg != NULL && cfg->strict_key_perms == 1); /* ... strictly, for a file */
    sts_cfg_free(cfg);
}

/* The text between the first "```json" after @marker and the closing "```". */
static char *doc_block(const char *doc, const char *marker)
{
    const char *m = strstr(doc, marker);
    const char *b, *e;

    if (m == NULL || (b = strstr(m, "```json\n")) == NULL)
        return NULL;
    b += strlen("```json\n");
    if ((e = strstr(b, "\n```")) == NULL)
        return NULL;
    return strndup(b, (size_t)(e - b + 1));
}

static void check_same_list(char **a, size_t na, char **b, size_t nb)
{
    CHECK(na == nb);
    for (size_t i = 0; i < na && i < nb; i++)
        CHECK_STR(a[i], b[i]);
}

/* Both NULL, or equal strings. */
static void check_same_opt(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        CHECK(a == b);
    else
        CHECK_STR(a, b);
}

/* The same file name (the directories differ: docs' copy loads from a temporary one). */
static void check_same_base(const char *a, const char *b)
{
    const char *x = strrchr(a, '/'), *y = strrchr(b, '/');

    CHECK_STR(x ? x + 1 : a, y ? y + 1 : b);
}

static void check_same_client(const sts_cfg_client_t *a, const sts_cfg_client_t *b)
{
    CHECK_STR(a->client_id, b->client_id);
    check_same_opt(a->signing_alg, b->signing_alg);
    CHECK_STR(a->secret_hash, b->secret_hash);
    check_same_list(a->audiences, a->naudiences, b->audiences, b->naudiences);
    check_same_list(a->scopes, a->nscopes, b->scopes, b->nscopes);
    check_same_list(a->token_types, a->ntoken_types, b->token_types, b->ntoken_types);
    check_same_list(a->grant_types, a->ngrant_types, b->grant_types, b->ngrant_types);
}

/* docs/config.md: its examples must load, and must show every key. */
static void test_doc_examples(void)
{
    static const char *const keys[] = {
        "\"listen\"", "\"data_dir\"", "\"workers\"", "\"backlog\"", "\"recv_timeout\"",
        "\"send_timeout\"", "\"max_keep_alive\"", "\"keep_alive_timeout\"",
        "\"max_connections\"", "\"max_message_size\"", "\"log_level\"",
        "\"issuer\"", "\"signing_key\"", "\"signing_cert\"", "\"secrets_key\"",
        "\"default_lifetime\"", "\"max_lifetime\"", "\"clock_skew\"", "\"renew_window\"", "\"refresh_lifetime\"",
        "\"credential_cache_ttl\"",
        "\"require_timestamp\"", "\"timestamp_max_age\"", "\"digest_max_age\"",
        "\"max_xml_depth\"", "\"max_xml_string\"", "\"wsdl\"", "\"users\"", "\"name\"",
        "\"password_hash\"", "\"digest_secret\"", "\"attributes\"", "\"users_file\"",
        "\"relying_parties\"", "\"applies_to\"", "\"match\"", "\"clients\"", "\"client_id\"",
        "\"secret_hash\"", "\"audiences\"", "\"scopes\"", "\"token_types\"", "\"grant_types\"",
        "\"public_url\"", "\"additional_signing_keys\"", "\"key\"", "\"cert\"", "\"signing_alg\"",
        "\"trusted_issuers\"", "\"kid\"", "\"tls_cert\"", "\"tls_key\"", "\"tls_ciphers\"",
        "\"require_tls_for_password_text\"", "\"require_tls\"", NULL};
    char path[PATH_MAX + 32];
    char *doc, *example = NULL, *users = NULL, *embedded = NULL;
    sts_cfg_t *cfg;

    snprintf(path, sizeof(path), "%s/docs/config.md", g_srcdir);
    doc = read_all(path);
    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    example = doc_block(doc, "<!-- example: sts.json -->");
    users = doc_block(doc, "<!-- example: users.json -->");
    embedded = doc_block(doc, "<!-- embedded default -->");
    CHECK(example != NULL && users != NULL && embedded != NULL);
    if (example != NULL && users != NULL) {
        for (size_t i = 0; keys[i] != NULL; i++)
            if (strstr(example, keys[i]) == NULL) {
                g_fail++;
                fprintf(stderr, "%s:%d: docs example lacks %s\n", __FILE__, __LINE__, keys[i]);
            }
        write_file("users.json", users);
        cfg = LOAD_OK(write_file("cfg.json", example));
        CHECK(cfg != NULL && cfg->nusers >= 2 && cfg->nrps >= 2 && cfg->nclients >= 2);
        CHECK(cfg != NULL && cfg->nsigning_keys >= 2 && cfg->ntrusted_issuers >= 1 &&
              cfg->public_url != NULL);
        sts_cfg_free(cfg);
    }
    /* the embedded default as documented is the one compiled in */
    if (embedded != NULL) {
        sts_cfg_t *dflt = LOAD_OK(NULL);

        cfg = LOAD_OK(write_file("cfg.json", embedded));
        if (cfg != NULL && dflt != NULL) {
            CHECK_STR(cfg->users[0].password_hash, dflt->users[0].password_hash);
            CHECK_STR(cfg->users[0].digest_secret, dflt->users[0].digest_secret);
            CHECK_STR(cfg->issuer, dflt->issuer);
            CHECK_STR(cfg->rps[0].applies_to, dflt->rps[0].applies_to);
            CHECK(cfg->nusers == dflt->nusers && cfg->nrps == dflt->nrps);
            CHECK(cfg->users[0].nattrs == dflt->users[0].nattrs);
            for (size_t i = 0; i < cfg->nrps && i < dflt->nrps; i++) {
                CHECK_STR(cfg->rps[i].applies_to, dflt->rps[i].applies_to);
                CHECK(cfg->rps[i].match == dflt->rps[i].match);
                check_same_opt(cfg->rps[i].signing_alg, dflt->rps[i].signing_alg);
            }
            CHECK(cfg->nsigning_keys == dflt->nsigning_keys);
            for (size_t i = 0; i < cfg->nsigning_keys && i < dflt->nsigning_keys; i++) {
                check_same_base(cfg->signing_keys[i].key_file, dflt->signing_keys[i].key_file);
                check_same_base(cfg->signing_keys[i].cert_file, dflt->signing_keys[i].cert_file);
            }
            check_same_base(cfg->secrets_key_file, dflt->secrets_key_file);
            CHECK(cfg->ntrusted_issuers == dflt->ntrusted_issuers);
            check_same_opt(cfg->public_url, dflt->public_url);
            CHECK(cfg->nclients == dflt->nclients);
            for (size_t i = 0; i < cfg->nclients && i < dflt->nclients; i++)
                check_same_client(&cfg->clients[i], &dflt->clients[i]);
        }
        sts_cfg_free(cfg);
        sts_cfg_free(dflt);
    }
    free(example);
    free(users);
    free(embedded);
    free(doc);
}

static void rm_dir(void)
{
    char cmd[PATH_MAX + 32];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
}

int main(void)
{
    char tmpl[] = "/tmp/test_cfg.XXXXXX";

    g_srcdir = getenv("STS_SOURCE_DIR");
    if (g_srcdir == NULL) {
        fprintf(stderr, "STS_SOURCE_DIR is not set (ctest sets it)\n");
        return 2;
    }
    unsetenv("STS_CERTS_DIR");
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, g_dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    sts_log_set_level(STS_LOG_WARN); /* the embedded default's notice is expected */
    test_embedded_default();
    test_full_example();
    test_defaults_in_file();
    test_unknown_keys();
    test_duplicate_keys();
    test_syntax_errors();
    test_types_and_ranges();
    test_cross_field();
    test_users_file();
    test_relative_paths();
    test_find_rp();
    test_clients_example();
    test_client_errors();
    test_find_client();
    test_signing_keys();
    test_signing_alg();
    test_trusted_issuers();
    test_delegation();
    test_rp_registry();
    test_public_url();
    test_server_tls();
    test_rest_require_tls();
    test_doc_examples();
    rm_dir();
    return sts_test_summary();
}
