# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role on Linux through ansible-playbook for real: real sockets held by a real
process in a network namespace of the test's own (so its ports are free and its sockets the only
ones), read with ss, and with netstat where ss is missing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from bjnp_integration import BIN, in_netns, needs_root, tool_env

pytestmark = needs_root

# Binds the sockets it is given, says "ready", and holds them until stdin closes.
HOLDER = """
import json, socket, sys
held = []
for protocol, address, port in json.loads(sys.argv[1]):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
    sock.bind((address, port))
    if protocol == "tcp":
        sock.listen(1)
    held.append(sock)
print("ready", flush=True)
sys.stdin.read()
"""

ON_BJNP_PORTS = [["tcp", "127.0.0.1", 9100], ["tcp", "::", 8613], ["udp", "127.0.0.1", 8611], ["udp", "::1", 8612]]
# A TCP port on UDP, a port next to the range, an unrelated one: none is reported.
ELSEWHERE = [["udp", "127.0.0.1", 9100], ["tcp", "127.0.0.1", 8615], ["tcp", "127.0.0.1", 22]]


@pytest.fixture
def netns():
    name = "bjnp-lst-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def hold(netns):
    holders = []

    def start(sockets):
        holder = subprocess.Popen(in_netns(netns, [sys.executable, "-c", HOLDER, json.dumps(sockets)]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        holders.append(holder)
        assert holder.stdout.readline().strip() == "ready"
        with open("/proc/%d/comm" % holder.pid) as handle:
            return holder.pid, handle.read().strip()

    yield start
    for holder in holders:
        holder.stdin.close()
        holder.wait(timeout=30)


def run_role(netns, workdir, path=None, check=False):
    """The listeners role on localhost inside ``netns`` (``path``: the PATH its tasks see);
    returns {task name: result} of the role's tasks."""
    play = {"hosts": "localhost", "gather_facts": False, "roles": ["netsec.bjnp.listeners"]}
    if path:
        play["environment"] = {"PATH": path}
    playbook = os.path.join(workdir, "listeners.yml")
    with open(playbook, "w") as handle:
        json.dump([play], handle)
    command = in_netns(netns, [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", "ansible_python_interpreter=" + sys.executable, playbook])
    completed = subprocess.run(command + (["--check"] if check else []), cwd=workdir, capture_output=True, text=True,
                               env=dict(tool_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"), timeout=300,
                               check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    tasks = json.loads(completed.stdout)["plays"][0]["tasks"]
    # The callback names a role's task "netsec.bjnp.listeners : <name>".
    return dict((task["task"]["name"].rpartition(" : ")[2], task["hosts"]["localhost"]) for task in tasks)


def listeners_of(results):
    return results["Keep the sockets on BJNP and raw-print ports"]["ansible_facts"]["bjnp_listeners"]


def expected(pid, process, dual_stack):
    """ON_BJNP_PORTS as the role lists them; ss names a socket on :: that takes IPv4 too ``*``."""
    return [{"protocol": protocol, "address": dual_stack if address == "::" else address, "port": port,
             "process": process, "pid": pid}
            for protocol, address, port in sorted(ON_BJNP_PORTS, key=lambda s: (s[0], s[2], s[1]))]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_the_sockets_on_bjnp_ports_are_listed_with_their_process_and_no_others(netns, hold, tmp_path, check):
    pid, process = hold(ON_BJNP_PORTS + ELSEWHERE)
    results = run_role(netns, str(tmp_path), check=check)
    assert listeners_of(results) == expected(pid, process, dual_stack="*")
    assert results["Read every listening socket with netstat where ss is missing"].get("skipped")


def test_ss_reads_only_the_sockets_on_bjnp_ports_among_thousands(netns, hold, tmp_path):
    # The kernel filters by port: ss prints the one socket on 9100, not the 3,000 others.
    pid, process = hold([["tcp", "127.0.0.1", 9100]] + [["tcp", "127.0.0.1", port] for port in range(20000, 23000)])
    results = run_role(netns, str(tmp_path))
    printed = [line for line in results["Read the listening TCP and UDP sockets on bjnp_ports with their processes"][
        "stdout_lines"] if not line.startswith("Netid")]
    assert len(printed) == 1 and "127.0.0.1:9100" in printed[0]
    assert listeners_of(results) == [{"protocol": "tcp", "address": "127.0.0.1", "port": 9100, "process": process,
                                      "pid": pid}]


@pytest.mark.skipif(shutil.which("netstat") is None,
                    reason="netstat (net-tools) is not installed: tools/install-host-deps.sh installs it")
def test_a_host_without_ss_is_read_with_netstat(netns, hold, tmp_path):
    # A PATH with sh, netstat and ps but no ss, as on a host without iproute2.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "netstat", "ps"):
        os.symlink(shutil.which(tool), str(bin_dir / tool))
    pid, process = hold(ON_BJNP_PORTS + ELSEWHERE)
    results = run_role(netns, str(tmp_path), path=str(bin_dir))
    assert results["Read the listening TCP and UDP sockets on bjnp_ports with their processes"]["rc"] == 127
    assert listeners_of(results) == expected(pid, process, dual_stack="::")
