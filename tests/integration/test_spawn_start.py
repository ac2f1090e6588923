"""spawn mode builds its resolver at the first lookup (a process per SMTP session: start-up is on every
session's path). A request that needs no DNS is answered without it; a request that needs DNS is answered
through it; a broken resolver configuration still ends the process with start-up's exit status 2."""

import os
import shutil
import subprocess
import tempfile
import unittest

from spfgate_harness import BIN, request, resolver_args


def skip_request(instance):
    return request(client_address="127.0.0.1", helo_name="localhost", sender="user@example.test",
                   recipient="rcpt@example.net", instance=instance)


def dns_request(instance):
    # 127.0.0.10 is not skipped with skip_addresses = 127.0.0.1/32; example.test passes it (tests/dns README).
    return request(client_address="127.0.0.10", helo_name="mail.example.test", sender="user@example.test",
                   recipient="rcpt@example.net", instance=instance)


class SpawnStart(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spfgate-spawn-start-")
        self.conf = os.path.join(self.dir, "policyd-spf.conf")
        with open(self.conf, "w") as f:
            f.write("skip_addresses = 127.0.0.1/32\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_spawn(self, extra, requests):
        return subprocess.run([BIN, "--spawn", self.conf] + extra, input="".join(requests).encode(),
                              capture_output=True, timeout=30)

    def test_answers_with_and_without_dns(self):
        out = self.run_spawn(resolver_args(), [skip_request("s.1"), dns_request("s.2")])
        self.assertEqual(out.returncode, 0, out.stderr)
        replies = out.stdout.decode().split("\n\n")
        self.assertTrue(replies[0].startswith("action=prepend X-Comment: SPF check N/A"), out.stdout)
        self.assertTrue(replies[1].startswith("action=prepend Received-SPF: Pass (mailfrom)"), out.stdout)

    def test_a_broken_resolver_configuration_exits_2_at_the_first_lookup(self):
        bad = os.path.join(self.dir, "bad-unbound.conf")
        with open(bad, "w") as f:
            f.write("server:\n    no-such-option: yes\n")
        out = self.run_spawn(["--resolver-config", bad, "--trust-anchor-file", "none"],
                             [skip_request("b.1"), dns_request("b.2"), skip_request("b.3")])
        self.assertEqual(out.returncode, 2)
        replies = [r for r in out.stdout.decode().split("\n\n") if r]
        self.assertEqual(len(replies), 1, "answered the request without DNS, then stopped: %r" % out.stdout)
        self.assertTrue(replies[0].startswith("action=prepend X-Comment: SPF check N/A"), out.stdout)


if __name__ == "__main__":
    unittest.main()
