# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`--tags rollback` in both modes brings back the exact ruleset from before the role.

The tests run in file order: remediated, remove, remediate again, restore.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import bjnp_molecule as checks
from conftest import changed_files, config_checksums, run_playbook, saved_config_checksums, saved_snapshot, snapshot

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_as_before(protected_hosts):
    for host in protected_hosts:
        assert snapshot(host) == saved_snapshot(host), host.backend.name
        assert changed_files(saved_config_checksums(host), config_checksums(host)) == [], host.backend.name


def assert_changed(protected_hosts):
    # Guards the comparisons after each rollback: the role really had changed the ruleset.
    for host in protected_hosts:
        assert snapshot(host) != saved_snapshot(host), host.backend.name


def test_remediated(inventory, protected_hosts, printer_targets):
    checks.assert_blocked(inventory, printer_targets)
    assert_changed(protected_hosts)


def test_rollback_remove(inventory, protected_hosts, printer_targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "remove"})
    assert_as_before(protected_hosts)
    checks.assert_exposed(inventory, printer_targets)


def test_remediate_again(inventory, protected_hosts, printer_targets):
    run_playbook(os.path.join(SCENARIO, "converge.yml"))
    checks.assert_blocked(inventory, printer_targets)
    assert_changed(protected_hosts)


def test_rollback_restore(inventory, protected_hosts, printer_targets):
    run_playbook(os.path.join(SCENARIO, "rollback.yml"), tags="rollback",
                 extra_vars={"bjnp_rollback": "restore"})
    assert_as_before(protected_hosts)
    checks.assert_exposed(inventory, printer_targets)
