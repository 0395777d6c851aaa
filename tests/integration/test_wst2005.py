#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""WS-Trust Feb 2005 (http://schemas.xmlsoap.org/ws/2005/02/trust, issue #4),
as AD FS 2.0-era and WCF clients on "trust/2005" endpoints send it, on the same
/sts endpoint as WS-Trust 1.3:

- Issue answers with a bare wst:RequestSecurityTokenResponse (no collection) in
  the 2005/02 namespace, wsa:Action .../RSTR/Issue, KeyType NoProofKey for a
  bearer request; the assertion verifies with xmlsec1 and samlsign.
- Validate answers .../2005/02/trust/RSTR/Status with the 2005 status codes;
  Renew and Cancel answer RSTR/Renew and RSTR/Cancel; the lifecycle holds
  across versions (issued over 2005, validated over 1.3 and the other way).
- Faults carry the 2005/02 namespace; versions are never mixed: a 2005 RST
  with a 1.3 RequestType or child, or an action of the other version, is
  refused with the exact fault, the store unchanged.
- Each answer is in the namespace of its own RST: on one keep-alive
  connection, and whatever other namespaces the envelope declares."""
import http.client
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

W5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
NO_PROOF_KEY = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey"
RT5 = {b: W5 + "/" + b for b in ("Issue", "Validate", "Renew", "Cancel")}
ACTION5 = {b: W5 + "/RST/" + b for b in ("Issue", "Validate", "Renew", "Cancel")}
REPLY5 = {b: W5 + "/RSTR/" + b for b in ("Issue", "Validate", "Renew", "Cancel")}
STATUS5_TT = W5 + "/RSTR/Status"
STATUS5_VALID = W5 + "/status/valid"
STATUS5_INVALID = W5 + "/status/invalid"
NS5 = dict(L.NS, wst=W5)
BOTH = (11, 12)
ISSUE_ORDER = ["{%s}Lifetime" % W5, L.q("wsp", "AppliesTo"), "{%s}RequestedSecurityToken" % W5,
               "{%s}RequestedAttachedReference" % W5, "{%s}RequestedUnattachedReference" % W5,
               "{%s}TokenType" % W5, "{%s}RequestType" % W5, "{%s}KeyType" % W5]


def rst5(request_type, inner=""):
    return ('<t:RequestSecurityToken xmlns:t="%s">%s<t:RequestType>%s</t:RequestType>'
            '</t:RequestSecurityToken>' % (W5, inner, request_type))


def rst5_issue(applies_to=L.RP, token_type=None, key_type=NO_PROOF_KEY, extra=""):
    inner = ""
    if token_type is not None:
        inner += "<t:TokenType>%s</t:TokenType>" % token_type
    inner += L.applies_to_xml(applies_to)
    if key_type is not None:
        inner += "<t:KeyType>%s</t:KeyType>" % key_type
    return rst5(RT5["Issue"], inner + extra)


def rst5_target(binding, token):
    tt = "<t:TokenType>%s</t:TokenType>" % STATUS5_TT if binding == "Validate" else ""
    token = token.decode() if isinstance(token, bytes) else token
    return rst5(RT5[binding], "%s<t:%sTarget>%s</t:%sTarget>" % (tt, binding, token, binding))


class Wst2005Test(L.StsTestCase):

    CONFIG = None  # the embedded default

    def send5(self, binding, rst, version=12, action=True, wsa=True):
        act = ACTION5[binding] if action else None
        return self.srv.soap(binding, rst, version, action=act, wsa=wsa)

    def rstr5(self, resp, binding, version, wsa=True):
        """The bare 2005 RSTR of a 200 answer, after checking the envelope
        (wsa: the request had WS-Addressing headers, so the answer has)."""
        self.assertEqual(resp.status, 200, "%s failed: %r" % (binding, resp.body[:1500]))
        self.assertNoSecrets(resp)
        root = L.parse_xml(resp.body)
        self.assertEqual(L.soap_version_of(root), version)
        child = L.body_child(root)
        self.assertEqual(child.tag, "{%s}RequestSecurityTokenResponse" % W5,
                         "bare RSTR in the 2005/02 namespace")
        self.assertNotIn(L.WST.encode(), resp.body, "no WS-Trust 1.3 namespace in a 2005 answer")
        header = L.reply_headers(root)
        action = header.find("wsa:Action", L.NS) if header is not None else None
        if wsa:
            self.assertIsNotNone(action, "wsa:Action in the reply")
            self.assertEqual(action.text, REPLY5[binding])
        else:
            self.assertIsNone(action, "no WS-Addressing in, none out")
        if version == 12:
            self.assertIn('action="%s"' % REPLY5[binding], resp.headers.get("content-type", ""))
        return child

    def issue5(self, version=12, **kw):
        r = self.send5("Issue", rst5_issue(**kw), version)
        rstr = self.rstr5(r, "Issue", version)
        return r, rstr, L.extract_assertion_bytes(r.body)

    def status5(self, token, version=12):
        r = self.send5("Validate", rst5_target("Validate", token), version)
        rstr = self.rstr5(r, "Validate", version)
        self.assertEqual(rstr.findtext("wst:TokenType", namespaces=NS5), STATUS5_TT)
        return rstr.findtext("wst:Status/wst:Code", namespaces=NS5)

    def assertFault5(self, resp, code, version):
        f = L.parse_fault(resp)
        self.assertIsNotNone(f, "expected a fault: %r" % resp.body[:1500])
        want = "{%s}%s" % (W5, code)
        self.assertEqual(f.code if version == 11 else f.subcode, want)
        self.assertEqual(resp.status, 500 if version == 11 else 400)
        self.assertEqual((f.reason or "").strip(), L.FAULT_TEXT[code])
        self.assertNoSecrets(resp)

    def assertRefused5(self, send, code, version=12):
        before = self.srv.snapshot()
        mark = self.srv.log_mark()
        resp = send()
        self.assertFault5(resp, code, version)
        self.assertEqual(self.srv.snapshot(), before, "store changed by a refused request")
        self.assertTrue(self.srv.alive())
        self.assertLogged(mark, "wst:" + code)

    # ---- Issue ------------------------------------------------------------
    def test_issue_bare_rstr_in_2005_shape(self):
        for v in BOTH:
            with self.subTest(soap=v):
                r, rstr, a = self.issue5(v)
                self.assertEqual([c.tag for c in rstr], ISSUE_ORDER, "children and order")
                self.assertEqual(rstr.findtext("wst:RequestType", namespaces=NS5), RT5["Issue"])
                self.assertEqual(rstr.findtext("wst:KeyType", namespaces=NS5), NO_PROOF_KEY)
                self.assertEqual(rstr.findtext("wst:TokenType", namespaces=NS5), L.TT_SAML2)
                self.assertEqual(rstr.findtext("wsp:AppliesTo/wsa:EndpointReference/wsa:Address",
                                               namespaces=NS5), L.RP)
                facts = L.assertion_facts(a)
                kid = rstr.find("wst:RequestedAttachedReference/wsse:SecurityTokenReference/"
                                "wsse:KeyIdentifier", NS5)
                self.assertEqual(kid.text, facts.id)
                self.assertEqual(facts.audiences, [L.RP])
                self.assertTrue(L.xmlsec_verify(a).ok, "xmlsec1")
                self.assertTrue(L.samlsign_verify(a).ok, "samlsign")

    def test_issue_without_action_or_key_type(self):
        """Dispatch is by RequestType: no SOAPAction/wsa:Action, no KeyType (= bearer)."""
        r = self.srv.soap("Issue", rst5_issue(key_type=None), 11, action=None)
        rstr = self.rstr5(r, "Issue", 11, wsa=False)
        self.assertEqual(rstr.findtext("wst:KeyType", namespaces=NS5), NO_PROOF_KEY)

    def test_issue_saml11_and_jwt(self):
        r = self.send5("Issue", rst5_issue(token_type=L.TT_SAML11))
        rstr = self.rstr5(r, "Issue", 12)
        self.assertEqual(rstr.findtext("wst:TokenType", namespaces=NS5), L.TT_SAML11)
        r = self.send5("Issue", rst5_issue(token_type=L.TT_JWT))
        rstr = self.rstr5(r, "Issue", 12)
        bst = rstr.find("wst:RequestedSecurityToken/wsse:BinarySecurityToken", NS5)
        self.assertEqual(bst.get("ValueType"), L.TT_JWT)

    def test_symmetric_key_refused_like_13(self):
        """Key types map onto the engine's: 2005 SymmetricKey is refused as 1.3's is."""
        r13 = self.srv.issue(key_type=L.KT_SYMMETRIC)
        code13 = L.parse_fault(r13).subcode.split("}")[1]
        self.assertRefused5(lambda: self.send5("Issue", rst5_issue(key_type=W5 + "/SymmetricKey")),
                            code13)

    # ---- lifecycle ----------------------------------------------------------
    def test_validate_renew_cancel(self):
        _, _, a = self.issue5()
        for v in BOTH:
            self.assertEqual(self.status5(a, v), STATUS5_VALID)
        r = self.send5("Renew", rst5_target("Renew", a))
        rstr = self.rstr5(r, "Renew", 12)
        self.assertEqual(rstr.findtext("wst:RequestType", namespaces=NS5), RT5["Renew"])
        self.assertEqual(rstr.findtext("wst:KeyType", namespaces=NS5), NO_PROOF_KEY)
        renewed = L.extract_assertion_bytes(r.body)
        self.assertTrue(L.xmlsec_verify(renewed).ok, "xmlsec1")
        self.assertEqual(self.status5(a), STATUS5_INVALID, "the renewed one is replaced")
        r = self.send5("Cancel", rst5_target("Cancel", renewed), 11)
        rstr = self.rstr5(r, "Cancel", 11)
        self.assertIsNotNone(rstr.find("wst:RequestedTokenCancelled", NS5))
        self.assertEqual(self.status5(renewed), STATUS5_INVALID)

    def test_lifecycle_across_versions(self):
        _, _, a5 = self.issue5()
        self.assertValid(a5)  # validated over 1.3
        _, _, a13 = self.issue_ok()
        self.assertEqual(self.status5(a13), STATUS5_VALID)
        self.srv.cancel(a13)
        self.assertEqual(self.status5(a13), STATUS5_INVALID)

    # ---- refusals -------------------------------------------------------------
    def test_fault_in_2005_namespace(self):
        for v in BOTH:
            with self.subTest(soap=v):
                self.assertRefused5(lambda: self.srv.soap(
                    "Issue", rst5_issue(), v, action=ACTION5["Issue"], password="wrong"),
                    "FailedAuthentication", v)

    def test_versions_never_mixed(self):
        cases = {
            "2005 RST, 1.3 RequestType": (rst5(L.REQUEST_TYPE["Issue"], L.applies_to_xml(L.RP)),
                                          ACTION5["Issue"], "InvalidRequest"),
            "2005 RST, 1.3 action": (rst5_issue(), L.ACTION["Issue"], "InvalidRequest"),
            "2005 RST, 1.3 KeyType element": (
                rst5_issue(key_type=None,
                           extra='<w:KeyType xmlns:w="%s">%s</w:KeyType>' % (L.WST, L.KT_BEARER)),
                ACTION5["Issue"], "BadRequest"),
        }
        for name, (rst, action, code) in cases.items():
            with self.subTest(case=name):
                self.assertRefused5(lambda: self.srv.soap("Issue", rst, 12, action=action), code)
        # and a 1.3 RST with a 2005 RequestType: a 1.3 fault
        self.assertRefused(lambda: self.srv.soap("Issue", L.rst_issue(request_type=RT5["Issue"])),
                           "InvalidRequest", 12)

    def test_validate_target_of_13_namespace_refused(self):
        _, _, a = self.issue5()
        rst = rst5(RT5["Validate"], '<w:ValidateTarget xmlns:w="%s">%s</w:ValidateTarget>'
                   % (L.WST, a.decode()))
        self.assertRefused5(lambda: self.send5("Validate", rst), "BadRequest")

    # ---- the answer's namespace -------------------------------------------------
    def test_keep_alive_each_answer_in_its_own_namespace(self):
        host, port = self.srv.url.split("//")[1].split("/")[0].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=L.HTTP_TIMEOUT)
        try:
            for rst, ns in ((rst5_issue(), W5), (L.rst_issue(), L.WST), (rst5_issue(), W5)):
                body = L.envelope(rst, 12, L.security_xml(12))
                conn.request("POST", "/sts", body, L.soap_headers(12, None))
                r = conn.getresponse()
                data = r.read()
                self.assertEqual(r.status, 200, data[:1000])
                self.assertEqual(re.findall(rb'xmlns:wst="([^"]*)"', data), [ns.encode()])
        finally:
            conn.close()

    def test_other_declarations_do_not_change_the_answer(self):
        """A 1.3 RST in an envelope that also declares the 2005 namespace (and
        the other way round) is answered in the RST's namespace."""
        decl5 = '<x:Extra xmlns:x="%s" xmlns:y="urn:example"/>' % W5
        decl13 = '<x:Extra xmlns:x="%s" xmlns:y="urn:example"/>' % L.WST
        r = self.srv.soap("Issue", L.rst_issue(), 12, extra_headers=decl5)
        self.assertEqual(r.status, 200, r.body[:1000])
        self.assertEqual(re.findall(rb'xmlns:wst="([^"]*)"', r.body), [L.WST.encode()])
        L.parse_rstr_response(r, collection=True)
        r = self.srv.soap("Issue", rst5_issue(), 12, action=ACTION5["Issue"], extra_headers=decl13)
        self.rstr5(r, "Issue", 12, wsa=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
