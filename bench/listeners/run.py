# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role (ss, filtered by port in the kernel) side by side with the 0.1 path it
replaced (community.general.listen_ports_facts over every socket, then the bjnp_listeners filter),
on a host with N other listening sockets: a network namespace of its own, loopback only.

Usage (root, after `make setup`): python3 bench/listeners/run.py [--sockets 0,1000,3000]
[--repeat 2] [--json FILE]. Each round runs A-B-B-A; both must list the same sockets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

HOLDER = """
import socket, sys
held = []
for port in [9100, 8611, 8612] + list(range(20000, 20000 + int(sys.argv[1]))):
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen(1)
    held.append(sock)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 8611))
print("ready", flush=True)
sys.stdin.read()
"""

PLAYS = {
    "role (ss)": {"hosts": "localhost", "gather_facts": False, "roles": ["netsec.bjnp.listeners"],
                  "post_tasks": [{"name": "Show", "ansible.builtin.debug": {"var": "bjnp_listeners"}}]},
    "0.1 (listen_ports_facts)": {
        "hosts": "localhost", "gather_facts": False, "vars": {"bjnp_ports": [
            {"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
            {"protocol": "udp", "port": "8611-8614"}]},
        # What the 0.1 role ran: the minimal facts (the role's main.yml), then every socket.
        "tasks": [{"name": "Facts", "ansible.builtin.setup": {"gather_subset": ["min"]}},
                  {"name": "Read", "community.general.listen_ports_facts": {}},
                  {"name": "Keep", "ansible.builtin.set_fact": {"bjnp_listeners": (
                      "{{ ansible_facts.tcp_listen | netsec.bjnp.bjnp_listeners(ansible_facts.udp_listen, bjnp_ports) }}")}},
                  {"name": "Show", "ansible.builtin.debug": {"var": "bjnp_listeners"}}]},
}


def env():
    environment = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
                       ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                       ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(ROOT, ".cache", "collections"),
                                                                 os.path.join(os.path.dirname(BIN), "lib",
                                                                              "python%d.%d" % sys.version_info[:2],
                                                                              "site-packages")]))
    return environment


def run(netns, workdir, name):
    playbook = os.path.join(workdir, "bench.yml")
    with open(playbook, "w") as handle:
        json.dump([PLAYS[name]], handle)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    completed = subprocess.run(["ip", "netns", "exec", netns, os.path.join(BIN, "ansible-playbook"), "-i", "localhost,",
                                "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, playbook],
                               capture_output=True, text=True, env=env(), cwd=workdir, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode:
        raise SystemExit("%s failed: %s %s" % (name, completed.stdout[-2000:], completed.stderr[-2000:]))
    shown = json.loads(completed.stdout)["plays"][0]["tasks"][-1]["hosts"]["localhost"]["bjnp_listeners"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, sorted((s["protocol"], s["port"], s["address"], s["pid"]) for s in shown)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="0,1000,3000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json")
    options = parser.parse_args()
    rows = []
    for count in [int(value) for value in options.sockets.split(",")]:
        netns = "bjnp-bench-%s" % uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", netns], check=True)
        try:
            subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
            holder = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", HOLDER, str(count)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert holder.stdout.readline().strip() == "ready"
            figures = dict((name, []) for name in PLAYS)
            found = {}
            names = list(PLAYS)
            for _round in range(options.repeat):
                for name in names + names[::-1]:
                    wall, cpu, listed = run(netns, "/tmp", name)
                    figures[name].append((wall, cpu))
                    found.setdefault(name, listed)
                    if listed != found[name]:
                        raise SystemExit("%s listed other sockets in another run" % name)
            holder.stdin.close()
            holder.wait(timeout=30)
        finally:
            subprocess.run(["ip", "netns", "delete", netns], check=False)
        same = found[names[0]] == found[names[1]]
        median = dict((name, (sorted(w for w, _c in values)[len(values) // 2],
                              sorted(c for _w, c in values)[len(values) // 2])) for name, values in figures.items())
        row = {"other_sockets": count, "load": os.getloadavg()[0], "runs": figures, "medians": median,
               "listed": len(found[names[0]]), "same_sockets": same,
               "ratio_wall": median[names[1]][0] / median[names[0]][0],
               "ratio_cpu": median[names[1]][1] / median[names[0]][1]}
        rows.append(row)
        print("%5d other sockets: role %.2f s (CPU %.2f s), 0.1 path %.2f s (CPU %.2f s): %.1fx wall, %.1fx CPU; "
              "%d listed, same: %s, load %.1f" % (count, median[names[0]][0], median[names[0]][1], median[names[1]][0],
                                                  median[names[1]][1], row["ratio_wall"], row["ratio_cpu"],
                                                  row["listed"], same, row["load"]), flush=True)
    if options.json:
        with open(options.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0 if all(row["same_sockets"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
