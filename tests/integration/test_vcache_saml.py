#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The verified-token cache for SAML assertions (issue #6), on one real server
(embedded default): an assertion whose signature was checked once is not
checked again until it expires, but its store row is read every time.

- SOAP Validate and REST exchange of the same assertion, twice each, agree
  (status valid; the same subject and audience), and the server's counters
  show that the repeats were cache hits;
- a Cancel between them is honoured on a hit: Validate answers invalid (the
  engine logs "token cancelled"), and the exchange is refused (invalid_request);
- a Renew likewise: the renewed original is refused, its successor is valid;
- a tampered copy is refused however often it is sent, and never counted as
  a hit (a failure is never cached)."""
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

COUNTERS_RE = re.compile(r"verified-token cache \d+ hits \d+ misses, SAML (\d+) hits (\d+) misses")


class VcacheSamlTest(L.RestMixin, unittest.TestCase):

    def setUp(self):
        self.server = L.Server("vcache-saml", None)
        self.server.start()

    def tearDown(self):
        if self.server is not None:
            self.server.stop()
            self.server.cleanup()

    @property
    def srv(self):
        return self.server

    def counters(self):
        """(SAML hits, SAML misses) from the line the engine logs when it stops."""
        self.assertEqual(self.server.stop(), 0, "the server did not stop cleanly")
        m = COUNTERS_RE.search(self.server.log_text())
        self.assertIsNotNone(m, "no counters line in the log")
        return int(m.group(1)), int(m.group(2))

    def issue(self):
        r = self.srv.issue()
        self.assertEqual(r.status, 200, "Issue failed: %r" % r.body[:2000])
        a = L.extract_assertion_bytes(r.body)
        return a, L.b64url_encode(a), L.assertion_facts(a)

    def validate(self, token):
        """(status code, the reason the engine logged for it)."""
        mark = self.srv.log_mark()
        r = self.srv.validate(token)
        self.assertEqual(r.status, 200, "Validate must answer, not fault: %r" % r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        rx = r"\bvalidate (?:_\w+|-): (.*?) \("
        line = self.srv.wait_log(mark, rx)
        return items[0].status_code, re.search(rx, line).group(1) if line else None

    def exchange(self, b64):
        return L.token_exchange(self.srv, b64, L.TT_SAML2_URN, audience=L.RP,
                                requested_token_type=L.TT_JWT)

    def exchanged_claims(self, b64):
        doc = self.assertJsonOk(self.exchange(b64))
        return L.jwt_parts(doc["access_token"])[1]

    def test_twice_agree_and_cancel_is_honoured(self):
        a, b64, facts = self.issue()
        # SOAP: the same assertion twice (the second a hit), both valid
        self.assertEqual(self.validate(a)[0], L.STATUS_VALID)
        self.assertEqual(self.validate(a)[0], L.STATUS_VALID)
        # and in a SOAP 1.1 envelope: other in-scope namespaces, its own entry
        r = self.srv.validate(a, version=11)
        self.assertEqual(r.status, 200, r.body[:1000])
        # REST: the same bytes twice (the second a hit), the same facts
        c1, c2 = self.exchanged_claims(b64), self.exchanged_claims(b64)
        for c in (c1, c2):
            self.assertEqual((c["sub"], c["aud"]), (facts.subject, L.RP))
        self.assertNotEqual(c1["jti"], c2["jti"], "two exchanges, two tokens")

        # a Cancel between two uses is honoured by the next, a hit
        self.assertEqual(self.srv.cancel(a).status, 200)
        code, reason = self.validate(a)
        self.assertEqual(code, L.STATUS_INVALID)
        self.assertEqual(reason, "token cancelled", "the reason the engine logged")
        before = self.srv.snapshot()
        r = self.exchange(b64)
        self.assertEqual(r.status_code, 400, r.text[:500])
        self.assertEqual(r.json().get("error"), "invalid_request")
        self.assertEqual(self.srv.snapshot(), before, "nothing issued from a cancelled token")

        hits, misses = self.counters()
        # misses: the first SOAP 1.2, SOAP 1.1 and REST reads; hits: the second
        # SOAP 1.2 and REST reads, the Cancel's read of its target (the same
        # element in the same namespace context), and both reads after it
        self.assertEqual((hits, misses), (5, 3))

    def test_renew_between_is_honoured(self):
        a, b64, _ = self.issue()
        self.assertEqual(self.validate(a)[0], L.STATUS_VALID)
        self.exchanged_claims(b64)
        r = self.srv.renew(a)
        self.assertEqual(r.status, 200, "Renew failed: %r" % r.body[:2000])
        renewed = L.extract_assertion_bytes(r.body)
        code, reason = self.validate(a)
        self.assertEqual(code, L.STATUS_INVALID)
        self.assertTrue(reason and reason.startswith("token renewed"), reason)
        self.assertEqual(self.exchange(b64).status_code, 400)
        self.assertEqual(self.validate(renewed)[0], L.STATUS_VALID)
        hits, _ = self.counters()
        self.assertGreaterEqual(hits, 3, "the renewed original was read from the cache")

    def test_tampered_copy_never_hits(self):
        a, b64, _ = self.issue()
        self.assertEqual(self.validate(a)[0], L.STATUS_VALID)
        self.exchanged_claims(b64)
        bad = a.replace(b">%s<" % L.USER.encode(), b">%s<" % b"alicf", 1)
        self.assertNotEqual(bad, a)
        bad64 = L.b64url_encode(bad)
        for _ in range(2):
            self.assertEqual(self.validate(bad)[0], L.STATUS_INVALID)
            self.assertEqual(self.exchange(bad64).status_code, 400)
        self.assertEqual(self.validate(a)[0], L.STATUS_VALID)
        hits, misses = self.counters()
        self.assertEqual((hits, misses), (1, 6), "only the genuine repeat hits")


if __name__ == "__main__":
    unittest.main(verbosity=2)
