# SPDX-License-Identifier: GPL-2.0-or-later
"""The worker pool and the connections between requests (issue #6): idle
keep-alive connections and new connections that send nothing are watched by
the poller and hold no worker, so with `workers: 2` and 32 such connections
open new requests are answered at once, and the idle connections still work
afterwards (plain HTTP and TLS). Also: a pipelined pair is answered as the
transport contract says (the first, then close), server.max_keep_alive still
holds, idle connections are closed after server.keep_alive_timeout (keep-alive)
or server.recv_timeout (new), the server's memory with 256 open connections,
and server.max_connections (issue #5): connections beyond it are closed at
once, the others keep working, capacity comes back when they end, and the
refusals are logged once per burst.

Every socket operation is bounded by a timeout; only 127.0.0.1 is contacted.
Timing assertions are bounds on how long a request took, never sleeps."""
import os
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

GET_HEALTH = L.http_head_bytes("GET", "/health")
RECV_TIMEOUT = 10   # seconds; an idle connection pinning a worker would block this long
PROMPT = 2.0        # "promptly": well under RECV_TIMEOUT, with room for a loaded machine
IDLE = 16           # idle keep-alive connections, and as many new silent ones


def pool_config(tls=False, **server):
    cfg = L.rest_default_config()
    cfg["server"] = dict({"workers": 2, "recv_timeout": RECV_TIMEOUT}, **server)
    return L.tls_config(cfg) if tls else cfg


class PoolBase(L.StsTestCase):

    def conn(self, timeout=5.0):
        ctx = L.tls_client_context() if self.TLS else None
        return L.RawConn(self.srv.port, timeout=timeout, context=ctx)

    def get_health(self, c, timeout=5.0):
        self.assertTrue(c.send(GET_HEALTH), "send failed: %r" % c.send_error)
        r = c.read_response(timeout=timeout, request_method="GET")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        return r

    def open_idle(self):
        """IDLE keep-alive connections after one request each, and IDLE new
        connections that sent nothing (over TLS: handshake done, no request)."""
        conns = []
        try:
            for _ in range(IDLE):
                c = self.conn()
                conns.append(c)
                r = self.get_health(c)
                self.assertIn("keep-alive", r.headers.get("connection", "").lower())
            for _ in range(IDLE):
                conns.append(self.conn())
        except BaseException:
            for c in conns:
                c.close()
            raise
        return conns

    def assertPrompt(self, what, fn):
        t0 = time.monotonic()
        r = fn()
        took = time.monotonic() - t0
        self.assertLess(took, PROMPT, "%s took %.2fs with idle connections open "
                                      "(recv_timeout %ds)" % (what, took, RECV_TIMEOUT))
        return r

    def check_idle_do_not_starve(self):
        conns = self.open_idle()
        try:
            for i in range(10):  # new connections, both faces
                r = self.assertPrompt("GET /health #%d" % i,
                                      lambda: self.srv.get("/health", timeout=RECV_TIMEOUT + 5))
                self.assertEqual(r.status, 200)
            r = self.assertPrompt("SOAP Issue", lambda: self.srv.issue(timeout=RECV_TIMEOUT + 5))
            self.assertEqual(r.status, 200, r.body[:500])
            r = self.assertPrompt("GET /.well-known/jwks.json", lambda: L.rest_get(
                self.srv, "/.well-known/jwks.json", timeout=RECV_TIMEOUT + 5))
            self.assertEqual(r.status_code, 200)
            # every idle connection still works: a second request on the keep-alive
            # ones, the first on the silent ones
            for i, c in enumerate(conns):
                with self.subTest(connection=i):
                    self.assertPrompt("request on idle connection %d" % i,
                                      lambda: self.get_health(c, timeout=RECV_TIMEOUT + 5))
        finally:
            for c in conns:
                c.close()


class PoolTest(PoolBase):
    """workers 2, recv_timeout 10 s, plain HTTP."""

    CONFIG = staticmethod(pool_config)

    def test_idle_connections_do_not_starve_the_pool(self):
        self.check_idle_do_not_starve()

    def test_keep_alive_across_workers_soap_and_rest(self):
        """One keep-alive connection, requests of both faces with other clients'
        requests in between (so that different workers serve it): all answered,
        same connection."""
        with self.conn() as c:
            local = c.sock.getsockname()
            for i in range(6):
                self.get_health(c)
                self.assertEqual(self.srv.get("/health").status, 200)
                body = L.envelope(L.rst_issue(), 12, L.security_xml(12))
                self.assertTrue(c.send(L.http_head_bytes("POST", "/sts", [
                    ("Content-Type", 'application/soap+xml; charset=utf-8; action="%s"'
                     % L.ACTION["Issue"]), ("Content-Length", str(len(body)))]) + body))
                r = c.read_response(timeout=10)
                self.assertEqual(r.status, 200, r.body[:500])
            self.assertEqual(c.sock.getsockname(), local)
            self.assertFalse(c.eof)

    def test_pipelined_pair(self):
        """Two requests in one write: the first is answered with Connection: close
        and the connection ends (README: gSOAP cannot serve pipelined requests);
        nothing hangs and the pool is free for others at once."""
        with self.conn() as c:
            self.assertTrue(c.send(GET_HEALTH + GET_HEALTH))
            r = c.read_response(request_method="GET", timeout=5)
            closed, extra, _ = c.wait_closed(3.0)
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        self.assertIn("close", r.headers.get("connection", "").lower())
        self.assertTrue(closed, "connection left open after a pipelined pair")
        self.assertEqual(extra, b"")
        self.assertPrompt("GET /health after", lambda: self.srv.get("/health"))

    def descriptors(self):
        """{fd: target} of the server process, from /proc."""
        fd_dir = "/proc/%d/fd" % self.srv.proc.pid
        out = {}
        for fd in os.listdir(fd_dir):
            try:
                out[fd] = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                pass  # closed while listing
        return out

    def test_client_closing_an_idle_connection(self):
        """Idle connections that the clients close (or reset) leave no socket
        behind. Sockets are compared by descriptor and inode, so a file the
        server opens meanwhile (the store's read connection, a WAL checkpoint)
        cannot hide or fake a leaked connection; any new descriptor is named
        in the failure message."""
        import struct
        self.assertTrue(self.srv.alive())
        before = self.descriptors()
        for i in range(20):
            c = self.conn()
            self.get_health(c)
            if i % 2:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            self.conn().close()  # a new connection closed without a byte

        def new_sockets():
            now = self.descriptors()
            added = {fd: t for fd, t in now.items() if before.get(fd) != t}
            return added, {fd: t for fd, t in added.items() if t.startswith("socket:")}

        deadline = time.monotonic() + 5
        added, sockets = new_sockets()
        while sockets and time.monotonic() < deadline:
            time.sleep(0.05)
            added, sockets = new_sockets()
        self.assertEqual(sockets, {}, "sockets left behind; every new descriptor: %r" % added)
        self.assertTrue(self.srv.alive())


class PoolTlsTest(PoolBase):
    """The same over TLS: the SSL object travels with the connection."""

    CONFIG = staticmethod(lambda: pool_config(tls=True))
    TLS = True

    def test_idle_connections_do_not_starve_the_pool(self):
        self.check_idle_do_not_starve()

    def test_silent_tcp_connections_hold_no_worker(self):
        """TCP connections that never start the handshake: no worker waits on them."""
        silent = [L.RawConn(self.srv.port) for _ in range(IDLE)]
        try:
            for i in range(5):
                r = self.assertPrompt("GET /health #%d" % i, lambda: self.srv.get("/health"))
                self.assertEqual(r.status, 200)
        finally:
            for c in silent:
                c.close()


class KeepAliveLimitsTest(PoolBase):
    """max_keep_alive 3, keep_alive_timeout 1 s, recv_timeout 1 s."""

    CONFIG = staticmethod(lambda: pool_config(max_keep_alive=3, keep_alive_timeout=1,
                                              recv_timeout=1))

    def test_max_keep_alive_holds(self):
        """gSOAP's count, as before connections moved between workers: the
        (max_keep_alive + 1)th answer says Connection: close, then it ends."""
        with self.conn() as c:
            for i in range(1, 4):
                r = self.get_health(c)
                self.assertIn("keep-alive", r.headers.get("connection", "").lower(), i)
                self.assertEqual(self.srv.get("/health").status, 200)  # another worker's turn
            r = self.get_health(c)
            self.assertIn("close", r.headers.get("connection", "").lower())
            closed, extra, _ = c.wait_closed(3.0)
        self.assertTrue(closed)
        self.assertEqual(extra, b"")

    def test_idle_keep_alive_closed_after_keep_alive_timeout(self):
        with self.conn() as c:
            self.get_health(c)
            t0 = time.monotonic()
            closed, extra, waited = c.wait_closed(4.0)
        self.assertTrue(closed, "idle keep-alive connection not closed within 4 s")
        self.assertEqual(extra, b"")
        self.assertGreater(waited, 0.5, "closed before keep_alive_timeout (1 s)")

    def test_silent_new_connection_closed_after_recv_timeout(self):
        mark = self.srv.log_mark()
        with self.conn() as c:
            closed, extra, waited = c.wait_closed(4.0)
        self.assertTrue(closed, "silent connection not closed within 4 s")
        self.assertEqual(extra, b"")
        self.assertGreater(waited, 0.5, "closed before recv_timeout (1 s)")
        self.assertIsNotNone(self.srv.wait_log(
            mark, r"no request within server\.recv_timeout \(1 s\)"), self.srv.log_since(mark))


@unittest.skipIf(os.environ.get("STS_SANITIZED"), "RSS measures ASan's quarantine")
class ManyConnectionsMemoryTest(PoolBase):
    """The default pool (32 workers): 256 keep-alive connections open, each after
    a request, and every one of them used once more."""

    CONFIG = staticmethod(lambda: L.rest_default_config())
    N = 256
    RSS_LIMIT_KB = 32 * 1024

    def test_rss_with_256_connections(self):
        conns = []
        try:
            for _ in range(self.N):
                c = self.conn()
                conns.append(c)
                self.get_health(c)
            for c in conns:
                self.get_health(c)
            rss = L.server_rss_kb(self.srv)
        finally:
            for c in conns:
                c.close()
        print("\nVmRSS with %d keep-alive connections open: %d kB" % (self.N, rss),
              file=sys.stderr)
        self.assertLess(rss, self.RSS_LIMIT_KB)


class MaxConnectionsTest(PoolBase):
    """max_connections 4."""

    CAP = 4
    CONFIG = staticmethod(lambda: pool_config(max_connections=MaxConnectionsTest.CAP))

    def refused(self, timeout=3.0):
        """A connection beyond the cap: the server closes it without a byte."""
        with L.RawConn(self.srv.port) as c:
            c.send(GET_HEALTH)
            closed, data, _ = c.wait_closed(timeout)
        return closed and data == b""

    def test_beyond_the_cap_refused_others_work_capacity_returns(self):
        mark = self.srv.log_mark()
        held = [self.conn() for _ in range(self.CAP)]
        try:
            for c in held:
                self.get_health(c)
            for i in range(3):
                self.assertTrue(self.refused(), "connection %d beyond the cap was served" % i)
            for c in held:  # the connections within the cap keep working
                self.get_health(c)
            line = self.srv.wait_log(mark, r"server\.max_connections \(4\) reached")
            self.assertIsNotNone(line, self.srv.log_since(mark))
            self.assertEqual(self.srv.log_since(mark).count("max_connections (4) reached"), 1,
                             "refusals are logged once per burst")
            held.pop().close()  # capacity comes back once one ends
            deadline = time.monotonic() + 5
            while True:
                try:
                    with self.conn() as c:
                        self.get_health(c, timeout=2)
                    break
                except (OSError, AssertionError):
                    if time.monotonic() > deadline:
                        self.fail("no capacity 5 s after a connection ended")
            self.assertIsNotNone(self.srv.wait_log(
                mark, r"accepting connections again \(\d+ refused"), self.srv.log_since(mark))
        finally:
            for c in held:
                c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
