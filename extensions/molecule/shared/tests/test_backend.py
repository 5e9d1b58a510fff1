# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verifier of every backend scenario: blocked for the client, served for the print server,
backed up root-only, still so after the backend's boot reload, plus the checks of one backend or mode.

The backend and the mode come from the scenario's name (SCENARIOS). The tests run in file order:
the router check first (it guards the network checks), the boot reload last (it replaces the rules).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os

import bjnp_molecule as checks
from conftest import IPTABLES_TOOLS, addresses, saved_snapshot, snapshot

# Scenario -> (backend, mode) its converge.yml runs the role with.
SCENARIOS = {
    "nftables": ("nftables", "host"),
    "iptables-nft": ("iptables-nft", "host"),
    "iptables-legacy": ("iptables-legacy", "host"),
    "ufw": ("ufw", "host"),
    "firewalld": ("firewalld", "host"),
    "gateway": ("nftables", "gateway"),
    "ufw-gateway": ("ufw", "gateway"),
    "firewalld-gateway": ("firewalld", "gateway"),
}
BACKEND, MODE = SCENARIOS[os.environ["MOLECULE_SCENARIO_NAME"]]
GATEWAYS = [key for key in SCENARIOS.values() if key[1] == "gateway"]


def only(*keys):
    """Collect the decorated check only in the scenarios whose (backend, mode) is in ``keys``.

    pytest does not collect a function whose ``__test__`` is false, so elsewhere the check is
    absent rather than passing without testing anything.
    """
    def mark(test):
        test.__test__ = (BACKEND, MODE) in keys
        return test
    return mark


def network_of(address):
    """The podman network an address is on (shared/create.yml: 10.89.N.0/24 and fd42:89:N::/64)."""
    return ipaddress.ip_interface(address + ("/64" if ":" in address else "/24")).network


@only(*GATEWAYS)
def test_traffic_really_crosses_the_router(inventory, printer, printer_addresses):
    # Without the router in the path the network checks below would prove nothing.
    printer_side = set(network_of(a) for a in printer_addresses)
    routers = [a for a in addresses(inventory.get_hosts("protected")[0]) if network_of(a) in printer_side]
    for client in addresses(inventory.get_hosts("client")[0]):
        route = printer.check_output("ip route get %s" % client).split()
        router = [a for a in routers if (":" in a) == (":" in client)]
        assert "via" in route and route[route.index("via") + 1] == router[0], (client, route)


def test_client_is_blocked(inventory, printer_addresses):
    checks.assert_blocked(inventory, printer_addresses)


def test_print_server_is_served(inventory, printer, printer_addresses):
    checks.assert_served(inventory, printer, printer_addresses)


@only(("nftables", "host"))
def test_only_our_table_was_added(protected):
    before, now = saved_snapshot(protected), snapshot(protected)
    for tool in IPTABLES_TOOLS:
        assert now[tool] == before[tool], tool
    assert before["nft"] in now["nft"]
    assert now["nft"].count("\ntable ") + now["nft"].startswith("table ") == \
        before["nft"].count("\ntable ") + before["nft"].startswith("table ") + 1, now["nft"]


@only(("nftables", "gateway"))
def test_role_hooks_forward_only(protected):
    hooks = set(
        item["chain"].get("hook")
        for item in json.loads(protected.check_output("nft -j list chains"))["nftables"]
        if "chain" in item and "bjnp" in item["chain"]["table"].lower()
    )
    assert "forward" in hooks and "input" not in hooks, hooks


@only(("ufw", "gateway"))
def test_only_route_rules_are_ours(protected):
    ours = [line for line in protected.check_output("ufw show added").splitlines() if "netsec.bjnp" in line]
    assert ours and all(line.startswith("ufw route ") for line in ours), ours


@only(("firewalld", "gateway"))
def test_only_the_forward_policy_exists(protected):
    policies = protected.check_output("firewall-cmd --get-policies").split()
    assert "netsec-bjnp-fwd" in policies and "netsec-bjnp-host" not in policies, policies
    assert "egress-zones: ANY" in protected.check_output("firewall-cmd --info-policy=netsec-bjnp-fwd")


@only(*GATEWAYS)
def test_printer_is_untouched(printer):
    assert printer.check_output("nft list ruleset") == ""


def test_backup_is_root_only(protected):
    checks.assert_backup_root_only(protected)
    # Also ties SCENARIOS to what converge ran: each backup's metadata names its backend.
    directory = "/var/backups/bjnp/"
    backends = [json.loads(protected.file(directory + name).content_string)["backend"]
                for name in protected.file(directory).listdir() if name.endswith(".json")]
    assert backends and set(backends) == {BACKEND}, backends


def test_rules_survive_boot_reload(inventory, protected, printer_addresses):
    checks.boot_reload(protected, BACKEND)
    checks.assert_blocked(inventory, printer_addresses)
