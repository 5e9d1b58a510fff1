# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failed verification rolls back: the rules were live, then the ruleset from before is back.

The tests run in file order: converge's run first, then a second run without a rescue.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest
import testinfra

import bjnp_molecule as checks
from conftest import (SNAPSHOT_DIR, addresses, changed_files, config_checksums, run_playbook, saved_config_checksums,
                      saved_snapshot, snapshot)

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What our rules look like in `nft list ruleset`, per backend (iptables-nft chains show there too).
OUR_RULES = {"nftables": "table inet bjnp", "iptables-nft": "chain BJNP-INPUT"}


@pytest.fixture(scope="module")
def hosts(inventory):
    return dict((name, testinfra.get_host("podman://" + name)) for name in inventory.get_hosts("protected"))


@pytest.fixture(scope="module")
def backends(inventory):
    return dict((name, inventory.get_variables(name)["bjnp_mol_backend"]) for name in inventory.get_hosts("protected"))


@pytest.fixture(scope="module")
def failing_check(inventory):
    return inventory.get_variables(inventory.get_hosts("protected")[0])["bjnp_mol_failing_check"]


def assert_as_before(inventory, hosts):
    for name, host in hosts.items():
        assert snapshot(host) == saved_snapshot(host), name
        assert changed_files(saved_config_checksums(host), config_checksums(host)) == [], name
    checks.assert_exposed(inventory, [a for name in hosts for a in addresses(name)])


def assert_rules_were_live(hosts, backends):
    # Guards the comparison with the saved ruleset: the role really applied before it failed.
    for name, host in hosts.items():
        live = host.file(SNAPSHOT_DIR + "/at-verify.nft").content_string
        assert OUR_RULES[backends[name]] in live, (name, live)
        assert OUR_RULES[backends[name]] not in saved_snapshot(host)["nft"], name


def test_failure_was_reported(hosts, backends, failing_check):
    for name, host in hosts.items():
        report = json.loads(host.file(SNAPSHOT_DIR + "/failure.json").content_string)
        result = report["result"]
        assert result["rolled_back"] is True and result["backend"] == backends[name], report
        assert result["backup"].startswith("/var/backups/bjnp/") and host.file(result["backup"]).exists, report
        # The role names the failed check (quoted as firewall_rules does; it printed nothing), that
        # only our part was put back, and the backup it took.
        assert report["msg"] == ("netsec.bjnp.firewall on %s: site check %r failed (rc=1). Put our %s rules back as "
                                 "they were before this run (other rules untouched; backup %s)."
                                 % (name, failing_check, backends[name], result["backup"])), report


def test_rules_were_applied_before_the_failure(hosts, backends):
    assert_rules_were_live(hosts, backends)


def test_everything_is_as_before(inventory, hosts):
    assert_as_before(inventory, hosts)


def test_the_play_fails_without_a_rescue(inventory, hosts, backends):
    for host in hosts.values():
        host.run_expect([0], "rm -f %s/at-verify.nft" % SNAPSHOT_DIR)
    # Whitespace normalised: the YAML result format may fold a long message.
    output = " ".join(run_playbook(os.path.join(SCENARIO, "fail.yml"), expect_rc=2).split())
    for name in hosts:
        assert "fatal: [%s]: FAILED!" % name in output, output
        assert re.search(r"netsec.bjnp.firewall on %s: site check .* Put our %s rules back as they were before this "
                         r"run \(other rules untouched; backup /var/backups/bjnp/\S+\)\."
                         % (re.escape(name), re.escape(backends[name])), output), output
    assert_rules_were_live(hosts, backends)
    assert_as_before(inventory, hosts)
