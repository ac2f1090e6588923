#!/usr/bin/python3
"""soak.py: a long run of spfgate under mixed load, with reloads and DNS outages (not part of ctest).

    /usr/bin/python3 tests/bench/soak.py [--minutes 30] [--bin build/spfgate] [--clients 16] [--json FILE]

It starts a test DNS of its own (tests/dns/testdns.py, in a scratch directory) and the daemon on a unix
socket, then for --minutes runs --clients client threads, each on a persistent connection (reconnecting now
and then, as smtpd processes come and go), sending a weighted mix of requests: local bypasses, SPF pass /
fail / softfail / permerror / temperror (limits, bogus DNSSEC, SERVFAIL, timeouts, truncation, slow zones),
iprev against slow and failing reverse zones, null senders, other protocol stages, pipelined requests and
hostile ones (CR, LF, NUL, invalid UTF-8, over-long lines). Meanwhile:

  - every --reload-every seconds the configuration is rewritten (alternating header types and reject
    policies) and the daemon gets SIGHUP;
  - every --outage-every seconds one of the proxied zones changes mode (drop, servfail, delay, truncate,
    pass) through `testdns.py proxy-mode`: DNS servers going down and coming back;
  - every 10 s the daemon's VmRSS and open descriptors are sampled.

Every reply is checked: exactly one "action=..." line and an empty line, valid UTF-8, no control characters,
at most 510 octets of action. At the end it prints the requests answered, errors by kind (a malformed reply
is always an error), latency percentiles, and RSS over time; it exits 1 if any reply was malformed, a
request got no answer, or the daemon did not stop cleanly. Standard library only. Timing figures are
informational: this is a robustness run, not a benchmark.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TESTDNS = os.path.join(ROOT, "tests", "dns", "testdns.py")
PYTHON = "/usr/bin/python3"
MAX_ACTION = 510

# Proxied zones of the rig (tests/dns/zones/ZONES) and the modes an outage cycles through.
OUTAGE_ZONES = ["slow.test", "drop.test", "servfail.test", "trunc.test", "2.0.127.in-addr.arpa",
                "3.0.127.in-addr.arpa"]
OUTAGE_MODES = ["drop", "servfail", "delay=300", "truncate", "pass", "delay=50,truncate"]

CONFIGS = [
    ("skip_addresses = 127.0.0.1/32\nHeader_Type = SPF\nTempError_Defer = True\nPermError_reject = True\n"
     "iprev-fail = warn\niprev-permerror = warn\niprev-temperror = warn\nhelo-syntax = warn\n"),
    ("skip_addresses = 127.0.0.1/32\nHeader_Type = SPF,AR\nAuthserv_Id = mx.soak.test\nHELO_reject = SPF_Not_Pass\n"
     "Mail_From_reject = Softfail\niprev-header = yes\niprev-temperror = defer\nhelo-syntax = reject\n"
     "Header_Style = rfc7208\n"),
]
COMMON = ("Lookup_Time = 5\nWhitelist_Lookup_Time = 5\ndns-query-timeout = 2s\nrequest-timeout = 15s\n"
          "idle-timeout = 60s\nwrite-timeout = 10s\nlog-level = info\n")


def request(**attrs):
    base = {"request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
            "client_address": "127.0.0.10", "client_name": "unknown", "reverse_client_name": "unknown",
            "helo_name": "mail.example.test", "sender": "alice@example.test", "recipient": "bob@example.net",
            "recipient_count": "0", "queue_id": "", "instance": "%x.%x" % (random.getrandbits(48), time.time_ns()),
            "size": "0"}
    for k, v in attrs.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return "".join("%s=%s\n" % kv for kv in base.items()).encode("utf-8", "surrogateescape") + b"\n"


# (weight, name, request bytes factory)
MIX = [
    (20, "local", lambda: request(client_address="127.0.0.1", helo_name="localhost")),
    (15, "pass", lambda: request()),
    (8, "fail", lambda: request(client_address="127.0.0.99")),
    (5, "softfail", lambda: request(sender="a@softfail.example.test", client_address="127.0.0.99")),
    (4, "permerror", lambda: request(sender="a@syntax.example.test")),
    (3, "lookup-limit", lambda: request(sender="a@lookups.example.test")),
    (3, "void-limit", lambda: request(sender="a@voids.example.test")),
    (3, "bogus", lambda: request(sender="a@include-bogus.example.test", client_address="127.0.0.14")),
    (3, "servfail", lambda: request(sender="a@include-servfail.example.test")),
    (2, "timeout", lambda: request(sender="a@include-timeout.example.test")),
    (4, "slow", lambda: request(sender="a@slow.test", client_address="127.0.0.21")),
    (3, "truncated", lambda: request(sender="a@trunc.test")),
    (3, "big-record", lambda: request(sender="a@big.example.test", client_address="192.0.2.50")),
    (3, "iprev-slow-zones", lambda: request(client_address=random.choice(["127.0.2.%d", "127.0.3.%d"])
                                            % random.randrange(1, 250))),
    (3, "null-sender", lambda: request(sender="", protocol_state="MAIL")),
    (2, "helo-stage", lambda: request(protocol_state="EHLO", sender="", recipient="", instance="")),
    (2, "ipv6", lambda: request(client_address="::1")),
    (2, "macro", lambda: request(sender="alice@macro.example.test")),
    (2, "hostile-values", lambda: request(helo_name="evil\rX: y", sender="\udcff\udcfe@ex\x1bample.test",
                                          recipient='a;b"c@example.net')),
    (1, "nul", lambda: b"request=smtpd_access_policy\nhelo_name=a\x00b\n\n"),
    (1, "long-line", lambda: b"request=smtpd_access_policy\nsender=" + b"x" * 20000 + b"\n\n"),
    (1, "garbage", lambda: bytes(random.randrange(1, 256) for _ in range(200)).replace(b"\n", b" ") + b"\n\n"),
]


def valid_reply(line):
    """One reply line as read (without the final empty line): None if fine, else why not."""
    if not line.startswith(b"action=") or not line.endswith(b"\n"):
        return "no action= line"
    text = line[len(b"action="):-1]
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return "control character"
    if len(text) > MAX_ACTION:
        return "longer than %d octets" % MAX_ACTION
    return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0
        self.by_kind = {}
        self.errors = {}
        self.malformed = []
        self.latencies = []

    def ok(self, kind, latency, action):
        with self.lock:
            self.answered += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if len(self.latencies) < 2_000_000:
                self.latencies.append(latency)

    def error(self, what, detail=None):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1
            if what == "malformed reply" and len(self.malformed) < 20:
                self.malformed.append(detail)


class Client(threading.Thread):
    def __init__(self, path, stats, stop, seed):
        super().__init__(daemon=True)
        self.path, self.stats, self.stop, self.rng = path, stats, stop, random.Random(seed)
        self.sock = self.file = None

    def connect(self):
        self.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)
        self.file = self.sock.makefile("rb")

    def close(self):
        for x in (self.file, self.sock):
            try:
                if x:
                    x.close()
            except OSError:
                pass
        self.sock = self.file = None

    def read_reply(self):
        line = self.file.readline()
        if not line:
            return None, "connection closed"
        blank = self.file.readline()
        if blank != b"\n":
            return line, "reply not followed by an empty line: %r" % blank[:80]
        return line, valid_reply(line)

    def run(self):
        weights = [w for w, _, _ in MIX]
        while not self.stop.is_set():
            try:
                if self.sock is None or self.rng.random() < 0.01:  # smtpd processes come and go
                    self.connect()
                n = 3 if self.rng.random() < 0.05 else 1        # sometimes pipelined
                picks = self.rng.choices(MIX, weights=weights, k=n)
                data = b"".join(make() for _, _, make in picks)
                started = time.monotonic()
                self.sock.sendall(data)
                for _, kind, _ in picks:
                    line, why = self.read_reply()
                    if line is None:
                        self.stats.error("connection closed by the daemon (%s)" % kind)
                        self.sock = None
                        break
                    if why:
                        self.stats.error("malformed reply", "%s: %s: %r" % (kind, why, line[:200]))
                        continue
                    self.stats.ok(kind, time.monotonic() - started, line)
            except socket.timeout:
                self.stats.error("no answer within 30 s")
                self.close()
            except OSError as e:
                self.stats.error("socket error: %s" % e.__class__.__name__)
                self.close()
                time.sleep(0.1)
        self.close()


def proc_sample(pid):
    rss = 0
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spfgate"))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--reload-every", type=float, default=20, help="seconds between SIGHUP reloads")
    ap.add_argument("--outage-every", type=float, default=15, help="seconds between DNS mode changes")
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="spfgate-soak-")
    rig = os.path.join(work, "testdns")
    print("soak: scratch directory %s" % work, flush=True)
    subprocess.run([PYTHON, TESTDNS, "start", "--dir", rig], check=True, stdout=subprocess.DEVNULL)
    conf = os.path.join(work, "spfgate.conf")
    with open(conf, "w") as f:
        f.write(CONFIGS[0] + COMMON)
    sock = os.path.join(work, "soak.sock")
    log_path = os.path.join(work, "spfgate.log")
    log = open(log_path, "wb")
    cmd = [args.bin, "--log=stderr", "--listen", "unix:" + sock, "--resolver-config",
           os.path.join(rig, "unbound-stub.conf"), "--dnssec=yes", "--trust-anchor-file=none", conf]
    daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    failures = []
    try:
        deadline = time.monotonic() + 15
        while b"ready" not in open(log_path, "rb").read():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("soak: spfgate did not start; see " + log_path)
            time.sleep(0.05)

        stats, stop = Stats(), threading.Event()
        clients = [Client(sock, stats, stop, k) for k in range(args.clients)]
        for c in clients:
            c.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        samples, reloads, outages = [], 0, []
        next_sample = next_reload = next_outage = started
        next_reload += args.reload_every
        next_outage += args.outage_every
        rng = random.Random(7)
        while time.monotonic() < end:
            now = time.monotonic()
            if daemon.poll() is not None:
                failures.append("spfgate exited with %s during the run" % daemon.returncode)
                break
            if now >= next_sample:
                rss, fds = proc_sample(daemon.pid)
                samples.append((round(now - started), rss, fds, stats.answered))
                print("soak: %5.0f s  %8d answered  VmRSS %6d kB  fds %4d  errors %s" %
                      (now - started, stats.answered, rss, fds, dict(stats.errors) or "none"), flush=True)
                next_sample = now + 10
            if now >= next_reload:
                reloads += 1
                with open(conf, "w") as f:
                    f.write(CONFIGS[reloads % len(CONFIGS)] + COMMON)
                daemon.send_signal(signal.SIGHUP)
                next_reload = now + args.reload_every
            if now >= next_outage:
                zone, mode = rng.choice(OUTAGE_ZONES), rng.choice(OUTAGE_MODES)
                subprocess.run([PYTHON, TESTDNS, "proxy-mode", "--dir", rig, zone, mode], check=True,
                               stdout=subprocess.DEVNULL)
                outages.append((round(now - started), zone, mode))
                next_outage = now + args.outage_every
            time.sleep(0.2)
        stop.set()
        for c in clients:
            c.join(timeout=40)
        duration = time.monotonic() - started
        rss, fds = proc_sample(daemon.pid) if daemon.poll() is None else (0, 0)
        samples.append((round(duration), rss, fds, stats.answered))
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            rc = "killed"
        if rc != 0:
            failures.append("spfgate exit status %s after SIGTERM" % rc)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
        subprocess.run([PYTHON, TESTDNS, "stop", "--dir", rig], stdout=subprocess.DEVNULL)

    text = open(log_path, "rb").read().decode("utf-8", "replace")
    reloaded = text.count("configuration reloaded")
    if stats.malformed or stats.errors.get("malformed reply"):
        failures.append("%d malformed replies" % stats.errors.get("malformed reply", 0))
    unanswered = sum(v for k, v in stats.errors.items() if k.startswith("no answer") or k.startswith("connection closed"))
    if unanswered:
        failures.append("%d requests without an answer" % unanswered)
    if reloaded < reloads:
        failures.append("%d SIGHUPs but %d reloads logged" % (reloads, reloaded))
    rss_values = [s[1] for s in samples if s[1]]
    report = {
        "minutes": round(duration / 60, 2), "clients": args.clients, "answered": stats.answered,
        "per_second": round(stats.answered / duration, 1), "by_kind": stats.by_kind, "errors": stats.errors,
        "malformed_examples": stats.malformed, "reloads": reloads, "reloads_logged": reloaded,
        "dns_mode_changes": len(outages),
        "latency_ms": {p: round(1000 * percentile(stats.latencies, p), 1) for p in (50, 90, 99, 99.9)},
        "rss_kb": {"first": rss_values[0] if rss_values else 0, "max": max(rss_values or [0]),
                   "last": rss_values[-1] if rss_values else 0},
        "rss_samples": samples, "log_warnings": text.count(": warning: "), "log_errors": text.count(": error: "),
        "failures": failures,
    }
    print("\nsoak: %.1f min, %d clients: %d requests answered (%.0f/s), %d malformed replies, %d errors %s"
          % (report["minutes"], args.clients, stats.answered, report["per_second"],
             stats.errors.get("malformed reply", 0), sum(stats.errors.values()), stats.errors or ""))
    print("soak: %d reloads (%d logged), %d DNS mode changes; latency p50 %s ms, p99 %s ms, p99.9 %s ms"
          % (reloads, reloaded, len(outages), report["latency_ms"][50], report["latency_ms"][99],
             report["latency_ms"][99.9]))
    print("soak: VmRSS first %d kB, max %d kB, last %d kB; log: %d warnings, %d errors"
          % (report["rss_kb"]["first"], report["rss_kb"]["max"], report["rss_kb"]["last"], report["log_warnings"],
             report["log_errors"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    for f in failures:
        print("soak: FAILED: " + f)
    if args.keep or failures:
        print("soak: logs kept in " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
