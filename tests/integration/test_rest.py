#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The RFC 8693 REST face on the embedded default (docs/config.md): POST /token
(token exchange and the refresh_token grant), /introspect, /revoke, GET the
RFC 8414 metadata and the JWKS. python3-requests is the client (curl once per
endpoint); every JWT we are given is verified with PyJWT against the JWKS
fetched over HTTP; every refusal is checked for its HTTP status, its OAuth
error code, Cache-Control: no-store, an unchanged token store and its log line."""
import base64
import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

STATE_ACTIVE, STATE_RENEWED, STATE_CANCELLED = 0, 1, 2
KIND_SAML2, KIND_JWT, KIND_REFRESH = 1, 3, 4


class RestBase(L.RestMixin, L.StsTestCase):
    """Helpers shared by the classes below (each class runs its own server)."""

    _jwks = None

    def jwks(self):
        if self._jwks is None:
            type(self)._jwks = L.fetch_jwks(self.srv)
        return self._jwks

    def verify(self, token, audience, typ=None, alg=None, issuer=L.ISSUER):
        return L.verify_jwt(self.jwks(), token, audience=audience, issuer=issuer, typ=typ,
                            alg=alg)

    def access_from_saml(self, audience=L.RP, **kw):
        """SOAP-issued SAML (alice) exchanged for an access token; returns the response doc."""
        _, b = self.soap_saml()
        return self.exchange_ok(b, L.TT_SAML2_URN, audience=audience, **kw)

    def new_rows(self, before):
        ids = {r["id"] for r in before}
        return [r for r in self.srv.snapshot() if r["id"] not in ids]


class RestEndpointsTest(RestBase):
    """Embedded default configuration (no --config)."""

    CONFIG = None

    # ---- metadata and keys --------------------------------------------------

    def test_metadata(self):
        r = L.rest_get(self.srv, "/.well-known/oauth-authorization-server")
        self.assertEqual(r.status_code, 200, r.text[:1000])
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        md = r.json()
        base = L.rest_base(self.srv)
        self.assertEqual(md.get("issuer"), L.ISSUER)
        self.assertEqual(md.get("token_endpoint"), base + "/token")
        self.assertEqual(md.get("introspection_endpoint"), base + "/introspect")
        self.assertEqual(md.get("revocation_endpoint"), base + "/revoke")
        self.assertEqual(md.get("jwks_uri"), base + "/.well-known/jwks.json")
        self.assertIn(L.GRANT_TE, md.get("grant_types_supported", []))
        self.assertIn("refresh_token", md.get("grant_types_supported", []))
        for k in ("token_endpoint_auth_methods_supported",
                  "introspection_endpoint_auth_methods_supported",
                  "revocation_endpoint_auth_methods_supported"):
            self.assertEqual(sorted(md.get(k, [])), ["client_secret_basic", "client_secret_post"], k)
        self.assertEqual(sorted(md.get("scopes_supported", [])), sorted(L.DEFAULT_SCOPES))
        # the endpoints the document names are the ones that answer
        self.assertEqual(requests.get(md["jwks_uri"], timeout=10).status_code, 200)
        r = requests.post(md["token_endpoint"], data={"grant_type": "password"},
                          auth=(L.CLIENT_ID, L.CLIENT_SECRET), timeout=10)
        self.assertEqual((r.status_code, r.json().get("error")), (400, "unsupported_grant_type"))

    def test_jwks(self):
        r = L.rest_get(self.srv, "/.well-known/jwks.json")
        self.assertEqual(r.status_code, 200, r.text[:1000])
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        keys = r.json().get("keys")
        self.assertEqual(len(keys), 2, "both public keys: %r" % keys)
        by_kty = {k["kty"]: k for k in keys}
        self.assertEqual(sorted(by_kty), ["EC", "RSA"])
        self.assertEqual(len({k.get("kid") for k in keys}), 2, "distinct kids")
        for k in keys:
            self.assertNotIn("d", k, "private key material published")
            self.assertEqual(k.get("use"), "sig")
        rsa_k, ec_k = by_kty["RSA"], by_kty["EC"]
        self.assertEqual(rsa_k.get("alg"), "RS256")
        self.assertEqual(ec_k.get("alg"), "ES256")
        self.assertEqual(ec_k.get("crv"), "P-256")
        self.assertEqual(rsa_k["kid"], L.cert_kid(L.SIGNING_CERT))
        self.assertEqual(ec_k["kid"], L.cert_kid(L.EC_SIGNING_CERT))
        with open(L.SIGNING_CERT, "rb") as f:
            pub = x509.load_pem_x509_certificate(f.read()).public_key()
        self.assertIsInstance(pub, rsa.RSAPublicKey)
        nums = pub.public_numbers()
        self.assertEqual(int.from_bytes(L.b64url_decode(rsa_k["n"]), "big"), nums.n)
        self.assertEqual(int.from_bytes(L.b64url_decode(rsa_k["e"]), "big"), nums.e)
        with open(L.EC_SIGNING_CERT, "rb") as f:
            pub = x509.load_pem_x509_certificate(f.read()).public_key()
        self.assertIsInstance(pub, ec.EllipticCurvePublicKey)
        nums = pub.public_numbers()
        self.assertEqual(int.from_bytes(L.b64url_decode(ec_k["x"]), "big"), nums.x)
        self.assertEqual(int.from_bytes(L.b64url_decode(ec_k["y"]), "big"), nums.y)
        import jwt as pyjwt
        for k in keys:  # PyJWT accepts both as JWKs
            self.assertIsNotNone(pyjwt.PyJWK(k).key)

    # ---- token exchange ----------------------------------------------------------

    def check_access_token(self, doc, audience, alg, subject_exp=None):
        self.assertEqual(doc["issued_token_type"], L.TT_ACCESS)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertIsInstance(doc.get("expires_in"), int)
        self.assertGreater(doc["expires_in"], 0)
        self.assertLessEqual(doc["expires_in"], 3600)
        header, claims = self.verify(doc["access_token"], audience, typ="at+jwt", alg=alg)
        for c in ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id"):
            self.assertIn(c, claims, "claim %s" % c)
        self.assertEqual(claims["iss"], L.ISSUER)
        self.assertEqual(claims["sub"], L.USER)
        self.assertEqual(claims["client_id"], L.CLIENT_ID)
        self.assertLessEqual(abs(claims["exp"] - claims["iat"] - doc["expires_in"]), 2)
        if subject_exp is not None:
            self.assertLessEqual(claims["exp"], subject_exp, "outlives the subject token")
        return header, claims

    def test_exchange_saml_for_access_token_rs256(self):
        a, b = self.soap_saml()
        before = self.srv.snapshot()
        mark = self.srv.log_mark()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP)
        header, claims = self.check_access_token(doc, L.RP, "RS256")
        self.assertEqual(claims["aud"], L.RP)
        self.assertNotIn("scope", claims, "a SAML subject carries no scope, none was asked")
        self.assertNotIn("scope", doc)
        self.assertNotIn("act", claims)
        self.assertIn("refresh_token", doc, "the demo client may have refresh tokens")
        rh, rc = self.verify(doc["refresh_token"], L.ISSUER, typ="rt+jwt")
        self.assertEqual(rc["sub"], L.USER)
        self.assertNotEqual(rc["jti"], claims["jti"])
        # store: one access token and one refresh token, requested by the client
        new = {r["id"]: r for r in self.new_rows(before)}
        self.assertEqual(sorted(new), sorted([claims["jti"], rc["jti"]]))
        at, rt = new[claims["jti"]], new[rc["jti"]]
        self.assertEqual((at["kind"], at["state"], at["subject"], at["audience"], at["requester"]),
                         (KIND_JWT, STATE_ACTIVE, L.USER, L.RP, L.CLIENT_ID))
        self.assertEqual((rt["kind"], rt["state"], rt["requester"]),
                         (KIND_REFRESH, STATE_ACTIVE, L.CLIENT_ID))
        self.assertEqual(at["parent"], rt["id"], "the access token hangs off its refresh token")
        self.assertIsNotNone(self.srv.wait_log(mark, r"POST /token -> 200"))
        self.assertEqual(self.srv.row(L.assertion_facts(a).id)["state"], STATE_ACTIVE,
                         "the subject token is not consumed")

    def test_exchange_for_api_is_es256(self):
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP_API)
        header, claims = self.check_access_token(doc, L.RP_API, "ES256")
        self.assertEqual(header["kid"], L.cert_kid(L.EC_SIGNING_CERT))
        self.assertEqual(claims["aud"], L.RP_API)
        # the same token refuses to verify with the RSA key
        import jwt as pyjwt
        rsa_jwk = [k for k in self.jwks()["keys"] if k["kty"] == "RSA"][0]
        with self.assertRaises(pyjwt.exceptions.PyJWTError):
            pyjwt.decode(doc["access_token"], key=pyjwt.PyJWK(rsa_jwk).key,
                         algorithms=["RS256"], audience=L.RP_API)

    def test_resource_parameter(self):
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, resource=L.RP_API)
        _, claims = self.check_access_token(doc, L.RP_API, "ES256")
        self.assertEqual(claims["aud"], L.RP_API)

    def test_saml_subject_padded_and_unpadded(self):
        a, _ = self.soap_saml()
        padded = L.b64url_encode(a, pad=True)
        unpadded = L.b64url_encode(a)
        variants = {padded, unpadded}  # the same string when len(a) % 3 == 0
        for text in variants:
            with self.subTest(padded=text.endswith("=")):
                doc = self.exchange_ok(text, L.TT_SAML2_URN, audience=L.RP)
                self.check_access_token(doc, L.RP, "RS256")

    def test_repeated_audience_and_resource(self):
        _, b = self.soap_saml()
        for kw in ({"audience": [L.RP, L.RP_API]}, {"resource": [L.RP, L.RP_API]},
                   {"audience": L.RP, "resource": L.RP_API}):
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                doc = self.exchange_ok(b, L.TT_SAML2_URN, **kw)
                _, claims = self.verify(doc["access_token"], L.RP, typ="at+jwt")
                self.assertEqual(sorted(claims["aud"]), sorted([L.RP, L.RP_API]))
                self.verify(doc["access_token"], L.RP_API, typ="at+jwt")

    def test_requested_jwt(self):
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP, requested_token_type=L.TT_JWT)
        self.assertEqual(doc["issued_token_type"], L.TT_JWT)
        self.assertEqual(doc["token_type"], "N_A")
        self.assertNotIn("refresh_token", doc, "no refresh token with a plain JWT")
        _, claims = self.verify(doc["access_token"], L.RP, typ="JWT", alg="RS256")
        self.assertEqual((claims["sub"], claims["aud"], claims["client_id"]),
                         (L.USER, L.RP, L.CLIENT_ID))
        intro = self.assertActive(doc["access_token"])
        self.assertEqual((intro["issued_token_type"], intro["token_type"]), (L.TT_JWT, "N_A"))

    def test_requested_saml2(self):
        a, b = self.soap_saml()
        before = self.srv.snapshot()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP_API,
                               requested_token_type=L.TT_SAML2_URN)
        self.assertEqual(doc["issued_token_type"], L.TT_SAML2_URN)
        self.assertEqual(doc["token_type"], "N_A")
        self.assertNotIn("refresh_token", doc)
        tok = doc["access_token"]
        self.assertRegex(tok, r"^[A-Za-z0-9_-]+$", "base64url without padding")
        xml = L.b64url_decode(tok)
        self.assertTrue(xml.lstrip().startswith(b"<saml2:Assertion"), xml[:80])
        res = L.xmlsec_verify(xml)
        self.assertTrue(res.ok, "xmlsec1 --verify: %s" % res.output)
        res = L.schema_validate(xml)
        self.assertTrue(res.ok, "SAML schema: %s" % res.output)
        facts = L.assertion_facts(xml)
        self.assertEqual((facts.subject, facts.issuer, facts.audiences),
                         (L.USER, L.ISSUER, [L.RP_API]))
        self.assertNotEqual(facts.id, L.assertion_facts(a).id)
        self.assertLessEqual(L.parse_time(facts.not_on_or_after),
                             L.parse_time(L.assertion_facts(a).not_on_or_after))
        row = self.srv.row(facts.id)
        self.assertEqual((row["kind"], row["requester"], row["state"]),
                         (KIND_SAML2, L.CLIENT_ID, STATE_ACTIVE))
        self.assertEqual(len(self.new_rows(before)), 1)
        intro = self.assertActive(tok)
        self.assertEqual(intro["issued_token_type"], L.TT_SAML2_URN)
        self.assertEqual(intro.get("client_id"), L.CLIENT_ID)

    def test_issued_token_never_outlives_subject(self):
        r = self.srv.issue(version=12, lifetime=(None, L.ts(120)))
        self.assertEqual(r.status, 200, r.body[:1500])
        a = L.extract_assertion_bytes(r.body)
        exp = int(L.parse_time(L.assertion_facts(a).not_on_or_after).timestamp())
        for tt in (L.TT_ACCESS, L.TT_JWT):
            with self.subTest(requested=tt):
                doc = self.exchange_ok(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP,
                                       requested_token_type=tt)
                self.assertLessEqual(doc["expires_in"], 120)
                _, claims = self.verify(doc["access_token"], L.RP)
                self.assertLessEqual(claims["exp"], exp)
        doc = self.exchange_ok(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP,
                               requested_token_type=L.TT_SAML2_URN)
        self.assertLessEqual(doc["expires_in"], 120)

    def test_refresh_token_does_not_outlive_subject(self):
        """Interpretation of "the issued token never outlives the subject token"
        for the refresh token that comes with an access token: with it the client
        could mint access tokens after the subject token has expired."""
        r = self.srv.issue(version=12, lifetime=(None, L.ts(120)))
        self.assertEqual(r.status, 200, r.body[:1500])
        a = L.extract_assertion_bytes(r.body)
        exp = int(L.parse_time(L.assertion_facts(a).not_on_or_after).timestamp())
        doc = self.exchange_ok(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP)
        _, rc = self.verify(doc["refresh_token"], L.ISSUER, typ="rt+jwt")
        self.assertLessEqual(rc["exp"], exp, "refresh token outlives its subject token by %d s"
                             % (rc["exp"] - exp))

    def test_scope(self):
        _, b = self.soap_saml()
        # SAML subject: the requested scope, within the client's
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP, scope="openid api.read")
        _, claims = self.verify(doc["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(claims["scope"], "openid api.read")
        self.assertIn(doc.get("scope", "openid api.read"), ("openid api.read",))
        at = doc["access_token"]
        # subject with a scope, none requested: the subject's scope, and the
        # response says so (RFC 8693 2.2.1: scope REQUIRED when it differs)
        doc2 = self.exchange_ok(at, L.TT_ACCESS, audience=L.RP_API)
        _, c2 = self.verify(doc2["access_token"], L.RP_API, typ="at+jwt")
        self.assertEqual(c2["scope"], "openid api.read")
        self.assertEqual(doc2.get("scope"), "openid api.read")
        # narrowing
        doc3 = self.exchange_ok(at, L.TT_ACCESS, audience=L.RP, scope="api.read")
        _, c3 = self.verify(doc3["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c3["scope"], "api.read")
        intro = self.assertActive(doc3["access_token"])
        self.assertEqual(intro.get("scope"), "api.read")

    def test_subject_types(self):
        """Our access token, JWT and refresh token as subjects, each declared
        as what it is; an access token may also be declared as a jwt."""
        base = self.access_from_saml(audience=L.RP, scope="openid")
        _, b = self.soap_saml()
        jwt_doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP, requested_token_type=L.TT_JWT)
        cases = [("access_token", base["access_token"], L.TT_ACCESS),
                 ("access_token as jwt", base["access_token"], L.TT_JWT),
                 ("jwt", jwt_doc["access_token"], L.TT_JWT),
                 ("refresh_token", base["refresh_token"], L.TT_REFRESH)]
        for name, tok, tt in cases:
            with self.subTest(subject=name):
                doc = self.exchange_ok(tok, tt, audience=L.RP_API)
                _, claims = self.verify(doc["access_token"], L.RP_API, typ="at+jwt")
                self.assertEqual(claims["sub"], L.USER)
        # the subject JWT issued over SOAP
        sj, _ = self.soap_jwt()
        doc = self.exchange_ok(sj, L.TT_JWT, audience=L.RP)
        self.verify(doc["access_token"], L.RP, typ="at+jwt")

    def test_client_secret_post(self):
        creds = {"client_id": L.CLIENT_ID, "client_secret": L.CLIENT_SECRET}
        _, b = self.soap_saml()
        r = L.rest_post(self.srv, "/token",
                        L.exchange_params(b, L.TT_SAML2_URN, audience=L.RP) + list(creds.items()),
                        auth=None)
        doc = self.assertJsonOk(r)
        self.verify(doc["access_token"], L.RP, typ="at+jwt")
        r = L.rest_post(self.srv, "/introspect", dict(creds, token=doc["access_token"]), auth=None)
        self.assertIs(self.assertJsonOk(r)["active"], True)
        r = L.rest_post(self.srv, "/revoke", dict(creds, token=doc["access_token"]), auth=None)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertNoStore(r)
        self.assertInactive(doc["access_token"])

    def test_basic_credentials_are_form_urlencoded(self):
        """RFC 6749 2.3.1: id and secret are form-urlencoded before Basic; the
        server decodes them (%2D is '-')."""
        raw = "migration%2Dtester:s3cre%74"
        hdr = {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
        r = L.rest_post(self.srv, "/introspect", {"token": "x"}, auth=None, headers=hdr)
        self.assertEqual(self.assertJsonOk(r), {"active": False})

    # ---- introspection -------------------------------------------------------

    def test_introspect_access_token_members(self):
        doc = self.access_from_saml(audience=L.RP_API, scope="openid email")
        _, claims = self.verify(doc["access_token"], L.RP_API, typ="at+jwt")
        before = self.srv.snapshot()
        intro = self.assertActive(doc["access_token"])
        self.assertEqual(self.srv.snapshot(), before, "introspection changed the store")
        want = {"active": True, "sub": L.USER, "aud": L.RP_API, "iss": L.ISSUER,
                "exp": claims["exp"], "iat": claims["iat"], "nbf": claims["nbf"],
                "jti": claims["jti"], "scope": "openid email", "client_id": L.CLIENT_ID,
                "token_type": "Bearer", "issued_token_type": L.TT_ACCESS}
        for k, v in want.items():
            self.assertEqual(intro.get(k), v, "member %s" % k)
        self.assertNotIn("act", intro)
        self.assertNotIn("may_act", intro)

    def test_introspect_refresh_token(self):
        doc = self.access_from_saml(audience=L.RP)
        intro = self.assertActive(doc["refresh_token"])
        self.assertEqual(intro.get("issued_token_type"), L.TT_REFRESH)
        self.assertEqual(intro.get("token_type"), "N_A")
        self.assertEqual(intro.get("client_id"), L.CLIENT_ID)
        self.assertEqual(intro.get("sub"), L.USER)

    def test_introspect_saml(self):
        a, b = self.soap_saml()
        facts = L.assertion_facts(a)
        intro = self.assertActive(b)
        self.assertEqual(intro.get("issued_token_type"), L.TT_SAML2_URN)
        self.assertEqual(intro.get("token_type"), "N_A")
        self.assertEqual(intro.get("sub"), L.USER)
        self.assertEqual(intro.get("aud"), L.RP)
        self.assertEqual(intro.get("iss"), L.ISSUER)
        self.assertEqual(intro.get("jti"), facts.id)
        self.assertEqual(intro.get("exp"), int(L.parse_time(facts.not_on_or_after).timestamp()))
        # padded base64url too
        self.assertIs(self.introspect(L.b64url_encode(a, pad=True))["active"], True)

    def test_introspect_inactive(self):
        key, crt = L.make_keypair(self.srv.tmp, "Not The STS")
        a, _ = self.soap_saml()
        forged = L.sign_assertion(a, key, crt)
        doc = self.access_from_saml(audience=L.RP)
        cases = {
            "garbage": "not a token",
            "garbage with dots": "a.b.c",
            "tampered signature": L.tamper_jwt(doc["access_token"]),
            "tampered claims": L.tamper_jwt(doc["access_token"], {"sub": "mallory"}),
            "SAML signed by another key": L.b64url_encode(forged),
            "SAML unknown to the store": L.b64url_encode(L.sign_assertion(
                L.make_assertion(), L.SIGNING_KEY, L.SIGNING_CERT)),
            "alg none": L.jwt_resign_unsafe(dict(L.jwt_parts(doc["access_token"])[0], alg="none"),
                                            L.jwt_parts(doc["access_token"])[1]),
        }
        for name, tok in cases.items():
            with self.subTest(token=name):
                self.assertInactive(tok)
        # cancelled (revoked) and renewed tokens
        r = L.rest_post(self.srv, "/revoke", {"token": doc["access_token"]})
        self.assertEqual(r.status_code, 200)
        self.assertInactive(doc["access_token"])
        a2, b2 = self.soap_saml()
        r = self.srv.renew(a2)
        self.assertEqual(r.status, 200, r.body[:1500])
        self.assertInactive(b2)
        self.assertActive(L.b64url_encode(L.extract_assertion_bytes(r.body)))

    def test_malleated_es256_signature_is_not_our_token(self):
        """ECDSA also verifies (r, n - s): a different byte string than the
        one we issued, so it must not introspect as active nor be accepted as
        a subject token (the store keeps the SHA-256 of what was issued)."""
        doc = self.access_from_saml(audience=L.RP_API)  # ES256 for the API
        head, body, sig = doc["access_token"].split(".")
        raw = L.b64url_decode(sig)
        self.assertEqual(len(raw), 64)
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        s_val = int.from_bytes(raw[32:], "big")
        twin = "%s.%s.%s" % (head, body,
                             L.b64url_encode(raw[:32] + (n - s_val).to_bytes(32, "big")))
        self.assertNotEqual(twin, doc["access_token"])
        self.verify(twin, L.RP_API, typ="at+jwt", alg="ES256")  # a valid signature all the same
        self.assertInactive(twin)
        self.assertActive(doc["access_token"])
        self.assertOAuthError(lambda: L.token_exchange(self.srv, twin, L.TT_ACCESS,
                                                       audience=L.RP,
                                                       requested_token_type=L.TT_JWT),
                              400, "invalid_request")

    def test_no_secret_in_the_log(self):
        """After token exchanges, introspection and revocation with the demo
        client, the server log holds no token, secret or Basic credentials (every
        test class checks its whole log the same way when its server stops);
        the checker itself finds each kind of secret it looks for."""
        doc = self.access_from_saml(audience=L.RP_API, scope="api.read")
        self.assertActive(doc["access_token"])
        L.rest_post(self.srv, "/revoke", {"token": doc["refresh_token"]})
        self.assertEqual(L.secrets_in_log(self.srv.log_text()), [])
        a, _ = self.soap_saml()
        samples = {
            "the demo password": b"user alice password wonderland",
            "the demo client secret": b"client_secret=s3cret",
            "HTTP Basic credentials": b"Authorization: Basic bWlncmF0aW9uLXRlc3RlcjpzM2NyZXQ=",
            "a JWT": doc["access_token"].encode(),
            "a SAML assertion": a if isinstance(a, bytes) else a.encode(),
            "a private key": b"-----BEGIN PRIVATE KEY-----",
        }
        for name, sample in samples.items():
            with self.subTest(secret=name):
                self.assertIn(name, L.secrets_in_log(b"log line: " + sample))

    # ---- revocation ---------------------------------------------------------------

    def test_revoke_access_token(self):
        doc = self.access_from_saml(audience=L.RP)
        jti = L.jwt_parts(doc["access_token"])[1]["jti"]
        mark = self.srv.log_mark()
        r = L.rest_post(self.srv, "/revoke", {"token": doc["access_token"],
                                              "token_type_hint": "access_token"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.content, b"", "RFC 7009: empty body")
        self.assertNoStore(r)
        self.assertEqual(self.srv.row(jti)["state"], STATE_CANCELLED)
        self.assertIsNotNone(self.srv.wait_log(mark, r"POST /revoke -> 200"))
        self.assertInactive(doc["access_token"])
        self.assertActive(doc["refresh_token"])  # only the access token went
        # again: still 200, nothing changes
        before = self.srv.snapshot()
        r = L.rest_post(self.srv, "/revoke", {"token": doc["access_token"]})
        self.assertEqual((r.status_code, r.content), (200, b""))
        self.assertEqual(self.srv.snapshot(), before)

    def test_revoke_refresh_token_cancels_its_family(self):
        doc = self.access_from_saml(audience=L.RP)
        r = L.rest_post(self.srv, "/token",
                        {"grant_type": "refresh_token", "refresh_token": doc["refresh_token"]})
        doc2 = self.assertJsonOk(r)
        r = L.rest_post(self.srv, "/revoke", {"token": doc2["refresh_token"]})
        self.assertEqual((r.status_code, r.content), (200, b""))
        self.assertNoStore(r)
        self.assertInactive(doc2["refresh_token"])
        self.assertInactive(doc2["access_token"])
        # and revoking the first refresh token takes its first access token too
        r = L.rest_post(self.srv, "/revoke", {"token": doc["refresh_token"]})
        self.assertEqual(r.status_code, 200)
        self.assertInactive(doc["access_token"])

    def test_revoke_unknown_and_garbage(self):
        forged = L.b64url_encode(L.sign_assertion(L.make_assertion(), L.SIGNING_KEY,
                                                  L.SIGNING_CERT))
        for name, tok in (("garbage", "garbage"), ("dots", "x.y.z"), ("unknown SAML", forged)):
            with self.subTest(token=name):
                before = self.srv.snapshot()
                r = L.rest_post(self.srv, "/revoke", {"token": tok})
                self.assertEqual((r.status_code, r.content), (200, b""))
                self.assertNoStore(r)
                self.assertEqual(self.srv.snapshot(), before)

    def test_revoke_someone_elses_token(self):
        """A SAML assertion issued over SOAP to alice is ours but not the client's."""
        a, b = self.soap_saml()
        self.assertOAuthError(lambda: L.rest_post(self.srv, "/revoke", {"token": b}),
                              400, "unauthorized_client")
        self.assertActive(b)
        sj, _ = self.soap_jwt()
        self.assertOAuthError(lambda: L.rest_post(self.srv, "/revoke", {"token": sj}),
                              400, "unauthorized_client")
        self.assertActive(sj)

    # ---- refresh grant ------------------------------------------------------------

    def refresh(self, rt, **kw):
        return L.rest_post(self.srv, "/token", dict({"grant_type": "refresh_token",
                                                      "refresh_token": rt}, **kw))

    def test_refresh_rotation_and_reuse(self):
        doc = self.access_from_saml(audience=L.RP_API, scope="openid api.read")
        rt1 = doc["refresh_token"]
        rt1_jti = L.jwt_parts(rt1)[1]["jti"]
        at1_jti = L.jwt_parts(doc["access_token"])[1]["jti"]
        before = self.srv.snapshot()
        doc2 = self.assertJsonOk(self.refresh(rt1))
        self.assertEqual(doc2["issued_token_type"], L.TT_ACCESS)
        self.assertEqual(doc2["token_type"], "Bearer")
        self.assertIn("refresh_token", doc2)
        rt2, at2 = doc2["refresh_token"], doc2["access_token"]
        self.assertNotEqual(rt2, rt1)
        self.assertNotEqual(at2, doc["access_token"])
        _, ac = self.verify(at2, L.RP_API, typ="at+jwt", alg="ES256")
        self.assertEqual((ac["sub"], ac["scope"], ac["client_id"]),
                         (L.USER, "openid api.read", L.CLIENT_ID))
        _, rc2 = self.verify(rt2, L.ISSUER, typ="rt+jwt")
        self.assertEqual(len(self.new_rows(before)), 2, "a new access and refresh token")
        old = self.srv.row(rt1_jti)
        self.assertEqual((old["state"], old["replaced_by"]), (STATE_RENEWED, rc2["jti"]))
        self.assertEqual(self.srv.row(rc2["jti"])["replaces"], rt1_jti)
        self.assertInactive(rt1)
        self.assertActive(rt2)
        self.assertActive(at2)

        # the rotated one again: invalid_grant, and the whole family is cancelled
        before = self.srv.snapshot()
        mark = self.srv.log_mark()
        r = self.refresh(rt1)
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json().get("error"), "invalid_grant")
        self.assertNoStore(r)
        self.assertIsNotNone(self.srv.wait_log(mark, r"POST /token -> 400 invalid_grant"))
        after = {x["id"]: x for x in self.srv.snapshot()}
        self.assertEqual(len(after), len(before), "no rows added")
        self.assertEqual(after[rc2["jti"]]["state"], STATE_CANCELLED, "new refresh token")
        self.assertEqual(after[ac["jti"]]["state"], STATE_CANCELLED, "its access token")
        self.assertEqual(after[at1_jti]["state"], STATE_CANCELLED,
                         "the access token issued with the first refresh token")
        for row in before:  # nothing outside the family changed
            if row["id"] not in (rc2["jti"], ac["jti"], rt1_jti, at1_jti):
                self.assertEqual(after[row["id"]], row, "row %s changed" % row["id"])
        self.assertInactive(rt2)
        self.assertInactive(at2)
        self.assertOAuthError(lambda: self.refresh(rt2), 400, "invalid_grant")

    def test_refresh_scope_narrowing(self):
        doc = self.access_from_saml(audience=L.RP, scope="openid api.read")
        rt = doc["refresh_token"]
        snap = self.srv.snapshot()
        self.assertOAuthError(lambda: self.refresh(rt, scope="openid api.read api.write"),
                              400, "invalid_scope", snap)
        self.assertOAuthError(lambda: self.refresh(rt, scope="email"), 400, "invalid_scope", snap)
        doc2 = self.assertJsonOk(self.refresh(rt, scope="api.read"))
        _, c = self.verify(doc2["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c["scope"], "api.read")

    def test_refresh_errors(self):
        doc = self.access_from_saml(audience=L.RP, scope="openid")
        revoked = self.access_from_saml(audience=L.RP)
        r = L.rest_post(self.srv, "/revoke", {"token": revoked["refresh_token"]})
        self.assertEqual(r.status_code, 200)
        sj, _ = self.soap_jwt()
        _, b = self.soap_saml()
        cases = [
            ("missing refresh_token", {"grant_type": "refresh_token"}, "invalid_request"),
            ("repeated refresh_token", [("grant_type", "refresh_token"),
                                        ("refresh_token", doc["refresh_token"]),
                                        ("refresh_token", doc["refresh_token"])],
             "invalid_request"),
            ("garbage", {"grant_type": "refresh_token", "refresh_token": "garbage"},
             "invalid_grant"),
            ("access token", {"grant_type": "refresh_token", "refresh_token": doc["access_token"]},
             "invalid_grant"),
            ("SOAP JWT", {"grant_type": "refresh_token", "refresh_token": sj}, "invalid_grant"),
            ("SAML", {"grant_type": "refresh_token", "refresh_token": b}, "invalid_grant"),
            ("tampered", {"grant_type": "refresh_token",
                          "refresh_token": L.tamper_jwt(doc["refresh_token"])}, "invalid_grant"),
            ("revoked", {"grant_type": "refresh_token", "refresh_token": revoked["refresh_token"]},
             "invalid_grant"),
            ("wider scope", {"grant_type": "refresh_token", "refresh_token": doc["refresh_token"],
                             "scope": "openid profile"}, "invalid_scope"),
        ]
        for name, data, err in cases:
            with self.subTest(case=name):
                self.assertOAuthError(lambda: L.rest_post(self.srv, "/token", data), 400, err)
        self.assertActive(doc["refresh_token"])

    # ---- refusals -----------------------------------------------------------------

    def test_client_authentication_refused(self):
        bad_basic = {"Authorization": "Basic !!!notbase64"}
        for path in ("/token", "/introspect", "/revoke"):
            _, b = self.soap_saml()
            data = (L.exchange_params(b, L.TT_SAML2_URN, audience=L.RP) if path == "/token"
                    else [("token", b)])
            cases = [
                ("no authentication", dict(auth=None), 401, "invalid_client"),
                ("wrong secret", dict(auth=(L.CLIENT_ID, "wrong")), 401, "invalid_client"),
                ("unknown client", dict(auth=("nobody", L.CLIENT_SECRET)), 401, "invalid_client"),
                ("empty secret", dict(auth=(L.CLIENT_ID, "")), 401, "invalid_client"),
                ("not base64", dict(auth=None, headers=bad_basic), 401, "invalid_client"),
                ("Bearer scheme", dict(auth=None, headers={"Authorization": "Bearer abc"}), 401,
                 "invalid_client"),
                ("post: id without secret", dict(auth=None, extra=[("client_id", L.CLIENT_ID)]),
                 401, "invalid_client"),
                ("post: wrong secret", dict(auth=None, extra=[("client_id", L.CLIENT_ID),
                                                              ("client_secret", "nope")]),
                 401, "invalid_client"),
                ("basic and post together", dict(extra=[("client_id", L.CLIENT_ID),
                                                        ("client_secret", L.CLIENT_SECRET)]),
                 400, "invalid_request"),
                ("client_secret repeated", dict(auth=None, extra=[
                    ("client_id", L.CLIENT_ID), ("client_secret", L.CLIENT_SECRET),
                    ("client_secret", L.CLIENT_SECRET)]), 400, "invalid_request"),
            ]
            for name, kw, status, err in cases:
                with self.subTest(path=path, case=name):
                    kw = dict(kw)
                    extra = kw.pop("extra", [])
                    self.assertOAuthError(
                        lambda: L.rest_post(self.srv, path, data + extra, **kw), status, err)
            self.assertActive(b)

    def test_token_exchange_refused(self):
        a, S = self.soap_saml()
        at = self.access_from_saml(audience=L.RP, scope="openid")
        key, crt = L.make_keypair(self.srv.tmp, "Not The STS")
        forged = L.b64url_encode(L.sign_assertion(a, key, crt))
        el = L.parse_xml(a)
        el.find("saml2:Subject/saml2:NameID", L.NS).text = "mallory"
        modified = L.b64url_encode(L.etree.tostring(el))
        TE = L.TT_SAML2_URN

        def ex(*pairs, subject=S, subject_type=TE, audience=L.RP, drop=()):
            base = [("grant_type", L.GRANT_TE), ("subject_token", subject),
                    ("subject_token_type", subject_type)]
            if audience is not None:
                base.append(("audience", audience))
            return [p for p in base if p[0] not in drop] + list(pairs)

        cases = [
            # parameters
            ("subject_token missing", ex(drop=("subject_token",)), "invalid_request"),
            ("subject_token_type missing", ex(drop=("subject_token_type",)), "invalid_request"),
            ("subject_token empty", ex(subject=""), "invalid_request"),
            ("actor_token without type", ex(("actor_token", S)), "invalid_request"),
            ("actor_token_type without token", ex(("actor_token_type", TE)), "invalid_request"),
            ("subject_token repeated", ex(("subject_token", S)), "invalid_request"),
            ("subject_token_type repeated", ex(("subject_token_type", TE)), "invalid_request"),
            ("grant_type repeated", ex(("grant_type", L.GRANT_TE)), "invalid_request"),
            ("requested_token_type repeated", ex(("requested_token_type", L.TT_ACCESS),
                                                 ("requested_token_type", L.TT_ACCESS)),
             "invalid_request"),
            ("scope repeated", ex(("scope", "openid"), ("scope", "openid")), "invalid_request"),
            ("grant_type missing", ex(drop=("grant_type",)), "invalid_request"),
            ("grant_type password", [("grant_type", "password"), ("username", "alice"),
                                     ("password", "x")], "unsupported_grant_type"),
            # requested token types we do not issue
            ("requested saml1 with a scope", ex(("requested_token_type", L.TT_SAML1_URN),
                                                ("scope", "openid")), "invalid_scope"),
            ("requested id_token", ex(("requested_token_type", L.TT_ID_TOKEN)), "invalid_request"),
            ("requested unknown", ex(("requested_token_type", "urn:example:token-type:x")),
             "invalid_request"),
            # bad subject tokens
            ("subject garbage (saml2)", ex(subject="garbage"), "invalid_request"),
            ("subject garbage (jwt)", ex(subject="a.b.c", subject_type=L.TT_JWT),
             "invalid_request"),
            ("subject type unknown", ex(subject_type="urn:example:token-type:x"),
             "invalid_request"),
            ("SAML 2.0 declared as saml1", ex(subject_type=L.TT_SAML1_URN), "invalid_request"),
            ("SAML declared as jwt", ex(subject_type=L.TT_JWT), "invalid_request"),
            ("SAML signed by another key", ex(subject=forged), "invalid_request"),
            ("SAML modified after signing", ex(subject=modified), "invalid_request"),
            ("access token tampered", ex(subject=L.tamper_jwt(at["access_token"]),
                                         subject_type=L.TT_ACCESS), "invalid_request"),
            ("access token with changed claims",
             ex(subject=L.tamper_jwt(at["access_token"], {"sub": "mallory"}),
                subject_type=L.TT_ACCESS), "invalid_request"),
            ("access token declared as refresh_token", ex(subject=at["access_token"],
                                                          subject_type=L.TT_REFRESH),
             "invalid_request"),
            ("refresh token declared as access_token", ex(subject=at["refresh_token"],
                                                          subject_type=L.TT_ACCESS),
             "invalid_request"),
            ("actor equals subject", ex(("actor_token", S), ("actor_token_type", TE)),
             "invalid_request"),
            ("actor is the subject's own access token", ex(("actor_token", at["access_token"]),
                                                           ("actor_token_type", L.TT_ACCESS)),
             "invalid_request"),
            ("actor garbage", ex(("actor_token", "garbage"), ("actor_token_type", L.TT_JWT)),
             "invalid_request"),
            # targets
            ("audience not the client's", ex(audience="https://evil.example/"), "invalid_target"),
            ("one audience not the client's", ex(("audience", "https://evil.example/")),
             "invalid_target"),
            ("resource with fragment", ex(("resource", "https://rp.example.com/#frag"),
                                          audience=None), "invalid_target"),
            ("relative resource", ex(("resource", "/api"), audience=None), "invalid_target"),
            ("resource not the client's", ex(("resource", "https://evil.example/"),
                                             audience=None), "invalid_target"),
            ("no target, two audiences", ex(audience=None), "invalid_target"),
            # scope
            ("scope not the client's", ex(("scope", "admin")), "invalid_scope"),
            ("scope partly not the client's", ex(("scope", "openid admin")), "invalid_scope"),
            ("scope beyond the subject's", ex(("scope", "openid api.write"),
                                              subject=at["access_token"],
                                              subject_type=L.TT_ACCESS), "invalid_scope"),
            # saml2 out
            ("saml2 with scope", ex(("requested_token_type", L.TT_SAML2_URN),
                                    ("scope", "openid")), "invalid_scope"),
            ("saml2 with two audiences", ex(("requested_token_type", L.TT_SAML2_URN),
                                            ("audience", L.RP_API)), "invalid_target"),
        ]
        for name, data, err in cases:
            with self.subTest(case=name):
                self.assertOAuthError(lambda: L.rest_post(self.srv, "/token", data), 400, err)
        # the subject was not consumed by any of it
        self.assertActive(S)

    def test_cancelled_and_renewed_subjects_refused(self):
        a1, b1 = self.soap_saml()
        r = self.srv.cancel(a1)
        self.assertEqual(r.status, 200, r.body[:1000])
        a2, b2 = self.soap_saml()
        r = self.srv.renew(a2)
        self.assertEqual(r.status, 200, r.body[:1000])
        doc = self.access_from_saml(audience=L.RP)
        self.assertEqual(L.rest_post(self.srv, "/revoke", {"token": doc["access_token"]})
                         .status_code, 200)
        for name, tok, tt in (("cancelled SAML", b1, L.TT_SAML2_URN),
                              ("renewed SAML", b2, L.TT_SAML2_URN),
                              ("revoked access token", doc["access_token"], L.TT_ACCESS)):
            with self.subTest(subject=name):
                self.assertOAuthError(lambda: L.token_exchange(self.srv, tok, tt, audience=L.RP),
                                      400, "invalid_request")

    def test_introspect_and_revoke_parameters_refused(self):
        doc = self.access_from_saml(audience=L.RP)
        t = doc["access_token"]
        for path in ("/introspect", "/revoke"):
            for name, data in (("token missing", {"token_type_hint": "access_token"}),
                               ("token empty", {"token": ""}),
                               ("token repeated", [("token", t), ("token", t)]),
                               ("hint repeated", [("token", t), ("token_type_hint", "a"),
                                                  ("token_type_hint", "b")])):
                with self.subTest(path=path, case=name):
                    self.assertOAuthError(lambda: L.rest_post(self.srv, path, data), 400,
                                          "invalid_request")
        self.assertActive(t)

    def test_media_type_and_method(self):
        _, b = self.soap_saml()
        body = json.dumps({"grant_type": L.GRANT_TE, "subject_token": b,
                           "subject_token_type": L.TT_SAML2_URN})
        for path in ("/token", "/introspect", "/revoke"):
            with self.subTest(path=path, case="JSON body"):
                doc = self.assertOAuthError(
                    lambda: L.rest_post(self.srv, path, body,
                                        headers={"Content-Type": "application/json"}),
                    415, "invalid_request")
                self.assertIn("error_description", doc)
            with self.subTest(path=path, case="GET"):
                r = L.rest_get(self.srv, path)
                self.assertEqual(r.status_code, 405)
                self.assertEqual(r.headers.get("Allow"), "POST")
                self.assertNoStore(r)

    def test_cache_control_on_every_post_response(self):
        doc = self.access_from_saml(audience=L.RP)
        for path, data, auth in (
                ("/token", L.exchange_params("x", L.TT_JWT, audience=L.RP), L.DEFAULT),
                ("/token", {"grant_type": "refresh_token", "refresh_token": doc["refresh_token"]},
                 L.DEFAULT),
                ("/introspect", {"token": doc["access_token"]}, L.DEFAULT),
                ("/introspect", {"token": "x"}, None),
                ("/revoke", {"token": "x"}, L.DEFAULT),
                ("/revoke", {"token": "x"}, ("nobody", "x"))):
            with self.subTest(path=path, data=sorted(dict(data))):
                r = L.rest_post(self.srv, path, data, auth=auth)
                self.assertNoStore(r)
                self.assertIn("no-cache", r.headers.get("Pragma", ""))

    # ---- curl, once per endpoint -------------------------------------------------

    def curl(self, path, form=(), user=True):
        """curl -s -u migration-tester:s3cret --data-urlencode ... ; returns
        (status, headers text, body bytes)."""
        hdr_file = os.path.join(self.srv.tmp, "curl-headers")
        cmd = ["curl", "-s", "-m", "10", "-D", hdr_file, "-o", "-", "-w", "\n%{http_code}"]
        if user:
            cmd += ["-u", "%s:%s" % (L.CLIENT_ID, L.CLIENT_SECRET)]
        for k, v in form:
            cmd += ["--data-urlencode", "%s=%s" % (k, v)]
        out = subprocess.run(cmd + [L.rest_base(self.srv) + path], stdout=subprocess.PIPE,
                             timeout=20, check=True).stdout
        body, _, status = out.rpartition(b"\n")
        with open(hdr_file, "rb") as f:
            headers = f.read().decode("latin-1")
        return int(status), headers, body

    def test_curl_each_endpoint(self):
        _, b = self.soap_saml()
        st, hdrs, body = self.curl("/token", L.exchange_params(b, L.TT_SAML2_URN,
                                                               audience=L.RP_API))
        self.assertEqual(st, 200, body[:1000])
        self.assertRegex(hdrs, r"(?im)^cache-control:.*no-store")
        doc = json.loads(body)
        self.assertEqual(doc["token_type"], "Bearer")
        self.verify(doc["access_token"], L.RP_API, typ="at+jwt", alg="ES256")

        st, hdrs, body = self.curl("/introspect", [("token", doc["access_token"])])
        self.assertEqual(st, 200, body[:1000])
        self.assertRegex(hdrs, r"(?im)^cache-control:.*no-store")
        self.assertIs(json.loads(body)["active"], True)

        st, hdrs, body = self.curl("/revoke", [("token", doc["access_token"])])
        self.assertEqual((st, body), (200, b""))
        self.assertRegex(hdrs, r"(?im)^cache-control:.*no-store")
        self.assertInactive(doc["access_token"])

        st, hdrs, body = self.curl("/token", L.exchange_params(b, L.TT_SAML2_URN), user=False)
        self.assertEqual(st, 401)
        self.assertRegex(hdrs, r"(?im)^www-authenticate:\s*basic")
        self.assertEqual(json.loads(body)["error"], "invalid_client")

        st, _, body = self.curl("/.well-known/oauth-authorization-server", user=False)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["token_endpoint"], L.rest_base(self.srv) + "/token")

        st, _, body = self.curl("/.well-known/jwks.json", user=False)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), self.jwks())


# --------------------------------------------------------------------------
# Delegation: three users so that subject and actors differ
# --------------------------------------------------------------------------
def _three_users():
    cfg = L.rest_default_config()
    cfg["users"].append(L.make_user("bob", "looking-glass", {"role": "nurse"}))
    cfg["users"].append(L.make_user("carol", "red-queen", {"role": "admin"}))
    return cfg


class RestActTest(RestBase):

    CONFIG = staticmethod(_three_users)

    def saml_of(self, user, password):
        r = self.srv.issue(version=12, username=user, password=password)
        self.assertEqual(r.status, 200, r.body[:1500])
        return L.b64url_encode(L.extract_assertion_bytes(r.body))

    def test_actor_becomes_act_and_nests(self):
        alice = self.saml_of(L.USER, L.PASSWORD)
        bob = self.saml_of("bob", "looking-glass")
        carol = self.saml_of("carol", "red-queen")
        doc = self.exchange_ok(alice, L.TT_SAML2_URN, audience=L.RP, actor_token=bob,
                               actor_token_type=L.TT_SAML2_URN)
        _, c = self.verify(doc["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c["sub"], L.USER)
        self.assertEqual(c["act"], {"sub": "bob"})
        intro = self.assertActive(doc["access_token"])
        self.assertEqual(intro.get("act"), {"sub": "bob"})
        # re-exchanged with another actor: the new actor outermost, bob nested
        doc2 = self.exchange_ok(doc["access_token"], L.TT_ACCESS, audience=L.RP_API,
                                actor_token=carol, actor_token_type=L.TT_SAML2_URN,
                                requested_token_type=L.TT_JWT)
        _, c2 = self.verify(doc2["access_token"], L.RP_API, typ="JWT", alg="ES256")
        self.assertEqual(c2["sub"], L.USER)
        self.assertEqual(c2["act"], {"sub": "carol", "act": {"sub": "bob"}})
        intro = self.assertActive(doc2["access_token"])
        self.assertEqual(intro.get("act"), {"sub": "carol", "act": {"sub": "bob"}})
        # without an actor the subject's own chain is kept
        doc3 = self.exchange_ok(doc["access_token"], L.TT_ACCESS, audience=L.RP)
        _, c3 = self.verify(doc3["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c3.get("act"), {"sub": "bob"})
        # the refresh token carries the act too, and so does the refreshed token
        doc4 = self.assertJsonOk(L.rest_post(self.srv, "/token", {
            "grant_type": "refresh_token", "refresh_token": doc["refresh_token"]}))
        _, c4 = self.verify(doc4["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c4.get("act"), {"sub": "bob"})

    def test_delegation_refusals(self):
        alice = self.saml_of(L.USER, L.PASSWORD)
        bob = self.saml_of("bob", "looking-glass")
        cases = [
            ("saml1 with an actor", dict(actor_token=bob, actor_token_type=L.TT_SAML2_URN,
                                         requested_token_type=L.TT_SAML1_URN), "invalid_request"),
            ("actor declared as jwt", dict(actor_token=bob, actor_token_type=L.TT_JWT),
             "invalid_request"),
            ("actor tampered", dict(actor_token=bob[:-8] + "AAAAAAAA",
                                    actor_token_type=L.TT_SAML2_URN), "invalid_request"),
        ]
        for name, kw, err in cases:
            with self.subTest(case=name):
                self.assertOAuthError(lambda: L.token_exchange(
                    self.srv, alice, L.TT_SAML2_URN, audience=L.RP, **kw), 400, err)


# --------------------------------------------------------------------------
# Two clients: whose tokens are whose
# --------------------------------------------------------------------------
OTHER = ("other-client", "other-secret-0123456789")


def _two_clients():
    cfg = L.rest_default_config()
    cfg["clients"].append(L.client_entry(
        OTHER[0], OTHER[1], [L.RP], ["openid"],
        token_types=[L.TT_ACCESS, L.TT_JWT, L.TT_REFRESH],
        grant_types=[L.GRANT_TE, L.GRANT_REFRESH]))
    return cfg


class RestTwoClientsTest(RestBase):

    CONFIG = staticmethod(_two_clients)

    def test_other_clients_tokens(self):
        mine = self.access_from_saml(audience=L.RP_API)  # migration-tester's, for api only
        at, rt = mine["access_token"], mine["refresh_token"]
        # a subject neither issued to other-client nor addressed to one of its audiences
        self.assertOAuthError(lambda: L.token_exchange(self.srv, at, L.TT_ACCESS, auth=OTHER,
                                                       audience=L.RP), 400, "invalid_request")
        # another client's refresh token, as a grant and as a subject
        self.assertOAuthError(lambda: L.rest_post(self.srv, "/token", {
            "grant_type": "refresh_token", "refresh_token": rt}, auth=OTHER), 400, "invalid_grant")
        self.assertOAuthError(lambda: L.token_exchange(self.srv, rt, L.TT_REFRESH, auth=OTHER,
                                                       audience=L.RP), 400, "invalid_request")
        # revoking another client's tokens
        for tok in (at, rt):
            self.assertOAuthError(lambda: L.rest_post(self.srv, "/revoke", {"token": tok},
                                                      auth=OTHER), 400, "unauthorized_client")
        self.assertActive(at)
        self.assertActive(rt)
        # a target the other client may not have; a type it may not ask for
        _, b = self.soap_saml()
        self.assertOAuthError(lambda: L.token_exchange(self.srv, b, L.TT_SAML2_URN, auth=OTHER,
                                                       audience=L.RP_API), 400, "invalid_target")
        self.assertOAuthError(lambda: L.token_exchange(self.srv, b, L.TT_SAML2_URN, auth=OTHER,
                                                       audience=L.RP,
                                                       requested_token_type=L.TT_SAML2_URN),
                              400, "unauthorized_client")

    def test_single_audience_client_needs_no_target(self):
        _, b = self.soap_saml()
        doc = self.exchange_ok(b, L.TT_SAML2_URN, auth=OTHER)
        _, c = self.verify(doc["access_token"], L.RP, typ="at+jwt")
        self.assertEqual((c["aud"], c["client_id"]), (L.RP, OTHER[0]))
        # a token addressed to one of its audiences, issued to the other client: accepted
        mine = self.access_from_saml(audience=L.RP, scope="openid api.read")
        doc2 = self.exchange_ok(mine["access_token"], L.TT_ACCESS, auth=OTHER)
        _, c2 = self.verify(doc2["access_token"], L.RP, typ="at+jwt")
        self.assertEqual(c2["client_id"], OTHER[0])
        # no scope requested: the subject's scope filtered by the client's ("openid" only)
        self.assertEqual(c2.get("scope"), "openid")
        self.assertEqual(doc2.get("scope"), "openid")
        # asking for the part it may not have is refused
        self.assertOAuthError(lambda: L.token_exchange(self.srv, mine["access_token"],
                                                       L.TT_ACCESS, auth=OTHER,
                                                       scope="api.read"), 400, "invalid_scope")


# --------------------------------------------------------------------------
# Expiry (clock_skew 0, a 3-second subject token)
# --------------------------------------------------------------------------
class RestExpiryTest(RestBase):

    CONFIG = staticmethod(lambda: L.rest_default_config(clock_skew=0))

    def test_expired_subject(self):
        r = self.srv.issue(version=12, lifetime=(None, L.ts(3)))
        self.assertEqual(r.status, 200, r.body[:1500])
        a = L.extract_assertion_bytes(r.body)
        b = L.b64url_encode(a)
        exp = int(L.parse_time(L.assertion_facts(a).not_on_or_after).timestamp())
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=L.RP)
        self.assertLessEqual(doc["expires_in"], 3)
        _, c = self.verify(doc["access_token"], L.RP, typ="at+jwt")
        self.assertLessEqual(c["exp"], exp)
        self.assertActive(doc["access_token"])
        time.sleep(max(exp - time.time(), 0) + 1.5)
        self.assertInactive(b)
        self.assertInactive(doc["access_token"])
        self.assertOAuthError(lambda: L.token_exchange(self.srv, b, L.TT_SAML2_URN,
                                                       audience=L.RP), 400, "invalid_request")
        self.assertOAuthError(lambda: L.token_exchange(self.srv, doc["access_token"], L.TT_ACCESS,
                                                       audience=L.RP), 400, "invalid_request")


if __name__ == "__main__":
    unittest.main(verbosity=2)
