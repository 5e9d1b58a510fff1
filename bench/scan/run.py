# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scan benchmark: netsec.bjnp.probe side by side with nmap (bench/README.md, "Scan").

Run as root from the repository, after `make setup`:

    python3 bench/scan/run.py [--quick] [--emulator tests/lab/bjnp_emulator.py] [--json FILE]

1. Emulated printers answer on one address in 64 of 127.77.0.0/16 (1,024 printers, two
   models), through tests/lab/bjnp_emulator.py.
2. Loopback /24: the probe through ansible (an ad-hoc command, as users run it), the engine alone, and
   nmap with its best settings; wall times, ratio, and whether the findings are identical.
3. Loopback /16: the engine alone and the probe through ansible (wall time, probes/s, peak
   memory), and nmap unless --quick.
4. A /24 behind a veth pair between two network namespaces this script creates (the kernel
   rate-limits ICMP there as on real hosts): probe and nmap again.
Everything it starts (emulators, namespaces) is removed at the end. Traffic goes only to
127.77.0.0/16 and to 10.231.1.0/24 inside the script's own namespaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
from xml.etree import ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")
ENGINE = os.path.join(ROOT, "bench", "scan", "engine.py")

LOOPBACK_16 = "127.77.0.0/16"
LOOPBACK_24 = "127.77.0.0/24"
NETNS_24 = "10.231.1.0/24"
NETNS_SCAN, NETNS_LAB = "bjnpbench-scan", "bjnpbench-lab"
PRINTER_EVERY, PRINTER_OFFSET = 64, 5
MODELS = ("MG5200 series", "TS8350 series")
PORTS_PER_ADDRESS = 9  # udp 8611-8614, tcp 8611-8614 and 9100
# nmap's fastest honest settings for this job: SYN scan (we are root) plus UDP, the
# bjnp-discover script for identities, no DNS, no host discovery, -T5 with a minimum rate.
NMAP = ["nmap", "-n", "-Pn", "-sS", "-sU", "-p", "U:8611-8614,T:8611-8614,9100",
        "--script", "bjnp-discover", "-T5", "--min-rate", "10000"]


def environment():
    env = dict(os.environ)
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def in_netns(netns, command):
    return ["ip", "netns", "exec", netns] + command if netns else command


# A child's peak RSS starts at its parent's (Linux carries it over fork and exec), and this
# script grows while it reads /16 results; so a small fresh Python starts each measured
# command and reports the command's wall time and peak RSS (of it and its children).
_MEASURE = """
import os, subprocess, sys, time
started = time.monotonic()
process = subprocess.Popen(sys.argv[2:])
status, usage = os.wait4(process.pid, 0)[1:]
with open(sys.argv[1], "w") as handle:
    handle.write("%f %d" % (time.monotonic() - started, usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_timed(command, log):
    """Run ``command``; return wall seconds and the peak RSS (MiB) of it and its children."""
    figures = log + ".figures"
    with open(log, "ab") as handle:
        status = subprocess.call([sys.executable, "-c", _MEASURE, figures] + command,
                                 stdout=handle, stderr=subprocess.STDOUT, env=environment())
    if status != 0:
        sys.exit("failed (%s): %s; see %s" % (status, " ".join(command), log))
    with open(figures) as handle:
        wall, rss_kib = handle.read().split()
    return float(wall), int(rss_kib) / 1024.0


def printer_addresses(network):
    return [str(address) for index, address in enumerate(ipaddress.ip_network(network))
            if index % PRINTER_EVERY == PRINTER_OFFSET]


class Lab(object):
    """Emulators (and, for the netns run, the two namespaces and their veth pair)."""

    def __init__(self, emulator, workdir):
        self.emulator = emulator
        self.workdir = workdir
        self.processes = []
        self.namespaces = []

    def start_printers(self, addresses, netns=None):
        """Two emulator processes, one per model, sharing ``addresses`` alternately."""
        expected = {}
        for index, model in enumerate(MODELS):
            group = addresses[index::len(MODELS)]
            if not group:
                continue
            name = "emulator-%s-%d" % (netns or "loopback", index)
            bind_file = os.path.join(self.workdir, name + ".binds")
            ready = os.path.join(self.workdir, name + ".ready")
            spool = os.path.join(self.workdir, name + ".spool")
            os.mkdir(spool)
            with open(bind_file, "w") as handle:
                handle.write("\n".join(group) + "\n")
            command = in_netns(netns, [sys.executable, self.emulator, "--bind-file", bind_file,
                                       "--model", model, "--description", "Canon " + model,
                                       "--udp-ports", "8611,8612", "--tcp-ports", "8611,9100",
                                       "--spool", spool, "--ready-file", ready])
            log = open(os.path.join(self.workdir, name + ".log"), "wb")
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 120
            while not os.path.exists(ready):
                if self.processes[-1].poll() is not None or time.monotonic() > deadline:
                    sys.exit("emulator did not start; see %s" % log.name)
                time.sleep(0.1)
            for address in group:
                expected[address] = model
        return expected

    def create_namespaces(self):
        """Scanner and printers in two namespaces of our own, joined by a veth pair."""
        commands = [
            ["ip", "netns", "add", NETNS_SCAN], ["ip", "netns", "add", NETNS_LAB],
            ["ip", "link", "add", "bjnpb0", "netns", NETNS_SCAN, "type", "veth",
             "peer", "name", "bjnpb1", "netns", NETNS_LAB],
            ["ip", "-n", NETNS_SCAN, "addr", "add", "10.231.0.1/30", "dev", "bjnpb0"],
            ["ip", "-n", NETNS_LAB, "addr", "add", "10.231.0.2/30", "dev", "bjnpb1"],
            ["ip", "-n", NETNS_SCAN, "link", "set", "bjnpb0", "up"],
            ["ip", "-n", NETNS_LAB, "link", "set", "bjnpb1", "up"],
            ["ip", "-n", NETNS_SCAN, "link", "set", "lo", "up"],
            ["ip", "-n", NETNS_LAB, "link", "set", "lo", "up"],
            # Every address of the /24 is local to the lab namespace, as 127/8 is on lo.
            ["ip", "-n", NETNS_LAB, "route", "add", "local", NETNS_24, "dev", "lo"],
            ["ip", "-n", NETNS_SCAN, "route", "add", NETNS_24, "via", "10.231.0.2"],
        ]
        for netns in (NETNS_SCAN, NETNS_LAB):
            if subprocess.call(["ip", "netns", "pids", netns], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0:
                sys.exit("network namespace %s already exists; remove it first" % netns)
        self.namespaces = [NETNS_SCAN, NETNS_LAB]
        for command in commands:
            subprocess.check_call(command)

    def clean(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for netns in self.namespaces:  # deleting a namespace deletes its veth end too
            subprocess.call(["ip", "netns", "delete", netns])


# ------------------------------------------------------------------------ findings
def probe_findings(path):
    """Open TCP ports and BJNP identities (address, port) -> model from a probe result."""
    with open(path) as handle:
        result = json.load(handle)
    tcp_open, identities = set(), {}
    for host in result["hosts"]:
        for port in host["ports"]:
            if port["state"] != "open":
                continue
            if port["protocol"] == "tcp":
                tcp_open.add((host["address"], port["port"]))
            elif port.get("identity", {}).get("model"):
                identities[(host["address"], port["port"])] = port["identity"]["model"]
    return tcp_open, identities


def nmap_findings(path):
    """The same from nmap's XML: open TCP ports and bjnp-discover's Model per UDP port."""
    tcp_open, identities = set(), {}
    for host in ElementTree.parse(path).getroot().iter("host"):
        address = host.find("address").get("addr")
        for port in host.iter("port"):
            number, state = int(port.get("portid")), port.find("state").get("state")
            if port.get("protocol") == "tcp" and state == "open":
                tcp_open.add((address, number))
            for script in port.iter("script"):
                if script.get("id") != "bjnp-discover":
                    continue
                for line in script.get("output", "").splitlines():
                    key, dummy, value = line.strip().partition(": ")
                    if key == "Model":
                        identities[(address, number)] = value
    return tcp_open, identities


def expected_findings(printers):
    tcp_open = set((address, port) for address in printers for port in (8611, 9100))
    identities = dict(((address, port), model) for address, model in printers.items()
                      for port in (8611, 8612))
    return tcp_open, identities


def describe(findings, expected):
    tcp_open, identities = findings
    hosts = set(address for address, dummy in tcp_open) | set(address for address, dummy in identities)
    verdict = "all expected" if findings == expected else "DIFFERS from the emulators"
    return "%d hosts, %d open tcp, %d identities (%s)" % (len(hosts), len(tcp_open), len(identities), verdict)


# ------------------------------------------------------------------------ runs
class Bench(object):
    def __init__(self, workdir):
        self.workdir = workdir
        self.rows = []

    def _row(self, scenario, tool, network, wall, rss, findings, expected):
        addresses = ipaddress.ip_network(network).num_addresses
        row = {"scenario": scenario, "tool": tool, "wall_s": round(wall, 2),
               "probes_per_s": int(addresses * PORTS_PER_ADDRESS / wall), "peak_rss_mib": round(rss, 1),
               "findings": describe(findings, expected), "findings_ok": findings == expected}
        self.rows.append(row)
        print("  %-13s %-26s %8.2f s %9d probes/s %7.1f MiB  %s" % (
            scenario, tool, wall, row["probes_per_s"], rss, row["findings"]), flush=True)
        return row

    def ansible(self, scenario, network, expected, netns=None, only_exposed=False):
        """``ansible localhost -m netsec.bjnp.probe`` with the module's defaults; --tree keeps the result."""
        tree = os.path.join(self.workdir, "%s-ansible" % scenario)
        arguments = json.dumps({"targets": [network], "only_exposed": only_exposed})
        command = in_netns(netns, [os.path.join(BIN, "ansible"), "localhost", "--one-line", "--tree", tree,
                                   "-m", "netsec.bjnp.probe", "-a", arguments])
        wall, rss = run_timed(command, os.path.join(self.workdir, "ansible.log"))
        findings = probe_findings(os.path.join(tree, "localhost"))
        return self._row(scenario, "probe via ansible ad-hoc", network, wall, rss, findings, expected)

    def engine(self, scenario, network, expected, netns=None, only_exposed=False):
        output = os.path.join(self.workdir, "%s-engine.json" % scenario)
        flags = ["--only-exposed"] if only_exposed else []
        command = in_netns(netns, [sys.executable, ENGINE, output] + flags + [network])
        wall, rss = run_timed(command, os.path.join(self.workdir, "engine.log"))
        return self._row(scenario, "probe engine alone", network, wall, rss, probe_findings(output), expected)

    def nmap(self, scenario, network, expected, netns=None):
        output = os.path.join(self.workdir, "%s-nmap.xml" % scenario)
        command = in_netns(netns, NMAP + ["-oX", output, network])
        wall, rss = run_timed(command, os.path.join(self.workdir, "nmap.log"))
        return self._row(scenario, "nmap -T5 --min-rate 10000", network, wall, rss, nmap_findings(output), expected)


def compare(probe, nmap):
    same = "identical" if (probe["findings_ok"] and nmap["findings_ok"]) else "NOT identical"
    print("  -> %s: nmap %.2f s / probe %.2f s = %.1fx; findings %s" % (
        probe["tool"], nmap["wall_s"], probe["wall_s"], nmap["wall_s"] / probe["wall_s"], same), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--emulator", default=os.path.join(ROOT, "tests", "lab", "bjnp_emulator.py"))
    parser.add_argument("--quick", action="store_true", help="skip nmap over the /16 (about 40 s)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark binds many addresses and creates network namespaces")
    if not os.path.exists(args.emulator):
        sys.exit("emulator %s not found" % args.emulator)

    workdir = tempfile.mkdtemp(prefix="bjnp-bench-")
    lab = Lab(os.path.abspath(args.emulator), workdir)
    bench = Bench(workdir)
    try:
        print("starting emulators on 1 address in %d of %s" % (PRINTER_EVERY, LOOPBACK_16), flush=True)
        printers = lab.start_printers(printer_addresses(LOOPBACK_16))
        network24 = ipaddress.ip_network(LOOPBACK_24)
        expected24 = expected_findings(dict((a, m) for a, m in printers.items()
                                            if ipaddress.ip_address(a) in network24))
        expected16 = expected_findings(printers)

        print("loopback /24 (%s, %d printers):" % (LOOPBACK_24, len(expected24[1]) // 2), flush=True)
        nmap24 = bench.nmap("loopback-24", LOOPBACK_24, expected24)
        compare(bench.ansible("loopback-24", LOOPBACK_24, expected24), nmap24)
        compare(bench.engine("loopback-24", LOOPBACK_24, expected24), nmap24)

        print("loopback /16 (%s, %d printers):" % (LOOPBACK_16, len(printers)), flush=True)
        engine16 = bench.engine("loopback-16", LOOPBACK_16, expected16)
        ansible16 = bench.ansible("loopback-16", LOOPBACK_16, expected16, only_exposed=True)
        if not args.quick:
            nmap16 = bench.nmap("loopback-16", LOOPBACK_16, expected16)
            compare(ansible16, nmap16)
            compare(engine16, nmap16)

        print("netns /24 behind a veth (%s):" % NETNS_24, flush=True)
        lab.create_namespaces()
        expected_ns = expected_findings(lab.start_printers(printer_addresses(NETNS_24), netns=NETNS_LAB))
        nmap_ns = bench.nmap("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN)
        compare(bench.ansible("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN), nmap_ns)
        compare(bench.engine("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN), nmap_ns)
    finally:
        lab.clean()
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(bench.rows, handle, indent=2)
    print("logs and raw results: %s" % workdir)
    return 0 if all(row["findings_ok"] for row in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
