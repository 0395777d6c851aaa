#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""curl as the client, as the README documents it: the AD FS-style Issue of
tests/tools/rst-issue.sh over SOAP 1.2, raw SOAP 1.1 and 1.2 messages for the
whole lifecycle, a fault, and the shapes zeep cannot produce (a Feb 2005 RST,
WCF's SecondaryParameters with a UseKey); what curl receives is checked with
xmlsec1, samlsign and the SAML schema."""

import os
import shutil
import subprocess
import tempfile
import unittest

import stslib as L

RST_ISSUE_TOOL = os.path.join(L.SOURCE_DIR, "tests", "tools", "rst-issue.sh")


class CurlTest(L.StsTestCase):

    def curl(self, body, content_type, soapaction=None):
        """POST @body to /sts with curl; returns (HTTP status, response body)."""
        path = L._tmpfile(body if isinstance(body, bytes) else body.encode())
        cmd = ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}",
               "-H", "Content-Type: " + content_type, "--data-binary", "@" + path]
        if soapaction is not None:
            cmd += ["-H", 'SOAPAction: "%s"' % soapaction]
        out = subprocess.run(cmd + [self.srv.url], stdout=subprocess.PIPE, timeout=20,
                             check=True).stdout
        os.unlink(path)
        body, _, status = out.rpartition(b"\n")
        return int(status), body

    def assert_assertion_checks(self, response):
        assertion = L.extract_assertion_bytes(response)
        for name, res in (("xmlsec1", L.xmlsec_verify(assertion)),
                          ("samlsign", L.samlsign_verify(assertion)),
                          ("schema", L.schema_validate(assertion))):
            self.assertTrue(res.ok, "%s: %s" % (name, res.output))
        return assertion

    def test_readme_issue_soap12(self):
        """The README's command: rst-issue.sh piped into curl, SOAP 1.2 + WS-Addressing."""
        before = len(self.srv.snapshot())
        req = subprocess.run([RST_ISSUE_TOOL, L.USER, L.PASSWORD, L.RP, self.srv.url],
                             stdout=subprocess.PIPE, timeout=10, check=True).stdout
        status, resp = self.curl(
            req, 'application/soap+xml; charset=utf-8; action="%s/RST/Issue"' % L.WST)
        self.assertEqual(status, 200, resp[:1500])
        self.assertIn(b"RequestSecurityTokenResponseCollection", resp)
        self.assertIn(b"/RSTRC/IssueFinal</wsa5:Action>", resp)
        self.assertNotIn(L.PASSWORD.encode(), resp)
        self.assert_assertion_checks(resp)
        self.assertEqual(len(self.srv.snapshot()), before + 1)

    def test_lifecycle_soap11(self):
        """Issue, Validate, Renew, Cancel, Validate as raw SOAP 1.1 with SOAPAction."""
        def call(binding, rst):
            body = L.envelope(rst, version=11, headers=L.security_xml(version=11))
            return self.curl(body, "text/xml; charset=utf-8", "%s/RST/%s" % (L.WST, binding))

        status, resp = call("Issue", L.rst_issue())
        self.assertEqual(status, 200, resp[:1500])
        t1 = self.assert_assertion_checks(resp)

        status, resp = call("Validate", L.rst_target("Validate", t1))
        self.assertEqual(status, 200, resp[:1500])
        self.assertIn(("<wst:Code>%s</wst:Code>" % L.STATUS_VALID).encode(), resp)

        status, resp = call("Renew", L.rst_target("Renew", t1))
        self.assertEqual(status, 200, resp[:1500])
        t2 = self.assert_assertion_checks(resp)
        self.assertNotEqual(L.assertion_facts(t1).id, L.assertion_facts(t2).id)

        status, resp = call("Cancel", L.rst_target("Cancel", t2))
        self.assertEqual(status, 200, resp[:1500])
        self.assertIn(b"RequestedTokenCancelled", resp)
        self.assertEqual(self.srv.row(L.assertion_facts(t2).id)["state"], 2)

        for t in (t1, t2):
            status, resp = call("Validate", L.rst_target("Validate", t))
            self.assertEqual(status, 200, resp[:1500])
            self.assertIn(("<wst:Code>%s</wst:Code>" % L.STATUS_INVALID).encode(), resp)

    def test_fault_soap11_and_12(self):
        """A wrong password over curl: the exact fault in each SOAP version, nothing stored."""
        before = self.srv.snapshot()
        for version, ctype, soapaction, http in (
                (11, "text/xml; charset=utf-8", L.WST + "/RST/Issue", 500),
                (12, 'application/soap+xml; action="%s/RST/Issue"' % L.WST, None, 400)):
            body = L.envelope(L.rst_issue(), version=version,
                              headers=L.security_xml(version=version,
                                                     username_token=L.username_token_xml(
                                                         password="not-wonderland")))
            status, resp = self.curl(body, ctype, soapaction)
            with self.subTest(version=version):
                self.assertEqual(status, http, resp[:1500])
                fault = L.parse_fault(L.Response(status, {}, resp, 0.0))
                # SOAP 1.1: faultcode is the wst QName; SOAP 1.2: Sender + Subcode
                self.assertEqual(fault.subcode if version == 12 else fault.code,
                                 "{%s}FailedAuthentication" % L.WST)
                self.assertEqual(fault.reason, "Authentication failed")
        self.assertEqual(self.srv.snapshot(), before)
        self.assertTrue(self.srv.alive())

    # ---- shapes zeep cannot produce (issue #4) --------------------------------------
    def test_feb_2005_issue(self):
        """A Feb 2005 RST as AD FS 2.0-era clients send it: bare RSTR in 2005/02."""
        w5 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
        rst = ('<t:RequestSecurityToken xmlns:t="%s">%s<t:KeyType>'
               'http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType>'
               '<t:RequestType>%s/Issue</t:RequestType></t:RequestSecurityToken>'
               % (w5, L.applies_to_xml(L.RP), w5))
        body = L.envelope(rst, 12, L.wsa_xml(w5 + "/RST/Issue", to=self.srv.url)
                          + L.security_xml(12))
        status, resp = self.curl(body, 'application/soap+xml; charset=utf-8; action="%s"'
                                 % (w5 + "/RST/Issue"))
        self.assertEqual(status, 200, resp[:1500])
        self.assertIn(b'xmlns:wst="%s"' % w5.encode(), resp)
        self.assertIn(b"<wst:RequestSecurityTokenResponse>", resp)
        self.assertNotIn(b"RequestSecurityTokenResponseCollection", resp)
        self.assertIn(b"%s/RSTR/Issue</wsa5:Action>" % w5.encode(), resp)
        self.assert_assertion_checks(resp)

    def test_secondary_parameters_and_use_key(self):
        """WCF's SecondaryParameters (the relying party's template: TokenType and
        KeyType PublicKey) with a UseKey certificate, over SOAP 1.1."""
        keydir = tempfile.mkdtemp(prefix="sts-curl-usekey-")
        self.addCleanup(shutil.rmtree, keydir, True)
        _, crt = L.make_keypair(keydir, cn="curl requester")
        rst = L.rst_issue(key_type=None, extra=(
            '<wst:SecondaryParameters><wst:TokenType>%s</wst:TokenType>'
            '<wst:KeyType>%s</wst:KeyType></wst:SecondaryParameters>'
            '<wst:UseKey><wsse:BinarySecurityToken xmlns:wsse="%s" ValueType="%s">%s'
            '</wsse:BinarySecurityToken></wst:UseKey>'
            % (L.TT_SAML2, L.KT_PUBLIC, L.NS["wsse"],
               "http://docs.oasis-open.org/wss/2004/01/"
               "oasis-200401-wss-x509-token-profile-1.0#X509v3", L.cert_b64(crt))))
        body = L.envelope(rst, version=11, headers=L.security_xml(version=11))
        status, resp = self.curl(body, "text/xml; charset=utf-8", "%s/RST/Issue" % L.WST)
        self.assertEqual(status, 200, resp[:1500])
        self.assertIn(b"<wst:KeyType>%s</wst:KeyType>" % L.KT_PUBLIC.encode(), resp)
        a = self.assert_assertion_checks(resp)
        self.assertIn(b"urn:oasis:names:tc:SAML:2.0:cm:holder-of-key", a)
        self.assertIn(L.cert_b64(crt).encode(), a)


if __name__ == "__main__":
    unittest.main()
