"""The spfgate daemon as Postfix meets it: real binary, real unix/TCP sockets and spawn pipes.

Covers the foundation issue: several requests per connection, concurrent connections, malformed,
oversized and binary input, a client vanishing mid-request, SIGHUP with a good and a bad configuration,
SIGTERM with requests in flight, the shipped pypolicyd-spf configuration, spawn mode's clean stdout.
"""
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

from spfgate_harness import (BIN, Client, Daemon, Spawn, check_shutdown_timeout_bounds_the_wait,
                             check_sigterm_waits_for_requests_in_flight, request, resolver_args, send_stuck_in_dns)

DATA = os.path.join(os.path.dirname(__file__), "..", "data")

SKIP_HEADER = ("prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; "
               "helo=localhost; envelope-from=user@pass.example.org; receiver=example.net ")


def skip_request(instance, rcpt="rcpt1@example.net"):
    return request(client_address="127.0.0.1", helo_name="localhost", sender="User@Pass.Example.org",
                   recipient=rcpt, instance=instance)


class RequestsAndConnections(unittest.TestCase):
    def test_several_requests_per_unix_connection(self):
        with Daemon() as d:
            c = d.client()
            self.assertEqual(c.ask(skip_request("a.1")), SKIP_HEADER)
            self.assertEqual(c.ask(skip_request("a.1", "rcpt2@example.net")), "dunno")
            self.assertEqual(c.ask(skip_request("a.2")), SKIP_HEADER)
            # Two requests in one write are answered in order.
            c.send(skip_request("a.3") + skip_request("a.3", "x@example.net"))
            self.assertEqual(c.reply(), SKIP_HEADER)
            self.assertEqual(c.reply(), "dunno")
            c.close()
            self.assertEqual(d.stop(), 0)
            self.assertIn(SKIP_HEADER, d.log())

    def test_tcp_ipv4_and_ipv6(self):
        extra = []
        has_v6 = socket.has_ipv6
        if has_v6:
            try:
                s = socket.socket(socket.AF_INET6)
                s.bind(("::1", 0))
                v6port = s.getsockname()[1]
                s.close()
                extra = ["tcp:[::1]:%d" % v6port]
            except OSError:
                has_v6 = False
        with Daemon(tcp=True, unix=False, extra_listen=extra) as d:
            c = d.client(tcp=True)
            self.assertEqual(c.ask(skip_request("t.1")), SKIP_HEADER)
            if has_v6:
                c6 = Client(("::1", v6port))
                self.assertEqual(c6.ask(skip_request("t.2")), SKIP_HEADER)
            self.assertEqual(d.stop(), 0)

    def test_concurrent_connections(self):
        with Daemon() as d:
            errors = []

            def worker(n):
                try:
                    c = d.client()
                    for i in range(20):
                        inst = "c%d.%d" % (n, i)
                        if c.ask(skip_request(inst)) != SKIP_HEADER or c.ask(skip_request(inst, "z@x.example")) != "dunno":
                            errors.append("wrong answer on connection %d" % n)
                    c.close()
                except Exception as e:  # noqa: BLE001 - report every failure
                    errors.append(repr(e))

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(d.stop(), 0)

    def test_empty_request_gets_the_mock_answer_too(self):
        # pypolicyd-spf answers every request, a blank line included, with the Mock text.
        with Daemon("--Mock=True") as d:
            c = d.client()
            self.assertEqual(c.ask("\n"), "dunno mock header field that should be ignored")
            self.assertEqual(c.ask(request()), "dunno mock header field that should be ignored")
            self.assertEqual(d.stop(), 0)

    def test_missing_attributes_are_answered_not_crashed_on(self):
        with Daemon() as d:
            c = d.client()
            self.assertEqual(c.ask(request(client_address=None)), "dunno")
            self.assertEqual(c.ask(request(helo_name=None, client_address="127.0.0.1")).split(" ")[0], "prepend")
            self.assertEqual(c.ask(request(client_address=" 192.0.2.10")), "dunno")
            self.assertEqual(c.ask(request(client_address="bogus")), "dunno")
            self.assertEqual(c.ask("\n"), "dunno")  # an empty request: pypolicyd-spf's exact answer
            self.assertEqual(c.ask(skip_request("m.1")), SKIP_HEADER)  # still serving
            self.assertEqual(d.stop(), 0)
            self.assertIn('invalid client_address "bogus"', d.log())


class HostileInput(unittest.TestCase):
    def test_malformed_request_gets_the_malformed_reply_and_one_log_line(self):
        with Daemon("--malformed-reply=DEFER_IF_PERMIT malformed policy request") as d:
            c = d.client()
            self.assertEqual(c.ask("request=smtpd_access_policy\nthis is not an attribute\n\n"),
                             "DEFER_IF_PERMIT malformed policy request")
            self.assertEqual(c.ask("=value\n\n"), "DEFER_IF_PERMIT malformed policy request")
            self.assertEqual(c.ask(skip_request("h.1")), SKIP_HEADER)
            d.stop()
            log = d.log()
            self.assertIn("malformed request (malformed line): \"this is not an attribute\"", log)
            self.assertEqual(log.count("malformed request"), 1, "peer warnings must be rate-limited")

    def test_nul_and_cr_lf_inside_values(self):
        with Daemon() as d:
            c = d.client()
            self.assertEqual(c.ask(b"request=smtpd_access_policy\nhelo_name=a\x00b\n\n"), "DUNNO")
            reply = c.ask(skip_request("n.1").replace("helo_name=localhost", "helo_name=evil\rBcc: x"))
            self.assertNotIn("\r", reply)
            self.assertTrue(reply.startswith("prepend X-Comment:"))
            self.assertEqual(d.stop(), 0)

    def test_binary_garbage_never_crashes(self):
        rng = random.Random(42)
        with Daemon() as d:
            for _ in range(20):
                c = d.client()
                blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
                c.send(blob + b"\n\n")
                c.sock.shutdown(socket.SHUT_WR)  # EOF: the daemon answers what it can, then closes
                try:
                    while c.reply() is not None:
                        pass
                except (socket.timeout, ConnectionResetError, AssertionError):
                    pass
                c.close()
            ok = d.client()
            self.assertEqual(ok.ask(skip_request("b.1")), SKIP_HEADER)
            self.assertEqual(d.stop(), 0)

    def test_oversized_request_closes_only_that_connection(self):
        with Daemon("--max-request-bytes=100000") as d:
            good = d.client()
            bad = d.client()
            try:
                bad.send("request=smtpd_access_policy\nsender=" + "x" * (1 << 20) + "\n\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertTrue(bad.closed_by_peer())
            self.assertEqual(good.ask(skip_request("o.1")), SKIP_HEADER)
            d.stop()
            self.assertIn("request too large", d.log())

    def test_long_line_is_answered_when_framing_survives(self):
        with Daemon("--max-line-length=1000") as d:
            c = d.client()
            self.assertEqual(c.ask("request=smtpd_access_policy\nsender=" + "y" * 5000 + "\n\n"), "DUNNO")
            self.assertEqual(c.ask(skip_request("l.1")), SKIP_HEADER)
            d.stop()
            self.assertIn("malformed request (line too long)", d.log())

    def test_client_vanishing_mid_request(self):
        with Daemon() as d:
            other = d.client()
            c = d.client()
            c.send("request=smtpd_access_policy\nclient_address=127.0.0.1\nhelo_na")
            c.close()
            self.assertEqual(other.ask(skip_request("v.1")), SKIP_HEADER)
            d.wait_for_log("connection closed in the middle of a request")
            self.assertEqual(d.stop(), 0)

    def test_trickling_peer_is_closed_after_request_read_timeout(self):
        with Daemon("--request-read-timeout=300ms") as d:
            c = d.client()
            c.send("request=smtpd_access_policy\n")
            self.assertTrue(c.closed_by_peer())
            d.stop()
            self.assertIn("request not complete within request-read-timeout", d.log())

    def test_idle_connection_is_closed_after_idle_timeout(self):
        with Daemon("--idle-timeout=300ms") as d:
            c = d.client()
            self.assertEqual(c.ask(skip_request("i.1")), SKIP_HEADER)
            self.assertTrue(c.closed_by_peer())
            self.assertEqual(d.stop(), 0)

    def test_connection_limit(self):
        with Daemon("--max-connections=3") as d:
            held = [d.client() for _ in range(3)]
            for c in held:
                self.assertEqual(c.ask(skip_request("x%d" % id(c))), SKIP_HEADER)
            extra = [d.client() for _ in range(5)]
            for c in extra:
                self.assertTrue(c.closed_by_peer())
            held[0].close()
            time.sleep(0.2)
            again = d.client()
            self.assertEqual(again.ask(skip_request("y.1")), SKIP_HEADER)
            d.stop()
            self.assertEqual(d.log().count("connection limit (max-connections 3) reached"), 1)


class Shutdown(unittest.TestCase):
    def test_sigterm_lets_requests_in_flight_finish(self):
        # 127.0.2.5's reverse zone has a server that never answers: the request takes the whole
        # dns-query-timeout, and SIGTERM arrives in the middle of it.
        cfg = "skip_addresses = 127.0.0.1/32\niprev-temperror = defer\ndns-query-timeout = 1500ms\n"
        with Daemon(config=cfg) as d:
            busy, idle = d.client(), d.client()
            self.assertTrue(idle.ask(skip_request("t.0").replace("127.0.0.1", "127.0.0.10")).startswith("prepend "))
            send_stuck_in_dns(busy)
            check_sigterm_waits_for_requests_in_flight(self, d, [busy], [idle])

    def test_shutdown_timeout_bounds_the_wait(self):
        check_shutdown_timeout_bounds_the_wait(self, 1)


class Spawned(unittest.TestCase):
    def test_spawn_answers_in_order_and_exits_cleanly_at_eof(self):
        s = Spawn()
        self.assertEqual(s.ask(skip_request("s.1")), SKIP_HEADER)
        self.assertEqual(s.ask(skip_request("s.1", "r2@example.net")), "dunno")
        self.assertEqual(s.ask("garbage line\n\n"), "DUNNO")  # its warning must not reach the pipe
        rc, rest = s.finish()
        self.assertEqual(rc, 0)
        self.assertEqual(rest, b"", "nothing but replies may reach stdout/stderr in spawn mode")

    def test_spawn_with_a_request_file(self):
        reqs = (skip_request("f.1") + skip_request("f.1", "r2@example.net")).encode()
        out = subprocess.run([BIN, "--spawn"] + resolver_args(), input=reqs, capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stdout.decode(), "action=" + SKIP_HEADER + "\n\naction=dunno\n\n")
        self.assertEqual(out.stderr, b"")

    def test_spawn_refuses_logging_to_stderr(self):
        out = subprocess.run([BIN, "--spawn", "--log=stderr"], input=b"", capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout, b"")


class SystemdAndPrivileges(unittest.TestCase):
    def run_activated(self, sock, extra=()):
        """spfgate with `sock` as fd 3 and LISTEN_FDS/LISTEN_PID set, as systemd starts it."""
        moved = sock.fileno() != 3
        if moved:
            os.dup2(sock.fileno(), 3, inheritable=True)
        try:
            cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', BIN, "--log=stderr"]
            cmd += resolver_args() + list(extra)
            return subprocess.Popen(cmd, pass_fds=(3,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        finally:
            if moved:
                os.close(3)

    def test_socket_activation_listening_socket(self):
        with Daemon(unix=False, tcp=True) as scratch:
            path = os.path.join(scratch.dir, "activated.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(16)
        proc = self.run_activated(listener)
        listener.close()
        try:
            c = Client(path)
            self.assertEqual(c.ask(skip_request("sd.1")), SKIP_HEADER)
            self.assertEqual(Client(path).ask(skip_request("sd.2")), SKIP_HEADER)  # several connections
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(b"listening on a socket from systemd (fd 3, unix)", err)

    def test_socket_activation_accept_yes_serves_one_connection(self):
        ours, theirs = socket.socketpair()
        proc = self.run_activated(theirs)
        theirs.close()
        ours.settimeout(20)
        f = ours.makefile("rb")
        ours.sendall(skip_request("sd.3").encode())
        from spfgate_harness import read_reply
        self.assertEqual(read_reply(f), SKIP_HEADER)
        ours.shutdown(socket.SHUT_WR)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "a private /run needs root and unshare (CI runs as root)")
    def test_log_journald_writes_the_native_journal_protocol(self):
        """--log=journald loads libsystemd at that point (server/systemd.hpp) and sends each line to the
        journal's socket: here a socket of our own at /run/systemd/journal/socket, in a private mount
        namespace with its own /run."""
        with Daemon() as scratch:
            conf = os.path.join(scratch.dir, "journald.conf")
        with open(conf, "w") as f:
            f.write("debugLevel = 1\nTestOnly = 1\n")
        receiver = (
            "import os, socket, subprocess, sys\n"
            "subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/run'], check=True)\n"
            "os.makedirs('/run/systemd/journal')\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
            "s.bind('/run/systemd/journal/socket')\n"
            "r = subprocess.run([sys.argv[1], '--check-config', '--log=journald', '--syslog-ident=spfgate-jtest',"
            " sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "s.settimeout(0.5)\n"
            "try:\n"
            "    while True:\n"
            "        sys.stdout.buffer.write(s.recv(65536) + b'\\n--\\n')\n"
            "except socket.timeout:\n"
            "    pass\n"
            "sys.exit(r.returncode)\n")
        out = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c", receiver,
                              BIN, conf], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        datagrams = out.stdout.split(b"\n--\n")
        valid = [d for d in datagrams if b"MESSAGE=configuration is valid" in d]
        self.assertEqual(len(valid), 1, out.stdout)
        fields = valid[0].split(b"\n")
        self.assertIn(b"PRIORITY=6", fields)
        self.assertIn(b"SYSLOG_IDENTIFIER=spfgate-jtest", fields)

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root (CI runs as root)")
    def test_user_drops_root_after_binding(self):
        with Daemon("--user=nobody", unix=False, tcp=True) as d:
            status = open("/proc/%d/status" % d.proc.pid).read()
            uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()
            self.assertEqual(set(uid_line[1:]), {str(65534)}, uid_line)
            self.assertEqual(d.client(tcp=True).ask(skip_request("u.9")), SKIP_HEADER)
            self.assertEqual(d.stop(), 0)
            self.assertIn("running as uid 65534", d.log())


class Configuration(unittest.TestCase):
    def test_shipped_pypolicyd_config_loads(self):
        path = os.path.join(DATA, "config", "debian-policyd-spf.conf")
        out = subprocess.run([BIN, "--check-config", "--log=stderr", path], capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"configuration is valid", out.stderr)

    def test_bad_value_fails_start_up_with_a_precise_message(self):
        with Daemon() as base:
            path = os.path.join(base.dir, "bad.conf")
        with open(path, "w") as f:
            f.write("debugLevel = 1\nTestOnly = 1\nLookup_Time = soon\n")
        out = subprocess.run([BIN, "--log=stderr", "--listen", "unix:/tmp/never-%d.sock" % os.getpid(), path],
                             capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 1)
        self.assertIn(("configuration error: %s:3: Lookup_Time: 'soon' is not a whole number of seconds" % path)
                      .encode(), out.stderr)

    def test_jemalloc_runs_with_one_arena(self):
        # server/jemalloc_conf.cpp: one arena for every thread (the environment can still add options).
        libs = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=20).stdout
        if "libjemalloc" not in libs:
            self.skipTest("this build does not link jemalloc (sanitizers, or -DSPFGATE_JEMALLOC=OFF)")
        out = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=20,
                             env=dict(os.environ, MALLOC_CONF="stats_print:true"))
        self.assertEqual(out.returncode, 0)
        self.assertIn("opt.narenas: 1\n", out.stderr)

    def test_sighup_applies_a_good_config_and_keeps_the_old_on_a_bad_one(self):
        with Daemon(config="skip_addresses = 127.0.0.0/8\n") as d:
            c = d.client()
            self.assertEqual(c.ask(skip_request("r.1")), SKIP_HEADER)
            d.write_config("skip_addresses = 127.0.0.0/8\nHeader_Type = None\n")
            d.signal(signal.SIGHUP)
            d.wait_for_log("configuration reloaded")
            self.assertEqual(c.ask(skip_request("r.2")), "dunno")  # same connection, new configuration
            d.write_config("skip_addresses = 127.0.0.0/8\nHeader_Type = Sometimes\n")
            d.signal(signal.SIGHUP)
            d.wait_for_log("reload failed, keeping the previous configuration")
            self.assertIn("Header_Type: 'Sometimes' is not SPF, AR, None or SPF,AR", d.log())
            self.assertEqual(c.ask(skip_request("r.3")), "dunno")
            # A bad syslog facility fails the reload before logging is touched: the failure is still logged
            # through the old target, and so is everything after it.
            d.write_config("skip_addresses = 127.0.0.0/8\nsyslog-facility = local9\n")
            d.signal(signal.SIGHUP)
            d.wait_for_log("reload failed, keeping the previous configuration", count=2)
            self.assertIn("syslog-facility: 'local9' is not mail, daemon, user or local0 to local7", d.log())
            self.assertEqual(c.ask(skip_request("r.4")), "dunno")
            self.assertEqual(d.stop(), 0)

    def test_unix_socket_mode_and_stale_socket(self):
        with Daemon(unix=False, tcp=True) as first:
            path = os.path.join(first.dir, "other.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()  # a stale socket file, as after a crash
        with Daemon(unix=False, extra_listen=["unix:%s,mode=0600" % path]) as d:
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertEqual(Client(path).ask(skip_request("u.1")), SKIP_HEADER)
            # A second instance must not steal a live socket.
            out = subprocess.run([BIN, "--log=stderr", "--listen", "unix:" + path], capture_output=True, timeout=20)
            self.assertEqual(out.returncode, 2)
            self.assertIn(b"in use by another process", out.stderr)
            self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(path), "the socket is removed at exit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
