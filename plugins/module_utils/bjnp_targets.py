# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the probe's options into concrete work: target addresses, port lists, timing.

Errors are ``ValueError`` with a message that names the offending value. The only I/O is
name resolution, through a resolver the caller can replace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import ipaddress
import re
import socket

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import parse_port_range

DEFAULT_MAX_TARGETS = 65536

# Ceilings of the probe's options (documented in the module). Past them a run hangs for
# hours (timeout, retries), cannot be honoured (concurrency, rate) or exhausts memory
# (max_targets) instead of doing what was meant.
MAX_TIMEOUT = 60.0
MAX_RETRIES = 10
MAX_CONCURRENCY = 1048576  # the most open files raise_nofile_limit() ever asks for
MAX_RATE = 1000000
MAX_MAX_TARGETS = 16777216  # a /8

ACCEPTED_FORMS = ("an IPv4 address as a dotted quad (192.0.2.10), an IPv6 address (2001:db8::10), "
                  "a CIDR network (192.0.2.0/24, 2001:db8::/120) or a hostname (printer01.example.com)")

# Link-local destinations need a zone id (the interface) to be reached at all; without one
# every probe fails locally and the port would read "filtered", a false all-clear.
_LINK_LOCAL = ipaddress.ip_network("fe80::/10")
# What inet_aton() (and so getaddrinfo()) reads as IPv4 besides a dotted quad: one to four
# parts, each decimal, octal (leading 0) or hex (0x). 192.168.1 is 192.168.0.1, 5 is 0.0.0.5.
_SHORTHAND = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)(\.(0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?$")
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_LETTER = re.compile(r"[A-Za-z]")
_IPV6_LIKE = re.compile(r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$")


def resolve_hostname(name):
    """Every IPv4/IPv6 address ``name`` resolves to, in resolver order, without duplicates.

    A name that does not resolve raises ``ValueError`` with the reason (the caller names the
    target). Link-local IPv6 answers are left out: they cannot be probed (no zone id).
    """
    try:
        infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError("does not resolve (%s)" % exc)
    addresses = []
    link_local = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address.version == 6 and address.is_link_local:
            link_local.append(sockaddr[0])
        elif address not in addresses:
            addresses.append(address)
    if not addresses:
        if link_local:
            raise ValueError("resolves only to IPv6 link-local addresses (%s), which the probe cannot "
                             "reach without a zone id" % ", ".join(link_local))
        raise ValueError("resolves to no IPv4 or IPv6 address")
    return addresses


def _refused(given, reason):
    return ValueError("target '%s' %s; give %s" % (given, reason, ACCEPTED_FORMS))


def _check_network(given, network):
    if network.version == 6 and network.overlaps(_LINK_LOCAL):
        raise _refused(given, "is or holds IPv6 link-local addresses (fe80::/10), which cannot be "
                              "reached without a zone id (not supported)")
    return network


def _hostname_problem(text):
    """Why ``text`` cannot be a hostname, or ``None`` when it can."""
    try:  # also what getaddrinfo() would do with an internationalised name
        name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return "is not a valid hostname (an empty or over-long label, or characters no hostname has)"
    if name.endswith("."):
        name = name[:-1]
    if len(name) > 253:
        return "is not a valid hostname (longer than 253 characters)"
    labels = name.split(".")
    for label in labels:
        if not _LABEL.match(label):
            return ("is not a valid hostname (label '%s': hostnames hold letters, digits, '-' and '_')"
                    % label)
    if not _LETTER.search(labels[-1]):
        return ("is not a valid hostname (its last label '%s' has no letter; address ranges "
                "such as 192.0.2.1-20 are not supported)" % labels[-1])
    return None


def parse_target(target):
    """One target as given -> an address, a network, or the hostname text to resolve.

    Refuses (``ValueError`` naming the target as given) what would be probed other than
    written: shorthand IPv4 forms the resolver expands, zone ids the probe cannot send
    with, link-local addresses, malformed names.
    """
    given = "" if target is None else "%s" % (target,)
    text = given.strip()
    if not text:
        raise ValueError("empty target '%s' in the targets list" % given)
    if "%" in text:
        raise _refused(given, "carries an IPv6 zone id (%%%s): scoped addresses are not supported, "
                              "the probe sends without a zone" % text.partition("%")[2].partition("/")[0])
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError("target '%s' is not a valid CIDR network (%s)" % (given, exc))
        return _check_network(given, network)
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        if _IPV6_LIKE.match(text):
            raise _refused(given, "is not a valid IPv6 address (%s)" % exc)
    else:
        _check_network(given, ipaddress.ip_network(address))
        return address
    if _SHORTHAND.match(text):
        try:
            meant = " (the system resolver reads it as %s)" % socket.inet_ntoa(socket.inet_aton(text))
        except (OSError, ValueError):
            meant = ""
        raise _refused(given, "is not a dotted-quad IPv4 address%s: write the four parts in decimal, "
                              "without leading zeros" % meant)
    problem = _hostname_problem(text)
    if problem:
        raise _refused(given, problem)
    return text


class AddressSpan(object):
    """The distinct addresses of the networks added so far, counted without enumerating them.

    Kept as sorted, merged integer ranges (IPv6 placed past IPv4), so a network listed twice, or
    inside another, or an address inside a listed network, adds nothing. ``size`` is the count.
    """

    def __init__(self):
        self._starts, self._ends = [], []
        self.size = 0

    @classmethod
    def of_targets(cls, targets):
        """The span of the address and network targets; hostnames and malformed ones are left out."""
        span = cls()
        for target in targets:
            try:
                parsed = parse_target(target)
            except ValueError:
                continue
            if not isinstance(parsed, str):
                span.add(parsed)
        return span

    @staticmethod
    def _point(address):
        return (0 if address.version == 4 else 1 << 32) + int(address)

    def __contains__(self, address):
        """Whether the address (text or ``ipaddress``) is in the span; text that is none is not."""
        try:
            point = self._point(ipaddress.ip_address(address))
        except ValueError:
            return False
        index = bisect.bisect_right(self._starts, point) - 1
        return index >= 0 and point <= self._ends[index]

    def add(self, network):
        """Add an ``ipaddress`` network or address; return how many of its addresses were new."""
        if isinstance(network, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            network = ipaddress.ip_network(network)
        start, end = self._point(network.network_address), self._point(network.broadcast_address)
        # The ranges that overlap or touch [start, end] are merged with it into one.
        low = bisect.bisect_left(self._ends, start - 1)
        high = bisect.bisect_right(self._starts, end + 1)
        known = sum(max(0, min(e, end) - max(s, start) + 1)
                    for s, e in zip(self._starts[low:high], self._ends[low:high]))
        if low < high:
            start, end = min(start, self._starts[low]), max(end, self._ends[high - 1])
        self._starts[low:high] = [start]
        self._ends[low:high] = [end]
        self.size += network.num_addresses - known
        return network.num_addresses - known


def resolve_targets(targets, max_targets=DEFAULT_MAX_TARGETS, resolver=resolve_hostname):
    """Expand ``targets`` into ``([(ipaddress address, name or None), ...], unresolved)``.

    Networks contribute every address they contain (as nmap scans them); hostnames every
    address they resolve to. Duplicates are dropped, keeping the first occurrence and its
    name; the count against ``max_targets`` is of distinct addresses too (a host listed beside
    its network counts once). A malformed target raises ``ValueError`` (the input is wrong, nothing is probed);
    a hostname that does not resolve is only listed in ``unresolved`` as ``{target, error}``
    so one stale DNS name does not stop the sweep of the others. ``resolver`` returns a
    name's addresses or raises ``ValueError`` with the reason. The count is checked before
    a network is enumerated, so ``10.0.0.0/8`` fails at once instead of building millions
    of entries.
    """
    if isinstance(max_targets, bool) or not 1 <= max_targets <= MAX_MAX_TARGETS:
        raise ValueError("max_targets must be at least 1 and at most %d, got %s" % (MAX_MAX_TARGETS, max_targets))
    parsed = []
    unresolved = []
    lookups = {}
    span = AddressSpan()
    total = 0
    for target in targets or []:
        item = parse_target(target)
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            parsed.append((item, None))
            total += span.add(item)
        elif isinstance(item, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            parsed.append(([item], None))
            total += span.add(item)
        else:  # a hostname
            if item not in lookups:
                try:
                    lookups[item] = resolver(item)
                except ValueError as exc:
                    lookups[item] = None
                    unresolved.append({"target": "%s" % (target,), "error": str(exc)})
            if lookups[item] is None:
                continue
            parsed.append((lookups[item], item))
            total += sum(span.add(address) for address in lookups[item])
        if total > max_targets:
            raise ValueError("targets expand to more than max_targets=%d addresses (at least %d, "
                             "reached with '%s'); narrow them or raise max_targets"
                             % (max_targets, total, target))
    seen = set()
    expanded = []
    for addresses, name in parsed:
        for address in addresses:
            if address not in seen:
                seen.add(address)
                expanded.append((address, name))
    return expanded, unresolved


def describe_unresolved(unresolved):
    """One sentence per unresolved target: ``target 'x' does not resolve (...)``."""
    return "; ".join("target '%s' %s" % (entry["target"], entry["error"]) for entry in unresolved)


def expand_targets(targets, max_targets=DEFAULT_MAX_TARGETS, resolver=resolve_hostname):
    """``resolve_targets`` for callers that want all or nothing: any unresolved target raises."""
    expanded, unresolved = resolve_targets(targets, max_targets, resolver)
    if unresolved:
        raise ValueError(describe_unresolved(unresolved))
    return expanded


def parse_ports(values, option="ports"):
    """``[9100, "8611-8614", "8611"]`` -> sorted unique ``[8611, 8612, 8613, 8614, 9100]``.

    ``option`` names the module option in error messages.
    """
    ports = set()
    for value in values or []:
        # Numbers and strings only: str() of a list, dict or float would parse by accident or not at all.
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("%s: '%s' is not a port or a port range like 8611-8614" % (option, value))
        for item in str(value).split(","):
            try:
                low, high = parse_port_range(item)
            except ValueError as exc:
                raise ValueError("%s: %s" % (option, exc))
            ports.update(range(low, high + 1))
    return sorted(ports)


def check_ports(udp_ports, tcp_ports):
    """Refuse a run that would probe nothing and so "pass" whatever is exposed."""
    if not udp_ports and not tcp_ports:
        raise ValueError("udp_ports and tcp_ports are both empty: nothing would be probed; "
                         "give at least one port in either (for example udp_ports: ['8611-8614'])")


def _within(name, value, low, high, unit=""):
    # "not low <= value <= high" also refuses NaN; booleans are not numbers here.
    if isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%s must be from %s to %s%s, got %s" % (name, low, high, unit, value))


def check_timing(timeout, retries, concurrency, rate=0):
    """Reject timing options that would hang, never send or overflow (messages name the value)."""
    if isinstance(timeout, bool) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError("timeout must be greater than 0 and at most %g seconds, got %s" % (MAX_TIMEOUT, timeout))
    _within("retries", retries, 0, MAX_RETRIES)
    _within("concurrency", concurrency, 1, MAX_CONCURRENCY)
    _within("rate", rate, 0, MAX_RATE, " probes per second (0: unlimited)")


def sort_key(address):
    """Order addresses IPv4 first, then numerically, so reports are diffable."""
    address = ipaddress.ip_address(address)
    return address.version, int(address)
