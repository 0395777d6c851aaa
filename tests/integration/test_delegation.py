#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""WS-Trust OnBehalfOf and WS-Trust 1.4 ActAs (issue #4) on one real server.

A front-end service ("portal", a user of the realm) holds alice's token and
asks the STS for a token for a back end:

- ActAs: the issued token names alice and records portal as the actor: a SAML
  2.0 DelegationRestriction condition (del:Delegate/NameID, valid against the
  OASIS delegation schema, signed: xmlsec1 and samlsign), or "act" in a JWT
  (PyJWT). Exchanged at REST /token, that SAML assertion keeps the chain as
  "act", the same as an RFC 8693 exchange with subject_token + actor_token.
- OnBehalfOf: the issued token names alice with no new actor (impersonation),
  and never drops a chain the presented token carries.
- Both are bounded by the presented token (expiry, family: cancelling alice's
  token cancels what was issued from it).
- Refused, each with the exact fault and the store unchanged: no delegation
  rule (RequestFailed), a rule for other subjects or the other mode
  (RequestFailed), a cancelled, expired-by-cancel or tampered presented token
  (InvalidRequest; a cancelled one InvalidSecurityToken, one expired within the
  renew window RenewNeeded), both at once (InvalidRequest), ActAs with one's own token
  (InvalidRequest), a chain into SAML 1.1 (InvalidRequest), ActAs in a Feb
  2005 RST (BadRequest: ActAs is WS-Trust 1.4)."""
import os
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

WST14 = "http://docs.oasis-open.org/ws-sx/ws-trust/200802"
W5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
DEL = "urn:oasis:names:tc:SAML:2.0:conditions:delegation"
PORTAL = ("portal", "portal-pass-4711")
MALLORY = ("mallory", "mallory-pass-0815")
NARROW = ("narrow", "narrow-pass-2342")
STATE_CANCELLED = 2
PARTNER = "https://partner-idp.example.org"
PARTNER_DIR = tempfile.mkdtemp(prefix="sts-test-partner-")
PARTNER_KEY, PARTNER_CERT = L.make_ec_keypair(PARTNER_DIR, "partner", "partner-idp")


def _config():
    cfg = L.rest_default_config()
    cfg["users"] += [L.make_user(PORTAL[0], PORTAL[1], {"role": "service"}),
                     L.make_user(MALLORY[0], MALLORY[1]),
                     L.make_user(NARROW[0], NARROW[1]),
                     L.make_user("bob", "looking-glass", {"role": "nurse"})]
    cfg["trusted_issuers"] = [{"issuer": PARTNER, "cert": PARTNER_CERT, "kid": "p1"}]
    cfg["delegation"] = [
        {"actor": PORTAL[0], "subjects": ["*"], "act_as": True, "on_behalf_of": True},
        {"actor": NARROW[0], "subjects": ["bob"], "act_as": True},
    ]
    return cfg


def delegated(token, mode="ActAs"):
    token = token.decode() if isinstance(token, bytes) else token
    if mode == "ActAs":
        return '<w14:ActAs xmlns:w14="%s">%s</w14:ActAs>' % (WST14, token)
    return "<wst:OnBehalfOf>%s</wst:OnBehalfOf>" % token


def delegates_of(assertion):
    el = L.parse_xml(assertion)
    cond = el.findall("saml2:Conditions/saml2:Condition", L.NS)
    return [d.findtext("saml2:NameID", namespaces=L.NS)
            for c in cond for d in c.findall("{%s}Delegate" % DEL)]


class DelegationTest(L.RestMixin, L.StsTestCase):

    CONFIG = _config
    _jwks = None

    def jwks(self):
        if self._jwks is None:
            type(self)._jwks = L.fetch_jwks(self.srv)
        return self._jwks

    def alice_saml(self, **kw):
        _, _, a = self.issue_ok(**kw)
        return a

    def issue_as(self, who, token, mode="ActAs", version=12, **kw):
        return self.srv.issue(version=version, username=who[0], password=who[1],
                              extra=delegated(token, mode), **kw)

    def issue_as_ok(self, who, token, mode="ActAs", **kw):
        r = self.issue_as(who, token, mode, **kw)
        self.assertEqual(r.status, 200, "Issue %s failed: %r" % (mode, r.body[:1500]))
        self.assertNoSecrets(r)
        _, items = L.parse_rstr_response(r, collection=True)
        return r, items[0]

    # ---- ActAs ---------------------------------------------------------------------
    def test_act_as_saml2_delegation_restriction(self):
        a = self.alice_saml()
        for v in (11, 12):
            with self.subTest(soap=v):
                r, rstr = self.issue_as_ok(PORTAL, a, version=v)
                new = L.extract_assertion_bytes(r.body)
                facts = L.assertion_facts(new)
                self.assertEqual(facts.subject, L.USER)
                self.assertEqual(facts.audiences, [L.RP])
                self.assertEqual(delegates_of(new), [PORTAL[0]])
                self.assertEqual(facts.attributes.get("email"), [L.USER_ATTRS["email"]],
                                 "the subject's attributes, not the actor's")
                self.assertTrue(L.xmlsec_verify(new).ok, "xmlsec1")
                self.assertTrue(L.samlsign_verify(new).ok, "samlsign")
                schema = L._schema("sstc-saml-delegation.xsd", L._LocalResolver())
                ok = L._schema_validate(schema, new)
                self.assertTrue(ok.ok, ok.output)
                row = self.srv.row(facts.id)
                self.assertEqual(row["subject"], L.USER)
                self.assertEqual(row["requester"], PORTAL[0])
                self.assertEqual(row["parent"], L.assertion_facts(a).id)
                self.assertValid(new)

    def test_act_as_jwt_and_the_rest_face_agrees(self):
        a = self.alice_saml(applies_to=L.RP_API)
        r, rstr = self.issue_as_ok(PORTAL, a, token_type=L.TT_JWT, applies_to=L.RP_API)
        jwt_text = L.extract_bst(rstr).jwt
        _, claims = L.verify_jwt(self.jwks(), jwt_text, audience=L.RP_API)
        self.assertEqual(claims["sub"], L.USER)
        self.assertEqual(claims["act"], {"sub": PORTAL[0]})
        # the SAML form, exchanged at /token, says the same in "act"
        r, _ = self.issue_as_ok(PORTAL, a)
        saml_act_as = L.extract_assertion_bytes(r.body)
        doc = self.exchange_ok(L.b64url_encode(saml_act_as), L.TT_SAML2_URN, audience=L.RP_API)
        _, c2 = L.verify_jwt(self.jwks(), doc["access_token"], audience=L.RP_API)
        self.assertEqual(c2["sub"], L.USER)
        self.assertEqual(c2["act"], {"sub": PORTAL[0]})
        # and a REST exchange with an actor, back into SAML 2.0, carries the chain
        bob = self.soap_saml(username="bob", password="looking-glass")[1]
        doc = self.exchange_ok(L.b64url_encode(a), L.TT_SAML2_URN, audience=L.RP,
                               actor_token=bob, actor_token_type=L.TT_SAML2_URN,
                               requested_token_type=L.TT_SAML2_URN)
        self.assertEqual(delegates_of(L.b64url_decode(doc["access_token"])), ["bob"])

    def test_on_behalf_of_keeps_the_chain(self):
        """A token issued by ActAs, presented again as OnBehalfOf: the new
        token still names its actor (a chain is never dropped)."""
        a = self.alice_saml()
        r, _ = self.issue_as_ok(PORTAL, a)
        first = L.extract_assertion_bytes(r.body)
        r, _ = self.issue_as_ok(PORTAL, first, mode="OnBehalfOf")
        kept = L.extract_assertion_bytes(r.body)
        self.assertEqual(L.assertion_facts(kept).subject, L.USER)
        self.assertEqual(delegates_of(kept), [PORTAL[0]])

    # ---- OnBehalfOf ----------------------------------------------------------------
    def test_on_behalf_of_impersonates(self):
        a = self.alice_saml()
        for v in (11, 12):
            with self.subTest(soap=v):
                r, _ = self.issue_as_ok(PORTAL, a, mode="OnBehalfOf", version=v)
                new = L.extract_assertion_bytes(r.body)
                self.assertEqual(L.assertion_facts(new).subject, L.USER)
                self.assertEqual(delegates_of(new), [], "no actor recorded")
                self.assertTrue(L.xmlsec_verify(new).ok, "xmlsec1")

    def test_on_behalf_of_feb_2005(self):
        a = self.alice_saml()
        rst = ('<t:RequestSecurityToken xmlns:t="%s">%s<t:OnBehalfOf>%s</t:OnBehalfOf>'
               '<t:RequestType>%s/Issue</t:RequestType></t:RequestSecurityToken>'
               % (W5, L.applies_to_xml(L.RP), a.decode(), W5))
        r = self.srv.soap("Issue", rst, 12, action=W5 + "/RST/Issue",
                          username=PORTAL[0], password=PORTAL[1])
        self.assertEqual(r.status, 200, r.body[:1500])
        self.assertEqual(L.body_child(L.parse_xml(r.body)).tag,
                         "{%s}RequestSecurityTokenResponse" % W5)
        self.assertEqual(L.assertion_facts(L.extract_assertion_bytes(r.body)).subject, L.USER)

    # ---- bounds and families ----------------------------------------------------------
    def test_trusted_issuers_token_on_behalf_of(self):
        """A trusted issuer's JWT naming us: OnBehalfOf gives a token for that issuer's
        subject, without the attributes of our own user of the same name; a rule naming
        "bob" does not cover the partner's bob, only "*" does."""
        import jwt as pyjwt
        now = int(time.time())

        def partner_jwt(sub):
            with open(PARTNER_KEY) as f:
                key = f.read()
            return pyjwt.encode({"iss": PARTNER, "sub": sub, "aud": L.ISSUER, "iat": now,
                                 "exp": now + 600, "jti": os.urandom(8).hex()}, key,
                                algorithm="ES256", headers={"kid": "p1"})
        r, _ = self.issue_as_ok(PORTAL, L.bst_xml(partner_jwt(L.USER)), mode="OnBehalfOf")
        a = L.extract_assertion_bytes(r.body)
        facts = L.assertion_facts(a)
        self.assertEqual(facts.subject, L.USER)
        self.assertEqual(facts.attributes, {}, "not our alice: no local attributes")
        self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
        self.assertRefused(lambda: self.issue_as(NARROW, L.bst_xml(partner_jwt("bob"))),
                           "RequestFailed", 12)

    def test_renewal_and_transformation_keep_the_chain(self):
        """Review finding: Renew and SAML->JWT transformation of an ActAs token kept
        no actor. Both keep the chain now; the renewal claims no fresh password
        authentication of alice (portal renewed it)."""
        a = self.alice_saml()
        r, _ = self.issue_as_ok(PORTAL, a)
        act_as = L.extract_assertion_bytes(r.body)
        r = self.srv.soap("Renew", L.rst_target("Renew", act_as), 12, username=PORTAL[0],
                          password=PORTAL[1])
        self.assertEqual(r.status, 200, r.body[:1000])
        renewed = L.extract_assertion_bytes(r.body)
        self.assertEqual(delegates_of(renewed), [PORTAL[0]])
        self.assertIn(b"urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified", renewed)
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType><wst:ValidateTarget>%s</wst:ValidateTarget>'
               '</wst:RequestSecurityToken>' % (L.WST, L.TT_JWT, L.REQUEST_TYPE["Validate"],
                                                renewed.decode()))
        r = self.srv.soap("Validate", rst, 12, username=PORTAL[0], password=PORTAL[1])
        self.assertEqual(r.status, 200, r.body[:1000])
        _, items = L.parse_rstr_response(r, collection=False)
        claims = L.jwt_parts(L.extract_bst(items[0]).jwt)[1]
        self.assertEqual(claims.get("act"), {"sub": PORTAL[0]})

    def test_transformation_needs_the_right_to_manage(self):
        """Review finding: any user could have a copy of someone's token made by
        Validate with transformation. Only its requester or subject may."""
        a = self.alice_saml()
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType><wst:ValidateTarget>%s</wst:ValidateTarget>'
               '</wst:RequestSecurityToken>' % (L.WST, L.TT_SAML2, L.REQUEST_TYPE["Validate"],
                                                a.decode()))
        self.assertRefused(lambda: self.srv.soap("Validate", rst, 12, username=MALLORY[0],
                                                 password=MALLORY[1]), "RequestFailed", 12)

    def test_foreign_subject_is_qualified(self):
        """Review finding: a partner's alice looked exactly like ours. The assertion's
        NameID carries NameQualifier = the partner; a JWT carries sub_id iss_sub."""
        import jwt as pyjwt
        now = int(time.time())
        with open(PARTNER_KEY) as f:
            key = f.read()
        tok = pyjwt.encode({"iss": PARTNER, "sub": L.USER, "aud": L.ISSUER, "iat": now,
                            "exp": now + 600, "jti": os.urandom(8).hex()}, key,
                           algorithm="ES256", headers={"kid": "p1"})
        r, _ = self.issue_as_ok(PORTAL, L.bst_xml(tok), mode="OnBehalfOf")
        nameid = L.parse_xml(L.extract_assertion_bytes(r.body)).find(
            "saml2:Subject/saml2:NameID", L.NS)
        self.assertEqual(nameid.get("NameQualifier"), PARTNER)
        r, rstr = self.issue_as_ok(PORTAL, L.bst_xml(tok), mode="OnBehalfOf", token_type=L.TT_JWT)
        claims = L.jwt_parts(L.extract_bst(rstr).jwt)[1]
        self.assertEqual(claims.get("sub_id"), {"format": "iss_sub", "iss": PARTNER,
                                                "sub": L.USER})
        # and our own alice's token has neither
        own = L.parse_xml(self.alice_saml()).find("saml2:Subject/saml2:NameID", L.NS)
        self.assertIsNone(own.get("NameQualifier"))

    def test_bounded_by_the_presented_token(self):
        a = self.alice_saml(lifetime=(None, L.ts(120)))
        r, rstr = self.issue_as_ok(PORTAL, a, token_type=L.TT_JWT)
        orig = self.srv.row(L.assertion_facts(a).id)
        self.assertLessEqual(L.parse_time(rstr.lifetime_expires).timestamp(), orig["expires_at"])
        jwt_text = L.extract_bst(rstr).jwt
        self.assertEqual(self.srv.cancel(a).status, 200)
        self.assertInactive(jwt_text)
        jti = L.jwt_parts(jwt_text)[1]["jti"]
        self.assertEqual(self.srv.row(jti)["state"], STATE_CANCELLED)

    # ---- refusals -----------------------------------------------------------------------
    def test_no_rule_refused(self):
        a = self.alice_saml()
        for who, mode in ((MALLORY, "ActAs"), (MALLORY, "OnBehalfOf"), (NARROW, "ActAs"),
                          (NARROW, "OnBehalfOf")):
            with self.subTest(requester=who[0], mode=mode):
                self.assertRefused(lambda: self.issue_as(who, a, mode), "RequestFailed", 12)

    def test_narrow_rule_allows_its_subject_only(self):
        bob = self.soap_saml(username="bob", password="looking-glass")[0]
        r, _ = self.issue_as_ok(NARROW, bob)
        self.assertEqual(delegates_of(L.extract_assertion_bytes(r.body)), [NARROW[0]])

    def test_bad_presented_tokens_refused(self):
        a = self.alice_saml()
        tampered = a.replace(L.USER.encode(), b"mallory", 1)
        cancelled = self.alice_saml()
        self.srv.cancel(cancelled)
        ut = L.username_token_xml(username=L.USER, password="not-the-password").replace(
            "<wsse:UsernameToken", '<wsse:UsernameToken xmlns:wsse="%s" xmlns:wsu="%s"'
            % (L.NS["wsse"], L.NS["wsu"]), 1)
        custom_bst = L.bst_xml("abc", value_type="urn:example:custom-token")
        self.assertRefused(lambda: self.issue_as(PORTAL, cancelled), "InvalidSecurityToken", 12)
        for name, tok in (("tampered", tampered), ("not a token", b"<x:Thing xmlns:x='urn:x'/>"),
                          ("a UsernameToken (WT-07 b)", ut),
                          ("a custom BinarySecurityToken (WT-07 c)", custom_bst)):
            with self.subTest(token=name):
                self.assertRefused(lambda: self.issue_as(PORTAL, tok), "InvalidRequest", 12)

    def test_resigned_time_windows_refused(self):
        """Catalogue SA-01 through OnBehalfOf and ActAs: alice's assertion with
        its times changed and signed again with our key (same ID and store
        row): NotBefore in the future or after NotOnOrAfter, IssueInstant in the
        future, no NotOnOrAfter. Each is refused with the cause logged, and the
        control (re-signed unchanged) is accepted."""
        a = self.alice_saml()

        def resign(mutate):
            el = L.parse_xml(a)
            mutate(el)
            return L.sign_assertion(el, L.SIGNING_KEY, L.SIGNING_CERT)

        def cond(el, **attrs):
            c = el.find("saml2:Conditions", L.NS)
            for k, v in attrs.items():
                if v is None:
                    c.attrib.pop(k, None)
                else:
                    c.set(k, v)
        cases = (("NotBefore in the future", lambda el: cond(el, NotBefore=L.ts(600)),
                  "InvalidRequest", "token not yet valid"),
                 ("NotBefore after NotOnOrAfter",
                  lambda el: cond(el, NotBefore=L.ts(1200), NotOnOrAfter=L.ts(600)),
                  "InvalidRequest", "token not yet valid"),
                 ("IssueInstant in the future", lambda el: el.set("IssueInstant", L.ts(600)),
                  "InvalidRequest", "token issued in the future"),
                 ("no NotOnOrAfter", lambda el: cond(el, NotOnOrAfter=None),
                  "InvalidRequest", "token expired"))
        for mode in ("ActAs", "OnBehalfOf"):
            self.issue_as_ok(PORTAL, resign(lambda el: None), mode=mode)
            for name, mutate, code, cause in cases:
                bad = resign(mutate)
                with self.subTest(mode=mode, case=name):
                    self.refused_with_reason(lambda: self.issue_as(PORTAL, bad, mode=mode),
                                             code, 12, cause)

    def test_expired_token_needs_renewal(self):
        """Ours, expired, still inside engine.renew_window: wst:RenewNeeded; renewed,
        the new one is accepted."""
        a = self.alice_saml(lifetime=(None, L.ts(4)),  # room for a loaded machine
                            extra='<wst:Renewing OK="true"/>')
        expires = L.parse_time(L.assertion_facts(a).not_on_or_after).timestamp()
        deadline = time.time() + 20
        while time.time() <= expires + 0.5 and time.time() < deadline:
            time.sleep(0.2)
        self.assertRefused(lambda: self.issue_as(PORTAL, a), "RenewNeeded", 12)
        r = self.srv.renew(a)
        self.assertEqual(r.status, 200, r.body[:1000])
        self.issue_as_ok(PORTAL, L.extract_assertion_bytes(r.body))

    def test_both_at_once_refused(self):
        a = self.alice_saml()
        extra = delegated(a, "ActAs") + delegated(a, "OnBehalfOf")
        self.assertRefused(lambda: self.srv.issue(username=PORTAL[0], password=PORTAL[1],
                                                  extra=extra), "InvalidRequest", 12)

    def test_act_as_with_ones_own_token_refused(self):
        own = self.soap_saml(username=PORTAL[0], password=PORTAL[1])[0]
        self.assertRefused(lambda: self.issue_as(PORTAL, own), "InvalidRequest", 12)

    def test_chain_into_saml11_refused(self):
        a = self.alice_saml()
        self.assertRefused(lambda: self.issue_as(PORTAL, a, token_type=L.TT_SAML11),
                           "InvalidRequest", 12)
        # OnBehalfOf of a token without a chain may go into SAML 1.1
        r = self.issue_as(PORTAL, a, "OnBehalfOf", token_type=L.TT_SAML11)
        self.assertEqual(r.status, 200, r.body[:1000])

    def test_act_as_in_feb_2005_refused(self):
        a = self.alice_saml()
        rst = ('<t:RequestSecurityToken xmlns:t="%s">%s%s'
               '<t:RequestType>%s/Issue</t:RequestType></t:RequestSecurityToken>'
               % (W5, L.applies_to_xml(L.RP), delegated(a), W5))
        before = self.srv.snapshot()
        r = self.srv.soap("Issue", rst, 12, action=W5 + "/RST/Issue",
                          username=PORTAL[0], password=PORTAL[1])
        f = L.parse_fault(r)
        self.assertIsNotNone(f, r.body[:1000])
        self.assertEqual(f.subcode, "{%s}BadRequest" % W5)
        self.assertEqual(self.srv.snapshot(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
