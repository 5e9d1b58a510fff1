# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks the scenarios' verifiers share: what the network sees, and what survives a reload."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import uuid

import testinfra
from conftest import probe, send_print_job, spool_jobs

# Boot-time reloads per backend: flush what is live, then load the persisted rules the way boot
# does. Both iptables variants: `iptables` is whichever the alternatives point at, as at boot.
IPTABLES_BOOT_RELOAD = (
    "for t in iptables ip6tables; do $t -F && $t -X && $t -P INPUT ACCEPT && $t -P FORWARD ACCEPT; done"
    " && netfilter-persistent start"
)
BOOT_RELOAD = {
    "nftables": "nft flush ruleset && nft -f /etc/nftables.conf",
    "iptables-nft": IPTABLES_BOOT_RELOAD,
    "iptables-legacy": IPTABLES_BOOT_RELOAD,
    "ufw": "ufw reload",
    "firewalld": "firewall-cmd --reload",
}


def assert_blocked(inventory, targets, group="client"):
    """From ``group``, TCP 9100/8611 are filtered and UDP 8611 is silent on every target."""
    states, result = probe(inventory, group, targets, tcp_ports=(9100, 8611), udp_ports=(8611,))
    assert sorted(states) == sorted(targets), result
    for address in targets:
        assert states[address] == {
            (9100, "tcp"): "filtered",
            (8611, "tcp"): "filtered",
            (8611, "udp"): "open|filtered",
        }, (address, result)
    assert result["summary"]["exposed"] == 0, result


def assert_exposed(inventory, targets, group="client"):
    """From ``group``, every target is exposed again (what a roll-back must give back)."""
    states, result = probe(inventory, group, targets)
    assert result["summary"]["exposed"] == len(targets), states


def assert_served(inventory, printer, targets, group="printserver"):
    """From the allowed print server, BJNP answers and a print job lands in the spool."""
    states, result = probe(inventory, group, targets, tcp_ports=(9100,), udp_ports=(8611,))
    for address in targets:
        assert states[address] == {(9100, "tcp"): "open", (8611, "udp"): "open"}, (address, result)
    identities = [p.get("identity", {}) for h in result["hosts"] for p in h["ports"] if p["protocol"] == "udp"]
    assert all(i.get("manufacturer") == "Canon" for i in identities), identities

    server = inventory_host(inventory, group)
    before = set(spool_jobs(printer))
    for address in targets:
        sent = send_print_job(server, address, "%%!PS bjnp-molecule %s\n" % uuid.uuid4())
        assert sent.rc == 0, (address, sent.stderr)
    # The emulator files a job when the sender closes; give it a moment.
    deadline = time.time() + 5
    while True:
        new = set(spool_jobs(printer)) - before
        if len(new) >= len(targets) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(new) == len(targets), (sorted(before), sorted(new))


def inventory_host(inventory, group):
    return testinfra.get_host("podman://" + inventory.get_hosts(group)[0])


def assert_backup_root_only(host, directory="/var/backups/bjnp"):
    """The role's backups exist and only root can read them."""
    backups = host.file(directory)
    assert backups.is_directory, directory
    assert backups.mode == 0o700, oct(backups.mode)
    files = [host.file(directory + "/" + name) for name in backups.listdir()]
    assert files, "no backup was taken"
    for backup in files:
        assert backup.user == "root" and backup.mode == 0o600, (backup.path, oct(backup.mode))


def without_role(kind, text):
    """A ruleset dump without what the role owns (names carrying BJNP, any case).

    ``kind`` "nft": drops every ``table``/``chain`` block whose name has bjnp and every other
    line naming it (jumps), and blank lines (block separators); otherwise (iptables-save output) drops every line naming a BJNP
    chain (declarations, jumps and the chain's rules).
    """
    if kind != "nft":
        return "\n".join(line for line in text.splitlines() if "bjnp" not in line.lower())
    kept, depth, skip_until = [], 0, None
    for line in text.splitlines():
        opens, closes = line.count("{"), line.count("}")
        words = line.split()
        if skip_until is None and words[:1] in (["table"], ["chain"]) and "bjnp" in line.lower():
            skip_until = depth
        elif skip_until is None and "bjnp" not in line.lower() and line.strip():
            kept.append(line)
        depth += opens - closes
        if skip_until is not None and depth <= skip_until:
            skip_until = None
    return "\n".join(kept).strip("\n")


def boot_reload(host, backend):
    """Drop the live rules and load the persisted ones, as a reboot would."""
    host.run_expect([0], BOOT_RELOAD[backend])
