"""spfgate behind a real Postfix 3.7, end to end: swaks -> smtpd -> check_policy_service -> spfgate -> the test
DNS, and what lands in the mailbox.

One private Postfix instance (postfix_rig.py) with three smtpd listeners on 127.0.0.1 and ::1, each with its
own smtpd_recipient_restrictions (`-o`), so every scenario runs three ways:

  unix   check_policy_service unix:private/spfgate       the daemon, on a socket inside the queue directory
  spawn  check_policy_service unix:private/spfgate-spawn  a master.cf spawn(8) entry: spfgate --spawn
  inet   check_policy_service { inet:127.0.0.1:P, ... }   the daemon over TCP

All three spfgate configurations are the same file (SPFGATE_CONFIG below). The daemons run as
`--user nobody`, the spawned one as master.cf `user=nobody`. Resolution: spfgate uses libunbound with the
test DNS's stub configuration plus one stub for down.test pointing at a port where no server runs ("the DNS
server is stopped"); Postfix's own client-name lookups go through the test DNS's unbound daemon (mount
namespace, see postfix_rig.py), so `client_name` and the Received: header are meaningful.

Clients (tests/dns/README.md, "FCrDNS"): 127.0.0.10 mail.example.test (FCrDNS pass, in example.test's SPF),
.11 PTR does not resolve back, .12 no PTR, .13 host.insecure.test (pass, unsigned), .19 SERVFAIL, ::1.
Timeouts are tuned so that a silent or stopped DNS server still gets an answer well inside Postfix's
smtpd_policy_service_timeout (10 s here): Lookup_Time 3, dns-query-timeout 2s, request-timeout 5s.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from postfix_rig import (Listener, PostfixInstance, free_ports, ipv6_loopback, port_free, swaks,  # noqa: E402
                         udp_port_free)
from spfgate_harness import BIN  # noqa: E402

TESTDNS_DIR = os.environ.get("SPFGATE_TESTDNS_DIR", "")
ROOT = os.environ.get("SPFGATE_E2E_DIR") or os.path.join(os.path.dirname(BIN), "e2e")

POLICY_TIMEOUT = "10s"  # Postfix's smtpd_policy_service_timeout for every listener

SPFGATE_CONFIG = """\
# spfgate end-to-end configuration: pypolicyd-spf's options first, then spfgate's.
debugLevel = 1
HELO_reject = Fail
Mail_From_reject = Fail
TempError_Defer = True
# The test clients are 127.0.0.10 and up: only 127.0.0.1 is skipped.
skip_addresses = 127.0.0.1/32
Lookup_Time = 3
helo-access = hash:{root}/helo_access
helo-syntax = reject
helo-fqdn = reject
helo-dns = reject
iprev-fail = reject
iprev-permerror = reject
iprev-temperror = defer
request-timeout = 5s
dns-query-timeout = 2s
"""

HELO_ACCESS = """\
# A misconfigured internal Exchange server: let it through whatever its DNS says.
mailsrv02.foo.local   PERMIT
"""

SINK = ["a@sink.test", "b@sink.test", "c@sink.test"]

RIG = None


def read(path):
    with open(path) as f:
        return f.read()


class PolicyDaemon:
    """spfgate as a daemon, logging to ROOT/spfgate-<name>.log."""

    def __init__(self, name, args):
        self.name = name
        self.log_path = os.path.join(ROOT, "spfgate-%s.log" % name)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "--log=stderr"] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log_file)
        self.wait_for_log(r"spfgate \S+ ready", what="start-up")

    def log(self):
        return read(self.log_path)

    def wait_for_log(self, pattern, timeout=10, what=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return
            if self.proc.poll() is not None:
                raise AssertionError("spfgate %s exited (%s) waiting for %s; log:\n%s" %
                                     (self.name, self.proc.returncode, what or pattern, self.log()[-3000:]))
            time.sleep(0.02)
        raise AssertionError("spfgate %s never logged %r; log:\n%s" % (self.name, what or pattern, self.log()[-3000:]))

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("spfgate %s did not stop on SIGTERM; log:\n%s" % (self.name, self.log()[-3000:]))
        finally:
            self.log_file.close()
        if rc != 0:
            raise AssertionError("spfgate %s exited with %s; log:\n%s" % (self.name, rc, self.log()[-3000:]))


class E2eRig:
    """The test DNS (from the ctest fixture), two spfgate daemons and the Postfix instance."""

    def __init__(self):
        if not TESTDNS_DIR:
            raise RuntimeError("SPFGATE_TESTDNS_DIR is not set: run through ctest (fixture testdns)")
        env = dict(line.split("=", 1) for line in read(os.path.join(TESTDNS_DIR, "env")).splitlines()
                   if "=" in line and not line.startswith("#"))
        if not env.get("TESTDNS_RESOLVER_ADDR"):
            raise RuntimeError(
                "the test DNS runs without its unbound daemon (TESTDNS_RESOLVER_ADDR is empty in %s/env): "
                "Postfix resolves client names through /etc/resolv.conf and needs it. testdns.py "
                "--try-unbound starts it only as root with 127.0.0.153-157:53 free; see logs/unbound.log"
                % TESTDNS_DIR)
        self.ipv6 = ipv6_loopback()
        self.unix_port, self.spawn_port, self.inet_port, self.policy_port = free_ports(4, ipv6=self.ipv6)
        self.pf = PostfixInstance(
            ROOT,
            [Listener("unix", self.unix_port, "reject_unauth_destination, check_policy_service unix:private/spfgate",
                      self.ipv6),
             Listener("spawn", self.spawn_port,
                      "reject_unauth_destination, check_policy_service unix:private/spfgate-spawn", self.ipv6),
             # The per-endpoint form of main.cf (Postfix 3.0+), as contrib/main.cf shows it.
             Listener("inet", self.inet_port,
                      "reject_unauth_destination, check_policy_service { inet:127.0.0.1:%d, timeout=%s }"
                      % (self.policy_port, POLICY_TIMEOUT), self.ipv6)],
            resolv_conf=os.path.join(ROOT, "resolv.conf"),
            main_extra={"smtpd_policy_service_timeout": POLICY_TIMEOUT,
                        "spfgate-spawn_time_limit": "3600"},
            master_extra="spfgate-spawn unix - n n - 0 spawn\n"
                         "  user=nobody argv=%s --spawn %s %s\n" % (BIN, " ".join(self.resolver_args()),
                                                                 os.path.join(ROOT, "spfgate.conf")))
        self.daemons = {}
        self.testdns_env = env

    def resolver_args(self):
        return ["--resolver-config", os.path.join(ROOT, "resolver.conf"), "--dnssec=yes", "--trust-anchor-file=none"]

    def write_files(self):
        """After PostfixInstance.prepare() (which wipes ROOT): spfgate's files, readable by nobody."""
        dead = next(p for p in range(self.policy_port + 1, 65000) if port_free(p) and udp_port_free(p))
        self.dead_dns_port = dead
        stub = read(os.path.join(TESTDNS_DIR, "unbound-stub.conf"))
        stub += ("# down.test.: its server is stopped (nothing listens on this port).\n"
                 "stub-zone:\n    name: \"down.test.\"\n    stub-addr: 127.0.0.1@%d\n" % dead)
        files = {"resolver.conf": stub, "spfgate.conf": SPFGATE_CONFIG.format(root=ROOT),
                 "helo_access": HELO_ACCESS}
        for name, text in files.items():
            with open(os.path.join(ROOT, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(ROOT, name), 0o644)
        # glibc in Postfix's namespace: the test DNS's unbound daemon, short timeouts.
        with open(self.pf.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:1\n" % self.testdns_env["TESTDNS_RESOLVER_ADDR"])

    def start(self):
        self.pf.prepare()
        self.write_files()
        # Postfix first: it creates spool/private, where the unix daemon puts its socket.
        self.pf.start()
        config = os.path.join(ROOT, "spfgate.conf")
        private = os.path.join(self.pf.spool, "private", "spfgate")
        self.daemons["unix"] = PolicyDaemon("unix", self.resolver_args() + [
            "--listen", "unix:%s,mode=0660,owner=postfix,group=postfix" % private, "--user", "nobody", config])
        self.daemons["inet"] = PolicyDaemon("inet", self.resolver_args() + [
            "--listen", "tcp:127.0.0.1:%d" % self.policy_port, "--user", "nobody", config])

    def stop(self):
        """The daemons first (their command lines name ROOT too), then Postfix, which then checks that no
        process naming ROOT (a spawned spfgate) outlives it."""
        problems = []
        for d in self.daemons.values():
            try:
                d.stop()
            except AssertionError as e:
                problems.append(str(e))
        try:
            self.pf.stop()
        except Exception as e:
            problems.append(str(e))
        if problems:
            raise AssertionError("\n".join(problems))

    def port(self, mode):
        return {"unix": self.unix_port, "spawn": self.spawn_port, "inet": self.inet_port}[mode]


def setUpModule():
    global RIG
    rig = E2eRig()
    try:
        rig.start()
    except BaseException:
        try:
            rig.stop()
        except Exception as e:  # the start-up error is the one to report
            print("while cleaning up after a failed start: %s" % e, file=sys.stderr)
        raise
    RIG = rig


def tearDownModule():
    if RIG is None:
        return
    RIG.stop()
    log = RIG.pf.maillog()
    # Every request got its answer in time: Postfix never had to give up on the policy service.
    bad = [l for l in log.splitlines() if "problem talking to server" in l or "Server configuration problem" in l]
    assert not bad, "Postfix had trouble with the policy service:\n" + "\n".join(bad)


class Scenarios:
    """The matrix, run once per mode by the subclasses below."""

    mode = None

    def send(self, client, helo, sender, recipients=("a@sink.test",), server="127.0.0.1"):
        self.marker = "%s-%s-%d" % (self.mode, self._testMethodName, time.monotonic_ns())
        session = swaks(RIG.port(self.mode), client, helo, sender, list(recipients), self.marker, server=server)
        self.session = session
        return session

    def assertRcpt(self, session, expected, recipients=("a@sink.test",)):
        for rcpt in recipients:
            self.assertIn(rcpt, session.rcpt, session.transcript)
            reply = session.rcpt[rcpt]
            if isinstance(expected, re.Pattern):
                self.assertRegex(reply, expected, session.transcript)
            else:
                self.assertEqual(reply, expected.format(rcpt=rcpt), session.transcript)

    def assertNothingDelivered(self):
        time.sleep(0.2)
        RIG.pf.deliveries(self.marker, 0, timeout=0)

    def headers_above_received(self, msg):
        """The message's headers down to Postfix's own Received: (virtual(8) adds Return-Path, X-Original-To
        and Delivered-To above them at delivery; they are dropped here)."""
        out = []
        for name, value in msg.items():
            if name in ("Return-Path", "X-Original-To", "Delivered-To"):
                continue
            out.append((name, value))
            if name == "Received":
                break
        return out

    # --- SPF -------------------------------------------------------------------------------------------

    def test_spf_pass_is_delivered_with_one_received_spf_for_three_recipients(self):
        s = self.send("127.0.0.10", "mail.example.test", "alice@example.test", SINK)
        self.assertRcpt(s, "250 2.1.5 Ok", SINK)
        msgs = RIG.pf.deliveries(self.marker, 3)
        self.assertEqual(sorted(m["Delivered-To"] for m in msgs), SINK)
        for m in msgs:
            top = self.headers_above_received(m)
            self.assertEqual([n for n, _ in top], ["Received-SPF", "Received"], m.as_string()[:1500])
            self.assertEqual(
                top[0][1],
                "Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.10; helo=mail.example.test; "
                "envelope-from=alice@example.test; receiver=sink.test ")
            # Exactly once: spfgate answers DUNNO to the second and third RCPT of the message.
            self.assertEqual(len(m.get_all("Received-SPF")), 1, m.as_string()[:1500])
            # Postfix resolved the client through the test DNS (its mount namespace).
            self.assertTrue(top[1][1].startswith("from mail.example.test (mail.example.test [127.0.0.10])"),
                            top[1][1])

    def test_spf_fail_is_rejected_at_rcpt(self):
        s = self.send("127.0.0.13", "host.insecure.test", "alice@example.test", SINK[:2])
        self.assertRcpt(s, "550 5.7.23 <{rcpt}>: Recipient address rejected: Message rejected due to: "
                           "SPF fail - not authorized.", SINK[:2])
        self.assertNothingDelivered()

    def test_helo_spf_fail_with_null_sender(self):
        s = self.send("127.0.0.10", "badhelo.example.test", "")
        self.assertRcpt(s, "550 5.7.23 <{rcpt}>: Recipient address rejected: Message rejected due to: "
                           "SPF fail - not authorized.")

    def test_spf_temperror_is_deferred(self):
        s = self.send("127.0.0.10", "mail.example.test", "alice@include-servfail.example.test")
        self.assertRcpt(s, "450 4.7.24 <{rcpt}>: Recipient address rejected: Message deferred due to: "
                           "SPF Temporary Error: DNS Error: SERVFAIL.")
        self.assertNothingDelivered()

    def test_silent_dns_server_is_deferred_within_the_policy_timeout(self):
        # include:x.drop.test: the server never answers; spfgate gives up after dns-query-timeout.
        s = self.send("127.0.0.10", "mail.example.test", "alice@include-timeout.example.test")
        self.assertRcpt(s, "450 4.7.24 <{rcpt}>: Recipient address rejected: Message deferred due to: "
                           "SPF Temporary Error: DNS Timeout.")

    def test_stopped_dns_server_is_deferred_within_the_policy_timeout(self):
        # down.test's only server does not run: a temporary error, never 451 4.3.5 (a timed-out policy).
        s = self.send("127.0.0.10", "mail.example.test", "alice@down.test")
        self.assertRcpt(s, "450 4.7.24 <{rcpt}>: Recipient address rejected: Message deferred due to: "
                           "SPF Temporary Error: DNS Timeout.")

    def test_ipv6_client_passes(self):
        if not RIG.ipv6:
            self.skipTest("no ::1")
        s = self.send("::1", "mail.example.test", "alice@example.test", server="::1")
        self.assertRcpt(s, "250 2.1.5 Ok")
        (m,) = RIG.pf.deliveries(self.marker, 1)
        self.assertTrue(m["Received-SPF"].startswith("Pass (mailfrom) identity=mailfrom; client-ip=::1;"),
                        m["Received-SPF"])

    # --- FCrDNS (iprev) ----------------------------------------------------------------------------------

    def test_iprev_fail_is_rejected(self):
        s = self.send("127.0.0.11", "a-only.example.test", "alice@neutral.example.test")
        self.assertRcpt(s, "450 4.7.25 <{rcpt}>: Recipient address rejected: Client host rejected: "
                           "cannot find your hostname, [127.0.0.11]")

    def test_iprev_permerror_is_rejected(self):
        s = self.send("127.0.0.12", "a-only.example.test", "alice@neutral.example.test")
        # iprev-fail is set too, so this is reject_unknown_client_hostname's text for a missing PTR.
        self.assertRcpt(s, "450 4.7.25 <{rcpt}>: Recipient address rejected: Client host rejected: "
                           "cannot find your hostname, [127.0.0.12]")

    def test_iprev_temperror_is_deferred(self):
        s = self.send("127.0.0.19", "a-only.example.test", "alice@neutral.example.test")
        self.assertRcpt(s, "450 4.7.25 <{rcpt}>: Recipient address rejected: Client host rejected: "
                           "cannot find your hostname, [127.0.0.19]")

    # --- HELO ----------------------------------------------------------------------------------------------

    def test_helo_not_fully_qualified(self):
        s = self.send("127.0.0.10", "mailhost", "alice@example.test")
        self.assertRcpt(s, "504 5.5.2 <{rcpt}>: Recipient address rejected: <mailhost>: Helo command rejected: "
                           "need fully-qualified hostname")

    def test_helo_invalid_syntax(self):
        s = self.send("127.0.0.10", "bad..example.test", "alice@example.test")
        self.assertRcpt(s, "501 5.5.2 <{rcpt}>: Recipient address rejected: <bad..example.test>: "
                           "Helo command rejected: Invalid name")

    def test_helo_without_dns(self):
        s = self.send("127.0.0.10", "nohelo.example.test", "alice@example.test")
        self.assertRcpt(s, "450 4.7.1 <{rcpt}>: Recipient address rejected: <nohelo.example.test>: "
                           "Helo command rejected: Host not found")

    def test_helo_access_permit_lets_a_misconfigured_server_through(self):
        # No PTR, a HELO that resolves nowhere, a sender whose SPF fails: helo_access PERMIT decides alone.
        s = self.send("127.0.0.12", "mailsrv02.foo.local", "alice@example.test", SINK[:2])
        self.assertRcpt(s, "250 2.1.5 Ok", SINK[:2])
        for m in RIG.pf.deliveries(self.marker, 2):
            self.assertIsNone(m["Received-SPF"])
        # The same client under another name is rejected.
        s = self.send("127.0.0.12", "mailsrv03.foo.local", "alice@example.test")
        self.assertRcpt(s, re.compile(r"^4\d\d 4\."))


class ThroughUnixDaemon(Scenarios, unittest.TestCase):
    mode = "unix"


class ThroughSpawn(Scenarios, unittest.TestCase):
    mode = "spawn"


class OverInet(Scenarios, unittest.TestCase):
    mode = "inet"


class Troubleshooting(unittest.TestCase):
    """The log lines README "Logging and troubleshooting" shows, from both sides."""

    def test_a_reject_is_logged_by_spfgate_and_by_postfix(self):
        marker = "log-%d" % time.monotonic_ns()
        s = swaks(RIG.unix_port, "127.0.0.13", "host.insecure.test", "bob@example.test", ["a@sink.test"], marker)
        self.assertTrue(s.rcpt["a@sink.test"].startswith("550 5.7.23 "), s.transcript)
        RIG.daemons["unix"].wait_for_log(r"550 5\.7\.23 Message rejected due to: SPF fail - not authorized\.")
        RIG.pf.wait_for_maillog(
            r"postfix/e2e-unix/smtpd\[\d+\]: NOQUEUE: reject: RCPT from host\.insecure\.test\[127\.0\.0\.13\]: "
            r"550 5\.7\.23 <a@sink\.test>: Recipient address rejected: Message rejected due to: SPF fail - not "
            r"authorized\.; from=<bob@example\.test> to=<a@sink\.test> proto=ESMTP helo=<host\.insecure\.test>")

    def test_first_recipient_is_logged_without_queue_id_later_ones_with_it(self):
        # Postfix sends queue_id= empty with the first RCPT of a transaction (the queue file does not exist
        # yet), so that decision line has no prefix; a later recipient's has the id Postfix logs too.
        marker = "log-%d" % time.monotonic_ns()
        s = swaks(RIG.inet_port, "127.0.0.12", "mailsrv02.foo.local", "carol@example.test", SINK[:2], marker)
        self.assertEqual(s.rcpt, {r: "250 2.1.5 Ok" for r in SINK[:2]}, s.transcript)
        queue_id = re.search(r"with ESMTP id (\w+)", RIG.pf.deliveries(marker, 2)[0]["Received"]).group(1)
        RIG.daemons["inet"].wait_for_log(r"info: %s: \S+ PERMIT\n" % queue_id)
        RIG.pf.wait_for_maillog(r"%s: client=unknown\[127\.0\.0\.12\]" % queue_id)
        marker = "log-%d" % time.monotonic_ns()
        s = swaks(RIG.inet_port, "127.0.0.13", "host.insecure.test", "carol@insecure.test", ["a@sink.test"], marker)
        self.assertEqual(s.rcpt["a@sink.test"], "250 2.1.5 Ok", s.transcript)
        RIG.daemons["inet"].wait_for_log(r"info: prepend Received-SPF: Pass \(mailfrom\) identity=mailfrom; "
                                         r"client-ip=127\.0\.0\.13; helo=host\.insecure\.test; "
                                         r"envelope-from=carol@insecure\.test")


if __name__ == "__main__":
    unittest.main()
