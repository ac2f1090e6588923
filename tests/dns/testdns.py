#!/usr/bin/python3
"""testdns.py: the spfgate test DNS, made of real servers on loopback (python3 stdlib only).

    testdns.py start  --dir DIR [--delay-ms 50] [--zone-mode ZONE=MODE]... [--with-unbound|--try-unbound]
    testdns.py stop   --dir DIR
    testdns.py status --dir DIR
    testdns.py proxy-mode --dir DIR ZONE MODE      (change a zone's proxy mode while the rig runs)

start generates the zones listed in zones/ZONES from their templates, signs them (ldns-keygen and
ldns-signzone: ECDSAP256SHA256, KSK + ZSK, fresh keys per run), starts nsd on 127.0.0.1 (and ::1 when the
machine has it) at a free high port, starts dnsproxy.py in front of the zones served through it, writes
the trust anchors and DIR/unbound-stub.conf (for ub_ctx_config, or an unbound daemon's include:), and
with --with-unbound (or --try-unbound: only if possible) a validating unbound daemon on 127.0.0.153:53
(falling back to .154 to .157) plus DIR/resolv.conf naming it. Everything it started is recorded in
DIR/pids and DIR/env (shell-sourceable); stop ends exactly those processes (SIGTERM to their process
group, SIGKILL after 5 s). start first stops a rig still running in DIR and wipes DIR, which must be new,
empty, or a previous rig's directory. No traffic ever leaves loopback; see README.md for the zones.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES_DIR = os.path.join(HERE, "zones")
PROXY_SCRIPT = os.path.join(HERE, "dnsproxy.py")
PYTHON = "/usr/bin/python3"

MARKER = ".testdns"                 # marks DIR as ours: start may wipe it
NS_NAME = "ns.e2e.invalid."         # unresolvable NS target: nothing can follow a referral off loopback
SOA_RNAME = "hostmaster.e2e.invalid."
ZONE_TTL = 300
NEGATIVE_TTL = 60                   # SOA minimum: how long NXDOMAIN/NODATA answers are cached
ALGORITHM = "ECDSAP256SHA256"
SIGNATURE_SKEW = 3600               # inception an hour in the past, so clock skew never matters
SIGNATURE_LIFETIME = 30 * 86400
EXPIRED_WINDOW = (40 * 86400, 10 * 86400)  # "expired" zones: signed 40 days ago, expired 10 days ago

PORT_BASE, PORT_SPAN = 15000, 4000  # nsd and proxy ports: first free port from a per-DIR start point
PORT_TRIES = 200
RESOLVER_ADDRESSES = ["127.0.0.153", "127.0.0.154", "127.0.0.155", "127.0.0.156", "127.0.0.157"]
READY_TIMEOUT = 10.0                # seconds to wait for a server to answer after starting it
STOP_GRACE = 5.0                    # seconds between SIGTERM and SIGKILL
DEFAULT_DELAY_MS = 50

# unbound's built-in local zones (unbound.conf(5), "local-zone" defaults, 1.17). Each one that holds a
# served zone gets "local-zone: ... nodefault", or unbound answers it itself (pitfall 1).
UNBOUND_DEFAULT_ZONES = (
    ["localhost.", "127.in-addr.arpa.", "home.arpa.", "onion.", "test.", "invalid.",
     "1." + "0." * 31 + "ip6.arpa.", "0." * 32 + "ip6.arpa.",
     "10.in-addr.arpa.", "168.192.in-addr.arpa.", "0.in-addr.arpa.", "254.169.in-addr.arpa.",
     "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
     "255.255.255.255.in-addr.arpa.", "d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",
     "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."]
    + ["%d.172.in-addr.arpa." % i for i in range(16, 32)]
    + ["%d.100.in-addr.arpa." % i for i in range(64, 128)])

# Placeholders usable in zone templates.
BIG_SPF_STRINGS = ["v=spf1 "] + ["ip4:192.0.2.%d " % k for k in range(1, 121)] + ["-all"]
MEDIUM_TXT_STRINGS = ["A" * 250, "B" * 250, "C" * 250]


def quoted(strings):
    return " ".join('"%s"' % s for s in strings)


def wide_spf_tree():
    """Zone lines of a three-level SPF include tree under "wide" (10 x 10 x 10 leaves), names relative to
    the zone; the include targets use %{d}, so the tree works in any zone."""
    includes = lambda prefix: " ".join("include:%s%d.%%{d}" % (prefix, k) for k in range(10))
    lines = ['wide TXT "v=spf1 %s -all"' % includes("w")]
    for i in range(10):
        lines.append('w%d.wide TXT "v=spf1 %s ?all"' % (i, includes("x")))
        for j in range(10):
            lines.append('x%d.w%d.wide TXT "v=spf1 %s ?all"' % (j, i, includes("y")))
            for k in range(10):
                lines.append('y%d.x%d.w%d.wide TXT "v=spf1 ip4:192.0.2.%d ?all"' % (k, j, i, 100 + k))
    return "\n".join(lines)


PLACEHOLDERS = {"BIG_SPF": quoted(BIG_SPF_STRINGS), "MEDIUM_TXT": quoted(MEDIUM_TXT_STRINGS),
                "WIDE_SPF_TREE": wide_spf_tree()}


class RigError(Exception):
    pass


def log(message):
    sys.stdout.write("testdns: %s\n" % message)
    sys.stdout.flush()


# --- the zone table ---------------------------------------------------------------------------------------
class Zone:
    def __init__(self, name, dnssec, served, delegation, proxy_mode):
        self.name, self.dnssec, self.served = name, dnssec, served
        self.delegation, self.proxy_mode = delegation, proxy_mode
        self.parent = None
        self.children = []

    @property
    def signed(self):
        return self.dnssec in ("anchor", "signed", "expired")

    @property
    def template(self):
        return os.path.join(ZONES_DIR, self.name + "zone.in")


# Names the rig may serve: RFC 2606/6761 test names, and the reverse zones of loopback (127/8, ::1) and of the
# documentation prefixes (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32).
RESERVED_SUFFIXES = ("test.", "example.", "invalid.", "localhost.", "127.in-addr.arpa.", "2.0.192.in-addr.arpa.",
                     "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
                     "1." + "0." * 31 + "ip6.arpa.")


def reserved_zone(name):
    return any(name == s or name.endswith("." + s) for s in RESERVED_SUFFIXES)


def read_zone_table(delay_ms):
    zones = []
    path = os.path.join(ZONES_DIR, "ZONES")
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            where = "%s:%d" % (path, number)
            if len(fields) != 5:
                raise RigError(where + ": expected 5 columns")
            name, dnssec, served, delegation, mode = fields
            name = name.lower()
            if not name.endswith("."):
                raise RigError(where + ": zone must end with '.'")
            if not reserved_zone(name):
                raise RigError(where + ": %s is not under a name reserved for testing (RFC 2606 .test/.example/"
                               ".invalid, loopback or documentation reverse zones): the rig must never answer "
                               "for a real domain" % name)
            if dnssec not in ("anchor", "signed", "expired", "unsigned"):
                raise RigError(where + ": dnssec must be anchor, signed, expired or unsigned")
            if served not in ("nsd", "proxy", "private"):
                raise RigError(where + ": served must be nsd, proxy or private")
            if delegation not in ("ds", "nods", "none", "-"):
                raise RigError(where + ": delegation must be ds, nods, none or -")
            if (served == "proxy") != (mode != "-"):
                raise RigError(where + ": a proxy-mode goes with served=proxy, and only there")
            zones.append(Zone(name, dnssec, served, delegation, mode.replace("{DELAY_MS}", str(delay_ms))))
    by_name = {z.name: z for z in zones}
    for z in zones:
        candidates = [p for p in zones if p is not z and z.name.endswith("." + p.name)]
        if candidates:
            z.parent = max(candidates, key=lambda p: len(p.name))
            z.parent.children.append(z)
        where = "zone table, " + z.name
        if z.parent is None and z.delegation != "-":
            raise RigError(where + ": no parent zone in the table, so delegation must be '-'")
        if z.parent is not None and z.delegation == "-":
            raise RigError(where + ": has parent " + z.parent.name + ", so delegation must be ds, nods or none")
        if z.delegation == "ds" and not (z.signed and z.parent.signed):
            raise RigError(where + ": a DS delegation needs a signed zone under a signed parent")
        if z.dnssec in ("signed", "expired") and z.delegation != "ds":
            raise RigError(where + ": a signed zone without an anchor needs a DS delegation")
    if len(by_name) != len(zones):
        raise RigError("zone table lists a zone twice")
    return zones


# --- zone templates ---------------------------------------------------------------------------------------
RECORD_RE = re.compile(r"^(\S+)\s+(?:(\d+)\s+)?(?:(IN)\s+)?(?:(\d+)\s+)?([A-Za-z][A-Za-z0-9]*)\s+(.*?)\s*$")
SIGNED_AS_RE = re.compile(r"\s;\s*signed-as:\s*(.*?)\s*$")
BAD_SIG_RE = re.compile(r"\s;\s*bad-sig\s*$")


def fqdn(owner, origin):
    if owner == "@":
        return origin
    return owner.lower() if owner.endswith(".") else owner.lower() + "." + origin


def render_template(zone):
    """Zone text to sign, and the alterations to make after signing: (kind, owner, type, served rdata)."""
    with open(zone.template, encoding="ascii") as f:
        text = f.read()

    def substitute(match):
        key = match.group(1)
        if key not in PLACEHOLDERS:
            raise RigError("%s: unknown placeholder {{%s}}" % (zone.template, key))
        return PLACEHOLDERS[key]

    text = re.sub(r"\{\{([A-Z_]+)\}\}", substitute, text)
    lines, tampers = [], []
    for line in text.splitlines():
        signed_as, bad_sig = SIGNED_AS_RE.search(line), BAD_SIG_RE.search(line)
        if signed_as or bad_sig:
            served = line[:(signed_as or bad_sig).start()]
            record = RECORD_RE.match(served)
            if not record:
                raise RigError("%s: cannot parse the altered record %r" % (zone.template, line))
            owner, rrtype, rdata = fqdn(record.group(1), zone.name), record.group(5).upper(), record.group(6)
            if signed_as:
                tampers.append(("data", owner, rrtype, rdata))
                line = served[:record.start(6)] + signed_as.group(1)
            else:
                tampers.append(("sig", owner, rrtype, None))
                line = served
        lines.append(line)
    return "\n".join(lines) + "\n", tampers


def zone_header(zone):
    return ("$ORIGIN %s\n$TTL %d\n@ IN SOA %s %s 1 3600 600 86400 %d\n@ IN NS %s\n"
            % (zone.name, ZONE_TTL, NS_NAME, SOA_RNAME, NEGATIVE_TTL, NS_NAME))


def apply_tampers(path, zone, tampers):
    with open(path, encoding="ascii") as f:
        records = f.read().splitlines()
    for kind, owner, rrtype, rdata in tampers:
        done = False
        for i, line in enumerate(records):
            fields = line.split(None, 4)
            if len(fields) < 5 or fields[0].lower() != owner:
                continue
            if kind == "data" and fields[3] == rrtype:
                records[i] = "\t".join(fields[:4] + [rdata])
                done = True
                break
            if kind == "sig" and fields[3] == "RRSIG" and fields[4].split()[0] == rrtype:
                head, signature = fields[4].rsplit(None, 1)
                signature = ("B" if signature[0] == "A" else "A") + signature[1:]
                records[i] = "\t".join(fields[:4] + [head + " " + signature])
                done = True
                break
        if not done:
            raise RigError("%s: nothing to alter for %s %s in the signed zone" % (zone.name, owner, rrtype))
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(records) + "\n")


def run(cmd, cwd=None):
    result = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise RigError("%s failed (%d): %s" % (" ".join(cmd), result.returncode, result.stderr.strip()))
    return result.stdout.strip()


def build_zones(zones, d):
    """Writes DIR/zones/<zone>zone for every zone, signed where asked; returns the trust anchor lines."""
    keys_dir, zones_dir = os.path.join(d, "keys"), os.path.join(d, "zones")
    os.makedirs(keys_dir)
    os.makedirs(zones_dir)
    anchors, ds_records = [], {}
    now = int(time.time())
    # Children first: a parent needs its children's DS records before it is signed.
    for zone in sorted(zones, key=lambda z: -z.name.count(".")):
        body, tampers = render_template(zone)
        if tampers and not zone.signed:
            raise RigError(zone.name + ": signed-as / bad-sig need a signed zone")
        delegations = []
        for child in sorted(zone.children, key=lambda c: c.name):
            if child.delegation == "none":
                continue
            delegations.append("%s IN NS %s" % (child.name, NS_NAME))
            if child.delegation == "ds":
                delegations.append(ds_records[child.name])
        text = zone_header(zone) + body + "".join(line + "\n" for line in delegations)
        unsigned = os.path.join(zones_dir, zone.name + "zone.unsigned")
        final = os.path.join(zones_dir, zone.name + "zone")
        with open(unsigned, "w", encoding="ascii") as f:
            f.write(text)
        if not zone.signed:
            shutil.copyfile(unsigned, final)
            continue
        keygen = ["ldns-keygen", "-r", "/dev/urandom", "-a", ALGORITHM]
        ksk = run(keygen + ["-k", zone.name], cwd=keys_dir)
        zsk = run(keygen + [zone.name], cwd=keys_dir)
        if zone.dnssec == "expired":
            inception, expiration = now - EXPIRED_WINDOW[0], now - EXPIRED_WINDOW[1]
        else:
            inception, expiration = now - SIGNATURE_SKEW, now + SIGNATURE_LIFETIME
        run(["ldns-signzone", "-i", str(inception), "-e", str(expiration), "-o", zone.name, "-f", final,
             unsigned, os.path.join(keys_dir, ksk), os.path.join(keys_dir, zsk)])
        if tampers:
            apply_tampers(final, zone, tampers)
        with open(os.path.join(keys_dir, ksk + ".ds"), encoding="ascii") as f:
            ds_records[zone.name] = f.read().strip()
        if zone.dnssec == "anchor":
            with open(os.path.join(keys_dir, ksk + ".key"), encoding="ascii") as f:
                anchors.append(f.read().strip())
    return anchors


# --- ports and DNS probes ---------------------------------------------------------------------------------
def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def port_free(address, port):
    """True if a server could bind TCP (with SO_REUSEADDR, as servers do) and UDP on address:port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(family, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError:
                return False
    return True


def pick_ports(d, count, addresses, taken=()):
    start = PORT_BASE + zlib.crc32(os.path.abspath(d).encode()) % PORT_SPAN
    ports = []
    for i in range(PORT_TRIES):
        port = start + i
        if port in taken or port in ports:
            continue
        if all(port_free(a, port) for a in addresses):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RigError("no free ports near %d on %s" % (start, ", ".join(addresses)))


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def ask(address, port, name, qtype, timeout=0.2, rd=False):
    """One UDP query; (rcode, flags) of the answer, or None if none came."""
    qid = int.from_bytes(os.urandom(2), "big")
    query = (struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 1) + encode_name(name)
             + struct.pack(">HH", qtype, 1) + b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0))
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (address, port))
            while True:
                data, _ = s.recvfrom(65535)
                if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                    flags = struct.unpack(">H", data[2:4])[0]
                    return flags & 0xF, flags
        except OSError:
            return None


def wait_until(what, check, process, logfile):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RigError("%s exited with %d; see %s:\n%s" % (what, process.returncode, logfile, tail(logfile)))
        if check():
            return
        time.sleep(0.02)
    raise RigError("%s did not answer within %.0f s; see %s:\n%s" % (what, READY_TIMEOUT, logfile, tail(logfile)))


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


# --- processes --------------------------------------------------------------------------------------------
def spawn(d, name, cmd):
    """Starts a daemon in its own session (so ctest's pipes are not inherited), records its pid."""
    logfile = os.path.join(d, "logs", name + ".out")
    with open(logfile, "ab") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True, cwd=d)
    with open(os.path.join(d, "pids", name), "w", encoding="ascii") as f:
        f.write("%d\n" % process.pid)
    return process, logfile


def process_state(pid):
    """'alive', 'gone' (or a zombie) for a pid."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return "gone" if state in ("Z", "X") else "alive"
    except (OSError, IndexError):
        return "gone"


def is_ours(pid, d):
    """The process was started by this rig for DIR: its command line names DIR."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return os.path.abspath(d).encode() in f.read()
    except OSError:
        return False


def recorded_pids(d):
    pids = {}
    pid_dir = os.path.join(d, "pids")
    for name in ("unbound", "dnsproxy", "nsd"):
        try:
            with open(os.path.join(pid_dir, name), encoding="ascii") as f:
                pids[name] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    return pids


def stop_rig(d):
    pids = {name: pid for name, pid in recorded_pids(d).items()
            if process_state(pid) == "alive" and is_ours(pid, d)}
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGTERM)  # its own process group: nsd's server and xfrd children too
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE
    while pids and time.monotonic() < deadline and any(process_state(p) == "alive" for p in pids.values()):
        time.sleep(0.05)
    for name, pid in pids.items():
        if process_state(pid) == "alive":
            log("%s (pid %d) still running after %.0f s: SIGKILL" % (name, pid, STOP_GRACE))
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for name in recorded_pids(d):
        os.unlink(os.path.join(d, "pids", name))
    return sorted(pids)


# --- configuration files ----------------------------------------------------------------------------------
def write_nsd_conf(d, zones, port, ipv6):
    run_dir = os.path.join(d, "run")
    lines = ["server:",
             "    ip-address: 127.0.0.1@%d" % port]
    if ipv6:
        lines.append("    ip-address: ::1@%d" % port)
    lines += ["    port: %d" % port,
              "    do-ip6: %s" % ("yes" if ipv6 else "no"),
              '    username: ""',
              '    chroot: ""',
              '    zonesdir: "%s"' % os.path.join(d, "zones"),
              '    database: ""',
              '    zonelistfile: "%s"' % os.path.join(run_dir, "zone.list"),
              '    xfrdfile: "%s"' % os.path.join(run_dir, "xfrd.state"),
              '    xfrdir: "%s"' % run_dir,
              '    pidfile: "%s"' % os.path.join(run_dir, "nsd.pid"),
              '    logfile: "%s"' % os.path.join(d, "logs", "nsd.log"),
              "    server-count: 1",
              "    reuseport: no",
              "    verbosity: 1",
              "    hide-version: yes",
              "    tcp-count: 256",
              "    rrl-ratelimit: 0",            # no response rate limiting: tests send bursts
              "    rrl-whitelist-ratelimit: 0",
              "remote-control:",
              "    control-enable: no"]
    for zone in zones:
        lines += ["zone:", '    name: "%s"' % zone.name, '    zonefile: "%szone"' % zone.name]
    path = os.path.join(d, "nsd.conf")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_stub_conf(d, zones, nsd_port, proxy_port):
    served = [z for z in zones]
    lines = ["# Generated by testdns.py: a resolver configuration aimed at the test DNS only.",
             "# For libunbound: ub_ctx_config(ctx, this file); for an unbound daemon: include: this file.",
             "server:",
             "    do-not-query-localhost: no",
             "    outgoing-interface: 127.0.0.1",
             "    do-ip6: no",
             '    trust-anchor-file: "%s"' % os.path.join(d, "trust-anchors.txt")]
    for zone in zones:
        if not zone.signed and zone.delegation == "none" and zone.parent is not None and zone.parent.signed:
            lines.append('    domain-insecure: "%s"' % zone.name)
    for default in UNBOUND_DEFAULT_ZONES:
        if any(z.name == default or z.name.endswith("." + default) for z in served):
            lines.append('    local-zone: "%s" nodefault' % default)
    lines += ["    val-log-level: 2",
              "    trust-anchor-signaling: no",
              "    outbound-msg-retry: 2",
              "    infra-cache-max-rtt: 1000",
              "# Catch-all: anything outside the test zones goes to nsd (REFUSED, so SERVFAIL), never to the root.",
              "stub-zone:",
              '    name: "."',
              "    stub-addr: 127.0.0.1@%d" % nsd_port]
    for zone in zones:
        if zone.served == "private":
            continue
        port = nsd_port if zone.served == "nsd" else proxy_port
        comment = "" if zone.served == "nsd" else "    # dnsproxy.py: " + zone.proxy_mode
        lines += ["stub-zone:", '    name: "%s"%s' % (zone.name, comment), "    stub-addr: 127.0.0.1@%d" % port]
    path = os.path.join(d, "unbound-stub.conf")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_proxy_rules(d, zones, extra_modes):
    modes = {z.name: z.proxy_mode for z in zones if z.served == "proxy"}
    for item in extra_modes:
        zone, sep, mode = item.partition("=")
        if not sep:
            raise RigError("--zone-mode wants ZONE=MODE, got " + item)
        modes[zone.lower() if zone.endswith(".") else zone.lower() + "."] = mode
    path = os.path.join(d, "dnsproxy.rules")
    with open(path, "w", encoding="ascii") as f:
        f.write("# zone mode (see dnsproxy.py); testdns.py proxy-mode edits this and sends SIGHUP\n")
        for zone in sorted(modes):
            f.write("%s %s\n" % (zone, modes[zone]))
    return path


def write_unbound_daemon_conf(d, address):
    lines = ["server:",
             "    interface: %s" % address,
             "    port: 53",
             "    interface-automatic: no",
             "    access-control: 127.0.0.0/8 allow",
             '    username: ""',
             '    chroot: ""',
             '    directory: "%s"' % d,
             '    pidfile: "%s"' % os.path.join(d, "run", "unbound.pid"),
             '    logfile: "%s"' % os.path.join(d, "logs", "unbound.log"),
             "    use-syslog: no",
             "    verbosity: 1",
             "    num-threads: 1",
             "    so-reuseport: no",
             "remote-control:",
             "    control-enable: no",
             'include: "%s"' % os.path.join(d, "unbound-stub.conf")]
    path = os.path.join(d, "unbound.conf")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_env(d, values):
    path = os.path.join(d, "env")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("# Generated by testdns.py start; shell-sourceable.\n")
        for key, value in values.items():
            f.write("%s=%s\n" % (key, shlex.quote(str(value))))
    os.replace(path + ".tmp", path)


def read_env(d):
    values = {}
    try:
        with open(os.path.join(d, "env"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    values[key] = shlex.split(value)[0] if value else ""
    except OSError:
        pass
    return values


# --- commands ---------------------------------------------------------------------------------------------
def prepare_dir(d):
    if os.path.isdir(d) and os.listdir(d):
        if not os.path.exists(os.path.join(d, MARKER)):
            raise RigError("%s exists, is not empty and is not a testdns directory: refusing to wipe it" % d)
        stopped = stop_rig(d)
        if stopped:
            log("stopped the previous rig's " + ", ".join(stopped))
        shutil.rmtree(d)
    for sub in ("", "logs", "pids", "run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, MARKER), "w", encoding="ascii") as f:
        f.write("created by %s\n" % os.path.abspath(__file__))


def start_unbound(d, required):
    failures = []
    for address in RESOLVER_ADDRESSES:
        if not port_free(address, 53):
            failures.append("%s:53 taken" % address)
            continue
        conf = write_unbound_daemon_conf(d, address)
        process, logfile = spawn(d, "unbound", ["unbound", "-d", "-c", conf])
        try:
            # Ready when it answers a validated (AD) NOERROR through the whole chain of trust.
            wait_until("unbound on %s:53" % address,
                       lambda: (ask(address, 53, "example.test.", 6, rd=True) or (None, 0))[1] & 0x0020 != 0,
                       process, logfile)
        except RigError as e:
            # Another rig may have taken the address between the check and the bind: try the next one.
            stop_rig_component(d, "unbound")
            failures.append(str(e).splitlines()[0])
            continue
        with open(os.path.join(d, "resolv.conf"), "w", encoding="ascii") as f:
            f.write("# Generated by testdns.py: the test DNS's validating resolver.\n"
                    "nameserver %s\noptions edns0\n" % address)
        return address, process.pid
    if required:
        raise RigError("unbound daemon not started: " + "; ".join(failures))
    log("unbound daemon not started (carrying on without it): " + "; ".join(failures))
    return None


def stop_rig_component(d, name):
    pid = recorded_pids(d).get(name)
    if pid and process_state(pid) == "alive" and is_ours(pid, d):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while process_state(pid) == "alive" and time.monotonic() < deadline:
            time.sleep(0.05)
        if process_state(pid) == "alive":
            os.killpg(pid, signal.SIGKILL)
    try:
        os.unlink(os.path.join(d, "pids", name))
    except OSError:
        pass


def cmd_start(args):
    started = time.monotonic()
    d = os.path.abspath(args.dir)
    for tool in ("nsd", "ldns-keygen", "ldns-signzone") + (("unbound",) if args.with_unbound else ()):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            raise RigError(tool + " is not installed (scripts/install-deps.sh installs it)")
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    zones = read_zone_table(args.delay_ms)
    prepare_dir(d)
    try:
        anchors = build_zones(zones, d)
        with open(os.path.join(d, "trust-anchors.txt"), "w", encoding="ascii") as f:
            f.write("\n".join(anchors) + "\n")
        ipv6 = have_ipv6()
        addresses = ["127.0.0.1"] + (["::1"] if ipv6 else [])
        nsd_port, proxy_port = pick_ports(d, 2, addresses)
        conf = write_nsd_conf(d, zones, nsd_port, ipv6)
        nsd, nsd_log = spawn(d, "nsd", ["nsd", "-d", "-c", conf])
        rules = write_proxy_rules(d, zones, args.zone_mode or [])
        proxy_log = os.path.join(d, "logs", "dnsproxy.log")
        proxy, proxy_out = spawn(d, "dnsproxy", [PYTHON, PROXY_SCRIPT, "--listen", "127.0.0.1:%d" % proxy_port,
                                                  "--upstream", "127.0.0.1:%d" % nsd_port, "--rules", rules,
                                                  "--log", proxy_log])
        stub_conf = write_stub_conf(d, zones, nsd_port, proxy_port)
        wait_until("nsd on 127.0.0.1@%d" % nsd_port,
                   lambda: (ask("127.0.0.1", nsd_port, "test.", 6) or (None, 0))[0] == 0, nsd, nsd_log)
        wait_until("dnsproxy on 127.0.0.1@%d" % proxy_port,
                   lambda: (ask("127.0.0.1", proxy_port, "test.", 6) or (None, 0))[0] == 0, proxy, proxy_out)
        resolver = None
        if args.with_unbound or args.try_unbound:
            resolver = start_unbound(d, required=args.with_unbound)
        env = {
            "TESTDNS_DIR": d,
            "TESTDNS_NSD_ADDR": "127.0.0.1",
            "TESTDNS_NSD_PORT": nsd_port,
            "TESTDNS_NSD_IPV6": 1 if ipv6 else 0,
            "TESTDNS_NSD_PID": nsd.pid,
            "TESTDNS_PROXY_PORT": proxy_port,
            "TESTDNS_PROXY_PID": proxy.pid,
            "TESTDNS_PROXY_RULES": rules,
            "TESTDNS_PROXY_LOG": proxy_log,
            "TESTDNS_PROXY_SCRIPT": PROXY_SCRIPT,
            "TESTDNS_DELAY_MS": args.delay_ms,
            "TESTDNS_UNBOUND_CONF": stub_conf,
            "TESTDNS_TRUST_ANCHORS": os.path.join(d, "trust-anchors.txt"),
            "TESTDNS_RESOLVER_ADDR": resolver[0] if resolver else "",
            "TESTDNS_RESOLVER_PID": resolver[1] if resolver else "",
            "TESTDNS_RESOLV_CONF": os.path.join(d, "resolv.conf") if resolver else "",
        }
        write_env(d, env)
    except BaseException:
        stop_rig(d)
        raise
    log("up in %.2f s: nsd 127.0.0.1%s@%d, dnsproxy 127.0.0.1@%d%s; %d zones; env in %s"
        % (time.monotonic() - started, " ::1" if ipv6 else "", nsd_port, proxy_port,
           ", unbound %s:53" % resolver[0] if resolver else "", len(zones), os.path.join(d, "env")))
    return 0


def cmd_stop(args):
    d = os.path.abspath(args.dir)
    if not os.path.exists(os.path.join(d, MARKER)):
        log("%s is not a testdns directory: nothing to stop" % d)
        return 0
    started = time.monotonic()
    stopped = stop_rig(d)
    log("stopped %s in %.2f s" % (", ".join(stopped) or "nothing (not running)", time.monotonic() - started))
    return 0


def cmd_status(args):
    d = os.path.abspath(args.dir)
    env = read_env(d)
    pids = recorded_pids(d)
    if not pids:
        log("not running in " + d)
        return 1
    healthy = True
    for name, pid in sorted(pids.items()):
        alive = process_state(pid) == "alive" and is_ours(pid, d)
        healthy = healthy and alive
        log("%-8s pid %-7d %s" % (name, pid, "running" if alive else "NOT RUNNING"))
    if env.get("TESTDNS_NSD_PORT"):
        answer = ask("127.0.0.1", int(env["TESTDNS_NSD_PORT"]), "test.", 6)
        healthy = healthy and answer is not None and answer[0] == 0
        log("nsd answers: %s" % ("yes" if answer and answer[0] == 0 else "no"))
    return 0 if healthy else 1


def cmd_proxy_mode(args):
    d = os.path.abspath(args.dir)
    env = read_env(d)
    rules = env.get("TESTDNS_PROXY_RULES")
    pid = recorded_pids(d).get("dnsproxy")
    if not rules or not pid or process_state(pid) != "alive":
        raise RigError("no running dnsproxy in " + d)
    zone = args.zone.lower() if args.zone.endswith(".") else args.zone.lower() + "."
    table = {}
    with open(rules, encoding="ascii") as f:
        for line in f:
            parts = line.split("#", 1)[0].split()
            if len(parts) == 2:
                table[parts[0]] = parts[1]
    table[zone] = args.mode
    with open(rules + ".tmp", "w", encoding="ascii") as f:
        f.write("# zone mode (see dnsproxy.py); testdns.py proxy-mode edits this and sends SIGHUP\n")
        for name in sorted(table):
            f.write("%s %s\n" % (name, table[name]))
    os.replace(rules + ".tmp", rules)
    os.kill(pid, signal.SIGHUP)
    log("dnsproxy: %s is now %s" % (zone, args.mode))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="generate, sign and serve the test zones")
    start.add_argument("--dir", required=True)
    start.add_argument("--delay-ms", type=int, default=DEFAULT_DELAY_MS,
                       help="latency dnsproxy adds to slow.test answers (default %(default)s)")
    start.add_argument("--zone-mode", action="append", metavar="ZONE=MODE",
                       help="override or add a dnsproxy rule (repeatable)")
    group = start.add_mutually_exclusive_group()
    group.add_argument("--with-unbound", action="store_true",
                       help="also run a validating unbound daemon on 127.0.0.153:53 (or .154-.157); fail if impossible")
    group.add_argument("--try-unbound", action="store_true", help="like --with-unbound, but carry on without it")
    for name in ("stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
    mode = sub.add_parser("proxy-mode", help="set the dnsproxy mode of a zone while the rig runs")
    mode.add_argument("--dir", required=True)
    mode.add_argument("zone")
    mode.add_argument("mode")
    args = parser.parse_args()
    try:
        return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status,
                "proxy-mode": cmd_proxy_mode}[args.command](args)
    except RigError as e:
        sys.stderr.write("testdns: error: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
