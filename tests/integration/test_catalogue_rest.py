#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The RFC 8693 cases of the "Gaps" list of docs/security-catalogue.md
(JW-04, JW-06, JW-07, JW-09, TX-01 to TX-03, TX-05 to TX-10), sent end to end
to a real server on loopback.

Every refusal is asserted with stslib's assertOAuthError (the exact HTTP status
and OAuth error, JSON, Cache-Control: no-store, the store unchanged, the server
alive, "<path> -> <status> <error>" logged at INFO, no client secret logged)
and, through refused() below, with the cause the log line gives, so that a
refusal for another reason (a bad signature instead of a refused header, an
audience instead of a token type) fails the test. Each case has an accepted
control where one is possible, so that the refusal is known to come from the
one thing the case changes.

Configuration (CatalogueRestTest): the demo realm of the embedded default
(alice, the client migration-tester with both audiences, every token and
grant type), plus:
  - a trusted issuer https://original-issuer.example.net (EC P-256 key made
    here with openssl, kid "16"), listed in migration-tester's
    trusted_issuers;
  - the client other-client (audience https://rp.example.com/ only, token
    exchange), which obtains tokens that migration-tester then presents;
  - the client api-only (audience https://api.example.com/ only);
  - the client refresh-only (grant_types ["refresh_token"] only);
  - the client no-refresh (token exchange, no refresh_token token type).

Other classes: clock_skew 0 (JW-06), a restart without a signing key (TX-08),
and rest.require_tls by listen address and setting (TX-10), whose start-up
lines are checked the way test_tls.py checks soap.require_tls_for_password_text.
"""
import atexit
import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import uuid
from urllib.parse import quote, urlencode

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402
from lxml import etree  # noqa: E402

ORIGINAL = "https://original-issuer.example.net"
OTHER = ("other-client", "other-client-secret")
API_ONLY = ("api-only", "api-only-secret")
REFRESH_ONLY = ("refresh-only", "refresh-only-secret")
NO_REFRESH = ("no-refresh", "no-refresh-secret")
FORM = "application/x-www-form-urlencoded"
BAD_TOKEN = "subject_token is not acceptable"


# --------------------------------------------------------------------------
# JWS by hand: header and payload as exact JSON text (1.9e9, 1e300, true ...)
# --------------------------------------------------------------------------
def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def es256(key, header, payload):
    """A compact ES256 JWS of @header and @payload (dicts, or JSON text used as
    it is), signed with the EC private @key."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    p = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    signing_input = "%s.%s" % (L.b64url_encode(h), L.b64url_encode(p))
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"),
                                         ec.ECDSA(hashes.SHA256())))
    return "%s.%s" % (signing_input, L.b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")))


def public_jwk(key):
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": L.b64url_encode(nums.x.to_bytes(32, "big")),
            "y": L.b64url_encode(nums.y.to_bytes(32, "big"))}



class CatalogueRestBase(L.RestMixin, L.StsTestCase):
    """Helpers shared by the classes below."""

    def refused(self, send, status, error, cause, path="/token", store_before=None):
        """assertOAuthError, then the cause in the refusal's own log line."""
        mark = self.srv.log_mark()
        doc = self.assertOAuthError(send, status, error, store_before=store_before, path=path)
        line = self.srv.wait_log(mark, re.escape("%s -> %d %s" % (path, status, error)))
        self.assertIn(cause, line, "refused for another cause")
        return doc

    def basic(self, client=(L.CLIENT_ID, L.CLIENT_SECRET)):
        return "Basic " + base64.b64encode(("%s:%s" % client).encode()).decode()


class CatalogueRestTest(CatalogueRestBase):

    keydir = None

    @classmethod
    def CONFIG(cls):
        cls.keydir = tempfile.mkdtemp(prefix="sts-cat-rest-keys-")
        atexit.register(shutil.rmtree, cls.keydir, True)
        key16, cls.cert16 = L.make_ec_keypair(cls.keydir, "original", "original-issuer")
        rogue, _ = L.make_ec_keypair(cls.keydir, "rogue", "rogue")
        cls.key16, cls.rogue = load_key(key16), load_key(rogue)
        cfg = L.rest_default_config()
        cfg["trusted_issuers"] = [{"issuer": ORIGINAL, "cert": cls.cert16, "kid": "16"}]
        cfg["clients"][0]["trusted_issuers"] = [ORIGINAL]
        cfg["clients"] += [
            L.client_entry(OTHER[0], OTHER[1], [L.RP], L.DEFAULT_SCOPES),
            L.client_entry(API_ONLY[0], API_ONLY[1], [L.RP_API], L.DEFAULT_SCOPES),
            L.client_entry(REFRESH_ONLY[0], REFRESH_ONLY[1], [L.RP], L.DEFAULT_SCOPES,
                           token_types=[L.TT_ACCESS, L.TT_REFRESH], grant_types=[L.GRANT_REFRESH]),
            L.client_entry(NO_REFRESH[0], NO_REFRESH[1], [L.RP], L.DEFAULT_SCOPES,
                           token_types=[L.TT_ACCESS, L.TT_JWT])]
        return cfg

    # ---- helpers ------------------------------------------------------------------

    def foreign(self, claims=None, header=None, key=None, raw_payload=None):
        """A JWT of the trusted issuer (kid 16) for alice@original, addressed to
        us; @claims update the defaults, a None value removes the claim."""
        now = int(time.time())
        c = {"iss": ORIGINAL, "sub": "alice@original-issuer.example.net", "aud": L.ISSUER,
             "iat": now, "exp": now + 600, "scope": "api.read"}
        for k, v in (claims or {}).items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        h = {"alg": "ES256", "kid": "16"}
        h.update(header or {})
        return es256(key or self.key16, h, raw_payload if raw_payload is not None else c)

    def exchange(self, subject, subject_type=L.TT_JWT, auth=L.DEFAULT, **kw):
        kw.setdefault("audience", L.RP)
        return L.token_exchange(self.srv, subject, subject_type, auth=auth, **kw)

    def refuse_subject(self, subject, cause, subject_type=L.TT_JWT, error="invalid_request",
                       status=400, **kw):
        doc = self.refused(lambda: self.exchange(subject, subject_type, **kw), status, error, cause)
        return doc

    def claims_of(self, token):
        return L.jwt_parts(token)[1]

    # ==================================================================
    # JW-04: key-injection headers end to end (0 connections)
    # ==================================================================
    def test_jw04_key_injection_headers(self):
        """jku and x5u at a listener, an embedded jwk (the attacker's key, and
        the trusted issuer's own), x5c, on tokens that are otherwise the trusted
        issuer's: oauth(400, invalid_request) at /token naming the header,
        inactive at /introspect, invalid at SOAP Validate (BST), and not one
        connection to the listener. Control: the same token without the
        header is accepted."""
        self.exchange_ok(self.foreign(), L.TT_JWT, audience=L.RP)
        with L.ConnCounter() as lis:
            cert_der = base64.b64encode(base64.b64decode(L.cert_b64(self.cert16))).decode()
            cases = [
                ("jku", self.foreign(header={"jku": lis.url + "/jwks.json"})),
                ("x5u", self.foreign(header={"x5u": lis.url + "/c.pem"})),
                ("jku", self.foreign(header={"jku": lis.url + "/../../jwks.json"})),
                ("jwk", self.foreign(header={"jwk": public_jwk(self.rogue)}, key=self.rogue)),
                ("jwk", self.foreign(header={"jwk": public_jwk(self.key16)})),
                ("x5c", self.foreign(header={"x5c": [cert_der]})),
            ]
            for name, token in cases:
                with self.subTest(header=name):
                    self.refuse_subject(token, 'header: "%s" is not accepted' % name)
                    self.refuse_subject(token, 'header: "%s" is not accepted' % name,
                                        subject_type=L.TT_ACCESS)
                    self.assertInactive(token)
                    self.assertInvalid(L.bst_xml(token))
            self.assertEqual(lis.close(1.5), 0, "the server connected to a jku/x5u listener")

    # ==================================================================
    # JW-06: time claims of a trusted issuer's token (clock_skew 300)
    # ==================================================================
    def test_jw06_time_claims(self):
        """exp one second past the skew; nbf and iat beyond it (2 s, so that the
        second a request may take cannot let them pass); exp as a string, a
        JSON real, -1, 1e300, true, or missing. Controls: nbf and iat inside
        the skew are accepted."""
        skew = 300
        now = int(time.time())
        self.exchange_ok(self.foreign({"nbf": now + skew - 30, "iat": now + skew - 30}),
                         L.TT_JWT, audience=L.RP)
        cases = [
            ("exp now-skew-1", self.foreign({"exp": now - skew - 1, "iat": now - 900}),
             "token expired"),
            ("exp now", self.foreign({"exp": now, "iat": now - 60}), "expired"),
            ("nbf now+skew+2", self.foreign({"nbf": now + skew + 2}), "token not yet valid"),
            ("iat now+skew+2", self.foreign({"iat": now + skew + 2}), "token issued in the future"),
            ("exp missing", self.foreign({"exp": None}), "exp missing or malformed"),
        ]
        body = '{"iss":"%s","sub":"alice@original","aud":"%s","iat":%d,"exp":%s}'
        for text in ('"1900000000"', "1.9e9", "1900000000.0", "-1", "1e300", "true", "null",
                     "[1900000000]", "0"):
            cases.append(("exp " + text, self.foreign(raw_payload=body % (ORIGINAL, L.ISSUER, now,
                                                                          text)),
                          "exp missing or malformed"))
        for text in ('"%d"' % now, "%d.5" % now, "-5", "false"):
            cases.append(("iat " + text, self.foreign(raw_payload=(
                '{"iss":"%s","sub":"alice@original","aud":"%s","iat":%s,"exp":%d}'
                % (ORIGINAL, L.ISSUER, text, now + 600))), "iat or nbf malformed"))
        for label, token, cause in cases:
            with self.subTest(case=label):
                self.refuse_subject(token, cause)
        # the integer form of the same instant is fine
        self.exchange_ok(self.foreign(raw_payload=body % (ORIGINAL, L.ISSUER, now,
                                                          str(now + 600))),
                         L.TT_JWT, audience=L.RP)

    def test_jw06_long_lived_foreign_token(self):
        """exp 30 days ahead. Differs from the catalogue: there is no maximum
        lifetime for another issuer's token; it is accepted, and what is
        issued from it is bounded by engine.max_lifetime (3600 s) all the
        same, refresh token included (engine.refresh_lifetime)."""
        now = int(time.time())
        doc = self.exchange_ok(self.foreign({"exp": now + 30 * 86400}), L.TT_JWT, audience=L.RP)
        c = self.claims_of(doc["access_token"])
        self.assertLessEqual(doc["expires_in"], 3600)
        self.assertLessEqual(c["exp"] - now, 3600 + 5)
        self.assertLessEqual(self.claims_of(doc["refresh_token"])["exp"] - now, 28800 + 5)

    # ==================================================================
    # JW-07: issuer and audience binding
    # ==================================================================
    def test_jw07_audience_array_with_us_accepted(self):
        """aud ["https://other.example", <engine.issuer>] is accepted (it names
        us); the same array without us is refused."""
        doc = self.exchange_ok(self.foreign({"aud": ["https://other.example", L.ISSUER]}),
                               L.TT_JWT, audience=L.RP)
        self.assertEqual(self.claims_of(doc["access_token"])["aud"], L.RP)
        self.refuse_subject(self.foreign({"aud": ["https://other.example", L.ISSUER + "x"]}),
                            "not addressed to this STS")

    def test_jw07_rp_x_token_for_rp_y(self):
        """A token we issued for RP X (rp) sent back as a subject aimed at RP Y
        (api). Differs from the catalogue (README policy): the client the token
        was issued to may exchange it for any of its own audiences; its scope
        does not grow. A client that has neither the token nor X among its
        audiences is refused."""
        _, saml = self.soap_saml()
        x = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, scope="api.read")
        y = self.exchange_ok(x["access_token"], L.TT_ACCESS, audience=L.RP_API)
        c = self.claims_of(y["access_token"])
        self.assertEqual((c["aud"], c["scope"], c["sub"]), (L.RP_API, "api.read", L.USER))
        self.refuse_subject(x["access_token"], "neither issued to client api-only nor for one of "
                            "its audiences", subject_type=L.TT_ACCESS, auth=API_ONLY,
                            audience=L.RP_API)

    # ==================================================================
    # JW-09: an ID token declared as an access token
    # ==================================================================
    def test_jw09_id_token_refused(self):
        """A trusted issuer's OIDC ID token (typ JWT, nonce, aud = the client):
        refused as not addressed to us; with our issuer added to its aud it is
        still refused, as an ID token, whether declared access_token or jwt (so
        are at_hash and c_hash). Control: the same claims without nonce pass."""
        idt = {"aud": L.CLIENT_ID, "nonce": "n-0S6_WzA2Mj", "auth_time": int(time.time()) - 5,
               "azp": L.CLIENT_ID}
        self.refuse_subject(self.foreign(idt, header={"typ": "JWT"}), "not addressed to this STS",
                            subject_type=L.TT_ACCESS)
        idt["aud"] = [L.CLIENT_ID, L.ISSUER]
        for declared in (L.TT_ACCESS, L.TT_JWT):
            with self.subTest(declared=declared):
                self.refuse_subject(self.foreign(idt, header={"typ": "JWT"}),
                                    "an ID token (nonce, at_hash or c_hash) is not exchanged",
                                    subject_type=declared)
        for member in ("at_hash", "c_hash"):
            with self.subTest(member=member):
                claims = dict(idt, nonce=None)
                claims[member] = "77QmUPtjPfzWtF2AnpK9RQ"
                self.refuse_subject(self.foreign(claims, header={"typ": "JWT"}),
                                    "an ID token (nonce, at_hash or c_hash) is not exchanged",
                                    subject_type=L.TT_ACCESS)
        self.refuse_subject(self.foreign(idt), "token type not supported", subject_type=L.TT_ID_TOKEN)
        # and the reverse: our own access token declared as an id_token
        _, saml = self.soap_saml()
        at = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)["access_token"]
        self.refuse_subject(at, "token type not supported", subject_type=L.TT_ID_TOKEN)
        self.exchange_ok(self.foreign(dict(idt, nonce=None), header={"typ": "JWT"}), L.TT_ACCESS,
                         audience=L.RP)

    # ==================================================================
    # TX-01: request syntax
    # ==================================================================
    def test_tx01_request_syntax(self):
        """multipart/form-data (415); parameters in the query string as well
        as the body, or only there (400, before credentials); a raw '+' inside
        a subject_token (a space once decoded); non-UTF-8 bytes in a value or
        a name (400). Control: the same form, well encoded, succeeds."""
        _, saml = self.soap_saml()
        good = L.exchange_params(saml, L.TT_SAML2_URN, audience=L.RP)
        form = urlencode(good)
        self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)
        boundary = "b" + uuid.uuid4().hex
        multipart = "".join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                            % (boundary, k, v) for k, v in good) + "--%s--\r\n" % boundary
        self.refused(lambda: L.rest_post(self.srv, "/token", multipart.encode(), headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary}),
            415, "invalid_request", "media type is not application/x-www-form-urlencoded")
        for query in (urlencode([("grant_type", L.GRANT_TE), ("subject_token_type", L.TT_JWT)]),
                      "audience=" + quote(L.RP, safe=""), "client_secret=" + L.CLIENT_SECRET):
            with self.subTest(query=query[:40]):
                doc = self.refused(lambda: L.rest_post(self.srv, "/token?" + query, good),
                                   400, "invalid_request", "query string on /token")
                self.assertIn("URI query", doc.get("error_description", ""))
        # only in the query, no credentials at all: still the query that is refused (400, not 401)
        short = urlencode([("grant_type", L.GRANT_TE), ("subject_token", saml[:200]),
                           ("subject_token_type", L.TT_SAML2_URN), ("audience", L.RP)])
        self.refused(lambda: L.rest_post(self.srv, "/token?" + short, b"", auth=None,
                                         headers={"Content-Type": FORM}), 400,
                     "invalid_request", "query string on /token")
        self.assertNotIn(saml[:40], self.srv.log_text(), "a token of the query was logged")
        # a client that mistypes the endpoint: no path logs its query either
        for method, path, status in (("GET", "/nowhere", 404), ("POST", "/oauth/token", 404),
                                     ("PUT", "/x", 404)):
            secret = "S3CRETQ-%s-%s" % (method, path.strip("/").replace("/", "-"))
            mark = self.srv.log_mark()
            r = L.http_request("127.0.0.1", self.srv.port, method,
                               "%s?client_secret=%s" % (path, secret), body=b"x=1",
                               headers={"Content-Type": FORM})
            with self.subTest(method=method, path=path):
                self.assertEqual(r.status, status)
                self.assertIsNotNone(self.srv.wait_log(mark, r"%s %s -> (HTTP )?%d"
                                                       % (method, re.escape(path), status)),
                                     self.srv.log_since(mark))
                self.assertNotIn(secret, self.srv.log_text(), "a query was logged")
        # a raw '+' in the token (base64url has none): a space once decoded
        mid = len(saml) // 2
        plus = saml[:mid] + "+" + saml[mid:]
        body = form.replace(quote(saml, safe=""), plus) if quote(saml, safe="") in form else None
        self.assertIsNotNone(body)
        self.refused(lambda: L.rest_post(self.srv, "/token", body.encode(), headers={
            "Content-Type": FORM}), 400, "invalid_request", "not base64url")
        at = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)["access_token"]
        h, c, s = at.split(".")
        jwt_plus = "grant_type=%s&subject_token=%s.%s+.%s&subject_token_type=%s&audience=%s" % (
            quote(L.GRANT_TE, safe=""), h, c, s, quote(L.TT_ACCESS, safe=""),
            quote(L.RP, safe=""))
        self.refused(lambda: L.rest_post(self.srv, "/token", jwt_plus.encode(), headers={
            "Content-Type": FORM}), 400, "invalid_request", "not strict base64url")
        # non-UTF-8: a lone byte, an overlong '/', a surrogate; in values and in a name
        for extra in ("scope=%FF", "audience=https%3A%2F%2Frp.example.com%C0%AF",
                      "requested_token_type=%ED%A0%80", "x%FE=1", "resource=%80"):
            with self.subTest(extra=extra):
                self.refused(lambda: L.rest_post(self.srv, "/token", (form + "&" + extra).encode(),
                                                 headers={"Content-Type": FORM}),
                             400, "invalid_request", "not UTF-8")

    # ==================================================================
    # TX-02: oversize parameters and bodies
    # ==================================================================
    def test_tx02_oversize(self):
        """A 1 MB subject_token (over 64 KiB a value), 10 000 parameters (over
        64), and a body over server.max_message_size (413, then closed): each
        refused, nothing issued (never an exchange as the client itself). A
        parameter name over 64 bytes is an unknown parameter: ignored."""
        _, saml = self.soap_saml()
        big = "A" * 1000000
        self.refused(lambda: self.exchange(big, L.TT_SAML2_URN), 400, "invalid_request",
                     "parameter subject_token: value too long")
        many = L.exchange_params(saml, L.TT_SAML2_URN, audience=L.RP) + [
            ("p%d" % i, "v") for i in range(10000)]
        self.refused(lambda: L.rest_post(self.srv, "/token", many), 400, "invalid_request",
                     "more than 64 parameters")
        form = urlencode(L.exchange_params(saml, L.TT_SAML2_URN, audience=L.RP)).encode()

        def over():
            head = [("Content-Type", FORM), ("Authorization", self.basic()),
                    ("Content-Length", str(1048576 + 1))]
            raw = L.http_head_bytes("POST", "/token", head) + form
            with L.RawConn(self.srv.port) as c:
                self.assertTrue(c.send(raw), "send failed: %r" % c.send_error)
                resp = c.read_response(timeout=8.0)
                closed.append(c.wait_closed(2.0)[0])
            return L.RawOAuthResponse(resp, "/token")
        closed = []
        self.refused(over, 413, "invalid_request", "body of 1048577 bytes over the limit")
        self.assertTrue(closed[0], "connection not closed after the 413")
        # an over-long name: ignored, the exchange goes ahead as the subject
        doc = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, **{"n" * 65: "x",
                                                                      "subject_token" + "_" * 60: "y"})
        self.assertEqual(self.claims_of(doc["access_token"])["sub"], L.USER)
        # an over-long value of a known parameter stays refused
        self.refused(lambda: self.exchange(saml, L.TT_SAML2_URN, scope="s" * 65537), 400,
                     "invalid_request", "parameter scope: value too long")

    # ==================================================================
    # TX-03: a client not enabled for token exchange
    # ==================================================================
    def test_tx03_client_without_exchange_grant(self):
        """grant_types ["refresh_token"] only: oauth(400, unauthorized_client),
        whatever the subject; the same subject works for a client that has
        the grant."""
        _, saml = self.soap_saml()
        self.refused(lambda: self.exchange(saml, L.TT_SAML2_URN, auth=REFRESH_ONLY), 400,
                     "unauthorized_client", "client refresh-only may not use token exchange")
        self.refused(lambda: self.exchange("garbage", L.TT_JWT, auth=REFRESH_ONLY), 400,
                     "unauthorized_client", "client refresh-only may not use token exchange")
        self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, auth=OTHER)

    # ==================================================================
    # TX-05: case variants of an audience
    # ==================================================================
    def test_tx05_case_variant_audience(self):
        """Audiences and resources are compared byte for byte: a case variant
        of the host, the scheme or the path is oauth(400, invalid_target), also
        next to an allowed audience."""
        _, saml = self.soap_saml()
        for target in ("https://RP.example.com/", "HTTPS://rp.example.com/",
                       "https://rp.example.COM/", "https://API.example.com/",
                       "https://rp.example.com/".upper()):
            for name in ("audience", "resource"):
                with self.subTest(target=target, name=name):
                    self.refused(lambda: self.exchange(saml, L.TT_SAML2_URN, **{
                        "audience": [L.RP] if name == "resource" else [L.RP, target],
                        "resource": target if name == "resource" else None}),
                        400, "invalid_target", "not allowed for client migration-tester")

    # ==================================================================
    # TX-06: a three-hop chain never widens the scope
    # ==================================================================
    def test_tx06_three_hop_chain(self):
        """alice's assertion -> (rp, api.read) -> (api, asked api.read api.write)
        -> (rp + api, asked api.write). Each ask for more scope than the first
        token had is oauth(400, invalid_scope); what each hop issues has the
        first token's scope. Differs (README): the audience is the client's
        choice among its own audiences, so hop 2 may move to api and hop 3
        may name both."""
        _, saml = self.soap_saml()
        hop1 = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, scope="api.read")
        t1 = hop1["access_token"]
        self.refused(lambda: self.exchange(t1, L.TT_ACCESS, audience=L.RP_API,
                                           scope="api.read api.write"),
                     400, "invalid_scope", "a scope token of 9 bytes is not allowed")
        hop2 = self.exchange_ok(t1, L.TT_ACCESS, audience=L.RP_API)
        t2 = hop2["access_token"]
        self.assertEqual(self.claims_of(t2)["scope"], "api.read")
        for ask in ("api.write", "api.read api.write", "openid api.read"):
            with self.subTest(hop=3, scope=ask):
                self.refused(lambda: self.exchange(t2, L.TT_ACCESS, audience=[L.RP, L.RP_API],
                                                   scope=ask),
                             400, "invalid_scope", "is not allowed")
        hop3 = self.exchange_ok(t2, L.TT_ACCESS, audience=[L.RP, L.RP_API])
        c3 = self.claims_of(hop3["access_token"])
        self.assertEqual(c3["scope"], "api.read")
        self.assertEqual(sorted(c3["aud"]), sorted([L.RP, L.RP_API]))
        # the refresh token of hop 3 does not widen it either
        self.refused(lambda: L.rest_post(self.srv, "/token", {
            "grant_type": "refresh_token", "refresh_token": hop3["refresh_token"],
            "scope": "api.read api.write"}), 400, "invalid_scope",
            "a scope token of 9 bytes is not allowed")
        self.assertEqual(self.introspect(hop3["access_token"])["scope"], "api.read")

    # ==================================================================
    # TX-07: impersonation and delegation
    # ==================================================================
    def test_tx07_actor_token_of_another_client(self):
        """migration-tester exchanges the trusted issuer's token of
        alice@original with an actor_token that other-client obtained (alice,
        for rp, one of migration-tester's audiences too): oauth(400,
        invalid_request). Control: the same kind of token that
        migration-tester obtained itself is accepted as actor and becomes act."""
        _, saml = self.soap_saml()
        theirs = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, auth=OTHER)["access_token"]
        mine = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)["access_token"]
        self.assertEqual(self.claims_of(theirs)["aud"], self.claims_of(mine)["aud"])
        subject = self.foreign()
        for actor_type in (L.TT_ACCESS, L.TT_JWT):
            with self.subTest(actor_token_type=actor_type):
                self.refused(lambda: self.exchange(subject, L.TT_JWT, actor_token=theirs,
                                                   actor_token_type=actor_type),
                             400, "invalid_request", "actor_token %s: issued to another client"
                             % self.claims_of(theirs)["jti"])
        doc = self.exchange_ok(subject, L.TT_JWT, audience=L.RP, actor_token=mine,
                               actor_token_type=L.TT_ACCESS)
        c = self.claims_of(doc["access_token"])
        self.assertEqual((c["sub"], c["act"]), ("alice@original-issuer.example.net",
                                                {"sub": L.USER}))

    def test_tx07_requested_subject_ignored(self):
        """A proprietary requested_subject (naked impersonation) is an unknown
        parameter: ignored. With a subject token the token names that
        subject, not the requested one; without one the request is
        invalid_request for the missing subject_token."""
        _, saml = self.soap_saml()
        for extra in ({"requested_subject": "bob"}, {"requested_subject": "admin",
                                                     "impersonate": "admin"}):
            with self.subTest(extra=extra):
                doc = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, **extra)
                c = self.claims_of(doc["access_token"])
                self.assertEqual(c["sub"], L.USER)
                self.assertNotIn("act", c)
                self.assertEqual(self.introspect(doc["access_token"])["sub"], L.USER)
        self.refused(lambda: L.rest_post(self.srv, "/token", [
            ("grant_type", L.GRANT_TE), ("requested_subject", L.USER), ("audience", L.RP)]),
            400, "invalid_request", "parameter subject_token missing")

    # ==================================================================
    # TX-09: token types and the SAML path through /token
    # ==================================================================
    def test_tx09_saml_encodings(self):
        """saml2 in standard base64 with '+' or '/', and the raw XML: oauth(400,
        invalid_request), "not base64url". Padded base64url is accepted (README:
        padding optional)."""
        for _ in range(20):
            a, saml = self.soap_saml()
            std = base64.b64encode(a).decode()
            if "+" in std or "/" in std:
                break
        self.assertTrue("+" in std or "/" in std, "no assertion with '+' or '/' in 20 tries")
        self.refuse_subject(std, "not base64url", subject_type=L.TT_SAML2_URN)
        self.refuse_subject(a.decode(), "not base64url", subject_type=L.TT_SAML2_URN)
        self.exchange_ok(L.b64url_encode(a, pad=True), L.TT_SAML2_URN, audience=L.RP)

    def test_tx09_wrapping_through_token(self):
        """The signature-wrapping shapes test_faults sends to Validate, as
        base64url saml2 subject_tokens: the signed original in the Advice of a
        forged assertion (another ID, and the same ID), the forged one carrying
        the original's Signature, the signature stripped, the subject changed.
        Each oauth(400, invalid_request); the genuine assertion is accepted."""
        import copy
        a, _ = self.soap_saml()
        orig = L.parse_xml(a)

        def forged(same_id):
            f = copy.deepcopy(orig)
            for s in f.findall("ds:Signature", L.NS):
                f.remove(s)
            f.find("saml2:Subject/saml2:NameID", L.NS).text = "bob"
            if not same_id:
                f.set("ID", "_forged" + uuid.uuid4().hex)
            return f

        def in_advice(f, inner):
            advice = etree.Element(L.q("saml2", "Advice"))
            advice.append(inner)
            cond = f.find("saml2:Conditions", L.NS)
            f.insert(list(f).index(cond) + 1, advice)
            return etree.tostring(f)

        stripped = copy.deepcopy(orig)
        stripped.remove(stripped.find("ds:Signature", L.NS))
        keeps = forged(True)
        keeps.insert(1, copy.deepcopy(orig.find("ds:Signature", L.NS)))
        cases = [
            ("signed original in the Advice of a forged one", in_advice(forged(False),
                                                                        copy.deepcopy(orig))),
            ("same ID, original in the Advice", in_advice(forged(True), copy.deepcopy(orig))),
            ("forged keeps the Signature", in_advice(keeps, copy.deepcopy(stripped))),
            ("signature stripped", etree.tostring(stripped)),
            ("subject changed", a.replace(b">alice</saml2:NameID>", b">bob</saml2:NameID>")),
        ]
        for label, doc in cases:
            with self.subTest(case=label):
                self.assertNotEqual(doc, a)
                self.refuse_subject(L.b64url_encode(doc), "signature or structure invalid",
                                    subject_type=L.TT_SAML2_URN)
        self.exchange_ok(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP)

    def test_tx09_requested_refresh_token_not_allowed(self):
        """requested_token_type refresh_token for a client whose token_types
        lack it: oauth(400, unauthorized_client) (README: a type the client
        may not obtain). migration-tester, which has it, gets one."""
        _, saml = self.soap_saml()
        self.refused(lambda: self.exchange(saml, L.TT_SAML2_URN, auth=NO_REFRESH,
                                           requested_token_type=L.TT_REFRESH),
                     400, "unauthorized_client", "client no-refresh may not obtain " + L.TT_REFRESH)
        doc = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP,
                               requested_token_type=L.TT_REFRESH)
        self.assertEqual(doc["issued_token_type"], L.TT_REFRESH)

    # ==================================================================
    # TX-10: error hygiene, no CORS
    # ==================================================================
    def test_tx10_errors_echo_no_token(self):
        """Refusals of a presented token (tampered, foreign, revoked, refresh
        token as subject, at /token, the refresh grant and /revoke of another
        client's token) never carry the token, or any part of it, in the body."""
        _, saml = self.soap_saml()
        doc = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)
        at, rt = doc["access_token"], doc["refresh_token"]
        theirs = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP, auth=OTHER)["access_token"]
        rogue = self.foreign(key=self.rogue)
        tampered = L.tamper_jwt(at, {"sub": "admin"})
        sends = [
            (lambda: self.exchange(tampered, L.TT_ACCESS), 400, "invalid_request", tampered),
            (lambda: self.exchange(rogue, L.TT_JWT), 400, "invalid_request", rogue),
            (lambda: self.exchange(rt, L.TT_ACCESS), 400, "invalid_request", rt),
            (lambda: self.exchange(saml[:-10], L.TT_SAML2_URN), 400, "invalid_request", saml),
            (lambda: L.rest_post(self.srv, "/token", {"grant_type": "refresh_token",
                                                      "refresh_token": tampered}),
             400, "invalid_grant", tampered),
            (lambda: L.rest_post(self.srv, "/revoke", {"token": theirs}), 400,
             "unauthorized_client", theirs),
        ]
        for send, status, error, token in sends:
            with self.subTest(error=error, token=token[:20]):
                path = "/revoke" if error == "unauthorized_client" else "/token"
                resp = []
                self.assertOAuthError(lambda: resp.append(send()) or resp[-1], status, error,
                                      path=path)
                text = resp[-1].text
                for part in re.split(r"[.]", token):
                    if len(part) >= 16:
                        self.assertNotIn(part[:16], text, "a token echoed in an error body")
                self.assertEqual(set(resp[-1].json()) - {"error", "error_description"}, set())

    def test_tx10_no_cors(self):
        """OPTIONS /token (a CORS preflight) is 405 with Allow: POST, and no
        response, errors and successes included, carries Access-Control-*."""
        import requests
        origin = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                  "Access-Control-Request-Headers": "authorization, content-type"}
        for path in ("/token", "/introspect", "/revoke"):
            with self.subTest(path=path):
                r = requests.options(L.rest_base(self.srv) + path, headers=origin, timeout=10)
                self.assertEqual(r.status_code, 405)
                self.assertEqual(r.headers.get("Allow"), "POST")
                self.assertEqual([h for h in r.headers if h.lower().startswith("access-control")],
                                 [])
        _, saml = self.soap_saml()
        ok = L.rest_post(self.srv, "/token", L.exchange_params(saml, L.TT_SAML2_URN,
                                                               audience=L.RP),
                         headers={"Origin": "https://evil.example"})
        bad = L.rest_post(self.srv, "/token", {"grant_type": "password"},
                          headers={"Origin": "https://evil.example"})
        meta = requests.get(L.rest_base(self.srv) + "/.well-known/jwks.json",
                            headers={"Origin": "https://evil.example"}, timeout=10)
        self.assertEqual((ok.status_code, bad.status_code, meta.status_code), (200, 400, 200))
        # nor the SOAP face's (gSOAP's own default answers an Origin with "*")
        wsdl = requests.get(L.rest_base(self.srv) + "/sts?wsdl",
                            headers={"Origin": "https://evil.example"}, timeout=10)
        body = L.envelope(L.rst_issue(), 12, L.security_xml(12))
        hdrs = dict(L.soap_headers(12, L.ACTION["Issue"]), Origin="https://evil.example")
        issued = requests.post(L.rest_base(self.srv) + "/sts", data=body, timeout=10,
                               headers=hdrs)
        self.assertEqual((wsdl.status_code, issued.status_code), (200, 200))
        for r in (ok, bad, meta, wsdl, issued):
            self.assertEqual([h for h in r.headers if h.lower().startswith("access-control")], [])


class SkewZeroTest(CatalogueRestBase):
    """JW-06 with engine.clock_skew 0: exp = now is expired, nbf and iat one
    second ahead are refused. Control: a token valid from now on is accepted."""

    keydir = None

    @classmethod
    def CONFIG(cls):
        cls.keydir = tempfile.mkdtemp(prefix="sts-cat-rest-skew-")
        atexit.register(shutil.rmtree, cls.keydir, True)
        key, cert = L.make_ec_keypair(cls.keydir, "original", "original-issuer")
        cls.key = load_key(key)
        cfg = L.rest_default_config(clock_skew=0)
        cfg["trusted_issuers"] = [{"issuer": ORIGINAL, "cert": cert, "kid": "16"}]
        cfg["clients"][0]["trusted_issuers"] = [ORIGINAL]
        return cfg

    def token(self, **claims):
        c = {"iss": ORIGINAL, "sub": "alice@original", "aud": L.ISSUER}
        c.update(claims)
        return es256(self.key, {"alg": "ES256", "kid": "16"}, c)

    def test_jw06_no_leeway(self):
        now = int(time.time())
        # nbf/iat two seconds ahead: the request's own second cannot make them pass
        for label, tok, cause in (
                ("exp = now", self.token(exp=now, iat=now - 10), "expired"),
                ("exp = now - 1", self.token(exp=now - 1, iat=now - 10), "token expired"),
                ("nbf = now + 2", self.token(exp=now + 600, nbf=now + 2), "token not yet valid"),
                ("iat = now + 2", self.token(exp=now + 600, iat=now + 2),
                 "token issued in the future")):
            with self.subTest(case=label):
                self.refused(lambda: L.token_exchange(self.srv, tok, L.TT_JWT, audience=L.RP),
                             400, "invalid_request", cause)
        self.exchange_ok(self.token(exp=now + 600, nbf=now - 1, iat=now - 1), L.TT_JWT,
                         audience=L.RP)


class KeyRemovedTest(CatalogueRestBase):
    """TX-08: a JWT signed by our EC key (relying party api is ES256) is
    exchanged and active; after a restart on the same data directory with
    that key removed from the configuration, it is refused as a subject
    (oauth(400, invalid_request), no key for its kid) and inactive at
    /introspect, while an RSA-signed token of before the restart still works."""

    CONFIG = staticmethod(L.rest_default_config)

    def test_tx08_signing_key_removed(self):
        _, saml = self.soap_saml()
        ec_tok = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP_API)["access_token"]
        rsa_tok = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)["access_token"]
        self.assertEqual(L.jwt_parts(ec_tok)[0]["alg"], "ES256")
        self.assertEqual(L.jwt_parts(rsa_tok)[0]["alg"], "RS256")
        self.assertActive(ec_tok)
        cfg = L.rest_default_config()
        cfg["engine"]["additional_signing_keys"] = []
        cfg["relying_parties"][1].pop("signing_alg")
        old = self.srv
        self.assertEqual(old.stop(), 0)
        srv = L.Server("keyremoved2", cfg)
        srv.data_dir = old.data_dir
        srv.start()
        type(self).server = srv
        type(self).addClassCleanup(shutil.rmtree, old.tmp, True)
        self.refused(lambda: L.token_exchange(srv, ec_tok, L.TT_ACCESS, audience=L.RP), 400,
                     "invalid_request", "header: unknown kid")
        self.assertInactive(ec_tok)
        self.assertActive(rsa_tok)
        self.exchange_ok(rsa_tok, L.TT_ACCESS, audience=L.RP)


# --------------------------------------------------------------------------
# TX-10: rest.require_tls (as test_tls.py tests soap.require_tls_for_password_text)
# --------------------------------------------------------------------------
NOTICE = "/token, /introspect and /revoke are refused: plain HTTP"
WARNING = "/token, /introspect and /revoke are served over plain HTTP on a non-loopback address"


class RequireTlsBase(CatalogueRestBase):

    def assertRestRefused(self):
        """/token, /introspect and /revoke: oauth(400, invalid_request) "TLS is
        required", before client authentication (no credentials and wrong
        ones get the same answer, never 401); metadata and JWKS are served."""
        for path, form in (("/token", {"grant_type": L.GRANT_TE}), ("/introspect", {"token": "x"}),
                           ("/revoke", {"token": "x"})):
            for auth in (L.DEFAULT, None, (L.CLIENT_ID, "wrong")):
                with self.subTest(path=path, auth=auth):
                    doc = self.refused(lambda: L.rest_post(self.srv, path, form, auth=auth), 400,
                                       "invalid_request", "plain HTTP refused (rest.require_tls",
                                       path=path)
                    self.assertEqual(doc.get("error_description"), "TLS is required: use https")
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/jwks.json"):
            self.assertEqual(L.rest_get(self.srv, path).status_code, 200)

    def assertRestServed(self):
        _, saml = self.soap_saml()
        doc = self.exchange_ok(saml, L.TT_SAML2_URN, audience=L.RP)
        self.assertActive(doc["access_token"])


def _rest_config(**rest):
    cfg = L.rest_default_config()
    if rest:
        cfg["rest"] = rest
    return cfg


class RestPlainNonLoopbackDefaultTest(RequireTlsBase):
    """Plain HTTP on 0.0.0.0, rest.require_tls absent: refused, with a notice."""

    CONFIG = staticmethod(_rest_config)
    LISTEN = "0.0.0.0:0"

    def test_notice_and_refusals(self):
        self.assertIn(NOTICE + " on a non-loopback address (rest.require_tls)", self.srv.log_text())
        self.assertRestRefused()


class RestPlainNonLoopbackAllowedTest(RequireTlsBase):
    """Plain HTTP on 0.0.0.0 with rest.require_tls false: served, with a warning."""

    CONFIG = staticmethod(lambda: _rest_config(require_tls=False))
    LISTEN = "0.0.0.0:0"

    def soap_saml(self, version=12, **kw):  # PasswordText is refused here: PasswordDigest
        return super().soap_saml(version, digest=True, **kw)

    def test_served_with_warning(self):
        self.assertIn(WARNING, self.srv.log_text())
        self.assertNotIn(NOTICE, self.srv.log_text())
        self.assertRestServed()


class RestPlainLoopbackForcedTest(RequireTlsBase):
    """Plain HTTP on loopback with rest.require_tls true: refused there too."""

    CONFIG = staticmethod(lambda: _rest_config(require_tls=True))

    def test_notice_and_refusals(self):
        self.assertIn(NOTICE + " (rest.require_tls)", self.srv.log_text())
        self.assertRestRefused()


class RestPlainLoopbackDefaultTest(RequireTlsBase):
    """Plain HTTP on loopback, setting absent (development): served, silently."""

    CONFIG = staticmethod(_rest_config)

    def test_served_silently(self):
        self.assertNotIn("rest.require_tls", self.srv.log_text())
        self.assertRestServed()


class RestTlsNonLoopbackTest(RequireTlsBase):
    """TLS on 0.0.0.0 with rest.require_tls true: served over TLS."""

    CONFIG = staticmethod(lambda: L.tls_config(_rest_config(require_tls=True)))
    TLS = True
    LISTEN = "0.0.0.0:0"

    def test_served_over_tls(self):
        self.assertIn("listening on https://0.0.0.0:%d " % self.srv.port, self.srv.log_text())
        self.assertNotIn("rest.require_tls", self.srv.log_text())
        self.assertRestServed()


if __name__ == "__main__":
    unittest.main(verbosity=2)
