# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediate benchmark: the firewall role on N podman containers (bench/README.md, "Remediate").

Run as root from the repository, after `make image`:

    python3 bench/remediate/run.py [--sizes 1,10,30] [--playbook bench/remediate/remediate.yml]
                                   [--image localhost/netsec-bjnp-debian12:latest] [--json FILE]
                                   [--connection pipelined|podman] [--tasks]

For each N: start N containers (bjnpbench-<token>-<i>, on a podman network of their own, with
CAP_NET_ADMIN so nftables works inside), run the playbook with forks = N twice, and report
the wall time of the first run and of the second (idempotent: it must change nothing), and,
from the JSON callback, the tasks and module calls per host. The containers and the network
are removed at the end, also on failure or Ctrl-C. No traffic leaves the host: the role only
edits each container's own ruleset.

Pipelining is on (ANSIBLE_PIPELINING=1). The stock containers.podman.podman connection cannot
pipeline (six podman commands per module call), so by default the hosts are reached through
connection_plugins/bjnp_podman_pipelined.py (one `podman exec -i` per module call);
`--connection podman` times the stock plugin.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import atexit
import datetime
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")
# The collections bundle installed in that venv, whichever Python made it.
VENV_SITE_PACKAGES = subprocess.run([os.path.join(BIN, "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                    capture_output=True, text=True, check=True).stdout.strip()
IMAGE = "localhost/netsec-bjnp-debian12:latest"
PLAYBOOK = os.path.join(ROOT, "bench", "remediate", "remediate.yml")
CONNECTIONS = {"pipelined": "bjnp_podman_pipelined", "podman": "containers.podman.podman"}
# Actions that run on the controller only: they are tasks, but no module is sent to the host.
CONTROLLER_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("set_fact", "debug", "assert", "fail", "meta", "include_tasks", "import_tasks",
                 "include_role", "import_role", "include_vars", "validate_argument_spec", "group_by",
                 "add_host", "set_stats", "pause"))


# The collection under test (--tree): this checkout by default, or another checkout (for example a
# git worktree of the previous main) run with this checkout's venv, playbook and connection plugin.
COLLECTIONS = [os.path.join(ROOT, ".cache", "collections")]


def use_tree(path):
    """Make ansible resolve netsec.bjnp to the checkout at ``path``."""
    link_root = tempfile.mkdtemp(prefix="bjnpbench-tree-")
    atexit.register(shutil.rmtree, link_root, True)
    os.makedirs(os.path.join(link_root, "ansible_collections", "netsec"))
    os.symlink(os.path.abspath(path), os.path.join(link_root, "ansible_collections", "netsec", "bjnp"))
    COLLECTIONS[:] = [link_root]


def environment():
    env = dict(os.environ)
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(COLLECTIONS + [
                   VENV_SITE_PACKAGES]),
               CONTAINERS_CONF=os.path.join(ROOT, "tests", "podman", "containers.conf"),
               ANSIBLE_CONNECTION_PLUGINS=os.path.join(ROOT, "bench", "remediate", "connection_plugins"),
               ANSIBLE_PIPELINING="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_NOCOLOR="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def podman(*args, **kwargs):
    return subprocess.run(["podman"] + list(args), env=environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=kwargs.get("check", True), timeout=300)


class Lab(object):
    """N containers on a network of their own; ``remove()`` deletes everything it made."""

    def __init__(self, size, image):
        token = "%06x" % random.SystemRandom().getrandbits(24)
        self.network = "bjnpbench-%s" % token
        self.names = ["bjnpbench-%s-%02d" % (token, index) for index in range(1, size + 1)]
        self.started = []
        self.cgroups = []
        started = time.monotonic()
        podman("network", "create", self.network)
        try:
            for name in self.names:
                podman("run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                       "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", image, "sleep", "infinity")
                self.started.append(name)
                self.cgroups.append(podman("inspect", "--format", "{{.State.CgroupPath}}", name)
                                    .stdout.decode("utf-8").strip())
        except BaseException:
            self.remove()
            raise
        self.setup_seconds = time.monotonic() - started

    def inventory(self, directory, connection):
        path = os.path.join(directory, "inventory-%d.json" % len(self.names))
        hosts = dict((name, {"ansible_connection": connection,
                             "ansible_python_interpreter": "/usr/bin/python3"}) for name in self.names)
        with open(path, "w") as handle:
            json.dump({"all": {"hosts": hosts}}, handle)
        return path

    def target_cpu(self):
        """CPU seconds the containers used so far (module runs and the commands they start):
        cgroup v1 cpuacct or cgroup v2 cpu.stat; None when the accounting is not readable."""
        total = 0.0
        for cgroup in self.cgroups:
            try:
                with open("/sys/fs/cgroup/cpuacct%s/cpuacct.usage" % cgroup) as handle:
                    total += int(handle.read()) / 1e9
                continue
            except (IOError, OSError, ValueError):
                pass
            try:
                with open("/sys/fs/cgroup%s/cpu.stat" % cgroup) as handle:
                    total += int(dict(line.split() for line in handle)["usage_usec"]) / 1e6
            except (IOError, OSError, ValueError, KeyError):
                return None
        return total

    def remove(self):
        if self.started:
            podman("rm", "-f", "-t", "0", *self.started, check=False)
            self.started = []
        podman("network", "rm", "-f", self.network, check=False)


def count_calls(result):
    """Module calls behind one host's task result (a loop counts each item it ran)."""
    if result.get("skipped") or result.get("action") in CONTROLLER_ACTIONS:
        return 0
    items = result.get("results")
    if isinstance(items, list):
        return sum(1 for item in items if isinstance(item, dict) and not item.get("skipped"))
    return 1


def run_playbook(lab, inventory, playbook, forks, extra_args):
    command = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(forks), playbook] + extra_args
    load_before = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    target_before = lab.target_cpu()
    started = time.monotonic()
    completed = subprocess.run(command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               check=False, timeout=3600)
    wall = time.monotonic() - started
    # CPU of ansible-playbook and everything it waited for (workers, podman CLI calls): the
    # controller's share, which the machine's other load does not inflate as it does wall time.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    target_after = lab.target_cpu()
    target = None if target_before is None or target_after is None else target_after - target_before
    try:
        output = json.loads(completed.stdout.decode("utf-8"))
    except ValueError:
        raise SystemExit("ansible-playbook gave no JSON (exit %d):\n%s\n%s" % (
            completed.returncode, completed.stdout.decode("utf-8", "replace")[-4000:],
            completed.stderr.decode("utf-8", "replace")[-4000:]))
    tasks, calls, timeline = {}, {}, []
    for play in output["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                tasks[host] = tasks.get(host, 0) + 1
                calls[host] = calls.get(host, 0) + count_calls(result)
            if task["hosts"]:
                first = sorted(task["hosts"])[0]
                timeline.append({"task": task["task"]["name"], "action": task["hosts"][first].get("action"),
                                 "module_calls": count_calls(task["hosts"][first]),
                                 "seconds": round(seconds(task["task"]["duration"]), 2)})
    stats = output["stats"]
    failed = dict((host, s) for host, s in stats.items() if s.get("failures") or s.get("unreachable"))
    if completed.returncode != 0 or failed:
        messages = []
        for play in output["plays"]:
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    if result.get("failed") or result.get("unreachable"):
                        messages.append("%s | %s: %s" % (host, task["task"]["name"], result.get("msg")))
        raise SystemExit("playbook failed (exit %d): %s\n%s"
                         % (completed.returncode, failed, "\n".join(messages[:20])))
    return {
        "wall": round(wall, 2),
        "controller_cpu": round(cpu, 2),
        "target_cpu": None if target is None else round(target, 2),
        "changed_hosts": sum(1 for s in stats.values() if s.get("changed")),
        "changed_tasks": sum(s.get("changed", 0) for s in stats.values()),
        "tasks_per_host": sorted(set(tasks.values())),
        "module_calls_per_host": sorted(set(calls.values())),
        "timeline": timeline,
        # Other work on the machine skews the wall times: keep the 1-minute load with them.
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def seconds(duration):
    """Length of a JSON-callback duration ({start, end} ISO times)."""
    def parse(text):
        text = text.rstrip("Z")
        return datetime.datetime.strptime(text if "." in text else text + ".0", "%Y-%m-%dT%H:%M:%S.%f")
    if not duration.get("end"):
        return 0.0
    return (parse(duration["end"]) - parse(duration["start"])).total_seconds()


def spread(values):
    return str(values[0]) if len(values) == 1 else "%d-%d" % (values[0], values[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="1,10,30", help="comma-separated numbers of containers")
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--playbook", default=PLAYBOOK,
                        help="playbook or FQCN to time (netsec.bjnp.remediate also needs "
                             "-- -e bjnp_hosts=all -e bjnp_change_id=bench)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--tree", help="the collection checkout to measure (default: this one)")
    parser.add_argument("--connection", choices=sorted(CONNECTIONS), default="pipelined",
                        help="pipelined: one podman exec -i per module call (default); podman: the stock plugin")
    parser.add_argument("--tasks", action="store_true",
                        help="also list each task of the runs: action, module calls, seconds")
    parser.add_argument("extra", nargs="*", help="more ansible-playbook arguments (after --)")
    args = parser.parse_args()
    if args.tree:
        use_tree(args.tree)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the containers need CAP_NET_ADMIN (rootful podman)")
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    workdir = tempfile.mkdtemp(prefix="bjnpbench-remediate-")
    atexit.register(shutil.rmtree, workdir, True)
    header = ("N", "setup s", "first s", "second s", "CPU s", "target CPU s", "changed", "tasks/host",
              "module calls/host", "load (1 min)")
    print("%-4s %-8s %-8s %-9s %-13s %-13s %-8s %-11s %-18s %s" % header)
    for size in sizes:
        lab = Lab(size, args.image)
        try:
            inventory = lab.inventory(workdir, CONNECTIONS[args.connection])
            first = run_playbook(lab, inventory, args.playbook, size, args.extra)
            second = run_playbook(lab, inventory, args.playbook, size, args.extra)
        finally:
            lab.remove()
        row = {"hosts": size, "forks": size, "setup_seconds": round(lab.setup_seconds, 2),
               "first": first, "second": second}
        rows.append(row)
        print("%-4d %-8.1f %-8.1f %-9.1f %-13s %-13s %-8s %-11s %-18s %.1f-%.1f" % (
            size, lab.setup_seconds, first["wall"], second["wall"],
            "%.1f / %.1f" % (first["controller_cpu"], second["controller_cpu"]),
            " / ".join("n/a" if run["target_cpu"] is None else "%.1f" % run["target_cpu"] for run in (first, second)),
            "%d / %d" % (first["changed_hosts"], second["changed_hosts"]),
            "%s / %s" % (spread(first["tasks_per_host"]), spread(second["tasks_per_host"])),
            "%s / %s" % (spread(first["module_calls_per_host"]), spread(second["module_calls_per_host"])),
            min(first["load_average"] + second["load_average"]), max(first["load_average"] + second["load_average"])))
        if args.tasks:
            for label, run in (("first", first), ("second", second)):
                print("  %s run, N=%d:" % (label, size))
                for entry in run["timeline"]:
                    print("    %6.2f s  %d call(s)  %-40s %s"
                          % (entry["seconds"], entry["module_calls"], entry["action"], entry["task"]))
        sys.stdout.flush()
        if second["changed_hosts"]:
            raise SystemExit("not idempotent: the second run changed %d host(s)" % second["changed_hosts"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"playbook": args.playbook, "image": args.image, "connection": CONNECTIONS[args.connection],
                       "runs": rows}, handle, indent=2)
    print("CPU = controller CPU seconds (ansible-playbook, its workers, the podman CLI) of the first / second run;")
    print("target CPU = CPU seconds used inside the N containers (cgroup accounting) in the first / second run;")
    print("changed = hosts changed by the first / second run; tasks and module calls: first / second run")


if __name__ == "__main__":
    main()
