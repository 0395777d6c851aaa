# SPDX-License-Identifier: GPL-2.0-or-later
"""TLS on the server's one port (server.tls_cert / server.tls_key), with real
clients: curl, openssl s_client, python http.client/ssl, python3-requests and
python3-zeep, all trusting only certs/ca.crt and checking the host name
(127.0.0.1 is in the development server certificate's SANs).

- Both faces over TLS: GET /health, the WSDL (https address), RFC 8414
  metadata (https endpoints), a SOAP Issue whose assertion xmlsec1 verifies, a
  zeep client built from the published WSDL, a /token exchange whose JWT
  verifies against the JWKS fetched over TLS.
- Protocol policy: TLS 1.2 and 1.3 accepted, 1.0 and 1.1 refused, suites that
  are not AEAD with an (EC)DHE key exchange refused, the server's cipher order
  wins, renegotiation refused.
- Transport as over plain HTTP: keep-alive (SOAP and REST on one TLS
  connection), pipelining refused the same way, chunked bodies, body limit.
- Hostile clients: plain HTTP to the TLS port gets no HTTP answer; a client
  that connects and says nothing, or stops half way through its ClientHello,
  is dropped after server.recv_timeout while other clients are served.
- Start-up refusals: a key group or others can read, a weak or unknown cipher
  list, a key that is not the certificate's; config errors for half a TLS
  setup.
- soap.require_tls_for_password_text: default by listen address, explicit
  true/false, and over TLS.

Only 127.0.0.1 is ever contacted; every socket operation has a timeout."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

RECV_TIMEOUT = 2  # server.recv_timeout of the TLS servers here (seconds)
GET_HEALTH = L.http_head_bytes("GET", "/health")
CT12 = 'application/soap+xml; charset=utf-8; action="%s"' % L.ACTION["Issue"]


def tls_rest_config(**server):
    """The REST default config (both faces, the demo client) with TLS on."""
    return L.tls_config(L.rest_default_config(), recv_timeout=RECV_TIMEOUT, **server)


def s_client(port, *args, stdin=b"", timeout=20):
    """openssl s_client to 127.0.0.1:@port trusting only certs/ca.crt and checking
    the certificate's IP SAN; returns (exit code, stdout + stderr as text)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", L.TLS_CA_CERT,
           "-verify_return_error", "-verify_ip", "127.0.0.1"] + list(args)
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def issue_envelope(version=12):
    return L.envelope(L.rst_issue(), version, L.security_xml(version))


def post_issue_bytes(body=None, chunked=False):
    """A raw POST /sts (SOAP 1.2 Issue) with Content-Length, or chunked."""
    body = issue_envelope() if body is None else body
    if chunked:
        return L.http_head_bytes("POST", "/sts", [("Content-Type", CT12),
                                                  ("Transfer-Encoding", "chunked")]) + \
            L.chunked_body(body, size=1000)
    return L.http_head_bytes("POST", "/sts", [("Content-Type", CT12),
                                              ("Content-Length", str(len(body)))]) + body


class TlsTest(L.RestMixin, L.StsTestCase):
    """One TLS server (REST default config, recv_timeout 2 s)."""

    CONFIG = staticmethod(tls_rest_config)
    TLS = True

    def tls_conn(self, timeout=5.0):
        return L.RawConn(self.srv.port, timeout=timeout, context=L.tls_client_context())

    def assertVerifies(self, body):
        assertion = L.extract_assertion_bytes(body)
        v = L.xmlsec_verify(assertion)
        self.assertTrue(v.ok, "xmlsec1: %s" % v.output)
        return assertion

    # ------------------------------------------------------------------
    # both faces over TLS
    # ------------------------------------------------------------------
    def test_listening_line_names_https(self):
        line = [x for x in self.srv.log_text().splitlines() if "listening on" in x]
        self.assertEqual(len(line), 1, line)
        self.assertIn("listening on https://127.0.0.1:%d " % self.srv.port, line[0])
        self.assertIn("TLS 1.2+", line[0])
        # TLS on: no PasswordText policy notice or warning (loopback, and TLS anyway)
        self.assertNotIn("PasswordText", self.srv.log_text())

    def test_curl_health(self):
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", L.TLS_CA_CERT,
                            "-w", "\n%{http_code} %{ssl_verify_result}",
                            "https://127.0.0.1:%d/health" % self.srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "ok\n\n200 0")
        # without the CA the certificate does not verify: it is a real chain check
        p = subprocess.run(["curl", "-sS", "--max-time", "10",
                            "https://127.0.0.1:%d/health" % self.srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 60, p.stderr)  # CURLE_PEER_FAILED_VERIFICATION
        # ... and plain http:// to the TLS port gets no HTTP answer
        p = subprocess.run(["curl", "-sS", "--max-time", "10",
                            "http://127.0.0.1:%d/health" % self.srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 52, p.stderr)  # CURLE_GOT_NOTHING
        self.assertTrue(self.srv.alive())

    def test_wsdl_and_metadata_name_https(self):
        base = "https://127.0.0.1:%d" % self.srv.port
        r = self.srv.get("/sts?wsdl")
        self.assertEqual(r.status, 200)
        root = L.parse_xml(r.body)
        locs = [a.get("location") for a in root.findall("wsdl:service/wsdl:port/*", L.NS)]
        self.assertEqual(locs, [base + "/sts", base + "/sts"])
        self.assertNotIn(b"http://", b"".join(x.encode() for x in locs))
        r = L.rest_get(self.srv, "/.well-known/oauth-authorization-server")
        self.assertEqual(r.status_code, 200, r.text[:500])
        meta = r.json()
        self.assertEqual(meta["token_endpoint"], base + "/token")
        self.assertEqual(meta["introspection_endpoint"], base + "/introspect")
        self.assertEqual(meta["revocation_endpoint"], base + "/revoke")
        self.assertEqual(meta["jwks_uri"], base + "/.well-known/jwks.json")

    def test_wsdl_policy_over_tls(self):
        """Over TLS every binding references the transport policy: sp:TransportBinding
        with sp:HttpsToken and the UsernameToken as a SignedSupportingToken."""
        root = L.parse_xml(self.srv.get("/sts?wsdl").body)
        wsp = L.NS["wsp"]
        for b in root.findall("wsdl:binding", L.NS):
            self.assertEqual(b.find("{%s}PolicyReference" % wsp).get("URI"),
                             "#STS_Transport_Policy")
        pol = [p for p in root.findall("{%s}Policy" % wsp)
               if p.get(L.q("wsu", "Id")) == "STS_Transport_Policy"][0]
        self.assertIsNotNone(pol.find(".//sp:TransportBinding//sp:TransportToken//sp:HttpsToken",
                                      L.NS))
        self.assertIsNotNone(pol.find(".//sp:SignedSupportingTokens//sp:UsernameToken", L.NS))
        self.assertIsNotNone(pol.find(".//sp:TransportBinding//sp:IncludeTimestamp", L.NS))

    def test_soap_issue_over_tls_verifies(self):
        for version in (12, 11):
            with self.subTest(version=version):
                before = len(self.srv.snapshot())
                r, _, assertion = self.issue_ok(version=version)  # http.client + SSLContext
                self.assertVerifies(r.body)
                self.assertNoSecrets(r)
                self.assertIsNotNone(self.srv.row(L.assertion_facts(assertion).id))
                self.assertEqual(len(self.srv.snapshot()), before + 1)

    def test_zeep_from_published_wsdl(self):
        import requests
        import zeep
        from zeep.transports import Transport
        from zeep.wsse.compose import Compose
        from zeep.wsse.username import UsernameToken

        session = requests.Session()
        session.verify = L.TLS_CA_CERT
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace session.verify
        fetched = []

        class HttpsOnly(Transport):
            def load(self, url):
                fetched.append(url)
                if not url.startswith("https://127.0.0.1:%d/" % TlsTest.server.port):
                    raise AssertionError("zeep fetched %s" % url)
                return super().load(url)

        transport = HttpsOnly(session=session, timeout=10, operation_timeout=15)
        for digest in (False, True):
            with self.subTest(digest=digest):
                wsse = Compose([L.ZeepTimestamp(), UsernameToken(L.USER, L.PASSWORD,
                                                            use_digest=digest)])
                client = zeep.Client(self.srv.url + "?wsdl", transport=transport, wsse=wsse)
                port = client.wsdl.services["SecurityTokenService"].ports[
                    "SecurityTokenServiceSoap12Port"]
                self.assertEqual(port.binding_options["address"], self.srv.url)
                svc = client.bind("SecurityTokenService", "SecurityTokenServiceSoap12Port")
                with client.settings(raw_response=True):
                    resp = svc.Issue(RequestType=L.REQUEST_TYPE["Issue"],
                                     AppliesTo={"EndpointReference": {"Address": L.RP}},
                                     KeyType=L.KT_BEARER)
                self.assertEqual(resp.status_code, 200, resp.content[:2000])
                self.assertTrue(resp.url.startswith("https://"), resp.url)
                self.assertVerifies(resp.content)
        self.assertEqual(set(fetched), {self.srv.url + "?wsdl"})

    def test_token_exchange_over_tls(self):
        _, b64 = self.soap_saml()
        doc = self.exchange_ok(b64, L.TT_SAML2_URN, audience=L.RP,
                               requested_token_type=L.TT_JWT)
        self.assertEqual(doc["issued_token_type"], L.TT_JWT)
        jwks = L.fetch_jwks(self.srv)  # over TLS too
        _, claims = L.verify_jwt(jwks, doc["access_token"], audience=L.RP)
        self.assertEqual(claims["sub"], L.USER)
        self.assertActive(doc["access_token"])

    # ------------------------------------------------------------------
    # protocol and cipher policy
    # ------------------------------------------------------------------
    def test_tls12_and_tls13_accepted(self):
        for flag, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(proto=proto):
                rc, out = s_client(self.srv.port, flag, "-brief")
                self.assertEqual(rc, 0, out)
                self.assertIn("Protocol version: %s" % proto, out)
                self.assertIn("Verification: OK", out)
                suite = re.search(r"Ciphersuite: (\S+)", out).group(1)
                self.assertRegex(suite, r"GCM|CHACHA20", "not an AEAD suite: %s" % suite)
                if proto == "TLSv1.2":
                    self.assertTrue(suite.startswith("ECDHE-"), suite)

    def test_tls10_and_tls11_refused(self):
        for flag in ("-tls1", "-tls1_1"):
            with self.subTest(flag=flag):
                mark = self.srv.log_mark()
                # SECLEVEL=0: the client may speak the old protocol; the server must not
                rc, out = s_client(self.srv.port, flag, "-cipher", "DEFAULT@SECLEVEL=0", "-brief")
                self.assertNotEqual(rc, 0, out)
                self.assertNotIn("CONNECTION ESTABLISHED", out)
                self.assertIn("alert protocol version", out)
                self.assertIsNotNone(self.srv.wait_log(mark, r"TLS handshake with 127\.0\.0\.1:\d+"
                                                       r" failed: .*unsupported protocol"))
                self.assertTrue(self.srv.alive())

    def test_weak_ciphers_refused(self):
        # CBC with RSA key transport; CBC even with ECDHE; AEAD but no forward secrecy
        for suite in ("AES128-SHA", "ECDHE-RSA-AES128-SHA", "AES256-GCM-SHA384",
                      "DHE-RSA-AES128-SHA256"):
            with self.subTest(suite=suite):
                mark = self.srv.log_mark()
                rc, out = s_client(self.srv.port, "-tls1_2", "-cipher", suite + "@SECLEVEL=0",
                                   "-brief")
                self.assertNotEqual(rc, 0, out)
                self.assertNotIn("CONNECTION ESTABLISHED", out)
                self.assertIsNotNone(self.srv.wait_log(mark, r"failed: .*no shared cipher"))

    def test_server_cipher_order_wins(self):
        rc, out = s_client(self.srv.port, "-tls1_2", "-brief", "-cipher",
                           "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
                           "ECDHE-RSA-AES256-GCM-SHA384")
        self.assertEqual(rc, 0, out)
        self.assertIn("Ciphersuite: ECDHE-RSA-AES256-GCM-SHA384", out)

    def test_session_resumption(self):
        """The server keeps a session cache (gSOAP's sid; it turns tickets off), so a
        client that comes back resumes instead of a full handshake."""
        sess = os.path.join(tempfile.mkdtemp(prefix="sts-it-tls-sess-"), "session.pem")
        self.addCleanup(shutil.rmtree, os.path.dirname(sess), True)
        for flag in ("-tls1_2", "-tls1_3"):
            with self.subTest(flag=flag):
                outs = []
                for io in ("-sess_out", "-sess_in"):
                    p = subprocess.Popen(["openssl", "s_client", "-connect",
                                          "127.0.0.1:%d" % self.srv.port, flag, "-CAfile",
                                          L.TLS_CA_CERT, io, sess],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
                    time.sleep(0.5)  # TLS 1.3: the session ticket comes after the handshake
                    outs.append(p.communicate(timeout=10)[0].decode("utf-8", "replace"))
                self.assertRegex(outs[0], r"(?m)^New, TLSv1\.[23]")
                self.assertRegex(outs[1], r"(?m)^Reused, TLSv1\.[23]", outs[1][-1500:])

    def test_renegotiation_refused(self):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.srv.port, "-tls1_2",
               "-CAfile", L.TLS_CA_CERT]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            p.stdin.write(b"R\n")  # s_client: renegotiate
            p.stdin.flush()
            time.sleep(1.0)
            out = p.communicate(timeout=10)[0].decode("utf-8", "replace")  # closes stdin
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        self.assertIn("RENEGOTIATING", out)
        self.assertIn("no renegotiation", out)
        self.assertIn("Compression: NONE", out)
        self.assertTrue(self.srv.alive())

    # ------------------------------------------------------------------
    # transport: the same as over plain HTTP
    # ------------------------------------------------------------------
    def test_keep_alive_soap_and_rest_on_one_connection(self):
        with self.tls_conn() as c:
            local = c.sock.getsockname()
            self.assertTrue(c.send(GET_HEALTH))
            r1 = c.read_response(request_method="GET")
            self.assertEqual((r1.status, r1.body), (200, b"ok\n"))
            self.assertIn("keep-alive", r1.headers.get("connection", "").lower())
            self.assertTrue(c.send(post_issue_bytes()))
            r2 = c.read_response()
            self.assertEqual(r2.status, 200, r2.body[:1000])
            self.assertVerifies(r2.body)
            form = "grant_type=%s&subject_token=%s&subject_token_type=%s&audience=%s" % (
                L.GRANT_TE, L.b64url_encode(L.extract_assertion_bytes(r2.body)),
                L.TT_SAML2_URN, L.RP)
            import base64
            basic = base64.b64encode(("%s:%s" % (L.CLIENT_ID, L.CLIENT_SECRET)).encode())
            self.assertTrue(c.send(L.http_head_bytes("POST", "/token", [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", "Basic " + basic.decode()),
                ("Content-Length", str(len(form)))]) + form.encode()))
            r3 = c.read_response()
            self.assertEqual(r3.status, 200, r3.body[:1000])
            self.assertIn("access_token", json.loads(r3.body))
            self.assertEqual(c.sock.getsockname(), local, "not the same connection")
            self.assertFalse(c.eof)

    def test_pipelined_requests_refused_as_over_http(self):
        with self.tls_conn() as c:
            self.assertTrue(c.send(GET_HEALTH + GET_HEALTH))  # one write: one TLS record
            resp = c.read_response(request_method="GET", timeout=8)
            closed, extra, _ = c.wait_closed(3.0)
        self.assertEqual(resp.status, 200)
        self.assertIn("close", resp.headers.get("connection", "").lower())
        self.assertTrue(closed, "connection not closed after a pipelined request")
        self.assertEqual(extra, b"", "the pipelined request was answered")
        self.assertTrue(self.srv.alive())

    def test_chunked_issue_over_tls(self):
        with self.tls_conn() as c:
            self.assertTrue(c.send(post_issue_bytes(chunked=True)))
            r = c.read_response(timeout=8)
        self.assertEqual(r.status, 200, r.body[:1000])
        self.assertVerifies(r.body)

    def test_body_over_limit_413(self):
        before = self.srv.snapshot()
        with self.tls_conn() as c:
            self.assertTrue(c.send(L.http_head_bytes("POST", "/sts", [
                ("Content-Type", CT12), ("Content-Length", str(1048577))])))
            r = c.read_response(timeout=8)
            closed, _, _ = c.wait_closed(3.0)
        self.assertEqual(r.status, 413)
        self.assertTrue(closed)
        self.assertEqual(self.srv.snapshot(), before)

    # ------------------------------------------------------------------
    # hostile clients
    # ------------------------------------------------------------------
    def test_plain_http_to_tls_port(self):
        mark = self.srv.log_mark()
        with L.RawConn(self.srv.port) as c:
            self.assertTrue(c.send(GET_HEALTH))
            closed, data, waited = c.wait_closed(5.0)
        self.assertTrue(closed, "connection left open")
        self.assertFalse(data.startswith(b"HTTP/"), "an HTTP answer on the TLS port: %r" % data)
        self.assertLess(waited, 2.0)
        self.assertIsNotNone(self.srv.wait_log(mark, r"TLS handshake with .* failed: .*http request"))
        self.assertTrue(self.srv.alive())

    def test_no_descriptor_leak_after_hostile_connections(self):
        """Connections that end badly (plain HTTP, a reset in the handshake, a reset
        after it, a reset with a response pending) leave no descriptor behind."""
        import struct

        def reset(sock):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

        def fds():
            return len(os.listdir("/proc/%d/fd" % self.srv.proc.pid))

        ctx = L.tls_client_context()
        self.assertTrue(self.srv.alive())
        before = fds()
        for _ in range(25):
            with L.RawConn(self.srv.port) as c:
                c.send(GET_HEALTH)
                c.wait_closed(2.0)
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            s.sendall(b"\x16\x03\x01\x02\x00\x01")
            reset(s)
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            reset(ctx.wrap_socket(s, server_hostname="127.0.0.1"))
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            t.sendall(b"GET /sts?wsdl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reset(t)
        deadline = time.monotonic() + 5
        while fds() > before and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(fds(), before, "descriptors leaked")
        self.assertTrue(self.srv.alive())

    def test_silent_clients_dropped_others_served(self):
        mark = self.srv.log_mark()
        silent = [L.RawConn(self.srv.port) for _ in range(4)]
        half = L.RawConn(self.srv.port)
        try:
            # the start of a ClientHello record, then nothing
            self.assertTrue(half.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
            t0 = time.monotonic()
            for _ in range(3):  # served at once meanwhile, over TLS
                r = self.srv.get("/health", timeout=5)
                self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - t0, 1.5, "other clients were held up")
            for c in silent + [half]:
                closed, data, _ = c.wait_closed(RECV_TIMEOUT + 3.0)
                self.assertTrue(closed, "a silent client was not dropped")
                self.assertFalse(data.startswith(b"HTTP/"))
            elapsed = time.monotonic() - t0
            self.assertGreater(elapsed, RECV_TIMEOUT - 0.5, "dropped before recv_timeout")
            self.assertLess(elapsed, RECV_TIMEOUT + 3.0)
        finally:
            for c in silent + [half]:
                c.close()
        line = self.srv.wait_log(mark, r"no handshake within server\.recv_timeout \(%d s\)"
                                 % RECV_TIMEOUT)
        self.assertIsNotNone(line, self.srv.log_since(mark)[-2000:])
        self.assertTrue(self.srv.alive())


# ----------------------------------------------------------------------
# start-up refusals and config errors
# ----------------------------------------------------------------------
class TlsStartupTest(unittest.TestCase):
    """`sts serve` refuses to start with a TLS setup it cannot trust."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sts-it-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write_config(self, cfg):
        path = os.path.join(self.tmp, "sts.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path

    def serve_fails(self, cfg, message):
        """sts serve exits 1 without listening, and says @message on stderr."""
        path = self.write_config(cfg)
        p = subprocess.run([L.STS_BIN, "serve", "--config", path, "--listen", "127.0.0.1:0",
                            "--data-dir", self.tmp], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        self.assertNotIn("listening on", out)
        self.assertIn(message, out)
        return out

    def key_copy(self, mode):
        path = os.path.join(self.tmp, "tls-%o.key" % mode)
        shutil.copyfile(L.TLS_SERVER_KEY, path)
        os.chmod(path, mode)
        return path

    def test_key_readable_by_group_or_others(self):
        for mode in (0o640, 0o604, 0o644):
            with self.subTest(mode=oct(mode)):
                cfg = L.tls_config(L.default_config())
                cfg["server"]["tls_key"] = self.key_copy(mode)
                self.serve_fails(cfg, "TLS key is accessible by group or others (mode %04o); "
                                      "chmod 600 it" % mode)

    def test_weak_cipher_list(self):
        for ciphers, bad in (("ECDHE+AESGCM:AES128-SHA", "AES128-SHA"),
                             ("ECDHE+AESGCM:ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384"),
                             ("AES256-GCM-SHA384", "AES256-GCM-SHA384"),
                             ("HIGH", None)):
            with self.subTest(ciphers=ciphers):
                cfg = L.tls_config(L.default_config(), tls_ciphers=ciphers)
                out = self.serve_fails(cfg, "server.tls_ciphers \"%s\" enables " % ciphers)
                self.assertIn("which is not an AEAD suite with an ephemeral (EC)DHE key exchange",
                              out)
                if bad:
                    self.assertIn("enables %s," % bad, out)

    def test_unknown_cipher_list(self):
        cfg = L.tls_config(L.default_config(), tls_ciphers="NOSUCHCIPHER")
        self.serve_fails(cfg, "server.tls_ciphers \"NOSUCHCIPHER\" enables no cipher suite")

    def test_key_not_of_certificate(self):
        cfg = L.tls_config(L.default_config())
        cfg["server"]["tls_key"] = L._private_copy(L.SIGNING_KEY)  # a 0600 RSA key, not its
        self.serve_fails(cfg, "is not the key of the certificate in %s" % L.TLS_SERVER_CERT)

    def test_missing_certificate(self):
        cfg = L.tls_config(L.default_config())
        cfg["server"]["tls_cert"] = os.path.join(self.tmp, "nope.crt")
        self.serve_fails(cfg, "cannot load the TLS certificate (server.tls_cert)")

    def test_check_config_half_a_tls_setup(self):
        for have, missing in (("tls_cert", "tls_key"), ("tls_key", "tls_cert")):
            with self.subTest(have=have):
                cfg = L.default_config()
                cfg["server"] = {have: "x.pem"}
                path = self.write_config(cfg)
                p = subprocess.run([L.STS_BIN, "check-config", "--config", path],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertRegex(p.stderr.decode(), r'^sts: %s:\d+:\d+: "server\.%s" needs '
                                 r'"server\.%s" too \(TLS takes both or neither\)\n$'
                                 % (re.escape(path), have, missing))
        cfg = L.default_config()
        cfg["server"] = {"tls_ciphers": "ECDHE+AESGCM"}
        path = self.write_config(cfg)
        p = subprocess.run([L.STS_BIN, "check-config", "--config", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('"server.tls_ciphers" needs "server.tls_cert" and "server.tls_key"',
                      p.stderr.decode())


# ----------------------------------------------------------------------
# soap.require_tls_for_password_text
# ----------------------------------------------------------------------


class PasswordTextPolicyBase(L.StsTestCase):

    def assertTextRefused(self):
        mark = self.srv.log_mark()
        self.assertRefused(lambda: self.srv.issue(), "FailedAuthentication", 12)
        self.assertIsNotNone(self.srv.wait_log(mark, r"PasswordText over plain HTTP refused"))

    def assertTextAccepted(self):
        r, _, _ = self.issue_ok()
        self.assertEqual(r.status, 200)

    def assertDigestAccepted(self):
        r, _, _ = self.issue_ok(digest=True)
        self.assertEqual(r.status, 200)


class PlainNonLoopbackDefaultTest(PasswordTextPolicyBase):
    """Plain HTTP on 0.0.0.0, setting absent: PasswordText refused, digest fine."""

    CONFIG = staticmethod(L.default_config)
    LISTEN = "0.0.0.0:0"

    def test_notice(self):
        self.assertIn("UsernameToken PasswordText is refused: plain HTTP on a non-loopback "
                      "address (soap.require_tls_for_password_text)", self.srv.log_text())

    def test_digest_accepted(self):
        self.assertDigestAccepted()

    def test_text_refused(self):
        self.assertTextRefused()


class PlainNonLoopbackAllowedTest(PasswordTextPolicyBase):
    """Plain HTTP on 0.0.0.0 with the setting false: accepted, with a warning."""

    @staticmethod
    def CONFIG():
        cfg = L.default_config()
        cfg["soap"] = {"require_tls_for_password_text": False}
        return cfg

    LISTEN = "0.0.0.0:0"

    def test_text_accepted_with_warning(self):
        self.assertIn("PasswordText is accepted over plain HTTP on a non-loopback address",
                      self.srv.log_text())
        self.assertTextAccepted()


class PlainLoopbackForcedTest(PasswordTextPolicyBase):
    """Plain HTTP on loopback with the setting true: refused there too."""

    @staticmethod
    def CONFIG():
        cfg = L.default_config()
        cfg["soap"] = {"require_tls_for_password_text": True}
        return cfg

    def test_notice(self):
        self.assertIn("UsernameToken PasswordText is refused: plain HTTP "
                      "(soap.require_tls_for_password_text)", self.srv.log_text())

    def test_digest_accepted(self):
        self.assertDigestAccepted()

    def test_text_refused(self):
        self.assertTextRefused()


class PlainLoopbackDefaultTest(PasswordTextPolicyBase):
    """Plain HTTP on loopback, setting absent (the development case): accepted."""

    CONFIG = staticmethod(L.default_config)

    def test_text_accepted_silently(self):
        self.assertNotIn("PasswordText", self.srv.log_text())
        self.assertTextAccepted()


class TlsNonLoopbackTest(PasswordTextPolicyBase):
    """TLS on 0.0.0.0 with the setting true: PasswordText is fine over TLS."""

    @staticmethod
    def CONFIG():
        cfg = L.tls_config(L.default_config(), recv_timeout=RECV_TIMEOUT)
        cfg["soap"] = {"require_tls_for_password_text": True}
        return cfg

    TLS = True
    LISTEN = "0.0.0.0:0"

    def test_text_accepted_over_tls(self):
        self.assertIn("listening on https://0.0.0.0:%d " % self.srv.port, self.srv.log_text())
        self.assertNotIn("PasswordText", self.srv.log_text())
        self.assertTextAccepted()
        self.assertDigestAccepted()


if __name__ == "__main__":
    unittest.main(verbosity=2)
