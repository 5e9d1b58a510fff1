# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's own tables, chains, policies and NAT survive remediation and rollback unchanged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import bjnp_molecule as checks
from conftest import addresses, run_playbook, saved_snapshot, snapshot

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_site_rules_were_loaded(protected_hosts):
    # Guards the comparisons below: the site's rules really were there before the role.
    for host in protected_hosts:
        before = saved_snapshot(host)
        assert "DOCKER" in before["iptables-nft"], host.backend.name
        assert "table inet site" in before["nft"] or ":INPUT DROP" in before["iptables-nft"]


def test_client_is_blocked(inventory, printer_targets):
    checks.assert_blocked(inventory, printer_targets)


def test_print_server_is_served(inventory, protected_hosts, printer_targets):
    # Each printer is checked on its own addresses (its own spool).
    for host in protected_hosts:
        checks.assert_served(inventory, host, addresses(host.backend.name))


def test_site_rules_unchanged_after_remediate(protected_hosts):
    for host in protected_hosts:
        before, now = saved_snapshot(host), snapshot(host)
        for key in before:
            assert checks.without_role(key, now[key]) == checks.without_role(key, before[key]), \
                (host.backend.name, key)


def test_site_rules_unchanged_after_rollback(inventory, protected_hosts, printer_targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "remove"})
    for host in protected_hosts:
        assert snapshot(host) == saved_snapshot(host), host.backend.name
    checks.assert_exposed(inventory, printer_targets)
