/*
 * test_engine.c - the lifecycle engine on the embedded default realm, a real
 * SQLite store in a temporary directory and an injected clock.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "sts_engine.h"
#include "sts_engine_int.h" /* the credential cache's counters */
#include "sts_jwt.h"
#include "sts_keys.h"
#include "sts_ns.h"
#include "sts_test.h"
#include "sts_test_engine.h"
#include "sts_time.h"
#include "sts_xml.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static time_t g_now;
static time_t fake_now(void) { return g_now; }

static const char *iso(time_t t, char *buf)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* base64(SHA1(nonce + created + password)) */
static void make_digest(const unsigned char *nonce, size_t nlen, const char *created,
                        const char *password, char *out)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha1(), NULL);
    EVP_DigestUpdate(c, nonce, nlen);
    EVP_DigestUpdate(c, created, strlen(created));
    EVP_DigestUpdate(c, password, strlen(password));
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

static long count_rows(const char *dir, const char *where)
{
    char path[512], sql[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    snprintf(path, sizeof(path), "%s/tokens.db", dir);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM tokens WHERE %s", where);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Parses an issued token the way a face would receive it. */
static xmlDocPtr parse(const sts_issued_t *is)
{
    sts_xml_limits_t lim = {.max_depth = 64, .max_string = 65536, .max_size = 1 << 20};
    xmlDocPtr doc = NULL;
    if (sts_xml_parse(is->token, is->token_len, &lim, &doc, NULL) != STS_OK)
        return NULL;
    return doc;
}

static void test_timestamp(sts_engine_t *e)
{
    char c[32], x[32];
    sts_timestamp_t ts;
    sts_err_t err;

    CHECK(sts_engine_check_timestamp(e, NULL, &err) == STS_E_AUTH_FAILED); /* required */
    ts.created = iso(g_now, c);
    ts.expires = iso(g_now + 300, x);
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_OK);
    ts.expires = NULL;
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_OK);
    ts.created = iso(g_now - 600, c); /* older than the 300 s maximum age: out of date */
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_E_EXPIRED_DATA);
    ts.created = iso(g_now + 600, c); /* beyond the clock skew */
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_E_AUTH_FAILED);
    ts.created = iso(g_now - 100, c); /* expired: out of date */
    ts.expires = iso(g_now - 10, x);
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_E_EXPIRED_DATA);
    ts.created = "yesterday";
    ts.expires = NULL;
    CHECK(sts_engine_check_timestamp(e, &ts, &err) == STS_E_AUTH_FAILED);
}

static void test_authenticate(sts_engine_t *e)
{
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_principal_t who;
    sts_err_t err;
    unsigned char nonce[16];
    char nonce_b64[64], created[32], digest[64];

    CHECK(sts_engine_authenticate(e, &cred, &who, &err) == STS_OK);
    CHECK(who.user != NULL && strcmp(who.user->name, "alice") == 0);
    cred.password = "Wonderland";
    CHECK(sts_engine_authenticate(e, &cred, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(who.user == NULL);
    CHECK(strstr(err.detail, "Wonderland") == NULL); /* no secret in the detail */
    cred.username = "mallory";
    cred.password = "wonderland";
    CHECK(sts_engine_authenticate(e, &cred, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(strcmp(err.pub, "Authentication failed") == 0);

    /* PasswordDigest: good, replayed, stale, wrong */
    RAND_bytes(nonce, sizeof(nonce));
    EVP_EncodeBlock((unsigned char *)nonce_b64, nonce, sizeof(nonce));
    iso(g_now, created);
    make_digest(nonce, sizeof(nonce), created, "wonderland", digest);
    sts_credential_t dg = {STS_CRED_PASSWORD_DIGEST, "alice", digest, nonce_b64, created};
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_OK);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(strstr(err.detail, "replayed") != NULL);

    RAND_bytes(nonce, sizeof(nonce));
    EVP_EncodeBlock((unsigned char *)nonce_b64, nonce, sizeof(nonce));
    iso(g_now - 1000, created);
    make_digest(nonce, sizeof(nonce), created, "wonderland", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED); /* stale */

    iso(g_now, created);
    make_digest(nonce, sizeof(nonce), created, "not-it", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    /* a failed digest does not burn the nonce: the right one still works once */
    make_digest(nonce, sizeof(nonce), created, "wonderland", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_OK);

    dg.nonce = "***";
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    dg.nonce = NULL; /* WS-Trust's AuthenticationBadElements */
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_BAD_ELEMENTS);
}

/* A fresh random nonce in @b64 (>= 32 bytes) and its PasswordDigest in @digest. */
static void new_digest(unsigned char nonce[16], char *b64, const char *created,
                       const char *password, char *digest)
{
    RAND_bytes(nonce, 16);
    EVP_EncodeBlock((unsigned char *)b64, nonce, 16);
    make_digest(nonce, 16, created, password, digest);
}

/* The digest covers nonce, Created and password but not the username, and the
 * nonce cache does not survive a restart. */
static void test_digest_replay(sts_engine_t *e, const sts_cfg_t *cfg)
{
    sts_principal_t who;
    sts_err_t err;
    unsigned char nonce[16];
    char nonce_b64[64], created[32], digest[64];
    sts_credential_t dg = {STS_CRED_PASSWORD_DIGEST, "alice", digest, nonce_b64, created};
    sts_engine_t *e2 = NULL;
    time_t saved = g_now;

    /* replayed as carol, who has the same password: still a replay */
    iso(g_now, created);
    new_digest(nonce, nonce_b64, created, "wonderland", digest);
    dg.username = "carol";
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_OK);
    CHECK(who.user != NULL && strcmp(who.user->name, "carol") == 0);
    dg.username = "alice";
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(strstr(err.detail, "replayed") != NULL);
    CHECK(who.user == NULL);
    /* and the other way round */
    new_digest(nonce, nonce_b64, created, "wonderland", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_OK);
    dg.username = "carol";
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(strstr(err.detail, "replayed") != NULL);
    dg.username = "alice";

    /* Created before this engine started: refused, though fresh and correct */
    iso(g_now - 1, created);
    new_digest(nonce, nonce_b64, created, "wonderland", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(strstr(err.detail, "before the engine started") != NULL);
    CHECK(strcmp(err.pub, "Authentication failed") == 0);

    /* a restart: the digest the old engine accepted is not accepted again by
     * the new one, whose cache is empty */
    iso(g_now, created);
    new_digest(nonce, nonce_b64, created, "wonderland", digest);
    CHECK(sts_engine_authenticate(e, &dg, &who, &err) == STS_OK);
    g_now += 5;
    CHECK(sts_engine_new(cfg, &e2, &err) == STS_OK);
    if (e2 != NULL) {
        CHECK(sts_engine_authenticate(e2, &dg, &who, &err) == STS_E_AUTH_FAILED);
        CHECK(strstr(err.detail, "before the engine started") != NULL);
        /* ... while one made after the restart is */
        iso(g_now, created);
        new_digest(nonce, nonce_b64, created, "wonderland", digest);
        CHECK(sts_engine_authenticate(e2, &dg, &who, &err) == STS_OK);
        CHECK(sts_engine_authenticate(e2, &dg, &who, &err) == STS_E_AUTH_FAILED);
        /* password text logins do not care when the engine started */
        sts_credential_t pw = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
        CHECK(sts_engine_authenticate(e2, &pw, &who, &err) == STS_OK);
    }
    sts_engine_free(e2);
    g_now = saved;
}

/* Adds carol, with alice's password and digest secret, to @cfg. */
static int add_carol(sts_cfg_t *cfg)
{
    const sts_cfg_user_t *alice = sts_cfg_find_user(cfg, "alice");
    sts_cfg_user_t *users;
    sts_cfg_user_t *c;
    size_t ai;

    if (alice == NULL || alice->password_hash == NULL || alice->digest_secret == NULL)
        return -1;
    ai = (size_t)(alice - cfg->users);
    users = realloc(cfg->users, (cfg->nusers + 1) * sizeof(*users));
    if (users == NULL)
        return -1;
    cfg->users = users;
    alice = &users[ai]; /* the realloc may have moved it */
    c = &users[cfg->nusers];
    memset(c, 0, sizeof(*c));
    c->name = strdup("carol");
    c->password_hash = strdup(alice->password_hash);
    c->digest_secret = strdup(alice->digest_secret);
    cfg->nusers++;
    return c->name != NULL && c->password_hash != NULL && c->digest_secret != NULL ? 0 : -1;
}

static sts_credcache_stats_t cc_stats(sts_engine_t *e)
{
    sts_credcache_stats_t s;
    sts_credcache_stats(e->creds, &s);
    return s;
}

/* The credential cache as the engine uses it (default TTL 60 s). */
static void test_credential_cache(sts_engine_t *e, sts_cfg_t *cfg)
{
    sts_credential_t alice = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_credential_t carol = {STS_CRED_PASSWORD_TEXT, "carol", "wonderland", NULL, NULL};
    sts_credential_t bad = {STS_CRED_PASSWORD_TEXT, "alice", "wonderlanD", NULL, NULL};
    sts_credential_t nobody = {STS_CRED_PASSWORD_TEXT, "mallory", "wonderland", NULL, NULL};
    sts_principal_t who;
    sts_credcache_stats_t before, after;
    sts_cfg_user_t *u = (sts_cfg_user_t *)sts_cfg_find_user(cfg, "carol");
    char *old_hash, *new_hash = NULL;
    sts_engine_t *off = NULL;
    sts_err_t err;
    time_t saved = g_now;

    CHECK(e->creds != NULL && cfg->credential_cache_ttl == 60);
    /* hit: the second check of a good password is answered by the cache */
    CHECK(sts_engine_authenticate(e, &alice, &who, &err) == STS_OK);
    before = cc_stats(e);
    CHECK(sts_engine_authenticate(e, &alice, &who, &err) == STS_OK);
    CHECK(who.user != NULL && strcmp(who.user->name, "alice") == 0);
    after = cc_stats(e);
    CHECK(after.hits == before.hits + 1 && after.entries == before.entries);

    /* a wrong password misses, fails, and is not remembered */
    before = after;
    CHECK(sts_engine_authenticate(e, &bad, &who, &err) == STS_E_AUTH_FAILED);
    CHECK(sts_engine_authenticate(e, &bad, &who, &err) == STS_E_AUTH_FAILED);
    after = cc_stats(e);
    CHECK(after.hits == before.hits && after.misses == before.misses + 2);
    CHECK(after.entries == before.entries);

    /* an unknown user never touches the cache: it always pays the full
     * (dummy) hash check, so a cache cannot make it faster or slower */
    before = after;
    CHECK(sts_engine_authenticate(e, &nobody, &who, &err) == STS_E_AUTH_FAILED);
    after = cc_stats(e);
    CHECK(after.hits == before.hits && after.misses == before.misses &&
          after.entries == before.entries);

    /* expiry by TTL: 60 s later alice pays the check again (and passes) */
    g_now = saved + 60;
    before = cc_stats(e);
    CHECK(sts_engine_authenticate(e, &alice, &who, &err) == STS_OK);
    after = cc_stats(e);
    CHECK(after.hits == before.hits && after.misses == before.misses + 1);
    CHECK(sts_engine_authenticate(e, &alice, &who, &err) == STS_OK); /* cached again */
    CHECK(cc_stats(e).hits == after.hits + 1);
    g_now = saved;

    /* carol's hash changes: the cached check against the old one is dropped,
     * so her old password fails and the new one works */
    CHECK(u != NULL && sts_password_hash("looking-glass", &new_hash, &err) == STS_OK);
    if (u != NULL && new_hash != NULL) {
        CHECK(sts_engine_authenticate(e, &carol, &who, &err) == STS_OK);
        CHECK(sts_engine_authenticate(e, &carol, &who, &err) == STS_OK); /* a hit */
        old_hash = u->password_hash;
        u->password_hash = new_hash;
        CHECK(sts_engine_authenticate(e, &carol, &who, &err) == STS_E_AUTH_FAILED);
        carol.password = "looking-glass";
        CHECK(sts_engine_authenticate(e, &carol, &who, &err) == STS_OK);
        u->password_hash = old_hash;
        CHECK(sts_engine_authenticate(e, &carol, &who, &err) == STS_E_AUTH_FAILED);
        free(new_hash);
    }

    /* OAuth client secrets go through the same cache, in their own realm */
    before = cc_stats(e);
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3cret", &who, &err) == STS_OK);
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3cret", &who, &err) == STS_OK);
    CHECK(who.client != NULL);
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3creT", &who, &err) ==
          STS_E_AUTH_FAILED);
    CHECK(sts_engine_authenticate_client(e, "nobody", "s3cret", &who, &err) ==
          STS_E_AUTH_FAILED);
    after = cc_stats(e);
    CHECK(after.hits == before.hits + 1 && after.entries == before.entries + 1);

    /* credential_cache_ttl 0: no cache at all, every check is a crypt(3) one */
    cfg->credential_cache_ttl = 0;
    CHECK(sts_engine_new(cfg, &off, &err) == STS_OK);
    if (off != NULL) {
        CHECK(off->creds == NULL);
        CHECK(sts_engine_authenticate(off, &alice, &who, &err) == STS_OK);
        CHECK(sts_engine_authenticate(off, &alice, &who, &err) == STS_OK);
        CHECK(sts_engine_authenticate(off, &bad, &who, &err) == STS_E_AUTH_FAILED);
        CHECK(cc_stats(off).hits == 0 && cc_stats(off).entries == 0);
    }
    sts_engine_free(off);
    cfg->credential_cache_ttl = 60;
}

static void test_issue_policy(sts_engine_t *e, const sts_principal_t *who, const char *dir)
{
    sts_issue_req_t req;
    sts_issued_t *is = NULL;
    sts_err_t err;
    char c[32], x[32];
    long before = count_rows(dir, "1");

    memset(&req, 0, sizeof(req));
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_REQUEST);
    req.applies_to = "https://evil.example.com/";
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_TARGET);
    req.applies_to = "https://rp.example.com/";
    req.token_type = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512/sct";
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_NOT_UNDERSTOOD);
    req.token_type = "urn:oasis:names:tc:SAML:1.1:assertion"; /* no such URI */
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_NOT_UNDERSTOOD);
    req.token_type = NULL;
    req.key_type = STS_WST13_SYMMETRIC; /* needs a party with an encryption_cert */
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_TARGET);
    req.key_type = STS_WST13_PUBLICKEY; /* without a UseKey certificate */
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_REQUEST);
    req.key_type = "urn:example:other";
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_NOT_UNDERSTOOD);
    req.key_type = NULL;
    req.client_entropy = (const unsigned char *)"0123456789abcdef"; /* bearer: no entropy */
    req.client_entropy_len = 16;
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_REQUEST);
    req.client_entropy = NULL;
    req.client_entropy_len = 0;
    req.lifetime_created = iso(g_now, c);
    req.lifetime_expires = iso(g_now - 5, x);
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_LIFETIME);
    req.lifetime_expires = "soon";
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_LIFETIME);
    req.lifetime_created = iso(g_now + 3600, c); /* postdated */
    req.lifetime_expires = iso(g_now + 7200, x);
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_E_INVALID_LIFETIME);
    CHECK(is == NULL);
    CHECK(count_rows(dir, "1") == before); /* refusals store nothing */

    /* Lifetime honoured when shorter, capped at the maximum when longer. */
    req.lifetime_created = iso(g_now, c);
    req.lifetime_expires = iso(g_now + 600, x);
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK);
    CHECK(is && is->expires - is->created == 600);
    sts_issued_free(is);
    req.lifetime_expires = iso(g_now + 86400, x);
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK);
    CHECK(is && is->expires - is->created == 3600);
    sts_issued_free(is);
    req.lifetime_created = req.lifetime_expires = NULL;
    req.token_type = STS_TT_SAML2_WSS;
    CHECK(sts_engine_issue(e, who, &req, &is, &err) == STS_OK);
    CHECK(is && strcmp(is->token_type, STS_TT_SAML2_WSS) == 0);
    CHECK(is && strcmp(is->key_type, STS_WST13_BEARER) == 0);
    CHECK(is && strstr(is->token, "<?xml") == NULL);
    sts_issued_free(is);
    CHECK(count_rows(dir, "1") == before + 3);
}

static void test_lifecycle(sts_engine_t *e, const sts_principal_t *who, const char *dir)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    sts_issued_t *t1 = NULL, *t2 = NULL, *t3 = NULL;
    xmlDocPtr d1 = NULL, d2 = NULL, d3 = NULL, forged = NULL;
    sts_token_in_t in = {.node = NULL};
    sts_verdict_t v = {.valid = 0};
    sts_err_t err;
    sts_cfg_user_t bob = {"bob", NULL, NULL, NULL, 0};
    sts_principal_t other = {.user = &bob, .authn_context = STS_SAML2_AC_PASSWORD};
    char where[160];

    CHECK(sts_engine_issue(e, who, &req, &t1, &err) == STS_OK);
    if (t1 == NULL)
        return;
    d1 = parse(t1);
    in.node = xmlDocGetRootElement(d1);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 1);
    sts_verdict_clear(&v);

    /* A tampered copy: not valid, and nothing changes. */
    {
        char *copy = strdup(t1->token);
        char *p = strstr(copy, ">alice<");
        sts_xml_limits_t lim = {.max_depth = 64, .max_string = 65536, .max_size = 1 << 20};
        if (p)
            memcpy(p + 1, "alicf", 5);
        CHECK(sts_xml_parse(copy, strlen(copy), &lim, &forged, NULL) == STS_OK);
        sts_token_in_t fin = {.node = xmlDocGetRootElement(forged)};
        CHECK(sts_engine_validate(e, who, &fin, &v, &err) == STS_OK && v.valid == 0);
        CHECK(sts_engine_renew(e, who, &fin, NULL, &t3, &err) == STS_E_UNABLE_TO_RENEW);
        CHECK(sts_engine_cancel(e, who, &fin, &err) == STS_E_REQUEST_FAILED);
        free(copy);
    }

    /* Only the requester may renew or cancel. */
    CHECK(sts_engine_renew(e, &other, &in, NULL, &t3, &err) == STS_E_UNABLE_TO_RENEW);
    CHECK(sts_engine_cancel(e, &other, &in, &err) == STS_E_REQUEST_FAILED);

    /* Renew links the two; the predecessor is no longer valid. */
    CHECK(sts_engine_renew(e, who, &in, NULL, &t2, &err) == STS_OK);
    if (t2 == NULL)
        goto done;
    CHECK(strcmp(t1->id, t2->id) != 0);
    snprintf(where, sizeof(where), "id='%s' AND state=1 AND replaced_by='%s'", t1->id, t2->id);
    CHECK(count_rows(dir, where) == 1);
    snprintf(where, sizeof(where), "id='%s' AND state=0 AND replaces='%s'", t2->id, t1->id);
    CHECK(count_rows(dir, where) == 1);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 0);
    CHECK(strstr(v.reason, "renewed") != NULL);
    CHECK(sts_engine_renew(e, who, &in, NULL, &t3, &err) == STS_E_UNABLE_TO_RENEW);

    /* Cancel: idempotent; afterwards invalid and not renewable. */
    d2 = parse(t2);
    in.node = xmlDocGetRootElement(d2);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 1);
    sts_verdict_clear(&v);
    CHECK(sts_engine_cancel(e, who, &in, &err) == STS_OK);
    CHECK(sts_engine_cancel(e, who, &in, &err) == STS_OK);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 0);
    CHECK(strstr(v.reason, "cancelled") != NULL);
    CHECK(sts_engine_renew(e, who, &in, NULL, &t3, &err) == STS_E_UNABLE_TO_RENEW);

    /* Expiry: invalid after NotOnOrAfter + skew; renewable within the window
     * only when issued with Renewing OK="true". */
    sts_issued_free(t3);
    t3 = NULL;
    req.renew_after_expiry = 1;
    CHECK(sts_engine_issue(e, who, &req, &t3, &err) == STS_OK);
    req.renew_after_expiry = 0;
    if (t3 != NULL) {
        sts_issued_t *t4 = NULL, *t5 = NULL;
        time_t saved = g_now;
        xmlDocPtr d5 = NULL;
        d3 = parse(t3);
        in.node = xmlDocGetRootElement(d3);
        CHECK(sts_engine_issue(e, who, &req, &t5, &err) == STS_OK); /* no Renewing OK */
        g_now = t3->expires + 301; /* past expiry + 300 s skew */
        CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 0);
        CHECK(strstr(v.reason, "expired") != NULL);
        g_now = t3->expires + 3601; /* past the 3600 s renew window */
        CHECK(sts_engine_renew(e, who, &in, NULL, &t4, &err) == STS_E_UNABLE_TO_RENEW);
        g_now = t3->expires + 1800; /* inside it */
        CHECK(sts_engine_renew(e, who, &in, NULL, &t4, &err) == STS_OK);
        CHECK(t4 && t4->expires - t4->created == 3600);
        if (t5 != NULL) { /* the same, issued without Renewing OK: refused once expired */
            sts_token_in_t in5 = {.node = NULL};
            d5 = parse(t5);
            in5.node = xmlDocGetRootElement(d5);
            sts_issued_free(t4);
            t4 = NULL;
            CHECK(sts_engine_renew(e, who, &in5, NULL, &t4, &err) == STS_E_UNABLE_TO_RENEW);
            CHECK(t4 == NULL);
            xmlFreeDoc(d5);
        }
        sts_issued_free(t4);
        sts_issued_free(t5);
        g_now = saved;
    }
done:
    if (forged)
        xmlFreeDoc(forged);
    if (d1)
        xmlFreeDoc(d1);
    if (d2)
        xmlFreeDoc(d2);
    if (d3)
        xmlFreeDoc(d3);
    sts_issued_free(t1);
    sts_issued_free(t2);
    sts_issued_free(t3);
}

/* ---- RFC 8693 exchange, refresh, revoke (the REST face's engine calls) ----- */

/* A JWT as the REST face hands it in. */
static sts_token_in_t jwt_in(const sts_issued_t *is, const char *type)
{
    sts_token_in_t in = {.text = is->token, .text_len = is->token_len, .type = type};
    return in;
}

static sts_errc_t exchange(sts_engine_t *e, const sts_principal_t *client, sts_token_in_t subj,
                           const sts_token_in_t *actor, const char *tt, const char *aud,
                           const char *scope, sts_issued_t **out, sts_err_t *err)
{
    sts_exchange_req_t req;

    memset(&req, 0, sizeof(req));
    req.subject = subj;
    if (actor != NULL)
        req.actor = *actor;
    req.requested_token_type = tt;
    req.audiences = aud ? &aud : NULL;
    req.naudiences = aud ? 1 : 0;
    req.scope = scope;
    return sts_engine_exchange(e, client, &req, out, err);
}

/* The verdict view of @is (NULL when not valid); free with sts_token_view_free(). */
static sts_token_view_t *view_of(sts_engine_t *e, const sts_principal_t *who,
                                 const sts_issued_t *is)
{
    sts_token_in_t in = jwt_in(is, NULL);
    sts_verdict_t v = {.valid = 0};
    sts_token_view_t *view;

    if (sts_engine_validate(e, who, &in, &v, NULL) != STS_OK || !v.valid)
        return NULL;
    view = v.view;
    v.view = NULL;
    return view;
}

static int valid_now(sts_engine_t *e, const sts_principal_t *who, const sts_issued_t *is)
{
    sts_token_view_t *v = view_of(e, who, is);
    sts_token_view_free(v);
    return v != NULL;
}

static void test_exchange(sts_engine_t *e, const sts_principal_t *alice, const char *dir)
{
    sts_principal_t client, bad;
    sts_issued_t *saml = NULL, *at = NULL, *jwt2 = NULL, *other = NULL, *x = NULL;
    sts_issue_req_t ireq = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    sts_token_view_t *v = NULL;
    sts_token_in_t subj, act_in;
    char *b64 = NULL;
    sts_err_t err;
    long rows;

    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3cret", &client, &err) == STS_OK &&
          client.client != NULL && client.user == NULL);
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "S3cret", &bad, &err) ==
          STS_E_AUTH_FAILED);
    CHECK(sts_engine_authenticate_client(e, "nobody", "s3cret", &bad, &err) == STS_E_AUTH_FAILED &&
          bad.client == NULL);

    /* A SAML assertion issued over SOAP, handed in base64url as RFC 8693 says. */
    CHECK(sts_engine_issue(e, alice, &ireq, &saml, &err) == STS_OK);
    if (saml == NULL)
        return;
    b64 = sts_b64url_encode((const unsigned char *)saml->token, saml->token_len);
    subj.node = NULL;
    subj.text = b64;
    subj.text_len = strlen(b64);
    subj.type = STS_TT_SAML2;

    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", "api.read", &at,
                   &err) == STS_OK);
    CHECK(at != NULL && at->refresh != NULL && strcmp(at->token_type, STS_TT_ACCESS_TOKEN) == 0 &&
          at->scope != NULL && strcmp(at->scope, "api.read") == 0);
    CHECK(at != NULL && at->expires <= saml->expires); /* never outlives the subject */
    CHECK(at != NULL && at->refresh != NULL && at->refresh->expires <= saml->expires);
    v = at ? view_of(e, &client, at) : NULL;
    CHECK(v != NULL && strcmp(v->subject, "alice") == 0 && v->naudiences == 1 &&
          strcmp(v->audiences[0], "https://api.example.com/") == 0 &&
          strcmp(v->client_id, "migration-tester") == 0 && v->nactors == 0 &&
          strcmp(v->token_type, STS_TT_ACCESS_TOKEN) == 0);
    sts_token_view_free(v);

    /* Refusals change nothing. */
    rows = count_rows(dir, "1");
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://evil.example/", NULL, &x, &err) ==
          STS_E_INVALID_TARGET && x == NULL);
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", "admin", &x, &err) ==
          STS_E_INVALID_SCOPE);
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", "api.read  openid",
                   &x, &err) == STS_E_INVALID_SCOPE);
    CHECK(exchange(e, &client, subj, NULL, NULL, NULL, NULL, &x, &err) == STS_E_INVALID_TARGET);
    CHECK(exchange(e, &client, subj, NULL, STS_TT_SAML1, "https://rp.example.com/", "openid", &x,
                   &err) == STS_E_INVALID_SCOPE);
    CHECK(exchange(e, &client, subj, NULL, STS_TT_ID_TOKEN, "https://rp.example.com/", NULL, &x,
                   &err) == STS_E_INVALID_REQUEST);
    CHECK(exchange(e, alice, subj, NULL, NULL, "https://rp.example.com/", NULL, &x, &err) ==
          STS_E_AUTH_FAILED);
    subj.type = STS_TT_JWT; /* declared type does not match */
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://rp.example.com/", NULL, &x, &err) ==
          STS_E_INVALID_REQUEST);
    subj.type = STS_TT_SAML2;
    if (at != NULL) {
        /* A token's scope bounds what an exchange of it may ask for. */
        CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), NULL, STS_TT_JWT,
                       "https://rp.example.com/", "api.write", &x, &err) == STS_E_INVALID_SCOPE);
        /* A refresh token is only ever a refresh token. */
        CHECK(exchange(e, &client, jwt_in(at->refresh, STS_TT_ACCESS_TOKEN), NULL, STS_TT_JWT,
                       "https://rp.example.com/", NULL, &x, &err) == STS_E_INVALID_REQUEST);
        /* An actor who is the subject itself. */
        act_in = jwt_in(at, STS_TT_ACCESS_TOKEN);
        CHECK(exchange(e, &client, subj, &act_in, STS_TT_JWT, "https://rp.example.com/", NULL, &x,
                       &err) == STS_E_INVALID_REQUEST);
    }
    CHECK(count_rows(dir, "1") == rows);

    /* Delegation: carol's token acts for alice; then another actor nests over it. */
    {
        sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "carol", "wonderland", NULL, NULL};
        sts_principal_t carol;
        CHECK(sts_engine_authenticate(e, &cred, &carol, &err) == STS_OK);
        ireq.token_type = STS_TT_JWT;
        CHECK(sts_engine_issue(e, &carol, &ireq, &other, &err) == STS_OK);
        ireq.token_type = NULL;
    }
    if (other != NULL) {
        act_in = jwt_in(other, STS_TT_JWT);
        CHECK(exchange(e, &client, subj, &act_in, STS_TT_JWT, "https://rp.example.com/", NULL,
                       &jwt2, &err) == STS_OK);
        v = jwt2 ? view_of(e, &client, jwt2) : NULL;
        CHECK(v != NULL && v->nactors == 1 && strcmp(v->actors[0], "carol") == 0 &&
              strcmp(v->subject, "alice") == 0 && strcmp(v->token_type, STS_TT_JWT) == 0 &&
              jwt2->refresh == NULL);
        sts_token_view_free(v);
    }
    if (jwt2 != NULL && at != NULL) {
        /* Re-exchanged with no actor: the chain is kept, never dropped. */
        CHECK(exchange(e, &client, jwt_in(jwt2, STS_TT_JWT), NULL, STS_TT_JWT,
                       "https://rp.example.com/", NULL, &x, &err) == STS_OK);
        v = x ? view_of(e, &client, x) : NULL;
        CHECK(v != NULL && v->nactors == 1 && strcmp(v->actors[0], "carol") == 0);
        sts_token_view_free(v);
        sts_issued_free(x);
        x = NULL;
        /* SAML 2.0 carries act as its DelegationRestriction (read back the
         * same); SAML 1.1 cannot: refused, not dropped. */
        CHECK(exchange(e, &client, jwt_in(jwt2, STS_TT_JWT), NULL, STS_TT_SAML2,
                       "https://rp.example.com/", NULL, &x, &err) == STS_OK);
        if (x != NULL) {
            char *sb = sts_b64url_encode((const unsigned char *)x->token, x->token_len);
            sts_token_in_t sin = {.text = sb, .text_len = sb ? strlen(sb) : 0,
                                  .type = STS_TT_SAML2};
            sts_verdict_t sv = {.valid = 0};
            CHECK(strstr(x->token, "del:DelegationRestrictionType") != NULL);
            CHECK(sts_engine_validate(e, &client, &sin, &sv, &err) == STS_OK && sv.valid);
            CHECK(sv.view != NULL && sv.view->nactors == 1 &&
                  strcmp(sv.view->actors[0], "carol") == 0);
            sts_verdict_clear(&sv);
            free(sb);
        }
        sts_issued_free(x);
        x = NULL;
        CHECK(exchange(e, &client, jwt_in(jwt2, STS_TT_JWT), NULL, STS_TT_SAML1,
                       "https://rp.example.com/", NULL, &x, &err) == STS_E_INVALID_REQUEST);
    }

    /* Refresh: rotation, reuse cancels the family, another principal cannot. */
    if (at != NULL) {
        sts_token_in_t rt = jwt_in(at->refresh, NULL);
        sts_issued_t *r2 = NULL;
        CHECK(sts_engine_refresh(e, &client, &rt, "api.write", &x, &err) == STS_E_INVALID_SCOPE);
        CHECK(sts_engine_refresh(e, &client, &rt, NULL, &r2, &err) == STS_OK && r2 != NULL &&
              r2->refresh != NULL);
        if (r2 != NULL) {
            CHECK(valid_now(e, &client, r2) && valid_now(e, &client, r2->refresh));
            CHECK(sts_engine_refresh(e, &client, &rt, NULL, &x, &err) == STS_E_INVALID_TOKEN &&
                  x == NULL);
            /* the reuse cancelled the rotated token and what it issued */
            CHECK(!valid_now(e, &client, r2) && !valid_now(e, &client, r2->refresh));
            CHECK(!valid_now(e, &client, at));
        }
        sts_issued_free(r2);
        /* Revoke: garbage is not an error; a user's token is not the client's. */
        {
            sts_token_in_t junk = {.text = "abc", .text_len = 3};
            CHECK(sts_engine_revoke(e, &client, &junk, &err) == STS_OK);
            CHECK(sts_engine_revoke(e, &client, &subj, &err) == STS_E_UNAUTHORIZED);
        }
    }
    /* An expired subject is refused. */
    g_now += 2 * 3600;
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://rp.example.com/", NULL, &x, &err) ==
          STS_E_INVALID_REQUEST && strstr(err.pub, "subject_token") != NULL);
    g_now -= 2 * 3600;

    sts_issued_free(saml);
    sts_issued_free(at);
    sts_issued_free(jwt2);
    sts_issued_free(other);
    free(b64);
}

/* What the review of the REST face found (each was reproduced on the server
 * first): scope never widens through an unscoped hop, SAML never drops a
 * scope, exchanged tokens stay in their subject's family and within its
 * lifetime, expired subjects are refused whatever the skew. */
static void test_exchange_bounds(sts_engine_t *e, sts_cfg_t *cfg, const sts_principal_t *alice,
                                 const char *dir)
{
    sts_principal_t client;
    sts_issue_req_t ireq = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    sts_issued_t *saml = NULL, *at = NULL, *x = NULL, *fork = NULL, *renewed = NULL;
    sts_cfg_client_t *mt = (sts_cfg_client_t *)sts_cfg_find_client(cfg, "migration-tester");
    sts_token_in_t subj, rt_in;
    sts_err_t err;
    char *b64 = NULL;
    long rows;

    CHECK(mt != NULL && mt->nscopes == 5 && strcmp(mt->scopes[4], "api.write") == 0);
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3cret", &client, &err) == STS_OK);
    CHECK(sts_engine_issue(e, alice, &ireq, &saml, &err) == STS_OK);
    if (saml == NULL || mt == NULL)
        return;
    b64 = sts_b64url_encode((const unsigned char *)saml->token, saml->token_len);
    subj.node = NULL;
    subj.text = b64;
    subj.text_len = strlen(b64);
    subj.type = STS_TT_SAML2;
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", "api.write", &at,
                   &err) == STS_OK);
    if (at == NULL)
        goto done;
    rows = count_rows(dir, "1");

    /* F1: the client loses api.write; an unscoped exchange of the api.write
     * token must not come back unlimited. */
    mt->nscopes = 4;
    CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), NULL, STS_TT_JWT,
                   "https://rp.example.com/", NULL, &x, &err) == STS_E_INVALID_SCOPE && x == NULL);
    mt->nscopes = 5;
    /* F2: a SAML assertion cannot carry the subject's scope: refused, not dropped. */
    CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), NULL, STS_TT_SAML2,
                   "https://rp.example.com/", NULL, &x, &err) == STS_E_INVALID_SCOPE);
    /* F3: a refresh token is no actor. */
    rt_in = jwt_in(at->refresh, STS_TT_REFRESH_TOKEN);
    CHECK(exchange(e, &client, subj, &rt_in, STS_TT_JWT, "https://rp.example.com/", NULL, &x,
                   &err) == STS_E_INVALID_REQUEST);
    CHECK(count_rows(dir, "1") == rows);

    /* F3: what is exchanged from a token is in its family: cancelling the
     * SAML subject (over SOAP, by alice) cancels the access token, its
     * refresh token and a fork exchanged from that refresh token. */
    CHECK(exchange(e, &client, rt_in, NULL, STS_TT_JWT, "https://rp.example.com/", NULL, &fork,
                   &err) == STS_OK);
    CHECK(fork != NULL && valid_now(e, &client, fork));
    /* F5: alice may renew the exchanged JWT over SOAP, never past its subject. */
    if (fork != NULL) {
        sts_token_in_t fin = jwt_in(fork, STS_TT_JWT);
        g_now += 60;
        CHECK(sts_engine_renew(e, alice, &fin, NULL, &renewed, &err) == STS_OK);
        CHECK(renewed != NULL && renewed->expires <= saml->expires &&
              renewed->expires == saml->expires);
        g_now -= 60;
    }
    {
        sts_token_in_t sin = {.text = b64, .text_len = strlen(b64), .type = STS_TT_SAML2};
        CHECK(sts_engine_cancel(e, alice, &sin, &err) == STS_OK);
    }
    CHECK(!valid_now(e, &client, at) && !valid_now(e, &client, at->refresh));
    CHECK(fork != NULL && !valid_now(e, &client, fork));
    CHECK(renewed != NULL && !valid_now(e, &client, renewed));

    /* F4 and F5 on a fresh subject: 10 s past its expiry (within the 300 s
     * skew) nothing is exchanged, our token no longer validates, and an
     * exchanged token cannot be renewed past it. */
    sts_issued_free(saml);
    saml = NULL;
    free(b64);
    b64 = NULL;
    sts_issued_free(fork);
    fork = NULL;
    CHECK(sts_engine_issue(e, alice, &ireq, &saml, &err) == STS_OK);
    if (saml == NULL)
        goto done;
    b64 = sts_b64url_encode((const unsigned char *)saml->token, saml->token_len);
    subj.text = b64;
    subj.text_len = strlen(b64);
    CHECK(exchange(e, &client, subj, NULL, STS_TT_JWT, "https://rp.example.com/", NULL, &fork,
                   &err) == STS_OK);
    g_now = saml->expires + 10;
    CHECK(exchange(e, &client, subj, NULL, STS_TT_JWT, "https://rp.example.com/", NULL, &x,
                   &err) == STS_E_INVALID_REQUEST);
    CHECK(fork != NULL && !valid_now(e, &client, fork));
    if (fork != NULL) {
        sts_token_in_t fin = jwt_in(fork, STS_TT_JWT);
        CHECK(sts_engine_renew(e, alice, &fin, NULL, &x, &err) == STS_E_UNABLE_TO_RENEW &&
              x == NULL && strstr(err.detail, "expired") != NULL);
    }
    g_now = saml->created;

done:
    sts_issued_free(saml);
    sts_issued_free(at);
    sts_issued_free(fork);
    sts_issued_free(renewed);
    free(b64);
}

/* ---- SAML 1.1 through the whole lifecycle, on both faces' engine calls ---- */

/* The store row of @id, kind and state, as "kind/state" ("?" when absent). */
static long rows_where_id(const char *dir, const char *id, const char *cond)
{
    char where[256];
    snprintf(where, sizeof(where), "id='%s' AND %s", id, cond);
    return count_rows(dir, where);
}

static void test_saml11(sts_engine_t *e, const sts_principal_t *alice, const char *dir)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/", .token_type = STS_TT_SAML11_URN};
    sts_issued_t *t1 = NULL, *t2 = NULL, *x = NULL, *at = NULL, *s1 = NULL, *s1r = NULL;
    xmlDocPtr d1 = NULL, d2 = NULL, dx = NULL;
    sts_token_in_t in = {.node = NULL}, subj;
    sts_verdict_t v = {.valid = 0};
    sts_principal_t client;
    sts_token_view_t *view = NULL;
    char *b64 = NULL, *b64s = NULL;
    sts_err_t err;
    long rows;

    /* Issue: both spellings, answered as requested; a SAML 1.1 row */
    CHECK(sts_engine_issue(e, alice, &req, &t1, &err) == STS_OK);
    if (t1 == NULL)
        return;
    CHECK(strcmp(t1->token_type, STS_TT_SAML11_URN) == 0);
    CHECK(strncmp(t1->token, "<saml:Assertion ", 16) == 0 && strstr(t1->token, "<?xml") == NULL);
    CHECK(strstr(t1->token, "AuthenticationMethod=\"" STS_SAML11_AM_PASSWORD "\"") != NULL);
    CHECK(strstr(t1->token, "AttributeName=\"role\"") != NULL);
    CHECK(rows_where_id(dir, t1->id, "kind=2 AND state=0 AND requester='alice'") == 1);
    req.token_type = STS_TT_SAML11_WSS;
    CHECK(sts_engine_issue(e, alice, &req, &x, &err) == STS_OK && x != NULL &&
          strcmp(x->token_type, STS_TT_SAML11_WSS) == 0);
    sts_issued_free(x);
    x = NULL;

    /* Validate: as an element (SOAP) and as base64url text (REST), the view
     * says saml1; a tampered copy is invalid and changes nothing */
    d1 = parse(t1);
    in.node = d1 ? xmlDocGetRootElement(d1) : NULL;
    CHECK(sts_engine_validate(e, alice, &in, &v, &err) == STS_OK && v.valid == 1 && v.view &&
          strcmp(v.view->token_type, STS_TT_SAML1) == 0 && strcmp(v.view->subject, "alice") == 0 &&
          strcmp(v.view->id, t1->id) == 0 && v.view->naudiences == 1 &&
          strcmp(v.view->audiences[0], "https://rp.example.com/") == 0 &&
          v.view->expires == t1->expires);
    sts_verdict_clear(&v);
    b64 = sts_b64url_encode((const unsigned char *)t1->token, t1->token_len);
    {
        sts_token_in_t tin = {.text = b64, .text_len = strlen(b64), .type = NULL};
        CHECK(sts_engine_validate(e, alice, &tin, &v, &err) == STS_OK && v.valid == 1 && v.view &&
              strcmp(v.view->token_type, STS_TT_SAML1) == 0);
        sts_verdict_clear(&v);
        tin.type = STS_TT_SAML1;
        CHECK(sts_engine_validate(e, alice, &tin, &v, &err) == STS_OK && v.valid == 1);
        sts_verdict_clear(&v);
        tin.type = STS_TT_SAML2; /* declared as the other version */
        CHECK(sts_engine_validate(e, alice, &tin, &v, &err) == STS_OK && v.valid == 0);
    }
    rows = count_rows(dir, "1");
    {
        char *copy = strdup(t1->token), *p = strstr(copy, ">alice<");
        sts_xml_limits_t lim = {.max_depth = 64, .max_string = 65536, .max_size = 1 << 20};
        if (p)
            memcpy(p + 1, "alicf", 5);
        CHECK(sts_xml_parse(copy, strlen(copy), &lim, &dx, NULL) == STS_OK);
        sts_token_in_t fin = {.node = dx ? xmlDocGetRootElement(dx) : NULL};
        CHECK(sts_engine_validate(e, alice, &fin, &v, &err) == STS_OK && v.valid == 0);
        CHECK(sts_engine_renew(e, alice, &fin, NULL, &x, &err) == STS_E_UNABLE_TO_RENEW);
        CHECK(sts_engine_cancel(e, alice, &fin, &err) == STS_E_REQUEST_FAILED);
        free(copy);
    }
    /* a SAML 2.0 TokenType for a SAML 1.1 renewal is not understood */
    CHECK(sts_engine_renew(e, alice, &in, STS_TT_SAML2_URN, &x, &err) == STS_E_NOT_UNDERSTOOD);
    CHECK(count_rows(dir, "1") == rows);

    /* Renew: a SAML 1.1 successor, linked; the predecessor is no longer valid */
    CHECK(sts_engine_renew(e, alice, &in, STS_TT_SAML11_WSS, &t2, &err) == STS_OK);
    if (t2 == NULL)
        goto done;
    CHECK(strcmp(t2->token_type, STS_TT_SAML11_WSS) == 0 &&
          strncmp(t2->token, "<saml:Assertion ", 16) == 0 && strcmp(t1->id, t2->id) != 0);
    CHECK(rows_where_id(dir, t1->id, "state=1") == 1);
    CHECK(rows_where_id(dir, t2->id, "kind=2 AND state=0") == 1);
    {
        char where[200];
        snprintf(where, sizeof(where), "replaces='%s'", t1->id);
        CHECK(rows_where_id(dir, t2->id, where) == 1);
    }
    CHECK(sts_engine_validate(e, alice, &in, &v, &err) == STS_OK && v.valid == 0 &&
          strstr(v.reason, "renewed") != NULL);
    CHECK(sts_engine_renew(e, alice, &in, NULL, &x, &err) == STS_E_UNABLE_TO_RENEW);

    /* Cancel: idempotent; afterwards invalid, not renewable */
    d2 = parse(t2);
    in.node = d2 ? xmlDocGetRootElement(d2) : NULL;
    CHECK(sts_engine_validate(e, alice, &in, &v, &err) == STS_OK && v.valid == 1);
    sts_verdict_clear(&v);
    CHECK(sts_engine_cancel(e, alice, &in, &err) == STS_OK);
    CHECK(sts_engine_cancel(e, alice, &in, &err) == STS_OK);
    CHECK(rows_where_id(dir, t2->id, "state=2") == 1);
    CHECK(sts_engine_validate(e, alice, &in, &v, &err) == STS_OK && v.valid == 0 &&
          strstr(v.reason, "cancelled") != NULL);
    CHECK(sts_engine_renew(e, alice, &in, NULL, &x, &err) == STS_E_UNABLE_TO_RENEW);

    /* Exchange saml1 -> access token: the assertion is the token's parent and bound */
    CHECK(sts_engine_authenticate_client(e, "migration-tester", "s3cret", &client, &err) ==
          STS_OK);
    sts_issued_free(t1);
    t1 = NULL;
    free(b64);
    req.token_type = STS_TT_SAML11_URN;
    CHECK(sts_engine_issue(e, alice, &req, &t1, &err) == STS_OK);
    if (t1 == NULL)
        goto done;
    b64 = sts_b64url_encode((const unsigned char *)t1->token, t1->token_len);
    subj.node = NULL;
    subj.text = b64;
    subj.text_len = strlen(b64);
    subj.type = STS_TT_SAML1;
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", NULL, &at, &err) ==
          STS_OK);
    if (at == NULL)
        goto done;
    view = view_of(e, &client, at);
    CHECK(view != NULL && strcmp(view->subject, "alice") == 0 &&
          strcmp(view->token_type, STS_TT_ACCESS_TOKEN) == 0 && view->scope == NULL);
    sts_token_view_free(view);
    view = NULL;
    CHECK(at->expires <= t1->expires);
    {
        char where[200];
        snprintf(where, sizeof(where), "parent='%s' AND kind=4", t1->id); /* its refresh token */
        CHECK(count_rows(dir, where) == 1);
    }
    /* declared as saml2, or as a JWT: refused */
    subj.type = STS_TT_SAML2;
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", NULL, &x, &err) ==
          STS_E_INVALID_REQUEST);
    subj.type = STS_TT_JWT;
    CHECK(exchange(e, &client, subj, NULL, NULL, "https://api.example.com/", NULL, &x, &err) ==
          STS_E_INVALID_REQUEST);
    subj.type = STS_TT_SAML1;

    /* Exchange access token -> saml1: one audience, no scope, no act; refusals store nothing */
    rows = count_rows(dir, "1");
    {
        sts_exchange_req_t xr;
        const char *two[] = {"https://rp.example.com/", "https://api.example.com/"};
        memset(&xr, 0, sizeof(xr));
        xr.subject = jwt_in(at, STS_TT_ACCESS_TOKEN);
        xr.requested_token_type = STS_TT_SAML1;
        xr.audiences = two;
        xr.naudiences = 2;
        CHECK(sts_engine_exchange(e, &client, &xr, &x, &err) == STS_E_INVALID_TARGET &&
              strstr(err.pub, "SAML 1.1") != NULL);
    }
    CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), NULL, STS_TT_SAML1,
                   "https://rp.example.com/", "openid", &x, &err) == STS_E_INVALID_SCOPE);
    CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), &subj, STS_TT_SAML1,
                   "https://rp.example.com/", NULL, &x, &err) == STS_E_INVALID_REQUEST);
    CHECK(count_rows(dir, "1") == rows && x == NULL);
    CHECK(exchange(e, &client, jwt_in(at, STS_TT_ACCESS_TOKEN), NULL, STS_TT_SAML1,
                   "https://rp.example.com/", NULL, &s1, &err) == STS_OK);
    if (s1 == NULL)
        goto done;
    CHECK(strcmp(s1->token_type, STS_TT_SAML1) == 0 && s1->refresh == NULL &&
          strncmp(s1->token, "<saml:Assertion ", 16) == 0 && s1->expires <= t1->expires);
    CHECK(strstr(s1->token, STS_SAML11_AM_UNSPECIFIED) != NULL);
    {
        char where[256];
        snprintf(where, sizeof(where),
                 "kind=2 AND parent='%s' AND requester='migration-tester' AND requester_kind=2 "
                 "AND bound=%lld",
                 at->id, (long long)t1->expires);
        CHECK(rows_where_id(dir, s1->id, where) == 1);
    }
    b64s = sts_b64url_encode((const unsigned char *)s1->token, s1->token_len);
    {
        sts_token_in_t sin = {.text = b64s, .text_len = strlen(b64s), .type = NULL};
        CHECK(sts_engine_validate(e, &client, &sin, &v, &err) == STS_OK && v.valid == 1 &&
              v.view != NULL && strcmp(v.view->token_type, STS_TT_SAML1) == 0 &&
              v.view->client_id != NULL && strcmp(v.view->client_id, "migration-tester") == 0);
        sts_verdict_clear(&v);
        /* alice renews it over SOAP (she is its subject): same kind, family and bound */
        g_now += 60;
        CHECK(sts_engine_renew(e, alice, &sin, NULL, &s1r, &err) == STS_OK);
        g_now -= 60;
        if (s1r != NULL) {
            char where[256];
            CHECK(strcmp(s1r->token_type, STS_TT_SAML11_URN) == 0 &&
                  s1r->expires == t1->expires);
            snprintf(where, sizeof(where),
                     "kind=2 AND parent='%s' AND requester='migration-tester' AND bound=%lld",
                     at->id, (long long)t1->expires);
            CHECK(rows_where_id(dir, s1r->id, where) == 1);
        }
        /* an RFC 7009 revocation of the SAML 1.1 subject cancels its family */
        CHECK(sts_engine_revoke(e, &client, &subj, &err) == STS_E_UNAUTHORIZED); /* alice's */
        CHECK(sts_engine_cancel(e, alice, &subj, &err) == STS_OK);
        CHECK(rows_where_id(dir, t1->id, "state=2") == 1);
        CHECK(!valid_now(e, &client, at) && !valid_now(e, &client, at->refresh));
        if (s1r != NULL)
            CHECK(rows_where_id(dir, s1r->id, "state=2") == 1);
        /* the client revokes what it obtained: its own SAML 1.1 assertion */
        CHECK(sts_engine_revoke(e, &client, &sin, &err) == STS_OK);
    }
done:
    if (d1)
        xmlFreeDoc(d1);
    if (d2)
        xmlFreeDoc(d2);
    if (dx)
        xmlFreeDoc(dx);
    sts_issued_free(t1);
    sts_issued_free(t2);
    sts_issued_free(x);
    sts_issued_free(at);
    sts_issued_free(s1);
    sts_issued_free(s1r);
    free(b64);
    free(b64s);
}

/* Validate with transformation: bounded by the original, nothing for an
 * invalid token, unsupported types refused before anything is read. */
static void test_transform(sts_engine_t *e, const sts_principal_t *who)
{
    sts_issue_req_t req = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    sts_issued_t *saml = NULL, *jwt = NULL;
    sts_verdict_t v;
    sts_err_t err;
    xmlDocPtr doc = NULL;
    sts_token_in_t in = {.node = NULL};
    char c[40], x[40];
    time_t saved = g_now;

    req.lifetime_created = iso(g_now, c);
    req.lifetime_expires = iso(g_now + 120, x); /* shorter than the default lifetime */
    CHECK(sts_engine_issue(e, who, &req, &saml, &err) == STS_OK);
    if (saml == NULL)
        return;
    doc = parse(saml);
    in.node = xmlDocGetRootElement(doc);
    CHECK(sts_engine_transform(e, who, &in, NULL, &v, &jwt, &err) == STS_E_NOT_UNDERSTOOD);
    CHECK(sts_engine_transform(e, who, &in, "urn:example:other", &v, &jwt, &err) ==
          STS_E_NOT_UNDERSTOOD);
    CHECK(jwt == NULL);
    CHECK(sts_engine_transform(e, who, &in, STS_TT_JWT, &v, &jwt, &err) == STS_OK);
    CHECK(v.valid == 1 && v.view == NULL && jwt != NULL);
    if (jwt != NULL) {
        CHECK(strcmp(jwt->token_type, STS_TT_JWT) == 0);
        CHECK(jwt->expires == saml->expires); /* never outlives the original */
        CHECK(strcmp(jwt->applies_to, "https://rp.example.com/") == 0);
    }
    sts_issued_free(jwt);
    jwt = NULL;
    g_now = saml->expires + 1; /* our own token: no skew, so it is over */
    CHECK(sts_engine_transform(e, who, &in, STS_TT_SAML2_URN, &v, &jwt, &err) == STS_OK);
    CHECK(v.valid == 0 && v.reason != NULL && jwt == NULL);
    g_now = saved;
    xmlFreeDoc(doc);
    sts_issued_free(saml);
}

static sts_vcache_stats_t vc_stats(sts_engine_t *e)
{
    sts_vcache_stats_t s;
    sts_vcache_stats(e->verified, &s);
    return s;
}

/* @jwt (ES256) with its signature (r, s) replaced by (r, n - s): a signature
 * that verifies too, over a token that is not the one we issued. New string. */
static char *es256_malleate(const char *jwt)
{
    const char *dot = strrchr(jwt, '.');
    unsigned char *sig = NULL, be[32];
    size_t siglen = 0;
    BIGNUM *n = NULL, *s = NULL;
    char *b64 = NULL, *out = NULL;

    if (dot == NULL || sts_b64url_decode(dot + 1, strlen(dot + 1), &sig, &siglen) != 0 ||
        siglen != 64)
        goto done;
    BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (n == NULL || s == NULL || !BN_sub(s, n, s) || BN_bn2binpad(s, be, 32) != 32)
        goto done;
    memcpy(sig + 32, be, 32);
    b64 = sts_b64url_encode(sig, 64);
    if (b64 == NULL || (out = malloc((size_t)(dot - jwt) + 2 + strlen(b64))) == NULL)
        goto done;
    memcpy(out, jwt, (size_t)(dot - jwt) + 1);
    strcpy(out + (dot - jwt) + 1, b64);
done:
    free(sig);
    free(b64);
    BN_free(n);
    BN_free(s);
    return out;
}

/* The verified-token cache: a second validation of the same bytes skips the
 * signature check, never the store row; other bytes never profit from it. */
static void test_verified_cache(sts_engine_t *e, const sts_principal_t *who)
{
    sts_issue_req_t req = {.applies_to = "https://api.example.com/", .token_type = STS_TT_JWT};
    sts_issued_t *t = NULL;
    sts_verdict_t v = {.valid = 0};
    sts_vcache_stats_t before, after;
    sts_token_in_t in;
    sts_err_t err;
    char *bad;
    time_t saved = g_now;

    CHECK(sts_engine_issue(e, who, &req, &t, &err) == STS_OK); /* ES256: api's signing_alg */
    if (t == NULL)
        return;
    in = jwt_in(t, NULL);
    before = vc_stats(e);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 1);
    sts_verdict_clear(&v);
    after = vc_stats(e);
    CHECK(after.hits == before.hits && after.entries == before.entries + 1);
    /* hit: same verdict, same view */
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 1);
    CHECK(v.view != NULL && strcmp(v.view->subject, "alice") == 0 &&
          strcmp(v.view->id, t->id) == 0);
    sts_verdict_clear(&v);
    CHECK(vc_stats(e).hits == after.hits + 1);

    /* different bytes miss: a flipped payload character does not verify, and
     * the (r, n - s) twin verifies but is not what we issued; neither is
     * remembered, and neither is valid */
    bad = strdup(t->token);
    if (bad != NULL) {
        bad[strlen(bad) / 2] ^= 1;
        sts_token_in_t bin = {.text = bad, .text_len = strlen(bad)};
        before = vc_stats(e);
        CHECK(sts_engine_validate(e, who, &bin, &v, &err) == STS_OK && v.valid == 0);
        CHECK(sts_engine_validate(e, who, &bin, &v, &err) == STS_OK && v.valid == 0);
        after = vc_stats(e);
        CHECK(after.hits == before.hits && after.entries == before.entries);
        free(bad);
    }
    bad = es256_malleate(t->token);
    CHECK(bad != NULL);
    if (bad != NULL) {
        sts_token_in_t bin = {.text = bad, .text_len = strlen(bad)};
        before = vc_stats(e);
        CHECK(sts_engine_validate(e, who, &bin, &v, &err) == STS_OK && v.valid == 0);
        CHECK(v.reason != NULL && strcmp(v.reason, "not the bytes this STS issued") == 0);
        CHECK(sts_engine_validate(e, who, &bin, &v, &err) == STS_OK && v.valid == 0);
        after = vc_stats(e);
        CHECK(after.hits == before.hits && after.entries == before.entries);
        free(bad);
    }

    /* revocation is read from the store on every use, cached or not */
    CHECK(sts_engine_cancel(e, who, &in, &err) == STS_OK);
    before = vc_stats(e);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 0);
    CHECK(v.reason != NULL && strcmp(v.reason, "token cancelled") == 0);
    CHECK(vc_stats(e).hits == before.hits + 1);

    /* the entry expires with the token */
    g_now = t->expires;
    before = vc_stats(e);
    CHECK(sts_engine_validate(e, who, &in, &v, &err) == STS_OK && v.valid == 0);
    after = vc_stats(e);
    CHECK(after.hits == before.hits && after.entries == before.entries - 1);
    g_now = saved;
    sts_issued_free(t);
}

int main(void)
{
    char dir[] = "/tmp/sts-test-engine-XXXXXX";
    sts_cfg_t *cfg;
    sts_engine_t *e;
    sts_err_t err;
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_principal_t who;

    g_now = time(NULL);
    sts_time_set_source(fake_now);
    e = sts_test_engine_open(dir, add_carol, &cfg);
    if (cfg == NULL)
        return sts_test_summary();
    if (e != NULL) {
        test_timestamp(e);
        test_authenticate(e);
        test_digest_replay(e, cfg);
        test_credential_cache(e, cfg);
        CHECK(sts_engine_authenticate(e, &cred, &who, &err) == STS_OK);
        test_issue_policy(e, &who, dir);
        test_verified_cache(e, &who);
        test_lifecycle(e, &who, dir);
        test_exchange(e, &who, dir);
        test_exchange_bounds(e, cfg, &who, dir);
        test_saml11(e, &who, dir);
        test_transform(e, &who);
    }
    sts_test_engine_close(dir, cfg, e);
    return sts_test_summary();
}
