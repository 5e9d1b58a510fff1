# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator on the wire, read with plain sockets: exact answers, junk, timing, spool, signals.

The packet layouts checked here are the ones of bjnp-protocol.md (nmap, cups-bjnp, SANE,
Nessus 58147); the tests build their own bytes instead of using the collection's codec, so
the emulator and the probe are checked against the protocol, not against each other.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from bjnp_integration import EMULATOR, bjnp_ports_free

HEADER = struct.Struct("!4sBBHHHI")
MAC = "00:1e:8f:ab:cd:ef"
IDENTITY = ["--manufacturer", "Canon", "--model", "TS8350 series", "--description", "Canon TS8350 series",
            "--firmware", "2.010", "--mac", MAC]


def request(device_type, code, sequence, payload=b""):
    return HEADER.pack(b"BJNP", device_type, code, 0, sequence, 0, len(payload)) + payload


def exchange(address, port, packet, wait=2.0, count=1):
    """Send one datagram; return the datagrams received within ``wait`` seconds (up to ``count``)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    answers = []
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((address, port))
        sock.send(packet)
        deadline = time.monotonic() + wait
        while len(answers) < count and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                answers.append(sock.recv(65535))
            except socket.timeout:
                break
    return answers


def check_header(answer, device_type, code, sequence):
    magic, kind, answer_code, unknown, answer_sequence, session, length = HEADER.unpack_from(answer)
    assert (magic, kind, answer_code, unknown, answer_sequence, session) == (
        b"BJNP", device_type | 0x80, code, 0, sequence, 0)
    assert length + HEADER.size == len(answer)  # Nessus 58147's length check
    return answer[HEADER.size:]


def device_id(payload):
    declared = struct.unpack("!H", payload[:2])[0]
    assert declared == len(payload), "the length prefix counts itself and the whole ID"
    return dict(item.split(":", 1) for item in payload[2:].decode("ascii").split(";") if item)


def test_discover_answer_is_exact_on_ipv4(start_emulator):
    emulator = start_emulator(IDENTITY)
    for port, device_type in ((8611, 1), (8612, 2)):
        answers = exchange(emulator.address, port, request(device_type, 0x01, 0x1234))
        assert len(answers) == 1
        payload = check_header(answers[0], device_type, 0x01, 0x1234)
        assert payload == (b"\x00\x01\x08\x00" + bytes([6, 4]) + bytes.fromhex(MAC.replace(":", ""))
                           + socket.inet_aton(emulator.address))
        assert len(answers[0]) == 32  # "an IPv4 answer is therefore 32 bytes in all"


def test_discover_answer_on_ipv6_carries_two_addresses(start_emulator):
    emulator = start_emulator(IDENTITY, ipv6=True)
    answers = exchange("::1", 8611, request(1, 0x01, 7))
    assert len(answers) == 1
    payload = check_header(answers[0], 1, 0x01, 7)
    assert payload[:6] == b"\x00\x01\x08\x00" + bytes([6, 32])
    assert payload[12:] == socket.inet_pton(socket.AF_INET6, "::1") * 2
    assert emulator.process.poll() is None


def test_identity_printer_on_8611_and_scanner_on_8612(start_emulator):
    emulator = start_emulator(IDENTITY)
    printer = device_id(check_header(exchange(emulator.address, 8611, request(1, 0x30, 2))[0], 1, 0x30, 2))
    assert printer == {"MFG": "Canon", "CMD": "BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI", "MDL": "TS8350 series",
                       "CLS": "PRINTER", "DES": "Canon TS8350 series", "VER": "2.010"}
    # nmap's scanner request carries four zero bytes of payload.
    scanner = device_id(check_header(exchange(emulator.address, 8612, request(2, 0x30, 3, b"\0" * 4))[0],
                                     2, 0x30, 3))
    assert (scanner["MFG"], scanner["MDL"], scanner["CLS"]) == ("Canon", "TS8350 series", "IMAGE")


def test_port_ranges_and_the_other_bjnp_ports_answer_as_a_printer(start_emulator):
    emulator = start_emulator(IDENTITY + ["--udp-ports", "8611-8614", "--tcp-ports", "9100"])
    for port in (8613, 8614):
        answer = exchange(emulator.address, port, request(1, 0x30, port))[0]
        assert device_id(check_header(answer, 1, 0x30, port))["CLS"] == "PRINTER"
    assert bjnp_ports_free(emulator.address) is False


def test_junk_is_ignored_and_never_answered(start_emulator):
    emulator = start_emulator(IDENTITY)
    rng = random.Random(8611)
    junk = [b"", b"B", b"BJNP", request(1, 0x01, 1)[:15], b"BNJB" + request(1, 0x01, 1)[4:],
            request(0x81, 0x01, 1),  # an answer, not a request: a real printer stays silent
            request(1, 0x01, 1)[:4] + b"\x05\x01" + request(1, 0x01, 1)[6:],  # unknown device type
            request(1, 0x7F, 1), request(1, 0x30, 1, b"x" * 60000)[:60000]]
    junk += [bytes(rng.getrandbits(8) for dummy in range(rng.randint(1, 300))) for dummy in range(200)]
    junk += [b"BJNP" + bytes(rng.getrandbits(8) for dummy in range(rng.randint(0, 40))) for dummy in range(200)]
    family_address = emulator.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        for port in (8611, 8612):
            for datagram in junk:
                sock.sendto(datagram, (family_address, port))
        answers = []
        try:
            while True:
                answers.append(sock.recv(65535))
        except socket.timeout:
            pass
    # Only well-formed requests (random bytes may form one by chance) get an answer.
    for answer in answers:
        assert answer[:4] == b"BJNP" and answer[4] & 0x80
    # Garbage on the TCP ports is swallowed too.
    for port in (8611, 9100):
        with socket.create_connection((family_address, port), timeout=5) as conn:
            conn.sendall(b"\xff" * 1000 + b"BJNP\x01\x21")
    assert emulator.process.poll() is None, emulator.log()
    answers = exchange(family_address, 8611, request(1, 0x01, 99))
    assert len(answers) == 1 and check_header(answers[0], 1, 0x01, 99)


def test_junk_first_sends_a_near_miss_before_the_answer(start_emulator):
    emulator = start_emulator(IDENTITY + ["--junk-first"])
    answers = exchange(emulator.address, 8611, request(1, 0x30, 40), count=2)
    assert len(answers) == 2
    junk, real = answers
    magic, dummy, dummy, dummy, sequence, dummy, length = HEADER.unpack_from(junk)
    assert magic == b"BJNP" and (sequence != 40 or length + HEADER.size != len(junk))
    assert device_id(check_header(real, 1, 0x30, 40))["MDL"] == "TS8350 series"


def test_delay_holds_every_answer(start_emulator):
    emulator = start_emulator(IDENTITY + ["--delay", "0.6"])
    started = time.monotonic()
    assert exchange(emulator.address, 8611, request(1, 0x01, 5), wait=0.3) == []
    answers = exchange(emulator.address, 8612, request(2, 0x01, 6), wait=3)
    elapsed = time.monotonic() - started
    assert len(answers) == 1 and check_header(answers[0], 2, 0x01, 6)
    assert elapsed >= 0.6


def send_job(address, data):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect((address, 9100))
        conn.sendall(data)


def wait_for_jobs(emulator, count, wait=10):
    deadline = time.monotonic() + wait
    while len(emulator.jobs()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return emulator.jobs()


def test_each_raw_job_lands_whole_in_its_own_file(start_emulator):
    emulator = start_emulator(IDENTITY, ipv6=True)
    big = os.urandom(3 * 1024 * 1024)
    jobs = [b"%!PS-Adobe-3.0\nshowpage\n", big, b"\x1b%-12345X@PJL\r\n"]
    send_job(emulator.address, jobs[0])
    send_job(emulator.address, jobs[1])
    send_job("::1", jobs[2])
    names = wait_for_jobs(emulator, 3)
    assert len(names) == 3
    contents = []
    for name in names:
        with open(os.path.join(emulator.spool, name), "rb") as handle:
            contents.append(handle.read())
    assert sorted(contents) == sorted(jobs)


def test_a_job_appears_only_when_the_sender_closes(start_emulator):
    emulator = start_emulator(IDENTITY)
    with socket.create_connection((emulator.address, 9100), timeout=10) as conn:
        conn.sendall(b"first half ")
        time.sleep(0.3)
        assert emulator.jobs() == []  # still arriving: only the hidden temporary file exists
        conn.sendall(b"second half")
    names = wait_for_jobs(emulator, 1)
    with open(os.path.join(emulator.spool, names[0]), "rb") as handle:
        assert handle.read() == b"first half second half"
    # A connection that sends nothing (what the probe does) is not a job.
    socket.create_connection((emulator.address, 9100), timeout=10).close()
    time.sleep(0.3)
    assert len(os.listdir(emulator.spool)) == 1


def test_many_addresses_from_a_bind_file(start_emulator, loopback_block, workdir):
    addresses = ["%s.%d" % (loopback_block, host) for host in range(1, 255)]
    bind_file = os.path.join(workdir, "binds")
    with open(bind_file, "w") as handle:
        handle.write("# one address per line\n\n" + "\n".join(addresses) + "\n")
    start_emulator(IDENTITY + ["--bind-file", bind_file], binds=[])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, address in enumerate(addresses):
            sock.sendto(request(1, 0x01, index), (address, 8611))
        sock.settimeout(3)
        seen = {}
        while len(seen) < len(addresses):
            answer, peer = sock.recvfrom(65535)
            payload = answer[HEADER.size:]
            seen[peer[0]] = (HEADER.unpack_from(answer)[4], socket.inet_ntoa(payload[12:16]))
    # Each address answers from itself, names itself and echoes its own sequence number.
    assert seen == dict((address, (index, address)) for index, address in enumerate(addresses))
    assert not bjnp_ports_free(addresses[-1])


def test_sigint_exits_zero(start_emulator):
    emulator = start_emulator(IDENTITY)
    emulator.process.send_signal(signal.SIGINT)
    assert emulator.process.wait(timeout=10) == 0


def test_an_address_taken_by_another_emulator_fails_loudly(start_emulator):
    first = start_emulator(IDENTITY)
    with pytest.raises(RuntimeError, match="cannot bind udp %s port 8611" % first.address.replace(".", r"\.")):
        start_emulator(IDENTITY, binds=[first.address])
    assert exchange(first.address, 8611, request(1, 0x01, 1))  # the first one still serves


@pytest.mark.parametrize("arguments, message", [
    (["--bind", "printer.example"], "'printer.example' is not an IP address"),
    (["--bind", "127.0.0.1", "--tcp-ports", "9100,65536"], "port 65536 is outside 1-65535"),
    (["--bind", "127.0.0.1", "--udp-ports", "8611-x"], "'8611-x' is not a port or a low-high range"),
    (["--bind", "127.0.0.1", "--mac", "00:11"], "is not six hex octets"),
    ([], "give at least one --bind"),
])
def test_bad_command_lines_are_refused(arguments, message):
    completed = subprocess.run([sys.executable, EMULATOR] + arguments, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30, check=False)
    assert completed.returncode != 0
    assert message in completed.stdout.decode("utf-8")
