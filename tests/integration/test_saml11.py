#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SAML 1.1 (issue #4) through the whole lifecycle on both faces of one real
server (embedded default):

- SOAP Issue (1.1 and 1.2) with TokenType urn:oasis:names:tc:SAML:1.0:assertion
  and the WSS-profile #SAMLV1.1 spelling, answered with the spelling asked; the
  assertion checked as raw bytes by xmlsec1 (--id-attr:AssertionID), samlsign
  and the SAML 1.1 schema (lxml and xmllint --schema), and in situ in the whole
  SOAP response; the RSTR references (SAML token profile 1.1 sec. 3.4.2/3.5:
  wsse11:TokenType #SAMLV1.1, KeyIdentifier ValueType 1.0#SAMLAssertionID).
- Validate / Renew / Cancel of SAML 1.1 targets; the predecessor of a renewal
  is invalid; tampered, foreign, unknown and wrapped (XSW) assertions refused.
- REST: a SAML 1.1 subject_token (saml1, base64url) exchanged for JWTs that
  python3-jwt verifies against the JWKS; requested_token_type saml1 out of
  /token; /introspect and /revoke of SAML 1.1 assertions, seen over SOAP.

Every refusal asserts the exact fault or OAuth error and that the store did
not change."""
import base64
import copy
import datetime
import hashlib
import os
import sys
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from lxml import etree  # noqa: E402

BOTH = (11, 12)
ISSUE_ORDER = [L.q("wst", "Lifetime"), L.q("wsp", "AppliesTo"),
               L.q("wst", "RequestedSecurityToken"), L.q("wst", "RequestedAttachedReference"),
               L.q("wst", "RequestedUnattachedReference"), L.q("wst", "TokenType"),
               L.q("wst", "RequestType"), L.q("wst", "KeyType")]
STATE_ACTIVE, STATE_RENEWED, STATE_CANCELLED = 0, 1, 2


def _epoch(v):
    if isinstance(v, (int, float)):
        return float(v)
    return L.parse_time(v).timestamp()


class Saml11Base(L.RestMixin, L.StsTestCase):
    """Helpers; one server (the embedded default) per class."""

    CONFIG = None
    _jwks = None

    # ---- SOAP ---------------------------------------------------------------
    def issue11(self, version=12, token_type=L.TT_SAML11, **kw):
        r, items, a = L.issue_saml11(self.srv, version, token_type, **kw)
        self.assertEqual(len(items), 1)
        return r, items[0], a

    def check_assertion11(self, a_bytes, rstr=None, audience=L.RP, requester_kind=None):
        """Everything the contract says about an issued SAML 1.1 assertion."""
        for name, fn in (("xmlsec1", L.xmlsec_verify11), ("samlsign", L.samlsign_verify),
                         ("SAML 1.1 schema", L.schema_validate11),
                         ("xmllint --schema", L.xmllint_schema11)):
            r = fn(a_bytes)
            self.assertTrue(r.ok, "%s: %s" % (name, r.output))
        a = L.assertion11_facts(a_bytes)
        self.assertEqual(a.el.tag, L.q("saml1", "Assertion"))
        self.assertEqual((a.major, a.minor), ("1", "1"))
        self.assertRegex(a.id, r"^_[0-9a-f]{32}$")
        self.assertEqual(a.issuer, L.ISSUER)
        self.assertEqual(a.child_tags[0], L.q("saml1", "Conditions"))
        self.assertEqual(a.child_tags[-1], L.q("ds", "Signature"),
                         "ds:Signature is the last child (SAML 1.1 schema order)")
        self.assertEqual(a.sig["c14n"], L.ALG_EXC_C14N)
        self.assertEqual(a.sig["method"], L.ALG_RSA_SHA256)
        self.assertEqual(a.sig["references"], ["#" + a.id], "one Reference to #AssertionID")
        self.assertEqual(a.sig["transforms"], [L.ALG_ENVELOPED, L.ALG_EXC_C14N])
        self.assertEqual(a.sig["digest"], L.ALG_SHA256)
        self.assertEqual(["".join(x.split()) for x in a.sig["x509"]], [L.cert_b64()])
        self.assertEqual(a.audiences, [audience])
        self.assertTrue(a.subjects and all(s == L.USER for s in a.subjects),
                        "every statement's Subject names alice: %r" % a.subjects)
        self.assertTrue(all(m == [L.CM_BEARER11] for m in a.conf_methods), a.conf_methods)
        self.assertEqual(a.child_tags[1], L.q("saml1", "AuthenticationStatement"))
        if rstr is not None:
            self.assertEqual(L.parse_time(a.not_before), L.parse_time(rstr.lifetime_created))
            self.assertEqual(L.parse_time(a.not_on_or_after),
                             L.parse_time(rstr.lifetime_expires))
        return a

    def check_user_assertion11(self, a_bytes, rstr=None):
        """An assertion about alice issued to alice: password method, her attributes."""
        a = self.check_assertion11(a_bytes, rstr)
        self.assertEqual(a.authn_method, L.AM_PASSWORD11)
        self.assertEqual(len(a.subjects), 2, "AuthenticationStatement + AttributeStatement")
        self.assertEqual(a.child_tags[2], L.q("saml1", "AttributeStatement"))
        self.assertEqual(a.attributes, {k: (L.SAML11_ATTR_NAMESPACE, [v])
                                        for k, v in L.USER_ATTRS.items()})
        return a

    def check_rstr11(self, rstr, aid, token_type=L.TT_SAML11,
                     request_type=L.REQUEST_TYPE["Issue"]):
        self.assertEqual(rstr.children, ISSUE_ORDER, "RSTR children and order")
        self.assertEqual(rstr.applies_to, L.RP)
        kids = [c for c in rstr.requested_token if isinstance(c.tag, str)]
        self.assertEqual([c.tag for c in kids], [L.q("saml1", "Assertion")])
        self.assertEqual(kids[0].get("AssertionID"), aid)
        for name in ("RequestedAttachedReference", "RequestedUnattachedReference"):
            ref = rstr.refs.get(name)
            self.assertIsNotNone(ref, name)
            self.assertEqual(ref["children"], 1, name)
            self.assertEqual(ref["token_type"], L.TT_SAML11_PROFILE, "%s wsse11:TokenType" % name)
            self.assertEqual(ref["value_type"], L.SAML11_ASSERTION_ID,
                             "%s KeyIdentifier/@ValueType" % name)
            self.assertEqual(ref["key_id"], aid, "%s KeyIdentifier = AssertionID" % name)
        self.assertEqual(rstr.token_type, token_type)
        self.assertEqual(rstr.request_type, request_type)
        self.assertEqual(rstr.key_type, L.KT_BEARER)

    def renew11(self, token, version=12, token_type=None):
        inner = "" if token_type is None else "<wst:TokenType>%s</wst:TokenType>" % token_type
        rst = L.rst_xml(L.REQUEST_TYPE["Renew"],
                        inner + "<wst:RenewTarget>%s</wst:RenewTarget>" % L._as_text(token))
        return self.srv.soap("Renew", rst, version)

    def renew11_ok(self, token, version=12, token_type=None):
        r = self.renew11(token, version, token_type)
        self.assertEqual(r.status, 200, "Renew failed: %r" % r.body[:2000])
        self.assertNoSecrets(r)
        _, items = L.parse_rstr_response(r, collection=False)
        new = L.extract_assertion11_bytes(r.body)
        return new, items[0]

    def cancel_ok(self, token, version=12):
        r = self.srv.cancel(token, version)
        self.assertEqual(r.status, 200, "Cancel failed: %r" % r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertIsNotNone(items[0].cancelled, "wst:RequestedTokenCancelled")
        return r

    # ---- REST ---------------------------------------------------------------
    def jwks(self):
        if self._jwks is None:
            type(self)._jwks = L.fetch_jwks(self.srv)
        return self._jwks

    def saml11_b64(self):
        """A SAML 1.1 assertion issued to alice over SOAP: (bytes, base64url)."""
        _, _, a = self.issue11()
        return a, L.b64url_encode(a)

    def rest_saml11(self, subject=None, subject_type=None, audience=L.RP):
        """requested_token_type saml1 out of /token for migration-tester, from
        a JWT alice obtained over SOAP (default). Returns (doc, assertion bytes)."""
        if subject is None:
            subject, _ = self.soap_jwt()
            subject_type = L.TT_JWT
        doc = self.exchange_ok(subject, subject_type, audience=audience,
                               requested_token_type=L.TT_SAML1_URN)
        return doc, L.b64url_decode(doc["access_token"])


class Saml11SoapTest(Saml11Base):
    """The WS-Trust face."""

    def test_issue_both_spellings_both_versions(self):
        for v in BOTH:
            for tt in (L.TT_SAML11, L.TT_SAML11_PROFILE):
                with self.subTest(version=v, token_type=tt):
                    before = self.srv.snapshot()
                    mid = "urn:uuid:" + str(uuid.uuid4())
                    r = self.srv.issue(version=v, token_type=tt, wsa=True, message_id=mid)
                    self.assertEqual(r.status, 200, r.body[:3000])
                    ct = "text/xml" if v == 11 else "application/soap+xml"
                    self.assertTrue(r.headers.get("content-type", "").startswith(ct))
                    self.assertNoSecrets(r)
                    root, items = L.parse_rstr_response(r, collection=True)
                    self.assertEqual(L.soap_version_of(root), v)
                    self.assertEqual(len(items), 1)
                    hdr = L.reply_headers(root)
                    self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                                     L.REPLY_ACTION["Issue"])
                    self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)
                    a_bytes = L.extract_assertion11_bytes(r.body)
                    self.assertNotIn(b"<saml2:", r.body)
                    a = self.check_user_assertion11(a_bytes, items[0])
                    self.check_rstr11(items[0], a.id, token_type=tt)
                    # the signature also verifies in situ, in the whole SOAP response
                    res = L.xmlsec_verify11(r.body)
                    self.assertTrue(res.ok, res.output)
                    # one new row: kind SAML 1.1, the hash of the bytes sent
                    after = self.srv.snapshot()
                    new = [x for x in after if x not in before]
                    self.assertEqual(len(new), 1)
                    row = new[0]
                    self.assertEqual((row["id"], row["kind"], row["subject"], row["audience"],
                                      row["requester"], row["state"]),
                                     (a.id, L.KIND_SAML11, L.USER, L.RP, L.USER, STATE_ACTIVE))
                    self.assertEqual(bytes(row["hash"]), hashlib.sha256(a_bytes).digest())
                    self.assertAlmostEqual(_epoch(row["expires_at"]) - _epoch(row["issued_at"]),
                                           3600, delta=1.5)

    def test_issue_password_digest_and_lifetime(self):
        created, expires = L.ts(0), L.ts(600)
        r, rstr, a_bytes = self.issue11(11, L.TT_SAML11_PROFILE, digest=True,
                                        lifetime=(created, expires))
        self.assertEqual(L.parse_time(rstr.lifetime_expires), L.parse_time(expires))
        a = self.check_user_assertion11(a_bytes, rstr)
        self.check_rstr11(rstr, a.id, token_type=L.TT_SAML11_PROFILE)

    def test_wcf_element_order(self):
        """TokenType and RequestType first, as WCF writes them."""
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType>%s<wst:KeyType>%s</wst:KeyType>'
               '</wst:RequestSecurityToken>'
               % (L.WST, L.TT_SAML11_PROFILE, L.REQUEST_TYPE["Issue"], L.applies_to_xml(L.RP),
                  L.KT_BEARER))
        r = self.srv.soap("Issue", rst, 12, wsa=True)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        a = self.check_user_assertion11(L.extract_assertion11_bytes(r.body), items[0])
        self.check_rstr11(items[0], a.id, token_type=L.TT_SAML11_PROFILE)

    def test_issue_refusals(self):
        """SAML 1.1 goes through the same Issue policy: unknown party, bad lifetime,
        unsupported key type; nothing stored."""
        for v in BOTH:
            with self.subTest(version=v, case="AppliesTo"):
                self.assertRefused(lambda: self.srv.issue(
                    version=v, token_type=L.TT_SAML11, applies_to="https://evil.example/"),
                    "InvalidScope", v)
            with self.subTest(version=v, case="Lifetime"):
                self.assertRefused(lambda: self.srv.issue(
                    version=v, token_type=L.TT_SAML11, lifetime=(L.ts(0), L.ts(-60))),
                    "InvalidTimeRange", v)
            with self.subTest(version=v, case="KeyType"):
                self.assertRefused(lambda: self.srv.issue(
                    version=v, token_type=L.TT_SAML11_PROFILE, key_type="urn:example:kt"),
                    "BadRequest", v)

    def test_lifecycle(self):
        for v in BOTH:
            with self.subTest(version=v):
                _, _, t1 = self.issue11(v)
                id1 = L.assertion11_facts(t1).id
                self.assertValid(t1, v)

                before = self.srv.snapshot()
                t2, rstr = self.renew11_ok(t1, v)
                a2 = self.check_user_assertion11(t2, rstr)
                self.check_rstr11(rstr, a2.id, request_type=L.REQUEST_TYPE["Renew"])
                self.assertNotEqual(a2.id, id1)
                self.assertEqual(len(self.srv.snapshot()), len(before) + 1)
                old, new = self.srv.row(id1), self.srv.row(a2.id)
                self.assertEqual((old["state"], old["replaced_by"]), (STATE_RENEWED, a2.id))
                self.assertEqual((new["state"], new["replaces"], new["kind"]),
                                 (STATE_ACTIVE, id1, L.KIND_SAML11))
                # the predecessor: invalid, and neither renewable nor renewed twice
                # one reason for every invalid token; the cause is in the log (INFO)
                self.assertInvalidCause(t1, "token renewed", v)
                self.assertValid(t2, v)
                self.assertRefused(lambda: self.renew11(t1, v), "UnableToRenew", v)

                # cancel: invalid, not renewable; again: idempotent, same answer
                r1 = self.cancel_ok(t2, v)
                self.assertEqual(self.srv.row(a2.id)["state"], STATE_CANCELLED)
                self.assertInvalidCause(t2, "token cancelled", v)
                self.assertRefused(lambda: self.renew11(t2, v), "UnableToRenew", v)
                snap = self.srv.snapshot()
                r2 = self.cancel_ok(t2, v)
                self.assertEqual(self.srv.snapshot(), snap)
                self.assertEqual(etree.tostring(L.body_child(L.parse_xml(r1.body)), method="c14n"),
                                 etree.tostring(L.body_child(L.parse_xml(r2.body)), method="c14n"))

    def test_renew_token_type(self):
        """Renew answers with the SAML 1.1 spelling asked; a SAML 2.0 TokenType for a
        SAML 1.1 target is not understood (wst:BadRequest, store unchanged)."""
        _, _, t1 = self.issue11()
        for v in BOTH:
            with self.subTest(version=v):
                self.assertRefused(lambda: self.renew11(t1, v, L.TT_SAML2), "BadRequest", v)
                self.assertRefused(lambda: self.renew11(t1, v, L.TT_JWT), "BadRequest", v)
        self.assertValid(t1)
        t2, rstr = self.renew11_ok(t1, 12, L.TT_SAML11_PROFILE)
        self.check_rstr11(rstr, L.assertion11_facts(t2).id, token_type=L.TT_SAML11_PROFILE,
                          request_type=L.REQUEST_TYPE["Renew"])

    def test_saml2_and_saml11_side_by_side(self):
        """Validate tells the versions apart by element; each verifies on its own."""
        _, _, t11 = self.issue11()
        r = self.srv.issue(version=12)
        t2 = L.extract_assertion_bytes(r.body)
        self.assertValid(t11)
        self.assertValid(t2)
        self.assertEqual(self.srv.row(L.assertion11_facts(t11).id)["kind"], L.KIND_SAML11)
        self.assertEqual(self.srv.row(L.assertion_facts(t2).id)["kind"], 1)


class Saml11AttackTest(Saml11Base):
    """Tampered, foreign, unknown and wrapped SAML 1.1 targets (mirrors the XSW
    cases of test_faults.py): Validate answers invalid, Renew and Cancel refuse,
    the store never changes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.server.issue(version=12, token_type=L.TT_SAML11)
        if r.status != 200:
            raise RuntimeError("setUpClass: Issue failed: %r" % r.body[:2000])
        cls.token = L.extract_assertion11_bytes(r.body)
        cls.evil_key, cls.evil_cert = L.make_keypair(cls.server.tmp)

    def _forged(self, subject="bob", same_id=False):
        el = L.parse_xml(self.token)
        forged = copy.deepcopy(el)
        for s in forged.findall("ds:Signature", L.NS):
            forged.remove(s)
        for nid in forged.findall(".//saml1:NameIdentifier", L.NS):
            nid.text = subject
        if not same_id:
            forged.set("AssertionID", "_forged" + uuid.uuid4().hex)
        return el, forged

    @staticmethod
    def _put_in_advice(forged, original):
        advice = etree.Element(L.q("saml1", "Advice"))
        advice.append(original)
        cond = forged.find("saml1:Conditions", L.NS)  # Advice follows Conditions
        forged.insert(list(forged).index(cond) + 1, advice)
        return etree.tostring(forged)

    def wrapped_variants(self):
        orig, forged = self._forged()
        yield "signed original in the Advice of a forged assertion", \
            self._put_in_advice(forged, orig)
        orig, forged = self._forged(same_id=True)
        yield "same AssertionID, original in the Advice", self._put_in_advice(forged, orig)
        orig, forged = self._forged(same_id=True)
        forged.append(copy.deepcopy(orig.find("ds:Signature", L.NS)))
        plain = copy.deepcopy(orig)
        plain.remove(plain.find("ds:Signature", L.NS))
        yield "forged keeps the signature, unsigned original in its Advice", \
            self._put_in_advice(forged, plain)
        orig, forged = self._forged(same_id=True)
        sig = copy.deepcopy(orig.find("ds:Signature", L.NS))
        obj = etree.SubElement(sig, L.q("ds", "Object"))
        plain = copy.deepcopy(orig)
        plain.remove(plain.find("ds:Signature", L.NS))
        obj.append(plain)
        forged.append(sig)
        yield "original hidden in a ds:Object of the forged one", etree.tostring(forged)

    def test_genuine_token_is_valid(self):
        for v in BOTH:
            self.assertValid(self.token, v)

    def test_tampered(self):
        nid = L.assertion11_facts(self.token).subjects[0]
        cases = {
            "subject (first statement)": self.token.replace(
                (">%s</saml:NameIdentifier>" % nid).encode(),
                b">bob</saml:NameIdentifier>", 1),
            "attribute value": self.token.replace(b">doctor<", b">admin<"),
            "Issuer attribute": self.token.replace(b'Issuer="%s"' % L.ISSUER.encode(),
                                                   b'Issuer="https://idp.evil.example/"'),
            "audience": self.token.replace(L.RP.encode() + b"</saml:Audience>",
                                           b"https://evil.example/</saml:Audience>"),
        }
        el = L.parse_xml(self.token)
        el.remove(el.find("ds:Signature", L.NS))
        cases["signature stripped"] = etree.tostring(el)
        el = L.parse_xml(self.token)
        sv = el.find("ds:Signature/ds:SignatureValue", L.NS)
        txt = "".join(sv.text.split())
        sv.text = txt[:10] + ("A" if txt[10] != "A" else "B") + txt[11:]
        cases["signature value"] = etree.tostring(el)
        for name, t in cases.items():
            with self.subTest(case=name):
                self.assertNotEqual(t, self.token)
                for v in BOTH:
                    self.assertInvalid(t, v)

    def test_other_keys_unknown_and_foreign(self):
        el = L.parse_xml(self.token)
        for nid in el.findall(".//saml1:NameIdentifier", L.NS):
            nid.text = "bob"
        foreign = L.sign_assertion11(el, self.evil_key, self.evil_cert)
        self.assertTrue(L.xmlsec_verify11(foreign, self.evil_cert).ok, "fixture sanity")
        ours_cert = L.parse_xml(foreign)
        ours_cert.find("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", L.NS).text = \
            L.cert_b64()
        unknown = L.sign_assertion11(L.make_assertion11(), L.SIGNING_KEY, L.SIGNING_CERT)
        self.assertTrue(L.xmlsec_verify11(unknown).ok and L.samlsign_verify(unknown).ok,
                        "fixture sanity")
        not_ours = L.sign_assertion11(L.make_assertion11(issuer="https://idp.evil.example/"),
                                      L.SIGNING_KEY, L.SIGNING_CERT)
        sig_first = L.sign_assertion11(self.token, L.SIGNING_KEY, L.SIGNING_CERT, first=True)
        self.assertTrue(L.xmlsec_verify11(sig_first).ok, "fixture sanity")
        # the very assertion we issued, re-signed by us with the signature
        # first: same AssertionID, but not our profile (and not schema-valid)
        for name, t in (("other key", foreign), ("other key, our certificate",
                                                 etree.tostring(ours_cert)),
                        ("our key, never issued", unknown), ("not our issuer", not_ours),
                        ("signature not last", sig_first)):
            with self.subTest(case=name):
                self.assertInvalid(t)

    def test_wrapping(self):
        for name, t in self.wrapped_variants():
            with self.subTest(case=name):
                for v in BOTH:
                    self.assertInvalid(t, v)
                    self.assertRefused(lambda: self.srv.renew(t, v), "UnableToRenew", v)
                    self.assertRefused(lambda: self.srv.cancel(t, v), "RequestFailed", v)
        self.assertValid(self.token)

    def test_two_assertions_in_target(self):
        _, forged = self._forged(same_id=True)
        for v, target in ((12, etree.tostring(forged) + self.token),
                          (11, self.token + etree.tostring(forged))):
            with self.subTest(version=v):
                rst = L.rst_target("Validate", target)
                self.assertRefused(lambda: self.srv.soap("Validate", rst, v), "InvalidRequest", v)

    def test_forged_copy_in_header(self):
        """A same-ID forged copy elsewhere in the envelope: the ID is not unique."""
        _, forged = self._forged(same_id=True)
        hdr = '<x:Extra xmlns:x="urn:example:test">%s</x:Extra>' % etree.tostring(forged).decode()
        before = self.srv.snapshot()
        r = self.srv.soap("Validate", L.rst_target("Validate", self.token), 12, extra_headers=hdr)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)
        hdr2 = '<x:Extra xmlns:x="urn:example:test">%s</x:Extra>' % self.token.decode()
        r = self.srv.soap("Validate", L.rst_target("Validate", etree.tostring(forged)), 12,
                          extra_headers=hdr2)
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)
        self.assertEqual(self.srv.snapshot(), before)

    def test_renew_and_cancel_bad_targets(self):
        tampered = self.token.replace(b">doctor<", b">admin<")
        unknown = L.sign_assertion11(L.make_assertion11(), L.SIGNING_KEY, L.SIGNING_CERT)
        foreign = L.sign_assertion11(self.token, self.evil_key, self.evil_cert)
        for name, t in (("tampered", tampered), ("unknown", unknown), ("other key", foreign)):
            for v in BOTH:
                with self.subTest(token=name, version=v):
                    self.assertRefused(lambda: self.srv.renew(t, v), "UnableToRenew", v)
                    self.assertRefused(lambda: self.srv.cancel(t, v), "RequestFailed", v)
        self.assertValid(self.token)


class Saml11RestTest(Saml11Base):
    """The RFC 8693 face, and the two faces together."""

    def test_saml11_subject_exchanged_for_jwts(self):
        a, b = self.saml11_b64()
        aid = L.assertion11_facts(a).id
        exp = L.parse_time(L.assertion11_facts(a).not_on_or_after).timestamp()
        before = self.srv.snapshot()
        # an access token for the api (ES256), with a refresh token
        doc = self.exchange_ok(b, L.TT_SAML1_URN, audience=L.RP_API, scope="api.read")
        self.assertEqual((doc["issued_token_type"], doc["token_type"]), (L.TT_ACCESS, "Bearer"))
        self.assertIn("refresh_token", doc)
        header, claims = L.verify_jwt(self.jwks(), doc["access_token"], audience=L.RP_API,
                                      typ="at+jwt", alg="ES256")
        self.assertEqual((claims["sub"], claims["client_id"], claims["scope"]),
                         (L.USER, L.CLIENT_ID, "api.read"))
        self.assertLessEqual(claims["exp"], exp, "never outlives the subject token")
        # a plain JWT for the rp (RS256), from the padded base64url too
        doc2 = self.exchange_ok(L.b64url_encode(a, pad=True), L.TT_SAML1_URN, audience=L.RP,
                                requested_token_type=L.TT_JWT)
        self.assertEqual((doc2["issued_token_type"], doc2["token_type"]), (L.TT_JWT, "N_A"))
        _, claims2 = L.verify_jwt(self.jwks(), doc2["access_token"], audience=L.RP, typ="JWT",
                                  alg="RS256")
        self.assertEqual(claims2["sub"], L.USER)
        # the SAML 1.1 assertion is the parent of what was issued from it
        new = [r for r in self.srv.snapshot() if r not in before]
        self.assertEqual(len(new), 3, "access token, refresh token, JWT")
        at_row = self.srv.row(claims["jti"])
        self.assertEqual((at_row["parent"] is not None, at_row["requester"]), (True, L.CLIENT_ID))
        self.assertEqual(self.srv.row(claims2["jti"])["parent"], aid)
        self.assertEqual(self.srv.row(aid)["state"], STATE_ACTIVE)
        # cancelling the assertion over SOAP ends them on the REST face
        self.cancel_ok(a)
        self.assertInactive(doc["access_token"])
        self.assertInactive(doc2["access_token"])
        self.assertInactive(doc["refresh_token"])

    def test_saml11_subject_refused(self):
        a, b = self.saml11_b64()
        s2, b2 = self.soap_saml()
        el = L.parse_xml(a)
        for nid in el.findall(".//saml1:NameIdentifier", L.NS):
            nid.text = "mallory"
        modified = L.b64url_encode(etree.tostring(el))
        key, crt = L.make_keypair(self.srv.tmp, "Not The STS")
        forged = L.b64url_encode(L.sign_assertion11(a, key, crt))
        unknown = L.b64url_encode(L.sign_assertion11(L.make_assertion11(), L.SIGNING_KEY,
                                                     L.SIGNING_CERT))
        cases = [
            ("SAML 1.1 declared as saml2", b, L.TT_SAML2_URN),
            ("SAML 2.0 declared as saml1", b2, L.TT_SAML1_URN),
            ("SAML 1.1 declared as jwt", b, L.TT_JWT),
            ("modified after signing", modified, L.TT_SAML1_URN),
            ("signed by another key", forged, L.TT_SAML1_URN),
            ("signed by us, never issued", unknown, L.TT_SAML1_URN),
            ("not base64url", "garbage!", L.TT_SAML1_URN),
            ("not XML", L.b64url_encode(b"not xml"), L.TT_SAML1_URN),
        ]
        for name, subject, stype in cases:
            with self.subTest(case=name):
                self.assertOAuthError(lambda: L.token_exchange(
                    self.srv, subject, stype, audience=L.RP), 400, "invalid_request")
        # as an actor it is read the same way: alice acting for alice is refused
        with self.subTest(case="actor is the subject"):
            self.assertOAuthError(lambda: L.token_exchange(
                self.srv, b, L.TT_SAML1_URN, audience=L.RP, actor_token=b,
                actor_token_type=L.TT_SAML1_URN), 400, "invalid_request")

    def test_requested_saml11(self):
        jwt_text, _ = self.soap_jwt()
        before = self.srv.snapshot()
        doc, a_bytes = self.rest_saml11(jwt_text, L.TT_JWT)
        self.assertEqual((doc["issued_token_type"], doc["token_type"]), (L.TT_SAML1_URN, "N_A"))
        self.assertNotIn("=", doc["access_token"], "base64url without padding")
        self.assertNotIn("refresh_token", doc)
        self.assertNotIn("scope", doc)
        self.assertGreater(doc["expires_in"], 0)
        self.assertLessEqual(doc["expires_in"], 3600)
        self.assertTrue(a_bytes.startswith(b"<saml:Assertion "), a_bytes[:80])
        a = self.check_assertion11(a_bytes)
        # an exchanged subject has no password authentication here, and alice
        # (a realm user) brings her attributes
        self.assertEqual(a.authn_method, L.AM_UNSPECIFIED11)
        self.assertEqual(a.attributes, {k: (L.SAML11_ATTR_NAMESPACE, [v])
                                        for k, v in L.USER_ATTRS.items()})
        new = [r for r in self.srv.snapshot() if r not in before]
        self.assertEqual(len(new), 1)
        row = new[0]
        _, subj_claims = L.jwt_parts(jwt_text)[:2]
        self.assertEqual((row["id"], row["kind"], row["requester"], row["requester_kind"],
                          row["audience"], row["parent"], row["state"]),
                         (a.id, L.KIND_SAML11, L.CLIENT_ID, 2, L.RP, subj_claims["jti"],
                          STATE_ACTIVE))
        self.assertEqual(bytes(row["hash"]), hashlib.sha256(a_bytes).digest())
        self.assertLessEqual(row["expires_at"], subj_claims["exp"])
        # from a SAML 1.1 subject too
        _, b = self.saml11_b64()
        doc2, a2 = self.rest_saml11(b, L.TT_SAML1_URN)
        self.check_assertion11(a2)

    def test_requested_saml11_refused(self):
        """One audience, no scope, no act: refused, never dropped; nothing stored."""
        jwt_text, _ = self.soap_jwt()
        at = self.exchange_ok(jwt_text, L.TT_JWT, audience=L.RP, scope="openid")
        _, actor = self.soap_saml()

        def ex(**kw):
            return lambda: L.token_exchange(self.srv, jwt_text, L.TT_JWT,
                                            requested_token_type=L.TT_SAML1_URN, **kw)
        cases = [
            ("two audiences", ex(audience=[L.RP, L.RP_API]), "invalid_target"),
            ("audience and resource", ex(audience=L.RP, resource=L.RP_API), "invalid_target"),
            ("scope requested", ex(audience=L.RP, scope="openid"), "invalid_scope"),
            ("the subject's scope", lambda: L.token_exchange(
                self.srv, at["access_token"], L.TT_ACCESS, audience=L.RP,
                requested_token_type=L.TT_SAML1_URN), "invalid_scope"),
            ("an actor", ex(audience=L.RP, actor_token=actor, actor_token_type=L.TT_SAML2_URN),
             "invalid_request"),
            ("audience not the client's", ex(audience="https://evil.example/"),
             "invalid_target"),
        ]
        for name, send, error in cases:
            with self.subTest(case=name):
                self.assertOAuthError(send, 400, error)

    def test_introspect(self):
        a, b = self.saml11_b64()
        f = L.assertion11_facts(a)
        for token in (b, L.b64url_encode(a, pad=True)):
            doc = self.assertActive(token)
            self.assertEqual(doc.get("issued_token_type"), L.TT_SAML1_URN)
            self.assertEqual(doc.get("token_type"), "N_A")
            self.assertEqual((doc.get("sub"), doc.get("aud"), doc.get("iss"), doc.get("jti")),
                             (L.USER, L.RP, L.ISSUER, f.id))
            self.assertEqual(doc.get("exp"), int(L.parse_time(f.not_on_or_after).timestamp()))
            self.assertEqual(doc.get("nbf"), int(L.parse_time(f.not_before).timestamp()))
            self.assertEqual(doc.get("iat"), int(L.parse_time(f.issue_instant).timestamp()))
            self.assertNotIn("client_id", doc)
            self.assertNotIn("scope", doc)
        # one the client obtained names it
        doc, a2 = self.rest_saml11()
        intro = self.assertActive(doc["access_token"])
        self.assertEqual((intro.get("issued_token_type"), intro.get("client_id")),
                         (L.TT_SAML1_URN, L.CLIENT_ID))
        # tampered: inactive, store unchanged
        self.assertInactive(L.b64url_encode(a.replace(b">doctor<", b">admin<")))
        # renewed over SOAP: the predecessor is inactive, the successor active
        t2, _ = self.renew11_ok(a)
        self.assertInactive(b)
        self.assertActive(L.b64url_encode(t2))

    def test_revoke(self):
        doc, a = self.rest_saml11()
        aid = L.assertion11_facts(a).id
        self.assertValid(a)
        # alice's own assertion is not the client's to revoke
        mine, mine_b = self.saml11_b64()
        self.assertOAuthError(lambda: L.rest_post(self.srv, "/revoke", {"token": mine_b}),
                              400, "unauthorized_client")
        self.assertValid(mine)
        # the client revokes what it obtained: SOAP Validate says invalid
        r = L.rest_post(self.srv, "/revoke", {"token": doc["access_token"]})
        self.assertEqual(r.status_code, 200, r.text[:500])
        self.assertEqual(r.content, b"")
        self.assertEqual(self.srv.row(aid)["state"], STATE_CANCELLED)
        for v in BOTH:
            self.assertInvalidCause(a, "token cancelled", v)
        self.assertInactive(doc["access_token"])
        self.assertRefused(lambda: self.renew11(a), "UnableToRenew", 12)
        # with a hint, and again: still 200, nothing changes
        snap = self.srv.snapshot()
        r = L.rest_post(self.srv, "/revoke", {"token": doc["access_token"],
                                              "token_type_hint": "access_token"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.srv.snapshot(), snap)

    def test_rest_saml11_renewed_over_soap(self):
        """alice renews over SOAP the SAML 1.1 assertion an OAuth client obtained
        for her: same kind, same family (parent), never past its subject."""
        jwt_text, _ = self.soap_jwt()
        _, subj_claims = L.jwt_parts(jwt_text)[:2]
        doc, a = self.rest_saml11(jwt_text, L.TT_JWT)
        aid = L.assertion11_facts(a).id
        t2, rstr = self.renew11_ok(a, 11)
        f2 = self.check_assertion11(t2, rstr)
        self.check_rstr11(rstr, f2.id, request_type=L.REQUEST_TYPE["Renew"])
        old, new = self.srv.row(aid), self.srv.row(f2.id)
        self.assertEqual((old["state"], old["replaced_by"]), (STATE_RENEWED, f2.id))
        self.assertEqual((new["kind"], new["parent"], new["requester"], new["replaces"]),
                         (L.KIND_SAML11, subj_claims["jti"], L.CLIENT_ID, aid))
        self.assertLessEqual(new["expires_at"], subj_claims["exp"])
        self.assertInactive(doc["access_token"])
        # cancelling the JWT it came from (over SOAP, by alice) cancels the renewal too
        r = self.srv.soap("Cancel", L.rst_target("Cancel", L.bst_xml(jwt_text)), 12)
        self.assertEqual(r.status, 200, r.body[:2000])
        self.assertEqual(self.srv.row(f2.id)["state"], STATE_CANCELLED)
        self.assertInvalid(t2)


def _two_users():
    cfg = L.rest_default_config()
    cfg["users"].append(L.make_user("bob", "builder", {"role": "nurse"}))
    return cfg


class Saml11TwoUsersTest(Saml11Base):
    """alice and bob: who may manage whose SAML 1.1 assertion, and bob's
    assertion as an actor_token."""

    CONFIG = staticmethod(_two_users)

    def test_other_user_may_not_renew_or_cancel(self):
        _, _, t1 = self.issue11()
        for v in BOTH:
            with self.subTest(version=v):
                self.assertRefused(lambda: self.srv.renew(t1, v, username="bob",
                                                          password="builder"),
                                   "UnableToRenew", v)
                self.assertRefused(lambda: self.srv.cancel(t1, v, username="bob",
                                                           password="builder"),
                                   "RequestFailed", v)
        self.assertValid(t1)
        # bob's own: his subject and attributes
        r, rstr, tb = L.issue_saml11(self.srv, 12, username="bob", password="builder")
        fb = L.assertion11_facts(tb)
        self.assertEqual(fb.subjects, ["bob", "bob"])
        self.assertEqual(fb.attributes, {"role": (L.SAML11_ATTR_NAMESPACE, ["nurse"])})

    def test_saml11_actor(self):
        """bob's SAML 1.1 assertion as actor_token for alice's: act.sub is bob."""
        _, _, ta = self.issue11()
        _, _, tb = L.issue_saml11(self.srv, 12, L.TT_SAML11_PROFILE, username="bob",
                                  password="builder")
        doc = self.exchange_ok(L.b64url_encode(ta), L.TT_SAML1_URN, audience=L.RP,
                               requested_token_type=L.TT_JWT, actor_token=L.b64url_encode(tb),
                               actor_token_type=L.TT_SAML1_URN)
        _, claims = L.verify_jwt(self.jwks(), doc["access_token"], audience=L.RP, typ="JWT")
        self.assertEqual((claims["sub"], claims["act"]), (L.USER, {"sub": "bob"}))
        intro = self.assertActive(doc["access_token"])
        self.assertEqual(intro.get("act"), {"sub": "bob"})
        # the same delegation cannot become a SAML 1.1 assertion
        self.assertOAuthError(lambda: L.token_exchange(
            self.srv, L.b64url_encode(ta), L.TT_SAML1_URN, audience=L.RP,
            requested_token_type=L.TT_SAML1_URN, actor_token=L.b64url_encode(tb),
            actor_token_type=L.TT_SAML1_URN), 400, "invalid_request")


if __name__ == "__main__":
    unittest.main(verbosity=2)
