# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batched datagram I/O for the probe engine: sendmmsg(2) and recvmmsg(2) through ctypes.

The engine sends thousands of BJNP datagrams from one unconnected UDP socket and reads the
ICMP errors they cause from that socket's error queue (``IP_RECVERR``). ``MmsgSender`` sends
a batch in one system call and ``MmsgErrorReader`` reads up to a batch of queued errors in
one. Where ctypes, libc or these calls are missing, or off Linux (the packed ``sockaddr``
layout below is Linux's), ``SendtoSender`` and ``RecvmsgErrorReader`` do the same with
``socket.sendto`` and ``socket.recvmsg``, one system call per datagram; ``batch_io()``
picks the pair. Both pairs behave alike, so the engine has one code path:

* ``load()`` prepares a batch, ``send(start)`` sends from message ``start`` on and returns
  how many left (at least one), stopping before the first that fails; if message ``start``
  itself fails it raises that ``OSError`` (``BlockingIOError`` when the buffer is full).
  A failure in the middle is usually not the message's own: an ICMP error to an earlier
  datagram also sets the socket's pending error, and the next send fails with it (clearing
  it). The caller sends again from there, which gives the message's own outcome.
* ``read_all()`` returns every queued error as ``(key, port, origin, icmp_type, icmp_code)``:
  the destination the error answers (``address_key`` form) and the ICMP type and code.

``die_with_parent()`` (prctl) lets the engine's child process end with the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct
import sys

try:
    import ctypes
except ImportError:  # some minimal Pythons lack it; the plain-socket path is used
    ctypes = None

# Linux values; older Pythons do not export all of them.
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0x40)
RECVERR_LEVELS = ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR))

# struct sock_extended_err: ee_errno (u32), ee_origin, ee_type, ee_code (u8 each).
EXTENDED_ERR = struct.Struct("=IBBB")

# Linux sockaddr_in: family (host order), port, address, 8 zero bytes. sockaddr_in6: family,
# port, flow info, address, scope id. The part after the port (the flow info for IPv6) is
# the "prefix"; the address and what follows it the "tail".
SOCKADDR_SIZE = {socket.AF_INET: 16, socket.AF_INET6: 28}
_TAIL_PAD = {socket.AF_INET: b"\0" * 8, socket.AF_INET6: b"\0" * 4}
# A destination read back from the error queue: (port, key).
_NAME = {socket.AF_INET: struct.Struct("!2xHI8x"), socket.AF_INET6: struct.Struct("!2xH4x16s4x")}
_IPV4_KEY = struct.Struct("!I")

# One control buffer per message, with room for IP_RECVERR's cmsg (sock_extended_err and
# the offender's sockaddr_in6: 60 bytes on 64-bit Linux).
CONTROL_SIZE = 128
# struct cmsghdr (cmsg_len is a size_t) then, CMSG_ALIGNed, sock_extended_err: native
# alignment gives the same offsets on 32- and 64-bit Linux.
_CMSG_HEAD = struct.calcsize("@Nii")
_CMSG = struct.Struct("@NiiIBBB%dx" % (CONTROL_SIZE - struct.calcsize("@NiiIBBB")))
_CMSG_MIN_LEN = _CMSG_HEAD + EXTENDED_ERR.size


def address_key(family, address):
    """The key of an address string for lookups: an int for IPv4, 16 bytes for IPv6.

    Any spelling of an address gives the same key; a zone (``%eth0``) is dropped, as the
    engine sends without one. Raises ``OSError`` (``ValueError`` on some Pythons) for a
    string that is not an address of ``family``.
    """
    packed = socket.inet_pton(family, address.partition("%")[0])
    return _IPV4_KEY.unpack(packed)[0] if family == socket.AF_INET else packed


def sockaddr_prefix(family, port):
    """The bytes of a Linux ``sockaddr_in``/``sockaddr_in6`` before the address."""
    head = struct.pack("=H", family) + struct.pack("!H", port)
    return head if family == socket.AF_INET else head + b"\0\0\0\0"


def sockaddr_tail(family, address):
    """The bytes of a Linux ``sockaddr_in``/``sockaddr_in6`` from the address on (scope id 0)."""
    return socket.inet_pton(family, address.partition("%")[0]) + _TAIL_PAD[family]


def pack_sockaddrs(prefix, tails):
    """Consecutive sockaddrs of one port, one per tail: a single join, no loop in Python."""
    return prefix + prefix.join(tails)


def parse_errors(family, names, controls, count):
    """The errors in ``count`` messages read by recvmmsg: ``[(key, port, origin, type, code)]``.

    ``names`` holds one sockaddr per message (the destination the error answers),
    ``controls`` one ``CONTROL_SIZE`` control buffer per message. A message without an
    ``IP_RECVERR``/``IPV6_RECVERR`` cmsg (the buffers are zeroed before the call) is skipped.
    """
    errors = []
    name_size = SOCKADDR_SIZE[family]
    for (port, key), cmsg in zip(_NAME[family].iter_unpack(names[:count * name_size]),
                                 _CMSG.iter_unpack(controls[:count * CONTROL_SIZE])):
        length, level, kind, dummy_errno, origin, icmp_type, icmp_code = cmsg
        if length >= _CMSG_MIN_LEN and (level, kind) in RECVERR_LEVELS:
            errors.append((key, port, origin, icmp_type, icmp_code))
    return errors


def error_from_recvmsg(family, ancillary, destination):
    """The same tuple from what ``socket.recvmsg(..., MSG_ERRQUEUE)`` returned, or None."""
    if not destination:
        return None
    for level, kind, data in ancillary:
        if (level, kind) in RECVERR_LEVELS and len(data) >= EXTENDED_ERR.size:
            dummy_errno, origin, icmp_type, icmp_code = EXTENDED_ERR.unpack_from(data)
            try:
                key = address_key(family, destination[0])
            except (OSError, ValueError):
                return None
            return key, destination[1], origin, icmp_type, icmp_code
    return None


# ------------------------------------------------------------------ the portable path
class SendtoSender(object):
    """One ``sendto()`` per datagram; the interface of ``MmsgSender``."""

    def __init__(self, sock, family, hosts):
        self._sock = sock
        self._ipv6 = family == socket.AF_INET6
        self._hosts = hosts
        self._messages = []

    def _destination(self, port, index):
        return (self._hosts[index], port, 0, 0) if self._ipv6 else (self._hosts[index], port)

    def load(self, port, first, last, packet):
        """Messages to address indexes ``first``..``last - 1``, all on ``port`` with ``packet``."""
        self._messages = [(packet, self._destination(port, index)) for index in range(first, last)]

    def load_mixed(self, entries):
        """Messages from ``[(port, address index, packet), ...]``."""
        self._messages = [(packet, self._destination(port, index)) for port, index, packet in entries]

    def send(self, start):
        sendto = self._sock.sendto
        messages = self._messages
        for position in range(start, len(messages)):
            try:
                sendto(*messages[position])
            except OSError:
                if position > start:
                    return position - start  # this one is the next call's first
                raise
        return len(messages) - start


class RecvmsgErrorReader(object):
    """One ``recvmsg(MSG_ERRQUEUE)`` per queued error; the interface of ``MmsgErrorReader``."""

    def __init__(self, sock, family):
        self._sock = sock
        self._family = family

    def read_all(self):
        errors = []
        while True:
            try:
                dummy, ancillary, dummy_flags, destination = self._sock.recvmsg(64, 512, MSG_ERRQUEUE)
            except OSError:  # BlockingIOError included: nothing queued
                return errors
            error = error_from_recvmsg(self._family, ancillary, destination)
            if error is not None:
                errors.append(error)


# ------------------------------------------------------------------ sendmmsg / recvmmsg
def _glibc():
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, ValueError, OSError):
        return False


def _load_libc():
    """``(libc, batching)``: libc through ctypes (or None) and whether sendmmsg/recvmmsg are usable."""
    if ctypes is None or not sys.platform.startswith("linux"):
        return None, False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None, False
    for name, argtypes in (("prctl", [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]),
                           ("sendmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]),
                           ("recvmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p])):
        function = getattr(libc, name, None)
        if function is None:
            return None, False
        function.argtypes = argtypes
        function.restype = ctypes.c_int
    # The structures below are glibc's (size_t msg_iovlen and msg_controllen); musl's int
    # fields with padding share that layout only on little-endian machines.
    return libc, sys.byteorder == "little" or _glibc()


_LIBC, _BATCHING = _load_libc()
PR_SET_PDEATHSIG = 1


def die_with_parent(signum):
    """Have Linux send ``signum`` to this process when its parent ends; False where it cannot."""
    return _LIBC is not None and _LIBC.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0


if ctypes is not None:
    class _Iovec(ctypes.Structure):
        _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]

    class _Msghdr(ctypes.Structure):
        _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                    ("msg_iov", ctypes.c_void_p), ("msg_iovlen", ctypes.c_size_t),
                    ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                    ("msg_flags", ctypes.c_int)]

    class _Mmsghdr(ctypes.Structure):
        _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _raise_errno():
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code))  # OSError picks the subclass (BlockingIOError...)


class MmsgSender(object):
    """Up to ``capacity`` datagrams per ``sendmmsg()`` from preallocated buffers.

    Every message has its own sockaddr slot and iovec, set up once; a batch only rewrites
    the sockaddr bytes (one ``memmove``) and the iovecs whose packet changed.
    """

    def __init__(self, fileno, family, tails, capacity):
        self._libc = _LIBC
        self._fileno = fileno
        self._family = family
        self._tails = tails
        self._capacity = capacity
        self._name_size = SOCKADDR_SIZE[family]
        self._prefixes = {}
        self._packets = {}  # packet -> its ctypes copy (kept alive while iovecs point at it)
        self._slot_packets = [None] * capacity
        self._count = 0
        self._names = ctypes.create_string_buffer(capacity * self._name_size)
        self._iovecs = (_Iovec * capacity)()
        self._headers = (_Mmsghdr * capacity)()
        self._header_size = ctypes.sizeof(_Mmsghdr)
        self._headers_at = ctypes.addressof(self._headers)
        names_at = ctypes.addressof(self._names)
        for slot in range(capacity):
            header = self._headers[slot].msg_hdr
            header.msg_name = names_at + slot * self._name_size
            header.msg_namelen = self._name_size
            header.msg_iov = ctypes.addressof(self._iovecs[slot])
            header.msg_iovlen = 1

    def _prefix(self, port):
        prefix = self._prefixes.get(port)
        if prefix is None:
            prefix = self._prefixes[port] = sockaddr_prefix(self._family, port)
        return prefix

    def _set_packet(self, slot, packet):
        if self._slot_packets[slot] is packet:
            return
        buffer = self._packets.get(packet)
        if buffer is None:
            buffer = self._packets[packet] = ctypes.create_string_buffer(packet, len(packet))
        self._iovecs[slot].iov_base = ctypes.addressof(buffer)
        self._iovecs[slot].iov_len = len(packet)
        self._slot_packets[slot] = packet

    def load(self, port, first, last, packet):
        """Messages to address indexes ``first``..``last - 1``, all on ``port`` with ``packet``."""
        count = last - first
        names = pack_sockaddrs(self._prefix(port), self._tails[first:last])
        ctypes.memmove(self._names, names, len(names))
        for slot in range(count):
            self._set_packet(slot, packet)
        self._count = count

    def load_mixed(self, entries):
        """Messages from ``[(port, address index, packet), ...]``."""
        tails = self._tails
        names = b"".join(self._prefix(port) + tails[index] for port, index, dummy in entries)
        ctypes.memmove(self._names, names, len(names))
        for slot, entry in enumerate(entries):
            self._set_packet(slot, entry[2])
        self._count = len(entries)

    def send(self, start):
        sent = self._libc.sendmmsg(self._fileno, self._headers_at + start * self._header_size,
                                   self._count - start, MSG_DONTWAIT)
        if sent < 0:
            _raise_errno()
        return sent

    def message(self, slot):
        """``(sockaddr bytes, packet bytes)`` of a loaded message, as the kernel will read them."""
        header = self._headers[slot].msg_hdr
        iovec = _Iovec.from_address(header.msg_iov)
        return (ctypes.string_at(header.msg_name, header.msg_namelen),
                ctypes.string_at(iovec.iov_base, iovec.iov_len))


class MmsgErrorReader(object):
    """Up to ``capacity`` queued errors per ``recvmmsg(MSG_ERRQUEUE)``."""

    def __init__(self, fileno, family, capacity):
        self._libc = _LIBC
        self._fileno = fileno
        self._family = family
        self._capacity = capacity
        self._name_size = SOCKADDR_SIZE[family]
        self._names = ctypes.create_string_buffer(capacity * self._name_size)
        self._controls = ctypes.create_string_buffer(capacity * CONTROL_SIZE)
        self._headers = (_Mmsghdr * capacity)()
        self._header_size = ctypes.sizeof(_Mmsghdr)
        names_at, controls_at = ctypes.addressof(self._names), ctypes.addressof(self._controls)
        for slot in range(capacity):
            header = self._headers[slot].msg_hdr
            header.msg_name = names_at + slot * self._name_size
            header.msg_namelen = self._name_size
            header.msg_control = controls_at + slot * CONTROL_SIZE
            header.msg_controllen = CONTROL_SIZE
        # The kernel overwrites msg_namelen and msg_controllen of each message it fills:
        # one memmove of this copy restores them.
        self._template = ctypes.string_at(self._headers, capacity * self._header_size)

    def read_all(self):
        errors = []
        capacity = self._capacity
        while True:
            count = self._libc.recvmmsg(self._fileno, self._headers, capacity,
                                        MSG_ERRQUEUE | MSG_DONTWAIT, None)
            if count <= 0:  # EAGAIN: nothing queued (any other error: nothing readable either)
                return errors
            errors.extend(parse_errors(self._family, ctypes.string_at(self._names, count * self._name_size),
                                       ctypes.string_at(self._controls, count * CONTROL_SIZE), count))
            ctypes.memmove(self._headers, self._template, count * self._header_size)
            ctypes.memset(self._names, 0, count * self._name_size)
            ctypes.memset(self._controls, 0, count * CONTROL_SIZE)
            if count < capacity:
                return errors


def batch_io(sock, family, hosts, tails, capacity):
    """``(sender, error reader)`` for ``sock``: sendmmsg/recvmmsg where available, else plain calls.

    ``hosts`` are the address strings, ``tails`` their ``sockaddr_tail`` (only the
    sendmmsg path reads them; None is fine without it), both indexed like the engine's
    addresses.
    """
    if not _BATCHING:
        return SendtoSender(sock, family, hosts), RecvmsgErrorReader(sock, family)
    return (MmsgSender(sock.fileno(), family, tails, capacity),
            MmsgErrorReader(sock.fileno(), family, capacity))


def batching_available():
    """Whether ``batch_io`` gives the sendmmsg/recvmmsg pair here."""
    return _BATCHING
