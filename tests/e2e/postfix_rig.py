"""A private Postfix 3.7 instance on loopback for end-to-end tests, and swaks to talk to it.

    pf = PostfixInstance(root, listeners=[Listener("unix", port, restrictions)], main_extra={...},
                         master_extra="...", resolv_conf=path)
    pf.prepare()      # a fresh ROOT with etc/main.cf + etc/master.cf (add files of your own after this)
    pf.start()        # starts the master in a private mount namespace
    r = swaks(port, client="127.0.0.10", helo=..., sender=..., recipients=[...])
    pf.deliveries(marker)   # the messages virtual(8) wrote into ROOT/mail/sink/ that carry `marker`
    pf.stop()         # postfix stop, waits for the master and every process started from ROOT to exit

Everything lives in ROOT: etc/ (config_directory), spool/ (queue_directory), data/, mail/ (virtual(8)
Maildir of @sink.test, uid/gid 65534), maillog (postlogd; no syslog needed). Every transport but virtual
is `error:`, so nothing is ever delivered off the machine; smtpd listens on 127.0.0.1 (and ::1) only; chroot
is off everywhere. The system instance (/etc/postfix, /var/spool/postfix) is never touched: only
meta_directory (postfix-files) is read from /etc/postfix.

Name resolution: smtpd looks up the client's name (client_name, reverse_client_name) through glibc, which
reads /etc/resolv.conf and cannot name a port. The master therefore runs in a private mount namespace
(`unshare --mount --propagation private`) where /etc/resolv.conf is bind-mounted to `resolv_conf` (the test
DNS's validating unbound daemon); every smtpd and every spawned policy server inherits it. The rest of the
machine keeps its resolver.

Failure: start() raises RigError with the maillog's tail; stop() raises RigError if a process outlives it
(after killing it by pid). Only the Python standard library is used.
"""
import email.parser
import email.policy
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time

MARKER_FILE = ".e2e-postfix"
NAMESPACE_FILE = ".e2e-namespace"  # the running instance's mount namespace, for a later run's clean-up
NOBODY = 65534


class RigError(Exception):
    pass


def port_free(port, family=socket.AF_INET, host="127.0.0.1"):
    """True if a server could bind host:port now (SO_REUSEADDR, as Postfix binds: TIME_WAIT is no obstacle)."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        return True
    except OSError:
        return False


def udp_port_free(port, host="127.0.0.1"):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host, port))
        return True
    except OSError:
        return False


def free_ports(count, ipv6=True):
    """`count` TCP ports free on 127.0.0.1 (and on ::1 when ipv6), chosen by the kernel."""
    ports = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in ports or (ipv6 and not port_free(port, socket.AF_INET6, "::1")):
            continue
        ports.append(port)
    return ports


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def mount_namespace(pid):
    """The mount namespace of `pid` ("mnt:[4026532...]"), or None if it is gone."""
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None


def processes_in_namespace(namespace):
    """Pids of live processes in mount namespace `namespace`. The instance runs in a private namespace of
    its own (see Rig.start), so this is exactly what it started: the master, its daemons and whatever they
    spawned (policy servers), never another test's processes however their command lines read."""
    found = []
    if not namespace:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if mount_namespace(int(entry)) == namespace and pid_alive(int(entry)):
            found.append(int(entry))
    return found


class Listener:
    """One smtpd listener: 127.0.0.1:port (and [::1]:port) with its own smtpd_recipient_restrictions."""

    def __init__(self, name, port, restrictions, ipv6=False):
        self.name, self.port, self.restrictions, self.ipv6 = name, port, restrictions, ipv6


class PostfixInstance:
    def __init__(self, root, listeners, resolv_conf, main_extra=None, master_extra=""):
        self.root = os.path.abspath(root)
        self.etc = os.path.join(self.root, "etc")
        self.spool = os.path.join(self.root, "spool")
        self.data = os.path.join(self.root, "data")
        self.mail = os.path.join(self.root, "mail")
        self.maildir = os.path.join(self.mail, "sink")
        self.maillog_path = os.path.join(self.root, "maillog")
        self.listeners = listeners
        self.resolv_conf = resolv_conf
        self.main_extra = main_extra or {}
        self.master_extra = master_extra
        self.master_pid = None
        self.namespace = None  # the instance's own mount namespace: what it started lives there

    # ----- configuration -----

    def main_cf(self):
        params = [
            ("compatibility_level", "3.6"),
            ("config_directory", self.etc),
            ("queue_directory", self.spool),
            ("data_directory", self.data),
            ("maillog_file", self.maillog_path),
            ("maillog_file_prefixes", self.root),
            ("myhostname", "mx.sink.test"),
            ("mydomain", "sink.test"),
            ("myorigin", "$mydomain"),
            ("mydestination", ""),
            ("inet_interfaces", "loopback-only"),
            ("inet_protocols", "all" if any(l.ipv6 for l in self.listeners) else "ipv4"),
            # The test clients (127.0.0.10 and up) must not be "my networks".
            ("mynetworks", "127.0.0.1/32"),
            ("relay_domains", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_recipient_maps", ""),
            ("biff", "no"),
            ("smtputf8_enable", "no"),
            ("append_dot_mydomain", "no"),
            ("smtpd_banner", "$myhostname ESMTP spfgate-e2e"),
            # Mail for @sink.test goes into one Maildir; nothing else is ever delivered.
            ("virtual_mailbox_domains", "sink.test"),
            ("virtual_mailbox_base", self.mail),
            ("virtual_mailbox_maps", "static:sink/"),
            ("virtual_uid_maps", "static:%d" % NOBODY),
            ("virtual_gid_maps", "static:%d" % NOBODY),
            ("default_transport", "error:5.7.1 spfgate e2e: no outbound mail"),
            ("relay_transport", "error:5.7.1 spfgate e2e: no outbound mail"),
            ("local_transport", "error:5.7.1 spfgate e2e: no local mail"),
            ("smtpd_relay_restrictions", "reject_unauth_destination"),
            ("smtpd_recipient_restrictions", "reject_unauth_destination"),
            ("notify_classes", ""),
            ("queue_run_delay", "300s"),
        ]
        for l in self.listeners:
            params.append(("e2e_%s_restrictions" % l.name, l.restrictions))
        # A sanitizer build's report settings reach the policy servers Postfix spawns (the master passes
        # on only import_environment), so their reports land where scripts/test.sh looks.
        sanitizer_env = [v for v in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if v in os.environ]
        if sanitizer_env:
            params.append(("import_environment", subprocess.run(
                ["postconf", "-dh", "import_environment"], stdout=subprocess.PIPE, text=True,
                check=True).stdout.strip() + " " + " ".join(sanitizer_env)))
        params += list(self.main_extra.items())
        return "# Generated by tests/e2e/postfix_rig.py\n" + "".join("%s = %s\n" % kv for kv in params)

    def master_cf(self):
        lines = ["# Generated by tests/e2e/postfix_rig.py: chroot off everywhere, no port 25, no outbound smtp.",
                 "# service type  private unpriv  chroot  wakeup  maxproc command + args"]
        for l in self.listeners:
            hosts = ["127.0.0.1"] + (["[::1]"] if l.ipv6 else [])
            for host in hosts:
                lines.append("%s:%d inet n - n - - smtpd" % (host, l.port))
                lines.append("  -o smtpd_recipient_restrictions=$e2e_%s_restrictions" % l.name)
                lines.append("  -o syslog_name=postfix/e2e-%s" % l.name)
        lines += [
            "cleanup   unix  n       -       n       -       0       cleanup",
            "qmgr      unix  n       -       n       300     1       qmgr",
            "rewrite   unix  -       -       n       -       -       trivial-rewrite",
            "bounce    unix  -       -       n       -       0       bounce",
            "defer     unix  -       -       n       -       0       bounce",
            "trace     unix  -       -       n       -       0       bounce",
            "verify    unix  -       -       n       -       1       verify",
            "flush     unix  n       -       n       1000?   0       flush",
            "proxymap  unix  -       -       n       -       -       proxymap",
            "showq     unix  n       -       n       -       -       showq",
            "error     unix  -       -       n       -       -       error",
            "retry     unix  -       -       n       -       -       error",
            "discard   unix  -       -       n       -       -       discard",
            "virtual   unix  -       n       n       -       -       virtual",
            "anvil     unix  -       -       n       -       1       anvil",
            "scache    unix  -       -       n       -       1       scache",
            "postlog   unix-dgram n  -       n       -       1       postlogd",
        ]
        return "\n".join(lines) + "\n" + self.master_extra

    def prepare(self):
        """Creates ROOT afresh (only a directory that is new, empty or a previous instance's)."""
        if os.path.isdir(self.root) and os.listdir(self.root) and \
                not os.path.exists(os.path.join(self.root, MARKER_FILE)):
            raise RigError("%s exists and is not a previous e2e Postfix directory; not wiping it" % self.root)
        if os.path.exists(os.path.join(self.root, MARKER_FILE)):
            try:
                with open(os.path.join(self.root, NAMESPACE_FILE)) as f:
                    self.namespace = f.read().strip() or None
            except OSError:
                pass
            self.stop_leftovers()
            shutil.rmtree(self.root)
        os.makedirs(self.etc)
        os.chmod(self.root, 0o755)  # virtual(8) runs as 65534 and must reach mail/
        with open(os.path.join(self.root, MARKER_FILE), "w") as f:
            f.write("spfgate e2e Postfix instance\n")
        os.makedirs(self.spool, mode=0o755)  # postfix check (post-install create-missing) fills it
        os.makedirs(self.data, mode=0o700)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        os.makedirs(self.mail, mode=0o755)
        os.chown(self.mail, NOBODY, NOBODY)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(self.master_cf())

    # ----- processes -----

    def postfix(self, *args, check=True):
        return subprocess.run(["postfix", "-c", self.etc] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=check, timeout=60)

    def start(self, timeout=30):
        """Starts the instance prepared by prepare()."""
        # postfix check creates the queue directories (post-install create-missing) and complains early.
        r = self.postfix("check", check=False)
        if r.returncode != 0:
            raise RigError("postfix check failed:\n" + r.stdout + self.maillog_tail())
        script = 'mount --bind "$1" /etc/resolv.conf && exec postfix -c "$2" start'
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
                            self.resolv_conf, self.etc], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RigError("postfix start in a private mount namespace failed (unshare --mount needs root or "
                           "CAP_SYS_ADMIN):\n" + r.stdout + self.maillog_tail())
        pid_file = os.path.join(self.spool, "pid", "master.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(pid_file) as f:
                    self.master_pid = int(f.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        if not self.master_pid:
            raise RigError("no master.pid after postfix start" + self.maillog_tail())
        self.namespace = mount_namespace(self.master_pid)
        if not self.namespace or self.namespace == mount_namespace(os.getpid()):
            raise RigError("the Postfix master is not in a mount namespace of its own (%s)" % self.namespace)
        with open(os.path.join(self.root, NAMESPACE_FILE), "w") as f:
            f.write(self.namespace + "\n")
        for l in self.listeners:
            hosts = [("127.0.0.1", socket.AF_INET)] + ([("::1", socket.AF_INET6)] if l.ipv6 else [])
            for host, family in hosts:
                self.wait_listening(host, family, l.port, deadline)
        self.check_namespace()

    def wait_listening(self, host, family, port, deadline):
        while time.monotonic() < deadline:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                if s.connect_ex((host, port)) == 0:
                    return
            if not pid_alive(self.master_pid):
                raise RigError("the Postfix master exited" + self.maillog_tail())
            time.sleep(0.05)
        raise RigError("smtpd is not listening on %s port %d" % (host, port) + self.maillog_tail())

    def check_namespace(self):
        """The master's /etc/resolv.conf must be the test DNS's (else client names come from the real DNS)."""
        with open("/proc/%d/root/etc/resolv.conf" % self.master_pid) as f:
            seen = f.read()
        with open(self.resolv_conf) as f:
            wanted = f.read()
        if seen != wanted:
            raise RigError("the Postfix master does not see the test resolv.conf:\n" + seen)

    def stop(self, timeout=10):
        """postfix stop; waits for the master, then for every process of the instance (spawned policy servers)."""
        if self.master_pid and pid_alive(self.master_pid):
            self.postfix("stop", check=False)
            deadline = time.monotonic() + timeout
            while pid_alive(self.master_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(self.master_pid):
                os.kill(self.master_pid, signal.SIGKILL)
                raise RigError("the Postfix master (pid %d) did not stop within %d s" % (self.master_pid, timeout))
        return self.stop_leftovers(timeout)

    def stop_leftovers(self, timeout=5):
        """Waits for the instance's processes (its mount namespace) to exit; kills and reports those that do
        not. Never another test's processes: a namespace that is ours (no instance started) matches nothing."""
        if not self.namespace or self.namespace == mount_namespace(os.getpid()):
            return
        deadline = time.monotonic() + timeout
        left = []
        while time.monotonic() < deadline:
            left = processes_in_namespace(self.namespace)
            if not left:
                return
            time.sleep(0.05)
        described = []
        for pid in left:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    described.append("%d: %s" % (pid, f.read().replace(b"\0", b" ").decode("utf-8", "replace")))
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        raise RigError("processes outlived the Postfix instance (killed):\n" + "\n".join(described))

    # ----- what happened -----

    def maillog(self):
        try:
            with open(self.maillog_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def maillog_tail(self, lines=40):
        tail = self.maillog().splitlines()[-lines:]
        return ("\n--- %s (tail) ---\n" % self.maillog_path + "\n".join(tail)) if tail else ""

    def deliveries(self, marker, expect, timeout=15):
        """Waits until `expect` messages containing `marker` are in the sink Maildir; returns them parsed
        (email.message.EmailMessage, in the order virtual(8) wrote them). Fails on more than `expect`."""
        deadline = time.monotonic() + timeout
        found = []
        while True:
            found = []
            new = os.path.join(self.maildir, "new")
            names = sorted(os.listdir(new)) if os.path.isdir(new) else []
            for name in names:
                with open(os.path.join(new, name), "rb") as f:
                    raw = f.read()
                if marker.encode() in raw:
                    found.append(email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw))
            if len(found) >= expect or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if len(found) != expect:
            raise AssertionError("expected %d deliveries with %r, found %d%s" %
                                 (expect, marker, len(found), self.maillog_tail()))
        return found

    def wait_for_maillog(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.maillog(), re.M)
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("maillog never matched %r%s" % (pattern, self.maillog_tail()))


class SmtpSession:
    """What swaks saw: `replies[command]` lists the reply lines to each command; `rcpt` maps each recipient
    to its reply line; `transcript` is swaks's whole output."""

    def __init__(self, transcript, returncode):
        self.transcript = transcript
        self.returncode = returncode
        self.exchanges = []  # (command sent, [reply lines])
        for line in transcript.splitlines():
            if line.startswith(" -> ") or line.startswith("~> "):
                self.exchanges.append([line[4:].strip(), []])
            elif (line.startswith("<-  ") or line.startswith("<** ")) and self.exchanges:
                self.exchanges[-1][1].append(line[4:].strip())
        self.rcpt = {}
        for command, replies in self.exchanges:
            m = re.match(r"RCPT TO:<(.*)>", command, re.I)
            if m and replies:
                self.rcpt[m.group(1)] = replies[-1]

    def reply_to(self, verb):
        for command, replies in self.exchanges:
            if command.upper().startswith(verb.upper()) and replies:
                return replies[-1]
        return None


def swaks(port, client, helo, sender, recipients, marker, server="127.0.0.1", timeout=60):
    """One SMTP session with swaks from `client` (a local address: 127.0.0.10+, ::1). `sender` "" is the
    null sender. The message carries `marker` in its Subject (find it with deliveries())."""
    cmd = ["swaks", "--server", server, "--port", str(port), "--local-interface", client,
           "--helo", helo, "--from", sender if sender else "<>", "--to", ",".join(recipients),
           "--header", "Subject: spfgate e2e %s" % marker, "--header", "X-E2E-Marker: %s" % marker,
           "--body", "spfgate end-to-end test message %s\n" % marker, "--timeout", "60s"]
    if ":" in server:
        cmd.append("-6")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    session = SmtpSession(r.stdout, r.returncode)
    if not session.exchanges:
        raise AssertionError("swaks could not talk to %s port %d from %s:\n%s" % (server, port, client, r.stdout))
    return session
