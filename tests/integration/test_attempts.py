# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.attempts against real rules, real connection attempts and the real kernel log.

The printer namespace gets our nftables rules with logging on (netsec.bjnp.firewall_rules,
log: true); the client namespace really connects to TCP 9100 (one connection held long enough
for the kernel to retransmit its SYN) and sends datagrams to UDP 8612 over IPv6. The module,
run inside the printer namespace as users run it, must count exactly the connections and
packets sent from the client's address, and the counters must agree. /dev/kmsg is the host's,
shared with every other test: the pair has addresses of its own, so lines of other tests'
namespaces (the same kernel log) cannot be taken for ours.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from bjnp_integration import IS_ROOT, ROOT, NamespacePair, netns_module, netns_sh

if os.path.join(ROOT, ".cache", "collections") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_attempts  # noqa: E402

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="network namespaces, nftables rules and /dev/kmsg need root")
IMAGE = "localhost/netsec-bjnp-debian12:latest"

CONNECTIONS = 4  # TCP connects to 9100; the last one is held 1.5 s: its SYN is sent twice
DATAGRAMS = 3  # UDP to 8612, from one socket: one connection

CLIENT = r"""
import socket, sys
v4, v6, connections, datagrams = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for index in range(connections):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # The kernel retransmits an unanswered SYN after 1 s (and next after 3 s).
    s.settimeout(1.5 if index == connections - 1 else 0.3)
    try:
        s.connect((v4, 9100))
    except OSError:
        pass
    s.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for dummy in range(datagrams):
    u.sendto(b"BJNP", (v6, 8612))
u.close()
"""


class OwnPair(NamespacePair):
    """A NamespacePair whose addresses are its own (10.202.N.0/24, fd42:b2:N::/64)."""

    def __init__(self):
        number = random.SystemRandom().randint(1, 250)
        self.SCAN_V4, self.LAB_V4 = "10.202.%d.1" % number, "10.202.%d.2" % number
        self.SCAN_V6, self.LAB_V6 = "fd42:b2:%x::1" % number, "fd42:b2:%x::2" % number
        super(OwnPair, self).__init__()


@pytest.fixture
def pair(kernel_logs_namespaces):
    made = OwnPair()
    yield made
    made.delete()


def rule_args(tmp_path):
    return dict(backend="nftables", allowed_sources=["192.0.2.10"], backup_dir=str(tmp_path / "backups"),
                nftables_persist_path=str(tmp_path / "netsec-bjnp.nft"), nftables_conf=str(tmp_path / "nftables.conf"),
                nftables_enable_service=False, log=True, log_per_minute=10, log_burst=20)


def source(result, address, protocol, port):
    rows = [row for row in result["sources"]
            if (row["address"], row["protocol"], row["port"]) == (address, protocol, port)]
    assert len(rows) == 1, (address, protocol, port, result["sources"])
    return rows[0]


def counted(result, protocol, ports):
    return sum(c["packets"] for c in result["counters"] if (c["mode"], c["protocol"], c["ports"]) == ("host", protocol, ports))


def test_every_connection_from_the_peer_is_reported_and_the_counters_agree(pair, tmp_path):
    rules = netns_module(pair.lab, "firewall_rules", rule_args(tmp_path))
    assert rules.get("changed") is True and not rules.get("failed"), rules
    since = int(time.time()) - 1
    netns_sh(pair.scan, "%s -c '%s' %s %s %d %d" % (sys.executable, CLIENT, pair.LAB_V4, pair.LAB_V6, CONNECTIONS,
                                                    DATAGRAMS))
    time.sleep(0.3)

    result = netns_module(pair.lab, "attempts", {"since": since})
    assert not result.get("failed") and result["changed"] is False, result
    assert result["backend"] == "nftables" and result["counters_available"] is True
    assert result["log_source"] in ("journal", "kern.log", "kmsg")
    tcp = source(result, pair.SCAN_V4, "tcp", 9100)
    assert (tcp["connections"], tcp["packets"], tcp["mode"], tcp["destinations"]) == (
        CONNECTIONS, CONNECTIONS + 1, "host", [pair.LAB_V4])
    udp = source(result, pair.SCAN_V6, "udp", 8612)
    assert (udp["connections"], udp["packets"], udp["destinations"]) == (1, DATAGRAMS, [pair.LAB_V6])
    # The counters are the namespace's own: exactly what the client sent.
    assert counted(result, "tcp", "9100") == CONNECTIONS + 1
    assert counted(result, "udp", "8611-8614") == DATAGRAMS
    totals = dict(((t["protocol"], t["port"]), t) for t in result["totals"])
    assert totals[("tcp", 9100)]["packets_counted"] == CONNECTIONS + 1
    assert totals[("tcp", 9100)]["packets_logged"] >= CONNECTIONS + 1  # other namespaces log into the same kernel log
    assert result["log_limited"] is False  # burst 20: nothing held back
    assert {"address": pair.SCAN_V4, "ports": ["tcp/9100"], "connections": CONNECTIONS,
            "allow_entry": pair.SCAN_V4} in result["suspected_print_servers"]
    assert result["since"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))

    # Check mode reads the same; reading never changes the rules or their counters.
    checked = netns_module(pair.lab, "attempts", {"since": since, "log_source": "kmsg"}, check=True)
    assert checked["changed"] is False and checked["log_source"] == "kmsg"
    assert source(checked, pair.SCAN_V4, "tcp", 9100) == tcp
    assert counted(checked, "tcp", "9100") == CONNECTIONS + 1


def test_nonsense_is_refused_naming_the_value(pair):
    for args, words in (({"since": "yesterday"}, "since 'yesterday' is not a time"),
                        ({"since": "2h", "ports": [{"protocol": "icmp", "port": 1}]}, "'icmp'"),
                        ({"since": "2h", "max_lines": 0}, "max_lines '0'"),
                        ({"since": "2h", "nftables_table": "bjnp; flush ruleset"}, "bjnp; flush ruleset")):
        result = netns_module(pair.lab, "attempts", dict(args, backend="nftables", log_source="none"))
        assert result.get("failed") is True and words in result["msg"], (args, result)


def podman(*args):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "tests", "podman", "containers.conf"))
    return subprocess.run(["podman"] + list(args), capture_output=True, text=True, env=env, check=False)


@pytest.fixture
def journal():
    """A privileged container running systemd-journald, which reads the host's /dev/kmsg into a journal."""
    if shutil.which("podman") is None or podman("image", "exists", IMAGE).returncode != 0:
        pytest.skip("podman or the image %s is missing (make image)" % IMAGE)
    name = "bjnp-attempts-journal-%s" % uuid.uuid4().hex[:8]
    started = podman("run", "-d", "--rm", "--privileged", "--name", name, IMAGE, "sleep", "120")
    assert started.returncode == 0, started.stderr
    try:
        podman("exec", name, "sh", "-c", "mkdir -p /run/systemd/journal; (/lib/systemd/systemd-journald &)")
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name)


def test_the_real_journalctl_gives_the_newest_lines_of_the_window(journal):
    def run(args):
        proc = podman("exec", journal, *args)
        return proc.returncode, proc.stdout, proc.stderr

    since = time.time() - 3600
    # journald reads the ring buffer as it starts: wait until it holds far more kernel entries than the bound.
    deadline = time.time() + 20
    while len(run(["journalctl", "_TRANSPORT=kernel", "-o", "json", "--no-pager"])[1].splitlines()) < 50:
        assert time.time() < deadline, "journald read fewer than 50 kernel messages"
        time.sleep(0.2)
    # auto takes a journal that holds kernel messages before kern.log and /dev/kmsg.
    assert bjnp_attempts.read_log("auto", since, run=run, paths=(), kmsg_path=bjnp_attempts.KMSG_PATH)["log_source"] == "journal"
    rc, out, err = run(bjnp_attempts.journal_command(since, 3))
    assert rc == 0, err
    newest = [json.loads(line)["__CURSOR"] for line in out.splitlines()]
    every = [json.loads(line)["__CURSOR"] for line in run(["journalctl", "_TRANSPORT=kernel", "-o", "json", "--no-pager",
                                                           "--since", "@%d" % int(since)])[1].splitlines()]
    # The newest 3 + 1 of the window, newest first (plain -n with --since gives its oldest); the host's
    # kernel may log a few more lines between the two reads.
    at = every.index(newest[0])
    assert len(newest) == 4 and every[at - 3:at + 1] == newest[::-1] and at >= len(every) - 20, (at, len(every))
    read = bjnp_attempts.read_log("journal", since, max_lines=3, run=run)
    assert read["truncated"] is True and read["lines"] == 4 and not read["warnings"]
