# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld rendering: pure, tested without firewalld (tests/integration/test_backup_ufw_firewalld.py
loads the same files into a real firewalld)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.filter.bjnp_firewalld import bjnp_firewalld_config

PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"}, {"protocol": "udp", "port": "8611-8614"}]


def test_host_mode_rules_spare_the_ipsets_and_merge_overlaps():
    out = bjnp_firewalld_config(PORTS, allowed_sources=["10.0.0.0/8", "10.1.2.3", "2001:DB8::5/128", "10.0.0.0/8"])
    assert sorted(out["files"]) == ["ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml", "policies/netsec-bjnp-host.xml"]
    v4 = ET.fromstring(out["files"]["ipsets/netsec-bjnp-v4.xml"])
    assert [e.text for e in v4.findall("entry")] == ["10.0.0.0/8"]  # firewalld refuses overlapping entries
    v6 = ET.fromstring(out["files"]["ipsets/netsec-bjnp-v6.xml"])
    assert [e.text for e in v6.findall("entry")] == ["2001:db8::5"]
    assert v6.find("option").attrib == {"name": "family", "value": "inet6"}
    policy = ET.fromstring(out["files"]["policies/netsec-bjnp-host.xml"])
    assert policy.attrib == {"target": "CONTINUE", "priority": "-32000"}
    assert policy.find("ingress-zone").get("name") == "ANY" and policy.find("egress-zone").get("name") == "HOST"
    rules = policy.findall("rule")
    assert len(rules) == 2 * len(PORTS)
    for rule in rules:
        family = rule.get("family")
        assert rule.find("source").attrib == {"ipset": "netsec-bjnp-v%s" % family[-1], "invert": "True"}
        assert rule.find("drop") is not None and rule.find("accept") is None
    assert 'policy netsec-bjnp-host rule rule family="ipv6" source NOT ipset="netsec-bjnp-v6" port port="8611-8614" protocol="udp" drop' \
        in out["runtime"]
    assert "ipset netsec-bjnp-v4 entry 10.0.0.0/8" in out["runtime"] and out["runtime"] == sorted(out["runtime"])


def test_gateway_mode_rules_per_protected_destination_and_family():
    out = bjnp_firewalld_config(PORTS[:1], mode=["gateway"], protected_destinations=["192.0.2.0/24", "192.0.2.7"],
                                action="reject")
    assert "policies/netsec-bjnp-host.xml" not in out["files"]
    policy = ET.fromstring(out["files"]["policies/netsec-bjnp-fwd.xml"])
    assert policy.find("egress-zone").get("name") == "ANY"
    rules = policy.findall("rule")
    # Only IPv4 destinations were given: no IPv6 rule (IPv6 forwarding is left alone).
    assert [(r.get("family"), r.find("destination").get("address")) for r in rules] == [("ipv4", "192.0.2.0/24")]
    assert rules[0].find("reject") is not None
    assert "policy netsec-bjnp-fwd egress ANY" in out["runtime"]


def test_gateway_without_destinations_covers_every_forwarded_destination():
    out = bjnp_firewalld_config(PORTS, mode=["host", "gateway"])
    policy = ET.fromstring(out["files"]["policies/netsec-bjnp-fwd.xml"])
    assert len(policy.findall("rule")) == 2 * len(PORTS)
    assert all(r.find("destination") is None for r in policy.findall("rule"))
    assert len([line for line in out["runtime"] if " rule " in line]) == 4 * len(PORTS)


@pytest.mark.parametrize("kwargs, message", [
    ({"action": "accept"}, "drop or reject"),
    ({"mode": ["router"]}, "unknown mode router"),
    ({"allowed_sources": ["10.0.0.5/24"]}, "10.0.0.5/24"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        bjnp_firewalld_config(PORTS, **kwargs)


def test_bad_port_is_named():
    with pytest.raises(AnsibleFilterError, match="icmp"):
        bjnp_firewalld_config([{"protocol": "icmp", "port": 1}])
