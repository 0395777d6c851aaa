# SPDX-License-Identifier: GPL-2.0-or-later
"""Every refusal path: exact fault (SOAP 1.1 and 1.2 shape + HTTP status), store
unchanged, server alive, refusal logged, password never logged. XML attacks
(DTD, XXE, billion laughs, PI), WS-Addressing SSRF, and Validate of tampered,
wrapped (XSW) and foreign-signed assertions."""
import copy
import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from lxml import etree  # noqa: E402

BOTH = (11, 12)


class FaultsTest(L.WithIssuedToken, L.StsTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # cls.token: one genuine token for Validate/Renew/Cancel
        cls.tmp = tempfile.mkdtemp(prefix="sts-faults-")
        cls.evil_key, cls.evil_cert = L.make_keypair(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def refused(self, code, version, **soap_kw):
        """Issue request built from soap_kw must be refused with wst:<code>."""
        binding = soap_kw.pop("binding", "Issue")
        rst = soap_kw.pop("rst", None)
        if rst is None:
            rst_kw = {k: soap_kw.pop(k) for k in ("applies_to", "token_type", "key_type",
                                                  "lifetime", "extra") if k in soap_kw}
            rst = L.rst_issue(**rst_kw)
        return self.assertRefused(lambda: self.srv.soap(binding, rst, version, **soap_kw),
                                  code, version)

    # ------------------------------------------------------------------
    # Requester authentication: always wst:FailedAuthentication, same text
    # ------------------------------------------------------------------
    def test_wrong_password(self):
        for v in BOTH:
            with self.subTest(version=v, kind="text"):
                self.refused("FailedAuthentication", v, password="not-the-password")
            with self.subTest(version=v, kind="digest"):
                self.refused("FailedAuthentication", v, password="not-the-password", digest=True)

    def test_unknown_user(self):
        for v in BOTH:
            with self.subTest(version=v, kind="text"):
                self.refused("FailedAuthentication", v, username="mallory")
            with self.subTest(version=v, kind="digest"):
                self.refused("FailedAuthentication", v, username="mallory", digest=True)

    def test_empty_username(self):
        self.refused("FailedAuthentication", 12, username="")

    def test_missing_security_header(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v, security=None)

    def test_missing_username_token(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v, username_token=None)

    def test_missing_timestamp(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v, timestamp=None)

    def test_stale_timestamp(self):
        """Created 10 min ago (Expires still in the future): out of date."""
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("ExpiredData", v,
                             timestamp=L.timestamp_xml(created_offset=-600, expires_offset=900))

    def test_future_timestamp(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v,
                             timestamp=L.timestamp_xml(created_offset=600, expires_offset=300))

    def test_expired_timestamp(self):
        """Created 2 min ago, Expires 1 min ago: out of date."""
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("ExpiredData", v,
                             timestamp=L.timestamp_xml(created_offset=-120, expires_offset=60))

    def test_replayed_digest_nonce(self):
        for v in BOTH:
            with self.subTest(version=v):
                nonce, created = os.urandom(16), L.ts()
                r = self.srv.issue(version=v, digest=True, nonce=nonce, created=created)
                self.assertEqual(r.status, 200, "first use of the nonce: %r" % r.body[:1500])
                # same nonce, same Created, fresh Timestamp
                self.refused("FailedAuthentication", v, digest=True, nonce=nonce, created=created)

    def test_replayed_nonce_reencoded_and_cross_version(self):
        """Nonces compare as decoded bytes; the cache is shared by both SOAP versions."""
        nonce, created = os.urandom(16), L.ts()
        r = self.srv.issue(version=11, digest=True, nonce=nonce, created=created)
        self.assertEqual(r.status, 200, r.body[:1500])
        # same nonce over SOAP 1.2
        self.refused("FailedAuthentication", 12, digest=True, nonce=nonce, created=created)

        # a fresh nonce sent with its base64 wrapped (whitespace is legal in
        # xs:base64Binary) is accepted; replayed unwrapped it is refused
        def ut(nonce_text, n, c):
            return ('<wsse:UsernameToken><wsse:Username>alice</wsse:Username>'
                    '<wsse:Password Type="%s">%s</wsse:Password>'
                    '<wsse:Nonce EncodingType="%s">%s</wsse:Nonce>'
                    '<wsu:Created>%s</wsu:Created></wsse:UsernameToken>'
                    % (L.PW_DIGEST, L.digest_of(n, c, L.PASSWORD), L.B64_ENC, nonce_text, c))
        n2, c2 = os.urandom(16), L.ts()
        b64 = L.base64.b64encode(n2).decode()
        with self.subTest(case="wrapped base64 nonce"):
            r = self.srv.issue(version=12, username_token=ut(b64[:8] + "\n" + b64[8:], n2, c2))
            self.assertEqual(r.status, 200, r.body[:1500])
            self.refused("FailedAuthentication", 12, username_token=ut(b64, n2, c2))

    def test_digest_without_nonce_or_created(self):
        """A PasswordDigest lacking what the digest covers: AuthenticationBadElements."""
        digest = L.digest_of(b"0123456789abcdef", L.ts(), L.PASSWORD)
        for name, extra in (("no Nonce", "<wsu:Created>%s</wsu:Created>" % L.ts()),
                            ("no Created", '<wsse:Nonce EncodingType="%s">MDEyMzQ1Njc4OWFiY2RlZg=='
                                           '</wsse:Nonce>' % L.B64_ENC)):
            ut = ('<wsse:UsernameToken><wsse:Username>alice</wsse:Username>'
                  '<wsse:Password Type="%s">%s</wsse:Password>%s</wsse:UsernameToken>'
                  % (L.PW_DIGEST, digest, extra))
            for v in BOTH:
                with self.subTest(case=name, version=v):
                    self.refused("AuthenticationBadElements", v, username_token=ut)

    def test_stale_digest_created(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v, digest=True, created_offset=-600)

    def test_auth_failures_indistinguishable(self):
        """Unknown user and wrong password: same status, same fault bytes (modulo ids)."""
        a = self.srv.issue(version=12, username="mallory")
        b = self.srv.issue(version=12, password="bad")
        fa, fb = L.parse_fault(a), L.parse_fault(b)
        self.assertEqual((a.status, fa), (b.status, fb))
        self.assertEqual(a.body, b.body)

    # ------------------------------------------------------------------
    # Issue semantics
    # ------------------------------------------------------------------
    def test_unknown_applies_to(self):
        for addr in ("https://evil.example.com/", "https://rp.example.com.evil.com/",
                     "https://rp.example.com/other", "https://RP.example.com/x"):
            for v in BOTH:
                with self.subTest(applies_to=addr, version=v):
                    self.refused("InvalidScope", v, applies_to=addr)

    def test_missing_applies_to(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("InvalidRequest", v, applies_to=None)

    def test_soapaction_validate_requesttype_issue(self):
        self.refused("InvalidRequest", 11, action=L.ACTION["Validate"])

    def test_soap12_action_validate_requesttype_issue(self):
        self.refused("InvalidRequest", 12, action=L.ACTION["Validate"])

    def test_wsa_action_issue_soapaction_validate(self):
        """wsa:Action says Issue, SOAPAction says Validate (RequestType Issue)."""
        self.refused("InvalidRequest", 11, wsa=True, action=L.ACTION["Validate"],
                     wsa_action=L.ACTION["Issue"])

    def test_wsa_action_validate_requesttype_issue(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("InvalidRequest", v, wsa=True, action=None,
                             wsa_action=L.ACTION["Validate"])

    def test_soapaction_issue_requesttype_validate(self):
        rst = L.rst_target("Validate", self.token)
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("InvalidRequest", v, rst=rst, binding="Issue")

    def test_unsupported_token_type(self):
        """SAML 1.1 is issued (test_saml11.py); near misses of its spellings are not."""
        for tt in ("urn:oasis:names:tc:SAML:1.1:assertion",
                   "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLV1.1",
                   "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512/sct",
                   "urn:ietf:params:oauth:token-type:access_token", "urn:example:nonsense"):
            with self.subTest(token_type=tt):
                self.refused("BadRequest", 12, token_type=tt)
        self.refused("BadRequest", 11, token_type="urn:example:nonsense")

    def test_unsupported_key_type(self):
        for kt in ("urn:example:nonsense",
                   "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey"):
            with self.subTest(key_type=kt):
                self.refused("BadRequest", 12, key_type=kt)
        self.refused("BadRequest", 11, key_type="urn:example:nonsense")
        # PublicKey needs its wst:UseKey (test_proof_key.py)
        self.refused("InvalidRequest", 12, key_type=L.KT_PUBLIC)
        # SymmetricKey needs a relying party with an encryption_cert (test_proof_key.py)
        self.refused("InvalidScope", 12, key_type=L.KT_SYMMETRIC)

    def test_bad_lifetime(self):
        cases = {
            "expires<=created": (L.ts(600), L.ts(600)),
            "expires<created": (L.ts(0), L.ts(-60)),
            "expires in the past": (L.ts(-1200), L.ts(-600)),
            "unparsable created": ("yesterday", L.ts(600)),
            "unparsable expires": (L.ts(0), "2025-13-45T25:61:61Z"),
            "created beyond skew": (L.ts(900), L.ts(1800)),
        }
        for name, lt in cases.items():
            for v in BOTH:
                with self.subTest(case=name, version=v):
                    self.refused("InvalidTimeRange", v, lifetime=lt)

    def test_unknown_request_type(self):
        """RequestType outside the four bindings (KET), no action: wst:InvalidRequest
        (an unsupported RequestType, README fault table), store unchanged."""
        before = self.srv.snapshot()
        rst = L.rst_issue(request_type=L.WST + "/KET")
        r = self.srv.soap("Issue", rst, 12, action=None)
        f = L.parse_fault(r)
        self.assertIsNotNone(f, r.body[:1500])
        self.assertEqual(f.subcode, "{%s}InvalidRequest" % L.WST)
        self.assertEqual(self.srv.snapshot(), before)

    # ------------------------------------------------------------------
    # XML parser attacks: wst:InvalidRequest before anything else
    # ------------------------------------------------------------------
    def _raw(self, body, version=12, action=L.ACTION["Issue"]):
        return lambda: self.srv.post_raw(body, L.soap_headers(version, action))

    def test_malformed_unclosed_tag(self):
        for v in BOTH:
            with self.subTest(version=v):
                body = L.envelope(L.rst_issue(), v, L.security_xml(v))
                body = body.replace(b"</wst:RequestSecurityToken>", b"")
                self.assertRefused(self._raw(body, v), "InvalidRequest", v)

    def test_malformed_mismatched_tag(self):
        body = L.envelope(L.rst_issue(), 12, L.security_xml(12))
        body = body.replace(b"</wst:KeyType>", b"</wst:KeyTypo>")
        self.assertRefused(self._raw(body, 12), "InvalidRequest", 12)

    def test_malformed_truncated(self):
        body = L.envelope(L.rst_issue(), 11, L.security_xml(11))
        self.assertRefused(self._raw(body[:len(body) // 2], 11), "InvalidRequest", 11)

    def test_doctype_internal_entity_username(self):
        """The entity would spell a valid user: it must not authenticate."""
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("InvalidRequest", v,
                             prolog='<?xml version="1.0"?><!DOCTYPE s:Envelope '
                                    '[<!ENTITY u "alice">]>',
                             raw_username="&u;")

    def test_doctype_without_entities(self):
        self.refused("InvalidRequest", 12, prolog='<!DOCTYPE s:Envelope []>')

    def test_xxe_etc_hostname(self):
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("InvalidRequest", v,
                             prolog='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                                    '"file:///etc/hostname">]>',
                             raw_username="&x;")

    def test_xxe_marker_file_not_disclosed(self):
        marker = "xxe-marker-" + uuid.uuid4().hex
        path = os.path.join(self.tmp, "secret.txt")
        with open(path, "w") as f:
            f.write(marker)
        mark = self.srv.log_mark()
        r = self.refused("InvalidRequest", 12,
                         prolog='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                                '"file://%s">]>' % path,
                         raw_username="&x;", extra="<wst:Claims>&x;</wst:Claims>")
        self.assertNotIn(marker.encode(), r.body)
        time.sleep(0.2)
        self.assertNotIn(marker, self.srv.log_since(mark))

    def test_external_dtd_no_fetch(self):
        with L.ConnCounter() as lis:
            self.refused("InvalidRequest", 12,
                         prolog='<?xml version="1.0"?><!DOCTYPE s:Envelope SYSTEM "%s/x.dtd">'
                                % lis.url)
            self.refused("InvalidRequest", 11,
                         prolog='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY %% p SYSTEM '
                                '"%s/evil.dtd"> %%p;]>' % lis.url)
            self.refused("InvalidRequest", 12,
                         prolog='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                                '"%s/x">]>' % lis.url, raw_username="&x;")
            self.assertEqual(lis.close(), 0, "the server connected to the DTD/entity URL")

    def test_billion_laughs(self):
        ents = ['<!ENTITY a0 "lol">'] + [
            '<!ENTITY a%d "%s">' % (i, ("&a%d;" % (i - 1)) * 10) for i in range(1, 10)]
        prolog = '<?xml version="1.0"?><!DOCTYPE s:Envelope [%s]>' % "".join(ents)
        for v in BOTH:
            with self.subTest(version=v):
                r = self.refused("InvalidRequest", v, prolog=prolog, token_type="&a9;")
                self.assertLess(r.elapsed, 2.0, "billion laughs took %.2fs" % r.elapsed)

    def test_billion_laughs_in_attribute(self):
        ents = ['<!ENTITY a0 "lol">'] + [
            '<!ENTITY a%d "%s">' % (i, ("&a%d;" % (i - 1)) * 10) for i in range(1, 10)]
        prolog = '<?xml version="1.0"?><!DOCTYPE s:Envelope [%s]>' % "".join(ents)
        rst = L.rst_issue().replace("<wst:RequestSecurityToken ",
                                    '<wst:RequestSecurityToken Context="&a9;" ')
        r = self.refused("InvalidRequest", 12, prolog=prolog, rst=rst)
        self.assertLess(r.elapsed, 2.0)

    def test_processing_instruction(self):
        with L.ConnCounter() as lis:
            for v in BOTH:
                with self.subTest(where="prolog", version=v):
                    self.refused("InvalidRequest", v,
                                 prolog='<?xml version="1.0"?><?xml-stylesheet type="text/xsl" '
                                        'href="%s/s.xsl"?>' % lis.url)
            with self.subTest(where="body"):
                self.refused("InvalidRequest", 12, extra="<?evil instruction?>")
            with self.subTest(where="header"):
                self.refused("InvalidRequest", 11, extra_headers="<?evil instruction?>")
            self.assertEqual(lis.close(), 0, "the server fetched the stylesheet")

    def test_deep_nesting(self):
        """5 000 nested elements in an xs:any slot (coercive parsing; the body stays
        under 64 KB: large refused bodies are covered by WorkerStateTest)."""
        depth = 5000
        extra = "<wst:Claims>" + "<x>" * depth + "</x>" * depth + "</wst:Claims>"
        r = self.refused("InvalidRequest", 12, extra=extra)
        self.assertLess(r.elapsed, 5.0)

    def test_oversized_body(self):
        """A body over max_message_size (1 MiB default): refused, server alive."""
        before = self.srv.snapshot()
        extra = "<wst:Claims>" + "A" * (2 * 1024 * 1024) + "</wst:Claims>"
        try:
            r = self.srv.issue(version=12, extra=extra)
            self.assertNotEqual(r.status, 200)
            self.assertNoSecrets(r)
        except OSError:
            pass  # the server may close the connection without reading everything
        self.assertEqual(self.srv.snapshot(), before)
        self.assertTrue(self.srv.alive())

    # ------------------------------------------------------------------
    # WS-Addressing: no reply or fault is ever sent elsewhere
    # ------------------------------------------------------------------
    def test_non_anonymous_reply_to(self):
        with L.ConnCounter() as lis:
            for v in BOTH:
                with self.subTest(version=v, header="ReplyTo"):
                    self.refused("InvalidRequest", v, wsa=True, reply_to=lis.url + "/steal")
                with self.subTest(version=v, header="FaultTo"):
                    self.refused("InvalidRequest", v, wsa=True, fault_to=lis.url + "/steal")
            with self.subTest(header="ReplyTo", auth="bad password"):
                resp = self.srv.issue(version=12, wsa=True, reply_to=lis.url + "/steal",
                                      password="bad")
                f = L.parse_fault(resp)
                self.assertIsNotNone(f, "a fault must come back on the same connection")
                self.assertNotEqual(resp.status, 202)
            self.assertEqual(lis.close(1.5), 0, "the server connected to ReplyTo/FaultTo")

    # ------------------------------------------------------------------
    # Validate: bad tokens get status invalid (never a fault), store unchanged
    # ------------------------------------------------------------------
    def test_validate_genuine_token_is_valid(self):
        self.assertValid(self.token, 12)
        self.assertValid(self.token, 11)

    def test_validate_tampered_subject(self):
        t = self.token.replace(b">alice</saml2:NameID>", b">bob</saml2:NameID>")
        self.assertNotEqual(t, self.token)
        self.assertInvalid(t)
        self.assertInvalid(t, 11)

    def test_validate_tampered_attribute(self):
        t = self.token.replace(b">doctor<", b">admin<")
        self.assertNotEqual(t, self.token)
        self.assertInvalid(t)

    def test_validate_tampered_signature_value(self):
        el = L.parse_xml(self.token)
        sv = el.find("ds:Signature/ds:SignatureValue", L.NS)
        txt = "".join(sv.text.split())
        flipped = ("A" if txt[10] != "A" else "B")
        t = self.token.replace(txt[:20].encode(), (txt[:10] + flipped + txt[11:20]).encode())
        if t == self.token:  # SignatureValue wrapped across lines: edit via lxml
            sv.text = txt[:10] + flipped + txt[11:]
            t = etree.tostring(el)
        self.assertInvalid(t)

    def test_validate_signature_stripped(self):
        el = L.parse_xml(self.token)
        el.remove(el.find("ds:Signature", L.NS))
        self.assertInvalid(etree.tostring(el))

    def _forged(self, subject="bob", same_id=False):
        el = L.parse_xml(self.token)
        forged = copy.deepcopy(el)
        for s in forged.findall("ds:Signature", L.NS):
            forged.remove(s)
        forged.find("saml2:Subject/saml2:NameID", L.NS).text = subject
        if not same_id:
            forged.set("ID", "_forged" + uuid.uuid4().hex)
        return el, forged

    def _put_in_advice(self, forged, original):
        advice = etree.Element(L.q("saml2", "Advice"))
        advice.append(original)
        # Advice goes after Conditions in the SAML schema order
        cond = forged.find("saml2:Conditions", L.NS)
        forged.insert(list(forged).index(cond) + 1, advice)
        return etree.tostring(forged)

    def test_validate_xsw_signed_assertion_in_advice(self):
        """XSW: signed original moved into the Advice of a forged assertion (other ID,
        subject bob). Sent raw: the original's signed bytes are inside."""
        orig, forged = self._forged()
        t = self._put_in_advice(forged, orig)
        self.assertInvalid(t)

    def test_validate_xsw_same_id_forged_first(self):
        """XSW7/8 shape: forged assertion with the SAME ID (subject bob) precedes the
        signed original, which sits inside its Advice."""
        orig, forged = self._forged(same_id=True)
        self.assertEqual(forged.get("ID"), orig.get("ID"))
        t = self._put_in_advice(forged, orig)
        self.assertInvalid(t)

    def test_validate_xsw_forged_keeps_signature(self):
        """XSW5 shape: forged assertion (same ID, subject bob) carries the original's
        ds:Signature; the unsigned original is nested in its Advice."""
        orig, forged = self._forged(same_id=True)
        sig = copy.deepcopy(orig.find("ds:Signature", L.NS))
        forged.insert(1, sig)
        plain = copy.deepcopy(orig)
        plain.remove(plain.find("ds:Signature", L.NS))
        self.assertInvalid(self._put_in_advice(forged, plain))

    def test_validate_xsw_two_assertions_in_target(self):
        """ValidateTarget must hold exactly one element: forged (same ID) + signed."""
        orig, forged = self._forged(same_id=True)
        target = etree.tostring(forged) + self.token
        rst = L.rst_target("Validate", target)
        self.assertRefused(lambda: self.srv.soap("Validate", rst, 12), "InvalidRequest", 12)
        target = self.token + etree.tostring(forged)
        rst = L.rst_target("Validate", target)
        self.assertRefused(lambda: self.srv.soap("Validate", rst, 11), "InvalidRequest", 11)

    def test_validate_xsw_forged_copy_in_header(self):
        """A same-ID forged copy elsewhere in the document (a SOAP header) must not be
        what gets verified/used: an ID that is not unique in the document makes the
        target invalid, whichever of the two copies is the target."""
        _, forged = self._forged(same_id=True)
        hdr = '<x:Extra xmlns:x="urn:example:test">%s</x:Extra>' % etree.tostring(forged).decode()
        # genuine token in the target, forged same-ID copy in a header: invalid
        r = self.srv.soap("Validate", L.rst_target("Validate", self.token), 12, extra_headers=hdr)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)
        # forged token in the target, genuine copy in a header: must be invalid (or refused)
        hdr2 = '<x:Extra xmlns:x="urn:example:test">%s</x:Extra>' % self.token.decode()
        before = self.srv.snapshot()
        r = self.srv.soap("Validate", L.rst_target("Validate", etree.tostring(forged)), 12,
                          extra_headers=hdr2)
        self.assertEqual(r.status, 200, r.body[:2000])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)
        self.assertEqual(self.srv.snapshot(), before)
        self.assertTrue(self.srv.alive())

    def test_validate_signed_by_other_key(self):
        el = L.parse_xml(self.token)
        with self.subTest(case="unchanged content"):
            self.assertInvalid(L.sign_assertion(el, self.evil_key, self.evil_cert))
        with self.subTest(case="subject changed"):
            el.find("saml2:Subject/saml2:NameID", L.NS).text = "bob"
            forged = L.sign_assertion(el, self.evil_key, self.evil_cert)
            self.assertTrue(L.xmlsec_verify(forged, self.evil_cert).ok, "fixture sanity")
            self.assertInvalid(forged)

    def test_validate_other_key_with_our_certificate(self):
        """Signed with another key but KeyInfo carries OUR certificate."""
        el = L.parse_xml(self.token)
        el.find("saml2:Subject/saml2:NameID", L.NS).text = "bob"
        forged = L.parse_xml(L.sign_assertion(el, self.evil_key, self.evil_cert))
        forged.find("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", L.NS).text = \
            L.cert_b64()
        self.assertInvalid(etree.tostring(forged))

    def test_validate_unknown_to_store(self):
        """Correctly signed with our key (fixture) but never issued."""
        t = L.sign_assertion(L.make_assertion(), L.SIGNING_KEY, L.SIGNING_CERT)
        self.assertTrue(L.xmlsec_verify(t).ok, "fixture sanity")
        self.assertInvalid(t)

    def test_validate_not_issued_by_us(self):
        t = L.sign_assertion(L.make_assertion(issuer="https://idp.evil.example/"),
                             L.SIGNING_KEY, L.SIGNING_CERT)
        self.assertInvalid(t)

    def test_validate_target_missing_or_empty(self):
        for raw in ("", "<wst:ValidateTarget/>"):
            for v in BOTH:
                with self.subTest(target=raw or "(missing)", version=v):
                    rst = L.rst_target("Validate", None, raw_target=raw)
                    self.assertRefused(lambda: self.srv.soap("Validate", rst, v),
                                       "InvalidRequest", v)

    def test_validate_target_not_an_assertion(self):
        rst = L.rst_target("Validate", '<x:Foo xmlns:x="urn:example:test">bar</x:Foo>')
        r = self.srv.soap("Validate", rst, 12)
        # not a SAML assertion: a token that does not verify is an answer, not a fault
        self.assertEqual(r.status, 200, r.body[:1500])
        _, items = L.parse_rstr_response(r, collection=False)
        self.assertEqual(items[0].status_code, L.STATUS_INVALID)

    def test_validate_needs_authentication(self):
        rst = L.rst_target("Validate", self.token)
        for v in BOTH:
            with self.subTest(version=v):
                self.refused("FailedAuthentication", v, rst=rst, binding="Validate",
                             password="bad")

    # ------------------------------------------------------------------
    # Renew / Cancel with bad targets: refused, store unchanged
    # ------------------------------------------------------------------
    def test_renew_bad_targets(self):
        tampered = self.token.replace(b">alice</saml2:NameID>", b">bob</saml2:NameID>")
        unknown = L.sign_assertion(L.make_assertion(), L.SIGNING_KEY, L.SIGNING_CERT)
        foreign = L.sign_assertion(L.parse_xml(self.token), self.evil_key, self.evil_cert)
        orig, forged = self._forged()
        wrapped = self._put_in_advice(forged, orig)
        for name, t in (("tampered", tampered), ("unknown", unknown), ("other key", foreign),
                        ("xsw", wrapped)):
            for v in BOTH:
                with self.subTest(token=name, version=v):
                    self.assertRefused(lambda: self.srv.renew(t, v), "UnableToRenew", v)

    def test_renew_target_missing(self):
        rst = L.rst_target("Renew", None, raw_target="")
        self.assertRefused(lambda: self.srv.soap("Renew", rst, 12), "InvalidRequest", 12)

    def test_cancel_bad_targets(self):
        tampered = self.token.replace(b">alice</saml2:NameID>", b">bob</saml2:NameID>")
        foreign = L.sign_assertion(L.parse_xml(self.token), self.evil_key, self.evil_cert)
        orig, forged = self._forged()
        wrapped = self._put_in_advice(forged, orig)
        for name, t in (("tampered", tampered), ("other key", foreign), ("xsw", wrapped)):
            for v in BOTH:
                with self.subTest(token=name, version=v):
                    self.assertRefused(lambda: self.srv.cancel(t, v), "RequestFailed", v)
        self.assertValid(self.token)

    def test_cancel_target_missing(self):
        rst = L.rst_target("Cancel", None, raw_target="")
        self.assertRefused(lambda: self.srv.soap("Cancel", rst, 11), "InvalidRequest", 11)

    def test_cancel_needs_authentication(self):
        self.assertRefused(lambda: self.srv.cancel(self.token, 12, password="bad"),
                           "FailedAuthentication", 12)
        self.assertValid(self.token)


def _one_worker():
    cfg = L.default_config()
    cfg["server"] = {"workers": 1}
    return cfg


class WorkerStateTest(L.StsTestCase):
    """One worker thread, so that the connection after a refused request is served
    by the same worker: nothing of the refused request may leak into it. Bodies
    are > 64 KiB (larger than gSOAP's first read) and refused by the pre-parse
    (DTD, malformed, nesting depth, over-long text)."""

    CONFIG = staticmethod(_one_worker)
    PAD = '<x:Pad xmlns:x="urn:example:pad">%s</x:Pad>' % ("P" * 1000)

    def _check_next_connection(self, send, code, label):
        for v in BOTH:
            with self.subTest(case=label, version=v):
                before = self.srv.snapshot()
                try:
                    r = send(v)
                except OSError as e:
                    self.fail("no answer to the refused request: %r" % e)
                if code is None:
                    self.assertEqual(r.status, 200, r.body[:500])
                else:
                    self.assertFault(r, code, v)
                h = self.srv.get("/health")
                self.assertEqual(h.status, 200, "next connection (GET /health) got HTTP %d: %r"
                                 % (h.status, h.body[:200]))
                r = self.srv.issue(version=v)
                self.assertEqual(r.status, 200, "next Issue: %r" % r.body[:300])
                self.assertEqual(len(self.srv.snapshot()),
                                 len(before) + (2 if code is None else 1))

    def test_control_large_accepted_body(self):
        self._check_next_connection(
            lambda v: self.srv.issue(version=v, extra_headers=self.PAD * 100), None,
            "100 KB of extra headers, accepted")

    def test_after_large_dtd(self):
        self._check_next_connection(
            lambda v: self.srv.issue(version=v, extra_headers=self.PAD * 100,
                                     prolog='<?xml version="1.0"?><!DOCTYPE s:Envelope []>'),
            "InvalidRequest", "DTD, 100 KB")

    def test_after_large_malformed(self):
        self._check_next_connection(
            lambda v: self.srv.issue(version=v, extra_headers=self.PAD * 100 + "<x:Open>"),
            "InvalidRequest", "malformed, 100 KB")

    def test_after_too_deep(self):
        extra = ("<wst:Claims>" + "<x>" * 100 + "A" * 100000 + "</x>" * 100
                 + "</wst:Claims>")
        self._check_next_connection(lambda v: self.srv.issue(version=v, extra=extra),
                                    "InvalidRequest", "nesting too deep, 100 KB")

    def test_after_long_text(self):
        extra = "<wst:Claims>" + "A" * 600000 + "</wst:Claims>"
        self._check_next_connection(lambda v: self.srv.issue(version=v, extra=extra),
                                    "InvalidRequest", "over-long text node, 600 KB")


if __name__ == "__main__":
    unittest.main(verbosity=2)
