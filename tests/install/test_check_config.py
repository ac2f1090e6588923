"""spfgate --check-config: what an admin runs before a restart or a reload must load everything start-up
loads (options, helo_access tables, the Per_User file) and exit 1 on what would stop start-up."""
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("SPFGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/spfgate"))


def check_config(text, extra=()):
    with tempfile.TemporaryDirectory(prefix="spfgate-check-") as d:
        path = os.path.join(d, "spfgate.conf")
        with open(path, "w") as f:
            f.write(text.format(dir=d))
        with open(os.path.join(d, "helo_access"), "w") as f:
            f.write("mailsrv02.foo.local PERMIT\n")
        r = subprocess.run([BIN, "--log=stderr", "--check-config", path] + list(extra), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr


class CheckConfig(unittest.TestCase):
    def test_valid_configuration_with_a_table(self):
        rc, out, err = check_config("helo-access = hash:{dir}/helo_access\n")
        self.assertEqual((rc, out), (0, ""), err)
        self.assertIn("configuration is valid", err)

    def test_bad_option_value(self):
        rc, _, err = check_config("Lookup_Time = soon\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("Lookup_Time: 'soon' is not a whole number of seconds", err)

    def test_missing_helo_access_table_fails_as_start_up_would(self):
        # Regression: --check-config used to report "configuration is valid" here, and the daemon then
        # refused to start ("cannot open access table").
        rc, _, err = check_config("helo-access = hash:{dir}/no-such-table\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("no-such-table: cannot open access table", err)
        self.assertNotIn("configuration is valid", err)

    def test_broken_helo_access_line_is_reported_with_file_and_line(self):
        with tempfile.TemporaryDirectory(prefix="spfgate-check-") as d:
            table = os.path.join(d, "helo_access.pcre")
            with open(table, "w") as f:
                f.write("/^ok\\./ DUNNO\n/unclosed( REJECT\n")
            rc, _, err = check_config("helo-access = pcre:%s\n" % table)
        self.assertEqual(rc, 1, err)
        self.assertIn("helo_access.pcre:2", err)

    def test_missing_per_user_file(self):
        rc, _, err = check_config("Per_User = text,{dir}/no-such-peruser\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("no-such-peruser", err)


if __name__ == "__main__":
    unittest.main()
