# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewalld backend through netsec.bjnp.firewall_rules, firewall_backup and firewall_restore.

firewalld manages its own files and daemon, so these run in the project's local image (privileged,
its own network namespace), firewalld started as a plain daemon on the system D-Bus, with a site
configuration of its own. The modules run over the podman connection. After removal or restore
the configuration files and the live firewall must equal what they were before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

BIN = os.path.dirname(sys.executable)
IMAGE = "localhost/netsec-bjnp-debian12:latest"
BACKUPS = "/var/backups/bjnp"
# Overlapping entries (firewalld refuses them in one ipset) and a /128 written as an address.
HOST_ARGS = dict(backend="firewalld", allowed_sources=["10.0.0.0/8", "10.1.2.3", "2001:db8::7/128"], mode=["host"],
                 backup_dir=BACKUPS)


def podman(*args, **kwargs):
    check = kwargs.pop("check", True)
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
    """Run netsec.bjnp.<name> in the container through the podman connection; its result."""
    cmd = [os.path.join(BIN, "ansible"), "all", "-i", container + ",", "-c", "containers.podman.podman",
           "-m", "netsec.bjnp." + name, "-a", json.dumps(args)]
    cmd += (["--check"] if check else []) + (["--diff"] if diff else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][container]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result: %s %s" % (proc.stdout, proc.stderr))


def ok(result):
    assert not result.get("failed"), result.get("msg")
    return result


# No systemd in the image: the system bus and firewalld as plain daemons; the pid file lets a test stop it.
START_FIREWALLD = ("{ setsid -f bash -c 'echo $$ > /run/bjnp-firewalld.pid; exec firewalld --nofork --nopid' "
                   "> /var/log/firewalld.log 2>&1 < /dev/null; } && "
                   "for i in $(seq 120); do firewall-cmd --state >/dev/null 2>&1 && break; sleep 1; done && "
                   "firewall-cmd --state")


@pytest.fixture
def firewalld_host():
    if not image_present(IMAGE):
        pytest.skip("image %s is missing: run `make image`" % IMAGE)
    name = "bjnp-fwd-%s" % uuid.uuid4().hex[:8]
    podman("run", "-d", "--name", name, "--privileged", IMAGE, "sleep", "infinity")
    try:
        sh(name, "mkdir -p /run/dbus && dbus-daemon --system --fork && " + START_FIREWALLD)
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


def backups(container):
    return sh(container, "ls %s 2>/dev/null || true" % BACKUPS).split()


def test_check_mode_apply_idempotent_and_exact_restore(firewalld_host):
    files, live = firewalld_state(firewalld_host)
    inode = sh(firewalld_host, "stat -c %i /etc/firewalld")

    check = ok(module(firewalld_host, "firewall_rules", HOST_ARGS, check=True, diff=True))
    assert check["changed"] is True and check["backend"] == "firewalld" and check["backup"] == "", check
    assert check["message"].startswith("would change"), check
    assert sorted(d["before_header"] for d in check["diff"] if d["before_header"].startswith("/etc/")) == [
        "/etc/firewalld/ipsets/netsec-bjnp-v4.xml", "/etc/firewalld/ipsets/netsec-bjnp-v6.xml",
        "/etc/firewalld/policies/netsec-bjnp-host.xml"]
    assert firewalld_state(firewalld_host) == (files, live), "check mode changed firewalld"
    assert backups(firewalld_host) == []

    first = ok(module(firewalld_host, "firewall_rules", HOST_ARGS))
    assert first["changed"] is True and first["backup"].endswith("-firewalld.tar"), first
    assert first["plan"]["policies"] == ["netsec-bjnp-host"] and first["rolled_back"] is False
    rules = sh(firewalld_host, "firewall-cmd --policy=netsec-bjnp-host --list-rich-rules").splitlines()
    assert len(rules) == 6 and all(" drop" in rule and "source NOT ipset=" in rule for rule in rules), rules
    assert sh(firewalld_host, "firewall-cmd --ipset=netsec-bjnp-v4 --get-entries").split() == ["10.0.0.0/8"]
    assert sh(firewalld_host, "firewall-cmd --ipset=netsec-bjnp-v6 --get-entries").split() == ["2001:db8::7"]
    assert sh(firewalld_host, "stat -c %a /etc/firewalld/policies/netsec-bjnp-host.xml").strip() == "644"
    # The site's own configuration is untouched; ours runs first (policies before zones).
    assert "9100/tcp" in sh(firewalld_host, "firewall-cmd --zone=public --list-ports")
    assert "site-out" in sh(firewalld_host, "firewall-cmd --get-policies")
    chain = sh(firewalld_host, "nft list chain inet firewalld filter_IN_policy_netsec-bjnp-host_deny")
    assert "ip saddr != @netsec-bjnp-v4 tcp dport 9100 drop" in chain, chain

    again = ok(module(firewalld_host, "firewall_rules", HOST_ARGS))
    assert again["changed"] is False and again["backup"] == "", again
    assert again["message"].startswith("already in place"), again
    assert len([name for name in backups(firewalld_host) if name.endswith("-firewalld.json")]) == 1

    # /etc/firewalld lies in a lower overlayfs layer: it cannot be renamed, so the restore takes
    # the EXDEV path (the tree emptied and the archived copy moved in) and the directory stays.
    assert "EXDEV" in sh(firewalld_host, "python3 -c 'import os, errno\ntry:\n    os.rename(\"/etc/firewalld\", "
                                         "\"/etc/firewalld.x\")\nexcept OSError as e:\n    print(errno.errorcode[e.errno])'")
    restored = ok(module(firewalld_host, "firewall_restore", {"backend": "firewalld", "dir": BACKUPS}))
    assert restored["changed"] is True, restored
    assert "etc/firewalld/policies/netsec-bjnp-host.xml" in restored["changed_files"]
    assert firewalld_state(firewalld_host) == (files, live)
    assert sh(firewalld_host, "stat -c %i /etc/firewalld") == inode
    again = ok(module(firewalld_host, "firewall_restore", {"backend": "firewalld", "dir": BACKUPS}))
    assert again["changed"] is False, again


def test_runtime_only_changes_refused_gateway_reject_and_removal(firewalld_host):
    files, live = firewalld_state(firewalld_host)
    # A runtime-only change the reload would discard: refused, nothing changed, no backup.
    sh(firewalld_host, "firewall-cmd --zone=public --add-port=7777/tcp")
    drifted = firewalld_state(firewalld_host)
    refused = module(firewalld_host, "firewall_rules", dict(backend="firewalld", backup_dir=BACKUPS))
    assert refused.get("failed") is True, refused
    assert "zone public ports: 7777/tcp at runtime only" in refused["msg"], refused["msg"]
    assert "Nothing was changed" in refused["msg"], refused["msg"]
    assert firewalld_state(firewalld_host) == drifted and backups(firewalld_host) == []
    sh(firewalld_host, "firewall-cmd --reload")
    assert firewalld_state(firewalld_host) == (files, live)

    gateway = dict(backend="auto", mode=["host", "gateway"], protected_destinations=["10.9.0.5"], action="reject",
                   backup_dir=BACKUPS)
    result = ok(module(firewalld_host, "firewall_rules", gateway))
    assert result["changed"] is True and result["backend"] == "firewalld", result
    assert result["backend_reason"] == "firewalld is running", result
    fwd = sh(firewalld_host, "firewall-cmd --info-policy=netsec-bjnp-fwd")
    assert "egress-zones: ANY" in fwd and 'destination address="10.9.0.5" port port="9100" protocol="tcp" reject' in fwd, fwd
    assert 'family="ipv6"' not in fwd  # no IPv6 destination given: IPv6 forwarding left alone
    table = sh(firewalld_host, "nft list table inet firewalld")
    assert "jump filter_FWD_policy_netsec-bjnp-fwd" in table  # reached from the forward hook
    deny = sh(firewalld_host, "nft list chain inet firewalld filter_FWD_policy_netsec-bjnp-fwd_deny")
    assert "ip daddr 10.9.0.5 ip saddr != @netsec-bjnp-v4 tcp dport 9100 reject" in deny, deny

    removed = ok(module(firewalld_host, "firewall_rules", dict(gateway, state="absent")))
    assert removed["changed"] is True and removed["backup"].endswith("-firewalld.tar"), removed
    assert firewalld_state(firewalld_host) == (files, live)
    nothing = ok(module(firewalld_host, "firewall_rules", dict(gateway, state="absent")))
    assert nothing["changed"] is False and nothing["message"].startswith("nothing to remove"), nothing


def test_stopped_firewalld_is_refused_and_removal_changes_the_files_only(firewalld_host):
    ok(module(firewalld_host, "firewall_rules", HOST_ARGS))
    sh(firewalld_host, "kill $(cat /run/bjnp-firewalld.pid) && "
                       "for i in $(seq 60); do firewall-cmd --state >/dev/null 2>&1 || break; sleep 1; done")
    ours = "ls /etc/firewalld/ipsets /etc/firewalld/policies | grep netsec-bjnp || true"
    assert len(sh(firewalld_host, ours).split()) == 3

    refused = module(firewalld_host, "firewall_rules", HOST_ARGS)
    assert refused.get("failed") is True and refused["msg"].startswith("firewalld is not running"), refused
    assert refused["msg"].endswith("Nothing was changed."), refused["msg"]

    removed = ok(module(firewalld_host, "firewall_rules", dict(HOST_ARGS, state="absent")))
    assert removed["changed"] is True and "firewalld is not running" in removed["message"], removed
    assert sh(firewalld_host, ours).split() == []
    # Started again, firewalld loads a configuration without our objects.
    sh(firewalld_host, START_FIREWALLD)
    assert "netsec-bjnp" not in sh(firewalld_host, "firewall-cmd --get-policies; firewall-cmd --get-ipsets")
    again = ok(module(firewalld_host, "firewall_rules", dict(HOST_ARGS, state="absent")))
    assert again["changed"] is False, again


def test_firewall_backup_module_saves_the_tree_and_the_zones(firewalld_host):
    saved = ok(module(firewalld_host, "firewall_backup", {"backend": "firewalld", "dir": BACKUPS, "keep": 2}))
    assert saved["path"].endswith("-firewalld.tar") and saved["metadata"]["running"] is True, saved
    assert saved["metadata"]["paths"] == ["/etc/firewalld"]
    zones = saved["metadata_path"].replace(".json", ".zones")
    assert sh(firewalld_host, "cat %s" % zones) == sh(firewalld_host, "firewall-cmd --list-all-zones")
    assert "etc/firewalld/policies/site-out.xml" in sh(firewalld_host, "tar -tf %s" % saved["path"])


def test_failed_change_puts_our_objects_back_and_keeps_the_sites_changes(firewalld_host):
    ok(module(firewalld_host, "firewall_rules", HOST_ARGS))
    ours_before = sh(firewalld_host, "firewall-cmd --info-ipset=netsec-bjnp-v4; firewall-cmd --info-policy=netsec-bjnp-host")
    # The site opens a port meanwhile (permanent and live), then our next change fails its site check.
    intruder = ("sh -c 'firewall-cmd -q --permanent --zone=public --add-port=7070/tcp && "
                "firewall-cmd -q --zone=public --add-port=7070/tcp && false'")
    changed = dict(HOST_ARGS, allowed_sources=["198.51.100.7"], verify_commands=[intruder])
    failed = module(firewalld_host, "firewall_rules", changed)
    assert failed.get("failed") is True and failed["rolled_back"] is True, failed
    assert "Put our firewalld rules back" in failed["msg"], failed["msg"]
    assert sh(firewalld_host, "firewall-cmd --info-ipset=netsec-bjnp-v4; "
                              "firewall-cmd --info-policy=netsec-bjnp-host") == ours_before
    assert "7070/tcp" in sh(firewalld_host, "firewall-cmd --zone=public --list-ports")
    assert "7070/tcp" in sh(firewalld_host, "firewall-cmd --permanent --zone=public --list-ports")
