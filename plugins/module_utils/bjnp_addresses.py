# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the address and port lists the roles and modules accept.

Everything here is side-effect free so the unit tests need no sockets and no root.
Errors are ``ValueError`` with a message that names the offending value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

# Inclusive upper bounds of the two address spaces, used by the range arithmetic below.
_MAX_ADDRESS = {4: int(ipaddress.IPv4Address("255.255.255.255")),
                6: int(ipaddress.IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))}


# IPv4-mapped IPv6 addresses (::ffff:192.0.2.10): a socket's view of an IPv4 peer, never on the wire.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_network(value):
    """Parse one address or CIDR (``10.0.0.5``, ``10.0.0.0/24``, ``2001:db8::/32``).

    Host bits set in a CIDR are an error rather than silently masked: ``10.0.0.5/24`` is
    more likely a typo than a wish to allow the whole /24. Refused too, the same way for
    every backend: an IPv6 zone id (``fe80::1%eth0``), which collapsing would silently drop
    and no firewall source match can carry, and an IPv4-mapped address (``::ffff:192.0.2.10``),
    which only an IPv6 rule would hold while the host's IPv4 peer arrives as IPv4.
    """
    text = str(value).strip()
    if not text:
        raise ValueError("empty address in the list")
    if "%" in text:
        raise ValueError("'%s' carries a zone id (%%%s): firewall rules match addresses, not interfaces; "
                         "give the address without it" % (value, text.partition("%")[2]))
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError("'%s' is not an IPv4/IPv6 address or CIDR network (%s)" % (value, exc))
    if network.version == 6 and network.prefixlen >= 96 and network.network_address in _IPV4_MAPPED:
        ipv4 = ipaddress.IPv4Network("%s/%d" % (network.network_address.ipv4_mapped, network.prefixlen - 96))
        raise ValueError("'%s' is an IPv4-mapped IPv6 address: the firewall sees that peer as IPv4, "
                         "give %s instead" % (value, ipv4.network_address if ipv4.prefixlen == 32 else ipv4))
    return network


def collapse_networks(values):
    """Parse a list of addresses/CIDRs; return ``{4: [...], 6: [...]}`` of collapsed networks.

    Overlapping and adjacent entries are merged, so the rules rendered from the result
    are minimal and do not change when the user reorders or repeats entries.
    """
    by_family = {4: [], 6: []}
    for value in values or []:
        network = parse_network(value)
        by_family[network.version].append(network)
    return dict((family, list(ipaddress.collapse_addresses(nets)))
                for family, nets in by_family.items())


def complement_ranges(networks, family):
    """Return the address ranges of ``family`` not covered by ``networks``.

    The result is a list of ``(first, last)`` address pairs, ascending. Windows Firewall
    evaluates block rules before allow rules, so an allow-list has to be expressed as a
    block rule whose remote addresses are the complement of the allowed sources.
    """
    ranges = []
    next_free = 0
    for network in sorted(n for n in networks if n.version == family):
        first, last = int(network.network_address), int(network.broadcast_address)
        if first > next_free:
            ranges.append((next_free, first - 1))
        next_free = max(next_free, last + 1)
    if next_free <= _MAX_ADDRESS[family]:
        ranges.append((next_free, _MAX_ADDRESS[family]))
    address = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    return [(address(first), address(last)) for first, last in ranges]


def format_range(first, last):
    """Render a range as Windows Firewall expects it: a single address or ``first-last``."""
    return str(first) if first == last else "%s-%s" % (first, last)


def parse_port_range(value):
    """Parse ``9100``, ``"9100"`` or ``"8611-8614"`` into an inclusive ``(low, high)`` pair."""
    text = str(value).strip()
    low_text, sep, high_text = text.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if sep else low
    except ValueError:
        raise ValueError("'%s' is not a port or a port range like 8611-8614" % (value,))
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise ValueError("port '%s' is outside 1-65535" % (value,))
    if low > high:
        raise ValueError("port range '%s' runs backwards" % (value,))
    return low, high


def normalize_ports(entries):
    """Validate ``[{protocol: tcp|udp, port: 9100 | "8611-8614"}, ...]``.

    Returns ``{"tcp": [(low, high), ...], "udp": [...]}`` with overlapping and adjacent
    ranges merged and sorted, so rendering is stable.
    """
    merged = {"tcp": [], "udp": []}
    for entry in entries or []:
        protocol = str(entry.get("protocol", "")).lower()
        if protocol not in merged:
            raise ValueError("protocol '%s' in %r is not tcp or udp" % (entry.get("protocol"), entry))
        merged[protocol].append(parse_port_range(entry.get("port")))
    for protocol, ranges in merged.items():
        result = []
        for low, high in sorted(ranges):
            if result and low <= result[-1][1] + 1:
                result[-1] = (result[-1][0], max(result[-1][1], high))
            else:
                result.append((low, high))
        merged[protocol] = result
    return merged
