/*
 * sts_saml.h - SAML 2.0 and SAML 1.1 assertions: build + sign, verify + read.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Signing: enveloped XML-DSig, exclusive C14N, RSA-SHA256 (or ECDSA-SHA256 for
 * an EC key), one Reference to "#"+ID (SAML 1.1: "#"+AssertionID),
 * KeyInfo/X509Data with the certificate; ds:Signature right after Issuer
 * (SAML 2.0) or as the last child (SAML 1.1, whose schema puts it after the
 * statements). The output is the exact signed bytes.
 *
 * Verifying: structure and signature only (by our key, never KeyInfo). Time
 * window, issuer and audience policy are the engine's. What is returned is read
 * from the very element whose signature was checked (signature wrapping fails).
 */
#ifndef STS_SAML_H
#define STS_SAML_H

#include "sts_err.h"
#include "sts_keys.h"

#include <libxml/tree.h>
#include <stddef.h>
#include <time.h>

typedef struct sts_saml_attr {
    const char *name;          /* a plain name, or (@uri) a claim type URI */
    const char *const *values;
    size_t nvalues;
    int uri;                   /* 1: @name is a URI: SAML 2.0 NameFormat uri; SAML 1.1
                                * AttributeNamespace = @name up to its last '/', and
                                * AttributeName the rest (as AD FS writes claims) */
} sts_saml_attr_t;

typedef struct sts_saml_params {
    const char *issuer;
    const char *subject;       /* NameID */
    const char *name_qualifier; /* NameID/NameIdentifier NameQualifier: the issuer the
                                 * subject belongs to when not ours, or NULL */
    const char *audience;      /* AudienceRestriction/Audience (AppliesTo) */
    time_t issue_instant;
    time_t not_before;
    time_t not_on_or_after;
    time_t authn_instant;
    const char *authn_context; /* SAML 2.0: AuthnContextClassRef; SAML 1.1: the
                                * AuthenticationMethod URI; NULL: unspecified */
    const sts_saml_attr_t *attrs;
    size_t nattrs;
    /* SAML 2.0 only: the delegation chain, as a DelegationRestriction
     * condition (SAML V2.0 Condition for Delegation Restriction): one
     * del:Delegate with a NameID per entry, [0] the most recent intermediary
     * (the current actor, as the outer "act" of a JWT). */
    const char *const *delegates;
    size_t ndelegates;
    /* Holder-of-key (symmetric proof key): when @hok_key is set, the subject
     * confirmation is holder-of-key with a ds:KeyInfo holding the key as an
     * xenc:EncryptedKey for @hok_rcpt (the relying party's certificate). */
    const sts_keys_t *hok_rcpt;
    const unsigned char *hok_key;
    size_t hok_key_len;
    /* Holder-of-key (PublicKey, wst:UseKey): the requester's certificate, base64
     * DER, as ds:KeyInfo/ds:X509Data/ds:X509Certificate; NULL = not. */
    const char *hok_cert_b64;
    /* ... or its RSA key as ds:KeyInfo/ds:KeyValue/ds:RSAKeyValue (base64) */
    const char *hok_modulus_b64;
    const char *hok_exponent_b64;
} sts_saml_params_t;

/* The longest delegation chain an assertion may carry (either way). */
#define STS_SAML_MAX_DELEGATES 16

#define STS_SAML_ID_MAX 64

/**
 * @brief Build and sign a SAML 2.0 bearer assertion.
 * @param xml_out new NUL-terminated buffer with the signed assertion (no XML
 *        declaration, all namespaces declared on the root); free with free().
 * @param id_out  the assertion's ID ("_" + 32 hex digits).
 */
sts_errc_t sts_saml2_issue(sts_keys_t *keys, const sts_saml_params_t *p, char **xml_out,
                           size_t *len_out, char id_out[STS_SAML_ID_MAX], sts_err_t *err);

/**
 * @brief Build and sign a SAML 1.1 bearer assertion (MajorVersion 1,
 * MinorVersion 1, Issuer attribute): Conditions with
 * AudienceRestrictionCondition, an AuthenticationStatement and, when an
 * attribute has values, an AttributeStatement, each statement with its own
 * Subject (NameIdentifier + bearer SubjectConfirmation); ds:Signature last.
 * Attributes without values are left out (SAML 1.1 requires a value).
 * @param xml_out new NUL-terminated buffer with the signed assertion (no XML
 *        declaration, all namespaces declared on the root); free with free().
 * @param id_out  the AssertionID ("_" + 32 hex digits).
 */
sts_errc_t sts_saml11_issue(sts_keys_t *keys, const sts_saml_params_t *p, char **xml_out,
                            size_t *len_out, char id_out[STS_SAML_ID_MAX], sts_err_t *err);

/** What a verified assertion says. All strings owned; free with sts_saml_info_free(). */
typedef struct sts_saml_info {
    char *id;
    char *issuer;
    char *subject;
    char **audiences;
    size_t naudiences;
    time_t issue_instant;
    time_t not_before;      /* 0 if absent */
    time_t not_on_or_after; /* 0 if absent */
    char **delegates;       /* SAML 2.0 DelegationRestriction, [0] most recent */
    size_t ndelegates;
    int holder_of_key;      /* a SubjectConfirmation other than bearer */
} sts_saml_info_t;

/**
 * @brief Verify @assertion in place (it may sit inside a larger document,
 * e.g. a SOAP envelope) with @keys, then read it.
 * Checks: element is saml2:Assertion Version 2.0 with an ID; its ID is unique
 * in the document; exactly one ds:Signature, a direct child; exactly one
 * Reference whose URI is "#"+ID; only enveloped + exc-c14n transforms; SHA-256
 * digest; signature valid under our key.
 * @return STS_OK with *out, or STS_E_INVALID_TOKEN (detail says why).
 */
sts_errc_t sts_saml2_verify(sts_keys_t *keys, xmlNodePtr assertion, sts_saml_info_t **out,
                            sts_err_t *err);

/**
 * @brief sts_saml2_verify() for a SAML 1.1 assertion: saml1:Assertion with
 * MajorVersion 1 and MinorVersion 1, an AssertionID unique in the document,
 * exactly one ds:Signature, the last child, with the same profile.
 * The subject is the NameIdentifier that every subject statement must carry
 * and agree on; the issuer is the Issuer attribute.
 * @return STS_OK with *out, or STS_E_INVALID_TOKEN (detail says why).
 */
sts_errc_t sts_saml11_verify(sts_keys_t *keys, xmlNodePtr assertion, sts_saml_info_t **out,
                             sts_err_t *err);

/**
 * @brief Whether no attribute of @assertion's document other than its own ID
 * attribute (ID for SAML 2.0 when @v2, AssertionID for 1.1) carries @id, by
 * the verifiers' rule (the local names ID, Id, id, AssertionID in any
 * namespace, white space trimmed). The verifiers refuse a document where this
 * is false; a cache that skips them checks it again with this.
 */
int sts_saml_id_unique(xmlNodePtr assertion, int v2, const char *id);

void sts_saml_info_free(sts_saml_info_t *info);

#endif /* STS_SAML_H */
