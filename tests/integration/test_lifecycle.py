# SPDX-License-Identifier: GPL-2.0-or-later
"""Token life cycle: Issue -> Validate -> Renew -> Validate old/new -> Cancel ->
Validate -> Renew refused -> Cancel again (idempotent); renewal of an expired
token within and beyond the renew window (short-lifetime configs)."""
import datetime
import os
import sys
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

RENEW_ORDER = [L.q("wst", "Lifetime"), L.q("wsp", "AppliesTo"),
               L.q("wst", "RequestedSecurityToken"), L.q("wst", "RequestedAttachedReference"),
               L.q("wst", "RequestedUnattachedReference"), L.q("wst", "TokenType"),
               L.q("wst", "RequestType"), L.q("wst", "KeyType")]


class LifecycleMixin:

    def renew_ok(self, old_bytes, version=12, wsa=False):
        """Renew @old_bytes; check the RSTR; return (new assertion bytes, Rstr, response)."""
        mid = "urn:uuid:" + str(uuid.uuid4())
        kw = {"wsa": True, "message_id": mid} if wsa else {}
        r = self.srv.renew(old_bytes, version, **kw)
        self.assertEqual(r.status, 200, "Renew failed: %r" % r.body[:3000])
        self.assertNoSecrets(r)
        root, items = L.parse_rstr_response(r, collection=False)
        rstr = items[0]
        self.assertEqual(rstr.children, RENEW_ORDER, "Renew RSTR children and order")
        self.assertEqual(rstr.request_type, L.REQUEST_TYPE["Renew"])
        self.assertEqual(rstr.key_type, L.KT_BEARER)
        self.assertEqual(rstr.applies_to, L.RP)
        new = L.extract_assertion_bytes(r.body)
        for name, fn in (("xmlsec1", L.xmlsec_verify), ("samlsign", L.samlsign_verify),
                         ("schema", L.schema_validate)):
            res = fn(new)
            self.assertTrue(res.ok, "renewed assertion, %s: %s" % (name, res.output))
        na, oa = L.assertion_facts(new), L.assertion_facts(old_bytes)
        self.assertNotEqual(na.id, oa.id, "renewal has a new ID")
        self.assertEqual(na.subject, oa.subject)
        self.assertEqual(na.audiences, oa.audiences)
        self.assertEqual(na.issuer, L.ISSUER)
        self.assertEqual(L.parse_time(na.not_before), L.parse_time(rstr.lifetime_created))
        self.assertEqual(L.parse_time(na.not_on_or_after), L.parse_time(rstr.lifetime_expires))
        for name in ("RequestedAttachedReference", "RequestedUnattachedReference"):
            self.assertEqual(rstr.refs[name]["key_id"], na.id, name)
            self.assertEqual(rstr.refs[name]["value_type"], L.SAMLID, name)
        if wsa:
            hdr = L.reply_headers(root)
            self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                             L.REPLY_ACTION["Renew"])
            self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)
        return new, rstr, r

    def cancel_ok(self, token, version=12):
        r = self.srv.cancel(token, version)
        self.assertEqual(r.status, 200, "Cancel failed: %r" % r.body[:3000])
        self.assertNoSecrets(r)
        _, items = L.parse_rstr_response(r, collection=False)
        c = items[0].cancelled
        self.assertIsNotNone(c, "wst:RequestedTokenCancelled")
        self.assertEqual(len(c), 0, "RequestedTokenCancelled is empty")
        self.assertFalse((c.text or "").strip(), "RequestedTokenCancelled is empty")
        return r, items[0]

    def check_linked(self, old_id, new_id):
        old, new = self.srv.row(old_id), self.srv.row(new_id)
        self.assertIsNotNone(old, "old row")
        self.assertIsNotNone(new, "new row")
        self.assertEqual(old["state"], 1, "old token state = renewed")
        self.assertEqual(old["replaced_by"], new_id)
        self.assertEqual(new["replaces"], old_id)
        self.assertEqual(new["state"], 0)
        self.assertEqual(new["subject"], L.USER)
        self.assertEqual(new["audience"], L.RP)
        self.assertEqual(new["requester"], L.USER)


class LifecycleTest(LifecycleMixin, L.StsTestCase):

    def test_full_cycle(self):
        _, rstr, t1 = self.issue_ok(12)
        id1 = L.assertion_facts(t1).id
        self.assertValid(t1)

        # renew: new assertion, linked in the store, old one no longer valid
        before = self.srv.snapshot()
        t2, _, _ = self.renew_ok(t1, wsa=True)
        id2 = L.assertion_facts(t2).id
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1, "renew adds one row")
        self.check_linked(id1, id2)
        self.assertInvalid(t1)
        self.assertValid(t2)

        # a renewed token cannot be renewed again
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.srv.renew(t1, 12), "UnableToRenew", 12, snap)

        # cancel the new one: validate says invalid, renew refused
        mark = self.srv.log_mark()
        r1, _ = self.cancel_ok(t2)
        self.assertLogged(mark, "ok")
        self.assertEqual(self.srv.row(id2)["state"], 2, "cancelled")
        self.assertInvalid(t2)
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.srv.renew(t2, 12), "UnableToRenew", 12, snap)
        self.assertRefused(lambda: self.srv.renew(t2, 11), "UnableToRenew", 11, snap)

        # cancel again: same answer, state unchanged
        snap = self.srv.snapshot()
        r2, _ = self.cancel_ok(t2)
        self.assertEqual(self.srv.snapshot(), snap, "second cancel changed the store")
        b1 = L.body_child(L.parse_xml(r1.body))
        b2 = L.body_child(L.parse_xml(r2.body))
        self.assertEqual(L.etree.tostring(b1, method="c14n"), L.etree.tostring(b2, method="c14n"),
                         "idempotent cancel: identical body")
        self.assertInvalid(t2)

    def test_cycle_over_soap11(self):
        _, _, t1 = self.issue_ok(11)
        self.assertValid(t1, 11)
        t2, _, _ = self.renew_ok(t1, version=11)
        self.check_linked(L.assertion_facts(t1).id, L.assertion_facts(t2).id)
        self.assertInvalid(t1, 11)
        self.assertValid(t2, 11)
        self.cancel_ok(t2, 11)
        self.assertInvalid(t2, 11)

    def test_cancel_of_renewed_predecessor(self):
        """Cancelling the (already renewed) old token is allowed (README: Cancel
        marks any token we issued to the requester cancelled); the successor stays
        valid and the old one stays invalid, now as cancelled."""
        _, _, t1 = self.issue_ok(12)
        t2, _, _ = self.renew_ok(t1)
        r = self.srv.cancel(t1, 12)
        self.assertEqual(r.status, 200, r.body[:2000])
        self.assertEqual(self.srv.row(L.assertion_facts(t1).id)["state"], 2)
        self.assertInvalid(t1)
        self.assertValid(t2)

    def test_no_action_requesttype_decides(self):
        """No SOAPAction/action parameter/wsa:Action: RequestType picks the binding."""
        _, _, t1 = self.issue_ok(12)
        for v in (11, 12):
            with self.subTest(version=v):
                r = self.srv.validate(t1, v, action=None)
                self.assertEqual(r.status, 200, r.body[:2000])
                _, items = L.parse_rstr_response(r, collection=False)
                self.assertEqual(items[0].status_code, L.STATUS_VALID)
        r = self.srv.renew(t1, 12, action=None)
        self.assertEqual(r.status, 200, r.body[:2000])
        t2 = L.extract_assertion_bytes(r.body)
        r = self.srv.cancel(t2, 11, action=None)
        self.assertEqual(r.status, 200, r.body[:2000])
        self.assertEqual(self.srv.row(L.assertion_facts(t2).id)["state"], 2)

    def test_validate_reply_addressing(self):
        _, _, t1 = self.issue_ok(12)
        mid = "urn:uuid:" + str(uuid.uuid4())
        r = self.srv.validate(t1, 12, wsa=True, message_id=mid)
        self.assertEqual(r.status, 200, r.body[:2000])
        root, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_VALID)
        hdr = L.reply_headers(root)
        self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                         L.REPLY_ACTION["Validate"])
        self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)
        mid = "urn:uuid:" + str(uuid.uuid4())
        r = self.srv.cancel(t1, 12, wsa=True, message_id=mid)
        self.assertEqual(r.status, 200, r.body[:2000])
        hdr = L.reply_headers(L.parse_xml(r.body))
        self.assertEqual(hdr.findtext("wsa:Action", namespaces=L.NS).strip(),
                         L.REPLY_ACTION["Cancel"])
        self.assertEqual(hdr.findtext("wsa:RelatesTo", namespaces=L.NS).strip(), mid)


class ExpiredWithinWindowTest(LifecycleMixin, L.StsTestCase):
    """default_lifetime 2 s, no clock skew: after ~3 s the token is expired but
    still inside the renew window."""

    CONFIG = staticmethod(lambda: L.default_config(default_lifetime=2, clock_skew=0))

    def test_renew_expired_token(self):
        """Issued with wst:Renewing OK="true": renewable after it expired (within the
        window); the same token issued without it is not."""
        _, _, plain = self.issue_ok(12)
        _, rstr, t1 = self.issue_ok(12, extra='<wst:Renewing OK="true"/>')
        exp = L.parse_time(rstr.lifetime_expires)
        self.assertLessEqual((exp - L.parse_time(rstr.lifetime_created)).total_seconds(), 2.5,
                             "config default_lifetime=2 honoured")
        wait = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1.2
        time.sleep(max(wait, 0))
        self.assertInvalid(t1)
        before = self.srv.snapshot()
        t2, rstr2, _ = self.renew_ok(t1)
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1)
        self.check_linked(L.assertion_facts(t1).id, L.assertion_facts(t2).id)
        self.assertGreater(L.parse_time(rstr2.lifetime_expires), exp, "new lifetime")
        self.assertInvalid(t1)
        self.assertRefused(lambda: self.srv.renew(plain, 12), "UnableToRenew", 12)


class ExpiredBeyondWindowTest(LifecycleMixin, L.StsTestCase):
    """default_lifetime 1 s, renew_window 1 s: after ~3 s renewal is refused."""

    CONFIG = staticmethod(lambda: L.default_config(default_lifetime=1, clock_skew=0,
                                                   renew_window=1))

    def test_renew_refused_beyond_window(self):
        _, rstr, t1 = self.issue_ok(12, extra='<wst:Renewing OK="true"/>')
        exp = L.parse_time(rstr.lifetime_expires)
        wait = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 2.5
        time.sleep(max(wait, 0))
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.srv.renew(t1, 12), "UnableToRenew", 12, snap)
        self.assertInvalid(t1)


def _two_users():
    cfg = L.default_config()
    cfg["users"].append(L.make_user("bob", "looking-glass", {"role": "nurse"}))
    return cfg


class TwoUsersTest(LifecycleMixin, L.StsTestCase):
    """Renew and Cancel need the user the token was issued to."""

    CONFIG = staticmethod(_two_users)
    BOB = {"username": "bob", "password": "looking-glass"}

    def test_bob_issues_his_own(self):
        before = self.srv.snapshot()
        r = self.srv.issue(version=12, digest=True, **self.BOB)
        self.assertEqual(r.status, 200, r.body[:2000])
        a = L.assertion_facts(L.extract_assertion_bytes(r.body))
        self.assertEqual(a.subject, "bob")
        self.assertEqual(a.attributes.get("role"), ["nurse"])
        row = self.srv.row(a.id)
        self.assertEqual((row["subject"], row["requester"], row["state"]), ("bob", "bob", 0))
        self.assertEqual(len(self.srv.snapshot()), len(before) + 1)

    def test_bob_cannot_renew_alices_token(self):
        _, _, t1 = self.issue_ok(12)
        snap = self.srv.snapshot()
        for v in (11, 12):
            with self.subTest(version=v):
                self.assertRefused(lambda: self.srv.renew(t1, v, **self.BOB), "UnableToRenew",
                                   v, snap)
        self.assertValid(t1)

    def test_bob_cannot_cancel_alices_token(self):
        _, _, t1 = self.issue_ok(12)
        snap = self.srv.snapshot()
        for v in (11, 12):
            with self.subTest(version=v):
                self.assertRefused(lambda: self.srv.cancel(t1, v, **self.BOB), "RequestFailed",
                                   v, snap)
        self.assertValid(t1)
        self.assertEqual(self.srv.row(L.assertion_facts(t1).id)["state"], 0)

    def test_alice_password_is_not_bobs(self):
        snap = self.srv.snapshot()
        self.assertRefused(lambda: self.srv.issue(version=12, username="bob",
                                                  password=L.PASSWORD),
                           "FailedAuthentication", 12, snap)


if __name__ == "__main__":
    unittest.main(verbosity=2)
