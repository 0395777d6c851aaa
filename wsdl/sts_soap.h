/*
 * sts_soap.h - soapcpp2 input for the WS-Trust face of the STS.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Our own WS-Trust 1.3 binding, written instead of gSOAP's stock wst.h (see
 * ../shared/gsoap-notes.md, section 2): the stock header answers Issue with a
 * bare RSTR, lacks ValidateTarget/OnBehalfOf content and would re-serialise
 * tokens. Here every token-carrying element is _XML (literal XML), the four
 * bindings dispatch on the action (soapcpp2 -a) and the handlers cross-check
 * wst:RequestType.
 *
 * Security-relevant content (wsse:Security, token targets) is NOT read from
 * the structs generated from this file: the SOAP face re-reads it from the raw
 * request bytes with a hardened libxml2 parser, so that the element that is
 * verified is the element that is used. The header members below exist so that
 * gSOAP understands (mustUnderstand) and skips those headers.
 *
 * Regenerate with `cmake --build build --target regen`; never edit generated/.
 */

//gsoap wst    schema namespace:  http://docs.oasis-open.org/ws-sx/ws-trust/200512
//gsoap wst    schema namespace2: http://schemas.xmlsoap.org/ws/2005/02/trust
//gsoap wst    schema elementForm: qualified
//gsoap wst    schema attributeForm: unqualified

//gsoap wsp    schema namespace:  http://schemas.xmlsoap.org/ws/2004/09/policy
//gsoap wsp    schema elementForm: qualified

//gsoap wsa5   schema namespace:  http://www.w3.org/2005/08/addressing
//gsoap wsa5   schema elementForm: qualified

//gsoap wsse   schema namespace:  http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
//gsoap wsse   schema elementForm: qualified

//gsoap wsu    schema namespace:  http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
//gsoap wsu    schema elementForm: qualified
//gsoap wsu    schema attributeForm: qualified

/* ---- WS-Addressing 1.0 (only what the STS reads or writes) ---- */

struct wsa5__EndpointReferenceType {
    char *Address 1;
    int __size;
    _XML *__any;
};

struct wsa5__RelatesToType {
    char *__item;
    @char *RelationshipType 0;
};

/* wsse:Security: content kept as literal XML and never used (see above). */
struct wsse__SecurityHeaderType {
    int __size;
    _XML *__any;
};

/* ---- SOAP header: what we accept and what we answer with ---- */

struct SOAP_ENV__Header {
    mustUnderstand char *wsa5__Action 0;
    char *wsa5__MessageID 0;
    struct wsa5__EndpointReferenceType *wsa5__ReplyTo 0;
    struct wsa5__EndpointReferenceType *wsa5__FaultTo 0;
    char *wsa5__To 0;
    struct wsa5__RelatesToType *wsa5__RelatesTo 0;
    /* Parsed from the raw bytes by src/soap/sts_soap_wsse.c, never from here. */
    struct wsse__SecurityHeaderType *wsse__Security 0; /* never sent */
};

/* ---- WS-Policy AppliesTo ---- */

struct wsp__AppliesToType {
    struct wsa5__EndpointReferenceType *wsa5__EndpointReference 0;
};

/* ---- WS-Trust 1.3 ---- */

/* Any single token element, kept as literal XML (never re-serialised). */
struct wst__TokenHolderType {
    _XML __any;
};

struct wst__LifetimeType {
    char *wsu__Created 0;
    char *wsu__Expires 0;
};

struct wst__StatusType {
    char *Code 1;
    char *Reason 0;
};

/* An empty element: <wst:RequestedTokenCancelled/>. */
struct wst__RequestedTokenCancelledType {
};

struct wst__RequestSecurityTokenType {
    @char *Context 0;
    char *TokenType 0;
    char *RequestType 1;
    struct wsp__AppliesToType *wsp__AppliesTo 0;
    _XML Claims 0;
    _XML Entropy 0;
    struct wst__LifetimeType *Lifetime 0;
    struct wst__TokenHolderType *ValidateTarget 0;
    struct wst__TokenHolderType *RenewTarget 0;
    struct wst__TokenHolderType *CancelTarget 0;
    _XML AllowPostdating 0;
    _XML Renewing 0;
    struct wst__TokenHolderType *OnBehalfOf 0;
    char *KeyType 0;
    unsigned int *KeySize 0;
    char *ComputedKeyAlgorithm 0;
    _XML UseKey 0;
    _XML SecondaryParameters 0;
    /* Elements of other namespaces (wst14:ActAs, extensions): kept verbatim
     * so the face can refuse what it does not support rather than drop it. */
    int __size;
    _XML *__any;
};

struct wst__RequestSecurityTokenResponseType {
    @char *Context 0;
    struct wst__LifetimeType *Lifetime 0;
    struct wsp__AppliesToType *wsp__AppliesTo 0;
    struct wst__TokenHolderType *RequestedSecurityToken 0;
    struct wst__TokenHolderType *RequestedAttachedReference 0;
    struct wst__TokenHolderType *RequestedUnattachedReference 0;
    char *TokenType 0;
    char *RequestType 0;
    char *KeyType 0;
    /* SymmetricKey: wst:ComputedKey or wst:BinarySecret, as literal XML */
    struct wst__TokenHolderType *RequestedProofToken 0;
    /* SymmetricKey with requester entropy: the issuer's wst:BinarySecret */
    struct wst__TokenHolderType *Entropy 0;
    unsigned int *KeySize 0;
    struct wst__StatusType *Status 0;
    struct wst__RequestedTokenCancelledType *RequestedTokenCancelled 0;
};

struct wst__RequestSecurityTokenResponseCollectionType {
    int __sizeRequestSecurityTokenResponse 1;
    struct wst__RequestSecurityTokenResponseType *RequestSecurityTokenResponse 1;
};

//gsoap wst service name: SecurityTokenService
//gsoap wst service type: SecurityTokenServicePort
//gsoap wst service namespace: http://docs.oasis-open.org/ws-sx/ws-trust/200512

//gsoap wst service method-action:        Issue    http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue
//gsoap wst service method-output-action: Issue    http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal
int __wst__Issue(
    struct wst__RequestSecurityTokenType *wst__RequestSecurityToken,
    struct wst__RequestSecurityTokenResponseCollectionType *wst__RequestSecurityTokenResponseCollection);

//gsoap wst service method-action:        Validate http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Validate
//gsoap wst service method-output-action: Validate http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/ValidateFinal
int __wst__Validate(
    struct wst__RequestSecurityTokenType *wst__RequestSecurityToken,
    struct wst__RequestSecurityTokenResponseType *wst__RequestSecurityTokenResponse);

//gsoap wst service method-action:        Renew    http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Renew
//gsoap wst service method-output-action: Renew    http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/RenewFinal
int __wst__Renew(
    struct wst__RequestSecurityTokenType *wst__RequestSecurityToken,
    struct wst__RequestSecurityTokenResponseType *wst__RequestSecurityTokenResponse);

//gsoap wst service method-action:        Cancel   http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Cancel
//gsoap wst service method-output-action: Cancel   http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/CancelFinal
int __wst__Cancel(
    struct wst__RequestSecurityTokenType *wst__RequestSecurityToken,
    struct wst__RequestSecurityTokenResponseType *wst__RequestSecurityTokenResponse);
