# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target expansion, port lists and timing checks of the probe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

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


def test_unresolvable_name_is_named_in_the_error():
    with pytest.raises(ValueError, match="no-such-host.invalid"):
        targets.expand_targets(["no-such-host.invalid"])


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "300.1.1.1/24", "fd00::/129", "1.2.3.4/x"])
def test_bad_networks_are_named(bad):
    with pytest.raises(ValueError, match="'%s'" % bad.replace(".", r"\.")):
        targets.expand_targets([bad])


def test_empty_target_is_refused():
    with pytest.raises(ValueError, match="empty target"):
        targets.expand_targets(["127.0.0.1", " "])


def test_max_targets_names_count_and_limit_before_enumerating():
    with pytest.raises(ValueError, match=r"max_targets=65536 .*16777216.*'10\.0\.0\.0/8'"):
        targets.expand_targets(["10.0.0.0/8"])
    with pytest.raises(ValueError, match="max_targets=3"):
        targets.expand_targets(["127.0.0.0/30"], max_targets=3)
    assert len(targets.expand_targets(["127.0.0.0/16"])) == 65536


def test_ports_accept_ints_ranges_and_commas():
    assert targets.parse_ports([9100, "8611-8614", "8612", "1,2"]) == [1, 2, 8611, 8612, 8613, 8614, 9100]
    assert targets.parse_ports([]) == []


@pytest.mark.parametrize("bad", [0, 65536, "70000", "abc", "9-1", "-5", True])
def test_bad_ports_name_option_and_value(bad):
    with pytest.raises(ValueError, match=r"^udp_ports: .*%s" % str(bad).lstrip("-")):
        targets.parse_ports([bad], option="udp_ports")


@pytest.mark.parametrize("kwargs, message", [
    (dict(timeout=0, retries=1, concurrency=1), "timeout .* got 0"),
    (dict(timeout=-1.5, retries=1, concurrency=1), "got -1.5"),
    (dict(timeout=1, retries=-1, concurrency=1), "retries .* got -1"),
    (dict(timeout=1, retries=0, concurrency=0), "concurrency .* got 0"),
    (dict(timeout=1, retries=0, concurrency=1, rate=-2), "rate .* got -2"),
])
def test_bad_timing_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        targets.check_timing(**kwargs)


def test_good_timing_passes():
    targets.check_timing(timeout=0.2, retries=0, concurrency=1, rate=0)


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=40))
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
