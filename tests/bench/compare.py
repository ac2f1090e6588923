#!/usr/bin/python3
"""compare.py: spfgate against pypolicyd-spf, on one machine, in one run, with one command.

    tests/bench/compare.py [--build build-release] [--dir DIR] [--quick] [--long-requests 5000000]

What it does, in order (everything on loopback; root is needed for the unbound daemon on port 53 and for
the private mount namespace pypolicyd-spf runs in):

 1. checks that the bench zone templates match bench_data.py's model, writes the corpora (warm: 2,000
    requests over 300 sender domains; cold: 63 requests with names of their own; trivial: a skipped client);
 2. starts the test DNS (tests/dns/testdns.py --with-unbound): nsd with the signed zones, dnsproxy.py in front
    of the bench zones, and a validating unbound daemon that pypolicyd-spf reaches through /etc/resolv.conf,
    bind-mounted in a private mount namespace (unshare), so the rest of the machine keeps its resolver;
 3. spfgate as a daemon on a unix socket (resolving with its own libunbound, straight to the test nsd) with
    --threads (default: one per core): one pass over the corpus to warm its caches and one more per worker
    thread (a connection each: every worker has caches of its own), then 100 connections in lock-step,
    several runs; RSS after; 100 connections paced at given rates (--paced: the latency at a load rather
    than at saturation), each rate --repeat times, counting the upstream DNS queries made during each run
    (from the daemon's --metrics endpoint: not 0 when cached answers expired in it); then the same
    lock-step runs with a single-threaded daemon (threads = 1);
 4. spfgate in spawn mode (one process per connection, forwarding to the unbound daemon like pypolicyd-spf
    does), and pypolicyd-spf in spawn mode, on the same corpus, after a warm-up pass through the daemon;
 5. start-up: exec to first answer, for a trivial request and for a full one, for both programs;
 6. cold caches with 20 ms added to every answer of the bench zones (proxy delay): a fresh spfgate daemon
    and pypolicyd-spf, one request at a time, each request with names nobody asked for before;
 7. a long run watching spfgate's RSS (--long-requests, default 1,000,000);
 8. prints the figures and the ratios as a Markdown table (also DIR/results.md, DIR/results.json).

Both programs read the same pypolicyd-spf configuration (HELO_reject = Fail, Mail_From_reject = Fail,
skip_addresses = 127.0.0.1/32); spfgate also looks up iprev for every request (iprev-header = yes). Answers are
compared request by request. Exit status 0 when every run succeeded (no malformed or missing reply).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_data  # noqa: E402  (the corpus model, next to this script)

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TESTDNS = os.path.join(ROOT, "tests", "dns", "testdns.py")
BENCH_DATA = os.path.join(HERE, "bench_data.py")
PYTHON = "/usr/bin/python3"
POLICYD_SPF = "/usr/bin/policyd-spf"

POLICY_CONF = """# The benchmark's policy: pypolicyd-spf's Debian defaults, loopback clients checked (127.0.0.10+).
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.1/32
"""

TRIVIAL_REQUEST = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=127.0.0.1\n"
                   "client_name=localhost\nhelo_name=localhost\nsender=a@example.test\nrecipient=b@sink.test\n"
                   "instance=t.0\n\n")


def log(msg):
    sys.stdout.write("compare: %s\n" % msg)
    sys.stdout.flush()


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        self.build = os.path.abspath(args.build)
        self.spfgate = os.path.join(self.build, "spfgate")
        self.loadgen = os.path.join(self.build, "tests", "bench", "spfgate-loadgen")
        self.procs = []          # daemons we started: (name, Popen)
        self.results = {"runs": [], "startup": [], "memory": {}, "machine": machine()}
        self.failures = []

    # --- set-up ---------------------------------------------------------------------------------------------
    def prepare(self):
        for path in (self.spfgate, self.loadgen):
            if not os.access(path, os.X_OK):
                raise SystemExit("compare: %s is missing; build first (see tests/bench/README.md)" % path)
        if not os.access(POLICYD_SPF, os.X_OK):
            raise SystemExit("compare: %s is missing (apt-get install postfix-policyd-spf-python)" % POLICYD_SPF)
        if os.geteuid() != 0:
            raise SystemExit("compare: needs root (unbound on port 53, a private mount namespace for pypolicyd-spf)")
        subprocess.run([PYTHON, BENCH_DATA, "zones", "--check", "--zones-dir", os.path.join(os.path.dirname(TESTDNS), "zones")],
                       check=True)
        os.makedirs(self.dir, exist_ok=True)
        self.warm = os.path.join(self.dir, "corpus-warm.txt")
        self.cold_corpus = os.path.join(self.dir, "corpus-cold.txt")
        self.trivial = os.path.join(self.dir, "corpus-trivial.txt")
        subprocess.run([PYTHON, BENCH_DATA, "corpus", "--kind", "warm", "--count", "2000", "--out", self.warm], check=True)
        subprocess.run([PYTHON, BENCH_DATA, "corpus", "--kind", "cold", "--out", self.cold_corpus], check=True)
        with open(self.trivial, "w") as f:
            f.write(TRIVIAL_REQUEST)
        self.conf = os.path.join(self.dir, "policyd-spf.conf")
        with open(self.conf, "w") as f:
            f.write(POLICY_CONF)
        self.dns = os.path.join(self.dir, "dns")
        subprocess.run([PYTHON, TESTDNS, "start", "--dir", self.dns, "--with-unbound"], check=True)
        env = read_env(os.path.join(self.dns, "env"))
        self.resolver_addr = env["TESTDNS_RESOLVER_ADDR"]
        self.resolv_conf = env["TESTDNS_RESOLV_CONF"]
        stub = env["TESTDNS_UNBOUND_CONF"]
        # The daemon's libunbound: straight to the test nsd, with unbound's default RTT cap (the rig's 1 s cap
        # marks nsd down under bursts on a busy machine; see tests/dns/README.md).
        self.daemon_unbound = os.path.join(self.dir, "spfgate-unbound.conf")
        with open(self.daemon_unbound, "w") as f:
            f.write('include: "%s"\nserver:\n    infra-cache-max-rtt: 120000\n' % stub)
        # Spawned spfgate: like pypolicyd-spf, through the local unbound daemon (its own cache dies with it).
        self.spawn_unbound = os.path.join(self.dir, "spawn-unbound.conf")
        with open(stub) as f, open(self.spawn_unbound, "w") as out:
            in_server = False
            for line in f:
                if line.startswith("server:"):
                    in_server = True
                elif line and not line[0].isspace() and not line.startswith("#"):
                    in_server = False
                if in_server and "infra-cache-max-rtt" not in line:
                    out.write(line)
            out.write("    infra-cache-max-rtt: 120000\nforward-zone:\n    name: \".\"\n    forward-addr: %s\n"
                      % self.resolver_addr)

    def spfgate_args(self, spawn=False):
        common = [self.spfgate, self.conf, "--trust-anchor-file", "none", "--iprev-header", "yes"]
        if spawn:
            return common + ["--spawn", "--resolver-config", self.spawn_unbound]
        return common + ["--resolver-config", self.daemon_unbound]

    def start_daemon(self, name, threads=None):
        sock = os.path.join(self.dir, name + ".sock")
        logf = open(os.path.join(self.dir, name + ".log"), "w")
        threads = self.args.threads if threads is None else threads
        self.metrics_port = free_port()
        p = subprocess.Popen(self.spfgate_args() + ["--listen", "unix:" + sock, "--log", "stderr",
                                                    "--threads", str(threads),
                                                    "--metrics", "tcp:127.0.0.1:%d" % self.metrics_port],
                             stdout=subprocess.DEVNULL, stderr=logf, start_new_session=True)
        self.procs.append((name, p))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise SystemExit("compare: spfgate exited with %d; see %s" % (p.returncode, logf.name))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                return p, "unix:" + sock
            except OSError:
                time.sleep(0.02)
        raise SystemExit("compare: spfgate did not listen on %s" % sock)

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self):
        for _, p in self.procs:
            self.stop(p)
        if not self.args.keep and hasattr(self, "dns"):
            subprocess.run([PYTHON, TESTDNS, "stop", "--dir", self.dns], check=False, stdout=subprocess.DEVNULL)

    # --- running the load generator ---------------------------------------------------------------------
    def loadgen_run(self, label, target, corpus, connections, requests, warmup=0, namespace=False, replies=None,
                    startup=0, record=True, timeout_ms=30000, rate=0):
        self.run_number = getattr(self, "run_number", 0) + 1
        out = os.path.join(self.dir, "run-%02d.json" % self.run_number)
        cmd = [self.loadgen, "-c", str(connections), "-n", str(requests), "--warmup", str(warmup), "--label", label,
               "--json", out, "--timeout", str(timeout_ms)]
        if startup:
            cmd = [self.loadgen, "--startup", str(startup), "--label", label, "--json", out,
                   "--timeout", str(timeout_ms)]
        if replies:
            cmd += ["--replies", replies]
        if rate:
            cmd += ["--rate", str(rate)]
        cmd += [target, corpus]
        if namespace:
            # pypolicyd-spf (and glibc) read /etc/resolv.conf: a private mount namespace names the rig's unbound.
            cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                   'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv_conf] + cmd
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sys.stdout.write("  " + r.stdout.strip() + "\n")
        if r.returncode != 0:
            sys.stdout.write("  " + r.stderr.strip() + "\n")
            self.failures.append("%s: %s" % (label, r.stderr.strip() or "exit %d" % r.returncode))
        try:
            with open(out) as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = {"label": label, "errors": 1}
        if record:
            self.results["startup" if startup else "runs"].append(result)
        return result

    def best(self, runs):
        return max(runs, key=lambda r: r.get("rate", 0))

    def warm_workers(self, target, threads):
        """One pass over the whole corpus per worker thread: each has caches of its own, and a connection
        stays on one worker, so one client per thread, connected at once (the least busy worker takes each)."""
        if threads < 2:
            return  # the first pass warmed the only worker
        out = [subprocess.Popen([self.loadgen, "-c", "1", "-n", "2000", "--timeout", "30000", target, self.warm],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(threads)]
        for p in out:
            _, err = p.communicate()
            if p.returncode != 0:
                self.failures.append("spfgate warm-up per worker: %s" % (err.strip() or "exit %d" % p.returncode))

    @staticmethod
    def median_p99(runs):
        return sorted(runs, key=lambda r: r.get("p99_ms", 0))[len(runs) // 2]

    # --- the phases -------------------------------------------------------------------------------------
    def warm_daemon(self):
        t = self.args.threads
        log("spfgate daemon (threads = %d), unix socket: warming its caches with one pass over the corpus" % t)
        self.daemon, self.daemon_target = self.start_daemon("spfgate")
        self.loadgen_run("spfgate warm-up", self.daemon_target, self.warm, 20, 2000, record=False,
                         replies=os.path.join(self.dir, "replies-spfgate.txt"))
        self.warm_workers(self.daemon_target, t)
        log("spfgate daemon: 100 connections, lock-step, warm cache")
        runs = []
        for i in range(self.args.repeat):
            runs.append(self.loadgen_run("spfgate daemon #%d" % (i + 1), self.daemon_target, self.warm, 100,
                                         self.args.requests, warmup=2))
        self.results["memory"]["daemon_rss_after_100_connections_kb"] = rss_kb(self.daemon.pid)
        self.daemon_best = self.best(runs)
        self.daemon_runs = runs
        log("spfgate daemon: 100 connections paced at %s requests/s (latency from when each was due)"
            % ", ".join(str(r) for r in self.args.paced))
        self.paced = []
        for rate in self.args.paced:
            runs = []
            for i in range(self.args.repeat):
                before = dns_queries(self.metrics_port)
                r = self.loadgen_run("spfgate daemon paced %d/s #%d" % (rate, i + 1), self.daemon_target, self.warm,
                                     100, min(self.args.requests, rate * self.args.paced_seconds), warmup=2,
                                     rate=rate)
                # Upstream queries during the run: not 0 when cached answers expired in it (a warm run has none).
                r["dns_queries"] = dns_queries(self.metrics_port) - before
                runs.append(r)
            self.paced.append(runs)
        log("spfgate daemon: one connection (latency floor), and a trivial request (protocol floor)")
        self.one = self.loadgen_run("spfgate daemon 1 connection", self.daemon_target, self.warm, 1,
                                    self.args.requests // 10, warmup=2)
        self.ten = self.loadgen_run("spfgate daemon 10 connections", self.daemon_target, self.warm, 10,
                                    self.args.requests // 3, warmup=2)
        self.trivial_run = self.loadgen_run("spfgate daemon trivial", self.daemon_target, self.trivial, 100,
                                            self.args.requests, warmup=2)
        self.single_best = None
        if t != 1:
            log("spfgate daemon, threads = 1: the same 100 connections")
            p, target = self.start_daemon("spfgate-1", threads=1)
            self.loadgen_run("spfgate threads=1 warm-up", target, self.warm, 20, 2000, record=False)
            single = [self.loadgen_run("spfgate daemon threads=1 #%d" % (i + 1), target, self.warm, 100,
                                       self.args.requests, warmup=2) for i in range(self.args.repeat)]
            self.results["memory"]["single_thread_rss_after_100_connections_kb"] = rss_kb(p.pid)
            self.single_best = self.best(single)
            self.stop(p)

    def pypolicyd(self):
        target = "spawn:%s %s" % (POLICYD_SPF, self.conf)
        log("pypolicyd-spf, spawn mode: a warm-up pass (its cache is the unbound daemon's)")
        # Also its best concurrency on two cores (100 Python processes thrash): the conservative ratio.
        self.py_ten = self.loadgen_run("pypolicyd-spf spawn, 10 connections (warm-up pass)", target, self.warm, 10,
                                       2000, namespace=True, replies=os.path.join(self.dir, "replies-pypolicyd.txt"))
        log("pypolicyd-spf, spawn mode: 100 connections")
        runs = [self.loadgen_run("pypolicyd-spf spawn #%d" % (i + 1), target, self.warm, 100, self.args.py_requests,
                                 warmup=1, namespace=True) for i in range(max(1, self.args.repeat - 1))]
        self.py_best = self.best(runs)

    def spawn(self):
        target = "spawn:" + " ".join(self.spfgate_args(spawn=True))
        log("spfgate, spawn mode (each process forwards to the unbound daemon; its own cache dies with it)")
        runs = [self.loadgen_run("spfgate spawn #%d" % (i + 1), target, self.warm, 100, self.args.py_requests,
                                 warmup=1) for i in range(max(1, self.args.repeat - 1))]
        self.spawn_best = self.best(runs)

    def startup(self):
        log("start-up: exec to first answer")
        sg = "spawn:" + " ".join(self.spfgate_args(spawn=True))
        py = "spawn:%s %s" % (POLICYD_SPF, self.conf)
        n = self.args.startups
        self.st = {
            "spfgate trivial": self.loadgen_run("spfgate startup, trivial request", sg, self.trivial, 1, 1, startup=n),
            "spfgate full": self.loadgen_run("spfgate startup, full request", sg, self.warm, 1, 1, startup=n),
            "pypolicyd trivial": self.loadgen_run("pypolicyd-spf startup, trivial request", py, self.trivial, 1, 1,
                                                  startup=max(5, n // 3), namespace=True),
            "pypolicyd full": self.loadgen_run("pypolicyd-spf startup, full request", py, self.warm, 1, 1,
                                               startup=max(5, n // 3), namespace=True),
        }

    def cold(self):
        log("cold caches, 20 ms added to every answer of the bench zones")
        for zone in ("bench.test.", "4.0.127.in-addr.arpa.", "e.b.0.0.8.b.d.0.1.0.0.2.ip6.arpa."):
            subprocess.run([PYTHON, TESTDNS, "proxy-mode", "--dir", self.dns, zone, "delay=20"], check=True,
                           stdout=subprocess.DEVNULL)
        p, target = self.start_daemon("spfgate-cold")
        # One request that fetches the zones' keys (DNSKEY, DS) and warms what every cold request shares
        # (the 4.0.127.in-addr.arpa. and bench.test. zone keys); its names are not in the cold corpus.
        prime = os.path.join(self.dir, "corpus-prime.txt")
        with open(prime, "w") as f:
            f.write(bench_data.request("127.0.4.250", "h250.bench.test", "user@d001.bench.test", "rcpt@sink.test",
                                       "prime.0", 40000))
        self.loadgen_run("spfgate cold priming", target, prime, 1, 1, record=False)
        half = 31
        self.cold_sg = self.loadgen_run("spfgate cold, 1 connection", target, self.cold_corpus, 1, half)
        self.stop(p)
        self.cold_py = self.loadgen_run("pypolicyd-spf cold, 1 connection",
                                        "spawn:%s %s" % (POLICYD_SPF, self.conf), self.cold_corpus, 1, half,
                                        namespace=True)
        for zone in ("bench.test.", "4.0.127.in-addr.arpa.", "e.b.0.0.8.b.d.0.1.0.0.2.ip6.arpa."):
            subprocess.run([PYTHON, TESTDNS, "proxy-mode", "--dir", self.dns, zone, "pass"], check=True,
                           stdout=subprocess.DEVNULL)

    def long_run(self):
        n = self.args.long_requests
        if n <= 0:
            return
        log("long run: %d requests, 100 connections, RSS sampled every second" % n)
        samples = []
        cmd_out = os.path.join(self.dir, "run-long.json")
        cmd = [self.loadgen, "-c", "100", "-n", str(n), "--warmup", "1", "--label", "spfgate long run",
               "--json", cmd_out, self.daemon_target, self.warm]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while p.poll() is None:
            samples.append(rss_kb(self.daemon.pid))
            time.sleep(1)
        out, err = p.communicate()
        sys.stdout.write("  " + out.strip() + "\n")
        if p.returncode != 0:
            self.failures.append("long run: " + err.strip())
        with open(cmd_out) as f:
            result = json.load(f)
        self.results["runs"].append(result)
        self.results["memory"]["long_run"] = {"requests": result.get("requests"), "rss_kb_samples": samples,
                                              "rss_kb_first": samples[0] if samples else None,
                                              "rss_kb_max": max(samples) if samples else None,
                                              "rss_kb_last": samples[-1] if samples else None,
                                              "hwm_kb": hwm_kb(self.daemon.pid)}
        log("RSS over the long run (kB): first %s, max %s, last %s" % (
            samples[0] if samples else "?", max(samples) if samples else "?", samples[-1] if samples else "?"))

    def compare_answers(self):
        a = read_replies(os.path.join(self.dir, "replies-spfgate.txt"))
        b = read_replies(os.path.join(self.dir, "replies-pypolicyd.txt"))
        common = sorted(set(a) & set(b))
        same = sum(1 for k in common if a[k] == b[k])
        diffs = [k for k in common if a[k] != b[k]]
        # README "Migrating": when MAIL FROM gives none, pypolicyd-spf prepends the HELO header
        # (CVE-2019-20790); spfgate always prepends the MAIL FROM one.
        # And pypolicyd-spf's rejects point at the dead http://www.openspf.net/Why; spfgate's carry no URL
        # unless Why_URL is set.
        cve = [k for k in diffs if "identity=helo" in b[k] and "None (mailfrom) identity=mailfrom" in a[k]]
        url = [k for k in diffs if b[k].startswith(a[k] + " Please see http://www.openspf.net/Why?")]
        self.results["answers"] = {"compared": len(common), "identical": same, "cve_2019_20790": len(cve),
                                   "why_url": len(url), "other_differences": len(diffs) - len(cve) - len(url)}
        if diffs:
            path = os.path.join(self.dir, "answer-differences.txt")
            with open(path, "w") as f:
                for k in diffs:
                    f.write("#%d\n  spfgate:   %s\n  pypolicyd: %s\n" % (k, a[k], b[k]))
            self.results["answers"]["differences_file"] = path
        return len(common), same, len(cve), len(url), len(diffs) - len(cve) - len(url)

    # --- report -----------------------------------------------------------------------------------------
    def report(self):
        m = self.results["machine"]
        d, py, sp = self.daemon_best, self.py_best, self.spawn_best
        compared, same, cve, url, other = self.compare_answers()
        mem = self.results["memory"]
        st = self.st
        lines = [
            "Machine: %s, %s cores, kernel %s; load average at start %s" % (
                m["cpu"], m["nproc"], m["kernel"], m["loadavg"]),
            "",
            "| run | requests/s | p50 ms | p90 ms | p99 ms | max ms | vs pypolicyd-spf |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]

        def row(name, r, base):
            ratio = "%.1f×" % (r["rate"] / base["rate"]) if base and base.get("rate") else "-"
            lines.append("| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %s |" % (
                name, r.get("rate", 0), r.get("p50_ms", 0), r.get("p90_ms", 0), r.get("p99_ms", 0),
                r.get("max_ms", 0), ratio))

        t = self.args.threads
        row("spfgate daemon (threads = %d), unix socket, 100 connections, warm (best of %d)" % (
            t, len(self.daemon_runs)), d, py)
        for r in self.daemon_runs:
            row("&nbsp;&nbsp;" + r["label"], r, py)
        if self.single_best:
            row("spfgate daemon (threads = 1), unix socket, 100 connections, warm (best of %d)" % self.args.repeat,
                self.single_best, py)
        for runs in self.paced:
            rate = "{:,}".format(runs[0].get("paced_rate", 0))
            if len(runs) == 1:
                row("spfgate daemon, 100 connections, warm, paced at %s/s" % rate, runs[0], None)
                continue
            row("spfgate daemon, 100 connections, warm, paced at %s/s (the run of median p99, of %d)" % (
                rate, len(runs)), self.median_p99(runs), None)
            for r in runs:
                row("&nbsp;&nbsp;paced at %s/s #%s" % (rate, r["label"].rsplit("#", 1)[-1]), r, None)
        row("spfgate daemon, 10 connections, warm", self.ten, py)
        row("spfgate daemon, 1 connection, warm", self.one, py)
        row("spfgate daemon, 100 connections, a skipped client (protocol and engine, no checks)", self.trivial_run, py)
        row("spfgate spawn, 100 processes", sp, py)
        row("pypolicyd-spf spawn, 100 processes", py, py)
        row("pypolicyd-spf spawn, 10 processes (its warm-up pass)", self.py_ten, py)
        if self.paced:
            floor = m.get("wake_up", {})
            paced = [r for runs in self.paced for r in runs]
            lines += ["", "Paced runs (%s, in the order of the rows): latency from when each request was due. Of "
                      "it, p99 %s ms queued (due while all 100 connections still waited for replies: the server's "
                      "backlog; max %s ms) and p99 %s ms the load generator's own lateness (its thread woken late). "
                      "Upstream DNS queries during each run (cached answers that expired in it; 0 when the run was "
                      "warm throughout): %s. On this machine, idle, a thread sleeping %d µs wakes up %.3f ms late at "
                      "p50 and %.3f ms at p99 (Python's sleep: a rough floor under latency at less than full load)." % (
                          ", ".join("{:,}/s".format(runs[0].get("paced_rate", 0)) for runs in self.paced),
                          " / ".join("%.2f" % r.get("queued_p99_ms", 0) for r in paced),
                          " / ".join("%.1f" % r.get("queued_max_ms", 0) for r in paced),
                          " / ".join("%.2f" % r.get("late_p99_ms", 0) for r in paced),
                          " / ".join(str(r.get("dns_queries", "?")) for r in paced),
                          floor.get("sleep_us", 0), floor.get("p50_ms", 0), floor.get("p99_ms", 0))]
            h = m.get("hiccups")
            if h:
                def spun(runs):
                    return "; ".join("CPU %d: %d gaps over 0.5 ms (%d over 1 ms), the longest %.1f ms, %.0f ms in all"
                                     % (r["cpu"], r["gaps"], r["over_1ms"], r["max_ms"], r["lost_ms"]) for r in runs)
                lines += ["", "The host's hiccups, before the runs: a thread spinning on the clock for %d s on every "
                          "CPU at once did not run for %s; on one CPU alone: %s. A request due in such a gap waits "
                          "it out, and so do those behind it while the server catches up." % (
                              h["seconds"], spun(h["all_busy"]), spun(h["one_busy"]))]
        lines += ["",
                  "| start-up (exec to first answer) | p50 ms | min ms | max ms |",
                  "| --- | ---: | ---: | ---: |"]
        for k, r in st.items():
            lines.append("| %s | %.2f | %.2f | %.2f |" % (k, r.get("p50_ms", 0), r.get("min_ms", 0), r.get("max_ms", 0)))
        lines += ["",
                  "Cold caches, 20 ms added to every answer of the bench zones, one request at a time. Each "
                  "cold request has 3 dependent lookups for MAIL FROM (TXT, include, include), 2 for HELO (TXT, "
                  "then A) and 2 for iprev (PTR, then A); both resolvers minimise QNAMEs, so each new name costs "
                  "2 round trips (an A probe, then the question): the longest chain is 6 round trips = 120 ms, "
                  "all of them one after the other 14 = 280 ms (pypolicyd-spf, without iprev: HELO then MAIL FROM, "
                  "10 = 200 ms).",
                  "",
                  "| cold | p50 ms | p90 ms | max ms |",
                  "| --- | ---: | ---: | ---: |",
                  "| spfgate (SPF HELO + MAIL FROM + iprev) | %.1f | %.1f | %.1f |" % (
                      self.cold_sg.get("p50_ms", 0), self.cold_sg.get("p90_ms", 0), self.cold_sg.get("max_ms", 0)),
                  "| pypolicyd-spf (SPF HELO + MAIL FROM) | %.1f | %.1f | %.1f |" % (
                      self.cold_py.get("p50_ms", 0), self.cold_py.get("p90_ms", 0), self.cold_py.get("max_ms", 0)),
                  ""]
        lines.append("Memory: spfgate daemon RSS after the 100-connection runs: %s kB (threads = %d)%s" % (
            mem.get("daemon_rss_after_100_connections_kb"), t,
            "; %s kB with threads = 1" % mem["single_thread_rss_after_100_connections_kb"]
            if "single_thread_rss_after_100_connections_kb" in mem else ""))
        lr = mem.get("long_run")
        if lr:
            lines.append("Long run: %s requests; RSS kB first %s, max %s, last %s (peak %s)" % (
                lr["requests"], lr["rss_kb_first"], lr["rss_kb_max"], lr["rss_kb_last"], lr["hwm_kb"]))
        lines.append("Answers: %d of %d corpus requests answered byte for byte alike by spfgate and pypolicyd-spf; "
                     "documented differences: %d rejects where pypolicyd-spf adds its dead openspf.net URL, %d where MAIL "
                     "FROM gives none and pypolicyd-spf prepends the HELO header (CVE-2019-20790); %d other "
                     "differences" % (same, compared, url, cve, other))
        if other:
            self.failures.append("%d answers differ from pypolicyd-spf's beyond the documented difference (see %s)"
                                 % (other, self.results["answers"].get("differences_file")))
        if py.get("rate"):
            best_py = max(py.get("rate", 0), self.py_ten.get("rate", 0))
            lines += ["", "Ratios: daemon %.1f× pypolicyd-spf's throughput at 100 connections (%.1f× its best, at 10), "
                      "spawn %.1f×; start-up %.1f× faster (trivial request), %.1f× (full request)" % (
                          d["rate"] / py["rate"], d["rate"] / best_py, sp["rate"] / py["rate"],
                          st["pypolicyd trivial"].get("p50_ms", 0) / max(st["spfgate trivial"].get("p50_ms", 1e-9), 1e-9),
                          st["pypolicyd full"].get("p50_ms", 0) / max(st["spfgate full"].get("p50_ms", 1e-9), 1e-9))]
        text = "\n".join(lines) + "\n"
        sys.stdout.write("\n" + text)
        with open(os.path.join(self.dir, "results.md"), "w") as f:
            f.write(text)
        with open(os.path.join(self.dir, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dns_queries(port):
    """spfgate_dns_queries_total summed over its labels, read from the daemon's metrics endpoint."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as f:
        text = f.read().decode()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("spfgate_dns_queries_total"))


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v.strip("'")
    return env


def read_replies(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                out.setdefault(int(k), v)
    except OSError:
        pass
    return out


def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


def hwm_kb(pid):
    return status_kb(pid, "VmHWM")


def wake_up_floor(sleeps=3000, us=300):
    """How late a thread that sleeps wakes up on this machine, idle (ms, p50 and p99): the floor under any
    latency measured at less than full load, where the server's and the generator's threads sleep between
    requests. (Python adds some tens of microseconds to p50; the tail is the host's.)"""
    late = []
    for _ in range(sleeps):
        due = time.perf_counter_ns() + us * 1000
        time.sleep(us / 1e6)
        late.append((time.perf_counter_ns() - due) / 1e6)
    late.sort()
    return {"p50_ms": late[len(late) // 2], "p99_ms": late[len(late) * 99 // 100], "sleep_us": us}


SPIN = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
end = time.monotonic_ns() + int(float(sys.argv[2]) * 1e9)
last, gaps = time.monotonic_ns(), []
while last < end:
    t = time.monotonic_ns()
    if t - last > 500000:
        gaps.append((t - last) / 1e6)
    last = t
print(len(gaps), sum(g > 1 for g in gaps), max(gaps, default=0.0), sum(gaps))
"""


def host_hiccups(seconds):
    """Moments a spinning thread did not run (gaps over 0.5 ms between two reads of the clock), one spinner
    per CPU at once, then one alone: with every vCPU busy (as under the load tests) a VM's host may take
    vCPUs away for milliseconds; the server then answers nothing for as long, whatever its code."""
    cpus = sorted(os.sched_getaffinity(0))

    def spin(which):
        procs = [subprocess.Popen([PYTHON, "-c", SPIN, str(c), str(seconds)], stdout=subprocess.PIPE, text=True)
                 for c in which]
        out = []
        for c, p in zip(which, procs):
            n, over1, longest, lost = p.communicate()[0].split()
            out.append({"cpu": c, "gaps": int(n), "over_1ms": int(over1), "max_ms": float(longest),
                        "lost_ms": float(lost)})
        return out

    return {"seconds": seconds, "all_busy": spin(cpus), "one_busy": spin(cpus[:1])}


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "loadavg": " ".join(open("/proc/loadavg").read().split()[:3])}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_build = os.path.join(ROOT, "build-release")
    if not os.path.isdir(default_build):
        default_build = os.path.join(ROOT, "build")
    parser.add_argument("--build", default=default_build, help="build directory (default build-release, else build)")
    parser.add_argument("--source", default=ROOT,
                        help="spfgate source tree, for its test DNS (default: the tree this script is in)")
    parser.add_argument("--dir", default="/tmp/spfgate-bench", help="work directory (default /tmp/spfgate-bench)")
    parser.add_argument("--requests", type=int, default=300000, help="requests per spfgate daemon run")
    parser.add_argument("--py-requests", type=int, default=20000, help="requests per pypolicyd-spf run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each load test (the best is reported)")
    parser.add_argument("--startups", type=int, default=30, help="start-ups timed per program and request")
    parser.add_argument("--long-requests", type=int, default=1000000, help="requests of the RSS run (0: none)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="the daemon's --threads (default: one per core); a threads = 1 daemon runs too")
    parser.add_argument("--paced", default="5000,20000,40000,50000",
                        help="rates (requests/s, comma-separated) of paced 100-connection runs (default %(default)s)")
    parser.add_argument("--paced-seconds", type=int, default=6, help="length of each paced run (default 6 s)")
    parser.add_argument("--quick", action="store_true", help="small numbers, to check the machinery")
    parser.add_argument("--keep", action="store_true", help="leave the test DNS running")
    args = parser.parse_args()
    global TESTDNS
    TESTDNS = os.path.join(os.path.abspath(args.source), "tests", "dns", "testdns.py")
    if not os.path.exists(TESTDNS):
        raise SystemExit("compare: no %s: run from a source tree, or name one with --source" % TESTDNS)
    args.paced = [int(r) for r in args.paced.split(",") if r.strip()]
    if args.quick:
        args.paced_seconds = 1
        args.requests, args.py_requests, args.repeat, args.startups, args.long_requests = 20000, 2000, 1, 5, 0
    if os.path.isdir(args.dir) and os.listdir(args.dir) and not os.path.exists(os.path.join(args.dir, "policyd-spf.conf")):
        raise SystemExit("compare: %s exists and is not a previous run's directory" % args.dir)
    if os.path.isdir(args.dir):
        subprocess.run([PYTHON, TESTDNS, "stop", "--dir", os.path.join(args.dir, "dns")], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(args.dir)
    bench = Bench(args)
    bench.results["machine"]["wake_up"] = wake_up_floor(300 if args.quick else 3000)
    bench.results["machine"]["hiccups"] = host_hiccups(2 if args.quick else 10)
    try:
        bench.prepare()
        bench.warm_daemon()
        bench.pypolicyd()
        bench.spawn()
        bench.startup()
        bench.long_run()
        bench.cold()
        bench.report()
    finally:
        bench.cleanup()
    if bench.failures:
        sys.stdout.write("compare: FAILED runs:\n  " + "\n  ".join(bench.failures) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
