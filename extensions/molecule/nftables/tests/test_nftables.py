# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables backend, host mode: blocked for the client, served for the print server, persistent."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bjnp_molecule as checks
from conftest import IPTABLES_TOOLS, saved_snapshot, snapshot


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


def test_only_our_table_was_added(protected):
    before, now = saved_snapshot(protected), snapshot(protected)
    for tool in IPTABLES_TOOLS:
        assert now[tool] == before[tool], tool
    assert before["nft"] in now["nft"]
    assert now["nft"].count("\ntable ") + now["nft"].startswith("table ") == \
        before["nft"].count("\ntable ") + before["nft"].startswith("table ") + 1, now["nft"]


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, "nftables")
    checks.assert_blocked(inventory, printer_addresses)
