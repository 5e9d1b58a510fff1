# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.probe, run through ``ansible localhost -m``, against the emulator on loopback."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import sys
import time

from bjnp_integration import host_result, port_result, probe

# The engine itself, by FQCN from the working tree (as tests/unit/conftest.py does).
_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections"))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_scanner import Scanner  # noqa: E402

IDENTITY = ["--manufacturer", "Canon", "--model", "TS8350 series", "--description", "Canon TS8350 series",
            "--firmware", "2.010", "--command-set", "BJL,BJRaster3,NCCe,IVEC", "--mac", "00:1e:8f:ab:cd:ef"]
ALL_PORTS = {"udp_ports": ["8611-8614"], "tcp_ports": [9100, "8611-8614"]}


def check_identified(result, address, port, cls_printer=True):
    entry = port_result(result, address, "udp", port)
    assert entry["state"] == "open", entry
    assert entry["service"] == ("bjnp-printer" if port == 8611 else "bjnp-scanner")
    identity = entry["identity"]
    assert identity["manufacturer"] == "Canon"
    assert identity["model"] == "TS8350 series"
    assert identity["description"] == "Canon TS8350 series"
    assert identity["firmware"] == "2.010"
    assert identity["mac"] == "00:1e:8f:ab:cd:ef"
    assert ("CLS:PRINTER;" if cls_printer else "CLS:IMAGE;") in identity["raw"]
    if cls_printer:
        assert identity["command_set"] == "BJL,BJRaster3,NCCe,IVEC"


def test_exposed_printer_is_found_with_its_identity_on_ipv4_and_ipv6(start_emulator):
    emulator = start_emulator(IDENTITY, ipv6=True)
    arguments = dict(ALL_PORTS, targets=[emulator.address, "::1"], timeout=1.0, retries=1)
    result = probe(arguments)
    assert result["summary"]["targets"] == 2 and result["summary"]["exposed"] == 2
    for address in (emulator.address, "::1"):
        assert host_result(result, address)["exposed"] is True
        check_identified(result, address, 8611)
        check_identified(result, address, 8612, cls_printer=False)
        for port in (8613, 8614):  # nothing bound: ICMP port unreachable
            assert port_result(result, address, "udp", port)["state"] == "closed"
        states = dict((port, port_result(result, address, "tcp", port)["state"])
                      for port in (8611, 8612, 8613, 8614, 9100))
        assert states == {8611: "open", 8612: "closed", 8613: "closed", 8614: "closed", 9100: "open"}
        assert port_result(result, address, "tcp", 9100)["service"] == "jetdirect"


def test_an_address_with_nothing_listening_is_not_exposed(loopback_address):
    result = probe(dict(ALL_PORTS, targets=[loopback_address], timeout=1.0, retries=1))
    host = host_result(result, loopback_address)
    assert host["exposed"] is False
    assert result["summary"]["exposed"] == 0
    assert sorted((entry["protocol"], entry["port"], entry["state"]) for entry in host["ports"]) == sorted(
        [("udp", port, "closed") for port in (8611, 8612, 8613, 8614)]
        + [("tcp", port, "closed") for port in (8611, 8612, 8613, 8614, 9100)])
    assert all("identity" not in entry for entry in host["ports"])


def test_a_slow_printer_inside_the_timeout_is_still_identified(start_emulator):
    emulator = start_emulator(IDENTITY + ["--delay", "0.5"])
    result = probe({"targets": [emulator.address], "udp_ports": [8611, 8612], "tcp_ports": [9100],
                    "timeout": 2.5, "retries": 0})
    check_identified(result, emulator.address, 8611)
    check_identified(result, emulator.address, 8612, cls_printer=False)


def test_a_printer_slower_than_the_timeout_reads_open_filtered(start_emulator):
    # The counterpart of the test above: the delay is real, and silence is not "closed".
    emulator = start_emulator(IDENTITY + ["--delay", "2.0"])
    result = probe({"targets": [emulator.address], "udp_ports": [8611], "tcp_ports": [9100],
                    "timeout": 0.5, "retries": 0})
    entry = port_result(result, emulator.address, "udp", 8611)
    assert entry["state"] == "open|filtered" and "identity" not in entry
    assert host_result(result, emulator.address)["exposed"] is True  # tcp 9100 answered


def test_junk_before_each_answer_does_not_hide_the_printer(start_emulator):
    emulator = start_emulator(IDENTITY + ["--junk-first"], ipv6=True)
    result = probe({"targets": [emulator.address, "::1"], "udp_ports": [8611, 8612], "tcp_ports": [8611],
                    "timeout": 1.0, "retries": 1})
    for address in (emulator.address, "::1"):
        check_identified(result, address, 8611)
        check_identified(result, address, 8612, cls_printer=False)


def test_the_probe_never_sends_a_byte_to_9100_while_a_real_job_is_spooled(start_emulator):
    emulator = start_emulator(IDENTITY, ipv6=True)
    result = probe({"targets": [emulator.address, "::1"], "udp_ports": [8611], "tcp_ports": [9100],
                    "timeout": 1.0, "retries": 0})
    for address in (emulator.address, "::1"):
        assert port_result(result, address, "tcp", 9100)["state"] == "open"  # it did connect
    time.sleep(0.5)  # the probe has exited; give the emulator time to see the closes
    assert os.listdir(emulator.spool) == [], "the probe left data on 9100: %s" % os.listdir(emulator.spool)
    # The spool does catch bytes: a job sent by the test lands, byte for byte.
    job = b"\x1b%-12345X@PJL JOB NAME=\"netsec.bjnp\"\r\nhello printer\r\n\x1b%-12345X"
    with socket.create_connection((emulator.address, 9100), timeout=10) as conn:
        conn.sendall(job)
    deadline = time.monotonic() + 10
    while not emulator.jobs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(emulator.jobs()) == 1
    with open(os.path.join(emulator.spool, emulator.jobs()[0]), "rb") as handle:
        assert handle.read() == job


def test_udp_and_tcp_threads_merge_their_results_and_share_the_rate(loopback_address):
    # A real listener on tcp/9100 of an otherwise silent address: UDP runs in one thread,
    # TCP in the other; both halves must reach the one result.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((loopback_address, 9100))
    listener.listen(8)
    try:
        started = time.monotonic()
        scanner = Scanner([8611, 8612, 8613, 8614], [8611, 8612, 8613, 8614, 9100], timeout=1.0, retries=0, rate=20)
        results = scanner.run([loopback_address])
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    expected = dict(((loopback_address, "udp", port), ("closed", None)) for port in (8611, 8612, 8613, 8614))
    expected.update(((loopback_address, "tcp", port), ("closed", None)) for port in (8611, 8612, 8613, 8614))
    expected[(loopback_address, "tcp", 9100)] = ("open", None)
    assert results == expected
    assert scanner.probes_sent == 9
    # 20 probes/s for both threads together: 9 probes, the first of each thread at once,
    # need at least 7/20 s; had each thread taken the whole rate, 4/20 s would do.
    assert elapsed >= 0.3, elapsed
