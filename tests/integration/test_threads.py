"""The daemon with several worker threads (`threads`): the same answers as with one, under concurrency,
over unix and TCP listeners; connections spread over the workers; the per-message cache, the connection limit, the metrics, SIGHUP and
SIGTERM all span every worker.

Answers are not written down here: a single-threaded daemon with the same configuration gives them
first, against the same test nsd. scripts/test.sh also runs this file against a ThreadSanitizer build
(build-tsan), where any data race between the workers fails the run.
"""
import atexit
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from spfgate_harness import (Daemon, check_shutdown_timeout_bounds_the_wait, check_sigterm_waits_for_requests_in_flight,
                             free_port, metric_value, request, scrape_metrics, send_stuck_in_dns)

# helo_access tables, one reading shared by every worker: a pcre table (its compiled patterns matched from
# several threads at once) that prepends a header to some of the corpus's HELOs, and an indexed one.
TABLES = tempfile.mkdtemp(prefix="spfgate-threads-")
atexit.register(shutil.rmtree, TABLES, True)
with open(os.path.join(TABLES, "helo.pcre"), "w") as f:
    f.write("/^unknown\\.(.+)$/ PREPEND X-HELO-Unknown: $1\n")
with open(os.path.join(TABLES, "helo"), "w") as f:
    f.write("mail.example.test DUNNO\n")

CONFIG = ("skip_addresses = 127.0.0.1/32\n"
          "HELO_reject = Fail\nMail_From_reject = Fail\n"
          "iprev-fail = reject\niprev-permerror = reject\niprev-header = yes\n"
          "dns-query-timeout = 1500ms\n"
          "helo-access = pcre:%s,hash:%s\n" % (os.path.join(TABLES, "helo.pcre"), os.path.join(TABLES, "helo")))

# Clients with every iprev outcome (tests/dns/README.md), senders with every SPF result, the null sender.
CLIENTS = ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.16", "127.0.0.17", "127.0.0.18"]
SENDERS = ["alice@example.test", "alice@softfail.example.test", "bob@ptr.example.test", "alice@macro.example.test",
           "carol@nonexistent.example.test", ""]


def corpus():
    out = []
    for i, client in enumerate(CLIENTS):
        for j, sender in enumerate(SENDERS):
            helo = "mail.example.test" if (i + j) % 3 else "unknown.example.test"
            out.append(dict(client_address=client, helo_name=helo, sender=sender))
    return out


_serial = [0]
_serial_lock = threading.Lock()


def fresh_instance():
    with _serial_lock:
        _serial[0] += 1
        return "th.%d.%d" % (os.getpid(), _serial[0])


def stopped_cleanly(test, d):
    rc = d.stop()
    test.assertEqual(rc, 0, d.log()[-3000:])
    test.assertNotIn("internal error", d.log())
    test.assertNotIn("ThreadSanitizer", d.log())


class SameAnswers(unittest.TestCase):
    def test_every_answer_is_the_single_threaded_one_under_concurrency(self):
        with Daemon(config=CONFIG) as one:
            client = one.client()
            expected = [client.ask(request(instance=fresh_instance(), **r)) for r in corpus()]
            stopped_cleanly(self, one)
        kinds = {a.split()[0] for a in expected}
        self.assertTrue({"prepend", "550"} <= kinds and len(kinds) >= 3, expected)  # a real mix
        self.assertTrue(any("X-HELO-Unknown: example.test" in a for a in expected), expected)  # the pcre table

        with Daemon("--threads=3", config=CONFIG, tcp=True) as d:
            self.assertIn("ready, 3 threads", d.log())
            failures, lock = [], threading.Lock()

            def connection(k):
                try:
                    c = d.client(tcp=k % 2 == 1)  # unix and TCP listeners alike
                    for rounds in range(3):
                        for n, r in enumerate(corpus()[k % 5:] + corpus()[:k % 5]):
                            got = c.ask(request(instance=fresh_instance(), **r))
                            want = expected[(n + k % 5) % len(expected)]
                            if got != want:
                                with lock:
                                    failures.append((r, got, want))
                    c.close()
                except Exception as e:  # a dropped connection or a malformed reply
                    with lock:
                        failures.append(("connection %d" % k, repr(e), None))

            workers = [threading.Thread(target=connection, args=(k,)) for k in range(12)]
            for t in workers:
                t.start()
            for t in workers:
                t.join(120)
            self.assertEqual(failures, [])
            stopped_cleanly(self, d)


class SharedAcrossWorkers(unittest.TestCase):
    def test_per_message_cache_answers_a_message_on_another_worker_alike(self):
        # A header is prepended once per message, a reject repeated for every recipient: also when the
        # message's next request comes over another connection, which the least-busy rule puts on the
        # other worker (the first connection stays open).
        with Daemon("--threads=2", config=CONFIG) as d:
            first, second = d.client(), d.client()
            passing = dict(client_address="127.0.0.10", helo_name="mail.example.test", sender="alice@example.test")
            self.assertTrue(first.ask(request(instance="msg.pass", recipient="a@example.net", **passing))
                            .startswith("prepend Received-SPF: Pass"))
            self.assertEqual(second.ask(request(instance="msg.pass", recipient="b@example.net", **passing)), "dunno")
            failing = dict(client_address="127.0.0.11", helo_name="mail.example.test", sender="alice@example.test")
            rejected = first.ask(request(instance="msg.fail", recipient="a@example.net", **failing))
            self.assertTrue(rejected.startswith("450 ") or rejected.startswith("550 "), rejected)
            self.assertEqual(second.ask(request(instance="msg.fail", recipient="b@example.net", **failing)), rejected)
            stopped_cleanly(self, d)

    def test_connection_limit_counts_every_worker(self):
        with Daemon("--threads=2", "--max-connections=3", config=CONFIG) as d:
            held = [d.client() for _ in range(3)]
            for c in held:
                self.assertTrue(c.ask(request(instance=fresh_instance(), client_address="127.0.0.1")).startswith("prepend"))
            extra = d.client()
            self.assertTrue(extra.closed_by_peer())
            held[0].close()
            deadline = time.monotonic() + 5
            while True:  # the closed connection is counted out on its worker's thread
                again = d.client()
                try:
                    reply = again.ask(request(instance=fresh_instance(), client_address="127.0.0.1"))
                except OSError:
                    reply = None
                if reply is not None:
                    break
                self.assertLess(time.monotonic(), deadline, "a freed slot is never reused")
                time.sleep(0.1)
            self.assertTrue(reply.startswith("prepend"))
            stopped_cleanly(self, d)

    def test_metrics_add_up_every_worker(self):
        port = free_port()
        with Daemon("--threads=2", "--metrics=tcp:127.0.0.1:%d" % port, config=CONFIG) as d:
            clients = [d.client() for _ in range(4)]
            asked = 0
            for r in corpus()[:10]:
                for c in clients:
                    c.ask(request(instance=fresh_instance(), **r))
                    asked += 1
            text = scrape_metrics(port)[2]
            self.assertEqual(metric_value(text, "spfgate_requests_total"), asked)
            self.assertEqual(metric_value(text, "spfgate_connections_total"), 4)
            self.assertEqual(metric_value(text, "spfgate_connections_open"), 4)
            self.assertEqual(metric_value(text, "spfgate_request_duration_seconds_count"), asked)
            stopped_cleanly(self, d)


class Signals(unittest.TestCase):
    def test_sighup_reaches_every_worker(self):
        failing = dict(client_address="127.0.0.13", helo_name="host.insecure.test", sender="alice@softfail.example.test")
        with Daemon("--threads=2", config=CONFIG) as d:
            conns = [d.client(), d.client()]  # one on each worker
            for c in conns:
                before = c.ask(request(instance=fresh_instance(), **failing))
                self.assertIn("Received-SPF: Softfail", before)
            d.write_config(CONFIG + "Mail_From_reject = SoftFail\n")
            d.signal(signal.SIGHUP)
            d.wait_for_log("configuration reloaded")
            for c in conns:
                deadline = time.monotonic() + 5
                while True:
                    answer = c.ask(request(instance=fresh_instance(), **failing))
                    if answer.startswith("550 "):
                        break
                    self.assertLess(time.monotonic(), deadline, "a worker kept the old configuration: " + answer)
                    time.sleep(0.05)
            stopped_cleanly(self, d)

    def test_sigterm_waits_for_requests_in_flight_on_every_worker(self):
        # 127.0.2.5's reverse zone never answers: each request takes the whole dns-query-timeout.
        cfg = "skip_addresses = 127.0.0.1/32\niprev-temperror = defer\ndns-query-timeout = 1500ms\n"
        with Daemon("--threads=2", config=cfg) as d:
            busy = [d.client(), d.client()]
            idle = [d.client(), d.client()]
            for c in idle:
                self.assertTrue(c.ask(request(instance=fresh_instance(), client_address="127.0.0.1")).startswith("prepend"))
            for c in busy:
                send_stuck_in_dns(c, instance=fresh_instance())
            check_sigterm_waits_for_requests_in_flight(self, d, busy, idle)

    def test_shutdown_timeout_with_lookups_in_flight_on_every_worker(self):
        # Both workers' requests still wait for DNS when shutdown-timeout passes: the daemon exits 0 with
        # their queries outstanding in the shared resolver (the sanitizer builds check the teardown order:
        # the main io_context's queued answers hold work on the workers' io_contexts).
        check_shutdown_timeout_bounds_the_wait(self, 2, "--threads=2")

if __name__ == "__main__":
    unittest.main()
