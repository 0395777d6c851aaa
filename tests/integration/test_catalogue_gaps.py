# SPDX-License-Identifier: GPL-2.0-or-later
"""Cases from the "Gaps" list of docs/security-catalogue.md, sent end to end to
one server on the embedded default configuration (SOAP and REST faces):

- XP-01/02: DOCTYPEs (internal, SYSTEM and parameter entities) in a base64url
  saml2 subject_token at /token; file, listener and /dev/urandom entities in
  an OnBehalfOf assertion; XInclude inside an RST. No listener connection, no
  file contents in a response or the log.
- XP-04: the catalogue's XSW10/CVE-2025-23369 (`ID="&idv;"`) and
  CVE-2025-25291 (DOCTYPE/CDATA round trip) shapes as saml2 and saml1
  subject_tokens, and in Validate, Renew, Cancel, OnBehalfOf and ActAs.
- XP-09: Content-Encoding at /token, /introspect and /revoke (415 and closed).
- XP-10: NUL, control characters, lone surrogates, &nbsp;, &eacute; and
  overlong UTF-8 in wsse:Username and in the NameID of a REST saml2 subject;
  a UTF-16 BOM under an encoding="UTF-8" declaration.
- XP-11: malformed wsu:Created/Expires; targets whose SignatureValue or
  DigestValue is not base64, or whose KeyInfo is malformed or names another
  key (invalid).
- XS-01 (d): one flipped byte of DigestValue, on all four faces.
- XS-09 (a) an unsigned copy appended in a target, (c) two UsernameTokens,
  (e) a foreign-namespace x:ID carrying the assertion's ID.

Every refusal: the exact fault or OAuth error, the store unchanged, the server
alive, the refusal logged (stslib's assertRefused / assertOAuthError); where
the log says why, the reason is checked too, so that a refusal for another
cause (a broken signature instead of a refused DTD) fails the test."""
import base64
import gzip
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import uuid
from urllib.parse import urlencode

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from lxml import etree  # noqa: E402

BOTH = (11, 12)
BINDINGS = ("Validate", "Renew", "Cancel")
FORM = "application/x-www-form-urlencoded"
XI_NS = "http://www.w3.org/2001/XInclude"
WST14 = "http://docs.oasis-open.org/ws-sx/ws-trust/200802"
OVERLONG = b"\xc0\xaf"  # overlong UTF-8 for "/"
OVERLONG_MARK = "@@OVERLONG@@"
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")



class CatalogueGapsTest(L.WithIssuedToken, L.RestMixin, L.StsTestCase):
    """Embedded default configuration: alice / wonderland over SOAP, the client
    migration-tester / s3cret over REST. cls.token is one genuine SAML 2.0
    assertion that no test consumes (each test that changes a token's state
    issues its own)."""

    CONFIG = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="sts-gaps-")
        cls.token_id = L.parse_xml(cls.token).get("ID")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    def marker_file(self):
        """A file whose unique contents must never come back (response or log)."""
        marker = "gaps-marker-" + uuid.uuid4().hex
        path = os.path.join(self.tmp, marker + ".txt")
        with open(path, "w") as f:
            f.write(marker)
        return marker, path


    def rest_refused(self, subject, reason=None, subject_type=L.TT_SAML2_URN):
        """/token with @subject: oauth(400, invalid_request), optionally with the
        engine's reason in the log line. Returns the response."""
        mark = self.srv.log_mark()
        got = []

        def send():
            got.append(L.token_exchange(self.srv, subject, subject_type, audience=L.RP))
            return got[0]
        self.assertOAuthError(send, 400, "invalid_request")
        if reason is not None:
            self.assertLogReason(mark, r"POST /token -> 400 invalid_request .*" + reason)
        return got[0]

    def fresh_token(self):
        r = self.srv.issue(version=12)
        self.assertEqual(r.status, 200, r.body[:1500])
        return L.extract_assertion_bytes(r.body)

    def store_state(self, token_id):
        row = self.srv.row(token_id)
        self.assertIsNotNone(row, "no store row for %s" % token_id)
        return row["state"]

    # ==================================================================
    # XP-01 / XP-02: DTDs in a REST saml2 subject_token
    # ==================================================================
    def test_xp01_rest_saml_subject_with_dtd_refused(self):
        """Each DOCTYPE in front of the genuine signed assertion: oauth(400,
        invalid_request), logged as not well-formed. The internal entity expands
        to exactly the signed text, so an expanding parser would accept it. The
        listener sees 0 connections; the local file's contents are in no
        response and not in the log. Control: the same assertion without a
        DOCTYPE is exchanged."""
        a = self.token.decode()
        marker, path = self.marker_file()
        with L.ConnCounter() as lis:
            cases = [
                ("internal entity spelling the NameID",
                 '<?xml version="1.0"?><!DOCTYPE saml2:Assertion [<!ENTITY u "alice">]>'
                 + a.replace(">alice</saml2:NameID>", ">&u;</saml2:NameID>", 1)),
                ("SYSTEM entity to a listener",
                 '<?xml version="1.0"?><!DOCTYPE saml2:Assertion [<!ENTITY x SYSTEM "%s/x">]>'
                 % lis.url + a.replace("</saml2:Issuer>", "&x;</saml2:Issuer>", 1)),
                ("SYSTEM entity to a local file",
                 '<?xml version="1.0"?><!DOCTYPE saml2:Assertion [<!ENTITY x SYSTEM "file://%s">]>'
                 % path + a.replace("</saml2:Issuer>", "&x;</saml2:Issuer>", 1)),
                ("parameter entity to a listener",
                 '<?xml version="1.0"?><!DOCTYPE saml2:Assertion [<!ENTITY %% p SYSTEM "%s/p.dtd">'
                 ' %%p;]>' % lis.url + a),
            ]
            for name, xml in cases:
                with self.subTest(case=name):
                    self.assertNotEqual(xml, a)
                    mark = self.srv.log_mark()
                    r = self.rest_refused(L.b64url_encode(xml), "not a well-formed XML token")
                    self.assertNotIn(marker, r.text, "file contents in the response")
                    time.sleep(0.1)
                    self.assertNotIn(marker, self.srv.log_since(mark), "file contents logged")
            self.assertEqual(lis.close(), 0, "the server connected to the entity URL")
        self.exchange_ok(L.b64url_encode(self.token), L.TT_SAML2_URN, audience=L.RP)

    def test_xp02_xxe_in_on_behalf_of_and_dev_urandom_refused(self):
        """The XP-02 payloads with &x; inside the genuine assertion carried in
        wst:OnBehalfOf (the DOCTYPE heads the envelope): a local file, a listener
        (parameter entity) and /dev/urandom. refused(InvalidRequest) with "DTD
        not allowed", in under 2 s (no read of /dev/urandom), 0 connections,
        the file's contents neither returned nor logged. /dev/urandom in a REST
        saml2 subject: oauth(400, invalid_request) in under 2 s."""
        marker, path = self.marker_file()
        a = self.token.decode()
        with_x = a.replace("</saml2:Issuer>", "&x;</saml2:Issuer>", 1)
        self.assertNotEqual(with_x, a)
        with L.ConnCounter() as lis:
            prologs = {
                "file": '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file://%s">]>' % path,
                "parameter entity": '<!DOCTYPE s:Envelope [<!ENTITY %% p SYSTEM "%s/p.dtd"> %%p;'
                                    '<!ENTITY x "y">]>' % lis.url,
                "/dev/urandom": '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "/dev/urandom">]>',
            }
            rst = L.rst_issue(extra="<wst:OnBehalfOf>%s</wst:OnBehalfOf>" % with_x)
            for name, dtd in prologs.items():
                for v in BOTH:
                    with self.subTest(entity=name, version=v):
                        mark = self.srv.log_mark()
                        r = self.refused_with_reason(
                            lambda: self.srv.soap("Issue", rst, v,
                                                  prolog='<?xml version="1.0"?>' + dtd),
                            "InvalidRequest", v, "DTD not allowed")
                        self.assertLess(r.elapsed, 2.0)
                        self.assertNotIn(marker.encode(), r.body)
                        time.sleep(0.1)
                        self.assertNotIn(marker, self.srv.log_since(mark))
            self.assertEqual(lis.close(), 0, "the server connected to the entity URL")
        with self.subTest(entity="/dev/urandom", face="/token"):
            t0 = time.monotonic()
            self.rest_refused(L.b64url_encode(
                '<?xml version="1.0"?><!DOCTYPE saml2:Assertion [<!ENTITY x SYSTEM '
                '"/dev/urandom">]>' + with_x), "not a well-formed XML token")
            self.assertLess(time.monotonic() - t0, 2.0)

    # ==================================================================
    # XP-04: the catalogue's two CVE shapes, on every path that parses XML
    # ==================================================================
    def cve_shapes(self, token, id_attr, nameid_tag):
        """The catalogue's XP-04 inputs built from genuine assertion bytes:
        {name: (DOCTYPE, XML that follows it)}.
        - "ID=&idv;": the genuine assertion with its ID written as an entity
          that expands to exactly the signed value (an expanding parser accepts);
        - "XSW10 / CVE-2025-23369" (SAMLRaider applyXSW10): a forged copy (NameID
          admin) with ID="&idv;" keeps the signature; the original, its signature
          removed, sits in ds:Signature/ds:Object with ID="&p;<id>" (p = "P");
        - "CVE-2025-25291" (ruby-saml round trip): <!DOCTYPE r SYSTEM 'x"><!--'>,
          then forged XML, <![CDATA[-->, the original, <!--]]>-->."""
        a = token.decode()
        aid = L.parse_xml(token).get(id_attr)
        el = L.parse_xml(token)
        forged = etree.fromstring(etree.tostring(el))
        for n in forged.iter(nameid_tag):
            n.text = "admin"
        plain = etree.fromstring(etree.tostring(el))
        plain.remove(plain.find("ds:Signature", L.NS))
        plain.set(id_attr, "P_PLACEHOLDER")
        obj = etree.SubElement(forged.find("ds:Signature", L.NS), L.q("ds", "Object"))
        obj.append(plain)
        forged.set(id_attr, "IDV_PLACEHOLDER")
        xsw10 = (etree.tostring(forged).decode()
                 .replace('%s="IDV_PLACEHOLDER"' % id_attr, '%s="&idv;"' % id_attr)
                 .replace('%s="P_PLACEHOLDER"' % id_attr, '%s="&p;%s"' % (id_attr, aid)))
        self.assertIn('%s="&idv;"' % id_attr, xsw10)
        self.assertIn('%s="&p;%s"' % (id_attr, aid), xsw10)
        forged_plain = etree.fromstring(etree.tostring(el))
        forged_plain.remove(forged_plain.find("ds:Signature", L.NS))
        for n in forged_plain.iter(nameid_tag):
            n.text = "admin"
        entities = '<!DOCTYPE r [<!ENTITY idv "%s"><!ENTITY p "&#x50;">]>' % aid
        idv = a.replace('%s="%s"' % (id_attr, aid), '%s="&idv;"' % id_attr, 1)
        self.assertNotEqual(idv, a)
        return {
            "ID=&idv;": (entities, idv),
            "XSW10 / CVE-2025-23369": (entities, xsw10),
            "CVE-2025-25291": ("<!DOCTYPE r SYSTEM 'x\"><!--'>",
                               etree.tostring(forged_plain).decode() + "<![CDATA[-->" + a
                               + "<!--]]>-->"),
        }

    def test_xp04_cve_shapes_rest_subject_refused(self):
        """As base64url saml2 and saml1 subject_tokens (the DOCTYPE first):
        oauth(400, invalid_request); the genuine tokens stay usable."""
        _, _, a11 = L.issue_saml11(self.srv)
        for kind, token, tt, id_attr, nameid in (
                ("saml2", self.token, L.TT_SAML2_URN, "ID", L.q("saml2", "NameID")),
                ("saml1", a11, L.TT_SAML1_URN, "AssertionID", L.q("saml1", "NameIdentifier"))):
            for shape, (dtd, xml) in self.cve_shapes(token, id_attr, nameid).items():
                with self.subTest(subject=kind, shape=shape):
                    self.rest_refused(L.b64url_encode('<?xml version="1.0"?>' + dtd + xml),
                                      "not a well-formed XML token", subject_type=tt)
            with self.subTest(subject=kind, shape="control without a DOCTYPE"):
                self.exchange_ok(L.b64url_encode(token), tt, audience=L.RP)

    def test_xp04_cve_shapes_soap_paths_refused(self):
        """The DOCTYPE heads the envelope (a DTD cannot start mid-document); the
        XML is the content of a ValidateTarget, RenewTarget, CancelTarget, or an
        Issue's OnBehalfOf or ActAs. refused(InvalidRequest), "DTD not allowed"
        logged, the genuine token untouched."""
        paths = {
            "Validate": lambda x: ("Validate", L.rst_target("Validate", x)),
            "Renew": lambda x: ("Renew", L.rst_target("Renew", x)),
            "Cancel": lambda x: ("Cancel", L.rst_target("Cancel", x)),
            "OnBehalfOf": lambda x: ("Issue", L.rst_issue(
                extra="<wst:OnBehalfOf>%s</wst:OnBehalfOf>" % x)),
            "ActAs": lambda x: ("Issue", L.rst_issue(
                extra='<w14:ActAs xmlns:w14="%s">%s</w14:ActAs>' % (WST14, x))),
        }
        shapes = self.cve_shapes(self.token, "ID", L.q("saml2", "NameID"))
        for shape, (dtd, xml) in shapes.items():
            prolog = '<?xml version="1.0"?>' + dtd.replace("DOCTYPE r ", "DOCTYPE s:Envelope ")
            for path, build in paths.items():
                binding, rst = build(xml)
                for v in BOTH:
                    with self.subTest(shape=shape, path=path, version=v):
                        self.refused_with_reason(
                            lambda: self.srv.soap(binding, rst, v, prolog=prolog),
                            "InvalidRequest", v, "DTD not allowed")
        self.assertValid(self.token)
        self.assertEqual(self.store_state(self.token_id), 0)

    def test_xp01_xinclude_in_rst_refused(self):
        """xi:include (to a listener, and to a local file as text) inside the RST:
        refused(InvalidRequest), "XInclude not allowed", 0 connections, no
        contents returned or logged."""
        marker, path = self.marker_file()
        with L.ConnCounter() as lis:
            for v in BOTH:
                for href, parse in ((lis.url + "/x.xml", "xml"), ("file://" + path, "text")):
                    with self.subTest(version=v, href=href):
                        mark = self.srv.log_mark()
                        extra = ('<wst:Claims><xi:include xmlns:xi="%s" href="%s" parse="%s"/>'
                                 '</wst:Claims>' % (XI_NS, href, parse))
                        r = self.refused_with_reason(
                            lambda: self.srv.issue(version=v, extra=extra),
                            "InvalidRequest", v, "XInclude not allowed")
                        self.assertNotIn(marker.encode(), r.body)
                        time.sleep(0.1)
                        self.assertNotIn(marker, self.srv.log_since(mark))
            self.assertEqual(lis.close(), 0, "the server followed the XInclude")

    # ==================================================================
    # XP-09: Content-Encoding at the REST endpoints
    # ==================================================================
    def test_xp09_rest_content_encoding_refused_and_closed(self):
        """gzip, compressed or only announced, on requests that would otherwise
        succeed (a valid exchange; introspect and revoke of a live token):
        oauth(415, invalid_request), then the connection is closed. Nothing is
        issued or revoked."""
        _, subject = self.soap_saml()
        live = self.exchange_ok(subject, L.TT_SAML2_URN, audience=L.RP)["access_token"]
        forms = {
            "/token": L.exchange_params(subject, L.TT_SAML2_URN, audience=L.RP),
            "/introspect": [("token", live)],
            "/revoke": [("token", live)],
        }
        basic = base64.b64encode(("%s:%s" % (L.CLIENT_ID, L.CLIENT_SECRET)).encode()).decode()
        for path, pairs in forms.items():
            form = urlencode(pairs).encode()
            for compressed in (True, False):
                body = gzip.compress(form) if compressed else form
                with self.subTest(path=path, compressed=compressed):
                    raw = L.http_head_bytes("POST", path, [
                        ("Content-Type", FORM), ("Authorization", "Basic " + basic),
                        ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))]) + body
                    closed = []

                    def send():
                        with L.RawConn(self.srv.port) as c:
                            self.assertTrue(c.send(raw), "send failed: %r" % c.send_error)
                            resp = c.read_response(timeout=8.0)
                            closed.append(c.wait_closed(2.0))
                        return L.RawOAuthResponse(resp, path)
                    self.assertOAuthError(send, 415, "invalid_request")
                    ok, extra, _ = closed[0]
                    self.assertTrue(ok, "connection not closed within 2 s after the 415")
                    self.assertEqual(extra, b"", "bytes after the 415: %r" % extra[:200])
        # the uncompressed control of the same forms works
        self.assertActive(live)
        self.assertActive(subject)

    # ==================================================================
    # XP-10: characters that alias identities
    # ==================================================================
    def assertNoLogin(self, mark):
        log = self.srv.log_since(mark)
        self.assertNotRegex(log, r"issued .* to (alice|admin)", "a token was issued")
        self.assertIsNone(CONTROL_BYTES.search(log.encode("utf-8")),
                          "raw control characters in the log: %r" % log[-600:])

    def test_xp10_username_characters_refused(self):
        """With alice's password: a NUL after "alice" would log in as alice if the
        name were cut at the NUL. refused(InvalidRequest) (a parser refusal, not
        FailedAuthentication), nothing issued, no raw control bytes logged."""
        names = ("admin&#0;x", "alice&#0;x", "alice&#x1;", "&#x1;", "&#xD800;", "alice&#xDC00;",
                 "&nbsp;", "alice&nbsp;", "&eacute;", "alic&eacute;")
        for name in names:
            for v in BOTH:
                with self.subTest(username=name, version=v):
                    mark = self.srv.log_mark()
                    self.assertRefused(lambda: self.srv.issue(version=v, raw_username=name),
                                       "InvalidRequest", v)
                    self.assertNoLogin(mark)
        # overlong UTF-8 for "/" (C0 AF), raw bytes on the wire
        for v in BOTH:
            with self.subTest(username="alice C0 AF", version=v):
                body = L.envelope(L.rst_issue(), v, L.security_xml(
                    v, raw_username="alice" + OVERLONG_MARK)).replace(
                        OVERLONG_MARK.encode(), OVERLONG)
                self.assertIn(b"alice\xc0\xaf</wsse:Username>", body)
                mark = self.srv.log_mark()
                self.assertRefused(lambda: self.srv.post_raw(
                    body, L.soap_headers(v, L.ACTION["Issue"])), "InvalidRequest", v)
                self.assertNoLogin(mark)

    def test_xp10_utf16_bom_with_utf8_declaration_refused(self):
        for v in BOTH:
            with self.subTest(version=v):
                doc = L.envelope(L.rst_issue(), v, L.security_xml(v),
                                 prolog='<?xml version="1.0" encoding="UTF-8"?>')
                for name, raw in (("UTF-16LE BOM", doc.decode().encode("utf-16")),
                                  ("UTF-16BE BOM", b"\xfe\xff" + doc.decode().encode("utf-16-be"))):
                    with self.subTest(bom=name):
                        mark = self.srv.log_mark()
                        self.refused_with_reason(
                            lambda: self.srv.post_raw(raw, L.soap_headers(v, L.ACTION["Issue"])),
                            "InvalidRequest", v, "only UTF-8 is accepted")
                        self.assertNoLogin(mark)

    def test_xp10_rest_saml_nameid_characters_refused(self):
        """The genuine assertion with its NameID changed to carry the character:
        oauth(400, invalid_request), and the log names the XML parse (not the
        signature), so the parser refused the character."""
        a = self.token
        for text in (b"admin&#0;x", b"alice&#0;", b"&#x1;", b"alice\x01", b"al\x00ice", b"&#xD800;",
                     b"&nbsp;", b"&eacute;", b"alice" + OVERLONG):
            with self.subTest(nameid=repr(text)):
                xml = a.replace(b">alice</saml2:NameID>", b">%s</saml2:NameID>" % text, 1)
                self.assertNotEqual(xml, a)
                mark = self.srv.log_mark()
                self.rest_refused(L.b64url_encode(xml), "not a well-formed XML token")
                self.assertNoLogin(mark)

    # ==================================================================
    # XP-11: typed values
    # ==================================================================
    def test_xp11_malformed_timestamp_values_refused(self):
        """Each value replaces Created or Expires of an otherwise fresh Timestamp:
        refused(FailedAuthentication), logged as a wsu:Timestamp failure."""
        now = L.ts()
        bad = {
            "second 61": now[:17] + "61Z",
            "offset +99:99": now[:-1] + "+99:99",
            "year 99999": "99999" + now[4:],
            "empty": "",
            "2025-13-45T25:61:61Z": "2025-13-45T25:61:61Z",
        }
        for field in ("Created", "Expires"):
            for name, value in bad.items():
                for v in BOTH:
                    with self.subTest(field=field, value=name, version=v):
                        tsx = (L.timestamp_xml(created=value) if field == "Created"
                               else L.timestamp_xml(expires=value))
                        self.assertIn(">%s<" % value, tsx)
                        self.refused_with_reason(lambda: self.srv.issue(version=v, timestamp=tsx),
                                                 "FailedAuthentication", v,
                                                 r"wsu:Timestamp (%s malformed|values not plain "
                                                 r"text)" % field)
        # control: the same builder with good values issues
        r = self.srv.issue(version=12, timestamp=L.timestamp_xml())
        self.assertEqual(r.status, 200, r.body[:1500])

    def _with_text(self, path, text):
        el = L.parse_xml(self.token)
        node = el.find(path, L.NS)
        self.assertIsNotNone(node, path)
        node.text = text
        return etree.tostring(el)

    def test_xp11_signature_or_digest_value_not_base64(self):
        """SignatureValue or DigestValue that is not base64 (or empty): Validate
        invalid, Renew refused(UnableToRenew), Cancel refused(RequestFailed);
        the genuine token stays valid."""
        sv = "ds:Signature/ds:SignatureValue"
        dv = "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue"
        cases = {
            "SignatureValue !!!": self._with_text(sv, "!!!not*base64!!!"),
            "SignatureValue empty": self._with_text(sv, ""),
            "DigestValue !!!": self._with_text(dv, "!!!not*base64!!!"),
            "DigestValue truncated": self._with_text(dv, "AAAA"),
        }
        for name, t in cases.items():
            with self.subTest(case=name, binding="Validate"):
                self.assertInvalid(t)
            for binding, code in L.BAD_TARGET_FAULT.items():
                for v in BOTH:
                    with self.subTest(case=name, binding=binding, version=v):
                        self.assertRefused(lambda: self.srv.soap(
                            binding, L.rst_target(binding, t), v), code, v)
        self.assertValid(self.token)

    def _with_keyinfo(self, token, inner):
        t, n = re.subn(rb"<ds:KeyInfo>.*</ds:KeyInfo>",
                       b"<ds:KeyInfo>" + inner.encode() + b"</ds:KeyInfo>", token, flags=re.S)
        self.assertEqual(n, 1, "one ds:KeyInfo in the token")
        return t

    def keyinfo_cases(self):
        """{name: ds:KeyInfo content}: malformed, or naming another key than ours."""
        key, crt = L.make_keypair(self.tmp, cn="sts-test-rsa")
        other = L.cert_b64(crt)
        return {
            "empty X509Data": "<ds:X509Data/>",
            "X509Certificate !!!":
                "<ds:X509Data><ds:X509Certificate>!!!</ds:X509Certificate></ds:X509Data>",
            "empty X509Certificate": "<ds:X509Data><ds:X509Certificate/></ds:X509Data>",
            "another certificate":
                "<ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data>" % other,
            "ours and another": "<ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>"
                                "<ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data>"
                                % (L.cert_b64(), other),
            "KeyValue": "<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB</ds:Modulus>"
                        "<ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
            "KeyName": "<ds:KeyName>sts-signing</ds:KeyName>",
            "RetrievalMethod without URI": "<ds:RetrievalMethod/>",
            "X509SubjectName": "<ds:X509Data><ds:X509SubjectName>CN=sts-test-rsa"
                               "</ds:X509SubjectName></ds:X509Data>",
        }

    def test_xp11_keyinfo_malformed(self):
        """A ds:KeyInfo outside SignedInfo that is malformed or names another key
        (the catalogue's expectation; issue #5 decision): the token is invalid,
        with "KeyInfo" in the logged reason. Validate invalid, Renew
        refused(UnableToRenew), Cancel refused(RequestFailed), /token oauth(400,
        invalid_request), SAML 2.0 and (Validate, /token) SAML 1.1. The genuine
        token, whose KeyInfo is our certificate, stays valid and its row
        untouched. A KeyInfo 1 000 levels deep is over the parser's depth
        limit: refused(InvalidRequest) on all three bindings."""
        self.assertValid(self.token)
        _, _, a11 = L.issue_saml11(self.srv)
        for name, inner in self.keyinfo_cases().items():
            t = self._with_keyinfo(self.token, inner)
            t11 = self._with_keyinfo(a11, inner)
            for v in BOTH:
                with self.subTest(case=name, binding="Validate", version=v):
                    mark = self.srv.log_mark()
                    self.assertInvalid(t, v)
                    self.assertLogReason(mark, r"validate: .*\(KeyInfo ")
                # (Renew and Cancel log no detail: the Validate above of the same
                # bytes names the check they share)
                for binding, code in L.BAD_TARGET_FAULT.items():
                    with self.subTest(case=name, binding=binding, version=v):
                        self.assertRefused(
                            lambda: self.srv.soap(binding, L.rst_target(binding, t), v), code, v)
            with self.subTest(case=name, token="SAML 1.1", binding="Validate"):
                mark = self.srv.log_mark()
                self.assertInvalid(t11)
                self.assertLogReason(mark, r"validate: .*\(KeyInfo ")
            for kind, tok, tt in (("saml2", t, L.TT_SAML2_URN), ("saml1", t11, L.TT_SAML1_URN)):
                with self.subTest(case=name, face="/token", token=kind):
                    self.rest_refused(L.b64url_encode(tok), r"KeyInfo ", subject_type=tt)
        self.assertValid(self.token)
        self.assertValid(a11)
        self.assertEqual(self.store_state(self.token_id), 0)
        deep = '<x:a xmlns:x="urn:example:deep">' * 1000 + "</x:a>" * 1000
        deep_t = self._with_keyinfo(self.token, deep)
        for binding in BINDINGS:
            for v in BOTH:
                with self.subTest(case="KeyInfo 1000 levels deep", binding=binding, version=v):
                    self.refused_with_reason(
                        lambda: self.srv.soap(binding, L.rst_target(binding, deep_t), v),
                        "InvalidRequest", v, "nesting too deep")
        self.assertValid(self.token)

    # ==================================================================
    # XS-01 (d): one flipped byte of DigestValue
    # ==================================================================
    def test_xs01d_flipped_digest_byte(self):
        """The DigestValue stays valid base64 of 32 bytes, one bit of one byte
        flipped: Validate invalid ("digest mismatch" logged), Renew
        refused(UnableToRenew), Cancel refused(RequestFailed), /token
        oauth(400, invalid_request). The genuine token is untouched."""
        el = L.parse_xml(self.token)
        dv_el = el.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", L.NS)
        dv = "".join(dv_el.text.split())
        raw = bytearray(base64.b64decode(dv, validate=True))
        self.assertEqual(len(raw), 32)
        raw[7] ^= 0x01
        flipped = base64.b64encode(bytes(raw)).decode()
        t = self.token.replace(dv.encode(), flipped.encode())
        self.assertNotEqual(t, self.token, "DigestValue is on one line in our tokens")
        for v in BOTH:
            with self.subTest(binding="Validate", version=v):
                mark = self.srv.log_mark()
                self.assertInvalid(t, v)
                self.assertLogReason(mark, r"validate: .*digest mismatch")
            for binding, code in L.BAD_TARGET_FAULT.items():
                with self.subTest(binding=binding, version=v):
                    self.assertRefused(lambda: self.srv.soap(
                        binding, L.rst_target(binding, t), v), code, v)
        with self.subTest(face="/token"):
            self.rest_refused(L.b64url_encode(t))
        self.assertValid(self.token)
        self.assertEqual(self.store_state(self.token_id), 0)

    # ==================================================================
    # XS-09: multiple assertions, duplicate IDs
    # ==================================================================
    def test_xs09a_unsigned_copy_appended_refused(self):
        """(a) After the signed assertion, an unsigned copy with ID _a1_attack,
        subject and every attribute "admin": refused(InvalidRequest) for
        Validate, Renew and Cancel (a target holds exactly one token)."""
        el = L.parse_xml(self.token)
        el.remove(el.find("ds:Signature", L.NS))
        el.set("ID", "_a1_attack")
        el.find("saml2:Subject/saml2:NameID", L.NS).text = "admin"
        for av in el.findall(".//saml2:AttributeValue", L.NS):
            av.text = "admin"
        target = self.token + etree.tostring(el)
        for binding in BINDINGS:
            for v in BOTH:
                with self.subTest(binding=binding, version=v):
                    self.refused_with_reason(
                        lambda: self.srv.soap(binding, L.rst_target(binding, target), v),
                        "InvalidRequest", v, "wst:%sTarget must hold exactly one token" % binding)
        self.assertValid(self.token)

    def test_xs09c_two_username_tokens_refused(self):
        """(c) Two UsernameTokens in one wsse:Security, whichever is first and
        even when both are alice's: refused(FailedAuthentication)."""
        alice = L.username_token_xml()
        alice2 = alice.replace('wsu:Id="UT-1"', 'wsu:Id="UT-2"')
        mallory = L.username_token_xml("mallory", "x").replace('wsu:Id="UT-1"', 'wsu:Id="UT-2"')
        for name, uts in (("alice, alice", alice + alice2), ("alice, mallory", alice + mallory),
                          ("mallory, alice", mallory + alice)):
            for v in BOTH:
                with self.subTest(tokens=name, version=v):
                    self.refused_with_reason(
                        lambda: self.srv.issue(version=v, username_token=uts),
                        "FailedAuthentication", v, "more than one UsernameToken")

    def test_xs09e_foreign_namespace_id_makes_target_invalid(self):
        """(e) x:ID (a foreign namespace) with the assertion's ID value on another
        element of the request (a SOAP header, or the ValidateTarget itself):
        the genuine token is then invalid ("not unique" logged). Control: the
        same token alone is valid."""
        self.assertValid(self.token)
        aid = self.token_id
        hdr = '<x:Extra xmlns:x="urn:example:x" x:ID="%s">y</x:Extra>' % aid
        on_target = L.rst_target("Validate", self.token).replace(
            "<wst:ValidateTarget>",
            '<wst:ValidateTarget xmlns:x="urn:example:x" x:ID="%s">' % aid)
        self.assertNotIn("x:ID", L.rst_target("Validate", self.token))
        for where, send in (
                ("SOAP header", lambda v: self.srv.validate(self.token, v, extra_headers=hdr)),
                ("ValidateTarget", lambda v: self.srv.soap("Validate", on_target, v))):
            for v in BOTH:
                with self.subTest(where=where, version=v):
                    before = self.srv.snapshot()
                    mark = self.srv.log_mark()
                    r = send(v)
                    self.assertEqual(r.status, 200, r.body[:1500])
                    self.assertNoSecrets(r)
                    _, items = L.parse_rstr_response(r, collection=False)
                    self.assertEqual(items[0].token_type, L.TT_STATUS)
                    self.assertEqual(items[0].status_code, L.STATUS_INVALID)
                    self.assertEqual(self.srv.snapshot(), before)
                    self.assertLogReason(mark, r"ID %s is not unique" % re.escape(aid))
        self.assertTrue(self.srv.alive())
        self.assertValid(self.token)


if __name__ == "__main__":
    unittest.main()
