# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.monitor for real: the firewall role (bjnp_log_attempts: true) closes the ports of
a network namespace host, a peer namespace knocks N times, and the playbook, run in the host's
namespace as ansible-playbook against it, must report exactly those attempts and suggest the
allow entry of the peer that behaves like a print server.

The kernel log is one for the whole machine (/dev/kmsg) and holds other tests' lines too; the
collector counts only frames addressed to its own host's MAC addresses (the namespace's veth), so
the counts must be exact. The peer also knocks from an address of its own (a random 10.x.y.1 on
the veth pair), so a lapse of that filter shows as a wrong count, not as a wrong source. Nothing
leaves the two namespaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import html
import json
import os
import random
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from bjnp_integration import BIN, netns_sh, tool_env

pytestmark = [
    pytest.mark.usefixtures("kernel_logs_namespaces"),
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces, nftables and /dev/kmsg need root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian package nftables) is not installed"),
]

ATTEMPTS = 4
DATAGRAMS = 2
KNOCK = r"""
import socket, sys
source, target, attempts, datagrams = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for dummy in range(attempts):
    # One SYN each: the rules drop it, and the socket gives up before TCP would send it again (1 s).
    with socket.socket() as sock:
        sock.bind((source, 0))
        sock.settimeout(0.3)
        try:
            sock.connect((target, 9100))
        except OSError:
            pass
for dummy in range(datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(b"\x42\x4a\x4e\x50", (target, 8612))
"""

ROLE_PLAY = """---
- name: Close the BJNP and raw-print ports, logging what they block
  hosts: printhost
  gather_facts: false
  roles:
    - role: netsec.bjnp.firewall
"""


class Host(object):
    """The printer namespace of a NamespacePair as an inventory host (local connection), and a
    peer address of this test's own: client ``<net>.1`` in the scan namespace, host ``<net>.2``."""

    def __init__(self, pair, workdir):
        self.pair, self.workdir = pair, workdir
        rng = random.SystemRandom()
        net = "10.%d.%d" % (rng.randint(210, 249), rng.randint(0, 255))
        self.client, self.address = net + ".1", net + ".2"
        for netns, interface, address in ((pair.scan, pair.scan_if, self.client), (pair.lab, pair.lab_if, self.address)):
            netns_sh(netns, "ip addr add %s/24 dev %s" % (address, interface))
        self.reports = os.path.join(workdir, "reports")
        self.inventory = os.path.join(workdir, "inventory.json")
        host_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": os.path.join(BIN, "python"),
            "bjnp_backend": "nftables", "bjnp_log_attempts": True, "bjnp_allowed_sources": ["192.0.2.10"],
            "bjnp_backup_dir": os.path.join(workdir, "backups"),
            "bjnp_nftables_persist_path": os.path.join(workdir, "nftables.d", "netsec-bjnp.nft"),
            "bjnp_nftables_conf": os.path.join(workdir, "nftables.conf"),
            # The namespace shares systemd with the machine: leave its nftables.service alone.
            "bjnp_nftables_enable_service": False,
        }
        with open(self.inventory, "w") as handle:
            json.dump({"all": {"hosts": {"printhost": host_vars}}}, handle)

    def playbook(self, playbook, *args):
        """ansible-playbook in the host's namespace; (exit code, JSON output, stdout + stderr)."""
        env = dict(tool_env(), ANSIBLE_LOCALHOST_WARNING="0", PWD=self.workdir)
        command = ["ip", "netns", "exec", self.pair.lab, os.path.join(BIN, "ansible-playbook"), "-i", self.inventory,
                   playbook] + list(args)
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=self.workdir, timeout=600,
                              check=False)
        try:
            output = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook gave no JSON (exit %d): %s %s"
                                 % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
        return proc.returncode, output, proc.stdout + proc.stderr

    def monitor(self, *args):
        return self.playbook("netsec.bjnp.monitor", "-e", "bjnp_hosts=printhost", "-e",
                             "bjnp_report_dir=" + self.reports, *args)

    def knock(self, attempts, datagrams):
        proc = subprocess.run(["ip", "netns", "exec", self.pair.scan, sys.executable, "-c", KNOCK, self.client,
                               self.address, str(attempts), str(datagrams)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr

    def report(self, fmt="json"):
        path = os.path.join(self.reports, "monitor-latest.%s" % {"json": "json", "junit": "xml", "html": "html"}[fmt])
        if fmt == "junit":
            return ET.parse(path).getroot()
        with open(path) as handle:
            return json.load(handle) if fmt == "json" else handle.read()


def task_result(output, name):
    found = [result for play in output["plays"] for task in play["tasks"] if task["task"]["name"] == name
             for result in task["hosts"].values()]
    assert found, "task %r did not run" % name
    return found[0]


def message(output):
    return task_result(output, "Show who knocked and which print servers may have been forgotten")["msg"]


@pytest.fixture
def host(netns_pair, workdir):
    return Host(netns_pair, workdir)


def test_monitor_reports_the_attempts_of_a_peer_and_the_allow_entry_to_add(host):
    started = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    with open(os.path.join(host.workdir, "role.yml"), "w") as handle:
        handle.write(ROLE_PLAY)
    rc, output, text = host.playbook(os.path.join(host.workdir, "role.yml"))
    assert rc == 0, text[-4000:]
    assert 'log prefix "netsec-bjnp: "' in netns_sh(host.pair.lab, "nft list table inet bjnp")

    host.knock(ATTEMPTS, DATAGRAMS)
    since = ["-e", "bjnp_monitor_since=" + started, "-e", "bjnp_print_server_min_connections=3"]

    # Check mode: read-only anyway; the same findings, no file written.
    rc, output, text = host.monitor("--check", *since)
    assert rc == 0, text[-4000:]
    assert not os.path.exists(host.reports)
    lines = message(output)
    assert any(line.startswith("printhost: ") for line in lines), lines
    assert lines[-1].startswith("reports (check mode: not written): ")

    rc, output, text = host.monitor(*since)
    assert rc == 0, text[-4000:]
    document = host.report()
    printhost = document["managed"][0]
    assert printhost["inventory_hostname"] == "printhost" and printhost["collected"] is True, printhost
    assert printhost["backend"] == "nftables" and printhost["counters_available"] is True
    ours = [source for source in printhost["sources"] if source["address"] == host.client]
    by_port = dict(((source["protocol"], source["port"]), source) for source in ours)
    assert sorted(by_port) == [("tcp", 9100), ("udp", 8612)], ours
    assert by_port[("tcp", 9100)]["packets"] == ATTEMPTS and by_port[("tcp", 9100)]["connections"] == ATTEMPTS
    assert by_port[("udp", 8612)]["packets"] == DATAGRAMS
    assert by_port[("tcp", 9100)]["mode"] == "host"
    assert by_port[("tcp", 9100)]["first_seen"] >= started[:19] and by_port[("tcp", 9100)]["last_seen"]
    # The namespace's own counters: nothing but this test's packets reach them.
    counted = dict(((counter["protocol"], counter["ports"]), counter["packets"]) for counter in printhost["counters"])
    assert counted[("tcp", "9100")] == ATTEMPTS and counted[("udp", "8611-8614")] == DATAGRAMS, counted
    assert printhost["attempts"] == ATTEMPTS + DATAGRAMS and printhost["addresses"] == 1, printhost["sources"]

    suspects = [entry for entry in document["suspected_print_servers"] if entry["address"] == host.client]
    assert len(suspects) == 1, document["suspected_print_servers"]
    assert suspects[0]["allow_entry"] == host.client and suspects[0]["hosts"] == ["printhost"]
    assert suspects[0]["ports"] == ["tcp/9100"] and suspects[0]["connections"] == ATTEMPTS
    line = 'bjnp_allowed_sources: [..., "%s"]' % host.client
    assert suspects[0]["allow_line"] == line

    junit = host.report("junit")
    cases = dict((case.get("name"), case) for case in junit.iter("testcase"))
    assert cases["printhost"].find("failure").get("type") == "attempts"
    assert cases[host.client].find("failure").get("type") == "suspected_print_server"
    assert html.escape(line, quote=True) in host.report("html")

    lines = message(output)
    assert any(entry.startswith("printhost: ") and " attempts from " in entry for entry in lines), lines
    assert any(entry.startswith("possibly a print server you forgot to allow: %s " % host.client)
               and entry.endswith(line) for entry in lines), lines

    # The gate: the same findings fail the run, after the report is written.
    rc, output, text = host.monitor("-e", "bjnp_fail_on_attempts=true", *since)
    assert rc != 0
    gate = task_result(output, "Fail when attempts were seen (bjnp_fail_on_attempts)")
    assert gate.get("failed") and line in gate["msg"]


def test_monitor_of_a_host_nobody_knocked_on_passes_the_gate(host):
    with open(os.path.join(host.workdir, "role.yml"), "w") as handle:
        handle.write(ROLE_PLAY)
    rc, output, text = host.playbook(os.path.join(host.workdir, "role.yml"))
    assert rc == 0, text[-4000:]
    rc, output, text = host.monitor("-e", "bjnp_monitor_since=1s", "-e", "bjnp_fail_on_attempts=true")
    printhost = host.report()["managed"][0]
    counted = dict(((counter["protocol"], counter["ports"]), counter["packets"]) for counter in printhost["counters"])
    assert counted == {("tcp", "9100"): 0, ("tcp", "8611-8614"): 0, ("udp", "8611-8614"): 0}, counted
    assert printhost["attempts"] == 0, printhost["sources"]
    assert rc == 0, text[-4000:]
    assert host.report()["summary"]["suspected_print_servers"] == 0
