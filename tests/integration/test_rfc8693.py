#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""RFC 8693 section 2.3 and appendix A.1/A.2, reproduced against our server.

The configuration is written by the test: engine.issuer https://as.example.com
(the RFC's authorization server), a trusted issuer
https://original-issuer.example.net whose JWTs carry kid "16" (an EC P-256 key
and self-signed certificate made here with openssl; the RFC does not publish
its keys), the relying parties urn:example:cooperation-context and
https://backend.example.com/api, and the client rs08 (the §2.3 example's
Basic credentials) allowed those audiences, the scopes "orders profile history
status feed api" and the token types access_token and jwt.

The RFC's claim sets are re-signed with that key and kid "16". Their times
(September 2015) are rebased to now, keeping their offsets from the instant the
RFC's examples happen at (2015-09-10T18:20:00Z for A.1/A.2); otherwise every
token would have expired years ago.

Deliberate deviations from the RFC's example exchanges (the RFC leaves all
of them to the authorization server):
  - client authentication is required (A.1 and A.2 show none);
  - "aud" is the resource exactly as requested (§2.3 shows the origin
    https://backend.example.com for resource https://backend.example.com/api);
  - "exp" is bounded by the subject token's (A.1 issues a token that outlives
    its subject);
  - A.2 asks for requested_token_type jwt: our default is an access token, the
    RFC's server chose a JWT by itself;
  - our own access token (§2.3's subject) is a JWT, not an opaque string.
"""
import atexit
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

import jwt as pyjwt  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

AS = "https://as.example.com"
ORIGINAL = "https://original-issuer.example.net"
PARTNER = "https://partner.example.org"
COOP = "urn:example:cooperation-context"
BACKEND = "https://backend.example.com/api"
CLIENT = ("rs08", "long-secure-random-secret")
NARROW = ("rs-narrow", "another-long-random-secret")
# §2.3: "Authorization: Basic cnMwODpsb25nLXNlY3VyZS1yYW5kb20tc2VjcmV0"
RFC_BASIC = "Basic cnMwODpsb25nLXNlY3VyZS1yYW5kb20tc2VjcmV0"
SCOPES = ["orders", "profile", "history", "status", "feed", "api"]

# The instant the RFC's A.1/A.2 examples happen at: 2015-09-10T18:20:00Z.
RFC_NOW = 1441909200

# RFC 8693 appendix A: the claim sets, in the RFC's member order (the
# base64url payloads printed in the RFC decode to exactly these; see
# test_vectors_transcribed).
A1_SUBJECT = {"aud": "https://as.example.com", "iss": "https://original-issuer.example.net",
              "exp": 1441910600, "nbf": 1441909000, "sub": "bdc@example.net",
              "scope": "orders profile history"}
A2_SUBJECT = {"aud": "https://as.example.com", "iss": "https://original-issuer.example.net",
              "exp": 1441910060, "scope": "status feed", "sub": "user@example.net",
              "may_act": {"sub": "admin@example.net"}}
A2_ACTOR = {"aud": "https://as.example.com", "iss": "https://original-issuer.example.net",
            "exp": 1441910060, "sub": "admin@example.net"}
RFC_SEGMENTS = {  # header.payload of the RFC's A.1/A.2 subject and actor tokens
    "A1_SUBJECT": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJhdWQiOiJodHRwczovL2FzLmV4YW1wbGUuY29tIiwia"
                  "XNzIjoiaHR0cHM6Ly9vcmlnaW5hbC1pc3N1ZXIuZXhhbXBsZS5uZXQiLCJleHAiOjE0NDE5MTA2MDAsIm5i"
                  "ZiI6MTQ0MTkwOTAwMCwic3ViIjoiYmRjQGV4YW1wbGUubmV0Iiwic2NvcGUiOiJvcmRlcnMgcHJvZmlsZSB"
                  "oaXN0b3J5In0",
    "A2_SUBJECT": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJhdWQiOiJodHRwczovL2FzLmV4YW1wbGUuY29tIiwia"
                  "XNzIjoiaHR0cHM6Ly9vcmlnaW5hbC1pc3N1ZXIuZXhhbXBsZS5uZXQiLCJleHAiOjE0NDE5MTAwNjAsInNj"
                  "b3BlIjoic3RhdHVzIGZlZWQiLCJzdWIiOiJ1c2VyQGV4YW1wbGUubmV0IiwibWF5X2FjdCI6eyJzdWIiOiJ"
                  "hZG1pbkBleGFtcGxlLm5ldCJ9fQ",
    "A2_ACTOR": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJhdWQiOiJodHRwczovL2FzLmV4YW1wbGUuY29tIiwiaXN"
                "zIjoiaHR0cHM6Ly9vcmlnaW5hbC1pc3N1ZXIuZXhhbXBsZS5uZXQiLCJleHAiOjE0NDE5MTAwNjAsInN1YiI"
                "6ImFkbWluQGV4YW1wbGUubmV0In0",
}


def rebase(claims, frozen=RFC_NOW):
    """@claims with exp/nbf/iat moved so that @frozen (the RFC's "now") is now."""
    shift = int(time.time()) - frozen
    return {k: (v + shift if k in ("exp", "nbf", "iat") else v) for k, v in claims.items()}


class Rfc8693Test(L.RestMixin, L.StsTestCase):

    keydir = None

    @classmethod
    def CONFIG(cls):
        cls.keydir = tempfile.mkdtemp(prefix="sts-rfc8693-keys-")
        atexit.register(shutil.rmtree, cls.keydir, True)
        cls.key16, cls.cert16 = L.make_ec_keypair(cls.keydir, "original-issuer",
                                                  "original-issuer.example.net")
        cls.partner_key, cls.partner_cert = L.make_ec_keypair(cls.keydir, "partner",
                                                              "partner.example.org")
        cls.rogue_key, _ = L.make_ec_keypair(cls.keydir, "rogue", "rogue")
        cfg = L.default_config(issuer=AS)
        cfg["engine"]["additional_signing_keys"] = [
            {"key": L._private_copy(L.EC_SIGNING_KEY), "cert": L.EC_SIGNING_CERT}]
        # ES256 like the RFC's examples (kids "72" and "9er" are theirs; ours
        # are the JWKS thumbprints)
        cfg["relying_parties"] = [{"applies_to": COOP, "match": "exact", "signing_alg": "ES256"},
                                  {"applies_to": BACKEND, "match": "exact",
                                   "signing_alg": "ES256"}]
        cfg["clients"] = [L.client_entry(CLIENT[0], CLIENT[1], [COOP, BACKEND], SCOPES,
                                         token_types=[L.TT_ACCESS, L.TT_JWT, L.TT_SAML2_URN]),
                          L.client_entry(NARROW[0], NARROW[1], [COOP], SCOPES)]
        # which issuers' tokens each client may present (none unless listed)
        cfg["clients"][0]["trusted_issuers"] = [ORIGINAL, PARTNER]
        cfg["clients"][1]["trusted_issuers"] = [ORIGINAL]
        cfg["trusted_issuers"] = [
            {"issuer": ORIGINAL, "cert": cls.cert16, "kid": "16"},
            {"issuer": PARTNER, "cert": cls.partner_cert, "kid": "partner-1"}]
        return cfg

    # ---- helpers ------------------------------------------------------------------

    @classmethod
    def pem(cls, path):
        with open(path) as f:
            return f.read()

    def sign(self, claims, kid="16", key=None):
        """ES256 JWS with header exactly {"alg":"ES256","kid":kid} (as the RFC's)."""
        return pyjwt.encode(claims, self.pem(key or self.key16), algorithm="ES256",
                            headers={"kid": kid, "typ": None})

    def exchange(self, subject, subject_type=L.TT_JWT, auth=CLIENT, **kw):
        return L.token_exchange(self.srv, subject, subject_type, auth=auth, **kw)

    def verify(self, token, audience, typ):
        return L.verify_jwt(L.fetch_jwks(self.srv), token, audience=audience, issuer=AS,
                            typ=typ, alg="ES256")

    def refused(self, subject, error="invalid_request", status=400, subject_type=L.TT_JWT,
                auth=CLIENT, **kw):
        return self.assertOAuthError(
            lambda: self.exchange(subject, subject_type, auth=auth, **kw), status, error)

    # ---- the vectors ------------------------------------------------------------

    def test_vectors_transcribed(self):
        """Our claim sets serialise to exactly the RFC's header.payload
        segments, and our signer emits the RFC's header: the re-signed tokens
        differ from the RFC's only in their times and signatures."""
        for name, claims in (("A1_SUBJECT", A1_SUBJECT), ("A2_SUBJECT", A2_SUBJECT),
                             ("A2_ACTOR", A2_ACTOR)):
            with self.subTest(vector=name):
                ours = self.sign(claims)
                self.assertEqual(ours.rsplit(".", 1)[0], RFC_SEGMENTS[name])

    def test_a1_impersonation(self):
        subject = rebase(A1_SUBJECT)
        st = self.sign(subject)
        before = self.srv.snapshot()
        # the RFC's A.1 request, plus client authentication (the RFC shows none)
        doc = self.assertJsonOk(self.exchange(st, L.TT_JWT, audience=COOP))
        self.assertEqual(doc["issued_token_type"], L.TT_ACCESS)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertIsInstance(doc.get("expires_in"), int)
        self.assertGreater(doc["expires_in"], 0)
        self.assertNotIn("refresh_token", doc, "rs08 may not have refresh tokens")
        # scope was not requested: the subject's is granted, so the response
        # names it (RFC 8693 2.2.1; the RFC's example response leaves it out)
        self.assertEqual(doc.get("scope"), "orders profile history")
        header, claims = self.verify(doc["access_token"], COOP, "at+jwt")
        self.assertEqual(claims["aud"], COOP)
        self.assertEqual(claims["iss"], AS)
        self.assertEqual(claims["sub"], "bdc@example.net", "subject preserved")
        self.assertNotIn("act", claims, "impersonation: no act")
        self.assertEqual(claims["scope"], "orders profile history", "scope carried over")
        self.assertEqual(claims["client_id"], CLIENT[0])
        # deviation: bounded by the subject's exp (the RFC's A.1 token outlives it)
        self.assertLessEqual(claims["exp"], subject["exp"])
        self.assertLessEqual(doc["expires_in"], subject["exp"] - int(time.time()) + 2)
        # the store holds our token only, never the trusted issuer's
        after = self.srv.snapshot()
        self.assertEqual(len(after), len(before) + 1)
        row = self.srv.row(claims["jti"])
        self.assertEqual((row["subject"], row["audience"], row["requester"]),
                         ("bdc@example.net", COOP, CLIENT[0]))
        intro = self.introspect(doc["access_token"], auth=CLIENT)
        self.assertIs(intro["active"], True)
        self.assertEqual((intro["sub"], intro["scope"], intro["client_id"], intro["iss"],
                          intro["issued_token_type"], intro["token_type"]),
                         ("bdc@example.net", "orders profile history", CLIENT[0], AS,
                          L.TT_ACCESS, "Bearer"))
        self.assertNotIn("act", intro)
        # the trusted issuer's token is not ours: never active here, not revocable
        self.assertEqual(self.introspect(st, auth=CLIENT), {"active": False})
        snap = self.srv.snapshot()
        r = L.rest_post(self.srv, "/revoke", {"token": st}, auth=CLIENT)
        self.assertEqual((r.status_code, r.content), (200, b""))
        self.assertEqual(self.srv.snapshot(), snap)

    def test_a1_scope_rules(self):
        st = self.sign(rebase(A1_SUBJECT))
        doc = self.assertJsonOk(self.exchange(st, audience=COOP, scope="orders"))
        _, claims = self.verify(doc["access_token"], COOP, "at+jwt")
        self.assertEqual(claims["scope"], "orders")
        self.refused(st, "invalid_scope", audience=COOP, scope="orders feed")  # not the subject's
        self.refused(st, "invalid_scope", audience=COOP, scope="orders admin")  # not the client's

    def test_a1_requires_client_authentication(self):
        """Deviation: the RFC's A.1 request carries no client authentication;
        ours is refused without it (RFC 8693 sec. 5)."""
        st = self.sign(rebase(A1_SUBJECT))
        self.refused(st, "invalid_client", 401, auth=None, audience=COOP)
        self.refused(st, "invalid_client", 401, auth=(CLIENT[0], "wrong"), audience=COOP)

    def test_a2_delegation(self):
        subject, actor = rebase(A2_SUBJECT), rebase(A2_ACTOR)
        st, at = self.sign(subject), self.sign(actor)
        # the RFC's A.2 request, plus client authentication and
        # requested_token_type jwt (the RFC's server chose a JWT by itself)
        doc = self.assertJsonOk(self.exchange(st, L.TT_JWT, audience=COOP, actor_token=at,
                                              actor_token_type=L.TT_JWT,
                                              requested_token_type=L.TT_JWT))
        self.assertEqual(doc["issued_token_type"], L.TT_JWT)
        self.assertEqual(doc["token_type"], "N_A")
        self.assertNotIn("refresh_token", doc)
        header, claims = self.verify(doc["access_token"], COOP, "JWT")
        self.assertEqual(claims["aud"], COOP)
        self.assertEqual(claims["iss"], AS)
        self.assertEqual(claims["sub"], "user@example.net")
        self.assertEqual(claims["act"], {"sub": "admin@example.net"})
        self.assertEqual(claims["scope"], "status feed")
        self.assertNotIn("may_act", claims)
        self.assertLessEqual(claims["exp"], subject["exp"])
        intro = self.introspect(doc["access_token"], auth=CLIENT)
        self.assertIs(intro["active"], True)
        self.assertEqual(intro.get("act"), {"sub": "admin@example.net"})  # b.7 #22
        self.assertEqual((intro["issued_token_type"], intro["token_type"]), (L.TT_JWT, "N_A"))
        # the default requested type: an access token with the same act
        doc = self.assertJsonOk(self.exchange(st, L.TT_JWT, audience=COOP, actor_token=at,
                                              actor_token_type=L.TT_JWT))
        self.assertEqual((doc["issued_token_type"], doc["token_type"]), (L.TT_ACCESS, "Bearer"))
        _, c2 = self.verify(doc["access_token"], COOP, "at+jwt")
        self.assertEqual(c2["act"], {"sub": "admin@example.net"})

    def test_a2_without_actor_refused(self):
        """may_act without actor_token: refused, never an unmarked token (Keycloak #52691)."""
        st = self.sign(rebase(A2_SUBJECT))
        self.refused(st, audience=COOP)
        self.refused(st, audience=COOP, requested_token_type=L.TT_JWT)

    def test_a2_with_another_actor_refused(self):
        st = self.sign(rebase(A2_SUBJECT))
        other = self.sign(rebase(dict(A2_ACTOR, sub="mallory@example.net")))
        self.refused(st, audience=COOP, actor_token=other, actor_token_type=L.TT_JWT)
        # the subject as its own actor
        self.refused(st, audience=COOP, actor_token=st, actor_token_type=L.TT_JWT)
        # an actor of A.1 (no may_act) that is the subject itself
        a1 = self.sign(rebase(A1_SUBJECT))
        self.refused(a1, audience=COOP, actor_token=a1, actor_token_type=L.TT_JWT)

    def test_nested_act(self):
        """The A.2 result re-exchanged with another actor: the new actor is
        the outer act, admin@example.net nested inside (RFC 8693 4.1)."""
        st, at = self.sign(rebase(A2_SUBJECT)), self.sign(rebase(A2_ACTOR))
        first = self.assertJsonOk(self.exchange(st, audience=COOP, actor_token=at,
                                                actor_token_type=L.TT_JWT,
                                                requested_token_type=L.TT_JWT))
        svc = self.sign(rebase(dict(A2_ACTOR, sub="https://service16.example.com")))
        doc = self.assertJsonOk(self.exchange(first["access_token"], L.TT_JWT, audience=BACKEND,
                                              actor_token=svc, actor_token_type=L.TT_JWT))
        _, claims = self.verify(doc["access_token"], BACKEND, "at+jwt")
        self.assertEqual(claims["sub"], "user@example.net")
        self.assertEqual(claims["act"], {"sub": "https://service16.example.com",
                                         "act": {"sub": "admin@example.net"}})
        intro = self.introspect(doc["access_token"], auth=CLIENT)
        self.assertEqual(intro.get("act"), claims["act"])

    def test_2_3_backend_exchange(self):
        """§2.3: a resource server exchanges the access token it received for
        one usable at the backend. Its subject is our own access token, got
        here first from a trusted issuer's token with scope "api"."""
        incoming = self.sign(rebase({"aud": AS, "iss": ORIGINAL, "exp": RFC_NOW + 600,
                                     "nbf": RFC_NOW - 60, "sub": "bdc@example.com",
                                     "scope": "api"}))
        first = self.assertJsonOk(self.exchange(incoming, audience=COOP))
        subject = first["access_token"]
        _, sc = self.verify(subject, COOP, "at+jwt")
        # the RFC's request: its Authorization header verbatim, resource, no scope
        r = L.rest_post(self.srv, "/token",
                        L.exchange_params(subject, L.TT_ACCESS, resource=BACKEND),
                        auth=None, headers={"Authorization": RFC_BASIC})
        doc = self.assertJsonOk(r)
        self.assertEqual(doc["issued_token_type"], L.TT_ACCESS)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertGreater(doc["expires_in"], 0)
        # scope was not requested but appears (as in the RFC), so the response names it
        self.assertEqual(doc.get("scope"), "api")
        _, claims = self.verify(doc["access_token"], BACKEND, "at+jwt")
        self.assertEqual(claims["aud"], BACKEND, "deviation: aud is the resource as requested")
        self.assertEqual(claims["iss"], AS)
        self.assertEqual(claims["sub"], "bdc@example.com")
        self.assertEqual(claims["scope"], "api")
        self.assertNotIn("act", claims)
        self.assertLessEqual(claims["exp"], sc["exp"], "bounded by the subject token")

    # ---- what the security review of the REST face found ---------------------------

    def test_act_members_other_than_sub_are_not_copied(self):
        """A trusted subject's "act" may carry anything; what we issue names
        the actors' sub and nothing else (no injected scope, client_id,
        may_act)."""
        subject = rebase(dict(A1_SUBJECT, act={"sub": "svc@example.net", "scope": "admin",
                                               "client_id": "evil",
                                               "may_act": {"sub": "x@example.net"}}))
        doc = self.assertJsonOk(self.exchange(self.sign(subject), audience=COOP,
                                              requested_token_type=L.TT_JWT))
        _, claims = self.verify(doc["access_token"], COOP, "JWT")
        self.assertEqual(claims["act"], {"sub": "svc@example.net"})
        self.assertNotIn("may_act", claims)

    def test_empty_or_huge_sub_refused(self):
        """sub "" and a 12,000-character sub are refused as bad subject tokens
        (the long one used to end in a 500 after the refresh token was signed)."""
        for sub in ("", "x" * 12000):
            with self.subTest(sub_len=len(sub)):
                self.refused(self.sign(rebase(dict(A1_SUBJECT, sub=sub))), audience=COOP)

    def test_trusted_subject_is_not_the_local_user(self):
        """A trusted issuer's "alice" is not our realm's alice: the assertion
        issued for it carries none of local alice's attributes, and local
        alice cannot cancel it over SOAP."""
        subject = rebase({k: v for k, v in A1_SUBJECT.items() if k != "scope"})
        subject["sub"] = "alice"
        doc = self.assertJsonOk(self.exchange(self.sign(subject), audience=COOP,
                                              requested_token_type=L.TT_SAML2_URN))
        xml = L.b64url_decode(doc["access_token"])
        root = L.parse_xml(xml)
        self.assertEqual(root.findtext(".//saml2:Subject/saml2:NameID", namespaces=L.NS), "alice")
        self.assertEqual(root.findall(".//saml2:Attribute", L.NS), [],
                         "local alice's attributes in another issuer's alice's assertion")
        before = self.srv.snapshot()
        self.assertFault(self.srv.cancel(xml), "RequestFailed", 12)
        self.assertEqual(self.srv.snapshot(), before)

    def test_scoped_subject_never_becomes_unscoped(self):
        """Review F1/F2: exchanging a scoped token without a scope keeps the
        scope; into SAML (which cannot carry one) it is refused, not dropped."""
        st = self.sign(rebase(A1_SUBJECT))
        doc = self.assertJsonOk(self.exchange(st, audience=COOP, requested_token_type=L.TT_JWT))
        _, claims = self.verify(doc["access_token"], COOP, "JWT")
        self.assertEqual(claims["scope"], "orders profile history")
        self.refused(st, "invalid_scope", audience=COOP, requested_token_type=L.TT_SAML2_URN)
        self.refused(doc["access_token"], "invalid_scope", audience=COOP,
                     requested_token_type=L.TT_SAML2_URN)

    # ---- tokens we must not accept ----------------------------------------------------

    def test_foreign_tokens_refused(self):
        now = int(time.time())
        good = rebase(A1_SUBJECT)
        cert_pem = self.pem(self.cert16).encode()
        trusted_pub = x509.load_pem_x509_certificate(cert_pem).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

        def hs256(secret, claims, kid="16"):
            h = L.b64url_encode(json.dumps({"alg": "HS256", "kid": kid}, separators=(",", ":")))
            c = L.b64url_encode(json.dumps(claims, separators=(",", ":")))
            mac = hmac.new(secret, ("%s.%s" % (h, c)).encode(), hashlib.sha256).digest()
            return "%s.%s.%s" % (h, c, L.b64url_encode(mac))

        cases = {
            "iss of another trusted issuer, signed by kid 16":
                self.sign(dict(good, iss=PARTNER)),
            "iss of another trusted issuer, its kid, signed by kid 16's key":
                self.sign(dict(good, iss=PARTNER), kid="partner-1"),
            "iss of an unknown issuer": self.sign(dict(good, iss="https://evil.example.net")),
            "iss is our own issuer": self.sign(dict(good, iss=AS)),
            "aud not us": self.sign(dict(good, aud="https://other-as.example.com")),
            "aud us with a trailing slash": self.sign(dict(good, aud=AS + "/")),
            "aud missing": self.sign({k: v for k, v in good.items() if k != "aud"}),
            "aud a list without us": self.sign(dict(good, aud=[COOP, BACKEND])),
            "wrong kid": self.sign(good, kid="17"),
            "no kid": pyjwt.encode(good, self.pem(self.key16), algorithm="ES256",
                                   headers={"typ": None}),
            "another key, kid 16": self.sign(good, key=self.rogue_key),
            "alg none": L.jwt_resign_unsafe({"alg": "none", "kid": "16"}, good),
            "alg none, signature kept": ".".join(
                [L.b64url_encode('{"alg":"none","kid":"16"}')] + self.sign(good).split(".")[1:]),
            "HS256 keyed with the public key (PEM)": hs256(trusted_pub, good),
            "HS256 keyed with the certificate (PEM)": hs256(cert_pem, good),
            "expired": self.sign(dict(good, exp=now - 3600, nbf=now - 7200)),
            "not yet valid": self.sign(dict(good, nbf=now + 3600, exp=now + 7200)),
            "exp missing": self.sign({k: v for k, v in good.items() if k != "exp"}),
            "claims altered": L.tamper_jwt(self.sign(good), {"sub": "admin@example.net"}),
            "signature altered": L.tamper_jwt(self.sign(good)),
        }
        for name, tok in cases.items():
            with self.subTest(case=name):
                self.refused(tok, audience=COOP)
        for name, tt in (("declared refresh_token", L.TT_REFRESH),
                         ("declared saml2", L.TT_SAML2_URN),
                         ("declared id_token", L.TT_ID_TOKEN)):
            with self.subTest(case=name):
                self.refused(self.sign(good), audience=COOP, subject_type=tt)
        # the same refusals for an actor token
        st = self.sign(rebase(A2_SUBJECT))
        for name in ("iss of another trusted issuer, signed by kid 16", "aud not us", "alg none",
                     "HS256 keyed with the public key (PEM)", "expired"):
            with self.subTest(actor=name):
                forged_actor = {
                    "iss of another trusted issuer, signed by kid 16":
                        self.sign(dict(rebase(A2_ACTOR), iss=PARTNER)),
                    "aud not us": self.sign(dict(rebase(A2_ACTOR), aud=COOP)),
                    "alg none": L.jwt_resign_unsafe({"alg": "none", "kid": "16"},
                                                    rebase(A2_ACTOR)),
                    "HS256 keyed with the public key (PEM)": hs256(trusted_pub, rebase(A2_ACTOR)),
                    "expired": self.sign(dict(A2_ACTOR, exp=now - 3600)),
                }[name]
                self.refused(st, audience=COOP, actor_token=forged_actor,
                             actor_token_type=L.TT_JWT)

    def test_other_trusted_issuer_accepted(self):
        """The partner entry is real: its own correctly signed token is
        accepted, so the refusals above are about key/issuer binding."""
        tok = self.sign(dict(rebase(A1_SUBJECT), iss=PARTNER), kid="partner-1",
                        key=self.partner_key)
        doc = self.assertJsonOk(self.exchange(tok, audience=COOP))
        _, claims = self.verify(doc["access_token"], COOP, "at+jwt")
        self.assertEqual(claims["sub"], "bdc@example.net")

    def test_per_client_trusted_issuers(self):
        """A client presents only the issuers its entry lists: rs-narrow may use
        the original issuer's tokens, not the partner's (invalid_request, nothing
        issued), though the partner is a configured trusted issuer."""
        partner = self.sign(dict(rebase(A1_SUBJECT), iss=PARTNER), kid="partner-1",
                            key=self.partner_key)
        self.refused(partner, audience=COOP, auth=NARROW)
        original = self.sign(rebase(A1_SUBJECT))
        self.assertJsonOk(self.exchange(original, audience=COOP, auth=NARROW))

    def test_targets(self):
        st = self.sign(rebase(A1_SUBJECT))
        self.refused(st, "invalid_target")  # no target, two audiences
        self.refused(st, "invalid_target", resource="https://backend.example.com/api#x")
        self.refused(st, "invalid_target", resource="backend.example.com/api")
        self.refused(st, "invalid_target", audience="https://backend.example.com")  # origin
        self.refused(st, "invalid_target", audience="urn:example:other-context")
        doc = self.assertJsonOk(self.exchange(st, audience=COOP, resource=BACKEND))
        _, claims = self.verify(doc["access_token"], COOP, "at+jwt")
        self.assertEqual(sorted(claims["aud"]), sorted([COOP, BACKEND]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
