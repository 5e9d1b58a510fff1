# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`--tags rollback` in both modes brings back the exact ruleset from before the role.

The tests run in file order: remediated, remove, remediate again, restore.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import testinfra

import bjnp_molecule as checks
from conftest import (addresses, changed_files, config_checksums, probe, run_playbook, saved_config_checksums,
                      saved_snapshot, snapshot)

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def hosts(inventory):
    return [testinfra.get_host("podman://" + name) for name in inventory.get_hosts("protected")]


@pytest.fixture(scope="module")
def targets(inventory):
    return [a for name in inventory.get_hosts("printer") for a in addresses(name)]


def assert_exposed(inventory, targets):
    states, result = probe(inventory, "client", targets)
    assert result["summary"]["exposed"] == len(targets), states


def assert_as_before(hosts):
    for host in hosts:
        assert snapshot(host) == saved_snapshot(host), host.backend.name
        assert changed_files(saved_config_checksums(host), config_checksums(host)) == [], host.backend.name


def assert_changed(hosts):
    # Guards the comparisons after each rollback: the role really had changed the ruleset.
    for host in hosts:
        assert snapshot(host) != saved_snapshot(host), host.backend.name


def test_remediated(inventory, hosts, targets):
    checks.assert_blocked(inventory, targets)
    assert_changed(hosts)


def test_rollback_remove(inventory, hosts, targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "remove"})
    assert_as_before(hosts)
    assert_exposed(inventory, targets)


def test_remediate_again(inventory, hosts, targets):
    run_playbook(os.path.join(SCENARIO, "converge.yml"))
    checks.assert_blocked(inventory, targets)
    assert_changed(hosts)


def test_rollback_restore(inventory, hosts, targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "restore"})
    assert_as_before(hosts)
    assert_exposed(inventory, targets)
