"""iprev, HELO checks, helo_access and SPF against the real test nsd (DNSSEC-signed, bogus, slow, dropping
and SERVFAIL zones), through the real daemon over a unix socket.

Clients are 127.0.0.x addresses (tests/dns/README.md, "FCrDNS"), so skip_addresses is narrowed to
127.0.0.1/32 in every configuration here.
"""
import os
import unittest

from spfgate_harness import Daemon, request

DATA = os.path.join(os.path.dirname(__file__), "..", "data")

BASE = "skip_addresses = 127.0.0.1/32\n"
IPREV = BASE + ("iprev-fail = reject\niprev-permerror = reject\niprev-temperror = defer\n"
                "HELO_reject = False\nMail_From_reject = False\n"
                "dns-query-timeout = 1500ms\n")


def ask(d, client, helo="mail.example.test", sender="", **kw):
    return d.client().ask(request(client_address=client, helo_name=helo, sender=sender, **kw))


class Iprev(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(config=IPREV)

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, "exit status %s; log:\n%s" % (rc, cls.d.log()[-3000:])

    def reject(self, client):
        # iprev-fail is set: Postfix's reject_unknown_client_hostname reply for every failure.
        return "450 4.7.25 Client host rejected: cannot find your hostname, [%s]" % client

    def test_matching_ptr_passes(self):
        self.assertTrue(ask(self.d, "127.0.0.10").startswith("prepend Received-SPF: "))

    def test_mismatching_ptr_fails(self):
        self.assertEqual(ask(self.d, "127.0.0.11"), self.reject("127.0.0.11"))

    def test_no_ptr_is_permerror(self):
        self.assertEqual(ask(self.d, "127.0.0.12"), self.reject("127.0.0.12"))

    def test_ptr_pointing_at_nxdomain_fails(self):
        self.assertEqual(ask(self.d, "127.0.0.18"), self.reject("127.0.0.18"))

    def test_every_ptr_name_is_tried(self):
        self.assertTrue(ask(self.d, "127.0.0.16").startswith("prepend "))  # the second name confirms
        self.assertTrue(ask(self.d, "127.0.0.17").startswith("prepend "))  # only the third confirms

    def test_unsigned_zone_still_passes(self):
        self.assertTrue(ask(self.d, "127.0.0.13").startswith("prepend "))

    def test_servfail_timeout_and_bogus_are_temperror(self):
        for client in ("127.0.0.19", "127.0.0.20", "127.0.2.5", "127.0.3.5", "127.0.0.14", "127.0.0.15"):
            with self.subTest(client=client):
                self.assertEqual(ask(self.d, client), self.reject(client))  # temperror: always 450

    def test_ipv6_client(self):
        self.assertTrue(ask(self.d, "::1").startswith("prepend "))

    def test_log_names_the_result(self):
        ask(self.d, "127.0.0.11", queue_id="IPREV11")
        self.d.wait_for_log(r"IPREV11: 450 4\.7\.25 Client host rejected: cannot find your hostname, \[127\.0\.0\.11\]")


class IprevReverseOnly(unittest.TestCase):
    """iprev-permerror and iprev-temperror without iprev-fail: reject_unknown_reverse_client_hostname."""

    def test_reverse_only_text_and_forward_failures_ignored(self):
        config = BASE + ("iprev-permerror = reject\niprev-temperror = defer\nHELO_reject = False\n"
                         "Mail_From_reject = False\ndns-query-timeout = 1500ms\n")
        with Daemon(config=config) as d:
            for client in ("127.0.0.12", "127.0.3.5"):  # no PTR; the PTR lookup SERVFAILs
                with self.subTest(client=client):
                    self.assertEqual(ask(d, client),
                                     "450 4.7.1 Client host rejected: cannot find your reverse hostname, [%s]" % client)
            # A PTR name exists: a forward lookup that fails, or a name that does not resolve back, is not
            # this restriction's business.
            for client in ("127.0.0.19", "127.0.0.11"):
                with self.subTest(client=client):
                    self.assertTrue(ask(d, client).startswith("prepend Received-SPF: "))
            self.assertEqual(d.stop(), 0)


class IprevInAuthenticationResults(unittest.TestCase):
    def test_ar_carries_iprev_next_to_spf(self):
        with Daemon(config=BASE + "Header_Type = AR\nAuthserv_Id = mx.test\niprev-header = yes\n") as d:
            self.assertEqual(
                ask(d, "127.0.0.10", sender="alice@example.test"),
                "prepend Authentication-Results: mx.test; spf=pass (sender SPF authorized) smtp.mailfrom=example.test "
                "(client-ip=127.0.0.10; helo=mail.example.test; envelope-from=alice@example.test; receiver=example.net); "
                "iprev=pass (mail.example.test) policy.iprev=127.0.0.10")
            self.assertIn("; iprev=fail policy.iprev=127.0.0.11", ask(d, "127.0.0.11", helo="nohelo.example.test", sender="alice@softfail.example.test"))
            d.stop()


class Spf(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(config=BASE + "dns-query-timeout = 1500ms\nTempError_Defer = True\nPermError_reject = True\n")

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, "exit status %s; log:\n%s" % (rc, cls.d.log()[-3000:])

    def mfrom(self, domain, client="127.0.0.10", helo="nohelo.example.test"):
        return ask(self.d, client, helo=helo, sender="alice@" + domain)

    def test_pass_fail_softfail_neutral_none(self):
        self.assertEqual(self.mfrom("example.test"),
                         "prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.10; "
                         "helo=nohelo.example.test; envelope-from=alice@example.test; receiver=example.net ")
        self.assertEqual(self.mfrom("example.test", client="127.0.0.11"),
                         "550 5.7.23 Message rejected due to: SPF fail - not authorized.")
        self.assertTrue(self.mfrom("softfail.example.test", client="127.0.0.11").startswith(
            "prepend Received-SPF: Softfail (mailfrom)"))
        self.assertTrue(self.mfrom("neutral.example.test", client="127.0.0.11").startswith(
            "prepend Received-SPF: Neutral (mailfrom)"))
        self.assertTrue(self.mfrom("nospf.example.test").startswith("prepend Received-SPF: None (mailfrom)"))

    def test_errors(self):
        self.assertEqual(self.mfrom("syntax.example.test"),
                         "550 5.7.24 Message rejected due to: SPF Permanent Error: Unknown mechanism found: "
                         "frobnicate:example.test.")
        self.assertIn("Too many DNS lookups", self.mfrom("lookups.example.test"))
        self.assertIn("Void lookup limit of 2 exceeded", self.mfrom("voids.example.test"))
        for domain in ("include-bogus.example.test", "include-timeout.example.test", "include-servfail.example.test"):
            with self.subTest(domain=domain):
                self.assertTrue(self.mfrom(domain).startswith("defer_if_permit 4.7.24 Message deferred due to: "
                                                              "SPF Temporary Error: "), domain)

    def test_helo_checked_first(self):
        self.assertEqual(ask(self.d, "127.0.0.11", helo="badhelo.example.test", sender="alice@example.test"),
                         "550 5.7.23 Message rejected due to: SPF fail - not authorized.")
        self.assertTrue(ask(self.d, "127.0.0.10", helo="mail.example.test", sender="").startswith(
            "prepend Received-SPF: Pass (sender SPF authorized) identity=helo;"))

    def test_mechanisms_over_real_dns(self):
        for domain in ("include.example.test", "redirect.example.test", "mx.example.test", "a.example.test",
                       "exists.example.test", "split.example.test", "big.example.test"):
            with self.subTest(domain=domain):
                expect = "Pass" if domain != "big.example.test" else "Fail"
                reply = self.mfrom(domain)
                self.assertTrue(reply.startswith("prepend Received-SPF: Pass") if expect == "Pass"
                                else reply.startswith("550 5.7.23"), reply)
        self.assertTrue(ask(self.d, "127.0.0.10", helo="x.example.test", sender="alice@macro.example.test")
                        .startswith("prepend Received-SPF: Pass"))
        self.assertTrue(ask(self.d, "127.0.0.10", helo="x.example.test", sender="bob@macro.example.test")
                        .startswith("550 5.7.23"))
        self.assertTrue(ask(self.d, "127.0.0.17", helo="x.example.test", sender="bob@ptr.example.test")
                        .startswith("prepend Received-SPF: Pass"))

    def test_explanation_from_dns(self):
        self.assertEqual(self.mfrom("exp.example.test", client="127.0.0.11"),
                         "550 5.7.23 Message rejected due to: 127.0.0.11 is not allowed to send mail for "
                         "exp.example.test.")


class HeloChecks(unittest.TestCase):
    def test_postfix_replies(self):
        cfg = BASE + "helo-syntax = reject\nhelo-fqdn = reject\nhelo-dns = reject\nhelo-literal = reject\n"
        with Daemon(config=cfg) as d:
            self.assertEqual(ask(d, "127.0.0.10", helo="nohelo.example.test"),
                             "450 4.7.1 <nohelo.example.test>: Helo command rejected: Host not found")
            self.assertTrue(ask(d, "127.0.0.10", helo="mx-only.example.test").startswith("prepend "))
            self.assertEqual(ask(d, "127.0.0.10", helo="x.servfail.test"),
                             "DEFER_IF_PERMIT 4.7.1 <x.servfail.test>: Helo command rejected: Host not found")
            self.assertEqual(ask(d, "127.0.0.10", helo="bad!name"),
                             "501 5.5.2 <bad!name>: Helo command rejected: Invalid name")
            self.assertEqual(ask(d, "127.0.0.10", helo="mail"),
                             "504 5.5.2 <mail>: Helo command rejected: need fully-qualified hostname")
            self.assertTrue(ask(d, "127.0.0.10", helo="[127.0.0.10]").startswith("prepend "))
            self.assertTrue(ask(d, "127.0.0.10", helo="[127.0.0.99]").startswith("550 5.7.1 <[127.0.0.99]>"))
            d.stop()

    def test_helo_access_seed_case(self):
        table = os.path.abspath(os.path.join(DATA, "access", "helo_access"))
        with Daemon(config=BASE + "helo-access = hash:%s\n" % table) as d:
            # A misconfigured internal Exchange server: its HELO would SPF-fail (badhelo publishes -all).
            self.assertEqual(ask(d, "127.0.0.11", helo="mailsrv02.foo.local", sender="alice@example.test"), "PERMIT")
            self.assertTrue(ask(d, "127.0.0.11", helo="mailsrv03.foo.local", sender="alice@example.test")
                            .startswith("550 5.7.23"))
            d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
