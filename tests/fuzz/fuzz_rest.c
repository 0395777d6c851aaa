/*
 * fuzz_rest.c - the REST face end to end without sockets: the first byte
 * picks /token, /introspect or /revoke, the rest is the form body, sent by
 * the demo client with valid Basic credentials (its secret hash is replaced
 * by a cheap one so that the fuzzer spends its time on parsing and policy,
 * not on yescrypt). "@SAML@", "@AT@" and "@RT@" in an input are replaced by
 * a SAML assertion (base64url), an access token and a refresh token issued
 * at start-up, so that inputs reach the policy behind a verified token.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fuzz_common.h"
#include "sts_jwt.h"
#include "sts_rest.h"

#include <crypt.h>

static char *g_saml, *g_at, *g_rt;

/* A SAML assertion for alice, exchanged for an access and a refresh token. */
static void issue_tokens(void)
{
    sts_credential_t cred = {STS_CRED_PASSWORD_TEXT, "alice", "wonderland", NULL, NULL};
    sts_issue_req_t ireq = {.applies_to = "https://rp.example.com/", .token_type = NULL};
    const char *aud = "https://api.example.com/";
    sts_exchange_req_t x;
    sts_principal_t alice, client;
    sts_issued_t *saml = NULL, *at = NULL;
    sts_err_t err;

    if (sts_engine_authenticate(g_engine, &cred, &alice, &err) != STS_OK ||
        sts_engine_issue(g_engine, &alice, &ireq, &saml, &err) != STS_OK ||
        sts_engine_authenticate_client(g_engine, "migration-tester", "s3cret", &client, &err) !=
            STS_OK) {
        fprintf(stderr, "fuzz set-up: tokens: %s\n", err.detail);
        exit(1);
    }
    g_saml = sts_b64url_encode((const unsigned char *)saml->token, saml->token_len);
    memset(&x, 0, sizeof(x));
    x.subject.text = g_saml;
    x.subject.text_len = strlen(g_saml);
    x.subject.type = STS_TT_SAML2;
    x.audiences = &aud;
    x.naudiences = 1;
    if (sts_engine_exchange(g_engine, &client, &x, &at, &err) != STS_OK || at->refresh == NULL) {
        fprintf(stderr, "fuzz set-up: exchange: %s\n", err.detail);
        exit(1);
    }
    g_at = strdup(at->token);
    g_rt = strdup(at->refresh->token);
    sts_issued_free(saml);
    sts_issued_free(at);
}

/* @in with the placeholders replaced: a new buffer (free()), *len set. */
static char *expand(const char *in, size_t n, size_t *len)
{
    static const char *const ph[] = {"@SAML@", "@AT@", "@RT@"};
    const char *val[] = {g_saml, g_at, g_rt};
    size_t cap = n + 1, o = 0;
    char *out;

    for (size_t i = 0; i + 3 < n; i++)
        if (in[i] == '@')
            cap += 16384; /* enough for one token, per '@' that may start one */
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k, l = 0;
        for (k = 0; k < 3; k++) {
            l = strlen(ph[k]);
            if (n - i >= l && memcmp(in + i, ph[k], l) == 0)
                break;
        }
        if (k < 3 && o + strlen(val[k]) < cap) {
            memcpy(out + o, val[k], strlen(val[k]));
            o += strlen(val[k]);
            i += l;
        } else {
            out[o++] = in[i++];
        }
    }
    *len = o;
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sts_cfg_client_t *c;
    const char *hash;

    (void)argc, (void)argv;
    fuzz_setup();
    c = (sts_cfg_client_t *)sts_cfg_find_client(g_cfg, "migration-tester");
    hash = crypt("s3cret", "$6$rounds=1000$fuzzfuzzfuzz$");
    if (c == NULL || hash == NULL || hash[0] != '$')
        exit(1);
    free(c->secret_hash);
    c->secret_hash = strdup(hash);
    fuzz_setup_engine();
    issue_tokens();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/token", "/introspect", "/revoke"};
    sts_http_request_t req;
    sts_http_response_t resp;
    size_t len = 0;
    char *body;

    if (size == 0 || (body = expand((const char *)data + 1, size - 1, &len)) == NULL)
        return 0;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.path = paths[data[0] % 3];
    req.content_type = "application/x-www-form-urlencoded";
    req.authorization = "Basic bWlncmF0aW9uLXRlc3RlcjpzM2NyZXQ="; /* migration-tester:s3cret */
    req.n_authorization = 1;
    req.body = body;
    req.body_len = len;
    sts_rest_handle(g_engine, "http://127.0.0.1:8080", &req, &resp);
    sts_rest_response_free(&resp);
    free(body);
    return 0;
}
