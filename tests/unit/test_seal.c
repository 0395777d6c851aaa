/*
 * test_seal.c - unit tests of sts_seal: key files, AES-256-GCM sealing,
 * yescrypt password hashes, and the demo user of the embedded default.
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) the STS authors
 */
#define _GNU_SOURCE /* mkdtemp */
#include "sts_cfg.h"
#include "sts_seal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_test.h"


static char g_dir[64];

static const char hexkey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* Write @text to g_dir/@name with @mode; returns a static path. */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void test_key_load(void)
{
    unsigned char key[STS_SEAL_KEYLEN];
    sts_err_t err;
    char text[80];
    const char *p;

    snprintf(text, sizeof(text), "%s\n", hexkey);
    p = write_file("k1", text, 0600);
    memset(key, 0xAA, sizeof(key));
    CHECK(sts_seal_key_load(p, 1, key, &err) == STS_OK);
    CHECK(key[0] == 0x00 && key[1] == 0x01 && key[31] == 0x1f);

    /* no trailing newline, upper-case hex */
    p = write_file("k2", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                   0400);
    CHECK(sts_seal_key_load(p, 1, key, &err) == STS_OK);
    CHECK(key[10] == 0x0a && key[31] == 0x1f);

    /* group/other readable: refused when strict, a warning otherwise */
    p = write_file("k3", text, 0644);
    CHECK(sts_seal_key_load(p, 1, key, &err) == STS_E_CONFIG);
    CHECK(strstr(err.detail, "group or others") != NULL);
    CHECK(sts_seal_key_load(p, 0, key, &err) == STS_OK);
    p = write_file("k4", text, 0640);
    CHECK(sts_seal_key_load(p, 1, key, &err) == STS_E_CONFIG);
    p = write_file("k5", text, 0604);
    CHECK(sts_seal_key_load(p, 1, key, &err) == STS_E_CONFIG);

    /* malformed contents */
    CHECK(sts_seal_key_load(write_file("b1", "abcd\n", 0600), 0, key, &err) == STS_E_CONFIG);
    snprintf(text, sizeof(text), "%.63s\n", hexkey);
    CHECK(sts_seal_key_load(write_file("b2", text, 0600), 0, key, &err) == STS_E_CONFIG);
    snprintf(text, sizeof(text), "%s0\n", hexkey);
    CHECK(sts_seal_key_load(write_file("b3", text, 0600), 0, key, &err) == STS_E_CONFIG);
    snprintf(text, sizeof(text), "%s\n\n", hexkey);
    CHECK(sts_seal_key_load(write_file("b4", text, 0600), 0, key, &err) == STS_E_CONFIG);
    snprintf(text, sizeof(text), "%.62sxy\n", hexkey);
    CHECK(sts_seal_key_load(write_file("b5", text, 0600), 0, key, &err) == STS_E_CONFIG);
    CHECK(sts_seal_key_load(write_file("b6", "", 0600), 0, key, &err) == STS_E_CONFIG);
    CHECK(sts_seal_key_load("/nonexistent/sts/key", 0, key, &err) == STS_E_CONFIG);
    CHECK(sts_seal_key_load(g_dir, 0, key, &err) == STS_E_CONFIG); /* a directory */
}

static void load_test_key(unsigned char key[STS_SEAL_KEYLEN])
{
    sts_err_t err;
    char text[80];

    snprintf(text, sizeof(text), "%s\n", hexkey);
    if (sts_seal_key_load(write_file("key", text, 0600), 1, key, &err) != STS_OK) {
        fprintf(stderr, "cannot load test key: %s\n", err.detail);
        exit(2);
    }
}

/* Decode the base64 body of @sealed, flip one bit of byte @at (negative: from the end), re-encode. */
static char *tamper(const char *sealed, long at)
{
    unsigned char raw[512];
    char *out = malloc(1024);
    size_t b64len = strlen(sealed + 3);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)sealed + 3, (int)b64len);

    n -= (sealed[3 + b64len - 1] == '=') + (sealed[3 + b64len - 2] == '=');
    raw[at < 0 ? n + at : at] ^= 0x01;
    memcpy(out, "v1:", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, raw, n);
    return out;
}

static void test_seal_roundtrip(void)
{
    unsigned char key[STS_SEAL_KEYLEN], key2[STS_SEAL_KEYLEN];
    sts_err_t err;
    char *s1 = NULL, *s2 = NULL, *plain = (char *)1, *t;

    load_test_key(key);
    CHECK(sts_seal(key, "wonderland", &s1, &err) == STS_OK);
    CHECK(s1 != NULL && strncmp(s1, "v1:", 3) == 0);
    /* 12 + 10 + 16 = 38 bytes -> 52 base64 characters */
    CHECK(s1 != NULL && strlen(s1) == 3 + 52);
    CHECK(sts_seal(key, "wonderland", &s2, &err) == STS_OK);
    CHECK(s1 != NULL && s2 != NULL && strcmp(s1, s2) != 0); /* fresh nonce each time */
    CHECK(sts_unseal(key, s1, &plain, &err) == STS_OK);
    CHECK(plain != NULL && strcmp(plain, "wonderland") == 0);
    sts_free_secret(plain);
    free(s2);
    s2 = NULL;

    /* empty and non-ASCII secrets */
    CHECK(sts_seal(key, "", &s2, &err) == STS_OK);
    CHECK(sts_unseal(key, s2, &plain, &err) == STS_OK && plain != NULL && plain[0] == '\0');
    sts_free_secret(plain);
    free(s2);
    CHECK(sts_seal(key, "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93", &s2, &err) == STS_OK);
    CHECK(sts_unseal(key, s2, &plain, &err) == STS_OK &&
          strcmp(plain, "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93") == 0);
    sts_free_secret(plain);
    free(s2);

    /* tampered nonce, ciphertext, tag */
    plain = (char *)1;
    t = tamper(s1, 0);
    CHECK(sts_unseal(key, t, &plain, &err) == STS_E_CRYPTO && plain == NULL);
    free(t);
    t = tamper(s1, 12);
    CHECK(sts_unseal(key, t, &plain, &err) == STS_E_CRYPTO && plain == NULL);
    free(t);
    t = tamper(s1, 21);
    CHECK(sts_unseal(key, t, &plain, &err) == STS_E_CRYPTO);
    free(t);
    t = tamper(s1, -1);
    CHECK(sts_unseal(key, t, &plain, &err) == STS_E_CRYPTO);
    free(t);
    t = tamper(s1, -16);
    CHECK(sts_unseal(key, t, &plain, &err) == STS_E_CRYPTO);
    free(t);
    /* the untampered re-encoding still opens: tamper() itself is sound */
    t = tamper(s1, 0);
    {
        char *back = tamper(t, 0);
        CHECK(sts_unseal(key, back, &plain, &err) == STS_OK && strcmp(plain, "wonderland") == 0);
        sts_free_secret(plain);
        free(back);
    }
    free(t);

    /* truncated, extended, malformed */
    {
        char buf[256];
        snprintf(buf, sizeof(buf), "%.*s", (int)strlen(s1) - 4, s1);
        CHECK(sts_unseal(key, buf, &plain, &err) == STS_E_CRYPTO);
        snprintf(buf, sizeof(buf), "%sAAAA", s1);
        CHECK(sts_unseal(key, buf, &plain, &err) == STS_E_CRYPTO);
        snprintf(buf, sizeof(buf), "v2:%s", s1 + 3);
        CHECK(sts_unseal(key, buf, &plain, &err) == STS_E_CRYPTO);
        snprintf(buf, sizeof(buf), "%s", s1);
        buf[10] = '!';
        CHECK(sts_unseal(key, buf, &plain, &err) == STS_E_CRYPTO);
        snprintf(buf, sizeof(buf), "%s\n", s1);
        CHECK(sts_unseal(key, buf, &plain, &err) == STS_E_CRYPTO);
    }
    CHECK(sts_unseal(key, "v1:", &plain, &err) == STS_E_CRYPTO);
    CHECK(sts_unseal(key, "v1:AAAA", &plain, &err) == STS_E_CRYPTO);
    CHECK(sts_unseal(key, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", &plain, &err) ==
          STS_E_CRYPTO);
    CHECK(sts_unseal(key, "wonderland", &plain, &err) == STS_E_CRYPTO);
    CHECK(sts_unseal(key, "", &plain, &err) == STS_E_CRYPTO);
    CHECK(err.code == STS_E_CRYPTO);

    /* wrong key */
    memcpy(key2, key, sizeof(key2));
    key2[7] ^= 0x80;
    CHECK(sts_unseal(key2, s1, &plain, &err) == STS_E_CRYPTO && plain == NULL);
    free(s1);
    sts_free_secret(NULL);
}

static void test_password(void)
{
    sts_err_t err;
    char *h1 = NULL, *h2 = NULL, *locked = NULL;

    CHECK(sts_password_hash("correct horse", &h1, &err) == STS_OK);
    CHECK(h1 != NULL && strncmp(h1, "$y$", 3) == 0);
    CHECK(sts_password_hash("correct horse", &h2, &err) == STS_OK);
    CHECK(h1 != NULL && h2 != NULL && strcmp(h1, h2) != 0); /* salted */
    CHECK(sts_password_check(h1, "correct horse") == 1);
    CHECK(sts_password_check(h2, "correct horse") == 1);
    CHECK(sts_password_check(h1, "correct horse ") == 0);
    CHECK(sts_password_check(h1, "Correct horse") == 0);
    CHECK(sts_password_check(h1, "") == 0);
    CHECK(sts_password_check(h1, NULL) == 0);
    /* unknown user, locked, malformed: never a match */
    CHECK(sts_password_check(NULL, "correct horse") == 0);
    CHECK(sts_password_check("*", "correct horse") == 0);
    CHECK(sts_password_check("*", "") == 0);
    CHECK(asprintf(&locked, "!%s", h1) > 0);
    CHECK(sts_password_check(locked, "correct horse") == 0);
    locked[0] = '*';
    CHECK(sts_password_check(locked, "correct horse") == 0);
    CHECK(sts_password_check("", "") == 0);
    CHECK(sts_password_check("$y$", "") == 0);
    CHECK(sts_password_check("$y$garbage", "correct horse") == 0);
    CHECK(sts_password_check("plaintext", "plaintext") == 0);
    /* a truncated hash of the right password must not match */
    h1[strlen(h1) - 1] = '\0';
    CHECK(sts_password_check(h1, "correct horse") == 0);
    /* other crypt(3) methods (here SHA-512 crypt) are understood too */
    {
        static const char sha512[] = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDe"
                                     "hy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        CHECK(sts_password_check(sha512, "secret") == 1);
        CHECK(sts_password_check(sha512, "secreT") == 0);
    }
    free(locked);
    free(h1);
    free(h2);
}

static void test_embedded_alice(void)
{
    const char *srcdir = getenv("STS_SOURCE_DIR");
    unsigned char key[STS_SEAL_KEYLEN];
    const sts_cfg_user_t *alice;
    sts_cfg_t *cfg = NULL;
    sts_err_t err;
    char path[512];
    char *plain = NULL;

    CHECK(srcdir != NULL);
    if (srcdir == NULL)
        return;
    CHECK(sts_cfg_load(NULL, &cfg, &err) == STS_OK);
    if (cfg == NULL)
        return;
    alice = sts_cfg_find_user(cfg, "alice");
    CHECK(alice != NULL);
    if (alice != NULL) {
        CHECK(sts_password_check(alice->password_hash, "wonderland") == 1);
        CHECK(sts_password_check(alice->password_hash, "Wonderland") == 0);
        snprintf(path, sizeof(path), "%s/certs/dev-secrets.key", srcdir);
        /* a git checkout leaves it 0644: load as the embedded default does */
        CHECK(sts_seal_key_load(path, cfg->strict_key_perms, key, &err) == STS_OK);
        CHECK(alice->digest_secret != NULL);
        CHECK(sts_unseal(key, alice->digest_secret, &plain, &err) == STS_OK);
        CHECK(plain != NULL && strcmp(plain, "wonderland") == 0);
        sts_free_secret(plain);
    }
    sts_cfg_free(cfg);
}

/* Concurrent hashing and sealing: nothing may share state. */
static unsigned char g_tkey[STS_SEAL_KEYLEN];
static const char *g_thash;

static void *thread_main(void *arg)
{
    long ok = 1;
    char pw[32];
    (void)arg;

    snprintf(pw, sizeof(pw), "pw-%p", arg);
    for (int i = 0; i < 20 && ok; i++) {
        char *s = NULL, *p = NULL;
        ok = sts_seal(g_tkey, pw, &s, NULL) == STS_OK && sts_unseal(g_tkey, s, &p, NULL) == STS_OK &&
             strcmp(p, pw) == 0;
        free(s);
        sts_free_secret(p);
    }
    ok = ok && sts_password_check(g_thash, "threads") == 1 &&
         sts_password_check(g_thash, pw) == 0;
    return (void *)ok;
}

static void test_threads(void)
{
    static int ids[4] = {0, 1, 2, 3};
    pthread_t t[4];
    sts_err_t err;
    char *hash = NULL;

    load_test_key(g_tkey);
    CHECK(sts_password_hash("threads", &hash, &err) == STS_OK);
    g_thash = hash;
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, thread_main, &ids[i]) == 0);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        CHECK(r == (void *)1);
    }
    free(hash);
}

static void rm_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/test_seal.XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_key_load();
    test_seal_roundtrip();
    test_password();
    test_embedded_alice();
    test_threads();
    rm_dir();
    return sts_test_summary();
}
