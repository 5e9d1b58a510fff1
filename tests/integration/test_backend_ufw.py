# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw backend through netsec.bjnp.firewall_rules, firewall_backup and firewall_restore.

In a privileged container of the project's ufw image (its own network namespace, a site with
rules of its own): check mode, apply, idempotence, the site's rules untouched, take-over of the
site's own exposure and its exact return on removal, refuse mode, backup and restore.
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

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections"))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import normalize_iptables  # noqa: E402

BIN = os.path.dirname(sys.executable)
UFW_IMAGE = "localhost/netsec-bjnp-debian12-ufw:latest"
ALLOWED = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="privileged podman containers need root"),
]


def podman(*args, check=True):
    proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(args), proc.stderr))
    return proc


def image_present(image):
    return shutil.which("podman") is not None and podman("image", "exists", image, check=False).returncode == 0


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


def rules(container, check=False, **args):
    return module(container, "firewall_rules", dict(dict(backend="ufw", allowed_sources=ALLOWED), **args),
                  check=check, diff=True)


@pytest.fixture
def ufw_host():
    if not image_present(UFW_IMAGE):
        pytest.skip("image %s is missing: run `make image`" % UFW_IMAGE)
    name = "bjnp-ufw-%s" % uuid.uuid4().hex[:8]
    podman("run", "-d", "--name", name, "--privileged", UFW_IMAGE, "sleep", "infinity")
    try:
        # A host with its own rules: SSH, a whole IPv6 network, a route rule, a web server.
        sh(name, "ufw --force enable; ufw allow 22/tcp; ufw allow from 2001:db8:1::/48; "
                 "ufw route allow from 10.8.0.0/16 to 10.9.0.0/16; "
                 # What ufw builds rule by rule differs in a few generated lines from what a
                 # load builds; restore loads, so start from a loaded state.
                 "ufw reload")
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def ufw_files(container):
    return sh(container, "cd / && find etc/ufw etc/default/ufw -printf '%p %y %m %U:%G\\n' | sort && "
                         "find etc/ufw etc/default/ufw -type f | sort | xargs sha256sum")


def ufw_state(container):
    live = normalize_iptables(sh(container, "iptables-save")) + normalize_iptables(sh(container, "ip6tables-save"))
    return ufw_files(container), sh(container, "ufw show added"), live


def test_apply_is_idempotent_keeps_the_site_rules_and_removes_exactly(ufw_host):
    before = ufw_state(ufw_host)

    planned = rules(ufw_host, check=True)
    assert planned["changed"] is True and planned["backend"] == "ufw", planned
    assert ufw_state(ufw_host) == before, "check mode changed ufw"

    applied = rules(ufw_host, backup_dir="/var/backups/bjnp")
    assert applied["changed"] is True and applied["backup"].endswith("-ufw.tar"), applied
    added = sh(ufw_host, "ufw show added")
    assert added.count("comment 'netsec.bjnp'") == 3 * 3 + 3  # 3 sources x 3 ports + 3 deny
    for site_rule in ("ufw allow 22/tcp", "ufw allow from 2001:db8:1::/48", "ufw route allow from 10.8.0.0/16 to 10.9.0.0/16"):
        assert site_rule in added
    numbered = [line for line in sh(ufw_host, "ufw status numbered").splitlines() if line.startswith("[")]
    # In each family our allow rules first, then our denies, then the site's rules.
    v6 = [line for line in numbered if "(v6)" in line or "2001:db8" in line]
    assert [("ALLOW" in line, "netsec.bjnp" in line) for line in v6[:6]] == [(True, True)] * 3 + [(False, True)] * 3

    again = rules(ufw_host, backup_dir="/var/backups/bjnp")
    assert again["changed"] is False and again["backup"] == "", again

    removed = rules(ufw_host, state="absent")
    assert removed["changed"] is True, removed
    assert ufw_state(ufw_host)[:2] == before[:2]


def test_site_exposure_is_taken_over_and_given_back_exactly(ufw_host):
    # The exposure the scanner reports, opened by the site itself, with a rule after it.
    sh(ufw_host, "ufw allow 9100/tcp; ufw allow 8611:8614/udp; ufw allow 80/tcp")
    before = ufw_state(ufw_host)

    refused = rules(ufw_host, ufw_site_rules="refuse")
    assert refused.get("failed") is True, refused
    assert "ufw allow 9100/tcp, ufw allow 8611:8614/udp" in refused["msg"] and "Nothing was changed" in refused["msg"]
    assert ufw_state(ufw_host) == before

    taken = rules(ufw_host)
    assert taken["changed"] is True, taken
    assert taken["plan"]["taken_over"] == ["ufw allow 9100/tcp", "ufw allow 8611:8614/udp"], taken
    added = sh(ufw_host, "ufw show added").splitlines()
    assert "ufw allow 9100/tcp" not in added and "ufw deny 9100/tcp comment 'netsec.bjnp'" in added
    assert sh(ufw_host, "stat -c '%a %U' /etc/ufw/netsec-bjnp-taken-over.json").split() == ["600", "root"]
    assert rules(ufw_host)["changed"] is False

    removed = rules(ufw_host, state="absent")
    assert removed["changed"] is True and removed["plan"]["given_back"] == taken["plan"]["taken_over"], removed
    files, added, live = ufw_state(ufw_host)
    assert added == before[1], "the site's rules are not back in their place"
    assert files == before[0]


def test_backup_and_restore_are_exact(ufw_host):
    before = ufw_state(ufw_host)
    backup = module(ufw_host, "firewall_backup", {"backend": "ufw", "dir": "/var/backups/bjnp"})
    assert backup["changed"] is True and backup["path"].endswith("-ufw.tar"), backup
    assert rules(ufw_host, backup=False)["changed"] is True
    assert ufw_state(ufw_host) != before

    restored = module(ufw_host, "firewall_restore", {"backend": "ufw", "path": backup["path"]}, diff=True)
    assert restored["changed"] is True and "etc/ufw/user.rules" in restored["changed_files"], restored
    assert ufw_state(ufw_host) == before
    again = module(ufw_host, "firewall_restore", {"backend": "ufw", "path": backup["path"]})
    assert again["changed"] is False, again


def test_inactive_ufw_is_refused(ufw_host):
    sh(ufw_host, "ufw disable")
    before = ufw_state(ufw_host)
    refused = rules(ufw_host)
    assert refused.get("failed") is True and "not active" in refused["msg"], refused
    assert ufw_state(ufw_host) == before


def test_failed_first_change_removes_ours_and_keeps_the_rule_the_site_added_meanwhile(ufw_host):
    # The site allows a port while our run is in flight, then our site check fails.
    intruder = "sh -c 'ufw allow 7070/tcp >/dev/null && false'"
    failed = rules(ufw_host, backup_dir="/var/backups/bjnp", verify_commands=[intruder])
    assert failed.get("failed") is True and failed["rolled_back"] is True, failed
    assert "Put our ufw rules back" in failed["msg"], failed["msg"]
    added = sh(ufw_host, "ufw show added")
    assert "netsec.bjnp" not in added
    assert "ufw allow 7070/tcp" in added and "ufw allow 22/tcp" in added
