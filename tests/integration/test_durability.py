# SPDX-License-Identifier: GPL-2.0-or-later
"""Durability of the token store under SIGKILL (issue #5).

One data directory, three rounds. In each, the server runs while several
threads issue SAML 2.0 tokens (SOAP Issue) and cancel some of them (SOAP
Cancel); the test records every token whose Issue response it fully
received and every Cancel that was answered with RequestedTokenCancelled.
Once a round's number of answered requests is reached, with requests still
in flight, the server is SIGKILLed and started again on the same directory.
Then, for everything recorded so far (all rounds):
  - every cancelled token validates as invalid, and its row says cancelled;
  - every issued token is in the store, and validates as valid unless a
    Cancel of it was sent (answered or not: one in flight may or may not
    have been committed when the server died);
  - tokens.db passes PRAGMA integrity_check.
The three kill points differ: early (a few requests into a new store), in
the middle of issue-heavy load, and in the middle of cancel-heavy load.

The same for the REST face (test_rest_revoke_sigkill_mid_load): threads
exchange a SAML subject for access tokens at /token and revoke some of them at
/revoke (RFC 7009); after each SIGKILL and restart, every token whose
revocation was answered 200 is inactive at /introspect, refused as a
subject_token (invalid_request) and cancelled in its row; every exchanged
token no revocation was sent for is active.

Every request has a timeout; waits for the kill point are bounded; the only
sleeps are the poll interval of those bounded waits. Only 127.0.0.1."""
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

THREADS = 4
REQUEST_TIMEOUT = 15.0
KILL_WAIT = 120.0   # the most a round may take to reach its kill point
STATE_CANCELLED = 2  # tokens.state (see test_lifecycle.py)
ID_RE = re.compile(rb'\bID="([^"]+)"')

# (answered requests before the kill, share of requests that are Cancels)
ROUNDS = ((4, 0.3), (40, 0.3), (40, 0.8))
# the same for exchanges and revocations over REST
REST_ROUNDS = ((4, 0.3), (40, 0.7))


class Record:
    """What the clients saw, across rounds (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.issued = {}             # token id -> assertion bytes (response fully received)
        self.cancel_sent = set()     # ids a Cancel was sent for
        self.cancelled = set()       # ids whose Cancel was answered OK
        self.answered = 0            # requests answered in the current round

    def pick_to_cancel(self, rnd):
        with self.lock:
            left = [i for i in self.issued if i not in self.cancel_sent]
            if not left:
                return None
            tid = rnd.choice(left)
            self.cancel_sent.add(tid)
            return tid, self.issued[tid]


def cancel_answered_ok(resp):
    if resp.status != 200:
        return False
    try:
        _, items = L.parse_rstr_response(resp, collection=False)
    except Exception:  # noqa: BLE001 - a cut or odd body is simply not an OK
        return False
    return items[0].cancelled is not None


class Load(threading.Thread):
    """Issues and cancels until told to stop or the server is gone."""

    def __init__(self, srv, rec, stop, cancel_share, seed):
        super().__init__(daemon=True)
        self.srv, self.rec, self.stop_ev = srv, rec, stop
        self.cancel_share = cancel_share
        self.rnd = random.Random(seed)
        self.error = None

    def run(self):
        try:
            while not self.stop_ev.is_set():
                if not self.step():
                    return
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def step(self):
        """One request; False once the server no longer answers."""
        target = None
        if self.rnd.random() < self.cancel_share:
            target = self.rec.pick_to_cancel(self.rnd)
        try:
            if target is not None:
                resp = self.srv.cancel(target[1], timeout=REQUEST_TIMEOUT)
            else:
                resp = self.srv.issue(timeout=REQUEST_TIMEOUT)
        except OSError:  # refused, reset, cut short: the server died (or is dying)
            return False
        with self.rec.lock:
            if target is not None:
                if cancel_answered_ok(resp):
                    self.rec.cancelled.add(target[0])
                    self.rec.answered += 1
            elif resp.status == 200:
                token = L.extract_assertion_bytes(resp.body)
                self.rec.issued[ID_RE.search(token).group(1).decode()] = token
                self.rec.answered += 1
        return True


class RestLoad(Load):
    """Exchanges at /token and revokes at /revoke until told to stop or the
    server is gone. rec.issued maps jti -> access token."""

    def __init__(self, srv, rec, stop, cancel_share, seed, subject):
        super().__init__(srv, rec, stop, cancel_share, seed)
        self.subject = subject

    def step(self):
        target = None
        if self.rnd.random() < self.cancel_share:
            target = self.rec.pick_to_cancel(self.rnd)
        try:
            if target is not None:
                resp = L.rest_post(self.srv, "/revoke", {"token": target[1]},
                                   timeout=REQUEST_TIMEOUT)
            else:
                resp = L.token_exchange(self.srv, self.subject, L.TT_SAML2_URN, audience=L.RP)
        except OSError:  # requests' errors are OSErrors: the server died (or is dying)
            return False
        with self.rec.lock:
            if target is not None:
                if resp.status_code == 200:
                    self.rec.cancelled.add(target[0])
                    self.rec.answered += 1
            elif resp.status_code == 200:
                try:
                    token = resp.json()["access_token"]
                except ValueError:  # a cut body: not an answer
                    return True
                self.rec.issued[L.jwt_parts(token)[1]["jti"]] = token
                self.rec.answered += 1
        return True


class DurabilityTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sts-it-durability-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.servers = []

    def tearDown(self):
        keep = False
        for srv in self.servers:
            srv.kill()
            leaked = L.secrets_in_log(srv.log_text())
            if leaked:
                keep = True
                print("\nsecrets in %s: %s" % (srv.log_path, leaked), file=sys.stderr)
        if keep or os.environ.get("STS_KEEP_TMP"):
            print("\n[durability] kept in %s" % self.tmp, file=sys.stderr)
            return
        for srv in self.servers:
            srv.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, rest=False):
        cfg = L.rest_default_config() if rest else L.default_config()
        cfg["server"] = {"workers": THREADS}
        srv = L.Server("durability", cfg)
        srv.data_dir = self.data_dir  # every server of the test on the one directory
        self.servers.append(srv)
        return srv.start()

    # --- the checks ---------------------------------------------------------
    def db(self):
        return sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "tokens.db"),
                               uri=True, timeout=10)

    def assertIntegrity(self):
        con = self.db()
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            con.close()

    def validate_code(self, srv, token):
        r = srv.validate(token, timeout=REQUEST_TIMEOUT)
        self.assertEqual(r.status, 200, r.body[:500])
        _, items = L.parse_rstr_response(r, collection=False)
        return items[0].status_code

    def check_rows(self, rec, label, what):
        """Every token whose answer was sent is in the store, every cancellation
        answered is recorded, and the database passes integrity_check.
        Returns the number of rows."""
        con = self.db()
        try:
            rows = dict(con.execute("SELECT id, state FROM tokens").fetchall())
        finally:
            con.close()
        missing = [i for i in rec.issued if i not in rows]
        self.assertEqual(missing, [], "%s: %s tokens missing from the store" % (label, what))
        for tid in rec.cancelled:
            self.assertEqual(rows[tid], STATE_CANCELLED, "%s: %s not cancelled" % (label, tid))
        self.assertIntegrity()
        return len(rows)

    def check_answers(self, rec, label, state_of, cancelled, live, what):
        """state_of(token) for every token, in parallel: @cancelled for those
        whose cancellation was answered, @live for those never sent to be
        cancelled (a cancellation sent but unanswered may have gone either way)."""
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            states = dict(zip(rec.issued, pool.map(state_of, rec.issued.values())))
        same = self.assertIs if isinstance(live, bool) else self.assertEqual
        for tid, state in states.items():
            if tid in rec.cancelled:
                same(state, cancelled, "%s: cancelled %s is still valid" % (label, tid))
            elif tid not in rec.cancel_sent:
                same(state, live, "%s: %s %s is not valid" % (label, what, tid))

    def check_store(self, srv, rec, label):
        rows = self.check_rows(rec, label, "issued")
        self.check_answers(rec, label, lambda t: self.validate_code(srv, t),
                           L.STATUS_INVALID, L.STATUS_VALID, "issued")
        return rows

    def check_rest(self, srv, rec, label):
        """Over REST: revoked tokens inactive and refused as subjects, the others active."""
        rows = self.check_rows(rec, label, "exchanged")

        def active(token):
            r = L.rest_post(srv, "/introspect", {"token": token}, timeout=REQUEST_TIMEOUT)
            self.assertEqual(r.status_code, 200, r.text[:500])
            return r.json().get("active")
        self.check_answers(rec, label, active, False, True, "exchanged")
        for tid in sorted(rec.cancelled)[:20]:
            r = L.token_exchange(srv, rec.issued[tid], L.TT_ACCESS, audience=L.RP)
            self.assertEqual((r.status_code, r.json().get("error")), (400, "invalid_request"),
                             "%s: revoked %s exchangeable" % (label, tid))
        return rows

    # --- one round ----------------------------------------------------------
    def run_round(self, n, kill_after, cancel_share, rec, rest=False):
        srv = self.start(rest)
        with rec.lock:
            rec.answered = 0
        stop = threading.Event()
        if rest:
            r = srv.issue()
            self.assertEqual(r.status, 200, r.body[:500])
            subject = L.b64url_encode(L.extract_assertion_bytes(r.body))
            load = [RestLoad(srv, rec, stop, cancel_share, 2000 * n + i, subject)
                    for i in range(THREADS)]
        else:
            load = [Load(srv, rec, stop, cancel_share, seed=1000 * n + i) for i in range(THREADS)]
        for t in load:
            t.start()
        deadline = time.monotonic() + KILL_WAIT
        try:
            while True:
                with rec.lock:
                    if rec.answered >= kill_after:
                        break
                for t in load:
                    self.assertIsNone(t.error, "round %d: client error %r" % (n, t.error))
                self.assertIsNone(srv.proc.poll(), "round %d: the server died by itself" % n)
                self.assertLess(time.monotonic(), deadline,
                                "round %d: %d answered requests not reached in %.0fs"
                                % (n, kill_after, KILL_WAIT))
                time.sleep(0.005)
            srv.proc.kill()  # SIGKILL, with requests of the other threads in flight
            srv.proc.wait(10)
        finally:
            stop.set()
            for t in load:
                t.join(REQUEST_TIMEOUT + 5)
        for t in load:
            self.assertFalse(t.is_alive(), "a load thread did not end")
            self.assertIsNone(t.error, "round %d: client error %r" % (n, t.error))
        srv.stop()

    def test_sigkill_mid_load_loses_nothing_answered(self):
        rec = Record()
        for n, (kill_after, cancel_share) in enumerate(ROUNDS, 1):
            self.run_round(n, kill_after, cancel_share, rec)
            srv = self.start()  # the restart on the same data directory
            rows = self.check_store(srv, rec, "after kill %d" % n)
            print("\nkill %d: %d issued, %d cancelled (%d cancels sent), %d rows"
                  % (n, len(rec.issued), len(rec.cancelled), len(rec.cancel_sent), rows),
                  file=sys.stderr)
            self.assertEqual(srv.stop(), 0, "restarted server did not stop cleanly")
        self.assertGreater(len(rec.cancelled), 0, "no Cancel was answered: the test proved little")
        self.assertIntegrity()

    def test_rest_revoke_sigkill_mid_load(self):
        rec = Record()
        for n, (kill_after, revoke_share) in enumerate(REST_ROUNDS, 1):
            self.run_round(n, kill_after, revoke_share, rec, rest=True)
            srv = self.start(rest=True)
            rows = self.check_rest(srv, rec, "REST, after kill %d" % n)
            print("\nREST kill %d: %d exchanged, %d revoked (%d revocations sent), %d rows"
                  % (n, len(rec.issued), len(rec.cancelled), len(rec.cancel_sent), rows),
                  file=sys.stderr)
            self.assertEqual(srv.stop(), 0, "restarted server did not stop cleanly")
        self.assertGreater(len(rec.cancelled), 0, "no revocation was answered: proved little")
        self.assertIntegrity()


if __name__ == "__main__":
    unittest.main(verbosity=2)
