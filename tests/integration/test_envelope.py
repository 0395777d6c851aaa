# SPDX-License-Identifier: GPL-2.0-or-later
"""The SOAP envelope as the STS must read it: one parse, every field from it.
Envelope shape (E1), Security headers addressed to other nodes (E2), document
encodings (E3), RST children outside the binding (E4), the Feb 2005 WS-Trust
namespace (E5), attribute floods (E6), PasswordDigest replay across users (E7),
SOAP 1.2 mustUnderstand (E8), WS-Addressing read from the same tree (E9).
Every refusal: exact fault and HTTP status, store unchanged, server alive,
refusal logged (wst: faults), password never logged."""
import os
import sys
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

BOTH = (11, 12)
S12 = L.NS["s12"]
ROLE_NONE = S12 + "/role/none"
ROLE_NEXT = S12 + "/role/next"
ROLE_ULTIMATE = S12 + "/role/ultimateReceiver"
WST2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
PROLOG = '<?xml version="1.0" encoding="utf-8"?>'


def raw_envelope(version, children, prolog=PROLOG):
    """An Envelope whose children are given verbatim (any order, any number)."""
    return ('%s<s:Envelope xmlns:s="%s" xmlns:wsa="%s" xmlns:wsu="%s">%s</s:Envelope>'
            % (prolog or "", L.ENV_NS[version], L.NS["wsa"], L.NS["wsu"],
               "".join(children))).encode("utf-8")


def header(content):
    return "<s:Header>%s</s:Header>" % content


def body(content):
    return "<s:Body>%s</s:Body>" % content


def with_attr(security, attr):
    """Put @attr (verbatim) on the wsse:Security start tag."""
    return security.replace("<wsse:Security", "<wsse:Security " + attr, 1)


def _config_with_bob():
    cfg = L.default_config()
    cfg["users"].append(L.make_user("bob", L.PASSWORD, {"email": "bob@example.com"}))
    return cfg


class EnvelopeTest(L.WithIssuedToken, L.StsTestCase):

    CONFIG = staticmethod(_config_with_bob)

    # --- helpers ---
    def post(self, raw, version, binding="Issue", content_type=None):
        h = L.soap_headers(version, L.ACTION[binding])
        if content_type is not None:
            h["Content-Type"] = content_type
        return self.srv.post_raw(raw, h)

    def refused_raw(self, raw, code, version, binding="Issue", content_type=None):
        return self.assertRefused(lambda: self.post(raw, version, binding, content_type),
                                  code, version)

    def assertIssuedResp(self, r):
        self.assertEqual(r.status, 200, "expected a token: %r" % r.body[:1500])
        _, items = L.parse_rstr_response(r, collection=True)
        self.assertEqual(len(items), 1)
        self.assertIsNotNone(items[0].assertion)

    # ------------------------------------------------------------------
    # E1: Envelope children are exactly [Header?, Body]
    # ------------------------------------------------------------------
    def test_e1_envelope_children(self):
        extra = '<x:Extra xmlns:x="urn:example:extra">1</x:Extra>'
        for v in BOTH:
            sec = L.security_xml(v)
            issue = L.rst_issue()
            cases = {
                "Header after Body": [body(issue), header(sec)],
                "two Bodies": [header(sec), body(issue), body(issue)],
                "two Bodies, the second a Validate": [
                    header(sec), body(issue), body(L.rst_target("Validate", self.token))],
                "two Headers, Security in the first": [header(sec), header(""), body(issue)],
                "two Headers, Security in the second": [header(""), header(sec), body(issue)],
                "two Headers, Security in both": [header(sec), header(L.security_xml(v)),
                                                  body(issue)],
                "extra element after Body": [header(sec), body(issue), extra],
                "extra element before Header": [extra, header(sec), body(issue)],
                "extra element between Header and Body": [header(sec), extra, body(issue)],
                "extra envelope-namespace element after Body": [
                    header(sec), body(issue), "<s:Trailer/>"],
            }
            for name, children in cases.items():
                with self.subTest(case=name, version=v):
                    self.refused_raw(raw_envelope(v, children), "InvalidRequest", v)

    def test_e1_control_whitespace_between_children(self):
        for v in BOTH:
            with self.subTest(version=v):
                raw = raw_envelope(v, ["\n  ", header(L.security_xml(v)), "\n  ",
                                       body(L.rst_issue()), "\n"])
                self.assertIssuedResp(self.post(raw, v))

    # ------------------------------------------------------------------
    # E2: a wsse:Security header addressed to another node is not ours
    # ------------------------------------------------------------------
    def test_e2_security_for_another_node_refused(self):
        cases = [
            (11, 's:actor="http://other.example/"'),
            (12, 's:role="http://other.example/"'),
            (12, 's:role="%s"' % ROLE_NONE),
        ]
        for v, attr in cases:
            with self.subTest(version=v, attr=attr):
                sec = with_attr(L.security_xml(v), attr)
                self.assertRefused(lambda: self.srv.issue(version=v, security=sec),
                                   "FailedAuthentication", v)

    def test_e2_security_for_us_accepted(self):
        cases = [(11, None), (12, None), (12, 's:role="%s"' % ROLE_ULTIMATE),
                 (12, 's:role="%s"' % ROLE_NEXT)]
        for v, attr in cases:
            with self.subTest(version=v, attr=attr or "(none)"):
                sec = L.security_xml(v)
                if attr:
                    sec = with_attr(sec, attr)
                self.assertIssuedResp(self.srv.issue(version=v, security=sec))

    def test_e2_other_node_header_ignored(self):
        """Next to the Security header for us (bob), one addressed to another node
        (alice's credentials) is ignored, in either order: the token is bob's."""
        cases = [(12, 's:role="http://other.example/"'), (12, 's:role="%s"' % ROLE_NONE),
                 (11, 's:actor="http://other.example/"')]
        for v, attr in cases:
            other = with_attr(L.security_xml(v, username="alice"), attr)
            ours = L.security_xml(v, username="bob")
            for order, sec in (("other first", other + ours), ("ours first", ours + other)):
                with self.subTest(version=v, attr=attr, order=order):
                    r = self.srv.issue(version=v, security=sec)
                    self.assertIssuedResp(r)
                    a = L.assertion_facts(L.extract_assertion_bytes(r.body))
                    self.assertEqual(a.subject, "bob", "authenticated from the wrong header")

    # ------------------------------------------------------------------
    # E3: one encoding, one parse
    # ------------------------------------------------------------------
    def test_e3_utf7_refused(self):
        for v in BOTH:
            for uname in ("+AGE-lice", "alice"):
                with self.subTest(version=v, username=uname):
                    self.refused_raw(
                        L.envelope(L.rst_issue(), v,
                                   L.security_xml(v, raw_username=uname),
                                   prolog='<?xml version="1.0" encoding="UTF-7"?>'),
                        "InvalidRequest", v)

    def test_e3_utf16_refused(self):
        for v in BOTH:
            doc = L.envelope(L.rst_issue(), v, L.security_xml(v),
                             prolog='<?xml version="1.0" encoding="UTF-16"?>').decode("utf-8")
            ct = "text/xml; charset=utf-16" if v == 11 else (
                'application/soap+xml; charset=utf-16; action="%s"' % L.ACTION["Issue"])
            cases = [
                ("UTF-16LE with BOM", doc.encode("utf-16"), None),
                ("UTF-16BE with BOM", b"\xfe\xff" + doc.encode("utf-16-be"), None),
                ("UTF-16 with BOM, charset=utf-16", doc.encode("utf-16"), ct),
            ]
            for name, raw, ctype in cases:
                with self.subTest(version=v, case=name):
                    self.refused_raw(raw, "InvalidRequest", v, content_type=ctype)

    def test_e3_utf8_declarations_accepted(self):
        for v in BOTH:
            for enc in ("UTF-8", "utf-8"):
                with self.subTest(version=v, encoding=enc):
                    r = self.srv.issue(version=v,
                                       prolog='<?xml version="1.0" encoding="%s"?>' % enc)
                    self.assertIssuedResp(r)

    # ------------------------------------------------------------------
    # E4: RST children outside what the binding supports -> wst:BadRequest
    # ------------------------------------------------------------------
    def _foreign_children(self, other_target):
        wsse = L.NS["wsse"]
        return [
            ("wst:Lifetime", '<wst:Lifetime><wsu:Created>%s</wsu:Created><wsu:Expires>%s'
                             '</wsu:Expires></wst:Lifetime>' % (L.ts(), L.ts(600))),
            ("wst:KeyType", "<wst:KeyType>%s</wst:KeyType>" % L.KT_BEARER),
            ("wst:OnBehalfOf", '<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="%s">'
                               '<wsse:Username>bob</wsse:Username></wsse:UsernameToken>'
                               '</wst:OnBehalfOf>' % wsse),
            ("wst:Claims", '<wst:Claims Dialect="http://schemas.xmlsoap.org/ws/2005/05/identity">'
                           '<x:ClaimType xmlns:x="urn:example:claims" Uri="urn:x"/></wst:Claims>'),
            ("foreign element", '<x:Ext xmlns:x="urn:example:foreign">1</x:Ext>'),
            ("wsp:AppliesTo", L.applies_to_xml(L.RP)),
            (other_target, "<wst:%s>%s</wst:%s>" % (other_target, self.token.decode(),
                                                    other_target)),
        ]

    def _target_rst(self, binding, extra, first):
        target = "<wst:%sTarget>%s</wst:%sTarget>" % (binding, self.token.decode(), binding)
        tt = ("<wst:TokenType>%s</wst:TokenType>" % L.TT_STATUS) if binding == "Validate" else ""
        inner = (extra + tt + target) if first else (tt + target + extra)
        return L.rst_xml(L.REQUEST_TYPE[binding], inner)

    def _e4_binding(self, binding, other_target):
        before = self.srv.snapshot()
        for i, (name, extra) in enumerate(self._foreign_children(other_target)):
            for v in ((12, 11) if i < 2 else (12,)):
                with self.subTest(binding=binding, child=name, version=v):
                    rst = self._target_rst(binding, extra, first=bool(i % 2))
                    self.assertRefused(lambda: self.srv.soap(binding, rst, v), "BadRequest", v,
                                       store_before=before)

    def test_e4_validate_extra_children(self):
        self._e4_binding("Validate", "RenewTarget")

    def test_e4_renew_extra_children(self):
        self._e4_binding("Renew", "ValidateTarget")
        self.assertValid(self.token)  # not renewed

    def test_e4_cancel_extra_children(self):
        self._e4_binding("Cancel", "ValidateTarget")
        self.assertValid(self.token)  # not cancelled

    def test_e4_control_allowed_children(self):
        """RequestType, TokenType and the binding's own target only: served."""
        r = self.srv.soap("Validate", self._target_rst("Validate", "", False), 12)
        self.assertEqual(r.status, 200, r.body[:1000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_VALID)

    def test_e4_issue_unsupported_children(self):
        tok = self.token.decode()
        entropy = L.base64.b64encode(os.urandom(32)).decode()
        # (SymmetricKey parameters, Claims, OnBehalfOf, ActAs, SecondaryParameters,
        # AllowPostdating and Renewing are served: test_proof_key.py, test_claims.py,
        # test_delegation.py, test_renew_rules.py)
        cases = [
            ("wst:UseKey", '<wst:UseKey><x:K xmlns:x="urn:example:key"/></wst:UseKey>',
             "BadRequest"),
            ("foreign element", '<x:Ext xmlns:x="urn:example:foreign">1</x:Ext>', "BadRequest"),
            ("wst:ValidateTarget", "<wst:ValidateTarget>%s</wst:ValidateTarget>" % tok,
             "BadRequest"),
            ("wst:RenewTarget", "<wst:RenewTarget>%s</wst:RenewTarget>" % tok, "BadRequest"),
            ("wst:CancelTarget", "<wst:CancelTarget>%s</wst:CancelTarget>" % tok, "BadRequest"),
            # key parameters with a bearer request: refused, never ignored
            ("wst:Entropy", "<wst:Entropy><wst:BinarySecret>%s</wst:BinarySecret></wst:Entropy>"
             % entropy, "InvalidRequest"),
            ("wst:KeySize", "<wst:KeySize>256</wst:KeySize>", "InvalidRequest"),
            ("wst:ComputedKeyAlgorithm", "<wst:ComputedKeyAlgorithm>%s/CK/PSHA1"
                                         "</wst:ComputedKeyAlgorithm>" % L.WST, "InvalidRequest"),
        ]
        before = self.srv.snapshot()
        for i, (name, extra, code) in enumerate(cases):
            for v in ((12, 11) if i in (0, 1) else (12,)):
                with self.subTest(child=name, version=v):
                    self.assertRefused(lambda: self.srv.issue(version=v, extra=extra),
                                       code, v, store_before=before)

    # ------------------------------------------------------------------
    # E5: WS-Trust Feb 2005 (the whole of it is in test_wst2005.py)
    # ------------------------------------------------------------------
    def test_e5_trust_2005_namespace(self):
        rst = ('<t:RequestSecurityToken xmlns:t="%s"><t:TokenType>%s</t:TokenType>%s'
               '<t:KeyType>%s</t:KeyType><t:RequestType>%s/Issue</t:RequestType>'
               '</t:RequestSecurityToken>'
               % (WST2005, L.TT_SAML2, L.applies_to_xml(L.RP),
                  "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey", WST2005))
        for v, action in ((12, WST2005 + "/RST/Issue"), (11, WST2005 + "/RST/Issue"), (12, None)):
            with self.subTest(version=v, action=action, check="served"):
                r = self.srv.soap("Issue", rst, v, action=action)
                self.assertEqual(r.status, 200, r.body[:800])
                self.assertEqual(L.body_child(L.parse_xml(r.body)).tag,
                                 "{%s}RequestSecurityTokenResponse" % WST2005)
        # a 1.3 action on a 2005 RST: versions are never mixed
        with self.subTest(version=12, action=L.ACTION["Issue"], check="refused"):
            before = self.srv.snapshot()
            mark = self.srv.log_mark()
            r = self.srv.soap("Issue", rst, 12, action=L.ACTION["Issue"])
            f = L.parse_fault(r)
            self.assertIsNotNone(f, "expected a fault: HTTP %d %r" % (r.status, r.body[:800]))
            self.assertEqual(r.status, 400)
            # answered in the WS-Trust namespace the client spoke (2005/02)
            self.assertEqual(f.subcode, "{%s}InvalidRequest" % WST2005)
            self.assertNotIn(b"Assertion", r.body)
            self.assertEqual(self.srv.snapshot(), before)
            self.assertTrue(self.srv.alive())
            self.assertLogged(mark, "wst:InvalidRequest")

    # ------------------------------------------------------------------
    # E6: attribute floods
    # ------------------------------------------------------------------
    def _flood(self, attrs, where="rst"):
        if where == "rst":
            extra_rst = "<wst:KeyType %s>%s</wst:KeyType>" % (attrs, L.KT_BEARER)
            rst = L.rst_issue(key_type=None, extra=extra_rst)
            raw = L.envelope(rst, 12, L.security_xml(12))
        else:
            hdr = '<x:Flood xmlns:x="urn:example:flood" %s/>' % attrs
            raw = L.envelope(L.rst_issue(), 12, L.security_xml(12) + hdr)
        self.assertLess(len(raw), 1048576, "keep the flood under max_message_size")
        return raw

    def test_e6_90000_attributes(self):
        attrs = " ".join('a%d=""' % i for i in range(90000))
        for where in ("rst", "header"):
            with self.subTest(where=where):
                raw = self._flood(attrs, where)
                r = self.refused_raw(raw, "InvalidRequest", 12)
                self.assertLess(r.elapsed, 2.0, "took %.2fs" % r.elapsed)

    def test_e6_30000_namespace_declarations(self):
        attrs = " ".join('xmlns:p%d="urn:p%d"' % (i, i) for i in range(30000))
        for where in ("rst", "header"):
            with self.subTest(where=where):
                raw = self._flood(attrs, where)
                r = self.refused_raw(raw, "InvalidRequest", 12)
                self.assertLess(r.elapsed, 2.0, "took %.2fs" % r.elapsed)

    def test_e6_60_attributes_fine(self):
        attrs = " ".join('a%d="v"' % i for i in range(60))
        for where in ("rst", "header"):
            with self.subTest(where=where):
                self.assertIssuedResp(self.post(self._flood(attrs, where), 12))

    def test_e6_boundary_64_and_65_attributes(self):
        """Reading "the limit is 64 per element" as: 64 plain attributes pass, 65 do
        not (a separate test, so that a different reading of the boundary shows up
        on its own)."""
        for n, ok in ((64, True), (65, False)):
            attrs = " ".join('a%d="v"' % i for i in range(n))
            with self.subTest(attributes=n):
                raw = self._flood(attrs, "rst")
                if ok:
                    self.assertIssuedResp(self.post(raw, 12))
                else:
                    self.refused_raw(raw, "InvalidRequest", 12)

    # ------------------------------------------------------------------
    # E7: a PasswordDigest nonce is spent, whoever presents it
    # ------------------------------------------------------------------
    def test_e7_control_bob_digest_works(self):
        """Otherwise E7 would prove nothing: bob (same password as alice) can log in
        with a fresh PasswordDigest."""
        r = self.srv.issue(version=12, username="bob", digest=True)
        self.assertIssuedResp(r)

    def test_e7_digest_replay_across_users(self):
        for first, second in (("alice", "bob"), ("bob", "alice")):
            with self.subTest(first=first, then=second):
                nonce, created = os.urandom(16), L.ts()
                r = self.srv.issue(version=12, username=first, digest=True, nonce=nonce,
                                   created=created)
                self.assertIssuedResp(r)
                self.assertRefused(
                    lambda: self.srv.issue(version=12, username=second, digest=True,
                                           nonce=nonce, created=created),
                    "FailedAuthentication", 12)

    # ------------------------------------------------------------------
    # E8: SOAP 1.2 mustUnderstand on an unknown header block
    # ------------------------------------------------------------------
    def test_e8_soap12_must_understand(self):
        cases = [("true", ""), ("1", ""), ("true", ' s:role="%s"' % ROLE_NEXT),
                 ("true", ' s:role="%s"' % ROLE_ULTIMATE)]
        for val, role in cases:
            with self.subTest(mustUnderstand=val, role=role or "(none)"):
                hdr = ('<x:Unknown xmlns:x="urn:example:mu" s:mustUnderstand="%s"%s>v'
                       '</x:Unknown>' % (val, role))
                before = self.srv.snapshot()
                r = self.srv.issue(version=12, extra_headers=hdr)
                f = L.parse_fault(r)
                self.assertIsNotNone(f, "expected a SOAP fault: HTTP %d %r"
                                     % (r.status, r.body[:800]))
                self.assertEqual(f.version, 12)
                self.assertEqual(f.code, "{%s}MustUnderstand" % S12, "Code/Value")
                self.assertEqual(r.status, 500, "HTTP status of a MustUnderstand fault")
                self.assertTrue(r.headers.get("content-type", "").startswith(
                    "application/soap+xml"), r.headers.get("content-type"))
                self.assertNotIn(b"Assertion", r.body)
                self.assertNoSecrets(r)
                self.assertEqual(self.srv.snapshot(), before)
                self.assertTrue(self.srv.alive())

    def test_e8_control_must_understand_false(self):
        hdr = '<x:Unknown xmlns:x="urn:example:mu" s:mustUnderstand="false">v</x:Unknown>'
        self.assertIssuedResp(self.srv.issue(version=12, extra_headers=hdr))

    # ------------------------------------------------------------------
    # E9: WS-Addressing from the same tree
    # ------------------------------------------------------------------
    def test_e9_wsa_action_vs_http_action(self):
        self.assertRefused(
            lambda: self.srv.soap("Issue", L.rst_issue(), 12, wsa=True,
                                  action=L.ACTION["Validate"], wsa_action=L.ACTION["Issue"]),
            "InvalidRequest", 12)

    def test_e9_late_prefixed_action(self):
        """wsa:Action under another prefix, after other headers: still the action
        that must agree with the HTTP action and with RequestType."""
        wsa = L.NS["wsa"]

        def hdrs(v, action):
            return (L.security_xml(v) + '<x:Other xmlns:x="urn:example:other">1</x:Other>'
                    + '<a9:Action xmlns:a9="%s" xmlns:j="urn:junk">%s</a9:Action>' % (wsa, action)
                    + "<wsa:MessageID>urn:uuid:%s</wsa:MessageID>" % uuid.uuid4())
        cases = [
            ("HTTP Validate, wsa Issue", 11, L.ACTION["Validate"], L.ACTION["Issue"]),
            ("HTTP Validate, wsa Issue", 12, L.ACTION["Validate"], L.ACTION["Issue"]),
            ("no HTTP action, wsa Validate, RequestType Issue", 12, None, L.ACTION["Validate"]),
            ("no HTTP action, wsa Validate, RequestType Issue", 11, None, L.ACTION["Validate"]),
        ]
        for name, v, http_action, wsa_action in cases:
            with self.subTest(case=name, version=v):
                self.assertRefused(
                    lambda: self.srv.soap("Issue", L.rst_issue(), v, action=http_action,
                                          security="", extra_headers=hdrs(v, wsa_action)),
                    "InvalidRequest", v)
        with self.subTest(case="control: agreeing late prefixed Action"):
            r = self.srv.soap("Issue", L.rst_issue(), 12, security="",
                              extra_headers=hdrs(12, L.ACTION["Issue"]))
            self.assertIssuedResp(r)

    def test_e9_reply_to_late_and_prefixed(self):
        wsa = L.NS["wsa"]
        with L.ConnCounter() as lis:
            steal = lis.url + "/steal"
            variants = {
                "ReplyTo, other prefix + extra xmlns, after other headers":
                    '<a2:ReplyTo xmlns:a2="%s" xmlns:j1="urn:junk1" xmlns:j2="urn:junk2">'
                    '<a2:Address>%s</a2:Address></a2:ReplyTo>' % (wsa, steal),
                "ReplyTo, default namespace":
                    '<ReplyTo xmlns="%s"><Address>%s</Address></ReplyTo>' % (wsa, steal),
                "ReplyTo, Address not first":
                    '<a3:ReplyTo xmlns:a3="%s"><a3:ReferenceParameters/><a3:Address>%s'
                    '</a3:Address></a3:ReplyTo>' % (wsa, steal),
                "FaultTo, other prefix":
                    '<a4:FaultTo xmlns:a4="%s" xmlns:j3="urn:junk3"><a4:Address>%s'
                    '</a4:Address></a4:FaultTo>' % (wsa, steal),
            }
            for v in BOTH:
                for name, reply in variants.items():
                    with self.subTest(case=name, version=v):
                        hdrs = (L.security_xml(v)
                                + '<x:Other xmlns:x="urn:example:other">1</x:Other>'
                                + '<wsa:Action s:mustUnderstand="1">%s</wsa:Action>'
                                % L.ACTION["Issue"]
                                + "<wsa:MessageID>urn:uuid:%s</wsa:MessageID>" % uuid.uuid4()
                                + "<wsa:To>%s</wsa:To>" % self.srv.url
                                + '<y:More xmlns:y="urn:example:more"/>'
                                + reply)
                        self.assertRefused(
                            lambda: self.srv.soap("Issue", L.rst_issue(), v, security="",
                                                  extra_headers=hdrs),
                            "InvalidRequest", v)
            self.assertEqual(lis.close(1.0), 0, "the server connected to ReplyTo/FaultTo")


if __name__ == "__main__":
    unittest.main(verbosity=2)
