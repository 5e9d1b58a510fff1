# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's safety refusals through real ansible-playbook, before the host is contacted.

Each run targets an inventory host on a leased loopback address whose port has nothing
listening, with every ssh authentication method off and in check mode: a run that passes the
input check can only end UNREACHABLE at the first task that connects, which is how the tests
tell "refused" (the assert failed, nothing unreachable) from "let through".
Asserted: closing the port ansible manages the host through (ansible_port, ssh's 22, WinRM's
5985/5986) in host mode, allow-lists covering a whole family, zone ids and IPv4-mapped
addresses are refused naming the value; the overrides and gateway mode let the run go on;
``-e bjnp_allow_any_source=false`` (a string) still refuses.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import subprocess

import pytest

from bjnp_integration import BIN, lease_loopback_address, tool_env

PLAYBOOK = """
- name: Run the firewall role
  hosts: all
  gather_facts: false
  roles:
    - role: netsec.bjnp.firewall
"""

# No way in even if something did answer: every ssh authentication method off.
NO_AUTH = ("-F /dev/null -o BatchMode=yes -o PubkeyAuthentication=no -o PasswordAuthentication=no "
           "-o KbdInteractiveAuthentication=no -o GSSAPIAuthentication=no -o ConnectTimeout=5")


@pytest.fixture
def silent_host():
    """A leased loopback address and a TCP port on it that nothing listens on."""
    lease = lease_loopback_address()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((lease.address, 0))
        port = probe.getsockname()[1]
    yield lease.address, port
    lease.release()


def run_role(tmp_path, host, extra=None, raw_extra=None, with_port=True, **hostvars):
    """ansible-playbook with the role against one inventory host ``silent``; (rc, stats, failure messages).

    ``with_port``: the inventory sets ansible_port to the silent port (else the plugin's default applies).
    """
    address, port = host
    hostvars = dict(dict(ansible_host=address, ansible_ssh_args=NO_AUTH), **hostvars)
    if with_port:
        hostvars["ansible_port"] = port
    (tmp_path / "hosts.json").write_text(json.dumps({"all": {"hosts": {"silent": hostvars}}}))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    command = [os.path.join(BIN, "ansible-playbook"), "--check", "-i", str(tmp_path / "hosts.json"),
               str(tmp_path / "play.yml"), "-e", json.dumps(extra or {})]
    for item in raw_extra or []:
        command += ["-e", item]
    proc = subprocess.run(command, capture_output=True, text=True, env=tool_env(), check=False, timeout=300)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook gave no JSON: %s %s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    results = [task["hosts"]["silent"] for play in output["plays"] for task in play["tasks"] if "silent" in task["hosts"]]
    failures = [r.get("msg", "") for r in results if r.get("failed")]
    return proc.returncode, output["stats"]["silent"], failures


def refused(run, *named):
    rc, stats, failures = run
    assert rc != 0 and stats["unreachable"] == 0, (stats, failures)
    assert failures and all(text in failures[-1] for text in named), failures
    assert "Nothing was changed" in failures[-1]


def let_through(run):
    # Past the input check: the first task that connects finds nobody on the port.
    rc, stats, failures = run
    assert rc != 0 and stats["unreachable"] == 1 and not failures, (stats, failures)


def test_closing_the_ssh_port_of_the_inventory_is_refused(tmp_path, silent_host):
    port = silent_host[1]
    refused(run_role(tmp_path, silent_host, dict(bjnp_ports=[{"protocol": "tcp", "port": "%d-%d" % (port - 1, port + 1)}])),
            "close TCP %d" % port, "connection ssh", "bjnp_allow_management_ports")


def test_closing_22_is_refused_when_ssh_uses_its_default_port(tmp_path, silent_host):
    refused(run_role(tmp_path, silent_host, dict(bjnp_ports=[{"protocol": "tcp", "port": "1-1024"}]),
                     with_port=False), "close TCP 22")


def test_closing_a_winrm_listener_is_refused(tmp_path, silent_host):
    refused(run_role(tmp_path, silent_host, dict(bjnp_ports=[{"protocol": "tcp", "port": 5985}]),
                     with_port=False, ansible_connection="winrm"), "close TCP 5985", "connection winrm")


@pytest.mark.parametrize("extra, named", [
    (dict(bjnp_allowed_sources=["0.0.0.0/0"]), "['0.0.0.0/0'] cover every IPv4 address"),
    (dict(bjnp_allowed_sources=["192.0.2.10", "::/1", "8000::/1"]), "['::/1', '8000::/1'] cover every IPv6 address"),
    (dict(bjnp_allowed_sources=["fe80::1%eth0"]), "'fe80::1%eth0' carries a zone id"),
    (dict(bjnp_allowed_sources=["::ffff:192.0.2.10"]), "give 192.0.2.10 instead"),
    (dict(bjnp_mode=["gateway"], bjnp_protected_destinations=["::ffff:192.0.2.0/120"]), "give 192.0.2.0/24 instead"),
])
def test_allow_lists_that_disable_the_fix_and_unportable_addresses_are_refused(tmp_path, silent_host, extra, named):
    refused(run_role(tmp_path, silent_host, extra), named)


def test_a_false_override_given_as_a_string_still_refuses(tmp_path, silent_host):
    refused(run_role(tmp_path, silent_host, dict(bjnp_allowed_sources=["0.0.0.0/0"]),
                     raw_extra=["bjnp_allow_any_source=false"]), "cover every IPv4 address")


@pytest.mark.parametrize("extra", [
    dict(bjnp_allowed_sources=["0.0.0.0/0", "::/0"], bjnp_allow_any_source=True),
    dict(bjnp_ports=[{"protocol": "tcp", "port": "1-65535"}], bjnp_allow_management_ports=True),
    # Gateway mode filters forwarded traffic only: the router's own connection is not at stake.
    dict(bjnp_ports=[{"protocol": "tcp", "port": "1-65535"}], bjnp_mode=["gateway"],
         bjnp_protected_destinations=["0.0.0.0/0", "::/0"]),
])
def test_the_overrides_and_gateway_mode_let_the_run_go_on(tmp_path, silent_host, extra):
    let_through(run_role(tmp_path, silent_host, extra))


@pytest.mark.parametrize("extra, named", [
    (dict(bjnp_log_attempts=True, bjnp_log_per_minute=0), "bjnp_log_per_minute 0"),
    (dict(bjnp_log_attempts=True, bjnp_log_burst=20000), "bjnp_log_burst 20000"),
])
def test_a_log_rate_outside_1_to_10000_is_refused_by_name(tmp_path, silent_host, extra, named):
    refused(run_role(tmp_path, silent_host, extra=extra), named)
