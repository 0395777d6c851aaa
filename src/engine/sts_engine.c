/*
 * sts_engine.c - requester authentication, policy and the token lifecycle.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the signing keys, the token store and the nonce replay cache. Knows
 * nothing of the wire: faces hand in credentials, requests and token elements
 * and get back tokens, verdicts and sts_errc_t codes.
 */
#include "sts_engine_int.h"
#include "sts_xenc.h"

#include "sts_jwt.h"
#include "sts_log.h"
#include "sts_ns.h"
#include "sts_saml.h"
#include "sts_time.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* Live digest nonces remembered at most; beyond that digest logins fail closed. */
#define STS_REPLAY_CAPACITY (4u * 1024u * 1024u)
#define STS_NONCE_MAX 64
/* Successful password checks remembered at most (users and clients together):
 * ~72 bytes each. More distinct live credentials than this only cost hits. */
#define STS_CREDCACHE_CAPACITY 4096u
/* Verified JWTs and SAML assertions remembered at most (a few hundred bytes
 * each); a token not in the cache is simply verified again. */
#define STS_VCACHE_CAPACITY 1024u

/* Open every signing key, check that each configured signing_alg has one,
 * and build the JWKS document. */
static sts_errc_t open_keys(sts_engine_t *e, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    sts_errc_t rc = STS_OK;
    json_t *jwks = json_object(), *arr = json_array(), *jwk = NULL;
    size_t n = cfg->nsigning_keys;

    STS_FAIL_IF(jwks == NULL || arr == NULL || json_object_set(jwks, "keys", arr) != 0, err,
                STS_E_NOMEM, "JWKS");
    e->keys = calloc(n ? n : 1, sizeof(*e->keys));
    STS_FAIL_IF(e->keys == NULL, err, STS_E_NOMEM, "key list");
    if (n == 0) { /* a config built by hand (tests): the primary key only */
        STS_CHECK(sts_keys_load(cfg->signing_key_file, cfg->signing_cert_file, &e->keys[0], err));
        e->nkeys = 1;
    }
    for (; e->nkeys < n; e->nkeys++)
        STS_CHECK(sts_keys_load(cfg->signing_keys[e->nkeys].key_file,
                                cfg->signing_keys[e->nkeys].cert_file, &e->keys[e->nkeys], err));
    for (size_t i = 0; i < e->nkeys; i++) {
        STS_CHECK(sts_jwk_public(e->keys[i], &jwk, err));
        STS_FAIL_IF(json_array_append_new(arr, jwk) != 0, err, STS_E_NOMEM, "JWKS");
    }
    e->jwks = json_dumps(jwks, JSON_COMPACT);
    STS_FAIL_IF(e->jwks == NULL, err, STS_E_NOMEM, "JWKS");

    for (size_t i = 0; i < cfg->nrps; i++)
        STS_FAIL_IF(cfg->rps[i].signing_alg && !sts_engine_key_for(e, cfg->rps[i].signing_alg),
                    err, STS_E_CONFIG, "relying party %s wants %s: no such signing key",
                    cfg->rps[i].applies_to, cfg->rps[i].signing_alg);
    for (size_t i = 0; i < cfg->nclients; i++)
        STS_FAIL_IF(cfg->clients[i].signing_alg &&
                        !sts_engine_key_for(e, cfg->clients[i].signing_alg),
                    err, STS_E_CONFIG, "client %s wants %s: no such signing key",
                    cfg->clients[i].client_id, cfg->clients[i].signing_alg);

    e->trusted = calloc(cfg->ntrusted_issuers ? cfg->ntrusted_issuers : 1, sizeof(*e->trusted));
    STS_FAIL_IF(e->trusted == NULL, err, STS_E_NOMEM, "trusted issuer keys");
    for (; e->ntrusted < cfg->ntrusted_issuers; e->ntrusted++)
        STS_CHECK(sts_keys_load_public(cfg->trusted_issuers[e->ntrusted].cert_file,
                                       cfg->trusted_issuers[e->ntrusted].kid,
                                       &e->trusted[e->ntrusted], err));

    STS_CHECK(sts_x509auth_open(e, err));

    /* Relying parties whose assertions are encrypted for them: RSA only. */
    e->rp_enc = calloc(cfg->nrps ? cfg->nrps : 1, sizeof(*e->rp_enc));
    STS_FAIL_IF(e->rp_enc == NULL, err, STS_E_NOMEM, "encryption keys");
    for (size_t i = 0; i < cfg->nrps; i++) {
        if (cfg->rps[i].encryption_cert == NULL)
            continue;
        STS_CHECK(sts_keys_load_public(cfg->rps[i].encryption_cert, NULL, &e->rp_enc[i], err));
        STS_FAIL_IF(sts_keys_is_ec(e->rp_enc[i]), err, STS_E_CONFIG,
                    "relying party %s: encryption_cert must hold an RSA key",
                    cfg->rps[i].applies_to);
    }
cleanup:
    json_decref(arr);
    json_decref(jwks);
    return rc;
}

/* The sealed secret an unknown user's PasswordDigest is checked against, so
 * that it costs what a known user's wrong digest costs (one unseal, one
 * digest): a random password nobody knows, made once per process. */
static sts_errc_t seal_dummy_secret(sts_engine_t *e, sts_err_t *err)
{
    unsigned char rnd[24];
    char hex[2 * sizeof(rnd) + 1];
    sts_errc_t rc;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return STS_ERR(err, STS_E_CRYPTO, "RAND_bytes for the dummy digest secret");
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    rc = sts_seal(e->seal_key, hex, &e->dummy_digest_secret, err);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

sts_errc_t sts_engine_new(const sts_cfg_t *cfg, sts_engine_t **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_engine_t *e = NULL;

    *out = NULL;
    e = calloc(1, sizeof(*e));
    STS_FAIL_IF(e == NULL, err, STS_E_NOMEM, "engine allocation");
    e->cfg = cfg;
    e->started = sts_time_now();
    STS_CHECK(open_keys(e, err));
    STS_CHECK(sts_store_open(cfg->data_dir, &e->store, err));
    e->replay = sts_replay_new(STS_REPLAY_CAPACITY);
    STS_FAIL_IF(e->replay == NULL, err, STS_E_NOMEM, "replay cache allocation");
    e->creds = sts_credcache_new(STS_CREDCACHE_CAPACITY, cfg->credential_cache_ttl);
    STS_FAIL_IF(e->creds == NULL && cfg->credential_cache_ttl > 0, err, STS_E_NOMEM,
                "credential cache allocation");
    e->verified = sts_vcache_new(STS_VCACHE_CAPACITY);
    STS_FAIL_IF(e->verified == NULL, err, STS_E_NOMEM, "verified token cache allocation");
    if (cfg->secrets_key_file != NULL) {
        STS_CHECK(sts_seal_key_load(cfg->secrets_key_file, cfg->strict_key_perms, e->seal_key, err));
        e->have_seal_key = 1;
        STS_CHECK(seal_dummy_secret(e, err));
    }
    *out = e;
    e = NULL;
cleanup:
    sts_engine_free(e);
    return rc;
}

/* One line at shutdown: how well the caches and the group commit worked. */
static void log_counters(sts_engine_t *e)
{
    sts_credcache_stats_t cc;
    sts_vcache_stats_t vc;
    unsigned long tx = 0, wr = 0, ck = 0;

    sts_credcache_stats(e->creds, &cc);
    sts_vcache_stats(e->verified, &vc);
    sts_store_counters(e->store, &tx, &wr, &ck);
    sts_notice("counters: credential cache %lu hits %lu misses; verified-token cache %lu hits"
               " %lu misses, SAML %lu hits %lu misses; store %lu writes in %lu commits"
               " (%.2f per commit), %lu checkpoints",
               cc.hits, cc.misses, vc.hits, vc.misses, vc.saml_hits, vc.saml_misses, wr, tx,
               tx ? (double)wr / (double)tx : 0.0, ck);
}

void sts_engine_free(sts_engine_t *e)
{
    if (e == NULL)
        return;
    if (e->store != NULL)
        log_counters(e);
    sts_replay_free(e->replay);
    sts_credcache_free(e->creds);
    sts_vcache_free(e->verified);
    sts_store_close(e->store);
    for (size_t i = 0; i < e->nkeys; i++)
        sts_keys_free(e->keys[i]);
    free(e->keys);
    for (size_t i = 0; i < e->ntrusted; i++)
        sts_keys_free(e->trusted[i]);
    free(e->trusted);
    for (size_t i = 0; e->rp_enc != NULL && i < e->cfg->nrps; i++)
        sts_keys_free(e->rp_enc[i]);
    free(e->rp_enc);
    X509_STORE_free(e->client_ca);
    free(e->jwks);
    OPENSSL_cleanse(e->seal_key, sizeof(e->seal_key));
    free(e->dummy_digest_secret);
    free(e);
}

const sts_cfg_t *sts_engine_cfg(const sts_engine_t *e) { return e->cfg; }

/* ---- authentication -------------------------------------------------------- */

sts_errc_t sts_engine_check_timestamp(sts_engine_t *e, const sts_timestamp_t *ts, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    time_t now = sts_time_now(), created, expires;

    if (ts == NULL || ts->created == NULL) {
        if (cfg->require_timestamp && ts == NULL)
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp missing");
        if (ts != NULL)
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp without Created");
        return STS_OK;
    }
    if (sts_time_parse(ts->created, &created) != 0)
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp Created malformed");
    if (created > now + cfg->clock_skew)
        return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp Created %lds in the future",
                       (long)(created - now));
    /* Out of date (WS-Trust's ExpiredData): too old, or past its Expires. */
    if (now - created > cfg->timestamp_max_age)
        return STS_ERR(err, STS_E_EXPIRED_DATA, "wsu:Timestamp Created %lds old",
                       (long)(now - created));
    if (ts->expires != NULL) {
        if (sts_time_parse(ts->expires, &expires) != 0)
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp Expires malformed");
        if (expires <= created)
            return STS_ERR(err, STS_E_AUTH_FAILED, "wsu:Timestamp Expires before Created");
        if (expires <= now)
            return STS_ERR(err, STS_E_EXPIRED_DATA, "wsu:Timestamp expired %lds ago",
                           (long)(now - expires));
    }
    return STS_OK;
}

/*
 * Whether @secret is the password of @name (in @realm) whose stored hash is
 * @hash: one crypt(3) check, or a cache hit for the same name, secret and hash
 * that passed it within credential_cache_ttl. An unknown name (@hash NULL)
 * never touches the cache, so it keeps costing exactly one full check; a
 * failed check is never remembered.
 */
static int password_ok(sts_engine_t *e, sts_cred_realm_t realm, const char *name,
                       const char *hash, const char *secret)
{
    time_t now = sts_time_now();

    if (hash == NULL)
        return sts_password_check(NULL, secret); /* the dummy hash: always 0 */
    if (sts_credcache_hit(e->creds, realm, name, secret, hash, now))
        return 1;
    if (!sts_password_check(hash, secret))
        return 0;
    sts_credcache_put(e->creds, realm, name, secret, hash, now);
    return 1;
}

int sts_b64_decode(const char *in, unsigned char *out, size_t outmax, size_t *outlen)
{
    unsigned char compact[128], tmp[96];
    size_t inlen = 0;
    int n;

    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (inlen == sizeof(compact))
            return -1;
        compact[inlen++] = (unsigned char)*p;
    }
    if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > sizeof(tmp))
        return -1;
    n = EVP_DecodeBlock(tmp, compact, (int)inlen);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock keeps the padding bytes: remove them. */
    if (compact[inlen - 1] == '=')
        n--;
    if (compact[inlen - 2] == '=')
        n--;
    if ((size_t)n > outmax)
        return -1;
    memcpy(out, tmp, (size_t)n);
    *outlen = (size_t)n;
    return 0;
}

/* base64(SHA1(nonce + created + password)), WSS UsernameToken Profile 1.0 sec. 3.1 */
static int digest_matches(const unsigned char *nonce, size_t nonce_len, const char *created,
                          const char *password, const char *presented_b64)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    unsigned char presented[SHA_DIGEST_LENGTH + 4];
    size_t presented_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = 0;

    if (ctx == NULL)
        return 0;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, nonce, nonce_len) == 1 &&
        EVP_DigestUpdate(ctx, created, strlen(created)) == 1 &&
        EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
        EVP_DigestFinal_ex(ctx, md, NULL) == 1 &&
        sts_b64_decode(presented_b64, presented, sizeof(presented), &presented_len) == 0 &&
        presented_len == SHA_DIGEST_LENGTH)
        ok = CRYPTO_memcmp(md, presented, SHA_DIGEST_LENGTH) == 0;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static sts_errc_t auth_digest(sts_engine_t *e, const sts_credential_t *cred,
                              const sts_cfg_user_t *user, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    unsigned char nonce[STS_NONCE_MAX];
    size_t nonce_len = 0;
    time_t now = sts_time_now(), created;
    char *password = NULL;
    int own, matches;
    sts_errc_t rc = STS_OK;
    sts_err_t inner;

    STS_FAIL_IF(cred->nonce == NULL || cred->created == NULL, err, STS_E_BAD_ELEMENTS,
                "PasswordDigest without Nonce or Created");
    STS_FAIL_IF(sts_b64_decode(cred->nonce, nonce, sizeof(nonce), &nonce_len) != 0 ||
                    nonce_len < 8,
                err, STS_E_AUTH_FAILED, "PasswordDigest nonce malformed");
    STS_FAIL_IF(sts_time_parse(cred->created, &created) != 0, err, STS_E_AUTH_FAILED,
                "PasswordDigest Created malformed");
    STS_FAIL_IF(created > now + cfg->clock_skew, err, STS_E_AUTH_FAILED,
                "PasswordDigest Created in the future");
    STS_FAIL_IF(now - created > cfg->digest_max_age, err, STS_E_AUTH_FAILED,
                "PasswordDigest Created too old");
    /* The replay cache lives in memory: a digest from before this process
     * started may have been accepted by the previous one, and nothing here
     * remembers its nonce. A client whose request straddles a restart retries
     * with a new digest. */
    STS_FAIL_IF(created < e->started, err, STS_E_AUTH_FAILED,
                "PasswordDigest Created %lds before the engine started",
                (long)(e->started - created));
    STS_FAIL_IF(!e->have_seal_key, err, STS_E_AUTH_FAILED, "no secrets key: no digest logins");
    /* A user without a digest secret (unknown, or text-only) pays for the
     * same unseal and digest as a known one with a wrong digest (timing),
     * against a secret that never matches anything presented. */
    own = user != NULL && user->digest_secret != NULL;
    if (sts_unseal(e->seal_key, own ? user->digest_secret : e->dummy_digest_secret, &password,
                   &inner) != STS_OK) {
        rc = STS_ERR(err, STS_E_AUTH_FAILED, "digest secret does not unseal: %s", inner.detail);
        goto cleanup;
    }
    matches = digest_matches(nonce, nonce_len, cred->created, password, cred->password);
    STS_FAIL_IF(!own, err, STS_E_AUTH_FAILED, "no digest secret for this user");
    STS_FAIL_IF(!matches, err, STS_E_AUTH_FAILED, "PasswordDigest mismatch");

    /* Only a correct digest is remembered, so a flood of bad ones cannot fill
     * the cache. The key is the nonce alone: the digest does not cover the
     * username, so a (nonce, user) key would let a captured digest be replayed
     * as any other user with the same password. A nonce is remembered as long
     * as its Created could still be accepted. */
    switch (sts_replay_check(e->replay, nonce, nonce_len,
                             created + cfg->digest_max_age + cfg->clock_skew + 1, now)) {
    case STS_REPLAY_FRESH: break;
    case STS_REPLAY_SEEN:
        rc = STS_ERR(err, STS_E_AUTH_FAILED, "PasswordDigest nonce replayed");
        goto cleanup;
    case STS_REPLAY_FULL:
        rc = STS_ERR(err, STS_E_AUTH_FAILED, "nonce cache full: refusing digest logins");
        goto cleanup;
    }
cleanup:
    sts_free_secret(password);
    return rc;
}

sts_errc_t sts_engine_authenticate(sts_engine_t *e, const sts_credential_t *cred,
                                   sts_principal_t *out, sts_err_t *err)
{
    const sts_cfg_user_t *user;
    sts_errc_t rc;

    memset(out, 0, sizeof(*out));
    if (cred == NULL || cred->username == NULL || cred->password == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED, "no credentials");
    user = sts_cfg_find_user(e->cfg, cred->username);
    switch (cred->kind) {
    case STS_CRED_PASSWORD_TEXT:
        /* Runs one hash computation even for an unknown user (timing). */
        if (!password_ok(e, STS_CRED_REALM_USER, cred->username,
                         user ? user->password_hash : NULL, cred->password))
            return STS_ERR(err, STS_E_AUTH_FAILED, "%s for user of %zu bytes",
                           user ? "wrong password" : "unknown user", strlen(cred->username));
        out->authn_context = STS_SAML2_AC_PASSWORD;
        break;
    case STS_CRED_PASSWORD_DIGEST:
        if ((rc = auth_digest(e, cred, user, err)) != STS_OK)
            return rc;
        out->authn_context = STS_SAML2_AC_PASSWORD;
        break;
    default: return STS_ERR(err, STS_E_AUTH_FAILED, "unsupported credential kind");
    }
    out->user = user;
    out->authn_instant = sts_time_now();
    return STS_OK;
}

/* ---- issuing ---------------------------------------------------------------- */

void sts_issued_free(sts_issued_t *is)
{
    if (is == NULL)
        return;
    free(is->token);
    free(is->id);
    free(is->applies_to);
    free(is->scope);
    if (is->server_entropy != NULL)
        OPENSSL_cleanse(is->server_entropy, is->server_entropy_len);
    if (is->proof_key != NULL)
        OPENSSL_cleanse(is->proof_key, is->proof_key_len);
    free(is->server_entropy);
    free(is->proof_key);
    sts_issued_free(is->refresh);
    free(is);
}

/* The SAML token-type spelling to answer with (the one requested; none asked:
 * SAML 2.0) and *kind, the version it names; NULL when not a SAML type. */
static const char *saml_token_type(const char *requested, int *kind)
{
    static const struct {
        const char *uri;
        int kind;
    } types[] = {{STS_TT_SAML2_URN, STS_KIND_SAML2},
                 {STS_TT_SAML2_WSS, STS_KIND_SAML2},
                 {STS_TT_SAML11_URN, STS_KIND_SAML11},
                 {STS_TT_SAML11_WSS, STS_KIND_SAML11}};

    *kind = STS_KIND_SAML2;
    if (requested == NULL)
        return STS_TT_SAML2_URN;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(requested, types[i].uri) == 0) {
            *kind = types[i].kind;
            return types[i].uri;
        }
    }
    return NULL;
}

/* SAML 1.1 AuthenticationMethod for a SAML 2.0 AuthnContextClassRef. */
static const char *saml11_method(const char *authn_context)
{
    if (authn_context != NULL && (strcmp(authn_context, STS_SAML2_AC_PASSWORD) == 0 ||
                                  strcmp(authn_context, STS_SAML2_AC_PPT) == 0))
        return STS_SAML11_AM_PASSWORD;
    return STS_SAML11_AM_UNSPECIFIED;
}

/* Lifetime policy: [start, min(requested Expires, start + max)], the default
 * lifetime otherwise; start is now, or with AllowPostdating a requested
 * Created up to one maximum lifetime ahead (*not_before, else 0). */
static sts_errc_t pick_lifetime(const sts_engine_t *e, const sts_cfg_rp_t *rp,
                                const sts_issue_req_t *req, time_t now, time_t *expires,
                                time_t *not_before, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    long max = rp->max_lifetime > 0 ? rp->max_lifetime : cfg->max_lifetime;
    long def = rp->default_lifetime > 0 ? rp->default_lifetime : cfg->default_lifetime;
    time_t created = now, req_expires;

    if (def > max)
        def = max;
    if (req->lifetime_created != NULL) {
        if (sts_time_parse(req->lifetime_created, &created) != 0)
            return STS_ERR(err, STS_E_INVALID_LIFETIME, "Lifetime/Created malformed");
        if (created > now + cfg->clock_skew && !req->allow_postdating)
            return STS_ERR(err, STS_E_INVALID_LIFETIME, "postdated Lifetime/Created");
        if (created > now + max)
            return STS_ERR(err, STS_E_INVALID_LIFETIME, "Lifetime/Created too far ahead");
    }
    *not_before = created > now ? created : 0;
    if (created < now)
        created = now;
    if (req->lifetime_expires == NULL) {
        *expires = created + def;
        return STS_OK;
    }
    if (sts_time_parse(req->lifetime_expires, &req_expires) != 0)
        return STS_ERR(err, STS_E_INVALID_LIFETIME, "Lifetime/Expires malformed");
    if (req_expires <= created || req_expires <= now)
        return STS_ERR(err, STS_E_INVALID_LIFETIME, "Lifetime/Expires not after Created and now");
    *expires = req_expires - created > max ? created + max : req_expires;
    return STS_OK;
}

/* A relying party with an encryption certificate gets its assertion
 * encrypted (the signed bytes inside, untouched): is->token becomes the
 * saml2:EncryptedAssertion (SAML 2.0) or xenc:EncryptedData (SAML 1.1, which
 * has no wrapper of its own), the bytes that go on the wire. */
static sts_errc_t encrypt_for_party(const sts_engine_t *e, const char *audience,
                                    sts_issued_t *is, sts_err_t *err)
{
    const sts_cfg_rp_t *rp = sts_cfg_find_rp(e->cfg, audience);
    const sts_keys_t *rcpt = rp ? e->rp_enc[rp - e->cfg->rps] : NULL;
    int saml2 = strncmp(is->token, "<saml2:", 7) == 0;
    char *enc = NULL;
    size_t len = 0;
    sts_errc_t rc;

    if (rcpt == NULL)
        return STS_OK;
    if ((rc = sts_xenc_encrypt(rcpt, is->token, is->token_len, saml2, &enc, &len, err)) != STS_OK)
        return rc;
    free(is->token);
    is->token = enc;
    is->token_len = len;
    return STS_OK;
}

sts_errc_t sts_mint_saml(sts_engine_t *e, const sts_saml_mint_params_t *sp, sts_issued_t **out,
                         sts_token_rec_t *rec, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    sts_saml_attr_t *attrs = NULL;
    size_t nattrs = 0;
    sts_issued_t *is = NULL;
    char id[STS_SAML_ID_MAX];
    sts_saml_params_t p;
    int v11 = sp->kind == STS_KIND_SAML11;

    *out = NULL;
    STS_FAIL_IF(sp->kind != STS_KIND_SAML2 && !v11, err, STS_E_INTERNAL, "SAML kind %d",
                sp->kind);
    STS_CHECK(sts_claims_release(e, sp, &attrs, &nattrs, err));
    is = calloc(1, sizeof(*is));
    STS_FAIL_IF(is == NULL, err, STS_E_NOMEM, "issued token");
    memset(&p, 0, sizeof(p));
    p.issuer = e->cfg->issuer;
    p.subject = sp->origin.subject;
    p.name_qualifier = sp->origin.subject_issuer; /* another issuer's subject says so */
    p.audience = sp->audience;
    p.issue_instant = sp->now;
    p.not_before = sp->not_before ? sp->not_before : sp->now;
    p.not_on_or_after = sp->expires;
    p.authn_instant = sp->now;
    if (v11)
        p.authn_context = saml11_method(sp->authn_context);
    else
        p.authn_context = sp->authn_context ? sp->authn_context : STS_SAML2_AC_UNSPECIFIED;
    p.attrs = attrs;
    p.nattrs = nattrs;
    p.delegates = sp->delegates;
    p.ndelegates = sp->ndelegates;
    p.hok_cert_b64 = sp->hok_cert_b64;
    p.hok_modulus_b64 = sp->hok_modulus_b64;
    p.hok_exponent_b64 = sp->hok_exponent_b64;
    if (sp->hok_key != NULL) {
        const sts_cfg_rp_t *rp = sts_cfg_find_rp(e->cfg, sp->audience);
        p.hok_rcpt = rp ? e->rp_enc[rp - e->cfg->rps] : NULL;
        STS_FAIL_IF(p.hok_rcpt == NULL, err, STS_E_INVALID_TARGET,
                    "holder-of-key for %s, which has no encryption_cert", sp->audience);
        p.hok_key = sp->hok_key;
        p.hok_key_len = sp->hok_key_len;
    }
    if (v11)
        STS_CHECK(sts_saml11_issue(e->keys[0], &p, &is->token, &is->token_len, id, err));
    else
        STS_CHECK(sts_saml2_issue(e->keys[0], &p, &is->token, &is->token_len, id, err));
    STS_CHECK(encrypt_for_party(e, sp->audience, is, err));
    is->id = strdup(id);
    is->applies_to = strdup(sp->audience);
    STS_FAIL_IF(is->id == NULL || is->applies_to == NULL, err, STS_E_NOMEM, "issued token");
    is->token_type = sp->token_type;
    is->key_type = STS_WST13_BEARER;
    is->created = sp->now;
    is->expires = sp->expires;

    sts_issued_row(is, sp->kind, &sp->origin, rec);
    *out = is;
    is = NULL;
cleanup:
    sts_issued_free(is);
    free(attrs);
    return rc;
}

static void log_issued(const sts_issued_t *is, const char *what, const char *to)
{
    char fp[13];
    sts_info("issued %s %s (sha256 %s) to %s for %s, %lds", what, is->id,
             sts_log_fp(is->token, is->token_len, fp), to, is->applies_to,
             (long)(is->expires - is->created));
}

/* A symmetric proof key (KeyType SymmetricKey). */
typedef struct proof {
    unsigned char *key;            /* the proof key, @len bytes */
    size_t len;
    unsigned char *server_entropy; /* with requester entropy: ours, @len bytes */
} proof_t;

static void proof_clear(proof_t *p)
{
    if (p->key != NULL)
        OPENSSL_cleanse(p->key, p->len);
    if (p->server_entropy != NULL)
        OPENSSL_cleanse(p->server_entropy, p->len);
    free(p->key);
    free(p->server_entropy);
    memset(p, 0, sizeof(*p));
}

/* The proof key for an assertion to @rp: P_SHA1(requester entropy, our
 * entropy) when the requester sent entropy, else random. Only an assertion
 * can carry it, and only for a party we can encrypt it for. */
static sts_errc_t make_proof(const sts_engine_t *e, const sts_cfg_rp_t *rp, int jwt,
                             const sts_issue_req_t *req, proof_t *p, sts_err_t *err)
{
    unsigned bits = req->key_size ? req->key_size : 256;

    memset(p, 0, sizeof(*p));
    if (jwt)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "no symmetric proof key in a JWT");
    if (e->rp_enc[rp - e->cfg->rps] == NULL)
        return STS_ERR(err, STS_E_INVALID_TARGET,
                       "SymmetricKey for %s, which has no encryption_cert", rp->applies_to);
    if (bits < 128 || bits > 512 || bits % 64 != 0)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "KeySize %u not in 128..512 by 64", bits);
    if (req->client_entropy != NULL &&
        (req->client_entropy_len < 8 || req->client_entropy_len > 1024))
        return STS_ERR(err, STS_E_INVALID_REQUEST, "requester entropy of %zu bytes",
                       req->client_entropy_len);
    p->len = bits / 8;
    p->key = malloc(p->len);
    if (p->key == NULL)
        return STS_ERR(err, STS_E_NOMEM, "proof key");
    if (req->client_entropy == NULL)
        return RAND_bytes(p->key, (int)p->len) == 1 ? STS_OK
                                                    : STS_ERR(err, STS_E_CRYPTO, "RAND_bytes");
    p->server_entropy = malloc(p->len);
    if (p->server_entropy == NULL || RAND_bytes(p->server_entropy, (int)p->len) != 1 ||
        sts_psha1(req->client_entropy, req->client_entropy_len, p->server_entropy, p->len,
                  p->key, p->len) != 0) {
        proof_clear(p);
        return STS_ERR(err, STS_E_CRYPTO, "P_SHA1 proof key");
    }
    return STS_OK;
}

/* The requester's key of KeyType PublicKey, for the assertion's
 * holder-of-key KeyInfo: its certificate (base64 DER, in uk->cert) or its
 * RSA key (uk->modulus, uk->exponent), RSA of 2048 bits or more, or EC
 * P-256 by certificate. Proof of possession is not required: a requester who
 * binds its token to a key it does not hold hands it to that key's holder,
 * which it could do with a bearer token. */
typedef struct use_key_b64 {
    char *cert, *modulus, *exponent;
} use_key_b64_t;

static sts_errc_t use_key(const sts_issue_req_t *req, int jwt, use_key_b64_t *uk, sts_err_t *err)
{
    const unsigned char *p = req->use_key_cert, *m = req->use_key_modulus;
    size_t mlen = req->use_key_modulus_len, elen = req->use_key_exponent_len;
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;
    char curve[64];
    int id, ok;

    memset(uk, 0, sizeof(*uk));
    if (jwt)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "no PublicKey confirmation in a JWT");
    if (m != NULL) { /* a bare RSA key: sizes and shape only, nothing to verify */
        while (mlen > 0 && *m == 0) {
            m++;
            mlen--;
        }
        if (mlen < 256 || mlen > 1024 || (m[mlen - 1] & 1) == 0 || elen == 0 || elen > 8 ||
            (req->use_key_exponent[elen - 1] & 1) == 0)
            return STS_ERR(err, STS_E_INVALID_REQUEST, "UseKey RSAKeyValue not an RSA >= 2048 key");
        uk->modulus = sts_b64_encode(m, mlen);
        uk->exponent = sts_b64_encode(req->use_key_exponent, elen);
        return uk->modulus && uk->exponent ? STS_OK : STS_ERR(err, STS_E_NOMEM, "UseKey");
    }
    if (p == NULL || req->use_key_cert_len == 0 || req->use_key_cert_len > 65536)
        return STS_ERR(err, STS_E_INVALID_REQUEST, "PublicKey without a UseKey key");
    cert = d2i_X509(NULL, &p, (long)req->use_key_cert_len);
    pkey = cert ? X509_get_pubkey(cert) : NULL;
    id = pkey ? EVP_PKEY_get_base_id(pkey) : 0;
    ok = p == req->use_key_cert + req->use_key_cert_len &&
         ((id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) >= 2048) ||
          (id == EVP_PKEY_EC && EVP_PKEY_get_group_name(pkey, curve, sizeof(curve), NULL) == 1 &&
           strcmp(curve, "prime256v1") == 0));
    EVP_PKEY_free(pkey);
    X509_free(cert);
    ERR_clear_error();
    if (!ok)
        return STS_ERR(err, STS_E_INVALID_REQUEST,
                       "UseKey is not one certificate with an RSA >= 2048 or P-256 key");
    uk->cert = sts_b64_encode(req->use_key_cert, req->use_key_cert_len);
    return uk->cert ? STS_OK : STS_ERR(err, STS_E_NOMEM, "UseKey");
}

static void use_key_clear(use_key_b64_t *uk)
{
    free(uk->cert);
    free(uk->modulus);
    free(uk->exponent);
    memset(uk, 0, sizeof(*uk));
}

/* Hands the proof over to @is: our entropy when computed, else the key. */
static void proof_answer(proof_t *p, sts_issued_t *is)
{
    is->key_type = STS_WST13_SYMMETRIC;
    is->key_size = (unsigned)p->len * 8;
    if (p->server_entropy != NULL) {
        is->server_entropy = p->server_entropy;
        is->server_entropy_len = p->len;
        p->server_entropy = NULL;
    } else {
        is->proof_key = p->key;
        is->proof_key_len = p->len;
        p->key = NULL;
    }
}

sts_errc_t sts_engine_issue(sts_engine_t *e, const sts_principal_t *who,
                            const sts_issue_req_t *req, sts_issued_t **out, sts_err_t *err)
{
    sts_errc_t rc = STS_OK;
    const sts_cfg_rp_t *rp;
    const char *token_type, *delegates[STS_ACT_MAX_DEPTH];
    size_t ndelegates = 0;
    sts_issued_t *is = NULL;
    sts_token_rec_t rec;
    sts_delegation_t d;
    sts_row_origin_t o;
    proof_t proof;
    time_t now = sts_time_now(), expires = 0, not_before = 0;
    int jwt, symmetric, public_key, kind = STS_KIND_SAML2;
    use_key_b64_t uk = {NULL, NULL, NULL};

    *out = NULL;
    memset(&d, 0, sizeof(d));
    memset(&proof, 0, sizeof(proof));
    STS_FAIL_IF(who == NULL || who->user == NULL, err, STS_E_AUTH_FAILED, "no principal");
    STS_FAIL_IF(req->applies_to == NULL || req->applies_to[0] == '\0', err,
                STS_E_INVALID_REQUEST, "AppliesTo missing");
    rp = sts_cfg_find_rp(e->cfg, req->applies_to);
    STS_FAIL_IF(rp == NULL, err, STS_E_INVALID_TARGET, "no relying party for AppliesTo");
    jwt = req->token_type != NULL && strcmp(req->token_type, STS_TT_JWT) == 0;
    token_type = jwt ? STS_TT_JWT : saml_token_type(req->token_type, &kind);
    STS_FAIL_IF(token_type == NULL, err, STS_E_NOT_UNDERSTOOD, "unsupported TokenType");
    symmetric = req->key_type != NULL && strcmp(req->key_type, STS_WST13_SYMMETRIC) == 0;
    public_key = req->key_type != NULL && strcmp(req->key_type, STS_WST13_PUBLICKEY) == 0;
    STS_FAIL_IF(req->key_type != NULL && !symmetric && !public_key &&
                    strcmp(req->key_type, STS_WST13_BEARER) != 0,
                err, STS_E_NOT_UNDERSTOOD, "unsupported KeyType");
    STS_FAIL_IF(!public_key && (req->use_key_cert != NULL || req->use_key_modulus != NULL), err,
                STS_E_INVALID_REQUEST,
                "UseKey without KeyType PublicKey");
    STS_FAIL_IF(!symmetric && (req->client_entropy != NULL || req->key_size != 0), err,
                STS_E_INVALID_REQUEST, "Entropy or KeySize for a bearer token");
    STS_FAIL_IF(!sts_rp_accepts(rp, jwt ? STS_KIND_JWT : kind), err, STS_E_INVALID_TARGET,
                "%s does not accept %s", rp->applies_to, token_type);
    /* A JWT carries no attributes: a required claim cannot be supplied. */
    for (size_t i = 0; jwt && req->with_claims && i < req->nclaims; i++)
        STS_FAIL_IF(!req->claims[i].optional, err, STS_E_REQUEST_FAILED,
                    "required claim %s cannot be supplied in a JWT", req->claims[i].uri);
    STS_CHECK(pick_lifetime(e, rp, req, now, &expires, &not_before, err));
    if (symmetric)
        STS_CHECK(make_proof(e, rp, jwt, req, &proof, err));
    if (public_key)
        STS_CHECK(use_key(req, jwt, &uk, err));

    /* For whom: the requester, or the subject of an OnBehalfOf/ActAs token. */
    o = (sts_row_origin_t){.subject = who->user->name,
                           .requester = who->user->name,
                           .requester_kind = STS_REQUESTER_USER};
    if (req->on_behalf_of != NULL || req->act_as != NULL) {
        STS_CHECK(sts_delegation_read(e, who, req, now, &d, err));
        o.subject = d.subject;
        o.subject_issuer = d.subject_issuer;
        o.parent = d.parent;
        o.bound = d.bound;
        if (expires > d.bound)
            expires = d.bound;
        ndelegates = sts_act_subs(d.act, delegates, STS_ACT_MAX_DEPTH);
        STS_FAIL_IF(ndelegates == (size_t)-1, err, STS_E_INTERNAL, "act chain");
        STS_FAIL_IF(ndelegates > 0 && !jwt && kind == STS_KIND_SAML11, err,
                    STS_E_INVALID_REQUEST, "a delegation chain cannot go into SAML 1.1");
    }
    if (jwt) {
        sts_jwt_params_t p = {.kind = STS_KIND_JWT,
                              .typ = STS_TYP_JWT,
                              .token_type = STS_TT_JWT,
                              .audiences = &req->applies_to,
                              .naudiences = 1,
                              .act = d.act,
                              .signing_alg = rp->signing_alg,
                              .now = now,
                              .expires = expires,
                              .not_before = not_before,
                              .origin = o};
        STS_CHECK(sts_mint_jwt(e, &p, &is, &rec, err));
    } else {
        sts_saml_mint_params_t p = {.kind = kind,
                                    .audience = req->applies_to,
                                    /* the requester authenticated, not the subject it acts for */
                                    .authn_context = d.subject ? NULL : who->authn_context,
                                    .token_type = token_type,
                                    .now = now,
                                    .expires = expires,
                                    .delegates = delegates,
                                    .ndelegates = ndelegates,
                                    .claims = req->claims,
                                    .nclaims = req->nclaims,
                                    .with_claims = req->with_claims,
                                    .hok_key = proof.key,
                                    .hok_key_len = proof.len,
                                    .not_before = not_before,
                                    .hok_cert_b64 = uk.cert,
                                    .hok_modulus_b64 = uk.modulus,
                                    .hok_exponent_b64 = uk.exponent,
                                    .origin = o};
        STS_CHECK(sts_mint_saml(e, &p, &is, &rec, err));
        if (symmetric)
            proof_answer(&proof, is);
        if (public_key)
            is->key_type = STS_WST13_PUBLICKEY;
    }
    rec.renew = (req->not_renewable ? 0 : STS_RENEW_ALLOW) |
                (req->renew_after_expiry ? STS_RENEW_EXPIRED : 0);
    if (symmetric || public_key) /* a renewal would be a bearer token: not renewable */
        rec.renew = 0;
    if (not_before != 0) /* postdated: its lifetime starts then (RSTR Lifetime, renewals) */
        is->created = rec.issued_at = not_before;
    STS_CHECK(sts_store_insert(e->store, &rec, err));
    log_issued(is, jwt ? "JWT" : kind == STS_KIND_SAML11 ? "SAML 1.1" : "SAML 2.0",
               who->user->name);
    if (d.subject != NULL)
        sts_info("  for %s, %s %s%s", o.subject, req->act_as ? "ActAs" : "OnBehalfOf",
                 d.parent ? d.parent : "a trusted issuer's token",
                 ndelegates > 0 ? " (delegation chain recorded)" : "");
    *out = is;
    is = NULL;
cleanup:
    sts_issued_free(is);
    sts_delegation_clear(&d);
    proof_clear(&proof);
    use_key_clear(&uk);
    return rc;
}

/* ---- presented tokens ------------------------------------------------------ */

/*
 * The verdict on @tok (out->view stays NULL). When it is valid, @t holds the
 * token as read; otherwise @t is cleared. A bad token is a verdict, not an
 * error.
 */
static sts_errc_t judge(sts_engine_t *e, const sts_token_in_t *tok, sts_vtoken_t *t,
                        sts_verdict_t *out, sts_err_t *err)
{
    const char *why = NULL;
    sts_errc_t rc;

    out->valid = 0;
    out->reason = NULL;
    out->view = NULL;
    rc = sts_vtoken_read(e, tok, t, &why, err);
    if (rc == STS_E_INVALID_TOKEN) {
        sts_info("validate: %s (%s)", why, err ? err->detail : "-");
        out->reason = why;
        return STS_OK;
    }
    if (rc != STS_OK)
        return rc;
    if (!t->ours)
        out->reason = "token not issued by this STS";
    else if ((out->reason = sts_vtoken_unusable(e, t, sts_time_now())) == NULL) {
        out->valid = 1;
        out->reason = "token valid";
    }
    sts_info("validate %s: %s", t->rec ? t->rec->id : "-", out->reason);
    if (!out->valid)
        sts_vtoken_clear(t);
    return STS_OK;
}

sts_errc_t sts_engine_validate(sts_engine_t *e, const sts_principal_t *who,
                               const sts_token_in_t *tok, sts_verdict_t *out, sts_err_t *err)
{
    sts_vtoken_t t;
    sts_errc_t rc;

    (void)who; /* any authenticated requester may validate */
    memset(&t, 0, sizeof(t));
    rc = judge(e, tok, &t, out, err);
    if (rc == STS_OK && out->valid) {
        out->view = t.view;
        t.view = NULL;
    }
    sts_vtoken_clear(&t);
    return rc;
}

/* A new token of @tt (kind @kind) for the subject and audiences of @t, valid
 * and ours: its claims, within its lifetime, recorded as derived from it. */
static sts_errc_t transform(sts_engine_t *e, const sts_principal_t *who, const sts_vtoken_t *t,
                            const char *tt, int kind, sts_issued_t **out, sts_token_rec_t *rec,
                            sts_err_t *err)
{
    const sts_token_view_t *v = t->view;
    const sts_cfg_rp_t *rp = v->naudiences > 0 ? sts_cfg_find_rp(e->cfg, v->audiences[0]) : NULL;
    time_t now = sts_time_now(), bound = v->expires, expires;
    sts_row_origin_t o = {.subject = v->subject,
                          .requester = who->user ? who->user->name : who->client->client_id,
                          .requester_kind = who->user ? STS_REQUESTER_USER : STS_REQUESTER_CLIENT,
                          .parent = t->rec->id,
                          .subject_issuer = t->rec->subject_issuer};

    json_t *act = NULL;
    sts_errc_t rc;

    /* Who may have a new token for it: those who may renew or cancel it. */
    if (!sts_engine_may_manage(who, t->rec))
        return STS_ERR(err, STS_E_UNAUTHORIZED,
                       "token %s was neither issued to nor is about this requester", t->rec->id);
    if (v->holder_of_key) /* only usable with its key: never the basis of a bearer token */
        return STS_ERR(err, STS_E_INVALID_REQUEST, "token %s is holder-of-key", t->rec->id);
    if (rp == NULL || !sts_rp_accepts(rp, kind))
        return STS_ERR(err, STS_E_INVALID_TARGET,
                       "token %s: audience is no relying party that accepts %s", t->rec->id, tt);
    for (size_t i = 1; i < v->naudiences; i++)
        if (kind != STS_KIND_JWT || sts_cfg_find_rp(e->cfg, v->audiences[i]) == NULL)
            return STS_ERR(err, STS_E_INVALID_TARGET,
                           "token %s: %zu audiences for one %s", t->rec->id, v->naudiences,
                           kind == STS_KIND_JWT ? "JWT of relying parties" : "assertion");
    /* What an assertion cannot carry is refused, never dropped: a scope, and
     * act in SAML 1.1 (SAML 2.0 has its DelegationRestriction). */
    if (kind != STS_KIND_JWT && (v->scope != NULL || (kind == STS_KIND_SAML11 && v->nactors > 0)))
        return STS_ERR(err, STS_E_INVALID_REQUEST, "token %s: %s into an assertion", t->rec->id,
                       v->scope != NULL ? "scope" : "act");
    if (t->rec->bound != 0 && t->rec->bound < bound)
        bound = t->rec->bound;
    expires = now + sts_engine_lifetime_for(e, v->audiences[0]);
    if (expires > bound)
        expires = bound;
    o.bound = bound;
    if (kind == STS_KIND_JWT) {
        /* the chain as the view has it (a SAML DelegationRestriction, or act) */
        act = v->nactors > 0 ? sts_act_chain(v->actors, v->nactors) : NULL;
        if (v->nactors > 0 && act == NULL)
            return STS_ERR(err, STS_E_NOMEM, "act");
        sts_jwt_params_t p = {.kind = STS_KIND_JWT,
                              .typ = STS_TYP_JWT,
                              .token_type = tt,
                              .audiences = (const char *const *)v->audiences,
                              .naudiences = v->naudiences,
                              .client_id = v->client_id,
                              .scope = v->scope,
                              .act = act,
                              .signing_alg = sts_engine_alg_of(
                                  e->cfg, v->client_id ? sts_cfg_find_client(e->cfg, v->client_id)
                                                       : NULL,
                                  v->audiences[0]),
                              .now = now,
                              .expires = expires,
                              .origin = o};
        rc = sts_mint_jwt(e, &p, out, rec, err);
        json_decref(act);
        return rc;
    }
    sts_saml_mint_params_t p = {.kind = kind,
                                .delegates = (const char *const *)v->actors,
                                .ndelegates = v->nactors,
                                .audience = v->audiences[0],
                                .token_type = tt,
                                .now = now,
                                .expires = expires,
                                .origin = o};
    return sts_mint_saml(e, &p, out, rec, err);
}

sts_errc_t sts_engine_transform(sts_engine_t *e, const sts_principal_t *who,
                                const sts_token_in_t *tok, const char *token_type,
                                sts_verdict_t *verdict, sts_issued_t **out, sts_err_t *err)
{
    sts_vtoken_t t;
    sts_issued_t *is = NULL;
    sts_token_rec_t rec;
    int kind = STS_KIND_JWT;
    const char *tt;
    sts_errc_t rc = STS_OK;

    *out = NULL;
    memset(&t, 0, sizeof(t));
    memset(verdict, 0, sizeof(*verdict));
    STS_FAIL_IF(who == NULL || (who->user == NULL && who->client == NULL), err, STS_E_AUTH_FAILED,
                "no principal");
    tt = token_type != NULL && strcmp(token_type, STS_TT_JWT) == 0
             ? STS_TT_JWT
             : saml_token_type(token_type, &kind);
    STS_FAIL_IF(token_type == NULL || tt == NULL, err, STS_E_NOT_UNDERSTOOD,
                "unsupported TokenType for Validate");
    STS_CHECK(judge(e, tok, &t, verdict, err));
    if (!verdict->valid)
        goto cleanup; /* answered with the verdict alone */
    STS_CHECK(transform(e, who, &t, tt, kind, &is, &rec, err));
    rec.renew = t.rec->renew; /* what Renew may do is the original's */
    STS_CHECK(sts_store_insert(e->store, &rec, err));
    sts_info("validate %s: transformed into %s %s for %s", t.rec->id, tt, is->id,
             is->applies_to);
    *out = is;
    is = NULL;
cleanup:
    if (rc != STS_OK)
        memset(verdict, 0, sizeof(*verdict));
    sts_issued_free(is);
    sts_vtoken_clear(&t);
    return rc;
}

/* Renewal of a SAML assertion: a new one of the same version for the same
 * subject and party, in the same family and within the same bound. */
static sts_errc_t renew_saml(sts_engine_t *e, const sts_principal_t *who, const sts_vtoken_t *t,
                             const char *token_type, time_t now, time_t expires,
                             sts_issued_t **out, sts_token_rec_t *nrec, sts_err_t *err)
{
    int kind = STS_KIND_SAML2;
    const char *tt = saml_token_type(token_type, &kind);
    /* The renewer authenticated now; it is the subject's authentication only
     * when the renewer is that subject, acting for no one. */
    int self = who->user != NULL && t->rec->subject_issuer == NULL && t->view->nactors == 0 &&
               strcmp(who->user->name, t->rec->subject) == 0;
    sts_saml_mint_params_t p = {.kind = t->kind,
                                .delegates = (const char *const *)t->view->actors,
                                .ndelegates = t->view->nactors,
                                .audience = t->rec->audience,
                                .authn_context = self ? who->authn_context : NULL,
                                .token_type = tt,
                                .now = now,
                                .expires = expires,
                                .origin = {.subject = t->rec->subject,
                                           .requester = t->rec->requester,
                                           .requester_kind = t->rec->requester_kind,
                                           .parent = t->rec->parent,
                                           .subject_issuer = t->rec->subject_issuer,
                                           .bound = t->rec->bound}};

    if (token_type == NULL) /* the version's own default spelling */
        p.token_type = t->kind == STS_KIND_SAML11 ? STS_TT_SAML11_URN : STS_TT_SAML2_URN;
    else if (tt == NULL || kind != t->kind)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "TokenType does not match a SAML %s token",
                       t->kind == STS_KIND_SAML11 ? "1.1" : "2.0");
    return sts_mint_saml(e, &p, out, nrec, err);
}

/* Renewal of a JWT: the same claims under a new jti and time window. */
static sts_errc_t renew_jwt(sts_engine_t *e, const sts_vtoken_t *t, const char *token_type,
                            time_t now, time_t expires, sts_issued_t **out,
                            sts_token_rec_t *nrec, sts_err_t *err)
{
    const sts_token_view_t *v = t->view;
    const char *typ = strcmp(v->token_type, STS_TT_ACCESS_TOKEN) == 0 ? STS_TYP_ACCESS : STS_TYP_JWT;
    sts_jwt_params_t p = {.kind = STS_KIND_JWT,
                          .typ = typ,
                          .token_type = v->token_type,
                          .audiences = (const char *const *)v->audiences,
                          .naudiences = v->naudiences,
                          .client_id = v->client_id,
                          .scope = v->scope,
                          .act = json_object_get(t->claims, "act"),
                          .now = now,
                          .expires = expires,
                          .origin = {.subject = v->subject,
                                     .requester = t->rec->requester,
                                     .requester_kind = t->rec->requester_kind,
                                     .parent = t->rec->parent,
                                     .subject_issuer = t->rec->subject_issuer,
                                     .bound = t->rec->bound}};

    if (token_type != NULL && strcmp(token_type, STS_TT_JWT) != 0 &&
        strcmp(token_type, v->token_type) != 0)
        return STS_ERR(err, STS_E_NOT_UNDERSTOOD, "TokenType does not match a JWT");
    p.signing_alg = sts_engine_alg_of(e->cfg, sts_cfg_find_client(e->cfg, v->client_id ? v->client_id : ""),
                                      v->audiences[0]);
    if (p.naudiences == 0)
        return STS_ERR(err, STS_E_UNABLE_TO_RENEW, "JWT without audience");
    return sts_mint_jwt(e, &p, out, nrec, err);
}

sts_errc_t sts_engine_renew(sts_engine_t *e, const sts_principal_t *who,
                            const sts_token_in_t *tok, const char *token_type, sts_issued_t **out,
                            sts_err_t *err)
{
    sts_vtoken_t t;
    sts_issued_t *is = NULL;
    sts_token_rec_t nrec;
    const sts_cfg_rp_t *rp;
    const char *why = NULL;
    sts_errc_t rc = STS_OK;
    time_t now = sts_time_now(), lifetime, max, expires;

    *out = NULL;
    memset(&t, 0, sizeof(t));
    STS_FAIL_IF(who == NULL || (who->user == NULL && who->client == NULL), err, STS_E_AUTH_FAILED,
                "no principal");
    rc = sts_vtoken_read(e, tok, &t, &why, err);
    if (rc == STS_E_INVALID_TOKEN) {
        rc = STS_ERR(err, STS_E_UNABLE_TO_RENEW, "renew target refused: %s", why);
        goto cleanup;
    }
    if (rc != STS_OK)
        goto cleanup;
    STS_FAIL_IF(!t.ours, err, STS_E_UNABLE_TO_RENEW, "renew target not issued by this STS");
    STS_FAIL_IF(t.kind == STS_KIND_REFRESH, err, STS_E_UNABLE_TO_RENEW,
                "refresh token %s: use grant_type=refresh_token", t.rec->id);
    STS_FAIL_IF(!sts_engine_may_manage(who, t.rec), err, STS_E_UNABLE_TO_RENEW,
                "token %s was neither issued to nor is about this requester", t.rec->id);
    STS_FAIL_IF(t.rec->state != STS_TOKEN_ACTIVE, err, STS_E_UNABLE_TO_RENEW,
                "token %s is %s", t.rec->id,
                t.rec->state == STS_TOKEN_CANCELLED ? "cancelled" : "already renewed");
    STS_FAIL_IF(now < t.rec->issued_at, err, STS_E_UNABLE_TO_RENEW,
                "token %s is postdated and not yet valid", t.rec->id);
    STS_FAIL_IF(!(t.rec->renew & STS_RENEW_ALLOW), err, STS_E_UNABLE_TO_RENEW,
                "token %s was issued not renewable (Renewing Allow=false)", t.rec->id);
    STS_FAIL_IF(now >= t.rec->expires_at && !(t.rec->renew & STS_RENEW_EXPIRED), err,
                STS_E_UNABLE_TO_RENEW,
                "token %s expired and was not issued renewable after expiry (Renewing OK)",
                t.rec->id);
    STS_FAIL_IF(now > t.rec->expires_at + e->cfg->renew_window, err, STS_E_UNABLE_TO_RENEW,
                "token %s expired beyond the renew window", t.rec->id);
    rp = t.rec->audience ? sts_cfg_find_rp(e->cfg, t.rec->audience) : NULL;
    STS_FAIL_IF(rp == NULL, err, STS_E_UNABLE_TO_RENEW, "relying party no longer configured");

    /* The renewal gets the lifetime the original had, within today's maximum
     * and never past the bound its subject token set (an exchanged token
     * does not outlive its subject by being renewed). */
    lifetime = t.rec->expires_at - t.rec->issued_at;
    STS_FAIL_IF(lifetime <= 0, err, STS_E_UNABLE_TO_RENEW, "token %s has no lifetime",
                t.rec->id);
    max = rp->max_lifetime > 0 ? rp->max_lifetime : e->cfg->max_lifetime;
    expires = now + (lifetime > max ? max : lifetime);
    if (t.rec->bound != 0 && expires > t.rec->bound)
        expires = t.rec->bound;
    STS_FAIL_IF(expires <= now, err, STS_E_UNABLE_TO_RENEW,
                "token %s: its subject token has expired", t.rec->id);
    if (t.kind == STS_KIND_SAML2 || t.kind == STS_KIND_SAML11)
        STS_CHECK(renew_saml(e, who, &t, token_type, now, expires, &is, &nrec, err));
    else
        STS_CHECK(renew_jwt(e, &t, token_type, now, expires, &is, &nrec, err));
    nrec.replaces = t.rec->id;
    nrec.renew = t.rec->renew; /* a renewal keeps what its original may do */
    STS_CHECK(sts_store_renew(e->store, t.rec->id, &nrec, err));
    sts_info("renewed %s as %s for %s", t.rec->id, is->id, t.rec->subject);
    *out = is;
    is = NULL;
cleanup:
    sts_issued_free(is);
    sts_vtoken_clear(&t);
    return rc;
}

sts_errc_t sts_engine_cancel_token(sts_engine_t *e, const sts_principal_t *who,
                                   const sts_token_in_t *tok, int rfc7009, sts_err_t *err)
{
    sts_vtoken_t t;
    const char *why = NULL;
    sts_errc_t rc;
    int changed = 0;

    if (who == NULL || (who->user == NULL && who->client == NULL))
        return STS_ERR(err, STS_E_AUTH_FAILED, "no principal");
    rc = sts_vtoken_read(e, tok, &t, &why, err);
    if (rc == STS_E_INVALID_TOKEN || (rc == STS_OK && !t.ours)) {
        if (rc == STS_OK)
            why = "token not issued by this STS";
        sts_vtoken_clear(&t);
        if (rfc7009) { /* RFC 7009 sec. 2.2: nothing to revoke is not an error */
            sts_info("revoke: %s: nothing to do", why);
            return STS_OK;
        }
        return STS_ERR(err, STS_E_REQUEST_FAILED, "cancel target refused: %s", why);
    }
    if (rc != STS_OK)
        return rc;
    if (!sts_engine_may_manage(who, t.rec)) {
        rc = STS_ERR(err, rfc7009 ? STS_E_UNAUTHORIZED : STS_E_REQUEST_FAILED,
                     "token %s was neither issued to nor is about this requester", t.rec->id);
    } else if ((rc = sts_store_cancel(e->store, t.rec->id, &changed, err)) == STS_OK) {
        if (changed > 1)
            sts_info("cancel %s: cancelled with %d tokens issued from it", t.rec->id, changed - 1);
        else
            sts_info("cancel %s: %s", t.rec->id, changed ? "cancelled" : "was already cancelled");
    }
    sts_vtoken_clear(&t);
    return rc;
}

sts_errc_t sts_engine_cancel(sts_engine_t *e, const sts_principal_t *who,
                             const sts_token_in_t *tok, sts_err_t *err)
{
    return sts_engine_cancel_token(e, who, tok, 0, err);
}

sts_errc_t sts_engine_revoke(sts_engine_t *e, const sts_principal_t *who,
                             const sts_token_in_t *tok, sts_err_t *err)
{
    return sts_engine_cancel_token(e, who, tok, 1, err);
}

/* ---- OAuth clients and views ------------------------------------------------- */

sts_errc_t sts_engine_authenticate_client(sts_engine_t *e, const char *client_id,
                                          const char *secret, sts_principal_t *out,
                                          sts_err_t *err)
{
    const sts_cfg_client_t *client;

    memset(out, 0, sizeof(*out));
    if (client_id == NULL || secret == NULL)
        return STS_ERR(err, STS_E_AUTH_FAILED, "no client credentials");
    client = sts_cfg_find_client(e->cfg, client_id);
    /* Runs one hash computation even for an unknown client (timing). */
    if (!password_ok(e, STS_CRED_REALM_CLIENT, client_id, client ? client->secret_hash : NULL,
                     secret))
        return STS_ERR(err, STS_E_AUTH_FAILED, "%s of %zu bytes",
                       client ? "wrong client secret for a client id" : "unknown client id",
                       strlen(client_id));
    out->client = client;
    out->authn_instant = sts_time_now();
    return STS_OK;
}

void sts_token_view_free(sts_token_view_t *v)
{
    if (v == NULL)
        return;
    free(v->id);
    free(v->issuer);
    free(v->subject);
    for (size_t i = 0; i < v->naudiences; i++)
        free(v->audiences[i]);
    free(v->audiences);
    free(v->scope);
    free(v->client_id);
    for (size_t i = 0; i < v->nactors; i++)
        free(v->actors[i]);
    free(v->actors);
    free(v->may_act);
    free(v);
}

void sts_verdict_clear(sts_verdict_t *v)
{
    sts_token_view_free(v->view);
    v->view = NULL;
}

const char *sts_engine_jwks(const sts_engine_t *e) { return e->jwks; }
