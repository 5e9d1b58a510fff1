# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the probe's options into concrete work: target addresses, port lists, timing.

Errors are ``ValueError`` with a message that names the offending value. The only I/O is
name resolution, through a resolver the caller can replace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import parse_port_range

DEFAULT_MAX_TARGETS = 65536


def resolve_hostname(name):
    """Every IPv4/IPv6 address ``name`` resolves to, in resolver order, without duplicates."""
    try:
        infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError("target '%s' is not an address or CIDR and does not resolve (%s)" % (name, exc))
    addresses = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            # Drop a zone index ("fe80::1%eth0") so the address parses.
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    return addresses


def _parse_literal(text):
    """An address or CIDR network, or ``None`` when ``text`` looks like a hostname."""
    try:
        return ipaddress.ip_network(text, strict=False) if "/" in text else ipaddress.ip_address(text)
    except ValueError:
        if "/" in text:
            raise ValueError("target '%s' is not a valid CIDR network" % text)
        return None


def expand_targets(targets, max_targets=DEFAULT_MAX_TARGETS, resolver=resolve_hostname):
    """Expand ``targets`` into ``[(ipaddress address, name or None), ...]``.

    Networks contribute every address they contain (as nmap scans them); hostnames every
    address they resolve to. Duplicates are dropped, keeping the first occurrence and its
    name. The count is checked before a network is enumerated, so ``10.0.0.0/8`` fails at
    once instead of building millions of entries.
    """
    if max_targets < 1:
        raise ValueError("max_targets must be at least 1, got %s" % max_targets)
    parsed = []
    total = 0
    for target in targets or []:
        text = str(target).strip()
        if not text:
            raise ValueError("empty target in the targets list")
        literal = _parse_literal(text)
        if literal is None:
            parsed.append((resolver(text), text))
            total += len(parsed[-1][0])
        elif isinstance(literal, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            parsed.append((literal, None))
            total += literal.num_addresses
        else:
            parsed.append(([literal], None))
            total += 1
        if total > max_targets:
            raise ValueError("targets expand to more than max_targets=%d addresses (at least %d, "
                             "reached with '%s'); narrow them or raise max_targets"
                             % (max_targets, total, text))
    seen = set()
    expanded = []
    for addresses, name in parsed:
        for address in addresses:
            if address not in seen:
                seen.add(address)
                expanded.append((address, name))
    return expanded


def parse_ports(values, option="ports"):
    """``[9100, "8611-8614", "8611"]`` -> sorted unique ``[8611, 8612, 8613, 8614, 9100]``.

    ``option`` names the module option in error messages.
    """
    ports = set()
    for value in values or []:
        if isinstance(value, bool):
            raise ValueError("%s: '%s' is not a port or a port range like 8611-8614" % (option, value))
        for item in str(value).split(","):
            try:
                low, high = parse_port_range(item)
            except ValueError as exc:
                raise ValueError("%s: %s" % (option, exc))
            ports.update(range(low, high + 1))
    return sorted(ports)


def check_timing(timeout, retries, concurrency, rate=0):
    """Reject timing options that would hang or never send (messages name the value)."""
    if not timeout > 0:
        raise ValueError("timeout must be greater than 0 seconds, got %s" % timeout)
    if retries < 0:
        raise ValueError("retries must be 0 or more, got %s" % retries)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1, got %s" % concurrency)
    if rate < 0:
        raise ValueError("rate must be 0 (unlimited) or more probes per second, got %s" % rate)


def sort_key(address):
    """Order addresses IPv4 first, then numerically, so reports are diffable."""
    address = ipaddress.ip_address(address)
    return address.version, int(address)
