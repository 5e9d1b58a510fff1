# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address and port normalisation shared by the Linux and Windows rule rendering."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest
from hypothesis import given, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_addresses as addresses


def test_parse_network_accepts_addresses_and_cidrs():
    assert str(addresses.parse_network(" 10.0.0.5 ")) == "10.0.0.5/32"
    assert str(addresses.parse_network("2001:db8::/32")) == "2001:db8::/32"


@pytest.mark.parametrize("bad", ["10.0.0.5/24", "nope", "10.0.0.0/40"])
def test_parse_network_names_the_bad_value(bad):
    with pytest.raises(ValueError, match="'%s'" % bad.replace(".", r"\.")):
        addresses.parse_network(bad)


def test_parse_network_refuses_empty():
    with pytest.raises(ValueError, match="empty address"):
        addresses.parse_network("  ")


@pytest.mark.parametrize("value, zone", [("fe80::1%eth0", "%eth0"), ("fe80::1%2", "%2"), ("fe80::/64%eth0", "%eth0"),
                                         (" fe80::1%eth0 ", "%eth0")])
def test_a_zone_id_is_refused_not_dropped(value, zone):
    # ipaddress keeps a zone id on one address but collapsing silently dropped it (fe80::1/128 left).
    with pytest.raises(ValueError) as info:
        addresses.collapse_networks([value])
    assert "'%s' carries a zone id (%s)" % (value, zone) in str(info.value)


@pytest.mark.parametrize("value, ipv4", [
    ("::ffff:192.0.2.10", "give 192.0.2.10 instead"),
    ("::ffff:c000:20a", "give 192.0.2.10 instead"),
    ("::FFFF:192.0.2.10/128", "give 192.0.2.10 instead"),
    ("::ffff:192.0.2.0/120", "give 192.0.2.0/24 instead"),
    ("::ffff:0:0/96", "give 0.0.0.0/0 instead"),
])
def test_an_ipv4_mapped_address_is_refused_naming_its_ipv4_form(value, ipv4):
    with pytest.raises(ValueError) as info:
        addresses.parse_network(value)
    assert ("'%s' is an IPv4-mapped IPv6 address" % value) in str(info.value) and ipv4 in str(info.value)


@pytest.mark.parametrize("value", ["::/0", "::/64", "::1", "64:ff9b::192.0.2.10", "2001:db8::ffff:c000:20a",
                                   "::fffe:c000:20a", "::ffff:0:0:0/96"])
def test_ipv6_that_only_looks_mapped_is_kept(value):
    assert addresses.parse_network(value).version == 6


def test_collapse_merges_overlaps_and_adjacent_by_family():
    result = addresses.collapse_networks(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.7", "::1", "::1"])
    assert [str(n) for n in result[4]] == ["10.0.0.0/24"]
    assert [str(n) for n in result[6]] == ["::1/128"]
    assert addresses.collapse_networks(None) == {4: [], 6: []}


def test_complement_of_nothing_is_everything():
    assert addresses.complement_ranges([], 4) == [
        (ipaddress.IPv4Address("0.0.0.0"), ipaddress.IPv4Address("255.255.255.255"))]


def test_complement_around_two_networks():
    nets = addresses.collapse_networks(["10.0.0.0/8", "192.168.1.0/24"])[4]
    assert [addresses.format_range(a, b) for a, b in addresses.complement_ranges(nets, 4)] == [
        "0.0.0.0-9.255.255.255", "11.0.0.0-192.168.0.255", "192.168.2.0-255.255.255.255"]


def test_complement_of_everything_is_empty():
    assert addresses.complement_ranges([ipaddress.ip_network("::/0")], 6) == []


def test_format_range_single_address():
    address = ipaddress.IPv4Address("10.0.0.1")
    assert addresses.format_range(address, address) == "10.0.0.1"


@pytest.mark.parametrize("value, expected", [(9100, (9100, 9100)), ("9100", (9100, 9100)),
                                             (" 8611-8614 ", (8611, 8614)), ("1-65535", (1, 65535))])
def test_parse_port_range(value, expected):
    assert addresses.parse_port_range(value) == expected


@pytest.mark.parametrize("value, message", [("0", "outside 1-65535"), ("65536", "outside"),
                                            ("8614-8611", "runs backwards"), ("x", "not a port"),
                                            ("", "not a port"), ("1-2-3", "not a port")])
def test_parse_port_range_errors_name_the_value(value, message):
    with pytest.raises(ValueError, match=message):
        addresses.parse_port_range(value)


def test_normalize_ports_merges_and_sorts():
    result = addresses.normalize_ports([
        {"protocol": "TCP", "port": 9100}, {"protocol": "tcp", "port": "8611-8612"},
        {"protocol": "tcp", "port": "8613-8614"}, {"protocol": "udp", "port": 8611},
        {"protocol": "udp", "port": "8611-8614"}])
    assert result == {"tcp": [(8611, 8614), (9100, 9100)], "udp": [(8611, 8614)]}


def test_normalize_ports_refuses_other_protocols():
    with pytest.raises(ValueError, match="'sctp'"):
        addresses.normalize_ports([{"protocol": "sctp", "port": 1}])


_networks = st.one_of(st.ip_addresses(v=4).flatmap(
    lambda a: st.integers(0, 32).map(lambda p: ipaddress.ip_network("%s/%d" % (a, p), strict=False))))


@given(st.lists(_networks, max_size=12))
def test_complement_and_networks_partition_the_space(networks):
    """Every address is either in an allowed network or in exactly one complement range."""
    collapsed = addresses.collapse_networks([str(n) for n in networks])[4]
    ranges = addresses.complement_ranges(collapsed, 4)
    covered = sum(n.num_addresses for n in collapsed)
    free = sum(int(last) - int(first) + 1 for first, last in ranges)
    assert covered + free == 2 ** 32
    for (_first, last), (next_first, _next_last) in zip(ranges, ranges[1:]):
        assert int(last) < int(next_first) - 1  # disjoint and separated by an allowed network


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 50)), max_size=20))
def test_normalized_port_ranges_cover_the_same_ports(pairs):
    entries = [{"protocol": "udp", "port": "%d-%d" % (low, min(low + span, 65535))} for low, span in pairs]
    wanted = set()
    for low, span in pairs:
        wanted.update(range(low, min(low + span, 65535) + 1))
    merged = addresses.normalize_ports(entries)["udp"]
    got = set()
    for low, high in merged:
        got.update(range(low, high + 1))
    assert got == wanted
    for (_low, high), (next_low, _next_high) in zip(merged, merged[1:]):
        assert high + 1 < next_low
