"""`spfgate check`: the daemon's decision for one made-up request, explained, against the test DNS."""
import json
import os
import subprocess
import tempfile
import unittest

from spfgate_harness import BIN, resolver_args

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


def check(*args, config=None):
    extra = []
    if config is not None:
        fd, path = tempfile.mkstemp(suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(config)
        extra = ["--config", path]
    return subprocess.run([BIN, "check", *args, "--skip_addresses=127.0.0.1/32", *resolver_args(), *extra],
                          capture_output=True, text=True, timeout=60)


class Check(unittest.TestCase):
    def test_pass_prints_the_answer_and_every_query(self):
        out = check("--ip", "127.0.0.10", "--helo", "mail.example.test", "--sender", "alice@example.test",
                    "--rcpt", "bob@example.net")
        self.assertEqual(out.returncode, 0, out.stderr)
        first = out.stdout.splitlines()[0]
        self.assertEqual(first, "action=prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.10; "
                                "helo=mail.example.test; envelope-from=alice@example.test; receiver=example.net ")
        self.assertIn("MAIL FROM example.test: pass, mechanism ip4:127.0.0.10; policy Fail", out.stdout)
        self.assertIn("DNS terms 0 of 10, void lookups 0 of 2", out.stdout)
        self.assertIn("example.test TXT: ok, secure, 1 record", out.stdout)

    def test_fail_exits_1_and_shows_the_include_tree(self):
        out = check("--ip", "127.0.0.11", "--helo", "nohelo.example.test", "--sender", "a@include.example.test")
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("action=550 5.7.23 Message rejected due to: SPF fail - not authorized.", out.stdout)
        self.assertIn("include.example.test: include:example.test -> no match (fail)", out.stdout)
        self.assertIn("decided by: spf", out.stdout)

    def test_testonly_answers_as_the_daemon_and_says_what_it_would_have_answered(self):
        out = check("--ip", "127.0.0.11", "--helo", "nohelo.example.test", "--sender", "a@include.example.test",
                    "--TestOnly=0")
        self.assertEqual(out.returncode, 0, out.stdout)  # the daemon's answer: the mail goes on
        self.assertTrue(out.stdout.startswith("action=dunno\n"), out.stdout)
        self.assertIn('log line: TestOnly: would have answered "550 5.7.23 Message rejected due to: SPF fail - '
                      'not authorized."', out.stdout)
        self.assertIn("decided by: spf", out.stdout)

    def test_temperror_with_tempError_defer_exits_2(self):
        out = check("--ip", "127.0.0.10", "--helo", "nohelo.example.test", "--sender", "a@include-servfail.example.test",
                    "--TempError_Defer=True")
        self.assertEqual(out.returncode, 2, out.stdout)
        self.assertIn("action=defer_if_permit 4.7.24", out.stdout)
        self.assertIn("x.servfail.test TXT: servfail", out.stdout)

    def test_iprev_names_and_helo_access_entry(self):
        table = os.path.abspath(os.path.join(DATA, "access", "helo_access"))
        out = check("--ip", "127.0.0.17", "--helo", "mailsrv02.foo.local", "--sender", "a@example.test",
                    config="iprev-header = yes\nhelo-access = hash:%s\n" % table)
        self.assertEqual(out.returncode, 0, out.stdout)
        self.assertTrue(out.stdout.startswith("action=PERMIT\n"))
        self.assertIn("helo_access: accept - \"mailsrv02.foo.local\" PERMIT (%s:3)" % table, out.stdout)
        out = check("--ip", "127.0.0.17", "--helo", "x.example.test", "--sender", "a@ptr.example.test",
                    "--iprev-header=yes")
        self.assertIn("third.example.test (confirmed)", out.stdout)
        self.assertIn("liar.example.test (does not resolve back)", out.stdout)

    def test_json(self):
        out = check("--ip", "::1", "--helo", "mail.example.test", "--sender", "<>", "--json")
        report = json.loads(out.stdout)
        self.assertTrue(report["action"].startswith("prepend Received-SPF: Pass (sender SPF authorized) identity=helo"))
        self.assertEqual(report["decision"], "prepend")
        self.assertEqual([c["check"] for c in report["checks"]], ["skip_addresses", "spf"])
        self.assertIn({"name": "mail.example.test", "type": "AAAA"},
                      [{"name": q["name"], "type": q["type"]} for q in report["dns_queries"]])

    def test_usage(self):
        self.assertEqual(subprocess.run([BIN, "check", "--helo", "x"], capture_output=True, timeout=20).returncode, 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
