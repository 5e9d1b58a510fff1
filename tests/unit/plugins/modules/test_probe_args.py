# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.probe refuses bad options with a message naming the value, before any probe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

import pytest

from module_args import patch_module_args

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_targets
from ansible_collections.netsec.bjnp.plugins.modules import probe


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    (dict(targets=["127.0.0.1"], udp_ports=[70000]), "udp_ports: port '70000' is outside 1-65535"),
    (dict(targets=["127.0.0.1"], tcp_ports=["0"]), "tcp_ports: port '0' is outside 1-65535"),
    (dict(targets=["127.0.0.1"], tcp_ports=["9100-80"]), "tcp_ports: port range '9100-80' runs backwards"),
    (dict(targets=["127.0.0.1"], timeout=0), "timeout must be greater than 0 and at most 60 seconds, got 0.0"),
    (dict(targets=["127.0.0.1"], timeout=-2), "got -2.0"),
    (dict(targets=["127.0.0.1"], retries=-1), "retries must be from 0 to 10, got -1"),
    (dict(targets=["127.0.0.1"], concurrency=0), "concurrency must be from 1 to 1048576, got 0"),
    (dict(targets=["10.0.0.0/8"]), "max_targets=65536 addresses (at least 16777216"),
    (dict(targets=["127.0.0.0/24"], max_targets=100), "max_targets=100"),
    (dict(targets=["127.0.0.1/33"]), "'127.0.0.1/33' is not a valid CIDR network"),
    (dict(targets=[]), "targets is empty"),
    # Item 1: values that never expire or overflow.
    (dict(targets=["127.0.0.1"], timeout="inf"), "at most 60 seconds, got inf"),
    (dict(targets=["127.0.0.1"], timeout="1e400"), "at most 60 seconds, got inf"),
    (dict(targets=["127.0.0.1"], timeout="nan"), "at most 60 seconds, got nan"),
    (dict(targets=["127.0.0.1"], timeout=3600), "got 3600.0"),
    (dict(targets=["127.0.0.1"], retries=1000000), "retries must be from 0 to 10, got 1000000"),
    (dict(targets=["127.0.0.1"], rate="1" + "0" * 400), "rate must be from 0 to 1000000"),
    (dict(targets=["127.0.0.1"], max_targets="1" + "0" * 400), "max_targets must be at least 1 and at most 16777216"),
    # Item 2: a zone id; shorthand and malformed targets (item 3). Each expands to loopback (or
    # nothing) on the old code, so the test sends nothing off the host whatever it runs against.
    (dict(targets=["127.0.0.1", "::1%lo"]), "target '::1%lo' carries an IPv6 zone id (%lo)"),
    (dict(targets=["127.1"]), "target '127.1' is not a dotted-quad IPv4 address (the system resolver reads it as 127.0.0.1)"),
    (dict(targets=["2130706433"]), "target '2130706433' is not a dotted-quad IPv4 address"),
    (dict(targets=["0177.0.0.1"]), "target '0177.0.0.1' is not a dotted-quad"),
    # Item 4: nothing to probe.
    (dict(targets=["127.0.0.1"], udp_ports=[], tcp_ports=[]), "udp_ports and tcp_ports are both empty"),
    # Item 6: wrong types in the lists.
    (dict(targets=["127.0.0.1"], tcp_ports=[{"port": 9100}]), "tcp_ports: '{'port': 9100}' is not a port"),
    (dict(targets=["127.0.0.1"], udp_ports=[[8611, 8612]]), "udp_ports: '[8611, 8612]' is not a port"),
    (dict(targets=["127.0.0.1"], udp_ports=[None]), "udp_ports: 'None' is not a port"),
    (dict(targets=["127.0.0.1"], tcp_ports=[9100.5]), "tcp_ports: '9100.5' is not a port"),
    (dict(targets=[{"address": "127.0.0.1"}]), "target '{'address': '127.0.0.1'}' is not a valid hostname"),
    (dict(targets=[["127.0.0.1"]]), "target '['127.0.0.1']' is not a valid hostname"),
])
def test_bad_options_fail_with_the_value_named(capsys, monkeypatch, args, message):
    monkeypatch.setattr(bjnp_targets.socket, "getaddrinfo", no_dns)
    result = run_module(capsys, **args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert "hosts" not in result  # refused before anything was probed


def no_dns(name, *args, **kwargs):
    """getaddrinfo() for these tests: loopback names only, no query leaves the host."""
    if name == "localhost":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
def closed_port():
    """A loopback TCP port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unresolvable_name_is_reported_while_the_others_are_probed(capsys, monkeypatch, closed_port):
    monkeypatch.setattr(bjnp_targets.socket, "getaddrinfo", no_dns)
    result = run_module(capsys, targets=["localhost", "gone.example.com", "127.0.0.2"],
                        udp_ports=[], tcp_ports=[closed_port])
    assert not result.get("failed"), result
    assert result["unresolved"] == [{"target": "gone.example.com",
                                     "error": "does not resolve ([Errno -2] Name or service not known)"}]
    assert [host["address"] for host in result["hosts"]] == ["127.0.0.1", "127.0.0.2"]
    assert result["summary"]["targets"] == 2
    expected = ("1 of 3 targets not probed: target 'gone.example.com' does not resolve "
                "([Errno -2] Name or service not known)")
    # Also a warning: asserted in tests/integration/test_probe_errors.py (a real run), since once
    # another test has loaded controller code in this process, ansible displays module warnings
    # instead of returning them.
    assert result["msg"] == expected


def test_every_name_unresolvable_is_a_failure_naming_each(capsys, monkeypatch):
    monkeypatch.setattr(bjnp_targets.socket, "getaddrinfo", no_dns)
    result = run_module(capsys, targets=["gone.example.com", "old-printer.example.com"])
    assert result["failed"] is True
    assert result["msg"].startswith("no target could be probed: target 'gone.example.com' does not resolve")
    assert "target 'old-printer.example.com' does not resolve" in result["msg"]
    assert [entry["target"] for entry in result["unresolved"]] == ["gone.example.com", "old-printer.example.com"]
    assert "hosts" not in result


def test_a_clean_run_returns_an_empty_unresolved_list(capsys, closed_port):
    result = run_module(capsys, targets=["127.0.0.1"], udp_ports=[], tcp_ports=[closed_port])
    assert not result.get("failed"), result
    assert result["unresolved"] == [] and "msg" not in result
    assert result["hosts"][0]["ports"][0]["state"] == "closed"


def test_unknown_option_is_refused_by_the_argument_spec(capsys):
    result = run_module(capsys, targets=["127.0.0.1"], ports=[9100])
    assert result["failed"] is True and "ports" in result["msg"]


def test_targets_are_required(capsys):
    result = run_module(capsys)
    assert result["failed"] is True and "targets" in result["msg"]
