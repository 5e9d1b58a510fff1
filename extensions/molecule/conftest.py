# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared testinfra fixtures for the Molecule scenarios.

Containers are reached with testinfra's native podman backend (``podman exec``), which is
much faster than its Ansible fallback for the ``containers.podman.podman`` connection. Network
checks run ``netsec.bjnp.probe`` inside a client container, so probe traffic stays on the
scenario's own podman network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest
import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

SPOOL = "/var/spool/bjnp-emulator"
SNAPSHOT_DIR = "/var/tmp/bjnp-mol"
# The same normalisation as shared/prepare.yml: no comment lines (they carry a timestamp)
# and no chain counters.
SAVE_FILTER = "sed -e '/^#/d' -e 's/ \\[[0-9]*:[0-9]*\\]$//'"
# Counter values change with traffic; rules do not.
NFT_FILTER = "sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/g'"
IPTABLES_TOOLS = ("iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy")
PERSISTENT_CONFIG = ("/etc/nftables.conf", "/etc/nftables.d", "/etc/iptables", "/etc/ufw", "/etc/firewalld")


def inventory_file():
    return os.environ["MOLECULE_INVENTORY_FILE"]


@pytest.fixture(scope="session")
def inventory():
    return AnsibleRunner(inventory_file())


def _group_hosts(inventory, group):
    names = inventory.get_hosts(group)
    if not names:
        pytest.fail("the scenario has no host in group %s" % group)
    return [testinfra.get_host("podman://" + name) for name in names]


def _first_name(inventory, group):
    return inventory.get_hosts(group)[0]


@pytest.fixture(scope="session")
def protected(inventory):
    """The host the role ran on."""
    return _group_hosts(inventory, "protected")[0]


@pytest.fixture(scope="session")
def printer(inventory):
    """The container running the emulator (the protected host itself in host mode)."""
    return _group_hosts(inventory, "printer")[0]


@pytest.fixture(scope="session")
def protected_hosts(inventory):
    """Every host the role ran on (scenarios with one host per backend)."""
    return _group_hosts(inventory, "protected")


@pytest.fixture(scope="session")
def printer_targets(inventory):
    """Every address of every printer container."""
    return [a for name in inventory.get_hosts("printer") for a in addresses(name)]


@pytest.fixture(scope="session")
def printer_addresses(inventory):
    return addresses(_first_name(inventory, "printer"))


def addresses(name):
    """IPv4 and IPv6 addresses of a container, as the shared group_vars derive them."""
    with open(os.environ["MOLECULE_FILE"]) as scenario:
        platforms = yaml.safe_load(scenario)["platforms"]
    platform = [p for p in platforms if p["name"] == name][0]
    ipv4 = platform["ip"].split(",")
    ipv6 = ["fd42:89:%s::%s" % tuple(a.split(".")[2:]) for a in ipv4]
    return ipv4 + ipv6


def run_module(inventory, group, module, args):
    """Run netsec.bjnp.<module> inside the first container of ``group``; its result."""
    name = _first_name(inventory, group)
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(
        ["ansible", name, "-i", inventory_file(), "-m", "netsec.bjnp." + module, "-a", json.dumps(args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False,
        universal_newlines=True,
    )
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][name]
    except (ValueError, KeyError, IndexError):
        pytest.fail("%s on %s did not run: %s %s" % (module, name, proc.stdout[-2000:], proc.stderr[-2000:]))
    if result.get("failed"):
        pytest.fail("%s on %s failed: %s" % (module, name, result.get("msg")))
    return result


def probe(inventory, group, targets, tcp_ports=(9100,), udp_ports=(8611,)):
    """Run netsec.bjnp.probe inside the first container of ``group``.

    Returns ``{address: {(port, protocol): state}}`` and the raw module result.
    """
    result = run_module(inventory, group, "probe", {
        "targets": list(targets),
        "tcp_ports": list(tcp_ports),
        "udp_ports": list(udp_ports),
        "timeout": 1.0,
        "retries": 1,
    })
    states = {}
    for found in result["hosts"]:
        states[found["address"]] = dict(
            ((p["port"], p["protocol"]), p["state"]) for p in found["ports"])
    return states, result


def snapshot(host):
    """The live firewall state, normalised like the one prepare saved."""
    state = {"nft": host.check_output("nft list ruleset | %s" % NFT_FILTER)}
    for tool in IPTABLES_TOOLS:
        state[tool] = host.check_output("%s-save | %s" % (tool, SAVE_FILTER))
    return state


def config_checksums(host):
    """{path: sha256} of the persistent firewall configuration, like prepare saved them."""
    return _parse_checksums(host.check_output(
        "{ find %s -type f 2>/dev/null || true; } | sort | xargs -r sha256sum" % " ".join(PERSISTENT_CONFIG)))


def _parse_checksums(text):
    return dict(reversed(line.split(None, 1)) for line in text.splitlines() if line.strip())


def changed_files(before, after):
    """Paths added, removed or modified between two config_checksums() results."""
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


def saved_snapshot(host):
    """The firewall state prepare saved before the role ran."""
    state = {"nft": host.file(SNAPSHOT_DIR + "/before.nft").content_string.rstrip("\n")}
    for tool in IPTABLES_TOOLS:
        state[tool] = host.file("%s/before.%s" % (SNAPSHOT_DIR, tool)).content_string.rstrip("\n")
    return state


def saved_config_checksums(host):
    return _parse_checksums(host.file(SNAPSHOT_DIR + "/before.etc").content_string)


def spool_jobs(host):
    return sorted(f for f in host.file(SPOOL).listdir() if not f.startswith("."))


def send_print_job(host, address, payload):
    """Send a raw job to TCP 9100 of our own emulator from ``host``."""
    family = "AF_INET6" if ":" in address else "AF_INET"
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.%s)\n"
        "s.settimeout(3)\n"
        "s.connect((%r,9100))\n"
        "s.sendall(%r)\n"
        "s.close()\n" % (family, address, payload.encode("ascii"))
    )
    return host.run("python3 -c %s" % _quote(code))


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def run_playbook(playbook, tags=None, extra_vars=None, expect_rc=0):
    """Run a playbook against the scenario's inventory, as an operator would; returns its output."""
    argv = ["ansible-playbook", "-i", inventory_file(), playbook]
    if tags:
        argv += ["--tags", tags]
    if extra_vars:
        argv += ["--extra-vars", json.dumps(extra_vars)]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                          universal_newlines=True)
    assert proc.returncode == expect_rc, proc.stdout[-4000:]
    return proc.stdout
