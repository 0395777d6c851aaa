#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""wst:Claims and the relying-party registry's release rules (issue #4), on one
real server.

- Claims in the http://schemas.xmlsoap.org/ws/2005/05/identity dialect: the
  assertion carries exactly the claims asked for, named by their URI
  (SAML 2.0 NameFormat uri; SAML 1.1 AttributeNamespace/AttributeName split
  as AD FS writes them), with the user's values; a required claim that cannot
  be supplied is wst:RequestFailed, an optional one is left out; another
  dialect or content is wst:BadRequest; a ClaimType without Uri is
  wst:InvalidRequest. Each refusal leaves the store unchanged.
- relying_parties[].claims limits what is released, with or without Claims.
- relying_parties[].token_types: a party that takes JWTs only gets no
  assertion, over SOAP (wst:InvalidScope) or REST (invalid_target)."""
import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

IDENTITY = "http://schemas.xmlsoap.org/ws/2005/05/identity"
C = IDENTITY + "/claims/"
EMAIL, GIVEN, NAME = C + "emailaddress", C + "givenname", C + "name"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
RP_LIMITED = "https://limited.example.com/"
RP_JWT_ONLY = "https://jwt-only.example.com/"
W5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"


def _config():
    cfg = L.rest_default_config()
    cfg["relying_parties"] += [
        {"applies_to": RP_LIMITED, "claims": ["email", ROLE]},
        {"applies_to": RP_JWT_ONLY, "token_types": ["jwt"]},
    ]
    cfg["clients"][0]["audiences"].append(RP_JWT_ONLY)
    return cfg


def claims_xml(*claims, dialect=IDENTITY, extra=""):
    """wst:Claims with (uri, optional) pairs; optional None = attribute left out."""
    parts = []
    for uri, optional in claims:
        opt = "" if optional is None else ' Optional="%s"' % ("true" if optional else "false")
        parts.append('<i:ClaimType Uri="%s"%s/>' % (uri, opt))
    return ('<wst:Claims Dialect="%s" xmlns:i="%s">%s%s</wst:Claims>'
            % (dialect, IDENTITY, "".join(parts), extra))


def saml2_attrs(assertion):
    el = L.parse_xml(assertion)
    return {a.get("Name"): (a.get("NameFormat"),
                            [v.text for v in a.findall("saml2:AttributeValue", L.NS)])
            for a in el.findall("saml2:AttributeStatement/saml2:Attribute", L.NS)}


class ClaimsTest(L.RestMixin, L.StsTestCase):

    CONFIG = _config

    def issue_claims(self, *claims, applies_to=L.RP, **kw):
        r = self.srv.issue(applies_to=applies_to, extra=claims_xml(*claims), **kw)
        self.assertEqual(r.status, 200, r.body[:1500])
        return L.extract_assertion_bytes(r.body)

    def test_claims_become_attributes_named_by_uri(self):
        for v in (11, 12):
            with self.subTest(soap=v):
                a = self.issue_claims((EMAIL, False), (ROLE, True), (NAME, None), version=v)
                self.assertEqual(saml2_attrs(a), {
                    EMAIL: (URI_FORMAT, [L.USER_ATTRS["email"]]),
                    ROLE: (URI_FORMAT, [L.USER_ATTRS["role"]]),
                    NAME: (URI_FORMAT, [L.USER]),
                }, "exactly the claims asked for")
                self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
                ok = L.schema_validate(a)
                self.assertTrue(ok.ok, ok.output)

    def test_optional_left_out_required_refused(self):
        a = self.issue_claims((EMAIL, False), (GIVEN, True))
        self.assertEqual(list(saml2_attrs(a)), [EMAIL])
        self.assertRefused(lambda: self.srv.issue(extra=claims_xml((GIVEN, False))),
                           "RequestFailed", 12)
        self.assertRefused(lambda: self.srv.issue(extra=claims_xml((GIVEN, None))),
                           "RequestFailed", 12)

    def test_empty_claims_means_no_attributes(self):
        a = self.issue_claims()
        self.assertEqual(saml2_attrs(a), {})

    def test_saml11_namespace_split(self):
        r = self.srv.issue(token_type=L.TT_SAML11, extra=claims_xml((EMAIL, False)))
        self.assertEqual(r.status, 200, r.body[:1000])
        self.assertIn(b'AttributeName="emailaddress" AttributeNamespace="%s"'
                      % (IDENTITY + "/claims").encode(), r.body)

    def test_jwt_required_claim_refused_optional_ignored(self):
        self.assertRefused(lambda: self.srv.issue(token_type=L.TT_JWT,
                                                  extra=claims_xml((EMAIL, False))),
                           "RequestFailed", 12)
        r = self.srv.issue(token_type=L.TT_JWT, extra=claims_xml((EMAIL, True)))
        self.assertEqual(r.status, 200, r.body[:1000])

    def test_feb_2005(self):
        rst = ('<t:RequestSecurityToken xmlns:t="%s">%s<t:Claims Dialect="%s" xmlns:i="%s">'
               '<i:ClaimType Uri="%s"/></t:Claims><t:RequestType>%s/Issue</t:RequestType>'
               '</t:RequestSecurityToken>'
               % (W5, L.applies_to_xml(L.RP), IDENTITY, IDENTITY, EMAIL, W5))
        r = self.srv.soap("Issue", rst, 12, action=W5 + "/RST/Issue")
        self.assertEqual(r.status, 200, r.body[:1000])
        self.assertEqual(list(saml2_attrs(L.extract_assertion_bytes(r.body))), [EMAIL])

    def test_malformed_claims(self):
        cases = [
            ("another dialect", claims_xml((EMAIL, False), dialect="urn:example:dialect"),
             "BadRequest"),
            ("no dialect", '<wst:Claims><i:ClaimType xmlns:i="%s" Uri="%s"/></wst:Claims>'
             % (IDENTITY, EMAIL), "BadRequest"),
            ("foreign child", claims_xml(extra='<x:Y xmlns:x="urn:x"/>'), "BadRequest"),
            ("no Uri", claims_xml(extra="<i:ClaimType/>"), "InvalidRequest"),
            ("bad Optional", claims_xml(extra='<i:ClaimType Uri="%s" Optional="maybe"/>' % EMAIL),
             "InvalidRequest"),
            ("too many", claims_xml(*[(C + "x%d" % i, True) for i in range(65)]),
             "InvalidRequest"),
        ]
        for name, extra, code in cases:
            with self.subTest(case=name):
                self.assertRefused(lambda: self.srv.issue(extra=extra), code, 12)

    # ---- the relying-party registry -----------------------------------------------
    def test_release_limited_by_the_party(self):
        a = self.issue_claims((EMAIL, False), (ROLE, False), applies_to=RP_LIMITED)
        self.assertEqual(sorted(saml2_attrs(a)), sorted([EMAIL, ROLE]))
        # displayName is not released to it: required refused, optional left out
        self.assertRefused(lambda: self.srv.issue(applies_to=RP_LIMITED,
                                                  extra=claims_xml(("displayName", False))),
                           "RequestFailed", 12)
        a = self.issue_claims(("displayName", True), applies_to=RP_LIMITED)
        self.assertEqual(saml2_attrs(a), {})
        # without Claims: every released attribute under its plain name, no more
        r = self.srv.issue(applies_to=RP_LIMITED)
        self.assertEqual(r.status, 200, r.body[:1000])
        names = sorted(saml2_attrs(L.extract_assertion_bytes(r.body)))
        self.assertEqual(names, ["email"])  # role is released by its claim URI only

    def test_token_types_of_the_party(self):
        self.assertRefused(lambda: self.srv.issue(applies_to=RP_JWT_ONLY), "InvalidScope", 12)
        self.assertRefused(lambda: self.srv.issue(applies_to=RP_JWT_ONLY,
                                                  token_type=L.TT_SAML11), "InvalidScope", 12)
        r = self.srv.issue(applies_to=RP_JWT_ONLY, token_type=L.TT_JWT)
        self.assertEqual(r.status, 200, r.body[:1000])
        _, b = self.soap_saml()
        self.assertOAuthError(lambda: L.token_exchange(
            self.srv, b, L.TT_SAML2_URN, audience=RP_JWT_ONLY,
            requested_token_type=L.TT_SAML2_URN), 400, "invalid_target")
        doc = self.exchange_ok(b, L.TT_SAML2_URN, audience=RP_JWT_ONLY)
        self.assertIn("access_token", doc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
