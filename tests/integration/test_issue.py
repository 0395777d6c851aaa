# SPDX-License-Identifier: GPL-2.0-or-later
"""Issue binding: AD FS / WCF style requests over SOAP 1.2 and 1.1, the exact
RSTRC shape, the signed assertion checked as raw bytes by xmlsec1, samlsign and
the SAML 2.0 schema, lifetimes, token types, and the store row."""
import datetime
import hashlib
import os
import sys
import threading
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

ISSUE_ORDER = [L.q("wst", "Lifetime"), L.q("wsp", "AppliesTo"),
               L.q("wst", "RequestedSecurityToken"), L.q("wst", "RequestedAttachedReference"),
               L.q("wst", "RequestedUnattachedReference"), L.q("wst", "TokenType"),
               L.q("wst", "RequestType"), L.q("wst", "KeyType")]


def _epoch(v):
    """Store timestamps: integer epoch seconds, or an ISO string."""
    if isinstance(v, (int, float)):
        return float(v)
    return L.parse_time(v).timestamp()


class HarnessSelfTest(unittest.TestCase):
    """The verifiers must be able to fail: check them on a locally signed assertion."""

    def test_verifiers_accept_good_and_reject_tampered(self):
        signed = L.sign_assertion(L.make_assertion(), L.SIGNING_KEY, L.SIGNING_CERT)
        for name, fn in (("xmlsec1", L.xmlsec_verify), ("samlsign", L.samlsign_verify),
                         ("schema", L.schema_validate)):
            r = fn(signed)
            self.assertTrue(r.ok, "%s rejects a good assertion: %s" % (name, r.output))
        tampered = signed.replace(b">alice<", b">mallory<")
        self.assertFalse(L.xmlsec_verify(tampered).ok)
        self.assertFalse(L.samlsign_verify(tampered).ok)


class IssueTest(L.StsTestCase):

    # ------------------------------------------------------------------
    def check_assertion(self, assertion_bytes, rstr, audience=L.RP):
        """Everything the contract says about the issued assertion."""
        for name, fn in (("xmlsec1", L.xmlsec_verify), ("samlsign", L.samlsign_verify),
                         ("SAML 2.0 schema", L.schema_validate)):
            r = fn(assertion_bytes)
            self.assertTrue(r.ok, "%s: %s" % (name, r.output))
        a = L.assertion_facts(assertion_bytes)
        self.assertTrue(a.id, "assertion ID")
        self.assertEqual(a.el.get("Version"), "2.0")
        self.assertEqual(a.issuer, L.ISSUER)
        self.assertEqual(a.child_tags[0], L.q("saml2", "Issuer"))
        self.assertEqual(a.child_tags[1], L.q("ds", "Signature"), "ds:Signature right after Issuer")
        self.assertEqual(a.sig["c14n"], L.ALG_EXC_C14N)
        self.assertEqual(a.sig["method"], L.ALG_RSA_SHA256)
        self.assertEqual(a.sig["references"], ["#" + a.id], "one Reference to #ID")
        self.assertEqual(a.sig["transforms"], [L.ALG_ENVELOPED, L.ALG_EXC_C14N])
        self.assertEqual(["".join(x.split()) for x in a.sig["x509"]], [L.cert_b64()],
                         "KeyInfo/X509Data carries the signing certificate")
        self.assertEqual(a.subject, L.USER)
        self.assertEqual(a.conf_method, L.CM_BEARER)
        self.assertEqual(a.audiences, [audience])
        self.assertIsNotNone(a.el.find("saml2:AuthnStatement", L.NS), "AuthnStatement")
        for k, v in L.USER_ATTRS.items():
            self.assertEqual(a.attributes.get(k), [v], "attribute %s" % k)
        # Conditions match the RSTR Lifetime
        self.assertEqual(L.parse_time(a.not_before), L.parse_time(rstr.lifetime_created),
                         "Conditions/@NotBefore vs Lifetime/Created")
        self.assertEqual(L.parse_time(a.not_on_or_after), L.parse_time(rstr.lifetime_expires),
                         "Conditions/@NotOnOrAfter vs Lifetime/Expires")
        # the parsed RSTR element holds the same assertion
        self.assertIsNotNone(rstr.assertion)
        self.assertEqual(rstr.assertion.get("ID"), a.id)
        return a

    def check_rstr(self, rstr, token_type=L.TT_SAML2, request_type=L.REQUEST_TYPE["Issue"],
                   applies_to=L.RP, lifetime=3600):
        self.assertEqual(rstr.children, ISSUE_ORDER, "RSTR children and order")
        created = L.parse_time(rstr.lifetime_created)
        expires = L.parse_time(rstr.lifetime_expires)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((created - now).total_seconds()), 30, "Lifetime/Created ~ now")
        if lifetime is not None:
            self.assertAlmostEqual((expires - created).total_seconds(), lifetime, delta=1.5)
        self.assertEqual(rstr.applies_to, applies_to)
        self.assertEqual(len(rstr.requested_token), 1, "RequestedSecurityToken holds one element")
        self.assertEqual(rstr.requested_token[0].tag, L.q("saml2", "Assertion"))
        aid = rstr.assertion.get("ID")
        for name in ("RequestedAttachedReference", "RequestedUnattachedReference"):
            ref = rstr.refs.get(name)
            self.assertIsNotNone(ref, name)
            self.assertIsNotNone(ref["str"], "%s/wsse:SecurityTokenReference" % name)
            self.assertEqual(ref["token_type"], L.TT_SAML2_PROFILE, "%s wsse11:TokenType" % name)
            self.assertEqual(ref["value_type"], L.SAMLID, "%s KeyIdentifier/@ValueType" % name)
            self.assertEqual(ref["key_id"], aid, "%s KeyIdentifier = assertion ID" % name)
        self.assertEqual(rstr.token_type, token_type)
        self.assertEqual(rstr.request_type, request_type)
        self.assertEqual(rstr.key_type, L.KT_BEARER)

    def check_new_row(self, before, assertion_id, lifetime=3600):
        after = self.srv.snapshot()
        new = [r for r in after if r not in before]
        self.assertEqual(len(after), len(before) + 1, "exactly one new store row")
        self.assertEqual(len(new), 1)
        row = new[0]
        self.assertEqual(row["id"], assertion_id)
        self.assertEqual(row["subject"], L.USER)
        self.assertEqual(row["audience"], L.RP)
        self.assertEqual(row["requester"], L.USER)
        self.assertEqual(row["state"], 0)
        self.assertIn(row["replaces"], (None, ""))
        self.assertIn(row["replaced_by"], (None, ""))
        if lifetime is not None:
            self.assertAlmostEqual(_epoch(row["expires_at"]) - _epoch(row["issued_at"]),
                                   lifetime, delta=1.5)
        return row

    # ------------------------------------------------------------------
    def test_adfs_soap12_ws_addressing(self):
        """MSAL/AD FS usernamemixed shape: SOAP 1.2, WS-Addressing, PasswordText."""
        before = self.srv.snapshot()
        mark = self.srv.log_mark()
        mid = "urn:uuid:" + str(uuid.uuid4())
        r = self.srv.issue(version=12, wsa=True, message_id=mid)
        self.assertEqual(r.status, 200, r.body[:3000])
        self.assertTrue(r.headers.get("content-type", "").startswith("application/soap+xml"),
                        r.headers.get("content-type"))
        self.assertNoSecrets(r)
        root, items = L.parse_rstr_response(r, collection=True)
        self.assertEqual(len(items), 1, "one RSTR in the collection")
        rstr = items[0]
        self.check_rstr(rstr)
        hdr = L.reply_headers(root)
        self.assertIsNotNone(hdr, "reply has a SOAP header")
        act = hdr.find("wsa:Action", L.NS)
        rel = hdr.find("wsa:RelatesTo", L.NS)
        self.assertIsNotNone(act, "reply wsa:Action")
        self.assertEqual(act.text.strip(), L.REPLY_ACTION["Issue"])
        self.assertIsNotNone(rel, "reply wsa:RelatesTo")
        self.assertEqual(rel.text.strip(), mid)
        assertion = L.extract_assertion_bytes(r.body)
        a = self.check_assertion(assertion, rstr)
        row = self.check_new_row(before, a.id)
        self.assertEqual(bytes(row["hash"]), hashlib.sha256(assertion).digest(),
                         "store hash = SHA-256 of the issued assertion bytes")
        line = self.assertLogged(mark, "ok")
        self.assertNotIn(L.PASSWORD, self.srv.log_since(mark))
        del line

    def test_soap11_soapaction(self):
        before = self.srv.snapshot()
        r = self.srv.issue(version=11)
        self.assertEqual(r.status, 200, r.body[:3000])
        self.assertTrue(r.headers.get("content-type", "").startswith("text/xml"),
                        r.headers.get("content-type"))
        self.assertNoSecrets(r)
        root, items = L.parse_rstr_response(r, collection=True)
        self.assertEqual(L.soap_version_of(root), 11)
        self.assertEqual(len(items), 1)
        self.check_rstr(items[0])
        a = self.check_assertion(L.extract_assertion_bytes(r.body), items[0])
        self.check_new_row(before, a.id)

    def test_soap11_ws_addressing(self):
        mid = "urn:uuid:" + str(uuid.uuid4())
        r = self.srv.issue(version=11, wsa=True, message_id=mid)
        self.assertEqual(r.status, 200, r.body[:3000])
        root, items = L.parse_rstr_response(r, collection=True)
        hdr = L.reply_headers(root)
        self.assertIsNotNone(hdr)
        self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                         L.REPLY_ACTION["Issue"])
        self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)
        self.assertNoSecrets(r)

    def test_no_action_requesttype_decides(self):
        """No SOAPAction / action parameter / wsa:Action: RequestType alone decides."""
        for version in (11, 12):
            with self.subTest(version=version):
                r = self.srv.issue(version=version, action=None)
                self.assertEqual(r.status, 200, r.body[:3000])
                L.parse_rstr_response(r, collection=True)

    def test_password_digest(self):
        for version in (11, 12):
            with self.subTest(version=version):
                before = self.srv.snapshot()
                r = self.srv.issue(version=version, digest=True)
                self.assertEqual(r.status, 200, r.body[:3000])
                self.assertNoSecrets(r)
                _, items = L.parse_rstr_response(r, collection=True)
                self.check_rstr(items[0])
                a = self.check_assertion(L.extract_assertion_bytes(r.body), items[0])
                self.check_new_row(before, a.id)

    def test_token_type_spellings(self):
        for tt in (L.TT_SAML2, L.TT_SAML2_PROFILE):
            with self.subTest(token_type=tt):
                r = self.srv.issue(version=12, token_type=tt)
                self.assertEqual(r.status, 200, r.body[:2000])
                _, items = L.parse_rstr_response(r, collection=True)
                self.check_rstr(items[0], token_type=tt)
                self.check_assertion(L.extract_assertion_bytes(r.body), items[0])

    def test_key_type_absent_is_bearer(self):
        r = self.srv.issue(version=12, key_type=None)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        self.check_rstr(items[0])

    def test_wcf_element_order(self):
        """WCF puts TokenType and RequestType first; order must not matter."""
        rst = ('<wst:RequestSecurityToken xmlns:wst="%s"><wst:TokenType>%s</wst:TokenType>'
               '<wst:RequestType>%s</wst:RequestType>%s<wst:KeyType>%s</wst:KeyType>'
               '</wst:RequestSecurityToken>'
               % (L.WST, L.TT_SAML2_PROFILE, L.REQUEST_TYPE["Issue"], L.applies_to_xml(L.RP),
                  L.KT_BEARER))
        r = self.srv.soap("Issue", rst, 12, wsa=True)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        self.check_rstr(items[0], token_type=L.TT_SAML2_PROFILE)

    def test_lifetime_shorter_is_honoured(self):
        before = self.srv.snapshot()
        created, expires = L.ts(0), L.ts(600)
        r = self.srv.issue(version=12, lifetime=(created, expires))
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        rstr = items[0]
        self.check_rstr(rstr, lifetime=None)
        self.assertEqual(L.parse_time(rstr.lifetime_expires), L.parse_time(expires),
                         "requested Expires honoured")
        self.assertLessEqual(abs((L.parse_time(rstr.lifetime_created)
                                  - L.parse_time(created)).total_seconds()), 2)
        a = self.check_assertion(L.extract_assertion_bytes(r.body), rstr)
        row = self.check_new_row(before, a.id, lifetime=None)
        self.assertAlmostEqual(_epoch(row["expires_at"]), L.parse_time(expires).timestamp(),
                               delta=1.5)

    def test_lifetime_expires_only(self):
        expires = L.ts(900)
        r = self.srv.issue(version=11, lifetime=(None, expires))
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        self.assertEqual(L.parse_time(items[0].lifetime_expires), L.parse_time(expires))
        self.check_assertion(L.extract_assertion_bytes(r.body), items[0])

    def test_lifetime_longer_is_capped(self):
        before = self.srv.snapshot()
        r = self.srv.issue(version=12, lifetime=(L.ts(0), L.ts(7200)))
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=True)
        rstr = items[0]
        self.check_rstr(rstr, lifetime=3600)
        a = self.check_assertion(L.extract_assertion_bytes(r.body), rstr)
        self.check_new_row(before, a.id, lifetime=3600)

    def test_wsa_action_only(self):
        """SOAP 1.1 without SOAPAction, SOAP 1.2 without action parameter: wsa:Action."""
        for v in (11, 12):
            with self.subTest(version=v):
                r = self.srv.issue(version=v, action=None, wsa=True,
                                   wsa_action=L.ACTION["Issue"])
                self.assertEqual(r.status, 200, r.body[:2000])
                L.parse_rstr_response(r, collection=True)

    def test_timestamp_tolerance(self):
        """Inside the limits: Created 250 s old, Created 200 s ahead (skew 300 s);
        a digest Created 200 s ahead. (A digest Created before the server started
        is refused whatever its age: the nonce cache does not survive a restart;
        tests/unit/test_engine.c covers digest ages with an injected clock.)"""
        cases = {
            "created -250s": dict(timestamp=L.timestamp_xml(created_offset=-250,
                                                           expires_offset=300)),
            "created +200s": dict(timestamp=L.timestamp_xml(created_offset=200,
                                                           expires_offset=300)),
            "digest created +200s": dict(digest=True, created_offset=200),
            "timestamp with fraction": dict(timestamp=L.timestamp_xml(
                created=L.ts(0).replace("Z", ".123Z"), expires=L.ts(300).replace("Z", ".5Z"))),
        }
        for name, kw in cases.items():
            with self.subTest(case=name):
                r = self.srv.issue(version=12, **kw)
                self.assertEqual(r.status, 200, r.body[:2000])

    def test_concurrent_issues(self):
        before = self.srv.snapshot()
        results = []

        def worker(v):
            for _ in range(3):
                results.append(self.srv.issue(version=v, digest=(v == 11)))
        threads = [threading.Thread(target=worker, args=(11 if i % 2 else 12,))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(results), 24)
        ids = set()
        for r in results:
            self.assertEqual(r.status, 200, r.body[:1500])
            a = L.extract_assertion_bytes(r.body)
            ids.add(L.assertion_facts(a).id)
        self.assertEqual(len(ids), 24)
        after = self.srv.snapshot()
        self.assertEqual(len(after), len(before) + 24)
        self.assertTrue(ids <= {row["id"] for row in after})

    def test_each_issue_gets_a_new_id(self):
        ids = set()
        for _ in range(3):
            r = self.srv.issue(version=12)
            self.assertEqual(r.status, 200)
            ids.add(L.assertion_facts(L.extract_assertion_bytes(r.body)).id)
        self.assertEqual(len(ids), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
