#!/usr/bin/python3
"""make_seeds.py: (re)generates the seed corpora of the fuzz targets in tests/fuzz/corpus/<target>/.

    /usr/bin/python3 tests/fuzz/make_seeds.py            # needs python3-yaml for the RFC 7208 suite

Seeds come from real data: Postfix 3.7 policy requests (../shared/reference/postfix-and-peers.md), the
records, zones and tests of the RFC 7208 suite (tests/conformance/rfc7208-tests.yml), the access tables of
tests/data/access/ and the configuration files of tests/data/config/. Generated files are named "seed-*";
this script replaces those and never touches "regress-*" files, which are the inputs of past findings
(tests/fuzz/README.md lists them) and are kept by hand. The output is deterministic. Not run by CI: the
corpus is committed.
"""
import glob
import hashlib
import os
import shutil
import struct

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
SUITE = os.path.join(ROOT, "tests", "conformance", "rfc7208-tests.yml")
SEP = b"\n%%\n"

written = {}


def clear(target):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "seed-*")):
        os.unlink(f)


def seed(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    path = os.path.join(CORPUS, target, "seed-" + safe)
    if os.path.exists(path):
        path += "-" + hashlib.sha1(data).hexdigest()[:8]
    with open(path, "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


# --- Postfix requests -------------------------------------------------------------------------------------
def postfix_request(**over):
    """The RCPT request Postfix 3.7 sends (reference postfix-and-peers §1.2), with attributes replaced."""
    attrs = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"), ("protocol_name", "ESMTP"),
             ("client_address", "192.0.2.10"), ("client_name", "mail.example.org"), ("client_port", "51850"),
             ("reverse_client_name", "mail.example.org"), ("server_address", "198.51.100.25"),
             ("server_port", "25"), ("helo_name", "mail.example.org"), ("sender", "alice@example.org"),
             ("recipient", "bob@example.net"), ("recipient_count", "0"), ("queue_id", ""),
             ("instance", "4e28.6b044b13.35982.0"), ("size", "0"), ("etrn_domain", ""), ("stress", ""),
             ("sasl_method", ""), ("sasl_username", ""), ("sasl_sender", ""), ("ccert_subject", ""),
             ("ccert_issuer", ""), ("ccert_fingerprint", ""), ("ccert_pubkey_fingerprint", ""),
             ("encryption_protocol", "TLSv1.3"), ("encryption_cipher", "TLS_AES_256_GCM_SHA384"),
             ("encryption_keysize", "256"), ("policy_context", "")]
    out = []
    for k, v in attrs:
        if k in over:
            v = over.pop(k)
        if v is not None:
            out.append("%s=%s\n" % (k, v))
    for k, v in over.items():
        out.append("%s=%s\n" % (k, v))
    return "".join(out) + "\n"


REQUESTS = {
    "rcpt": postfix_request(),
    "mail-null-sender": postfix_request(protocol_state="MAIL", sender="", recipient="", instance="4e28.1.1.0"),
    "data": postfix_request(protocol_state="DATA", recipient_count="1", queue_id="4XyZ1234"),
    "connect": postfix_request(protocol_state="CONNECT", protocol_name="SMTP", helo_name="", sender="",
                               recipient="", queue_id="", instance=""),
    "ehlo": postfix_request(protocol_state="EHLO", protocol_name="SMTP", sender="", recipient="", instance=""),
    "vrfy": postfix_request(protocol_state="VRFY", sender="", recipient="postmaster", instance=""),
    "ipv6": postfix_request(client_address="2001:db8::10", helo_name="[IPv6:2001:db8::10]"),
    "mapped": postfix_request(client_address="::ffff:192.0.2.10"),
    "unknown-client": postfix_request(client_name="unknown", reverse_client_name="unknown",
                                      helo_name="localhost"),
    "helo-literal": postfix_request(helo_name="[192.0.2.99]"),
    "postfix-3.8": postfix_request(compatibility_level="3.6", mail_version="3.8.1"),
    "local": postfix_request(client_address="127.0.0.1", helo_name="localhost"),
    "utf8": postfix_request(sender="jörg@exämple.org", helo_name="mail.exämple.org"),
    "quoted-local": postfix_request(sender='"a;identity=helo"@example.org'),
}


def codec_seeds():
    clear("codec")
    limits = bytes([0x40, 0x3F, 0xFF, 0x11])  # 1088-byte lines, 64 attributes, ~17 KB requests, chunk seed
    tight = bytes([0x00, 0x03, 0x01, 0x07])   # 64-byte lines, 4 attributes, 128-byte requests
    for name, r in REQUESTS.items():
        seed("codec", "postfix-" + name, limits + r.encode())
    seed("codec", "pipelined", limits + (REQUESTS["rcpt"] + REQUESTS["data"] + REQUESTS["ehlo"]).encode())
    seed("codec", "crlf", limits + REQUESTS["rcpt"].replace("\n", "\r\n").encode())
    seed("codec", "tight-limits", tight + REQUESTS["rcpt"].encode())
    seed("codec", "malformed-lines", limits + b"request=smtpd_access_policy\nno equals sign\n=empty name\n"
         b"nul=a\x00b\n\nhelo_name=x\n\n")
    seed("codec", "long-line", limits + b"request=smtpd_access_policy\nsender=" + b"x" * 3000 + b"\n\n")
    seed("codec", "empty-requests", limits + b"\n\n\n")
    seed("codec", "cr-inside", limits + b"helo_name=evil\rBcc: x\nsender=a\r\r\n\n")
    seed("codec", "truncated", limits + REQUESTS["rcpt"].encode()[:200])


# --- replies and headers ----------------------------------------------------------------------------------
def reply_seeds():
    clear("reply")

    def one(name, flags, bound, addr, fields):
        seed("reply", name, bytes([flags, bound]) + addr + SEP.join(f.encode() for f in fields))

    v4 = bytes([192, 0, 2, 10])
    v6 = bytes.fromhex("20010db8000000000000000000000010")
    one("pass-mailfrom", 2, 100, v4, ["mail.example.org", "alice@example.org", "example.net", "", "", "ip4:192.0.2.0/24",
                                      "mx.example.net", "iprev", "mail.example.org", "pass"])
    one("fail-helo-v6", 0x80 | 0x10 | 3, 200, v6, ["mail.example.org", "", "example.net", "SPF fail - not authorized",
                                                   "", "-all", "mx.example.net", "dkim", "", "fail"])
    one("permerror", 6, 50, v4, ["helo", "a@b", "", "", "Too many DNS lookups", "", "HOSTNAME", "x", "c", "t"])
    one("hostile", 0x10 | 5, 255, v4, ['evil;identity=helo', 'a"b\\c(d)e@x.org', "r; x=y", "exp (with) \"q\"",
                                       "problem\r\nBcc: x", "mech\x00x", "id with space", "m=x", "a)b(c", "\xff\xfe"])
    one("long", 1, 255, v4, ["h" * 300, "s" * 400 + "@" + "d" * 300, "r" * 300, "e" * 600, "p" * 600,
                             "m" * 600, "a" * 300, "k" * 300, "c" * 300, "t" * 700])
    one("utf8", 2, 20, v6, ["mäil.exämple.org", "jörg@exämple.org", "ñ.example", "€" * 100, "", "", "ü", "", "", "ß"])


# --- the RFC 7208 suite -----------------------------------------------------------------------------------
def load_suite():
    with open(SUITE, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]


def zone_lines(zonedata):
    lines = []
    for name, records in (zonedata or {}).items():
        lines.append("%s EMPTY" % name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for r in records:
            if not isinstance(r, dict):
                if r == "TIMEOUT":
                    lines.append("%s FAIL timeout" % name)
                continue
            for t, v in r.items():
                if v == "NONE":
                    continue
                if t == "SPF":
                    if has_txt:
                        continue
                    t = "TXT"
                if v == "TIMEOUT":
                    lines.append("%s FAILTYPE %s timeout" % (name, t))
                elif t == "TXT":
                    lines.append("%s TXT %s" % (name, "|".join(v) if isinstance(v, list) else v))
                elif t in ("A", "AAAA", "PTR", "CNAME", "NS"):
                    lines.append("%s %s %s" % (name, t, v))
                elif t == "MX":
                    lines.append("%s MX %s %s" % (name, v[0], v[1]))
    return lines


def txt_values(zonedata):
    for records in (zonedata or {}).values():
        for r in records:
            if isinstance(r, dict):
                for t, v in r.items():
                    if t in ("TXT", "SPF") and v not in ("NONE", "TIMEOUT"):
                        yield "".join(v) if isinstance(v, list) else str(v), v


def spf_seeds(suite):
    for target in ("spf_record", "spf_macro", "check_host"):
        clear(target)
    records, macros = set(), set()
    for number, doc in enumerate(suite):
        for text, raw in txt_values(doc.get("zonedata")):
            split = len(raw[0]) if isinstance(raw, list) and len(raw) > 1 else 7
            if text not in records:
                records.add(text)
                seed("spf_record", "rfc7208-%02d-%s" % (number, hashlib.sha1(text.encode()).hexdigest()[:10]),
                     bytes([min(split, 255)]) + text.encode())
            # Macro strings: every domain-spec of the record, and every TXT text as an explanation.
            macros.add((1, text))
            for term in text.split(" "):
                for sep in (":", "="):
                    if sep in term:
                        macros.add((0, term.split(sep, 1)[1].split("/")[0]))
        for test, t in (doc.get("tests") or {}).items():
            lines = ["client %s" % t.get("host", "")]
            mailfrom, helo = t.get("mailfrom", ""), t.get("helo", "")
            if not mailfrom and helo:
                lines += ["sender postmaster@%s" % helo, "identity helo"]
            else:
                lines.append("sender %s" % mailfrom)
            lines.append("helo %s" % helo)
            if t.get("receiver"):
                lines.append("receiver %s" % t["receiver"])
            body = "\n".join(lines) + "\n%%\n" + "\n".join(zone_lines(doc.get("zonedata"))) + "\n"
            seed("check_host", "rfc7208-%02d-%s" % (number, test), body)
    values = SEP.join(x.encode() for x in ["strong-bad@email.example.com", "strong-bad", "email.example.com",
                                          "email.example.com", "mx.example.org", "mx.example.org", "example.net"])
    for use, text in sorted(macros):
        if "%" not in text:
            continue
        for family, addr in ((0, bytes([192, 0, 2, 3])), (2, bytes.fromhex("20010db80000000000000000cafebabe"))):
            seed("spf_macro", "rfc7208-%s-%d" % (hashlib.sha1(text.encode()).hexdigest()[:10], use | family),
                 bytes([use | family]) + addr + text.encode() + SEP + values)
    # RFC 7208 §7.4's examples.
    for text in ["%{s}", "%{o}", "%{d}", "%{d4}", "%{d3}", "%{d2}", "%{d1}", "%{dr}", "%{d2r}", "%{l}", "%{l-}",
                 "%{lr}", "%{lr-}", "%{l1r-}", "%{ir}.%{v}._spf.%{d2}", "%{lr-}.lp._spf.%{d2}",
                 "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "%{d2}.trusted-domains.example.net",
                 "%{S}%{L}%{O}%{D}%{H}%{P}", "%%%_%-", "%{c} %{r} %{t} %{C}"]:
        seed("spf_macro", "rfc7208-7.4-" + hashlib.sha1(text.encode()).hexdigest()[:10],
             bytes([1]) + bytes([192, 0, 2, 3]) + text.encode() + SEP + values)
    # Hostile records (libspf2's CVE-2021-20314, CVE-2023-42118; the tests of tests/unit/spf_hostile_test.cpp).
    hostile = {
        "cve-2023-42118": "v=spf1 exists:%{" + "r" * 1000 + "}" + " -all",
        "cve-2021-20314": "v=spf1 exists:%{d1r" + "." * 200 + "}.example.org -all",
        "many-macros": "v=spf1 exists:" + "%{s}" * 2000 + ".example.org",
        "huge-digits": "v=spf1 exists:%{d99999999999999999999}.example.org a:x.org/99999999999",
        "long-record": "v=spf1 " + " ".join("ip4:192.0.2.%d" % (i % 256) for i in range(2000)) + " -all",
        "dual-cidr": "v=spf1 a/24//64 mx:mx.example.org/0//0 ip6:::/0 -all",
    }
    for name, text in hostile.items():
        seed("spf_record", name, bytes([7]) + text.encode())
        seed("check_host", name, "client 192.0.2.1\nsender a@example.org\nhelo mx.example.org\n%%\n"
             "example.org TXT " + text + "\n")
    # Trees for the query bound: wide includes, deep includes, mx and ptr with many names, %{p}.
    tree = ["example.org TXT v=spf1 " + " ".join("include:i%d.example.org" % i for i in range(12)) + " -all"]
    for i in range(12):
        tree.append("i%d.example.org TXT v=spf1 mx:m%d.example.org ptr:example.org -all" % (i, i))
        for k in range(12):
            tree.append("m%d.example.org MX %d h%d-%d.example.org" % (i, k, i, k))
    for k in range(12):
        tree.append("192.0.2.1 REV p%d.example.org" % k)
        tree.append("p%d.example.org A 192.0.2.1" % k)
    seed("check_host", "wide-tree", "client 192.0.2.1\nsender a@example.org\nhelo h.example.org\n%%\n"
         + "\n".join(tree) + "\n")
    deep = ["example.org TXT v=spf1 include:d0.example.org -all"]
    deep += ["d%d.example.org TXT v=spf1 include:d%d.example.org exists:%%{p}.x.example.org ~all" % (i, i + 1)
             for i in range(15)]
    seed("check_host", "deep-tree", "client 192.0.2.1\nsender a@example.org\n%%\n" + "\n".join(deep) + "\n")
    seed("check_host", "exp-ptr", "client 192.0.2.1\nsender a@example.org\n%%\n"
         "example.org TXT v=spf1 -all exp=e.example.org\ne.example.org TXT %{p} %{c} %{r} %{t} %{S} is bad\n"
         "192.0.2.1 REV mail.example.org\nmail.example.org A 192.0.2.1\n")


# --- configuration, per-user, access tables ---------------------------------------------------------------
def config_seeds():
    clear("config")
    clear("per_user")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "config", "*"))):
        with open(path, "rb") as f:
            seed("config", "file-" + os.path.basename(path), b"file\n" + f.read())
    seed("config", "file-spfgate", "file\n# spfgate's own options\nmax-connections = 100\nrequest-timeout = 20s\n"
         "idle_timeout = 5m\ndns-query-timeout = 500ms\nhelo-access = hash:/etc/postfix/helo_access, pcre:/x\n"
         "iprev-fail = reject\nHeader_Type = SPF, AR\nAuthserv_Id = mx.example.net\nWhitelist = 192.0.2.0/24, "
         "2001:db8::/32\nReason_Message = Message {rejectdefer} due to: {spf}. Please see {url}\n"
         "dns-cache-size = 16m\nmalformed-reply = DEFER_IF_PERMIT try later\nlisten = tcp:127.0.0.1:10045\n")
    seed("config", "file-errors", "file\nLookup_Time = soon\nhelo_reject = Fail\nPermError_reject = maybe\n")
    seed("config", "overrides", "overrides\nHELO_reject=SPF_Not_Pass\nLookup_Time=5\nReason_Message=go away\n"
         "Whitelist=192.0.2.0/24\nTestOnly=0\nrequest-timeout=2h\n")
    seed("per_user", "peruser-5",
         "# policyd-spf.peruser(5)\n"
         "postmaster@example.com,HELO_reject=False|Mail_From_reject=False\n"
         "abuse@example.com,HELO_reject=Fail|Mail_From_reject=Fail|Header_Type=AR|Authserv-Id=mx.example.com\n"
         "strict@example.com,Mail_From_reject=SPF_Not_Pass|PermError_reject=True|TempError_Defer=True\n"
         "test@example.com,TestOnly=0|Lookup_Time=5|Whitelist=192.0.2.0/24|Reason_Message=No {spf}\n")
    seed("per_user", "peruser-bad", "user@example.com,Lookup_Time=forever\n")
    seed("per_user", "peruser-disallowed", "user@example.com,max-connections=1\n")


def access_seeds():
    clear("access_table")
    kinds = {".cidr": "cidr", ".pcre": "pcre", ".regexp": "regexp"}
    helos = ["mailsrv02.foo.local", "a.b.example.com", "good.example.com", "x.stop.example.com", "SHOUTY.example.net",
             "[192.0.2.1]", "192.0.2.1", "192.0.2.3", "198.51.100.7", "[198.51.100.7]", "2001:db8::1", "::ffff:203.0.113.9",
             "mail7.example.org", "mx12.example.org", "dyn-1-2.example.net", "abc.example", "ac.example",
             "x.invalid", "ok.x.invalid", "CaseSensitive.example", "casesensitive.example", "trailing.example.",
             "a.b.ungreedy.example", "pipe/delim.example", "single", ""]
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "access", "*")) +
                   glob.glob(os.path.join(ROOT, "tests", "data", "access", "errors", "*")))
    for path in files:
        if os.path.isdir(path):
            continue
        ext = os.path.splitext(path)[1]
        kind = kinds.get(ext, "hash")
        with open(path, "rb") as f:
            body = f.read()
        name = os.path.relpath(path, os.path.join(ROOT, "tests", "data", "access")).replace("/", "-")
        seed("access_table", name, kind.encode() + b"\n" + body + SEP + "\n".join(helos).encode())
        if kind == "hash":
            seed("access_table", name + "-nosub", b"texthash nosub\n" + body + SEP + "\n".join(helos).encode())


# --- whole requests ---------------------------------------------------------------------------------------
def policy_seeds():
    clear("policy")
    zone = "\n".join([
        "example.org TXT v=spf1 ip4:192.0.2.10 mx -all exp=why.example.org",
        "why.example.org TXT %{i} is not one of %{d}'s designated mail servers",
        "example.org MX 10 mail.example.org",
        "mail.example.org A 192.0.2.10",
        "mail.example.org AAAA 2001:db8::10",
        "mail.example.org TXT v=spf1 a -all",
        "192.0.2.10 REV mail.example.org",
        "2001:db8::10 REV mail.example.org",
        "softfail.example.org TXT v=spf1 ~all",
        "strict.example.org TXT v=spf1 ?all",
        "whitelisted.example.org TXT v=spf1 ip4:192.0.2.0/24 -all",
        "helo-ok.example.org A 192.0.2.10",
        "192.0.2.11 REV liar.trusted.example.org",
        "liar.trusted.example.org A 192.0.2.99",
        "bogus.example.org BOGUS",
        "bogus.example.org TXT v=spf1 +all",
        "slow.example.org FAIL timeout",
        "broken.example.org FAIL servfail",
        "perm.example.org TXT v=spf1 frobnicate -all",
    ])
    variants = {
        "pass": {},
        "fail": {"client_address": "192.0.2.99"},
        "softfail": {"sender": "bob@softfail.example.org", "client_address": "192.0.2.99"},
        "strict": {"sender": "x@strict.example.org"},
        "bogus": {"sender": "x@bogus.example.org"},
        "timeout": {"sender": "x@slow.example.org", "helo_name": "slow.example.org"},
        "servfail": {"sender": "x@broken.example.org"},
        "permerror": {"sender": "x@perm.example.org"},
        "null-sender": {"sender": "", "protocol_state": "MAIL"},
        "whitelist": {"client_address": "192.0.2.200"},
        "helo-whitelist": {"helo_name": "helo-ok.example.org"},
        "ptr-liar": {"client_address": "192.0.2.11"},
        "helo-access": {"helo_name": "a.b.example.com"},
        "helo-literal": {"helo_name": "[192.0.2.99]"},
        "helo-local": {"helo_name": "mx.example.net"},
        "helo-single-label": {"helo_name": "localhost"},
        "ipv6": {"client_address": "2001:db8::10"},
        "hostile-values": {"helo_name": 'evil;identity=helo (x"y)', "sender": '"a;b"@example.org',
                           "recipient": "r;x=y@example.net", "queue_id": "Q\x1bQ"},
        "data-stage": {"protocol_state": "DATA", "queue_id": "4XyZ1234"},
        "ehlo-stage": {"protocol_state": "EHLO", "sender": "", "recipient": "", "instance": ""},
        "bad-client": {"client_address": "not-an-ip"},
        "skip": {"client_address": "127.0.0.1"},
    }
    for engine in range(3):
        for name, over in variants.items():
            req = postfix_request(**dict(over))
            second = postfix_request(**dict(over, recipient="carol@example.net"))
            seed("policy", "%d-%s" % (engine, name), bytes([engine]) + zone.encode() + SEP + (req + second).encode())
    seed("policy", "all-servfail", bytes([0]) + b"SERVFAIL" + SEP + REQUESTS["rcpt"].encode())


# --- DNS rdata (fuzz_wire) ------------------------------------------------------------------------------
def wire_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def wire_seeds():
    clear("wire")
    # flags: 0x01 secure, 0x02 bogus, 0x04 nxdomain, 0x08 havedata, 0x20 no lengths, 0x40 error, 0x80 no
    # why_bogus; type index: 0 A, 1 AAAA, 2 TXT, 3 MX, 4 PTR, 5 CNAME, 6 NS, 7 SOA.
    def txt(*strings):
        return b"".join(bytes([len(x)]) + x for x in strings)
    cases = {
        "a": (0x09, 0, 0, [bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])]),
        "aaaa": (0x09, 0, 1, [bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1])]),
        "txt-spf": (0x09, 0, 2, [txt(b"v=spf1 ip4:192.0.2.0/24 ", b"include:_spf.example.org -all")]),
        "txt-255": (0x08, 0, 2, [txt(b"v=spf1 " + b"a" * 248, b"")]),
        "txt-truncated": (0x08, 0, 2, [bytes([200]) + b"short"]),
        "mx": (0x09, 0, 3, [struct.pack(">H", 10) + wire_name("Mail.Example.ORG")]),
        "mx-null": (0x08, 0, 3, [struct.pack(">H", 0) + b"\0"]),
        "ptr": (0x08, 0, 4, [wire_name("host.example.net"), wire_name("other.example.net")]),
        "ptr-compressed": (0x08, 0, 4, [b"\x04host\xc0\x0c"]),
        "ptr-control-bytes": (0x08, 0, 4, [b"\x05ho\nst\x07example\0"]),
        "cname-long-label": (0x08, 0, 5, [bytes([64]) + b"x" * 64 + b"\0"]),
        "ns": (0x08, 0, 6, [wire_name("ns1.example.org")]),
        "soa": (0x08, 0, 7, [wire_name("ns.example.org") + wire_name("host.example.org") + b"\0" * 20]),
        "servfail": (0x00, 2, 2, []),
        "nxdomain": (0x04, 3, 0, []),
        "refused": (0x00, 5, 2, []),
        "bogus": (0x0b, 0, 2, [txt(b"v=spf1 -all")]),
        "no-lengths": (0x28, 0, 0, [bytes([192, 0, 2, 1])]),
        "error": (0x40, 0, 0, []),
        "a-wrong-size": (0x08, 0, 0, [bytes([192, 0, 2])]),
        "query-name-escapes": (0x08, 0, 4, [b"we ird.\\name.example"]),
    }
    for name, (flags, rcode, type_index, records) in cases.items():
        seed("wire", name, bytes([flags, rcode, type_index]) + SEP.join(records))


def main():
    suite = load_suite()
    codec_seeds()
    reply_seeds()
    spf_seeds(suite)
    config_seeds()
    access_seeds()
    policy_seeds()
    wire_seeds()
    for target, n in sorted(written.items()):
        print("%-14s %4d seeds" % (target, n))


if __name__ == "__main__":
    main()
