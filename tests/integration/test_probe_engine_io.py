# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe engine's datagram I/O on real sockets: sendmmsg/recvmmsg and the plain fallback.

Both paths (``bjnp_libc.batch_io``: ctypes sendmmsg/recvmmsg, or sendto/recvmsg where those
are missing) must give the same results against the emulator on loopback and in a pair of
network namespaces; each sender stops before a datagram that fails; a get-identity has its
own timeout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import sys

import pytest

from bjnp_integration import ROOT, NamespacePair, needs_root

_COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_libc  # noqa: E402
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_scanner import Scanner  # noqa: E402

IDENTITY = ["--manufacturer", "Canon", "--model", "TS8350 series", "--description", "Canon TS8350 series",
            "--firmware", "2.010", "--mac", "00:1e:8f:ab:cd:ef"]
TCP_PORTS = [8611, 8612, 9100]
PATHS = ["sendmmsg", "sendto"]


@pytest.fixture(params=PATHS)
def io_path(request, monkeypatch):
    """The engine on one I/O path: the batched one (where this machine has it) or the fallback."""
    if request.param == "sendmmsg":
        if not bjnp_libc.batching_available():
            pytest.skip("sendmmsg/recvmmsg through ctypes are not available on this machine")
    else:
        monkeypatch.setattr(bjnp_libc, "_BATCHING", False)
    return request.param


def summary(results):
    """(address, protocol, port) -> state, or "state model" for an identified port."""
    return dict((key, state if identity is None else "%s %s" % (state, identity.get("model")))
                for key, (state, identity) in results.items())


def test_both_paths_give_the_same_results_on_loopback(io_path, start_emulator, loopback_address):
    emulator = start_emulator(IDENTITY, ipv6=True)
    # A socket that never answers: its port reads open|filtered after the timeout and a retry.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((emulator.address, 0))
    silent_port = silent.getsockname()[1]
    udp_ports = [8611, 8612, 8613, silent_port]
    try:
        scanner = Scanner(udp_ports, TCP_PORTS, timeout=1.0, retries=1)
        results = scanner.run([emulator.address, "::1", loopback_address])
    finally:
        silent.close()
    assert bjnp_libc.batching_available() is (io_path == "sendmmsg")
    expected = {}
    for address in (emulator.address, "::1", loopback_address):
        printer = address != loopback_address
        for port in udp_ports:
            state = "closed"
            if printer and port in (8611, 8612):
                state = "open TS8350 series"
            elif address == emulator.address and port == silent_port:
                state = "open|filtered"
            expected[(address, "udp", port)] = state
        for port in TCP_PORTS:
            expected[(address, "tcp", port)] = "open" if printer and port in (8611, 9100) else "closed"
    assert summary(results) == expected
    assert results[("::1", "udp", 8611)][1]["mac"] == "00:1e:8f:ab:cd:ef"
    # 12 discovers, 4 get-identities, 1 retry to the silent port, 9 connects.
    assert scanner.probes_sent == 12 + 4 + 1 + 9


def _udp_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_IP, bjnp_libc.IP_RECVERR, 1)
    return sock


def test_each_sender_sends_every_datagram_and_reads_every_error(io_path, loopback_address):
    # Closed ports: each datagram's ICMP error is queued and also set as the socket's pending
    # error, on which the next send fails. The sender stops there; sending again from that
    # message gives its own outcome, so every datagram leaves exactly once.
    sock = _udp_socket()
    try:
        ports = [8611, 8612, 8613, 8614]
        hosts = [loopback_address]
        tails = [bjnp_libc.sockaddr_tail(socket.AF_INET, loopback_address)]
        sender, reader = bjnp_libc.batch_io(sock, socket.AF_INET, hosts, tails, 8)
        assert type(sender).__name__ == ("MmsgSender" if io_path == "sendmmsg" else "SendtoSender")
        sender.load_mixed([(port, 0, b"BJNP-probe-%d" % port) for port in ports])
        start = calls = 0
        while start < len(ports):
            try:
                sent = sender.send(start)
            except ConnectionRefusedError:  # the pending error of the previous datagram
                continue
            assert sent >= 1
            start += sent
            calls += 1
        assert start == len(ports)
        errors = reader.read_all()
        key = bjnp_libc.address_key(socket.AF_INET, loopback_address)
        # origin 2 = ICMP, type 3 code 3 = port unreachable, for each port in turn.
        assert sorted(errors) == sorted((key, port, 2, 3, 3) for port in ports)
        assert reader.read_all() == []
    finally:
        sock.close()


def test_a_get_identity_has_its_own_timeout(start_emulator, loopback_address):
    # Every answer comes 0.6 s late: the discover's at 0.6 s, the get-identity's at 1.2 s,
    # each inside its own 1 s. The engine before this change timed the get-identity from
    # the discover's deadline (1.0 s) and, with no retry, lost every identity.
    emulator = start_emulator(IDENTITY + ["--delay", "0.6"])
    results = Scanner([8611, 8612], [], timeout=1.0, retries=0).run([emulator.address])
    assert summary(results) == {(emulator.address, "udp", 8611): "open TS8350 series",
                                (emulator.address, "udp", 8612): "open TS8350 series"}


def test_two_spellings_of_one_address_share_its_results(start_emulator):
    # The earlier engine probed both and gave the answers to the first spelling only: the
    # second read open|filtered on every UDP port of a printer that had answered.
    start_emulator(IDENTITY, ipv6=True)  # leases ::1 (and an IPv4 address, unused here)
    results = Scanner([8611, 8613], [9100], timeout=1.0, retries=0).run(["::1", "0:0::1"])
    expected = {"udp 8611": "open TS8350 series", "udp 8613": "closed", "tcp 9100": "open"}
    for address in ("::1", "0:0::1"):
        assert dict(("%s %d" % (key[1], key[2]), state) for key, state in summary(results).items()
                    if key[0] == address) == expected


# Run inside the scan namespace: the engine on the chosen path, its results as JSON.
_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_libc
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_scanner import Scanner
if sys.argv[2] == "sendto":
    bjnp_libc._BATCHING = False
results = Scanner([8611, 8612, 8613], [9100, 8613], timeout=1.0, retries=1).run(sys.argv[3:])
print(json.dumps([[list(key), state] for key, (state, identity) in results.items()]))
"""
# In the scanning namespace: datagrams to 8612 never leave (sendto fails with EPERM).
_OUTPUT_DROP = """
table inet bjnp_engine_io {
    chain output {
        type filter hook output priority 0; policy accept;
        udp dport 8612 drop
    }
}
"""


@needs_root
@pytest.mark.parametrize("path", PATHS)
def test_datagrams_a_local_rule_refuses_read_filtered_on_both_paths(path, netns_pair, start_emulator):
    if path == "sendmmsg" and not bjnp_libc.batching_available():
        pytest.skip("sendmmsg/recvmmsg through ctypes are not available on this machine")
    addresses = [NamespacePair.LAB_V4, NamespacePair.LAB_V6]
    start_emulator(["--model", "TS8350 series"], binds=addresses, netns=netns_pair.lab)
    loaded = netns_pair.run(netns_pair.scan, ["nft", "-f", "-"], stdin=_OUTPUT_DROP.encode("ascii"))
    assert loaded.returncode == 0, loaded.stderr
    completed = netns_pair.run(netns_pair.scan, [sys.executable, "-c", _RUNNER, _COLLECTIONS, path] + addresses)
    assert completed.returncode == 0, completed.stderr
    states = dict((tuple(key), state) for key, state in json.loads(completed.stdout))
    for address in addresses:
        assert {port: states[(address, "udp", port)] for port in (8611, 8612, 8613)} == {
            8611: "open", 8612: "filtered", 8613: "closed"}
        assert {port: states[(address, "tcp", port)] for port in (9100, 8613)} == {9100: "open", 8613: "closed"}
