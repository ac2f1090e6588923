"""`cmake --install` into a staging directory (DESTDIR): the documented layout (README "Installing"), man pages that
render without warnings, systemd units that systemd-analyze accepts, Postfix snippets that postconf
parses, and the installed binary with the installed configuration answering on a socket passed the way
spfgate.socket passes it, as an unprivileged user without capabilities.

Environment (ctest): SPFGATE_BUILD_DIR (the build tree), CMAKE_COMMAND, SPFGATE_BIN.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("SPFGATE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from spfgate_harness import read_reply, request  # noqa: E402

# Under the configured prefix; the configuration goes to CMAKE_INSTALL_FULL_SYSCONFDIR (/etc for the prefix
# /usr), which the service unit names: CONFIG below.
LAYOUT = {
    "sbin/spfgate": 0o755,
    "lib/systemd/system/spfgate.service": 0o644,
    "lib/systemd/system/spfgate.socket": 0o644,
    "share/doc/spfgate/README.md": 0o644,
    "share/doc/spfgate/postfix/main.cf": 0o644,
    "share/doc/spfgate/postfix/master.cf": 0o644,
    "share/doc/spfgate/examples/spfgate.conf": 0o644,
    "share/man/man8/spfgate.8": 0o644,
    "share/man/man5/spfgate.conf.5": 0o644,
}


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    raise KeyError(name)


def unit_settings(path):
    """[(section, key, value)] of a systemd unit file, in order (keys may repeat)."""
    out, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.append((section, key.strip(), value.strip()))
    return out


def install(destdir):
    return subprocess.run([CMAKE, "--install", BUILD], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120, env=dict(os.environ, DESTDIR=destdir))


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="spfgate-install-")
        os.chmod(cls.tmp, 0o755)  # the unprivileged run below reads the installed configuration
        cls.destdir = os.path.join(cls.tmp, "stage")
        r = install(cls.destdir)
        if r.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + r.stdout)
        cls.install_log = r.stdout
        cls.configured_prefix = cache_value("CMAKE_INSTALL_PREFIX")
        cls.prefix = cls.destdir + cls.configured_prefix
        unit = os.path.join(cls.prefix, "lib/systemd/system/spfgate.service")
        service = dict((k, v) for _, k, v in unit_settings(unit))
        cls.exec_start = service["ExecStart"].split()
        cls.config = cls.exec_start[2]  # the full path the unit reads the configuration from

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, rel):
        """A staged file: `rel` under the configured prefix, or an absolute installed path."""
        return self.destdir + rel if rel.startswith("/") else os.path.join(self.prefix, rel)

    # --- layout -------------------------------------------------------------------------------------------

    def test_documented_layout(self):
        expected = dict(LAYOUT)
        expected[self.config] = 0o644
        found = sorted(os.path.join(d, f)[len(self.destdir):] for d, _, files in os.walk(self.destdir) for f in files)
        self.assertEqual(found, sorted(p if p.startswith("/") else os.path.join(self.configured_prefix, p)
                                       for p in expected), self.install_log)
        for rel, mode in expected.items():
            self.assertEqual(os.stat(self.path(rel)).st_mode & 0o777, mode, rel)
        # The configuration where GNUInstallDirs puts it: /etc for /usr, <prefix>/etc for /usr/local.
        if self.configured_prefix == "/usr":
            self.assertEqual(self.config, "/etc/spfgate/spfgate.conf")
        elif self.configured_prefix.startswith("/usr/local"):
            self.assertEqual(self.config, self.configured_prefix + "/etc/spfgate/spfgate.conf")

    def test_installed_binary_runs(self):
        r = subprocess.run([self.path("sbin/spfgate"), "--version"], stdout=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^spfgate \d+\.\d+\.\d+\n$")

    def test_installed_config_is_the_example_and_loads(self):
        with open(self.path(self.config)) as a, \
                open(self.path("share/doc/spfgate/examples/spfgate.conf")) as b:
            self.assertEqual(a.read(), b.read())
        r = subprocess.run([self.path("sbin/spfgate"), "--log=stderr", "--check-config",
                            self.path(self.config)], stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_reinstall_keeps_an_edited_config(self):
        destdir = os.path.join(self.tmp, "again")
        self.assertEqual(install(destdir).returncode, 0)
        conf = destdir + self.config
        with open(conf, "a") as f:
            f.write("TempError_Defer = True\n")
        r = install(destdir)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("Keeping: " + conf, r.stdout)
        with open(conf) as f:
            self.assertTrue(f.read().endswith("TempError_Defer = True\n"))

    # --- man pages ----------------------------------------------------------------------------------------

    def test_man_pages_render_without_warnings(self):
        for rel, title in (("share/man/man8/spfgate.8", "SPFGATE(8)"), ("share/man/man5/spfgate.conf.5",
                                                                          "SPFGATE.CONF(5)")):
            with self.subTest(page=rel):
                page = self.path(rel)
                r = subprocess.run(["man", "-l", "--warnings", "-E", "UTF-8", page], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, timeout=60, env=dict(os.environ, MANWIDTH="100"))
                self.assertEqual((r.returncode, r.stderr), (0, ""))
                text = re.sub(".\x08", "", r.stdout)  # no bold/underline overstrikes
                self.assertTrue(text.lstrip().startswith(title), text[:200])
                for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
                    self.assertIn("\n" + section + "\n", text)
                g = subprocess.run(["groff", "-man", "-ww", "-z", page], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
                self.assertEqual((g.returncode, g.stdout, g.stderr), (0, "", ""))
                with open(page) as f:
                    text = f.read()
                self.assertNotRegex(text, r"@[A-Z_]+@")  # configure_file substituted everything
                self.assertIn(cache_value("CMAKE_PROJECT_VERSION"), text.split("\n", 1)[0])
                self.assertIn(self.config, text)  # the installed configuration's path

    # --- systemd units ------------------------------------------------------------------------------------

    def test_socket_unit(self):
        s = unit_settings(self.path("lib/systemd/system/spfgate.socket"))
        socket_keys = {k: v for sec, k, v in s if sec == "Socket"}
        self.assertEqual([v for sec, k, v in s if k == "ListenStream"], ["/var/spool/postfix/private/spfgate"])
        self.assertEqual((socket_keys["SocketUser"], socket_keys["SocketGroup"], socket_keys["SocketMode"]),
                         ("postfix", "postfix", "0660"))
        self.assertEqual(socket_keys.get("Accept", "no"), "no")
        self.assertIn(("Install", "WantedBy", "sockets.target"), s)

    def test_service_unit(self):
        s = unit_settings(self.path("lib/systemd/system/spfgate.service"))
        service = {k: v for sec, k, v in s if sec == "Service"}
        # The binary and the configuration by the full paths this build installs them to.
        argv = service["ExecStart"].split()
        self.assertEqual(argv[0], os.path.join(self.configured_prefix, "sbin/spfgate"))
        self.assertEqual(argv[1], "--log=journald")
        self.assertTrue(argv[2].startswith("/") and argv[2].endswith("/spfgate/spfgate.conf"), argv)
        self.assertTrue(os.path.isfile(self.path(argv[2])), argv)
        self.assertEqual(len(argv), 3)
        self.assertIn(("Unit", "Requires", "spfgate.socket"), s)
        expected = {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                    "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
                    "MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service",
                    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}
        for key, value in expected.items():
            self.assertEqual(service.get(key), value, key)
        self.assertNotIn("PrivateNetwork", service)  # libunbound needs DNS egress
        self.assertIn("HUP", service["ExecReload"])

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        # The units name the installed paths; point them at the staged files for the check.
        units = os.path.join(self.tmp, "units")
        os.makedirs(units, exist_ok=True)
        for name in ("spfgate.service", "spfgate.socket"):
            with open(self.path("lib/systemd/system/" + name)) as f:
                text = f.read()
            text = text.replace(self.exec_start[0], self.path(self.exec_start[0]))
            text = text.replace(self.exec_start[2], self.path(self.exec_start[2]))
            with open(os.path.join(units, name), "w") as f:
                f.write(text)
        r = subprocess.run([analyze, "verify", "--man=no", os.path.join(units, "spfgate.socket"),
                            os.path.join(units, "spfgate.service")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, cwd=units)
        # Unknown keys are only warnings for systemd-analyze (exit 0): any output is a failure here.
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    # --- Postfix snippets ---------------------------------------------------------------------------------

    def test_postfix_snippets_parse(self):
        conf = os.path.join(self.tmp, "postfix")
        os.makedirs(conf, exist_ok=True)
        for name in ("main.cf", "master.cf"):
            shutil.copy(self.path("share/doc/spfgate/postfix/" + name), os.path.join(conf, name))

        def postconf(*args):
            r = subprocess.run(["postconf", "-c", conf] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=30)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            return r.stdout.strip()

        restrictions = [r.strip() for r in postconf("-h", "smtpd_recipient_restrictions").split(",")]
        self.assertEqual(restrictions[-1], "check_policy_service unix:private/spfgate")
        self.assertLess(restrictions.index("reject_unauth_destination"), len(restrictions) - 1)
        spawn = postconf("-M", "spfgate/unix").split()
        self.assertEqual(spawn[:8], ["spfgate", "unix", "-", "n", "n", "-", "0", "spawn"])
        self.assertRegex(" ".join(spawn[8:]), r"^user=\S+ argv=/\S+/spfgate --spawn /\S+/spfgate\.conf$")
        with open(os.path.join(conf, "main.cf")) as f:
            text = f.read()
        for commented in ("#spfgate_time_limit = 3600", "#smtpd_policy_service_timeout = 100s",
                          "#check_policy_service inet:127.0.0.1:10045", "timeout=60s, default_action=DUNNO }"):
            self.assertIn(commented, text)

    # --- the installed files, run as spfgate.socket + spfgate.service would -----------------------------

    def test_socket_activation_as_installed(self):
        """The installed binary and configuration (all defaults), started as spfgate.socket starts it: the
        listening socket passed as fd 3 (LISTEN_FDS), an unprivileged user, no capabilities, no new
        privileges. In a private network namespace (loopback only): the default configuration recurses
        from the root, and nothing may leave the machine. A client in 127.0.0.0/8 is answered without DNS."""
        if os.geteuid() != 0:
            self.skipTest("needs root (unshare --net, setpriv)")
        for tool in ("unshare", "setpriv", "systemd-socket-activate", "ip"):
            if not shutil.which(tool):
                self.skipTest(tool + " is not installed")
        sock = os.path.join(self.tmp, "policy.sock")
        log = open(os.path.join(self.tmp, "activated.log"), "w+")
        script = ('ip link set lo up && exec systemd-socket-activate -l "$1" -- setpriv --reuid=nobody '
                  '--regid=nogroup --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all '
                  '"$2" --log=stderr "$3"')
        proc = subprocess.Popen(["unshare", "--net", "--", "sh", "-c", script, "sh", sock, self.path("sbin/spfgate"),
                                 self.path(self.config)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 15
            while not os.path.exists(sock) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(15)
            c.connect(sock)
            c.sendall(request(client_address="127.0.0.1", helo_name="mail.example.test",
                              sender="alice@example.test", recipient="bob@example.net").encode())
            answer = read_reply(c.makefile("rb"))
            c.close()
            self.assertTrue(answer.startswith("prepend X-Comment: SPF check N/A for local connections"), answer)
        finally:
            proc.terminate()
            rc = proc.wait(timeout=30)
            log.seek(0)
            text = log.read()
            log.close()
        self.assertEqual(rc, 0, text)
        self.assertIn("listening on a socket from systemd (fd 3, unix)", text)
        self.assertIn("resolver: full recursion, DNSSEC validation on", text)
        self.assertNotIn("warning", text)


if __name__ == "__main__":
    unittest.main()
