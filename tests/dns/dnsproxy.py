#!/usr/bin/python3
"""dnsproxy.py: a small fault-injecting DNS proxy for the spfgate test DNS (python3 stdlib only).

It listens on one loopback address and port (UDP and TCP), forwards every query to an upstream server
(the test nsd) over the same transport, and applies the mode of the zone the query name falls in:

    pass            forward unchanged (the default for names no rule covers)
    delay=<ms>      answer, but only <ms> milliseconds after the query arrived
    drop            never answer (UDP: ignore; TCP: read and keep the connection open): lookups time out
    servfail        answer SERVFAIL without asking upstream
    truncate        UDP only: answer with TC set and no records, so the client must retry over TCP;
                    TCP queries are forwarded unchanged

Modes combine with commas ("delay=50,truncate"). Rules map a zone to a mode; the longest matching zone
wins. They come from --rule ZONE=MODE arguments and from --rules FILE (lines "ZONE MODE", '#' comments),
which is read again on SIGHUP, so a test can change modes while the proxy runs.

    dnsproxy.py --listen 127.0.0.1:5301 --upstream 127.0.0.1:5300 --rules rules.txt \\
                [--rule slow.test=delay=50] [--log queries.log] [--pidfile p] [--port-file f]

--listen with port 0 picks a free port (the same for UDP and TCP) and writes it to --port-file.
Every query is logged as "<unix time> <udp|tcp> <client> <qname> <qtype> <action>" to --log.
SIGTERM or SIGINT stop it. It never sends anything anywhere but to the upstream address.
"""

import argparse
import asyncio
import os
import signal
import socket
import struct
import sys
import time

UPSTREAM_UDP_TIMEOUT = 3.0  # seconds to wait for the upstream's UDP answer before giving up silently
UPSTREAM_TCP_TIMEOUT = 5.0  # seconds for a whole upstream TCP exchange
TCP_IDLE_TIMEOUT = 30.0     # seconds a client TCP connection may stay idle
MAX_UDP_MESSAGE = 65535
PORT_ATTEMPTS = 50          # tries to find a port free for both UDP and TCP when --listen ...:0

QTYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
               43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 255: "ANY"}


class Mode:
    """What the proxy does with queries for one zone."""

    def __init__(self, text="pass"):
        self.text = text
        self.delay_ms = 0
        self.drop = False
        self.servfail = False
        self.truncate = False
        for item in text.split(","):
            item = item.strip()
            if item in ("", "pass"):
                continue
            if item.startswith("delay="):
                self.delay_ms = int(item[len("delay="):])
                if self.delay_ms < 0:
                    raise ValueError("negative delay in mode " + text)
            elif item == "drop":
                self.drop = True
            elif item == "servfail":
                self.servfail = True
            elif item == "truncate":
                self.truncate = True
            else:
                raise ValueError("unknown proxy mode %r (pass, delay=<ms>, drop, servfail, truncate)" % item)


def normalize_zone(zone):
    zone = zone.strip().lower()
    return zone if zone.endswith(".") else zone + "."


class Rules:
    def __init__(self, rules_file, extra):
        self.rules_file = rules_file
        self.extra = extra
        self.table = {}
        self.load()

    def load(self):
        table = {}
        if self.rules_file and os.path.exists(self.rules_file):
            with open(self.rules_file, encoding="ascii") as f:
                for number, line in enumerate(f, 1):
                    line = line.split("#", 1)[0].strip()
                    if not line:
                        continue
                    parts = line.split()
                    if len(parts) != 2:
                        raise ValueError("%s:%d: expected 'ZONE MODE'" % (self.rules_file, number))
                    table[normalize_zone(parts[0])] = Mode(parts[1])
        for rule in self.extra:
            zone, sep, mode = rule.partition("=")
            if not sep:
                raise ValueError("--rule wants ZONE=MODE, got %r" % rule)
            table[normalize_zone(zone)] = Mode(mode)
        self.table = table

    def match(self, qname):
        name = qname.lower()
        best, best_len = Mode(), -1
        for zone, mode in self.table.items():
            if (zone == "." or name == zone or name.endswith("." + zone)) and len(zone) > best_len:
                best, best_len = mode, len(zone)
        return best


def parse_question(msg):
    """(qname with trailing dot, qtype, offset just past the question) or None if malformed."""
    if len(msg) < 12 or struct.unpack(">H", msg[4:6])[0] < 1:
        return None
    labels, pos = [], 12
    while True:
        if pos >= len(msg):
            return None
        length = msg[pos]
        pos += 1
        if length == 0:
            break
        if length > 63 or pos + length > len(msg):
            return None
        labels.append(msg[pos:pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(msg):
        return None
    qtype = struct.unpack(">H", msg[pos:pos + 2])[0]
    return (".".join(labels) + "."), qtype, pos + 4


def servfail_for(query, question_end):
    qid, flags = struct.unpack(">HH", query[:4])
    flags = 0x8000 | (flags & 0x7900) | 0x0080 | 2  # QR, opcode and RD copied, RA, RCODE=SERVFAIL
    return struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + query[12:question_end]


def truncated(response):
    parsed = parse_question(response)
    if parsed is None:
        return None
    qid, flags = struct.unpack(">HH", response[:4])
    return struct.pack(">HHHHHH", qid, flags | 0x0200, 1, 0, 0, 0) + response[12:parsed[2]]


class Proxy:
    def __init__(self, args):
        host, _, port = args.listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        uhost, _, uport = args.upstream.rpartition(":")
        self.upstream = (uhost.strip("[]"), int(uport))
        self.family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.rules = Rules(args.rules, args.rule or [])
        self.log_file = open(args.log, "a", encoding="utf-8", buffering=1) if args.log else None
        self.udp_transport = None
        self.tcp_server = None

    def log(self, transport, client, qname, qtype, action):
        if self.log_file:
            self.log_file.write("%.3f %s %s %s %s %s\n" % (time.time(), transport, client[0], qname,
                                                         QTYPE_NAMES.get(qtype, str(qtype)), action))

    def reload(self):
        try:
            self.rules.load()
            if self.log_file:
                self.log_file.write("%.3f reload %d rules\n" % (time.time(), len(self.rules.table)))
        except (OSError, ValueError) as e:
            sys.stderr.write("dnsproxy: reload failed, keeping the old rules: %s\n" % e)

    # --- UDP ----------------------------------------------------------------------------------------------
    async def forward_udp(self, query):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, self.upstream)
            await loop.sock_sendall(sock, query)
            return await asyncio.wait_for(loop.sock_recv(sock, MAX_UDP_MESSAGE), UPSTREAM_UDP_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return None
        finally:
            sock.close()

    async def handle_udp(self, query, client):
        started = time.monotonic()
        parsed = parse_question(query)
        if parsed is None:
            return
        qname, qtype, question_end = parsed
        mode = self.rules.match(qname)
        if mode.drop:
            self.log("udp", client, qname, qtype, "drop")
            return
        if mode.servfail:
            response, action = servfail_for(query, question_end), "servfail"
        else:
            response, action = await self.forward_udp(query), "forward"
            if response is None:
                self.log("udp", client, qname, qtype, "upstream-timeout")
                return
            if mode.truncate:
                response, action = truncated(response), "truncate"
                if response is None:
                    return
        if mode.delay_ms:
            action += ",delay=%d" % mode.delay_ms
            await asyncio.sleep(max(0.0, mode.delay_ms / 1000.0 - (time.monotonic() - started)))
        self.log("udp", client, qname, qtype, action)
        if self.udp_transport is not None:
            self.udp_transport.sendto(response, client)

    # --- TCP ----------------------------------------------------------------------------------------------
    async def forward_tcp(self, query):
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), UPSTREAM_TCP_TIMEOUT)
            writer.write(struct.pack(">H", len(query)) + query)
            await writer.drain()
            length = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), UPSTREAM_TCP_TIMEOUT))[0]
            return await asyncio.wait_for(reader.readexactly(length), UPSTREAM_TCP_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return None
        finally:
            if writer is not None:
                writer.close()

    async def answer_tcp(self, query, client, writer, lock):
        started = time.monotonic()
        parsed = parse_question(query)
        if parsed is None:
            return
        qname, qtype, question_end = parsed
        mode = self.rules.match(qname)
        if mode.drop:
            self.log("tcp", client, qname, qtype, "drop")
            return
        if mode.servfail:
            response, action = servfail_for(query, question_end), "servfail"
        else:
            response, action = await self.forward_tcp(query), "forward"
            if response is None:
                self.log("tcp", client, qname, qtype, "upstream-failed")
                return
        if mode.delay_ms:
            action += ",delay=%d" % mode.delay_ms
            await asyncio.sleep(max(0.0, mode.delay_ms / 1000.0 - (time.monotonic() - started)))
        self.log("tcp", client, qname, qtype, action)
        async with lock:
            try:
                writer.write(struct.pack(">H", len(response)) + response)
                await writer.drain()
            except OSError:
                pass

    async def handle_tcp(self, reader, writer):
        client = writer.get_extra_info("peername") or ("?", 0)
        lock = asyncio.Lock()
        tasks = set()
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                query = await asyncio.wait_for(reader.readexactly(struct.unpack(">H", header)[0]), TCP_IDLE_TIMEOUT)
                # Queries on one connection may be pipelined: answer each as soon as it is ready.
                task = asyncio.create_task(self.answer_tcp(query, client, writer, lock))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            for task in list(tasks):
                task.cancel()
            writer.close()

    # --- setup --------------------------------------------------------------------------------------------
    async def bind(self):
        loop = asyncio.get_running_loop()
        attempts = PORT_ATTEMPTS if self.port == 0 else 1
        for _ in range(attempts):
            proxy = self

            class UdpServer(asyncio.DatagramProtocol):
                def datagram_received(self, data, addr):
                    loop.create_task(proxy.handle_udp(data, addr))

            transport, _ = await loop.create_datagram_endpoint(UdpServer, local_addr=(self.host, self.port),
                                                               family=self.family)
            port = transport.get_extra_info("sockname")[1]
            try:
                server = await asyncio.start_server(self.handle_tcp, self.host, port, reuse_address=True,
                                                    family=self.family)
            except OSError:
                transport.close()
                if self.port != 0:
                    raise
                continue
            self.udp_transport, self.tcp_server, self.port = transport, server, port
            return port
        raise OSError("no port free for both UDP and TCP on " + self.host)


async def main_async(args):
    proxy = Proxy(args)
    port = await proxy.bind()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, proxy.reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    proxy.tcp_server.close()
    proxy.udp_transport.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", required=True, help="ADDR:PORT to listen on (UDP and TCP); port 0 picks one")
    parser.add_argument("--upstream", required=True, help="ADDR:PORT of the server to forward to")
    parser.add_argument("--rules", help="file of 'ZONE MODE' lines, re-read on SIGHUP")
    parser.add_argument("--rule", action="append", help="ZONE=MODE (repeatable)")
    parser.add_argument("--log", help="append one line per query to this file")
    parser.add_argument("--pidfile", help="write the process id here")
    parser.add_argument("--port-file", help="write the port listened on here once bound")
    args = parser.parse_args()
    for address in (args.listen, args.upstream):
        host = address.rpartition(":")[0].strip("[]")
        if not (host.startswith("127.") or host == "::1"):
            parser.error("loopback addresses only (127.0.0.0/8, ::1): " + address)
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as f:
            f.write("%d\n" % os.getpid())
    try:
        asyncio.run(main_async(args))
    except (OSError, ValueError) as e:
        sys.stderr.write("dnsproxy: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
