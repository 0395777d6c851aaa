#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""KeyType SymmetricKey (issue #4): what WCF's ws2007FederationHttpBinding asks
for by default, and KeyType PublicKey with wst:UseKey, on one real server.

- With the requester's wst:Entropy (BinarySecret Type Nonce), KeySize and
  ComputedKeyAlgorithm .../CK/PSHA1: the answer carries RequestedProofToken/
  ComputedKey, the issuer's Entropy and KeySize; the test recomputes
  P_SHA1(client entropy, server entropy) itself.
- Without entropy: RequestedProofToken/BinarySecret is the key.
- Either way the assertion is holder-of-key: SubjectConfirmation
  urn:oasis:names:tc:SAML:2.0:cm:holder-of-key with a KeyInfoConfirmationDataType
  holding an xenc:EncryptedKey that the relying party's private key (python3-
  cryptography, RSA-OAEP) opens to that same key; signed (xmlsec1, samlsign),
  schema-valid. SAML 1.1 and Feb 2005 too, and WCF's SecondaryParameters.
- Refused, with the store unchanged: a party without encryption_cert
  (InvalidScope), a JWT (BadRequest), KeySize 100 (InvalidRequest), another
  ComputedKeyAlgorithm (BadRequest), Entropy with a bearer request
  (InvalidRequest), entropy that is not base64 (InvalidRequest), an unknown
  element inside SecondaryParameters (BadRequest)."""
import base64
import hashlib
import hmac
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

RP_HOK = "https://hok.example.com/"
W5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
XENC = "http://www.w3.org/2001/04/xmlenc#"
KEYDIR = tempfile.mkdtemp(prefix="sts-test-rp-hok-")
RP_KEY, RP_CERT = L.make_keypair(KEYDIR, cn="HoK RP")
HOK_CM = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
X509V3 = ("http://docs.oasis-open.org/wss/2004/01/"
          "oasis-200401-wss-x509-token-profile-1.0#X509v3")
USER_DIR = tempfile.mkdtemp(prefix="sts-test-usekey-")
_, USER_CERT = L.make_keypair(USER_DIR, cn="alice's key")
WEAK_CERT = os.path.join(USER_DIR, "weak.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout",
                os.path.join(USER_DIR, "weak.key"), "-out", WEAK_CERT, "-days", "2", "-subj",
                "/CN=weak"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
               timeout=60)


def _config():
    cfg = L.default_config()
    cfg["relying_parties"].append({"applies_to": RP_HOK, "encryption_cert": RP_CERT})
    return cfg


def rsa_numbers(cert_path):
    """base64 big-endian Modulus and Exponent of the RSA key in @cert_path."""
    from cryptography import x509
    with open(cert_path, "rb") as f:
        nums = x509.load_pem_x509_certificate(f.read()).public_key().public_numbers()

    def b64(n):
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()
    return b64(nums.n), b64(nums.e)


def p_sha1(secret, seed, n):
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha1).digest()
        out += hmac.new(secret, a + seed, hashlib.sha1).digest()
    return out[:n]


def rp_unwrap(cipher_b64):
    with open(RP_KEY, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return key.decrypt(base64.b64decode(cipher_b64),
                       padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                    label=None))


def key_params(ns=L.WST, entropy=None, key_size=256, cka=True, key_type=None):
    parts = []
    if entropy is not None:
        parts.append('<t:Entropy xmlns:t="%s"><t:BinarySecret Type="%s/Nonce">%s'
                     '</t:BinarySecret></t:Entropy>'
                     % (ns, ns, entropy if isinstance(entropy, str)
                        else base64.b64encode(entropy).decode()))
    if key_size is not None:
        parts.append('<t:KeySize xmlns:t="%s">%s</t:KeySize>' % (ns, key_size))
    if cka:
        parts.append('<t:ComputedKeyAlgorithm xmlns:t="%s">%s/CK/PSHA1</t:ComputedKeyAlgorithm>'
                     % (ns, ns))
    return "".join(parts)


def assertion_of(body, tag=b"saml2:EncryptedAssertion", inner=b"saml2:Assertion"):
    """The signed assertion of an answer for RP_HOK, which has an encryption_cert:
    decrypted with the party's key by xmlsec1."""
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(L._extract_one(body, tag))
        path = f.name
    try:
        p = subprocess.run(["xmlsec1", "--decrypt", "--privkey-pem", RP_KEY, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        raise AssertionError("xmlsec1 --decrypt failed: %s" % p.stderr[-500:])
    return L._extract_one(p.stdout, inner)


class ProofKeyTest(L.StsTestCase):

    CONFIG = _config

    def issue_symmetric(self, version=12, applies_to=RP_HOK, **kw):
        return self.srv.issue(version=version, applies_to=applies_to, key_type=L.KT_SYMMETRIC,
                              **kw)

    def hok_key_of(self, assertion, saml11=False):
        """The proof key the assertion carries for the party (and checks its shape)."""
        el = L.parse_xml(assertion)
        if saml11:
            sc = el.find(".//{urn:oasis:names:tc:SAML:1.0:assertion}SubjectConfirmation")
            self.assertEqual(sc.findtext("{urn:oasis:names:tc:SAML:1.0:assertion}"
                                         "ConfirmationMethod"),
                             "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key")
            ek = sc.find("ds:KeyInfo/{%s}EncryptedKey" % XENC, L.NS)
        else:
            sc = el.find("saml2:Subject/saml2:SubjectConfirmation", L.NS)
            self.assertEqual(sc.get("Method"), HOK_CM)
            scd = sc.find("saml2:SubjectConfirmationData", L.NS)
            self.assertEqual(scd.get("{http://www.w3.org/2001/XMLSchema-instance}type"),
                             "saml2:KeyInfoConfirmationDataType")
            ek = scd.find("ds:KeyInfo/{%s}EncryptedKey" % XENC, L.NS)
        self.assertIsNotNone(ek, "xenc:EncryptedKey in the subject confirmation")
        self.assertEqual(ek.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate",
                                     namespaces=L.NS), L.cert_b64(RP_CERT))
        return rp_unwrap(ek.findtext("{%s}CipherData/{%s}CipherValue" % (XENC, XENC)))

    def test_computed_key_psha1(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                client = os.urandom(32)
                r = self.issue_symmetric(v, extra=key_params(entropy=client))
                self.assertEqual(r.status, 200, r.body[:1500])
                _, items = L.parse_rstr_response(r, collection=True)
                rstr = items[0].el
                self.assertEqual(items[0].key_type, L.KT_SYMMETRIC)
                self.assertEqual(rstr.findtext("wst:RequestedProofToken/wst:ComputedKey",
                                               namespaces=L.NS), L.WST + "/CK/PSHA1")
                secret = rstr.find("wst:Entropy/wst:BinarySecret", L.NS)
                self.assertEqual(secret.get("Type"), L.WST + "/Nonce")
                server = base64.b64decode(secret.text)
                self.assertEqual(len(server), 32)
                self.assertEqual(rstr.findtext("wst:KeySize", namespaces=L.NS), "256")
                key = p_sha1(client, server, 32)
                a = assertion_of(r.body)
                self.assertEqual(self.hok_key_of(a), key, "the party gets the same key")
                self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
                self.assertTrue(L.samlsign_verify(a).ok, "samlsign")
                ok = L.schema_validate(a)
                self.assertTrue(ok.ok, ok.output)
                self.assertValid(a)

    def test_issuer_key_without_entropy(self):
        r = self.issue_symmetric(extra=key_params(key_size=128, cka=False))
        self.assertEqual(r.status, 200, r.body[:1500])
        _, items = L.parse_rstr_response(r, collection=True)
        secret = items[0].el.find("wst:RequestedProofToken/wst:BinarySecret", L.NS)
        self.assertEqual(secret.get("Type"), L.WST + "/SymmetricKey")
        key = base64.b64decode(secret.text)
        self.assertEqual(len(key), 16)
        self.assertIsNone(items[0].el.find("wst:Entropy", L.NS))
        self.assertEqual(self.hok_key_of(assertion_of(r.body)), key)

    def test_saml11_holder_of_key(self):
        client = os.urandom(16)
        r = self.issue_symmetric(token_type=L.TT_SAML11, extra=key_params(entropy=client))
        self.assertEqual(r.status, 200, r.body[:1500])
        _, items = L.parse_rstr_response(r, collection=True)
        server = base64.b64decode(items[0].el.findtext("wst:Entropy/wst:BinarySecret",
                                                       namespaces=L.NS))
        a = assertion_of(r.body, b"xenc:EncryptedData", b"saml:Assertion")
        self.assertEqual(self.hok_key_of(a, saml11=True), p_sha1(client, server, 32))
        self.assertTrue(L.xmlsec_verify11(a).ok, "xmlsec1")

    def test_wcf_secondary_parameters(self):
        """WCF: KeyType, KeySize and ComputedKeyAlgorithm from the party's template inside
        SecondaryParameters; the algorithm preferences are accepted."""
        client = os.urandom(32)
        sp = ('<wst:SecondaryParameters><wst:KeyType>%s</wst:KeyType><wst:KeySize>256</wst:KeySize>'
              '<wst:ComputedKeyAlgorithm>%s/CK/PSHA1</wst:ComputedKeyAlgorithm>'
              '<wst:EncryptionAlgorithm>http://www.w3.org/2001/04/xmlenc#aes256-cbc'
              '</wst:EncryptionAlgorithm><wst:KeyWrapAlgorithm>%srsa-oaep-mgf1p'
              '</wst:KeyWrapAlgorithm></wst:SecondaryParameters>'
              % (L.KT_SYMMETRIC, L.WST, XENC))
        r = self.srv.issue(applies_to=RP_HOK, key_type=None,
                           extra=key_params(entropy=client, key_size=None, cka=False) + sp)
        self.assertEqual(r.status, 200, r.body[:1500])
        _, items = L.parse_rstr_response(r, collection=True)
        server = base64.b64decode(items[0].el.findtext("wst:Entropy/wst:BinarySecret",
                                                       namespaces=L.NS))
        self.assertEqual(self.hok_key_of(assertion_of(r.body)),
                         p_sha1(client, server, 32))

    def test_feb_2005(self):
        client = os.urandom(32)
        rst = ('<t:RequestSecurityToken xmlns:t="%s">%s<t:KeyType>%s/SymmetricKey</t:KeyType>%s'
               '<t:RequestType>%s/Issue</t:RequestType></t:RequestSecurityToken>'
               % (W5, L.applies_to_xml(RP_HOK), W5, key_params(W5, entropy=client), W5))
        r = self.srv.soap("Issue", rst, 12, action=W5 + "/RST/Issue")
        self.assertEqual(r.status, 200, r.body[:1500])
        rstr = L.body_child(L.parse_xml(r.body))
        ns = {"t": W5}
        self.assertEqual(rstr.findtext("t:RequestedProofToken/t:ComputedKey", namespaces=ns),
                         W5 + "/CK/PSHA1")
        self.assertEqual(rstr.findtext("t:KeyType", namespaces=ns), W5 + "/SymmetricKey")
        server = base64.b64decode(rstr.findtext("t:Entropy/t:BinarySecret", namespaces=ns))
        self.assertEqual(self.hok_key_of(assertion_of(r.body)),
                         p_sha1(client, server, 32))

    # ---- PublicKey: wst:UseKey -----------------------------------------------------
    def use_key(self, form="bst", cert=None):
        der_b64 = L.cert_b64(cert or USER_CERT)
        if form == "bst":
            inner = ('<wsse:BinarySecurityToken xmlns:wsse="%s" ValueType="%s" EncodingType="%s">'
                     '%s</wsse:BinarySecurityToken>' % (L.NS["wsse"], X509V3, L.B64_ENC, der_b64))
        elif form == "x509data":
            inner = ('<ds:KeyInfo xmlns:ds="%s"><ds:X509Data><ds:X509Certificate>%s'
                     '</ds:X509Certificate></ds:X509Data></ds:KeyInfo>' % (L.NS["ds"], der_b64))
        elif form == "keyvalue":
            mod, exp = rsa_numbers(cert or USER_CERT)
            inner = ('<ds:KeyInfo xmlns:ds="%s"><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>%s'
                     '</ds:Modulus><ds:Exponent>%s</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>'
                     '</ds:KeyInfo>' % (L.NS["ds"], mod, exp))
        else:  # a DSA-style KeyValue: not understood
            inner = ('<ds:KeyInfo xmlns:ds="%s"><ds:KeyValue><ds:DSAKeyValue><ds:Y>AQAB</ds:Y>'
                     '</ds:DSAKeyValue></ds:KeyValue></ds:KeyInfo>' % L.NS["ds"])
        return "<wst:UseKey>%s</wst:UseKey>" % inner

    def test_public_key_rsa_key_value(self):
        r = self.srv.issue(key_type=L.KT_PUBLIC, extra=self.use_key("keyvalue"))
        self.assertEqual(r.status, 200, r.body[:1500])
        a = L.extract_assertion_bytes(r.body)
        kv = L.parse_xml(a).find("saml2:Subject/saml2:SubjectConfirmation/"
                                 "saml2:SubjectConfirmationData/ds:KeyInfo/ds:KeyValue/"
                                 "ds:RSAKeyValue", L.NS)
        mod, exp = rsa_numbers(USER_CERT)
        self.assertEqual((kv.findtext("ds:Modulus", namespaces=L.NS),
                          kv.findtext("ds:Exponent", namespaces=L.NS)), (mod, exp))
        self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
        ok = L.schema_validate(a)
        self.assertTrue(ok.ok, ok.output)

    def test_public_key(self):
        for form in ("bst", "x509data"):
            with self.subTest(form=form):
                r = self.srv.issue(key_type=L.KT_PUBLIC, extra=self.use_key(form))
                self.assertEqual(r.status, 200, r.body[:1500])
                _, items = L.parse_rstr_response(r, collection=True)
                self.assertEqual(items[0].key_type, L.KT_PUBLIC)
                self.assertIsNone(items[0].el.find("wst:RequestedProofToken", L.NS),
                                  "the requester holds the key: no proof token")
                a = L.extract_assertion_bytes(r.body)
                sc = L.parse_xml(a).find("saml2:Subject/saml2:SubjectConfirmation", L.NS)
                self.assertEqual(sc.get("Method"), HOK_CM)
                self.assertEqual(sc.findtext("saml2:SubjectConfirmationData/ds:KeyInfo/"
                                             "ds:X509Data/ds:X509Certificate", namespaces=L.NS),
                                 L.cert_b64(USER_CERT), "bound to the requester's certificate")
                self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
                ok = L.schema_validate(a)
                self.assertTrue(ok.ok, ok.output)
        r = self.srv.issue(key_type=L.KT_PUBLIC, token_type=L.TT_SAML11, extra=self.use_key())
        self.assertEqual(r.status, 200, r.body[:1500])
        self.assertIn(b"urn:oasis:names:tc:SAML:1.0:cm:holder-of-key", r.body)

    def test_holder_of_key_not_renewable(self):
        """A renewal would be a bearer assertion: holder-of-key tokens are not renewed."""
        r = self.srv.issue(key_type=L.KT_PUBLIC, extra=self.use_key())
        self.assertEqual(r.status, 200, r.body[:1000])
        a = L.extract_assertion_bytes(r.body)
        self.assertRefused(lambda: self.srv.renew(a), "UnableToRenew", 12)
        self.assertValid(a)

    def test_holder_of_key_not_transformed(self):
        """Review finding: Validate with transformation turned a holder-of-key
        assertion into a bearer one. It is refused now; so is an exchange at /token."""
        r = self.srv.issue(key_type=L.KT_PUBLIC, extra=self.use_key())
        a = L.extract_assertion_bytes(r.body)
        for tt in (L.TT_SAML2, L.TT_JWT):
            with self.subTest(token_type=tt):
                rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s'
                       '</wst:TokenType><wst:RequestType>%s</wst:RequestType>'
                       '<wst:ValidateTarget>%s</wst:ValidateTarget></wst:RequestSecurityToken>'
                       % (L.WST, tt, L.REQUEST_TYPE["Validate"], a.decode()))
                self.assertRefused(lambda: self.srv.soap("Validate", rst), "InvalidRequest", 12)

    def test_secp256k1_use_key_refused(self):
        """Review finding: any 256-bit curve passed as P-256."""
        key = os.path.join(USER_DIR, "k1.key")
        crt = os.path.join(USER_DIR, "k1.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:secp256k1", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=k1"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        self.assertRefused(lambda: self.srv.issue(key_type=L.KT_PUBLIC,
                                                  extra=self.use_key(cert=crt)),
                           "InvalidRequest", 12)

    def test_public_key_refusals(self):
        cases = [
            ("DSAKeyValue", lambda: self.srv.issue(key_type=L.KT_PUBLIC,
                                                   extra=self.use_key("dsa")), "BadRequest"),
            ("RSA-1024 KeyValue", lambda: self.srv.issue(
                key_type=L.KT_PUBLIC, extra=self.use_key("keyvalue", cert=WEAK_CERT)),
             "InvalidRequest"),
            ("UseKey with a bearer request", lambda: self.srv.issue(extra=self.use_key()),
             "InvalidRequest"),
            ("PublicKey without UseKey", lambda: self.srv.issue(key_type=L.KT_PUBLIC),
             "InvalidRequest"),
            ("PublicKey JWT", lambda: self.srv.issue(key_type=L.KT_PUBLIC, token_type=L.TT_JWT,
                                                     extra=self.use_key()), "BadRequest"),
            ("RSA-1024 certificate", lambda: self.srv.issue(
                key_type=L.KT_PUBLIC, extra=self.use_key(cert=WEAK_CERT)), "InvalidRequest"),
        ]
        for name, send, code in cases:
            with self.subTest(case=name):
                self.assertRefused(send, code, 12)

    def test_refusals(self):
        e = os.urandom(32)
        cases = [
            ("party without encryption_cert",
             lambda: self.issue_symmetric(applies_to=L.RP, extra=key_params(entropy=e)),
             "InvalidScope"),
            ("JWT", lambda: self.issue_symmetric(applies_to=L.RP, token_type=L.TT_JWT,
                                                 extra=key_params(entropy=e)), "BadRequest"),
            ("KeySize 100", lambda: self.issue_symmetric(extra=key_params(entropy=e, key_size=100)),
             "InvalidRequest"),
            ("KeySize text", lambda: self.issue_symmetric(extra=key_params(entropy=e,
                                                                           key_size="lots")),
             "InvalidRequest"),
            ("another CK algorithm", lambda: self.issue_symmetric(
                extra=key_params(entropy=e, cka=False)
                + "<wst:ComputedKeyAlgorithm>urn:x</wst:ComputedKeyAlgorithm>"), "BadRequest"),
            ("entropy with bearer", lambda: self.srv.issue(
                applies_to=RP_HOK, extra=key_params(entropy=e, key_size=None, cka=False)),
             "InvalidRequest"),
            ("entropy not base64", lambda: self.issue_symmetric(extra=key_params(entropy="***")),
             "InvalidRequest"),
            ("unknown in SecondaryParameters", lambda: self.issue_symmetric(
                extra="<wst:SecondaryParameters><wst:Foo/></wst:SecondaryParameters>"),
             "BadRequest"),
        ]
        for name, send, code in cases:
            with self.subTest(case=name):
                self.assertRefused(send, code, 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
