# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw and firewalld backends of netsec.bjnp.firewall and their backup/restore, in podman containers.

ufw and firewalld manage their own files and daemons, so these run in the project's local images
(privileged, each in its own network namespace): the role's task files through ansible-playbook
over the podman connection, then firewall_backup / firewall_restore. After restore the
configuration files and the live ruleset must equal what they were before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections"))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import normalize_iptables  # noqa: E402

BIN = os.path.dirname(sys.executable)
UFW_IMAGE = "localhost/netsec-bjnp-debian12-ufw:latest"
BASE_IMAGE = "localhost/netsec-bjnp-debian12:latest"


def podman(*args, check=True):
    proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(args), proc.stderr))
    return proc


def image_present(image):
    return shutil.which("podman") is not None and podman("image", "exists", image, check=False).returncode == 0


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="privileged podman containers need root"),
]


def sh(container, script, check=True):
    proc = podman("exec", container, "bash", "-euo", "pipefail", "-c", script, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed in %s: %s" % (script, container, proc.stderr))
    return proc.stdout


def ansible_env():
    return dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
                ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")


def module(container, name, args, check=False, diff=False):
    """Run netsec.bjnp.<name> in the container through the podman connection."""
    cmd = [os.path.join(BIN, "ansible"), "all", "-i", container + ",", "-c", "containers.podman.podman",
           "-m", "netsec.bjnp." + name, "-a", json.dumps(args)]
    cmd += (["--check"] if check else []) + (["--diff"] if diff else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][container]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result: %s %s" % (proc.stdout, proc.stderr))


PLAY = """
- name: netsec.bjnp.firewall {tasks}
  hosts: all
  gather_facts: false
  tasks:
    - name: Run the task file
      ansible.builtin.include_role:
        name: netsec.bjnp.firewall
        tasks_from: {tasks}
"""


def role(container, tasks, tmp_path, check=False, **variables):
    """Run roles/firewall/tasks/<tasks>.yml on the container; return (stats, bjnp_firewall_result, seconds)."""
    play = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:6])
    play.write_text(PLAY.format(tasks=tasks))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", container + ",", "-c", "containers.podman.podman",
           str(play), "-e", json.dumps(variables)] + (["--check"] if check else [])
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    elapsed = time.monotonic() - started
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook gave no JSON: %s %s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    stats = out["stats"][container]
    facts = {}
    for task in out["plays"][0]["tasks"]:
        result = task["hosts"].get(container, {})
        facts.update(result.get("ansible_facts", {}))
        if result.get("failed") and not result.get("skipped"):
            stats["failed_msg"] = result.get("msg")
    return stats, facts.get("bjnp_firewall_result"), elapsed


@pytest.fixture
def ufw_host():
    if not image_present(UFW_IMAGE):
        pytest.skip("image %s is missing: run `make image`" % UFW_IMAGE)
    name = "bjnp-ufw-%s" % uuid.uuid4().hex[:8]
    podman("run", "-d", "--name", name, "--privileged", UFW_IMAGE, "sleep", "infinity")
    try:
        # A host with its own rules: SSH, a whole IPv6 network, a route rule.
        sh(name, "ufw --force enable; ufw allow 22/tcp; ufw allow from 2001:db8:1::/48; "
                 "ufw route allow from 10.8.0.0/16 to 10.9.0.0/16; "
                 # What ufw builds rule by rule differs in a few generated lines from what a
                 # load builds; restore loads, so start from a loaded state.
                 "ufw reload")
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def ufw_state(container):
    files = sh(container, "cd / && find etc/ufw etc/default/ufw -printf '%p %y %m %U:%G\\n' | sort && "
                          "find etc/ufw etc/default/ufw -type f | sort | xargs sha256sum")
    live = normalize_iptables(sh(container, "iptables-save")) + normalize_iptables(sh(container, "ip6tables-save"))
    return files, live


def test_ufw_backend_is_idempotent_and_restore_is_exact(ufw_host, tmp_path):
    files, live = ufw_state(ufw_host)
    variables = dict(bjnp_allowed_sources=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"], bjnp_mode=["host"],
                     bjnp_backup_dir="/var/backups/bjnp")

    stats, result, first = role(ufw_host, "ufw", tmp_path, check=True, **variables)
    assert stats["failures"] == 0, stats
    assert result["changed"] is True and result["message"].startswith("would change")
    assert ufw_state(ufw_host) == (files, live), "check mode changed ufw"

    stats, result, first = role(ufw_host, "ufw", tmp_path, **variables)
    assert stats["failures"] == 0, stats
    assert result["changed"] is True and result["backup"].endswith("-ufw.tar"), result
    added = sh(ufw_host, "ufw show added")
    assert added.count("comment 'netsec.bjnp'") == 3 * 3 + 3  # 3 sources x 3 ports + 3 deny
    numbered = sh(ufw_host, "ufw status numbered")
    # Allowed sources above the deny rules, ours above the site's own rules.
    lines = [line for line in numbered.splitlines() if line.startswith("[")]
    v4 = [line for line in lines if "(v6)" not in line and "2001:db8" not in line]
    assert "ALLOW IN    10.0.0.0/8" in v4[0] or "192.0.2.7" in v4[0]
    assert max(i for i, line in enumerate(v4) if "ALLOW IN" in line and "netsec.bjnp" in line) < min(
        i for i, line in enumerate(v4) if "DENY IN" in line)
    assert "9100/tcp (v6)              DENY IN" in numbered
    assert "iptables" not in added and "22/tcp" in added

    stats, result, second = role(ufw_host, "ufw", tmp_path, **variables)
    assert stats["changed"] == 0 and result["changed"] is False and result["backup"] == "", result

    backup = sh(ufw_host, "ls /var/backups/bjnp/").split()
    assert len([name for name in backup if name.endswith("-ufw.json")]) == 1
    restored = module(ufw_host, "firewall_restore", {"backend": "ufw", "dir": "/var/backups/bjnp"}, diff=True)
    assert restored["changed"] is True, restored
    assert "etc/ufw/user.rules" in restored["changed_files"]
    assert ufw_state(ufw_host) == (files, live)
    again = module(ufw_host, "firewall_restore", {"backend": "ufw", "dir": "/var/backups/bjnp"})
    assert again["changed"] is False, again
    print("ufw role run: %.1f s (change), %.1f s (no change)" % (first, second))


def test_ufw_absent_and_rollback_remove_leave_only_the_site_rules(ufw_host, tmp_path):
    before = sh(ufw_host, "ufw show added")
    variables = dict(bjnp_allowed_sources=["10.0.0.0/8"], bjnp_mode=["host", "gateway"],
                     bjnp_protected_destinations=["10.9.0.5"], bjnp_action="reject")
    stats, result, dummy = role(ufw_host, "ufw", tmp_path, **variables)
    assert stats["failures"] == 0, stats
    added = sh(ufw_host, "ufw show added")
    assert "ufw route reject to 10.9.0.5 port 9100 proto tcp comment 'netsec.bjnp'" in added
    assert "ufw reject 9100/tcp comment 'netsec.bjnp'" in added

    stats, result, dummy = role(ufw_host, "ufw", tmp_path, bjnp_state="absent", **variables)
    assert stats["failures"] == 0 and result["changed"] is True, (stats, result)
    assert sh(ufw_host, "ufw show added") == before

    # Nothing of ours left: rollback remove has nothing to do.
    stats, result, dummy = role(ufw_host, "rollback_ufw", tmp_path, bjnp_rollback="remove")
    assert stats["failures"] == 0 and result["changed"] is False, (stats, result)
    assert sh(ufw_host, "ufw show added") == before


def test_ufw_refuses_a_site_rule_it_would_merge_with_ours(ufw_host, tmp_path):
    sh(ufw_host, "ufw allow 9100/tcp")
    files, live = ufw_state(ufw_host)
    stats, result, dummy = role(ufw_host, "ufw", tmp_path)
    assert stats["failures"] == 1
    assert "ufw allow 9100/tcp" in stats["failed_msg"] and "Nothing was changed" in stats["failed_msg"]
    assert ufw_state(ufw_host) == (files, live)


@pytest.fixture
def firewalld_host():
    if not image_present(BASE_IMAGE):
        pytest.skip("image %s is missing: run `make image`" % BASE_IMAGE)
    name = "bjnp-fwd-%s" % uuid.uuid4().hex[:8]
    podman("run", "-d", "--name", name, "--privileged", BASE_IMAGE, "sleep", "infinity")
    try:
        # No systemd in the image: the system bus and firewalld as plain daemons.
        sh(name, "mkdir -p /run/dbus && dbus-daemon --system --fork && "
                 "{ setsid -f firewalld --nofork --nopid > /var/log/firewalld.log 2>&1 < /dev/null; } && "
                 "for i in $(seq 120); do firewall-cmd --state >/dev/null 2>&1 && break; sleep 1; done && "
                 "firewall-cmd --state")
        # A site of its own: SSH and raw print open in the public zone, an ipset, a policy.
        sh(name, "firewall-cmd --permanent --zone=public --add-service=ssh && firewall-cmd --permanent --zone=public --add-port=9100/tcp && "
                 "firewall-cmd --permanent --new-ipset=site-admins --type=hash:net && "
                 "firewall-cmd --permanent --ipset=site-admins --add-entry=192.0.2.0/24 && "
                 "firewall-cmd --permanent --new-policy=site-out && "
                 "firewall-cmd --permanent --policy=site-out --add-ingress-zone=HOST && "
                 "firewall-cmd --permanent --policy=site-out --add-egress-zone=ANY && "
                 "firewall-cmd --reload")
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def firewalld_state(container):
    files = sh(container, "cd / && find etc/firewalld -printf '%p %y %m %U:%G\\n' | sort && "
                          "find etc/firewalld -type f | sort | xargs sha256sum")
    live = sh(container, "firewall-cmd --list-all-zones; firewall-cmd --list-all-policies; "
                         "for s in $(firewall-cmd --get-ipsets); do firewall-cmd --info-ipset=$s; done; nft list ruleset")
    return files, live


def test_firewalld_backend_is_idempotent_and_restore_is_exact(firewalld_host, tmp_path):
    files, live = firewalld_state(firewalld_host)
    # Overlapping entries (firewalld refuses them in one ipset) and a /128 written as an address.
    variables = dict(bjnp_allowed_sources=["10.0.0.0/8", "10.1.2.3", "2001:db8::7/128"], bjnp_mode=["host"])

    stats, result, dummy = role(firewalld_host, "firewalld", tmp_path, check=True, **variables)
    assert stats["failures"] == 0, stats
    assert result["changed"] is True and result["message"].startswith("would change"), result
    assert firewalld_state(firewalld_host) == (files, live), "check mode changed firewalld"

    stats, result, first = role(firewalld_host, "firewalld", tmp_path, **variables)
    assert stats["failures"] == 0, stats
    assert result["changed"] is True and result["backup"].endswith("-firewalld.tar"), result
    rules = sh(firewalld_host, "firewall-cmd --policy=netsec-bjnp-host --list-rich-rules").splitlines()
    assert len(rules) == 6 and all(" drop" in rule and "source NOT ipset=" in rule for rule in rules), rules
    assert sh(firewalld_host, "firewall-cmd --ipset=netsec-bjnp-v4 --get-entries").split() == ["10.0.0.0/8"]
    assert sh(firewalld_host, "firewall-cmd --ipset=netsec-bjnp-v6 --get-entries").split() == ["2001:db8::7"]
    # The site's own configuration is untouched; ours runs first (policies before zones).
    assert "9100/tcp" in sh(firewalld_host, "firewall-cmd --zone=public --list-ports")
    assert "site-out" in sh(firewalld_host, "firewall-cmd --get-policies")
    ruleset = sh(firewalld_host, "nft list chain inet firewalld filter_IN_policy_netsec-bjnp-host_deny")
    assert "ip saddr != @netsec-bjnp-v4 tcp dport 9100 drop" in ruleset, ruleset

    stats, result, second = role(firewalld_host, "firewalld", tmp_path, **variables)
    assert stats["changed"] == 0 and result["changed"] is False and result["backup"] == "", result
    backups = sh(firewalld_host, "ls /var/backups/bjnp/").split()
    assert len([name for name in backups if name.endswith("-firewalld.json")]) == 1, backups

    restored = module(firewalld_host, "firewall_restore", {"backend": "firewalld", "dir": "/var/backups/bjnp"})
    assert restored["changed"] is True, restored
    assert "etc/firewalld/policies/netsec-bjnp-host.xml" in restored["changed_files"]
    assert firewalld_state(firewalld_host) == (files, live)
    again = module(firewalld_host, "firewall_restore", {"backend": "firewalld", "dir": "/var/backups/bjnp"})
    assert again["changed"] is False, again
    print("firewalld role run: %.1f s (change), %.1f s (no change)" % (first, second))


def test_firewalld_refusal_gateway_reject_and_rollback_remove(firewalld_host, tmp_path):
    files, live = firewalld_state(firewalld_host)
    # A runtime-only change the reload would discard: refused, nothing changed.
    sh(firewalld_host, "firewall-cmd --zone=public --add-port=7777/tcp")
    drifted = firewalld_state(firewalld_host)
    stats, result, dummy = role(firewalld_host, "firewalld", tmp_path)
    assert stats["failures"] == 1, stats
    assert "7777/tcp" in stats["failed_msg"] and "Nothing was changed" in stats["failed_msg"], stats
    assert firewalld_state(firewalld_host) == drifted
    sh(firewalld_host, "firewall-cmd --reload")
    assert firewalld_state(firewalld_host) == (files, live)

    variables = dict(bjnp_mode=["host", "gateway"], bjnp_protected_destinations=["10.9.0.5"], bjnp_action="reject")
    stats, result, dummy = role(firewalld_host, "firewalld", tmp_path, **variables)
    assert stats["failures"] == 0 and result["changed"] is True, (stats, result)
    fwd = sh(firewalld_host, "firewall-cmd --info-policy=netsec-bjnp-fwd")
    assert "egress-zones: ANY" in fwd and 'destination address="10.9.0.5" port port="9100" protocol="tcp" reject' in fwd, fwd
    assert 'family="ipv6"' not in fwd  # no IPv6 destination given: IPv6 forwarding left alone
    table = sh(firewalld_host, "nft list table inet firewalld")
    assert "jump filter_FWD_policy_netsec-bjnp-fwd" in table  # reached from the forward hook
    deny = sh(firewalld_host, "nft list chain inet firewalld filter_FWD_policy_netsec-bjnp-fwd_deny")
    assert "ip daddr 10.9.0.5 ip saddr != @netsec-bjnp-v4 tcp dport 9100 reject" in deny, deny

    stats, result, dummy = role(firewalld_host, "rollback_firewalld", tmp_path, bjnp_rollback="remove")
    assert stats["failures"] == 0 and result["changed"] is True and result["state"] == "rollback-remove", (stats, result)
    assert result["backup"].endswith("-firewalld.tar"), result
    assert firewalld_state(firewalld_host) == (files, live)


def test_firewalld_detected_and_failed_site_check_restores_the_backup(firewalld_host, tmp_path):
    files, live = firewalld_state(firewalld_host)
    # The whole role (auto detection, linux.yml block/rescue): a site check that fails after the
    # reload makes the rescue restore the backup of this run.
    stats, result, dummy = role(firewalld_host, "main", tmp_path, bjnp_backend="auto",
                                bjnp_verify_commands=["test -e /nonexistent-site-check"])
    assert stats["failures"] == 1, stats
    assert result["backend"] == "firewalld" and result["rolled_back"] is True, result
    assert result["backup"].endswith("-firewalld.tar") and "Restored" in result["message"], result
    assert firewalld_state(firewalld_host) == (files, live)
