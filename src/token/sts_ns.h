/*
 * sts_ns.h - every namespace URI, token-type URI and fixed name, defined once.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_NS_H
#define STS_NS_H

/* XML namespaces */
#define STS_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define STS_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define STS_NS_WST13 "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
#define STS_NS_WST14 "http://docs.oasis-open.org/ws-sx/ws-trust/200802"
#define STS_NS_WST05 "http://schemas.xmlsoap.org/ws/2005/02/trust"
#define STS_NS_IDENTITY "http://schemas.xmlsoap.org/ws/2005/05/identity" /* Claims dialect */
#define STS_NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define STS_NS_WSSE11 "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
#define STS_NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define STS_NS_WSA "http://www.w3.org/2005/08/addressing"
#define STS_NS_WSP "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define STS_NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define STS_NS_XENC "http://www.w3.org/2001/04/xmlenc#"
#define STS_NS_XINCLUDE "http://www.w3.org/2001/XInclude"
#define STS_NS_XINCLUDE_2003 "http://www.w3.org/2003/XInclude" /* libxml2 also honours it */
#define STS_NS_XML "http://www.w3.org/XML/1998/namespace"
#define STS_NS_SAML2 "urn:oasis:names:tc:SAML:2.0:assertion"
#define STS_NS_SAML1 "urn:oasis:names:tc:SAML:1.0:assertion" /* SAML 1.0 and 1.1 */
#define STS_NS_SAML2_DEL "urn:oasis:names:tc:SAML:2.0:conditions:delegation"
#define STS_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define STS_NS_XS "http://www.w3.org/2001/XMLSchema"

/* WS-Trust 1.3 URIs */
#define STS_WST13_ISSUE STS_NS_WST13 "/Issue"
#define STS_WST13_VALIDATE STS_NS_WST13 "/Validate"
#define STS_WST13_RENEW STS_NS_WST13 "/Renew"
#define STS_WST13_CANCEL STS_NS_WST13 "/Cancel"
#define STS_WST13_BEARER STS_NS_WST13 "/Bearer"
#define STS_WST13_SYMMETRIC STS_NS_WST13 "/SymmetricKey"
#define STS_WST13_PUBLICKEY STS_NS_WST13 "/PublicKey"
#define STS_WST13_STATUS_TT STS_NS_WST13 "/RSTR/Status"
#define STS_WST13_STATUS_VALID STS_NS_WST13 "/status/valid"
#define STS_WST13_STATUS_INVALID STS_NS_WST13 "/status/invalid"
#define STS_WST13_ACTION_ISSUE STS_NS_WST13 "/RST/Issue"
#define STS_WST13_ACTION_VALIDATE STS_NS_WST13 "/RST/Validate"
#define STS_WST13_ACTION_RENEW STS_NS_WST13 "/RST/Renew"
#define STS_WST13_ACTION_CANCEL STS_NS_WST13 "/RST/Cancel"
#define STS_WST13_ACTION_ISSUE_FINAL STS_NS_WST13 "/RSTRC/IssueFinal"
#define STS_WST13_ACTION_VALIDATE_FINAL STS_NS_WST13 "/RSTR/ValidateFinal"
#define STS_WST13_ACTION_RENEW_FINAL STS_NS_WST13 "/RSTR/RenewFinal"
#define STS_WST13_ACTION_CANCEL_FINAL STS_NS_WST13 "/RSTR/CancelFinal"
/* WS-Trust Feb 2005 URIs (AD FS 2.0 / WCF "trust/2005" endpoints): RST/X
 * and RSTR/X actions only, no *Final, no RSTRC; bearer is the identity
 * namespace's NoProofKey. */
#define STS_WST05_ISSUE STS_NS_WST05 "/Issue"
#define STS_WST05_VALIDATE STS_NS_WST05 "/Validate"
#define STS_WST05_RENEW STS_NS_WST05 "/Renew"
#define STS_WST05_CANCEL STS_NS_WST05 "/Cancel"
#define STS_WST05_NO_PROOF_KEY "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey"
#define STS_WST05_SYMMETRIC STS_NS_WST05 "/SymmetricKey"
#define STS_WST05_PUBLICKEY STS_NS_WST05 "/PublicKey"
#define STS_WST05_STATUS_TT STS_NS_WST05 "/RSTR/Status"
#define STS_WST05_STATUS_VALID STS_NS_WST05 "/status/valid"
#define STS_WST05_STATUS_INVALID STS_NS_WST05 "/status/invalid"
#define STS_WST05_ACTION_ISSUE STS_NS_WST05 "/RST/Issue"
#define STS_WST05_ACTION_VALIDATE STS_NS_WST05 "/RST/Validate"
#define STS_WST05_ACTION_RENEW STS_NS_WST05 "/RST/Renew"
#define STS_WST05_ACTION_CANCEL STS_NS_WST05 "/RST/Cancel"
#define STS_WST05_ACTION_ISSUE_REPLY STS_NS_WST05 "/RSTR/Issue"
#define STS_WST05_ACTION_VALIDATE_REPLY STS_NS_WST05 "/RSTR/Validate"
#define STS_WST05_ACTION_RENEW_REPLY STS_NS_WST05 "/RSTR/Renew"
#define STS_WST05_ACTION_CANCEL_REPLY STS_NS_WST05 "/RSTR/Cancel"

#define STS_WSA_ANONYMOUS STS_NS_WSA "/anonymous"
#define STS_WSA_NONE STS_NS_WSA "/none"
#define STS_WSA_FAULT_ACTION STS_NS_WSA "/soap/fault"

/* Token types */
#define STS_TT_SAML2_URN "urn:oasis:names:tc:SAML:2.0:assertion"
#define STS_TT_SAML2_WSS                                                                           \
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
#define STS_SAML2_KEYID_VALUETYPE                                                                  \
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
#define STS_TT_SAML11_URN "urn:oasis:names:tc:SAML:1.0:assertion"
#define STS_TT_SAML11_WSS                                                                          \
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
/* SAML token profile 1.1 sec. 3.4.2: a SAML 1.1 assertion is referenced by its AssertionID */
#define STS_SAML11_KEYID_VALUETYPE                                                                 \
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"

/* WS-Security */
#define STS_WSSE_PASSWORD_TEXT                                                                     \
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
#define STS_WSSE_PASSWORD_DIGEST                                                                   \
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define STS_WSSE_X509V3                                                                            \
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
#define STS_WSSE_BASE64                                                                            \
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

/* SAML 2.0 */
#define STS_SAML2_CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define STS_SAML2_CM_HOK "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
#define STS_SAML2_AC_PPT "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
#define STS_SAML2_AC_X509 "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
#define STS_SAML2_AC_PASSWORD "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
#define STS_SAML2_NAMEID_UNSPECIFIED "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
#define STS_SAML2_ATTRNAME_BASIC "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
#define STS_SAML2_ATTRNAME_URI "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

/* SAML 1.1 */
#define STS_SAML11_CM_BEARER "urn:oasis:names:tc:SAML:1.0:cm:bearer"
#define STS_SAML11_CM_HOK "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
#define STS_SAML11_AM_PASSWORD "urn:oasis:names:tc:SAML:1.0:am:password"
#define STS_SAML11_AM_UNSPECIFIED "urn:oasis:names:tc:SAML:1.0:am:unspecified"
/* AttributeNamespace of our attributes: their names are plain names, as the
 * SAML 2.0 assertions say with NameFormat basic. */
#define STS_SAML11_ATTR_NAMESPACE STS_SAML2_ATTRNAME_BASIC

/* XML-DSig algorithms of the SAML signing profile */
#define STS_DS_ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define STS_DS_ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define STS_DS_ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define STS_DS_ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define STS_DS_ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
/* XML Encryption (1.1 for AES-GCM) */
#define STS_XENC_TYPE_ELEMENT STS_NS_XENC "Element"
#define STS_XENC_AES256_GCM "http://www.w3.org/2009/xmlenc11#aes256-gcm"
#define STS_XENC_RSA_OAEP STS_NS_XENC "rsa-oaep-mgf1p"
#define STS_XENC_SHA1 "http://www.w3.org/2000/09/xmldsig#sha1"
#define STS_SAML2_AC_UNSPECIFIED "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"

#endif /* STS_NS_H */
