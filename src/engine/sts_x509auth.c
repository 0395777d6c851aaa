/*
 * sts_x509auth.c - requester authentication by an X.509 WS-Security signature.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The certificate comes from the message (wsse:BinarySecurityToken); it is
 * trusted only when it chains to soap.client_ca (OpenSSL's verifier: validity
 * dates, issuer signatures, basic constraints) and names, by its subject CN,
 * a user of the realm. Its key then verifies the message signature, which
 * must cover the Body and the Timestamp the face goes on to use. What the
 * signature covers (its References' digests) is remembered for the timestamp
 * window: the same signed message sent again, however its signature value
 * is re-encoded, is a replay.
 */
#include "sts_engine_int.h"

#include "sts_log.h"
#include "sts_ns.h"
#include "sts_time.h"
#include "sts_wssig.h"
#include "sts_xml.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <string.h>

sts_errc_t sts_x509auth_open(sts_engine_t *e, sts_err_t *err)
{
    if (e->cfg->client_ca_file == NULL)
        return STS_OK;
    e->client_ca = X509_STORE_new();
    if (e->client_ca == NULL ||
        X509_STORE_load_file(e->client_ca, e->cfg->client_ca_file) != 1) {
        ERR_clear_error();
        return STS_ERR(err, STS_E_CONFIG, "soap.client_ca %s: cannot load PEM certificates",
                       e->cfg->client_ca_file);
    }
    return STS_OK;
}

/* The user named by the subject CN of @cert, verified against @store. */
static const sts_cfg_user_t *trusted_user(const sts_engine_t *e, X509 *cert, sts_err_t *err)
{
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    char cn[256];
    int ok = vctx != NULL && X509_STORE_CTX_init(vctx, e->client_ca, cert, NULL) == 1 &&
             X509_verify_cert(vctx) == 1;
    int why = vctx ? X509_STORE_CTX_get_error(vctx) : 0;
    const sts_cfg_user_t *user;

    X509_STORE_CTX_free(vctx);
    ERR_clear_error();
    if (!ok) {
        STS_ERR(err, STS_E_AUTH_FAILED, "requester certificate not trusted: %s",
                X509_verify_cert_error_string(why));
        return NULL;
    }
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                  sizeof(cn)) <= 0) {
        STS_ERR(err, STS_E_AUTH_FAILED, "requester certificate without a subject CN");
        return NULL;
    }
    if ((user = sts_cfg_find_user(e->cfg, cn)) == NULL)
        STS_ERR(err, STS_E_AUTH_FAILED, "requester certificate names no user");
    return user;
}

/* SHA-256 over the signer's certificate and the decoded DigestValue of every
 * Reference of @sig: who signed what (Body, Timestamp), independent of how
 * the base64 is wrapped and of which of the equivalent signature values
 * (ECDSA's (r, n-s)) was sent. 0, or -1 when a DigestValue is missing or
 * malformed. */
static int covered_digest(xmlNodePtr sig, const unsigned char *der, size_t der_len,
                          unsigned char out[SHA256_DIGEST_LENGTH])
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    xmlNodePtr si = NULL;
    int n = 0, ok;

    for (xmlNodePtr c = sts_xml_first_elem(sig); c; c = sts_xml_next_elem(c))
        if (sts_xml_is(c, STS_NS_DS, "SignedInfo"))
            si = c;
    if (sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(sha, der, der_len) != 1) {
        EVP_MD_CTX_free(sha);
        return -1;
    }
    for (xmlNodePtr r = sts_xml_first_elem(si); r; r = sts_xml_next_elem(r)) {
        xmlNodePtr dv = NULL;
        xmlChar *text;
        unsigned char raw[64];
        size_t len = 0;
        int bad;

        if (!sts_xml_is(r, STS_NS_DS, "Reference"))
            continue;
        for (xmlNodePtr c = sts_xml_first_elem(r); c; c = sts_xml_next_elem(c))
            if (sts_xml_is(c, STS_NS_DS, "DigestValue"))
                dv = c;
        if (dv == NULL || (text = xmlNodeGetContent(dv)) == NULL) {
            EVP_MD_CTX_free(sha);
            return -1;
        }
        bad = sts_b64_decode((const char *)text, raw, sizeof(raw), &len) != 0;
        xmlFree(text);
        if (bad || EVP_DigestUpdate(sha, raw, len) != 1) {
            EVP_MD_CTX_free(sha);
            return -1;
        }
        n++;
    }
    ok = EVP_DigestFinal_ex(sha, out, NULL) == 1;
    EVP_MD_CTX_free(sha);
    return ok && n > 0 ? 0 : -1;
}

/* Refuses a signed message seen before within the timestamp window: keyed on
 * what the signature covers, not on the signature's bytes. */
static sts_errc_t not_replayed(sts_engine_t *e, xmlNodePtr sig, const unsigned char *der,
                               size_t der_len, sts_err_t *err)
{
    const sts_cfg_t *cfg = e->cfg;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    time_t now = sts_time_now();

    if (covered_digest(sig, der, der_len, digest) != 0)
        return STS_ERR(err, STS_E_AUTH_FAILED, "no DigestValue to remember");
    switch (sts_replay_check(e->replay, digest, sizeof(digest),
                             now + cfg->timestamp_max_age + cfg->clock_skew + 1, now)) {
    case STS_REPLAY_FRESH: return STS_OK;
    case STS_REPLAY_SEEN: return STS_ERR(err, STS_E_AUTH_FAILED, "signed message replayed");
    default: return STS_ERR(err, STS_E_AUTH_FAILED, "replay cache full: refusing signed logins");
    }
}

sts_errc_t sts_engine_authenticate_x509(sts_engine_t *e, const unsigned char *der,
                                        size_t der_len, xmlNodePtr sig,
                                        xmlNodePtr const *required, size_t nrequired,
                                        const sts_timestamp_t *ts, sts_principal_t *out,
                                        sts_err_t *err)
{
    const unsigned char *p = der;
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;
    const sts_cfg_user_t *user = NULL;
    sts_errc_t rc = STS_OK;

    time_t created;

    memset(out, 0, sizeof(*out));
    STS_FAIL_IF(e->client_ca == NULL, err, STS_E_AUTH_FAILED,
                "X.509 requester authentication is off (soap.client_ca)");
    /* A signed message is only fresh by its signed Timestamp; one made before
     * we started may have been seen by the previous process's replay cache. */
    STS_FAIL_IF(ts == NULL || ts->created == NULL || sts_time_parse(ts->created, &created) != 0,
                err, STS_E_AUTH_FAILED, "a signed request needs a wsu:Timestamp");
    STS_FAIL_IF(created < e->started, err, STS_E_AUTH_FAILED,
                "signed request created %lds before this process started: a replay is possible",
                (long)(e->started - created));
    STS_FAIL_IF(der_len == 0 || der_len > 65536 || (cert = d2i_X509(NULL, &p, (long)der_len)) ==
                                                        NULL || p != der + der_len,
                err, STS_E_AUTH_FAILED, "BinarySecurityToken is not one DER certificate");
    if ((user = trusted_user(e, cert, err)) == NULL) {
        rc = STS_E_AUTH_FAILED; /* err says why */
        goto cleanup;
    }
    pkey = X509_get_pubkey(cert);
    STS_FAIL_IF(pkey == NULL, err, STS_E_AUTH_FAILED, "certificate key unreadable");
    STS_CHECK(sts_wssig_verify(sig, pkey, required, nrequired, err));
    STS_CHECK(not_replayed(e, sig, der, der_len, err));
    out->user = user;
    out->authn_context = STS_SAML2_AC_X509;
    out->authn_instant = sts_time_now();
    sts_info("authenticated %s by an X.509 signature", user->name);
cleanup:
    EVP_PKEY_free(pkey);
    X509_free(cert);
    ERR_clear_error();
    return rc;
}
