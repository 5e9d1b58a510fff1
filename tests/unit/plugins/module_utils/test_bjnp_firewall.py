# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy every backend renders: validation and normalisation.

The expected texts are what nftables 1.0.6 and iptables 1.8.9 print for the loaded rules
(the integration tests load them into real network namespaces and compare the listing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_firewall
from rule_policies import PORTS, policy


# --- policy -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(modes=["router"]), "mode 'router' is not one of host, gateway"),
    (dict(modes=[]), "mode is empty"),
    (dict(action="deny"), "action 'deny' is not one of drop, reject"),
    (dict(ports=[]), "ports is empty"),
    (dict(ports=[{"protocol": "sctp", "port": 9100}]), "protocol 'sctp'"),
    (dict(ports=[{"protocol": "tcp", "port": 70000}]), "port '70000' is outside 1-65535"),
    (dict(allowed=["10.0.0.5/24"]), "'10.0.0.5/24' is not an IPv4/IPv6 address or CIDR"),
    (dict(protected=["printer-vlan"]), "'printer-vlan' is not an IPv4/IPv6 address"),
])
def test_bad_policy_names_the_value(kwargs, message):
    with pytest.raises(ValueError) as info:
        policy(**kwargs)
    assert message in str(info.value)


def test_policy_is_independent_of_order_and_repeats():
    one = policy(allowed=["10.0.0.0/25", "10.0.0.128/25", "2001:db8::1"], modes=["gateway", "host"])
    two = policy(allowed=["2001:db8::1", "10.0.0.0/24", "10.0.0.0/24"], modes=["host", "gateway"])
    assert one == two
    assert one["modes"] == ["host", "gateway"]


# --- the role's input check ---------------------------------------------------------------

GOOD = dict(ports=PORTS, allowed_sources=["192.0.2.10"], protected_destinations=[], mode=["host"],
            action="drop", backup_keep=10, rolling_back=False)


def test_good_input_has_no_problems_and_lists_stay_lists():
    checked = bjnp_firewall.check_role_input(GOOD)
    assert checked["problems"] == []
    assert checked["options"]["allowed_sources"] == ["192.0.2.10"]


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.5", ["10.0.0.5"]),                       # -e bjnp_allowed_sources=10.0.0.5
    ("10.0.0.5, 2001:db8::5", ["10.0.0.5", "2001:db8::5"]),
    (None, []),
])
def test_a_string_is_taken_as_the_list_users_meant(value, expected):
    checked = bjnp_firewall.check_role_input(dict(GOOD, allowed_sources=value))
    assert checked["problems"] == [] and checked["options"]["allowed_sources"] == expected


def test_a_single_port_entry_and_a_single_mode_string_are_lists_too():
    checked = bjnp_firewall.check_role_input(dict(GOOD, ports={"protocol": "tcp", "port": 9100}, mode="host"))
    assert checked["problems"] == []
    assert checked["options"]["ports"] == [{"protocol": "tcp", "port": 9100}]
    assert checked["options"]["mode"] == ["host"]


@pytest.mark.parametrize("change, named", [
    (dict(ports=[{"protocol": "tcp", "port": 70000}]), "port '70000' is outside 1-65535"),
    (dict(ports=["9100/tcp"]), "bjnp_ports entry '9100/tcp'"),
    (dict(allowed_sources=["10.0.0.5/24"]), "bjnp_allowed_sources: '10.0.0.5/24'"),
    (dict(protected_destinations=["printers"]), "bjnp_protected_destinations: 'printers'"),
    (dict(mode=["router"]), "bjnp_mode ['router']"),
    (dict(action="deny"), "bjnp_action 'deny'"),
    (dict(mode=["gateway"]), "bjnp_mode gateway needs bjnp_protected_destinations"),
    (dict(backup_keep=0), "bjnp_backup_keep 0 keeps no backup"),
    (dict(backup_keep="many"), "bjnp_backup_keep 'many'"),
])
def test_each_bad_value_is_named(change, named):
    problems = bjnp_firewall.check_role_input(dict(GOOD, **change))["problems"]
    assert len(problems) == 1 and named in problems[0], problems


def test_a_gateway_roll_back_needs_no_destinations():
    assert bjnp_firewall.check_role_input(dict(GOOD, mode=["gateway"], rolling_back=True))["problems"] == []
