#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""WS-Trust Validate with transformation (WS-Trust 1.3 sec. 7, issue #4): a
Validate whose wst:TokenType is not .../RSTR/Status answers the status and,
when the token is valid, a new token of the requested type for the same
subject and audience (SAML 2.0 in, JWT out; JWT in, SAML 2.0 or 1.1 out),
as CXF does. On one real server (embedded default):

- the new token verifies with real tools (PyJWT against /.well-known/jwks.json,
  xmlsec1 and samlsign), names the same subject and audience, expires no later
  than the validated token, and is recorded as derived from it: cancelling
  the original cancels it (SOAP Validate and REST /introspect agree);
- an invalid token is answered with the status alone (RSTR/Status, invalid),
  nothing issued; an unsupported TokenType is wst:BadRequest; a token whose
  scope an assertion cannot carry is wst:InvalidRequest; each with the store
  unchanged; Feb 2005 works the same in its own namespace."""
import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

W5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
STATE_CANCELLED = 2


def rst_transform(token, token_type, ns=L.WST):
    token = token.decode() if isinstance(token, bytes) else token
    return ('<t:RequestSecurityToken xmlns:t="%s"><t:TokenType>%s</t:TokenType>'
            '<t:RequestType>%s/Validate</t:RequestType>'
            '<t:ValidateTarget>%s</t:ValidateTarget></t:RequestSecurityToken>'
            % (ns, token_type, ns, token))


class ValidateTransformTest(L.RestMixin, L.StsTestCase):

    CONFIG = None
    _jwks = None

    def jwks(self):
        if self._jwks is None:
            type(self)._jwks = L.fetch_jwks(self.srv)
        return self._jwks

    def transform(self, token, token_type, version=12):
        """Validate @token asking for @token_type: (Rstr, response), status valid."""
        before = len(self.srv.snapshot())
        r = self.srv.soap("Validate", rst_transform(token, token_type), version)
        self.assertEqual(r.status, 200, "Validate failed: %r" % r.body[:2000])
        self.assertNoSecrets(r)
        _, items = L.parse_rstr_response(r, collection=False)
        rstr = items[0]
        self.assertEqual(rstr.status_code, L.STATUS_VALID, rstr.status_reason)
        self.assertEqual(rstr.token_type, token_type)
        self.assertEqual(rstr.request_type, L.REQUEST_TYPE["Validate"])
        self.assertEqual(rstr.key_type, L.KT_BEARER)
        self.assertEqual(len(self.srv.snapshot()), before + 1, "one new token in the store")
        return rstr, r

    def assertDerived(self, new_id, parent_id, rstr):
        row = self.srv.row(new_id)
        self.assertIsNotNone(row, "new token stored")
        self.assertEqual(row["parent"], parent_id, "recorded as derived from the original")
        parent = self.srv.row(parent_id)
        self.assertLessEqual(L.parse_time(rstr.lifetime_expires).timestamp(),
                             parent["expires_at"], "never outlives the original")

    def issue_soap_jwt(self, applies_to=L.RP_API):
        r = self.srv.issue(token_type=L.TT_JWT, applies_to=applies_to)
        self.assertEqual(r.status, 200, r.body[:1000])
        _, items = L.parse_rstr_response(r, collection=True)
        return L.extract_bst(items[0]).jwt

    # ---- SAML in, JWT out ----------------------------------------------------------
    def test_saml2_to_jwt(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                _, _, a = self.issue_ok(v)
                orig = L.assertion_facts(a)
                rstr, _ = self.transform(a, L.TT_JWT, v)
                jwt_text = L.extract_bst(rstr).jwt
                _, claims = L.verify_jwt(self.jwks(), jwt_text, audience=L.RP)
                self.assertEqual(claims["sub"], L.USER)
                self.assertEqual(rstr.applies_to, L.RP)
                self.assertDerived(claims["jti"], orig.id, rstr)
                # REST sees it too: introspection of the transformed token
                doc = self.introspect(jwt_text)
                self.assertTrue(doc["active"])
                self.assertEqual(doc["sub"], L.USER)

    def test_cancel_original_cancels_transformed(self):
        _, _, a = self.issue_ok()
        rstr, _ = self.transform(a, L.TT_JWT)
        jwt_text = L.extract_bst(rstr).jwt
        self.assertEqual(self.srv.cancel(a).status, 200)
        self.assertInactive(jwt_text)
        self.assertEqual(self.srv.row(L.jwt_parts(jwt_text)[1]["jti"])["state"], STATE_CANCELLED)

    # ---- JWT in, SAML out ------------------------------------------------------------
    def test_jwt_to_saml2_and_saml11(self):
        jwt_text = self.issue_soap_jwt()
        jti = L.jwt_parts(jwt_text)[1]["jti"]
        rstr, r = self.transform(L.bst_xml(jwt_text), L.TT_SAML2)
        a = L.extract_assertion_bytes(r.body)
        facts = L.assertion_facts(a)
        self.assertEqual(facts.subject, L.USER)
        self.assertEqual(facts.audiences, [L.RP_API])
        self.assertEqual(facts.attributes.get("email"), [L.USER_ATTRS["email"]],
                         "a realm user's attributes")
        self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
        self.assertTrue(L.samlsign_verify(a).ok, "samlsign")
        self.assertDerived(facts.id, jti, rstr)
        self.assertValid(a)

        rstr, r = self.transform(L.bst_xml(jwt_text), L.TT_SAML11)
        self.assertIn(b"AssertionID=", r.body)
        self.assertEqual(rstr.refs["RequestedAttachedReference"]["token_type"],
                         L.TT_SAML11_PROFILE)

    def test_feb_2005(self):
        _, _, a = self.issue_ok()
        r = self.srv.soap("Validate", rst_transform(a, L.TT_JWT, W5), 12,
                          action=W5 + "/RST/Validate")
        self.assertEqual(r.status, 200, r.body[:1000])
        rstr = L.body_child(L.parse_xml(r.body))
        ns = {"t": W5, "wsse": L.NS["wsse"]}
        self.assertEqual(rstr.tag, "{%s}RequestSecurityTokenResponse" % W5)
        self.assertEqual(rstr.findtext("t:Status/t:Code", namespaces=ns), W5 + "/status/valid")
        self.assertEqual(rstr.findtext("t:TokenType", namespaces=ns), L.TT_JWT)
        self.assertEqual(rstr.findtext("t:KeyType", namespaces=ns),
                         "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
        self.assertIsNotNone(rstr.find("t:RequestedSecurityToken/wsse:BinarySecurityToken", ns))

    # ---- refusals ---------------------------------------------------------------------
    def test_invalid_token_gets_the_status_alone(self):
        _, _, a = self.issue_ok()
        self.srv.cancel(a)
        before = self.srv.snapshot()
        r = self.srv.soap("Validate", rst_transform(a, L.TT_JWT))
        self.assertEqual(r.status, 200, r.body[:1000])
        _, items = L.parse_rstr_response(r, collection=False)
        rstr = items[0]
        self.assertEqual(rstr.status_code, L.STATUS_INVALID)
        self.assertEqual(rstr.token_type, L.TT_STATUS)
        self.assertIsNone(rstr.requested_token, "nothing issued for an invalid token")
        self.assertEqual(self.srv.snapshot(), before)

    def test_tampered_token_gets_the_status_alone(self):
        _, _, a = self.issue_ok()
        bad = a.replace(L.USER.encode(), b"mallory", 1)
        before = self.srv.snapshot()
        r = self.srv.soap("Validate", rst_transform(bad, L.TT_JWT))
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)
        self.assertIsNone(items[0].requested_token)
        self.assertEqual(self.srv.snapshot(), before)

    def test_unsupported_token_type(self):
        _, _, a = self.issue_ok()
        for tt in ("urn:example:unknown", L.WST + "/RSTR/Status/x", W5 + "/RSTR/Status"):
            with self.subTest(token_type=tt):
                self.assertRefused(lambda: self.srv.soap("Validate", rst_transform(a, tt)),
                                   "BadRequest", 12)

    def test_scope_cannot_go_into_an_assertion(self):
        _, b = self.soap_saml(applies_to=L.RP_API)
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP_API, scope="api.read")
        at = doc["access_token"]
        self.assertRefused(lambda: self.srv.soap("Validate",
                                                 rst_transform(L.bst_xml(at), L.TT_SAML2)),
                           "InvalidRequest", 12)
        # the same token into a JWT keeps its scope
        rstr, _ = self.transform(L.bst_xml(at), L.TT_JWT)
        _, claims = L.verify_jwt(self.jwks(), L.extract_bst(rstr).jwt, audience=L.RP_API)
        self.assertEqual(claims.get("scope"), "api.read")
        self.assertEqual(claims.get("client_id"), L.CLIENT_ID)


if __name__ == "__main__":
    unittest.main(verbosity=2)
