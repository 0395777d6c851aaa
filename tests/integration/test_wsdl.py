# SPDX-License-Identifier: GPL-2.0-or-later
"""The published WSDL (GET /sts?wsdl): well-formed, self-contained, address
rewritten, loadable by zeep without any other fetch; a zeep client generated
from it runs Issue/Validate/Renew/Cancel (UsernameToken text and digest, plus a
wsu:Timestamp), over the SOAP 1.1 and SOAP 1.2 ports."""
import json
import copy
import datetime
import os
import sys
import unittest
from urllib.parse import urlparse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402
from lxml import etree  # noqa: E402

import zeep  # noqa: E402
from zeep.transports import Transport  # noqa: E402
from zeep.wsse.compose import Compose  # noqa: E402
from zeep.wsse.username import UsernameToken  # noqa: E402
from zeep.wsse import utils as wsse_utils  # noqa: E402

PORT11 = "SecurityTokenServiceSoap11Port"
PORT12 = "SecurityTokenServiceSoap12Port"
SERVICE = "SecurityTokenService"
PLACEHOLDER = "http://localhost:8080/sts"


class LocalOnlyTransport(Transport):
    """zeep transport that refuses any fetch other than the allowed origin, and
    keeps the raw bytes of the last SOAP response (never re-serialised)."""

    def __init__(self, allowed_origin, **kw):
        super().__init__(timeout=10, operation_timeout=15, **kw)
        self.allowed = allowed_origin
        self.fetched = []
        self.last_response = None
        self.last_request = None

    def _check(self, url):
        u = urlparse(url)
        origin = "%s://%s" % (u.scheme, u.netloc)
        if origin != self.allowed:
            raise AssertionError("zeep tried to fetch %s (network access)" % url)

    def load(self, url):
        self._check(url)
        self.fetched.append(url)
        return super().load(url)

    def get(self, address, params, headers):
        self._check(address)
        return super().get(address, params, headers)

    def post(self, address, message, headers):
        self._check(address)
        self.last_request = message
        resp = super().post(address, message, headers)
        self.last_response = resp
        return resp


class TimestampToken:
    """zeep wsse plugin: a fresh wsu:Timestamp (Created now, Expires +5 min, WCF
    style) first in wsse:Security on every call."""

    def apply(self, envelope, headers):
        sec = wsse_utils.get_security_header(envelope)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        tsel = wsse_utils.WSU.Timestamp(
            wsse_utils.WSU.Created(L.fmt_time(now)),
            wsse_utils.WSU.Expires(L.fmt_time(now + datetime.timedelta(minutes=5))))
        tsel.set(wsse_utils.ID_ATTR, "_0")
        sec.insert(0, tsel)
        return envelope, headers

    def verify(self, envelope):
        pass


def bind(client, server, port):
    """client.bind(); if the served address is wrong (reported by test_get_wsdl),
    fall back to the real address so that the zeep tests still run."""
    svc = client.bind(SERVICE, port)
    p = client.wsdl.services[SERVICE].ports[port]
    if p.binding_options["address"] != server.url:
        svc = client.create_service(p.binding.name, server.url)
    return svc


def make_client(server, digest=False, password=L.PASSWORD):
    origin = "http://%s:%d" % (server.host, server.port)
    transport = LocalOnlyTransport(origin)
    wsse = Compose([TimestampToken(), UsernameToken(L.USER, password, use_digest=digest)])
    client = zeep.Client(server.url + "?wsdl", transport=transport, wsse=wsse)
    return client, transport


def wsdl_schemas_compiled(wsdl_root):
    """Compile the inline schemas (imports mapped to each other, offline)."""
    schemas = wsdl_root.findall(".//{%s}schema" % L.NS["xs"])
    by_ns = {s.get("targetNamespace"): s for s in schemas}

    class InlineResolver(etree.Resolver):
        def resolve(self, url, pubid, context):
            if url.startswith("inline:"):
                ns = url[len("inline:"):]
                doc = copy.deepcopy(by_ns[ns])
                for imp in doc.findall("{%s}import" % L.NS["xs"]):
                    imp.set("schemaLocation", "inline:" + imp.get("namespace"))
                return self.resolve_string(etree.tostring(doc), context)
            raise etree.XMLSchemaParseError("refusing %s" % url)

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(InlineResolver())
    wrapper = ('<xs:schema xmlns:xs="%s" targetNamespace="urn:sts:test:wrapper">%s</xs:schema>'
               % (L.NS["xs"], "".join('<xs:import namespace="%s" schemaLocation="inline:%s"/>'
                                      % (ns, ns) for ns in by_ns)))
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser)), by_ns


class WsdlFileTest(unittest.TestCase):
    """Static checks on wsdl/sts.wsdl (no server)."""

    @classmethod
    def setUpClass(cls):
        with open(L.WSDL_FILE, "rb") as f:
            cls.data = f.read()
        cls.root = L.parse_xml(cls.data)

    def test_xmllint_wellformed(self):
        r = L.xmllint_wellformed(self.data)
        self.assertTrue(r.ok, r.output)

    def test_self_contained(self):
        self.assertEqual(self.root.xpath("//@schemaLocation"), [], "schemaLocation present")
        self.assertIsNone(self.root.find(".//wsdl:import", L.NS))
        self.assertIsNone(self.root.find(".//xs:include", L.NS))
        self.assertFalse(b"<!DOCTYPE" in self.data, "DOCTYPE in the WSDL")

    def test_structure(self):
        r = self.root
        self.assertEqual(r.get("targetNamespace"), L.WST)
        ops = r.findall("wsdl:portType/wsdl:operation", L.NS)
        self.assertEqual(sorted(o.get("name") for o in ops),
                         ["Cancel", "Issue", "Renew", "Validate"])
        for o in ops:
            self.assertEqual(o.find("wsdl:input", L.NS).get("message").split(":")[1],
                             "RequestSecurityTokenMsg")
            out = o.find("wsdl:output", L.NS).get("message").split(":")[1]
            self.assertEqual(out, "RequestSecurityTokenResponseCollectionMsg"
                             if o.get("name") == "Issue" else "RequestSecurityTokenResponseMsg")
        bindings = r.findall("wsdl:binding", L.NS)
        self.assertEqual(len(bindings), 2)
        kinds = set()
        for b in bindings:
            soapns = "soap" if b.find("soap:binding", L.NS) is not None else "soap12"
            kinds.add(soapns)
            self.assertEqual(b.find("%s:binding" % soapns, L.NS).get("style"), "document")
            pref = b.find("{%s}PolicyReference" % L.NS["wsp"])
            self.assertIsNotNone(pref, "binding has a wsp:PolicyReference")
            for op in b.findall("wsdl:operation", L.NS):
                sa = op.find("%s:operation" % soapns, L.NS).get("soapAction")
                self.assertEqual(sa, L.ACTION[op.get("name")])
                for io in ("input", "output"):
                    self.assertEqual(op.find("wsdl:%s/%s:body" % (io, soapns), L.NS).get("use"),
                                     "literal")
        self.assertEqual(kinds, {"soap", "soap12"})
        svc = r.findall("wsdl:service", L.NS)
        self.assertEqual([s.get("name") for s in svc], [SERVICE])
        addrs = [a.get("location") for a in svc[0].findall("wsdl:port/*", L.NS)]
        self.assertEqual(addrs, [PLACEHOLDER, PLACEHOLDER])
        self.assertEqual(self.data.count(PLACEHOLDER.encode()), 2)

    def test_policy(self):
        """Two policies: the plain-HTTP one the bindings use as written, and the TLS one
        the server switches them to when it listens with TLS (test_tls.py)."""
        wsp = L.NS["wsp"]
        by_id = {p.get(L.q("wsu", "Id")): p for p in self.root.findall("{%s}Policy" % wsp)}
        self.assertEqual(sorted(by_id), ["STS_Transport_Policy", "STS_Transport_X509_Policy",
                                         "STS_UsernameToken_Policy",
                                         "STS_UsernameToken_X509_Policy", "STS_X509_Alternative"])
        pid = "STS_UsernameToken_Policy"
        pols = [by_id[pid]]
        for b in self.root.findall("wsdl:binding", L.NS):
            self.assertEqual(b.find("{%s}PolicyReference" % wsp).get("URI"), "#" + pid)
        ut = pols[0].find(".//sp:SupportingTokens//sp:UsernameToken", L.NS)
        self.assertIsNotNone(ut, "sp:SupportingTokens/sp:UsernameToken")
        self.assertTrue(ut.get(L.q("sp", "IncludeToken")).endswith("/IncludeToken/AlwaysToRecipient"))
        self.assertIsNotNone(ut.find(".//sp:WssUsernameToken10", L.NS))
        self.assertIsNotNone(pols[0].find(".//sp:IncludeTimestamp", L.NS))
        self.assertIsNotNone(pols[0].find(".//sp:Layout//sp:Lax", L.NS))
        # honest: no claim of a message signature or TLS that is not implemented
        for absent in ("SignedSupportingTokens", "SignedEncryptedSupportingTokens",
                       "TransportBinding", "SymmetricBinding", "AsymmetricBinding"):
            self.assertIsNone(pols[0].find(".//sp:" + absent, L.NS), absent)

    def test_inline_schemas_compile_and_describe_rst(self):
        schema, by_ns = wsdl_schemas_compiled(self.root)
        for ns in (L.WST, L.NS["wsp"], L.NS["wsa"], L.NS["wsu"]):
            self.assertIn(ns, by_ns)
        # a typical MSAL RST (reordered to the schema's sequence) validates
        rst = L.parse_xml(L.rst_xml(L.REQUEST_TYPE["Issue"], "") .replace(
            "<wst:RequestType>", "<wst:TokenType>%s</wst:TokenType><wst:RequestType>"
            % L.TT_SAML2).replace("</wst:RequestType>", "</wst:RequestType>%s<wst:KeyType>%s"
                                  "</wst:KeyType>" % (L.applies_to_xml(L.RP), L.KT_BEARER)))
        self.assertTrue(schema.validate(rst), str(schema.error_log))

    def test_zeep_loads_file_offline(self):
        class NoNet(Transport):
            def load(self, url):
                if url == L.WSDL_FILE:
                    return super().load(url)
                raise AssertionError("zeep fetched %s" % url)
        client = zeep.Client(L.WSDL_FILE, transport=NoNet())
        svc = client.wsdl.services[SERVICE]
        self.assertEqual(sorted(svc.ports), sorted([PORT11, PORT12]))
        for p in svc.ports.values():
            self.assertEqual(sorted(p.binding._operations),
                             ["Cancel", "Issue", "Renew", "Validate"])


class WsdlServedTest(L.StsTestCase):

    def test_listen_line_reports_bound_port(self):
        """With --listen 127.0.0.1:0 the log line must carry the port actually bound."""
        self.assertEqual(self.srv.logged_port, self.srv.port,
                         "'listening on' line shows port %s, bound port is %s"
                         % (self.srv.logged_port, self.srv.port))

    def test_health(self):
        r = self.srv.get("/health")
        self.assertEqual(r.status, 200)

    def test_get_wsdl(self):
        r = self.srv.get("/sts?wsdl")
        self.assertEqual(r.status, 200)
        self.assertRegex(r.headers.get("content-type", ""), r"xml")
        lint = L.xmllint_wellformed(r.body)
        self.assertTrue(lint.ok, lint.output)
        self.assertFalse(PLACEHOLDER.encode() in r.body, "address not rewritten")
        root = L.parse_xml(r.body)
        locs = [a.get("location") for a in root.findall("wsdl:service/wsdl:port/*", L.NS)]
        self.assertEqual(locs, [self.srv.url, self.srv.url])
        self.assertEqual(self.srv.url, "http://127.0.0.1:%d/sts" % self.srv.port)
        with open(L.WSDL_FILE, "rb") as f:
            published = f.read()
        self.assertEqual(r.body, published.replace(PLACEHOLDER.encode(), self.srv.url.encode()),
                         "served WSDL = wsdl/sts.wsdl with the address rewritten")
        self.assertEqual(root.xpath("//@schemaLocation"), [], "schemaLocation present")

    def test_zeep_loads_from_url_without_other_fetches(self):
        client, tr = make_client(self.srv)
        self.assertEqual(tr.fetched, [self.srv.url + "?wsdl"])
        svc = client.wsdl.services[SERVICE]
        for p in svc.ports.values():
            self.assertEqual(p.binding_options["address"], self.srv.url)

    def test_responses_match_wsdl_schema(self):
        """What the server sends (RSTRC, Validate/Renew/Cancel RSTR) is valid
        against the inline schemas of the WSDL it publishes (element order too)."""
        schema, _ = wsdl_schemas_compiled(L.parse_xml(self.srv.get("/sts?wsdl").body))
        r = self.srv.issue(version=12)
        t1 = L.extract_assertion_bytes(r.body)
        bodies = {"Issue": r}
        bodies["Validate"] = self.srv.validate(t1)
        bodies["Renew"] = self.srv.renew(t1, 11)
        t2 = L.extract_assertion_bytes(bodies["Renew"].body)
        bodies["Cancel"] = self.srv.cancel(t2)
        bodies["Validate (invalid)"] = self.srv.validate(t2)
        for name, resp in bodies.items():
            with self.subTest(binding=name):
                self.assertEqual(resp.status, 200, resp.body[:1500])
                child = L.body_child(L.parse_xml(resp.body))
                ok = schema.validate(etree.ElementTree(child))
                self.assertTrue(ok, "%s: %s" % (name, schema.error_log))

    # ------------------------------------------------------------------
    def _issue(self, client, tr, port):
        svc = bind(client, self.srv, port)
        res = svc.Issue(RequestType=L.REQUEST_TYPE["Issue"],
                        AppliesTo={"EndpointReference": {"Address": L.RP}},
                        KeyType=L.KT_BEARER)
        raw = tr.last_response.content
        self.assertEqual(tr.last_response.status_code, 200, raw[:2000])
        self.assertNotIn(L.PASSWORD.encode(), raw)
        assertion = L.extract_assertion_bytes(raw)
        for name, fn in (("xmlsec1", L.xmlsec_verify), ("samlsign", L.samlsign_verify),
                         ("schema", L.schema_validate)):
            v = fn(assertion)
            self.assertTrue(v.ok, "%s: %s" % (name, v.output))
        # the zeep object: a collection of one RSTR
        rstrs = res if isinstance(res, list) else res["RequestSecurityTokenResponse"]
        self.assertEqual(len(rstrs), 1)
        rstr = rstrs[0]
        self.assertEqual(rstr["TokenType"], L.TT_SAML2)
        self.assertEqual(rstr["RequestType"], L.REQUEST_TYPE["Issue"])
        self.assertEqual(rstr["KeyType"], L.KT_BEARER)
        addr = rstr["AppliesTo"]["EndpointReference"]["Address"]
        self.assertEqual(getattr(addr, "_value_1", addr), L.RP)
        tok = rstr["RequestedSecurityToken"]["_value_1"]
        self.assertEqual(tok.tag, L.q("saml2", "Assertion"))
        self.assertEqual(tok.get("ID"), L.assertion_facts(assertion).id)
        # the reply to a zeep call (wsam:Action in the WSDL -> WS-Addressing) carries
        # the output action
        root = L.parse_xml(raw)
        self.assertEqual(root.findtext(".//wsa:Action", namespaces=L.NS),
                         L.REPLY_ACTION["Issue"])
        return assertion

    def test_zeep_issue(self):
        for port in (PORT12, PORT11):
            for digest in (False, True):
                with self.subTest(port=port, digest=digest):
                    before = self.srv.snapshot()
                    client, tr = make_client(self.srv, digest=digest)
                    a = self._issue(client, tr, port)
                    self.assertIsNotNone(self.srv.row(L.assertion_facts(a).id))
                    self.assertEqual(len(self.srv.snapshot()), len(before) + 1)

    def test_zeep_wrong_password_fault(self):
        for port in (PORT12, PORT11):
            with self.subTest(port=port):
                client, tr = make_client(self.srv, password="bad")
                svc = bind(client, self.srv, port)
                with self.assertRaises(zeep.exceptions.Fault) as cm:
                    svc.Issue(RequestType=L.REQUEST_TYPE["Issue"],
                              AppliesTo={"EndpointReference": {"Address": L.RP}})
                self.assertEqual(cm.exception.message.strip(), "Authentication failed")

    def test_zeep_validate_renew_cancel(self):
        for port in (PORT12, PORT11):
            with self.subTest(port=port):
                client, tr = make_client(self.srv, digest=(port == PORT11))
                svc = bind(client, self.srv, port)
                t1 = self._issue(client, tr, port)

                def target(b):
                    return {"_value_1": L.parse_xml(b)}

                res = svc.Validate(RequestType=L.REQUEST_TYPE["Validate"],
                                   TokenType=L.TT_STATUS, ValidateTarget=target(t1))
                self.assertEqual(tr.last_response.status_code, 200)
                self.assertEqual(res["TokenType"], L.TT_STATUS)
                self.assertEqual(res["Status"]["Code"], L.STATUS_VALID)

                res = svc.Renew(RequestType=L.REQUEST_TYPE["Renew"], RenewTarget=target(t1))
                raw = tr.last_response.content
                self.assertEqual(tr.last_response.status_code, 200, raw[:2000])
                t2 = L.extract_assertion_bytes(raw)
                v = L.xmlsec_verify(t2)
                self.assertTrue(v.ok, v.output)
                self.assertNotEqual(L.assertion_facts(t2).id, L.assertion_facts(t1).id)
                self.assertEqual(res["RequestType"], L.REQUEST_TYPE["Renew"])
                self.assertEqual(res["RequestedSecurityToken"]["_value_1"].get("ID"),
                                 L.assertion_facts(t2).id)
                self.assertEqual(L.parse_xml(raw).findtext(".//wsa:Action", namespaces=L.NS),
                                 L.REPLY_ACTION["Renew"])

                res = svc.Validate(RequestType=L.REQUEST_TYPE["Validate"],
                                   TokenType=L.TT_STATUS, ValidateTarget=target(t1))
                self.assertEqual(res["Status"]["Code"], L.STATUS_INVALID)

                res = svc.Cancel(RequestType=L.REQUEST_TYPE["Cancel"], CancelTarget=target(t2))
                raw = tr.last_response.content
                self.assertEqual(tr.last_response.status_code, 200, raw[:2000])
                self.assertIsNotNone(L.parse_xml(raw).find(".//wst:RequestedTokenCancelled",
                                                           L.NS))
                self.assertEqual(L.parse_xml(raw).findtext(".//wsa:Action", namespaces=L.NS),
                                 L.REPLY_ACTION["Cancel"])
                self.assertEqual(self.srv.row(L.assertion_facts(t2).id)["state"], 2)

                res = svc.Validate(RequestType=L.REQUEST_TYPE["Validate"],
                                   TokenType=L.TT_STATUS, ValidateTarget=target(t2))
                self.assertEqual(res["Status"]["Code"], L.STATUS_INVALID)


class PublicUrlTest(L.StsTestCase):
    """Behind a proxy, server.public_url is what the WSDL and the RFC 8414
    metadata name; the server still listens where it was told."""
    PUBLIC = "https://sts.example.org:9443"
    CONFIG = dict(L.default_config(), server={"public_url": PUBLIC + "/"})

    def test_wsdl_address_is_public_url(self):
        r = self.srv.get("/sts?wsdl")
        self.assertEqual(r.status, 200)
        root = L.parse_xml(r.body)
        locs = [a.get("location") for a in root.findall("wsdl:service/wsdl:port/*", L.NS)]
        self.assertEqual(locs, [self.PUBLIC + "/sts"] * 2)

    def test_metadata_endpoints_are_public_url(self):
        r = self.srv.get("/.well-known/oauth-authorization-server")
        self.assertEqual(r.status, 200)
        meta = json.loads(r.body)
        self.assertEqual(meta["token_endpoint"], self.PUBLIC + "/token")
        self.assertEqual(meta["jwks_uri"], self.PUBLIC + "/.well-known/jwks.json")


if __name__ == "__main__":
    unittest.main(verbosity=2)
