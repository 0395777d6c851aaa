#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Assertions encrypted for their relying party (relying_parties[].encryption_cert,
issue #4), on one real server.

- SOAP Issue of SAML 2.0 for such a party answers a saml2:EncryptedAssertion
  (XML Encryption 1.1: AES-256-GCM content, RSA-OAEP key transport to the
  party's certificate); `xmlsec1 --decrypt` with the party's private key gives
  back the signed assertion, which xmlsec1 and samlsign verify and which the
  STS validates; SAML 1.1 comes as a bare xenc:EncryptedData.
- Nobody else can read it: decrypting with another key fails, and the
  plaintext (subject, attributes) is not in the response.
- The same over REST (/token with requested_token_type saml2: the base64url
  of the EncryptedAssertion), after renewal, and after Validate with
  transformation.
- Such a party gets no JWT (there is no JWE): wst:InvalidScope / invalid_target."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

RP_ENC = "https://encrypted.example.com/"
XENC = "http://www.w3.org/2001/04/xmlenc#"
KEYDIR = tempfile.mkdtemp(prefix="sts-test-rp-enc-")
RP_KEY, RP_CERT = L.make_keypair(KEYDIR, cn="Encrypted RP")
OTHER_DIR = tempfile.mkdtemp(prefix="sts-test-rp-other-")
OTHER_KEY, _ = L.make_keypair(OTHER_DIR, cn="Someone Else")


def _config():
    cfg = L.rest_default_config()
    cfg["relying_parties"].append({"applies_to": RP_ENC, "encryption_cert": RP_CERT})
    cfg["clients"][0]["audiences"].append(RP_ENC)
    return cfg


def decrypt(data, key=RP_KEY):
    """xmlsec1 --decrypt of @data (bytes) with the private key @key: (ok, plaintext)."""
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        p = subprocess.run(["xmlsec1", "--decrypt", "--privkey-pem", key, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return p.returncode == 0, p.stdout
    finally:
        os.unlink(path)


def encrypted_of(body, tag=b"saml2:EncryptedAssertion"):
    return L._extract_one(body, tag)


class EncryptionTest(L.RestMixin, L.StsTestCase):

    CONFIG = _config

    def check_encrypted_saml2(self, enc):
        root = L.parse_xml(enc)
        self.assertEqual(root.tag, "{%s}EncryptedAssertion" % L.NS["saml2"])
        ed = root.find("{%s}EncryptedData" % XENC)
        self.assertIsNotNone(ed)
        self.assertEqual(ed.find("{%s}EncryptionMethod" % XENC).get("Algorithm"),
                         "http://www.w3.org/2009/xmlenc11#aes256-gcm")
        ek = ed.find("ds:KeyInfo/{%s}EncryptedKey" % XENC, L.NS)
        self.assertEqual(ek.find("{%s}EncryptionMethod" % XENC).get("Algorithm"),
                         XENC + "rsa-oaep-mgf1p")
        cert = ek.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=L.NS)
        self.assertEqual(cert, L.cert_b64(RP_CERT), "names the party's certificate")
        ok, plain = decrypt(enc)
        self.assertTrue(ok, "xmlsec1 --decrypt with the party's key")
        a = L.extract_assertion_bytes(plain)
        self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1 --verify of the decrypted assertion")
        self.assertTrue(L.samlsign_verify(a).ok, "samlsign of the decrypted assertion")
        self.assertFalse(decrypt(enc, OTHER_KEY)[0], "another key cannot decrypt it")
        return a

    def test_soap_issue_saml2_encrypted(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                r = self.srv.issue(version=v, applies_to=RP_ENC)
                self.assertEqual(r.status, 200, r.body[:1500])
                self.assertNotIn(L.USER_ATTRS["email"].encode(), r.body, "plaintext leaked")
                self.assertNotIn(b"<saml2:Assertion", r.body)
                a = self.check_encrypted_saml2(encrypted_of(r.body))
                facts = L.assertion_facts(a)
                self.assertEqual(facts.subject, L.USER)
                self.assertEqual(facts.audiences, [RP_ENC])
                _, items = L.parse_rstr_response(r, collection=True)
                self.assertEqual(items[0].refs["RequestedAttachedReference"]["key_id"], facts.id)
                self.assertValid(a)  # the party sends the decrypted assertion back
                # renewed: encrypted again
                r = self.srv.renew(a)
                self.assertEqual(r.status, 200, r.body[:1000])
                self.check_encrypted_saml2(encrypted_of(r.body))

    def test_soap_issue_saml11_encrypted(self):
        r = self.srv.issue(applies_to=RP_ENC, token_type=L.TT_SAML11)
        self.assertEqual(r.status, 200, r.body[:1500])
        enc = encrypted_of(r.body, b"xenc:EncryptedData")
        ok, plain = decrypt(enc)
        self.assertTrue(ok)
        self.assertIn(b"<saml:Assertion", plain)
        self.assertTrue(L.xmlsec_verify11(plain).ok, "xmlsec1 of the decrypted SAML 1.1")

    def test_rest_and_transform_encrypted(self):
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=RP_ENC,
                               requested_token_type=L.TT_SAML2_URN)
        self.check_encrypted_saml2(L.b64url_decode(doc["access_token"]))
        # Validate with transformation of a JWT for that party cannot exist (no
        # JWT is issued for it); a SAML 2.0 assertion of it transforms into SAML 1.1
        r = self.srv.issue(applies_to=RP_ENC)
        a = L.extract_assertion_bytes(decrypt(encrypted_of(r.body))[1])
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType><wst:ValidateTarget>%s</wst:ValidateTarget>'
               '</wst:RequestSecurityToken>' % (L.WST, L.TT_SAML11, L.REQUEST_TYPE["Validate"],
                                                a.decode()))
        r = self.srv.soap("Validate", rst)
        self.assertEqual(r.status, 200, r.body[:1000])
        self.assertTrue(decrypt(encrypted_of(r.body, b"xenc:EncryptedData"))[0])

    def test_no_jwt_for_an_encrypting_party(self):
        self.assertRefused(lambda: self.srv.issue(applies_to=RP_ENC, token_type=L.TT_JWT),
                           "InvalidScope", 12)
        _, b = self.soap_saml()
        self.assertOAuthError(lambda: L.token_exchange(self.srv, b, L.TT_SAML2_URN,
                                                       audience=RP_ENC), 400, "invalid_target")


if __name__ == "__main__":
    unittest.main(verbosity=2)
