"""spfgate-loadgen must fail a run whose replies are wrong: fake policy servers (spawn targets, and a unix
socket server) answer well, malformed, not at all, late or twice, and the exit status and the first fault
printed are checked. Not a benchmark: the machine's speed is never asserted; the --rate tests check only lower
bounds that the schedule and the fake server's own sleeps impose, whatever the machine."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

LOADGEN = os.environ["SPFGATE_LOADGEN"]

# A fake spawn(8) child: reads requests on stdin, answers on stdout as MODE says.
FAKE = r'''
import sys, time
mode = sys.argv[1]
n = 0
buf = b""
while True:
    line = sys.stdin.buffer.readline()
    if not line:
        break
    if line != b"\n":
        continue
    n += 1
    if mode == "good":
        out = b"action=dunno\n\n"
    elif mode == "malformed":
        out = b"action=dunno\n\n" if n < 3 else b"this is not a reply\n\n"
    elif mode == "no-empty-line":
        out = b"action=dunno\naction=dunno\n\n" if n >= 2 else b"action=dunno\n\n"
    elif mode == "close":
        if n >= 2:
            sys.exit(0)
        out = b"action=dunno\n\n"
    elif mode == "slow":
        time.sleep(0.1)
        out = b"action=dunno\n\n"
    elif mode == "late":
        if n >= 2:
            time.sleep(30)
        out = b"action=dunno\n\n"
    else:
        out = b"action=reject\n\n"
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
'''

REQUEST = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nhelo_name=mx.example.org\n"
           "sender=a@example.org\nrecipient=b@example.net\ninstance=abc.1\n\n")


class Loadgen(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="loadgen-test-")
        cls.fake = os.path.join(cls.dir, "fake.py")
        with open(cls.fake, "w") as f:
            f.write(FAKE)
        cls.corpus = os.path.join(cls.dir, "corpus.txt")
        with open(cls.corpus, "w") as f:
            f.write(REQUEST * 3)

    def run_loadgen(self, target, *args):
        return subprocess.run([LOADGEN, "-c", "2", "-n", "20", "--timeout", "2000", *args, target, self.corpus],
                              capture_output=True, text=True, timeout=60)

    def spawn(self, mode):
        return "spawn:%s %s %s" % (sys.executable, self.fake, mode)

    def test_good_replies_exit_0_with_the_counts(self):
        out = self.run_loadgen(self.spawn("good"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("dunno 20", out.stdout + out.stderr)
        self.assertIn("errors 0", out.stdout + out.stderr)

    def test_faults_exit_1(self):
        for mode in ("malformed", "no-empty-line", "close", "late"):
            with self.subTest(mode=mode):
                out = self.run_loadgen(self.spawn(mode))
                self.assertEqual(out.returncode, 1, "%s: %s%s" % (mode, out.stdout, out.stderr))
                self.assertTrue(out.stderr.strip(), "the first fault is printed")

    def test_a_unix_server_that_hangs_up_exits_1(self):
        path = os.path.join(self.dir, "policy.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(8)
        stop = threading.Event()

        def serve():
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    c, _ = server.accept()
                except OSError:
                    continue
                c.recv(65536)
                c.close()  # a request, no answer
        t = threading.Thread(target=serve)
        t.start()
        try:
            out = self.run_loadgen("unix:" + path)
        finally:
            stop.set()
            t.join()
            server.close()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)

    def test_rate_paces_the_requests(self):
        # 10 requests at 20/s: the last is due 0.45 s after the first, so the run cannot be shorter.
        out = self.run_loadgen(self.spawn("good"), "-n", "10", "--rate", "20")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("(paced at 20/s)", out.stdout)
        seconds = float(re.search(r"requests in ([0-9.]+) s", out.stdout).group(1))
        self.assertGreaterEqual(seconds, 0.45, out.stdout)

    def test_rate_counts_latency_from_when_a_request_was_due(self):
        # One connection to a server that takes 0.1 s per reply, asked for 1000 requests/s: request k is due
        # at k ms but cannot be written before k * 0.1 s, so the last of 6 waits at least 0.5 s - 5 ms before
        # its 0.1 s reply. Lock-step (no --rate) counts only the 0.1 s.
        paced = subprocess.run([LOADGEN, "-c", "1", "-n", "6", "--rate", "1000", "--timeout", "5000",
                                self.spawn("slow"), self.corpus], capture_output=True, text=True, timeout=60)
        self.assertEqual(paced.returncode, 0, paced.stdout + paced.stderr)
        worst = float(re.search(r"latency ms p50 [0-9.]+ p90 [0-9.]+ p99 [0-9.]+ max ([0-9.]+);", paced.stdout).group(1))
        self.assertGreaterEqual(worst, 595.0, paced.stdout)
        # Of it, the backlog: the last request was due at 5 ms and its connection came free after 0.5 s.
        queued = float(re.search(r"queued ms p99 [0-9.]+ max ([0-9.]+);", paced.stdout).group(1))
        self.assertGreaterEqual(queued, 495.0, paced.stdout)
        self.assertIn("dunno 6", paced.stdout)

    def test_usage_errors_exit_2(self):
        self.assertEqual(subprocess.run([LOADGEN, "--rate", "10", "--startup", "1", self.spawn("good"), self.corpus],
                                        capture_output=True, timeout=20).returncode, 2)
        self.assertEqual(subprocess.run([LOADGEN, "unix:/nonexistent"], capture_output=True, timeout=20).returncode, 2)
        self.assertEqual(subprocess.run([LOADGEN, "bogus:x", self.corpus], capture_output=True, timeout=20).returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
