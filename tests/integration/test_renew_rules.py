#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""wst:Renewing and wst:AllowPostdating on Issue (WS-Trust 1.3 sec. 4.1, issue
#4), on one real server.

- Renewing Allow="false": the token cannot be renewed (wst:UnableToRenew),
  on either SOAP version, and its renewals of course cannot exist.
- Renewing OK="true" (tested with expiry in test_lifecycle.py and
  test_delegation.py): renewable after expiry within engine.renew_window;
  without it an expired token is not (WS-Trust's default).
- AllowPostdating: a Lifetime/Created in the future becomes the token's
  NotBefore (SAML Conditions, JWT nbf) and the RSTR's Lifetime; before then
  Validate says "not yet valid". Without AllowPostdating, or further ahead
  than the maximum lifetime, wst:InvalidTimeRange.
- Malformed Renewing (Allow/OK not xs:boolean, OK without Allow, content)
  and AllowPostdating with content: wst:InvalidRequest.
Every refusal leaves the store unchanged."""
import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402


class RenewRulesTest(L.RestMixin, L.StsTestCase):

    CONFIG = None  # the embedded default (max_lifetime 3600)

    def test_not_renewable(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                _, _, a = self.issue_ok(v, extra='<wst:Renewing Allow="false"/>')
                self.assertRefused(lambda: self.srv.renew(a, v), "UnableToRenew", v)
                self.assertValid(a)
        _, _, a = self.issue_ok(extra='<wst:Renewing Allow="true" OK="false"/>')
        self.assertEqual(self.srv.renew(a).status, 200)

    def test_transformed_copy_keeps_the_rules(self):
        """Review finding: Validate with transformation of a not-renewable token gave a
        renewable copy. The copy has its original's renew rules."""
        _, _, a = self.issue_ok(extra='<wst:Renewing Allow="false"/>')
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType><wst:ValidateTarget>%s</wst:ValidateTarget>'
               '</wst:RequestSecurityToken>' % (L.WST, L.TT_SAML2, L.REQUEST_TYPE["Validate"],
                                                a.decode()))
        r = self.srv.soap("Validate", rst)
        self.assertEqual(r.status, 200, r.body[:1000])
        copy = L.extract_assertion_bytes(r.body)
        self.assertRefused(lambda: self.srv.renew(copy), "UnableToRenew", 12)

    def test_postdated(self):
        created, expires = L.ts(600), L.ts(1200)
        r, rstr, a = self.issue_ok(lifetime=(created, expires), extra="<wst:AllowPostdating/>")
        facts = L.assertion_facts(a)
        self.assertEqual(L.parse_time(facts.not_before), L.parse_time(created))
        self.assertEqual(L.parse_time(facts.not_on_or_after), L.parse_time(expires))
        self.assertEqual(L.parse_time(rstr.lifetime_created), L.parse_time(created))
        self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
        # one reason for every invalid token; the cause is in the log (INFO)
        self.assertInvalidCause(a, "token not yet valid")
        # a JWT: nbf
        r = self.srv.issue(token_type=L.TT_JWT, lifetime=(created, expires),
                           extra="<wst:AllowPostdating/>")
        self.assertEqual(r.status, 200, r.body[:1000])
        _, items = L.parse_rstr_response(r, collection=True)
        claims = L.jwt_parts(L.extract_bst(items[0]).jwt)[1]
        self.assertEqual(claims["nbf"], int(L.parse_time(created).timestamp()))

    def test_postdated_not_renewed_before_it_starts(self):
        """Review finding: renewing a postdated token made it valid at once."""
        _, _, a = self.issue_ok(lifetime=(L.ts(600), L.ts(1200)), extra="<wst:AllowPostdating/>")
        self.assertRefused(lambda: self.srv.renew(a), "UnableToRenew", 12)

    def test_postdating_refused(self):
        cases = [
            ("without AllowPostdating", dict(lifetime=(L.ts(600), L.ts(1200))), "InvalidTimeRange"),
            ("beyond the maximum lifetime ahead", dict(lifetime=(L.ts(4000), L.ts(5000)),
                                                       extra="<wst:AllowPostdating/>"),
             "InvalidTimeRange"),
            ("AllowPostdating with content", dict(extra="<wst:AllowPostdating>x</wst:AllowPostdating>"),
             "InvalidRequest"),
        ]
        for name, kw, code in cases:
            with self.subTest(case=name):
                self.assertRefused(lambda: self.srv.issue(**kw), code, 12)

    def test_malformed_renewing(self):
        for extra in ('<wst:Renewing Allow="maybe"/>', '<wst:Renewing OK="yes"/>',
                      '<wst:Renewing Allow="false" OK="true"/>',
                      '<wst:Renewing><x:Y xmlns:x="urn:x"/></wst:Renewing>'):
            with self.subTest(renewing=extra):
                self.assertRefused(lambda: self.srv.issue(extra=extra), "InvalidRequest", 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
