# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall_backup / firewall_restore on real nftables and iptables, each in its own network namespace.

The modules run as users run them (`ansible localhost -m netsec.bjnp.firewall_...`) inside the
namespace, against a ruleset that already holds foreign rules (a default-drop input chain with
an SSH allow, Docker-style NAT). After backup, an arbitrary change and a restore, the ruleset must
equal the original: `nft list ruleset` byte for byte, `iptables-save` once its comments
(timestamps) and counters are removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import stat
import sys

import pytest

# Import the collection by FQCN from the working tree, as tests/unit/conftest.py does.
_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections"))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    normalize_iptables,
    without_unused_tables,
)

from bjnp_integration import netns_module as module
from bjnp_integration import netns_sh as sh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and firewall rules need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 (ip netns) is not installed"),
]


@pytest.fixture
def backup_dir(tmp_path):
    return str(tmp_path / "backups")


# --- nftables -----------------------------------------------------------------------------

NFT_FOREIGN = """
table inet filter {
  set admins { type ipv4_addr; elements = { 192.0.2.10, 192.0.2.11 } }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport 22 ip saddr @admins counter accept
  }
  chain forward { type filter hook forward priority filter; policy drop; }
}
table ip nat {
  chain DOCKER { }
  chain PREROUTING {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local counter jump DOCKER
  }
  chain POSTROUTING {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 172.17.0.0/16 oifname != "docker0" counter masquerade
  }
}
"""

NFT_CHANGE = """
table inet netsec_bjnp {
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport 9100 drop
    udp dport 8611-8614 drop
  }
}
flush chain inet filter input
add rule inet filter input tcp dport 80 accept
delete table ip nat
add table ip6 extra
"""


def test_nftables_backup_change_restore_is_byte_for_byte(netns, backup_dir):
    sh(netns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    original = sh(netns, "nft list ruleset")
    assert "masquerade" in original

    backup = module(netns, "firewall_backup", {"backend": "nftables", "dir": backup_dir, "change_id": "CHG-1"})
    assert backup["changed"] is True, backup
    assert backup["metadata"]["change_id"] == "CHG-1"
    with open(backup["path"]) as handle:
        assert handle.read() == original

    sh(netns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_CHANGE)
    assert sh(netns, "nft list ruleset") != original

    restored = module(netns, "firewall_restore", {"backend": "nftables", "dir": backup_dir}, diff=True)
    assert restored["changed"] is True, restored
    assert restored["restored"] == backup["path"]
    assert "netsec_bjnp" in restored["diff"]["before"] and "netsec_bjnp" not in restored["diff"]["after"]
    assert sh(netns, "nft list ruleset") == original

    again = module(netns, "firewall_restore", {"backend": "nftables", "dir": backup_dir})
    assert again["changed"] is False, again


def test_nftables_check_mode_writes_and_restores_nothing(netns, backup_dir):
    sh(netns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    original = sh(netns, "nft list ruleset")
    checked = module(netns, "firewall_backup", {"backend": "nftables", "dir": backup_dir}, check=True)
    assert checked["changed"] is True
    assert not os.path.exists(backup_dir)

    module(netns, "firewall_backup", {"backend": "nftables", "dir": backup_dir})
    sh(netns, "nft flush ruleset")
    checked = module(netns, "firewall_restore", {"backend": "nftables", "dir": backup_dir}, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["after"] == original
    assert sh(netns, "nft list ruleset") == ""


def test_nftables_invalid_backup_changes_nothing(netns, backup_dir):
    """A saved ruleset nft cannot load fails at `nft -c` and the live ruleset stays."""
    sh(netns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    backup = module(netns, "firewall_backup", {"backend": "nftables", "dir": backup_dir})
    # Re-sign a broken ruleset so it passes the checksum and reaches nft.
    broken = b"table inet filter { chain input { nonsense } }\n"
    with open(backup["path"], "wb") as handle:
        handle.write(broken)
    meta_path = backup["metadata_path"]
    with open(meta_path) as handle:
        meta = json.load(handle)
    meta["files"][0]["sha256"] = __import__("hashlib").sha256(broken).hexdigest()
    with open(meta_path, "w") as handle:
        json.dump(meta, handle)
    sh(netns, "nft add table ip extra")
    live = sh(netns, "nft list ruleset")

    result = module(netns, "firewall_restore", {"backend": "nftables", "dir": backup_dir})
    assert result.get("failed") is True
    assert "nft -c rejected the saved ruleset" in result["msg"]
    assert sh(netns, "nft list ruleset") == live


# --- iptables (nft and legacy) -------------------------------------------------------------

IPT_FOREIGN = """
{ipt} -P INPUT DROP
{ipt} -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
{ipt} -A INPUT -i lo -j ACCEPT
{ipt} -A INPUT -p tcp --dport 22 -j ACCEPT
{ipt} -N DOCKER-USER
{ipt} -A DOCKER-USER -j RETURN
{ipt} -A FORWARD -j DOCKER-USER
{ipt} -t nat -N DOCKER
{ipt} -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
{ipt} -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
{ipt} -t nat -A DOCKER -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
{ip6t} -P INPUT DROP
{ip6t} -A INPUT -p tcp --dport 22 -j ACCEPT
{ip6t} -A INPUT -p ipv6-icmp -j ACCEPT
"""

# What the role would add, and more: a new chain, a changed policy, deleted foreign rules,
# a rule in a table the backup does not hold (mangle).
IPT_CHANGE = """
{ipt} -N BJNP-INPUT
{ipt} -A BJNP-INPUT -p tcp --dport 9100 -j DROP
{ipt} -I INPUT -j BJNP-INPUT
{ipt} -P INPUT ACCEPT
{ipt} -t nat -F DOCKER
{ipt} -t mangle -A PREROUTING -p udp --dport 8611 -j DROP
{ip6t} -F INPUT
{ip6t} -N BJNP-INPUT
"""


def iptables_state(ns, variant):
    return (sh(ns, "iptables-%s-save" % variant), sh(ns, "ip6tables-%s-save" % variant))


@pytest.mark.parametrize("variant", ["nft", "legacy"])
def test_iptables_backup_change_restore_equals_original(netns, backup_dir, variant):
    commands = dict(ipt="iptables-%s -w" % variant, ip6t="ip6tables-%s -w" % variant)
    sh(netns, IPT_FOREIGN.format(**commands))
    v4, v6 = iptables_state(netns, variant)
    assert "MASQUERADE" in v4 and "DROP" in v6

    backend = "iptables-" + variant
    backup = module(netns, "firewall_backup", {"backend": backend, "dir": backup_dir})
    assert backup["changed"] is True, backup
    assert [f["role"] for f in backup["metadata"]["files"]] == ["ipv4", "ipv6"]

    sh(netns, IPT_CHANGE.format(**commands))
    assert normalize_iptables(iptables_state(netns, variant)[0]) != normalize_iptables(v4)

    restored = module(netns, "firewall_restore", {"backend": backend, "dir": backup_dir}, diff=True)
    assert restored["changed"] is True, restored
    assert "BJNP-INPUT" in restored["diff"]["before"] and "BJNP-INPUT" not in restored["diff"]["after"]

    after4, after6 = iptables_state(netns, variant)
    assert normalize_iptables(after6) == normalize_iptables(v6)
    if variant == "nft":
        # The mangle table created after the backup is deleted: byte-for-byte.
        assert normalize_iptables(after4) == normalize_iptables(v4)
        assert "mangle" not in sh(netns, "nft list tables")
    else:
        # Legacy tables cannot be unregistered: mangle stays, empty with ACCEPT policies.
        assert "*mangle" in after4
        assert without_unused_tables(normalize_iptables(after4)) == normalize_iptables(v4)
        mangle = after4.split("*mangle", 1)[1].split("COMMIT", 1)[0]
        assert "-A" not in mangle and "DROP" not in mangle

    again = module(netns, "firewall_restore", {"backend": backend, "dir": backup_dir})
    assert again["changed"] is False, again


# --- files, names, pruning, integrity -------------------------------------------------------

def test_backup_files_are_private_and_pruned_per_backend(netns, backup_dir):
    sh(netns, "nft add table inet keepme")
    paths = []
    for dummy in range(4):
        result = module(netns, "firewall_backup", {"backend": "nftables", "dir": backup_dir, "keep": 2})
        paths.append(result["path"])
    legacy = module(netns, "firewall_backup", {"backend": "iptables-legacy", "dir": backup_dir, "keep": 1})

    assert stat.S_IMODE(os.stat(backup_dir).st_mode) == 0o700
    names = sorted(os.listdir(backup_dir))
    nft_names = [n for n in names if n.endswith("-nftables.nft")]
    assert [os.path.join(backup_dir, n) for n in nft_names] == paths[2:]
    assert len([n for n in names if n.endswith("-nftables.json")]) == 2
    assert len([n for n in names if "iptables-legacy" in n]) == 3  # .v4, .v6, .json
    for name in names:
        assert stat.S_IMODE(os.stat(os.path.join(backup_dir, name)).st_mode) == 0o600, name
    assert result["pruned"] == [paths[1][:-len(".nft")] + ".json", paths[1]]
    assert legacy["pruned"] == []


def test_restore_refuses_a_corrupt_or_missing_file_and_names_it(netns, backup_dir):
    sh(netns, "nft add table inet keepme")
    backup = module(netns, "firewall_backup", {"backend": "iptables-nft", "dir": backup_dir})
    v6 = os.path.join(backup_dir, backup["metadata"]["files"][1]["name"])
    sh(netns, "iptables-nft -A INPUT -j ACCEPT")
    live = sh(netns, "iptables-nft-save")

    with open(v6, "a") as handle:
        handle.write("-A INPUT -j ACCEPT\n")
    result = module(netns, "firewall_restore", {"backend": "iptables-nft", "path": backup["path"]})
    assert result.get("failed") is True
    assert v6 in result["msg"] and "corrupt" in result["msg"]

    os.unlink(v6)
    result = module(netns, "firewall_restore", {"backend": "iptables-nft", "path": os.path.basename(backup["path"]),
                                                "dir": backup_dir})
    assert result.get("failed") is True
    assert v6 in result["msg"] and "missing" in result["msg"]
    assert normalize_iptables(sh(netns, "iptables-nft-save")) == normalize_iptables(live)

    result = module(netns, "firewall_restore", {"backend": "nftables", "path": backup["metadata_path"]})
    assert result.get("failed") is True and "not 'nftables'" in result["msg"]
