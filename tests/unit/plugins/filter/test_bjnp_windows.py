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

import base64
import fnmatch
import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import sysconfig
import time

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.filter import bjnp_windows as win
from ansible_collections.netsec.bjnp.plugins.filter import bjnp_windows_scripts as scripts

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
    assert sorted(names) == ["bjnp_windows_backup_path", "bjnp_windows_backups", "bjnp_windows_diff",
                             "bjnp_windows_input", "bjnp_windows_listeners", "bjnp_windows_logging_plan",
                             "bjnp_windows_remote_ranges", "bjnp_windows_rules"]
    assert sorted(scripts.FilterModule().filters()) == ["bjnp_windows_encoded_command", "bjnp_windows_script"]


def test_every_filter_has_its_documentation():
    directory = os.path.join(_REPO, "plugins", "filter")
    for name in list(win.FilterModule().filters()) + list(scripts.FilterModule().filters()):
        with open(os.path.join(directory, name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


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
_WINDOWS_TASK_FILES = ["windows", "windows_state", "windows_rules", "windows_backup", "windows_backup_dir",
                       "windows_verify", "windows_preflight", "windows_confirm", "windows_import", "rollback_windows",
                       "windows_logging", "windows_logging_state", "attempts_windows"]


def _ansible_playbook(tmp_path, playbook, *args):
    (tmp_path / "inventory.ini").write_text(
        "[windows]\nwin-lab ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh "
        "ansible_shell_type=powershell ansible_user=Administrator\n")
    (tmp_path / "play.yml").write_text(playbook)
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(_REPO, "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.pathsep.join([
        os.path.join(_REPO, ".cache", "collections"),
        sysconfig.get_path("purelib")]))
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


# --- the rule group: exact, never a pattern (issue "Safe on a real fleet", Windows 1) ----------
# Get-NetFirewallRule -Group takes wildcards: a group '*' made every rule of the host "ours".

@pytest.mark.parametrize("group", [
    "*", "netsec*", "net?sec", "[a-z]*", "site [1]",
    "@FirewallAPI.dll,-28502", "o'brien", 'say "hi"', "a;b", "a|b", "a\\b", "a/b", "tab\there",
    " lead", "trail ", "trail.", "x" * 65, "Drucker-\u00fcberwachung",
])
def test_rule_group_refuses_wildcards_and_unsafe_characters(group):
    problems = win.bjnp_windows_input({"rule_group": group, "backup_dir": "C:\\b"})["problems"]
    assert len(problems) == 1 and "'%s'" % group in problems[0], problems
    if any(c in group for c in "*?[]"):
        assert "wildcard" in problems[0]
    # The renderer refuses it too, for anyone calling the filter directly.
    with pytest.raises(AnsibleFilterError, match="bjnp_windows_rule_group"):
        win.bjnp_windows_rules(DEFAULT_PORTS, [], group)


@pytest.mark.parametrize("group", [None, "", "   "])
def test_rule_group_empty(group):
    assert win.bjnp_windows_input({"rule_group": group, "backup_dir": "C:\\b"})["problems"] == [
        "bjnp_windows_rule_group is empty: the role only ever touches the rules of its own group"]


@pytest.mark.parametrize("group", ["netsec.bjnp", "site rules", "A-1_b.c", "x" * 64, "7"])
def test_rule_group_accepts_plain_names(group):
    assert win.bjnp_windows_input({"rule_group": group, "backup_dir": "C:\\b"}) == {"problems": []}
    assert win.bjnp_windows_rules(DEFAULT_PORTS, [], group)[0]["name"] == group + " block tcp 8611-8614"


def test_windows_input_refuses_gateway_mode_and_names_it():
    problems = win.bjnp_windows_input({"mode": ["host", "gateway"], "rule_group": "g", "backup_dir": "C:\\b"})["problems"]
    assert problems == ["bjnp_mode host, gateway: gateway mode (forwarded traffic) is Linux only; Windows hosts "
                        "take bjnp_mode [host]"]
    # A roll-back passes no mode: gateway settings meant for Linux hosts do not block it.
    assert win.bjnp_windows_input({"rule_group": "g", "backup_dir": "C:\\b"})["problems"] == []


@pytest.mark.parametrize("backup_dir", [
    "C:\\ProgramData\\netsec.bjnp\\backups", "C:\\ProgramData\\netsec.bjnp\\backups\\", "D:/bjnp/backups",
    "\\\\filer\\share\\bjnp",
])
def test_windows_input_accepts_backup_directories(backup_dir):
    assert win.bjnp_windows_input({"rule_group": "g", "backup_dir": backup_dir})["problems"] == []


@pytest.mark.parametrize("backup_dir, named", [
    ("", "bjnp_windows_backup_dir is empty"),
    ("backups", "'backups' is not an absolute Windows path"),
    ("C:backups", "'C:backups' is not an absolute Windows path"),
    ("C:\\ProgramData\\..\\Users\\Public", "'..' is a relative path component"),
    ("C:\\b*", "'b*' holds '*'"),
    ("C:\\b\\x:stream", "'x:stream' holds ':'"),
    ("C:\\b\\NUL", "'NUL' is a Windows device name"),
    ("C:\\b\\com1.d", "'com1.d' is a Windows device name"),
    ("C:\\b\\dir.", "'dir.' ends with a space or '.'"),
    ("\\\\?\\C:\\b", "is not a \\\\server\\share\\... path"),
    ("\\\\.\\pipe\\x", "is not a \\\\server\\share\\... path"),
    ("\\\\filer", "is not a \\\\server\\share\\... path"),
])
def test_windows_input_refuses_unsafe_backup_directories(backup_dir, named):
    problems = win.bjnp_windows_input({"rule_group": "g", "backup_dir": backup_dir})["problems"]
    assert len(problems) == 1 and named in problems[0], problems


@pytest.mark.parametrize("values, named", [
    ({"confirm_timeout": -1}, "bjnp_confirm_timeout -1 must be 0 to 86400 seconds"),
    ({"confirm_timeout": 86401}, "bjnp_confirm_timeout 86401 must be 0 to 86400 seconds"),
    ({"confirm_timeout": "soon"}, "bjnp_confirm_timeout 'soon' is not a whole number of seconds"),
    ({"confirm_timeout": True}, "bjnp_confirm_timeout True is not a whole number of seconds"),
    ({"confirm_timeout": 1.5}, "bjnp_confirm_timeout 1.5 is not a whole number of seconds"),
    ({"restore_timeout": 10}, "bjnp_windows_restore_timeout 10 must be 30 to 86400 seconds"),
])
def test_windows_input_refuses_bad_timeouts(values, named):
    values.update(rule_group="g", backup_dir="C:\\b")
    assert win.bjnp_windows_input(values)["problems"] == [named]


def test_windows_input_accepts_timeouts():
    assert win.bjnp_windows_input({"rule_group": "g", "backup_dir": "C:\\b", "confirm_timeout": 0,
                                   "restore_timeout": 300})["problems"] == []
    assert win.bjnp_windows_input({"rule_group": "g", "backup_dir": "C:\\b", "confirm_timeout": "86400",
                                   "restore_timeout": 30})["problems"] == []


def test_windows_input_needs_a_dict():
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        win.bjnp_windows_input(["g"])


# --- long allow-lists: at most 1,000 remote addresses per rule (Windows 3) ---------------------

def _hosts(count):
    return ["10.%d.%d.1" % (n // 256, n % 256) for n in range(count)]


def test_a_long_complement_is_split_into_rules_of_at_most_1000_entries():
    sources = _hosts(1500)  # 1,501 IPv4 gaps and all of IPv6: 1,502 entries
    complement = win.bjnp_windows_remote_ranges(sources)
    assert len(complement) == 1502
    rules = win.bjnp_windows_rules([{"protocol": "tcp", "port": 9100}], sources)
    assert [r["name"] for r in rules] == ["netsec.bjnp block tcp 9100", "netsec.bjnp block tcp 9100 part 2"]
    entries = [r["remoteip"].split(",") for r in rules]
    assert [len(e) for e in entries] == [1000, 502]
    # Together the parts block exactly the complement, in order, nothing twice.
    assert entries[0] + entries[1] == complement
    assert all(r["state"] == "present" and r["localport"] == "9100" for r in rules)


def test_split_rule_names_are_deterministic_and_per_port_range():
    sources = _hosts(1200)
    rules = win.bjnp_windows_rules(DEFAULT_PORTS, sources)
    assert [r["name"] for r in rules] == [
        "netsec.bjnp block tcp 8611-8614", "netsec.bjnp block tcp 8611-8614 part 2",
        "netsec.bjnp block tcp 9100", "netsec.bjnp block tcp 9100 part 2",
        "netsec.bjnp block udp 8611-8614", "netsec.bjnp block udp 8611-8614 part 2"]
    assert rules == win.bjnp_windows_rules(DEFAULT_PORTS[::-1], sources[::-1])


def test_split_size_is_a_parameter():
    rules = win.bjnp_windows_rules([{"protocol": "udp", "port": 8612}], ["10.0.0.1", "10.0.0.3"], "g", 2)
    assert [(r["name"], r["remoteip"]) for r in rules] == [
        ("g block udp 8612", "0.0.0.0-10.0.0.0,10.0.0.2"),
        ("g block udp 8612 part 2", "10.0.0.4-255.255.255.255," + V6_ALL)]
    with pytest.raises(AnsibleFilterError, match="at least 1"):
        win.bjnp_windows_rules(DEFAULT_PORTS, [], "g", 0)


def test_a_short_list_keeps_one_rule_with_the_old_name():
    rules = win.bjnp_windows_rules([{"protocol": "tcp", "port": 9100}], _hosts(998))
    assert [r["name"] for r in rules] == ["netsec.bjnp block tcp 9100"]
    assert len(rules[0]["remoteip"].split(",")) == 1000


# --- backup names (Windows 4) ------------------------------------------------------------------

def test_backups_match_names_in_any_case_and_return_them_as_listed():
    names = [_gen(1).upper() + ".WFW", _gen(1) + ".Json", _gen(2) + ".wfw", _gen(2).lower() + ".JSON",
             _gen(3) + ".wfw"]
    result = win.bjnp_windows_backups(names, 1)
    assert result["generations"] == [_gen(1).upper(), _gen(2)]
    assert result["newest"] == _gen(2) + ".wfw"
    assert result["prune"] == [_gen(1) + ".Json", _gen(1).upper() + ".WFW"]


@pytest.mark.parametrize("name, named", [
    ("C:x.wfw", "'C:x.wfw' is drive-relative or names a data stream"),
    ("x.wfw:evil", "'x.wfw:evil' is drive-relative or names a data stream"),
    ("NUL.wfw", "'NUL.wfw' is a Windows device name"),
    ("con.wfw", "'con.wfw' is a Windows device name"),
    ("x*.wfw", "'x*.wfw' holds '*'"),
    ("x.wfw.", "'x.wfw.' ends with a space or '.'"),
    ("..", "'..' is a relative path component"),
    ("x.json", "'x.json' is not a netsh export (*.wfw)"),
    ("D:\\keep\\..\\x.wfw", "'..' is a relative path component"),
    ("D:\\keep\\LPT1.wfw", "'LPT1.wfw' is a Windows device name"),
    ("D:\\keep\\x.wfw:s", "'x.wfw:s' holds ':'"),
    ("\\\\?\\D:\\x.wfw", "is not a \\\\server\\share\\... path"),
    ("\\\\.\\pipe\\x.wfw", "is not a \\\\server\\share\\... path"),
    ("D:\\keep\\x.txt", "'D:\\keep\\x.txt' is not a netsh export (*.wfw)"),
])
def test_backup_path_refuses_unsafe_names_and_names_them(name, named):
    with pytest.raises(AnsibleFilterError) as info:
        win.bjnp_windows_backup_path(name, "C:\\b")
    assert named in str(info.value)


def test_backup_path_accepts_the_extension_in_any_case():
    assert win.bjnp_windows_backup_path(_gen(1) + ".WFW", "C:\\b") == "C:\\b\\" + _gen(1) + ".WFW"


# --- the diff, shaped like firewall_rules' ------------------------------------------------------

def test_diff_is_one_entry_of_sorted_lines():
    before = [{"name": "g block tcp 9100", "protocol": "tcp", "localport": "9100", "remoteip": "b,a"}]
    after = win.bjnp_windows_rules(DEFAULT_PORTS, [], "g")
    assert win.bjnp_windows_diff(before, after, "g") == [{
        "before_header": "Windows Firewall group g", "after_header": "Windows Firewall group g",
        "before": "g block tcp 9100: tcp 9100 from a,b\n",
        "after": "g block tcp 8611-8614: tcp 8611-8614 from any\ng block tcp 9100: tcp 9100 from any\n"
                 "g block udp 8611-8614: udp 8611-8614 from any\n"}]
    assert win.bjnp_windows_diff([], [], "g")[0]["before"] == ""


# --- the PowerShell scripts (plugins/filter/bjnp_windows_scripts.py) ---------------------------
# No PowerShell here: these check the text structurally, what reaches it, and how parameters are
# passed. tree-sitter-powershell (in the locked toolchain) parses every one of them.

_SAMPLE_PARAMS = {
    "state": {"group": "netsec.bjnp", "wanted": ["netsec.bjnp block tcp 9100"]},
    "remove": {"group": "netsec.bjnp", "names": None, "check": False},
    "revert": {"group": "netsec.bjnp", "names": None, "check": False, "marker": "C:\\b\\confirm-netsec.bjnp.json"},
    "arm": {"path": "\\netsec.bjnp\\", "name": "revert netsec.bjnp", "seconds": 300, "argument": "-NoProfile",
            "marker": "C:\\b\\m.json", "description": "d"},
    "confirm": {"path": "\\netsec.bjnp\\", "name": "revert netsec.bjnp", "marker": "C:\\b\\m.json"},
    "disarm": {"path": "\\netsec.bjnp\\", "name": "revert netsec.bjnp", "marker": "C:\\b\\m.json"},
    "restore_start": {"path": "\\netsec.bjnp\\", "name": "restore netsec.bjnp", "argument": "-NoProfile",
                      "result": "C:\\b\\r.json", "description": "d"},
    "restore": {"path": "C:\\b\\x.wfw", "sha256": "0" * 64, "result": "C:\\b\\r.json", "nonce": "n"},
    "restore_result": {"result": "C:\\b\\r.json"},
    "unregister": {"path": "\\netsec.bjnp\\", "name": "restore netsec.bjnp"},
    "free_space": {"dir": "C:\\b"},
    "logging_state": {"record": "C:\\b\\logging-netsec.bjnp.json"},
    "logging_enable": {"record": "C:\\b\\logging-netsec.bjnp.json", "text": "{}",
                       "set": [{"profile": "Domain", "setting": "LogBlocked", "before": "False", "after": "True"}]},
    "logging_restore": {"record": "C:\\b\\logging-netsec.bjnp.json", "text": None, "set": []},
    "attempts_read": {"since": 1764579600, "max_bytes": 1048576},
}


def _powershell_problem(text):
    """An unbalanced bracket or an unterminated string, comment or here-string, or None.

    A structural check of PowerShell text, not a parser: strings ('...' with '' escapes,
    "..." with backtick escapes), # and <# #> comments and here-strings are skipped, then
    (), {} and [] must pair up.
    """
    closing = {")": "(", "}": "{", "]": "["}
    stack, index, size = [], 0, len(text)
    while index < size:
        char = text[index]
        if char == "`":
            index += 2
        elif text.startswith("<#", index):
            end = text.find("#>", index + 2)
            if end < 0:
                return "unterminated <# comment at %d" % index
            index = end + 2
        elif char == "#":
            end = text.find("\n", index)
            index = size if end < 0 else end
        elif text.startswith("@'", index) or text.startswith('@"', index):
            end = text.find("\n" + text[index + 1] + "@", index)
            if end < 0:
                return "unterminated here-string at %d" % index
            index = end + 3
        elif char in "'\"":
            end = index + 1
            while True:
                if end >= size:
                    return "unterminated %s string at %d" % (char, index)
                if char == '"' and text[end] == "`":
                    end += 2
                    continue
                if text[end] == char:
                    if text.startswith(char * 2, end):
                        end += 2
                        continue
                    break
                end += 1
            index = end + 1
        else:
            if char in "({[":
                stack.append((char, index))
            elif char in closing:
                if not stack or stack[-1][0] != closing[char]:
                    return "unbalanced %r at %d" % (char, index)
                stack.pop()
            index += 1
    return "unclosed %r at %d" % stack[-1] if stack else None


@pytest.mark.parametrize("text, problem", [
    ("if ($a) { 'x' ", "unclosed '{'"),
    ("$a = 'it''s", "unterminated ' string"),
    ('$a = "x`"', 'unterminated " string'),
    ("@(1, 2]", "unbalanced ']'"),
    ("<# open", "unterminated <# comment"),
    ("# } only a comment\n'{' + \"(\"", None),
])
def test_the_structural_check_catches_what_it_should(text, problem):
    found = _powershell_problem(text)
    assert (found is None) if problem is None else (problem in found), found


def _inline_powershell():
    """Every literal win_shell body of the role's Windows tasks and the Molecule scenario."""
    found = []
    paths = [os.path.join(_REPO, "roles", "firewall", "tasks", name + ".yml") for name in _WINDOWS_TASK_FILES]
    directory = os.path.join(_REPO, "extensions", "molecule", "windows")
    paths += [os.path.join(directory, name) for name in sorted(os.listdir(directory)) if name.endswith(".yml")]
    for path in paths:
        for task in _tasks(path):
            body = task.get("ansible.windows.win_shell")
            if isinstance(body, str) and "{{" not in body:
                found.append(("%s: %s" % (os.path.basename(path), task.get("name")), body))
    return found


def _all_powershell():
    rendered = [("script %s" % name, scripts.bjnp_windows_script(name, _SAMPLE_PARAMS[name]))
                for name in scripts.script_names()]
    return rendered + _inline_powershell()


def test_every_script_has_sample_parameters():
    assert sorted(_SAMPLE_PARAMS) == scripts.script_names()


def test_every_powershell_text_is_structurally_sound():
    texts = _all_powershell()
    assert len(texts) > len(_SAMPLE_PARAMS)  # the Molecule bodies are in as well
    for where, text in texts:
        assert _powershell_problem(text) is None, (where, _powershell_problem(text))
        # Line continuations must end their line, or PowerShell reads the next line alone.
        assert not any(line.rstrip(" ") != line and line.rstrip(" ").endswith("`") for line in text.splitlines()), where


def test_every_powershell_text_parses_with_tree_sitter():
    import tree_sitter
    import tree_sitter_powershell
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    # The parser does see broken PowerShell, so a clean parse means something.
    assert parser.parse(b"if ($x) { Get-Item ").root_node.has_error
    for where, text in _all_powershell():
        assert not parser.parse(text.encode("utf-8")).root_node.has_error, where


def test_scripts_carry_no_template_syntax():
    # win_shell gets the filter's output; it must never look like Jinja to anyone.
    for name in scripts.script_names():
        body = scripts._SCRIPTS[name][1]
        assert not any(marker in body for marker in ("{{", "{%", "{#")), name


def _script_params(text):
    """The parameters a rendered script decodes (its base64 JSON literal)."""
    match = re.search(r"FromBase64String\('([A-Za-z0-9+/=]*)'\)", text)
    return json.loads(base64.b64decode(match.group(1)).decode("utf-8"))


@pytest.mark.parametrize("group", ["netsec.bjnp", "x'; Remove-NetFirewallRule -All; '", "$(evil)", "a\"b`c\nd"])
def test_parameters_travel_as_data_never_as_code(group):
    text = scripts.bjnp_windows_script("remove", {"group": group, "names": ["n'1", "n2"], "check": True})
    assert _script_params(text) == {"group": group, "names": ["n'1", "n2"], "check": True}
    # The value appears nowhere in the code itself.
    assert group not in text.split("\n", 2)[2]
    assert text.endswith(scripts._SCRIPTS["remove"][1])


def test_script_parameters_are_checked():
    with pytest.raises(AnsibleFilterError, match="missing parameter.s. check, names"):
        scripts.bjnp_windows_script("remove", {"group": "g"})
    with pytest.raises(AnsibleFilterError, match="unknown parameter.s. extra"):
        scripts.bjnp_windows_script("free_space", {"dir": "C:\\b", "extra": 1})
    with pytest.raises(AnsibleFilterError, match="no script 'format_disk'"):
        scripts.bjnp_windows_script("format_disk", {})


def test_encoded_command_decodes_to_the_script():
    params = _SAMPLE_PARAMS["revert"]
    argument = scripts.bjnp_windows_encoded_command("revert", params)
    prefix = "-NoProfile -NonInteractive -EncodedCommand "
    assert argument.startswith(prefix)
    decoded = base64.b64decode(argument[len(prefix):]).decode("utf-16-le")
    assert decoded == scripts.bjnp_windows_script("revert", params)
    # The longest group and marker still fit a scheduled task's command line.
    long_params = dict(params, group="g" * 64, marker="C:\\" + "d" * 200 + "\\confirm-" + "g" * 64 + ".json")
    assert len(scripts.bjnp_windows_encoded_command("revert", long_params)) <= scripts.MAX_COMMAND_LINE
    with pytest.raises(AnsibleFilterError, match="more than the 8000"):
        scripts.bjnp_windows_encoded_command("restore", dict(_SAMPLE_PARAMS["restore"], nonce="n" * 8000))


# Cmdlet parameters that take wildcard patterns: selecting our rules with them would take others'.
_PATTERN_SELECTION = re.compile(r"-NetFirewallRule\b[^\n|]*\s-(Group|DisplayGroup|DisplayName|Name)\b")


def test_scripts_select_our_rules_exactly_and_remove_them_by_instance():
    for name in scripts.script_names():
        body = scripts._SCRIPTS[name][1]
        assert not _PATTERN_SELECTION.search(body), name
    for name in ("state", "remove", "revert"):
        body = scripts._SCRIPTS[name][1]
        assert "$_.Group -ceq $group" in body, name
        assert "StartsWith($prefix, [System.StringComparison]::Ordinal)" in body, name
    for name in ("remove", "revert"):
        # Each rule object piped on its own: removal by its unique instance, not by any name.
        assert "$rule | Remove-NetFirewallRule\n" in scripts._SCRIPTS[name][1]
        assert scripts._SCRIPTS[name][1].count("Remove-NetFirewallRule") == 1


def test_the_whole_policy_is_imported_only_by_the_detached_restore():
    for name in scripts.script_names():
        assert ("advfirewall import" in scripts._SCRIPTS[name][1]) == (name == "restore"), name
    # And the restore checks the file's SHA-256 itself before importing it.
    body = scripts._SCRIPTS["restore"][1]
    assert body.index("Get-FileHash") < body.index("advfirewall import")


def test_the_timer_and_the_confirm_race_for_one_lock():
    for name in ("revert", "confirm", "disarm"):
        assert "[System.IO.FileMode]::CreateNew" in scripts._SCRIPTS[name][1], name
    revert = scripts._SCRIPTS["revert"][1]
    # The timer takes the lock before it removes anything.
    assert revert.index("CreateNew") < revert.index("Remove-NetFirewallRule")
    assert "-UserId 'S-1-5-18'" in scripts._SCRIPTS["arm"][1]
    assert "New-ScheduledTaskTrigger -Once -At $at" in scripts._SCRIPTS["arm"][1]


# --- what the task files run (parsed as YAML, never executed here) -----------------------------

def _tasks(path):
    """Every task of a task file or playbook, blocks, rescues and plays flattened."""
    with open(path) as handle:
        data = yaml.safe_load(handle) or []
    found = []

    def walk(items):
        for item in items or []:
            if not isinstance(item, dict):
                continue
            found.append(item)
            for key in ("tasks", "block", "rescue", "always", "pre_tasks", "post_tasks"):
                walk(item.get(key))
    walk(data)
    return found


def _role_task_files():
    directory = os.path.join(_REPO, "roles", "firewall", "tasks")
    return [os.path.join(directory, name) for name in sorted(os.listdir(directory))
            if name.startswith("windows") or name.endswith("_windows.yml")]


def test_every_windows_task_file_is_checked_here():
    assert sorted(os.path.basename(p)[:-4] for p in _role_task_files()) == sorted(_WINDOWS_TASK_FILES)


def test_win_firewall_rule_only_ever_creates_or_updates_rules_by_name():
    # Its removal matches display names in every group (and its group match ignores case):
    # the role removes through the "remove" script only.
    used = 0
    for path in _role_task_files():
        for task in _tasks(path):
            args = task.get("community.windows.win_firewall_rule")
            if args is not None:
                used += 1
                assert args.get("state") == "present" and "name" in args, (path, task.get("name"))
    assert used == 1


def test_no_task_passes_a_group_pattern_to_the_firewall_cmdlets():
    for path in _role_task_files():
        with open(path) as handle:
            text = handle.read()
        assert not _PATTERN_SELECTION.search(text), path


def _rescue_tasks(path):
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return [task for item in data if isinstance(item, dict) and "rescue" in item for task in _tasks_in(item["rescue"])]


def _tasks_in(items):
    found = []
    for item in items or []:
        found.append(item)
        for key in ("block", "rescue", "always"):
            found.extend(_tasks_in(item.get(key)))
    return found


def test_the_rescue_never_imports_the_policy_over_the_session():
    rescue = _rescue_tasks(os.path.join(_REPO, "roles", "firewall", "tasks", "windows.yml"))
    assert rescue
    for task in rescue:
        assert "ansible.windows.win_command" not in task, task.get("name")
        assert "advfirewall" not in json.dumps(task), task.get("name")
    # The rescue removes our group ("remove"), or with bjnp_rollback restore imports detached.
    assert any("'remove'" in str(task.get("ansible.windows.win_shell", "")) for task in rescue)
    assert any(task.get("ansible.builtin.include_tasks") == "windows_import.yml" for task in rescue)
    for path in _role_task_files():
        for task in _tasks(path):
            assert "advfirewall import" not in json.dumps(task.get("ansible.windows.win_command", "")), path


def test_the_detached_import_reconnects_before_reading_its_outcome():
    tasks = _tasks(os.path.join(_REPO, "roles", "firewall", "tasks", "windows_import.yml"))
    steps = [(next(key for key in task if key.count(".") == 2), str(task)) for task in tasks]
    start = next(i for i, (action, text) in enumerate(steps) if "'restore_start'" in text)
    reconnect = [action for action, dummy in steps].index("ansible.builtin.wait_for_connection")
    outcome = next(i for i, (action, text) in enumerate(steps) if "'restore_result'" in text)
    assert start < reconnect < outcome
    assert "until" in tasks[outcome]


def test_the_confirm_timer_is_armed_before_the_change_and_confirmed_after_verifying():
    with open(os.path.join(_REPO, "roles", "firewall", "tasks", "windows.yml")) as handle:
        data = yaml.safe_load(handle)
    block = next(item for item in data if "rescue" in item)
    steps = [task["name"] for task in block["block"]]
    assert steps == ["Back up the Windows Firewall policy", "Arm the revert timer", "Note that the change starts",
                     "Apply the rules",
                     "Log dropped packets (bjnp_log_attempts), or put back the logging settings the role changed (absent)",
                     "Reach the host again over a new connection", "Verify", "Confirm the change"]
    arm, confirm = block["block"][1], block["block"][7]
    assert arm["vars"] == {"__bjnp_windows_confirm_step": "arm"}
    assert "bjnp_confirm_timeout | int > 0" in arm["when"]
    assert confirm["vars"] == {"__bjnp_windows_confirm_step": "confirm"}
    disarm = next(task for task in block["rescue"] if task.get("vars") == {"__bjnp_windows_confirm_step": "disarm"})
    # Not only when arming succeeded: a half-registered timer must not fire later.
    assert "__bjnp_windows_confirm | length > 0" not in str(disarm["when"])


# --- collection dependencies (Windows 4) -------------------------------------------------------

_SITE = os.path.join(os.path.dirname(os.path.dirname(yaml.__file__)), "ansible_collections")


def _used_modules():
    """FQCNs of ansible.windows / community.windows modules in the roles and the Molecule scenario."""
    paths = []
    for root in (os.path.join(_REPO, "roles"), os.path.join(_REPO, "extensions", "molecule", "windows")):
        for directory, dummy, names in os.walk(root):
            paths += [os.path.join(directory, name) for name in names if name.endswith(".yml")]
    used = set()
    for path in paths:
        if "meta" in path.split(os.sep) or "defaults" in path.split(os.sep):
            continue
        for task in _tasks(path):
            used.update(key for key in task if key.startswith(("ansible.windows.", "community.windows.")))
    return used


def _installed(collection):
    path = os.path.join(_SITE, *collection.split("."))
    if not os.path.isdir(path):
        pytest.skip("%s is not installed in this environment" % collection)
    return path


def test_galaxy_requires_the_versions_of_the_modules_the_tasks_use():
    with open(os.path.join(_REPO, "galaxy.yml")) as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    used = _used_modules()
    assert "ansible.windows.win_listen_ports_facts" in used and "community.windows.win_firewall_rule" in used
    for fqcn in sorted(used):
        namespace, name, module = fqcn.split(".")
        collection = "%s.%s" % (namespace, name)
        lower = re.match(r">=\s*([0-9.]+)", dependencies[collection]).group(1)
        with open(os.path.join(_installed(collection), "plugins", "modules", module + ".py")) as handle:
            source = handle.read()
        documentation = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[-1].split('"""', 1)[0]
                                       if 'DOCUMENTATION = r"""' in source else
                                       source.split("DOCUMENTATION = r'''", 1)[-1].split("'''", 1)[0])
        added = str(documentation.get("version_added", "0"))
        if re.match(r"^[0-9.]+$", added):
            assert tuple(map(int, added.split("."))) <= tuple(map(int, lower.split("."))), (fqcn, added, lower)


def test_no_deprecated_windows_module_is_used_or_recommended():
    deprecated = set()
    for collection in ("ansible.windows", "community.windows"):
        with open(os.path.join(_installed(collection), "meta", "runtime.yml")) as handle:
            routing = (yaml.safe_load(handle).get("plugin_routing") or {}).get("modules") or {}
        deprecated.update("%s.%s" % (collection, module) for module, entry in routing.items()
                          if entry.get("deprecation") or entry.get("tombstone") or entry.get("redirect"))
    assert "community.windows.win_firewall" in deprecated  # the check is live
    assert not _used_modules() & deprecated
    # Nor in what the role tells its users (messages, docs of the Windows part).
    paths = _role_task_files() + [os.path.join(_REPO, "docs", "windows.md")]
    paths += [os.path.join(_REPO, "plugins", "filter", name) for name in os.listdir(os.path.join(_REPO, "plugins", "filter"))
              if name.startswith("bjnp_windows")]
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        named = set(re.findall(r"(?:ansible|community)\.windows\.[a-z_]+", text))
        assert not named & deprecated, (path, named & deprecated)


# --- the task files run on the controller against an emulated Windows host -----------------------
# No Windows here, so these runs put stub action plugins in place of the ansible.windows and
# community.windows modules the role uses (a collection tree in tmp_path, found first), with
# `ansible_connection=local`. The stubs keep a fake Windows Firewall in a JSON file and a fake
# file system in a directory, and emulate, in Python, each PowerShell script of
# bjnp_windows_scripts.py the tasks send (identified by its exact text; its parameters decoded
# from the base64 literal as PowerShell would), win_firewall_rule as its source matches rules
# (by display name in every group, ignoring case) and netsh export/import. What this proves is the
# task files' logic: conditions, order, the rescue, the confirm, the messages and the result shape.
# It proves nothing about PowerShell or Windows Firewall themselves.

_FAKE_MODULES = {
    "ansible/windows": ["win_shell", "win_command", "win_file", "win_acl", "win_acl_inheritance", "win_copy",
                        "win_stat", "win_find"],
    "community/windows": ["win_firewall_rule"],
}

_STUB = '''from __future__ import absolute_import, division, print_function
__metaclass__ = type
import importlib.util
import os
import sys

from ansible.plugins.action import ActionBase

_NAME = "bjnp_fake_windows_emulator"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, os.environ["BJNP_FAKE_WINDOWS_MODULE"])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result.update(sys.modules[_NAME].FakeWindows.load().module(%r, dict(self._task.args), bool(self._task.check_mode)))
        return result
'''


class FakeWindows(object):
    """A Windows Firewall, Task Scheduler and file system, as JSON and a directory (see above)."""

    def __init__(self, path, data):
        self.path, self.data = path, data
        self.root = os.path.join(os.path.dirname(path), "fs")

    @classmethod
    def load(cls):
        path = os.environ["BJNP_FAKE_WINDOWS_STATE"]
        with open(path) as handle:
            return cls(path, json.load(handle))

    def save(self):
        with open(self.path, "w") as handle:
            json.dump(self.data, handle, indent=1, sort_keys=True)

    # The file system: Windows paths map to files under self.root, matched ignoring case.
    def real(self, path, create=False):
        parts = [part for part in path.replace("/", "\\").split("\\") if part]
        current = self.root
        for part in [parts[0].rstrip(":")] + parts[1:]:
            names = os.listdir(current) if os.path.isdir(current) else []
            match = [name for name in names if name.lower() == part.lower()]
            current = os.path.join(current, match[0] if match else part)
        if create:
            os.makedirs(os.path.dirname(current), exist_ok=True)
        return current

    def read(self, path):
        with open(self.real(path)) as handle:
            return handle.read()

    def write(self, path, text):
        with open(self.real(path, create=True), "w") as handle:
            handle.write(text)

    def exists(self, path):
        return os.path.isfile(self.real(path))

    # The modules.
    def module(self, name, args, check_mode):
        self.data["log"].append(name)
        try:
            result = getattr(self, "_" + name)(args, check_mode)
        except Exception as exc:  # pylint: disable=broad-except
            result = dict(failed=True, msg="emulator: %s: %s" % (name, exc))
        self.save()
        return result

    def _win_shell(self, args, check_mode):
        if check_mode:
            return dict(skipped=True, msg="remote module does not support check mode")
        text = args["_raw_params"]
        for name in scripts.script_names():
            if text.endswith(scripts._SCRIPTS[name][1]) and text == scripts.bjnp_windows_script(name, _script_params(text)):
                self.data["log"][-1] = "script:" + name
                output = getattr(self, "script_" + name)(_script_params(text))
                return dict(changed=True, rc=0, stdout=output if isinstance(output, str) else json.dumps(output),
                            stderr="")
        self.data["log"][-1] = "shell:" + text
        return dict(changed=True, rc=0, stdout="", stderr="")

    def _win_command(self, args, check_mode):
        argv = args["argv"]
        assert argv[:3] == ["netsh", "advfirewall", "export"], argv
        if check_mode:
            return dict(skipped=True)
        self.write(argv[3], json.dumps({"rules": self.data["rules"], "profiles": self.data["profiles"],
                                        "logging": self.data["logging"]}))
        return dict(changed=True, rc=0, stdout="Ok.", stderr="")

    def _win_file(self, args, check_mode):
        assert args["state"] == "directory" or args["state"] == "absent", args
        if not check_mode:
            if args["state"] == "directory":
                os.makedirs(self.real(args["path"]), exist_ok=True)
            elif self.exists(args["path"]):
                os.remove(self.real(args["path"]))
        return dict(changed=True)

    def _win_acl(self, args, check_mode):
        return dict(changed=False)

    _win_acl_inheritance = _win_acl

    def _win_copy(self, args, check_mode):
        if not check_mode:
            self.write(args["dest"], args["content"])
        return dict(changed=True)

    def _win_stat(self, args, check_mode):
        if not self.exists(args["path"]):
            return dict(stat=dict(exists=False))
        with open(self.real(args["path"]), "rb") as handle:
            data = handle.read()
        # stat.path is the real file, so ansible.builtin.slurp (local here) can read it.
        return dict(stat=dict(exists=True, size=len(data), path=self.real(args["path"]),
                              checksum=hashlib.sha256(data).hexdigest().upper()))

    def _win_find(self, args, check_mode):
        directory = self.real(args["paths"])
        names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        files = [name for name in names if any(fnmatch.fnmatch(name.lower(), p.lower()) for p in args["patterns"])]
        return dict(files=[dict(filename=name, path=args["paths"] + "\\" + name) for name in files])

    def _win_firewall_rule(self, args, check_mode):
        if args.get("state") != "present" or not args.get("name"):
            raise ValueError("the role must only create or update rules by name, got %r" % (args,))
        wanted = dict(group=args["group"], description=args["description"], protocol=args["protocol"],
                      localport=args["localport"], remoteip=args["remoteip"], enabled=True, action="Block",
                      direction="Inbound", profile="Any")
        # As the module does: $_.Name -eq $name over every rule, so any group, any case.
        existing = [rule for rule in self.data["rules"] if rule["store"] == "local"
                    and rule["name"].lower() == args["name"].lower()]
        if not existing:
            if not check_mode:
                self.data["rules"].append(dict(wanted, name=args["name"], store="local"))
            return dict(changed=True)
        changed = False
        for rule in existing:
            for key, value in wanted.items():
                same = (sorted(rule[key].split(",")) == sorted(value.split(","))) if key == "remoteip" else rule[key] == value
                if not same:
                    changed = True
                    if not check_mode:
                        rule[key] = value
        return dict(changed=changed)

    # The scripts, as their PowerShell does it.
    def _ours(self, group, rule):
        return rule["name"].startswith(group + " block ")

    def script_state(self, params):
        group, wanted = params["group"], params["wanted"]
        local = [r for r in self.data["rules"] if r["store"] == "local"]
        active = [r for r in self.data["rules"] if r["store"] == "gpo"]
        if not self.data["faults"].get("gpo_ignores_local_rules"):
            active = local + active
        local_group = [r for r in local if r["group"] == group]
        active_group = [r for r in active if r["group"] == group]
        ours = [r for r in local_group if self._ours(group, r)]
        lowered = [name.lower() for name in wanted]
        return dict(
            profiles=[dict(name=name, enabled=on) for name, on in sorted(self.data["profiles"].items())],
            persistent=[r["name"] for r in ours],
            rules=[dict(name=r["name"], protocol=r["protocol"], localport=r["localport"], remoteip=r["remoteip"])
                   for r in ours],
            active=[dict(name=r["name"], enabled=r["enabled"], action=r["action"], direction=r["direction"],
                         profile=r["profile"]) for r in active_group],
            foreign=sorted(set(r["name"] for r in local_group + active_group if not self._ours(group, r))),
            collisions=["%s (group %s)" % (r["name"], r["group"]) for r in local if r["name"].lower() in lowered
                        and not (r["group"] == group and r["name"] in wanted)],
            bypass=self.data["faults"].get("bypass", []))

    def script_remove(self, params):
        group, names = params["group"], params["names"]
        in_group = [r for r in self.data["rules"] if r["store"] == "local" and r["group"] == group]
        ours = [r for r in in_group if self._ours(group, r) and (names is None or r["name"] in names)]
        if not params["check"]:
            self.data["rules"] = [r for r in self.data["rules"] if not any(r is o for o in ours)]
        return dict(removed=sorted(r["name"] for r in ours),
                    kept=sorted(r["name"] for r in in_group if not self._ours(group, r)))

    def _lock(self, marker, content):
        if self.exists(marker):
            return False
        self.write(marker, json.dumps(content))
        return True

    def script_revert(self, params):
        if self._lock(params["marker"], {"fired": "now"}):
            self.write(params["marker"], json.dumps(self.script_remove(params)))
        return ""

    def script_arm(self, params):
        if self.exists(params["marker"]):
            os.remove(self.real(params["marker"]))
        self.data["tasks"][params["path"] + params["name"]] = dict(argument=params["argument"], seconds=params["seconds"])
        return dict(task=params["path"] + params["name"], deadline="2026-01-01T00:05:00Z")

    def _run_task(self, key):
        argument = self.data["tasks"][key]["argument"]
        prefix = "-NoProfile -NonInteractive -EncodedCommand "
        assert argument.startswith(prefix), argument
        text = base64.b64decode(argument[len(prefix):]).decode("utf-16-le")
        name = next(n for n in scripts.script_names() if text.endswith(scripts._SCRIPTS[n][1])
                    and text == scripts.bjnp_windows_script(n, _script_params(text)))
        self.data["log"].append("task:" + name)
        getattr(self, "script_" + name)(_script_params(text))

    def script_confirm(self, params):
        key = params["path"] + params["name"]
        if self.data["faults"].get("timer_fires_first") and key in self.data["tasks"]:
            self._run_task(key)
        if self._lock(params["marker"], {"confirmed": "now"}):
            self.data["tasks"].pop(key, None)
            return dict(confirmed=True, fired="")
        return dict(confirmed=False, fired=self.read(params["marker"]))

    def script_disarm(self, params):
        fired = "" if self._lock(params["marker"], {"disarmed": "now"}) else self.read(params["marker"])
        existed = self.data["tasks"].pop(params["path"] + params["name"], None) is not None
        return dict(existed=existed, fired=fired)

    def script_restore_start(self, params):
        self.data["tasks"][params["path"] + params["name"]] = dict(argument=params["argument"])
        self._run_task(params["path"] + params["name"])  # started at once, finished before the reconnect
        return dict(task=params["path"] + params["name"])

    def script_restore(self, params):
        with open(self.real(params["path"]), "rb") as handle:
            data = handle.read()
        out = dict(done=True, nonce=params["nonce"], path=params["path"], sha256=hashlib.sha256(data).hexdigest(),
                   exit=-1, output="")
        if out["sha256"] != params["sha256"]:
            out["output"] = "not imported: the file changed after the controller checked its SHA-256"
        else:
            policy = json.loads(data.decode("utf-8"))
            self.data["rules"], self.data["profiles"] = policy["rules"], policy["profiles"]
            # Whether netsh import puts the profiles' logging back is untested here: both ways are emulated.
            if not self.data["faults"].get("import_ignores_logging"):
                self.data["logging"] = policy["logging"]
            out.update(exit=0, output="Ok.")
        self.write(params["result"], json.dumps(out))
        return ""

    def script_restore_result(self, params):
        return self.read(params["result"]) if self.exists(params["result"]) else '{"done":false}'

    def script_unregister(self, params):
        return dict(existed=self.data["tasks"].pop(params["path"] + params["name"], None) is not None)

    def script_free_space(self, params):
        return "%d" % (10 * 1024 ** 3)

    # The profiles' logging: data["logging"] is the local store; the fault gpo_logging
    # ({profile: value}) overrides LogBlocked in the effective policy, as a Group Policy would.
    def _logging(self, store):
        found = [dict(self.data["logging"][name], name=name) for name in sorted(self.data["logging"])]
        if store == "ActiveStore":
            for item in found:
                item["LogBlocked"] = self.data["faults"].get("gpo_logging", {}).get(item["name"], item["LogBlocked"])
        return found

    def script_logging_state(self, params):
        record = self.read(params["record"]) if self.exists(params["record"]) else None
        return dict(profiles=self._logging("PersistentStore"), effective=self._logging("ActiveStore"), record=record)

    def _set_logging(self, params):
        changed = []
        for change in params["set"]:
            assert change["setting"] == "LogBlocked", change
            entry = self.data["logging"][change["profile"]]
            if entry["LogBlocked"] != change["after"]:
                changed.append("%s LogBlocked %s -> %s" % (change["profile"], entry["LogBlocked"], change["after"]))
                if not self.data["faults"].get("logging_not_kept"):
                    entry["LogBlocked"] = change["after"]
            if entry["LogBlocked"] != change["after"]:
                raise ValueError("Set-NetFirewallProfile left LogBlocked of profile %s at %s, not %s"
                                 % (change["profile"], entry["LogBlocked"], change["after"]))
        return changed

    def _save_record(self, params):
        if params["text"] is None:
            if self.exists(params["record"]):
                os.remove(self.real(params["record"]))
                return "deleted"
            return "none"
        if self.exists(params["record"]) and self.read(params["record"]) == params["text"]:
            return "kept"
        self.write(params["record"], params["text"])
        return "written"

    # The collector's read: the effective settings, the end of each profile's log file and its
    # .old within the budget, and the clock (data["clock"]: offset, offset_since in minutes).
    def _tail(self, path, budget, rotated):
        entry = dict(path=path, rotated=rotated, exists=False, size=0, offset=0, head="", data="", error="")
        if not self.exists(path):
            return entry
        with open(self.real(path), "rb") as handle:
            content = handle.read()
        count = min(budget, len(content))
        entry.update(exists=True, size=len(content), offset=len(content) - count)
        if entry["offset"] > 0:
            entry["head"] = base64.b64encode(content[:4096]).decode("ascii")
        entry["data"] = base64.b64encode(content[entry["offset"]:]).decode("ascii")
        return entry

    def script_attempts_read(self, params):
        clock = self.data.get("clock", {})
        profiles = self._logging("ActiveStore")
        budget, files, seen = params["max_bytes"], [], set()
        for item in profiles:
            path = re.sub("%systemroot%", lambda match: "C:\\Windows", item["LogFileName"], flags=re.IGNORECASE)
            if item["LogBlocked"] != "True" or path.lower() in seen:
                continue
            seen.add(path.lower())
            files.append(self._tail(path, budget, False))
            budget -= files[-1]["size"] - files[-1]["offset"]
            if files[-1]["offset"] == 0 and self.exists(path + ".old"):
                files.append(self._tail(path + ".old", budget, True))
                budget -= files[-1]["size"] - files[-1]["offset"]
        offset = clock.get("offset", 60)
        return dict(now=int(time.time()), offset_now=offset, offset_since=clock.get("offset_since", offset),
                    profiles=profiles, files=files)

    def _logging_outcome(self, changed, record):
        return dict(changed=changed, record=record, profiles=self._logging("PersistentStore"),
                    effective=self._logging("ActiveStore"))

    def script_logging_enable(self, params):
        record = self._save_record(params)
        return self._logging_outcome(self._set_logging(params), record)

    def script_logging_restore(self, params):
        changed = self._set_logging(params)
        return self._logging_outcome(changed, self._save_record(params))


def _rule(name, group, store="local", **extra):
    rule = dict(name=name, group=group, store=store, description="", protocol="tcp", localport="9100",
                remoteip="any", enabled=True, action="Block", direction="Inbound", profile="Any")
    rule.update(extra)
    return rule


_DEFAULT_LOG = "%systemroot%\\system32\\LogFiles\\Firewall\\pfirewall.log"


def _logging_settings(blocked=None, name=_DEFAULT_LOG, size="4096"):
    """The profiles' logging settings as Get-NetFirewallProfile gives them (a fresh host: nothing logged)."""
    blocked = blocked or {}
    return dict((profile, dict(LogBlocked=blocked.get(profile, "False"), LogFileName=name, LogMaxSizeKilobytes=size))
                for profile in ("Domain", "Private", "Public"))


# A site's rule that must survive everything the role does: the WinRM allow rule.
_WINRM = _rule("Windows Remote Management (HTTP-In)", "@FirewallAPI.dll,-30267", localport="5985", action="Allow")


class _Host(object):
    """One emulated Windows host and the playbook runs against it."""

    def __init__(self, tmp_path, rules=(), faults=None, logging=None):
        self.tmp_path = tmp_path
        self.state = tmp_path / "fake" / "state.json"
        (tmp_path / "fake" / "fs").mkdir(parents=True)
        for namespace, modules in _FAKE_MODULES.items():
            actions = tmp_path / "collections" / "ansible_collections" / namespace / "plugins" / "action"
            actions.mkdir(parents=True)
            (actions.parent.parent / "galaxy.yml").write_text("namespace: x\nname: y\nversion: 1.0.0\n")
            for module in modules:
                (actions / (module + ".py")).write_text(_STUB % module)
        FakeWindows(str(self.state), dict(
            rules=[_WINRM] + list(rules), profiles=dict(Domain=True, Private=True, Public=True),
            logging=logging or _logging_settings(), tasks={}, faults=faults or {}, log=[])).save()
        (tmp_path / "inventory.ini").write_text(
            "[windows]\nwin-lab ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)

    @property
    def fake(self):
        return FakeWindows(str(self.state), json.loads(self.state.read_text()))

    def names(self, group=None):
        return sorted((r["name"], r["group"]) for r in self.fake.data["rules"] if group is None or r["group"] == group)

    def run(self, tasks_from, extra=None, *args, **kwargs):
        # The result is written even when the role fails the host (always).
        play = ("---\n- name: Emulated Windows\n  hosts: windows\n  gather_facts: false\n  tasks:\n"
                "    - name: Run and record\n      block:\n"
                "        - name: The tasks\n          ansible.builtin.include_role:\n"
                "            name: netsec.bjnp.firewall\n            tasks_from: %s\n"
                "      always:\n        - name: Result\n          ansible.builtin.copy:\n"
                "            content: '{{ %s | default(none) | to_json }}'\n            dest: %s\n"
                "          check_mode: false\n"
                % (tasks_from, kwargs.get("fact", "bjnp_firewall_result"), self.tmp_path / "result.json"))
        (self.tmp_path / "play.yml").write_text(play)
        env = dict(os.environ, BJNP_FAKE_WINDOWS_STATE=str(self.state), BJNP_FAKE_WINDOWS_MODULE=os.path.abspath(__file__),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(_REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(self.tmp_path / "collections"),
                                                             os.path.join(_REPO, ".cache", "collections")]))
        if (self.tmp_path / "result.json").exists():
            (self.tmp_path / "result.json").unlink()
        executable = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        completed = subprocess.run([executable, "-i", str(self.tmp_path / "inventory.ini"), str(self.tmp_path / "play.yml"),
                                    "-e", json.dumps(extra or {})] + list(args),
                                   cwd=str(self.tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)
        # ansible-core before 2.19 writes a message holding ' as a single-quoted YAML scalar, ' doubled.
        self.output = " ".join((completed.stdout + completed.stderr).split()).replace("''", "'")
        self.returncode = completed.returncode
        # A deprecation today is an error in a later ansible-core: the role must not lean on one.
        assert "[DEPRECATION WARNING]" not in self.output, self.output
        path = self.tmp_path / "result.json"
        self.result = json.loads(path.read_text()) if path.exists() else None
        return self


_FAST = {"bjnp_confirm_timeout": 60}


def test_emulated_first_run_creates_the_rules_and_confirms(tmp_path):
    host = _Host(tmp_path).run("windows", _FAST)
    assert host.returncode == 0, host.output
    assert host.names("netsec.bjnp") == [("netsec.bjnp block tcp 8611-8614", "netsec.bjnp"),
                                         ("netsec.bjnp block tcp 9100", "netsec.bjnp"),
                                         ("netsec.bjnp block udp 8611-8614", "netsec.bjnp")]
    assert _WINRM in host.fake.data["rules"]
    log = host.fake.data["log"]
    # Probed in check mode, backed up, armed, applied, verified (check mode again, state), confirmed;
    # the reconnect between applying and verifying is the real wait_for_connection, not a stub.
    assert log == (["script:state", "script:free_space"] + ["win_firewall_rule"] * 3
                   + ["win_file", "win_acl", "win_acl", "win_acl_inheritance", "win_command", "win_stat", "win_copy",
                      "win_find", "script:arm"] + ["win_firewall_rule"] * 3 + ["win_firewall_rule"] * 3
                   + ["script:state", "script:confirm"]), log
    assert host.fake.data["tasks"] == {}
    marker = host.fake.read("C:\\ProgramData\\netsec.bjnp\\backups\\confirm-netsec.bjnp.json")
    assert json.loads(marker) == {"confirmed": "now"}
    result = host.result
    assert sorted(result) == ["backend", "backup", "changed", "confirm", "diff", "message", "plan", "rolled_back",
                              "state"]
    assert result["changed"] is True and result["rolled_back"] is False and result["backend"] == "windows"
    assert result["backup"].startswith("C:\\ProgramData\\netsec.bjnp\\backups\\") and result["backup"].endswith("-windows.wfw")
    assert result["confirm"]["confirmed"] is True and result["confirm"]["timeout"] == 60
    assert result["plan"]["live_changed"] is True and result["plan"]["removed"] == []
    assert result["diff"][0]["before"] == "" and "netsec.bjnp block tcp 9100: tcp 9100 from any\n" in result["diff"][0]["after"]
    assert "confirmed within bjnp_confirm_timeout (60 s)" in result["message"]

    # The second run changes nothing: no backup, no timer.
    calls = len(host.fake.data["log"])
    host.run("windows", _FAST)
    assert host.returncode == 0, host.output
    assert host.result["changed"] is False and host.result["diff"] == [] and host.result["confirm"] == {}
    assert "win_command" not in host.fake.data["log"][calls:] and "script:arm" not in host.fake.data["log"][calls:]


def test_emulated_check_mode_changes_nothing(tmp_path):
    host = _Host(tmp_path).run("windows", _FAST, "--check")
    assert host.returncode == 0, host.output
    assert host.names("netsec.bjnp") == [] and host.fake.data["tasks"] == {}
    assert host.result["changed"] is True and host.result["message"].startswith("would change")
    assert not os.path.exists(host.fake.real("C:\\ProgramData\\netsec.bjnp\\backups"))


def test_emulated_stale_rules_are_removed_from_our_group_only(tmp_path):
    # A rule of ours from an old bjnp_ports, and a site rule with the same display name elsewhere:
    # removal by display name (the module's state: absent) would have taken both.
    stale = _rule("netsec.bjnp block tcp 631", "netsec.bjnp", localport="631")
    twin = _rule("netsec.bjnp block tcp 631", "Site printing", localport="631", action="Allow")
    host = _Host(tmp_path, [stale, twin]).run("windows", _FAST)
    assert host.returncode == 0, host.output
    assert ("netsec.bjnp block tcp 631", "netsec.bjnp") not in host.names()
    assert ("netsec.bjnp block tcp 631", "Site printing") in host.names()
    assert host.result["plan"]["removed"] == ["netsec.bjnp block tcp 631"]
    assert "netsec.bjnp block tcp 631: tcp 631 from any\n" in host.result["diff"][0]["before"]


def test_emulated_state_absent_removes_ours_and_keeps_the_rest(tmp_path):
    ours = _rule("netsec.bjnp block tcp 9100", "netsec.bjnp")
    twin = _rule("netsec.bjnp block tcp 9100", "Netsec.BJNP")  # another group, differing in case only
    host = _Host(tmp_path, [ours]).run("windows", dict(_FAST, bjnp_state="absent"))
    assert host.returncode == 0, host.output
    assert host.names("netsec.bjnp") == [] and _WINRM in host.fake.data["rules"]
    assert host.fake.data["tasks"] == {} and "script:arm" not in host.fake.data["log"]
    # The case twin is a collision (the module would rewrite it): refused before any change.
    host = _Host(tmp_path / "twin", [ours, twin]).run("windows", _FAST)
    assert host.returncode != 0
    assert ("Rules outside group netsec.bjnp carry the names of ours: netsec.bjnp block tcp 9100 (group Netsec.BJNP)"
            in host.output), host.output
    assert "Nothing was changed." in host.output and "win_command" not in host.fake.data["log"]


def test_emulated_rules_the_role_did_not_create_are_refused(tmp_path):
    foreign = _rule("Allow the print server", "netsec.bjnp", action="Allow")
    host = _Host(tmp_path, [foreign]).run("windows", _FAST)
    assert host.returncode != 0
    assert ("Group netsec.bjnp holds rules the role did not create (its own are named \"netsec.bjnp block ...\"): "
            "Allow the print server" in host.output), host.output
    assert foreign in host.fake.data["rules"] and host.names("netsec.bjnp") == [("Allow the print server", "netsec.bjnp")]


def test_emulated_failed_verification_removes_our_group_only(tmp_path):
    # A Group Policy that ignores local rules: the rules are written but not enforced.
    host = _Host(tmp_path, faults={"gpo_ignores_local_rules": True}).run("windows", _FAST)
    assert host.returncode != 0
    assert host.names("netsec.bjnp") == [] and _WINRM in host.fake.data["rules"]
    assert host.fake.data["tasks"] == {}
    assert "script:disarm" in host.fake.data["log"] and "task:revert" not in host.fake.data["log"]
    result = host.result
    assert result["rolled_back"] is True and result["changed"] is True
    assert result["message"].startswith("Fail unless the effective policy holds exactly our rules")
    assert ("removed the rules of group netsec.bjnp (netsec.bjnp block tcp 8611-8614, netsec.bjnp block tcp 9100, "
            "netsec.bjnp block udp 8611-8614): BJNP and raw print are as exposed as before the role ran") in result["message"]
    assert "(bjnp_rollback: restore)" in result["message"]


def test_emulated_failed_verification_with_rollback_restore_imports_detached(tmp_path):
    site = _rule("Site rule added before the run", "Site", localport="80", action="Allow")
    host = _Host(tmp_path, [site], faults={"gpo_ignores_local_rules": True})
    before = host.fake.data["rules"]
    host.run("windows", dict(_FAST, bjnp_rollback="restore"))
    assert host.returncode != 0
    assert host.fake.data["rules"] == before
    log = host.fake.data["log"]
    assert log.index("script:restore_start") < log.index("task:restore") < log.index("script:restore_result")
    assert "imported C:\\ProgramData\\netsec.bjnp\\backups\\" in host.result["message"]
    assert host.result["rolled_back"] is True and host.fake.data["tasks"] == {}


def test_emulated_timer_that_fires_first_is_reported_not_confirmed(tmp_path):
    host = _Host(tmp_path, faults={"timer_fires_first": True}).run("windows", _FAST)
    assert host.returncode != 0
    assert "task:revert" in host.fake.data["log"]
    assert host.names("netsec.bjnp") == [] and _WINRM in host.fake.data["rules"]
    assert "too late to confirm: the revert timer fired before the controller confirmed" in host.output, host.output
    assert host.result["confirm"]["confirmed"] is False and host.fake.data["tasks"] == {}


def test_emulated_confirm_timeout_zero_arms_no_timer(tmp_path):
    host = _Host(tmp_path).run("windows", {"bjnp_confirm_timeout": 0})
    assert host.returncode == 0, host.output
    assert "script:arm" not in host.fake.data["log"] and host.result["confirm"] == {}
    assert len(host.names("netsec.bjnp")) == 3


def test_emulated_long_allow_list_is_split(tmp_path):
    host = _Host(tmp_path).run("windows", dict(_FAST, bjnp_ports=[{"protocol": "tcp", "port": 9100}],
                                               bjnp_allowed_sources=_hosts(1200)))
    assert host.returncode == 0, host.output
    rules = [r for r in host.fake.data["rules"] if r["group"] == "netsec.bjnp"]
    assert sorted(r["name"] for r in rules) == ["netsec.bjnp block tcp 9100", "netsec.bjnp block tcp 9100 part 2"]
    assert all(len(r["remoteip"].split(",")) <= 1000 for r in rules)


def test_emulated_wildcard_group_is_refused_before_the_host_is_read(tmp_path):
    host = _Host(tmp_path, [_rule("netsec.bjnp block tcp 9100", "netsec.bjnp")]).run(
        "windows", dict(_FAST, bjnp_windows_rule_group="*"))
    assert host.returncode != 0
    assert "bjnp_windows_rule_group '*' holds the wildcard character(s) *" in host.output, host.output
    assert host.fake.data["log"] == []


def test_emulated_rollback_remove_keeps_rules_the_role_did_not_create(tmp_path):
    ours = _rule("netsec.bjnp block tcp 9100", "netsec.bjnp")
    foreign = _rule("Allow the print server", "netsec.bjnp", action="Allow")
    host = _Host(tmp_path, [ours, foreign])
    fake = host.fake
    fake.data["tasks"]["\\netsec.bjnp\\revert netsec.bjnp"] = {"argument": "x"}
    fake.save()
    host.run("rollback_windows", {"bjnp_rollback": "remove"}, "--check")
    assert host.returncode == 0, host.output
    assert ours in host.fake.data["rules"] and host.fake.data["tasks"] != {}
    assert host.result["message"].startswith("would remove the rules of group netsec.bjnp: netsec.bjnp block tcp 9100")
    host.run("rollback_windows", {"bjnp_rollback": "remove"})
    assert host.returncode == 0, host.output
    assert host.names("netsec.bjnp") == [("Allow the print server", "netsec.bjnp")]
    assert host.fake.data["tasks"] == {}
    assert host.result["message"] == ("removed the rules of group netsec.bjnp: netsec.bjnp block tcp 9100; left 1 "
                                      "rule(s) of the group the role did not create: Allow the print server; "
                                      "deleted a pending revert timer")


def test_emulated_rollback_restore_imports_the_newest_backup_detached(tmp_path):
    host = _Host(tmp_path)
    host.run("windows", {"bjnp_confirm_timeout": 0})
    assert host.returncode == 0, host.output
    backup = host.result["backup"]
    # The export's name in another case, as a copy tool might leave it: still found, still imported.
    real = host.fake.real(backup)
    os.rename(real, real[:-len(".wfw")] + ".WFW")
    host.run("rollback_windows", {"bjnp_rollback": "restore"})
    assert host.returncode == 0, host.output
    assert host.names("netsec.bjnp") == [] and host.fake.data["tasks"] == {}
    assert host.result["backup"].endswith("-windows.WFW")
    assert "in a detached task and reconnected" in host.result["message"]
    assert "group netsec.bjnp now holds 0 rule(s) of ours" in host.result["message"]
    # A file changed after its metadata was written is never imported.
    with open(host.fake.real(host.result["backup"]), "a") as handle:
        handle.write(" ")
    host.run("rollback_windows", {"bjnp_rollback": "restore"})
    assert host.returncode != 0 and "does not match the SHA-256 in its metadata" in host.output


# --- dropped-packet logging (bjnp_log_attempts; issue "Monitoring: who still knocks") ------------
# Windows Firewall logs dropped packets per profile, host-wide. The emulator keeps the profiles'
# logging settings (data["logging"]); whether `netsh advfirewall import` puts them back is not
# known from a real host, so it is emulated both ways (fault import_ignores_logging).

_RECORD = "C:\\ProgramData\\netsec.bjnp\\backups\\logging-netsec.bjnp.json"
_LOG_ON = dict(_FAST, bjnp_log_attempts=True)


def _log_blocked(host):
    return dict((name, entry["LogBlocked"]) for name, entry in host.fake.data["logging"].items())


def _metadata(host):
    return json.loads(host.fake.read(host.result["backup"][:-len(".wfw")] + ".json"))


def _scripts(host, start=0):
    return [entry for entry in host.fake.data["log"][start:] if entry.startswith("script:logging")]


def _change(profile, before, after):
    return {"profile": profile, "setting": "LogBlocked", "before": before, "after": after}


def test_emulated_logging_on_records_then_enables_only_what_differs_and_is_idempotent(tmp_path):
    # The site logs dropped packets of the private profile already: that one is not the role's change.
    host = _Host(tmp_path, logging=_logging_settings({"Private": "True"}), faults={"import_ignores_logging": True})
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "True", "Private": "True", "Public": "True"}
    record = json.loads(host.fake.read(_RECORD))
    assert record["changed"] == [_change("Domain", "False", "True"), _change("Public", "False", "True")]
    assert record["group"] == "netsec.bjnp" and record["format"] == 1
    # Every profile's three settings as they were, before any change.
    assert record["profiles"] == [dict(name=name, LogBlocked="True" if name == "Private" else "False",
                                       LogFileName=_DEFAULT_LOG, LogMaxSizeKilobytes="4096")
                                  for name in ("Domain", "Private", "Public")]
    # And in the backup's metadata, which a restore reads.
    assert _metadata(host)["logging"] == {"profiles": record["profiles"], "changed": record["changed"], "record": None}
    log = host.fake.data["log"]
    assert log.index("script:logging_state") < log.index("win_command") < log.index("script:logging_enable")
    result = host.result
    assert result["changed"] is True and result["plan"]["logging"] == record["changed"]
    assert result["diff"][-1] == {"before_header": "Windows Firewall profile logging (dropped packets)",
                                  "after_header": "Windows Firewall profile logging (dropped packets)",
                                  "before": "Domain LogBlocked: False\nPublic LogBlocked: False\n",
                                  "after": "Domain LogBlocked: True\nPublic LogBlocked: True\n"}
    assert ("; logging dropped packets in profile(s) Domain, Public (host-wide, per profile; what they had is "
            "recorded in %s)" % _RECORD) in result["message"], result["message"]

    # Again: nothing differs, so no backup, no change, the record as it was.
    calls = len(host.fake.data["log"])
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    assert host.result["changed"] is False and host.result["plan"]["logging"] == [] and host.result["diff"] == []
    assert _scripts(host, calls) == ["script:logging_state"] and "win_command" not in host.fake.data["log"][calls:]
    assert json.loads(host.fake.read(_RECORD)) == record

    # Someone turns the public profile's logging off; the next run turns it on again and the
    # record keeps the value the role first found.
    fake = host.fake
    fake.data["logging"]["Public"]["LogBlocked"] = "False"
    fake.save()
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    assert host.result["plan"]["logging"] == [_change("Public", "False", "True")]
    assert json.loads(host.fake.read(_RECORD)) == record

    # absent puts back exactly what the role changed (the site's private profile keeps logging),
    # explicitly: this host's import would not have.
    host.run("windows", dict(_FAST, bjnp_state="absent"))
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "False", "Private": "True", "Public": "False"}
    assert not host.fake.exists(_RECORD) and host.names("netsec.bjnp") == []
    assert host.result["plan"]["logging"] == [_change("Domain", "True", "False"), _change("Public", "True", "False")]
    assert ("; put dropped-packet logging back as recorded (Domain LogBlocked True -> False, Public LogBlocked True "
            "-> False)") in host.result["message"], host.result["message"]
    # The absent run's backup recorded the logging as it was, and the record, before putting it back.
    assert _metadata(host)["logging"]["record"] == record
    calls = len(host.fake.data["log"])
    host.run("windows", dict(_FAST, bjnp_state="absent"))
    assert host.returncode == 0, host.output
    assert host.result["changed"] is False and _scripts(host, calls) == ["script:logging_state"]


def test_emulated_logging_off_touches_nothing_about_logging(tmp_path):
    host = _Host(tmp_path, logging=_logging_settings({"Domain": "True"}))
    host.run("windows", _FAST)
    assert host.returncode == 0, host.output
    assert _scripts(host) == [] and _log_blocked(host) == {"Domain": "True", "Private": "False", "Public": "False"}
    assert "logging" not in _metadata(host) and host.result["plan"]["logging"] == []
    # Turned on once, then off again: a present run still leaves logging and the record alone.
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    record = host.fake.read(_RECORD)
    calls = len(host.fake.data["log"])
    host.run("windows", _FAST)
    assert host.returncode == 0, host.output
    assert _scripts(host, calls) == [] and host.fake.read(_RECORD) == record
    assert _log_blocked(host) == {"Domain": "True", "Private": "True", "Public": "True"}


def test_emulated_absent_without_a_record_changes_no_logging(tmp_path):
    # Logging the site turned on itself is not the role's to undo.
    host = _Host(tmp_path, [_rule("netsec.bjnp block tcp 9100", "netsec.bjnp")],
                 logging=_logging_settings({"Domain": "True", "Public": "True"}))
    host.run("windows", dict(_FAST, bjnp_state="absent", bjnp_log_attempts=True))
    assert host.returncode == 0, host.output
    assert _scripts(host) == ["script:logging_state"]
    assert _log_blocked(host) == {"Domain": "True", "Private": "False", "Public": "True"}
    assert host.result["plan"]["logging"] == [] and "logging" not in host.result["message"]


def test_emulated_check_mode_changes_no_logging(tmp_path):
    host = _Host(tmp_path).run("windows", _LOG_ON, "--check")
    assert host.returncode == 0, host.output
    assert _scripts(host) == ["script:logging_state"] and _log_blocked(host) == {
        "Domain": "False", "Private": "False", "Public": "False"}
    assert not host.fake.exists(_RECORD)
    assert "; would log dropped packets in profile(s) Domain, Private, Public" in host.result["message"]


@pytest.mark.parametrize("faults", [{}, {"import_ignores_logging": True}])
def test_emulated_rollback_puts_the_recorded_logging_back(tmp_path, faults):
    host = _Host(tmp_path, faults=faults)
    host.run("windows", dict(_LOG_ON, bjnp_confirm_timeout=0))
    assert host.returncode == 0, host.output
    first = host.result["backup"]
    # A second change while logging is ours: its backup was taken with logging on.
    host.run("windows", dict(_LOG_ON, bjnp_confirm_timeout=0, bjnp_ports=[{"protocol": "tcp", "port": 9100}]))
    assert host.returncode == 0, host.output
    assert host.result["plan"]["logging"] == [] and _metadata(host)["logging"]["changed"] == []
    record = host.fake.read(_RECORD)

    # Restoring the newest backup brings back a policy with logging on, so it stays on, and
    # the record stays with it: logging is still the role's to put back later.
    host.run("rollback_windows", {"bjnp_rollback": "restore"})
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "True", "Private": "True", "Public": "True"}
    assert host.fake.read(_RECORD) == record and "logging" not in host.result["message"]

    # The first backup was taken before logging was on: restoring it puts it back off, explicitly
    # when the import does not, and the record goes.
    host.run("rollback_windows", {"bjnp_rollback": "restore", "bjnp_rollback_from": first})
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "False", "Private": "False", "Public": "False"}
    assert not host.fake.exists(_RECORD) and host.names("netsec.bjnp") == []
    message = host.result["message"]
    if faults:
        assert ("put dropped-packet logging back as recorded (Domain LogBlocked True -> False, Private LogBlocked True "
                "-> False, Public LogBlocked True -> False)") in message, message
    else:
        assert "put dropped-packet logging back" not in message, message
    assert "; removed the logging record %s" % _RECORD in message, message


def test_emulated_rollback_remove_puts_the_recorded_logging_back(tmp_path):
    host = _Host(tmp_path, logging=_logging_settings({"Public": "NotConfigured"}))
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    host.run("rollback_windows", {"bjnp_rollback": "remove"}, "--check")
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "True", "Private": "True", "Public": "True"} and host.fake.exists(_RECORD)
    assert "; would put dropped-packet logging back as recorded (Domain LogBlocked True -> False" in host.result["message"]
    host.run("rollback_windows", {"bjnp_rollback": "remove"})
    assert host.returncode == 0, host.output
    assert _log_blocked(host) == {"Domain": "False", "Private": "False", "Public": "NotConfigured"}
    assert not host.fake.exists(_RECORD) and host.result["changed"] is True
    # Nothing left to put back: a second roll-back changes nothing.
    host.run("rollback_windows", {"bjnp_rollback": "remove"})
    assert host.returncode == 0, host.output
    assert host.result["changed"] is False and "logging" not in host.result["message"]


@pytest.mark.parametrize("rollback", ["remove", "restore"])
def test_emulated_rescue_puts_the_logging_back(tmp_path, rollback):
    # Verification fails (a Group Policy ignores local rules) after logging was turned on.
    host = _Host(tmp_path, faults={"gpo_ignores_local_rules": True, "import_ignores_logging": True})
    host.run("windows", dict(_LOG_ON, bjnp_rollback=rollback))
    assert host.returncode != 0
    log = host.fake.data["log"]
    assert log.index("script:logging_enable") < log.index("script:logging_restore")
    assert _log_blocked(host) == {"Domain": "False", "Private": "False", "Public": "False"}
    assert not host.fake.exists(_RECORD) and host.names("netsec.bjnp") == []
    assert host.result["rolled_back"] is True
    assert ("; dropped-packet logging put back as recorded (Domain LogBlocked True -> False, Private LogBlocked True -> "
            "False, Public LogBlocked True -> False)") in host.result["message"], host.result["message"]


def test_emulated_rescue_puts_back_logging_an_earlier_run_changed(tmp_path):
    # As the rules: a failed later run leaves the host as before the role first ran.
    host = _Host(tmp_path)
    host.run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    fake = host.fake
    fake.data["faults"]["gpo_ignores_local_rules"] = True
    fake.save()
    host.run("windows", dict(_LOG_ON, bjnp_ports=[{"protocol": "tcp", "port": 9100}]))
    assert host.returncode != 0
    assert _log_blocked(host) == {"Domain": "False", "Private": "False", "Public": "False"} and not host.fake.exists(_RECORD)


def test_emulated_logging_the_store_does_not_keep_fails_and_undoes_the_run(tmp_path):
    host = _Host(tmp_path, faults={"logging_not_kept": True}).run("windows", _LOG_ON)
    assert host.returncode != 0
    assert "Set-NetFirewallProfile left LogBlocked of profile Domain at False, not True" in host.output, host.output
    assert host.names("netsec.bjnp") == [] and not host.fake.exists(_RECORD)
    assert host.result["rolled_back"] is True and host.fake.data["tasks"] == {}


def test_emulated_group_policy_that_keeps_logging_off_is_noted(tmp_path):
    host = _Host(tmp_path, faults={"gpo_logging": {"Public": "False"}}).run("windows", _LOG_ON)
    assert host.returncode == 0, host.output
    note = ("Group Policy keeps dropped-packet logging off in profile(s) Public (effective LogBlocked is not True): "
            "attempts there are not logged")
    assert note in host.result["plan"]["notes"] and note in host.result["message"]


@pytest.mark.parametrize("text, named", [
    ("not json", "is not JSON"),
    ('{"format": 1, "group": "other", "profiles": [], "changed": []}', "belongs to rule group 'other'"),
    ('{"format": 1, "group": "netsec.bjnp", "profiles": [], "changed": [{"profile": "Domain", "setting": '
     '"LogFileName", "before": "x", "after": "y"}]}', "is not one the role makes"),
])
def test_emulated_malformed_record_is_refused_before_any_change(tmp_path, text, named):
    host = _Host(tmp_path)
    fake = host.fake
    fake.write(_RECORD, text)
    fake.save()
    host.run("windows", _LOG_ON)
    assert host.returncode != 0
    assert named in host.output, host.output
    assert "win_command" not in host.fake.data["log"] and host.names("netsec.bjnp") == []
    assert _log_blocked(host) == {"Domain": "False", "Private": "False", "Public": "False"}


# --- the Windows collector (tasks_from: attempts_windows) ------------------------------------------
# The log samples follow Microsoft's documented format; they were not captured from a real host
# (tests/unit/fixtures/attempts/windows/README.md). Their times are local, UTC+01:00 here.

_SAMPLES = os.path.join(_REPO, "tests", "unit", "fixtures", "attempts", "windows")
_FIREWALL_LOG = "C:\\Windows\\system32\\LogFiles\\Firewall\\pfirewall.log"
_SINCE = {"bjnp_monitor_since": "2026-12-01T08:00:00Z"}


def _collector_host(tmp_path, logging=None, old=True):
    host = _Host(tmp_path, logging=logging or _logging_settings({"Domain": "True", "Private": "True", "Public": "True"}))
    fake = host.fake
    for name in ["pfirewall.log"] + (["pfirewall.log.old"] if old else []):
        with open(os.path.join(_SAMPLES, name), "rb") as handle:
            content = handle.read()
        with open(fake.real(_FIREWALL_LOG[:-len("pfirewall.log")] + name, create=True), "wb") as handle:
            handle.write(content)
    return host


def test_emulated_collector_reads_the_log_of_every_profile_and_sums_it_up(tmp_path):
    host = _collector_host(tmp_path).run("attempts_windows", _SINCE, fact="bjnp_attempts_result")
    assert host.returncode == 0, host.output
    # One read for the three profiles (they share the file), nothing else on the host.
    assert host.fake.data["log"] == ["script:attempts_read"]
    result = host.result
    assert sorted(result) == ["backend", "changed", "counters", "counters_available", "failed", "log_limited",
                              "log_source", "since", "sources", "suspected_print_servers", "totals", "truncated",
                              "warnings"]
    assert (result["log_source"], result["backend"], result["counters_available"], result["counters"]) == (
        "windows-firewall-log", "windows", False, [])
    assert (result["changed"], result["failed"], result["since"]) == (False, False, "2026-12-01T08:00:00Z")
    found = dict(((s["address"], s["protocol"], s["port"]), (s["connections"], s["packets"])) for s in result["sources"])
    # 192.0.2.20: three connections in the current file (one SYN retransmitted) and one in the .old;
    # its 08:59:58 local (07:59:58Z) is before since.
    assert found == {("192.0.2.20", "tcp", 9100): (4, 5), ("198.51.100.7", "udp", 8612): (1, 2),
                     ("2001:db8::30", "tcp", 8611): (1, 1), ("192.0.2.40", "tcp", 8613): (1, 1)}
    print_server = [s for s in result["sources"] if s["address"] == "192.0.2.20"][0]
    assert (print_server["first_seen"], print_server["last_seen"]) == ("2026-12-01T08:05:00Z", "2026-12-01T08:30:01Z")
    assert result["suspected_print_servers"] == [{"address": "192.0.2.20", "ports": ["tcp/9100"], "connections": 4,
                                                  "allow_entry": "192.0.2.20"}]
    # INFO-EVENTS-LOST in the window: Windows dropped more than it logged.
    assert result["log_limited"] is True and result["truncated"] is False
    assert any("INFO-EVENTS-LOST" in warning for warning in result["warnings"]), result["warnings"]


def test_emulated_collector_reads_at_most_max_kb_and_says_the_window_was_cut(tmp_path):
    host = _collector_host(tmp_path).run("attempts_windows", dict(_SINCE, bjnp_windows_attempts_max_kb=1),
                                         fact="bjnp_attempts_result")
    assert host.returncode == 0, host.output
    result = host.result
    assert result["truncated"] is True
    assert any("bjnp_windows_attempts_max_kb" in warning for warning in result["warnings"]), result["warnings"]
    # The newest KiB only: the .old and the start of the current file were not read.
    assert ("192.0.2.40", "tcp", 8613) not in [(s["address"], s["protocol"], s["port"]) for s in result["sources"]]
    assert [s for s in result["sources"] if s["address"] == "2001:db8::30"]


def test_emulated_collector_says_when_no_profile_logs(tmp_path):
    host = _collector_host(tmp_path, logging=_logging_settings()).run("attempts_windows", _SINCE,
                                                                      fact="bjnp_attempts_result")
    assert host.returncode == 0, host.output
    assert host.result["sources"] == [] and host.result["failed"] is False
    assert any("run netsec.bjnp.firewall with bjnp_log_attempts: true" in w for w in host.result["warnings"])


def test_emulated_collector_runs_in_check_mode(tmp_path):
    host = _collector_host(tmp_path).run("attempts_windows", _SINCE, "--check", fact="bjnp_attempts_result")
    assert host.returncode == 0, host.output
    assert len(host.result["sources"]) == 4


@pytest.mark.parametrize("extra, named", [
    ({"bjnp_monitor_since": "yesterday"}, "bjnp_monitor_since 'yesterday' is not a time"),
    ({"bjnp_print_server_min_connections": 0}, "bjnp_print_server_min_connections 0 is not a whole number from 1"),
    ({"bjnp_windows_attempts_max_kb": 100000}, "bjnp_windows_attempts_max_kb 100000 is not a whole number from 1"),
])
def test_emulated_collector_refuses_bad_variables_before_reading(tmp_path, extra, named):
    host = _collector_host(tmp_path).run("attempts_windows", dict(_SINCE, **extra), fact="bjnp_attempts_result")
    assert host.returncode != 0
    assert named in host.output, host.output
    assert host.fake.data["log"] == []


# --- bjnp_windows_logging_plan (pure) ------------------------------------------------------------

def _state(blocked=None, effective=None, record=None):
    settings = _logging_settings(blocked)
    profiles = [dict(settings[name], name=name) for name in ("Domain", "Private", "Public")]
    active = [dict(item, LogBlocked=(effective or {}).get(item["name"], item["LogBlocked"])) for item in profiles]
    return {"profiles": profiles, "effective": active, "record": None if record is None else json.dumps(record)}


def test_logging_plan_enable_changes_only_what_differs_and_records_it():
    plan = win.bjnp_windows_logging_plan(json.dumps(_state({"Private": "True"})), "netsec.bjnp", "enable")
    assert plan["changes"] == [_change("Domain", "False", "True"), _change("Public", "False", "True")]
    assert plan["record"] is None and plan["record_changed"] is True
    assert plan["record_after"]["changed"] == plan["changes"] and plan["record_after"]["profiles"] == plan["profiles"]
    assert plan["effective_off"] == ["Domain", "Public"]
    # Already on everywhere: nothing to do, no record written.
    plan = win.bjnp_windows_logging_plan(_state({"Domain": "True", "Private": "True", "Public": "True"}), "g", "enable")
    assert plan["changes"] == [] and plan["record_after"] is None and plan["record_changed"] is False
    assert plan["diff"] == []


def test_logging_plan_enable_keeps_the_first_recorded_value():
    first = win.bjnp_windows_logging_plan(_state(), "g", "enable")["record_after"]
    plan = win.bjnp_windows_logging_plan(_state({"Domain": "True", "Private": "True"}, record=first), "g", "enable")
    assert plan["changes"] == [_change("Public", "False", "True")]
    assert plan["record_after"] == first and plan["record_changed"] is False


def test_logging_plan_undo_puts_back_what_differs_and_leaves_no_record():
    record = win.bjnp_windows_logging_plan(_state({"Private": "NotConfigured"}), "g", "enable")["record_after"]
    # Someone already set the domain profile back by hand.
    live = _state({"Domain": "False", "Private": "True", "Public": "True"}, record=record)
    plan = win.bjnp_windows_logging_plan(live, "g", "undo")
    assert plan["changes"] == [_change("Private", "True", "NotConfigured"), _change("Public", "True", "False")]
    assert plan["record_after"] is None and plan["record_changed"] is True
    # No record: nothing was the role's, nothing to put back.
    assert win.bjnp_windows_logging_plan(_state({"Domain": "True"}), "g", "undo")["changes"] == []


def test_logging_plan_import_puts_back_that_runs_changes_and_keeps_what_is_still_ours():
    record = win.bjnp_windows_logging_plan(_state(), "g", "enable")["record_after"]
    on = {"Domain": "True", "Private": "True", "Public": "True"}
    # The backup of the run that turned logging on; the import did not put logging back.
    backup = {"profiles": record["profiles"], "changed": record["changed"], "record": None}
    plan = win.bjnp_windows_logging_plan(_state(on, record=record), "g", "import", backup)
    assert plan["changes"] == [_change(name, "True", "False") for name in ("Domain", "Private", "Public")]
    assert plan["record_after"] is None and plan["record_changed"] is True
    # A backup taken while logging was already ours: logging stays, and so does the record.
    backup = {"profiles": record["profiles"], "changed": [], "record": record}
    plan = win.bjnp_windows_logging_plan(_state(on, record=record), "g", "import", backup)
    assert plan["changes"] == [] and plan["record_after"] == record and plan["record_changed"] is False
    # The same backup after an absent run deleted the record: the record comes back with the policy.
    plan = win.bjnp_windows_logging_plan(_state(on), "g", "import", backup)
    assert plan["record_after"] == record and plan["record_changed"] is True
    # A backup without logging metadata: the current record, less what is back as recorded.
    plan = win.bjnp_windows_logging_plan(_state({"Domain": "True"}, record=record), "g", "import", None)
    assert plan["changes"] == [] and plan["record_after"]["changed"] == [_change("Domain", "False", "True")]
    # ansible-core before 2.19 templates `none` as '': the role hands the filter that for "no metadata".
    assert win.bjnp_windows_logging_plan(_state({"Domain": "True"}, record=record), "g", "import", "") == plan


@pytest.mark.parametrize("raw, named", [
    ("{", "the logging state read from the host is not JSON"),
    ({"profiles": [], "effective": [], "record": None}, "the host reported no firewall profile Domain, Private, Public"),
    (dict(_state(), profiles=[dict(_state()["profiles"][0], LogBlocked="Yes")]), "LogBlocked 'Yes' of profile Domain"),
    (dict(_state(), profiles=[dict(_state()["profiles"][0], name="Dmz")]), "profile 'Dmz' is not one of"),
    (dict(_state(), profiles=[dict(_state()["profiles"][0], LogFileName="C:\\x\nInvoke-Evil")]),
     "is not a plain path"),
    (dict(_state(), profiles=[dict(_state()["profiles"][0], LogMaxSizeKilobytes="4096; rm")]), "is not a number"),
    (_state(record={"format": 2}), "is not a logging record of netsec.bjnp"),
    (_state(record={"format": 1, "group": "g", "profiles": [], "changed": [
        {"profile": "Domain", "setting": "LogBlocked", "before": "Maybe", "after": "True"}]}),
     "before 'Maybe' of profile Domain is not one of True, False, NotConfigured"),
    (_state(record={"format": 1, "group": "g", "profiles": [], "changed": [_change("Domain", "False", "True")] * 2}),
     "profile Domain is changed twice"),
])
def test_logging_plan_refuses_malformed_input_and_names_it(raw, named):
    with pytest.raises(AnsibleFilterError) as info:
        win.bjnp_windows_logging_plan(raw, "g", "undo", None, "C:\\b\\logging-g.json")
    assert named in str(info.value), str(info.value)


def test_logging_plan_refuses_bad_actions_groups_and_backup_metadata():
    with pytest.raises(AnsibleFilterError, match="action 'delete' is not enable, undo or import"):
        win.bjnp_windows_logging_plan(_state(), "g", "delete")
    with pytest.raises(AnsibleFilterError, match="wildcard"):
        win.bjnp_windows_logging_plan(_state(), "*", "enable")
    with pytest.raises(AnsibleFilterError, match="is not .profiles, changed, record."):
        win.bjnp_windows_logging_plan(_state(), "g", "import", {"changed": []})


def test_logging_scripts_record_before_enabling_and_after_restoring():
    enable, restore = scripts._SCRIPTS["logging_enable"][1], scripts._SCRIPTS["logging_restore"][1]
    body = enable[enable.index("$record = Save-Record"):]
    assert body.index("Save-Record") < body.index("Set-Logging")
    body = restore[restore.index("$changed = @(Set-Logging)"):]
    assert body.index("Set-Logging") < body.index("Save-Record")
    # Only the local store, only LogBlocked: the file name and size are recorded, never set.
    assert "Set-NetFirewallProfile -PolicyStore PersistentStore -Name $name -LogBlocked" in enable
    assert enable.count("Set-NetFirewallProfile -") == 1 and "-LogFileName" not in enable
    assert "-LogMaxSizeKilobytes" not in enable
