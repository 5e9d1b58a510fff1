# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target expansion, port lists and timing checks of the probe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import math
import socket

import pytest
from hypothesis import given, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_targets as targets

ip = ipaddress.ip_address


def addresses(expanded):
    return [str(address) for address, _name in expanded]


def test_addresses_networks_and_duplicates_keep_first_order():
    expanded = targets.expand_targets(["127.0.0.9", "127.0.0.8/30", "::1", "127.0.0.9"])
    assert addresses(expanded) == ["127.0.0.9", "127.0.0.8", "127.0.0.10", "127.0.0.11", "::1"]
    assert all(name is None for _address, name in expanded)


def test_network_with_host_bits_is_scanned_whole():
    assert len(targets.expand_targets(["127.1.2.3/24"])) == 256


def test_ipv6_network():
    assert addresses(targets.expand_targets(["fd00::/126"])) == ["fd00::", "fd00::1", "fd00::2", "fd00::3"]


def test_hostname_resolves_with_the_real_resolver_and_keeps_its_name():
    expanded = targets.expand_targets(["localhost"])
    assert expanded, "localhost resolves on every supported host"
    assert all(name == "localhost" and address.is_loopback for address, name in expanded)


def test_hostname_and_literal_deduplicate_keeping_the_first_name():
    expanded = targets.expand_targets(["127.0.0.1", "localhost"], resolver=lambda name: [ip("127.0.0.1")])
    assert expanded == [(ip("127.0.0.1"), None)]


def resolver_for(known):
    """A resolver answering ``known`` names and refusing the rest as getaddrinfo() would.

    Tests of unresolvable names use it (or a stand-in getaddrinfo) so that no DNS query leaves
    the host: the real resolver is exercised on loopback names and, in
    tests/integration/test_probe_errors.py, in a namespace without a route to any DNS server.
    """
    def resolve(name):
        if name not in known:
            raise ValueError("does not resolve ([Errno -2] Name or service not known)")
        return [ip(address) for address in known[name]]
    return resolve


def test_unresolvable_name_is_named_in_the_error():
    with pytest.raises(ValueError, match="target 'no-such-host.invalid' does not resolve"):
        targets.expand_targets(["no-such-host.invalid"], resolver=resolver_for({}))


def test_one_unresolvable_name_does_not_stop_the_others():
    expanded, unresolved = targets.resolve_targets(
        ["127.0.0.5", "gone.example.com", "printer.example.com", "gone.example.com"],
        resolver=resolver_for({"printer.example.com": ["127.0.0.6"]}))
    assert expanded == [(ip("127.0.0.5"), None), (ip("127.0.0.6"), "printer.example.com")]
    # Listed once (asked once), exactly as given, with the reason.
    assert unresolved == [{"target": "gone.example.com",
                           "error": "does not resolve ([Errno -2] Name or service not known)"}]
    assert targets.describe_unresolved(unresolved) == (
        "target 'gone.example.com' does not resolve ([Errno -2] Name or service not known)")


def test_every_target_unresolved_leaves_nothing_to_probe():
    expanded, unresolved = targets.resolve_targets(["a.example.com", "b.example.com"], resolver=resolver_for({}))
    assert expanded == []
    assert [entry["target"] for entry in unresolved] == ["a.example.com", "b.example.com"]


def test_unresolved_target_is_named_exactly_as_given():
    given = "  printer9.example.com "
    expanded, unresolved = targets.resolve_targets([given, "127.0.0.1"], resolver=resolver_for({}))
    assert unresolved[0]["target"] == given
    with pytest.raises(ValueError) as error:
        targets.expand_targets([given], resolver=resolver_for({}))
    assert "'%s'" % given in str(error.value)


def fake_getaddrinfo(answers):
    """getaddrinfo() stand-in returning ``answers`` (sockaddr tuples) for any name."""
    def getaddrinfo(name, port, family=0, kind=0):
        return [(socket.AF_INET6 if ":" in sockaddr[0] else socket.AF_INET, kind, 6, "", sockaddr)
                for sockaddr in answers]
    return getaddrinfo


def test_link_local_answers_of_a_name_are_left_out(monkeypatch):
    monkeypatch.setattr(targets.socket, "getaddrinfo", fake_getaddrinfo(
        [("fe80::1%eth0", 0, 0, 2), ("127.0.0.7", 0), ("fe80::2", 0, 0, 0)]))
    assert targets.resolve_hostname("printer.local") == [ip("127.0.0.7")]


def test_a_name_with_only_link_local_answers_is_unresolved(monkeypatch):
    monkeypatch.setattr(targets.socket, "getaddrinfo", fake_getaddrinfo([("fe80::1%eth0", 0, 0, 2)]))
    expanded, unresolved = targets.resolve_targets(["printer.local", "127.0.0.1"])
    assert expanded == [(ip("127.0.0.1"), None)]
    assert unresolved == [{"target": "printer.local", "error": "resolves only to IPv6 link-local addresses "
                                                               "(fe80::1%eth0), which the probe cannot reach without a zone id"}]


@pytest.mark.parametrize("scoped", ["fe80::1%eth0", "::1%lo", "fe80::1%2", "fe80::%eth0/64"])
def test_scoped_ipv6_targets_are_refused_naming_them(scoped):
    # The scanner sends with scope id 0, so a zone id would be dropped (or fail inside the
    # scan with a message that names nothing): refused up front instead.
    with pytest.raises(ValueError) as error:
        targets.expand_targets(["127.0.0.1", scoped])
    message = str(error.value)
    assert message.startswith("target '%s' carries an IPv6 zone id (%%%s)" % (scoped, scoped.split("%")[1].split("/")[0]))
    assert "not supported" in message


@pytest.mark.parametrize("link_local", ["fe80::1", "FE80::abcd", "fe80::/64", "fe00::/7"])
def test_link_local_ipv6_targets_are_refused(link_local):
    # Unreachable without a zone id: every probe would fail locally and read "filtered".
    with pytest.raises(ValueError, match=r"^target '%s' is or holds IPv6 link-local" % link_local):
        targets.expand_targets([link_local])


SHORTHANDS = [
    ("192.168.1", "192.168.0.1"),
    ("5", "0.0.0.5"),
    ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("10.0.0.010", "10.0.0.8"),
]


@pytest.mark.parametrize("shorthand, meant", SHORTHANDS, ids=[case[0] for case in SHORTHANDS])
def test_shorthand_ipv4_forms_are_refused_not_expanded(shorthand, meant):
    # The resolver here would answer anything, as getaddrinfo()'s inet_aton() does for these.
    with pytest.raises(ValueError) as error:
        targets.expand_targets([shorthand], resolver=lambda name: [ip(meant)])
    message = str(error.value)
    assert message.startswith("target '%s' is not a dotted-quad IPv4 address (the system resolver reads it as %s)"
                              % (shorthand, meant))
    assert targets.ACCEPTED_FORMS in message


@pytest.mark.parametrize("bad", ["192.0.2.1-20", "1.2.3.4.5", "not..a host!", "printer 01", "-printer",
                                 "a" * 64 + ".example.com", "x" * 250 + ".example", "{'a': 1}", "2001:db8::1::2"])
def test_malformed_targets_are_refused_before_any_lookup(bad):
    def resolver(name):
        raise AssertionError("looked up %r" % name)
    with pytest.raises(ValueError) as error:
        targets.expand_targets([bad], resolver=resolver)
    assert str(error.value).startswith("target '%s' is not a valid" % bad)
    assert targets.ACCEPTED_FORMS in str(error.value)


@pytest.mark.parametrize("name", ["printer01", "printer-01.example.com", "printer.example.com.", "_ipp.example",
                                  "xn--bcher-kva.example", "b\u00fccher.example", "a1.b2.c3"])
def test_valid_hostnames_are_looked_up(name):
    expanded, unresolved = targets.resolve_targets([name], resolver=lambda looked_up: [ip("127.0.0.1")])
    assert expanded == [(ip("127.0.0.1"), name)] and unresolved == []


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "300.1.1.1/24", "fd00::/129", "1.2.3.4/x"])
def test_bad_networks_are_named(bad):
    with pytest.raises(ValueError, match="'%s'" % bad.replace(".", r"\.")):
        targets.expand_targets([bad])


def test_empty_target_is_refused():
    with pytest.raises(ValueError, match="empty target ' '"):
        targets.expand_targets(["127.0.0.1", " "])
    with pytest.raises(ValueError, match="empty target ''"):
        targets.expand_targets([None])


def test_max_targets_names_count_and_limit_before_enumerating():
    with pytest.raises(ValueError, match=r"max_targets=65536 .*16777216.*'10\.0\.0\.0/8'"):
        targets.expand_targets(["10.0.0.0/8"])
    with pytest.raises(ValueError, match="max_targets=3"):
        targets.expand_targets(["127.0.0.0/30"], max_targets=3)
    assert len(targets.expand_targets(["127.0.0.0/16"])) == 65536


def test_max_targets_counts_distinct_addresses():
    # A printer listed beside its network, or a subnet of it, is one address, not one more.
    expanded = targets.expand_targets(["127.0.7.9", "127.0.0.0/16", "127.0.3.0/24"], max_targets=65536)
    assert len(expanded) == 65536 and addresses(expanded)[:2] == ["127.0.7.9", "127.0.0.0"]
    named = targets.expand_targets(["127.0.0.0/30", "printer"], max_targets=4, resolver=lambda name: [ip("127.0.0.2")])
    assert addresses(named) == ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]
    with pytest.raises(ValueError, match=r"max_targets=4 addresses \(at least 5, reached with '127.0.0.9'\)"):
        targets.expand_targets(["127.0.0.0/30", "127.0.0.1", "127.0.0.9"], max_targets=4)


def test_address_span_adds_only_new_addresses_and_keeps_ipv4_apart_from_ipv6():
    span = targets.AddressSpan()
    assert span.add(ipaddress.ip_network("10.0.0.0/25")) == 128
    assert span.add(ipaddress.ip_network("10.0.0.128/25")) == 128
    assert span.add(ipaddress.ip_network("10.0.0.0/23")) == 256
    assert span.add(ip("10.0.1.255")) == 0
    assert span.add(ip("::a00:5")) == 1  # the same integer as 10.0.0.5, another address
    assert span.add(ipaddress.ip_network("0.0.0.0/0")) == 2 ** 32 - 512


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(24, 32), st.booleans()), max_size=30))
def test_address_span_counts_what_enumeration_finds(networks):
    span, seen = targets.AddressSpan(), set()
    for low_byte, prefix, version6 in networks:
        text = "2001:db8::%x/%d" % (low_byte, prefix + 96) if version6 else "10.9.8.%d/%d" % (low_byte, prefix)
        network = ipaddress.ip_network(text, strict=False)
        new = set(network) - seen
        seen |= new
        assert span.add(network) == len(new)


@pytest.mark.parametrize("limit", [0, -1, 16777217, 10 ** 400, True])
def test_max_targets_outside_its_range_is_refused(limit):
    # 10 ** 400 would let ::/64 through to an enumeration that never ends.
    with pytest.raises(ValueError, match=r"^max_targets must be at least 1 and at most 16777216, got %s$" % limit):
        targets.expand_targets(["127.0.0.1"], max_targets=limit)


def test_ports_accept_ints_ranges_and_commas():
    assert targets.parse_ports([9100, "8611-8614", "8612", "1,2"]) == [1, 2, 8611, 8612, 8613, 8614, 9100]
    assert targets.parse_ports([]) == []


@pytest.mark.parametrize("bad", [{"port": 9100}, [9100], None, 9100.0, 9100.5])
def test_ports_of_other_types_are_refused_whole(bad):
    # str() of these would parse by accident (9100.0 as "9100.0" fails, "{'port': 9100}" splits on nothing).
    with pytest.raises(ValueError) as error:
        targets.parse_ports([bad], option="tcp_ports")
    assert str(error.value) == "tcp_ports: '%s' is not a port or a port range like 8611-8614" % (bad,)


def test_both_port_lists_empty_is_refused():
    with pytest.raises(ValueError, match=r"^udp_ports and tcp_ports are both empty: nothing would be probed"):
        targets.check_ports([], [])
    targets.check_ports([8611], [])
    targets.check_ports([], [9100])


@pytest.mark.parametrize("bad", [0, 65536, "70000", "abc", "9-1", "-5", True])
def test_bad_ports_name_option_and_value(bad):
    with pytest.raises(ValueError, match=r"^udp_ports: .*%s" % str(bad).lstrip("-")):
        targets.parse_ports([bad], option="udp_ports")


@pytest.mark.parametrize("kwargs, message", [
    (dict(timeout=0, retries=1, concurrency=1), "timeout .* got 0$"),
    (dict(timeout=-1.5, retries=1, concurrency=1), "got -1.5$"),
    (dict(timeout=1, retries=-1, concurrency=1), "retries .* got -1$"),
    (dict(timeout=1, retries=0, concurrency=0), "concurrency .* got 0$"),
    (dict(timeout=1, retries=0, concurrency=1, rate=-2), "rate .* got -2$"),
])
def test_bad_timing_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        targets.check_timing(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    # inf and 1e400 (which is inf) never expire: a silent UDP port kept the scan running forever.
    (dict(timeout=math.inf), "timeout must be greater than 0 and at most 60 seconds, got inf"),
    (dict(timeout=float("1e400")), "got inf"),
    (dict(timeout=math.nan), "timeout must be greater than 0 and at most 60 seconds, got nan"),
    (dict(timeout=60.5), "got 60.5"),
    (dict(timeout=1e300), "got 1e+300"),
    (dict(retries=11), "retries must be from 0 to 10, got 11"),
    (dict(retries=10 ** 9), "retries must be from 0 to 10, got 1000000000"),
    (dict(retries=True), "retries must be from 0 to 10, got True"),
    (dict(concurrency=1048577), "concurrency must be from 1 to 1048576, got 1048577"),
    # float(10 ** 400) raised OverflowError inside the scanner: a traceback, not a message.
    (dict(rate=10 ** 400), "rate must be from 0 to 1000000 probes per second (0: unlimited), got 1000"),
    (dict(rate=1000001), "got 1000001"),
])
def test_absurd_timing_is_refused_naming_the_value(kwargs, message):
    arguments = dict(timeout=1.0, retries=1, concurrency=4096, rate=0)
    arguments.update(kwargs)
    with pytest.raises(ValueError) as error:
        targets.check_timing(**arguments)
    assert message in str(error.value)


def test_good_timing_passes():
    targets.check_timing(timeout=0.2, retries=0, concurrency=1, rate=0)
    targets.check_timing(timeout=60, retries=10, concurrency=1048576, rate=1000000)  # the ceilings themselves


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6).filter(lambda a: not a.is_link_local)),
                max_size=40))
def test_expansion_is_unique_and_stable(values):
    expanded = addresses(targets.expand_targets([str(value) for value in values]))
    unique = []
    for value in values:
        if str(value) not in unique:
            unique.append(str(value))
    assert expanded == unique


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=40))
def test_sort_key_orders_ipv4_before_ipv6_numerically(values):
    ordered = sorted(values, key=targets.sort_key)
    assert [v.version for v in ordered] == sorted(v.version for v in ordered)
    for first, second in zip(ordered, ordered[1:]):
        assert first.version < second.version or int(first) <= int(second)
