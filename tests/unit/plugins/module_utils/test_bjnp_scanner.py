# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's pure parts: ICMP reading, bookkeeping, the shape of the report (docs/design.md),
and bjnp_libc's sockaddr packing and error parsing (no sockets: those are in
tests/integration/test_probe_engine_io.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import socket
import struct

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_libc as libc
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


# ------------------------------------------------------------------ engine bookkeeping
def test_family_runs_group_consecutive_addresses_of_one_family():
    assert scanner.family_runs(["10.0.0.1", "10.0.0.2", "::1", "fe80::1", "10.0.0.3"]) == [
        (0, 2, socket.AF_INET), (2, 4, socket.AF_INET6), (4, 5, socket.AF_INET)]
    assert scanner.family_runs([]) == []


def test_result_entries_map_probe_indexes_port_major():
    # Probe index i = port position * addresses + address position; code 0 = no result.
    addresses = ["10.0.0.1", "10.0.0.2"]
    codes = bytearray([1, 2, 3, 4])
    assert list(scanner.result_entries(addresses, "udp", [8611, 8612], codes)) == [
        (("10.0.0.1", "udp", 8611), ("open", None)), (("10.0.0.2", "udp", 8611), ("closed", None)),
        (("10.0.0.1", "udp", 8612), ("filtered", None)), (("10.0.0.2", "udp", 8612), ("open|filtered", None))]
    assert list(scanner.result_entries(addresses, "tcp", [9100], bytearray([0, 2]))) == [
        (("10.0.0.2", "tcp", 9100), ("closed", None))]
    assert list(scanner.result_entries(addresses, "tcp", [], bytearray())) == []


@pytest.mark.parametrize("answer, error", [
    (struct.pack("=cQ", b"E", errno.EMFILE) + b"Too many open files", OSError),
    (struct.pack("=cQ", b"E", 0) + b"boom", RuntimeError),
    (b"", OSError),  # the child died before answering
])
def test_a_failed_child_process_is_reported(answer, error):
    part = scanner.Scanner([8611], [9100])
    part._prepare(["10.0.0.1", "10.0.0.2"])
    with pytest.raises(error) as raised:
        part._take_child_answer(answer)
    if error is OSError and answer:
        assert raised.value.errno == errno.EMFILE and "Too many open files" in str(raised.value)


def test_the_child_answer_round_trips():
    child = scanner.Scanner([8611, 8612], [9100])
    child._prepare(["10.0.0.1", "10.0.0.2"])
    child._ucode[:] = bytes([1, 2, 4, 3])
    child._tcode[:] = bytes([1, 2])
    child._identities = {0: dict(IDENTITY, raw="MFG:Canon;\udcff;")}  # hostile bytes, surrogate-escaped
    child.probes_sent = 7
    parent = scanner.Scanner([8611, 8612], [9100])
    parent._prepare(["10.0.0.1", "10.0.0.2"])
    parent._take_child_answer(child._child_answer())
    assert (parent.probes_sent, parent._ucode, parent._tcode) == (7, bytearray([1, 2, 4, 3]), bytearray([1, 2]))
    assert parent._identities == child._identities
    parent._collect()
    assert parent.results[("10.0.0.1", "udp", 8611)] == ("open", child._identities[0])
    assert parent.results[("10.0.0.2", "udp", 8612)] == ("filtered", None)
    assert parent.results[("10.0.0.2", "tcp", 9100)] == ("closed", None)


# ------------------------------------------------------------------ bjnp_libc: sockaddrs and errors
def test_sockaddrs_are_packed_as_linux_lays_them_out():
    v4 = libc.pack_sockaddrs(libc.sockaddr_prefix(socket.AF_INET, 8611),
                             [libc.sockaddr_tail(socket.AF_INET, a) for a in ("127.0.0.1", "10.1.2.3")])
    family = struct.pack("=H", socket.AF_INET)
    assert v4 == (family + b"\x21\xa3" + bytes([127, 0, 0, 1]) + b"\0" * 8
                  + family + b"\x21\xa3" + bytes([10, 1, 2, 3]) + b"\0" * 8)
    v6 = libc.pack_sockaddrs(libc.sockaddr_prefix(socket.AF_INET6, 9100),
                             [libc.sockaddr_tail(socket.AF_INET6, "2001:db8::5%eth0")])
    assert v6 == (struct.pack("=H", socket.AF_INET6) + b"\x23\x8c" + b"\0" * 4
                  + socket.inet_pton(socket.AF_INET6, "2001:db8::5") + b"\0" * 4)
    assert len(v6) == libc.SOCKADDR_SIZE[socket.AF_INET6]


def test_address_keys_do_not_depend_on_the_spelling():
    assert libc.address_key(socket.AF_INET, "127.0.0.1") == 0x7F000001
    assert (libc.address_key(socket.AF_INET6, "::1") == libc.address_key(socket.AF_INET6, "0:0::0:1")
            == libc.address_key(socket.AF_INET6, "::1%lo") == b"\0" * 15 + b"\x01")
    with pytest.raises((OSError, ValueError)):
        libc.address_key(socket.AF_INET, "printer.example")


def _cmsg(level, kind, origin, icmp_type, icmp_code):
    """One control buffer as Linux fills it for IP_RECVERR (offender address left out)."""
    data = struct.pack("=IBBBxII", errno.ECONNREFUSED, origin, icmp_type, icmp_code, 0, 0)
    # struct cmsghdr (size_t, int, int) is already CMSG_ALIGNed: the data follows at once.
    body = struct.pack("@Nii", struct.calcsize("@Nii") + len(data), level, kind) + data
    return body + b"\0" * (libc.CONTROL_SIZE - len(body))


def test_errors_read_by_recvmmsg_are_parsed_from_the_buffers():
    names = (libc.sockaddr_prefix(socket.AF_INET, 8613) + libc.sockaddr_tail(socket.AF_INET, "127.0.0.9")
             + libc.sockaddr_prefix(socket.AF_INET, 8611) + libc.sockaddr_tail(socket.AF_INET, "127.0.0.10")
             + b"\0" * 16)
    controls = (_cmsg(socket.IPPROTO_IP, libc.IP_RECVERR, 2, 3, 3)
                + b"\0" * libc.CONTROL_SIZE  # a message without the cmsg: skipped
                + _cmsg(socket.IPPROTO_IP, libc.IP_RECVERR, 2, 3, 13))
    assert libc.parse_errors(socket.AF_INET, names, controls, 3) == [
        (0x7F000009, 8613, 2, 3, 3), (0, 0, 2, 3, 13)]  # the third without a name: no probe has key 0
    assert libc.parse_errors(socket.AF_INET, names, controls, 1) == [(0x7F000009, 8613, 2, 3, 3)]
    names6 = libc.sockaddr_prefix(socket.AF_INET6, 8612) + libc.sockaddr_tail(socket.AF_INET6, "::1")
    assert libc.parse_errors(socket.AF_INET6, names6, _cmsg(socket.IPPROTO_IPV6, libc.IPV6_RECVERR, 3, 1, 4), 1) == [
        (b"\0" * 15 + b"\x01", 8612, 3, 1, 4)]


def test_errors_read_by_recvmsg_give_the_same_tuples():
    data = struct.pack("=IBBBxII", errno.ECONNREFUSED, 2, 3, 3, 0, 0)
    assert libc.error_from_recvmsg(socket.AF_INET, [(socket.IPPROTO_IP, libc.IP_RECVERR, data)],
                                   ("127.0.0.9", 8613)) == (0x7F000009, 8613, 2, 3, 3)
    assert libc.error_from_recvmsg(socket.AF_INET6, [(socket.IPPROTO_IPV6, libc.IPV6_RECVERR, data)],
                                   ("::1", 8612, 0, 0)) == (b"\0" * 15 + b"\x01", 8612, 2, 3, 3)
    assert libc.error_from_recvmsg(socket.AF_INET, [(socket.SOL_SOCKET, 1, data)], ("127.0.0.9", 1)) is None
    assert libc.error_from_recvmsg(socket.AF_INET, [(socket.IPPROTO_IP, libc.IP_RECVERR, data[:4])],
                                   ("127.0.0.9", 1)) is None
    assert libc.error_from_recvmsg(socket.AF_INET, [(socket.IPPROTO_IP, libc.IP_RECVERR, data)], None) is None


needs_batching = pytest.mark.skipif(not libc.batching_available(),
                                    reason="sendmmsg/recvmmsg through ctypes are not available here")


@needs_batching
def test_the_sendmmsg_batch_holds_each_message_as_built():
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    tails = [libc.sockaddr_tail(socket.AF_INET, host) for host in hosts]
    sender = libc.MmsgSender(-1, socket.AF_INET, tails, 4)  # no socket: nothing is sent
    sender.load(8611, 1, 3, b"discover")
    prefix = libc.sockaddr_prefix(socket.AF_INET, 8611)
    assert [sender.message(slot) for slot in range(2)] == [(prefix + tails[1], b"discover"),
                                                           (prefix + tails[2], b"discover")]
    sender.load_mixed([(8612, 2, b"identity"), (8611, 0, b"discover"), (9, 1, b"x" * 300)])
    assert [sender.message(slot) for slot in range(3)] == [
        (libc.sockaddr_prefix(socket.AF_INET, 8612) + tails[2], b"identity"),
        (prefix + tails[0], b"discover"),
        (libc.sockaddr_prefix(socket.AF_INET, 9) + tails[1], b"x" * 300)]


def test_batch_io_falls_back_to_plain_calls(monkeypatch):
    monkeypatch.setattr(libc, "_BATCHING", False)
    sender, reader = libc.batch_io(None, socket.AF_INET, ["127.0.0.1"], None, 4)
    assert isinstance(sender, libc.SendtoSender) and isinstance(reader, libc.RecvmsgErrorReader)
    assert libc.batching_available() is False


def test_each_address_is_probed_once_whatever_its_spelling():
    assert scanner.distinct_addresses(["::1", "10.0.0.1", "0:0::1", "::1", "10.0.0.2", "0::0:1"]) == (
        ["::1", "10.0.0.1", "10.0.0.2"], [("0:0::1", "::1"), ("0::0:1", "::1")])
    with pytest.raises(ValueError, match="'printer.example' is not an IP address"):
        scanner.distinct_addresses(["10.0.0.1", "printer.example"])
