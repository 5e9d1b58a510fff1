# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to netsec.bjnp.probe fails, through ansible, with a message naming the bad value;
a hostname that does not resolve is reported while the other targets are still probed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import subprocess

import pytest

from bjnp_integration import IS_ROOT, port_result, run_module

# None of these needs a DNS answer: each is refused before any name is looked up. The shorthand
# and scoped targets expand to loopback, so even a run against a probe that accepted them would
# send nothing off the host.
CASES = [
    ({"targets": ["10.0.0.0/33"]}, "10.0.0.0/33"),
    ({"targets": ["127.0.0.1", "not..a host!"]}, "not..a host!"),
    ({"targets": ["127.0.0.1"], "tcp_ports": [0]}, "'0'"),
    ({"targets": ["127.0.0.1"], "udp_ports": [65536]}, "'65536'"),
    ({"targets": ["127.0.0.1"], "tcp_ports": ["9100-65536"]}, "65536"),
    ({"targets": ["127.0.0.1"], "timeout": 0}, "got 0"),
    ({"targets": ["127.0.0.1"], "timeout": -2.5}, "-2.5"),
    # A timeout that never expires, or past the documented 60 s.
    ({"targets": ["127.0.0.1"], "timeout": "inf"}, "at most 60 seconds, got inf"),
    ({"targets": ["127.0.0.1"], "timeout": "1e400"}, "at most 60 seconds, got inf"),
    ({"targets": ["127.0.0.1"], "timeout": "nan"}, "got nan"),
    ({"targets": ["127.0.0.1"], "timeout": 61}, "got 61.0"),
    ({"targets": ["127.0.0.1"], "retries": 100}, "retries must be from 0 to 10, got 100"),
    # float() of this rate overflowed inside the scanner: a traceback.
    ({"targets": ["127.0.0.1"], "rate": "1" + "0" * 400}, "rate must be from 0 to 1000000"),
    ({"targets": ["127.0.0.1", "::1%lo"]}, "target '::1%lo' carries an IPv6 zone id"),
    ({"targets": ["127.1"]}, "target '127.1' is not a dotted-quad IPv4 address"),
    ({"targets": ["2130706433"]}, "target '2130706433' is not a dotted-quad IPv4 address"),
    ({"targets": ["127.0.0.1"], "udp_ports": [], "tcp_ports": []}, "udp_ports and tcp_ports are both empty"),
    ({"targets": ["127.0.0.1"], "tcp_ports": [{"port": 9100}]}, "tcp_ports: '{'port': 9100}' is not a port"),
    ({"targets": ["127.0.0.1"], "udp_ports": [[8611]]}, "udp_ports: '[8611]' is not a port"),
]


@pytest.mark.parametrize("arguments, named", CASES, ids=[str(case[0])[:80] for case in CASES])
def test_bad_input_fails_naming_the_value(arguments, named):
    returncode, result = run_module(arguments, timeout=60)
    assert returncode != 0
    assert result.get("failed") is True
    assert named in result["msg"], result["msg"]
    # The module's own fail_json, never a crash: ansible answers an uncaught exception with
    # "Task failed: Module failed: <exception>" (2.19 on) or "MODULE FAILURE" (before). A result's
    # invocation is no sign: ansible-core 2.21 adds it only when asked to.
    assert not re.search(r"module fail", result["msg"], re.I), result
    assert "hosts" not in result  # nothing was probed


@pytest.fixture
def netns_without_dns():
    """A namespace with only loopback up: no route to any DNS server, so a name that is not in
    /etc/hosts fails to resolve at once and no query leaves the host."""
    if not IS_ROOT:
        pytest.skip("needs root to create a network namespace")
    name = "bjnpit-%08x-nodns" % random.SystemRandom().getrandbits(32)
    subprocess.check_call(["ip", "netns", "add", name])
    try:
        subprocess.check_call(["ip", "-n", name, "link", "set", "lo", "up"])
        yield name
    finally:
        subprocess.call(["ip", "netns", "delete", name])


GONE = "printer-gone.example.com"


def test_unresolvable_name_is_reported_and_the_others_are_probed(netns_without_dns, start_emulator):
    start_emulator(binds=["127.0.0.5"], netns=netns_without_dns)
    returncode, result = run_module({"targets": ["127.0.0.5", GONE, "localhost"], "udp_ports": [8611],
                                     "tcp_ports": [9100], "timeout": 0.5}, netns=netns_without_dns)
    assert returncode == 0 and not result.get("failed"), result
    assert [entry["target"] for entry in result["unresolved"]] == [GONE]
    assert result["unresolved"][0]["error"].startswith("does not resolve (")
    assert result["msg"].startswith("1 of 3 targets not probed: target '%s' does not resolve" % GONE)
    assert "target '%s' does not resolve" % GONE in str(result.get("warnings"))
    # The sweep went on: the emulator was found and the resolved name probed.
    assert port_result(result, "127.0.0.5", "udp", 8611)["state"] == "open"
    assert port_result(result, "127.0.0.1", "tcp", 9100)["state"] == "closed"
    assert result["summary"] == dict(result["summary"], targets=2, exposed=1)


def test_only_unresolvable_names_fail_naming_each(netns_without_dns):
    returncode, result = run_module({"targets": [GONE, "old-printer.example.com"], "tcp_ports": [9100]},
                                    netns=netns_without_dns)
    assert returncode != 0 and result.get("failed") is True
    assert result["msg"].startswith("no target could be probed: target '%s' does not resolve" % GONE)
    assert "target 'old-printer.example.com' does not resolve" in result["msg"]
    assert [entry["target"] for entry in result["unresolved"]] == [GONE, "old-printer.example.com"]
    assert "hosts" not in result
