# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The blocked-attempts parsers and summary (bjnp_attempts), on kernel log lines captured from the real tools.

tests/unit/fixtures/attempts/README.md says how each fixture was captured (capture.py: nft log,
iptables-nft and iptables-legacy LOG, IPv4 and IPv6, TCP and UDP, input and forwarded, the
journal, rsyslog's three kern.log variants, raw /dev/kmsg records). pfirewall.log is written from
Microsoft's documented format, not captured (no Windows host here).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import io
import ipaddress
import json
import math
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_attempts as attempts
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.nftables import parse_nft_counters

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "attempts")
PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]
CLIENT_V4, CLIENT_V6 = "10.77.1.1", "fd42:77:1::1"
PRINTER_V4, PRINTER_V6 = "10.77.2.2", "fd42:77:2::2"
# What the client sent in every capture, per family: 3 connects to TCP 9100 (the last one
# retransmitted its SYN), 3 datagrams from one socket to UDP 8611, 8612, 8612.
SENT = [("tcp", 9100)] * 4 + [("udp", 8611), ("udp", 8612), ("udp", 8612)]
KERNEL_LOGS = ("nft-input.log", "nft-forward.log", "iptables-nft-input.log", "iptables-legacy-input.log",
               "ufw-prefix.log")
SYSLOGS = ("kern.log", "kern-traditional.log", "kern-imklog.log")
NOW = calendar.timegm((2026, 12, 3, 0, 0, 0))
# The capture's day, from the start: every fixture line is later.
DAY = calendar.timegm((2026, 12, 2, 0, 0, 0))


def fixture_text(name):
    with io.open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def fixture_lines(name):
    return [line for line in fixture_text(name).splitlines() if line and not line.startswith("#")]


def timed(events, start=DAY, step=1.0):
    for index, event in enumerate(events):
        event["time"] = start + index * step
    return events


def events_of(name):
    return timed([attempts.parse_log_line(line) for line in fixture_lines(name)])


ALL_REAL_LINES = [line for name in KERNEL_LOGS for line in fixture_lines(name)]


# --- one kernel line -----------------------------------------------------------------------

@pytest.mark.parametrize("name", KERNEL_LOGS)
def test_every_captured_line_parses_to_what_the_client_sent(name):
    events = [attempts.parse_log_line(line) for line in fixture_lines(name)]
    assert None not in events
    for family, (client, printer) in ((4, (CLIENT_V4, PRINTER_V4)), (6, (CLIENT_V6, PRINTER_V6))):
        ours = [event for event in events if ipaddress.ip_address(event["source"]).version == family]
        assert ours and all(event["source"] == client and event["destination"] == printer for event in ours)
        # The rate limit (burst 5) may have held some back, never added any.
        sent = list(SENT)
        for event in ours:
            sent.remove((event["protocol"], event["port"]))
    assert all(event["syn"] == (event["protocol"] == "tcp") for event in events)


def test_the_brief_example_line_from_loopback():
    line = ("netsec-bjnp: IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.1 LEN=60 "
            "TOS=0x00 PREC=0x00 TTL=64 ID=26420 DF PROTO=TCP SPT=57528 DPT=9100 WINDOW=65495 RES=0x00 SYN URGP=0")
    assert attempts.parse_log_line(line) == {
        "time": None, "source": "127.0.0.1", "source_port": 57528, "destination": "127.0.0.1", "protocol": "tcp",
        "port": 9100, "mode": "host", "in": "lo", "out": "", "syn": True, "prefix": "netsec-bjnp: ",
        "mac": "00:00:00:00:00:00"}


def test_ipv6_addresses_the_kernel_prints_in_full_come_out_compressed():
    line = [line for line in fixture_lines("iptables-legacy-input.log") if "86:dd" in line][0]
    assert "SRC=fd42:0077:0001:0000:0000:0000:0000:0001" in line
    event = attempts.parse_log_line(line)
    assert (event["source"], event["destination"]) == (CLIENT_V6, PRINTER_V6)
    short = line.replace("fd42:0077:0001:0000:0000:0000:0000:0001", "fd42:77:1::1")
    assert attempts.parse_log_line(short) == event


def test_forwarded_lines_are_gateway_mode_with_both_interfaces():
    events = events_of("nft-forward.log")
    assert {event["mode"] for event in events} == {"gateway"}
    assert all(event["in"].endswith("r0") and event["out"].endswith("r1") for event in events)
    assert {event["mode"] for event in events_of("nft-input.log")} == {"host"}


def test_udp_lines_carry_no_syn_and_their_own_length_after_the_port():
    udp = [event for event in events_of("iptables-nft-input.log") if event["protocol"] == "udp"]
    assert udp and not any(event["syn"] for event in udp)
    assert sorted(set(event["port"] for event in udp)) == [8611, 8612]


def test_ufw_prefix_is_taken_and_named():
    events = events_of("ufw-prefix.log")
    assert events and {event["prefix"] for event in events} == {"[UFW BLOCK] "}


def test_a_printk_time_before_the_prefix_is_skipped():
    line = fixture_lines("nft-input.log")[0]
    assert attempts.parse_log_line("[17425.866481] " + line) == attempts.parse_log_line(line)
    assert attempts.parse_log_line("[    3.000001] " + line) == attempts.parse_log_line(line)


@pytest.mark.parametrize("line", [
    "",
    "netsec-bjnp: ",
    "some other kernel message",
    "nftables-other: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",  # not our prefix
    "xnetsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100",  # cut after the port
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=91",  # cut inside it
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=fd42::2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",  # families differ
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.999 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=fe80::1%eth0 DST=fe80::2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=0 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=65536 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=-1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=000009100 WINDOW=1",
    "netsec-bjnp: IN=averyveryverylongname0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",  # came in nowhere
    "netsec-bjnp: OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1",
    "netsec-bjnp: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=9100 WINDOW=1 " + "X" * 3000,
    None, 42, b"\xff\xfe",
])
def test_anything_else_is_no_event(line):
    assert attempts.parse_log_line(line) is None


def test_the_first_of_a_repeated_field_wins():
    # An ICMP error quotes the offending header in brackets; a forged line may repeat a field.
    line = fixture_lines("nft-input.log")[0]
    assert attempts.parse_log_line(line + " DPT=22")["port"] == 9100


# --- property tests: log text is untrusted ---------------------------------------------------

@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=3000), st.binary(max_size=3000)))
def test_no_text_makes_the_line_parser_raise(text):
    event = attempts.parse_log_line(text)
    assert event is None or 1 <= event["port"] <= 65535


@settings(max_examples=300)
@given(st.sampled_from(ALL_REAL_LINES), st.integers(min_value=0, max_value=400))
def test_a_real_line_cut_anywhere_is_none_or_the_same_packet(line, cut):
    full = attempts.parse_log_line(line)
    part = attempts.parse_log_line(line[:cut])
    if part is not None:
        # Flags after the port (SYN) may be cut off; what the packet was is never wrong.
        assert dict(part, syn=full["syn"]) == full


@settings(max_examples=300)
@given(st.sampled_from(ALL_REAL_LINES), st.integers(min_value=0, max_value=400),
       st.text(min_size=1, max_size=20))
def test_a_real_line_with_text_spliced_in_never_raises(line, at, junk):
    event = attempts.parse_log_line(line[:at] + junk + line[at:])
    if event is not None:
        assert ipaddress.ip_address(event["source"]).version == ipaddress.ip_address(event["destination"]).version
        assert 1 <= event["port"] <= 65535 and 1 <= event["source_port"] <= 65535
        assert len(event["in"]) <= attempts.MAX_IFNAME and len(event["out"]) <= attempts.MAX_IFNAME


@settings(max_examples=200)
@given(st.text(max_size=500), st.floats(allow_nan=True, allow_infinity=True))
def test_no_text_makes_the_other_parsers_raise(text, boot):
    attempts.parse_syslog_line(text, NOW)
    attempts.parse_syslog_line(text.encode("utf-8", "surrogatepass"), NOW, utc_offset=0)
    attempts.parse_kmsg_record(text, 0.0 if math.isnan(boot) else boot)
    attempts.parse_journal_entries(text, 0)
    attempts.parse_windows_firewall_log(text, 0)
    try:
        attempts.parse_since(text, NOW)
    except ValueError:
        pass


@settings(max_examples=100)
@given(st.lists(st.sampled_from(ALL_REAL_LINES + ["garbage"]), max_size=40),
       st.lists(st.floats(min_value=DAY, max_value=NOW), min_size=40, max_size=40))
def test_summarize_takes_whatever_the_lines_give(lines, times):
    events = [attempts.parse_log_line(line) for line in lines]
    for event, moment in zip(events, times):
        if event is not None:
            event["time"] = moment
    result = attempts.summarize(events, None, PORTS, DAY)
    assert sum(total["packets_logged"] for total in result["totals"]) == len([e for e in events if e is not None])


# --- the journal -----------------------------------------------------------------------------

def test_journal_kernel_entries_of_the_captures_become_events():
    read = attempts.parse_journal_entries(fixture_text("journal.json"), DAY)
    assert read["log_source"] == "journal" and not read["truncated"]
    # Every captured kernel line, none of the user-space ones.
    assert len(read["events"]) == sum(len(fixture_lines(name)) for name in KERNEL_LOGS)
    assert all(event["time"] > DAY for event in read["events"])


def test_a_line_written_to_dev_kmsg_by_user_space_is_not_taken_from_the_journal():
    text = fixture_text("journal.json")
    forged = [json.loads(line) for line in text.splitlines() if "forged by capture.py" in line]
    # journald files it under _TRANSPORT=kernel, facility user, with our prefix as its identifier.
    assert forged and forged[0]["_TRANSPORT"] == "kernel" and forged[0]["SYSLOG_FACILITY"] == "1"
    forged[0]["MESSAGE"] = forged[0]["SYSLOG_IDENTIFIER"] + ": " + forged[0]["MESSAGE"]
    assert attempts.parse_journal_entries(json.dumps(forged[0]), DAY)["events"] == []
    assert attempts.parse_journal_entries(json.dumps(dict(forged[0], SYSLOG_FACILITY="0")), DAY)["events"]


def test_a_byte_array_message_is_decoded():
    entries = [json.loads(line) for line in fixture_text("journal.json").splitlines()]
    stdout = [entry for entry in entries if isinstance(entry.get("MESSAGE"), list)]
    assert stdout and stdout[0]["_TRANSPORT"] == "stdout"  # captured with systemd-cat: not a kernel line
    assert attempts._journal_message(stdout[0]) == u"netsec-bjnp: not utf-8 \ufffd\ufffd"
    # A kernel entry carrying its MESSAGE as bytes (derived from a captured one) reads the same.
    kernel = [entry for entry in entries if entry.get("_TRANSPORT") == "kernel" and "SYSLOG_IDENTIFIER" in entry
              and entry["SYSLOG_IDENTIFIER"] == "kernel"][0]
    as_bytes = dict(kernel, MESSAGE=list(bytearray(kernel["MESSAGE"].encode("utf-8"))))
    assert (attempts.parse_journal_entries(json.dumps(as_bytes), DAY)["events"]
            == attempts.parse_journal_entries(json.dumps(kernel), DAY)["events"])
    assert attempts._journal_message(dict(kernel, MESSAGE=[300, 1])) is None
    assert attempts._journal_message(dict(kernel, MESSAGE=None)) is None


def test_journal_order_does_not_matter_and_the_newest_are_kept():
    lines = fixture_text("journal.json").splitlines()
    forward = attempts.parse_journal_entries("\n".join(lines), DAY, max_lines=5)
    backward = attempts.parse_journal_entries("\n".join(reversed(lines)), DAY, max_lines=5)
    assert forward == backward and forward["truncated"]
    everything = attempts.parse_journal_entries("\n".join(lines), DAY)["events"]
    assert forward["events"] == everything[-5:]


def test_journal_window_and_malformed_entries():
    lines = fixture_text("journal.json").splitlines()
    events = attempts.parse_journal_entries("\n".join(lines), DAY)["events"]
    middle = events[len(events) // 2]["time"]
    later = attempts.parse_journal_entries("\n".join(lines), middle)["events"]
    assert later and all(event["time"] >= middle for event in later) and len(later) < len(events)
    junk = "\n".join(["{", "[]", "null", '{"_TRANSPORT": "kernel", "__REALTIME_TIMESTAMP": "x", "MESSAGE": "a"}',
                      '{"_TRANSPORT": "kernel", "__REALTIME_TIMESTAMP": 5, "MESSAGE": "a"}', "x" * 70000])
    assert attempts.parse_journal_entries(junk, 0)["events"] == []


def test_journal_command_reads_every_boot_newest_first():
    command = attempts.journal_command(1796244000.7, 100)
    assert command == ["journalctl", "_TRANSPORT=kernel", "-o", "json", "--since", "@1796244000", "--no-pager",
                       "-r", "-n", "101"]
    assert "-k" not in command and "-b" not in command


# --- kern.log --------------------------------------------------------------------------------

def copy_syslog(tmp_path, name, split=None):
    """The fixture as /var/log/kern.log (header dropped); ``split``: older lines in kern.log.1."""
    lines = fixture_lines(name)
    paths = (str(tmp_path / "kern.log"), str(tmp_path / "kern.log.1"))
    if split is None:
        (tmp_path / "kern.log").write_text("\n".join(lines) + "\n")
    else:
        (tmp_path / "kern.log.1").write_text("\n".join(lines[:split]) + "\n")
        (tmp_path / "kern.log").write_text("\n".join(lines[split:]) + "\n")
    return paths


@pytest.mark.parametrize("name", SYSLOGS)
def test_every_kern_log_format_gives_every_captured_line(tmp_path, name):
    read = attempts.read_kern_log(DAY, paths=copy_syslog(tmp_path, name), now=NOW, utc_offset=0)
    expected = [attempts.parse_log_line(line.split(" kernel: ", 1)[1]) for line in fixture_lines(name)]
    assert [dict(event, time=None) for event in read["events"]] == expected
    assert read["lines"] == len(expected) and not read["truncated"] and not read["warnings"]
    assert all(DAY < event["time"] < NOW for event in read["events"])


def test_kern_log_1_continues_kern_log(tmp_path):
    whole = attempts.read_kern_log(DAY, paths=copy_syslog(tmp_path, "kern.log"), now=NOW)
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    split = attempts.read_kern_log(DAY, paths=copy_syslog(split_dir, "kern.log", split=20), now=NOW)
    assert split == whole


def test_kern_log_stops_at_the_window_and_keeps_the_newest(tmp_path):
    paths = copy_syslog(tmp_path, "kern.log")
    everything = attempts.read_kern_log(DAY, paths=paths, now=NOW)["events"]
    newest = attempts.read_kern_log(DAY, max_lines=7, paths=paths, now=NOW)
    assert newest["truncated"] and newest["lines"] == 7 and newest["events"] == everything[-7:]
    since = everything[-3]["time"]
    assert [event["time"] for event in attempts.read_kern_log(since, paths=paths, now=NOW)["events"]] == [
        event["time"] for event in everything if event["time"] >= since]


def test_kern_log_reading_stops_long_before_the_start_of_a_big_old_log(tmp_path):
    old = "2026-11-01T00:00:00.000000+00:00 host kernel: something old\n" * 50000
    recent = "\n".join(fixture_lines("kern.log")) + "\n"
    (tmp_path / "kern.log").write_text(old + recent)
    read = attempts.read_kern_log(DAY, paths=(str(tmp_path / "kern.log"),), now=NOW)
    assert read["lines"] == len(fixture_lines("kern.log"))


def test_an_endless_line_in_kern_log_is_skipped(tmp_path):
    lines = fixture_lines("kern.log")
    (tmp_path / "kern.log").write_bytes(("\n".join(lines[:3]) + "\n" + "y" * 300000 + "\n"
                                         + "\n".join(lines[3:]) + "\n").encode("utf-8"))
    read = attempts.read_kern_log(DAY, paths=(str(tmp_path / "kern.log"),), now=NOW)
    assert len(read["events"]) == len(lines)


def test_missing_kern_log_is_a_warning(tmp_path):
    read = attempts.read_kern_log(DAY, paths=(str(tmp_path / "kern.log"),), now=NOW)
    assert read["events"] == [] and "no kernel log file found" in read["warnings"][0]
    assert not attempts.kern_log_has_kernel_messages((str(tmp_path / "kern.log"),), NOW)
    (tmp_path / "kern.log").write_text("\n".join(fixture_lines("kern.log")) + "\n")
    assert attempts.kern_log_has_kernel_messages((str(tmp_path / "kern.log"),), NOW)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.integers(min_value=1, max_value=64), st.booleans())
def test_reverse_lines_are_the_lines_backwards(lines, block, newline_at_end):
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    got = list(attempts._reverse_lines(io.BytesIO(data), block=block, longest=10 ** 6))
    # Empty lines carry nothing, and the readers skip them.
    assert [line for line in got if line] == [line for line in reversed(data.split(b"\n")) if line]


@pytest.mark.parametrize("line, expected", [
    ("2026-12-02T19:40:01.123456+00:00 host kernel: [123.4] netsec-bjnp: x",
     (calendar.timegm((2026, 12, 2, 19, 40, 1)) + 0.123456, "[123.4] netsec-bjnp: x")),
    ("2026-12-02T20:40:01+01:00 host kernel: m", (calendar.timegm((2026, 12, 2, 19, 40, 1)), "m")),
    ("Dec  2 19:40:01 host kernel: m", (calendar.timegm((2026, 12, 2, 19, 40, 1)), "m")),
    ("Dec 12 19:40:01 host kernel: m", (calendar.timegm((2025, 12, 12, 19, 40, 1)), "m")),  # ahead of now: last year
    ("Dec  2 19:40:01 host sshd[1]: m", None),
    ("Dex  2 19:40:01 host kernel: m", None),
    ("Dec  2 25:40:01 host kernel: m", None),
    ("2026-13-02T19:40:01+00:00 host kernel: m", None),
    ("", None),
])
def test_syslog_lines(line, expected):
    assert attempts.parse_syslog_line(line, NOW, utc_offset=0) == expected


def test_traditional_syslog_time_is_the_hosts_local_time():
    assert attempts.parse_syslog_line("Dec  2 19:40:01 host kernel: m", NOW, utc_offset=3600)[0] == \
        calendar.timegm((2026, 12, 2, 18, 40, 1))
    new_year = calendar.timegm((2027, 1, 1, 0, 0, 10))
    assert attempts.parse_syslog_line("Dec 31 23:59:59 host kernel: m", new_year, utc_offset=0)[0] == \
        calendar.timegm((2026, 12, 31, 23, 59, 59))
    assert attempts.parse_syslog_line("Feb 29 10:00:00 host kernel: m", calendar.timegm((2029, 3, 1, 0, 0, 0)),
                                      utc_offset=0)[0] == calendar.timegm((2028, 2, 29, 10, 0, 0))


# --- /dev/kmsg -------------------------------------------------------------------------------

def kmsg_capture():
    return json.loads(fixture_text("kmsg-records.json"))


def test_kmsg_records_become_events_at_wall_time():
    capture = kmsg_capture()
    parsed = [attempts.parse_kmsg_record(record, capture["boot"]) for record in capture["records"]]
    assert None not in parsed
    assert [attempts.parse_log_line(message) for dummy, message in parsed] == [
        attempts.parse_log_line(line) for line in fixture_lines("nft-input.log")]
    header = capture["records"][0].split(";")[0].split(",")
    assert parsed[0][0] == pytest.approx(capture["boot"] + int(header[2]) / 1e6)
    assert DAY < parsed[0][0] < NOW


def test_a_record_user_space_wrote_to_dev_kmsg_is_not_the_kernels():
    capture = kmsg_capture()
    assert capture["forged"][0].startswith("12,")  # facility user (1), level warning (4)
    assert attempts.parse_kmsg_record(capture["forged"][0], capture["boot"]) is None
    kernel_like = "6," + capture["forged"][0].split(",", 1)[1]
    assert attempts.parse_kmsg_record(kernel_like, capture["boot"]) is not None


@pytest.mark.parametrize("record", ["", "6,1,2", "6,1,2,-", "x,1,2,-;m", "6,1,-2,-;m", "6;m", "6,1,%s,-;m" % ("9" * 30)])
def test_malformed_kmsg_records(record):
    assert attempts.parse_kmsg_record(record, 0.0) is None


def test_kmsg_continuation_lines_are_not_the_message():
    assert attempts.parse_kmsg_record("6,1,1000000,-;netsec-bjnp: x\n SUBSYSTEM=net\n DEVICE=n2\n", 10.0) == (
        11.0, "netsec-bjnp: x")


def test_an_unreadable_kmsg_is_a_warning(tmp_path):
    read = attempts.read_kmsg(DAY, path=str(tmp_path / "missing"))
    assert read["events"] == [] and "could not be opened" in read["warnings"][0]
    assert not attempts.kmsg_readable(str(tmp_path / "missing"))


def test_counters_ahead_of_the_log_mean_the_rate_limit_held_lines_back():
    capture = kmsg_capture()
    counters = parse_nft_counters(capture["counters"])
    assert counters == [
        {"mode": "host", "protocol": "tcp", "ports": "9100", "packets": 8, "bytes": 560},
        {"mode": "host", "protocol": "udp", "ports": "8611-8614", "packets": 6, "bytes": 324}]
    boot = capture["boot"]
    events = [attempts._with_time(attempts.parse_log_line(message), epoch)
              for epoch, message in (attempts.parse_kmsg_record(record, boot) for record in capture["records"])]
    result = attempts.summarize(events, counters, PORTS, DAY, log_source="kmsg", backend="nftables")
    assert result["log_limited"] is True
    assert result["totals"] == [
        {"protocol": "tcp", "port": "8611-8614", "packets_logged": 0, "packets_counted": 0, "sources": 0},
        {"protocol": "tcp", "port": 9100, "packets_logged": 5, "packets_counted": 8, "sources": 2},
        {"protocol": "udp", "port": "8611-8614", "packets_logged": 5, "packets_counted": 6, "sources": 2}]


# --- auto ------------------------------------------------------------------------------------

def test_auto_takes_the_journal_when_it_holds_kernel_messages(tmp_path):
    journal = fixture_text("journal.json")
    calls = []

    def run(args):
        calls.append(args)
        return 0, journal, ""

    read = attempts.read_log("auto", DAY, run=run, paths=(str(tmp_path / "none"),), kmsg_path=str(tmp_path / "no"))
    assert read["log_source"] == "journal" and read["events"]
    assert calls == [attempts.journal_probe_command(), attempts.journal_command(DAY, attempts.DEFAULT_MAX_LINES)]


def test_auto_without_journal_takes_kern_log_then_kmsg_then_none(tmp_path):
    def empty(args):
        return 0, "", ""  # journalctl installed, no journal files (as on this machine)

    kern = copy_syslog(tmp_path, "kern.log")
    assert attempts.read_log("auto", DAY, run=empty, paths=kern, now=NOW)["log_source"] == "kern.log"
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    nothing = (str(tmp_path / "nothing"),)
    assert attempts.read_log("auto", DAY, run=None, paths=nothing, kmsg_path=str(kmsg))["log_source"] == "kmsg"
    none = attempts.read_log("auto", DAY, run=None, paths=nothing, kmsg_path=str(tmp_path / "no"))
    assert none["log_source"] == "none" and "no kernel log found" in none["warnings"][0]


def test_a_named_source_that_is_missing_is_a_warning(tmp_path):
    assert "not installed" in attempts.read_log("journal", DAY, run=None)["warnings"][0]
    failing = attempts.read_log("journal", DAY, run=lambda args: (1, "", "No journal files were found."))
    assert "No journal files were found." in failing["warnings"][0]
    assert attempts.read_log("none", DAY) == attempts.read_result("none")
    with pytest.raises(ValueError, match="'syslog'"):
        attempts.read_log("syslog", DAY)


# --- since -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("30m", NOW - 1800), ("2h", NOW - 7200), ("1d", NOW - 86400), ("1w", NOW - 604800), ("45s", NOW - 45),
    (" 2H ", NOW - 7200),
    ("2026-12-02T19:40:00Z", calendar.timegm((2026, 12, 2, 19, 40, 0))),
    ("2026-12-02T20:40:00+01:00", calendar.timegm((2026, 12, 2, 19, 40, 0))),
    ("2026-12-02T14:40:00-0500", calendar.timegm((2026, 12, 2, 19, 40, 0))),
    ("2026-12-02 19:40", calendar.timegm((2026, 12, 2, 19, 40, 0))),
    ("2026-12-02T19:40:00.5Z", calendar.timegm((2026, 12, 2, 19, 40, 0)) + 0.5),
    ("2026-12-02", DAY),
    ("1796244000", 1796244000), ("@1796244000", 1796244000), (1796244000, 1796244000), (1796244000.5, 1796244000.5),
])
def test_since_forms(value, expected):
    assert attempts.parse_since(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value, words", [
    ("yesterday", "is not a time"), ("", "is not a time"), ("30", "before 2000"), (30, "before 2000"),
    ("0m", "empty window"), ("-5m", "is not a time"), ("2h30", "is not a time"), ("2099-01-01T00:00:00Z", "future"),
    (float("inf"), "future"), (float("nan"), "not a number"), ("2026-02-30", "not a valid date"),
    ("2026-12-02T19:40:00+25:00", "impossible UTC offset"), (True, "is not a time"), (None, "is not a time"),
    ("9" * 100, "is not a time"), ("1999-12-31T23:59:59Z", "before 2000"),
])
def test_since_nonsense_is_refused_naming_the_value(value, words):
    with pytest.raises(ValueError) as info:
        attempts.parse_since(value, NOW)
    assert words in str(info.value)
    assert (u"%s" % (value,))[:40] in str(info.value)


def test_format_time_is_iso_utc():
    assert attempts.format_time(calendar.timegm((2026, 12, 2, 19, 40, 1)) + 0.9) == "2026-12-02T19:40:01Z"


# --- Windows Firewall log (a sample written from Microsoft's documentation) -------------------

def test_windows_firewall_drops_become_the_same_events():
    read = attempts.parse_windows_firewall_log(fixture_text("pfirewall.log"), DAY)
    assert read["log_source"] == "pfirewall.log" and not read["truncated"]
    events = read["events"]
    # ALLOW, SEND, ICMP, INFO and the cut line are not knocks; port 445 is one (summarize leaves it out).
    assert [(e["source"], e["source_port"], e["protocol"], e["port"]) for e in events] == [
        ("10.0.20.5", 51234, "tcp", 9100), ("10.0.20.5", 51234, "tcp", 9100), ("10.0.20.5", 51240, "tcp", 9100),
        ("10.0.20.5", 51248, "tcp", 9100), ("10.0.20.9", 50000, "udp", 8612), ("10.0.20.9", 50000, "udp", 8612),
        ("fd42:20::9", 50100, "tcp", 8611), ("10.0.20.5", 51300, "tcp", 445)]
    assert events[0]["time"] == calendar.timegm((2026, 12, 2, 19, 41, 7))
    assert events[0]["syn"] and not events[4]["syn"] and {e["mode"] for e in events} == {"host"}
    result = attempts.summarize(events, None, PORTS, DAY, log_source="pfirewall.log")
    assert result["suspected_print_servers"] == [
        {"address": "10.0.20.5", "ports": ["tcp/9100"], "connections": 3, "allow_entry": "10.0.20.5"}]
    assert result["counters_available"] is False and result["log_limited"] is False


def test_windows_times_are_the_hosts_local_time_and_the_window_applies():
    text = fixture_text("pfirewall.log")
    ahead = attempts.parse_windows_firewall_log(text, DAY, utc_offset=3600)["events"]
    assert ahead[0]["time"] == calendar.timegm((2026, 12, 2, 18, 41, 7))
    late = attempts.parse_windows_firewall_log(text, calendar.timegm((2026, 12, 2, 19, 42, 0)))["events"]
    assert len(late) == 4
    newest = attempts.parse_windows_firewall_log(text, DAY, max_lines=2)
    assert newest["truncated"] and [e["port"] for e in newest["events"]] == [8611, 445]


def test_windows_columns_follow_the_fields_header():
    text = ("#Fields: time date action protocol dst-port src-port src-ip dst-ip path\n"
            "19:41:07 2026-12-02 DROP TCP 9100 51234 10.0.20.5 10.0.20.2 RECEIVE\n")
    assert [(e["source"], e["port"]) for e in attempts.parse_windows_firewall_log(text, DAY)["events"]] == [
        ("10.0.20.5", 9100)]
    # Without a header, Microsoft's documented order (no pid column).
    row = "2026-12-02 19:41:07 DROP TCP 10.0.20.5 10.0.20.2 51234 9100 52 S 1 0 64240 - - - RECEIVE"
    assert len(attempts.parse_windows_firewall_log(row, DAY)["events"]) == 1


# --- summarize -------------------------------------------------------------------------------

RESULT_KEYS = {"since", "log_source", "backend", "counters_available", "counters", "sources", "totals", "log_limited",
               "suspected_print_servers", "truncated", "warnings"}


def event(source, port, source_port, protocol="tcp", moment=DAY + 60, mode="host", destination=None):
    family = ipaddress.ip_address(source).version
    return {"time": moment, "source": str(ipaddress.ip_address(source)), "source_port": source_port,
            "destination": destination or ("10.0.0.2" if family == 4 else "fd42::2"), "protocol": protocol,
            "port": port, "mode": mode, "in": "eth0", "out": "" if mode == "host" else "eth1",
            "syn": protocol == "tcp", "prefix": "netsec-bjnp: "}


def test_the_result_has_exactly_the_documented_shape():
    result = attempts.summarize(events_of("nft-input.log"), [], PORTS, DAY, log_source="kmsg", backend="nftables",
                                truncated=True, warnings=["from the reader"])
    assert set(result) == RESULT_KEYS
    assert result["since"] == "2026-12-02T00:00:00Z" and result["truncated"] is True
    assert result["log_source"] == "kmsg" and result["backend"] == "nftables"
    assert result["warnings"][0] == "from the reader"
    source = result["sources"][0]
    assert set(source) == {"address", "protocol", "port", "packets", "connections", "first_seen", "last_seen", "mode",
                           "destinations"}
    assert set(result["totals"][0]) == {"protocol", "port", "packets_logged", "packets_counted", "sources"}
    assert set(result["suspected_print_servers"][0]) == {"address", "ports", "connections", "allow_entry"}


def test_a_retransmitted_syn_is_one_connection_and_a_socket_of_datagrams_too():
    result = attempts.summarize(events_of("iptables-nft-input.log"), None, PORTS, DAY)
    rows = dict(((s["address"], s["protocol"], s["port"]), (s["packets"], s["connections"])) for s in result["sources"])
    assert rows[(CLIENT_V4, "tcp", 9100)] == (4, 3)
    assert rows[(CLIENT_V6, "tcp", 9100)] == (4, 3)
    assert rows[(CLIENT_V4, "udp", 8612)] == (2, 1)
    assert rows[(CLIENT_V4, "udp", 8611)] == (1, 1)
    assert [s["packets"] for s in result["sources"]] == sorted([s["packets"] for s in result["sources"]], reverse=True)
    assert result["sources"][0] == {
        "address": CLIENT_V4, "protocol": "tcp", "port": 9100, "packets": 4, "connections": 3,
        "first_seen": "2026-12-02T00:00:00Z", "last_seen": "2026-12-02T00:00:03Z", "mode": "host",
        "destinations": [PRINTER_V4]}


def test_forwarded_attempts_are_listed_as_gateway():
    result = attempts.summarize(events_of("nft-forward.log"), None, PORTS, DAY)
    assert {s["mode"] for s in result["sources"]} == {"gateway"}


def test_suspected_print_servers_and_their_allow_entries():
    knocks = ([event("10.0.0.5", 9100, port) for port in (40000, 40000, 40001, 40002)]
              + [event("fd42:0:0::9", 8611, 50000), event("fd42::9", 9100, 50001), event("fd42::9", 8611, 50002)]
              + [event("10.0.0.6", 9100, 1), event("10.0.0.6", 9100, 2)]
              + [event("10.0.0.7", 8612, port) for port in (1, 2, 3, 4)]  # not how print servers retry
              + [event("10.0.0.8", 8611, port, protocol="udp") for port in (1, 2, 3)])
    result = attempts.summarize(knocks, None, PORTS, DAY)
    assert result["suspected_print_servers"] == [
        {"address": "10.0.0.5", "ports": ["tcp/9100"], "connections": 3, "allow_entry": "10.0.0.5"},
        {"address": "fd42::9", "ports": ["tcp/8611", "tcp/9100"], "connections": 3, "allow_entry": "fd42::9"}]
    assert [s["address"] for s in attempts.summarize(knocks, None, PORTS, DAY, 2)["suspected_print_servers"]] == [
        "10.0.0.5", "fd42::9", "10.0.0.6"]


def test_an_address_the_role_would_refuse_gets_no_allow_entry():
    mapped = [event("::ffff:10.0.0.5", 9100, port) for port in (1, 2, 3)]
    assert attempts.summarize(mapped, None, PORTS, DAY)["suspected_print_servers"][0]["allow_entry"] is None
    assert attempts.allow_entry("10.0.0.5") == "10.0.0.5" and attempts.allow_entry("fd42:0::1") == "fd42::1"


def test_counters_totals_and_the_rate_limit():
    knocks = [event("10.0.0.5", 9100, 1), event("10.0.0.5", 8612, 2, protocol="udp"),
              event("10.0.0.6", 8613, 3, protocol="udp", mode="gateway")]
    counters = [{"mode": "host", "protocol": "tcp", "ports": "9100", "packets": 1, "bytes": 60},
                {"mode": "host", "protocol": "udp", "ports": "8611-8614", "packets": 1, "bytes": 44},
                {"mode": "gateway", "protocol": "udp", "ports": "8611-8614", "packets": 1, "bytes": 44}]
    result = attempts.summarize(knocks, counters, PORTS, DAY)
    assert result["counters_available"] is True and result["counters"] == counters
    assert result["totals"][2] == {"protocol": "udp", "port": "8611-8614", "packets_logged": 2, "packets_counted": 2,
                                   "sources": 2}
    assert result["log_limited"] is False and result["warnings"] == []
    counters[0]["packets"] = 40
    assert attempts.summarize(knocks, counters, PORTS, DAY)["log_limited"] is True
    assert attempts.summarize(knocks, None, PORTS, DAY)["totals"][0]["packets_counted"] is None


def test_the_window_and_the_ports_option_leave_events_out():
    knocks = [event("10.0.0.5", 9100, 1, moment=DAY - 1), event("10.0.0.5", 22, 2), event("10.0.0.5", 9100, 3)]
    result = attempts.summarize(knocks, None, [{"protocol": "tcp", "port": 9100}], DAY)
    assert [s["packets"] for s in result["sources"]] == [1]
    assert "ports outside the ports option" in result["warnings"][0]
    ufw = dict(event("10.0.0.5", 22, 2), prefix="[UFW BLOCK] ")  # ufw's own default-deny lines: not ours to count
    assert attempts.summarize([ufw], None, [{"protocol": "tcp", "port": 9100}], DAY)["warnings"] == []


def test_counters_without_lines_say_where_the_lines_went():
    counters = [{"mode": "host", "protocol": "tcp", "ports": "9100", "packets": 3000, "bytes": 1}]
    warning = attempts.summarize([], counters, PORTS, DAY, log_source="kmsg")["warnings"]
    assert len(warning) == 1 and "nf_log_all_netns=1" in warning[0] and "3000" in warning[0]
    assert attempts.summarize([], counters, PORTS, DAY, log_source="none")["warnings"] == []
    assert "bjnp_log_attempts: true" in attempts.summarize([], [], PORTS, DAY)["warnings"][0]


def test_destinations_are_capped_and_most_hit_first():
    knocks = [event("10.0.0.5", 9100, 1, destination="10.0.1.%d" % n) for n in range(1, 30)]
    knocks += [event("10.0.0.5", 9100, 1, destination="10.0.1.29")]
    destinations = attempts.summarize(knocks, None, PORTS, DAY)["sources"][0]["destinations"]
    assert len(destinations) == attempts.DESTINATIONS_MAX and destinations[:2] == ["10.0.1.29", "10.0.1.1"]


@pytest.mark.parametrize("ports, words", [
    ([{"protocol": "icmp", "port": 1}], "'icmp'"), ([{"protocol": "tcp", "port": "9100-9000"}], "'9100-9000'"),
    ([{"protocol": "tcp", "port": "x"}], "'x'"),
])
def test_bad_ports_are_refused_naming_them(ports, words):
    with pytest.raises(ValueError, match=words):
        attempts.summarize([], None, ports, DAY)


@pytest.mark.parametrize("value", [0, -1, "3", True, 2.5])
def test_print_server_min_connections_must_be_a_whole_number_from_1(value):
    with pytest.raises(ValueError, match="print_server_min_connections '%s'" % value):
        attempts.summarize([], None, PORTS, DAY, value)


def test_boot_time_is_now_less_the_uptime():
    # boot_time is the wall clock less CLOCK_MONOTONIC: within a second of now less the uptime.
    with open("/proc/uptime") as handle:
        uptime = float(handle.read().split()[0])
    assert abs(attempts.boot_time() - (time.time() - uptime)) < 5


# --- whose line it is (containers share the kernel log) ------------------------------------

OWN_MAC = "8e:01:02:03:04:05"


def _line(mac):
    return ("netsec-bjnp: IN=eth0 OUT= MAC=%s:aa:bb:cc:dd:ee:ff:08:00 SRC=10.89.61.21 DST=10.89.61.30 LEN=60 "
            "TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=9100 WINDOW=64240 RES=0x00 SYN URGP=0" % mac)


def test_the_frame_destination_mac_is_taken_from_the_line():
    assert attempts.parse_log_line(_line(OWN_MAC.upper()))["mac"] == OWN_MAC
    assert attempts.parse_log_line(_line("zz:01:02:03:04:05"))["mac"] is None


def test_lines_of_frames_to_another_hosts_mac_are_left_out_and_counted():
    mine, other, broadcast = (attempts.parse_log_line(_line(mac))
                              for mac in (OWN_MAC, "8e:99:99:99:99:99", "ff:ff:ff:ff:ff:ff"))
    no_mac = dict(mine, mac=None)
    assert attempts.own_events([mine, other, broadcast, no_mac], {OWN_MAC}) == ([mine, broadcast, no_mac], 1)
    assert attempts.own_events([mine, other], set()) == ([mine, other], 0)


def test_interface_macs_reads_every_interface(tmp_path):
    for name, mac in (("lo", "00:00:00:00:00:00"), ("eth0", "8E:01:02:03:04:05\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac)
    (tmp_path / "broken").mkdir()
    assert attempts.interface_macs(str(tmp_path)) == {"00:00:00:00:00:00", OWN_MAC}
    assert attempts.interface_macs(str(tmp_path / "missing")) == set()
