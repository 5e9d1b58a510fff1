# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.report with name=monitor writes real files and the closing message, and refuses
input the monitor report would not read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import xml.etree.ElementTree as ET

import pytest

from test_report import PROBE, run_module

ATTEMPTS = {"printhost": {
    "changed": False, "since": "2026-11-24T12:00:00Z", "log_source": "kmsg", "backend": "nftables",
    "counters_available": True,
    "counters": [{"mode": "host", "protocol": "tcp", "ports": "9100", "packets": 4, "bytes": 240}],
    "sources": [{"address": "10.201.0.1", "protocol": "tcp", "port": 9100, "packets": 4, "connections": 4,
                 "first_seen": "2026-11-25T11:00:00Z", "last_seen": "2026-11-25T11:00:02Z", "mode": "host",
                 "destinations": []}],
    "totals": [{"protocol": "tcp", "port": 9100, "packets_logged": 4, "packets_counted": 4, "sources": 1}],
    "log_limited": False, "truncated": False, "warnings": [],
    "suspected_print_servers": [{"address": "10.201.0.1", "ports": ["tcp/9100"], "connections": 4,
                                 "allow_entry": "10.201.0.1"}]}}


def test_monitor_writes_three_formats_and_returns_the_message(capsys, tmp_path):
    result = run_module(capsys, dir=str(tmp_path), name="monitor", attempts=ATTEMPTS)
    assert result["changed"] is True and sorted(result["paths"]) == ["html", "json", "junit"]
    assert os.path.basename(result["paths"]["json"]).startswith("monitor-")
    assert result["latest"]["html"] == str(tmp_path / "monitor-latest.html")
    assert result["summary"]["attempts"] == 4 and result["summary"]["suspected_print_servers"] == 1
    assert result["message"][1] == "printhost: 4 attempts from 1 source"
    assert result["message"][-1].endswith('add bjnp_allowed_sources: [..., "10.201.0.1"]')
    with open(result["paths"]["json"]) as handle:
        assert json.load(handle)["suspected_print_servers"][0]["allow_entry"] == "10.201.0.1"
    root = ET.parse(result["paths"]["junit"]).getroot()
    assert (root.get("tests"), root.get("failures")) == ("2", "2")
    with open(result["paths"]["html"]) as handle:
        assert "Possibly a print server you forgot to allow" in handle.read()
    assert len(os.listdir(str(tmp_path))) == 6


def test_monitor_check_mode_writes_nothing_but_still_says_what_was_seen(capsys, tmp_path):
    target = tmp_path / "reports"
    result = run_module(capsys, dir=str(target), name="monitor", attempts=ATTEMPTS, _ansible_check_mode=True)
    assert result["changed"] is True and result["message"][1] == "printhost: 4 attempts from 1 source"
    assert not target.exists()


def test_the_probe_reports_return_their_own_message(capsys, tmp_path):
    message = run_module(capsys, dir=str(tmp_path), name="detect", probe=PROBE)["message"]
    assert message == ["1 of 1 address expose 1 open BJNP/raw-print port"] + message[1:] and len(message) == 2


@pytest.mark.parametrize("args, message", [
    (dict(name="monitor", attempts=ATTEMPTS, probe=PROBE), "probe is not read by the monitor report: give attempts only"),
    (dict(name="monitor", listeners={"h": []}, firewall={"h": {}}),
     "listeners and firewall are not read by the monitor report"),
    (dict(name="detect", probe=PROBE, attempts=ATTEMPTS), "attempts is not read by the detect report: attempts is for "
                                                          "name=monitor"),
    (dict(name="monitor", attempts={"printhost": {"sources": [{"address": "10.0.0.1", "protocol": "tcp",
                                                               "port": 9100, "packets": "many"}]}}),
     "bad report input: attempts.printhost.sources[0].packets: 'many' is not a count"),
])
def test_input_the_report_would_not_read_is_refused(capsys, tmp_path, args, message):
    result = run_module(capsys, dir=str(tmp_path / "r"), **args)
    assert result["failed"] is True and message in result["msg"]
    assert not (tmp_path / "r").exists()
