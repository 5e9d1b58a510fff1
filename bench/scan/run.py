# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scan benchmark: netsec.bjnp.probe side by side with nmap (bench/README.md, "Scan").

Run as root from the repository, after `make setup`:

    python3 bench/scan/run.py [--quick] [--only SCENARIO] [--nice N] [--emulator tests/lab/bjnp_emulator.py] [--json FILE]
                              [--engine-baseline OLD_bjnp_scanner.py [--repeat N]]

1. Emulated printers answer on one address in 64 of 127.77.0.0/16 (1,024 printers, two
   models), through tests/lab/bjnp_emulator.py.
2. Loopback /24: the probe through ansible (an ad-hoc command, as users run it), the engine alone, and
   nmap with its best settings; wall times, ratio, and whether the findings are identical.
   For scale: ansible's own floor (an ad-hoc ping) and nmap with default timing.
3. Loopback /16: the engine alone and the probe through ansible, both with only_exposed
   (wall time, probes/s, peak memory), and nmap unless --quick.
4. Playbook /16: netsec.bjnp.detect with bjnp_scan_targets the /16 (probe in chunks, merge,
   listeners, the three reports), side by side with the probe through ansible on the same
   targets in the same run: wall times, their ratio, findings of the report, report sizes.
5. A /24 behind a veth pair between two network namespaces this script creates (the kernel
   rate-limits ICMP there as on real hosts): probe and nmap again, and for reference nmap
   with --defeat-icmp-ratelimit or --script-timeout 3s (faster, but they lose identities).
Each row also gives the CPU seconds of the measured command and its children (user, system,
and per probe), and the 1-minute load average when it started. With --engine-baseline, the
/16 rows run twice per round, once with that older bjnp_scanner.py (in a copy of the
collection made in the work directory) and once with the tree's, in A-B-B-A order over
--repeat rounds, and a summary compares them (medians, ratios). Everything it starts (emulators, namespaces) is
removed at the end. Traffic goes only to 127.77.0.0/16 and to 10.231.1.0/24 inside the
script's own namespaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import ipaddress
import json
import os
import platform
import shutil
import statistics
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
# The playbook's managed host: its modules (the listeners role) run in this empty namespace.
NETNS_HOST = "bjnpbench-host"
PRINTER_EVERY, PRINTER_OFFSET = 64, 5
MODELS = ("MG5200 series", "TS8350 series")
SCENARIOS = ("loopback-24", "loopback-16", "playbook-16", "netns-24")
PORTS_PER_ADDRESS = 9  # udp 8611-8614, tcp 8611-8614 and 9100
# nmap's fastest honest settings for this job: SYN scan (we are root) plus UDP, the
# bjnp-discover script for identities, no DNS, no host discovery, -T5 with a minimum rate.
NMAP_BASE = ["nmap", "-n", "-Pn", "-sS", "-sU", "-p", "U:8611-8614,T:8611-8614,9100",
             "--script", "bjnp-discover"]
# --min-hostgroup 4096: by default nmap scans 128 hosts at a time and a /16 takes 3-4 times
# longer; a larger group or --min-rate 50000 was no faster or lost open ports (README).
NMAP_BEST = ["-T5", "--min-rate", "10000", "--min-hostgroup", "4096"]


COLLECTIONS = os.path.join(ROOT, ".cache", "collections")


def environment(collections=COLLECTIONS):
    env = dict(os.environ)
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_COLLECTIONS_PATH=collections,
               PYTHONDONTWRITEBYTECODE="1")
    return env


def baseline_collections(engine, workdir):
    """A collections directory whose netsec.bjnp is this tree with ``engine`` as bjnp_scanner.py.

    Symbolic links to every file of the tree but that one, which is copied: ansible and
    bench/scan/engine.py then run the older engine with everything else as it is now.
    """
    top = os.path.join(workdir, "baseline-collections")
    tree = os.path.join(top, "ansible_collections", "netsec", "bjnp")
    replaced = os.path.join("plugins", "module_utils", "bjnp_scanner.py")
    for directory in ("", "plugins", os.path.join("plugins", "module_utils")):
        os.makedirs(os.path.join(tree, directory))
        for name in os.listdir(os.path.join(ROOT, directory)):
            relative = os.path.join(directory, name)
            if name.startswith(".") or replaced.startswith(relative + os.sep):
                continue
            if relative == replaced:
                shutil.copyfile(engine, os.path.join(tree, relative))
            else:
                os.symlink(os.path.join(ROOT, relative), os.path.join(tree, relative))
    return top


def in_netns(netns, command):
    return ["ip", "netns", "exec", netns] + command if netns else command


# A child's peak RSS starts at its parent's (Linux carries it over fork and exec), and this
# script grows while it reads /16 results; so a small fresh Python starts each measured
# command and reports the command's wall time, peak RSS and CPU seconds (of it and its
# children), and the 1-minute load average when it started.
_MEASURE = """
import os, subprocess, sys, time
load = os.getloadavg()[0]
started = time.monotonic()
process = subprocess.Popen(sys.argv[2:])
status, usage = os.wait4(process.pid, 0)[1:]
with open(sys.argv[1], "w") as handle:
    handle.write("%f %d %f %f %.2f" % (time.monotonic() - started, usage.ru_maxrss,
                                       usage.ru_utime, usage.ru_stime, load))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_timed(command, log, stdout=None, nice=0, collections=COLLECTIONS):
    """Run ``command`` (its output to ``stdout`` or appended to ``log``), at ``nice`` if not 0.

    Returns ``{"wall_s", "peak_rss_mib", "cpu_s", "user_s", "sys_s", "load1"}`` for it and
    its children.
    """
    figures = log + ".figures"
    with open(stdout or log, "wb" if stdout else "ab") as handle:
        with open(log, "ab") as errors:
            status = subprocess.call([sys.executable, "-c", _MEASURE, figures]
                                     + (["nice", "-n", str(nice)] if nice else []) + command,
                                     stdout=handle, stderr=errors if stdout else subprocess.STDOUT,
                                     env=environment(collections))
    if status != 0:
        sys.exit("failed (%s): %s; see %s" % (status, " ".join(command), log))
    with open(figures) as handle:
        wall, rss_kib, user, system, load = handle.read().split()
    return {"wall_s": float(wall), "peak_rss_mib": int(rss_kib) / 1024.0, "cpu_s": float(user) + float(system),
            "user_s": float(user), "sys_s": float(system), "load1": float(load)}


def read_number(path):
    try:
        with open(path) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


CONNTRACK_COUNT = "/proc/sys/net/netfilter/nf_conntrack_count"
CONNTRACK_MAX = "/proc/sys/net/netfilter/nf_conntrack_max"


def bjnp_udp_sockets():
    """UDP sockets bound on 8611-8614 in this namespace (the bench's emulators hold 2,048).

    The kernel finds the socket of each datagram to such a port on a chain of all of them:
    other processes binding thousands more (a scale test elsewhere) make every probe dearer.
    """
    count = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as handle:
                next(handle)
                count += sum(1 for line in handle if line.split()[1].rsplit(":", 1)[1] in ("21A3", "21A4", "21A5", "21A6"))
        except (OSError, StopIteration, IndexError):
            pass
    return count


def settle_conntrack(wait=45.0):
    """Wait (at most ``wait`` s) until connection tracking holds under a tenth of its maximum.

    On this host every loopback probe is tracked (a NAT table exists), a /16 makes 590,000
    entries against a maximum of 262,144, and unreplied UDP entries live 30 s: a run right
    after another starts on a full table and pays early drops from its first probe.
    Returns the count when the wait ended (None without conntrack).
    """
    deadline = time.monotonic() + wait
    while True:
        count, maximum = read_number(CONNTRACK_COUNT), read_number(CONNTRACK_MAX)
        if count is None or not maximum or count < maximum // 10 or time.monotonic() > deadline:
            return count
        time.sleep(1)


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

    def create_host_namespace(self):
        """An empty namespace for the playbook's managed host, so the listeners role lists its
        sockets, not the emulators' 4,096 (listen_ports_facts runs ps once per socket: minutes)."""
        if subprocess.call(["ip", "netns", "pids", NETNS_HOST], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0:
            sys.exit("network namespace %s already exists; remove it first" % NETNS_HOST)
        self.namespaces.append(NETNS_HOST)
        subprocess.check_call(["ip", "netns", "add", NETNS_HOST])
        subprocess.check_call(["ip", "-n", NETNS_HOST, "link", "set", "lo", "up"])

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
        self.namespaces.extend([NETNS_SCAN, NETNS_LAB])
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
def ansible_result(path):
    """The module result from the output of ansible's json stdout callback."""
    with open(path) as handle:
        return json.load(handle)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def report_findings(path):
    """The same findings from a detect report's JSON document (hosts lists every exposed address)."""
    with open(path) as handle:
        document = json.load(handle)
    findings, states = probe_findings(document)
    for column in document["clean"]["ports"]:
        for state, count in column["states"].items():
            key = "%s %s" % (column["protocol"], state)
            states[key] = states.get(key, 0) + count
    return findings, states


def probe_findings(result):
    """Open TCP ports, and answering BJNP ports (address, port) -> model (None if unnamed).

    Also the count of ports per (protocol, state), for the record.
    """
    tcp_open, identities, states = set(), {}, {}
    for host in result["hosts"]:
        for port in host["ports"]:
            key = "%s %s" % (port["protocol"], port["state"])
            states[key] = states.get(key, 0) + 1
            if port["state"] != "open":
                continue
            if port["protocol"] == "tcp":
                tcp_open.add((host["address"], port["port"]))
            else:
                identities[(host["address"], port["port"])] = (port.get("identity") or {}).get("model")
    return (tcp_open, identities), states


def nmap_findings(path):
    """The same from nmap's XML: open TCP ports and the Model bjnp-discover read per UDP port.

    nmap leaves an answering UDP port "open|filtered" (NSE does not change the state): the
    script's fields are its proof of an answer, as a BJNP answer is the probe's "open".
    """
    tcp_open, identities, states = set(), {}, {}
    for host in ElementTree.parse(path).getroot().iter("host"):
        address = host.find("address").get("addr")
        for port in host.iter("port"):
            number, state = int(port.get("portid")), port.find("state").get("state")
            key = "%s %s" % (port.get("protocol"), state)
            states[key] = states.get(key, 0) + 1
            if port.get("protocol") == "tcp" and state == "open":
                tcp_open.add((address, number))
            for script in port.iter("script"):
                if script.get("id") != "bjnp-discover":
                    continue
                # An answer gives "Field: value" lines; a silent port "Failed to receive ...".
                fields = dict(line.strip().partition(": ")[::2] for line in script.get("output", "").splitlines()
                              if ": " in line)
                if fields:
                    identities[(address, number)] = fields.get("Model")
    return (tcp_open, identities), states


def expected_findings(printers):
    tcp_open = set((address, port) for address in printers for port in (8611, 9100))
    identities = dict(((address, port), model) for address, model in printers.items()
                      for port in (8611, 8612))
    return tcp_open, identities


def describe(findings, expected):
    tcp_open, identities = findings
    hosts = set(address for address, dummy in tcp_open) | set(address for address, dummy in identities)
    models = sum(1 for model in identities.values() if model)
    verdict = "all expected" if findings == expected else "DIFFERS from the emulators"
    return "%d hosts, %d open tcp, %d bjnp udp answers, %d models (%s)" % (
        len(hosts), len(tcp_open), len(identities), models, verdict)


# ------------------------------------------------------------------------ runs
class Bench(object):
    def __init__(self, workdir, nice=0):
        self.workdir = workdir
        self.nice = nice
        self.rows = []
        self.state = {}

    def settle(self):
        """Before a /16 run: an emptied conntrack table; note it and the BJNP sockets bound."""
        self.state = {"conntrack_start": settle_conntrack(), "bjnp_udp_sockets": bjnp_udp_sockets()}

    def _row(self, scenario, tool, network, figures, found=None, expected=None, counted=True):
        """Record and print one measured command; ``found`` is (findings, state counts)."""
        addresses = ipaddress.ip_network(network).num_addresses
        row = dict(scenario=scenario, tool=tool, network=network, counted=counted, probes_per_s=0,
                   **dict((key, round(value, 2)) for key, value in figures.items()))
        row.update(self.state)
        summary = ""
        per_probe = ""
        if found is not None:
            probes = addresses * PORTS_PER_ADDRESS
            row["probes_per_s"] = int(probes / figures["wall_s"])
            # CPU per probe: user + system of the whole command (ansible included) / probes.
            row["cpu_us_per_probe"] = round(figures["cpu_s"] * 1e6 / probes, 2)
            per_probe = "%5.1f us/probe" % row["cpu_us_per_probe"]
            row.update(findings=describe(found[0], expected), findings_ok=found[0] == expected, states=found[1])
            summary = row["findings"]
        self.rows.append(row)
        print("  %-12s %-50s %7.2f s %6.2f cpu-s (%5.2f user) %14s %7d probes/s %6.1f MiB load %5.2f %s %s" % (
            scenario, tool, row["wall_s"], row["cpu_s"], row["user_s"], per_probe, row["probes_per_s"],
            row["peak_rss_mib"], row["load1"], summary,
            "(conntrack %(conntrack_start)s, %(bjnp_udp_sockets)s BJNP UDP sockets)" % self.state if self.state else ""),
            flush=True)
        self.state = {}
        return row

    def ansible_floor(self, scenario, network):
        """What any ad-hoc command costs here: ``ansible localhost -m ansible.builtin.ping``."""
        output = os.path.join(self.workdir, "%s-ping.json" % scenario)
        figures = run_timed([os.path.join(BIN, "ansible"), "localhost", "-m", "ansible.builtin.ping"],
                            os.path.join(self.workdir, "ansible.log"), stdout=output, nice=self.nice)
        return self._row(scenario, "ansible ad-hoc ping (floor, no probe)", network, figures, counted=False)

    def ansible(self, scenario, network, expected, netns=None, only_exposed=False, collections=COLLECTIONS,
                label=""):
        """``ansible localhost -m netsec.bjnp.probe`` with the module's defaults (json callback).

        ``collections`` chooses the collection tree (the baseline's, with ``label``).
        """
        output = os.path.join(self.workdir, "%s-ansible%s.json" % (scenario, label.replace(" ", "-")))
        arguments = json.dumps({"targets": [network], "only_exposed": only_exposed})
        command = in_netns(netns, [os.path.join(BIN, "ansible"), "localhost",
                                   "-m", "netsec.bjnp.probe", "-a", arguments])
        figures = run_timed(command, os.path.join(self.workdir, "ansible.log"), stdout=output, nice=self.nice,
                            collections=collections)
        tool = "probe via ansible ad-hoc" + (" (only_exposed)" if only_exposed else "") + label
        return self._row(scenario, tool, network, figures, probe_findings(ansible_result(output)), expected)

    def playbook(self, scenario, network, expected):
        """``ansible-playbook netsec.bjnp.detect`` with ``bjnp_scan_targets: [network]``, probed from
        the controller, reports in the work directory. The one managed host, printhost, runs its
        modules in the empty namespace NETNS_HOST (a host apart from the printers, as in a real
        network) and is probed at 127.0.0.1. Returns the row, with the report files' sizes and the
        time of each task (the json callback's durations)."""
        reports = os.path.join(self.workdir, "%s-reports" % scenario)
        inventory = os.path.join(self.workdir, "%s-inventory.json" % scenario)
        python = os.path.join(BIN, "python")
        # ansible takes an interpreter path, not a command line: a script enters the namespace.
        in_host = os.path.join(self.workdir, "python-in-%s" % NETNS_HOST)
        with open(in_host, "w") as handle:
            handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (NETNS_HOST, python))
        os.chmod(in_host, 0o755)
        with open(inventory, "w") as handle:
            json.dump({"all": {"hosts": {
                "localhost": {"ansible_connection": "local", "ansible_python_interpreter": python},
                "printhost": {"ansible_connection": "local", "bjnp_probe_address": "127.0.0.1",
                              "ansible_python_interpreter": in_host,
                              "bjnp_scan_targets": [network], "bjnp_report_dir": reports}}}}, handle)
        output = os.path.join(self.workdir, "%s-playbook.json" % scenario)
        figures = run_timed([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "netsec.bjnp.detect",
                             "-e", "bjnp_hosts=printhost"],
                            os.path.join(self.workdir, "ansible.log"), stdout=output, nice=self.nice)
        row = self._row(scenario, "detect playbook (scan targets, reports)", network, figures,
                        report_findings(os.path.join(reports, "detect-latest.json")), expected)
        row["report_mb"] = dict((name.rsplit(".", 1)[1], round(os.path.getsize(os.path.join(reports, name)) / 1e6, 2))
                                for name in os.listdir(reports) if name.startswith("detect-latest."))
        tasks = {}
        with open(output) as handle:
            for play in json.load(handle)["plays"]:
                for task in play["tasks"]:
                    duration = task["task"]["duration"]
                    started, ended = duration["start"], duration["end"]
                    seconds = (_stamp(ended) - _stamp(started))
                    tasks[task["task"]["name"]] = round(tasks.get(task["task"]["name"], 0) + seconds, 2)
        row["tasks_s"] = tasks
        print("    reports (MB): %s; slowest tasks (s): %s" % (
            ", ".join("%s %.2f" % item for item in sorted(row["report_mb"].items())),
            ", ".join("%s %.2f" % item for item in sorted(tasks.items(), key=lambda item: -item[1])[:5])), flush=True)
        return row

    def engine(self, scenario, network, expected, netns=None, only_exposed=False, collections=COLLECTIONS,
               label=""):
        output = os.path.join(self.workdir, "%s-engine%s.json" % (scenario, label.replace(" ", "-")))
        flags = ["--only-exposed"] if only_exposed else []
        command = in_netns(netns, [sys.executable, ENGINE, output, "--collections", collections] + flags + [network])
        figures = run_timed(command, os.path.join(self.workdir, "engine.log"), nice=self.nice)
        with open(output) as handle:
            found = probe_findings(json.load(handle))
        tool = "probe engine alone" + (" (only_exposed)" if only_exposed else "") + label
        return self._row(scenario, tool, network, figures, found, expected)

    def nmap(self, scenario, network, expected, netns=None, timing=None, counted=True):
        timing = NMAP_BEST if timing is None else timing
        name = "-".join(option.lstrip("-") for option in timing) or "default"
        output = os.path.join(self.workdir, "%s-nmap-%s.xml" % (scenario, name))
        command = in_netns(netns, NMAP_BASE + timing + ["-oX", output, network])
        figures = run_timed(command, os.path.join(self.workdir, "nmap.log"), nice=self.nice)
        tool = "nmap " + (" ".join(timing) or "(default timing)")
        return self._row(scenario, tool, network, figures, nmap_findings(output), expected, counted)


def _stamp(text):
    """Seconds of a json callback time stamp (2026-12-03T05:45:42.123456Z)."""
    return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + text[19:].rstrip("Z"))


def engine_speed(bench, expected, baseline, rounds):
    """The /16, engine alone and through ansible, with the baseline engine and this tree's.

    A-B-B-A order within each round, so a load that drifts during the run weighs on both
    alike; returns the rows as {(kind, engine): [row, ...]}.
    """
    rows = {}
    engines = [("baseline", baseline, " [baseline engine]"), ("current", COLLECTIONS, "")]
    for dummy in range(rounds):
        for kind in ("engine", "ansible"):
            for name, collections, label in engines + engines[::-1]:
                measure = bench.engine if kind == "engine" else bench.ansible
                bench.settle()
                row = measure("loopback-16", LOOPBACK_16, expected, only_exposed=True,
                              collections=collections, label=label)
                rows.setdefault((kind, name), []).append(row)
    return rows


def summarise_speed(rows):
    """Medians per (kind, engine) and the baseline / current ratios; printed and returned."""
    summary = {}
    print("engine speed, /16 (medians of %d runs each):" % len(rows[("engine", "current")]))
    for kind in ("engine", "ansible"):
        medians = {}
        for name in ("baseline", "current"):
            runs = rows[(kind, name)]
            medians[name] = dict((field, statistics.median(row[field] for row in runs)) for field in (
                "wall_s", "cpu_s", "user_s", "sys_s", "cpu_us_per_probe", "probes_per_s", "load1"))
            medians[name]["findings_ok"] = all(row["findings_ok"] for row in runs)
            print("  %-8s %-9s wall %6.2f s  cpu %6.2f s (user %5.2f, sys %5.2f)  %5.2f us/probe  %7d probes/s"
                  "  load1 %5.2f  findings %s" % (
                      kind, name, medians[name]["wall_s"], medians[name]["cpu_s"], medians[name]["user_s"],
                      medians[name]["sys_s"], medians[name]["cpu_us_per_probe"], medians[name]["probes_per_s"],
                      medians[name]["load1"], "all expected" if medians[name]["findings_ok"] else "DIFFER"))
        ratios = dict((field, round(medians["baseline"][field] / medians["current"][field], 2))
                      for field in ("wall_s", "cpu_s", "cpu_us_per_probe"))
        print("  %-8s baseline / current: wall %.2fx, cpu %.2fx, cpu per probe %.2fx" % (
            kind, ratios["wall_s"], ratios["cpu_s"], ratios["cpu_us_per_probe"]))
        summary[kind] = dict(medians, ratios=ratios)
    return summary


def compare(probe, nmap):
    same = "identical" if (probe["findings_ok"] and nmap["findings_ok"]) else "NOT identical"
    print("  -> %s: nmap %.2f s / probe %.2f s = %.1fx; findings %s" % (
        probe["tool"], nmap["wall_s"], probe["wall_s"], nmap["wall_s"] / probe["wall_s"], same), flush=True)
    probe.setdefault("vs_nmap", round(nmap["wall_s"] / probe["wall_s"], 2))


def machine():
    """Where and with what the figures were taken."""
    with open("/proc/meminfo") as handle:
        memory_kib = int(handle.readline().split()[1])
    versions = {}
    for name, command in (("nmap", ["nmap", "--version"]), ("ansible", [os.path.join(BIN, "ansible"), "--version"])):
        output = subprocess.run(command, stdout=subprocess.PIPE, check=False, env=environment()).stdout
        versions[name] = output.decode("utf-8", "replace").splitlines()[0]
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "cpus": os.cpu_count(),
            "memory_gib": round(memory_kib / 1048576.0, 1), "kernel": platform.release(),
            "python": platform.python_version(), "versions": versions}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--emulator", default=os.path.join(ROOT, "tests", "lab", "bjnp_emulator.py"))
    parser.add_argument("--quick", action="store_true", help="skip nmap over the /16 (about 40 s)")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable), e.g. the /16 again at a quieter moment")
    parser.add_argument("--nice", type=int, default=0,
                        help="run every measured command (probe and nmap alike) at this nice value; on a "
                             "shared machine a negative one approximates an idle machine")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--engine-baseline", metavar="BJNP_SCANNER_PY",
                        help="an older plugins/module_utils/bjnp_scanner.py (e.g. from git show HEAD:...): "
                             "the /16 is measured with it and with the tree's engine, side by side")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the side-by-side /16 measurements (with --engine-baseline, and playbook-16)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark binds many addresses and creates network namespaces")
    if not os.path.exists(args.emulator):
        sys.exit("emulator %s not found" % args.emulator)
    if args.engine_baseline and not os.path.isfile(args.engine_baseline):
        sys.exit("baseline engine %s not found" % args.engine_baseline)
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1, got %d" % args.repeat)

    workdir = tempfile.mkdtemp(prefix="bjnp-bench-")
    lab = Lab(os.path.abspath(args.emulator), workdir)
    bench = Bench(workdir, args.nice)
    about = dict(machine(), nice=args.nice, load_start=os.getloadavg())
    print("%(date)s, %(cpus)d CPUs, %(memory_gib)s GiB, kernel %(kernel)s, Python %(python)s" % about)
    print("%s; %s; measured commands at nice %d" % (about["versions"]["nmap"], about["versions"]["ansible"], args.nice),
          flush=True)
    scenarios = args.only or SCENARIOS
    printers = {}
    try:
        if set(scenarios) & set(["loopback-24", "loopback-16", "playbook-16"]):
            print("starting emulators on 1 address in %d of %s" % (PRINTER_EVERY, LOOPBACK_16), flush=True)
            printers = lab.start_printers(printer_addresses(LOOPBACK_16))
        if "loopback-24" in scenarios:
            network24 = ipaddress.ip_network(LOOPBACK_24)
            expected24 = expected_findings(dict((a, m) for a, m in printers.items()
                                                if ipaddress.ip_address(a) in network24))
            print("loopback /24 (%s, %d printers):" % (LOOPBACK_24, len(expected24[1]) // 2), flush=True)
            bench.nmap("loopback-24", LOOPBACK_24, expected24, timing=[], counted=False)
            nmap24 = bench.nmap("loopback-24", LOOPBACK_24, expected24)
            bench.ansible_floor("loopback-24", LOOPBACK_24)
            compare(bench.ansible("loopback-24", LOOPBACK_24, expected24), nmap24)
            compare(bench.engine("loopback-24", LOOPBACK_24, expected24), nmap24)

        if "loopback-16" in scenarios:
            expected16 = expected_findings(printers)
            print("loopback /16 (%s, %d printers):" % (LOOPBACK_16, len(printers)), flush=True)
            if args.engine_baseline:
                speed = engine_speed(bench, expected16, baseline_collections(
                    os.path.abspath(args.engine_baseline), workdir), args.repeat)
                about["engine_speed"] = summarise_speed(speed)
                engine16, ansible16 = speed[("engine", "current")][-1], speed[("ansible", "current")][-1]
            else:
                bench.settle()
                engine16 = bench.engine("loopback-16", LOOPBACK_16, expected16, only_exposed=True)
                bench.settle()
                ansible16 = bench.ansible("loopback-16", LOOPBACK_16, expected16, only_exposed=True)
            if not args.quick:
                bench.settle()
                nmap16 = bench.nmap("loopback-16", LOOPBACK_16, expected16)
                compare(ansible16, nmap16)
                compare(engine16, nmap16)

        if "playbook-16" in scenarios:
            expected16 = expected_findings(printers)
            print("playbook /16 (%s, %d printers): the detect playbook and the probe alone, same targets:"
                  % (LOOPBACK_16, len(printers)), flush=True)
            lab.create_host_namespace()
            # A-B-B-A per round (--repeat), so a load that drifts weighs on both alike.
            alone, played = [], []
            for dummy in range(args.repeat):
                for kind in ("alone", "playbook", "playbook", "alone"):
                    bench.settle()
                    if kind == "alone":
                        alone.append(bench.ansible("playbook-16", LOOPBACK_16, expected16, only_exposed=True))
                    else:
                        played.append(bench.playbook("playbook-16", LOOPBACK_16, expected16))
            about["playbook_vs_probe"] = dict((field, round(
                statistics.median(row[field] for row in played) / statistics.median(row[field] for row in alone), 2))
                for field in ("wall_s", "cpu_s"))
            print("  -> detect playbook / probe via ansible, medians of %d runs each: wall %.2f s / %.2f s = %.2fx, "
                  "cpu %.2f s / %.2f s = %.2fx (goal: at most 2x)" % (
                      len(played), statistics.median(row["wall_s"] for row in played),
                      statistics.median(row["wall_s"] for row in alone), about["playbook_vs_probe"]["wall_s"],
                      statistics.median(row["cpu_s"] for row in played),
                      statistics.median(row["cpu_s"] for row in alone), about["playbook_vs_probe"]["cpu_s"]),
                  flush=True)

        if "netns-24" in scenarios:
            print("netns /24 behind a veth (%s):" % NETNS_24, flush=True)
            lab.create_namespaces()
            expected_ns = expected_findings(lab.start_printers(printer_addresses(NETNS_24), netns=NETNS_LAB))
            nmap_ns = bench.nmap("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN)
            # nmap's time there is bjnp-discover waiting on silent ports; the two ways to
            # cut it short both lose identities (reference rows).
            for faster in (["--defeat-icmp-ratelimit"], ["--script-timeout", "3s"]):
                bench.nmap("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN, timing=NMAP_BEST + faster, counted=False)
            compare(bench.ansible("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN), nmap_ns)
            compare(bench.engine("netns-24", NETNS_24, expected_ns, netns=NETNS_SCAN), nmap_ns)
    finally:
        lab.clean()
    about["load_end"] = os.getloadavg()
    print("load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end" % (
        about["load_start"] + about["load_end"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": about, "rows": bench.rows}, handle, indent=2)
    print("logs and raw results: %s" % workdir)
    # Reference rows (floor, other nmap timings) do not decide the outcome.
    return 0 if all(row["findings_ok"] for row in bench.rows if row["counted"]) else 1


if __name__ == "__main__":
    sys.exit(main())
