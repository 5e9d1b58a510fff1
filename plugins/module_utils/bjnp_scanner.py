# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe's network engine: many UDP and TCP probes from one loop each, stdlib only (Linux).

UDP: one unconnected socket per address family sends every BJNP discover. ``IP_RECVERR``
(``IPV6_RECVERR``) queues each ICMP error on the socket with the destination it answers, so
a single socket learns "port unreachable" (closed) or "administratively prohibited"
(filtered) for thousands of probes; silence after the retries is ``open|filtered``.
A well-formed BJNP answer is ``open`` and, with ``identify``, triggers a get-identity.
Datagrams leave in batches through ``sendmmsg()`` and queued errors are read in batches
through ``recvmmsg()`` (``bjnp_libc``; one call per datagram where those are missing).

TCP: non-blocking ``connect()`` in large batches, watched with epoll. Nothing is ever
written (bytes sent to 9100 get printed); sockets are closed as soon as the handshake
result is known, except a refused one, which is connected again for the next probe.

Two addresses or more: half of them are probed by a child process (fork), the other half
here, each process with every port in one loop. Nearly all the work is the kernel's, per
system call: two processes use two cores without handing a GIL back and forth at every
call (the earlier UDP and TCP threads did, for a third more CPU), and halves of the
addresses load them evenly whatever UDP and TCP each cost. The child sends back one byte
per probe and the identities it read.

Bookkeeping is per probe index (``port position * addresses + address position``) in
preallocated byte arrays, not one object per probe; the results dictionary is built once
at the end, with the cyclic garbage collector paused (it walked the growing heap over and
over for nothing: the engine makes no reference cycles).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import gc
import itertools
import json
import os
import random
import select
import signal
import socket
import struct
import time

try:
    import resource
except ImportError:  # not on every platform; the limit then stays as it is
    resource = None

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_codec as codec
from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_libc as libc
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import sort_key

IP_RECVERR = libc.IP_RECVERR
IPV6_RECVERR = libc.IPV6_RECVERR
MSG_ERRQUEUE = libc.MSG_ERRQUEUE
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

# Creating the TCP socket non-blocking saves one system call per probe (Linux).
_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)

EPOLLIN = getattr(select, "EPOLLIN", 0x001)  # getattr: importable (for docs) off Linux too
EPOLLOUT = getattr(select, "EPOLLOUT", 0x004)
EPOLLERR = getattr(select, "EPOLLERR", 0x008)

OPEN, CLOSED, FILTERED, OPEN_FILTERED = "open", "closed", "filtered", "open|filtered"

SERVICES = {8611: "bjnp-printer", 8612: "bjnp-scanner", 8613: "bjnp", 8614: "bjnp", 9100: "jetdirect"}

# Work done between two polls: large enough to amortise the poll, small enough that
# answers and ICMP errors are read before the socket buffers overflow.
BATCH = 256
# Receive buffer asked for the UDP sockets: ICMP errors for a whole batch must fit.
UDP_RCVBUF = 16 * 1024 * 1024
# File descriptors kept free for Python, ansible and the UDP sockets.
RESERVED_FDS = 64
# A datagram whose send fails this many times (as the first of a call) reads "filtered".
SEND_ATTEMPTS = 3

# Result codes, one byte per probe; 0 = no result yet.
_OPEN, _CLOSED, _FILTERED, _OPEN_FILTERED = 1, 2, 3, 4
_STATE = (None, OPEN, CLOSED, FILTERED, OPEN_FILTERED)
_CODE = dict((state, code) for code, state in enumerate(_STATE) if state)
# One shared (state, identity) tuple per state: a /16 holds hundreds of thousands.
_RESULT = tuple((state, None) if state else None for state in _STATE)
# Progress of a UDP probe.
_NEW, _WAIT_DISCOVER, _WAIT_IDENTITY, _DONE = 0, 1, 2, 3

# errno of a failed connect() -> TCP result code; anything unlisted (timeouts, unreachable,
# prohibited, refused by a local rule) is "filtered".
_TCP_ERRNO_CODE = {0: _OPEN, errno.EISCONN: _OPEN, errno.ECONNREFUSED: _CLOSED}
# connect() still under way (a second connect() answers EALREADY while it is).
_TCP_PENDING = (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)


def service_name(port):
    return SERVICES.get(port, "unknown")


def udp_icmp_state(origin, icmp_type, icmp_code):
    """nmap's reading of an ICMP error to a UDP probe: port unreachable is closed, any other
    unreachable (admin prohibited, host unreachable...) filtered; ``None`` = not ICMP."""
    if origin == SO_EE_ORIGIN_ICMP and icmp_type == 3:
        return CLOSED if icmp_code == 3 else FILTERED
    if origin == SO_EE_ORIGIN_ICMP6 and icmp_type == 1:
        return CLOSED if icmp_code == 4 else FILTERED
    return None


def raise_nofile_limit():
    """Raise the soft open-files limit to the hard one; return the soft limit now in force."""
    if resource is None:
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > 1048576:
        hard = 1048576
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def family_runs(addresses):
    """``[(first, last, family), ...]``: the address positions in runs of one family."""
    runs = []
    for position, address in enumerate(addresses):
        family = family_of(address)
        if runs and runs[-1][2] == family:
            runs[-1][1] = position + 1
        else:
            runs.append([position, position + 1, family])
    return [tuple(run) for run in runs]


def distinct_addresses(addresses):
    """``(addresses to probe, [(alias, address probed), ...])``: each address once, in order.

    A later spelling of the same address (``0:0::1`` after ``::1``) is an alias: probing it
    again would only race the first for the same answers. Raises ``ValueError`` naming a
    string that is not an IP address.
    """
    first, distinct, aliases = {}, [], []
    for address in addresses:
        family = family_of(address)
        try:
            key = (family, libc.address_key(family, address))
        except (OSError, ValueError):
            raise ValueError("'%s' is not an IP address" % (address,))
        if key not in first:
            first[key] = address
            distinct.append(address)
        elif first[key] != address:
            aliases.append((address, first[key]))
    return distinct, aliases


def result_entries(addresses, protocol, ports, codes):
    """``((address, protocol, port), (state, None))`` for every probe index with a result.

    Probe index ``i`` is port ``ports[i // len(addresses)]`` of address
    ``addresses[i % len(addresses)]``; the tuples are made in C (zip, repeat, chain).
    """
    count = len(addresses)
    keys = zip(itertools.chain.from_iterable(itertools.repeat(addresses, len(ports))),
               itertools.repeat(protocol),
               itertools.chain.from_iterable(itertools.repeat(port, count) for port in ports))
    if 0 not in codes:
        return zip(keys, map(_RESULT.__getitem__, codes))
    return ((key, _RESULT[code]) for key, code in zip(keys, codes) if code)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# What the child process sends back: "K", probes sent, then one result code per probe and
# the identities; or "E", errno (0: not an OSError), then the message.
_CHILD_HEAD = struct.Struct("=cQ")


class Scanner(object):
    """One scan: ``Scanner(...).run(addresses)`` -> ``{(address, protocol, port): (state, identity)}``.

    ``addresses`` are address strings (IPv4 or IPv6). ``rate`` caps probes per second
    (0 = as fast as the host can send); ``concurrency`` caps TCP connects in flight.
    """

    def __init__(self, udp_ports, tcp_ports, timeout=1.0, retries=1, concurrency=4096,
                 rate=0, identify=True):
        self.udp_ports = list(udp_ports)
        self.tcp_ports = list(tcp_ports)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.identify = identify
        self.rate = float(rate)
        fd_room = max(1, raise_nofile_limit() - RESERVED_FDS)
        self.concurrency = max(1, min(int(concurrency), fd_room))
        sequence = random.randint(1, 0xFFFE)
        self._discover = dict((t, codec.build_discover(t, sequence))
                              for t in (codec.TYPE_PRINTER, codec.TYPE_SCANNER))
        self._identity = dict((t, codec.build_identity_request(t, sequence + 1))
                              for t in (codec.TYPE_PRINTER, codec.TYPE_SCANNER))
        self.results = {}
        self.probes_sent = 0

    # ---------------------------------------------------------------- set-up
    def _udp_socket(self, family):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        try:  # beyond net.core.rmem_max needs CAP_NET_ADMIN; fall back to what is allowed
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, UDP_RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
        return sock

    def _prepare(self, addresses):
        """Per-address tables and the per-probe byte arrays, once for the whole scan."""
        self._addresses = addresses
        self._count = len(addresses)
        self._runs = family_runs(addresses)
        self._is_ipv6 = bytearray(1 if family_of(address) == socket.AF_INET6 else 0 for address in addresses)
        self._ucode = bytearray(len(self.udp_ports) * self._count)
        self._tcode = bytearray(len(self.tcp_ports) * self._count)
        self._identities = {}  # UDP probe index -> identity, for the ones that answered
        if not self.udp_ports:
            return
        self._ustate = bytearray(len(self._ucode))
        self._attempts = bytearray(len(self._ucode))
        self._identity_request = {}  # UDP probe index -> its get-identity packet
        self._udp_port_position = dict((port, position) for position, port in enumerate(self.udp_ports))
        self._port_discover = [self._discover[codec.device_type_for_port(port)] for port in self.udp_ports]
        # Address key (bjnp_libc.address_key) -> position, per family: answers and ICMP
        # errors name their address in the kernel's form, whatever the spelling given.
        self._position = {socket.AF_INET: {}, socket.AF_INET6: {}}
        self._tails = [None] * self._count if libc.batching_available() else None
        for first, last, family in self._runs:
            positions = self._position[family]
            for position in range(first, last):
                address = addresses[position]
                positions[libc.address_key(family, address)] = position
                if self._tails is not None:
                    self._tails[position] = libc.sockaddr_tail(family, address)

    # ---------------------------------------------------------------- run
    def run(self, addresses):
        addresses, aliases = distinct_addresses(addresses)
        collecting = gc.isenabled()
        gc.disable()
        try:
            if len(addresses) > 1 and self.concurrency > 1:
                self._run_split(addresses)
            else:
                self._prepare(addresses)
                self._run_loop()
                self._collect()
            for alias, address in aliases:  # another spelling of a probed address: its results
                for protocol, ports in (("udp", self.udp_ports), ("tcp", self.tcp_ports)):
                    for port in ports:
                        self.results[(alias, protocol, port)] = self.results[(address, protocol, port)]
        finally:
            if collecting:
                gc.enable()
        return self.results

    def _run_split(self, addresses):
        """Half the addresses here, half in a child process, every port of each in one loop.

        The rate and the TCP concurrency are shared in proportion to the probes (the
        concurrency exactly: the two caps add up to it).
        """
        half = len(addresses) // 2
        child_share = (len(addresses) - half) / float(len(addresses))
        here = Scanner(self.udp_ports, self.tcp_ports, self.timeout, self.retries,
                       self.concurrency - self.concurrency // 2, self.rate * (1 - child_share), self.identify)
        there = Scanner(self.udp_ports, self.tcp_ports, self.timeout, self.retries,
                        self.concurrency // 2, self.rate * child_share, self.identify)
        here._prepare(addresses[:half])
        there._prepare(addresses[half:])
        child, pipe = there._fork_loop()
        answer = None
        try:
            here._run_loop()
            answer = _read_all(pipe)
        finally:
            os.close(pipe)
            if answer is None:  # this side failed: the child's work is of no use
                os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        there._take_child_answer(answer)
        for part in (here, there):
            part.results = self.results  # one dictionary, built once
            part._collect()
            self.probes_sent += part.probes_sent

    def _fork_loop(self):
        """Run ``_run_loop`` in a child process; return ``(pid, read end of its pipe)``."""
        parent = os.getpid()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid:
            os.close(write_end)
            return pid, read_end
        status = 1
        try:  # the child: never returns, never runs the parent's clean-up or atexit handlers
            os.close(read_end)
            libc.die_with_parent(signal.SIGKILL)
            if os.getppid() == parent:  # else the module is gone already
                try:
                    self._run_loop()
                    answer = self._child_answer()
                except Exception as exc:  # pylint: disable=broad-except  # re-raised by the parent
                    answer = _CHILD_HEAD.pack(b"E", getattr(exc, "errno", None) or 0) + (
                        "%s" % (exc,)).encode("utf-8", "replace")
                _write_all(write_end, answer)
                status = 0
        finally:
            os._exit(status)

    def _child_answer(self):
        """What the child sends back: probes sent, the result codes, the identities (JSON)."""
        identities = json.dumps(dict(("%d" % index, identity) for index, identity in self._identities.items()))
        return (_CHILD_HEAD.pack(b"K", self.probes_sent) + bytes(self._ucode) + bytes(self._tcode)
                + identities.encode("utf-8"))

    def _take_child_answer(self, answer):
        """Take over the child's results (``_child_answer``), or raise the error it met."""
        if len(answer) < _CHILD_HEAD.size:
            raise OSError(errno.ECHILD, "the probe's child process ended without a result")
        kind, number = _CHILD_HEAD.unpack_from(answer)
        body = answer[_CHILD_HEAD.size:]
        if kind == b"E":
            message = body.decode("utf-8", "replace")
            if number:
                raise OSError(number, message)
            raise RuntimeError("probing failed in the child process: %s" % message)
        self.probes_sent = number
        udp, tcp = len(self._ucode), len(self._tcode)
        self._ucode[:] = body[:udp]
        self._tcode[:] = body[udp:udp + tcp]
        self._identities = dict((int(index), identity)
                                for index, identity in json.loads(body[udp + tcp:].decode("utf-8")).items())

    def _run_loop(self):
        self._poller = select.epoll()
        self._udp_sockets = {}  # family -> (socket, sender, error reader)
        self._udp_by_fd = {}
        self._udp_next = (0, 0, self._runs[0][0]) if self.udp_ports and self._runs else None
        self._udp_pending = 0  # probes sent and not finished
        self._udp_retry = collections.deque()  # probe indexes to send again (or not yet sent)
        self._udp_deadlines = collections.deque()  # (deadline, probes, phase, attempt), in send order
        self._tcp_next = 0
        self._tcp_inflight = {}  # fd -> (socket, probe index)
        self._tcp_deadlines = collections.deque()  # (deadline, fd, socket), in connect order
        self._tcp_spare = [None, None]  # [IPv4, IPv6]: a socket whose connect() was refused
        self._started = time.monotonic()
        try:
            udp_left = self._udp_next is not None
            tcp_left = len(self._tcode) > 0
            while True:
                budget = self._budget()
                if udp_left or self._udp_retry:
                    udp_left = self._send_udp(min(BATCH, budget))
                    budget = self._budget()
                if tcp_left and len(self._tcp_inflight) < self.concurrency:
                    tcp_left = self._connect_tcp(min(BATCH, budget))
                busy = (udp_left or tcp_left or self._udp_retry or self._udp_pending
                        or self._tcp_inflight)
                if not busy:
                    break
                # TCP at its concurrency cap cannot send: wait for answers, do not spin.
                self._poll(udp_left or self._udp_retry
                           or (tcp_left and len(self._tcp_inflight) < self.concurrency))
                self._expire(time.monotonic())
        finally:
            self._shutdown()

    def _budget(self):
        if not self.rate:
            return BATCH
        allowed = int(self.rate * (time.monotonic() - self._started)) + 1 - self.probes_sent
        return max(0, allowed)

    def _collect(self):
        """The results dictionary from the result codes, built once."""
        results = self.results
        addresses = self._addresses
        results.update(result_entries(addresses, "udp", self.udp_ports, self._ucode))
        results.update(result_entries(addresses, "tcp", self.tcp_ports, self._tcode))
        for index, identity in self._identities.items():
            port, position = divmod(index, self._count)
            results[(addresses[position], "udp", self.udp_ports[port])] = (_STATE[self._ucode[index]], identity)

    # ---------------------------------------------------------------- UDP
    def _udp_io(self, family):
        entry = self._udp_sockets.get(family)
        if entry is None:
            sock = self._udp_socket(family)
            sender, reader = libc.batch_io(sock, family, self._addresses, self._tails, BATCH)
            entry = self._udp_sockets[family] = (sock, sender, reader)
            self._udp_by_fd[sock.fileno()] = family
            self._poller.register(sock.fileno(), EPOLLIN | EPOLLERR)
        return entry

    def _send_udp(self, limit):
        """Send up to ``limit`` probes, retries first; return False once no new probe is left."""
        while limit > 0:
            if self._udp_retry:
                done, blocked = self._send_retries(limit)
            elif self._udp_next is not None:
                done, blocked = self._send_new(limit)
            else:
                break
            limit -= done
            if blocked:
                break
        return self._udp_next is not None

    def _send_new(self, limit):
        """The next run of new discovers: one port, consecutive addresses of one family."""
        port_position, run, first = self._udp_next
        run_first, run_last, family = self._runs[run]
        last = min(run_last, first + limit)
        dummy, sender, dummy_reader = self._udp_io(family)
        sender.load(self.udp_ports[port_position], first, last, self._port_discover[port_position])
        base = port_position * self._count
        sent, blocked = self._send_loaded(sender, base + first, last - first)
        if blocked:
            last = first + sent
        elif last == run_last:  # next run, or next port
            run += 1
            if run == len(self._runs):
                run, port_position = 0, port_position + 1
            last = self._runs[run][0]
        self._udp_next = (port_position, run, last) if port_position < len(self.udp_ports) else None
        return sent, blocked

    def _send_loaded(self, sender, first_index, count):
        """Send ``count`` loaded discovers (probe indexes from ``first_index``); (done, blocked).

        "done" counts the probes sent or given up as filtered.
        """
        position = failures = 0
        state, attempts = self._ustate, self._attempts
        while position < count:
            try:
                sent = sender.send(position)
            except (BlockingIOError, InterruptedError):
                break  # send buffer full: the rest later
            except OSError:
                # No route, broadcast address, refused by a local rule: nothing can answer.
                failures += 1
                if failures >= SEND_ATTEMPTS:
                    index = first_index + position
                    state[index] = _DONE
                    self._ucode[index] = _FILTERED
                    position += 1
                    failures = 0
                continue
            first, last = first_index + position, first_index + position + sent
            state[first:last] = bytes((_WAIT_DISCOVER,)) * sent
            attempts[first:last] = b"\x01" * sent
            self._udp_pending += sent
            self.probes_sent += sent
            position += sent
            failures = 0
        if position:
            self._udp_deadlines.append((time.monotonic() + self.timeout, range(first_index, first_index + position),
                                        _WAIT_DISCOVER, 1))
        return position, position < count

    def _send_retries(self, limit):
        """Send retries and get-identities, up to ``limit``, of one family; (done, blocked)."""
        state, count = self._ustate, self._count
        retry = self._udp_retry
        entries, indexes, family = [], [], None
        while retry and len(entries) < limit:
            index = retry[0]
            if state[index] == _DONE:  # answered while waiting for its turn
                retry.popleft()
                continue
            port_position, position = divmod(index, count)
            address_family = socket.AF_INET6 if self._is_ipv6[position] else socket.AF_INET
            if family is None:
                family = address_family
            elif address_family != family:
                break  # one socket per batch
            retry.popleft()
            packet = (self._identity_request[index] if state[index] == _WAIT_IDENTITY
                      else self._port_discover[port_position])
            entries.append((self.udp_ports[port_position], position, packet))
            indexes.append(index)
        if not entries:
            return 0, False
        dummy, sender, dummy_reader = self._udp_io(family)
        sender.load_mixed(entries)
        sent_probes = []
        position = failures = 0
        while position < len(entries):
            try:
                sent = sender.send(position)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                failures += 1
                if failures >= SEND_ATTEMPTS:
                    self._finish_udp(indexes[position], _FILTERED)
                    position += 1
                    failures = 0
                continue
            for index in indexes[position:position + sent]:
                self._attempts[index] += 1
                sent_probes.append((index, state[index], self._attempts[index]))
            self.probes_sent += sent
            position += sent
            failures = 0
        if sent_probes:
            self._udp_deadlines.append((time.monotonic() + self.timeout, sent_probes, None, None))
        retry.extendleft(reversed(indexes[position:]))
        return position, position < len(entries)

    def _finish_udp(self, index, code):
        """A probe that was sent and waited for has its result."""
        self._udp_pending -= 1
        self._ustate[index] = _DONE
        self._ucode[index] = code

    def _udp_index(self, family, source):
        """The probe index an answer from ``source`` (host, port, ...) belongs to, or None."""
        port_position = self._udp_port_position.get(source[1])
        if port_position is None:
            return None
        try:
            position = self._position[family].get(libc.address_key(family, source[0]))
        except (OSError, ValueError):
            return None
        return None if position is None else port_position * self._count + position

    def _read_udp(self, family):
        sock, dummy_sender, reader = self._udp_sockets[family]
        state = self._ustate
        while True:
            try:
                data, source = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # a pending ICMP error surfaced here; the error queue has its details
            index = self._udp_index(family, source)
            if index is None or state[index] not in (_WAIT_DISCOVER, _WAIT_IDENTITY):
                continue
            port_position = index // self._count
            identifying = state[index] == _WAIT_IDENTITY
            request = self._identity_request[index] if identifying else self._port_discover[port_position]
            answer = codec.parse_response(data, request)
            if answer is None:
                continue  # junk or a stale answer: keep waiting for a real one
            if identifying:
                self._identities[index].update(codec.parse_identity_payload(answer["payload"]))
                self._finish_udp(index, _OPEN)
                continue
            identity = dict(codec.parse_identity_payload(b""))
            mac = codec.parse_discover_payload(answer["payload"])["mac"]
            if mac:
                identity["mac"] = mac
            self._identities[index] = identity
            self._ucode[index] = _OPEN
            if self.identify:
                state[index] = _WAIT_IDENTITY
                self._identity_request[index] = self._identity[answer["type"] & ~codec.RESPONSE_FLAG]
                self._attempts[index] = 0
                self._udp_retry.appendleft(index)
            else:
                self._finish_udp(index, _OPEN)
        self._apply_udp_errors(family, reader.read_all())

    def _apply_udp_errors(self, family, errors):
        positions = self._position[family]
        port_positions = self._udp_port_position
        state, count = self._ustate, self._count
        for key, port, origin, icmp_type, icmp_code in errors:
            position = positions.get(key)
            port_position = port_positions.get(port)
            if position is None or port_position is None:
                continue
            index = port_position * count + position
            if state[index] != _WAIT_DISCOVER:
                continue  # answered already, or a get-identity is under way: the port is open
            icmp_state = udp_icmp_state(origin, icmp_type, icmp_code)
            if icmp_state is not None:
                self._finish_udp(index, _CODE[icmp_state])

    def _udp_timed_out(self, index):
        if self._attempts[index] <= self.retries:
            self._udp_retry.append(index)
        elif self._ustate[index] == _WAIT_IDENTITY:
            self._finish_udp(index, _OPEN)  # discover was answered: only the identity is missing
        else:
            self._finish_udp(index, _OPEN_FILTERED)

    # ---------------------------------------------------------------- TCP
    @staticmethod
    def _tcp_socket(family):
        if _SOCK_NONBLOCK:
            return socket.socket(family, socket.SOCK_STREAM | _SOCK_NONBLOCK)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        return sock

    def _connect_tcp(self, limit):
        """Up to ``limit`` connects (fewer at the concurrency cap); False once none is left."""
        limit = min(limit, self.concurrency - len(self._tcp_inflight))
        index, total, count = self._tcp_next, len(self._tcode), self._count
        end = min(total, index + limit)
        addresses, is_ipv6, codes, spare = self._addresses, self._is_ipv6, self._tcode, self._tcp_spare
        deadline = time.monotonic() + self.timeout
        while index < end:
            port_position, first = divmod(index, count)
            port = self.tcp_ports[port_position]
            last = min(count, first + end - index)
            for position in range(first, last):
                ipv6 = is_ipv6[position]
                sock = spare[ipv6]
                if sock is None:
                    sock = self._tcp_socket(socket.AF_INET6 if ipv6 else socket.AF_INET)
                else:
                    spare[ipv6] = None
                sockaddr = (addresses[position], port, 0, 0) if ipv6 else (addresses[position], port)
                result = sock.connect_ex(sockaddr)
                if result in _TCP_PENDING:
                    # On loopback and veth the answer is processed before connect() returns:
                    # asking again settles it without epoll (two system calls fewer). Elsewhere
                    # this costs one cheap call answering EALREADY.
                    result = sock.connect_ex(sockaddr)
                if result == errno.ECONNREFUSED:
                    # Linux leaves a refused socket unconnected and unbound: connecting it again
                    # saves a socket() and a close() on the commonest answer of a sweep.
                    codes[port_position * count + position] = _CLOSED
                    spare[ipv6] = sock
                elif result in _TCP_PENDING:
                    fd = sock.fileno()
                    self._tcp_inflight[fd] = (sock, port_position * count + position)
                    self._tcp_deadlines.append((deadline, fd, sock))
                    self._poller.register(fd, EPOLLOUT | EPOLLERR)
                else:
                    codes[port_position * count + position] = _TCP_ERRNO_CODE.get(result, _FILTERED)
                    sock.close()
            index += last - first
        self.probes_sent += end - self._tcp_next
        self._tcp_next = end
        return end < total

    def _tcp_done(self, fd, code=None):
        sock, index = self._tcp_inflight.pop(fd)
        if code is None:
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            code = _TCP_ERRNO_CODE.get(error, _FILTERED)
        self._tcode[index] = code
        sock.close()  # also leaves the epoll set: no other descriptor refers to the socket

    # ---------------------------------------------------------------- loop helpers
    def _poll(self, more_to_send):
        if more_to_send:
            timeout = 0
        else:
            heads = [queue[0][0] for queue in (self._udp_deadlines, self._tcp_deadlines) if queue]
            timeout = max(0.0, min(min(heads) - time.monotonic(), 0.05)) if heads else 0.05
        if self.rate and more_to_send and self._budget() == 0:
            timeout = min(0.01, max(0.001, 1.0 / self.rate))
        for fd, dummy_mask in self._poller.poll(timeout):
            family = self._udp_by_fd.get(fd)
            if family is not None:
                self._read_udp(family)
            elif fd in self._tcp_inflight:
                self._tcp_done(fd)

    def _expire(self, now):
        deadlines = self._udp_deadlines
        while deadlines and deadlines[0][0] <= now:
            dummy, probes, phase, attempt = deadlines.popleft()
            state, attempts = self._ustate, self._attempts
            # A probe counts as unanswered only if this was its latest send: same phase
            # (discover or get-identity) and attempt, and still waiting.
            if phase is not None:
                for index in probes:
                    if state[index] == phase and attempts[index] == attempt:
                        self._udp_timed_out(index)
            else:
                for index, phase_sent, attempt_sent in probes:
                    if state[index] == phase_sent and attempts[index] == attempt_sent:
                        self._udp_timed_out(index)
        deadlines = self._tcp_deadlines
        while deadlines and deadlines[0][0] <= now:
            dummy, fd, sock = deadlines.popleft()
            entry = self._tcp_inflight.get(fd)
            if entry is not None and entry[0] is sock:
                self._tcp_done(fd, _FILTERED)

    def _shutdown(self):
        for fd in list(self._tcp_inflight):
            self._tcp_done(fd, _FILTERED)
        for entry in self._udp_sockets.values():
            entry[0].close()
        for sock in self._tcp_spare:
            if sock is not None:
                sock.close()
        self._poller.close()


def build_report(targets, results, udp_ports, tcp_ports, elapsed, only_exposed=False):
    """Shape engine results as the module returns them (docs/design.md, "Probe result").

    ``targets`` is ``[(address, name or None), ...]``. Hosts are sorted by address, ports
    by protocol then number, so two runs diff cleanly.
    """
    exposed_addresses = set(key[0] for key, (state, dummy) in results.items() if state == OPEN)
    exposed_count = sum(1 for address, dummy in targets if str(address) in exposed_addresses)
    shown = targets
    if only_exposed:  # before sorting and shaping: on a large network few hosts are kept
        shown = [target for target in targets if str(target[0]) in exposed_addresses]
    hosts = []
    for address, name in sorted(shown, key=lambda target: sort_key(target[0])):
        address = str(address)
        ports = []
        for protocol, port_list in (("tcp", tcp_ports), ("udp", udp_ports)):
            for port in sorted(port_list):
                state, identity = results.get((address, protocol, port), (None, None))
                if state is None:
                    state = FILTERED if protocol == "tcp" else OPEN_FILTERED
                entry = {"port": port, "protocol": protocol, "state": state,
                         "service": service_name(port)}
                if identity is not None:
                    entry["identity"] = identity
                ports.append(entry)
        host = {"address": address, "exposed": address in exposed_addresses, "ports": ports}
        if name:
            host["name"] = name
        hosts.append(host)
    summary = {"targets": len(targets), "exposed": exposed_count, "elapsed": round(elapsed, 3)}
    return {"hosts": hosts, "summary": summary}


def scan(targets, udp_ports, tcp_ports, timeout=1.0, retries=1, concurrency=4096, rate=0,
         identify=True, only_exposed=False):
    """Probe ``targets`` (``[(address, name), ...]``) and return ``{"hosts", "summary"}``."""
    started = time.monotonic()
    scanner = Scanner(udp_ports, tcp_ports, timeout=timeout, retries=retries,
                      concurrency=concurrency, rate=rate, identify=identify)
    collecting = gc.isenabled()
    gc.disable()  # the report of a large sweep is many small dicts, none in a cycle
    try:
        results = scanner.run([str(address) for address, dummy_name in targets])
        return build_report(targets, results, udp_ports, tcp_ports, time.monotonic() - started,
                            only_exposed=only_exposed)
    finally:
        if collecting:
            gc.enable()
