# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's pure parts: ICMP reading and the shape of the report (docs/design.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_scanner as scanner

ICMP, ICMP6, LOCAL = scanner.SO_EE_ORIGIN_ICMP, scanner.SO_EE_ORIGIN_ICMP6, 1


@pytest.mark.parametrize("origin, icmp_type, icmp_code, state", [
    (ICMP, 3, 3, "closed"),       # port unreachable
    (ICMP, 3, 13, "filtered"),    # communication administratively prohibited
    (ICMP, 3, 10, "filtered"),    # host prohibited
    (ICMP, 3, 1, "filtered"),     # host unreachable
    (ICMP6, 1, 4, "closed"),      # port unreachable
    (ICMP6, 1, 1, "filtered"),    # administratively prohibited
    (ICMP, 11, 0, None),          # time exceeded: not an answer about the port
    (LOCAL, 0, 0, None),
])
def test_icmp_errors_read_as_nmap_does(origin, icmp_type, icmp_code, state):
    assert scanner.udp_icmp_state(origin, icmp_type, icmp_code) == state


def test_services():
    assert [scanner.service_name(p) for p in (8611, 8612, 8613, 8614, 9100, 631)] == [
        "bjnp-printer", "bjnp-scanner", "bjnp", "bjnp", "jetdirect", "unknown"]


IDENTITY = {"manufacturer": "Canon", "model": "MG5200 series", "description": None,
            "firmware": None, "command_set": None, "raw": "MFG:Canon;MDL:MG5200 series;",
            "mac": "00:1e:8f:12:34:56"}


def report(only_exposed=False):
    targets = [(ipaddress.ip_address("::1"), None), (ipaddress.ip_address("127.0.0.10"), "printer"),
               (ipaddress.ip_address("127.0.0.9"), None)]
    results = {
        ("127.0.0.10", "udp", 8611): ("open", IDENTITY),
        ("127.0.0.10", "tcp", 9100): ("open", None),
        ("127.0.0.10", "tcp", 8611): ("closed", None),
        ("127.0.0.9", "udp", 8611): ("closed", None),
    }
    return scanner.build_report(targets, results, [8611], [9100, 8611], 1.23456, only_exposed)


def test_report_is_sorted_and_shaped_as_designed():
    result = report()
    assert [h["address"] for h in result["hosts"]] == ["127.0.0.9", "127.0.0.10", "::1"]
    printer = result["hosts"][1]
    assert printer["name"] == "printer" and printer["exposed"] is True
    assert printer["ports"] == [
        {"port": 8611, "protocol": "tcp", "state": "closed", "service": "bjnp-printer"},
        {"port": 9100, "protocol": "tcp", "state": "open", "service": "jetdirect"},
        {"port": 8611, "protocol": "udp", "state": "open", "service": "bjnp-printer", "identity": IDENTITY},
    ]
    assert "name" not in result["hosts"][0]
    assert result["summary"] == {"targets": 3, "exposed": 1, "elapsed": 1.235}


def test_ports_without_result_read_as_unanswered():
    states = dict(((p["protocol"], p["port"]), p["state"]) for p in report()["hosts"][2]["ports"])
    assert states == {("tcp", 8611): "filtered", ("tcp", 9100): "filtered", ("udp", 8611): "open|filtered"}


def test_only_exposed_keeps_the_counts():
    result = report(only_exposed=True)
    assert [h["address"] for h in result["hosts"]] == ["127.0.0.10"]
    assert result["summary"]["targets"] == 3
