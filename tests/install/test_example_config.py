"""contrib/spfgate.conf and contrib/man/spfgate.conf.5 against the options table (spfgate --help), so that
neither can drift from the binary: every option --help lists is in the example file (commented out, with
its default) and in the man page, no option there is unknown, the defaults shown agree with --help's
"(default X)", and every value shown is accepted by spfgate --check-config.

Format of the example file: a setting line is "#Name = value" (commented out: the default) or "#Name ="
(unset by default); explanatory comments start with "#  " (two spaces).
"""
import os
import re
import subprocess
import tempfile
import unittest

BIN = os.environ.get("SPFGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/spfgate"))
SOURCE = os.environ.get("SPFGATE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
EXAMPLE = os.path.join(SOURCE, "contrib", "spfgate.conf")
MAN5 = os.path.join(SOURCE, "contrib", "man", "spfgate.conf.5")
MAN8 = os.path.join(SOURCE, "contrib", "man", "spfgate.8")

SETTING = re.compile(r"^#?([A-Za-z][A-Za-z0-9_-]*) =(?: (.*))?$")
# Options that only make sense on the command line (--help's "Command line" section, and --spawn, which
# only a master.cf argv uses): mentioned in the example's header, not settable there.
SPAWN_ONLY = {"spawn"}


def help_options():
    """{name: (section, description with wrapped lines joined)} from spfgate --help."""
    text = subprocess.run([BIN, "--help"], stdout=subprocess.PIPE, check=True, text=True, timeout=30).stdout
    options, section, current = {}, None, None
    start = re.compile(r"^  (?:-\w \[ )?--([A-Za-z][\w-]*)(?: \])?(?: arg)?(?:\s+(.*))?$")
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            section, current = line[:-1], None
            continue
        m = start.match(line)
        if m and section:
            current = m.group(1)
            options[current] = [section, (m.group(2) or "").strip()]
        elif current and line.startswith("   "):
            options[current][1] = (options[current][1] + " " + line.strip()).strip()
        else:
            current = None
    return {k: tuple(v) for k, v in options.items()}


def help_default(description):
    """The X of "(default X)" in a --help description, or None."""
    m = re.search(r"\(default(.*?)\)(?:$|[^)]*$)", description)
    if not m:
        return None
    value = m.group(1)
    if not value.startswith(" "):  # "(default, ...)", "(default: ...)": prose, no value
        return None
    value = value.strip()
    if value.startswith('"'):
        value = value[1:value.index('"', 1)]
    return value


def example_settings(path=EXAMPLE):
    settings = {}
    with open(path) as f:
        for line in f:
            m = SETTING.match(line.rstrip("\n"))
            if m:
                settings.setdefault(m.group(1), []).append((m.group(2) or "").strip())
    return settings


class ExampleConfiguration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.help = help_options()
        cls.cli_only = {n for n, (section, _) in cls.help.items() if section == "Command line"} | SPAWN_ONLY
        cls.settable = set(cls.help) - cls.cli_only
        cls.example = example_settings()
        with open(EXAMPLE) as f:
            cls.example_text = f.read()

    def test_help_was_parsed(self):
        # Guards the parser itself: a handful of options from each section must be found.
        for name in ("help", "config", "debugLevel", "HELO_reject", "helo-access", "listen", "max-connections",
                     "log", "dns-cache-size"):
            self.assertIn(name, self.help)
        self.assertGreater(len(self.settable), 60)

    def test_every_option_is_in_the_example_and_nothing_else(self):
        self.assertEqual(sorted(self.settable - set(self.example)), [], "options missing from contrib/spfgate.conf")
        self.assertEqual(sorted(set(self.example) - self.settable), [],
                         "contrib/spfgate.conf names options spfgate --help does not list")

    def test_each_option_appears_once_and_commented_out(self):
        for name, values in self.example.items():
            self.assertEqual(len(values), 1, name)
        active = [l for l in self.example_text.splitlines() if SETTING.match(l) and not l.startswith("#")]
        self.assertEqual(active, [], "the installed example must leave every option at its built-in default")

    def test_command_line_only_options_are_mentioned(self):
        for name in self.cli_only:
            self.assertIn("--" + name, self.example_text)

    def test_pypolicyd_spf_options_come_first(self):
        names = [m.group(1) for m in map(SETTING.match, self.example_text.splitlines()) if m]
        # --help's SPF section minus spfgate's additions to it are pypolicyd-spf's options.
        pypolicyd = {n for n in names if self.help[n][0].startswith("SPF policy")} - {
            "Header_Style", "Why_URL", "Receiver_Name"}
        self.assertEqual(set(names[:len(pypolicyd)]), pypolicyd)

    def test_defaults_agree_with_help(self):
        for name in sorted(self.settable):
            shown = self.example[name][0]
            default = help_default(self.help[name][1])
            with self.subTest(option=name, example=shown, help=default):
                if default is None or default.startswith("from ") or default == "none":
                    continue  # no literal default in --help: the example may leave the option unset
                self.assertTrue(shown, "--help gives a default (%s): the example should show it" % default)
                self.assertTrue(default.lower().startswith(shown.lower()),
                                "example shows %r, --help says (default %s)" % (shown, default))

    def test_every_value_shown_is_accepted(self):
        lines = ["%s = %s\n" % (n, v[0]) for n, v in self.example.items() if v[0]]
        self.assertGreater(len(lines), 40)
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.writelines(lines)
            f.flush()
            r = subprocess.run([BIN, "--log=stderr", "--check-config", f.name], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_example_as_shipped_loads(self):
        r = subprocess.run([BIN, "--log=stderr", "--check-config", EXAMPLE], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stderr)


class ManPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.help = help_options()

    @staticmethod
    def entries(path):
        """Names of the option entries: the `.B name` line after each `.TP`."""
        with open(path) as f:
            lines = f.read().splitlines()
        return {re.sub(r"\\-", "-", lines[i + 1][3:]).strip() for i, l in enumerate(lines[:-1])
                if l == ".TP" and lines[i + 1].startswith(".B ")}

    def test_spfgate_conf_5_describes_every_option(self):
        cli_only = {n for n, (s, _) in self.help.items() if s == "Command line"} | SPAWN_ONLY
        documented = self.entries(MAN5)
        self.assertEqual(sorted(set(self.help) - cli_only - documented), [], "missing from spfgate.conf(5)")
        self.assertEqual(sorted(documented - set(self.help)), [], "spfgate.conf(5) documents unknown options")

    def test_spfgate_8_describes_the_command_line_options(self):
        with open(MAN8) as f:
            text = f.read().replace("\\-", "-")
        for name in [n for n, (s, _) in self.help.items() if s == "Command line"] + sorted(SPAWN_ONLY):
            self.assertIn("--" + name, text)


if __name__ == "__main__":
    unittest.main()
