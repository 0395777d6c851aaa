# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness for the STS integration tests.

Run every test with Debian's /usr/bin/python3 (zeep, lxml, requests). The
environment gives STS_BIN (the sts binary) and STS_SOURCE_DIR (repository root).

Contents:
- Server: start `sts serve` on a free loopback port with a temporary data dir,
  capture its log, stop it with SIGTERM.
- SOAP 1.1/1.2 envelopes, WS-Addressing headers, wsse:Security with
  wsu:Timestamp and UsernameToken (text or digest).
- RST builders for Issue/Validate/Renew/Cancel; raw POST over http.client.
- Parsers: faults, RSTR/RSTRC, assertions (lxml, never re-serialised for
  signature checks: the assertion is cut out of the HTTP body as raw bytes).
- External verifiers: xmlsec1, samlsign, SAML 2.0 schema (offline, local XSDs).
- Store snapshots (sqlite3 read-only), a loopback listener that counts
  connections, a fixture signer (xmlsec1 --sign) for forged assertions.
- StsTestCase: unittest base class with the common refusal assertions.
"""
import atexit
import base64
import collections
import copy
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from lxml import etree

# --------------------------------------------------------------------------
# Paths and constants
# --------------------------------------------------------------------------
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("STS_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
STS_BIN = os.environ.get("STS_BIN") or os.path.join(SOURCE_DIR, "build", "sts")
CERTS = os.path.join(SOURCE_DIR, "certs")
SIGNING_KEY = os.path.join(CERTS, "sts-signing.key")
SIGNING_CERT = os.path.join(CERTS, "sts-signing.crt")
DEV_SECRETS_KEY = os.path.join(CERTS, "dev-secrets.key")


def _private_copy(path):
    """A 0600 copy of @path in a fresh temporary directory: a config file makes
    the STS insist on private key files, and a git checkout leaves certs/ 0644."""
    d = tempfile.mkdtemp(prefix="sts-test-keys-")
    atexit.register(shutil.rmtree, d, True)
    dst = os.path.join(d, os.path.basename(path))
    shutil.copyfile(path, dst)
    os.chmod(dst, 0o600)
    return dst


SECRETS_KEY = _private_copy(DEV_SECRETS_KEY)
WSDL_FILE = os.path.join(SOURCE_DIR, "wsdl", "sts.wsdl")

SAML_XSD_DIR = "/usr/share/xml/opensaml"
XMLTOOLING_XSD_DIR = "/usr/share/xml/xmltooling"

ISSUER = "https://sts.example.com/"
RP = "https://rp.example.com/"
USER = "alice"
PASSWORD = "wonderland"
USER_ATTRS = {"email": "alice@example.com", "displayName": "Alice Liddell", "role": "doctor"}

NS = {
    "s11": "http://schemas.xmlsoap.org/soap/envelope/",
    "s12": "http://www.w3.org/2003/05/soap-envelope",
    "wst": "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsse11": "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy",
    "saml2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "sp": "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702",
}
WST = NS["wst"]
ENV_NS = {11: NS["s11"], 12: NS["s12"]}

UT_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PW_TEXT = UT_PROFILE + "#PasswordText"
PW_DIGEST = UT_PROFILE + "#PasswordDigest"
B64_ENC = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
WSA_ANON = "http://www.w3.org/2005/08/addressing/anonymous"

REQUEST_TYPE = {b: WST + "/" + b for b in ("Issue", "Validate", "Renew", "Cancel")}
ACTION = {b: WST + "/RST/" + b for b in ("Issue", "Validate", "Renew", "Cancel")}
REPLY_ACTION = {
    "Issue": WST + "/RSTRC/IssueFinal",
    "Validate": WST + "/RSTR/ValidateFinal",
    "Renew": WST + "/RSTR/RenewFinal",
    "Cancel": WST + "/RSTR/CancelFinal",
}
TT_SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
TT_SAML2_PROFILE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
TT_STATUS = WST + "/RSTR/Status"
SAMLID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
KT_BEARER = WST + "/Bearer"
KT_SYMMETRIC = WST + "/SymmetricKey"
KT_PUBLIC = WST + "/PublicKey"
STATUS_VALID = WST + "/status/valid"
STATUS_INVALID = WST + "/status/invalid"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
ALG_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ALG_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ALG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ALG_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

FAULT_TEXT = {
    "InvalidRequest": "The request was invalid or malformed",
    "FailedAuthentication": "Authentication failed",
    "RequestFailed": "The specified request failed",
    "InvalidSecurityToken": "Security token has been revoked",
    "BadRequest": "The specified RequestSecurityToken is not understood",
    "InvalidTimeRange": "The requested time range is invalid or unsupported",
    "InvalidScope": "The request scope is invalid or unsupported",
    "UnableToRenew": "The requested renewal failed",
    "ExpiredData": "The request data is out-of-date",
    "AuthenticationBadElements": "Insufficient Digest Elements",
    "RenewNeeded": "A renewable security token has expired",
}

# wst:Status/wst:Reason of Validate: one text per status, whatever the cause
VALIDATE_REASON_VALID = "The token is valid."
VALIDATE_REASON_INVALID = "The token is not valid."
# Renew and Cancel of a target that does not verify (README fault table)
BAD_TARGET_FAULT = {"Renew": "UnableToRenew", "Cancel": "RequestFailed"}

DEFAULT = object()  # "compute the usual value"; None means "omit"

HTTP_TIMEOUT = 15.0


# --------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------
def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def fmt_time(dt):
    """xs:dateTime in UTC, second precision: YYYY-MM-DDTHH:MM:SSZ."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(offset=0):
    """Now + offset seconds, formatted."""
    return fmt_time(utcnow() + datetime.timedelta(seconds=offset))


_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(text):
    """Parse an xs:dateTime (Z, offset or fraction) into an aware datetime."""
    m = _DT_RE.match((text or "").strip())
    if not m:
        raise ValueError("not an xs:dateTime: %r" % text)
    y, mo, d, h, mi, s = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
    frac = m.group(7)
    us = int(round(float(frac) * 1e6)) if frac else 0
    if us >= 1000000:
        us = 999999
    tz = m.group(8)
    if tz in (None, "Z"):
        tzinfo = datetime.timezone.utc
    else:
        sign = 1 if tz[0] == "+" else -1
        tzinfo = datetime.timezone(sign * datetime.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    return datetime.datetime(y, mo, d, h, mi, s, us, tzinfo=tzinfo)


# --------------------------------------------------------------------------
# XML helpers
# --------------------------------------------------------------------------
def safe_parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_blank_text=False)


def parse_xml(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return etree.fromstring(data, safe_parser())


def q(prefix, local):
    return "{%s}%s" % (NS[prefix], local)


def qname_value(el):
    """Resolve the QName text content of @el to Clark notation {ns}local."""
    text = (el.text or "").strip()
    if ":" in text:
        prefix, local = text.split(":", 1)
    else:
        prefix, local = None, text
    ns = el.nsmap.get(prefix)
    if ns is None:
        return text  # unresolvable: return as is so that the comparison fails visibly
    return "{%s}%s" % (ns, local)


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


# --------------------------------------------------------------------------
# Envelope builders
# --------------------------------------------------------------------------
def timestamp_xml(created_offset=0, expires_offset=300, created=None, expires=None,
                  with_created=True, with_expires=True, wsu_id="TS-1"):
    """wsu:Timestamp; offsets are seconds from now."""
    c = created if created is not None else ts(created_offset)
    e = expires if expires is not None else ts(created_offset + expires_offset)
    parts = ['<wsu:Timestamp wsu:Id="%s">' % wsu_id]
    if with_created:
        parts.append("<wsu:Created>%s</wsu:Created>" % c)
    if with_expires:
        parts.append("<wsu:Expires>%s</wsu:Expires>" % e)
    parts.append("</wsu:Timestamp>")
    return "".join(parts)


def digest_of(nonce_bytes, created, password):
    return base64.b64encode(hashlib.sha1(nonce_bytes + created.encode() + password.encode())
                            .digest()).decode()


def username_token_xml(username=USER, password=PASSWORD, digest=False, nonce=None,
                       created=None, created_offset=0, with_type=True, raw_username=None,
                       text_nonce=False):
    """wsse:UsernameToken. digest=True: PasswordDigest with Nonce (bytes) and Created.
    raw_username: inserted verbatim (for entity tests); otherwise escaped."""
    uname = raw_username if raw_username is not None else xml_escape(username)
    parts = ['<wsse:UsernameToken wsu:Id="UT-1">', "<wsse:Username>%s</wsse:Username>" % uname]
    if digest:
        nonce = nonce if nonce is not None else os.urandom(16)
        created = created if created is not None else ts(created_offset)
        parts.append('<wsse:Password Type="%s">%s</wsse:Password>'
                     % (PW_DIGEST, digest_of(nonce, created, password)))
        parts.append('<wsse:Nonce EncodingType="%s">%s</wsse:Nonce>'
                     % (B64_ENC, base64.b64encode(nonce).decode()))
        parts.append("<wsu:Created>%s</wsu:Created>" % created)
    else:
        typ = ' Type="%s"' % PW_TEXT if with_type else ""
        parts.append("<wsse:Password%s>%s</wsse:Password>" % (typ, xml_escape(password)))
        if text_nonce:
            parts.append('<wsse:Nonce EncodingType="%s">%s</wsse:Nonce>'
                         % (B64_ENC, base64.b64encode(os.urandom(16)).decode()))
            parts.append("<wsu:Created>%s</wsu:Created>" % (created or ts(created_offset)))
    parts.append("</wsse:UsernameToken>")
    return "".join(parts)


def security_xml(version=12, timestamp=DEFAULT, username_token=DEFAULT, must_understand=True,
                 **ut_kwargs):
    """wsse:Security with a Timestamp and a UsernameToken (either may be None = omitted,
    or a string = used verbatim). Extra kwargs go to username_token_xml()."""
    if timestamp is DEFAULT:
        timestamp = timestamp_xml()
    if username_token is DEFAULT:
        username_token = username_token_xml(**ut_kwargs)
    mu = ' s:mustUnderstand="1"' if must_understand else ""
    return ('<wsse:Security%s xmlns:wsse="%s" xmlns:wsu="%s">%s%s</wsse:Security>'
            % (mu, NS["wsse"], NS["wsu"], timestamp or "", username_token or ""))


def wsa_xml(action, to=None, message_id=DEFAULT, reply_to=DEFAULT, fault_to=None,
            must_understand=True):
    """WS-Addressing 1.0 headers, MSAL/WCF style."""
    mu = ' s:mustUnderstand="1"' if must_understand else ""
    parts = []
    if action is not None:
        parts.append('<wsa:Action%s>%s</wsa:Action>' % (mu, action))
    if message_id is DEFAULT:
        message_id = "urn:uuid:" + str(uuid.uuid4())
    if message_id is not None:
        parts.append("<wsa:MessageID>%s</wsa:MessageID>" % message_id)
    if reply_to is DEFAULT:
        reply_to = WSA_ANON
    if reply_to is not None:
        parts.append("<wsa:ReplyTo><wsa:Address>%s</wsa:Address></wsa:ReplyTo>" % reply_to)
    if fault_to is not None:
        parts.append("<wsa:FaultTo><wsa:Address>%s</wsa:Address></wsa:FaultTo>" % fault_to)
    if to is not None:
        parts.append('<wsa:To%s>%s</wsa:To>' % (mu, to))
    return "".join(parts)


def envelope(body, version=12, headers="", prolog='<?xml version="1.0" encoding="utf-8"?>'):
    """A SOAP envelope (prefix s: for both versions) as bytes."""
    env_ns = ENV_NS[version]
    doc = ('%s<s:Envelope xmlns:s="%s" xmlns:wsa="%s" xmlns:wsu="%s">'
           '<s:Header>%s</s:Header><s:Body>%s</s:Body></s:Envelope>'
           % (prolog or "", env_ns, NS["wsa"], NS["wsu"], headers, body))
    return doc.encode("utf-8")


# --------------------------------------------------------------------------
# RST builders
# --------------------------------------------------------------------------
def _as_text(x):
    return x.decode("utf-8") if isinstance(x, (bytes, bytearray)) else x


def applies_to_xml(address):
    return ('<wsp:AppliesTo xmlns:wsp="%s"><wsa:EndpointReference xmlns:wsa="%s">'
            '<wsa:Address>%s</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>'
            % (NS["wsp"], NS["wsa"], xml_escape(address)))


def rst_xml(request_type, inner=""):
    return ('<wst:RequestSecurityToken xmlns:wst="%s">%s<wst:RequestType>%s</wst:RequestType>'
            '</wst:RequestSecurityToken>' % (WST, inner, request_type))


def rst_issue(applies_to=RP, token_type=None, key_type=KT_BEARER, lifetime=None,
              request_type=DEFAULT, extra=""):
    """Issue RST, MSAL order (AppliesTo, KeyType, then RequestType).
    lifetime: (created or None, expires or None) strings."""
    inner = []
    if token_type is not None:
        inner.append("<wst:TokenType>%s</wst:TokenType>" % token_type)
    if applies_to is not None:
        inner.append(applies_to_xml(applies_to))
    if lifetime is not None:
        created, expires = lifetime
        lt = ["<wst:Lifetime>"]
        if created is not None:
            lt.append('<wsu:Created xmlns:wsu="%s">%s</wsu:Created>' % (NS["wsu"], created))
        if expires is not None:
            lt.append('<wsu:Expires xmlns:wsu="%s">%s</wsu:Expires>' % (NS["wsu"], expires))
        lt.append("</wst:Lifetime>")
        inner.append("".join(lt))
    if key_type is not None:
        inner.append("<wst:KeyType>%s</wst:KeyType>" % key_type)
    inner.append(extra)
    rt = REQUEST_TYPE["Issue"] if request_type is DEFAULT else request_type
    return rst_xml(rt, "".join(inner))


def rst_target(binding, token, request_type=DEFAULT, raw_target=None):
    """Validate/Renew/Cancel RST with <wst:{binding}Target> holding @token
    (raw bytes or str, inserted verbatim). raw_target: whole target element verbatim
    (or "" to omit it)."""
    if raw_target is not None:
        target = raw_target
    else:
        target = "<wst:%sTarget>%s</wst:%sTarget>" % (binding, _as_text(token), binding)
    rt = REQUEST_TYPE[binding] if request_type is DEFAULT else request_type
    tt = ("<wst:TokenType>%s</wst:TokenType>" % TT_STATUS) if binding == "Validate" else ""
    return rst_xml(rt, tt + target)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------
Response = collections.namedtuple("Response", "status headers body elapsed")


def http_request(host, port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT,
                 context=None):
    """One request on a new connection; @context (an ssl.SSLContext): over TLS."""
    if context is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return Response(r.status, hdrs, data, time.monotonic() - t0)
    finally:
        conn.close()


def soap_headers(version, action=None, soapaction=DEFAULT):
    """HTTP headers for a SOAP POST. SOAP 1.1: SOAPAction (soapaction overrides the
    action; None omits the header). SOAP 1.2: action parameter in Content-Type."""
    if version == 11:
        h = {"Content-Type": "text/xml; charset=utf-8"}
        sa = action if soapaction is DEFAULT else soapaction
        if sa is not None:
            h["SOAPAction"] = '"%s"' % sa
    else:
        ct = "application/soap+xml; charset=utf-8"
        sa = action if soapaction is DEFAULT else soapaction
        if sa is not None:
            ct += '; action="%s"' % sa
        h = {"Content-Type": ct}
    return h


# --------------------------------------------------------------------------
# Response parsing
# --------------------------------------------------------------------------
Fault = collections.namedtuple("Fault", "version status code subcode reason")


def soap_version_of(root):
    for v, ns in ENV_NS.items():
        if root.tag == "{%s}Envelope" % ns:
            return v
    return None


def body_child(root):
    v = soap_version_of(root)
    if v is None:
        raise AssertionError("not a SOAP envelope: %s" % root.tag)
    body = root.find("{%s}Body" % ENV_NS[v])
    if body is None or len(body) == 0:
        raise AssertionError("empty SOAP body")
    return body[0]


def parse_fault(resp):
    """Fault(version, http status, code {ns}local, subcode {ns}local or None, reason),
    or None when the body is not a SOAP fault."""
    try:
        root = parse_xml(resp.body)
    except etree.XMLSyntaxError:
        return None
    v = soap_version_of(root)
    if v is None:
        return None
    env = ENV_NS[v]
    f = root.find("{%s}Body/{%s}Fault" % (env, env))
    if f is None:
        return None
    if v == 11:
        code_el = f.find("faultcode")
        reason_el = f.find("faultstring")
        code = qname_value(code_el) if code_el is not None else None
        return Fault(11, resp.status, code, None,
                     reason_el.text if reason_el is not None else None)
    code_el = f.find("{%s}Code/{%s}Value" % (env, env))
    sub_el = f.find("{%s}Code/{%s}Subcode/{%s}Value" % (env, env, env))
    reason_el = f.find("{%s}Reason/{%s}Text" % (env, env))
    return Fault(12, resp.status,
                 qname_value(code_el) if code_el is not None else None,
                 qname_value(sub_el) if sub_el is not None else None,
                 reason_el.text if reason_el is not None else None)


def reply_headers(root):
    v = soap_version_of(root)
    h = root.find("{%s}Header" % ENV_NS[v])
    return h


class Rstr:
    """Facts of one wst:RequestSecurityTokenResponse element."""

    def __init__(self, el):
        self.el = el
        self.children = [c.tag for c in el if isinstance(c.tag, str)]

        def text(path):
            x = el.find(path, NS)
            return x.text.strip() if x is not None and x.text is not None else None
        self.lifetime_created = text("wst:Lifetime/wsu:Created")
        self.lifetime_expires = text("wst:Lifetime/wsu:Expires")
        self.applies_to = text("wsp:AppliesTo/wsa:EndpointReference/wsa:Address")
        self.token_type = text("wst:TokenType")
        self.request_type = text("wst:RequestType")
        self.key_type = text("wst:KeyType")
        self.status_code = text("wst:Status/wst:Code")
        self.status_reason = text("wst:Status/wst:Reason")
        rst = el.find("wst:RequestedSecurityToken", NS)
        self.requested_token = rst
        self.assertion = rst.find("saml2:Assertion", NS) if rst is not None else None
        self.cancelled = el.find("wst:RequestedTokenCancelled", NS)
        self.refs = {}
        for name in ("RequestedAttachedReference", "RequestedUnattachedReference"):
            r = el.find("wst:" + name, NS)
            if r is None:
                continue
            str_el = r.find("wsse:SecurityTokenReference", NS)
            kid = str_el.find("wsse:KeyIdentifier", NS) if str_el is not None else None
            self.refs[name] = {
                "str": str_el,
                "children": len(r),
                "token_type": str_el.get(q("wsse11", "TokenType")) if str_el is not None else None,
                "value_type": kid.get("ValueType") if kid is not None else None,
                "key_id": kid.text.strip() if kid is not None and kid.text else None,
            }


def parse_rstr_response(resp, collection):
    """Return (root, [Rstr]) for an RSTRC (collection=True) or a bare RSTR."""
    root = parse_xml(resp.body)
    child = body_child(root)
    if collection:
        if child.tag != q("wst", "RequestSecurityTokenResponseCollection"):
            raise AssertionError("expected RSTRC, got %s" % child.tag)
        items = [Rstr(c) for c in child if isinstance(c.tag, str)]
    else:
        if child.tag != q("wst", "RequestSecurityTokenResponse"):
            raise AssertionError("expected RSTR, got %s" % child.tag)
        items = [Rstr(child)]
    return root, items


# --------------------------------------------------------------------------
# Assertions (SAML)
# --------------------------------------------------------------------------
def _extract_one(body, qname):
    """The one @qname element (b"saml2:Assertion") of an HTTP body, as raw bytes
    (no re-serialisation)."""
    start_tag, end_tag = b"<" + qname, b"</" + qname + b">"
    starts = [m.start() for m in re.finditer(re.escape(start_tag) + rb"[\s>/]", body)]
    ends = [m.start() for m in re.finditer(re.escape(end_tag), body)]
    if len(starts) != 1 or len(ends) != 1:
        raise AssertionError("expected exactly one %s in the body, found %d/%d"
                             % (qname.decode(), len(starts), len(ends)))
    if ends[0] < starts[0]:
        raise AssertionError("%s end before start" % qname.decode())
    return body[starts[0]:ends[0] + len(end_tag)]


def extract_assertion_bytes(body):
    """The one saml2:Assertion of an HTTP body, as raw bytes (no re-serialisation)."""
    return _extract_one(body, b"saml2:Assertion")


Assertion = collections.namedtuple(
    "Assertion", "el id issuer subject conf_method not_before not_on_or_after audiences "
                 "attributes child_tags sig")


def assertion_facts(data):
    """Parse assertion bytes (or an lxml element) into an Assertion tuple."""
    el = data if isinstance(data, etree._Element) else parse_xml(data)

    def text(path):
        x = el.find(path, NS)
        return x.text.strip() if x is not None and x.text is not None else None
    cond = el.find("saml2:Conditions", NS)
    attrs = {}
    for a in el.findall("saml2:AttributeStatement/saml2:Attribute", NS):
        attrs[a.get("Name")] = [v.text for v in a.findall("saml2:AttributeValue", NS)]
    sig = el.find("ds:Signature", NS)
    sig_facts = None
    if sig is not None:
        refs = sig.findall("ds:SignedInfo/ds:Reference", NS)
        sig_facts = {
            "c14n": sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm"),
            "method": sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm"),
            "references": [r.get("URI") for r in refs],
            "transforms": [t.get("Algorithm") for t in refs[0].findall(
                "ds:Transforms/ds:Transform", NS)] if refs else [],
            "digest": (refs[0].find("ds:DigestMethod", NS).get("Algorithm") if refs else None),
            "x509": [x.text.strip() for x in sig.findall(
                "ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)],
        }
    scm = el.find("saml2:Subject/saml2:SubjectConfirmation", NS)
    return Assertion(
        el=el, id=el.get("ID"), issuer=text("saml2:Issuer"),
        subject=text("saml2:Subject/saml2:NameID"),
        conf_method=scm.get("Method") if scm is not None else None,
        not_before=cond.get("NotBefore") if cond is not None else None,
        not_on_or_after=cond.get("NotOnOrAfter") if cond is not None else None,
        audiences=[a.text for a in el.findall(
            "saml2:Conditions/saml2:AudienceRestriction/saml2:Audience", NS)],
        attributes=attrs,
        child_tags=[c.tag for c in el if isinstance(c.tag, str)],
        sig=sig_facts)


def cert_b64(path=SIGNING_CERT):
    """Base64 body of a PEM certificate, no line breaks."""
    with open(path) as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    return "".join(m.group(1).split())


Tool = collections.namedtuple("Tool", "ok rc output")


def _run(cmd, timeout=60, input_bytes=None):
    try:
        p = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Tool(False, -1, "timeout: %s" % " ".join(cmd))
    return Tool(p.returncode == 0, p.returncode, p.stdout.decode("utf-8", "replace"))


def _tmpfile(data, suffix=".xml"):
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="sts-test-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _xmlsec_verify(data, id_attr, element, cert):
    """xmlsec1 --verify of @data with the public key of @cert, @id_attr of
    @element ("ns:local") registered as the ID."""
    path = _tmpfile(data)
    try:
        return _run(["xmlsec1", "--verify", "--id-attr:" + id_attr, element,
                     "--pubkey-cert-pem", cert, path])
    finally:
        os.unlink(path)


def xmlsec_verify(assertion, cert=SIGNING_CERT):
    """xmlsec1 --verify of standalone assertion bytes with the public key of @cert."""
    return _xmlsec_verify(assertion, "ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                          cert)


def samlsign_verify(assertion, cert=SIGNING_CERT):
    """samlsign (OpenSAML) verification: SAML signature profile + key from @cert."""
    path = _tmpfile(assertion)
    try:
        return _run(["samlsign", "-c", cert, "-f", path])
    finally:
        os.unlink(path)


class _LocalResolver(etree.Resolver):
    """Map schema locations to local files; refuse everything else (no network)."""
    MAP = {
        "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd":
            os.path.join(XMLTOOLING_XSD_DIR, "xmldsig-core-schema.xsd"),
        "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd":
            os.path.join(XMLTOOLING_XSD_DIR, "xenc-schema.xsd"),
    }

    def resolve(self, url, pubid, context):
        if url in self.MAP:
            return self.resolve_filename(self.MAP[url], context)
        base = os.path.basename(url)
        for d in (XMLTOOLING_XSD_DIR, SAML_XSD_DIR):
            cand = os.path.join(d, base)
            if os.path.exists(cand) and (url.startswith("/") or "://" not in url
                                         or url.startswith("file:")):
                return self.resolve_filename(cand, context)
        raise etree.XMLSchemaParseError("refusing to fetch %s" % url)


_SCHEMAS = {}


def _schema(xsd, resolver):
    """The XMLSchema of SAML_XSD_DIR/@xsd, loaded once, offline (imports through @resolver)."""
    if xsd not in _SCHEMAS:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        parser.resolvers.add(resolver)
        _SCHEMAS[xsd] = etree.XMLSchema(etree.parse(os.path.join(SAML_XSD_DIR, xsd), parser))
    return _SCHEMAS[xsd]


def _schema_validate(schema, assertion):
    ok = schema.validate(parse_xml(assertion))
    return Tool(ok, 0 if ok else 1, "\n".join(str(e) for e in schema.error_log))


def saml_schema():
    return _schema("saml-schema-assertion-2.0.xsd", _LocalResolver())


def schema_validate(assertion):
    """Validate assertion bytes against saml-schema-assertion-2.0.xsd (offline)."""
    return _schema_validate(saml_schema(), assertion)


def xmllint_wellformed(data):
    path = _tmpfile(data)
    try:
        return _run(["xmllint", "--noout", "--nonet", path])
    finally:
        os.unlink(path)


# --------------------------------------------------------------------------
# Fixture signer (forged or foreign assertions)
# --------------------------------------------------------------------------
def make_keypair(directory, cn="Evil Signer"):
    """RSA 2048 key + self-signed certificate with openssl. Returns (key, cert)."""
    key = os.path.join(directory, "evil.key")
    crt = os.path.join(directory, "evil.crt")
    r = _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
              "-out", crt, "-days", "2", "-subj", "/CN=%s" % cn])
    if not r.ok:
        raise RuntimeError("openssl failed: %s" % r.output)
    return key, crt


SIG_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="%(c14n)s"/>'
    '<ds:SignatureMethod Algorithm="%(rsa)s"/>'
    '<ds:Reference URI="#%(id)s"><ds:Transforms>'
    '<ds:Transform Algorithm="%(env)s"/><ds:Transform Algorithm="%(c14n)s"/>'
    '</ds:Transforms><ds:DigestMethod Algorithm="%(sha)s"/><ds:DigestValue/></ds:Reference>'
    '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/>'
    '</ds:X509Data></ds:KeyInfo></ds:Signature>')


def sign_assertion(assertion, key, cert):
    """(Re-)sign assertion bytes or element: drop any ds:Signature child, put an
    enveloped exc-c14n RSA-SHA256 template right after Issuer, sign with xmlsec1.
    Returns the signed assertion as bytes without XML declaration."""
    el = copy.deepcopy(assertion) if isinstance(assertion, etree._Element) else parse_xml(assertion)
    for s in el.findall("ds:Signature", NS):
        el.remove(s)
    tmpl = parse_xml(SIG_TEMPLATE % {"c14n": ALG_EXC_C14N, "rsa": ALG_RSA_SHA256, "id": el.get("ID"),
                                     "env": ALG_ENVELOPED, "sha": ALG_SHA256})
    issuer = el.find("saml2:Issuer", NS)
    pos = list(el).index(issuer) + 1 if issuer is not None else 0
    el.insert(pos, tmpl)
    src = _tmpfile(etree.tostring(el))
    out = src + ".signed"
    try:
        r = _run(["xmlsec1", "--sign", "--privkey-pem", "%s,%s" % (key, cert), "--id-attr:ID",
                  "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", "--output", out, src])
        if not r.ok:
            raise RuntimeError("xmlsec1 --sign failed: %s" % r.output)
        with open(out, "rb") as f:
            data = f.read()
    finally:
        for p in (src, out):
            if os.path.exists(p):
                os.unlink(p)
    return re.sub(rb"^<\?xml[^>]*\?>\s*", b"", data).strip()


def make_assertion(subject=USER, audience=RP, issuer=ISSUER, assertion_id=None,
                   lifetime=3600, not_before_offset=0):
    """An unsigned SAML 2.0 bearer assertion shaped like ours (for forgeries)."""
    aid = assertion_id or "_" + uuid.uuid4().hex
    nb = ts(not_before_offset)
    na = ts(not_before_offset + lifetime)
    now = ts()
    attrs = "".join(
        '<saml2:Attribute Name="%s"><saml2:AttributeValue>%s</saml2:AttributeValue>'
        '</saml2:Attribute>' % (k, xml_escape(v)) for k, v in USER_ATTRS.items())
    xml = (
        '<saml2:Assertion xmlns:saml2="%(saml)s" ID="%(id)s" IssueInstant="%(now)s" Version="2.0">'
        '<saml2:Issuer>%(iss)s</saml2:Issuer>'
        '<saml2:Subject><saml2:NameID>%(sub)s</saml2:NameID>'
        '<saml2:SubjectConfirmation Method="%(cm)s"><saml2:SubjectConfirmationData '
        'NotOnOrAfter="%(na)s"/></saml2:SubjectConfirmation></saml2:Subject>'
        '<saml2:Conditions NotBefore="%(nb)s" NotOnOrAfter="%(na)s"><saml2:AudienceRestriction>'
        '<saml2:Audience>%(aud)s</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>'
        '<saml2:AuthnStatement AuthnInstant="%(now)s"><saml2:AuthnContext>'
        '<saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password'
        '</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>'
        '<saml2:AttributeStatement>%(attrs)s</saml2:AttributeStatement></saml2:Assertion>'
        % {"saml": NS["saml2"], "id": aid, "now": now, "iss": xml_escape(issuer),
           "sub": xml_escape(subject), "cm": CM_BEARER, "na": na, "nb": nb,
           "aud": xml_escape(audience), "attrs": attrs})
    return xml.encode()


# --------------------------------------------------------------------------
# Loopback listener (SSRF / XXE / ReplyTo probes)
# --------------------------------------------------------------------------
class ConnCounter:
    """Listen on 127.0.0.1:random and count connections (each is answered with
    nothing and closed)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.count = 0
        self.data = b""
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            try:
                c.settimeout(0.5)
                self.data += c.recv(4096)
            except OSError:
                pass
            finally:
                c.close()

    def close(self, settle=1.0):
        """Wait @settle seconds for late connections, stop, return the count."""
        time.sleep(settle)
        self._stop.set()
        self._t.join(2)
        self.sock.close()
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._stop.is_set():
            self.close(0)


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------
class Server:
    """One `sts serve` process with its own temporary data dir and log file.
    Optional: tls=True when @config has server.tls_cert/tls_key (the helpers
    below then speak https, trusting certs/ca.crt: see tls_config()); @listen
    replaces the --listen address (clients still connect to 127.0.0.1)."""

    LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")

    def __init__(self, name="sts", config=None, start_timeout=15.0, tls=False,
                 listen="127.0.0.1:0"):
        self.tmp = tempfile.mkdtemp(prefix="sts-it-%s-" % name)
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.log_path = os.path.join(self.tmp, "sts.log")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.tmp, "config.json")
            with open(self.config_path, "w") as f:
                if isinstance(config, str):
                    f.write(config)
                else:
                    json.dump(config, f, indent=2)
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.logged_port = None
        self.died_early = False
        self.host = "127.0.0.1"
        self.exit_code = None
        self.tls = tls
        self.listen = listen
        self.scheme = "https" if tls else "http"
        self.ca_file = TLS_CA_CERT if tls else None
        self.ssl_context = tls_client_context() if tls else None
        if tls or listen != "127.0.0.1:0":
            self.LISTEN_RE = re.compile(r"listening on %s://%s:(\d+)" % (
                self.scheme, re.escape(listen.rsplit(":", 1)[0])))

    @property
    def url(self):
        return "%s://%s:%d/sts" % (self.scheme, self.host, self.port)

    def start(self):
        if not os.path.exists(STS_BIN):
            raise RuntimeError("STS binary not found: %s" % STS_BIN)
        cmd = [STS_BIN, "serve", "--listen", self.listen, "--data-dir", self.data_dir]
        if self.config_path:
            cmd += ["--config", self.config_path]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, cwd=self.tmp)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = self.LISTEN_RE.search(self.log_text())
            if m:
                self.logged_port = int(m.group(1))
                self.port = self.logged_port
                if self.port == 0:
                    # contract violation (the line must carry the bound port); find the
                    # real one so that the other tests can still run
                    self.port = self._listening_port()
                if self.port:
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError("sts exited with %s before listening; log:\n%s"
                                   % (self.proc.returncode, self.log_text()[-4000:]))
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("sts did not report 'listening on' within %.0fs; log:\n%s"
                           % (self.start_timeout, self.log_text()[-4000:]))

    def _listening_port(self):
        """The TCP port the process listens on (from /proc), or None."""
        inodes = set()
        fd_dir = "/proc/%d/fd" % self.proc.pid
        try:
            for fd in os.listdir(fd_dir):
                try:
                    link = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            return None
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        cols = line.split()
                        if cols[3] == "0A" and cols[9] in inodes:
                            return int(cols[1].rsplit(":", 1)[1], 16)
            except OSError:
                continue
        return None

    def stop(self, timeout=5.0):
        """SIGTERM; return the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.died_early = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.exit_code = None
        else:
            self.exit_code = self.proc.returncode
        self._log.close()
        return self.exit_code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def cleanup(self):
        if os.environ.get("STS_KEEP_TMP"):
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- log ---
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, mark):
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, mark, pattern, timeout=3.0):
        """First line after byte @mark that matches regex @pattern, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_since(mark).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    # --- HTTP ---
    def get(self, path, timeout=HTTP_TIMEOUT):
        return http_request(self.host, self.port, "GET", path, timeout=timeout,
                            context=self.ssl_context)

    def post_raw(self, body, headers, path="/sts", timeout=HTTP_TIMEOUT):
        return http_request(self.host, self.port, "POST", path, body=body, headers=headers,
                            timeout=timeout, context=self.ssl_context)

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return self.get("/health", timeout=5).status == 200
        except OSError:
            return False

    def soap(self, binding, rst, version=12, action=DEFAULT, soapaction=DEFAULT, wsa=False,
             wsa_action=DEFAULT, message_id=DEFAULT, reply_to=DEFAULT, fault_to=None,
             security=DEFAULT, extra_headers="", prolog=DEFAULT, timeout=HTTP_TIMEOUT,
             **sec_kwargs):
        """POST one SOAP request.
        binding: Issue/Validate/Renew/Cancel (selects the default action).
        action: None = no HTTP-level action; soapaction overrides it (SOAP 1.1 header
        or SOAP 1.2 Content-Type action parameter).
        wsa: add WS-Addressing headers (Action=wsa_action, MessageID, ReplyTo, To).
        security: None = no wsse:Security, a string = verbatim, DEFAULT = built from
        sec_kwargs (see security_xml)."""
        act = ACTION[binding] if action is DEFAULT else action
        headers = ""
        if wsa:
            wa = act if wsa_action is DEFAULT else wsa_action
            headers += wsa_xml(wa, to=self.url, message_id=message_id, reply_to=reply_to,
                               fault_to=fault_to)
        if security is DEFAULT:
            security = security_xml(version, **sec_kwargs)
        headers += (security or "") + extra_headers
        kw = {} if prolog is DEFAULT else {"prolog": prolog}
        body = envelope(_as_text(rst), version, headers, **kw)
        return self.post_raw(body, soap_headers(version, act, soapaction), timeout=timeout)

    def issue(self, version=12, applies_to=RP, **kw):
        rst_kw = {k: kw.pop(k) for k in ("token_type", "key_type", "lifetime", "extra")
                  if k in kw}
        return self.soap("Issue", rst_issue(applies_to=applies_to, **rst_kw), version, **kw)

    def validate(self, token, version=12, **kw):
        return self.soap("Validate", rst_target("Validate", token), version, **kw)

    def renew(self, token, version=12, **kw):
        return self.soap("Renew", rst_target("Renew", token), version, **kw)

    def cancel(self, token, version=12, **kw):
        return self.soap("Cancel", rst_target("Cancel", token), version, **kw)

    # --- store ---
    @property
    def db_path(self):
        return os.path.join(self.data_dir, "tokens.db")

    def snapshot(self):
        """All token rows as a list of dicts, ordered by id ([] when no store yet)."""
        if not os.path.exists(self.db_path):
            return []
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM tokens ORDER BY id")]
        finally:
            con.close()

    def row(self, token_id):
        for r in self.snapshot():
            if r["id"] == token_id:
                return r
        return None


def default_config(**engine_overrides):
    """A config file mirroring the embedded default (for short lifetimes etc.);
    engine_overrides replace keys of the "engine" section."""
    engine = {
        "issuer": ISSUER,
        "signing_key": SIGNING_KEY,
        "signing_cert": SIGNING_CERT,
        "secrets_key": SECRETS_KEY,
        "default_lifetime": 3600,
        "max_lifetime": 3600,
        "clock_skew": 300,
        "renew_window": 3600,
    }
    engine.update(engine_overrides)
    return {
        "engine": engine,
        "relying_parties": [{"applies_to": RP, "match": "exact"}],
        "users": [alice_user()],
    }


def make_user(name, password, attributes=None):
    """A config user entry made by `sts passwd --digest` (hash + sealed digest secret
    under certs/dev-secrets.key)."""
    p = subprocess.run([STS_BIN, "passwd", "--digest"], input=password.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("sts passwd failed: %s" % p.stderr.decode("utf-8", "replace"))
    entry = json.loads("{%s}" % p.stdout.decode().strip())
    entry["name"] = name
    entry["attributes"] = attributes or {}
    return entry


# alice as in the embedded default of src/core/sts_cfg.c (password "wonderland";
# digest_secret sealed under certs/dev-secrets.key). Read from the source when
# possible so that a resealed secret (make-dev-pki.sh --force) is picked up.
_ALICE_HASH = "$y$j9T$xSLkU4/TMywYzBVcUsr3w.$11iZ4FG//tHMIQ5ZGhz7KhtAPCOx7vPprizPPsTxrP5"
_ALICE_DIGEST = "v1:OyLGPpLrp0SlrhJgJoNBNqOR1i2o+8PYEcAmchOQTQ/VwbAbR0A="


def alice_user():
    h, d = _ALICE_HASH, _ALICE_DIGEST
    try:
        with open(os.path.join(SOURCE_DIR, "src", "core", "sts_cfg.c")) as f:
            src = f.read()
        m = re.search(r'password_hash\\": "\s*"\\"(\$[^"\\]+)\\"', src)
        if m:
            h = m.group(1)
        m = re.search(r'digest_secret\\": \\"(v1:[^"\\]+)\\"', src)
        if m:
            d = m.group(1)
    except OSError:
        pass
    return {"name": USER, "password_hash": h, "digest_secret": d,
            "attributes": dict(USER_ATTRS)}


# --------------------------------------------------------------------------
# unittest base class
# --------------------------------------------------------------------------
# What must never appear in a server log (issue #5: "no token, password or
# key ever appears in a log line"): the demo password and client secret (and
# their Basic encodings), JWTs, SAML assertions, private keys. Every test
# class checks its server's whole log when it stops.
_LOG_SECRETS = [
    ("the demo password", re.compile(re.escape("wonderland").encode())),
    ("the demo client secret", re.compile(rb"s3cret")),
    ("HTTP Basic credentials", re.compile(rb"bWlncmF0aW9uLXRlc3RlcjpzM2NyZXQ")),
    ("a JWT", re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a SAML assertion", re.compile(rb"<(?:[A-Za-z0-9_]+:)?Assertion[\s>]")),
    ("a private key", re.compile(rb"PRIVATE KEY")),
]


def secrets_in_log(log):
    """Names of the secrets found in @log (bytes or str); [] when clean."""
    if isinstance(log, str):
        log = log.encode("utf-8", "replace")
    return [name for name, rx in _LOG_SECRETS if rx.search(log)]


class StsTestCase(unittest.TestCase):
    """Starts one server per test class (config = class attribute CONFIG)."""

    CONFIG = None
    TLS = False              # the config has server.tls_cert/tls_key: https helpers
    LISTEN = "127.0.0.1:0"   # --listen
    server = None

    @classmethod
    def setUpClass(cls):
        cfg = cls.CONFIG() if callable(cls.CONFIG) else cls.CONFIG
        cls.server = Server(cls.__name__, cfg, tls=cls.TLS, listen=cls.LISTEN)
        try:
            cls.server.start()
        except Exception:
            cls.server.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        if srv is None:
            return
        rc = srv.stop()
        log = srv.log_text()
        ok_exit = rc == 0 and not srv.died_early
        leaked = secrets_in_log(log)
        if not ok_exit or leaked:
            # keep the evidence
            print("\n[%s] server log kept in %s" % (cls.__name__, srv.tmp))
        else:
            srv.cleanup()
        if srv.died_early:
            raise AssertionError("sts died during the tests (rc=%r); log in %s" % (rc, srv.log_path))
        if not ok_exit:
            raise AssertionError("sts did not exit 0 within 5 s after SIGTERM (rc=%r)" % rc)
        if leaked:
            raise AssertionError("secrets in the server log (%s): %s" % (srv.log_path, leaked))

    # --- convenience ---
    @property
    def srv(self):
        return self.server

    def issue_ok(self, version=12, **kw):
        """Issue for RP and return (response, Rstr, assertion_bytes)."""
        r = self.srv.issue(version=version, **kw)
        self.assertEqual(r.status, 200, "Issue failed: %s" % r.body[:2000])
        _, items = parse_rstr_response(r, collection=True)
        self.assertEqual(len(items), 1)
        return r, items[0], extract_assertion_bytes(r.body)

    def validate_status(self, token, version=12, **kw):
        """Validate @token; assert the Status RSTR shape; return (code, reason, response)."""
        r = self.srv.validate(token, version, **kw)
        self.assertEqual(r.status, 200, "Validate must answer, not fault: %r" % r.body[:2000])
        self.assertNoSecrets(r)
        root, items = parse_rstr_response(r, collection=False)
        rstr = items[0]
        self.assertEqual(rstr.token_type, TT_STATUS, "Validate RSTR TokenType")
        self.assertIn(rstr.status_code, (STATUS_VALID, STATUS_INVALID), "wst:Status/wst:Code")
        self.assertTrue(rstr.status_reason, "wst:Status/wst:Reason present")
        return rstr.status_code, rstr.status_reason, r

    def assertValid(self, token, version=12):
        code, reason, _ = self.validate_status(token, version)
        self.assertEqual(code, STATUS_VALID, "expected status valid (reason: %s)" % reason)

    def assertInvalid(self, token, version=12, store_before=None):
        """Status invalid, store unchanged, server alive."""
        before = self.srv.snapshot() if store_before is None else store_before
        code, reason, _ = self.validate_status(token, version)
        self.assertEqual(code, STATUS_INVALID, "expected status invalid (reason: %s)" % reason)
        self.assertEqual(self.srv.snapshot(), before, "store changed by Validate")
        self.assertTrue(self.srv.alive())
        return reason

    def assertInvalidCause(self, token, cause, version=12, store_before=None):
        """assertInvalid, with the one wst:Reason every invalid token gets
        (VALIDATE_REASON_INVALID) and the engine's cause (regex @cause) in a
        "validate" log line at INFO. Returns that log line."""
        mark = self.srv.log_mark()
        reason = self.assertInvalid(token, version, store_before)
        self.assertEqual(reason, VALIDATE_REASON_INVALID, "wst:Status/wst:Reason")
        line = self.srv.wait_log(mark, r"validate.*(%s)" % cause)
        self.assertIsNotNone(line, "no validate log line matching %r; log since the request:\n%s"
                             % (cause, self.srv.log_since(mark)[-2000:]))
        self.assertRegex(line.lower(), r"\binfo\b", "cause not logged at INFO: %s" % line)
        return line

    def assertNoSecrets(self, resp):
        self.assertNotIn(PASSWORD.encode(), resp.body, "password echoed in the response")
        root = parse_xml(resp.body)
        self.assertIsNone(root.find(".//wsse:Security", NS),
                          "request wsse:Security echoed in the response")

    def assertFault(self, resp, code, version):
        """Exact WS-Trust fault shape for @version (11/12), HTTP status included."""
        f = parse_fault(resp)
        self.assertIsNotNone(f, "expected a SOAP fault, got HTTP %d: %r"
                             % (resp.status, resp.body[:1500]))
        self.assertEqual(f.version, version, "fault SOAP version")
        want = "{%s}%s" % (WST, code)
        if version == 11:
            self.assertEqual(resp.status, 500, "SOAP 1.1 fault HTTP status")
            self.assertTrue(resp.headers.get("content-type", "").startswith("text/xml"),
                            resp.headers.get("content-type"))
            self.assertEqual(f.code, want, "faultcode")
        else:
            self.assertEqual(resp.status, 400, "SOAP 1.2 sender fault HTTP status")
            self.assertTrue(resp.headers.get("content-type", "").startswith(
                "application/soap+xml"), resp.headers.get("content-type"))
            self.assertEqual(f.code, "{%s}Sender" % NS["s12"], "Code/Value")
            self.assertEqual(f.subcode, want, "Subcode/Value")
        self.assertEqual((f.reason or "").strip(), FAULT_TEXT[code], "fault reason text")
        self.assertNoSecrets(resp)
        return f

    def assertLogged(self, mark, token, msg=None):
        line = self.srv.wait_log(mark, re.escape(token))
        self.assertIsNotNone(line, msg or "no log line containing %r after the request; log tail:\n%s"
                             % (token, self.srv.log_since(mark)[-2000:]))
        self.assertRegex(line.lower(), r"\binfo\b", "outcome line is not at INFO level: %s" % line)
        return line

    def assertRefused(self, send, code, version, store_before=None):
        """Run send() -> Response; assert the fault, store unchanged, server alive,
        a log line with wst:<code>, and no password in the log. Returns the response."""
        before = self.srv.snapshot() if store_before is None else store_before
        mark = self.srv.log_mark()
        resp = send()
        self.assertFault(resp, code, version)
        self.assertEqual(self.srv.snapshot(), before, "store changed by a refused request")
        self.assertTrue(self.srv.alive(), "server not alive after the request")
        self.assertLogged(mark, "wst:" + code)
        self.assertNotIn(PASSWORD, self.srv.log_since(mark), "password in the log")
        return resp

    def assertLogReason(self, mark, pattern):
        """The log after @mark has a line matching @pattern (a refusal's cause)."""
        line = self.srv.wait_log(mark, pattern)
        self.assertIsNotNone(line, "no log line matching %r; log since the request:\n%s"
                             % (pattern, self.srv.log_since(mark)[-2000:]))
        return line

    def refused_with_reason(self, send, code, version, reason):
        """refused(@code) (assertRefused), and the cause @reason (a regex) in the
        log, so that a refusal for another cause fails. Returns the response."""
        mark = self.srv.log_mark()
        resp = self.assertRefused(send, code, version)
        self.assertLogReason(mark, reason)
        return resp


# --------------------------------------------------------------------------
# Raw HTTP (transport tests): exact bytes on one socket, every wait bounded
# --------------------------------------------------------------------------
def vm_rss_kb(pid):
    """VmRSS of process @pid in kB (from /proc/PID/status), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def server_rss_kb(server):
    """VmRSS of a running Server's process in kB."""
    return vm_rss_kb(server.proc.pid)


def http_head_bytes(method, path, headers=(), host="127.0.0.1", version="HTTP/1.1"):
    """Request line and header block, verbatim and in order (duplicates allowed).
    @headers: sequence of (name, value) pairs or raw "Name: value" strings.
    A Host header is added first unless @host is None."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for h in headers:
        lines.append(h if isinstance(h, str) else "%s: %s" % h)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked_body(data, size=4096, ext="", sizes=None):
    """HTTP/1.1 chunked encoding of @data: chunks of @size bytes (or the
    successive lengths in @sizes, the last one repeated), each chunk-size line
    followed by @ext verbatim (e.g. ";x=y"), then the last chunk and an empty
    trailer."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = size if sizes is None else sizes[min(i, len(sizes) - 1)]
        piece = data[pos:pos + n]
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), ext.encode("latin-1"), piece))
        pos += n
        i += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def pad_xml(nbytes, run=60000):
    """About @nbytes of inert padding for a SOAP Header: runs of white space
    (each shorter than the 64 KiB string limit) between empty foreign elements
    (no mustUnderstand). Exactly @nbytes long when nbytes >= 64."""
    el = '<x:Pad xmlns:x="urn:example:pad"/>'
    parts, left = [], nbytes
    while left > 0:
        if left <= len(el):
            parts.append(" " * left)
            break
        parts.append(el)
        left -= len(el)
        ws = min(run, left)
        parts.append(" " * ws)
        left -= ws
    return "".join(parts)


def comment_pad_xml(nbytes, run=60000):
    """Exactly @nbytes (>= 7) of XML comments, each shorter than the 64 KiB string
    limit: padding that is legal anywhere element content is."""
    parts, left = [], nbytes
    while left > 0:
        k = min(run, left - 7)
        if left - (k + 7) and left - (k + 7) < 7:  # keep the remainder usable
            k -= 7
        parts.append("<!--%s-->" % ("c" * k))
        left -= k + 7
    return "".join(parts)


class RawConn:
    """One client TCP connection to 127.0.0.1 with exact bytes on the wire.
    Every operation is bounded by a timeout; a reset by the peer counts as the
    connection being closed (self.reset tells it was a reset)."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, context=None):
        """@context (an ssl.SSLContext, e.g. tls_client_context()): speak TLS
        (the handshake is done here, within @timeout)."""
        if host != "127.0.0.1":
            raise ValueError("tests only ever connect to 127.0.0.1")
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.eof = False
        self.reset = False
        self.send_error = None

    # --- sending ---
    def send(self, data, timeout=5.0):
        """sendall; returns False (and records the error) when the peer has
        closed or reset the connection or the send timed out."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError) as e:
            self.send_error = e
            return False

    # --- receiving ---
    def _fill(self, deadline):
        """Read once more into the buffer; False when nothing more will come
        (EOF/reset) or the deadline passed."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _need(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise socket.timeout("connection %s after %d of %d bytes"
                                     % ("closed" if self.eof else "timed out", len(self.buf), n))

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise socket.timeout("connection %s while reading a line (have %r)"
                                     % ("closed" if self.eof else "timed out", self.buf[:200]))
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, timeout=HTTP_TIMEOUT, request_method="POST"):
        """The next complete HTTP response as a Response (headers: lower-case
        names; a repeated header's values joined by ", "; the raw header list
        is in headers["__list__"]). Raises socket.timeout when no complete
        response arrives in time."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            while b"\r\n\r\n" not in self.buf:
                if not self._fill(deadline):
                    raise socket.timeout("no complete response header (%s; have %r)"
                                         % ("closed" if self.eof else "timed out",
                                            self.buf[:300]))
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            hlist = []
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hlist.append((k.strip().lower(), v.strip()))
            if 100 <= status < 200:
                continue  # interim response
            break
        hdrs = {}
        for k, v in hlist:
            hdrs[k] = (hdrs[k] + ", " + v) if k in hdrs else v
        hdrs["__list__"] = hlist
        te = hdrs.get("transfer-encoding", "").lower()
        if request_method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in te:
            chunks = []
            while True:
                size = int(self._line(deadline).split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line(deadline) != b"":  # trailer
                        pass
                    break
                self._need(size + 2, deadline)
                chunks.append(self.buf[:size])
                self.buf = self.buf[size + 2:]
            body = b"".join(chunks)
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"].split(",")[0])
            self._need(n, deadline)
            body, self.buf = self.buf[:n], self.buf[n:]
        else:  # delimited by the end of the connection
            while self._fill(deadline):
                pass
            if not self.eof:
                raise socket.timeout("response without length not ended by close")
            body, self.buf = self.buf, b""
        return Response(status, hdrs, body, time.monotonic() - t0)

    def wait_closed(self, timeout=2.0):
        """Wait up to @timeout for the peer to end the connection. Returns
        (closed, bytes received meanwhile, seconds waited)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        before = len(self.buf)
        while self._fill(deadline):
            pass
        extra = self.buf[before:]
        return self.eof, extra, time.monotonic() - t0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WithIssuedToken:
    """Mixin for an StsTestCase (list it first among the bases): setUpClass also
    issues one SAML 2.0 token to alice, kept as its exact bytes in cls.token."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.server.issue(version=12)
        if r.status != 200:
            raise RuntimeError("setUpClass: Issue failed: %r" % r.body[:2000])
        cls.token = extract_assertion_bytes(r.body)


# --------------------------------------------------------------------------
# The RFC 8693 REST face: clients, tokens, JWKS, configs, refusals
# (python3-requests and python3-jwt are imported lazily: only the REST tests
# need them)
# --------------------------------------------------------------------------
CLIENT_ID = "migration-tester"
CLIENT_SECRET = "s3cret"
RP_API = "https://api.example.com/"
DEFAULT_SCOPES = ["openid", "profile", "email", "api.read", "api.write"]
GRANT_TE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_REFRESH = "refresh_token"
_TT = "urn:ietf:params:oauth:token-type:"
TT_ACCESS = _TT + "access_token"
TT_REFRESH = _TT + "refresh_token"
TT_JWT = _TT + "jwt"
TT_SAML2_URN = _TT + "saml2"
TT_SAML1_URN = _TT + "saml1"
TT_ID_TOKEN = _TT + "id_token"
EC_SIGNING_KEY = os.path.join(CERTS, "sts-signing-ec.key")
EC_SIGNING_CERT = os.path.join(CERTS, "sts-signing-ec.crt")


def b64url_encode(data, pad=False):
    """base64url of @data (bytes or str); without padding unless @pad."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    out = base64.urlsafe_b64encode(data).decode("ascii")
    return out if pad else out.rstrip("=")


def b64url_decode(text):
    """Strict-ish base64url decode (padding optional)."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url: %r" % text[:40])
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    """(header dict, claims dict, signing input bytes, signature bytes) of a
    compact JWS, not verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AssertionError("not a compact JWS (%d parts): %r" % (len(parts), token[:80]))
    return (json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1])),
            ("%s.%s" % (parts[0], parts[1])).encode("ascii"), b64url_decode(parts[2]))


def jwt_resign_unsafe(header, claims, signature=b""):
    """A compact JWS from @header/@claims dicts and raw @signature bytes (for
    forgeries: alg none, HS256 with a public key, ...)."""
    h = b64url_encode(json.dumps(header, separators=(",", ":")))
    c = b64url_encode(json.dumps(claims, separators=(",", ":")))
    return "%s.%s.%s" % (h, c, b64url_encode(signature))


def tamper_jwt(token, claims_update=None):
    """@token with its payload changed (claims_update applied) but the
    original signature kept; without claims_update one signature byte flips."""
    h, c, s = token.split(".")
    if claims_update is None:
        sig = bytearray(b64url_decode(s))
        sig[len(sig) // 2] ^= 0x01
        return "%s.%s.%s" % (h, c, b64url_encode(bytes(sig)))
    claims = json.loads(b64url_decode(c))
    claims.update(claims_update)
    return "%s.%s.%s" % (h, b64url_encode(json.dumps(claims, separators=(",", ":"))), s)


def rest_base(server):
    return "%s://%s:%d" % (getattr(server, "scheme", "http"), server.host, server.port)


def _verify(server):
    """python3-requests' verify= for @server: its CA over TLS (else the default)."""
    return getattr(server, "ca_file", None) or True


def rest_post(server, path, data, auth=DEFAULT, headers=None, timeout=HTTP_TIMEOUT):
    """POST a form to @path with python3-requests. @data: dict or list of
    (name, value) pairs (repeat a name to repeat the parameter). @auth:
    DEFAULT = client_secret_basic as the demo client, None = no
    Authorization header, a (id, secret) pair = Basic with those."""
    import requests
    if auth is DEFAULT:
        auth = (CLIENT_ID, CLIENT_SECRET)
    return requests.post(rest_base(server) + path, data=data, auth=auth, headers=headers,
                         timeout=timeout, allow_redirects=False, verify=_verify(server))


def rest_get(server, path, timeout=HTTP_TIMEOUT):
    import requests
    return requests.get(rest_base(server) + path, timeout=timeout, allow_redirects=False,
                        verify=_verify(server))


def exchange_params(subject, subject_type, **kw):
    """Form pairs for a token exchange. Keyword values may be lists (repeated
    parameters: audience=[a, b]); None values are left out."""
    pairs = [("grant_type", GRANT_TE), ("subject_token", subject),
             ("subject_token_type", subject_type)]
    for k, v in kw.items():
        if v is None:
            continue
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            pairs.append((k, one))
    return pairs


def token_exchange(server, subject, subject_type, auth=DEFAULT, **kw):
    return rest_post(server, "/token", exchange_params(subject, subject_type, **kw), auth=auth)


def fetch_jwks(server):
    """The published JWKS, fetched over HTTP."""
    r = rest_get(server, "/.well-known/jwks.json")
    if r.status_code != 200:
        raise AssertionError("GET /.well-known/jwks.json: HTTP %d %r" % (r.status_code, r.text[:500]))
    return r.json()


def cert_kid(cert_path):
    """base64url(SHA-256(DER certificate)): the kid our JWKS gives a key."""
    return b64url_encode(hashlib.sha256(base64.b64decode(cert_b64(cert_path))).digest())


def verify_jwt(jwks, token, audience=None, issuer=ISSUER, typ=None, alg=None):
    """Verify @token with PyJWT against the JWK of @jwks (a dict) whose kid is
    the token's header kid. Returns (header, claims). Raises AssertionError
    (no such kid, wrong typ/alg) or a jwt.exceptions error (bad signature,
    audience, issuer, expired)."""
    import jwt as pyjwt
    header = pyjwt.get_unverified_header(token)
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        raise AssertionError("%d JWKS keys with kid %r" % (len(keys), header.get("kid")))
    jwk = pyjwt.PyJWK(keys[0])
    if alg is not None and header.get("alg") != alg:
        raise AssertionError("alg %r, expected %r" % (header.get("alg"), alg))
    if typ is not None and header.get("typ") != typ:
        raise AssertionError("typ %r, expected %r" % (header.get("typ"), typ))
    options = {"require": ["exp", "iat", "iss", "sub"], "verify_aud": audience is not None}
    claims = pyjwt.decode(token, key=jwk.key, algorithms=[keys[0].get("alg", header.get("alg"))],
                          audience=audience, issuer=issuer, options=options, leeway=5)
    return header, claims


def secret_hash(secret):
    """crypt(3) hash of a client secret made by `sts passwd` (stdin)."""
    p = subprocess.run([STS_BIN, "passwd"], input=(secret + "\n").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("sts passwd failed: %s" % p.stderr.decode("utf-8", "replace"))
    m = re.search(r'"password_hash":\s*"([^"]+)"', p.stdout.decode())
    if not m:
        raise RuntimeError("sts passwd printed no hash: %r" % p.stdout)
    return m.group(1)


def client_entry(client_id, secret, audiences, scopes=(), token_types=None, grant_types=None,
                 signing_alg=None):
    """A config "clients" entry (secret hashed with `sts passwd`)."""
    c = {"client_id": client_id, "secret_hash": secret_hash(secret),
         "audiences": list(audiences), "scopes": list(scopes)}
    if token_types is not None:
        c["token_types"] = list(token_types)
    if grant_types is not None:
        c["grant_types"] = list(grant_types)
    if signing_alg is not None:
        c["signing_alg"] = signing_alg
    return c


def rest_default_config(**engine_overrides):
    """A config file equivalent to the embedded default of docs/config.md, REST
    face included: both signing keys (RSA first, EC second), relying parties
    rp (RS256) and api (ES256), the client migration-tester / s3cret with every
    token and grant type. engine_overrides as for default_config()."""
    cfg = default_config(**engine_overrides)
    cfg["engine"].setdefault("additional_signing_keys", [
        {"key": _private_copy(EC_SIGNING_KEY), "cert": EC_SIGNING_CERT}])
    cfg["relying_parties"] = [{"applies_to": RP, "match": "exact"},
                              {"applies_to": RP_API, "match": "exact", "signing_alg": "ES256"}]
    cfg["clients"] = [client_entry(
        CLIENT_ID, CLIENT_SECRET, [RP, RP_API], DEFAULT_SCOPES,
        token_types=[TT_ACCESS, TT_JWT, TT_SAML2_URN, TT_SAML1_URN, TT_REFRESH],
        grant_types=[GRANT_TE, GRANT_REFRESH])]
    return cfg


def make_ec_keypair(directory, name="issuer", cn="Test Issuer"):
    """EC P-256 key (PKCS#8 PEM, 0600) + self-signed certificate with openssl.
    Returns (key path, cert path)."""
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    r = _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=%s" % cn])
    if not r.ok:
        raise RuntimeError("openssl failed: %s" % r.output)
    os.chmod(key, 0o600)
    return key, crt


def bst_xml(token, value_type=DEFAULT, encoding_type=DEFAULT, raw_text=None):
    """A wsse:BinarySecurityToken carrying @token (str) as base64 of its
    characters, the way the STS returns JWTs. value_type/encoding_type:
    DEFAULT = the JWT URN / #Base64Binary, None = attribute left out.
    raw_text: the element text verbatim instead."""
    vt = TT_JWT if value_type is DEFAULT else value_type
    et = B64_ENC if encoding_type is DEFAULT else encoding_type
    text = raw_text if raw_text is not None else base64.b64encode(token.encode()).decode()
    attrs = ""
    if vt is not None:
        attrs += ' ValueType="%s"' % xml_escape(vt)
    if et is not None:
        attrs += ' EncodingType="%s"' % xml_escape(et)
    return '<wsse:BinarySecurityToken xmlns:wsse="%s"%s>%s</wsse:BinarySecurityToken>' % (
        NS["wsse"], attrs, xml_escape(text))


Bst = collections.namedtuple("Bst", "el value_type encoding_type text jwt")


def extract_bst(rstr):
    """The one wsse:BinarySecurityToken of an Rstr's RequestedSecurityToken:
    its attributes, its text and the JWT it carries (strict base64)."""
    holder = rstr.requested_token
    if holder is None:
        raise AssertionError("no wst:RequestedSecurityToken")
    kids = [c for c in holder if isinstance(c.tag, str)]
    if len(kids) != 1 or kids[0].tag != q("wsse", "BinarySecurityToken"):
        raise AssertionError("RequestedSecurityToken holds %r, not one wsse:BinarySecurityToken"
                             % [c.tag for c in kids])
    el = kids[0]
    text = "".join((el.text or "").split())
    jwt_text = base64.b64decode(text, validate=True).decode("ascii")
    return Bst(el, el.get("ValueType"), el.get("EncodingType"), text, jwt_text)


class RawOAuthResponse:
    """Just enough of a requests.Response, built from a RawConn answer to
    @path, for RestMixin.assertOAuthError (a request python3-requests would
    not send, or on a connection the test keeps)."""

    class _Req:
        def __init__(self, path):
            self.path_url = path
            self.url = path

    def __init__(self, resp, path):
        from requests.structures import CaseInsensitiveDict  # lazily, as above
        self.status_code = resp.status
        self.headers = CaseInsensitiveDict(
            {k: v for k, v in resp.headers.items() if k != "__list__"})
        self.content = resp.body
        self.text = resp.body.decode("utf-8", "replace")
        self.request = self._Req(path)

    def json(self):
        return json.loads(self.text)


class RestMixin:
    """Assertions for the REST face; list it before StsTestCase."""

    def assertNoStore(self, resp):
        cc = resp.headers.get("Cache-Control", "")
        self.assertIn("no-store", [x.strip().lower() for x in cc.split(",")],
                      "Cache-Control: no-store missing (got %r) on HTTP %d %s"
                      % (cc, resp.status_code, resp.request.url if resp.request else ""))

    def assertJsonOk(self, resp):
        self.assertEqual(resp.status_code, 200, "HTTP %d: %s" % (resp.status_code, resp.text[:1500]))
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"),
                        resp.headers.get("Content-Type"))
        self.assertNoStore(resp)
        return resp.json()

    def assertOAuthError(self, send, status, error, store_before=None, path=None):
        """Run send() -> requests.Response; assert HTTP @status, JSON @error, no-store,
        WWW-Authenticate on 401, the store unchanged, the server alive and the refusal
        in the log ("<METHOD> <path> -> <status> <error>" at INFO)."""
        before = self.srv.snapshot() if store_before is None else store_before
        mark = self.srv.log_mark()
        resp = send()
        body = resp.text[:1500]
        self.assertEqual(resp.status_code, status, "HTTP status; body %s" % body)
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"),
                        "Content-Type %r" % resp.headers.get("Content-Type"))
        doc = resp.json()
        self.assertEqual(doc.get("error"), error, "error code; body %s" % body)
        self.assertNoStore(resp)
        if status == 401:
            self.assertTrue(resp.headers.get("WWW-Authenticate", "").lower().startswith("basic"),
                            "401 without a Basic WWW-Authenticate challenge")
        self.assertEqual(self.srv.snapshot(), before, "store changed by a refused request")
        self.assertTrue(self.srv.alive(), "server not alive after the request")
        p = path or resp.request.path_url
        self.assertLogged(mark, "%s -> %d %s" % (p, status, error))
        self.assertNotIn(CLIENT_SECRET, self.srv.log_since(mark), "client secret in the log")
        return doc

    def exchange_ok(self, subject, subject_type, **kw):
        r = token_exchange(self.srv, subject, subject_type, **kw)
        doc = self.assertJsonOk(r)
        self.assertIn("access_token", doc)
        self.assertIn("issued_token_type", doc)
        self.assertIn("token_type", doc)
        return doc

    def introspect(self, token, auth=DEFAULT):
        return self.assertJsonOk(rest_post(self.srv, "/introspect", {"token": token}, auth=auth))

    def assertInactive(self, token, store_before=None):
        before = self.srv.snapshot() if store_before is None else store_before
        doc = self.introspect(token)
        self.assertEqual(doc, {"active": False}, "introspection of an invalid token")
        self.assertEqual(self.srv.snapshot(), before, "store changed by /introspect")
        return doc

    def assertActive(self, token):
        doc = self.introspect(token)
        self.assertIs(doc.get("active"), True, "introspection: %r" % doc)
        return doc

    def soap_saml(self, version=12, **kw):
        """A fresh SAML 2.0 assertion issued to alice over SOAP: (bytes, base64url)."""
        r = self.srv.issue(version=version, **kw)
        self.assertEqual(r.status, 200, "SOAP Issue failed: %r" % r.body[:2000])
        a = extract_assertion_bytes(r.body)
        return a, b64url_encode(a)

    def soap_jwt(self, applies_to=RP, version=12, **kw):
        """A JWT issued to alice over SOAP (TokenType jwt): (jwt text, Rstr)."""
        r = self.srv.issue(version=version, applies_to=applies_to, token_type=TT_JWT, **kw)
        self.assertEqual(r.status, 200, "SOAP Issue (JWT) failed: %r" % r.body[:2000])
        _, items = parse_rstr_response(r, collection=True)
        return extract_bst(items[0]).jwt, items[0]


# --------------------------------------------------------------------------
# TLS (server.tls_cert / server.tls_key): the development server certificate
# in certs/ (CN localhost, SANs localhost, 127.0.0.1, ::1), issued by
# certs/ca.crt, which the clients trust
# --------------------------------------------------------------------------
TLS_CA_CERT = os.path.join(CERTS, "ca.crt")
TLS_SERVER_CERT = os.path.join(CERTS, "tls-server.crt")
TLS_SERVER_KEY = os.path.join(CERTS, "tls-server.key")


def tls_client_context():
    """An ssl.SSLContext that trusts only certs/ca.crt and checks the host name."""
    import ssl
    ctx = ssl.create_default_context(cafile=TLS_CA_CERT)
    ctx.check_hostname = True
    return ctx


def tls_config(cfg, **server_overrides):
    """@cfg (a config dict) with TLS on: server.tls_cert = the development server
    certificate, server.tls_key = a 0600 copy of its key; server_overrides add
    or replace other "server" keys. Returns @cfg."""
    server = cfg.setdefault("server", {})
    server["tls_cert"] = TLS_SERVER_CERT
    server["tls_key"] = _private_copy(TLS_SERVER_KEY)
    server.update(server_overrides)
    return cfg


# --------------------------------------------------------------------------
# SAML 1.1 (issue #4): token types, raw assertion bytes, verifiers (xmlsec1
# with AssertionID, samlsign, the SAML 1.1 schema offline), a fixture signer
# and an unsigned assertion shaped like ours for forgeries
# --------------------------------------------------------------------------
NS["saml1"] = "urn:oasis:names:tc:SAML:1.0:assertion"
TT_SAML11 = "urn:oasis:names:tc:SAML:1.0:assertion"
TT_SAML11_PROFILE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
SAML11_ASSERTION_ID = ("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0"
                       "#SAMLAssertionID")
CM_BEARER11 = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
AM_PASSWORD11 = "urn:oasis:names:tc:SAML:1.0:am:password"
AM_UNSPECIFIED11 = "urn:oasis:names:tc:SAML:1.0:am:unspecified"
SAML11_ATTR_NAMESPACE = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
KIND_SAML11 = 2
SAML11_STATEMENTS = ("AuthenticationStatement", "AttributeStatement",
                     "AuthorizationDecisionStatement", "SubjectStatement")


def extract_assertion11_bytes(body):
    """The one saml:Assertion (SAML 1.1, prefix saml as we write it) of an HTTP
    body, as raw bytes (no re-serialisation)."""
    return _extract_one(body, b"saml:Assertion")


Assertion11 = collections.namedtuple(
    "Assertion11", "el id issuer major minor issue_instant subjects conf_methods authn_method "
                   "not_before not_on_or_after audiences attributes child_tags sig")


def assertion11_facts(data):
    """Parse SAML 1.1 assertion bytes (or an lxml element) into an Assertion11:
    subjects/conf_methods list each subject statement's NameIdentifier and
    ConfirmationMethods; attributes maps AttributeName -> (AttributeNamespace,
    [values])."""
    el = data if isinstance(data, etree._Element) else parse_xml(data)
    cond = el.find("saml1:Conditions", NS)
    subjects, methods = [], []
    for c in el:
        if isinstance(c.tag, str) and c.tag in [q("saml1", s) for s in SAML11_STATEMENTS]:
            nid = c.find("saml1:Subject/saml1:NameIdentifier", NS)
            subjects.append(nid.text if nid is not None else None)
            methods.append([m.text for m in c.findall(
                "saml1:Subject/saml1:SubjectConfirmation/saml1:ConfirmationMethod", NS)])
    attrs = {}
    for a in el.findall("saml1:AttributeStatement/saml1:Attribute", NS):
        attrs[a.get("AttributeName")] = (a.get("AttributeNamespace"),
                                         [v.text for v in a.findall("saml1:AttributeValue", NS)])
    authn = el.find("saml1:AuthenticationStatement", NS)
    sig = el.find("ds:Signature", NS)
    sig_facts = None
    if sig is not None:
        refs = sig.findall("ds:SignedInfo/ds:Reference", NS)
        sig_facts = {
            "c14n": sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm"),
            "method": sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm"),
            "references": [r.get("URI") for r in refs],
            "transforms": [t.get("Algorithm") for t in refs[0].findall(
                "ds:Transforms/ds:Transform", NS)] if refs else [],
            "digest": (refs[0].find("ds:DigestMethod", NS).get("Algorithm") if refs else None),
            "x509": [x.text.strip() for x in sig.findall(
                "ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)],
        }
    return Assertion11(
        el=el, id=el.get("AssertionID"), issuer=el.get("Issuer"), major=el.get("MajorVersion"),
        minor=el.get("MinorVersion"), issue_instant=el.get("IssueInstant"),
        subjects=subjects, conf_methods=methods,
        authn_method=authn.get("AuthenticationMethod") if authn is not None else None,
        not_before=cond.get("NotBefore") if cond is not None else None,
        not_on_or_after=cond.get("NotOnOrAfter") if cond is not None else None,
        audiences=[a.text for a in el.findall(
            "saml1:Conditions/saml1:AudienceRestrictionCondition/saml1:Audience", NS)],
        attributes=attrs, child_tags=[c.tag for c in el if isinstance(c.tag, str)],
        sig=sig_facts)


def xmlsec_verify11(data, cert=SIGNING_CERT):
    """xmlsec1 --verify of SAML 1.1 assertion bytes (or a whole SOAP response
    holding one) with the public key of @cert, AssertionID as the ID."""
    return _xmlsec_verify(data, "AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
                          cert)


class _LocalResolver11(_LocalResolver):
    """The SAML 1.1 schema imports XML-DSig from another location."""
    MAP = dict(_LocalResolver.MAP, **{
        "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd":
            os.path.join(XMLTOOLING_XSD_DIR, "xmldsig-core-schema.xsd")})


def saml11_schema():
    return _schema("cs-sstc-schema-assertion-1.1.xsd", _LocalResolver11())


def schema_validate11(assertion):
    """Validate assertion bytes against cs-sstc-schema-assertion-1.1.xsd (offline)."""
    return _schema_validate(saml11_schema(), assertion)


def xmllint_schema11(assertion):
    """The same check with xmllint --schema (a catalog maps the XML-DSig import)."""
    d = tempfile.mkdtemp(prefix="sts-test-cat-")
    try:
        cat = os.path.join(d, "catalog.xml")
        dsig = os.path.join(XMLTOOLING_XSD_DIR, "xmldsig-core-schema.xsd")
        url = "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd"
        with open(cat, "w") as f:
            f.write('<?xml version="1.0"?><catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:'
                    'catalog"><system systemId="%s" uri="file://%s"/><uri name="%s" '
                    'uri="file://%s"/></catalog>' % (url, dsig, url, dsig))
        path = os.path.join(d, "a.xml")
        with open(path, "wb") as f:
            f.write(assertion)
        env = dict(os.environ, XML_CATALOG_FILES=cat)
        p = subprocess.run(["xmllint", "--noout", "--nonet", "--schema",
                            os.path.join(SAML_XSD_DIR, "cs-sstc-schema-assertion-1.1.xsd"), path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
        return Tool(p.returncode == 0, p.returncode, p.stdout.decode("utf-8", "replace"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def sign_assertion11(assertion, key, cert, first=False):
    """(Re-)sign SAML 1.1 assertion bytes or element with xmlsec1: drop any
    ds:Signature child, append an enveloped exc-c14n RSA-SHA256 template as
    the last child (or the first with @first), sign over #AssertionID."""
    el = copy.deepcopy(assertion) if isinstance(assertion, etree._Element) else parse_xml(assertion)
    for s in el.findall("ds:Signature", NS):
        el.remove(s)
    tmpl = parse_xml(SIG_TEMPLATE % {"c14n": ALG_EXC_C14N, "rsa": ALG_RSA_SHA256,
                                     "id": el.get("AssertionID"), "env": ALG_ENVELOPED,
                                     "sha": ALG_SHA256})
    if first:
        el.insert(0, tmpl)
    else:
        el.append(tmpl)
    src = _tmpfile(etree.tostring(el))
    out = src + ".signed"
    try:
        r = _run(["xmlsec1", "--sign", "--privkey-pem", "%s,%s" % (key, cert),
                  "--id-attr:AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
                  "--output", out, src])
        if not r.ok:
            raise RuntimeError("xmlsec1 --sign failed: %s" % r.output)
        with open(out, "rb") as f:
            data = f.read()
    finally:
        for p in (src, out):
            if os.path.exists(p):
                os.unlink(p)
    return re.sub(rb"^<\?xml[^>]*\?>\s*", b"", data).strip()


def make_assertion11(subject=USER, audience=RP, issuer=ISSUER, assertion_id=None,
                     lifetime=3600):
    """An unsigned SAML 1.1 bearer assertion shaped like ours (for forgeries)."""
    aid = assertion_id or "_" + uuid.uuid4().hex
    now, na = ts(), ts(lifetime)
    subj = ('<saml:Subject><saml:NameIdentifier>%s</saml:NameIdentifier><saml:SubjectConfirmation>'
            '<saml:ConfirmationMethod>%s</saml:ConfirmationMethod></saml:SubjectConfirmation>'
            '</saml:Subject>' % (xml_escape(subject), CM_BEARER11))
    attrs = "".join(
        '<saml:Attribute AttributeName="%s" AttributeNamespace="%s"><saml:AttributeValue>%s'
        '</saml:AttributeValue></saml:Attribute>' % (k, SAML11_ATTR_NAMESPACE, xml_escape(v))
        for k, v in USER_ATTRS.items())
    xml = ('<saml:Assertion xmlns:saml="%(ns)s" MajorVersion="1" MinorVersion="1" '
           'AssertionID="%(id)s" Issuer="%(iss)s" IssueInstant="%(now)s">'
           '<saml:Conditions NotBefore="%(now)s" NotOnOrAfter="%(na)s">'
           '<saml:AudienceRestrictionCondition><saml:Audience>%(aud)s</saml:Audience>'
           '</saml:AudienceRestrictionCondition></saml:Conditions>'
           '<saml:AuthenticationStatement AuthenticationMethod="%(am)s" '
           'AuthenticationInstant="%(now)s">%(subj)s</saml:AuthenticationStatement>'
           '<saml:AttributeStatement>%(subj)s%(attrs)s</saml:AttributeStatement>'
           '</saml:Assertion>'
           % {"ns": NS["saml1"], "id": aid, "iss": xml_escape(issuer), "now": now, "na": na,
              "aud": xml_escape(audience), "am": AM_PASSWORD11, "subj": subj, "attrs": attrs})
    return xml.encode()


def issue_saml11(server, version=12, token_type=TT_SAML11, **kw):
    """Issue a SAML 1.1 assertion to alice over SOAP: (response, [Rstr], raw
    assertion bytes). Raises AssertionError when the Issue fails."""
    r = server.issue(version=version, token_type=token_type, **kw)
    if r.status != 200:
        raise AssertionError("SOAP Issue (SAML 1.1) failed: %r" % r.body[:2000])
    _, items = parse_rstr_response(r, collection=True)
    return r, items, extract_assertion11_bytes(r.body)


class ZeepTimestamp:
    """zeep wsse plugin: a fresh wsu:Timestamp (5 minutes), first in wsse:Security;
    with @wsu_id, carrying that wsu:Id (so a signature can reference it)."""

    def __init__(self, wsu_id=None, offset=0):
        self.wsu_id = wsu_id
        self.offset = offset  # seconds added to "now" for Created (and Expires)

    def apply(self, envelope, headers):
        from zeep.wsse import utils as wsse_utils
        sec = wsse_utils.get_security_header(envelope)
        now = utcnow() + datetime.timedelta(seconds=self.offset)
        tsel = wsse_utils.WSU.Timestamp(
            wsse_utils.WSU.Created(fmt_time(now)),
            wsse_utils.WSU.Expires(fmt_time(now + datetime.timedelta(minutes=5))))
        if self.wsu_id is not None:
            tsel.set("{%s}Id" % NS["wsu"], self.wsu_id)
        sec.insert(0, tsel)
        return envelope, headers

    def verify(self, envelope):
        pass
