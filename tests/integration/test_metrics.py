"""The Prometheus endpoint and the periodic summary line, scraped after a known mix of requests."""
import os
import signal
import socket
import unittest
import urllib.error

from spfgate_harness import Daemon, free_port, request
from spfgate_harness import metric_value as value
from spfgate_harness import scrape_metrics as scrape


def privileged_free_port():
    """A free port below 1024 on 127.0.0.1 (needs root)."""
    for port in range(1000, 600, -1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise unittest.SkipTest("no free port below 1024")


class Metrics(unittest.TestCase):
    @unittest.skipUnless(os.geteuid() == 0, "a port below 1024 and --user need root (CI runs as root)")
    def test_metrics_port_below_1024_is_bound_before_privileges_are_dropped(self):
        port = privileged_free_port()
        with Daemon("--user=nobody", "--metrics", "tcp:127.0.0.1:%d" % port, unix=False, tcp=True) as d:
            status, _, text = scrape(port)
            self.assertEqual(status, 200)
            self.assertEqual(value(text, "spfgate_requests_total"), 0)
            self.assertEqual(d.stop(), 0)
            self.assertIn("running as uid 65534", d.log())

    def test_series_after_a_known_mix_of_requests(self):
        port = free_port()
        with Daemon("--metrics", "tcp:127.0.0.1:%d" % port, "--stats-interval=300ms",
                    config="skip_addresses = 127.0.0.1/32\niprev-header = yes\n") as d:
            c = d.client()
            pass_ = c.ask(request(client_address="127.0.0.10", helo_name="nohelo.example.test", sender="a@example.test"))
            fail = c.ask(request(client_address="127.0.0.11", helo_name="nohelo.example.test", sender="a@example.test"))
            skip = c.ask(request(client_address="127.0.0.1", helo_name="x.example.test", sender="a@example.test"))
            malformed = c.ask("this is not an attribute\n\n")
            other_type = c.ask("request=junk_policy\nclient_address=127.0.0.10\n\n")
            self.assertTrue(pass_.startswith("prepend Received-SPF: Pass"))
            self.assertTrue(fail.startswith("550 5.7.23"))
            self.assertTrue(skip.startswith("prepend X-Comment"))
            self.assertEqual(malformed, "DUNNO")
            self.assertEqual(other_type, "DUNNO")
            d.write_config("skip_addresses = 127.0.0.1/32\n")
            d.signal(signal.SIGHUP)
            d.wait_for_log("configuration reloaded")

            status, ctype, text = scrape(port)
            self.assertEqual(status, 200)
            self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
            self.assertEqual(value(text, "spfgate_requests_total"), 5)
            self.assertEqual(value(text, 'spfgate_answers_total{action="prepend"}'), 2)
            self.assertEqual(value(text, 'spfgate_answers_total{action="reject"}'), 1)
            self.assertEqual(value(text, 'spfgate_answers_total{action="malformed"}'), 2)
            self.assertEqual(value(text, 'spfgate_limit_hits_total{limit="request-type"}'), 1)
            # Every request received is answered once and counted once.
            answered = sum(float(l.split(" ")[1]) for l in text.splitlines() if l.startswith("spfgate_answers_total{"))
            self.assertEqual(answered, value(text, "spfgate_requests_total"))
            self.assertEqual(value(text, 'spfgate_check_results_total{check="spf",identity="mailfrom",result="pass"}'), 1)
            self.assertEqual(value(text, 'spfgate_check_results_total{check="spf",identity="mailfrom",result="fail"}'), 1)
            self.assertEqual(value(text, 'spfgate_check_results_total{check="iprev",identity="",result="pass"}'), 1)
            self.assertEqual(value(text, 'spfgate_check_results_total{check="skip_addresses",identity="",result="bypass"}'), 1)
            self.assertEqual(value(text, 'spfgate_limit_hits_total{limit="syntax"}'), 1)
            self.assertEqual(value(text, 'spfgate_reloads_total{result="ok"}'), 1)
            self.assertEqual(value(text, "spfgate_connections_open"), 1)
            self.assertEqual(value(text, "spfgate_connections_total"), 1)
            self.assertGreaterEqual(value(text, 'spfgate_dns_queries_total{status="ok",dnssec="secure"}'), 4)
            self.assertEqual(value(text, "spfgate_request_duration_seconds_count"), 3)
            self.assertEqual(value(text, 'spfgate_request_duration_seconds_bucket{le="+Inf"}'), 3)
            # Every DNS answer a check got is timed: the histogram counts what dns_queries_total counts.
            dns_answers = sum(float(l.split(" ")[1]) for l in text.splitlines()
                              if l.startswith("spfgate_dns_queries_total{"))
            self.assertGreaterEqual(dns_answers, 4)
            self.assertEqual(value(text, "spfgate_dns_query_duration_seconds_count"), dns_answers)
            self.assertEqual(value(text, 'spfgate_dns_query_duration_seconds_bucket{le="+Inf"}'), dns_answers)
            self.assertLessEqual(value(text, 'spfgate_dns_query_duration_seconds_bucket{le="0.0001"}'), dns_answers)
            self.assertEqual(value(text, 'spfgate_build_info{version="0.1.0"}'), 1)
            # Every sample line is well formed: name{labels} number.
            for line in text.splitlines():
                if not line.startswith("#"):
                    self.assertRegex(line, r'^[a-z_]+(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? [-+0-9.eInf]+$')

            with self.assertRaises(urllib.error.HTTPError) as e:
                scrape(port, "/nope")
            self.assertEqual(e.exception.code, 404)
            d.wait_for_log(r"stats: requests=5 dunno=\d+|stats: requests=5 prepend=2")
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
