# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows Firewall rendering: pure functions, tested without a Windows host.

These tests prove what the role sends to community.windows.win_firewall_rule; they are
not a test of Windows Firewall itself (see docs/windows.md for the Molecule scenario that
runs against a real Windows host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.filter import bjnp_windows as win

V4_ALL = "0.0.0.0-255.255.255.255"
V6_ALL = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
DEFAULT_PORTS = [
    {"protocol": "tcp", "port": 9100},
    {"protocol": "tcp", "port": "8611-8614"},
    {"protocol": "udp", "port": "8611-8614"},
]


def _parse(entry):
    """(first, last) ipaddress objects of one rendered entry."""
    first, dummy, last = entry.partition("-")
    first = ipaddress.ip_address(first)
    return first, ipaddress.ip_address(last) if last else first


def _blocked(ranges, address):
    address = ipaddress.ip_address(address)
    return any(first.version == address.version and first <= address <= last
               for first, last in map(_parse, ranges))


# --- bjnp_windows_remote_ranges -------------------------------------------------------------

def test_empty_allow_list_blocks_any():
    assert win.bjnp_windows_remote_ranges([]) == ["any"]
    assert win.bjnp_windows_remote_ranges(None) == ["any"]


def test_single_address_leaves_a_hole_of_one():
    assert win.bjnp_windows_remote_ranges(["192.0.2.10"]) == [
        "0.0.0.0-192.0.2.9", "192.0.2.11-255.255.255.255", V6_ALL]


def test_overlapping_cidrs_are_merged():
    result = win.bjnp_windows_remote_ranges(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"])
    assert result == ["0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255", V6_ALL]


def test_adjacent_ranges_leave_no_gap_between_them():
    result = win.bjnp_windows_remote_ranges(["192.0.2.0/25", "192.0.2.128/25", "192.0.2.0"])
    assert result == ["0.0.0.0-192.0.1.255", "192.0.3.0-255.255.255.255", V6_ALL]


def test_order_and_repeats_do_not_change_the_result():
    sources = ["2001:db8::/32", "192.0.2.7", "198.51.100.0/24", "192.0.2.7"]
    assert win.bjnp_windows_remote_ranges(sources) == win.bjnp_windows_remote_ranges(sources[::-1])


def test_two_holes_and_a_single_address_between_them():
    result = win.bjnp_windows_remote_ranges(["10.0.0.1", "10.0.0.3"])
    assert result[:3] == ["0.0.0.0-10.0.0.0", "10.0.0.2", "10.0.0.4-255.255.255.255"]


def test_range_touching_the_ends_of_the_space():
    assert win.bjnp_windows_remote_ranges(["0.0.0.0/1", "::/0"]) == ["128.0.0.0-255.255.255.255"]
    assert win.bjnp_windows_remote_ranges(["255.255.255.255", "::/0"]) == ["0.0.0.0-255.255.255.254"]


def test_ipv4_all_allowed_blocks_only_ipv6():
    assert win.bjnp_windows_remote_ranges(["0.0.0.0/0"]) == [V6_ALL]


def test_ipv6_all_allowed_blocks_only_ipv4():
    assert win.bjnp_windows_remote_ranges(["::/0"]) == [V4_ALL]


def test_ipv6_prefix():
    assert win.bjnp_windows_remote_ranges(["2001:db8::/32"]) == [
        V4_ALL, "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]


def test_mixed_families_partial_both():
    result = win.bjnp_windows_remote_ranges(["fd00::5", "172.16.0.0/12"])
    assert result == ["0.0.0.0-172.15.255.255", "172.32.0.0-255.255.255.255",
                      "::-fd00::4", "fd00::6-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]


def test_everything_allowed_means_nothing_to_block():
    assert win.bjnp_windows_remote_ranges(["0.0.0.0/0", "::/0"]) == []
    # Two halves cover the space as well as one /0 does.
    assert win.bjnp_windows_remote_ranges(["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]) == []


@pytest.mark.parametrize("bad", ["10.0.0.5/24", "printserver", "300.1.1.1"])
def test_bad_source_names_the_value(bad):
    with pytest.raises(AnsibleFilterError, match="'%s'" % bad.replace(".", r"\.")):
        win.bjnp_windows_remote_ranges(["192.0.2.1", bad])


_v4 = st.integers(0, 2 ** 32 - 1).map(ipaddress.IPv4Address)
_v6 = st.integers(0, 2 ** 128 - 1).map(ipaddress.IPv6Address)
_net4 = st.tuples(_v4, st.integers(0, 32)).map(
    lambda t: ipaddress.IPv4Network((int(t[0]) >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1])))
_net6 = st.tuples(_v6, st.integers(0, 128)).map(
    lambda t: ipaddress.IPv6Network((int(t[0]) >> (128 - t[1]) << (128 - t[1]) if t[1] else 0, t[1])))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_net4, _net6), min_size=1, max_size=8), st.lists(st.one_of(_v4, _v6), max_size=20))
def test_an_address_is_blocked_exactly_when_not_allowed(networks, probes):
    ranges = win.bjnp_windows_remote_ranges([str(n) for n in networks])
    assert "any" not in ranges
    # Probe the edges of every allowed network as well as random addresses.
    candidates = list(probes)
    for network in networks:
        candidates += [network.network_address, network.broadcast_address]
        if int(network.network_address) > 0:
            candidates.append(network.network_address - 1)
        if int(network.broadcast_address) < (2 ** network.max_prefixlen - 1):
            candidates.append(network.broadcast_address + 1)
    for address in candidates:
        allowed = any(address in n for n in networks if n.version == address.version)
        assert _blocked(ranges, address) != allowed, (address, networks, ranges)
    # Ranges are disjoint, ascending and not adjacent within a family (minimal).
    parsed = [_parse(r) for r in ranges]
    for (first_a, last_a), (first_b, last_b) in zip(parsed, parsed[1:]):
        if first_a.version == first_b.version:
            assert int(last_a) + 1 < int(first_b)


# --- bjnp_windows_rules ---------------------------------------------------------------------

def test_default_ports_give_three_named_rules():
    rules = win.bjnp_windows_rules(DEFAULT_PORTS, [], "netsec.bjnp")
    assert rules == [
        {"name": "netsec.bjnp block tcp 8611-8614", "protocol": "tcp", "localport": "8611-8614",
         "remoteip": "any", "state": "present"},
        {"name": "netsec.bjnp block tcp 9100", "protocol": "tcp", "localport": "9100",
         "remoteip": "any", "state": "present"},
        {"name": "netsec.bjnp block udp 8611-8614", "protocol": "udp", "localport": "8611-8614",
         "remoteip": "any", "state": "present"},
    ]


def test_rules_carry_the_complement_and_the_group_prefix():
    rules = win.bjnp_windows_rules([{"protocol": "tcp", "port": "9100"}], ["192.0.2.10"], "site rules")
    assert rules == [{"name": "site rules block tcp 9100", "protocol": "tcp", "localport": "9100",
                      "remoteip": "0.0.0.0-192.0.2.9,192.0.2.11-255.255.255.255," + V6_ALL,
                      "state": "present"}]


def test_overlapping_port_entries_are_merged_into_one_rule():
    rules = win.bjnp_windows_rules([{"protocol": "UDP", "port": "8611-8612"},
                                    {"protocol": "udp", "port": 8613},
                                    {"protocol": "udp", "port": "8612-8614"}])
    assert [(r["name"], r["localport"]) for r in rules] == [("netsec.bjnp block udp 8611-8614", "8611-8614")]


def test_everything_allowed_removes_the_rules_instead_of_blocking_all():
    rules = win.bjnp_windows_rules(DEFAULT_PORTS, ["0.0.0.0/0", "::/0"])
    assert [r["state"] for r in rules] == ["absent"] * 3
    assert len({r["name"] for r in rules}) == 3


@pytest.mark.parametrize("ports, match", [
    ([{"protocol": "sctp", "port": 9100}], "sctp"),
    ([{"protocol": "tcp", "port": "70000"}], "70000"),
    ([{"protocol": "tcp", "port": "8614-8611"}], "8614-8611"),
    (["9100"], "bad bjnp_ports entry"),
])
def test_bad_ports_name_the_value(ports, match):
    with pytest.raises(AnsibleFilterError, match=match):
        win.bjnp_windows_rules(ports)


# --- bjnp_windows_backup_path ---------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("20261125T120000Z-windows.wfw", "C:\\ProgramData\\netsec.bjnp\\backups\\20261125T120000Z-windows.wfw"),
    (" x.wfw ", "C:\\ProgramData\\netsec.bjnp\\backups\\x.wfw"),
    ("D:\\keep\\x.wfw", "D:\\keep\\x.wfw"),
    ("d:/keep/x.wfw", "d:/keep/x.wfw"),
    ("\\\\filer\\share\\x.wfw", "\\\\filer\\share\\x.wfw"),
])
def test_backup_path(name, expected):
    assert win.bjnp_windows_backup_path(name, "C:\\ProgramData\\netsec.bjnp\\backups\\") == expected


@pytest.mark.parametrize("name", ["", "  ", "..\\x.wfw", "sub/x.wfw", "C:x.wfw\\y"])
def test_backup_path_refuses_relative_paths(name):
    with pytest.raises(AnsibleFilterError):
        win.bjnp_windows_backup_path(name, "C:\\b")


# --- bjnp_windows_listeners -----------------------------------------------------------------

def test_listeners_keep_only_bjnp_ports_per_protocol():
    tcp = [
        {"address": "0.0.0.0", "name": "spoolsv", "pid": 2100, "port": 9100, "protocol": "tcp"},
        {"address": "::", "name": "svchost", "pid": 900, "port": 135, "protocol": "tcp"},
        {"address": "0.0.0.0", "name": "bjnpd", "pid": 77, "port": 8612, "protocol": "tcp"},
    ]
    udp = [
        {"address": "0.0.0.0", "name": "CNMNSST", "pid": 4400, "port": "8611", "protocol": "udp"},
        {"address": "0.0.0.0", "name": "dns", "pid": 3, "port": 9100, "protocol": "udp"},
    ]
    assert win.bjnp_windows_listeners(tcp, udp, DEFAULT_PORTS) == [
        {"port": 8612, "protocol": "tcp", "address": "0.0.0.0", "process": "bjnpd", "pid": 77},
        {"port": 9100, "protocol": "tcp", "address": "0.0.0.0", "process": "spoolsv", "pid": 2100},
        {"port": 8611, "protocol": "udp", "address": "0.0.0.0", "process": "CNMNSST", "pid": 4400},
    ]


def test_listeners_tolerate_missing_facts_and_odd_entries():
    assert win.bjnp_windows_listeners(None, None, DEFAULT_PORTS) == []
    assert win.bjnp_windows_listeners([{"port": None}, {"port": "x"}], [], DEFAULT_PORTS) == []
    # No owning process known (System, or access denied): null, as on Linux.
    assert win.bjnp_windows_listeners([], [{"address": "::", "port": 8612, "pid": 4}], DEFAULT_PORTS) == [
        {"port": 8612, "protocol": "udp", "address": "::", "process": None, "pid": 4}]


def test_filter_module_exports_every_filter():
    names = win.FilterModule().filters()
    assert sorted(names) == ["bjnp_windows_backup_path", "bjnp_windows_backups", "bjnp_windows_listeners",
                             "bjnp_windows_remote_ranges", "bjnp_windows_rules"]


# --- bjnp_windows_backups -------------------------------------------------------------------

def _gen(second):
    return "20261125T1200%02d.000000Z-windows" % second


def test_backups_newest_is_the_newest_complete_generation():
    names = [_gen(1) + ".wfw", _gen(1) + ".json", _gen(2) + ".wfw", _gen(2) + ".json",
             _gen(3) + ".wfw", "notes.txt", "20261125T120004.000000Z-nftables.nft"]
    result = win.bjnp_windows_backups(names)
    assert result == {"generations": [_gen(1), _gen(2)], "newest": _gen(2) + ".wfw", "prune": []}


def test_backups_accept_full_windows_paths():
    names = ["C:\\b\\" + _gen(5) + ".wfw", "C:\\b\\" + _gen(5) + ".json"]
    assert win.bjnp_windows_backups(names)["newest"] == _gen(5) + ".wfw"


def test_backups_prune_keeps_the_newest_and_an_export_in_progress():
    names = []
    for second in (1, 2, 3, 4):
        names += [_gen(second) + ".wfw", _gen(second) + ".json"]
    names += [_gen(0) + ".wfw", _gen(9) + ".wfw"]  # interrupted old one, one in progress
    result = win.bjnp_windows_backups(names, 2)
    assert result["prune"] == [_gen(0) + ".wfw", _gen(1) + ".json", _gen(1) + ".wfw",
                               _gen(2) + ".json", _gen(2) + ".wfw"]
    assert result["newest"] == _gen(4) + ".wfw"


def test_backups_empty_directory():
    assert win.bjnp_windows_backups([], 3) == {"generations": [], "newest": "", "prune": []}
    assert win.bjnp_windows_backups(None) == {"generations": [], "newest": "", "prune": []}


def test_backups_keep_must_be_positive():
    with pytest.raises(AnsibleFilterError, match="at least 1"):
        win.bjnp_windows_backups([_gen(1) + ".wfw"], 0)


# --- role wiring on a Windows-like inventory host (controller side only) ---------------------
# These run ansible-playbook on this machine: a syntax check that parses every Windows task file
# of the role, and the role's argument validation, which fails on the controller before any
# connection. They do not run a single task on Windows. The inventory points at a closed port
# on loopback, so even a wrong expectation here cannot send traffic anywhere else.

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
_WINDOWS_TASK_FILES = ["windows", "windows_state", "windows_rules", "windows_backup",
                       "windows_verify", "windows_preflight", "rollback_windows"]


def _ansible_playbook(tmp_path, playbook, *args):
    (tmp_path / "inventory.ini").write_text(
        "[windows]\nwin-lab ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh "
        "ansible_shell_type=powershell ansible_user=Administrator\n")
    (tmp_path / "play.yml").write_text(playbook)
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(_REPO, "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.pathsep.join([
        os.path.join(_REPO, ".cache", "collections"),
        os.path.join(_REPO, ".venv", "lib", "python3.11", "site-packages")]))
    env["ANSIBLE_NOCOLOR"] = "1"
    executable = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run([executable, "-i", str(tmp_path / "inventory.ini"), str(tmp_path / "play.yml")] + list(args),
                          cwd=_REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_role_and_every_windows_task_file_pass_syntax_check(tmp_path):
    plays = ["- name: The role\n  hosts: windows\n  gather_facts: false\n  roles: [netsec.bjnp.firewall]\n"]
    for name in _WINDOWS_TASK_FILES:
        plays.append("- name: %s\n  hosts: windows\n  gather_facts: false\n  tasks:\n"
                     "    - name: Import %s\n      ansible.builtin.import_role:\n"
                     "        name: netsec.bjnp.firewall\n        tasks_from: %s\n" % (name, name, name))
    plays.append("- name: Listeners\n  hosts: windows\n  gather_facts: false\n  tasks:\n"
                 "    - name: Import\n      ansible.builtin.import_role:\n"
                 "        name: netsec.bjnp.listeners\n        tasks_from: windows\n")
    result = _ansible_playbook(tmp_path, "---\n" + "".join(plays), "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("extra, named", [
    ({"bjnp_action": "deny"}, "deny"),
    ({"bjnp_state": "gone"}, "gone"),
    ({"bjnp_ports": [{"protocol": "icmp", "port": 1}]}, "icmp"),
    ({"bjnp_rollback": "undo"}, "undo"),
    ({"bjnp_backup_keep": "many"}, "bjnp_backup_keep"),
])
def test_argument_specs_refuse_bad_input_before_touching_the_host(tmp_path, extra, named):
    play = ("---\n- name: Remediate\n  hosts: windows\n  gather_facts: false\n"
            "  roles: [netsec.bjnp.firewall]\n")
    result = _ansible_playbook(tmp_path, play, "-e", json.dumps(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Validating arguments against arg spec" in output, output
    assert named in output, output
    # Failed in validation: no task reached the (unreachable) host.
    assert "UNREACHABLE" not in output, output


def test_argument_specs_accept_a_windows_configuration(tmp_path):
    """The control: good values pass validation; the run then stops at the closed loopback port."""
    play = ("---\n- name: Remediate\n  hosts: windows\n  gather_facts: false\n"
            "  roles: [netsec.bjnp.firewall]\n")
    extra = {"bjnp_allowed_sources": ["192.0.2.10", "2001:db8::/64"], "bjnp_state": "absent",
             "bjnp_windows_backup_dir": "D:\\bjnp\\backups", "bjnp_windows_rule_group": "site bjnp"}
    result = _ansible_playbook(tmp_path, play, "-e", json.dumps(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Validation of arguments failed" not in output, output
    assert "UNREACHABLE" in output, output


@pytest.mark.parametrize("playbook", ["prepare", "converge", "verify", "cleanup"])
def test_windows_scenario_playbooks_pass_syntax_check(tmp_path, playbook):
    path = os.path.join(_REPO, "extensions", "molecule", "windows", playbook + ".yml")
    result = _ansible_playbook(tmp_path, "---\n- name: %s\n  ansible.builtin.import_playbook: %s\n" % (playbook, path),
                               "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("extra, message", [
    ({"bjnp_mode": ["host", "gateway"]}, "gateway mode (forwarded traffic) is Linux only"),
    ({"bjnp_windows_rule_group": " "}, "bjnp_windows_rule_group is empty"),
])
def test_windows_tasks_refuse_what_windows_firewall_cannot_do_before_connecting(tmp_path, extra, message):
    play = ("---\n- name: Windows backend\n  hosts: windows\n  gather_facts: false\n  tasks:\n"
            "    - name: Windows tasks\n      ansible.builtin.import_role:\n"
            "        name: netsec.bjnp.firewall\n        tasks_from: windows\n")
    result = _ansible_playbook(tmp_path, play, "-e", json.dumps(extra))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert message in output, output
    assert "Nothing was changed." in output, output
    assert "UNREACHABLE" not in output, output
