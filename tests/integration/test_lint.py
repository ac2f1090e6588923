"""`spfgate lint DOMAIN` against the real test DNS: the zone lint.test has one domain per finding
(tests/dns/zones/lint.test.zone.in)."""
import json
import os
import re
import subprocess
import unittest

from spfgate_harness import BIN, resolver_args


def lint(domain, *extra):
    return subprocess.run([BIN, "lint", domain, *extra] + resolver_args(), capture_output=True, timeout=60, text=True)


def codes(domain, *extra):
    out = lint(domain, "--json", *extra)
    report = json.loads(out.stdout)
    return out.returncode, [f["code"] for f in report["findings"]], report


class Lint(unittest.TestCase):
    def test_a_good_domain(self):
        rc, found, report = codes("good.lint.test", "--dkim-selector", "sel", "--dkim-selector=ed")
        self.assertEqual(found, [])
        self.assertEqual(rc, 0)
        self.assertEqual(report["spf"]["lookups"], 1)
        self.assertEqual(report["spf"]["receiver_view"], "fail")
        self.assertEqual([(k["selector"], k["key_type"], k["key_bits"]) for k in report["dkim"]],
                         [("sel", "rsa", 2048), ("ed", "ed25519", 256)])
        self.assertEqual(report["mx"][0]["host"], "mail.example.test")
        self.assertIn({"address": "127.0.0.10", "iprev": "pass (mail.example.test)"}, report["mx"][0]["addresses"])

    def test_spf_findings(self):
        expect = {
            "nospf": "spf.missing", "two": "spf.multiple-records", "syntax": "spf.syntax", "plusall": "spf.plus-all",
            "qall": "spf.neutral-all", "noall": "spf.no-all", "ptr": "spf.ptr", "split": "spf.string-boundary",
            "long": "spf.long-record", "voids": "spf.void-lookups", "incnone": "spf.include-without-record",
            "manymx": "spf.mx-limit", "toomany": "spf.too-many-lookups", "nearly": "spf.near-lookup-limit",
            "loop": "spf.loop",
        }
        for name, code in expect.items():
            with self.subTest(domain=name):
                rc, found, _ = codes(name + ".lint.test")
                self.assertIn(code, found)

    def test_include_tree_is_shown_with_its_counts(self):
        rc, found, report = codes("toomany.lint.test")
        self.assertEqual(rc, 1)
        tree = report["spf"]["tree"]
        self.assertEqual(tree["lookups"], 3)
        self.assertEqual(tree["total_lookups"], 15)
        self.assertEqual([c["domain"] for c in tree["children"]],
                         ["t1.toomany.lint.test", "t2.toomany.lint.test", "t3.toomany.lint.test"])
        self.assertEqual(report["spf"]["receiver_view"], "permerror (Too many DNS lookups)")
        text = lint("toomany.lint.test").stdout
        self.assertIn("include t3.toomany.lint.test  4 lookups", text)
        self.assertIn("DNS lookups: 15 of 10", text)

    def test_dmarc_findings(self):
        for name, code in {"badorder": "dmarc.version", "badp": "dmarc.bad-p", "badpct": "dmarc.bad-pct",
                           "badrua": "dmarc.bad-rua", "monitor": "dmarc.monitoring", "two": "dmarc.multiple-records",
                           "nospf": "dmarc.missing"}.items():
            with self.subTest(domain=name):
                self.assertIn(code, codes(name + ".lint.test")[1])

    def test_dkim_findings(self):
        rc, found, _ = codes("good.lint.test", *sum((["--dkim-selector", s] for s in
                                                      ("weak", "revoked", "broken", "sha1", "order", "nope")), []))
        self.assertEqual(found, ["dkim.short-key", "dkim.revoked", "dkim.bad-key", "dkim.sha1", "dkim.version",
                                 "dkim.short-key", "dkim.missing"])
        self.assertEqual(rc, 1)

    def test_mx_findings(self):
        self.assertIn("mx.fcrdns", codes("badmx.lint.test")[1])
        self.assertIn("mx.null", codes("nullmx.lint.test")[1])
        self.assertIn("mx.no-address", codes("noaddr.lint.test")[1])
        self.assertIn("mx.none", codes("noall.lint.test")[1])
        self.assertNotIn("mx.none", codes("good.lint.test")[1])

    def test_more_dkim_findings(self):
        rc, found, _ = codes("good.lint.test", "--dkim-selector", "multi", "--dkim-selector", "testing",
                             "--dkim-selector", "tiny")
        self.assertEqual(found, ["dkim.multiple-records", "dkim.testing", "dkim.weak-key"])
        self.assertEqual(rc, 1)

    def test_a_lookup_that_fails_is_a_warning_and_the_receiver_view_an_error(self):
        rc, found, report = codes("lookupfail.lint.test")
        self.assertIn("dns.lookup-failed", found)
        self.assertIn("spf.receiver-error", found)
        self.assertTrue(report["spf"]["receiver_view"].startswith("temperror"), report["spf"]["receiver_view"])
        self.assertEqual(rc, 1)

    def test_every_code_the_readme_lists_is_triggered_by_a_test(self):
        """README's list of finding codes: each one is the code of a finding some test here expects."""
        def read(*path):
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), *path), encoding="utf-8") as f:
                return f.read()
        readme = read("..", "..", "README.md")
        listed = set(re.findall(r"`([a-z]+\.[a-z0-9<>-]+)`", readme[readme.index("\nCodes: "):].split("\n\n")[0]))
        here, unit = read("test_lint.py"), read("..", "unit", "lint_test.cpp")
        missing = sorted(c for c in listed if c != "dmarc.bad-<tag>" and '"%s"' % c not in here + unit)
        self.assertEqual(missing, [])
        self.assertGreater(len(listed), 30)

    def test_usage_errors(self):
        self.assertEqual(subprocess.run([BIN, "lint"], capture_output=True, timeout=20).returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
