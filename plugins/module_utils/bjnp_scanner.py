# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe's network engine: many UDP and TCP probes from one thread, stdlib only (Linux).

UDP: one unconnected socket per address family sends every BJNP discover. ``IP_RECVERR``
(``IPV6_RECVERR``) queues each ICMP error on the socket with the destination it answers, so
a single socket learns "port unreachable" (closed) or "administratively prohibited"
(filtered) for thousands of probes; silence after the retries is ``open|filtered``.
A well-formed BJNP answer is ``open`` and, with ``identify``, triggers a get-identity.

TCP: non-blocking ``connect()`` in large batches, watched with epoll. Nothing is ever
written (bytes sent to 9100 get printed); sockets are closed as soon as the handshake
result is known, except a refused one, which is connected again for the next probe.

UDP and TCP run in two threads: nearly all the work is system calls (the kernel sending
and answering), which run outside the GIL, so the two can use two cores.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import ipaddress
import random
import select
import socket
import struct
import threading
import time

try:
    import resource
except ImportError:  # not on every platform; the limit then stays as it is
    resource = None

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_codec as codec
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import sort_key

# Linux values; older Pythons do not export all of them.
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
# struct sock_extended_err: ee_errno (u32), ee_origin, ee_type, ee_code (u8 each).
_EXTENDED_ERR = struct.Struct("=IBBB")

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

# errno of a failed connect() -> TCP state; anything unlisted (timeouts, unreachable,
# prohibited, refused by a local rule) is "filtered".
_TCP_ERRNO_STATE = {0: OPEN, errno.EISCONN: OPEN, errno.ECONNREFUSED: CLOSED}
# connect() still under way (a second connect() answers EALREADY while it is).
_TCP_PENDING = (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)
# One shared (state, identity) tuple per TCP state: a /16 holds hundreds of thousands.
_TCP_RESULT = dict((state, (state, None)) for state in (OPEN, CLOSED, FILTERED))


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


class _UdpProbe(object):
    __slots__ = ("address", "port", "sockaddr", "family", "request", "identifying", "attempts")

    def __init__(self, address, port, sockaddr, family, request):
        self.address = address
        self.port = port
        self.sockaddr = sockaddr
        self.family = family
        self.request = request
        self.identifying = False
        self.attempts = 0


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
        self._errors_inline = False

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

    @staticmethod
    def _family_and_sockaddr(address, port):
        if ":" in address:
            return socket.AF_INET6, (address, port, 0, 0)
        return socket.AF_INET, (address, port)

    # ---------------------------------------------------------------- run
    def run(self, addresses):
        addresses = list(addresses)
        if not (self.udp_ports and self.tcp_ports):
            return self._run_loop(addresses)
        # Two scanners, one per protocol; the rate is shared in proportion to their probes.
        udp_share = len(self.udp_ports) / float(len(self.udp_ports) + len(self.tcp_ports))
        parts = [Scanner(udp_ports, tcp_ports, self.timeout, self.retries, self.concurrency,
                         self.rate * share, self.identify)
                 for udp_ports, tcp_ports, share in ((self.udp_ports, [], udp_share),
                                                     ([], self.tcp_ports, 1 - udp_share))]
        failures = []

        def run_tcp():
            try:
                parts[1].run(addresses)
            except Exception as exc:  # pylint: disable=broad-except  # re-raised below
                failures.append(exc)

        thread = threading.Thread(target=run_tcp, name="bjnp-probe-tcp")
        thread.daemon = True
        thread.start()
        try:
            parts[0].run(addresses)
        finally:
            thread.join()
        if failures:
            raise failures[0]
        for part in parts:
            self.results.update(part.results)
            self.probes_sent += part.probes_sent
        return self.results

    def _run_loop(self, addresses):
        self._poller = select.epoll()
        self._udp_sockets = {}
        self._udp_by_fd = {}
        self._udp_waiting = {}  # (address, port) -> _UdpProbe awaiting an answer
        self._udp_retry = collections.deque()
        self._udp_deadlines = collections.deque()  # (deadline, probe, attempts), in send order
        self._tcp_inflight = {}  # fd -> (socket, address, port)
        self._tcp_deadlines = collections.deque()  # (deadline, fd, socket), in connect order
        self._tcp_spare = {}  # family -> a socket whose connect() was refused, ready for the next
        udp_new = self._udp_work(addresses)
        tcp_new = self._tcp_work(addresses)
        self._started = time.monotonic()
        try:
            udp_left = tcp_left = True
            while True:
                budget = self._budget()
                if udp_left or self._udp_retry:
                    udp_left = self._send_udp(udp_new, min(BATCH, budget))
                    budget = self._budget()
                if tcp_left and len(self._tcp_inflight) < self.concurrency:
                    tcp_left = self._connect_tcp(tcp_new, min(BATCH, budget))
                busy = (udp_left or tcp_left or self._udp_retry or self._udp_waiting
                        or self._tcp_inflight)
                if not busy:
                    break
                # TCP at its concurrency cap cannot send: wait for answers, do not spin.
                self._poll(udp_left or self._udp_retry
                           or (tcp_left and len(self._tcp_inflight) < self.concurrency))
                self._expire(time.monotonic())
        finally:
            self._shutdown()
        return self.results

    def _budget(self):
        if not self.rate:
            return BATCH
        allowed = int(self.rate * (time.monotonic() - self._started)) + 1 - self.probes_sent
        return max(0, allowed)

    def _udp_work(self, addresses):
        for port in self.udp_ports:
            device_type = codec.device_type_for_port(port)
            request = self._discover[device_type]
            for address in addresses:
                family, sockaddr = self._family_and_sockaddr(address, port)
                yield _UdpProbe(address, port, sockaddr, family, request)

    def _tcp_work(self, addresses):
        for port in self.tcp_ports:
            for address in addresses:
                yield (address, port) + self._family_and_sockaddr(address, port)

    # ---------------------------------------------------------------- UDP
    def _socket_for(self, family):
        sock = self._udp_sockets.get(family)
        if sock is None:
            sock = self._udp_sockets[family] = self._udp_socket(family)
            self._udp_by_fd[sock.fileno()] = sock
            self._poller.register(sock.fileno(), EPOLLIN | EPOLLERR)
        return sock

    def _send_udp(self, new_probes, limit):
        """Send up to ``limit`` probes, retries first; return False once no new probe is left."""
        more = True
        now = time.monotonic()
        for dummy in range(limit):
            if self._udp_retry:
                probe = self._udp_retry.popleft()
            else:
                probe = next(new_probes, None)
                if probe is None:
                    more = False
                    break
            sock = self._socket_for(probe.family)
            try:
                self._sendto(sock, probe.request, probe.sockaddr)
            except (BlockingIOError, InterruptedError):
                self._udp_retry.appendleft(probe)  # send buffer full: later
                break
            except OSError:
                # No route, broadcast address, refused by a local rule: nothing can answer.
                self._finish_udp(probe, FILTERED)
                continue
            self.probes_sent += 1
            probe.attempts += 1
            self._udp_waiting[(probe.address, probe.port)] = probe
            self._udp_deadlines.append((now + self.timeout, probe, probe.attempts))
            if self._errors_inline:
                # Errors come back as fast as probes leave (loopback, veth): reading this
                # one now also clears the socket's pending error, so the next sendto() does
                # not fail first. Off again as soon as nothing is waiting.
                self._errors_inline = self._read_udp_error(sock)
        return more

    def _sendto(self, sock, packet, sockaddr):
        """sendto() that tells this packet's own failure from an older one.

        An ICMP error for an earlier probe also sets the socket's pending error, and the
        next sendto() fails with it (clearing it) without sending. Trying again gives
        this datagram's own outcome; the details of the old error are in the error queue.
        """
        for attempt in range(3):
            try:
                return sock.sendto(packet, sockaddr)
            except (BlockingIOError, InterruptedError):
                raise
            except OSError:
                self._errors_inline = True
                if attempt == 2:
                    raise

    def _finish_udp(self, probe, state, identity=None):
        self._udp_waiting.pop((probe.address, probe.port), None)
        key = (probe.address, "udp", probe.port)
        if state == OPEN_FILTERED and probe.identifying:
            return  # discover was answered: the port stays open, only the identity is missing
        self.results[key] = (state, identity if identity is not None else self.results.get(key, (None, None))[1])

    def _lookup(self, host, port):
        probe = self._udp_waiting.get((host, port))
        if probe is None and ":" in host:
            # Scope ids and alternative IPv6 spellings: compare in canonical form.
            try:
                host = str(ipaddress.ip_address(host.split("%", 1)[0]))
            except ValueError:
                return None
            probe = self._udp_waiting.get((host, port))
        return probe

    def _read_udp(self, sock):
        while True:
            try:
                data, source = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # a pending ICMP error surfaced here; the error queue has its details
            probe = self._lookup(source[0], source[1])
            if probe is None:
                continue
            answer = codec.parse_response(data, probe.request)
            if answer is None:
                continue  # junk or a stale answer: keep waiting for a real one
            if probe.identifying:
                identity = self.results[(probe.address, "udp", probe.port)][1]
                identity.update(codec.parse_identity_payload(answer["payload"]))
                self._finish_udp(probe, OPEN, identity)
                continue
            identity = dict(codec.parse_identity_payload(b""))
            mac = codec.parse_discover_payload(answer["payload"])["mac"]
            if mac:
                identity["mac"] = mac
            self.results[(probe.address, "udp", probe.port)] = (OPEN, identity)
            if self.identify:
                probe.identifying = True
                probe.request = self._identity[answer["type"] & ~codec.RESPONSE_FLAG]
                probe.attempts = 0
                self._udp_retry.appendleft(probe)
            else:
                self._udp_waiting.pop((probe.address, probe.port), None)
        self._read_udp_errors(sock)

    def _read_udp_errors(self, sock):
        while self._read_udp_error(sock):
            pass

    def _read_udp_error(self, sock):
        """Read and apply one queued ICMP error; False once the queue is empty."""
        try:
            dummy, ancillary, dummy_flags, destination = sock.recvmsg(64, 512, MSG_ERRQUEUE)
        except OSError:  # BlockingIOError included: nothing queued
            return False
        for level, kind, data in ancillary:
            if (level, kind) not in ((socket.IPPROTO_IP, IP_RECVERR),
                                     (socket.IPPROTO_IPV6, IPV6_RECVERR)):
                continue
            if len(data) < _EXTENDED_ERR.size or not destination:
                continue
            dummy_errno, origin, icmp_type, icmp_code = _EXTENDED_ERR.unpack_from(data)
            state = udp_icmp_state(origin, icmp_type, icmp_code)
            probe = self._lookup(destination[0], destination[1])
            if state is not None and probe is not None and not probe.identifying:
                self._finish_udp(probe, state)
        return True

    # ---------------------------------------------------------------- TCP
    @staticmethod
    def _tcp_socket(family):
        if _SOCK_NONBLOCK:
            return socket.socket(family, socket.SOCK_STREAM | _SOCK_NONBLOCK)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        return sock

    def _connect_tcp(self, new_probes, limit):
        limit = min(limit, self.concurrency - len(self._tcp_inflight))
        now = time.monotonic()
        deadline = now + self.timeout
        for dummy in range(limit):
            probe = next(new_probes, None)
            if probe is None:
                return False
            address, port, family, sockaddr = probe
            sock = self._tcp_spare.pop(family, None) or self._tcp_socket(family)
            self.probes_sent += 1
            result = sock.connect_ex(sockaddr)
            if result in _TCP_PENDING:
                # On loopback and veth the answer is processed before connect() returns:
                # asking again settles it without epoll (two system calls fewer). Elsewhere
                # this costs one cheap call answering EALREADY.
                result = sock.connect_ex(sockaddr)
            if result in _TCP_PENDING:
                fd = sock.fileno()
                self._tcp_inflight[fd] = (sock, address, port)
                self._tcp_deadlines.append((deadline, fd, sock))
                self._poller.register(fd, EPOLLOUT | EPOLLERR)
            elif result == errno.ECONNREFUSED:
                # Linux leaves a refused socket unconnected and unbound: connecting it again
                # saves a socket() and a close() on the commonest answer of a sweep.
                self.results[(address, "tcp", port)] = _TCP_RESULT[CLOSED]
                self._tcp_spare[family] = sock
            else:
                self.results[(address, "tcp", port)] = _TCP_RESULT[_TCP_ERRNO_STATE.get(result, FILTERED)]
                sock.close()
        return True

    def _tcp_done(self, fd, state=None):
        sock, address, port = self._tcp_inflight.pop(fd)
        if state is None:
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            state = _TCP_ERRNO_STATE.get(error, FILTERED)
        self.results[(address, "tcp", port)] = _TCP_RESULT[state]
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
            sock = self._udp_by_fd.get(fd)
            if sock is not None:
                self._read_udp(sock)
            elif fd in self._tcp_inflight:
                self._tcp_done(fd)

    def _expire(self, now):
        deadlines = self._udp_deadlines
        while deadlines and deadlines[0][0] <= now:
            dummy, probe, attempts = deadlines.popleft()
            if probe.attempts != attempts or self._udp_waiting.get((probe.address, probe.port)) is not probe:
                continue  # answered, or a later attempt is already on its way
            if probe.attempts <= self.retries:
                self._udp_retry.append(probe)
            else:
                self._finish_udp(probe, OPEN_FILTERED)
        deadlines = self._tcp_deadlines
        while deadlines and deadlines[0][0] <= now:
            dummy, fd, sock = deadlines.popleft()
            entry = self._tcp_inflight.get(fd)
            if entry is not None and entry[0] is sock:
                self._tcp_done(fd, FILTERED)

    def _shutdown(self):
        for fd in list(self._tcp_inflight):
            self._tcp_done(fd, FILTERED)
        for sock in list(self._udp_sockets.values()) + list(self._tcp_spare.values()):
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
    results = scanner.run([str(address) for address, dummy_name in targets])
    return build_report(targets, results, udp_ports, tcp_ports, time.monotonic() - started,
                        only_exposed=only_exposed)
