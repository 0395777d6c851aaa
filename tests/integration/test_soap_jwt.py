#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""JWTs on the WS-Trust face: Issue with wst:TokenType
urn:ietf:params:oauth:token-type:jwt (SOAP 1.1 and 1.2) returns the JWT as
<wsse:BinarySecurityToken ValueType="...:jwt" EncodingType="...#Base64Binary">
base64(JWT)</...> inside wst:RequestedSecurityToken; Validate, Renew and Cancel
take that same element as their target. A BinarySecurityToken of another
ValueType or EncodingType, or with bad base64, is a wst:InvalidRequest fault; a
tampered or forged JWT is a Validate status "invalid", not a fault."""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

ISSUE_ORDER = [L.q("wst", "Lifetime"), L.q("wsp", "AppliesTo"),
               L.q("wst", "RequestedSecurityToken"), L.q("wst", "RequestedAttachedReference"),
               L.q("wst", "RequestedUnattachedReference"), L.q("wst", "TokenType"),
               L.q("wst", "RequestType"), L.q("wst", "KeyType")]
STATE_ACTIVE, STATE_RENEWED, STATE_CANCELLED = 0, 1, 2
KIND_JWT = 3
X509_VT = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-x509-token-profile-1.0#X509v3")
HEX_ENC = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-soap-message-security-1.0#HexBinary")


class SoapJwtTest(L.RestMixin, L.StsTestCase):

    CONFIG = None  # the embedded default: api.example.com JWTs are ES256

    _jwks = None

    def jwks(self):
        if self._jwks is None:
            type(self)._jwks = L.fetch_jwks(self.srv)
        return self._jwks

    def target(self, binding, jwt_text=None, version=12, **bst_kw):
        return self.srv.soap(binding, L.rst_target(binding, L.bst_xml(jwt_text or "", **bst_kw)),
                             version)

    def status_of(self, jwt_text, version=12):
        code, reason, _ = self.validate_status(L.bst_xml(jwt_text), version)
        return code, reason

    def issue_jwt_ok(self, version, applies_to=L.RP, **kw):
        """Issue a JWT over SOAP; check the RSTRC shape; return (jwt, Rstr, response)."""
        before = self.srv.snapshot()
        mark = self.srv.log_mark()
        r = self.srv.issue(version=version, applies_to=applies_to, token_type=L.TT_JWT, **kw)
        self.assertEqual(r.status, 200, "Issue failed: %r" % r.body[:2000])
        self.assertNoSecrets(r)
        ct = r.headers.get("content-type", "")
        self.assertTrue(ct.startswith("text/xml" if version == 11 else "application/soap+xml"), ct)
        _, items = L.parse_rstr_response(r, collection=True)
        self.assertEqual(len(items), 1)
        rstr = items[0]
        self.assertEqual(rstr.children, ISSUE_ORDER, "RSTR children and order")
        self.assertEqual(rstr.token_type, L.TT_JWT)
        self.assertEqual(rstr.request_type, L.REQUEST_TYPE["Issue"])
        self.assertEqual(rstr.key_type, L.KT_BEARER)
        self.assertEqual(rstr.applies_to, applies_to)
        self.assertIsNone(rstr.assertion, "no SAML assertion")
        bst = L.extract_bst(rstr)
        self.assertEqual(bst.value_type, L.TT_JWT)
        self.assertEqual(bst.encoding_type, L.B64_ENC)
        self.assertEqual(sorted(bst.el.attrib), ["EncodingType", "ValueType"])
        self.assertEqual(len(bst.el), 0, "BinarySecurityToken has text only")
        self.assertRegex(bst.text, r"^[A-Za-z0-9+/]+={0,2}$", "standard base64")
        self.assertEqual(base64.b64encode(bst.jwt.encode()).decode(), bst.text,
                         "canonical base64 of the JWT characters")
        self.assertRegex(bst.jwt, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
                         "a compact JWS")
        # the raw JWT text does not appear anywhere else in the body
        self.assertNotIn(bst.jwt.encode(), r.body)
        for name in ("RequestedAttachedReference", "RequestedUnattachedReference"):
            ref = rstr.refs[name]
            self.assertEqual(ref["token_type"], L.TT_JWT, name)
            self.assertEqual(ref["value_type"], L.TT_JWT, name)
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1, "one new row")
        self.assertIsNotNone(self.srv.wait_log(mark, r"issued JWT"), "issue not logged")
        return bst.jwt, rstr, r

    def check_claims(self, jwt_text, rstr, audience, alg):
        header, claims = L.verify_jwt(self.jwks(), jwt_text, audience=audience, typ="JWT",
                                      alg=alg)
        self.assertEqual(claims["iss"], L.ISSUER)
        self.assertEqual(claims["sub"], L.USER)
        self.assertEqual(claims["aud"], audience)
        for c in ("exp", "iat", "nbf", "jti"):
            self.assertIn(c, claims)
        self.assertNotIn("client_id", claims, "issued to a user, not to an OAuth client")
        self.assertEqual(claims["jti"], rstr.refs["RequestedAttachedReference"]["key_id"])
        self.assertEqual(claims["jti"], rstr.refs["RequestedUnattachedReference"]["key_id"])
        self.assertEqual(claims["iat"], int(L.parse_time(rstr.lifetime_created).timestamp()))
        self.assertEqual(claims["exp"], int(L.parse_time(rstr.lifetime_expires).timestamp()))
        row = self.srv.row(claims["jti"])
        self.assertIsNotNone(row, "store row for the jti")
        self.assertEqual((row["kind"], row["subject"], row["audience"], row["requester"],
                          row["state"]), (KIND_JWT, L.USER, audience, L.USER, STATE_ACTIVE))
        self.assertEqual(row["requester_kind"], 1, "requested by a user")
        return header, claims

    # ---- Issue --------------------------------------------------------------------

    def test_issue_jwt(self):
        for v in (11, 12):
            for aud, alg, cert in ((L.RP, "RS256", L.SIGNING_CERT),
                                   (L.RP_API, "ES256", L.EC_SIGNING_CERT)):
                with self.subTest(version=v, audience=aud):
                    jwt_text, rstr, _ = self.issue_jwt_ok(v, applies_to=aud)
                    header, claims = self.check_claims(jwt_text, rstr, aud, alg)
                    self.assertEqual(header["kid"], L.cert_kid(cert))
                    self.assertEqual(claims["exp"] - claims["iat"], 3600, "default lifetime")

    def test_issue_jwt_with_wsa_and_lifetime(self):
        mid = "urn:uuid:" + str(uuid.uuid4())
        jwt_text, rstr, r = self.issue_jwt_ok(12, wsa=True, message_id=mid,
                                              lifetime=(None, L.ts(600)))
        _, claims = self.check_claims(jwt_text, rstr, L.RP, "RS256")
        self.assertLessEqual(abs(claims["exp"] - claims["iat"] - 600), 2)
        hdr = L.reply_headers(L.parse_xml(r.body))
        self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                         L.REPLY_ACTION["Issue"])
        self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)

    def test_issue_jwt_unknown_applies_to(self):
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.srv.issue(version=12, applies_to="https://evil.example/",
                                                  token_type=L.TT_JWT),
                           "InvalidScope", 12, snap)

    # ---- Validate / Renew / Cancel --------------------------------------------

    def test_lifecycle(self):
        for v in (11, 12):
            with self.subTest(version=v):
                t1, rstr1, _ = self.issue_jwt_ok(v, applies_to=L.RP_API)
                _, c1 = self.check_claims(t1, rstr1, L.RP_API, "ES256")
                code, reason = self.status_of(t1, v)
                self.assertEqual(code, L.STATUS_VALID, reason)

                # Renew: a new JWT (new jti, same claims), linked; the old one invalid
                before = self.srv.snapshot()
                r = self.target("Renew", t1, v)
                self.assertEqual(r.status, 200, "Renew failed: %r" % r.body[:2000])
                self.assertNoSecrets(r)
                _, items = L.parse_rstr_response(r, collection=False)
                rstr2 = items[0]
                self.assertEqual(rstr2.request_type, L.REQUEST_TYPE["Renew"])
                self.assertEqual(rstr2.token_type, L.TT_JWT)
                self.assertEqual(rstr2.applies_to, L.RP_API)
                bst = L.extract_bst(rstr2)
                self.assertEqual((bst.value_type, bst.encoding_type), (L.TT_JWT, L.B64_ENC))
                t2 = bst.jwt
                _, c2 = self.check_claims(t2, rstr2, L.RP_API, "ES256")
                self.assertNotEqual(c2["jti"], c1["jti"])
                self.assertEqual(c2["exp"] - c2["iat"], c1["exp"] - c1["iat"],
                                 "same lifetime length")
                self.assertEqual(len(self.srv.snapshot()), len(before) + 1)
                old, new = self.srv.row(c1["jti"]), self.srv.row(c2["jti"])
                self.assertEqual((old["state"], old["replaced_by"]), (STATE_RENEWED, c2["jti"]))
                self.assertEqual(new["replaces"], c1["jti"])
                self.assertInvalid(L.bst_xml(t1), v)
                self.assertValid(L.bst_xml(t2), v)
                snap = self.srv.snapshot()
                self.assertRefused(lambda: self.target("Renew", t1, v), "UnableToRenew", v, snap)

                # Cancel: RequestedTokenCancelled; Validate invalid; Renew refused
                r = self.target("Cancel", t2, v)
                self.assertEqual(r.status, 200, "Cancel failed: %r" % r.body[:2000])
                _, items = L.parse_rstr_response(r, collection=False)
                self.assertIsNotNone(items[0].cancelled, "wst:RequestedTokenCancelled")
                self.assertEqual(len(items[0].cancelled), 0)
                self.assertEqual(self.srv.row(c2["jti"])["state"], STATE_CANCELLED)
                self.assertInvalid(L.bst_xml(t2), v)
                snap = self.srv.snapshot()
                self.assertRefused(lambda: self.target("Renew", t2, v), "UnableToRenew", v, snap)
                # idempotent cancel
                r = self.target("Cancel", t2, v)
                self.assertEqual(r.status, 200, r.body[:2000])
                self.assertEqual(self.srv.snapshot(), snap)

    def test_base64_with_line_breaks_accepted(self):
        """xs:base64Binary allows white space: a BinarySecurityToken wrapped at
        76 characters (as MIME encoders do) is the same token."""
        t, _, _ = self.issue_jwt_ok(12)
        b64 = base64.encodebytes(t.encode()).decode()  # 76-column lines
        self.assertIn("\n", b64)
        code, reason, _ = self.validate_status(L.bst_xml(t, raw_text=b64), 12)
        self.assertEqual(code, L.STATUS_VALID, reason)

    def test_encoding_type_may_be_omitted(self):
        """EncodingType defaults to Base64Binary (WSS 1.0 sec. 6.3)."""
        t, _, _ = self.issue_jwt_ok(12)
        code, reason, _ = self.validate_status(L.bst_xml(t, encoding_type=None), 12)
        self.assertEqual(code, L.STATUS_VALID, reason)

    # ---- malformed BinarySecurityToken targets: wst:InvalidRequest --------------------

    def test_bad_binary_security_tokens(self):
        t, _, _ = self.issue_jwt_ok(12)
        good = base64.b64encode(t.encode()).decode()
        cases = [
            ("ValueType X509v3", dict(value_type=X509_VT)),
            ("ValueType SAML 2.0", dict(value_type=L.TT_SAML2_PROFILE)),
            ("ValueType access_token URN", dict(value_type=L.TT_ACCESS)),
            ("ValueType missing", dict(value_type=None)),
            ("EncodingType HexBinary", dict(encoding_type=HEX_ENC)),
            ("base64 with a bad character", dict(raw_text=good[:-4] + "!!!!")),
            ("base64 of the wrong length", dict(raw_text=good[:-1])),
            ("base64url instead of base64", dict(raw_text=L.b64url_encode(t.encode() + b"\xfb\xff"))),
            ("empty", dict(raw_text="")),
        ]
        for v in (11, 12):
            for binding in ("Validate", "Renew", "Cancel"):
                for name, kw in cases:
                    with self.subTest(version=v, binding=binding, case=name):
                        self.assertRefused(lambda: self.target(binding, t, v, **kw),
                                           "InvalidRequest", v)
        # none of it touched the token
        code, _ = self.status_of(t)
        self.assertEqual(code, L.STATUS_VALID)
        self.assertEqual(self.srv.row(L.jwt_parts(t)[1]["jti"])["state"], STATE_ACTIVE)

    # ---- tampered and forged JWTs: Validate says invalid ---------------------------------

    def forged_with_our_key(self, template):
        """A JWT signed with the STS's own (development) RSA key, claims copied
        from @template under a jti the store has never seen."""
        import jwt as pyjwt
        header, claims, _, _ = L.jwt_parts(template)
        claims = dict(claims, jti="_" + uuid.uuid4().hex)
        with open(L.SIGNING_KEY) as f:
            key = f.read()
        return pyjwt.encode(claims, key, algorithm="RS256",
                            headers={"kid": L.cert_kid(L.SIGNING_CERT), "typ": "JWT"})

    def test_tampered_and_forged_jwts(self):
        t, _, _ = self.issue_jwt_ok(12)
        header, claims, signing_input, sig = L.jwt_parts(t)
        key, crt = L.make_keypair(self.srv.tmp, "Not The STS")
        import jwt as pyjwt
        with open(key) as f:
            evil_key = f.read()
        with open(L.SIGNING_CERT, "rb") as f:
            cert_pem = f.read()
        hs_header = dict(header, alg="HS256")
        hs_input = ("%s.%s" % (L.b64url_encode(json.dumps(hs_header, separators=(",", ":"))),
                               t.split(".")[1])).encode()
        cases = {
            "signature bit flipped": L.tamper_jwt(t),
            "sub changed": L.tamper_jwt(t, {"sub": "mallory"}),
            "exp extended": L.tamper_jwt(t, {"exp": claims["exp"] + 86400}),
            "aud changed": L.tamper_jwt(t, {"aud": L.RP_API}),
            "signature stripped": t.rsplit(".", 1)[0] + ".",
            "alg none": L.jwt_resign_unsafe(dict(header, alg="none"), claims),
            "HS256 keyed with our certificate": hs_input.decode() + "." + L.b64url_encode(
                hmac.new(cert_pem, hs_input, hashlib.sha256).digest()),
            "signed by another key, our kid": pyjwt.encode(
                claims, evil_key, algorithm="RS256", headers={"kid": header["kid"], "typ": "JWT"}),
            "our key, jti unknown to the store": self.forged_with_our_key(t),
            "not a JWT": "hello world",
        }
        for v in (11, 12):
            for name, forged in cases.items():
                with self.subTest(version=v, case=name):
                    snap = self.srv.snapshot()
                    reason = self.assertInvalid(L.bst_xml(forged), v, snap)
                    self.assertNotIn(forged.encode(), reason.encode(), "token echoed in reason")
        # Renew and Cancel refuse them with the binding's fault
        for name in ("sub changed", "our key, jti unknown to the store"):
            with self.subTest(case=name, binding="Renew/Cancel"):
                snap = self.srv.snapshot()
                self.assertRefused(lambda: self.target("Renew", cases[name], 12),
                                   "UnableToRenew", 12, snap)
                self.assertRefused(lambda: self.target("Cancel", cases[name], 12),
                                   "RequestFailed", 12, snap)
        # the genuine token is untouched
        code, reason = self.status_of(t)
        self.assertEqual(code, L.STATUS_VALID, reason)


class SoapJwtExpiryTest(L.RestMixin, L.StsTestCase):
    """A 2-second JWT, no clock skew: after it expires Validate says invalid,
    and Renew (within the renew window) gives a fresh one."""

    CONFIG = staticmethod(lambda: L.rest_default_config(clock_skew=0))

    def test_expired_jwt(self):
        r = self.srv.issue(version=12, token_type=L.TT_JWT, lifetime=(None, L.ts(2)),
                           extra='<wst:Renewing OK="true"/>')  # renewable after expiry
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        t = L.extract_bst(items[0]).jwt
        exp = L.jwt_parts(t)[1]["exp"]
        time.sleep(max(exp - time.time(), 0) + 1.5)
        self.assertInvalid(L.bst_xml(t))
        r = self.srv.soap("Renew", L.rst_target("Renew", L.bst_xml(t)), 12)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        t2 = L.extract_bst(items[0]).jwt
        self.assertGreater(L.jwt_parts(t2)[1]["exp"], time.time())
        self.assertValid(L.bst_xml(t2))
        self.assertInvalid(L.bst_xml(t))


if __name__ == "__main__":
    unittest.main(verbosity=2)
