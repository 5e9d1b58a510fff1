# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wireshark's BJNP dissector reads the probe's requests and the emulator's answers as BJNP.

tshark captures on lo (only the leased address, or ::1, and only the BJNP and raw-print
ports) while ``ansible localhost -m netsec.bjnp.probe`` talks to the emulator. The capture
must hold discover and get-identity requests (printer and scanner types) and their answers,
decoded with the right type, code and sequence number, no malformed packet and no expert
warning; and the TCP connection to 9100 must carry no payload.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from bjnp_integration import port_result, probe

FIELDS = ["frame.number", "ipv6.src", "ip.src", "udp.length", "tcp.dstport", "tcp.len", "bjnp.id", "bjnp.type",
          "bjnp.code", "bjnp.seq_no", "bjnp.payload_len", "_ws.malformed", "_ws.expert.severity"]
SEVERITY_WARNING = 0x00600000  # Wireshark's PI_WARN; PI_ERROR is above it


def read_capture(path):
    completed = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
                                "-E", "occurrence=a", "-E", "aggregator=,"] + sum([["-e", field] for field in FIELDS], []),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=120)
    assert completed.returncode == 0, completed.stderr
    frames = []
    for line in completed.stdout.decode("utf-8").splitlines():
        values = line.split("\t")
        frames.append(dict(zip(FIELDS, values + [""] * (len(FIELDS) - len(values)))))
    return frames


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_tshark_decodes_probe_and_emulator_as_bjnp(family, start_emulator, capture):
    emulator = start_emulator(["--model", "TS8350 series"], ipv6=family == "ipv6")
    address = "::1" if family == "ipv6" else emulator.address
    running = capture("lo", "host %s and (udp port 8611 or udp port 8612 or tcp port 9100)" % address)
    result = probe({"targets": [address], "udp_ports": [8611, 8612], "tcp_ports": [9100],
                    "timeout": 1.0, "retries": 1})
    assert port_result(result, address, "udp", 8611)["identity"]["model"] == "TS8350 series"
    assert port_result(result, address, "tcp", 9100)["state"] == "open"
    frames = read_capture(running.stop())

    bjnp = [frame for frame in frames if frame["bjnp.id"]]
    assert all(frame["bjnp.id"] == "BJNP" for frame in bjnp)
    requests = [frame for frame in bjnp if int(frame["bjnp.type"]) < 0x80]
    answers = [frame for frame in bjnp if int(frame["bjnp.type"]) >= 0x80]
    if family == "ipv4":  # on ::1 both ends share the address; on IPv4 they do not
        assert all(frame["ip.src"] == address for frame in answers)
        assert all(frame["ip.src"] != address for frame in requests)
    kinds = set((int(frame["bjnp.type"]), int(frame["bjnp.code"])) for frame in requests)
    assert kinds == {(1, 0x01), (2, 0x01), (1, 0x30), (2, 0x30)}, "requests seen: %s" % kinds
    answered = set((int(frame["bjnp.type"]), int(frame["bjnp.code"])) for frame in answers)
    assert answered == {(0x81, 0x01), (0x82, 0x01), (0x81, 0x30), (0x82, 0x30)}, "answers seen: %s" % answered
    request_keys = set((int(frame["bjnp.type"]) | 0x80, frame["bjnp.code"], frame["bjnp.seq_no"]) for frame in requests)
    for frame in answers:  # every answer echoes the sequence number of a request of its kind
        assert (int(frame["bjnp.type"]), frame["bjnp.code"], frame["bjnp.seq_no"]) in request_keys
        # header (16) + payload fills the UDP payload (UDP length counts its own 8 bytes)
        assert int(frame["bjnp.payload_len"]) + 16 + 8 == int(frame["udp.length"])

    assert [frame["frame.number"] for frame in frames if frame["_ws.malformed"]] == []
    for frame in frames:
        severities = [int(value) for value in frame["_ws.expert.severity"].split(",") if value]
        assert all(value < SEVERITY_WARNING for value in severities), frame
        if frame in bjnp:
            assert severities == [], "expert info on a BJNP frame: %s" % frame
    to_9100 = [frame for frame in frames if frame["tcp.dstport"] == "9100"]
    assert to_9100, "the capture saw no connection to 9100"
    assert all(frame["tcp.len"] == "0" for frame in to_9100), "payload sent to 9100: %s" % to_9100
