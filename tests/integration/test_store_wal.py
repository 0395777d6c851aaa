#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The token store's write-ahead log stays bounded under a steady load (issue
#6): SQLite starts the WAL over only when a write transaction begins with
every frame copied back into the database, which under back-to-back group
commits the background checkpointer alone never achieved, so the WAL grew
by tens of MB a second and every commit paid another checkpoint pass.

8 keep-alive clients send SOAP Issue requests back to back (each a durable
write) while the WAL's size is sampled: it must stay within a few times the
1000-frame checkpoint threshold (about 4 MiB), whatever the number of
writes, and the engine's counters must show few checkpoints per commit."""
import http.client
import os
import re
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stslib as L  # noqa: E402

CLIENTS = 8
SECONDS = 8.0
WAL_LIMIT = 12 * 1024 * 1024   # 3x the frames of the checkpoint threshold (4 KiB pages)
COUNTERS_RE = re.compile(r"store (\d+) writes in (\d+) commits \([\d.]+ per commit\), (\d+) checkpoints")


class StoreWalTest(unittest.TestCase):

    def test_wal_bounded_under_load(self):
        cfg = L.default_config()
        cfg["server"] = {"max_keep_alive": 10000, "log_level": "notice"}
        cfg["soap"] = {"timestamp_max_age": 3600}
        srv = L.Server("store-wal", cfg)
        srv.start()
        wal = srv.db_path + "-wal"
        body = L.envelope(L.rst_issue(), 12,
                          L.security_xml(12, timestamp=L.timestamp_xml(expires_offset=3600)))
        headers = L.soap_headers(12, L.ACTION["Issue"])
        stop = threading.Event()
        errors, done = [], [0]
        lock = threading.Lock()

        def client():
            conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
            try:
                while not stop.is_set():
                    conn.request("POST", "/sts", body=body, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        errors.append(r.status)
                        return
                    with lock:
                        done[0] += 1
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        biggest = 0
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline and not errors:
                if os.path.exists(wal):
                    biggest = max(biggest, os.path.getsize(wal))
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
            rc = srv.stop()
        m = COUNTERS_RE.search(srv.log_text())
        srv.cleanup()
        self.assertEqual(errors, [], "a client failed")
        self.assertEqual(rc, 0, "the server did not stop cleanly")
        self.assertIsNotNone(m, "no counters line in the log")
        writes, commits, checkpoints = (int(x) for x in m.groups())
        print("\n%d Issues, %d writes in %d commits, %d checkpoints, largest WAL %.1f MiB"
              % (done[0], writes, commits, checkpoints, biggest / 1048576.0), file=sys.stderr)
        self.assertGreater(writes, 1200, "too few writes to have filled the WAL twice")
        self.assertLessEqual(biggest, WAL_LIMIT, "the WAL grew to %d bytes" % biggest)
        self.assertLess(checkpoints, commits / 4, "a checkpoint pass after most commits")


if __name__ == "__main__":
    unittest.main(verbosity=2)
