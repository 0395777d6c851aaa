/*
 * sts_cfg.h - the STS configuration: one JSON file, immutable after load.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Loading: defaults -> JSON file (unknown keys rejected with line and column)
 * -> cross-field checks -> frozen. The embedded default (no --config) is the
 * demo realm described in docs/config.md. This module reads files and JSON; it
 * does not open keys or stores (the engine does).
 */
#ifndef STS_CFG_H
#define STS_CFG_H

#include "sts_err.h"

#include <stddef.h>

typedef enum sts_match { STS_MATCH_EXACT = 0, STS_MATCH_PREFIX = 1 } sts_match_t;

/** The default of server.tls_ciphers (TLS 1.2): ECDHE key exchange, AEAD ciphers only. */
#define STS_CFG_TLS_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/** One user attribute: a name and one or more values. */
typedef struct sts_cfg_attr {
    char *name;
    char **values;
    size_t nvalues;
} sts_cfg_attr_t;

/** One user of the built-in realm. */
typedef struct sts_cfg_user {
    char *name;
    char *password_hash;  /* crypt(3) string: $y$ (yescrypt), $2b$ (bcrypt), $6$ ... */
    char *digest_secret;  /* optional sealed password for PasswordDigest, "v1:<b64>" */
    sts_cfg_attr_t *attrs;
    size_t nattrs;
} sts_cfg_user_t;

/** A relying party, keyed by its AppliesTo address. */
typedef struct sts_cfg_rp {
    char *applies_to;
    sts_match_t match;
    long default_lifetime; /* seconds; 0 = engine default */
    long max_lifetime;     /* seconds; 0 = engine maximum */
    char *signing_alg;     /* "RS256" or "ES256" for JWTs to this party; NULL = the first key's */
    char **claims;         /* attribute names / claim URIs released to it; NULL = every one */
    size_t nclaims;
    char **token_types;    /* "saml2", "saml1", "jwt" it accepts; NULL = every one */
    size_t ntoken_types;
    char *encryption_cert; /* PEM RSA certificate: its assertions are encrypted for it; NULL = not */
} sts_cfg_rp_t;

/**
 * One OAuth 2.0 client of the RFC 8693 face. Every list holds exact strings
 * (no wildcards); a list may be empty (then its pointer is NULL).
 */
typedef struct sts_cfg_client {
    char *client_id;    /* 1..128 of %x20-7E without ':' (HTTP Basic splits there) */
    char *secret_hash;  /* crypt(3) string, as users' password_hash; never the secret */
    char **audiences;   /* audience/resource targets; each matches a relying party */
    size_t naudiences;
    char **scopes;      /* RFC 6749 scope tokens it may obtain */
    size_t nscopes;
    char **token_types; /* requested_token_type URIs it may ask for */
    size_t ntoken_types;
    char **grant_types; /* grant_type values it may use */
    size_t ngrant_types;
    char *signing_alg;  /* "RS256" or "ES256" for JWTs it obtains (wins over the party's); NULL = default */
    char **trusted_issuers; /* issuers (of trusted_issuers) whose tokens it may present; none
                             * by default */
    size_t ntrusted_issuers;
} sts_cfg_client_t;

/** A signing key pair: PEM private key and its PEM certificate. */
typedef struct sts_cfg_keypair {
    char *key_file;
    char *cert_file;
} sts_cfg_keypair_t;

/**
 * An issuer whose JWTs the STS accepts as RFC 8693 subject or actor tokens
 * (never renewed, revoked or introspected as active: they are not ours).
 * Its tokens must name our issuer (sts_cfg_t.issuer) in "aud".
 */
typedef struct sts_cfg_trusted_issuer {
    char *issuer;    /* exact "iss" */
    char *cert_file; /* PEM certificate whose public key signs its JWTs (RSA or EC P-256) */
    char *kid;       /* the "kid" its JWTs carry (1..128 of %x20-7E); NULL = base64url SHA-256
                      * of the certificate */
} sts_cfg_trusted_issuer_t;

/**
 * A WS-Trust delegation rule: which subjects a requester (a user of the realm)
 * may obtain tokens for by presenting their token as wst14:ActAs (the issued
 * token names the subject and records the requester as actor: SAML 2.0
 * DelegationRestriction, JWT "act") or wst:OnBehalfOf (the issued token names
 * the subject and records no new actor: impersonation). No rule: refused.
 */
typedef struct sts_cfg_delegation {
    char *actor;       /* a user name of the realm */
    char **subjects;   /* subject names ("sub" / NameID) it may act for; "*" = any */
    size_t nsubjects;
    int act_as;        /* 1: may present ActAs */
    int on_behalf_of;  /* 1: may present OnBehalfOf */
} sts_cfg_delegation_t;

typedef struct sts_cfg {
    /* server */
    char *listen_host;
    int listen_port;
    char *data_dir;
    int workers;          /* worker threads */
    int backlog;
    int recv_timeout;     /* seconds; also bounds a new connection's wait for its first byte */
    int send_timeout;     /* seconds */
    int max_keep_alive;   /* requests per connection */
    int keep_alive_timeout; /* seconds an idle keep-alive connection stays open */
    int max_connections;  /* open client connections at most; more are accepted and closed */
    long max_message_size; /* bytes of one HTTP body */
    int log_level;        /* sts_log_level_t */

    /* engine */
    char *issuer;          /* SAML Issuer / JWT iss */
    char *signing_key_file;
    char *signing_cert_file;
    char *secrets_key_file; /* AES-256 key that seals digest secrets (64 hex digits) */
    long default_lifetime; /* seconds */
    long max_lifetime;     /* seconds */
    long clock_skew;       /* seconds */
    long renew_window;     /* seconds after expiry in which Renew is still allowed */
    long refresh_lifetime; /* seconds a refresh token family lives (rotation keeps its expiry) */
    long credential_cache_ttl; /* seconds a successful password check is remembered; 0: never */

    /* soap */
    int require_timestamp;
    long timestamp_max_age;   /* seconds a wsu:Timestamp Created may lie in the past */
    long digest_max_age;      /* seconds a UsernameToken Created may lie in the past */
    int max_xml_depth;
    long max_xml_string;      /* bytes of one XML text or attribute value */
    char *wsdl_file;          /* the published WSDL served at GET /sts?wsdl */
    char *client_ca_file;     /* PEM CA certificates of requesters who sign with X.509;
                               * NULL = X.509 requester authentication is off */

    sts_cfg_user_t *users;
    size_t nusers;
    sts_cfg_rp_t *rps;
    size_t nrps;

    char *source; /* file name or "<embedded default>" */
    int strict_key_perms; /* 1 for a config file; 0 for the embedded dev default */

    sts_cfg_client_t *clients; /* OAuth clients, in file order */
    size_t nclients;

    /* Every signing key: [0] is engine.signing_key/signing_cert (signs SAML
     * and, by default, JWTs); then engine.additional_signing_keys in order
     * (at most 8). Always at least one entry; the strings are copies, owned
     * here like every other field. JWKS publishes them all. */
    sts_cfg_keypair_t *signing_keys;
    size_t nsigning_keys;

    sts_cfg_trusted_issuer_t *trusted_issuers; /* in file order; NULL when there are none */
    size_t ntrusted_issuers;

    char *public_url; /* server.public_url: base URL of the endpoints in RFC 8414 metadata
                       * (no trailing '/'); NULL = http(s)://<listen address> */

    /* server.tls_cert/tls_key: both set = every connection speaks TLS (1.2 or 1.3); both
     * NULL = plain HTTP. The config only names the files: the server opens them when it
     * starts, and then refuses a key file group or others can read (strict_key_perms). */
    char *tls_cert_file; /* PEM certificate chain, the server's certificate first */
    char *tls_key_file;  /* PEM private key of that certificate */
    char *tls_ciphers;   /* server.tls_ciphers: OpenSSL cipher list for TLS 1.2 (syntax
                          * checked here; the server checks it names only forward-secret
                          * AEAD suites) */

    /* soap.require_tls_for_password_text: 1 refuse a UsernameToken PasswordText that did
     * not come over TLS, 0 accept it, -1 (not set) refuse it only when the server listens
     * with plain HTTP on an address other than loopback. */
    int require_tls_for_password_text;

    /* rest.require_tls: 1 refuse /token, /introspect and /revoke over plain HTTP, 0 serve
     * them, -1 (not set) refuse them only when the server listens with plain HTTP on an
     * address other than loopback. Resolve with sts_cfg_rest_requires_tls(). */
    int rest_require_tls;

    sts_cfg_delegation_t *delegation; /* in file order; NULL when there are none */
    size_t ndelegation;
} sts_cfg_t;

/**
 * @brief Load configuration.
 * @param path JSON file, or NULL for the embedded default.
 * @param out  new config on success; free with sts_cfg_free().
 * @param err  on failure: STS_E_CONFIG with "file:line:column: message" in detail.
 */
sts_errc_t sts_cfg_load(const char *path, sts_cfg_t **out, sts_err_t *err);

/**
 * @brief Override the listen address with @value ("host:port", "[v6]:port",
 * the same syntax and checks as server.listen; port 0 picks a free port).
 * @return NULL on success, else a static message saying what is wrong.
 */
const char *sts_cfg_set_listen(sts_cfg_t *cfg, const char *value);

/** @brief Free a config (NULL is a no-op). */
void sts_cfg_free(sts_cfg_t *cfg);

/**
 * @brief Find the relying party for @applies_to (exact match first, then the
 * longest prefix). Returns a borrowed pointer or NULL.
 */
const sts_cfg_rp_t *sts_cfg_find_rp(const sts_cfg_t *cfg, const char *applies_to);

/** @brief Find a user by exact name. Borrowed pointer or NULL. */
const sts_cfg_user_t *sts_cfg_find_user(const sts_cfg_t *cfg, const char *name);

/** @brief Find an OAuth client by exact client_id. Borrowed pointer or NULL. */
const sts_cfg_client_t *sts_cfg_find_client(const sts_cfg_t *cfg, const char *client_id);

/**
 * @brief Whether @value is one of the @n strings of @list (exact, byte for
 * byte), e.g. a client's audiences, scopes, token_types or grant_types:
 * sts_cfg_client_allows(c->scopes, c->nscopes, scope).
 * @return 1 if it is, 0 if not or if @value is NULL.
 */
int sts_cfg_client_allows(char *const *list, size_t n, const char *value);

/**
 * @brief Whether the user @actor may present a token of @subject as ActAs
 * (@act_as 1) or OnBehalfOf (@act_as 0), by a delegation rule. A @foreign
 * subject (another issuer's) is only matched by "*": a rule naming "alice"
 * means the realm's alice, not a namesake elsewhere.
 */
int sts_cfg_may_delegate(const sts_cfg_t *cfg, const char *actor, const char *subject,
                         int foreign, int act_as);

/**
 * @brief Whether @host (server.listen's) is a loopback address: 127.0.0.0/8,
 * ::1, ::ffff:127.0.0.0/104, or the name "localhost". Any other name is not
 * (nor is NULL). What the unset soap.require_tls_for_password_text and
 * rest.require_tls go by.
 */
int sts_cfg_is_loopback(const char *host);

/**
 * @brief Whether the REST face refuses its POST endpoints (/token, /introspect,
 * /revoke) because they would be served over plain HTTP: rest.require_tls, and
 * when it is not set, plain HTTP (no server.tls_cert) on a listen address that
 * is not loopback. Over TLS it is always 0.
 * @param defaulted NULL-able; set to 1 when rest.require_tls is not set.
 */
int sts_cfg_rest_requires_tls(const sts_cfg_t *cfg, int *defaulted);

/** @brief Directory of the development PKI (compile-time default, env STS_CERTS_DIR overrides). */
const char *sts_cfg_dev_certs_dir(void);

#endif /* STS_CFG_H */
