"""testdns.py serves only names reserved for testing: a zone table naming a real domain is refused."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testdns  # noqa: E402


class ZoneNames(unittest.TestCase):
    def test_every_shipped_zone_is_reserved(self):
        zones = testdns.read_zone_table(0)
        self.assertGreater(len(zones), 10)
        for z in zones:
            self.assertTrue(testdns.reserved_zone(z.name), z.name)

    def test_real_and_lookalike_names_are_refused(self):
        for name in ("example.com.", "com.", "mytest.", "test.example.org.", "1.0.0.10.in-addr.arpa.",
                     "127.in-addr.arpa.example.net."):
            self.assertFalse(testdns.reserved_zone(name), name)

    def test_the_table_check_refuses_them(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "ZONES"), "w") as f:
                f.write("example.com. unsigned nsd - -\n")
            saved = testdns.ZONES_DIR
            testdns.ZONES_DIR = d
            try:
                with self.assertRaises(testdns.RigError) as e:
                    testdns.read_zone_table(0)
                self.assertIn("not under a name reserved for testing", str(e.exception))
            finally:
                testdns.ZONES_DIR = saved


if __name__ == "__main__":
    unittest.main(verbosity=2)
