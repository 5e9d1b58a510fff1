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
from hypothesis import given, settings, strategies as st

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


# --- allow-lists that turn the block off ------------------------------------------------------

@pytest.mark.parametrize("allowed, family, named", [
    (["0.0.0.0/0"], 4, "['0.0.0.0/0'] cover every IPv4 address (0.0.0.0/0)"),
    (["::/0"], 6, "['::/0'] cover every IPv6 address (::/0)"),
    (["0.0.0.0/1", "128.0.0.0/1", "2001:db8::10"], 4, "['0.0.0.0/1', '128.0.0.0/1'] cover every IPv4 address"),
    (["192.0.2.10", "::/1", "8000::/1"], 6, "['::/1', '8000::/1'] cover every IPv6 address (::/0)"),
])
def test_an_allow_list_of_everything_is_refused_on_both_paths(allowed, family, named):
    problems = bjnp_firewall.check_role_input(dict(GOOD, allowed_sources=allowed))["problems"]
    assert len(problems) == 1 and "bjnp_allowed_sources " + named in problems[0], problems
    assert "bjnp_allow_any_source: true" in problems[0]
    with pytest.raises(ValueError) as info:
        policy(allowed=allowed)
    assert "allowed_sources " + named in str(info.value)


def test_allow_any_source_turns_the_refusal_into_a_warning():
    for flag in (True, "true", "yes"):      # -e bjnp_allow_any_source=true is the string 'true'
        checked = bjnp_firewall.check_role_input(dict(GOOD, allowed_sources=["0.0.0.0/0", "::/0"], allow_any_source=flag))
        assert checked["problems"] == [] and checked["options"]["allow_any_source"] is True
        assert len(checked["warnings"]) == 2 and "(bjnp_allow_any_source is true)" in checked["warnings"][0]
    built = bjnp_firewall.build_policy(PORTS, ["0.0.0.0/0"], ["host"], [], "drop", allow_any_source=True)
    assert [str(n) for n in built["allowed"][4]] == ["0.0.0.0/0"]


@pytest.mark.parametrize("flag, problem", [("false", "cover every IPv4"), ("no", "cover every IPv4"),
                                           ("maybe", "bjnp_allow_any_source 'maybe' is not true or false")])
def test_allow_any_source_is_read_as_ansible_reads_a_bool(flag, problem):
    problems = bjnp_firewall.check_role_input(dict(GOOD, allowed_sources=["0.0.0.0/0"], allow_any_source=flag))["problems"]
    assert any(problem in p for p in problems), problems


def test_every_destination_stays_a_legitimate_gateway_target():
    checked = bjnp_firewall.check_role_input(dict(GOOD, mode=["gateway"], protected_destinations=["0.0.0.0/0", "::/0"]))
    assert checked["problems"] == [] and checked["warnings"] == []
    assert policy(modes=["gateway"], protected=["0.0.0.0/0", "::/0"])["protected"][6][0].prefixlen == 0


def test_removing_is_not_held_up_by_the_allow_list_or_the_ports():
    for removing in (dict(state="absent"), dict(rolling_back=True)):
        bad = dict(GOOD, allowed_sources=["0.0.0.0/0"], ports=[{"protocol": "tcp", "port": 22}], **removing)
        assert bjnp_firewall.check_role_input(bad)["problems"] == []


# --- zone ids and IPv4-mapped addresses: one parser for the role, the modules and Windows -------

@pytest.mark.parametrize("address, named", [
    ("fe80::1%eth0", "'fe80::1%eth0' carries a zone id (%eth0)"),
    ("::ffff:192.0.2.10", "'::ffff:192.0.2.10' is an IPv4-mapped IPv6 address"),
])
def test_zone_ids_and_mapped_addresses_are_refused_by_every_path(address, named):
    from ansible.errors import AnsibleFilterError
    from ansible_collections.netsec.bjnp.plugins.filter.bjnp_windows import bjnp_windows_rules

    both = dict(GOOD, mode=["host", "gateway"], protected_destinations=["192.0.2.0/24"])
    for name in ("allowed_sources", "protected_destinations"):
        problems = bjnp_firewall.check_role_input(dict(both, **{name: [address]}))["problems"]
        assert len(problems) == 1 and problems[0].startswith("bjnp_%s: %s" % (name, named)), problems
    with pytest.raises(ValueError, match="carries a zone id|IPv4-mapped"):
        policy(allowed=[address])
    with pytest.raises(ValueError, match="carries a zone id|IPv4-mapped"):
        policy(modes=["gateway"], protected=[address])
    with pytest.raises(AnsibleFilterError) as info:
        bjnp_windows_rules(PORTS, [address])
    assert named in str(info.value)


# --- management ports (lockout) ---------------------------------------------------------------

@pytest.mark.parametrize("connection, port, expected", [
    (None, None, [22]), ("ssh", None, [22]), ("ansible.builtin.ssh", None, [22]), ("paramiko", None, [22]),
    ("ssh", 2222, [22, 2222]), ("ssh", " 2222 ", [22, 2222]), ("winrm", None, [5985, 5986]),
    ("ansible.builtin.psrp", None, [5985, 5986]), ("winrm", 5986, [5985, 5986]), ("winrm", 8443, [5985, 5986, 8443]),
    ("local", 22, []),
    ("ansible.builtin.local", None, []), ("containers.podman.podman", None, []),
    ("community.docker.docker", 2375, [2375]),
])
def test_management_ports_of_the_connection(connection, port, expected):
    # The plugin's defaults always count: inside the assert Ansible fills ansible_port with them.
    assert bjnp_firewall.connection_ports(connection, port) == expected
    assert bjnp_firewall.connection_ports(connection, port) == bjnp_firewall.connection_ports(
        connection, expected[0] if port is None and expected else port)


@pytest.mark.parametrize("port", [0, 70000, "ssh", [22], True])
def test_a_bad_ansible_port_is_named(port):
    with pytest.raises(ValueError, match=r"ansible_port %s is not a port" % __import__("re").escape(repr(port))):
        bjnp_firewall.connection_ports("ssh", port)


@pytest.mark.parametrize("change, closed", [
    (dict(ports=[{"protocol": "tcp", "port": 22}]), "bjnp_ports [{'protocol': 'tcp', 'port': 22}] close TCP 22"),
    (dict(ports=PORTS + [{"protocol": "TCP", "port": "1-1024"}]), "close TCP 22,"),
    (dict(ports=[{"protocol": "tcp", "port": "2000-3000"}], connection="ssh", port=2222), "close TCP 2222"),
    (dict(ports=[{"protocol": "tcp", "port": "5985-5986"}], connection="winrm", port=None), "close TCP 5985, 5986"),
    (dict(ports=[{"protocol": "tcp", "port": 5986}], connection="ansible.builtin.psrp"), "close TCP 5986"),
    (dict(ports=[{"protocol": "tcp", "port": 22}], mode=["host", "gateway"], protected_destinations=["192.0.2.0/24"]),
     "close TCP 22"),
])
def test_closing_the_management_port_in_host_mode_is_refused(change, closed):
    problems = bjnp_firewall.check_role_input(dict(GOOD, **change))["problems"]
    assert len(problems) == 1 and closed in problems[0] and "lock the play out" in problems[0], problems
    assert "bjnp_allow_management_ports: true" in problems[0]


@pytest.mark.parametrize("change", [
    dict(ports=[{"protocol": "udp", "port": 22}]),                                   # SSH is TCP
    dict(ports=[{"protocol": "tcp", "port": 22}], connection="local"),
    dict(ports=[{"protocol": "tcp", "port": 22}], mode=["gateway"], protected_destinations=["192.0.2.0/24"]),
    dict(ports=[{"protocol": "tcp", "port": 5985}], connection="ssh"),
])
def test_ports_the_connection_does_not_use_are_accepted(change):
    checked = bjnp_firewall.check_role_input(dict(GOOD, **change))
    assert checked["problems"] == [] and checked["warnings"] == []


def test_allow_management_ports_turns_the_refusal_into_a_warning():
    checked = bjnp_firewall.check_role_input(dict(GOOD, ports=[{"protocol": "tcp", "port": 22}], allow_management_ports="true"))
    assert checked["problems"] == [] and checked["options"]["management_ports"] == []
    assert len(checked["warnings"]) == 1 and "close TCP 22" in checked["warnings"][0]
    assert bjnp_firewall.check_role_input(GOOD)["options"]["management_ports"] == [22]


def test_the_module_path_refuses_closing_the_management_port_in_host_mode_only():
    with pytest.raises(ValueError) as info:
        policy(ports=[{"protocol": "tcp", "port": "1-1024"}])          # management_ports defaults to [22]
    assert "ports close TCP 22" in str(info.value) and "cut the management connection off" in str(info.value)
    with pytest.raises(ValueError, match="ports close TCP 2222"):
        bjnp_firewall.build_policy([{"protocol": "tcp", "port": "2000-3000"}], [], ["host"], [], "drop",
                                   management_ports=[2222])
    assert policy(ports=[{"protocol": "tcp", "port": 22}], modes=["gateway"], protected=["192.0.2.0/24"])
    assert bjnp_firewall.build_policy([{"protocol": "tcp", "port": 22}], [], ["host"], [], "drop", management_ports=[])


# --- wrong types: a message naming the value, never a traceback --------------------------------

@pytest.mark.parametrize("change, named", [
    (dict(ports=5), "bjnp_ports: 5 is not a list"),
    (dict(ports=True), "bjnp_ports: True is not a list"),
    (dict(allowed_sources=10), "bjnp_allowed_sources: 10 is not a list"),
    (dict(protected_destinations=1.5), "bjnp_protected_destinations: 1.5 is not a list"),
    (dict(mode=0), "bjnp_mode: 0 is not a list"),
    (dict(ports=[{"protocol": "tcp", "port": [9100]}]), "bjnp_ports entry {'protocol': 'tcp', 'port': [9100]}: '[9100]'"),
    (dict(ports=[{"protocol": "tcp", "port": None}]), "bjnp_ports entry {'protocol': 'tcp', 'port': None}"),
    (dict(ports=[{"port": 9100}]), "protocol 'None' in {'port': 9100}"),
    (dict(allowed_sources=[None]), "bjnp_allowed_sources: 'None' is not an IPv4/IPv6 address"),
    (dict(backup_keep=float("inf")), "bjnp_backup_keep inf keeps no backup"),
    (dict(allow_management_ports=[True]), "bjnp_allow_management_ports [True] is not true or false"),
    (dict(port="twenty-two"), "ansible_port 'twenty-two' is not a port"),
])
def test_wrong_types_are_named(change, named):
    problems = bjnp_firewall.check_role_input(dict(GOOD, **change))["problems"]
    assert any(named in p for p in problems), problems


_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                        lambda children: st.lists(children, max_size=3)
                        | st.dictionaries(st.sampled_from(["protocol", "port", "x"]), children, max_size=3),
                        max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(GOOD) + ["allow_any_source", "allow_management_ports", "connection", "port", "state"]),
       _JSONISH)
def test_any_value_of_any_option_gives_messages_not_a_traceback(name, value):
    checked = bjnp_firewall.check_role_input(dict(GOOD, **{name: value}))
    assert all(isinstance(p, str) for p in checked["problems"] + checked["warnings"])
