# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.detect over bjnp_scan_targets, through ansible-playbook for real: per site, in
chunks, merged in Python, reported compactly.

Emulated printers answer on a leased loopback /24; two sites are two inventory hosts with a local
connection (the probes they are delegated run here, as from two jump hosts). The managed hosts run
their own modules (the listeners role) in an empty network namespace of the test's, so they list
their own sockets, not every socket of this shared machine. Traffic goes only to loopback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import uuid
import xml.etree.ElementTree as ET

import pytest

from bjnp_integration import BIN, IS_ROOT, lease_loopback_block, tool_env

SCAN_TASK = "Probe the scan targets of each site"


@pytest.fixture
def host_netns(workdir):
    """``(namespace, python)``: an empty namespace and an interpreter script that runs in it."""
    if not IS_ROOT:
        pytest.skip("needs root to create the managed hosts' network namespace")
    name = "bjnpt-%s" % uuid.uuid4().hex[:8]
    subprocess.check_call(["ip", "netns", "add", name])
    python = os.path.join(workdir, "python-in-netns")
    with open(python, "w") as handle:
        handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (name, os.path.join(BIN, "python")))
    os.chmod(python, 0o755)
    try:
        yield name, python
    finally:
        subprocess.call(["ip", "netns", "delete", name])


@pytest.fixture
def blocks():
    """Two leased loopback /24s (their prefixes)."""
    leases = [lease_loopback_block(), lease_loopback_block()]
    yield [lease.address for lease in leases]
    for lease in leases:
        lease.release()


def detect(workdir, inventory, *args):
    reports = os.path.join(workdir, "reports")
    completed = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "netsec.bjnp.detect",
                                "-e", "bjnp_report_dir=%s" % reports] + list(args),
                               cwd=workdir, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=600, check=False)
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-6000:]
    with open(os.path.join(reports, "detect-latest.json")) as handle:
        document = json.load(handle)
    return json.loads(completed.stdout)["plays"], document, reports


def task_results(plays, name):
    """host -> result of the task ``name`` in the main play."""
    for play in plays:
        for task in play["tasks"]:
            if task["task"]["name"] == name:
                return task["hosts"]
    raise AssertionError("no task %r" % name)


def test_each_site_sweeps_the_scan_targets_of_its_hosts_in_chunks(start_emulator, workdir, host_netns, blocks):
    site_a, site_b = blocks
    printer_a = start_emulator(binds=["%s.10" % site_a, "%s.20" % site_a], options=["--model", "MG5200 series", "--description", "Canon MG5200 series"])
    printer_b = start_emulator(binds=["%s.30" % site_b], options=["--model", "TS8350 series", "--description", "Canon TS8350 series"])
    dummy, python = host_netns
    local = {"ansible_connection": "local", "ansible_python_interpreter": os.path.join(BIN, "python")}
    managed = {"ansible_connection": "local", "ansible_python_interpreter": python,
               "bjnp_probe_timeout": 0.5, "bjnp_probe_retries": 0, "bjnp_probe_chunk_size": 64}
    inventory = os.path.join(workdir, "inventory.json")
    with open(inventory, "w") as handle:
        json.dump({"all": {"children": {
            "probers": {"hosts": {"localhost": local, "jump-b": local}},
            "site_a": {"hosts": {"a1": {"bjnp_probe_address": "%s.1" % site_a},
                                 "a2": {"bjnp_probe_address": "%s.2" % site_a}},
                       "vars": dict(managed, bjnp_scan_targets=["%s.0/24" % site_a])},
            "site_b": {"hosts": {"b1": {"bjnp_probe_address": "%s.1" % site_b,
                                        "bjnp_scan_targets": ["%s.0/25" % site_b]},
                                 "b2": {"bjnp_probe_address": "%s.2" % site_b,
                                        "bjnp_scan_targets": ["%s.128/25" % site_b, "%s.30" % site_b]}},
                       "vars": dict(managed, bjnp_probe_from="jump-b")}}}}, handle)
    plays, document, reports = detect(workdir, inventory, "-e", "bjnp_hosts=site_a:site_b")

    # One loop per site, run by its first host, one item per 64 addresses: the progress lines.
    scans = task_results(plays, SCAN_TASK)
    labels = dict((host, [item["_ansible_item_label"] for item in result.get("results", [])])
                  for host, result in scans.items())
    assert labels == {
        "a1": ["localhost: %s.%d/26 (%d of 4)" % (site_a, 64 * n, n + 1) for n in range(4)],
        "a2": [],
        # Site b: the union of b1's and b2's targets; .30, listed by b2 beside the /25 that holds it,
        # is probed once, in that /25's chunk, not in a chunk of its own again.
        "b1": ["jump-b: %s.%d/26 (%d of 4)" % (site_b, 64 * n, n + 1) for n in range(4)],
        "b2": [],
    }

    # 512 scanned addresses, the managed hosts' own four inside them: counted once.
    summary = document["summary"]
    assert (summary["hosts"], summary["exposed"], summary["listed"], summary["clean"]) == (512, 3, 7, 509)
    listed = dict((host["address"], (host["inventory_hostname"], host["probed_from"], host["exposed"], host["models"]))
                  for host in document["hosts"])
    assert listed == {
        "%s.1" % site_a: ("a1", "localhost", False, []), "%s.2" % site_a: ("a2", "localhost", False, []),
        "%s.10" % site_a: (None, "localhost", True, ["Canon MG5200 series"]),
        "%s.20" % site_a: (None, "localhost", True, ["Canon MG5200 series"]),
        "%s.1" % site_b: ("b1", "jump-b", False, []), "%s.2" % site_b: ("b2", "jump-b", False, []),
        "%s.30" % site_b: (None, "jump-b", True, ["Canon TS8350 series"]),
    }
    # The clean addresses the only-exposed scans did not return are counted, without ports.
    assert document["clean"]["addresses"] == 505 and document["clean"]["without_ports"] == 505

    # The closing message names each exposed address with its printer and open ports.
    shown = task_results(plays, "Show what was found")["a1"]["msg"]
    assert shown[0] == "3 of 512 addresses expose 12 open BJNP/raw-print ports"
    assert "%s.30: Canon TS8350 series; open tcp/8611, tcp/9100, udp/8611, udp/8612" % site_b in shown

    junit = ET.parse(os.path.join(reports, "detect-latest.xml")).getroot()
    assert junit.get("tests") == "8" and junit.get("failures") == "3"
    for emulator in (printer_a, printer_b):
        emulator.stop()


def test_only_exposed_off_and_detail_all_list_every_scanned_address(start_emulator, workdir, host_netns, blocks):
    site = blocks[0]
    start_emulator(binds=["%s.10" % site])
    dummy, python = host_netns
    inventory = os.path.join(workdir, "inventory.json")
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": {
            "localhost": {"ansible_connection": "local", "ansible_python_interpreter": os.path.join(BIN, "python")},
            "a1": {"ansible_connection": "local", "ansible_python_interpreter": python,
                   "bjnp_probe_address": "%s.1" % site, "bjnp_scan_targets": ["%s.0/28" % site],
                   "bjnp_probe_timeout": 0.5, "bjnp_probe_retries": 0, "bjnp_probe_identify": False}}}}, handle)
    plays, document, dummy = detect(workdir, inventory, "-e", "bjnp_hosts=a1", "-e", "bjnp_probe_only_exposed=false",
                                    "-e", "bjnp_report_detail=all")
    assert document["detail"] == "all" and document["summary"]["hosts"] == 16
    assert len(document["hosts"]) == 16 and document["clean"]["addresses"] == 0
    printer = [host for host in document["hosts"] if host["exposed"]]
    # identify: false asked no printer for its identity.
    assert [host["address"] for host in printer] == ["%s.10" % site] and printer[0]["models"] == []
