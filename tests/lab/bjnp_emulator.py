#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Canon BJNP printer emulator: the test double for netsec.bjnp (stdlib only, one file).

Answers BJNP discover and get-identity on UDP (printer identity on 8611, scanner identity on
8612, printer identity on any other UDP port given), accepts TCP connections on 8611 and 9100,
and stores every raw job received on 9100 as its own file in --spool. One process serves many
addresses (one socket per address and port, all watched by one epoll loop). Runs until
SIGTERM or SIGINT and then exits 0. The wire formats follow the public implementations
(nmap's bjnp.lua, cups-bjnp, SANE pixma, Wireshark) and pass the checks of Nessus plugin
58147; this file shares no code with the collection, so it stays an independent peer.

    python3 bjnp_emulator.py --bind 127.0.0.1 --bind ::1 --spool /tmp/spool --ready-file /tmp/ready
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import errno
import heapq
import itertools
import os
import selectors
import signal
import socket
import struct
import sys
import time

try:
    import resource
except ImportError:  # not on every platform; the limit then stays as it is
    resource = None

HEADER = struct.Struct("!4sBBHHHI")  # magic, type, code, unknown, sequence, session, length
MAGIC = b"BJNP"
RESPONSE_FLAG = 0x80
CODE_DISCOVER = 0x01
CODE_IDENTITY = 0x30
SCANNER_PORT = 8612
RAW_PORT = 9100
DISCOVER_PREFIX = b"\x00\x01\x08\x00"

# Linux values that Python 3.11 does not export (IP_PKTINFO) or may not (the IPv6 ones).
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IN_PKTINFO = struct.Struct("=I4s4s")  # ifindex, spec_dst (local address), addr (header dst)
IN6_PKTINFO = struct.Struct("=16sI")  # addr (header dst), ifindex
ANCILLARY_SIZE = socket.CMSG_SPACE(max(IN_PKTINFO.size, IN6_PKTINFO.size))


def log(message):
    sys.stderr.write("bjnp_emulator: %s\n" % message)
    sys.stderr.flush()


def parse_ports(text):
    """``8611,8612`` or ``8611-8614`` -> [8611, ...]."""
    ports = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        low, dummy, high = item.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not a port or a low-high range" % item) from None
        for port in (first, last):
            if not 1 <= port <= 65535:
                raise argparse.ArgumentTypeError("port %d is outside 1-65535" % port)
        ports.extend(range(first, last + 1))
    return list(dict.fromkeys(ports))


def parse_mac(text):
    parts = text.replace("-", ":").split(":")
    try:
        mac = bytes(int(part, 16) for part in parts)
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise argparse.ArgumentTypeError("MAC address %r is not six hex octets" % text)
    return mac


def device_ids(args):
    """The IEEE 1284 device IDs a Canon inkjet gives on its printer and scanner ports."""
    printer = "MFG:%s;CMD:%s;MDL:%s;CLS:PRINTER;DES:%s;VER:%s;" % (
        args.manufacturer, args.command_set, args.model, args.description, args.firmware)
    scanner = "MFG:%s;CMD:MultiPass 2.1,IVEC;MDL:%s;CLS:IMAGE;DES:%s;VER:%s;" % (
        args.manufacturer, args.model, args.description, args.firmware)
    return printer.encode("ascii", "replace"), scanner.encode("ascii", "replace")


def ipv6_interface_addresses(ifindex):
    """Link-local and global IPv6 addresses of interface ``ifindex`` (from /proc/net/if_inet6)."""
    link_local, other = [], []
    try:
        with open("/proc/net/if_inet6") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 4 or int(fields[1], 16) != ifindex:
                    continue
                address = bytes.fromhex(fields[0])
                (link_local if int(fields[3], 16) == 0x20 else other).append(address)
    except (OSError, ValueError):
        pass
    return link_local, other


class Answers(object):
    """Builds the answers; pure apart from reading /proc for IPv6 multicast discovers."""

    def __init__(self, args):
        self.mac = args.mac
        self.printer_id, self.scanner_id = device_ids(args)

    def discover_payload(self, local):
        """Discover payload: prefix, MAC and address lengths, MAC, this device's address(es).

        An IPv4 answer carries the address the request reached; an IPv6 one carries two
        (link-local, then global), as SANE and cups-bjnp read it.
        """
        family, address, ifindex = local
        if family == socket.AF_INET:
            addresses = socket.inet_pton(socket.AF_INET, address)
        else:
            packed = socket.inet_pton(socket.AF_INET6, address.split("%")[0])
            link_local, other = ipv6_interface_addresses(ifindex) if ifindex else ([], [])
            if packed[0] != 0xFF and packed != bytes(16):  # a unicast request names us
                other = [packed] + other
            first = (link_local or other or [bytes(16)])[0]
            second = (other or [first])[0]
            addresses = first + second
        return DISCOVER_PREFIX + struct.pack("!BB", len(self.mac), len(addresses)) + self.mac + addresses

    def identity_payload(self, port):
        device_id = self.scanner_id if port == SCANNER_PORT else self.printer_id
        return struct.pack("!H", len(device_id) + 2) + device_id

    def answer(self, data, port, local):
        """The answer to one datagram, or ``None`` for anything but a discover or identity request."""
        if len(data) < HEADER.size:
            return None
        magic, device_type, code, unknown, sequence, session, dummy = HEADER.unpack_from(data)
        if magic != MAGIC or device_type & RESPONSE_FLAG or device_type not in (1, 2):
            return None
        if code == CODE_DISCOVER:
            payload = self.discover_payload(local)
        elif code == CODE_IDENTITY:
            payload = self.identity_payload(port)
        else:
            return None
        return HEADER.pack(MAGIC, device_type | RESPONSE_FLAG, code, unknown, sequence, session,
                           len(payload)) + payload


def junk_for(answer):
    """A near miss sent before the real answer with --junk-first: BJNP magic, the right type
    and code, but another sequence number and a payload length that does not add up."""
    magic, device_type, code, unknown, sequence, session, length = HEADER.unpack_from(answer)
    return HEADER.pack(magic, device_type, code, unknown, (sequence + 1) & 0xFFFF, session,
                       length + 7) + b"\x00JUNK"


class UdpEndpoint(object):
    def __init__(self, sock, family, address, port):
        self.sock = sock
        self.family = family
        self.address = address
        self.port = port
        self.wildcard = address in ("0.0.0.0", "::")


class TcpListener(object):
    def __init__(self, sock, port):
        self.sock = sock
        self.port = port


class TcpConnection(object):
    def __init__(self, sock, port, peer):
        self.sock = sock
        self.port = port
        self.peer = peer
        self.handle = None
        self.tmp_path = None
        self.received = 0


class Emulator(object):
    def __init__(self, args):
        self.args = args
        self.answers = Answers(args)
        self.selector = selectors.DefaultSelector()
        self.pending = []  # heap of (due, order, endpoint, packets, peer) for --delay
        self.order = itertools.count()
        self.jobs = itertools.count(1)
        self.connections = set()
        self.stopping = False

    # ------------------------------------------------------------------ set-up
    def bind_all(self, addresses):
        for address in addresses:
            try:
                infos = socket.getaddrinfo(address, None, 0, socket.SOCK_DGRAM, 0,
                                           socket.AI_NUMERICHOST)
            except socket.gaierror:
                raise SystemExit("bjnp_emulator: %r is not an IP address" % address)
            family, sockaddr = infos[0][0], infos[0][4]
            for port in self.args.udp_ports:
                self._bind(family, socket.SOCK_DGRAM, sockaddr, port, address)
            for port in self.args.tcp_ports:
                self._bind(family, socket.SOCK_STREAM, sockaddr, port, address)

    def _bind(self, family, kind, sockaddr, port, address):
        sock = socket.socket(family, kind)
        try:
            # TCP only: restart past TIME_WAIT. On UDP it would let two emulators share a port.
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((sockaddr[0], port) + tuple(sockaddr[2:]))
            sock.setblocking(False)
            if kind == socket.SOCK_STREAM:
                sock.listen(socket.SOMAXCONN)
                self.selector.register(sock, selectors.EVENT_READ, TcpListener(sock, port))
                return
            endpoint = UdpEndpoint(sock, family, address, port)
            if endpoint.wildcard:  # learn which local address each request reached
                if family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            self.selector.register(sock, selectors.EVENT_READ, endpoint)
        except OSError as error:
            sock.close()
            raise SystemExit("bjnp_emulator: cannot bind %s %s port %d: %s" % (
                "tcp" if kind == socket.SOCK_STREAM else "udp", address, port, error.strerror))

    # ------------------------------------------------------------------ UDP
    def _local(self, endpoint, ancillary):
        """(family, local address, ifindex) of a request, from IP(V6)_PKTINFO on wildcard sockets."""
        if not endpoint.wildcard:
            return endpoint.family, endpoint.address, 0
        for level, kind, data in ancillary:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= IN_PKTINFO.size:
                ifindex, spec_dst, dummy = IN_PKTINFO.unpack_from(data)
                return socket.AF_INET, socket.inet_ntop(socket.AF_INET, spec_dst), ifindex
            if level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= IN6_PKTINFO.size:
                destination, ifindex = IN6_PKTINFO.unpack_from(data)
                return socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, destination), ifindex
        return endpoint.family, endpoint.address, 0

    def on_datagrams(self, endpoint):
        while True:
            try:
                data, ancillary, dummy, peer = endpoint.sock.recvmsg(65535, ANCILLARY_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # a queued ICMP error from an earlier answer; epoll calls again
                return
            try:
                answer = self.answers.answer(data, endpoint.port, self._local(endpoint, ancillary))
            except (ValueError, OSError, struct.error) as error:  # never crash on input
                log("ignored a datagram from %s: %s" % (peer[0], error))
                continue
            if answer is None:
                continue
            packets = [junk_for(answer), answer] if self.args.junk_first else [answer]
            if self.args.delay > 0:
                heapq.heappush(self.pending, (time.monotonic() + self.args.delay, next(self.order),
                                              endpoint, packets, peer))
            else:
                self.send(endpoint, packets, peer)

    @staticmethod
    def send(endpoint, packets, peer):
        for packet in packets:
            try:
                endpoint.sock.sendto(packet, peer)
            except OSError as error:  # the peer went away, a full buffer: the peer retries
                log("could not answer %s: %s" % (peer[0], error.strerror))

    def send_due(self):
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            dummy, dummy, endpoint, packets, peer = heapq.heappop(self.pending)
            self.send(endpoint, packets, peer)

    # ------------------------------------------------------------------ TCP
    def on_accept(self, listener):
        while True:
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # the peer reset before accept(), no free descriptor
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    log("accept on port %d: %s" % (listener.port, error.strerror))
                    return
                continue
            sock.setblocking(False)
            connection = TcpConnection(sock, listener.port, peer)
            self.connections.add(connection)
            self.selector.register(sock, selectors.EVENT_READ, connection)

    def on_data(self, connection):
        while True:
            try:
                data = connection.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # a reset ends the job like a close: keep what arrived
                data = b""
            if not data:
                self.finish(connection)
                return
            if connection.port == RAW_PORT and self.args.spool:
                self.store(connection, data)

    def store(self, connection, data):
        if connection.handle is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            name = "job-%s-%d-%06d" % (stamp, os.getpid(), next(self.jobs))
            connection.tmp_path = os.path.join(self.args.spool, "." + name + ".tmp")
            connection.handle = open(connection.tmp_path, "wb")
        connection.handle.write(data)
        connection.received += len(data)

    def finish(self, connection, keep=True):
        """Close a connection; its job (if any bytes came) is renamed into place atomically."""
        self.selector.unregister(connection.sock)
        connection.sock.close()
        self.connections.discard(connection)
        if connection.handle is None:
            return
        connection.handle.close()
        if keep:
            final = os.path.join(os.path.dirname(connection.tmp_path),
                                 os.path.basename(connection.tmp_path)[1:-len(".tmp")] + ".prn")
            os.rename(connection.tmp_path, final)
            if self.args.verbose:
                log("stored a %d-byte job from %s as %s" % (connection.received, connection.peer[0], final))
        else:
            os.unlink(connection.tmp_path)

    # ------------------------------------------------------------------ loop
    def run(self, wakeup):
        self.selector.register(wakeup, selectors.EVENT_READ, None)
        while not self.stopping:
            timeout = max(0.0, self.pending[0][0] - time.monotonic()) if self.pending else None
            for key, dummy in self.selector.select(timeout):
                data = key.data
                if data is None:
                    self.drain(wakeup)
                elif isinstance(data, UdpEndpoint):
                    self.on_datagrams(data)
                elif isinstance(data, TcpListener):
                    self.on_accept(data)
                elif data in self.connections:  # not closed earlier in this round
                    self.on_data(data)
            self.send_due()
        for connection in list(self.connections):  # a job cut short by the stop is not kept
            self.finish(connection, keep=False)

    def drain(self, wakeup):
        try:
            while wakeup.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def stop(self, signum, frame):
        self.stopping = True


def read_bind_file(path):
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]


def raise_nofile_limit():
    """Each address costs one descriptor per port: lift the soft limit to the hard one."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def write_ready(path):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        handle.write("%d\n" % os.getpid())
    os.rename(tmp, path)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bind", action="append", default=[], metavar="ADDR",
                        help="IPv4 or IPv6 address to serve on (repeatable; 0.0.0.0 and :: too)")
    parser.add_argument("--bind-file", metavar="FILE", help="more addresses, one per line")
    parser.add_argument("--manufacturer", default="Canon")
    parser.add_argument("--model", default="MG5200 series")
    parser.add_argument("--description", default="Canon MG5200 series")
    parser.add_argument("--firmware", default="1.050")
    parser.add_argument("--command-set", default="BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI")
    parser.add_argument("--mac", type=parse_mac, default=parse_mac("00:1e:8f:12:34:56"))
    parser.add_argument("--udp-ports", type=parse_ports, default=[8611, 8612])
    parser.add_argument("--tcp-ports", type=parse_ports, default=[8611, 9100])
    parser.add_argument("--spool", metavar="DIR", help="store each job received on TCP 9100 here")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                        help="answer UDP requests after this many seconds")
    parser.add_argument("--junk-first", action="store_true",
                        help="send a near-miss datagram before every real answer")
    parser.add_argument("--ready-file", metavar="FILE", help="written once every socket is bound")
    parser.add_argument("--verbose", action="store_true", help="log each stored job")
    args = parser.parse_args(argv)
    if args.bind_file:
        args.bind.extend(read_bind_file(args.bind_file))
    if not args.bind:
        parser.error("give at least one --bind address or a --bind-file")
    if args.delay < 0:
        parser.error("--delay must not be negative")
    if args.spool and not os.path.isdir(args.spool):
        parser.error("spool directory %s does not exist" % args.spool)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.ready_file and os.path.exists(args.ready_file):  # a stale one would fool the waiter
        os.unlink(args.ready_file)
    emulator = Emulator(args)
    # The handlers only set a flag; the wake-up socket makes the epoll wait return at once.
    wakeup, notify = socket.socketpair()
    wakeup.setblocking(False)
    notify.setblocking(False)
    signal.set_wakeup_fd(notify.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGTERM, emulator.stop)
    signal.signal(signal.SIGINT, emulator.stop)
    raise_nofile_limit()
    emulator.bind_all(dict.fromkeys(args.bind))  # de-duplicated, order kept
    if args.ready_file:
        write_ready(args.ready_file)
    print("ready", flush=True)
    emulator.run(wakeup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
