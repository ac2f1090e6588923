"""spawn mode builds its resolver at the first lookup (a process per SMTP session: start-up is on every
session's path). A request that needs no DNS is answered without it, and without libunbound.so.8 even
loaded; a request that needs DNS is answered through it; a broken resolver configuration, or a libunbound
that cannot be loaded, still ends the process with start-up's exit status 2. The daemon loads the library
at start and fails there without it. Nor does a spawned process map libsystemd or libspdlog."""

import os
import select
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

    def test_libunbound_is_loaded_at_the_first_lookup_only(self):
        proc = subprocess.Popen([BIN, "--spawn", self.conf] + resolver_args(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = self.exchange(proc, skip_request("m.1"))
            self.assertTrue(first.startswith("action=prepend X-Comment: SPF check N/A"), first)
            self.assertFalse(self.maps(proc.pid, "libunbound.so"), "libunbound loaded for a request without DNS")
            # Nor the other libraries a spawned process's start is spared: libsystemd (loaded for socket
            # activation or the journal only) and libspdlog (used header-only).
            mapped = self.mapped_libraries(proc.pid)
            self.assertTrue(self.maps(proc.pid, "libstdc++.so"), "the maps were read: %r" % mapped)
            for lib in ("libsystemd.so", "libspdlog.so"):
                self.assertFalse(self.maps(proc.pid, lib), "%s mapped: %r" % (lib, mapped))
            second = self.exchange(proc, dns_request("m.2"))
            self.assertTrue(second.startswith("action=prepend Received-SPF: Pass (mailfrom)"), second)
            self.assertTrue(self.maps(proc.pid, "libunbound.so"), "a lookup was answered: libunbound must be mapped")
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(proc.returncode, 0)

    def test_a_libunbound_that_cannot_be_loaded_exits_2_at_the_first_lookup(self):
        env = self.without_libunbound()
        out = subprocess.run([BIN, "--spawn", self.conf] + resolver_args(),
                             input=(skip_request("u.1") + dns_request("u.2")).encode(),
                             capture_output=True, timeout=30, env=env)
        self.assertEqual(out.returncode, 2, out.stderr)
        replies = [r for r in out.stdout.decode().split("\n\n") if r]
        self.assertEqual(len(replies), 1, "answered the request without DNS, then stopped: %r" % out.stdout)
        self.assertTrue(replies[0].startswith("action=prepend X-Comment: SPF check N/A"), out.stdout)

    def test_the_daemon_without_libunbound_exits_2_at_start_and_says_why(self):
        sock = os.path.join(self.dir, "policy.sock")
        out = subprocess.run([BIN, self.conf, "--listen", "unix:" + sock] + resolver_args(),
                             capture_output=True, timeout=30, env=self.without_libunbound())
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(b"libunbound: cannot load it: ", out.stderr)
        self.assertIn(b"libunbound.so.8", out.stderr)
        self.assertFalse(os.path.exists(sock), "no listener before the resolver exists")

    def without_libunbound(self):
        # dlopen() looks in LD_LIBRARY_PATH first; a file there by the soname that is no ELF object makes
        # the load fail as a missing or broken library would.
        libdir = os.path.join(self.dir, "lib")
        os.makedirs(libdir, exist_ok=True)
        with open(os.path.join(libdir, "libunbound.so.8"), "w") as f:
            f.write("not a shared object\n")
        return dict(os.environ, LD_LIBRARY_PATH=libdir)

    @staticmethod
    def exchange(proc, text):
        proc.stdin.write(text.encode())
        proc.stdin.flush()
        reply = b""
        while not reply.endswith(b"\n\n"):
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            if not ready:
                raise AssertionError("no answer within 30 s; so far %r" % reply)
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError("spfgate closed its output; so far %r" % reply)
            reply += chunk
        return reply.decode()

    @staticmethod
    def mapped_libraries(pid):
        """The file names of the shared objects mapped into process `pid`."""
        with open("/proc/%d/maps" % pid) as f:
            paths = (line.split()[-1] for line in f)
            return sorted({os.path.basename(p) for p in paths if ".so" in p})

    def maps(self, pid, lib):
        return any(m.startswith(lib) for m in self.mapped_libraries(pid))

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
