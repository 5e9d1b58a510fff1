# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway mode with firewalld: the router filters what it forwards to the printer; the printer is untouched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bjnp_molecule as checks


def test_traffic_really_crosses_the_router(printer):
    # Without the router in the path the test below would prove nothing.
    route = printer.check_output("ip route get 10.89.114.20")
    assert "via 10.89.115.2" in route, route


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


def test_only_the_forward_policy_exists(protected):
    policies = protected.check_output("firewall-cmd --get-policies").split()
    assert "netsec-bjnp-fwd" in policies and "netsec-bjnp-host" not in policies, policies
    assert "egress-zones: ANY" in protected.check_output("firewall-cmd --info-policy=netsec-bjnp-fwd")


def test_printer_is_untouched(printer):
    assert printer.check_output("nft list ruleset") == ""


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, "firewalld")
    checks.assert_blocked(inventory, printer_addresses)
