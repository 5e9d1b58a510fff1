# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's own tables, chains, policies and NAT survive remediation and rollback unchanged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import testinfra

import bjnp_molecule as checks
from conftest import addresses, probe, run_playbook, saved_snapshot, snapshot

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def hosts(inventory):
    return [testinfra.get_host("podman://" + name) for name in inventory.get_hosts("protected")]


@pytest.fixture(scope="module")
def targets(inventory):
    return [a for name in inventory.get_hosts("printer") for a in addresses(name)]


def test_site_rules_were_loaded(hosts):
    # Guards the comparisons below: the site's rules really were there before the role.
    for host in hosts:
        before = saved_snapshot(host)
        assert "DOCKER" in before["iptables-nft"], host.backend.name
        assert "table inet site" in before["nft"] or ":INPUT DROP" in before["iptables-nft"]


def test_client_is_blocked(inventory, targets):
    checks.assert_blocked(inventory, targets)


def test_print_server_is_served(inventory, hosts, targets):
    # Each printer is checked on its own addresses (its own spool).
    for host in hosts:
        checks.assert_served(inventory, host, addresses(host.backend.name))


def test_site_rules_unchanged_after_remediate(hosts):
    for host in hosts:
        before, now = saved_snapshot(host), snapshot(host)
        for key in before:
            assert checks.without_role(key, now[key]) == checks.without_role(key, before[key]), \
                (host.backend.name, key)


def test_site_rules_unchanged_after_rollback(inventory, hosts, targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "remove"})
    for host in hosts:
        assert snapshot(host) == saved_snapshot(host), host.backend.name
    states, result = probe(inventory, "client", targets)
    assert result["summary"]["exposed"] == len(targets), states
