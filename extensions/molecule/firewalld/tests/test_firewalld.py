# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewalld backend: D-Bus and firewalld started in prepare, printer ports opened in the public zone.

Blocked for the client, served for the print server, and still so after `firewall-cmd --reload`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bjnp_molecule as checks


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, "firewalld")
    checks.assert_blocked(inventory, printer_addresses)
