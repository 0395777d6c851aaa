# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmark behind tests/bench/run (which builds the release binary and
sets STS_BIN). Not a ctest: it measures, it does not judge, although each line
names its target and whether this run met it.

The server runs pinned to core 0 (taskset -a), wrk pinned to core 1, one wrk
thread. Each scenario gets a fresh server (fresh VmHWM) on a fresh store; the
requests are checked once with Python before wrk sends them (a scenario whose
requests fail is reported as such, not timed).

    python3 tests/bench/bench.py DURATION_SECONDS
"""
import base64
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import stslib as S  # noqa: E402  (after the path)

LUA = os.path.join(HERE, "post.lua")
SERVER_CPU, CLIENT_CPU = "0", "1"
CONNECTIONS = 8           # in flight at once: enough to keep one core busy and to batch commits
PREFILL_ROWS = 1000000    # live tokens in the store for scenario 6
SOAP12 = "application/soap+xml; charset=utf-8; action=\"%s\""
FORM = "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------
def config(primary="rsa"):
    """The embedded default's realm (alice, rp and api, migration-tester) with
    bench settings: NOTICE logging (INFO logs a line per token), keep-alive for
    the whole run, timestamps that stay fresh for a day. @primary "ec" makes the
    EC P-256 key the first signing key, the one that signs SAML."""
    cfg = S.rest_default_config()
    cfg["server"] = {"log_level": "notice", "max_keep_alive": 10000}
    cfg["soap"] = {"timestamp_max_age": 86400}
    if primary == "ec":
        cfg["engine"]["signing_key"] = S._private_copy(S.EC_SIGNING_KEY)
        cfg["engine"]["signing_cert"] = S.EC_SIGNING_CERT
        cfg["engine"]["additional_signing_keys"] = [
            {"key": S.SIGNING_KEY, "cert": S.SIGNING_CERT}]
    return cfg


def start(name, primary="rsa", prefill=0):
    srv = S.Server("bench-" + name, config(primary), start_timeout=60)
    if prefill:
        srv.start()     # creates the schema
        srv.stop()
        fill_store(srv.db_path, prefill)
    srv.start()
    # Every thread (the workers exist once it listens) onto the server core.
    subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CPU, str(srv.proc.pid)],
                   check=True, stdout=subprocess.DEVNULL)
    return srv


COUNTERS_RE = re.compile(r"counters: credential cache (\d+) hits (\d+) misses; verified-token"
                         r" cache (\d+) hits (\d+) misses, SAML (\d+) hits (\d+) misses;"
                         r" store (\d+) writes in (\d+) commits")


def stop(srv):
    """Stop the server; returns the engine's counters line as a short note."""
    srv.stop()
    m = COUNTERS_RE.search(srv.log_text())
    srv.cleanup()
    if not m:
        return ""
    ch, cm, vh, vm, sh, sm, wr, tx = (int(x) for x in m.groups())
    note = "creds %d/%d hit" % (ch, ch + cm)
    if vh + vm:
        note += ", tokens %d/%d hit" % (vh, vh + vm)
    if sh + sm:
        note += ", SAML %d/%d hit" % (sh, sh + sm)
    if tx:
        note += ", %.1f writes/commit" % (wr / tx)
    return note


def fill_store(db_path, rows):
    """@rows live SAML 2.0 rows, random ids like ours, one transaction, no fsync:
    SQLite does the loop (a recursive CTE), so a million rows take seconds."""
    now = int(time.time())
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute(
        "INSERT INTO tokens(id, kind, subject, audience, requester, issued_at, expires_at,"
        " state, replaces, replaced_by, hash, requester_kind, parent, subject_issuer, bound)"
        " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)"
        " SELECT '_' || lower(hex(randomblob(16))), 1, 'alice', ?2, 'alice', ?3, ?3 + 86400,"
        " 0, NULL, NULL, randomblob(32), 1, NULL, NULL, 0 FROM n", (rows, S.RP, now))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def cpu_seconds(srv):
    """User + system CPU time of the server process (all threads) so far."""
    with open("/proc/%d/stat" % srv.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(srv):
    """(VmHWM, VmRSS) of the server in MiB."""
    out = {}
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024.0
    return out["VmHWM"], out["VmRSS"]


# ---------------------------------------------------------------------------
# requests (each checked once before wrk repeats it)
# ---------------------------------------------------------------------------
def security():
    return S.security_xml(12, timestamp=S.timestamp_xml(expires_offset=86400))


def soap_issue():
    body = S.envelope(S.rst_issue(), 12, security())
    return body, SOAP12 % S.ACTION["Issue"], None


def soap_validate(assertion):
    body = S.envelope(S.rst_target("Validate", assertion), 12, security())
    return body, SOAP12 % S.ACTION["Validate"], None


def basic_auth():
    raw = "%s:%s" % (urllib.parse.quote(S.CLIENT_ID, safe=""),
                     urllib.parse.quote(S.CLIENT_SECRET, safe=""))
    return "Basic " + base64.b64encode(raw.encode()).decode()


def form(**params):
    return urllib.parse.urlencode(params).encode()


def post(srv, path, req):
    body, ctype, auth = req
    headers = {"Content-Type": ctype}
    if auth:
        headers["Authorization"] = auth
    return srv.post_raw(body, headers, path=path)


def issue_assertion(srv):
    r = post(srv, "/sts", soap_issue())
    if r.status != 200:
        raise RuntimeError("Issue: HTTP %d %r" % (r.status, r.body[:300]))
    return S.extract_assertion_bytes(r.body)


def access_token(srv):
    """An at+jwt for api.example.com (ES256), exchanged for a SAML assertion."""
    saml = base64.urlsafe_b64encode(issue_assertion(srv)).decode().rstrip("=")
    r = post(srv, "/token", (form(grant_type=S.GRANT_TE, subject_token=saml,
                                  subject_token_type="urn:ietf:params:oauth:token-type:saml2",
                                  audience=S.RP_API), FORM, basic_auth()))
    if r.status != 200:
        raise RuntimeError("exchange SAML->AT: HTTP %d %r" % (r.status, r.body[:300]))
    return S.json.loads(r.body)["access_token"]


def exchange_request(at):
    return (form(grant_type=S.GRANT_TE, subject_token=at, subject_token_type=S.TT_ACCESS,
                 requested_token_type=S.TT_JWT, audience=S.RP_API), FORM, basic_auth())


def introspect_request(at):
    return form(token=at), FORM, basic_auth()


def check(srv, path, req, must_contain=None):
    for _ in range(3):  # also fills whatever the server caches
        r = post(srv, path, req)
        if r.status != 200 or (must_contain and must_contain not in r.body):
            raise RuntimeError("%s: HTTP %d %r" % (path, r.status, r.body[:400]))


# ---------------------------------------------------------------------------
# wrk and openssl
# ---------------------------------------------------------------------------
BENCH_RE = re.compile(r"^BENCH (.*)$", re.M)


def wrk(srv, path, req, seconds, connections=CONNECTIONS, rate=None):
    body, ctype, auth = req
    with tempfile.NamedTemporaryFile(prefix="sts-bench-", suffix=".body") as f:
        f.write(body or b"")
        f.flush()
        cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c%d" % connections,
               "-d%ds" % seconds, "--timeout", "10s", "-s", LUA,
               "http://127.0.0.1:%d%s" % (srv.port, path), "--",
               f.name if body is not None else "-", ctype, auth or "-"]
        if rate:
            cmd.append("%.1f" % rate)
        cpu0 = cpu_seconds(srv)
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=seconds + 60).stdout.decode()
        cpu = cpu_seconds(srv) - cpu0
    m = BENCH_RE.search(out)
    if not m:
        raise RuntimeError("wrk said:\n" + out)
    res = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors"] = sum(res[k] for k in ("connect", "read", "write", "status", "timeout"))
    # CPU the server spent per request: unlike req/s, it does not depend on
    # what else runs on the server's core (a shared machine).
    res["cpu_us"] = 1e6 * cpu / res["requests"] if res["requests"] else 0.0
    return res


def openssl_speed(alg, seconds):
    """(sign/s, verify/s) of `openssl speed` on the server core."""
    out = subprocess.run(["taskset", "-c", SERVER_CPU, "openssl", "speed", "-seconds",
                          str(seconds), alg], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, check=True).stdout.decode()
    pat = r"^rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)" if alg == "rsa2048" else \
        r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)"
    m = re.search(pat, out, re.M)
    if not m:
        raise RuntimeError("openssl speed %s said:\n%s" % (alg, out))
    return float(m.group(1)), float(m.group(2))


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def line(name, res, mem, target, note=""):
    print("%-44s %7.0f req/s %6.0f us cpu/req  p50 %6.2f ms  p99 %7.2f ms  err %-4d"
          " VmHWM %5.1f  VmRSS %5.1f MiB | %s%s"
          % (name, res["rps"], res["cpu_us"], res["p50_us"] / 1000.0, res["p99_us"] / 1000.0,
             res["errors"], mem[0], mem[1], target, " | " + note if note else ""), flush=True)


def verdict(ok):
    return "MET" if ok else "MISSED"


def scenario(name, seconds, path, make_req, primary="rsa", prefill=0, must_contain=None):
    """Run one scenario on a fresh server; returns (wrk result, (HWM, RSS, note))."""
    srv = start(name, primary, prefill)
    try:
        req = make_req(srv)
        check(srv, path, req, must_contain)
        res = wrk(srv, path, req, seconds)
        mem = rss(srv)
    except BaseException:
        stop(srv)
        raise
    return res, mem + (stop(srv),)


def fsync_latency(directory, n=200):
    """(p50, p99) ms of write(4 KiB) + fdatasync in @directory: the floor of
    every request that commits (synchronous=FULL)."""
    fd, path = tempfile.mkstemp(prefix="sts-bench-fsync-", dir=directory)
    lat = []
    try:
        for i in range(n):
            os.pwrite(fd, b"x" * 4096, (i % 64) * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    return 1000 * lat[n // 2], 1000 * lat[(n * 99) // 100]


def paced(name, seconds, path, make_req, rate, must_contain=None):
    """A scenario at a fixed @rate (see post.lua), CONNECTIONS connections."""
    srv = start(name)
    try:
        req = make_req(srv)
        check(srv, path, req, must_contain)
        res = wrk(srv, path, req, seconds, rate=rate)
        mem = rss(srv)
    except BaseException:
        stop(srv)
        raise
    return res, mem + (stop(srv),)


def wanted(tag):
    """Whether scenario @tag ("0".."6", "1h", "5h", "c256", "rss") is to run: all of them
    unless STS_BENCH_ONLY names some (comma-separated), for profiling one."""
    only = os.environ.get("STS_BENCH_ONLY")
    return not only or tag in only.split(",")


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    speed_s = max(1, min(seconds, 5))
    issue = (lambda srv: soap_issue())
    print("sts benchmark: %ds per scenario, server on CPU %s, wrk -t1 -c%d on CPU %s, %s"
          % (seconds, SERVER_CPU, CONNECTIONS, CLIENT_CPU, time.strftime("%Y-%m-%d %H:%M:%S")))
    print("machine: %d CPUs (%s)" % (os.cpu_count(), platform_cpu()), flush=True)

    only = bool(os.environ.get("STS_BENCH_ONLY"))
    rsa_sign = ec_bound = r1 = r5 = None
    if not only:  # the bounds take 2 x speed_s seconds: not when profiling one scenario
        rsa_sign, rsa_verify = openssl_speed("rsa2048", speed_s)
        ec_sign, ec_verify = openssl_speed("ecdsap256", speed_s)
        ec_bound = 1.0 / (1.0 / ec_sign + 1.0 / ec_verify)
        print("openssl speed -seconds %d rsa2048 (CPU %s): %.0f sign/s, %.0f verify/s"
              % (speed_s, SERVER_CPU, rsa_sign, rsa_verify))
        print("openssl speed -seconds %d ecdsap256 (CPU %s): %.0f sign/s, %.0f verify/s;"
              " one verify + one sign: %.0f/s"
              % (speed_s, SERVER_CPU, ec_sign, ec_verify, ec_bound))
        fs50, fs99 = fsync_latency(tempfile.gettempdir())
        print("disk (%s): write 4 KiB + fdatasync p50 %.2f ms, p99 %.2f ms (each commit waits"
              " for one)" % (tempfile.gettempdir(), fs50, fs99), flush=True)

    if wanted("0"):
        srv = start("health")
        try:
            r0 = wrk(srv, "/health", (None, "-", None), seconds)
            m0 = rss(srv)
        finally:
            note = stop(srv)
        line("0 GET /health (the HTTP layer alone)", r0, m0, "no target: the floor", note)

    if wanted("1"):
        r1, m1 = scenario("issue-rsa", seconds, "/sts", issue)
        line("1 SOAP Issue SAML2 RSA-2048 (UsernameToken)", r1, m1,
             "target >= 75%% of rsa2048 sign/s: %s" % ratio(r1, rsa_sign, 0.75, "%"), m1[2])

    if wanted("2"):
        r2, m2 = scenario("issue-ec", seconds, "/sts", issue, primary="ec")
        line("2 SOAP Issue SAML2 ECDSA P-256", r2, m2, "target >= 2x scenario 1: %s"
             % ratio(r2, r1 and r1["rps"], 2, "x"), m2[2])

    if wanted("3"):
        r3, m3 = scenario("validate", seconds, "/sts",
                          lambda srv: soap_validate(issue_assertion(srv)),
                          must_contain=S.STATUS_VALID.encode())
        line("3 SOAP Validate SAML2 RSA-2048", r3, m3, "no target", m3[2])

    if wanted("4"):
        r4, m4 = scenario("exchange", seconds, "/token",
                          lambda srv: exchange_request(access_token(srv)))
        line("4 REST /token at+jwt -> jwt ES256", r4, m4,
             "target >= 60%% of ES256 verify+sign bound: %s" % ratio(r4, ec_bound, 0.6, "%"),
             m4[2])

    if wanted("5"):
        r5, m5 = scenario("introspect", seconds, "/introspect",
                          lambda srv: introspect_request(access_token(srv)),
                          must_contain=b'"active":true')
        line("5 REST /introspect at+jwt ES256", r5, m5, "target >= 40000/s: %s"
             % verdict(r5["rps"] >= 40000), m5[2])

    if wanted("6"):
        t0 = time.monotonic()
        r6, m6 = scenario("issue-1m", seconds, "/sts", issue, prefill=PREFILL_ROWS)
        line("6 = 1 with %d live tokens in the store" % PREFILL_ROWS, r6, m6,
             "target within 10%% of scenario 1: %s (store filled in %.0fs)"
             % (ratio(r6, r1 and r1["rps"], 0.9, "+%"), time.monotonic() - t0 - seconds), m6[2])

    if wanted("1h") and r1:
        rh, mh = paced("half-peak", seconds, "/sts", issue, r1["rps"] / 2)
        line("1 paced at half its peak (%.0f/s)" % (r1["rps"] / 2), rh, mh,
             "target p99 <= 2 ms: %s" % verdict(rh["p99_us"] <= 2000), mh[2])
    if wanted("5h") and r5:
        ri, mi = paced("half-peak-5", seconds, "/introspect",
                       lambda srv: introspect_request(access_token(srv)), r5["rps"] / 2,
                       must_contain=b'"active":true')
        line("5 paced at half its peak (%.0f/s)" % (r5["rps"] / 2), ri, mi,
             "target p99 <= 2 ms: %s" % verdict(ri["p99_us"] <= 2000), mi[2])

    if wanted("c256"):
        srv = start("c256")
        try:
            check(srv, "/sts", soap_issue())
            rc = wrk(srv, "/sts", soap_issue(), max(1, min(seconds, 5)), connections=256)
            mc = rss(srv)
        finally:
            note = stop(srv)
        line("1 with 256 open connections", rc, mc, "target RSS <= 32 MiB: VmRSS %s, VmHWM %s"
             " (the peak includes one yescrypt check, 16 MiB)"
             % (verdict(mc[1] <= 32), verdict(mc[0] <= 32)), note)

    if wanted("rss"):
        rss_flat(seconds, r5)


def rss_flat(seconds, r5):
    """VmRSS after about 10,000 x @seconds and 100,000 x @seconds introspection
    requests (100k and 1M at the default) on one server: the issue's "flat
    within 10 % from 100k to 1M requests". The phases are timed from the rate
    the first one reaches (wrk runs for a duration, not a count)."""
    srv = start("rss-flat")
    try:
        req = introspect_request(access_token(srv))
        check(srv, "/introspect", req, b'"active":true')
        first, total = 10000 * seconds, 100000 * seconds
        a = wrk(srv, "/introspect", req, max(1, round(first / (r5["rps"] if r5 else 20000))))
        ma = rss(srv)
        b = wrk(srv, "/introspect", req, max(1, round((total - a["requests"]) / a["rps"])))
        mb = rss(srv)
    finally:
        note = stop(srv)
    growth = mb[1] / ma[1] - 1
    print("%-44s VmRSS %5.1f MiB after %d requests, %5.1f MiB after %d (%+.1f %%), err %d"
          " | target flat within 10%%: %s | %s"
          % ("5 RSS from %dk to %dk requests" % (first // 1000, total // 1000), ma[1],
             a["requests"], mb[1], a["requests"] + b["requests"], 100 * growth,
             a["errors"] + b["errors"], verdict(abs(growth) <= 0.10), note), flush=True)


def ratio(res, bound, want, unit):
    """res's req/s against @bound: as a percentage ("%"), a factor ("x") or a
    difference ("+%"), and whether it reached @want times @bound; "n/a" when the
    bound was not measured in this run (STS_BENCH_ONLY)."""
    if not bound:
        return "n/a"
    r = res["rps"] / bound
    shown = {"%": "%.0f%%" % (100 * r), "x": "%.2fx" % r, "+%": "%+.0f%%" % (100 * (r - 1))}
    return "%s %s" % (shown[unit], verdict(r >= want))


def platform_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
