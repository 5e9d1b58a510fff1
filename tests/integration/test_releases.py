# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What differs between the Debian releases the roles are tested on, in containers of their images.

tools/build-image.sh builds localhost/netsec-bjnp-<distro>:latest for debian11, debian12 and
debian13; the Molecule matrix runs the firewall role on them (docs/testing.md, "Distributions").
Here: the listeners role, which the Molecule scenarios do not run, reads each release's ``ss``;
and firewalld 0.9 (Debian 11) without the ipset tool, which has no ipset types, is refused before
anything is written. Containers without a network (--network none): nothing is sent anywhere.
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
DISTROS = ("debian11", "debian12", "debian13")

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="privileged podman containers need root")]


def podman(*args):
    proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(args), proc.stderr))
    return proc.stdout


@pytest.fixture
def container(request):
    """A privileged container of the release's image, without a network; removed afterwards."""
    image = "localhost/netsec-bjnp-%s:latest" % request.param
    if shutil.which("podman") is None or subprocess.call(["podman", "image", "exists", image]) != 0:
        pytest.skip("image %s is missing: run `bash tools/build-image.sh %s` (or make image)" % (image, request.param))
    name = "bjnp-rel-%s-%s" % (request.param, uuid.uuid4().hex[:8])
    podman("run", "-d", "--name", name, "--network", "none", "--privileged", image, "sleep", "infinity")
    try:
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


def ansible_env():
    return dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
                ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")


def ansible(container, module, args):
    """One task in the container over the podman connection; its result."""
    proc = subprocess.run([os.path.join(BIN, "ansible"), "all", "-i", container + ",", "-c", "containers.podman.podman",
                           "-m", module, "-a", json.dumps(args)], capture_output=True, text=True, env=ansible_env(),
                          check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][container]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result: %s %s" % (proc.stdout, proc.stderr))


# A raw-print listener on TCP 9100 (every address) and a BJNP one on UDP 8611 (IPv6 any), one process.
LISTEN = ("import socket, time\n"
          "t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "t.bind(('0.0.0.0', 9100)); t.listen(1)\n"
          "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::', 8611))\n"
          "open('/run/bjnp-listening', 'w').close()\n"
          "time.sleep(3600)\n")


PLAYBOOK = """
- name: The listeners role, then what it found
  hosts: all
  gather_facts: false
  roles: [netsec.bjnp.listeners]
  tasks:
    - name: Show it
      ansible.builtin.debug:
        var: bjnp_listeners
"""


@pytest.mark.parametrize("container", DISTROS, indirect=True)
def test_listeners_role_names_the_process_on_every_release(container, tmp_path):
    podman("exec", container, "sh", "-c", "setsid -f python3 -c \"$0\" > /dev/null 2>&1 < /dev/null; "
                                          "for i in $(seq 50); do [ -e /run/bjnp-listening ] && exit 0; sleep 0.1; done; exit 1",
           LISTEN)
    playbook = tmp_path / "listeners.yml"
    playbook.write_text(PLAYBOOK)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", container + ",", "-c", "containers.podman.podman",
                           str(playbook)], capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    listeners = json.loads(proc.stdout)["plays"][0]["tasks"][-1]["hosts"][container]["bjnp_listeners"]
    assert sorted((s["protocol"], s["port"], s["process"]) for s in listeners) == [
        ("tcp", 9100, "python3"), ("udp", 8611, "python3")], listeners
    assert all(s["pid"] for s in listeners), listeners


@pytest.mark.parametrize("container", ["debian11"], indirect=True)
def test_firewalld_0_9_without_ipset_types_is_refused_before_any_change(container):
    # firewalld 0.9.3 takes its ipset types from the ipset tool; without it (a host installed
    # without Recommends) its reload rejected our ipsets after our files were written.
    podman("exec", container, "bash", "-euo", "pipefail", "-c",
           "mv /usr/sbin/ipset /usr/sbin/ipset.off && mkdir -p /run/dbus && dbus-daemon --system --fork && "
           "{ setsid -f firewalld --nofork --nopid > /var/log/firewalld.log 2>&1 < /dev/null; } && "
           "for i in $(seq 120); do firewall-cmd --state > /dev/null 2>&1 && break; sleep 1; done && "
           "test -z \"$(firewall-cmd --get-ipset-types)\"")
    before = podman("exec", container, "sh", "-c", "find /etc/firewalld /var/backups -newer /etc/hostname 2>/dev/null | sort; "
                                                   "firewall-cmd --get-ipsets; firewall-cmd --get-policies")
    result = ansible(container, "netsec.bjnp.firewall_rules",
                     {"backend": "firewalld", "allowed_sources": ["192.0.2.10"], "mode": ["host"]})
    assert result.get("failed") and not result.get("changed"), result
    assert result["msg"].startswith("firewalld cannot use ipsets of type hash:net here (firewall-cmd "
                                    "--get-ipset-types lists: none)"), result["msg"]
    assert "install the ipset package" in result["msg"] and result["msg"].endswith("Nothing was changed.")
    after = podman("exec", container, "sh", "-c", "find /etc/firewalld /var/backups -newer /etc/hostname 2>/dev/null | sort; "
                                                  "firewall-cmd --get-ipsets; firewall-cmd --get-policies")
    assert after == before
