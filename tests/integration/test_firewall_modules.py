# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall_rules with the nftables and iptables backends on real nftables / iptables, each test in its own netns.

The module runs as users run them (``ansible localhost -m ...``) inside the namespace, on a
ruleset that already holds someone else's rules. What is asserted: the live listing equals the
rendered rules; a second run and a check-mode run change nothing; drift (flushed chain, deleted
table, jump pushed down) is reported in check mode and repaired; absent restores the ruleset
byte for byte; persisted files load at "boot" (a fresh namespace) into the same rules; and real
traffic from another namespace is blocked unless its source is allowed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from bjnp_integration import NamespacePair, netns_module, port_result, probe
from bjnp_integration import netns_sh as sh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and firewall rules need root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables (nft) is not installed"),
]

NFT_FOREIGN = """
table inet filter {
  set admins { type ipv4_addr; elements = { 192.0.2.10, 192.0.2.11 } }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport 22 ip saddr @admins counter accept
  }
}
table ip nat {
  chain POSTROUTING {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 172.17.0.0/16 oifname != "docker0" counter masquerade
  }
}
"""

IPT_FOREIGN = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
COMMIT
"""


def module(ns, args, check=False, diff=False):
    return netns_module(ns, "firewall_rules", args, check=check, diff=diff)


def ok(result):
    assert not result.get("failed"), result.get("msg", result)
    return result


def normalized_save(text):
    """iptables-save without comments (timestamps) and counters."""
    return "\n".join(re.sub(r" \[\d+:\d+\]$", "", line) for line in text.splitlines() if not line.startswith("#"))


# --- nftables -----------------------------------------------------------------------------

def nft_args(tmp_path, **extra):
    args = dict(backend="nftables", mode=["host", "gateway"], allowed_sources=["192.0.2.0/24", "2001:db8::5"],
                protected_destinations=["198.51.100.0/24", "2001:db8:1::/48"],
                nftables_persist_path=str(tmp_path / "nftables.d" / "netsec-bjnp.nft"),
                nftables_conf=str(tmp_path / "nftables.conf"), backup_dir=str(tmp_path / "backups"),
                # The namespace shares systemd with the host: never enable the host's nftables.service.
                nftables_enable_service=False)
    args.update(extra)
    return args


def test_nft_apply_idempotent_and_foreign_tables_untouched(netns, tmp_path):
    sh(netns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    before = sh(netns, "nft list ruleset")
    foreign = [sh(netns, "nft list table %s" % table) for table in ("inet filter", "ip nat")]

    first = ok(module(netns, nft_args(tmp_path, action="reject"), diff=True))
    assert first["changed"] and first["plan"]["live_changed"]
    live = sh(netns, "nft list table inet bjnp")
    assert " ".join(live.split()) == " ".join(first["plan"]["rules"].split())
    assert "ip6 daddr @protected_v6 udp dport 8611-8614 reject with icmpv6 port-unreachable" in live
    assert first["diff"][0]["after"] == first["plan"]["rules"]
    assert [sh(netns, "nft list table %s" % table) for table in ("inet filter", "ip nat")] == foreign

    again = ok(module(netns, nft_args(tmp_path, action="reject")))
    assert not again["changed"]
    checked = ok(module(netns, nft_args(tmp_path, action="reject"), check=True))
    assert not checked["changed"]

    paths = dict((key, nft_args(tmp_path)[key]) for key in ("backend", "backup_dir", "nftables_persist_path", "nftables_conf"))
    gone = ok(module(netns, dict(paths, state="absent")))
    assert gone["changed"]
    assert sh(netns, "nft list ruleset") == before
    assert not ok(module(netns, dict(paths, state="absent")))["changed"]


@pytest.mark.parametrize("drift", [
    "nft flush chain inet bjnp input",
    "nft delete table inet bjnp",
    "nft add rule inet bjnp input tcp dport 9100 accept",
    "nft delete element inet bjnp allowed_v4 '{ 192.0.2.0/24 }'",
])
def test_nft_drift_is_reported_in_check_mode_and_repaired(netns, tmp_path, drift):
    args = nft_args(tmp_path)
    ok(module(netns, args))
    wanted = sh(netns, "nft list table inet bjnp")
    sh(netns, drift)
    drifted = sh(netns, "nft list ruleset")
    checked = ok(module(netns, args, check=True, diff=True))
    assert checked["changed"] and checked["plan"]["live_changed"] and not checked["plan"]["persist_changed"]
    assert sh(netns, "nft list ruleset") == drifted, "check mode changed the ruleset"
    assert ok(module(netns, args))["plan"]["live_changed"]
    assert sh(netns, "nft list table inet bjnp") == wanted
    assert not ok(module(netns, args))["changed"]


def test_nft_check_mode_on_a_fresh_host_changes_nothing(netns, tmp_path):
    result = ok(module(netns, nft_args(tmp_path, persist=True), check=True, diff=True))
    assert result["changed"] and result["plan"]["live_changed"] and result["plan"]["persist_changed"]
    assert sh(netns, "nft list ruleset") == ""
    assert not os.path.exists(str(tmp_path / "nftables.conf"))
    assert [entry["before_header"] for entry in result["diff"]][1:] == [
        nft_args(tmp_path)["nftables_persist_path"], str(tmp_path / "nftables.conf")]


def test_nft_persisted_file_loads_at_boot_and_absent_removes_it(netns, fresh_netns, tmp_path):
    conf = tmp_path / "nftables.conf"
    original = "#!/usr/sbin/nft -f\n\nflush ruleset\n%s" % NFT_FOREIGN
    conf.write_text(original)
    args = nft_args(tmp_path, persist=True)
    result = ok(module(netns, args))
    assert result["plan"]["persist_changed"]
    # No "~" copies pile up next to nftables.conf: absent gives the file back exactly instead.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "nftables.conf", "nftables.d"]
    assert oct(os.stat(args["nftables_persist_path"]).st_mode & 0o777) == "0o644"
    assert conf.read_text().startswith(original)
    assert conf.read_text().endswith('include "%s"\n' % args["nftables_persist_path"])
    assert not ok(module(netns, args))["changed"]

    # "Boot": a fresh namespace loads nftables.conf the way nftables.service does.
    sh(fresh_netns, "nft -f %s" % conf)
    assert sh(fresh_netns, "nft list table inet bjnp") == sh(netns, "nft list table inet bjnp")
    assert not ok(module(fresh_netns, args, check=True))["changed"]
    # Loading twice (a service reload without flush) must not fail or duplicate anything.
    sh(fresh_netns, "nft -f %s" % args["nftables_persist_path"])
    assert not ok(module(fresh_netns, args, check=True))["changed"]

    gone = ok(module(netns, dict(args, state="absent")))
    assert gone["changed"] and gone["plan"]["persist_changed"]
    assert conf.read_text() == original
    assert not os.path.exists(args["nftables_persist_path"])


def test_nft_conf_that_would_not_load_is_never_written(netns, tmp_path):
    # The include line is added only to a nftables.conf that nft -c still accepts: a broken
    # include elsewhere in it must not become a firewall that fails to load at boot.
    conf = tmp_path / "nftables.conf"
    original = '#!/usr/sbin/nft -f\nflush ruleset\ninclude "%s"\n' % (tmp_path / "missing.nft")
    conf.write_text(original)
    result = module(netns, nft_args(tmp_path, persist=True))
    assert result.get("failed") and "nft -c rejected" in result["msg"] and str(conf) in result["msg"], result
    assert conf.read_text() == original


def test_nft_bad_values_fail_before_anything_changes(netns, tmp_path):
    for bad, named in (({"allowed_sources": ["10.0.0.5/24"]}, "'10.0.0.5/24'"),
                       ({"ports": [{"protocol": "tcp", "port": "9100-80"}]}, "'9100-80' runs backwards"),
                       ({"protected_destinations": ["printers"]}, "'printers'")):
        result = module(netns, nft_args(tmp_path, persist=True, **bad))
        assert result.get("failed") and named in result["msg"], result
    assert sh(netns, "nft list ruleset") == ""
    assert not os.path.exists(str(tmp_path / "nftables.conf"))


# --- iptables (nft and legacy variants) -----------------------------------------------------

VARIANTS = [pytest.param(variant, marks=pytest.mark.skipif(
    shutil.which("iptables-%s-restore" % variant) is None, reason="iptables-%s is not installed" % variant))
    for variant in ("nft", "legacy")]


def ipt_args(tmp_path, variant, **extra):
    args = dict(backend="iptables-" + variant, mode=["host", "gateway"], allowed_sources=["192.0.2.0/24", "2001:db8::5"],
                protected_destinations=["198.51.100.0/24"], backup_dir=str(tmp_path / "backups"),
                iptables_rules_v4=str(tmp_path / "rules.v4"), iptables_rules_v6=str(tmp_path / "rules.v6"))
    args.update(extra)
    return args


def ipt_save(ns, variant):
    return [normalized_save(sh(ns, "%s-%s-save" % (command, variant))) for command in ("iptables", "ip6tables")]


def load_foreign(ns, variant):
    for command in ("iptables", "ip6tables"):
        sh(ns, "%s-%s-restore <<'EOF'\n%sEOF" % (command, variant, IPT_FOREIGN))


@pytest.mark.parametrize("variant", VARIANTS)
def test_ipt_apply_idempotent_absent_restores_byte_for_byte(netns, tmp_path, variant):
    load_foreign(netns, variant)
    before = ipt_save(netns, variant)
    args = ipt_args(tmp_path, variant, action="reject")

    first = ok(module(netns, args, diff=True))
    assert first["changed"] and first["plan"]["live_changed"]
    listing = sh(netns, "iptables-%s -w -S" % variant).splitlines()
    assert listing.index("-A INPUT -j BJNP-INPUT") < listing.index("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT")
    assert listing.index("-A FORWARD -j BJNP-FORWARD") < listing.index("-A FORWARD -j DOCKER-USER")
    for line in first["plan"]["rules"]["ipv4"].splitlines():
        if line.startswith("-A"):
            assert line in listing
    v6 = sh(netns, "ip6tables-%s -w -S" % variant)
    assert "-A BJNP-INPUT -s 2001:db8::5/128 -j RETURN" in v6
    assert "icmp6-port-unreachable" in v6
    assert "BJNP-FORWARD" not in v6, "gateway destinations are IPv4 only: no IPv6 forward chain"

    assert not ok(module(netns, args))["changed"]
    assert not ok(module(netns, args, check=True))["changed"]

    assert ok(module(netns, dict(args, state="absent")))["changed"]
    assert ipt_save(netns, variant) == before
    assert not ok(module(netns, dict(args, state="absent")))["changed"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_ipt_drift_is_reported_and_repaired(netns, tmp_path, variant):
    load_foreign(netns, variant)
    args = ipt_args(tmp_path, variant)
    ok(module(netns, args))
    wanted = ipt_save(netns, variant)
    for drift in ("iptables-{v} -w -F BJNP-INPUT",
                  "iptables-{v} -w -I INPUT 1 -p tcp --dport 9100 -j ACCEPT",
                  "ip6tables-{v} -w -D INPUT -j BJNP-INPUT",
                  "iptables-{v} -w -A INPUT -j BJNP-INPUT"):
        sh(netns, drift.format(v=variant))
        drifted = ipt_save(netns, variant)
        checked = ok(module(netns, args, check=True))
        assert checked["plan"]["live_changed"], drift
        assert ipt_save(netns, variant) == drifted, "check mode changed the ruleset"
        ok(module(netns, args))
        after = ipt_save(netns, variant)
        if "ACCEPT" in drift:
            # Someone's rule stays; our jump is back on top of it.
            assert "-A INPUT -p tcp -m tcp --dport 9100 -j ACCEPT" in after[0]
            sh(netns, "iptables-%s -w -D INPUT -p tcp --dport 9100 -j ACCEPT" % variant)
            after = ipt_save(netns, variant)
        assert after == wanted, drift
        assert not ok(module(netns, args))["changed"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_ipt_persisted_files_load_at_boot(netns, fresh_netns, tmp_path, variant):
    load_foreign(netns, variant)
    (tmp_path / "rules.v4").write_text(IPT_FOREIGN)
    args = ipt_args(tmp_path, variant, persist=True)
    result = ok(module(netns, args, diff=True))
    assert result["plan"]["persist_changed"]
    assert (tmp_path / "rules.v4").read_text().startswith("*filter\n:INPUT DROP [0:0]\n")
    assert oct(os.stat(str(tmp_path / "rules.v6")).st_mode & 0o777) == "0o640", "a new file is root-only"
    assert not ok(module(netns, args))["changed"]

    # "Boot": netfilter-persistent runs iptables-restore on each file (flushing the tables it names).
    for command, path in (("iptables", "rules.v4"), ("ip6tables", "rules.v6")):
        sh(fresh_netns, "%s-%s-restore < %s" % (command, variant, tmp_path / path))
    assert not ok(module(fresh_netns, args, check=True))["changed"]
    assert ipt_save(fresh_netns, variant) == ipt_save(netns, variant)

    assert (tmp_path / "rules.v6").read_text().startswith("# netsec.bjnp created this file")
    ok(module(netns, dict(args, state="absent")))
    assert (tmp_path / "rules.v4").read_text() == IPT_FOREIGN
    assert not (tmp_path / "rules.v6").exists(), "the file the module created is gone: the host boots as before"


@pytest.mark.parametrize("variant", VARIANTS)
def test_ipt_created_file_changed_since_is_kept_by_absent(netns, tmp_path, variant):
    load_foreign(netns, variant)
    args = ipt_args(tmp_path, variant, persist=True)
    ok(module(netns, args))
    rules_v4 = tmp_path / "rules.v4"
    rules_v4.write_text(rules_v4.read_text().replace("--dport 22 -j ACCEPT", "--dport 2222 -j ACCEPT"))
    assert ok(module(netns, dict(args, state="absent"), check=True))["plan"]["persist_changed"]
    ok(module(netns, dict(args, state="absent")))
    kept = rules_v4.read_text()
    assert "--dport 2222 -j ACCEPT" in kept and "BJNP" not in kept and "netsec.bjnp" not in kept
    assert not (tmp_path / "rules.v6").exists()


@pytest.mark.parametrize("variant", VARIANTS)
def test_ipt_whole_family_networks_are_idempotent(netns, tmp_path, variant):
    # iptables -S prints no -s/-d for 0.0.0.0/0 or ::/0: the rendered rules must not carry one either.
    args = ipt_args(tmp_path, variant, mode=["gateway"], allowed_sources=["::/0"],
                    protected_destinations=["0.0.0.0/0", "::/0"], allow_any_source=True)
    assert ok(module(netns, args))["plan"]["live_changed"]
    assert "-A BJNP-FORWARD -p udp -m udp --dport 8611:8614 -j DROP" in sh(netns, "iptables-%s -w -S BJNP-FORWARD" % variant)
    assert sh(netns, "ip6tables-%s -w -S BJNP-FORWARD" % variant).splitlines()[1] == "-A BJNP-FORWARD -j RETURN"
    assert not ok(module(netns, args, check=True))["changed"]
    assert not ok(module(netns, args))["changed"]


# --- real traffic ---------------------------------------------------------------------------

@pytest.fixture
def emulator_in_lab(netns_pair, start_emulator):
    return start_emulator(binds=[NamespacePair.LAB_V4, NamespacePair.LAB_V6], netns=netns_pair.lab)


def exposure(pair):
    """TCP 9100 and UDP 8611 of the lab printer, seen from the scan namespace (connect only)."""
    result = probe({"targets": [pair.LAB_V4, pair.LAB_V6], "tcp_ports": [9100], "udp_ports": [8611],
                    "timeout": 0.5, "retries": 0}, netns=pair.scan)
    return dict(((address, proto), port_result(result, address, proto, port)["state"])
                for address in (pair.LAB_V4, pair.LAB_V6) for proto, port in (("tcp", 9100), ("udp", 8611)))


@pytest.mark.parametrize("extra", [
    {"backend": "nftables", "backup": False},
    {"backend": "iptables-nft", "backup": False},
    {"backend": "iptables-legacy", "backup": False},
])
def test_traffic_blocked_unless_allowed(netns_pair, emulator_in_lab, extra):
    pair = netns_pair
    assert set(exposure(pair).values()) == {"open"}

    ok(module(pair.lab, dict(extra, allowed_sources=["192.0.2.1", "2001:db8::1"])))
    seen = exposure(pair)
    assert set(seen.values()) == {"filtered", "open|filtered"}
    assert seen[(pair.LAB_V4, "tcp")] == "filtered" and seen[(pair.LAB_V6, "tcp")] == "filtered"

    ok(module(pair.lab, dict(extra, allowed_sources=[pair.SCAN_V4, pair.SCAN_V6], action="reject")))
    assert set(exposure(pair).values()) == {"open"}

    ok(module(pair.lab, dict(extra, allowed_sources=[pair.SCAN_V4], action="reject")))
    seen = exposure(pair)
    assert seen[(pair.LAB_V4, "tcp")] == "open" and seen[(pair.LAB_V6, "tcp")] == "closed"

    ok(module(pair.lab, dict(extra, state="absent")))
    assert set(exposure(pair).values()) == {"open"}


class Routed(object):
    """client -- router -- printer, three namespaces and two veth pairs, IPv4 and IPv6.

    client 10.202.1.2 / fd42:b2:1::2, router .1 on both links (forwarding on),
    printer 10.202.2.2 / fd42:b2:2::2. Gateway-mode rules go into the router.
    """

    CLIENT_V4, CLIENT_V6 = "10.202.1.2", "fd42:b2:1::2"
    PRINTER_V4, PRINTER_V6 = "10.202.2.2", "fd42:b2:2::2"

    def __init__(self):
        token = uuid.uuid4().hex[:8]
        self.client, self.router, self.printer = ("bjnpgw-%s-%s" % (token, role) for role in ("c", "r", "p"))
        self.created = []
        for ns in (self.client, self.router, self.printer):
            self._ip("netns", "add", ns)
            self.created.append(ns)
            self._ip("-n", ns, "link", "set", "lo", "up")
            sh(ns, "sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0")
        sh(self.router, "sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1")
        for index, ns in ((1, self.client), (2, self.printer)):
            outside, inside = "gw%s%d" % (token[:6], index), "gw%s%dr" % (token[:6], index)
            self._ip("link", "add", outside, "netns", ns, "type", "veth", "peer", "name", inside, "netns", self.router)
            for name, here, last in ((outside, ns, 2), (inside, self.router, 1)):
                self._ip("-n", here, "addr", "add", "10.202.%d.%d/24" % (index, last), "dev", name)
                self._ip("-n", here, "addr", "add", "fd42:b2:%d::%d/64" % (index, last), "dev", name, "nodad")
                self._ip("-n", here, "link", "set", name, "up")
            self._ip("-n", ns, "route", "add", "default", "via", "10.202.%d.1" % index)
            self._ip("-n", ns, "-6", "route", "add", "default", "via", "fd42:b2:%d::1" % index)

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip"] + list(args), check=True, capture_output=True)

    def delete(self):
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def routed():
    topology = Routed()
    yield topology
    topology.delete()


def routed_exposure(topology):
    result = probe({"targets": [topology.PRINTER_V4, topology.PRINTER_V6], "tcp_ports": [9100], "udp_ports": [8611],
                    "timeout": 0.5, "retries": 0}, netns=topology.client)
    return dict(((address, proto), port_result(result, address, proto, port)["state"])
                for address in (topology.PRINTER_V4, topology.PRINTER_V6) for proto, port in (("tcp", 9100), ("udp", 8611)))


@pytest.mark.parametrize("extra", [
    {"backend": "nftables", "backup": False},
    {"backend": "iptables-nft", "backup": False},
    {"backend": "iptables-legacy", "backup": False},
])
def test_gateway_mode_protects_the_printers_behind_the_router(routed, start_emulator, extra):
    start_emulator(binds=[routed.PRINTER_V4, routed.PRINTER_V6], netns=routed.printer)
    # Fresh links: wait (up to 10 s) until the printer is reachable through the router at all.
    deadline = time.monotonic() + 10
    while set(routed_exposure(routed).values()) != {"open"}:
        assert time.monotonic() < deadline, routed_exposure(routed)

    gateway = dict(extra, mode=["gateway"], protected_destinations=["10.202.2.0/24", "fd42:b2:2::/64"])
    ok(module(routed.router, gateway))
    assert set(routed_exposure(routed).values()) == {"filtered", "open|filtered"}

    # Other destinations are not ours to judge: protecting another network reopens the printer.
    ok(module(routed.router, dict(gateway, protected_destinations=["10.202.9.0/24"])))
    seen = routed_exposure(routed)
    assert seen[(routed.PRINTER_V4, "tcp")] == "open" and seen[(routed.PRINTER_V6, "tcp")] == "open"

    ok(module(routed.router, dict(gateway, allowed_sources=[routed.CLIENT_V4], action="reject")))
    seen = routed_exposure(routed)
    assert seen[(routed.PRINTER_V4, "tcp")] == "open" and seen[(routed.PRINTER_V4, "udp")] == "open"
    assert seen[(routed.PRINTER_V6, "tcp")] == "closed"

    ok(module(routed.router, dict(gateway, state="absent")))
    assert set(routed_exposure(routed).values()) == {"open"}
