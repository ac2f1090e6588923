"""Hostile peers against the real daemon: many connections, stalling, never reading, flooding, huge and
binary requests. In every case the daemon keeps answering everyone else correctly, its memory stays bounded
(VmRSS from /proc, with a generous bound: this checks for unbounded growth, not for speed), and what it logs
about the limits comes once per peer (the client address, or the unix listener), not once per connection,
request or byte.
"""
import asyncio
import itertools
import os
import resource
import socket
import threading
import time
import unittest

from spfgate_harness import Daemon, read_reply, request

RSS_LIMIT_KB = 100 * 1024
SKIP_HEADER = ("prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; "
               "helo=localhost; envelope-from=user@pass.example.org; receiver=example.net ")


UNIQUE = itertools.count()


def unique(prefix):
    """A fresh message instance (a repeated one would be answered from the per-message cache)."""
    return "%s.%d.%d" % (prefix, os.getpid(), next(UNIQUE))


def skip_request(instance):
    return request(client_address="127.0.0.1", helo_name="localhost", sender="User@Pass.Example.org",
                   recipient="rcpt@example.net", instance=instance)


def rss_kb(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def raise_own_nofile(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        raise unittest.SkipTest("the open-files hard limit (%d) is below %d" % (hard, wanted))
    if soft == resource.RLIM_INFINITY or soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def low_soft_nofile():
    """preexec_fn: start the daemon with a soft open-files limit of 256 (the hard limit unchanged)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


class HostilePeer(unittest.TestCase):
    def assertServes(self, d, n=5):
        c = d.client()
        for i in range(n):
            self.assertEqual(c.ask(skip_request(unique("good"))), SKIP_HEADER)
        c.close()

    def assertBoundedMemory(self, d):
        rss = rss_kb(d.proc.pid)
        self.assertLess(rss, RSS_LIMIT_KB, "VmRSS %d kB" % rss)
        return rss

    def count(self, d, text):
        return d.log().count(text)


class ManyConnections(HostilePeer):
    CONNECTIONS = 1000

    def test_a_thousand_concurrent_connections(self):
        raise_own_nofile(4096)
        with Daemon("--max-connections=1100", preexec_fn=low_soft_nofile) as d:
            before = rss_kb(d.proc.pid)

            async def one(i):
                reader, writer = await asyncio.open_unix_connection(d.sock)
                return reader, writer

            async def run():
                conns = await asyncio.gather(*(one(i) for i in range(self.CONNECTIONS)))
                # All of them open at once; now every one asks, all at the same time, twice.
                for round_ in range(2):
                    for i, (_, w) in enumerate(conns):
                        w.write(skip_request("m.%d.%d" % (round_, i)).encode())
                    answers = await asyncio.gather(*(r.readuntil(b"\n\n") for r, _ in conns))
                    self.assertEqual(set(answers), {("action=" + SKIP_HEADER + "\n\n").encode()})
                self.assertServes(d)  # one more connection, while the thousand are open
                rss = self.assertBoundedMemory(d)
                for _, w in conns:
                    w.close()
                return rss

            during = asyncio.run(run())
            self.assertServes(d)
            self.assertEqual(d.stop(), 0)
            log = d.log()
            self.assertIn("open-files limit raised from 256 to", log)
            self.assertNotIn("accept on", log)  # no EMFILE
            print("VmRSS before %d kB, with %d connections %d kB" % (before, self.CONNECTIONS, during))


class Stalling(HostilePeer):
    def test_half_requests_and_tricklers_are_closed_and_logged_once(self):
        with Daemon("--request-read-timeout=1s", tcp=True) as d:
            stalled = []
            for i in range(100):
                c = d.client(tcp=True)
                c.send("request=smtpd_access_policy\nclient_address=127.0.0.1\nhelo_na")
                stalled.append(c)
            trickler = d.client(tcp=True)
            stop = threading.Event()

            def trickle():
                data = skip_request("t.1").encode()
                for i in range(len(data)):
                    if stop.is_set():
                        return
                    try:
                        trickler.send(data[i:i + 1])
                    except OSError:
                        return
                    time.sleep(0.05)

            t = threading.Thread(target=trickle)
            t.start()
            # Everyone else is answered at once, while the stalled ones wait.
            self.assertServes(d, 20)
            for c in stalled:
                self.assertTrue(c.closed_by_peer())
                c.close()
            self.assertTrue(trickler.closed_by_peer())
            stop.set()
            t.join()
            trickler.close()
            self.assertServes(d)
            self.assertBoundedMemory(d)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.count(d, "request not complete within request-read-timeout"), 1, d.log()[-2000:])


class NeverReading(HostilePeer):
    def test_peers_that_never_read_are_closed_after_write_timeout(self):
        with Daemon("--write-timeout=1s") as d:
            hogs = []
            for i in range(10):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(d.sock)
                s.setblocking(False)
                hogs.append(s)
            # Pipeline requests without ever reading an answer, until the daemon stops reading (its replies fill
            # the socket buffers, so it cannot write, so it does not read the next request).
            chunk = "".join(skip_request("n.%d" % i) for i in range(200)).encode()
            sent = [0] * len(hogs)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                progress = False
                for k, s in enumerate(hogs):
                    try:
                        sent[k] += s.send(chunk)
                        progress = True
                    except BlockingIOError:
                        pass
                    except OSError:
                        pass
                if not progress:
                    break
            self.assertTrue(all(n > 0 for n in sent))
            self.assertServes(d, 20)  # the others are served meanwhile
            # After write-timeout every hog is closed (reading now finds the end of what was sent).
            time.sleep(1.5)
            for s in hogs:
                s.setblocking(True)
                s.settimeout(15)
                while True:
                    try:
                        data = s.recv(1 << 20)
                    except (ConnectionResetError, BrokenPipeError):
                        break
                    if not data:
                        break
                s.close()
            self.assertBoundedMemory(d)
            self.assertServes(d)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.count(d, "reply not taken within write-timeout"), 1, d.log()[-2000:])


class Flood(HostilePeer):
    def test_a_flood_of_connections_does_not_starve_the_others(self):
        raise_own_nofile(1024)
        with Daemon("--max-connections=64") as d:
            held = [d.client() for _ in range(56)]
            good = d.client()
            errors = []
            stop = threading.Event()

            def flood():
                # Four at a time per thread, kept open until the server has accepted them: 57 held + 4 x 4
                # goes past max-connections, so the limit is hit (and must be logged once).
                n = 0
                while n < 300 and not (stop.is_set() and "connection limit (max-connections 64)" in d.log()):
                    n += 1
                    batch = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(4)]
                    for s in batch:
                        try:
                            s.connect(d.sock)
                            s.sendall(b"request=smtpd_access_policy\nclient_address=127.0.0.1\n")  # half, then gone
                        except OSError:
                            pass
                    time.sleep(0.01)
                    for s in batch:
                        s.close()

            threads = [threading.Thread(target=flood) for _ in range(4)]
            for t in threads:
                t.start()
            try:
                for i in range(100):
                    if good.ask(skip_request("f.%d" % i)) != SKIP_HEADER:
                        errors.append(i)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertEqual(errors, [])
            for c in held:
                self.assertEqual(c.ask(skip_request(unique("held"))), SKIP_HEADER)
                c.close()
            good.close()
            self.assertBoundedMemory(d)
            self.assertEqual(d.stop(), 0)
            log = d.log()
            # Hit, and said once: the warning is rate-limited per listener, not per refused connection.
            self.assertEqual(log.count("connection limit (max-connections 64) reached"), 1)
            self.assertLessEqual(log.count("connection closed in the middle of a request"), 1)


class HugeAndBinary(HostilePeer):
    def test_megabyte_attributes_close_that_connection_only(self):
        with Daemon() as d:
            good = d.client()
            before = rss_kb(d.proc.pid)
            for i in range(20):
                bad = d.client()
                try:
                    bad.send("request=smtpd_access_policy\nsender=" + "x" * (1 << 20) + "\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.assertTrue(bad.closed_by_peer())
                bad.close()
                self.assertEqual(good.ask(skip_request("big.%d" % i)), SKIP_HEADER)
            good.close()
            after = self.assertBoundedMemory(d)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.count(d, "request too large"), 1, d.log()[-2000:])
            print("VmRSS before %d kB, after 20 MB of oversized requests %d kB" % (before, after))

    def test_megabyte_lines_within_a_larger_request_limit_are_answered(self):
        with Daemon("--max-request-bytes=4000000") as d:
            c = d.client()
            for i in range(5):
                self.assertEqual(c.ask("request=smtpd_access_policy\nsender=" + "y" * (1 << 20) + "\n\n"), "DUNNO")
                self.assertEqual(c.ask(skip_request("l.%d" % i)), SKIP_HEADER)
            c.close()
            self.assertBoundedMemory(d)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(self.count(d, "malformed request (line too long)"), 1)

    def test_nul_cr_lf_and_binary_inside_values(self):
        with Daemon() as d:
            c = d.client()
            hostile = [
                b"request=smtpd_access_policy\nhelo_name=a\x00b\nclient_address=127.0.0.1\n\n",
                b"request=smtpd_access_policy\nclient_address=127.0.0.1\nhelo_name=evil\rX-Injected: yes\n"
                b"sender=a@example.org\n\n",
                b"request=smtpd_access_policy\nclient_address=127.0.0.1\nsender=x\r\nBcc: victim@example.org\n\n",
                b"request=smtpd_access_policy\nclient_address=127.0.0.1\nhelo_name=\xff\xfe\xc0\xaf\x1b[31m\n\n",
                b"\x00\x00\x00\n\n",
                b"request=smtpd_access_policy\r\nclient_address=127.0.0.1\r\nhelo_name=crlf.example\r\n\r\n",
            ]
            for n in range(10):
                for data in hostile:
                    answer = c.ask(data)  # read_reply() asserts one line, "action=", UTF-8
                    self.assertNotIn("\r", answer)
                    self.assertNotIn("\x00", answer)
                    self.assertNotIn("\x1b", answer)
            self.assertEqual(c.ask(skip_request("b.1")), SKIP_HEADER)
            c.close()
            self.assertBoundedMemory(d)
            self.assertEqual(d.stop(), 0)
            self.assertLessEqual(self.count(d, "malformed request"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
