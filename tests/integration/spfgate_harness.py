"""Helpers for tests that run the real spfgate binary and talk to it over real sockets and pipes.

Environment (set by ctest):
  SPFGATE_BIN           path to build/spfgate
  SPFGATE_TESTDNS_DIR   directory of the running test DNS (tests/dns/testdns.py); its unbound-stub.conf
                        is always passed as --resolver-config, so no query ever leaves the machine.
Only the Python standard library is used.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("SPFGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/spfgate"))
TESTDNS_DIR = os.environ.get("SPFGATE_TESTDNS_DIR", "")


def resolver_args(config=None):
    """--resolver-config aimed at the test nsd (every test that runs spfgate uses it). `config` replaces the
    rig's unbound-stub.conf with a file derived from it (tests that route zones through their own proxy)."""
    if TESTDNS_DIR:
        # The stub config brings the test trust anchors; no root anchor (it would make the unsigned test
        # zones that no test anchor covers bogus).
        return ["--resolver-config=" + (config or os.path.join(TESTDNS_DIR, "unbound-stub.conf")), "--dnssec=yes",
                "--trust-anchor-file=none"]
    return []


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(**attrs):
    """A Postfix-like RCPT request; keyword arguments add or override attributes (None removes one)."""
    base = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": "192.0.2.10",
        "client_name": "unknown",
        "reverse_client_name": "unknown",
        "helo_name": "mail.example.test",
        "sender": "alice@example.test",
        "recipient": "bob@example.net",
        "recipient_count": "0",
        "queue_id": "",
        "instance": "1.%x.%x.0" % (os.getpid(), int(time.monotonic() * 1e6)),
        "size": "0",
    }
    for k, v in attrs.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return "".join("%s=%s\n" % kv for kv in base.items()) + "\n"


def read_reply(sock_file):
    """Reads one reply (lines up to the empty line) from a binary file object; returns the action or None."""
    lines = []
    while True:
        line = sock_file.readline()
        if not line:
            return None
        if line == b"\n":
            break
        lines.append(line)
    assert len(lines) == 1, "reply must be exactly one line, got %r" % lines
    text = lines[0].decode("utf-8")
    assert text.startswith("action=") and text.endswith("\n"), text
    return text[len("action="):-1]


class Client:
    def __init__(self, address, timeout=15):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data.encode("utf-8") if isinstance(data, str) else data)

    def ask(self, req):
        self.send(req)
        return read_reply(self.file)

    def reply(self):
        return read_reply(self.file)

    def closed_by_peer(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


class Daemon:
    """spfgate as a daemon on a unix socket (and optionally TCP), logging to a file we can read."""

    def __init__(self, *args, config=None, tcp=False, unix=True, extra_listen=(), env=None, resolver_config=None,
                 preexec_fn=None):
        self.dir = tempfile.mkdtemp(prefix="spfgate-test-")
        self.sock = os.path.join(self.dir, "policy.sock")
        self.port = free_port() if tcp else None
        self.config_path = None
        cmd = [BIN, "--log=stderr"] + resolver_args(resolver_config)
        if unix:
            cmd += ["--listen", "unix:" + self.sock]
        if tcp:
            cmd += ["--listen", "tcp:127.0.0.1:%d" % self.port]
        for spec in extra_listen:
            cmd += ["--listen", spec]
        if config is not None:
            self.config_path = os.path.join(self.dir, "spfgate.conf")
            self.write_config(config)
            cmd.append(self.config_path)
        cmd += list(args)
        self.cmd = cmd
        self.log_path = os.path.join(self.dir, "log")
        self.log_file = open(self.log_path, "wb")  # closed by stop() / __exit__
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log_file,
                                     env=env, preexec_fn=preexec_fn)
        self.wait_for_log("ready", what="start-up")

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=10, what=None, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError("spfgate exited (%s) waiting for %s; log:\n%s" %
                                     (self.proc.returncode, what or pattern, self.log()))
            time.sleep(0.02)
        raise AssertionError("timed out waiting for %r; log:\n%s" % (what or pattern, self.log()))

    def client(self, tcp=False):
        return Client(("127.0.0.1", self.port) if tcp else self.sock)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("spfgate did not stop on SIGTERM; log:\n" + self.log())
        self.log_file.close()
        out = self.proc.stdout.read()
        assert out == b"", "the daemon wrote to stdout: %r" % out
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        self.proc.stdout.close()


def scrape_metrics(port, path="/metrics"):
    """GET of the --metrics endpoint: (status, Content-Type, body)."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def metric_value(text, series):
    """The value of one exact series line, e.g. 'spfgate_answers_total{action="reject"}', or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return None


def send_stuck_in_dns(client, **attrs):
    """Sends a request whose iprev lookup never gets an answer (127.0.2.5's reverse zone has a server that
    stays silent), so it takes the whole dns-query-timeout."""
    client.send(request(client_address="127.0.2.5", helo_name="nohelo.example.test", sender="", **attrs))


def check_sigterm_waits_for_requests_in_flight(test, d, busy, idle):
    """SIGTERM while the `busy` clients wait for the answers to send_stuck_in_dns() (with iprev-temperror =
    defer): the `idle` connections close at once, each busy one gets its answer and then closes, and the
    daemon exits 0."""
    time.sleep(0.3)
    d.signal(signal.SIGTERM)
    for c in idle:
        test.assertTrue(c.closed_by_peer(), "an idle connection is closed at once")
    for c in busy:
        test.assertEqual(c.reply(), "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.2.5]")
        test.assertTrue(c.closed_by_peer())
    test.assertEqual(d.proc.wait(timeout=10), 0)
    test.assertIn("SIGTERM: stopping; %d connection(s) open" % (len(busy) + len(idle)), d.log())


def check_shutdown_timeout_bounds_the_wait(test, connections, *args):
    """SIGTERM while `connections` requests wait for DNS: the daemon (started with `args`) exits 0 when
    shutdown-timeout passes, saying how many were still busy."""
    cfg = "skip_addresses = 127.0.0.1/32\niprev-temperror = defer\ndns-query-timeout = 5s\n"
    with Daemon("--shutdown-timeout=300ms", *args, config=cfg) as d:
        busy = [d.client() for _ in range(connections)]
        for c in busy:
            send_stuck_in_dns(c)
        time.sleep(0.3)
        d.signal(signal.SIGTERM)
        test.assertEqual(d.proc.wait(timeout=10), 0)
        test.assertIn("shutdown-timeout passed with %d connection(s) still busy" % connections, d.log())


class Spawn:
    """spfgate --spawn with stdin/stdout as the policy connection, as Postfix's spawn(8) runs it."""

    def __init__(self, *args, config=None):
        self.dir = tempfile.mkdtemp(prefix="spfgate-spawn-")
        cmd = [BIN, "--spawn"] + resolver_args()
        if config is not None:
            path = os.path.join(self.dir, "spfgate.conf")
            with open(path, "w") as f:
                f.write(config)
            cmd.append(path)
        cmd += list(args)
        # stderr is the same pipe as stdout under spawn(8): merge them to prove nothing else is written.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def ask(self, req):
        self.proc.stdin.write(req.encode("utf-8"))
        self.proc.stdin.flush()
        return read_reply(self.proc.stdout)

    def finish(self, timeout=10):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        rest = self.proc.stdout.read()
        return rc, rest
