# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway mode with ufw: the router filters what it forwards to the printer; the printer is untouched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bjnp_molecule as checks


def test_traffic_really_crosses_the_router(printer):
    # Without the router in the path the test below would prove nothing.
    route = printer.check_output("ip route get 10.89.116.20")
    assert "via 10.89.117.2" in route, route


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


def test_only_route_rules_are_ours(protected):
    ours = [line for line in protected.check_output("ufw show added").splitlines() if "netsec.bjnp" in line]
    assert ours and all(line.startswith("ufw route ") for line in ours), ours


def test_printer_is_untouched(printer):
    assert printer.check_output("nft list ruleset") == ""


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, "ufw")
    checks.assert_blocked(inventory, printer_addresses)
