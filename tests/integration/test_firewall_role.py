# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netsec.bjnp.firewall role (Linux, nftables and iptables backends) in network namespaces.

ansible-playbook runs inside a fresh namespace holding someone else's rules; backups and the
persisted files go to the test's own directory. Asserted: backend detection, a backup only when
something changes, idempotence, check mode, the automatic restore when verification fails,
`--tags rollback` in both modes giving back the ruleset byte for byte, and early refusal of
bad values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import shutil
import subprocess

import pytest

from bjnp_integration import BIN, tool_env
from bjnp_integration import netns_sh as sh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and firewall rules need root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables (nft) is not installed"),
]

PLAYBOOK = """
- name: Run the firewall role
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: netsec.bjnp.firewall
  post_tasks:
    - name: Report
      ansible.builtin.debug:
        var: bjnp_firewall_result
      tags: [always]
"""

# As a site playbook would: the role's failure is rescued and the play goes on, so handlers
# still pending at the end of the play get their chance to run.
PLAYBOOK_RESCUED = """
- name: Run the firewall role, carry on after its failure
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Remediate
      block:
        - name: Include the role
          ansible.builtin.include_role:
            name: netsec.bjnp.firewall
      rescue:
        - name: Report
          ansible.builtin.debug:
            var: bjnp_firewall_result
"""

NFT_FOREIGN = """
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport 22 accept
  }
}
"""

IPT_FOREIGN = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""


def ipt_save(ns, variant):
    return [re.sub(r"(?m)^(#.*\n|(:\S+ \S+) \[\d+:\d+\])", r"\2", sh(ns, "%s-%s-save" % (command, variant)))
            for command in ("iptables", "ip6tables")]


class Role(object):
    """ansible-playbook with the role in one namespace; paths inside the test's directory."""

    def __init__(self, ns, tmp_path):
        self.ns, self.tmp = ns, tmp_path
        self.playbook = tmp_path / "play.yml"
        self.playbook.write_text(PLAYBOOK)
        self.backups = tmp_path / "backups"
        self.conf = tmp_path / "nftables.conf"
        self.base = dict(bjnp_allowed_sources=["192.0.2.10", "2001:db8::10"],
                         bjnp_backup_dir=str(self.backups),
                         bjnp_nftables_persist_path=str(tmp_path / "nftables.d" / "netsec-bjnp.nft"),
                         bjnp_nftables_conf=str(self.conf),
                         bjnp_iptables_rules_v4=str(tmp_path / "rules.v4"),
                         bjnp_iptables_rules_v6=str(tmp_path / "rules.v6"),
                         # The namespace shares systemd with the host: leave its nftables.service alone.
                         bjnp_nftables_enable_service=False)

    def run(self, check=False, diff=False, tags=None, playbook=None, **extra):
        extra_vars = dict(self.base, **extra)
        cmd = ["ip", "netns", "exec", self.ns, os.path.join(BIN, "ansible-playbook"), str(playbook or self.playbook),
               "-e", json.dumps(extra_vars)]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        cmd += ["--tags", tags] if tags else []
        env = dict(tool_env(), ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        try:
            output = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("ansible-playbook gave no JSON: %s %s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
        stats = output["stats"]["localhost"]
        results = [task["hosts"]["localhost"] for play in output["plays"] for task in play["tasks"]
                   if "localhost" in task["hosts"]]
        failures = [r.get("msg") for r in results if r.get("failed") and not r.get("ignore_errors")]
        report = [r["bjnp_firewall_result"] for r in results if "bjnp_firewall_result" in r]
        diffs = [(entry.get("before_header"), entry.get("before", ""), entry.get("after", ""))
                 for r in results for entry in (r["diff"] if isinstance(r.get("diff"), list) else [r.get("diff") or {}])
                 if entry.get("before_header")]
        return dict(rc=proc.returncode, stats=stats, failures=failures,
                    result=report[-1] if report else None, results=results, diffs=diffs)

    def generations(self):
        return sorted(glob.glob(str(self.backups / "*.json")))


@pytest.fixture
def role(netns, tmp_path):
    return Role(netns, tmp_path)


def succeeded(run):
    assert run["rc"] == 0 and not run["failures"], run["failures"] or run["rc"]
    return run


def test_nftables_check_apply_idempotent_then_rollback_remove(role):
    sh(role.ns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    role.conf.write_text("#!/usr/sbin/nft -f\nflush ruleset\n")
    before = sh(role.ns, "nft list ruleset")

    checked = succeeded(role.run(check=True, diff=True))
    assert checked["stats"]["changed"] > 0 and checked["result"]["backend"] == "nftables"
    assert checked["result"]["message"].startswith("would change")
    # --check --diff shows the live table and the boot files as they would become.
    diffs = dict((header, (old, new)) for header, old, new in checked["diffs"])
    assert diffs["live table inet bjnp"][0] == "" and "tcp dport { 8611-8614, 9100 } drop" in diffs["live table inet bjnp"][1]
    assert "table inet bjnp" in diffs[role.base["bjnp_nftables_persist_path"]][1]
    assert diffs[str(role.conf)][1].endswith('include "%s"\n' % role.base["bjnp_nftables_persist_path"])
    assert sh(role.ns, "nft list ruleset") == before and not role.backups.exists()
    assert role.conf.read_text() == "#!/usr/sbin/nft -f\nflush ruleset\n"
    assert not os.path.exists(role.base["bjnp_nftables_persist_path"])

    first = succeeded(role.run(diff=True))
    assert first["result"]["changed"] and first["result"]["backup"]
    assert [header for header, dummy, dummy in first["diffs"]] == [
        "live table inet bjnp", role.base["bjnp_nftables_persist_path"], str(role.conf)]
    assert len(role.generations()) == 1
    assert "table inet bjnp" in sh(role.ns, "nft list ruleset")
    assert role.conf.read_text().endswith('include "%s"\n' % role.base["bjnp_nftables_persist_path"])

    second = succeeded(role.run())
    assert second["stats"]["changed"] == 0, "second run must change nothing"
    assert second["result"]["message"].startswith("already in place")
    assert len(role.generations()) == 1, "no change, no new backup"

    # A roll-back is not held up by the gateway-mode refusal (it removes whatever is there).
    removed = succeeded(role.run(tags="rollback", bjnp_mode=["host", "gateway"]))
    assert removed["result"]["rolled_back"] and removed["result"]["state"] == "rollback-remove"
    assert sh(role.ns, "nft list ruleset") == before
    assert role.conf.read_text() == "#!/usr/sbin/nft -f\nflush ruleset\n"
    assert not os.path.exists(role.base["bjnp_nftables_persist_path"])


def test_nftables_drift_repaired_with_a_backup_private_and_pruned(role):
    succeeded(role.run(bjnp_backup_keep=2))
    sh(role.ns, "nft flush chain inet bjnp input")
    repaired = succeeded(role.run(bjnp_backup_keep=2))
    assert repaired["result"]["changed"] and len(role.generations()) == 2
    assert "tcp dport { 8611-8614, 9100 } drop" in sh(role.ns, "nft list table inet bjnp")
    first_backup = role.generations()[0]
    sh(role.ns, "nft delete table inet bjnp")
    succeeded(role.run(bjnp_backup_keep=2))
    generations = role.generations()
    assert len(generations) == 2 and first_backup not in generations, "pruned to bjnp_backup_keep"
    assert oct(os.stat(str(role.backups)).st_mode & 0o777) == "0o700"
    files = sorted(os.listdir(str(role.backups)))
    assert len(files) == 4 and all(name.endswith((".json", ".nft")) for name in files), files
    assert set(oct(os.stat(str(role.backups / name)).st_mode & 0o777) for name in files) == {"0o600"}


def test_failed_verification_puts_our_rules_back_and_fails(role):
    sh(role.ns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    succeeded(role.run())
    before = sh(role.ns, "nft list ruleset")
    failed = role.run(bjnp_action="reject", bjnp_verify_commands=["true", "false"])
    assert failed["rc"] != 0
    message = failed["failures"][-1]
    assert "Put our nftables rules back as they were before this run" in message
    assert role.generations()[-1].replace(".json", ".nft") in message and "site check 'false' failed (rc=1)" in message
    assert sh(role.ns, "nft list ruleset") == before, "the ruleset before the run is back"
    assert failed["stats"]["rescued"] == 1


def test_rescued_failure_leaves_nothing_behind_when_the_play_goes_on(role):
    sh(role.ns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    role.conf.write_text("#!/usr/sbin/nft -f\nflush ruleset\n")
    before = sh(role.ns, "nft list ruleset")
    playbook = role.tmp / "rescued.yml"
    playbook.write_text(PLAYBOOK_RESCUED)
    run = role.run(playbook=playbook, bjnp_verify_commands=["false"])
    assert run["rc"] == 0 and run["stats"]["rescued"] >= 1
    assert run["result"]["rolled_back"] is True
    assert sh(role.ns, "nft list ruleset") == before
    assert role.conf.read_text() == "#!/usr/sbin/nft -f\nflush ruleset\n"
    assert not os.path.exists(role.base["bjnp_nftables_persist_path"])


def test_rollback_restore_gives_back_the_ruleset_before_the_change(role):
    sh(role.ns, "nft -f - <<'EOF'\n%s\nEOF" % NFT_FOREIGN)
    role.conf.write_text("#!/usr/sbin/nft -f\nflush ruleset\n")
    before = sh(role.ns, "nft list ruleset")
    succeeded(role.run(bjnp_mode=["host", "gateway"], bjnp_protected_destinations=["0.0.0.0/0", "::/0"]))
    assert "ip6 daddr @protected_v6" in sh(role.ns, "nft list table inet bjnp")
    assert os.path.exists(role.base["bjnp_nftables_persist_path"])
    restored = succeeded(role.run(tags="rollback", bjnp_rollback="restore"))
    assert restored["result"]["backup"] == role.generations()[-1].replace(".json", ".nft")
    assert sh(role.ns, "nft list ruleset") == before
    # The backup predates the role: the boot configuration forgets our table as well.
    assert role.conf.read_text() == "#!/usr/sbin/nft -f\nflush ruleset\n"
    assert not os.path.exists(role.base["bjnp_nftables_persist_path"])


def test_rollback_from_a_name_that_names_no_backend_is_refused(role):
    refused = role.run(tags="rollback", bjnp_rollback="restore", bjnp_rollback_from="before-upgrade.nft")
    assert refused["rc"] != 0
    assert "before-upgrade.nft is not a netsec.bjnp backup file" in refused["failures"][-1]
    assert sh(role.ns, "nft list ruleset") == ""


@pytest.mark.parametrize("variant", ["nft", "legacy"])
def test_iptables_rollback_restore_by_name(role, variant):
    for command in ("iptables", "ip6tables"):
        sh(role.ns, "%s-%s-restore <<'EOF'\n%sEOF" % (command, variant, IPT_FOREIGN))
    (role.tmp / "rules.v4").write_text(IPT_FOREIGN)
    before = ipt_save(role.ns, variant)
    # Every forwarded destination, spelled out: iptables -S prints no -d for it, verification must still pass.
    succeeded(role.run(bjnp_mode=["host", "gateway"], bjnp_protected_destinations=["0.0.0.0/0", "::/0"]))
    assert "-A BJNP-FORWARD -p tcp -m tcp --dport 9100 -j DROP" in sh(role.ns, "ip6tables-%s -S BJNP-FORWARD" % variant)
    backup = role.generations()[-1].replace(".json", ".v4")
    assert "BJNP" in (role.tmp / "rules.v4").read_text()
    restored = succeeded(role.run(tags="rollback", bjnp_rollback="restore",
                                  bjnp_rollback_from=os.path.basename(backup)))
    assert restored["result"]["backend"] == "iptables-" + variant
    assert ipt_save(role.ns, variant) == before
    assert (role.tmp / "rules.v4").read_text() == IPT_FOREIGN


@pytest.mark.parametrize("variant", ["nft", "legacy"])
def test_iptables_backend_detected_applied_and_removed(role, variant):
    for command in ("iptables", "ip6tables"):
        sh(role.ns, "%s-%s-restore <<'EOF'\n%sEOF" % (command, variant, IPT_FOREIGN))
    before = ipt_save(role.ns, variant)

    checked = succeeded(role.run(check=True, diff=True))
    assert checked["result"]["message"].startswith("would change") and checked["stats"]["changed"] > 0
    assert [header for header, dummy, dummy in checked["diffs"]] == [
        "live ipv4 filter (ours)", "live ipv6 filter (ours)", role.base["bjnp_iptables_rules_v4"], role.base["bjnp_iptables_rules_v6"]]
    assert ipt_save(role.ns, variant) == before and not role.backups.exists()
    assert not os.path.exists(role.base["bjnp_iptables_rules_v4"])

    first = succeeded(role.run())
    assert first["result"]["backend"] == "iptables-" + variant
    assert "-A INPUT -j BJNP-INPUT" in sh(role.ns, "iptables-%s -S INPUT" % variant).splitlines()[1]
    assert "-A BJNP-INPUT -s 2001:db8::10/128 -j RETURN" in sh(role.ns, "ip6tables-%s -S" % variant)
    assert "-A BJNP-INPUT" in (role.tmp / "rules.v4").read_text()
    assert succeeded(role.run())["stats"]["changed"] == 0
    assert len(role.generations()) == 1

    absent = succeeded(role.run(bjnp_state="absent"))
    assert absent["result"]["changed"] and len(role.generations()) == 2
    assert ipt_save(role.ns, variant) == before
    # No rules files existed before the role: absent deletes the ones it created (boot as before).
    assert not (role.tmp / "rules.v4").exists() and not (role.tmp / "rules.v6").exists()


def test_explicit_iptables_under_active_ufw_is_refused(role, monkeypatch):
    # A stand-in `ufw` that reports itself active, first on PATH: the role must refuse raw iptables.
    fake = role.tmp / "bin"
    fake.mkdir()
    (fake / "ufw").write_text("#!/bin/sh\necho 'Status: active'\n")
    os.chmod(str(fake / "ufw"), 0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (fake, os.environ["PATH"]))
    refused = role.run(bjnp_backend="iptables-nft")
    assert refused["rc"] != 0
    assert "under an active ufw" in refused["failures"][-1]
    assert sh(role.ns, "iptables-nft-save") == ""


@pytest.mark.parametrize("extra, named", [
    (dict(bjnp_allowed_sources=["192.0.2.300"]), "192.0.2.300"),
    (dict(bjnp_allowed_sources=["10.0.0.5/24"]), "10.0.0.5/24"),
    (dict(bjnp_allowed_sources=["10.0.0.0/33"]), "10.0.0.0/33"),
    (dict(bjnp_ports=[{"protocol": "tcp", "port": 70000}]), "70000"),
    (dict(bjnp_ports=[{"protocol": "tcp", "port": "9100-80"}]), "9100-80"),
    (dict(bjnp_mode=["router"]), "router"),
    (dict(bjnp_backend="pfsense"), "pfsense"),
    (dict(bjnp_mode=["host", "gateway"]), "gateway needs bjnp_protected_destinations"),
    (dict(bjnp_backup_keep=0), "bjnp_backup_keep 0 keeps no backup"),
    (dict(bjnp_mode=["gateway"], bjnp_protected_destinations=["printers.example"]), "printers.example"),
])
def test_bad_values_fail_before_anything_changes(role, extra, named):
    role.conf.write_text("#!/usr/sbin/nft -f\nflush ruleset\n")
    failed = role.run(**extra)
    assert failed["rc"] != 0 and named in " ".join(str(m) for m in failed["failures"])
    assert sh(role.ns, "nft list ruleset") == "" and not role.backups.exists()
    assert role.conf.read_text() == "#!/usr/sbin/nft -f\nflush ruleset\n"
    assert not os.path.exists(role.base["bjnp_nftables_persist_path"])


def test_bad_values_fail_before_the_host_is_contacted(tmp_path):
    # A host nobody answers for (loopback port 1): only a task that connects would say UNREACHABLE.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    silent:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n")
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.replace("hosts: localhost\n  connection: local\n", "hosts: all\n"))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(playbook),
                           "-e", json.dumps(dict(bjnp_allowed_sources=["192.0.2.0/33"]))],
                          capture_output=True, text=True, env=tool_env(), check=False)
    output = json.loads(proc.stdout)
    assert proc.returncode != 0 and output["stats"]["silent"]["unreachable"] == 0, output["stats"]
    messages = [task["hosts"]["silent"].get("msg", "") for play in output["plays"] for task in play["tasks"]]
    assert "bjnp_allowed_sources: '192.0.2.0/33'" in messages[-1] and "Nothing was changed" in messages[-1]
