/*
 * sts_wssig.h - verify a WS-Security message signature (requester X.509).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_WSSIG_H
#define STS_WSSIG_H

#include "sts_err.h"

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <xmlsec/xmldsig.h>

/**
 * @brief A verification context with our allow-list: same-document
 * references, no manifests, exc-c14n and SHA-256 (plus the enveloped
 * transform when @enveloped), RSA-SHA256 or (@ec) ECDSA-SHA256, and KeyInfo
 * never a source of keys (the caller presets signKey). NULL on failure;
 * free with xmlSecDSigCtxDestroy().
 */
xmlSecDSigCtxPtr sts_dsig_verify_ctx(int ec, int enveloped);

/**
 * @brief Verify the ds:Signature @sig (in a wsse:Security header) with
 * @pkey: exc-c14n, SHA-256 digests, RSA-SHA256 or ECDSA-SHA256 by the key's
 * type, same-document references to unique wsu:Id values only; and each of
 * the @nrequired elements of @required (the Body and Timestamp the caller
 * goes on to use) is covered by a verified Reference.
 * @return STS_OK, or STS_E_AUTH_FAILED (detail says why; logs only).
 */
sts_errc_t sts_wssig_verify(xmlNodePtr sig, EVP_PKEY *pkey, xmlNodePtr const *required,
                            size_t nrequired, sts_err_t *err);

#endif /* STS_WSSIG_H */
