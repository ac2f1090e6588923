#!/usr/bin/python3
"""tests/compat/test_compat.py: spfgate and the real pypolicyd-spf 3.0.4, side by side.

Both programs get the same corpus of Postfix policy requests (CORPUS) under the same configuration files
(CONFIGS), over the spawn protocol (the request stream on stdin, lock-step: one request, then its answer),
and their answers are compared line by line. Every difference must be one of the documented differences
in DIFFERENCES (each names the pypolicyd-spf bug, the README line and a matcher); anything else fails the
test. The log lines of both are captured from syslog and compared per request, and checked against
Debian's logcheck rule for pypolicyd-spf.

How the programs reach the test DNS (tests/dns/testdns.py, the ctest fixture "testdns", which must run
its unbound daemon: --try-unbound as root):
  - spfgate: harness.resolver_args() (libunbound with the rig's stub configuration);
  - pypolicyd-spf (pydns) reads /etc/resolv.conf, so it runs in a private mount namespace whose
    /etc/resolv.conf names a forwarder started here (tests/dns/dnsproxy.py on 127.0.0.158+:53) in front
    of the rig's unbound daemon. The forwarder passes everything through except drop.test, which it never
    answers: the daemon, once a zone's server timed out, answers SERVFAIL for it for 15 minutes, which
    pydns takes for "no record", so only the first timeout of a run would be a timeout.
Both run in a mount namespace whose /dev is a small tmpfs with /dev/log pointing at a datagram socket of
this test (pypolicyd-spf logs to syslog only; spfgate --spawn logs to syslog with
--syslog-ident=policyd-spf, as the README recommends for existing log rules).

spfgate also gets --Why_URL=http://www.openspf.net/Why (pypolicyd-spf's hard-coded URL) in every config but
"debian-default-text", which shows the one difference of the default reject text.

Needs root (mount namespaces, port 53 on loopback), /usr/bin/policyd-spf (postfix-policyd-spf-python with
python3-dns) and SPFGATE_BIN / SPFGATE_TESTDNS_DIR (set by ctest). Python 3 standard library only.
Nothing is sent anywhere but loopback: 127.0.0.120-129 and the documentation ranges are DNS data only.
"""

import concurrent.futures
import ipaddress
import os
import re
import selectors
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import spfgate_harness as harness  # noqa: E402

POLICYD = "/usr/bin/policyd-spf"
PYTHON = "/usr/bin/python3"
DNSPROXY = os.path.join(ROOT, "tests", "dns", "dnsproxy.py")
README = os.path.join(ROOT, "README.md")
DEBIAN_CONF = os.path.join(ROOT, "tests", "data", "config", "debian-policyd-spf.conf")
LOGCHECK_RULE = "/etc/logcheck/ignore.d.server/postfix-policyd-spf-python"
# The rule as Debian ships it (postfix-policyd-spf-python 3.0.4-2), used when the file is not installed.
LOGCHECK_RULE_COPY = (
    r"^(\w{3} [ :[:digit:]]{11}|[0-9T:.+-]{32}) [._[:alnum:]-]+ policyd-spf\[[0-9]+\]:( :)? prepend "
    r"Received-SPF: (Pass|Neutral|None|Softfail|Fail|Temperror|Permerror) \((helo|mailfrom)\) "
    r"identity=(helo|mailfrom); client-ip=[0-9a-f.:]+; helo=.*; envelope-from=.*; receiver=")
WHY_URL = "http://www.openspf.net/Why"
FORWARDER_ADDRESSES = ["127.0.0.%d" % i for i in range(158, 171)]
ANSWER_TIMEOUT = 30.0     # seconds for one answer (the slowest request waits 2 x Lookup_Time = 2 s)
MOCK_TEXT = "dunno mock header field that should be ignored"
# What spawn(8) gives its child (Postfix's import_environment; no PYTHONUNBUFFERED, which would hide
# pypolicyd-spf's missing flush in Mock mode).
SPAWN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
# ... and a sanitizer build's report settings, so spfgate's reports land where scripts/test.sh looks.
SPAWN_ENV.update({k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ})


# ---------------------------------------------------------------------------------------------------------
# The corpus: sessions of requests (a session's requests share one instance: one message, several RCPTs).
# Clients are data only (nothing connects to them): 127.0.0.120 is authorised by the compat.test records,
# .121 is not, .122/.123 are inc.compat.test's mx and a:, .124-.129 are the bypass lists' clients.
class Session:
    def __init__(self, name, requests, tags=(), what=""):
        self.name = name
        self.requests = requests   # list of dicts of attribute overrides (None removes), or "raw" strings
        self.tags = set(tags)
        self.what = what


def rq(**overrides):
    return overrides


def rcpt2(**overrides):
    d = dict(overrides)
    d.setdefault("recipient", "rcpt2@example.net")
    return d


G, B = "127.0.0.120", "127.0.0.121"   # good and bad client
HELO_NONE, HELO_PASS = "helo-none.compat.test", "mail.compat.test"

CORPUS = [
    Session("mfrom-pass", [rq(), rcpt2()], what="MAIL FROM pass, then a second recipient"),
    Session("mfrom-pass-helo-pass", [rq(helo_name=HELO_PASS)]),
    Session("mfrom-fail", [rq(client_address=B), rcpt2(client_address=B)], what="fail, repeated for RCPT 2"),
    Session("mfrom-softfail", [rq(client_address=B, sender="user@softfail.compat.test")]),
    Session("mfrom-neutral", [rq(client_address=B, sender="user@neutral.compat.test")]),
    Session("mfrom-sub-softfail", [rq(client_address=B, sender="user@sub.softfail.compat.test")],
            what="a subdomain of a Reject_Not_Pass_Domains entry"),
    Session("mfrom-none", [rq(sender="user@none.compat.test")]),
    Session("mfrom-none-helo-pass", [rq(helo_name=HELO_PASS, sender="user@none.compat.test")], tags={"cve"}),
    Session("mfrom-none-helo-softfail",
            [rq(client_address=B, helo_name="softfail.compat.test", sender="user@none.compat.test")], tags={"cve"}),
    Session("mfrom-permerror", [rq(sender="user@permerror.compat.test"), rcpt2(sender="user@permerror.compat.test")],
            what="unknown mechanism; RCPT 2 gets the cached answer"),
    Session("mfrom-lookups", [rq(sender="user@lookups.compat.test")], what="11 DNS-querying terms"),
    Session("mfrom-voids", [rq(client_address=B, sender="user@voids.compat.test")], what="3 void lookups"),
    Session("mfrom-nomail", [rq(sender="user@nomail.compat.test")], what="v=spf1 -all"),
] + [
    Session("mfrom-permerror-" + d, [rq(sender="user@%s.compat.test" % d)], what="permerror: " + what)
    for d, what in (("twice", "two SPF records"), ("incnone", "include: of a domain without SPF"),
                    ("rednone", "redirect= to a domain without SPF"), ("badip", "a bad ip4: address"),
                    ("badcidr", "a bad ip4: prefix length"), ("nofqdn", "a: of a single-label name"))
] + [
    Session("helo-permerror-twice-null", [rq(helo_name="twice.compat.test", sender="")]),
    Session("mfrom-exp", [rq(client_address=B, sender="user@exp.compat.test"),
                          rcpt2(client_address=B, sender="user@exp.compat.test")], what="exp= explanation"),
    Session("inc-include", [rq(sender="user@inc.compat.test")], what="pass through include:"),
    Session("inc-mx", [rq(client_address="127.0.0.122", sender="user@inc.compat.test")], what="pass through mx"),
    Session("inc-a", [rq(client_address="127.0.0.123", sender="user@inc.compat.test")], what="pass through a:"),
    Session("inc-fail", [rq(client_address=B, sender="user@inc.compat.test")]),
    Session("mfrom-temperror", [rq(sender="user@x.drop.test"), rcpt2(sender="user@x.drop.test")],
            tags={"timeout"}, what="the sender's domain times out"),
    Session("helo-mfrom-temperror", [rq(helo_name="h.drop.test", sender="user@x.drop.test")], tags={"timeout"},
            what="both identities time out"),
    Session("mfrom-servfail", [rq(sender="user@x.servfail.test")], tags={"servfail"}),
    Session("mfrom-include-servfail", [rq(sender="user@sfinc.compat.test")], tags={"servfail"}),
    Session("ipv6-pass", [rq(client_address="::1", helo_name=HELO_PASS)]),
    Session("ipv6-fail", [rq(client_address="::1", sender="user@v4only.compat.test")]),
    Session("ipv6-helo-pass-mfrom-softfail",
            [rq(client_address="::1", helo_name=HELO_PASS, sender="user@softfail.compat.test")]),
    Session("ipv6-helo-pass-mfrom-fail",
            [rq(client_address="::1", helo_name=HELO_PASS, sender="user@v4only.compat.test")]),
    Session("mapped-pass", [rq(client_address="::ffff:127.0.0.120")], what="IPv4-mapped client"),
    Session("mapped-fail", [rq(client_address="::ffff:127.0.0.121")]),
    Session("mapped-local", [rq(client_address="::ffff:127.0.0.1")], what="IPv4-mapped 127.0.0.1"),
    Session("helo-pass-null", [rq(helo_name=HELO_PASS, sender="")]),
    Session("helo-fail-null", [rq(client_address=B, helo_name=HELO_PASS, sender=""),
                               rcpt2(client_address=B, helo_name=HELO_PASS, sender="")]),
    Session("helo-fail-sender", [rq(client_address=B, helo_name=HELO_PASS)]),
    Session("helo-softfail-null", [rq(client_address=B, helo_name="softfail.compat.test", sender="")]),
    Session("helo-neutral-null", [rq(client_address=B, helo_name="neutral.compat.test", sender="")]),
    Session("helo-permerror-null", [rq(helo_name="permerror.compat.test", sender=""),
                                    rcpt2(helo_name="permerror.compat.test", sender="")]),
    Session("helo-none-null", [rq(sender="")]),
    Session("helo-nomail-null", [rq(helo_name="nomail.compat.test", sender="")]),
    Session("helo-temperror-null", [rq(helo_name="x.drop.test", sender="")], tags={"timeout"}),
    Session("helo-servfail-null", [rq(helo_name="x.servfail.test", sender="")], tags={"servfail"}),
    Session("empty-helo-fail", [rq(client_address=B, helo_name="")], tags={"empty-helo"}),
    Session("empty-helo-pass", [rq(helo_name="")], tags={"empty-helo"}),
    Session("empty-helo-null", [rq(helo_name="", sender="")]),
    Session("skip", [rq(client_address="127.0.0.1", helo_name="localhost"),
                     rcpt2(client_address="127.0.0.1", helo_name="localhost")], what="skip_addresses"),
    Session("skip-null", [rq(client_address="127.0.0.1", helo_name="localhost", sender="")]),
    Session("skip-no-attributes", [rq(client_address="127.0.0.1", helo_name=None, sender=None, recipient=None)],
            what="a bypassed client without helo_name, sender and recipient"),
    Session("no-client", [rq(client_address=None)], what="no client_address attribute"),
    Session("no-helo", [rq(helo_name=None)], tags={"crash"}, what="no helo_name attribute"),
    Session("no-sender", [rq(sender=None)], tags={"crash"}, what="no sender attribute"),
    Session("bad-client", [rq(client_address="bogus")], tags={"crash"}),
    Session("no-recipient", [rq(recipient=None)]),
    Session("recipient-no-at", [rq(recipient="postmaster")]),
    Session("uppercase", [rq(sender="John.Doe@Pass.Compat.Test", helo_name="Helo-None.Compat.Test",
                             recipient="Rcpt@Example.NET")], what="values are lower-cased"),
    Session("empty-queue-id", [rq(queue_id="")], tags={"empty-qid"}),
    Session("empty-queue-id-fail", [rq(client_address=B, queue_id="")], tags={"empty-qid"}),
    Session("no-queue-id", [rq(queue_id=None)], tags={"no-qid"}),
    Session("empty-request", ["\n"]),
    Session("sender-no-at", [rq(sender="pass.compat.test")]),
    Session("crafted-sender", [rq(sender="x;identity=helo@pass.compat.test")], tags={"quoting"}),
    Session("utf8-sender", [rq(sender="j\u00f6rn@pass.compat.test")], what="a UTF-8 local part"),
    Session("latin1-sender", [rq(sender="j\u00f6rn@pass.compat.test")], tags={"latin1"},
            what="a byte that is not UTF-8 (the request sent in ISO-8859-1)"),
    Session("crlf", [rq(), rcpt2()], tags={"crlf"}, what="CRLF line ends"),
    Session("helo-literal-null", [rq(helo_name="[127.0.0.120]", sender="")], what="an address literal HELO"),
    Session("helo-single-label-null", [rq(helo_name="mailhost", sender="")]),
    Session("end-of-message", [rq(protocol_state="END-OF-MESSAGE")], tags={"stage"},
            what="first asked after DATA (smtpd_end_of_data_restrictions)"),
    Session("whitelist", [rq(client_address="127.0.0.124"), rcpt2(client_address="127.0.0.124")]),
    Session("domain-whitelist", [rq(client_address="127.0.0.125")]),
    Session("helo-whitelist", [rq(client_address="127.0.0.126", helo_name="relay.compat.test")]),
    Session("helo-whitelist-miss", [rq(client_address=B, helo_name="relay.compat.test")]),
    Session("helo-whitelist-ipv6", [rq(client_address="::1", helo_name="relay.compat.test")]),
    Session("ptr-confirmed", [rq(client_address="127.0.0.127")], what="PTR out1.trusted.compat.test, confirmed"),
    Session("ptr-suffix", [rq(client_address="127.0.0.128")], tags={"ptr"},
            what="PTR host.untrusted.compat.test: a suffix but not a subdomain of trusted.compat.test"),
    Session("ptr-unconfirmed", [rq(client_address="127.0.0.129")], tags={"ptr"},
            what="PTR relay.trusted.compat.test without an address"),
    Session("per-user-mix", [rq(client_address=B, sender="user@softfail.compat.test", recipient=r)
                             for r in ("other@example.net", "strict@example.net", "other2@example.net")],
            what="one message for a per-user recipient between two others"),
    Session("per-user-lax", [rq(client_address=B, recipient="lax@example.net")]),
]


# Stand-ins for what is not one request: a log line of no request, and when the first answer came.
LOG_ONLY = Session("(log line)", [])
FIRST_ANSWER = Session("(first answer before EOF)", [])


def request_text(attrs, qid, instance):
    base = {
        "request": "smtpd_access_policy",
        "protocol_state": "RCPT",
        "protocol_name": "ESMTP",
        "client_address": G,
        "client_name": "unknown",
        "reverse_client_name": "unknown",
        "helo_name": HELO_NONE,
        "sender": "user@pass.compat.test",
        "recipient": "rcpt@example.net",
        "recipient_count": "0",
        "queue_id": qid,
        "instance": instance,
        "size": "0",
    }
    for k, v in attrs.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base, "".join("%s=%s\n" % kv for kv in base.items()) + "\n"


# ---------------------------------------------------------------------------------------------------------
# The configurations. Each is one file that both programs read. "timeouts" runs the sessions tagged
# "timeout" (they cost Lookup_Time, so only configs that set Lookup_Time = 1 run them).
class Config:
    def __init__(self, name, text, timeouts=False, why_url=True, stream=False, per_user=None, what=""):
        self.name, self.text, self.timeouts, self.why_url = name, text, timeouts, why_url
        self.stream, self.per_user, self.what = stream, per_user, what
        self.options = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                self.options[k.strip()] = v.strip()

    def opt(self, name, default=None):
        return self.options.get(name, default)


def debian_narrowed():
    with open(DEBIAN_CONF) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^skip_addresses\s*=.*$", "skip_addresses = 127.0.0.1/32", text)
    assert n == 1, "tests/data/config/debian-policyd-spf.conf has no skip_addresses line"
    return text


BASE = "debugLevel = 1\nskip_addresses = 127.0.0.1/32\n"
# Exact entries (both agree), a parent entry of sub.softfail.compat.test (spfgate covers it, pypolicyd-spf
# does not) and an entry below neutral.compat.test (pypolicyd-spf's inverted match covers neutral).
RNPD = "pass.compat.test,mail.compat.test,none.compat.test,helo-none.compat.test,softfail.compat.test," \
       "sub.neutral.compat.test"
FAST = BASE + "Lookup_Time = 1\n"
PER_USER_FILE = ("# tests/compat per-user settings (policyd-spf.peruser(5))\n"
                 "strict@example.net,PermError_reject=True|HELO_reject=SPF_Not_Pass|Mail_From_reject=SPF_Not_Pass\n"
                 "lax@example.net,Mail_From_reject=False|TestOnly=0\n")


def configs():
    debian = debian_narrowed()
    return [
        Config("debian", debian, what="Debian's policyd-spf.conf, skip_addresses narrowed"),
        Config("debian-default-text", debian, why_url=False, what="the same; spfgate without Why_URL"),
        Config("strict", FAST + "HELO_reject = SPF_Not_Pass\nMail_From_reject = SPF_Not_Pass\n"
               "PermError_reject = True\nTempError_Defer = True\n", timeouts=True),
        Config("prepend-all", FAST + "HELO_reject = False\nMail_From_reject = False\n"
               "PermError_reject = True\nTempError_Defer = True\n", timeouts=True,
               what="every result prepended (False cancels PermError_reject and TempError_Defer)"),
        Config("softfail", BASE + "HELO_reject = Softfail\nMail_From_reject = Softfail\nPermError_reject = True\n"),
        Config("ar", FAST + "Header_Type = AR\nAuthserv_Id = mx.compat.test\nHELO_reject = False\n"
               "Mail_From_reject = False\nWhitelist = 127.0.0.124/32\n", timeouts=True),
        Config("ar-reject", BASE + "Header_Type = AR\n", what="Authserv_Id = HOSTNAME (the default)"),
        Config("testonly", FAST + "TestOnly = 0\nPermError_reject = True\nTempError_Defer = True\n", timeouts=True),
        Config("header-none", BASE + "Header_Type = None\nWhitelist = 127.0.0.124/32\n"),
        Config("hide-receiver", BASE + "Hide_Receiver = Yes\ndefaultSeedOnly = 0\nUserID = pyspf-milter\n",
               what="with defaultSeedOnly (no effect) and a milter option"),
        Config("reject-not-pass", BASE + "Reject_Not_Pass_Domains = " + RNPD + "\n"),
        Config("reject-not-pass-ar", BASE + "Header_Type = AR\nAuthserv_Id = mx.compat.test\n"
               "HELO_reject = False\nMail_From_reject = False\nReject_Not_Pass_Domains = " + RNPD + "\n",
               what="the list overrides False"),
        Config("no-mail", BASE + "No_Mail = True\nHELO_reject = SPF_Not_Pass\nMail_From_reject = SPF_Not_Pass\n"),
        Config("restrictions", BASE + "HELO_pass_restriction = helo_passed_spf\n"
               "Mail_From_pass_restriction = mfrom_passed_spf\n"),
        Config("helo-restriction", BASE + "HELO_pass_restriction = helo_passed_spf\n"),
        Config("mfrom-restriction", BASE + "Mail_From_pass_restriction = mfrom_passed_spf\n"),
        Config("prospective", BASE + "Prospective = 127.0.0.120\n"),
        Config("prospective-nocheck", BASE + "Prospective = 127.0.0.121\nHELO_reject = No_Check\n"),
        Config("per-user", BASE + "Per_User = text,{PER_USER}\n", per_user=PER_USER_FILE),
        Config("codes-off", FAST + "SPF_Enhanced_Status_Codes = No\n"
               "Reason_Message = SPF {spf} - mail {rejectdefer} [{url}]\n"
               "PermError_reject = True\nTempError_Defer = True\n", timeouts=True),
        Config("bypass", BASE + "Whitelist = 127.0.0.124/32\nDomain_Whitelist = fwd.compat.test\n"
               "HELO_Whitelist = relay.compat.test\nDomain_Whitelist_PTR = trusted.compat.test\n"),
        Config("helo-null", BASE + "HELO_reject = Null\n"),
        Config("helo-nocheck", BASE + "HELO_reject = No_Check\n"),
        Config("mfrom-nocheck", BASE + "Mail_From_reject = No_Check\n"),
        Config("void-limit", BASE + "Void_Limit = 5\n"),
        Config("quiet", BASE + "debugLevel = 0\n"),
        Config("lenient-values", BASE + "PermError_reject = true\nMail_From_reject = softfail\n"
               "SPF_Enhanced_Status_Codes = no\nHide_Receiver = no\n", what="values in lower case"),
        Config("lenient-syntax", BASE + "Whitelist = 127.0.0.124/32, 127.0.0.123/32\n"
               "Reason_Message = Message {rejectdefer} (policy=strict) due to: {spf}. Please see {url}\n",
               what="a list with a space, a value with \"=\""),
        Config("mock-true", BASE + "Mock = True\n", stream=True),
        Config("mock-false", BASE + "Mock = False\n", stream=True),
        Config("spf-and-ar", BASE + "Header_Type = SPF,AR\nAuthserv_Id = mx.compat.test\n"),
    ]


# ---------------------------------------------------------------------------------------------------------
# What an answer says, for the matchers.
def spf_result(text):
    """The SPF result an answer or log text shows (Pass ... Temperror), or None."""
    if text is None:
        return None
    m = re.search(r"Received-SPF: (\w+) ", text) or re.search(r"; spf=(\w+) ", text)
    if m:
        return m.group(1).capitalize()
    if "SPF Temporary Error" in text:
        return "Temperror"
    if "SPF Permanent Error" in text:
        return "Permerror"
    return None


def header_identity(text):
    if text is None:
        return None
    if "identity=helo" in text or "smtp.helo=" in text:
        return "helo"
    if "identity=mailfrom" in text or "smtp.mailfrom=" in text:
        return "mailfrom"
    return None


def domain_of(sender):
    return sender.split("@", 1)[1] if "@" in sender else sender


class Context:
    """One compared pair: the request, its config, both texts (answers, or log lines for kind 'log')."""

    def __init__(self, config, session, position, attrs, py, sg, kind="answer"):
        self.config, self.session, self.position, self.attrs = config, session, position, attrs
        self.py, self.sg, self.kind = py, sg, kind

    @property
    def helo(self):
        return (self.attrs or {}).get("helo_name")

    @property
    def sender(self):
        return (self.attrs or {}).get("sender", "")


def rnpd_differs(c):
    """Reject_Not_Pass_Domains: does pypolicyd-spf's inverted match disagree with spfgate's?"""
    entries = [e for e in (c.config.opt("Reject_Not_Pass_Domains") or "").split(",") if e]
    if not entries or c.attrs is None:
        return False

    def py(d):   # spf.domainmatch(list, d): an entry equals d, or an entry ends with "." + d
        return any(e == d or e.endswith("." + d) for e in entries)

    def sg(d):   # the entry is d or one of its parent domains
        return any(d == e or d.endswith("." + e) for e in entries)

    helo = (c.helo or "").lower()
    sender = c.sender.lower()
    # pypolicyd-spf matches the part after "@" (nothing for a sender without "@", whose whole text SPF
    # checks as the domain); spfgate matches the domain SPF checked.
    pairs = [(helo, helo)]
    if sender:
        pairs.append((sender.split("@", 1)[1] if "@" in sender else "", domain_of(sender)))
    return any(py(p) != sg(s) for p, s in pairs)


URL_TAIL = re.compile(r" Please see http://www\.openspf\.net/Why\?s=(helo|mfrom);id=[^;]*;ip=[^;]*;r=\S*$")


class Difference:
    def __init__(self, key, pypolicyd, spfgate, kind, match=None, note=""):
        self.key, self.pypolicyd, self.spfgate, self.kind = key, pypolicyd, spfgate, kind
        self.match, self.note = match, note
        self.count, self.example = 0, None

    def row(self):
        return "| %s | %s |" % (self.pypolicyd, self.spfgate)


def crash_match(c):
    if c.kind != "answer":
        return False
    if c.py is not None:
        # Mail_From_reject = No_Check does not crash on a missing sender: it writes Python's None.
        return c.session.name == "no-sender" and "envelope-from=None;" in c.py and \
            c.sg == c.py.replace("envelope-from=None;", "envelope-from=<>;")
    if "crash" in c.session.tags and c.sg is not None:
        # A bad client_address is answered dunno; a missing helo_name or sender is taken as an empty one:
        # no HELO identity is checked without a HELO, and a missing sender is the null sender.
        if c.session.name == "bad-client":
            return c.sg == "dunno"
        if c.session.name == "no-helo":
            return "identity=helo" not in c.sg and "smtp.helo=" not in c.sg
        if c.session.name == "no-sender":
            return "envelope-from=" not in c.sg or "envelope-from=<>;" in c.sg
    return False


def both_headers_match(c):
    """Header_Type = SPF,AR: pypolicyd-spf crashes at the first SPF check and writes only the AR form of a
    bypass header; spfgate gives both headers, one per answer (the second with the next recipient)."""
    ht = c.config.opt("Header_Type") or ""
    if not ("SPF" in ht and "AR" in ht) or c.sg is None or c.kind != "answer":
        return False
    if c.py is None:
        return True
    return (c.py.startswith("prepend Authentication-Results: ") or c.py == "dunno") and \
        c.sg.startswith("prepend ") and c.sg != c.py


def mapped_client_match(c):
    """An IPv4-mapped client inside an IPv4 entry of skip_addresses or Whitelist: pypolicyd-spf's
    IPv4Network never contains an IPv6Address, so it checks SPF (as IPv4); spfgate bypasses."""
    client = (c.attrs or {}).get("client_address", "")
    if not client.startswith("::ffff:") or c.py is None or c.sg is None:
        return False
    ip = ipaddress.ip_address(client[len("::ffff:"):])
    nets = []
    for option in ("skip_addresses", "Whitelist"):
        for entry in (c.config.opt(option) or "").split(","):
            try:
                nets.append(ipaddress.ip_network(entry.strip()))
            except ValueError:
                pass
    if not any(n.version == 4 and ip in n for n in nets):
        return False
    bypass = ("SPF check N/A for local connections", "SPF skipped for whitelisted relay")
    return not any(b in c.py for b in bypass) and (any(b in c.sg for b in bypass) or c.sg == "dunno")


def quoting_match(c):
    if "quoting" not in c.session.tags or c.py is None or c.sg is None:
        return False
    v = c.sender
    return c.sg == c.py.replace("envelope-from=%s;" % v, 'envelope-from="%s";' % v)


def expected_receiver(attrs):
    """receiver= with Hide_Receiver = No: the recipient's domain, the recipient without "@", or "none"."""
    rcpt = (attrs or {}).get("recipient") or "none"
    return rcpt.lower().split("@", 1)[1] if "@" in rcpt else rcpt.lower()


def lenient_match(c):
    """Values pypolicyd-spf's parser gets wrong, which spfgate takes as meant."""
    if c.kind == "log-extra" and c.config.name == "lenient-syntax" and c.py is not None:
        # What pypolicyd-spf logs about them: the line with "=" (at start-up), the list with a space (when a
        # client reaches the broken entry).
        return c.py.startswith('ERROR parsing line "Reason_Message = ') or \
            c.py.startswith("ERROR:  127.0.0.123/32 in Whitelist not IP network.")
    if c.py is None or c.sg is None:
        return False
    if c.config.name == "lenient-values":
        # SPF_Enhanced_Status_Codes = no and Hide_Receiver = no: pypolicyd-spf keeps the codes and hides the
        # receiver (only exactly "No" counts).
        receiver = expected_receiver(c.attrs)
        py = re.sub(r"^550 5\.7\.2[34] ", "550 ", c.py)
        py = py.replace("receiver=<UNKNOWN>", "receiver=" + receiver).replace(";r=<UNKNOWN>", ";r=" + receiver)
        py = re.sub(r"^defer_if_permit 4\.7\.24 ", "defer_if_permit ", py)
        if "quoting" in c.session.tags:
            py = py.replace("envelope-from=%s;" % c.sender, 'envelope-from="%s";' % c.sender)
        if py == c.sg:
            return True
        # PermError_reject = true and Mail_From_reject = softfail: spfgate rejects what pypolicyd-spf prepends
        # (or answers dunno for, after its header).
        rejected = c.sg.startswith("550 ") and not c.sg.startswith("550 5.7.2")
        return rejected and (spf_result(py) in ("Permerror", "Fail", "Softfail") and header_identity(py) == "mailfrom"
                             or spf_result(py) == "Permerror" or c.position > 0 and c.py == "dunno")
    if c.config.name == "lenient-syntax":
        # "Whitelist = a, b": pypolicyd-spf stops at the space; spfgate whitelists 127.0.0.123.
        if c.attrs.get("client_address") == "127.0.0.123" and "SPF skipped for whitelisted relay" in c.sg:
            return True
        # A Reason_Message with "=": pypolicyd-spf skips the line and uses its default text.
        return c.sg == c.py.replace("Message rejected due to:", "Message rejected (policy=strict) due to:")
    return False


# The documented differences. The README's table in "Migrating from pypolicyd-spf" lists exactly these rows
# (checked by test_readme_table). kind: "answer" (seen in answers, and in the log lines that repeat them),
# "log" (seen in log lines only), or "not compared" (a unit test or the design covers it; listed so that
# the table and this list stay the same).
DIFFERENCES = [
    Difference(
        "cache-code",
        "the second recipient's `550 5.7.24` (permerror) becomes `5.7.23`",
        "the same text for every recipient", "answer",
        lambda c: c.position > 0 and c.py is not None and c.sg is not None and c.py.startswith("550 5.7.23 ")
        and c.sg == "550 5.7.24 " + c.py[len("550 5.7.23 "):]),
    Difference(
        "mock",
        "`Mock = False` turns Mock **on**; mock answers are never flushed",
        "only a true value turns it on", "answer",
        lambda c: c.config.opt("Mock") == "False" and c.py == MOCK_TEXT and c.sg != MOCK_TEXT
        or c.config.opt("Mock") is not None and c.kind == "flush" and c.py is None and c.sg is not None),
    Difference(
        "restriction-none",
        "only `HELO_pass_restriction` set and both identities pass: `action=None`",
        "answers that restriction", "answer",
        lambda c: c.py == "None" and c.config.opt("HELO_pass_restriction")
        and not c.config.opt("Mail_From_pass_restriction") and c.sg == c.config.opt("HELO_pass_restriction")),
    Difference(
        "servfail",
        'SERVFAIL/REFUSED are taken as "no record" (`None`; an `include:` of such a domain gives `Permerror`)',
        "`temperror` (so `TempError_Defer` works)", "answer",
        lambda c: "servfail" in c.session.tags and spf_result(c.py) in (None, "None", "Permerror")
        and (spf_result(c.sg) == "Temperror" or c.sg == "dunno" or c.sg is None)),
    Difference(
        "empty-helo",
        "an empty HELO makes the sender's domain be checked and rejected as `s=helo`",
        "no HELO check without a HELO", "answer",
        lambda c: "empty-helo" in c.session.tags and c.helo == "" and c.sender != ""
        and ("s=helo;" in (c.py or "") or header_identity(c.py) == "helo"
             or c.py in ("None", c.config.opt("HELO_pass_restriction")))),
    Difference(
        "reject-not-pass",
        "`Reject_Not_Pass_Domains` matching is inverted (a parent entry misses subdomains) and a sender without "
        "`@` is never listed",
        "an entry covers its subdomains", "answer", rnpd_differs),
    Difference(
        "ptr-whitelist",
        "`Domain_Whitelist_PTR`: first PTR name, not confirmed, plain suffix (`untrusted.example.net` matches "
        "`trusted.example.net`)",
        "forward-confirmed names, all of them, label boundaries", "answer",
        lambda c: "ptr" in c.session.tags and c.config.opt("Domain_Whitelist_PTR")
        and "SPF skipped for PTR whitelisted relay domain" in (c.py or "")
        and "SPF skipped for PTR whitelisted relay domain" not in (c.sg or "")),
    Difference(
        "cve-2019-20790",
        "MAIL FROM `none` with a HELO result prepends the **HELO** header (CVE-2019-20790 with OpenDMARC)",
        "always the MAIL FROM header (`identity=mailfrom`)", "answer",
        lambda c: "cve" in c.session.tags and header_identity(c.py) == "helo"
        and header_identity(c.sg) == "mailfrom" and spf_result(c.sg) == "None"),
    Difference(
        "lookup-time",
        "`Lookup_Time` spent twice (HELO, then MAIL FROM): up to 40 s",
        "both at once, within one `Lookup_Time`", "not compared",
        note="a timing (session helo-mfrom-temperror: 2 x Lookup_Time against 1 x); timings are not pass/fail"),
    Difference(
        "no-mail-defer",
        "`No_Mail` also cancels a `TempError_Defer` deferral (no record could be read, so none was cached)",
        "`No_Mail` narrows rejects only; a deferral stands", "not compared",
        note="tests/unit/spf_policy_test.cpp NoMailNarrowsRejectsButNotDeferrals; the no-mail configuration "
             "does not defer"),
    Difference(
        "default-text",
        "replies point at the dead `http://www.openspf.net/Why`",
        "no URL unless `Why_URL` is set (`Why_URL = http://www.openspf.net/Why` restores the old text)", "answer",
        lambda c: not c.config.why_url and c.py is not None and c.sg is not None
        and URL_TAIL.search(c.py) is not None and URL_TAIL.sub("", c.py) == c.sg),
    Difference(
        "crash",
        "crashes on a missing `helo_name` or `sender`, a bad `client_address`, `Header_Type = SPF,AR`, a bad "
        "per-user line, a bad number in the file",
        "a missing `helo_name` or `sender` is an empty one; a bad `client_address` gets `dunno` and a log line; "
        "`SPF,AR` gives both headers; file errors are reported with their line at start-up", "answer",
        lambda c: crash_match(c) or both_headers_match(c)),
    Difference(
        "config-syntax",
        "a value containing `=` or `, ` breaks the line or the list; values are case-sensitive "
        "(`PermError_reject = true`, `Mail_From_reject = softfail` are ignored, `Hide_Receiver = no` hides)",
        "accepted; values in any case", "answer", lenient_match),
    Difference(
        "cache-bound",
        "the instance cache grows for the life of the process",
        "bounded", "not compared", note="unit test MessageCache (tests/unit/engine_test.cpp)"),
    Difference(
        "default-seed-only",
        "`defaultSeedOnly` logs an error on every request",
        "a notice at start-up", "log",
        lambda c: c.kind == "log-extra" and c.py is not None
        and c.py.startswith("WARNING: Deprecated Config Option defaultSeedOnly in use in: ")),
    Difference(
        "per-user-file",
        "`TestOnly` refused in per-user files; the per-user file is re-read for every request",
        "accepted; reloaded when it changes", "log",
        lambda c: c.kind == "log-extra" and c.py is not None
        and re.fullmatch(r'ERROR: Unknown name "TestOnly" in file "\S+" in per user settings', c.py) is not None),
    Difference(
        "testonly-log",
        "`TestOnly = 0` logs nothing for a would-be reject or deferral",
        'logs `TestOnly: would have answered "…"`', "log",
        lambda c: c.kind == "log" and c.py is None and c.sg is not None
        and c.sg.startswith("TestOnly: would have answered ")),
    Difference(
        "empty-queue-id",
        "log lines start with `: ` when Postfix sends an empty queue_id",
        "no prefix then", "log",
        lambda c: c.kind == "log" and c.py is not None and c.sg is not None and c.py == ": " + c.sg),
    Difference(
        "mapped-client",
        "IPv4 entries of `skip_addresses` and `Whitelist` never match an IPv4-mapped client (`::ffff:192.0.2.1`), "
        "which SPF then checks as IPv4",
        "they match it", "answer", mapped_client_match),
    Difference(
        "stage",
        "prepends at every protocol stage, also where Postfix ignores a PREPEND (after the message, outside a "
        "transaction)",
        "`dunno` outside MAIL, RCPT and DATA; the header goes out with the message's next request", "answer",
        lambda c: "stage" in c.session.tags and (c.attrs or {}).get("protocol_state") not in ("MAIL", "RCPT", "DATA")
        and c.sg == "dunno" and (c.py or "").startswith("prepend ")),
    Difference(
        "quoting",
        "never quotes header values (a crafted sender can inject `; identity=…`)",
        "values that are not plain tokens are quoted", "answer", quoting_match),
]


# ---------------------------------------------------------------------------------------------------------
# Plumbing: the syslog sink, the namespace wrapper, one program over a pipe.
class LogSink:
    """Datagram sockets (one per program run) read by one thread; /dev/log of a namespace points at one."""

    def __init__(self, directory):
        self.directory = directory
        self.sel = selectors.DefaultSelector()
        self.messages = {}
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def socket(self, label):
        path = os.path.join(self.directory, "log-%s.sock" % label)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(path)
        os.chmod(path, 0o666)
        s.setblocking(False)
        with self.lock:
            self.messages[label] = []
        self.sel.register(s, selectors.EVENT_READ, label)
        return path

    def _drain(self, sock, label):
        # Under self.lock, so that the reader thread and lines() keep the datagrams in order.
        try:
            while True:
                self.messages[label].append(sock.recv(65536).decode("utf-8", "replace"))
        except BlockingIOError:
            pass

    def _run(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.1):
                with self.lock:
                    self._drain(key.fileobj, key.data)

    def lines(self, label):
        """Every datagram received so far (the programs have exited: everything they sent is queued)."""
        with self.lock:
            for key in self.sel.get_map().values():
                if key.data == label:
                    self._drain(key.fileobj, label)
            return list(self.messages[label])

    def close(self):
        self.stopping = True
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


SYSLOG_LINE = re.compile(r"^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) ([^\s\[]+)\[(\d+)\]: (.*)$", re.S)


def namespace_command(argv, workdir, resolv_conf, log_socket):
    """argv run in a private mount namespace: /etc/resolv.conf = resolv_conf, /dev/log -> log_socket."""
    hostdev = os.path.join(workdir, "hostdev")
    script = "\n".join([
        "set -e",
        "mount --bind %s /etc/resolv.conf" % shlex.quote(resolv_conf),
        "mount --bind /dev %s" % shlex.quote(hostdev),
        "mount -t tmpfs -o mode=0755,size=64k spfgate-compat-dev /dev",
        "for n in null zero random urandom; do : > /dev/$n; mount --bind %s/$n /dev/$n; done" % shlex.quote(hostdev),
        "ln -s /proc/self/fd /dev/fd",
        "ln -s %s /dev/log" % shlex.quote(log_socket),
        'exec "$@"',
    ])
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"] + list(argv)


class Program:
    """One policy server on stdin/stdout, as spawn(8) runs it; restarted when it dies."""

    def __init__(self, name, argv, workdir, merge_stderr):
        self.name, self.argv, self.workdir, self.merge_stderr = name, argv, workdir, merge_stderr
        self.proc = None
        self.buffer = b""
        self.starts = 0
        self.stderr_path = os.path.join(workdir, "%s.stderr" % name)
        self.exits = []

    def start(self):
        self.stop()
        self.starts += 1
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT if self.merge_stderr else self.stderr_file,
                                     env=SPAWN_ENV)
        self.buffer = b""

    def _read_reply(self, deadline):
        fd = self.proc.stdout.fileno()
        while True:
            end = self.buffer.find(b"\n\n")
            if end >= 0:
                reply, self.buffer = self.buffer[:end], self.buffer[end + 2:]
                return reply.decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(timeout=left)
            sel.close()
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk

    @staticmethod
    def _answer(reply):
        if reply is None:
            return None
        if not reply.startswith("action=") or "\n" in reply:
            return "<malformed reply %r>" % reply
        return reply[len("action="):]

    def ask(self, text, timeout=ANSWER_TIMEOUT):
        """The answer (text after "action="), or None when the program ended without answering."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._reap()
            return None
        reply = self._read_reply(time.monotonic() + timeout)
        if reply is None:
            self._reap()
        return self._answer(reply)

    def stream(self, texts, first_answer_wait=1.0):
        """Writes every request, waits up to first_answer_wait for the first answer, then closes stdin and
        reads every answer. Returns (answers, whether the first answer came before stdin was closed)."""
        self.start()
        self.proc.stdin.write(b"".join(t if isinstance(t, bytes) else t.encode("utf-8") for t in texts))
        self.proc.stdin.flush()
        first = self._read_reply(time.monotonic() + first_answer_wait)
        self.proc.stdin.close()
        answers = [first] if first is not None else []
        while len(answers) < len(texts):
            reply = self._read_reply(time.monotonic() + ANSWER_TIMEOUT)
            if reply is None:
                break
            answers.append(reply)
        self._reap()
        return [self._answer(a) for a in answers] + [None] * (len(texts) - len(answers)), first is not None

    def _reap(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        rest = self.proc.stdout.read()
        self.proc.stdout.close()
        self.stderr_file.close()
        self.exits.append((rc, self.buffer + rest))
        self.proc = None

    def stop(self):
        self._reap()


# ---------------------------------------------------------------------------------------------------------
class Run:
    """One config: both programs, the corpus, their answers and log lines."""

    def __init__(self, index, config, env):
        self.index, self.config, self.env = index, config, env
        self.cases = []    # (session, position, attrs, text, qid)
        self.py, self.sg = [], []
        self.py_first_early = self.sg_first_early = None
        self.elapsed = {}
        self.times = []   # (pypolicyd-spf, spfgate) seconds per request, lock-step runs only

    def build(self):
        n = 0
        for si, session in enumerate(CORPUS):
            if "timeout" in session.tags and not self.config.timeouts:
                continue
            for pos, r in enumerate(session.requests):
                n += 1
                qid = "C%02X%03X" % (self.index, n)
                if isinstance(r, str):
                    self.cases.append((session, pos, None, r, qid))
                    continue
                attrs, text = request_text(r, qid, "compat.%d.%d" % (self.index, si))
                if "crlf" in session.tags:
                    text = text.replace("\n", "\r\n")
                if "latin1" in session.tags:
                    text = text.encode("iso-8859-1")
                self.cases.append((session, pos, attrs, text, qid))

    def execute(self):
        env, cfg = self.env, self.config
        d = os.path.join(env.workdir, cfg.name)
        os.makedirs(d)
        text = cfg.text
        if cfg.per_user:
            pu = os.path.join(d, "peruser")
            with open(pu, "w") as f:
                f.write(cfg.per_user)
            text = text.replace("{PER_USER}", pu)
        conf = os.path.join(d, "policyd-spf.conf")
        with open(conf, "w") as f:
            f.write(text)
        self.conf_path = conf
        self.py_log = "%02d-py" % self.index
        self.sg_log = "%02d-sg" % self.index
        py_argv = namespace_command([POLICYD, conf], env.workdir, env.resolv_conf, env.sink.socket(self.py_log))
        sg_args = [harness.BIN, "--spawn", "--log=syslog", "--syslog-ident=policyd-spf"] + harness.resolver_args()
        if cfg.why_url:
            sg_args.append("--Why_URL=" + WHY_URL)
        sg_args.append(conf)
        sg_argv = namespace_command(sg_args, env.workdir, env.resolv_conf, env.sink.socket(self.sg_log))
        py = Program("%s-pypolicyd" % cfg.name, py_argv, d, merge_stderr=False)
        # spawn(8) connects stderr to the same socket: merged, so anything but replies breaks the parse.
        sg = Program("%s-spfgate" % cfg.name, sg_argv, d, merge_stderr=True)
        texts = [c[3] for c in self.cases]
        if cfg.stream:
            t0 = time.monotonic()
            self.py, self.py_first_early = py.stream(texts)
            t1 = time.monotonic()
            self.sg, self.sg_first_early = sg.stream(texts)
            self.elapsed = {"py": t1 - t0, "sg": time.monotonic() - t1}
            return
        self.elapsed = {"py": 0.0, "sg": 0.0}
        for session, pos, attrs, text, qid in self.cases:
            if pos == 0 and "timeout" in session.tags:
                sg.stop()  # a fresh resolver: libunbound fails a zone it saw time out at once (SERVFAIL)
            t0 = time.monotonic()
            self.py.append(py.ask(text))
            t1 = time.monotonic()
            self.sg.append(sg.ask(text))
            t2 = time.monotonic()
            self.elapsed["py"] += t1 - t0
            self.elapsed["sg"] += t2 - t1
            self.times.append((t1 - t0, t2 - t1))
        py.stop()
        sg.stop()
        self.py_exits, self.sg_exits = py.exits, sg.exits
        self.py_starts, self.sg_starts = py.starts, sg.starts


class Env:
    pass


def free_port53(address):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, 53))
        except OSError:
            return False
        finally:
            s.close()
    return True


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def logcheck_regex():
    rule = LOGCHECK_RULE_COPY
    if os.path.exists(LOGCHECK_RULE):
        with open(LOGCHECK_RULE) as f:
            lines = [l.rstrip("\n") for l in f if "policyd-spf" in l and "Received-SPF" in l]
        if lines:
            rule = lines[0]
    # POSIX classes (egrep) to Python.
    for posix, py in (("[:digit:]", "0-9"), ("[:alnum:]", "a-zA-Z0-9"), ("[:space:]", r"\s")):
        rule = rule.replace(posix, py)
    return re.compile(rule)


RESULT_LINE = re.compile(r"^(?:[^\s:]*: )?(?:prepend |550 |defer_if_permit|result_only |Header field not prepended: "
                         r"|TestOnly: would have answered )")


class CompatTest(unittest.TestCase):
    """The whole comparison runs once (setUpClass); the test methods check its parts."""

    @classmethod
    def setUpClass(cls):
        cls.failures = []
        d = harness.TESTDNS_DIR
        if not d or not os.path.exists(os.path.join(d, "env")):
            raise unittest.SkipTest("no test DNS") if os.environ.get("SPFGATE_COMPAT_OPTIONAL") else \
                AssertionError("SPFGATE_TESTDNS_DIR is not set or has no env file: run through ctest (fixture testdns)")
        rig = read_env(os.path.join(d, "env"))
        if not rig.get("TESTDNS_RESOLVER_ADDR"):
            raise AssertionError(
                "the test DNS runs without its unbound daemon (TESTDNS_RESOLVER_ADDR is empty in %s/env), and "
                "pypolicyd-spf can only resolve through /etc/resolv.conf: testdns.py --try-unbound needs root and "
                "a free 127.0.0.153-157:53 (see %s/logs/unbound.log)" % (d, d))
        if os.geteuid() != 0:
            raise AssertionError("the side-by-side test needs root (private mount namespaces, port 53 on loopback)")
        if not os.access(POLICYD, os.X_OK):
            raise AssertionError("%s is missing: apt-get install postfix-policyd-spf-python" % POLICYD)
        env = cls.env = Env()
        env.workdir = tempfile.mkdtemp(prefix="spfgate-compat-")
        os.makedirs(os.path.join(env.workdir, "hostdev"))
        env.sink = LogSink(env.workdir)
        # The forwarder in front of the rig's daemon (see the module comment).
        env.forwarder = None
        for address in FORWARDER_ADDRESSES:
            if not free_port53(address):
                continue
            port_file = os.path.join(env.workdir, "forwarder.port")
            proc = subprocess.Popen(
                [PYTHON, DNSPROXY, "--listen", address + ":53", "--upstream", rig["TESTDNS_RESOLVER_ADDR"] + ":53",
                 "--rule", "drop.test=drop", "--log", os.path.join(env.workdir, "forwarder.log"),
                 "--port-file", port_file],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(env.workdir, "forwarder.err"), "wb"))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not os.path.exists(port_file) and proc.poll() is None:
                time.sleep(0.02)
            if os.path.exists(port_file):
                env.forwarder = proc
                env.forwarder_address = address
                break
            proc.kill()
            proc.wait()
        if env.forwarder is None:
            raise AssertionError("no free port 53 on %s-%s for the forwarder" %
                                 (FORWARDER_ADDRESSES[0], FORWARDER_ADDRESSES[-1]))
        env.resolv_conf = os.path.join(env.workdir, "resolv.conf")
        with open(env.resolv_conf, "w") as f:
            f.write("# tests/compat: the forwarder in front of the test DNS's unbound daemon\n"
                    "nameserver %s\n" % env.forwarder_address)
        t0 = time.monotonic()
        cls.runs = [Run(i, c, env) for i, c in enumerate(configs())]
        for r in cls.runs:
            r.build()
        # Configs are independent: run them side by side (mostly waiting on DNS and pipes).
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for f in [pool.submit(r.execute) for r in cls.runs]:
                f.result()
        cls.elapsed = time.monotonic() - t0
        for r in cls.runs:
            r.py_lines = [cls.parse_syslog(m) for m in env.sink.lines(r.py_log)]
            r.sg_lines = [cls.parse_syslog(m) for m in env.sink.lines(r.sg_log)]
        cls.compare()

    @classmethod
    def tearDownClass(cls):
        env = getattr(cls, "env", None)
        if env is None:
            return
        if env.forwarder is not None:
            env.forwarder.terminate()
            env.forwarder.wait(timeout=10)
        env.sink.close()
        cls.report()
        if not cls.failures and not os.environ.get("SPFGATE_COMPAT_KEEP"):
            shutil.rmtree(env.workdir, ignore_errors=True)
        else:
            print("work directory kept: %s" % env.workdir)

    @staticmethod
    def parse_syslog(message):
        m = SYSLOG_LINE.match(message)
        if not m:
            return {"raw": message, "msg": message, "ident": None, "pid": None, "stamp": None}
        return {"raw": message, "pri": int(m.group(1)), "stamp": m.group(2), "ident": m.group(3),
                "pid": m.group(4), "msg": m.group(5)}

    # ----- the comparison -----------------------------------------------------------------------------
    @classmethod
    def accept(cls, c):
        for d in DIFFERENCES:
            if d.match is None:
                continue
            try:
                ok = d.match(c)
            except Exception:  # a matcher must not hide a difference by crashing
                ok = False
            if ok:
                d.count += 1
                if d.example is None:
                    d.example = c
                return d
        return None

    @classmethod
    def compare(cls):
        cls.answer_rows = []     # (run, case, py, sg, difference or None)
        cls.log_problems = []
        cls.total = 0
        for run in cls.runs:
            for i, (session, pos, attrs, text, qid) in enumerate(run.cases):
                py, sg = run.py[i], run.sg[i]
                cls.total += 1
                if py == sg:
                    continue
                c = Context(run.config, session, pos, attrs, py, sg)
                d = cls.accept(c)
                cls.answer_rows.append((run, (session, pos, attrs, text, qid), py, sg, d))
                if d is None:
                    cls.failures.append("%s / %s #%d: pypolicyd-spf %r, spfgate %r" %
                                        (run.config.name, session.name, pos + 1, py, sg))
            if run.config.stream and run.py_first_early != run.sg_first_early:
                # Whether the first answer came before stdin was closed (the requests were all written).
                c = Context(run.config, FIRST_ANSWER, 0, {}, run.py[0] if run.py_first_early else None,
                            run.sg[0] if run.sg_first_early else None, kind="flush")
                d = cls.accept(c)
                if d is None:
                    cls.failures.append("%s: answers before EOF: pypolicyd-spf %s, spfgate %s" %
                                        (run.config.name, run.py_first_early, run.sg_first_early))
            cls.compare_logs(run)

    @classmethod
    def compare_logs(cls, run):
        """Per request, pypolicyd-spf's result lines against spfgate's, and Debian's logcheck rule on both.

        Every request of the corpus carries its own queue_id, so its lines are the ones "<queue_id>: ...";
        the lines of the requests with an empty or no queue_id are taken in order."""
        qids = {case[4]: i for i, case in enumerate(run.cases)}
        py_req = [[] for _ in run.cases]
        sg_req = [[] for _ in run.cases]
        py_other = []
        for lines, per_request, other in ((run.py_lines, py_req, py_other), (run.sg_lines, sg_req, None)):
            unlabelled = []
            for line in lines:
                msg = line["msg"]
                m = re.match(r"^([0-9A-F]+): ", msg)
                if m and m.group(1) in qids:
                    per_request[qids[m.group(1)]].append(msg)
                elif RESULT_LINE.match(msg):
                    unlabelled.append(msg)
                elif other is not None:
                    other.append(msg)
            answers = run.py if per_request is py_req else run.sg
            for i, case in enumerate(run.cases):
                if case[2] is None or case[2].get("queue_id") not in ("", None):
                    continue
                if unlabelled and cls.belongs(unlabelled[0], answers[i]):
                    per_request[i].append(unlabelled.pop(0))
            for msg in unlabelled:
                cls.log_problems.append("%s: %s result line of no request: %r" %
                                        (run.config.name, "pypolicyd-spf" if other is not None else "spfgate", msg))
        for line in run.py_lines + run.sg_lines:
            if line["ident"] != "policyd-spf":
                cls.log_problems.append("%s: a log line without ident policyd-spf[pid]: %r" %
                                        (run.config.name, line["raw"]))
        rx = logcheck_regex()
        run.logcheck_matches = 0
        for i, (session, pos, attrs, _, qid) in enumerate(run.cases):
            pl, sl = py_req[i], sg_req[i]
            prefix = qid + ": "
            for k in range(max(len(pl), len(sl))):
                p = pl[k] if k < len(pl) else None
                s = sl[k] if k < len(sl) else None
                p_text = p[len(prefix):] if p is not None and p.startswith(prefix) else p
                s_text = s[len(prefix):] if s is not None and s.startswith(prefix) else s
                if p_text != s_text:
                    cls.log_difference(run, session, pos, attrs, p_text, s_text, run.py[i], run.sg[i])
            # Debian's logcheck rule, on the lines as rsyslog writes them to mail.log.
            pm = [rx.search(cls.file_line(line)) is not None for line in pl]
            sm = [rx.search(cls.file_line(line)) is not None for line in sl]
            run.logcheck_matches += sum(sm)
            if pm != sm and run.py[i] == run.sg[i] and pl and sl:
                cls.log_problems.append("%s / %s #%d: the logcheck rule matches pypolicyd-spf's lines %s, "
                                        "spfgate's %s: %r" % (run.config.name, session.name, pos + 1, pm, sm, sl))
        # pypolicyd-spf's other lines (errors, tracebacks) must be explained too.
        for msg in py_other:
            c = Context(run.config, LOG_ONLY, 0, {}, msg, None, kind="log-extra")
            if cls.accept(c) is None and not cls.crash_log(run, msg):
                cls.log_problems.append("%s: unexplained pypolicyd-spf log line %r" % (run.config.name, msg))

    @staticmethod
    def file_line(msg, pid="4242"):
        # As rsyslog writes it to /var/log/mail.log (the lines logcheck reads).
        return "Nov 23 14:11:40 mx policyd-spf[%s]: %s" % (pid, msg)

    @staticmethod
    def belongs(line, answer):
        """Whether a result line without a queue_id is the one of a request with this answer."""
        text = line[2:] if line.startswith(": ") else line
        if answer is None or answer.startswith("dunno"):
            return text.startswith("Header field not prepended: ") or text.startswith("TestOnly: would have answered ")
        return text == answer or text == "result_only " + answer

    @classmethod
    def crash_log(cls, run, msg):
        """A traceback chunk of a crash the answers already showed (accepted there)."""
        crashed = any(a is None for a in run.py)
        m = msg.strip()
        return crashed and (m.startswith("Traceback") or msg.startswith("  ") or m == ""
                            or re.match(r"^[\w.]+(Error|Exception)\b", m) is not None
                            or m.startswith("ERROR: ") and "not IP network" in m and "'bogus'" in m
                            or m.startswith("Header_Type includes both SPF and AR")
                            or m.startswith("During handling") or m.startswith("The above exception"))

    @classmethod
    def log_difference(cls, run, session, pos, attrs, p, s, py_answer, sg_answer):
        # The same request's answers differed by a documented difference: so may its log lines.
        if py_answer != sg_answer:
            d = cls.accept(Context(run.config, session, pos, attrs, py_answer, sg_answer))
            if d is not None:
                return
        d = cls.accept(Context(run.config, session, pos, attrs, p, s, kind="log"))
        if d is None:
            for strip in ("Header field not prepended: ",):
                if p and s and p.startswith(strip) and s.startswith(strip):
                    d = cls.accept(Context(run.config, session, pos, attrs, p[len(strip):], s[len(strip):]))
        if d is None:
            cls.log_problems.append("%s / %s #%d: log pypolicyd-spf %r, spfgate %r" %
                                    (run.config.name, session.name, pos + 1, p, s))

    @classmethod
    def report(cls):
        out = []
        runs = getattr(cls, "runs", [])
        out.append("")
        out.append("side by side: %d configs, %d sessions, %d requests compared in %.1f s" %
                   (len(runs), len(CORPUS), getattr(cls, "total", 0), getattr(cls, "elapsed", 0.0)))
        for r in runs:
            out.append("  %-22s %3d requests  pypolicyd-spf %5.2f s (%d start%s)  spfgate %5.2f s  %s" %
                       (r.config.name, len(r.cases), r.elapsed.get("py", 0), getattr(r, "py_starts", 1),
                        "" if getattr(r, "py_starts", 1) == 1 else "s", r.elapsed.get("sg", 0), r.config.what))
        slow = [(r.config.name, r.times[i]) for r in runs if r.times for i, case in enumerate(r.cases)
                 if case[0].name == "helo-mfrom-temperror"]
        if slow:
            out.append("  HELO and MAIL FROM both timing out (Lookup_Time = 1; shown, not checked): " +
                       ", ".join("%s %.1f s / %.1f s" % (n, t[0], t[1]) for n, t in slow) +
                       " (pypolicyd-spf / spfgate)")
        out.append("")
        out.append("accepted differences (README, Migrating from pypolicyd-spf):")
        out.append("  %-18s %-12s %6s  %s" % ("difference", "seen in", "count", "example"))
        for d in DIFFERENCES:
            ex = ""
            if d.example is not None:
                c = d.example
                ex = "%s/%s: %r -> %r" % (c.config.name, c.session.name, (c.py or "")[:70], (c.sg or "")[:70])
            elif d.note:
                ex = d.note
            out.append("  %-18s %-12s %6s  %s" % (d.key, d.kind, d.count if d.kind != "not compared" else "-", ex))
        problems = cls.failures + getattr(cls, "log_problems", [])
        out.append("")
        out.append("unexplained differences: %d" % len(problems))
        out.extend("  " + p for p in problems[:200])
        text = "\n".join(out)
        print(text)
        env = getattr(cls, "env", None)
        if env is not None:
            with open(os.path.join(env.workdir, "transcript.txt"), "w") as f:
                f.write(text + "\n\naccepted answer differences:\n")
                for run, case, py, sg, d in getattr(cls, "answer_rows", []):
                    f.write("  [%s] %s / %s #%d\n    py %r\n    sg %r\n" %
                            (d.key if d else "UNEXPLAINED", run.config.name, case[0].name, case[1] + 1, py, sg))
                f.write("\n")
                for r in runs:
                    f.write("=== %s\n%s\n" % (r.config.name, r.config.text))
                    for i, case in enumerate(r.cases):
                        f.write("%s %s #%d\n  py %r\n  sg %r\n" % (case[4], case[0].name, case[1] + 1,
                                                                  r.py[i] if i < len(r.py) else None,
                                                                  r.sg[i] if i < len(r.sg) else None))
                    f.write("--- pypolicyd-spf log\n" + "".join("  %s\n" % l["raw"] for l in r.py_lines))
                    f.write("--- spfgate log\n" + "".join("  %s\n" % l["raw"] for l in r.sg_lines))

    # ----- the checks ---------------------------------------------------------------------------------
    def test_answers(self):
        """Every answer is pypolicyd-spf's, or differs by a documented difference."""
        self.assertEqual(self.failures, [], "unexplained answer differences (see the report above)")

    def test_logs(self):
        """Result log lines match per request; the logcheck rule matches spfgate's mailfrom lines."""
        self.assertEqual(self.log_problems, [], "unexplained log differences (see the report above)")
        self.assertGreater(sum(getattr(r, "logcheck_matches", 0) for r in self.runs), 0)

    def test_coverage(self):
        """The corpus reaches what it is meant to: every result, every bypass, crashes, the cache."""
        answers = [a for r in self.runs for a in r.py + r.sg if a]
        for result in ("Pass", "Fail", "Softfail", "Neutral", "None", "Permerror", "Temperror"):
            self.assertTrue(any(spf_result(a) == result for a in answers), result)
        for comment in ("SPF check N/A for local connections", "SPF skipped for whitelisted relay -",
                        "SPF skipped for whitelisted relay domain", "SPF skipped for whitelisted HELO domain",
                        "SPF skipped for PTR whitelisted relay domain"):
            self.assertTrue(any(comment in a for a in answers), comment)
        for text in ("550 5.7.23 ", "550 5.7.24 ", "defer_if_permit 4.7.24 ", "mfrom_passed_spf",
                     "helo_passed_spf", "Authentication-Results: mx.compat.test; spf=", "Too many DNS lookups",
                     "Void lookup limit of 2 exceeded", "Unknown mechanism found: foo:bar",
                     "is not one of exp.compat.test designated mail servers..", "DNS Timeout"):
            self.assertTrue(any(text in a for a in answers), text)
        self.assertTrue(any(r.py_starts > 1 for r in self.runs if hasattr(r, "py_starts")),
                        "no pypolicyd-spf crash was seen")
        seen = {d.key for d in DIFFERENCES if d.count}
        expected = {d.key for d in DIFFERENCES if d.kind != "not compared"}
        self.assertEqual(expected - seen, set(), "documented differences the corpus no longer shows")

    def test_readme_table(self):
        """README's migration table lists exactly the documented differences of this test."""
        with open(README, encoding="utf-8") as f:
            text = f.read()
        start = text.index("| pypolicyd-spf 3.0.4 | spfgate |")
        rows = []
        for line in text[start:].splitlines()[2:]:
            if not line.startswith("|"):
                break
            rows.append(line.strip())
        self.assertEqual(sorted(rows), sorted(d.row() for d in DIFFERENCES))


if __name__ == "__main__":
    unittest.main(verbosity=2)
