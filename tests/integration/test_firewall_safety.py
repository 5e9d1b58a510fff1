# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a failed or unconfirmed change leaves behind, on real nftables and iptables in a namespace.

- A failure after the backup puts back only our part: what another tool added while the run
  was in flight (a site check below adds a table, as fail2ban or docker would, then fails) stays.
  ``rollback: restore`` loads the whole backup instead and names what that discarded.
- iptables changes both families or neither: a family that fails to load undoes the other.
- ``confirm_timeout`` reverts by itself unless netsec.bjnp.firewall_confirm comes in time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import stat
import time

import pytest

from bjnp_integration import wait_until
from bjnp_integration import netns_module as module
from bjnp_integration import netns_sh as sh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and firewall rules need root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables (nft) is not installed"),
]

# A site check that behaves like fail2ban arriving mid-run: it adds its own table, then fails.
INTRUDER = "sh -c 'nft add table ip f2b && nft add chain ip f2b ban && false'"


def nft_args(tmp_path, **extra):
    args = dict(backend="nftables", allowed_sources=["192.0.2.10"], backup_dir=str(tmp_path / "backups"),
                nftables_persist_path=str(tmp_path / "nftables.d" / "netsec-bjnp.nft"),
                nftables_conf=str(tmp_path / "nftables.conf"), nftables_enable_service=False)
    args.update(extra)
    return args


def test_failed_first_run_removes_ours_and_keeps_what_others_added(netns, tmp_path):
    sh(netns, "nft add table inet site")
    result = module(netns, "firewall_rules", nft_args(tmp_path, verify_commands=[INTRUDER], persist=True))
    assert result.get("failed") is True and result["rolled_back"] is True
    assert "other rules untouched" in result["msg"]
    tables = sh(netns, "nft list tables")
    assert "table ip f2b" in tables and "table inet site" in tables
    assert "table inet bjnp" not in tables
    assert result["discarded"] == []


def test_failed_change_puts_our_previous_rules_back(netns, tmp_path):
    first = module(netns, "firewall_rules", nft_args(tmp_path))
    assert not first.get("failed"), first
    previous = sh(netns, "nft list table inet bjnp")
    result = module(netns, "firewall_rules", nft_args(tmp_path, allowed_sources=["192.0.2.99"],
                                                      verify_commands=[INTRUDER]))
    assert result.get("failed") is True and result["rolled_back"] is True
    assert sh(netns, "nft list table inet bjnp") == previous
    assert "table ip f2b" in sh(netns, "nft list tables")


def test_rollback_restore_loads_the_whole_backup_and_names_what_it_discarded(netns, tmp_path):
    result = module(netns, "firewall_rules", nft_args(tmp_path, verify_commands=[INTRUDER], rollback="restore"))
    assert result.get("failed") is True and result["rolled_back"] is True
    assert "table ip f2b" not in sh(netns, "nft list tables")
    assert "table ip f2b {" in result["discarded"]
    assert "discarded what was added since" in result["msg"]


@pytest.mark.parametrize("variant", ["nft", "legacy"])
def test_iptables_failure_is_reverted_in_both_families_without_touching_others(netns, tmp_path, variant):
    sh(netns, "iptables-%s -A INPUT -p tcp --dport 22 -j ACCEPT" % variant)
    intruder = "sh -c 'iptables-%s -N F2B && ip6tables-%s -N F2B && false'" % (variant, variant)
    result = module(netns, "firewall_rules", dict(
        backend="iptables-" + variant, allowed_sources=["192.0.2.10", "2001:db8::10"],
        backup_dir=str(tmp_path / "backups"), verify_commands=[intruder]))
    assert result.get("failed") is True and result["rolled_back"] is True, result
    for command in ("iptables", "ip6tables"):
        rules = sh(netns, "%s-%s -S" % (command, variant))
        assert "BJNP" not in rules
        assert "-N F2B" in rules
    assert "--dport 22 -j ACCEPT" in sh(netns, "iptables-%s -S" % variant)


def fail_real_loads(tmp_path, tool):
    """A directory with ``tool`` that passes ``--test`` to the real one and fails a real load."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / tool
    wrapper.write_text('#!/bin/sh\nfor a; do [ "$a" = --test ] && exec %s "$@"; done\n'
                       'echo "%s: simulated failure while loading" >&2\nexit 1\n' % (shutil.which(tool), tool))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return {"PATH": "%s:%s" % (bindir, os.environ["PATH"])}


def test_iptables_ipv6_failure_undoes_ipv4_even_without_a_backup(netns, tmp_path):
    before = sh(netns, "iptables-nft -S")
    result = module(netns, "firewall_rules", dict(backend="iptables-nft", allowed_sources=["192.0.2.10"], backup=False),
                    env=fail_real_loads(tmp_path, "ip6tables-nft-restore"))
    assert result.get("failed") is True, result
    assert "IPv4 put back as before" in result["msg"] and result["live"] == "unchanged"
    assert sh(netns, "iptables-nft -S") == before


@pytest.mark.parametrize("broken, said", [
    # Rejected by --test: nothing is loaded at all.
    (b"*filter\n-A INPUT --no-such-option\nCOMMIT\n", "neither family was restored"),
    # Passes --test (iptables-nft resolves chains only when loading): IPv4, loaded first, is put back.
    (b"*filter\n-A NO-SUCH-CHAIN -j ACCEPT\nCOMMIT\n", "ipv4 put back as it was, so the live firewall is unchanged"),
])
def test_iptables_restore_changes_both_families_or_neither(netns, tmp_path, broken, said):
    sh(netns, "iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT")
    backup = module(netns, "firewall_backup", dict(backend="iptables-nft", dir=str(tmp_path / "backups")))
    meta = json.load(open(backup["metadata_path"]))
    entry = [item for item in meta["files"] if item["role"] == "ipv6"][0]
    v6_path = os.path.join(os.path.dirname(backup["metadata_path"]), entry["name"])
    with open(v6_path, "wb") as handle:
        handle.write(broken)
    entry["sha256"] = __import__("hashlib").sha256(broken).hexdigest()
    with open(backup["metadata_path"], "w") as handle:
        json.dump(meta, handle)
    sh(netns, "iptables-nft -A INPUT -p tcp --dport 2222 -j ACCEPT")
    live = sh(netns, "iptables-nft -S")
    result = module(netns, "firewall_restore", dict(backend="iptables-nft", dir=str(tmp_path / "backups")))
    assert result.get("failed") is True and said in result["msg"], result
    assert sh(netns, "iptables-nft -S") == live


def test_a_backup_file_without_commit_is_refused_by_name(netns, tmp_path):
    sh(netns, "iptables-nft -A INPUT -p tcp --dport 22 -j ACCEPT")
    backup = module(netns, "firewall_backup", dict(backend="iptables-nft", dir=str(tmp_path / "backups")))
    meta = json.load(open(backup["metadata_path"]))
    entry = [item for item in meta["files"] if item["role"] == "ipv4"][0]
    text = b"*filter\n:INPUT ACCEPT [0:0]\n"
    with open(os.path.join(os.path.dirname(backup["metadata_path"]), entry["name"]), "wb") as handle:
        handle.write(text)
    entry["sha256"] = __import__("hashlib").sha256(text).hexdigest()
    with open(backup["metadata_path"], "w") as handle:
        json.dump(meta, handle)
    sh(netns, "iptables-nft -A INPUT -p tcp --dport 2222 -j ACCEPT")
    result = module(netns, "firewall_restore", dict(backend="iptables-nft", dir=str(tmp_path / "backups")))
    assert result.get("failed") is True and "does not end with COMMIT" in result["msg"], result
    assert "Traceback" not in result.get("module_stderr", "")


# --- commit-confirmed -----------------------------------------------------------------------

def test_unconfirmed_change_reverts_by_itself(netns, tmp_path):
    sh(netns, "nft add table inet site")
    result = module(netns, "firewall_rules", nft_args(tmp_path, confirm_timeout=8, persist=True))
    assert not result.get("failed"), result
    assert len(result["confirm"]["token"]) == 32 and "unless confirmed" in result["message"]
    # The ansible process that armed the timer has exited: the revert must not depend on it.
    assert result["confirm"]["deadline"] > time.time(), "the module run outlasted the timeout: raise it"
    assert "table inet bjnp" in sh(netns, "nft list tables")
    assert wait_until(lambda: "table inet bjnp" not in sh(netns, "nft list tables"), 20)
    assert "table inet site" in sh(netns, "nft list tables")
    assert not os.path.exists(str(tmp_path / "nftables.d" / "netsec-bjnp.nft"))
    late = module(netns, "firewall_confirm", dict(token=result["confirm"]["token"]))
    assert late.get("failed") is True and "too late to confirm" in late["msg"]
    assert "reverted our nftables rules" in late["msg"]


def test_confirmed_change_stays(netns, tmp_path):
    result = module(netns, "firewall_rules", nft_args(tmp_path, confirm_timeout=3))
    assert not result.get("failed"), result
    confirmed = module(netns, "firewall_confirm", dict(token=result["confirm"]["token"]))
    assert confirmed["changed"] is True and not confirmed.get("failed"), confirmed
    time.sleep(4.5)
    assert "table inet bjnp" in sh(netns, "nft list tables")
    again = module(netns, "firewall_confirm", dict(token=result["confirm"]["token"]))
    assert again["changed"] is False and not again.get("failed")


def test_idempotent_run_arms_no_timer(netns, tmp_path):
    module(netns, "firewall_rules", nft_args(tmp_path))
    result = module(netns, "firewall_rules", nft_args(tmp_path, confirm_timeout=3))
    assert result["changed"] is False and result["confirm"] == {}


@pytest.mark.parametrize("token", ["../../etc/passwd", "x" * 32, ""])
def test_confirm_refuses_a_token_it_did_not_issue(netns, token):
    result = module(netns, "firewall_confirm", dict(token=token))
    assert result.get("failed") is True and "not a token this collection issued" in result["msg"]


def test_revert_now_undoes_the_change_at_once_with_its_boot_files(netns, tmp_path):
    sh(netns, "nft add table inet site")
    result = module(netns, "firewall_rules", nft_args(tmp_path, confirm_timeout=600, persist=True))
    assert os.path.exists(str(tmp_path / "nftables.d" / "netsec-bjnp.nft"))
    started = time.time()
    reverted = module(netns, "firewall_confirm", dict(token=result["confirm"]["token"], state="reverted"))
    assert reverted["changed"] is True and "reverted our nftables rules" in reverted["message"], reverted
    assert time.time() - started < 30
    assert "table inet bjnp" not in sh(netns, "nft list tables") and "table inet site" in sh(netns, "nft list tables")
    assert not os.path.exists(str(tmp_path / "nftables.d" / "netsec-bjnp.nft"))
    late = module(netns, "firewall_confirm", dict(token=result["confirm"]["token"]))
    assert late.get("failed") is True and "too late" in late["msg"]
