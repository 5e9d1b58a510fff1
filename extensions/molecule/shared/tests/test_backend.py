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
import time

import bjnp_molecule as checks
from conftest import IPTABLES_TOOLS, addresses, run_module, saved_snapshot, snapshot

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
# The scenarios whose converge turns bjnp_log_attempts on.
LOGGED = [("nftables", "host"), ("iptables-nft", "host"), ("firewalld", "host"), ("nftables", "gateway"),
          ("firewalld", "gateway")]
ATTEMPTS = 4


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


@only(*LOGGED)
def test_attempts_are_counted_logged_and_their_source_named(inventory, protected, printer_addresses):
    client_name = inventory.get_hosts("client")[0]
    client = [a for a in addresses(client_name) if ":" not in a][0]
    target = [a for a in printer_addresses if ":" not in a][0]
    before = run_module(inventory, "protected", "attempts", {"since": "1h"})
    # Only what follows this moment is compared (the probes of the checks above hit the rules too).
    time.sleep(1.1)
    since = protected.check_output("date -u +%s")
    time.sleep(1.1)
    # One SYN each: the timeout ends an attempt before TCP would retransmit it.
    checks.inventory_host(inventory, "client").check_output(
        "python3 -c 'import socket\nfor i in range(%d):\n s = socket.socket(); s.settimeout(0.3)\n"
        " try: s.connect((\"%s\", 9100))\n except OSError: pass\n s.close()'" % (ATTEMPTS, target))
    time.sleep(1)
    after = run_module(inventory, "protected", "attempts", {"since": since, "print_server_min_connections": 3})

    sources = [s for s in after["sources"] if (s["address"], s["protocol"], s["port"]) == (client, "tcp", 9100)]
    assert len(sources) == 1, after["sources"]
    assert (sources[0]["connections"], sources[0]["packets"], sources[0]["mode"]) == (ATTEMPTS, ATTEMPTS, MODE), sources
    assert [s["allow_entry"] for s in after["suspected_print_servers"] if s["address"] == client], after
    if BACKEND == "firewalld":
        assert after["counters_available"] is False  # rich rules keep no counters
    else:
        def counted(result):
            return sum(c["packets"] for c in result["counters"]
                       if (c["mode"], c["protocol"], c["ports"]) == (MODE, "tcp", "9100"))
        assert counted(after) - counted(before) == ATTEMPTS, (before["counters"], after["counters"])


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
