# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows collector's filters (plugins/filter/bjnp_windows_attempts.py), on log samples.

The samples in tests/unit/fixtures/attempts/windows/ follow Microsoft's documented pfirewall.log
format; they were not captured from a real Windows host (see their README). The task-flow runs
of attempts_windows.yml against the emulated host are in test_bjnp_windows.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import calendar
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.filter import bjnp_windows_attempts as attempts

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
_SAMPLES = os.path.join(_REPO, "tests", "unit", "fixtures", "attempts", "windows")
PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]
SINCE = calendar.timegm((2026, 12, 1, 8, 0, 0))  # 09:00 at the samples' UTC+01:00
LOG = "C:\\Windows\\system32\\LogFiles\\Firewall\\pfirewall.log"


def _sample(name):
    """A sample as Windows writes it: CRLF line ends (stored with LF, as ansible-test requires)."""
    with open(os.path.join(_SAMPLES, name), "rb") as handle:
        return handle.read().replace(b"\n", b"\r\n")


def _file(content, path=LOG, offset=0, rotated=False):
    return {"path": path, "rotated": rotated, "exists": True, "size": len(content), "offset": offset,
            "head": base64.b64encode(content[:4096]).decode("ascii") if offset else "",
            "data": base64.b64encode(content[offset:]).decode("ascii"), "error": ""}


def _raw(files, offset=60, offset_since=None, blocked="True"):
    return {"now": SINCE + 86400, "offset_now": offset, "offset_since": offset if offset_since is None else offset_since,
            "profiles": [{"name": name, "LogBlocked": blocked, "LogFileName": "%systemroot%\\...\\pfirewall.log",
                          "LogMaxSizeKilobytes": "4096"} for name in ("Domain", "Private", "Public")],
            "files": files}


def _sources(result):
    return dict(((s["address"], s["protocol"], s["port"]), (s["connections"], s["packets"])) for s in result["sources"])


def test_the_documented_format_sample_is_summed_up_like_the_linux_collector():
    result = attempts.bjnp_windows_attempts(_raw([_file(_sample("pfirewall.log"))]), PORTS, SINCE, 3)
    # Not counted: TCP 445, ALLOW, ICMP, SEND, INFO-EVENTS-LOST, the cut line and UDP 9100 (we
    # close TCP 9100 only).
    assert _sources(result) == {("192.0.2.20", "tcp", 9100): (3, 4), ("198.51.100.7", "udp", 8612): (1, 2),
                                ("2001:db8::30", "tcp", 8611): (1, 1)}
    bjnp = [s for s in result["sources"] if s["address"] == "198.51.100.7"][0]
    assert bjnp["destinations"] == ["192.0.2.5", "192.0.2.255"] and bjnp["mode"] == "host"
    assert result["suspected_print_servers"] == [{"address": "192.0.2.20", "ports": ["tcp/9100"], "connections": 3,
                                                  "allow_entry": "192.0.2.20"}]
    totals = dict(((t["protocol"], t["port"]), t) for t in result["totals"])
    assert totals[("tcp", 9100)] == {"protocol": "tcp", "port": 9100, "packets_logged": 4, "packets_counted": None,
                                     "sources": 1}
    assert (result["log_source"], result["backend"], result["counters_available"], result["counters"]) == (
        "windows-firewall-log", "windows", False, [])
    assert result["since"] == "2026-12-01T08:00:00Z" and result["truncated"] is False
    assert result["log_limited"] is True
    assert result["warnings"] == ["Windows Firewall lost 1 log event(s) in the window (INFO-EVENTS-LOST): more "
                                  "packets were dropped than logged"]


def test_local_times_are_converted_with_the_hosts_offset():
    # The same lines at UTC-05:00: 09:10 local is 14:10Z, so a since of 13:00Z keeps all of them.
    since = calendar.timegm((2026, 12, 1, 13, 0, 0))
    result = attempts.bjnp_windows_attempts(_raw([_file(_sample("pfirewall.log"))], offset=-300), PORTS, since)
    assert _sources(result)[("192.0.2.20", "tcp", 9100)] == (3, 4)
    assert [s["first_seen"] for s in result["sources"] if s["address"] == "192.0.2.20"] == ["2026-12-01T14:10:01Z"]
    # And the since filters in UTC: 14:15Z leaves the 09:20 and 09:30 local connections.
    result = attempts.bjnp_windows_attempts(_raw([_file(_sample("pfirewall.log"))], offset=-300), PORTS, since + 4500)
    assert _sources(result)[("192.0.2.20", "tcp", 9100)] == (2, 2)


def test_a_changed_offset_within_the_window_is_a_warning():
    result = attempts.bjnp_windows_attempts(_raw([_file(_sample("pfirewall.log"))], offset=60, offset_since=120),
                                            PORTS, SINCE)
    assert any("UTC offset changed within the window (+120 min at since, +60 min now" in w for w in result["warnings"])


def test_a_read_from_inside_the_file_drops_the_cut_line_and_keeps_the_header():
    content = _sample("pfirewall.log")
    # Start inside the 09:10:01 line: its remainder must not be read as a line of its own.
    offset = content.index(b"2026-12-01 09:10:01") + 5
    result = attempts.bjnp_windows_attempts(_raw([_file(content, offset=offset)]), PORTS, SINCE)
    assert _sources(result)[("192.0.2.20", "tcp", 9100)] == (3, 3)
    # The oldest line read (09:10:04 local) is inside the window: older ones may be missing.
    assert result["truncated"] is True
    assert any("bjnp_windows_attempts_max_kb" in w for w in result["warnings"])
    # Cut, but the oldest line read is older than since (08:15Z, 09:15 local): the window was read whole.
    result = attempts.bjnp_windows_attempts(_raw([_file(content, offset=offset)]), PORTS, SINCE + 900)
    assert result["truncated"] is False and _sources(result)[("192.0.2.20", "tcp", 9100)] == (2, 2)


def test_the_fields_header_decides_the_columns():
    # A header with the columns in another order (and one more): read by name, not by position.
    text = (b"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin "
            b"icmptype icmpcode info path pid\r\n"
            b"2026-12-01 09:10:01 DROP TCP 192.0.2.20 192.0.2.5 50001 9100 52 S 1 0 64240 - - - RECEIVE 4\r\n")
    result = attempts.bjnp_windows_attempts(_raw([_file(text)]), PORTS, SINCE)
    assert _sources(result) == {("192.0.2.20", "tcp", 9100): (1, 1)}


def test_the_rotated_file_is_read_and_the_window_cut_when_it_was_left_out():
    current, old = _sample("pfirewall.log"), _sample("pfirewall.log.old")
    whole = attempts.bjnp_windows_attempts(_raw([_file(current), _file(old, LOG + ".old", rotated=True)]), PORTS, SINCE)
    assert _sources(whole)[("192.0.2.20", "tcp", 9100)] == (4, 5)
    assert _sources(whole)[("192.0.2.40", "tcp", 8613)] == (1, 1) and whole["truncated"] is False
    # The budget ended with the current file: the .old was not read, the window is cut.
    left = dict(_file(old, LOG + ".old", rotated=True), offset=len(old), data="", head="")
    cut = attempts.bjnp_windows_attempts(_raw([_file(current), left]), PORTS, SINCE)
    assert ("192.0.2.40", "tcp", 8613) not in _sources(cut) and cut["truncated"] is True


def test_missing_files_unreadable_files_and_profiles_that_do_not_log_are_warnings():
    missing = {"path": LOG, "rotated": False, "exists": False, "size": 0, "offset": 0, "head": "", "data": "",
               "error": ""}
    denied = dict(missing, path="D:\\fw.log", exists=True, error="Access to the path is denied.")
    raw = _raw([missing, denied])
    raw["profiles"][2]["LogBlocked"] = "False"
    result = attempts.bjnp_windows_attempts(raw, PORTS, SINCE)
    assert result["sources"] == []
    assert result["warnings"][:3] == [
        "profile(s) Public do not log dropped packets (LogBlocked is not True in the effective policy): attempts "
        "there are not seen",
        "%s does not exist: nothing dropped has been logged there yet" % LOG,
        "D:\\fw.log could not be read: Access to the path is denied."]
    result = attempts.bjnp_windows_attempts(_raw([], blocked="NotConfigured"), PORTS, SINCE)
    assert "run netsec.bjnp.firewall with bjnp_log_attempts: true" in result["warnings"][0]


@pytest.mark.parametrize("raw, named", [
    ("{", "is not JSON"),
    ([], "is not a mapping"),
    (dict(_raw([]), offset_now=2000), "offset_now 2000, not a UTC offset"),
    (dict(_raw([]), offset_since="60"), "offset_since '60', not a UTC offset"),
    (dict(_raw([]), now=None), "now None, not epoch seconds"),
    (dict(_raw([]), profiles=[{"name": "Dmz", "LogBlocked": "True", "LogFileName": "x"}]), "has profiles"),
    (_raw([dict(_file(b"x"), offset=5)]), "has a file entry"),
    (_raw([dict(_file(b"x"), size=-1)]), "has a file entry"),
    (_raw([dict(_file(b"x"), data="%%%")]), "whose content is not base64"),
])
def test_malformed_host_output_is_refused_and_named(raw, named):
    with pytest.raises(AnsibleFilterError) as info:
        attempts.bjnp_windows_attempts(raw, PORTS, SINCE)
    assert named in str(info.value) and "nothing was summed up" in str(info.value), str(info.value)


def test_bad_ports_are_refused_by_the_summary():
    with pytest.raises(AnsibleFilterError, match="sctp"):
        attempts.bjnp_windows_attempts(_raw([]), [{"protocol": "sctp", "port": 9100}], SINCE)


def _input(**values):
    base = {"since": "24h", "print_server_min_connections": 3, "max_kb": 1024, "ports": PORTS}
    base.update(values)
    return attempts.bjnp_windows_attempts_input(base, now=SINCE + 86400)


def test_input_takes_the_collectors_time_forms():
    assert _input() == {"problems": [], "since": SINCE, "max_bytes": 1024 * 1024}
    assert _input(since="2026-12-01T09:00:00+01:00")["since"] == SINCE
    assert _input(since=SINCE)["since"] == SINCE


@pytest.mark.parametrize("values, named", [
    ({"since": "yesterday"}, "bjnp_monitor_since 'yesterday' is not a time"),
    ({"since": "2030-01-01T00:00:00Z"}, "bjnp_monitor_since '2030-01-01T00:00:00Z' is in the future"),
    ({"since": True}, "bjnp_monitor_since True is not a time"),
    ({"print_server_min_connections": 0}, "bjnp_print_server_min_connections 0 is not a whole number from 1"),
    ({"print_server_min_connections": "3"}, "bjnp_print_server_min_connections '3' is not a whole number from 1"),
    ({"max_kb": 0}, "bjnp_windows_attempts_max_kb 0 is not a whole number from 1 to 65534"),
    ({"max_kb": 70000}, "bjnp_windows_attempts_max_kb 70000 is not a whole number from 1 to 65534"),
    ({"ports": [{"protocol": "tcp", "port": "70000"}]}, "bjnp_ports: "),
])
def test_input_refuses_bad_values_and_names_them(values, named):
    checked = _input(**values)
    assert len(checked["problems"]) == 1 and named in checked["problems"][0], checked["problems"]
    assert checked["max_bytes"] == 0


def test_input_needs_a_dict():
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        attempts.bjnp_windows_attempts_input(["24h"])


def test_every_filter_is_documented():
    assert sorted(attempts.FilterModule().filters()) == ["bjnp_windows_attempts", "bjnp_windows_attempts_input"]
    for name in attempts.FilterModule().filters():
        with open(os.path.join(_REPO, "plugins", "filter", name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


def test_the_samples_follow_the_documented_format():
    documented = ("#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack "
                  "tcpwin icmptype icmpcode info path")
    for name in ("pfirewall.log", "pfirewall.log.old"):
        lines = _sample(name).decode("ascii").split("\r\n")
        assert lines[:4] == ["#Version: 1.5", "#Software: Microsoft Windows Firewall", "#Time Format: Local",
                             documented], name
    with open(os.path.join(_SAMPLES, "README.md")) as handle:
        readme = handle.read()
    assert "were **not** captured from a real Windows host" in readme
