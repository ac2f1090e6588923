"""spfgate's syslog output: the ident (syslog-ident), LOG_PID and the facility, as log rules see them.

glibc's syslog() always writes to /dev/log, so spfgate runs in a private mount namespace whose /dev is a
small tmpfs with /dev/log pointing at a datagram socket of this test (needs root; skipped otherwise).
"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from spfgate_harness import BIN, request, resolver_args

SKIP = "needs root for a private mount namespace with its own /dev/log"


class Sink:
    def __init__(self, directory):
        self.path = os.path.join(directory, "log.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.2)
        self.lines = []

    def read(self, until=None, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                if until is None:
                    return self.lines
            if until is not None and any(re.search(until, l) for l in self.lines):
                return self.lines
        return self.lines

    def close(self):
        self.sock.close()


def in_namespace(argv, directory, log_socket):
    hostdev = os.path.join(directory, "hostdev")
    os.makedirs(hostdev, exist_ok=True)
    script = "; ".join([
        "set -e",
        "mount --bind /dev %s" % shlex.quote(hostdev),
        "mount -t tmpfs -o mode=0755,size=64k spfgate-test-dev /dev",
        "for n in null zero random urandom; do : > /dev/$n; mount --bind %s/$n /dev/$n; done" % shlex.quote(hostdev),
        "ln -s %s /dev/log" % shlex.quote(log_socket),
        'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"] + argv


@unittest.skipUnless(os.geteuid() == 0, SKIP)
class SyslogTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spfgate-syslog-")
        self.sink = Sink(self.dir)

    def tearDown(self):
        self.sink.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_spawn_logs_with_the_configured_ident(self):
        # The ident must hold from the first line on: the early (pre-configuration) logger's closelog() used
        # to reset it, so every line went out as "spfgate[pid]".
        argv = [BIN, "--spawn", "--syslog-ident=policyd-spf", "--skip_addresses=127.0.0.1/32"] + resolver_args()
        proc = subprocess.run(in_namespace(argv, self.dir, self.sink.path),
                              input=request(client_address="127.0.0.1", queue_id="4XyZ1234").encode(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        lines = self.sink.read()
        self.assertTrue(lines)
        for line in lines:
            # <22> = mail.info; "ident[pid]: " as glibc writes it with LOG_PID.
            self.assertRegex(line, r"^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d policyd-spf\[%d\]: " % self._pid(lines))
        self.assertTrue(any(re.search(r"^<22>.*: 4XyZ1234: prepend X-Comment: SPF check N/A for local connections - "
                                      r"client-ip=127\.0\.0\.1;", l) for l in lines), lines)
        # One session, one line, as with pypolicyd-spf: a spawned process's start and stop are debug lines.
        self.assertEqual(len(lines), 1, lines)

    def test_reload_keeps_the_ident_and_facility(self):
        sock = os.path.join(self.dir, "policy.sock")
        argv = [BIN, "--log=syslog", "--syslog-ident=policyd-spf", "--syslog-facility=local3",
                "--listen", "unix:" + sock] + resolver_args()
        proc = subprocess.Popen(in_namespace(argv, self.dir, self.sink.path), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            self.sink.read(until=r"ready")
            proc.send_signal(signal.SIGHUP)
            self.sink.read(until=r"configuration reloaded")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.settimeout(10)
                c.connect(sock)
                c.sendall(request(client_address="127.0.0.1", queue_id="4XyZ1235").encode())
                self.assertTrue(c.recv(4096).startswith(b"action=prepend X-Comment: "))
            lines = self.sink.read(until=r"4XyZ1235: ")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            proc.stdout.close()
        after = lines[next(i for i, l in enumerate(lines) if "configuration reloaded" in l):]
        self.assertTrue(any("4XyZ1235: prepend X-Comment" in l for l in after), lines)
        for line in after:
            # local3.info = 19 * 8 + 6 = 158 (warnings: 156)
            self.assertRegex(line, r"^<15[0-9]>\w{3} [ \d]\d \d\d:\d\d:\d\d policyd-spf\[\d+\]: ")

    @staticmethod
    def _pid(lines):
        return int(re.search(r"\[(\d+)\]: ", lines[0]).group(1))


if __name__ == "__main__":
    unittest.main()
