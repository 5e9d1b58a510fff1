# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway mode: the router filters what it forwards to the printer; the printer is untouched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import bjnp_molecule as checks


def test_traffic_really_crosses_the_router(printer):
    # Without the router in the path the test below would prove nothing.
    route = printer.check_output("ip route get 10.89.106.20")
    assert "via 10.89.107.2" in route, route


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


def test_role_hooks_forward_only(protected):
    # Gateway mode only: the role's base chains hook forward, none hooks input.
    hooks = set(
        item["chain"].get("hook")
        for item in json.loads(protected.check_output("nft -j list chains"))["nftables"]
        if "chain" in item and "bjnp" in item["chain"]["table"].lower()
    )
    assert "forward" in hooks and "input" not in hooks, hooks


def test_printer_is_untouched(printer):
    assert printer.check_output("nft list ruleset") == ""


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, "nftables")
    checks.assert_blocked(inventory, printer_addresses)
