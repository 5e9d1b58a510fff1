# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the integration tests: the BJNP emulator on loopback and in network namespaces.

Everything here is real: the emulator (tests/lab/bjnp_emulator.py) binds real sockets, the
probe runs as users run it (``ansible localhost -m netsec.bjnp.probe``), and the namespaces,
veth pairs and nftables rules are the kernel's. Traffic stays on loopback and inside the
namespaces these fixtures create.

Parallel runs (two pytest processes, or a pytest and the scan benchmark) must not collide:
each test leases its own address in 127.128.0.0/10 (or a /24 in 127.192.0.0/10) under a file
lock (the BJNP ports are fixed, so addresses differ instead of ports), ::1 is leased under one
lock, and namespace and veth names carry a random token. Every process, namespace and lock is
released at teardown (the fixtures in conftest.py do that).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "tests", "lab", "bjnp_emulator.py")
# The venv running the tests (.venv, or a tools/matrix venv of another ansible-core): its
# ansible-playbook, and the collections it carries.
BIN = os.path.dirname(sys.executable)
COLLECTIONS_PATH = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.pathsep.join(
    [os.path.join(ROOT, ".cache", "collections"), sysconfig.get_path("purelib")])
LOCK_DIR = os.path.join(tempfile.gettempdir(), "netsec-bjnp-integration-locks")
BJNP_UDP_PORTS = (8611, 8612, 8613, 8614)
BJNP_TCP_PORTS = (8611, 8612, 8613, 8614, 9100)

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root: raw sockets (nmap -sU, tshark), "
                                                    "network namespaces and nftables")


def tool_env():
    """The Makefile's environment, so the tests also run from a plain ``pytest``."""
    env = dict(os.environ)
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_NOCOLOR="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def in_netns(netns, command):
    return ["ip", "netns", "exec", netns] + list(command) if netns else list(command)


def wait_until(predicate, seconds, step=0.25):
    """Whether ``predicate()`` became true within ``seconds`` (polled every ``step``)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ------------------------------------------------------------------ firewall modules in a namespace
def netns_sh(netns, script, check=True):
    """Run a bash script inside ``netns``; its stdout (a non-zero exit fails the test when ``check``)."""
    proc = subprocess.run(["ip", "netns", "exec", netns, "bash", "-euo", "pipefail", "-c", script],
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed in %s: %s" % (script, netns, proc.stderr))
    return proc.stdout


def netns_module(netns, name, args, check=False, diff=False, env=None):
    """Run netsec.bjnp.<name> inside ``netns`` as users do (``ansible localhost -m``); its result dict."""
    command = in_netns(netns, [os.path.join(BIN, "ansible"), "localhost", "-m", "netsec.bjnp." + name,
                               "-a", json.dumps(args)])
    command += ["--check"] if check else []
    command += ["--diff"] if diff else []
    environment = dict(tool_env(), ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    environment.update(env or {})
    proc = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result: %s %s" % (proc.stdout, proc.stderr))


# ------------------------------------------------------------------ the probe, through ansible
def run_module(arguments, netns=None, timeout=180):
    """``ansible localhost -m netsec.bjnp.probe -a JSON``; returns (exit code, module result)."""
    command = in_netns(netns, [os.path.join(BIN, "ansible"), "localhost", "-m", "netsec.bjnp.probe",
                               "-a", json.dumps(arguments)])
    completed = subprocess.run(command, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, check=False)
    try:
        output = json.loads(completed.stdout.decode("utf-8"))
        result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no JSON result from ansible (exit %d):\n%s\n%s" % (
            completed.returncode, completed.stdout.decode("utf-8", "replace")[-3000:],
            completed.stderr.decode("utf-8", "replace")[-3000:]))
    return completed.returncode, result


def probe(arguments, netns=None):
    """Run the probe and insist that it succeeded; returns the module result."""
    returncode, result = run_module(arguments, netns=netns)
    assert returncode == 0 and not result.get("failed"), result.get("msg", result)
    assert result["changed"] is False
    return result


def host_result(result, address):
    hosts = [host for host in result["hosts"] if host["address"] == address]
    assert len(hosts) == 1, "expected one entry for %s in %s" % (address, result["hosts"])
    return hosts[0]


def port_result(result, address, protocol, port):
    ports = [entry for entry in host_result(result, address)["ports"]
             if entry["protocol"] == protocol and entry["port"] == port]
    assert len(ports) == 1, "expected one %s/%d entry for %s" % (protocol, port, address)
    return ports[0]


# ------------------------------------------------------------------ address leases
class Lease(object):
    """An exclusive claim, across processes, on an address (a flock held until release)."""

    def __init__(self, address, handle):
        self.address = address
        self._handle = handle

    def release(self):
        if self._handle is not None:
            os.close(self._handle)  # closing drops the flock
            self._handle = None


def _lock(name, blocking):
    os.makedirs(LOCK_DIR, exist_ok=True)
    handle = os.open(os.path.join(LOCK_DIR, name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(handle)
        return None
    return handle


def bjnp_ports_free(address):
    """True when nothing is bound to the BJNP or raw-print ports of ``address``."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for kind, ports in ((socket.SOCK_DGRAM, BJNP_UDP_PORTS), (socket.SOCK_STREAM, BJNP_TCP_PORTS)):
        for port in ports:
            with socket.socket(family, kind) as sock:
                try:
                    sock.bind((address, port))
                except OSError:
                    return False
    return True


def lease_loopback_address():
    """A random 127.x.y.z that no other test run holds and nothing listens on."""
    rng = random.SystemRandom()
    for dummy in range(200):
        # 127.128/10: clear of 127.0.0.0/24, of the benchmark's 127.77.0.0/16 and of the blocks.
        address = "127.%d.%d.%d" % (rng.randint(128, 191), rng.randint(0, 255), rng.randint(1, 254))
        handle = _lock(address, blocking=False)
        if handle is None:
            continue
        if bjnp_ports_free(address):
            return Lease(address, handle)
        os.close(handle)
    raise RuntimeError("no free loopback address found in 200 tries")


def lease_loopback_block():
    """A random 127.x.y.0/24 for many-address tests (127.192/10 up: clear of single leases)."""
    rng = random.SystemRandom()
    for dummy in range(200):
        prefix = "127.%d.%d" % (rng.randint(192, 254), rng.randint(0, 255))
        handle = _lock(prefix + ".0-24", blocking=False)
        if handle is None:
            continue
        if all(bjnp_ports_free("%s.%d" % (prefix, host)) for host in (1, 128, 254)):
            return Lease(prefix, handle)
        os.close(handle)
    raise RuntimeError("no free loopback /24 found in 200 tries")


def lease_ipv6_loopback(wait=300):
    """::1 is the only IPv6 loopback address, so runs that need it take turns."""
    deadline = time.monotonic() + wait
    while True:
        handle = _lock("ipv6-loopback", blocking=False)
        if handle is not None:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("::1 stayed leased by another test run for %d s" % wait)
        time.sleep(0.2)
    if not bjnp_ports_free("::1"):
        os.close(handle)
        raise RuntimeError("a process outside these tests holds BJNP or raw-print ports on ::1 "
                           "(see `ss -lnup` / `ss -lntp`); stop it to run the IPv6 tests")
    return Lease("::1", handle)


# ------------------------------------------------------------------ the emulator
class Emulator(object):
    """One emulator process; ``stop()`` sends SIGTERM and checks that it exits 0."""

    def __init__(self, binds, workdir, netns=None, options=()):
        self.binds = list(binds)
        self.netns = netns
        self.spool = tempfile.mkdtemp(prefix="spool-", dir=workdir)
        ready = os.path.join(workdir, "ready-%s" % os.path.basename(self.spool))
        self.log_path = os.path.join(workdir, "log-%s" % os.path.basename(self.spool))
        command = [sys.executable, EMULATOR, "--spool", self.spool, "--ready-file", ready]
        for address in self.binds:
            command += ["--bind", address]
        command += list(options)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(in_netns(netns, command), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop(check=False)
                raise RuntimeError("emulator did not start: %s" % self.log())
            time.sleep(0.02)

    @property
    def address(self):
        return self.binds[0]

    def log(self):
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def jobs(self):
        """Finished jobs in the spool (names without the leading dot of a job still arriving)."""
        return sorted(name for name in os.listdir(self.spool) if not name.startswith("."))

    def stop(self, check=True):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                if check:
                    raise AssertionError("emulator ignored SIGTERM for 10 s")
        if check:
            assert self.process.returncode == 0, "emulator exited %s: %s" % (
                self.process.returncode, self.log())


# ------------------------------------------------------------------ network namespaces
class NamespacePair(object):
    """Two namespaces, ``scan`` (the client) and ``lab`` (the printer), joined by a veth pair.

    scan: 10.201.0.1/24 and fd42:b1::1/64; lab: 10.201.0.2/24 and fd42:b1::2/64. The
    addresses live only inside these namespaces, so parallel runs can reuse them.
    """

    SCAN_V4, LAB_V4 = "10.201.0.1", "10.201.0.2"
    SCAN_V6, LAB_V6 = "fd42:b1::1", "fd42:b1::2"

    def __init__(self):
        token = "%08x" % random.SystemRandom().getrandbits(32)
        self.scan, self.lab = "bjnpit-%s-scan" % token, "bjnpit-%s-lab" % token
        self.created = []
        # The veth ends' names carry the token: log lines name them (IN=), unique to this pair.
        self.scan_if, self.lab_if = scan_if, lab_if = "bj%ss" % token, "bj%sl" % token
        try:
            for netns in (self.scan, self.lab):
                self._run(["ip", "netns", "add", netns])
                self.created.append(netns)
                # No duplicate address detection: addresses are usable at once, not "tentative".
                self._run(in_netns(netns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
                                           "net.ipv6.conf.default.accept_dad=0"]))
                self._run(["ip", "-n", netns, "link", "set", "lo", "up"])
            self._run(["ip", "link", "add", scan_if, "netns", self.scan, "type", "veth",
                       "peer", "name", lab_if, "netns", self.lab])
            for netns, interface, v4, v6 in ((self.scan, scan_if, self.SCAN_V4, self.SCAN_V6),
                                             (self.lab, lab_if, self.LAB_V4, self.LAB_V6)):
                # "brd +": the CUPS backend broadcasts to the interface's broadcast address.
                self._run(["ip", "-n", netns, "addr", "add", v4 + "/24", "brd", "+", "dev", interface])
                self._run(["ip", "-n", netns, "addr", "add", v6 + "/64", "dev", interface, "nodad"])
                self._run(["ip", "-n", netns, "link", "set", interface, "up"])
            self._wait_for_link_local(self.lab, lab_if)
        except Exception:
            self.delete()
            raise

    @staticmethod
    def _run(command):
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if completed.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(command), completed.stdout.decode("utf-8", "replace")))
        return completed.stdout.decode("utf-8", "replace")

    def _wait_for_link_local(self, netns, interface, wait=10):
        deadline = time.monotonic() + wait
        while "fe80::" not in self._run(["ip", "-n", netns, "-6", "addr", "show", "dev", interface]):
            if time.monotonic() > deadline:
                raise RuntimeError("no IPv6 link-local address on %s after %d s" % (interface, wait))
            time.sleep(0.05)

    @staticmethod
    def run(netns, command, stdin=None, timeout=120):
        """Run ``command`` in ``netns`` with ``stdin`` bytes; returns the CompletedProcess."""
        return subprocess.run(in_netns(netns, command), input=stdin, timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)

    def delete(self):
        for netns in self.created:  # deleting a namespace deletes its veth end as well
            subprocess.call(["ip", "netns", "delete", netns], stderr=subprocess.DEVNULL)
        self.created = []


# ------------------------------------------------------------------ packet capture
class Capture(object):
    """tshark writing a pcapng file; ``stop()`` ends it and returns the file's path."""

    def __init__(self, workdir, interface, capture_filter, netns=None):
        self.path = os.path.join(workdir, "capture.pcapng")
        self.log_path = os.path.join(workdir, "tshark.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(in_netns(netns, ["tshark", "-n", "-i", interface, "-f", capture_filter,
                                                             "-w", self.path]),
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "Capturing on" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("tshark did not start capturing: %s" % self.log())
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def stop(self):
        if self.process.poll() is None:
            time.sleep(0.5)  # let the last packets through the capture buffer
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.path
