# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A change that cuts the controller off reverts by itself (bjnp_confirm_timeout).

The controller runs in one namespace and reaches the target over SSH (a real sshd in a second
namespace, over a veth pair, pipelining on as in ansible.cfg). The play closes the very port it
manages the host through: the session dies mid-run, the controller cannot confirm, and the timer
the module left on the target must put the firewall back; SSH then works again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import time

import pytest

from bjnp_integration import BIN, NamespacePair, in_netns, netns_sh, tool_env, wait_until

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and firewall rules need root"),
    pytest.mark.skipif(not os.path.exists(SSHD), reason="openssh-server is not installed (tools/install-host-deps.sh)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables (nft) is not installed"),
]

PLAYBOOK = """
- name: Close the management port itself, with a dead man's switch
  hosts: target
  gather_facts: false
  roles:
    - role: netsec.bjnp.firewall
      vars:
        bjnp_backend: nftables
        bjnp_ports: [{protocol: tcp, port: 22}]
        bjnp_allow_management_ports: true
        bjnp_confirm_timeout: %(timeout)d
        bjnp_backup_dir: %(tmp)s/backups
        bjnp_nftables_persist_path: %(tmp)s/nftables.d/netsec-bjnp.nft
        bjnp_nftables_conf: %(tmp)s/nftables.conf
        bjnp_nftables_enable_service: false
"""


@pytest.fixture
def ssh_target(tmp_path):
    """(namespace pair, inventory path): sshd in the lab namespace, the controller's key authorised."""
    pair = NamespacePair()
    sshd = None
    try:
        for name in ("client_key", "host_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
        shutil.copy(str(tmp_path / "client_key.pub"), str(tmp_path / "authorized_keys"))
        (tmp_path / "sshd_config").write_text(
            "ListenAddress %s\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nPidFile %s\n"
            % (pair.LAB_V4, tmp_path / "host_key", tmp_path / "authorized_keys", tmp_path / "sshd.pid"))
        os.makedirs("/run/sshd", exist_ok=True)
        sshd = subprocess.Popen(in_netns(pair.lab, [SSHD, "-D", "-e", "-f", str(tmp_path / "sshd_config")]),
                                stdout=subprocess.DEVNULL, stderr=open(str(tmp_path / "sshd.log"), "w"))
        inventory = tmp_path / "inventory.ini"
        inventory.write_text(
            "[all]\ntarget ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s "
            "ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o ServerAliveInterval=1 -o ServerAliveCountMax=3 "
            "-o ControlPath=%s/cp-%%%%C'\n" % (pair.LAB_V4, tmp_path / "client_key", tmp_path))
        assert wait_until(lambda: ansible(pair, inventory, ["-m", "ansible.builtin.ping"]).returncode == 0, 20), \
            (tmp_path / "sshd.log").read_text()
        yield pair, inventory
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait(10)
        pair.delete()


def ansible(pair, inventory, args, command="ansible", timeout=180):
    argv = [os.path.join(BIN, command), "-i", str(inventory)] + (["all"] if command == "ansible" else []) + args
    return subprocess.run(in_netns(pair.scan, argv), capture_output=True, text=True, timeout=timeout,
                          env=dict(tool_env(), ANSIBLE_TIMEOUT="5", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"),
                          check=False)


def test_a_change_that_locks_the_controller_out_reverts_by_itself(ssh_target, tmp_path):
    pair, inventory = ssh_target
    timeout = 20
    playbook = tmp_path / "lockout.yml"
    playbook.write_text(PLAYBOOK % dict(timeout=timeout, tmp=tmp_path))
    started = time.time()
    run = ansible(pair, inventory, [str(playbook)], command="ansible-playbook")
    output = run.stdout + run.stderr
    assert run.returncode != 0 and "UNREACHABLE" in output, output
    # The change happened: our table was loaded (the backup proves the module got that far).
    assert os.listdir(str(tmp_path / "backups")), output
    assert wait_until(lambda: "table inet bjnp" not in netns_sh(pair.lab, "nft list tables"),
                      timeout + 30 - (time.time() - started)), "the target never reverted"
    assert ansible(pair, inventory, ["-m", "ansible.builtin.ping"]).returncode == 0, "SSH is still closed"
