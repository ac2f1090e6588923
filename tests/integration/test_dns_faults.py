"""DNS faults against real servers: the real daemon, the real test nsd, a real fault-injecting proxy.

Every test routes the zone under test (fault.test., or bogus.test.) through a private dnsproxy.py of its
own, with the fault under test as the proxy's rule: the authoritative server stopped, SERVFAIL, slow answers,
no answers, truncated UDP answers, bogus DNSSEC signatures, a CNAME loop, and SPF include trees that would
take thousands of queries without RFC 7208's limits. For each it checks the RFC result, the configured action
(PermError_reject, TempError_Defer), that the answer comes within Lookup_Time, and counts the queries the
proxy saw against the RFC 7208 limits (10 DNS-querying terms per evaluation, §4.6.4).

The resolver configuration given to spfgate is the rig's, with the routed zones' stubs pointing at the private
proxy and QNAME minimisation off, so that what the proxy logs is spfgate's own lookups (plus the resolver's
retries), not the resolver's minimisation steps.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from spfgate_harness import TESTDNS_DIR, Daemon, request

PYTHON = "/usr/bin/python3"
CLIENT = "127.0.0.10"  # a loopback client; fault.test's records name it
LOOKUP_TIME = 4        # Lookup_Time of the daemon under test, seconds
# How far past Lookup_Time an answer may come: the request's own processing, a loaded machine, sanitizers.
SLACK = 2.5
BASE_CONFIG = ("skip_addresses = 127.0.0.1/32\nHELO_reject = No_Check\nMail_From_reject = Fail\n"
               "PermError_reject = True\nTempError_Defer = True\nLookup_Time = %d\n"
               "dns-query-timeout = 1500ms\nlog-level = debug\n" % LOOKUP_TIME)

PERMERROR = "550 5.7.24 Message rejected due to: SPF Permanent Error: "
TEMPERROR = "defer_if_permit 4.7.24 Message deferred due to: SPF Temporary Error: "


def rig_env():
    values = {}
    with open(os.path.join(TESTDNS_DIR, "env"), encoding="utf-8") as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                key, value = line.rstrip("\n").split("=", 1)
                values[key] = value.strip("'")
    return values


class PrivateProxy:
    """dnsproxy.py in front of the rig's nsd, with our own rules and log."""

    def __init__(self, workdir, rules=()):
        env = rig_env()
        self.log_path = os.path.join(workdir, "proxy.log")
        port_file = os.path.join(workdir, "proxy.port")
        cmd = [PYTHON, env["TESTDNS_PROXY_SCRIPT"], "--listen", "127.0.0.1:0",
               "--upstream", "127.0.0.1:%s" % env["TESTDNS_NSD_PORT"], "--port-file", port_file,
               "--log", self.log_path]
        for rule in rules:
            cmd += ["--rule", rule]
        with open(os.path.join(workdir, "proxy.err"), "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("private dnsproxy.py did not start")
            time.sleep(0.02)
        with open(port_file, encoding="ascii") as f:
            self.port = int(f.read())

    def queries(self, under):
        """(transport, qname, qtype, action) of every query for a name at or below `under`."""
        out = []
        suffix = under.rstrip(".").lower() + "."
        try:
            with open(self.log_path, encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) != 6:
                        continue
                    _, transport, _, qname, qtype, action = parts
                    qname = qname.lower()
                    if qname == suffix or qname.endswith("." + suffix):
                        out.append((transport, qname, qtype, action))
        except FileNotFoundError:
            pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def resolver_config(workdir, port, zones):
    """The rig's unbound-stub.conf with `zones` stubbed to 127.0.0.1@port and QNAME minimisation off."""
    with open(os.path.join(TESTDNS_DIR, "unbound-stub.conf"), encoding="utf-8") as f:
        text = f.read()
    blocks = re.split(r"(?m)^(?=stub-zone:)", text)
    kept = [b for b in blocks if not any('name: "%s"' % z in b for z in zones)]
    out = "".join(kept).rstrip("\n") + "\n"
    out += "server:\n    qname-minimisation: no\n"
    for zone in zones:
        out += 'stub-zone:\n    name: "%s"\n    stub-addr: 127.0.0.1@%d\n' % (zone, port)
    path = os.path.join(workdir, "resolver.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write(out)
    return path


class DnsFault(unittest.TestCase):
    """One daemon and one private proxy per test: nothing is cached from another test."""

    zones = ("fault.test.",)
    rules = ()
    extra_config = ""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="spfgate-dnsfault-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.proxy = PrivateProxy(self.workdir, self.rules)
        self.addCleanup(self.proxy.stop)
        conf = resolver_config(self.workdir, self.proxy.port, self.zones)
        self.daemon = Daemon(config=BASE_CONFIG + self.extra_config, resolver_config=conf)
        self.addCleanup(self.daemon.__exit__)

    def tearDown(self):
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, self.daemon.log()[-3000:])

    def ask(self, sender, client=CLIENT):
        """The answer and how long it took."""
        c = self.daemon.client()
        started = time.monotonic()
        answer = c.ask(request(client_address=client, helo_name="mail.example.test", sender=sender))
        elapsed = time.monotonic() - started
        c.close()
        return answer, elapsed

    def assertWithinLookupTime(self, elapsed):
        self.assertLess(elapsed, LOOKUP_TIME + SLACK, "answered after %.1f s, Lookup_Time is %d s"
                        % (elapsed, LOOKUP_TIME))

    def txt_names(self, under):
        return {q[1] for q in self.proxy.queries(under) if q[2] == "TXT"}


class ServerStopped(DnsFault):
    def test_a_stopped_server_is_a_temperror_within_lookup_time(self):
        answer, _ = self.ask("alice@fault.test")  # the server still runs: a pass, and fault.test is known
        self.assertTrue(answer.startswith("prepend Received-SPF: Pass "), answer)
        self.assertLessEqual(len(self.txt_names("fault.test")), 1)
        self.proxy.stop()
        for sender in ("alice@partial.fault.test", "alice@steps.fault.test"):
            answer, elapsed = self.ask(sender)
            self.assertTrue(answer.startswith(TEMPERROR), answer)
            self.assertWithinLookupTime(elapsed)


class ServFail(DnsFault):
    rules = ("bad.fault.test=servfail",)

    def test_servfail_in_an_include_is_a_temperror(self):
        answer, elapsed = self.ask("alice@partial.fault.test")
        self.assertEqual(answer, TEMPERROR + "DNS Error: SERVFAIL.")
        self.assertWithinLookupTime(elapsed)
        # One lookup of x.bad.fault.test, which the resolver may retry: a handful of queries, not more.
        bad = self.proxy.queries("bad.fault.test")
        self.assertGreaterEqual(len(bad), 1)
        self.assertEqual({q[1] for q in bad}, {"x.bad.fault.test."})
        self.assertLessEqual(len(bad), 6, bad)


class Slow(DnsFault):
    rules = ("bad.fault.test=delay=250",)

    def test_slow_answers_are_waited_for(self):
        answer, elapsed = self.ask("alice@steps.fault.test")  # a:h1.bad, a:h2.bad, include:x.bad: three slow steps
        self.assertTrue(answer.startswith("prepend Received-SPF: Pass "), answer)
        self.assertGreaterEqual(elapsed, 0.7)  # it did wait for the three answers in turn
        self.assertWithinLookupTime(elapsed)
        names = {(q[1], q[2]) for q in self.proxy.queries("bad.fault.test")}
        self.assertEqual(names, {("h1.bad.fault.test.", "A"), ("h2.bad.fault.test.", "A"),
                                 ("x.bad.fault.test.", "TXT")})


class TooSlowForLookupTime(DnsFault):
    # Every step of the endless tree takes 250 ms (answered: the resolver waits that long), and each include
    # waits for the one before: Lookup_Time (2 s here) runs out before the eleven lookups are done.
    rules = ("tree.fault.test=delay=250",)
    extra_config = "Lookup_Time = 2\n"

    def test_lookup_time_bounds_a_slow_evaluation(self):
        answer, elapsed = self.ask("alice@tree.fault.test")
        self.assertTrue(answer.startswith(TEMPERROR), answer)
        self.assertIn("DNS Timeout", answer)
        self.assertLess(elapsed, 2 + SLACK, "answered after %.1f s, Lookup_Time is 2 s" % elapsed)
        self.assertLessEqual(len(self.txt_names("tree.fault.test")), 11)


class Dropped(DnsFault):
    rules = ("bad.fault.test=drop",)

    def test_a_silent_server_is_a_temperror_within_lookup_time(self):
        answer, elapsed = self.ask("alice@partial.fault.test")
        self.assertTrue(answer.startswith(TEMPERROR), answer)
        self.assertWithinLookupTime(elapsed)
        bad = self.proxy.queries("bad.fault.test")
        self.assertEqual({q[1] for q in bad}, {"x.bad.fault.test."})
        self.assertLessEqual(len(bad), 8, bad)  # the resolver's retransmissions of one lookup


class Truncated(DnsFault):
    rules = ("fault.test=truncate",)

    def test_truncated_answers_are_fetched_over_tcp(self):
        answer, elapsed = self.ask("alice@steps.fault.test")
        self.assertTrue(answer.startswith("prepend Received-SPF: Pass "), answer)
        self.assertWithinLookupTime(elapsed)
        seen = self.proxy.queries("fault.test")
        udp = {(q[1], q[2]) for q in seen if q[0] == "udp"}
        tcp = {(q[1], q[2]) for q in seen if q[0] == "tcp"}
        self.assertTrue(all(q[3] == "truncate" for q in seen if q[0] == "udp"), seen)
        self.assertEqual(tcp, udp)  # every truncated answer was asked again over TCP, and nothing else
        self.assertEqual({n for n, t in tcp if t == "TXT"}, {"steps.fault.test.", "x.bad.fault.test."})
        self.assertLessEqual(len(seen), 16, seen)


class Bogus(DnsFault):
    zones = ("fault.test.", "bogus.test.")

    def test_bogus_signatures_are_a_temperror_never_data(self):
        # bogus.test's TXT would pass 127.0.0.14 if its (forged) data were used.
        for sender in ("alice@bogus.test", "alice@include-bogus.example.test"):
            answer, elapsed = self.ask(sender, client="127.0.0.14")
            self.assertEqual(answer, TEMPERROR + "DNS Error: DNSSEC validation failed.", sender)
            self.assertWithinLookupTime(elapsed)
        # The TXT of bogus.test, its DNSKEY (and retries of the bogus answer), not more.
        seen = self.proxy.queries("bogus.test")
        self.assertGreaterEqual(len(seen), 1)
        self.assertEqual({q[1] for q in seen if q[2] == "TXT"}, {"bogus.test."})
        self.assertLessEqual(len(seen), 24, seen)  # the validator fetches a bogus answer again a few times


class CnameLoop(DnsFault):
    def test_a_cname_loop_is_a_temperror(self):
        for sender in ("alice@loop1.fault.test", "alice@cname-loop.fault.test"):
            answer, elapsed = self.ask(sender)
            self.assertTrue(answer.startswith(TEMPERROR), "%s: %s" % (sender, answer))
            self.assertWithinLookupTime(elapsed)
        loops = self.proxy.queries("loop1.fault.test") + self.proxy.queries("loop2.fault.test")
        self.assertGreaterEqual(len(loops), 1)
        self.assertLessEqual(len(loops), 30, loops)  # the resolver gives up on the loop; bounded either way


class IncludeTrees(DnsFault):
    def test_an_endless_deep_tree_stops_at_ten_terms(self):
        answer, elapsed = self.ask("alice@tree.fault.test")
        self.assertEqual(answer, PERMERROR + "Too many DNS lookups.")
        self.assertWithinLookupTime(elapsed)
        # The record and ten includes, one level deeper each: 11 TXT lookups in all (§4.6.4).
        names = self.txt_names("tree.fault.test")
        self.assertEqual(len(names), 11, sorted(names))
        self.assertLessEqual(len(self.proxy.queries("tree.fault.test")), 2 * 11)

    def test_a_wide_tree_of_a_thousand_records_stops_at_ten_terms(self):
        answer, elapsed = self.ask("alice@wide.fault.test")
        self.assertEqual(answer, PERMERROR + "Too many DNS lookups.")
        self.assertWithinLookupTime(elapsed)
        # Depth first: wide, w0, x0.w0, then its leaves y0..y7 (the include of y8 is the eleventh term):
        # 11 of the 1,111 records.
        names = self.txt_names("wide.fault.test")
        self.assertEqual(names, {"wide.fault.test.", "w0.wide.fault.test.", "x0.w0.wide.fault.test."} |
                         {"y%d.x0.w0.wide.fault.test." % k for k in range(8)})
        self.assertLessEqual(len(self.proxy.queries("wide.fault.test")), 2 * 11)

if __name__ == "__main__":
    unittest.main(verbosity=2)
