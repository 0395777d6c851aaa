#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Both faces on ONE running server (embedded default), one engine, one token
store, in both directions:

- SOAP -> REST: a SAML assertion issued over SOAP (alice) is exchanged at
  /token with curl (client migration-tester) for a JWT that PyJWT verifies
  with the JWKS fetched over HTTP; it is introspected at /introspect; its
  cancellation or renewal over SOAP shows at /introspect.
- REST -> SOAP: a JWT issued at /token is validated, renewed and cancelled
  over SOAP by alice (its subject) as a wsse:BinarySecurityToken; /revoke
  shows in SOAP Validate; a renewed token's predecessor is invalid on both
  faces."""
import json
import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

STATE_ACTIVE, STATE_RENEWED, STATE_CANCELLED = 0, 1, 2


class CrossFaceTest(L.RestMixin, L.StsTestCase):
    """One server for every test of this class: the embedded default."""

    CONFIG = None

    # ---- helpers ------------------------------------------------------------------

    def curl_exchange(self, subject, subject_type, **params):
        """POST /token with curl -u migration-tester:s3cret; returns (status,
        headers text, JSON document or None)."""
        hdr_file = os.path.join(self.srv.tmp, "curl-cross-headers")
        cmd = ["curl", "-s", "-m", "10", "-D", hdr_file, "-o", "-", "-w", "\n%{http_code}",
               "-u", "%s:%s" % (L.CLIENT_ID, L.CLIENT_SECRET)]
        for k, v in L.exchange_params(subject, subject_type, **params):
            cmd += ["--data-urlencode", "%s=%s" % (k, v)]
        out = subprocess.run(cmd + [L.rest_base(self.srv) + "/token"], stdout=subprocess.PIPE,
                             timeout=20, check=True).stdout
        body, _, status = out.rpartition(b"\n")
        with open(hdr_file, "rb") as f:
            headers = f.read().decode("latin-1")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        return int(status), headers, doc

    def rest_jwt(self, audience=L.RP, **params):
        """A JWT for alice obtained at /token by migration-tester from a SAML
        assertion issued over SOAP. Returns (JWT, response document)."""
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=audience, **params)
        return doc["access_token"], doc

    def soap_bst(self, binding, jwt_text, version=12, **kw):
        return self.srv.soap(binding, L.rst_target(binding, L.bst_xml(jwt_text)), version, **kw)

    def soap_status(self, jwt_text, version=12):
        """wst:Status code of SOAP Validate of a JWT (as a BinarySecurityToken)."""
        r = self.soap_bst("Validate", jwt_text, version)
        self.assertEqual(r.status, 200, "Validate must answer: %r" % r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].token_type, L.TT_STATUS)
        return items[0].status_code

    def soap_renew_jwt(self, jwt_text, version=12):
        """Renew a JWT over SOAP as alice: (new JWT, Rstr)."""
        r = self.soap_bst("Renew", jwt_text, version)
        self.assertEqual(r.status, 200, "Renew failed: %r" % r.body[:2000])
        self.assertNoSecrets(r)
        _, items = L.parse_rstr_response(r, collection=False)
        rstr = items[0]
        self.assertEqual(rstr.request_type, L.REQUEST_TYPE["Renew"])
        bst = L.extract_bst(rstr)
        self.assertEqual(bst.value_type, L.TT_JWT)
        self.assertEqual(bst.encoding_type, L.B64_ENC)
        return bst.jwt, rstr

    def jti(self, jwt_text):
        return L.jwt_parts(jwt_text)[1]["jti"]

    # ---- SOAP -> REST -------------------------------------------------------------

    def test_saml_from_soap_exchanged_with_curl(self):
        a, _ = self.soap_saml(version=11)
        facts = L.assertion_facts(a)
        before = self.srv.snapshot()
        status, headers, doc = self.curl_exchange(L.b64url_encode(a), L.TT_SAML2_URN,
                                                  audience=L.RP_API,
                                                  requested_token_type=L.TT_JWT)
        self.assertEqual(status, 200, doc)
        self.assertRegex(headers, r"(?im)^cache-control:.*no-store")
        self.assertEqual(doc["issued_token_type"], L.TT_JWT)
        self.assertEqual(doc["token_type"], "N_A")
        jwks = L.fetch_jwks(self.srv)
        header, claims = L.verify_jwt(jwks, doc["access_token"], audience=L.RP_API, typ="JWT",
                                      alg="ES256")
        self.assertEqual(claims["sub"], facts.subject)
        self.assertEqual(claims["iss"], L.ISSUER)
        self.assertEqual(claims["client_id"], L.CLIENT_ID)
        self.assertLessEqual(claims["exp"],
                             int(L.parse_time(facts.not_on_or_after).timestamp()))
        row = self.srv.row(claims["jti"])
        self.assertEqual((row["requester"], row["subject"], row["state"]),
                         (L.CLIENT_ID, L.USER, STATE_ACTIVE))
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1)
        # an access token (with refresh token) for rp: RS256, typ at+jwt
        status, _, doc = self.curl_exchange(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP)
        self.assertEqual(status, 200, doc)
        L.verify_jwt(jwks, doc["access_token"], audience=L.RP, typ="at+jwt", alg="RS256")
        L.verify_jwt(jwks, doc["refresh_token"], audience=L.ISSUER, typ="rt+jwt")

    def test_soap_saml_introspected(self):
        a, b = self.soap_saml()
        facts = L.assertion_facts(a)
        before = self.srv.snapshot()
        intro = self.assertActive(b)
        self.assertEqual(self.srv.snapshot(), before)
        self.assertEqual(intro.get("issued_token_type"), L.TT_SAML2_URN)
        self.assertEqual(intro.get("sub"), L.USER)
        self.assertEqual(intro.get("aud"), L.RP)
        self.assertEqual(intro.get("iss"), L.ISSUER)
        self.assertEqual(intro.get("jti"), facts.id)
        self.assertEqual(intro.get("token_type"), "N_A")

    def test_soap_cancel_of_saml_shows_at_introspect(self):
        a, b = self.soap_saml()
        self.assertActive(b)
        r = self.srv.cancel(a)
        self.assertEqual(r.status, 200, r.body[:1500])
        self.assertInactive(b)
        self.assertInvalid(a)

    def test_soap_renew_of_saml_shows_at_introspect(self):
        a, b = self.soap_saml()
        r = self.srv.renew(a)
        self.assertEqual(r.status, 200, r.body[:1500])
        new = L.extract_assertion_bytes(r.body)
        self.assertInactive(b)
        self.assertInvalid(a)
        self.assertActive(L.b64url_encode(new))
        self.assertValid(new)

    def test_soap_jwt_introspected_and_exchanged(self):
        sj, rstr = self.soap_jwt()
        intro = self.assertActive(sj)
        self.assertEqual(intro.get("issued_token_type"), L.TT_JWT)
        self.assertEqual(intro.get("token_type"), "N_A")
        self.assertEqual(intro.get("sub"), L.USER)
        self.assertNotIn("client_id", intro, "issued over SOAP to a user, not to a client")
        doc = self.exchange_ok(sj, L.TT_JWT, audience=L.RP_API)
        L.verify_jwt(L.fetch_jwks(self.srv), doc["access_token"], audience=L.RP_API,
                     typ="at+jwt", alg="ES256")

    # ---- REST -> SOAP ------------------------------------------------------------

    def test_rest_jwt_validated_renewed_cancelled_over_soap(self):
        t1, _ = self.rest_jwt(audience=L.RP, scope="openid profile")
        jwks = L.fetch_jwks(self.srv)
        _, c1 = L.verify_jwt(jwks, t1, audience=L.RP, typ="at+jwt")
        for v in (11, 12):
            with self.subTest(version=v):
                self.assertEqual(self.soap_status(t1, v), L.STATUS_VALID)

        # renew over SOAP by alice, the token's subject (migration-tester requested it)
        before = self.srv.snapshot()
        t2, rstr = self.soap_renew_jwt(t1)
        self.assertEqual(rstr.token_type, L.TT_ACCESS, "an access token renews as one")
        self.assertEqual(rstr.applies_to, L.RP)
        h2, c2 = L.verify_jwt(jwks, t2, audience=L.RP, typ="at+jwt")
        self.assertNotEqual(c2["jti"], c1["jti"])
        self.assertEqual((c2["sub"], c2["scope"], c2["client_id"]),
                         (L.USER, "openid profile", L.CLIENT_ID))
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1)
        old, new = self.srv.row(c1["jti"]), self.srv.row(c2["jti"])
        self.assertEqual((old["state"], old["replaced_by"]), (STATE_RENEWED, c2["jti"]))
        self.assertEqual((new["state"], new["replaces"]), (STATE_ACTIVE, c1["jti"]))
        for rv in (rstr.refs.get("RequestedAttachedReference"),
                   rstr.refs.get("RequestedUnattachedReference")):
            self.assertIsNotNone(rv)
            self.assertEqual(rv["key_id"], c2["jti"])

        # the predecessor is invalid on both faces, the successor valid on both
        self.assertEqual(self.soap_status(t1), L.STATUS_INVALID)
        self.assertInactive(t1)
        self.assertEqual(self.soap_status(t2), L.STATUS_VALID)
        intro = self.assertActive(t2)
        self.assertEqual(intro.get("jti"), c2["jti"])
        self.assertEqual(intro.get("issued_token_type"), L.TT_ACCESS)
        # and cannot be renewed again, over SOAP or exchanged at REST
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.soap_bst("Renew", t1), "UnableToRenew", 12, snap)
        self.assertOAuthError(lambda: L.token_exchange(self.srv, t1, L.TT_ACCESS, audience=L.RP),
                              400, "invalid_request", snap)

        # cancel over SOAP: /introspect answers active false
        r = self.soap_bst("Cancel", t2, 11)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertIsNotNone(items[0].cancelled, "wst:RequestedTokenCancelled")
        self.assertEqual(self.srv.row(c2["jti"])["state"], STATE_CANCELLED)
        self.assertInactive(t2)
        self.assertEqual(self.soap_status(t2), L.STATUS_INVALID)
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.soap_bst("Renew", t2), "UnableToRenew", 12, snap)

    def test_revoke_shows_in_soap_validate(self):
        t, doc = self.rest_jwt(audience=L.RP_API)
        self.assertEqual(self.soap_status(t), L.STATUS_VALID)
        r = L.rest_post(self.srv, "/revoke", {"token": t})
        self.assertEqual((r.status_code, r.content), (200, b""))
        self.assertEqual(self.srv.row(self.jti(t))["state"], STATE_CANCELLED)
        for v in (11, 12):
            with self.subTest(version=v):
                self.assertEqual(self.soap_status(t, v), L.STATUS_INVALID)
        # revoking the refresh token takes the access tokens of its family too
        t2, doc2 = self.rest_jwt(audience=L.RP)
        r = L.rest_post(self.srv, "/revoke", {"token": doc2["refresh_token"]})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.soap_status(t2), L.STATUS_INVALID)

    def test_soap_cancel_of_rest_jwt_shows_at_introspect(self):
        t, _ = self.rest_jwt(audience=L.RP)
        self.assertActive(t)
        r = self.soap_bst("Cancel", t, 12)
        self.assertEqual(r.status, 200, r.body[:2000])
        self.assertInactive(t)
        # a second cancel is idempotent on both faces
        snap = self.srv.snapshot()
        r = self.soap_bst("Cancel", t, 12)
        self.assertEqual(r.status, 200, r.body[:2000])
        r = L.rest_post(self.srv, "/revoke", {"token": t})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.srv.snapshot(), snap)

    def test_rest_jwt_renewed_at_soap_11(self):
        t1, _ = self.rest_jwt(audience=L.RP_API, requested_token_type=L.TT_JWT)
        t2, rstr = self.soap_renew_jwt(t1, version=11)
        self.assertEqual(rstr.token_type, L.TT_JWT)
        L.verify_jwt(L.fetch_jwks(self.srv), t2, audience=L.RP_API, typ="JWT", alg="ES256")
        self.assertEqual(self.soap_status(t1, 11), L.STATUS_INVALID)
        self.assertInactive(t1)
        self.assertActive(t2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
