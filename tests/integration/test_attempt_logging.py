# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logging of blocked attempts (log: true) on the kernel backends, against real floods.

The printer namespace of a NamespacePair gets our rules through netsec.bjnp.firewall_rules; the
client namespace floods it with nping (real SYNs, real datagrams). The counters must count every
packet, the kernel log must grow by no more than the rate limit allows, and turning logging off
(or removing the rules) must leave no counting or logging rule behind. Log lines are read from
/dev/kmsg and told apart from other tests' by the printer's interface name, unique per pair.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import sys
import time

import pytest

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections"))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import sum_counters  # noqa: E402
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.iptables import (  # noqa: E402
    ipt_chain_names,
    parse_ipt_counters,
)
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.nftables import parse_nft_counters  # noqa: E402
from bjnp_integration import netns_module as module  # noqa: E402
from bjnp_integration import netns_sh as sh  # noqa: E402
from bjnp_integration import wait_until  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("kernel_logs_namespaces"),
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces, firewall rules and /dev/kmsg need root"),
    pytest.mark.skipif(shutil.which("nping") is None, reason="nping (Debian package nmap) is not installed"),
]

BACKENDS = ("nftables", "iptables-nft", "iptables-legacy")
PREFIX = "netsec-bjnp: "


class KernelLog(object):
    """The kernel log from now on: records appended to /dev/kmsg after this object was made."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def messages(self):
        found = []
        while True:
            try:
                record = os.read(self.fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten meanwhile: read on
                    continue
                if exc.errno == errno.EAGAIN:
                    return found
                raise
            found.append(record.decode("utf-8", "replace").split(";", 1)[-1].strip())

    def close(self):
        os.close(self.fd)


def rule_args(tmp_path, backend, **extra):
    args = dict(backend=backend, allowed_sources=["192.0.2.10"], backup_dir=str(tmp_path / "backups"),
                nftables_persist_path=str(tmp_path / "netsec-bjnp.nft"), nftables_conf=str(tmp_path / "nftables.conf"),
                nftables_enable_service=False, iptables_rules_v4=str(tmp_path / "rules.v4"),
                iptables_rules_v6=str(tmp_path / "rules.v6"), log=True, log_per_minute=10, log_burst=5)
    args.update(extra)
    return args


def counted(result_counters, protocol, ports):
    return sum(c["packets"] for c in result_counters if c["protocol"] == protocol and c["ports"] == ports)


def counters_in(netns, backend):
    """Our counters, parsed by the backend's own functions from the real tools' output."""
    if backend == "nftables":
        return parse_nft_counters(sh(netns, "nft list table inet bjnp"))
    found = []
    for command in (backend, backend.replace("iptables", "ip6tables")):
        for mode, chain in ipt_chain_names().items():
            found += parse_ipt_counters(sh(netns, "%s -w -S %s -v" % (command, chain), check=False), chain, mode)
    return sum_counters(found)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_flood_is_counted_packet_for_packet_and_logged_within_the_limit(netns_pair, tmp_path, backend):
    first = module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend))
    assert first.get("changed") is True and not first.get("failed"), first
    interface = netns_pair.lab_if
    log = KernelLog()
    try:
        started = time.monotonic()
        sh(netns_pair.scan, "nping --quiet --tcp --flags syn -p 9100 --rate 5000 -c 3000 %s >/dev/null; "
                            "nping --quiet --udp -p 8612 --rate 5000 -c 2000 %s >/dev/null"
                            % (netns_pair.LAB_V4, netns_pair.LAB_V4))
        elapsed = time.monotonic() - started
        counters = counters_in(netns_pair.lab, backend)
        assert counted(counters, "tcp", "9100") == 3000, counters
        assert counted(counters, "udp", "8611-8614") == 2000, counters
        time.sleep(0.5)
        ours = [line for line in log.messages() if line.startswith(PREFIX) and "IN=%s " % interface in line]
    finally:
        log.close()
    tcp = [line for line in ours if "PROTO=TCP" in line and "DPT=9100" in line]
    udp = [line for line in ours if "PROTO=UDP" in line and "DPT=8612" in line]
    # The burst, plus 10 a minute for as long as each flood lasted (at least one line each).
    bound = 5 + int(10 * elapsed / 60.0) + 1
    assert 1 <= len(tcp) <= bound, (len(tcp), bound)
    assert 1 <= len(udp) <= bound, (len(udp), bound)
    assert all("SRC=%s " % netns_pair.SCAN_V4 in line for line in tcp + udp)

    again = module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend))
    assert again.get("changed") is False, again
    # Counting is not a change: the counters kept what they counted.
    assert counted(counters_in(netns_pair.lab, backend), "tcp", "9100") == 3000


@pytest.mark.parametrize("backend", BACKENDS)
def test_logging_off_or_removed_leaves_no_logging_rule(netns_pair, tmp_path, backend):
    module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend))
    listing = "nft list ruleset" if backend == "nftables" else "{0}-save; {1}-save".format(
        backend, backend.replace("iptables", "ip6tables"))
    assert PREFIX in sh(netns_pair.lab, listing)

    off = module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend, log=False))
    assert off.get("changed") is True, off
    live = sh(netns_pair.lab, listing)
    assert PREFIX not in live and "counter name" not in live and "limit" not in live
    interface = netns_pair.lab_if
    log = KernelLog()
    try:
        sh(netns_pair.scan, "nping --quiet --tcp --flags syn -p 9100 -c 3 --delay 10ms %s >/dev/null" % netns_pair.LAB_V4)
        assert not wait_until(lambda: any("IN=%s " % interface in line for line in log.messages()), 1)
    finally:
        log.close()

    module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend))
    gone = module(netns_pair.lab, "firewall_rules", rule_args(tmp_path, backend, state="absent"))
    assert gone.get("changed") is True, gone
    assert PREFIX not in sh(netns_pair.lab, listing)
    for path in ("netsec-bjnp.nft", "rules.v4", "rules.v6"):
        if (tmp_path / path).exists():
            assert PREFIX not in (tmp_path / path).read_text()
