# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two sites, each printer network reachable only from its own scanner, one detect report.

Each site is a pair of network namespaces joined by a veth (bjnp_integration.NamespacePair):
the site's printer network (``lab``: a managed print host running the emulator) and its
scanner (``scan``). Nothing joins the sites to each other or to the controller. Inventory hosts
live in those namespaces: their Python is started with ``ip netns exec`` (a two-line
interpreter wrapper), so a task delegated to ``scanner_a`` runs, and sends its packets, inside
site A's scanner namespace. Group vars give site_a ``bjnp_probe_from: scanner_a`` and
``bjnp_scan_targets`` of its printer subnet, site_b the same with scanner_b, as a multi-site
company would; netsec.bjnp.detect must report both sites' print hosts and unmanaged printers in
its one report, each with the scanner that probed it. Probing site B from site A's scanner finds
nothing open: the network really is split, and the traffic never leaves the namespaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest
import yaml

from bjnp_integration import BIN, IS_ROOT, NamespacePair, probe, tool_env

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root to create network namespaces")

PYTHON = os.path.join(BIN, "python")


class SiteB(NamespacePair):
    """Site B's own addresses, so the one report can hold both sites side by side."""

    SCAN_V4, LAB_V4 = "10.202.0.1", "10.202.0.2"
    SCAN_V6, LAB_V6 = "fd42:b2::1", "fd42:b2::2"


@pytest.fixture
def site_b():
    pair = SiteB()
    yield pair
    pair.delete()


def interpreter(workdir, netns):
    """A Python that runs inside ``netns``: what ansible_python_interpreter points at."""
    path = os.path.join(workdir, "python-%s" % netns)
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (netns, PYTHON))
    os.chmod(path, 0o755)
    return path


def printer(site):
    """A printer nobody manages on the site's printer network (a second address of its namespace)."""
    return site.LAB_V4.rsplit(".", 1)[0] + ".50"


def nobody(site):
    """An address of the site's subnet with nothing on it."""
    return site.LAB_V4.rsplit(".", 1)[0] + ".51"


def inventory(workdir, site_a, site_b):
    def host(netns, **extra):
        return dict({"ansible_connection": "local", "ansible_python_interpreter": interpreter(workdir, netns)},
                    **extra)

    data = {"all": {"vars": {"bjnp_probe_timeout": 0.5}, "children": {
        "site_a": {"vars": {"bjnp_probe_from": "scanner_a", "bjnp_scan_targets": [printer(site_a), nobody(site_a)]},
                   "hosts": {"printhost_a": host(site_a.lab, bjnp_probe_address=site_a.LAB_V4)}},
        "site_b": {"vars": {"bjnp_probe_from": "scanner_b", "bjnp_scan_targets": [printer(site_b), nobody(site_b)]},
                   "hosts": {"printhost_b": host(site_b.lab, bjnp_probe_address=site_b.LAB_V4)}},
        "scanners": {"hosts": {"scanner_a": host(site_a.scan), "scanner_b": host(site_b.scan)}},
    }}}
    path = os.path.join(workdir, "sites.yml")
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    return path


def detect(workdir, hosts, reports, *extra):
    command = [os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(workdir, "sites.yml"),
               "-e", "bjnp_hosts=" + hosts, "-e", "bjnp_report_dir=" + reports, "netsec.bjnp.detect"] + list(extra)
    env = dict(tool_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-6000:]
    with open(os.path.join(reports, "detect-latest.json")) as handle:
        return json.load(handle)


def open_ports(report, address):
    entries = [host for host in report["hosts"] if host["address"] == address]
    assert len(entries) == 1, "%s not listed once in %s" % (address, report["hosts"])
    return sorted("%s/%d" % (port["protocol"], port["port"]) for port in entries[0]["ports"] if port["state"] == "open")


def test_each_site_is_probed_from_its_own_scanner_into_one_report(netns_pair, site_b, start_emulator, workdir):
    site_a = netns_pair
    for site in (site_a, site_b):
        site.run(site.lab, ["ip", "addr", "add", printer(site) + "/24", "dev", site.lab_if]).check_returncode()
    start_emulator(["--model", "MG5200 series"], binds=[site_a.LAB_V4, printer(site_a)], netns=site_a.lab)
    start_emulator(["--model", "TS8350 series", "--description", "Canon TS8350 series"],
                   binds=[site_b.LAB_V4, printer(site_b)], netns=site_b.lab)
    inventory(workdir, site_a, site_b)

    # The split is real: from site A's scanner, site B's printer is not there (no route; the
    # packets go nowhere outside site A's namespace).
    across = probe({"targets": [site_b.LAB_V4], "tcp_ports": [9100], "udp_ports": [8611], "timeout": 0.5},
                   netns=site_a.scan)
    assert all(port["state"] != "open" for host in across["hosts"] for port in host["ports"]), across

    report = detect(workdir, "site_a:site_b", os.path.join(workdir, "reports"))
    expected = ["tcp/8611", "tcp/9100", "udp/8611", "udp/8612"]
    by_address = dict((host["address"], host) for host in report["hosts"])
    for site, scanner, model, name in ((site_a, "scanner_a", "Canon MG5200 series", "printhost_a"),
                                       (site_b, "scanner_b", "Canon TS8350 series", "printhost_b")):
        for address in (site.LAB_V4, printer(site)):
            assert open_ports(report, address) == expected
            assert by_address[address]["models"] == [model]
            assert by_address[address]["probed_from"] == scanner
        assert by_address[site.LAB_V4]["inventory_hostname"] == name
        assert by_address[printer(site)]["inventory_hostname"] is None
        assert nobody(site) not in by_address
    # Two print hosts, two unmanaged printers, two empty addresses (counted clean, not listed).
    assert report["summary"]["hosts"] == 6 and report["summary"]["exposed"] == 4
    assert report["clean"]["addresses"] == 2
    # The listeners role ran in each site's printer namespace and names the emulator there.
    listeners = dict((item["inventory_hostname"], item["listeners"]) for item in report["managed"])
    assert sorted(listeners) == ["printhost_a", "printhost_b"]
    for host in ("printhost_a", "printhost_b"):
        assert "tcp/9100" in ["%s/%d" % (entry["protocol"], entry["port"]) for entry in listeners[host]]

    # Site B probed from site A's scanner (an extra var outranks the group vars): site A is
    # still found, site B is not, so the findings above came from each site's own scanner.
    wrong = detect(workdir, "site_a:site_b", os.path.join(workdir, "wrong"), "-e", "bjnp_probe_from=scanner_a")
    assert open_ports(wrong, site_a.LAB_V4) == open_ports(wrong, printer(site_a)) == expected
    assert open_ports(wrong, site_b.LAB_V4) == []
    assert printer(site_b) not in [host["address"] for host in wrong["hosts"]]
    assert wrong["summary"]["exposed"] == 2
