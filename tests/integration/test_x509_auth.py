#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Requester authentication by an X.509 WS-Security signature (issue #4), on
one real server with soap.client_ca set.

- python3-zeep's own WS-Security X.509 support (BinarySignature over python3-
  xmlsec: a BinarySecurityToken, a ds:Signature over Body and Timestamp,
  RSA-SHA256 / SHA-256), with a client built from our WSDL file: a certificate
  issued by the client CA with CN=alice gets a SAML assertion for alice,
  AuthnContext X509; in SOAP 1.1 and 1.2.
- Refused with wst:FailedAuthentication and the store unchanged: a self-signed
  certificate (not from the client CA), a CA-issued certificate naming no
  user, a tampered Body after signing, a signature that does not cover the
  Timestamp, the same signed message sent twice (replay), a signature in
  SHA-1, a signature together with a UsernameToken, and a signed Body moved
  into a header while another Body is sent (signature wrapping)."""
import copy
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from lxml import etree  # noqa: E402

PKI = tempfile.mkdtemp(prefix="sts-test-x509-")
AC_X509 = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"


def _openssl(*args):
    p = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], p.stderr.decode()[-500:]))


def _make_pki():
    ca_key, ca_crt = os.path.join(PKI, "ca.key"), os.path.join(PKI, "ca.crt")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
             "-days", "2", "-subj", "/CN=Test Client CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    certs = {}
    for name, cn in (("alice", L.USER), ("nobody", "nobody")):
        key, csr = os.path.join(PKI, name + ".key"), os.path.join(PKI, name + ".csr")
        crt = os.path.join(PKI, name + ".crt")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", "/CN=%s" % cn)
        _openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", crt, "-days", "2")
        certs[name] = (key, crt)
    key, crt = os.path.join(PKI, "self.key"), os.path.join(PKI, "self.crt")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
             "-days", "2", "-subj", "/CN=%s" % L.USER)
    certs["self"] = (key, crt)
    return ca_crt, certs


CA_CRT, CERTS = _make_pki()


def _config():
    cfg = L.default_config()
    cfg["soap"] = {"client_ca": CA_CRT}
    return cfg


class X509AuthTest(L.StsTestCase):

    CONFIG = _config

    def signed_envelope(self, who="alice", version=12, sha1=False, timestamp=True, ts_offset=0):
        """A zeep-built, zeep-signed Issue request as bytes (not sent)."""
        import xmlsec
        import zeep
        from zeep.wsse.compose import Compose
        from zeep.wsse.signature import BinarySignature
        key, crt = CERTS[who]
        sig = BinarySignature(
            key, crt,
            signature_method=(xmlsec.constants.TransformRsaSha1 if sha1
                              else xmlsec.constants.TransformRsaSha256),
            digest_method=xmlsec.constants.TransformSha1 if sha1 else xmlsec.constants.TransformSha256)
        wsse = Compose(([L.ZeepTimestamp("TS-1", ts_offset)] if timestamp else []) + [sig])
        client = zeep.Client(L.WSDL_FILE, wsse=wsse)
        port = "SecurityTokenServiceSoap12Port" if version == 12 else "SecurityTokenServiceSoap11Port"
        svc = client.bind("SecurityTokenService", port)
        node = client.create_message(svc, "Issue", RequestType=L.REQUEST_TYPE["Issue"],
                                     AppliesTo={"EndpointReference": {"Address": L.RP}},
                                     KeyType=L.KT_BEARER)
        return etree.tostring(node)

    def post(self, body, version=12):
        return self.srv.post_raw(body, L.soap_headers(version, L.ACTION["Issue"]))

    def test_wsdl_offers_x509(self):
        """With soap.client_ca the published WSDL's bindings reference the policy that
        offers the X.509 alternative next to the UsernameToken one."""
        root = L.parse_xml(self.srv.get("/sts?wsdl").body)
        wsp = L.NS["wsp"]
        for b in root.findall("wsdl:binding", L.NS):
            self.assertEqual(b.find("{%s}PolicyReference" % wsp).get("URI"),
                             "#STS_UsernameToken_X509_Policy")
        by_id = {p.get(L.q("wsu", "Id")): p for p in root.findall("{%s}Policy" % wsp)}
        refs = [r.get("URI") for r in by_id["STS_UsernameToken_X509_Policy"].iter(
            "{%s}PolicyReference" % wsp)]
        self.assertEqual(refs, ["#STS_UsernameToken_Policy", "#STS_X509_Alternative"])
        alt = by_id["STS_X509_Alternative"]
        self.assertIsNotNone(alt.find(".//sp:AsymmetricBinding//sp:InitiatorToken//sp:X509Token",
                                      L.NS))
        self.assertIsNotNone(alt.find(".//sp:SignedParts/sp:Body", L.NS))
        self.assertIsNotNone(alt.find(".//sp:AlgorithmSuite//sp:Basic256Sha256", L.NS))

    def test_zeep_signed_issue(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                r = self.post(self.signed_envelope(version=v), v)
                self.assertEqual(r.status, 200, r.body[:1500])
                a = L.extract_assertion_bytes(r.body)
                facts = L.assertion_facts(a)
                self.assertEqual(facts.subject, L.USER)
                self.assertIn(AC_X509.encode(), a)
                self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")

    def test_zeep_client_sends_it(self):
        """The whole round trip through zeep's transport, as an application would."""
        import xmlsec
        import zeep
        from zeep.transports import Transport
        from zeep.wsse.compose import Compose
        from zeep.wsse.signature import BinarySignature
        key, crt = CERTS["alice"]
        wsse = Compose([L.ZeepTimestamp("TS-1"), BinarySignature(
            key, crt, signature_method=xmlsec.constants.TransformRsaSha256,
            digest_method=xmlsec.constants.TransformSha256)])
        client = zeep.Client(L.WSDL_FILE, wsse=wsse, transport=Transport(timeout=10))
        svc = client.create_service(
            "{%s}SecurityTokenServiceSoap12Binding" % L.WST, self.srv.url)
        with client.settings(raw_response=True):
            resp = svc.Issue(RequestType=L.REQUEST_TYPE["Issue"],
                             AppliesTo={"EndpointReference": {"Address": L.RP}},
                             KeyType=L.KT_BEARER)
        self.assertEqual(resp.status_code, 200, resp.content[:1500])
        self.assertEqual(L.assertion_facts(L.extract_assertion_bytes(resp.content)).subject,
                         L.USER)

    def test_refusals(self):
        good = self.signed_envelope()
        tampered = good.replace(L.RP.encode(), b"https://rp.example.com/x", 1)
        self.assertNotEqual(tampered, good)
        cases = [
            ("self-signed certificate", lambda: self.post(self.signed_envelope("self"))),
            ("CA-issued, names no user", lambda: self.post(self.signed_envelope("nobody"))),
            ("Body changed after signing", lambda: self.post(tampered)),
            ("RSA-SHA1 / SHA-1", lambda: self.post(self.signed_envelope(sha1=True))),
            ("Timestamp not signed", lambda: self.post(self.unsigned_timestamp())),
            ("with a UsernameToken as well", lambda: self.post(self.with_username_token())),
            ("signed Body moved to a header (XSW)", lambda: self.post(self.wrapped())),
        ]
        for name, send in cases:
            with self.subTest(case=name):
                self.assertRefused(send, "FailedAuthentication", 12)

    def test_created_before_the_server_started(self):
        """Review finding: the replay cache is in memory, so a signed request made
        before this process started could be a replay of one the previous process
        accepted. Refused, as for PasswordDigest."""
        self.assertRefused(lambda: self.post(self.signed_envelope(ts_offset=-120)),
                           "FailedAuthentication", 12)

    def test_replay(self):
        """The same signed message twice, also with its SignatureValue re-wrapped
        (base64 white space: the same signature to xmlsec, other bytes)."""
        body = self.signed_envelope()
        self.assertEqual(self.post(body).status, 200)
        self.assertRefused(lambda: self.post(body), "FailedAuthentication", 12)
        root = etree.fromstring(body)
        sv = root.find(".//ds:SignatureValue", L.NS)
        text = "".join(sv.text.split())
        sv.text = text[:20] + "\n" + text[20:]
        rewrapped = etree.tostring(root)
        self.assertNotEqual(rewrapped, body)
        self.assertRefused(lambda: self.post(rewrapped), "FailedAuthentication", 12)

    # ---- hand-made variants of a signed message -----------------------------------
    def unsigned_timestamp(self):
        """Signed without a Timestamp; a fresh Timestamp added afterwards."""
        root = etree.fromstring(self.signed_envelope(timestamp=False))
        sec = root.find(".//wsse:Security", L.NS)
        sec.insert(0, etree.fromstring(L.timestamp_xml().replace(
            "<wsu:Timestamp", '<wsu:Timestamp xmlns:wsu="%s"' % L.NS["wsu"], 1)))
        return etree.tostring(root)

    def with_username_token(self):
        root = etree.fromstring(self.signed_envelope())
        sec = root.find(".//wsse:Security", L.NS)
        sec.append(etree.fromstring(L.username_token_xml().replace(
            "<wsse:UsernameToken", '<wsse:UsernameToken xmlns:wsse="%s" xmlns:wsu="%s"'
            % (L.NS["wsse"], L.NS["wsu"]), 1)))
        return etree.tostring(root)

    def wrapped(self):
        """XSW: the signed Body (with its wsu:Id) moved into a header wrapper; a new
        Body asking for another audience, without an Id."""
        root = etree.fromstring(self.signed_envelope())
        env_ns = root.tag.split("}")[0][1:]
        body = root.find("{%s}Body" % env_ns)
        header = root.find("{%s}Header" % env_ns)
        wrapper = etree.SubElement(header, "{urn:example:wrap}Wrapper")
        wrapper.append(copy.deepcopy(body))
        for c in list(body):
            body.remove(c)
        for k in list(body.attrib):
            del body.attrib[k]
        evil = etree.fromstring(L.rst_issue(applies_to="https://rp.example.com/evil"))
        body.append(evil)
        return etree.tostring(root)


class X509WithoutRequiredTimestampTest(L.StsTestCase):
    """Review finding: with soap.require_timestamp false, a signed request without
    a Timestamp was replayable once the replay window passed. A signed request
    needs a signed Timestamp whatever that setting says."""

    CONFIG = staticmethod(lambda: dict(_config(), soap={"client_ca": CA_CRT,
                                                        "require_timestamp": False}))

    def test_signed_without_timestamp_refused(self):
        body = X509AuthTest.signed_envelope(self, timestamp=False)
        self.assertRefused(lambda: self.srv.post_raw(body, L.soap_headers(12, L.ACTION["Issue"])),
                           "FailedAuthentication", 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
