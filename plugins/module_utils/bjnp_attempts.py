# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who still knocks on the closed ports: parse the blocked attempts our rules log, and sum them up.

Used by netsec.bjnp.attempts (Linux: the kernel log and the backend's counters) and by the
Windows collector (``parse_windows_firewall_log``). Parsing is pure; the readers only read a
file, ``/dev/kmsg`` or the output of ``journalctl`` that the caller ran.

Log text is untrusted: anyone who can write to the log can forge a line. A line is taken only
when every field we use is well formed (addresses parse, ports are 1-65535, interface names fit
IFNAMSIZ, the line is no longer than a kernel record); anything else is skipped, never an error.
Of ``/dev/kmsg`` and the journal's kernel entries only facility 0 is read: that is what the
kernel wrote (the kernel stores a write to ``/dev/kmsg`` as facility user); ``kern.log`` is as
trustworthy as the syslog daemon that writes it.

An event (one logged packet)::

    {"time": 1764704401.123, "source": "10.0.0.5", "source_port": 51234, "destination": "10.0.0.2",
     "protocol": "tcp", "port": 9100, "mode": "host", "in": "eth0", "out": "", "syn": True,
     "prefix": "netsec-bjnp: "}

``summarize`` turns events and counters into the result of netsec.bjnp.attempts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import collections
import datetime
import errno
import ipaddress
import json
import math
import os
import re
import time

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    normalize_ports,
    parse_network,
    parse_port_range,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import LOG_PREFIX

# ufw logs the blocks of its rules (ours with ``log``) with its own prefix.
UFW_PREFIX = "[UFW BLOCK] "
PREFIXES = (LOG_PREFIX, UFW_PREFIX)
LOG_SOURCES = ("auto", "journal", "kern.log", "kmsg", "none")
# auto tries these in order; the first that exists and holds kernel messages is read.
AUTO_ORDER = ("journal", "kern.log", "kmsg")
KERN_LOG_PATHS = ("/var/log/kern.log", "/var/log/kern.log.1")
KMSG_PATH = "/dev/kmsg"
# journalctl's JSON is some 700 bytes an entry: 50000 entries stay well under 100 MB of output.
DEFAULT_MAX_LINES = 50000
DEFAULT_SINCE = "24h"
# A kernel record holds at most 1024 bytes of text (PRINTK_MESSAGE_MAX); a longer line is not one.
MAX_LINE = 2048
# A journal entry as JSON: the message, its byte-array form and some 30 metadata fields.
MAX_JSON_LINE = 65536
# Interface names are at most IFNAMSIZ - 1 bytes.
MAX_IFNAME = 15
# Destinations listed per source (the count of sources is bounded by max_lines already).
DESTINATIONS_MAX = 10
# How print servers (CUPS, Windows print queues) retry a raw-print or BJNP printer.
PRINT_SERVER_PORTS = (("tcp", 9100), ("tcp", 8611))
# Records read from /dev/kmsg at most: a kernel logging faster than we read never ends the loop.
KMSG_MAX_RECORDS = 1000000
# kern.log is read from its end; it is written in arrival order, give or take this many seconds.
SYSLOG_SLACK = 300
# A time before this is a mistake (a small number taken for epoch seconds), not a wish.
EARLIEST = 946684800  # 2000-01-01T00:00:00Z
_LATEST = 253402300800  # 10000-01-01T00:00:00Z, beyond what a time can be printed as

_PRINTK_TIME = re.compile(r"^\[\s*\d{1,10}\.\d{1,9}\]\s?")
_IFNAME = re.compile(r"^[\x21-\x2e\x30-\x7e]{0,%d}$" % MAX_IFNAME)
_PORT = re.compile(r"^\d{1,5}$")
# MAC= is destination, source and type of the frame's Ethernet header: the destination first.
_MAC = re.compile(r"^((?:[0-9a-f]{2}:){5}[0-9a-f]{2})(?::[0-9a-f]{2})*$")
SYS_CLASS_NET = "/sys/class/net"
_RELATIVE = re.compile(r"^(\d{1,9})\s*(s|m|h|d|w)$")
_EPOCH = re.compile(r"^@?(\d{1,12})(?:\.(\d{1,9}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
                  r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RFC3339_SYSLOG = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))\s+(\S{1,255})\s+(.*)$")
_TRADITIONAL_SYSLOG = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})\s+(\S{1,255})\s+(.*)$")
_MONTHS = dict((name, index + 1) for index, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")))
_KERNEL_TAG = "kernel: "


# --- times -------------------------------------------------------------------------------

def format_time(epoch):
    """ISO 8601 UTC, to the second: ``2026-12-02T19:40:01Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _iso_epoch(match, value):
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                   int(second or 0))
    except ValueError as exc:
        raise ValueError("since '%s' is not a valid date and time (%s)" % (value, exc))
    epoch = calendar.timegm(moment.timetuple()) + (float("0." + fraction) if fraction else 0.0)
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError("since '%s' has an impossible UTC offset %s" % (value, zone))
        epoch -= (1 if zone[0] == "+" else -1) * (hours * 3600 + minutes * 60)
    return epoch


def parse_since(value, now):
    """Epoch seconds of ``since``: ISO 8601 (UTC unless it carries an offset), epoch seconds or ``30m``/``2h``/``1d``.

    Raises ``ValueError`` naming the value for anything else, a time in the future or before 2000.
    """
    hint = "give an ISO 8601 time (2026-12-02T19:40:00Z), epoch seconds or a relative time like 30m, 2h or 1d"
    if isinstance(value, bool) or value is None:
        raise ValueError("since %r is not a time: %s" % (value, hint))
    if isinstance(value, (int, float)):
        epoch = float(value)
    else:
        text = u"%s" % (value,)
        text = text.strip()
        if len(text) > 64:
            raise ValueError("since '%s...' is not a time: %s" % (text[:64], hint))
        relative = _RELATIVE.match(text.lower())
        epoch_match = _EPOCH.match(text)
        iso = _ISO.match(text)
        if relative:
            amount = int(relative.group(1)) * _UNITS[relative.group(2)]
            if amount <= 0:
                raise ValueError("since '%s' is an empty window: give a positive time like 30m" % (value,))
            epoch = now - amount
        elif epoch_match:
            epoch = float(epoch_match.group(1) + "." + (epoch_match.group(2) or "0"))
        elif iso:
            epoch = _iso_epoch(iso, value)
        else:
            raise ValueError("since '%s' is not a time: %s" % (value, hint))
    if math.isnan(epoch) or epoch < EARLIEST:
        raise ValueError("since '%s' is before 2000-01-01 (%s): %s" % (
            value, "not a number" if math.isnan(epoch) else "epoch %d" % epoch, hint))
    if epoch > now + 60:
        raise ValueError("since '%s' is in the future (%s, now %s): nothing can have been logged yet" % (
            value, format_time(epoch) if epoch < _LATEST else "after the year 9999", format_time(now)))
    return epoch


# --- one kernel log line -----------------------------------------------------------------

def _address(text):
    if not text or len(text) > 45 or "%" in text:
        return None
    try:
        return ipaddress.ip_address(u"%s" % text)
    except ValueError:
        return None


def _port(text):
    if text is None or not _PORT.match(text):
        return None
    value = int(text)
    return value if 1 <= value <= 65535 else None


def _endpoints(source, destination, source_port, port):
    """``(source, destination, source port, port)`` parsed, one family; None if any is not."""
    source, destination = _address(source), _address(destination)
    if source is None or destination is None or source.version != destination.version:
        return None
    source_port, port = _port(source_port), _port(port)
    if source_port is None or port is None:
        return None
    return source, destination, source_port, port


def parse_log_line(line):
    """The event of one kernel LOG/log line with one of ``PREFIXES``; None for anything else.

    ``line`` is the kernel's message (an optional printk time ``[ 12.345678] `` before the
    prefix is skipped), as nft ``log`` and iptables ``LOG`` print it, IPv4 or IPv6, TCP or UDP.
    The event has no ``time`` (the readers add it). Never raises.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    if not isinstance(line, type(u"")) or len(line) > MAX_LINE:
        return None
    text = _PRINTK_TIME.sub("", line.strip(), count=1)
    for prefix in PREFIXES:
        if text.startswith(prefix):
            break
    else:
        return None
    tokens = text[len(prefix):].split()
    fields, flags, dport_index = {}, set(), None
    for index, token in enumerate(tokens):
        key, sep, value = token.partition("=")
        if not sep:
            flags.add(token)
        elif key not in fields:  # the first wins: an ICMP error quotes a second header in brackets
            fields[key] = value
            if key == "DPT":
                dport_index = index
    # A line cut short could end inside the destination port: something must follow it.
    if dport_index is None or dport_index == len(tokens) - 1:
        return None
    if "IN" not in fields or "OUT" not in fields:
        return None
    interface_in, interface_out = fields["IN"], fields["OUT"]
    # Our rules hook input and forward: a packet always came in somewhere.
    if not interface_in or not _IFNAME.match(interface_in) or not _IFNAME.match(interface_out):
        return None
    protocol = fields.get("PROTO", "").lower()
    if protocol not in ("tcp", "udp"):
        return None
    endpoints = _endpoints(fields.get("SRC"), fields.get("DST"), fields.get("SPT"), fields.get("DPT"))
    if endpoints is None:
        return None
    source, destination, source_port, port = endpoints
    return {
        "time": None,
        "source": str(source),
        "source_port": source_port,
        "destination": str(destination),
        "protocol": protocol,
        "port": port,
        # The packet was for this host (OUT= empty) or routed through it.
        "mode": "gateway" if interface_out else "host",
        "in": interface_in,
        "out": interface_out,
        "syn": protocol == "tcp" and "SYN" in flags,
        "prefix": prefix,
        # The frame's destination MAC (None without an Ethernet header): whose line it is.
        "mac": _frame_destination(fields.get("MAC")),
    }


def _frame_destination(text):
    match = _MAC.match((text or "").lower())
    return match.group(1) if match else None


def interface_macs(root=SYS_CLASS_NET):
    """The MAC addresses of this host's (this network namespace's) interfaces."""
    macs = set()
    try:
        names = os.listdir(root)
    except OSError:
        return macs
    for name in names:
        try:
            with open(os.path.join(root, name, "address")) as handle:
                macs.add(handle.read().strip().lower())
        except (IOError, OSError):
            continue
    return macs


def own_events(events, macs):
    """``(this host's events, how many were another's)``.

    Containers share their host's kernel log, so a container reads every container's lines;
    a frame addressed to a MAC this host does not have was received by another one. Frames
    to a group address (broadcast, multicast) and lines without a MAC are kept: they cannot
    be told apart. Without a MAC of its own (``macs`` empty) every event is kept.
    """
    if not macs:
        return list(events), 0
    kept = [event for event in events if event.get("mac") is None or event["mac"] in macs
            or int(event["mac"][:2], 16) & 1]
    return kept, len(events) - len(kept)


def _with_time(event, epoch):
    if event is not None:
        event["time"] = epoch
    return event


# --- readers -----------------------------------------------------------------------------

def read_result(log_source, events=None, lines=0, truncated=False, warnings=None):
    """What every reader returns: the events (oldest first), lines examined, and whether more were left."""
    return {"log_source": log_source, "events": list(events or []), "lines": lines, "truncated": truncated,
            "warnings": list(warnings or [])}


class _Newest(object):
    """The newest ``limit`` lines of a window, fed oldest first: bounded memory whatever the log holds."""

    def __init__(self, limit):
        self.limit = max(1, int(limit))
        self.kept = collections.deque(maxlen=self.limit)
        self.lines = 0

    def add(self, epoch, message):
        # Parsed at once: a kept line that is not ours costs a None, not its text.
        self.lines += 1
        self.kept.append(_with_time(parse_log_line(message), epoch))

    @property
    def truncated(self):
        return self.lines > self.limit

    def events(self):
        return [event for event in self.kept if event is not None]


def journal_command(since, max_lines):
    """``journalctl`` reading the kernel's entries since ``since``, the newest ``max_lines + 1``.

    ``_TRANSPORT=kernel`` rather than ``-k``: ``-k`` implies ``-b`` (this boot only), and a
    window may reach back over a reboot. ``-r``: with ``--since``, ``-n`` keeps the oldest
    entries of the window (systemd 252), reversed it keeps the newest. One entry more than
    the limit tells truncation.
    """
    return ["journalctl", "_TRANSPORT=kernel", "-o", "json", "--since", "@%d" % int(since), "--no-pager",
            "-r", "-n", "%d" % (int(max_lines) + 1)]


def journal_probe_command():
    """Whether a journal holds kernel messages at all (one entry, any time)."""
    return ["journalctl", "_TRANSPORT=kernel", "-o", "json", "--no-pager", "-n", "1"]


def _byte(item):
    return isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255


def _journal_message(entry):
    """MESSAGE as text: a string, or a list of byte values when it was not valid UTF-8."""
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        if len(message) > MAX_LINE or not all(_byte(item) for item in message):
            return None
        return bytearray(message).decode("utf-8", "replace")
    return message if isinstance(message, type(u"")) else None


def parse_journal_entries(text, since, max_lines=DEFAULT_MAX_LINES):
    """Events of ``journalctl -o json`` output (one JSON object a line, any order); malformed lines are skipped.

    Kernel entries of facility 0 only: what user space writes to /dev/kmsg reaches the journal
    with ``_TRANSPORT=kernel`` too, as facility 1.
    """
    entries = []
    for line in (text or "").splitlines():
        if not line.strip() or len(line) > MAX_JSON_LINE:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("_TRANSPORT") != "kernel" or entry.get("SYSLOG_FACILITY", "0") != "0":
            continue
        stamp = entry.get("__REALTIME_TIMESTAMP")
        if not isinstance(stamp, type(u"")) or not stamp.isdigit() or len(stamp) > 20:
            continue
        epoch = int(stamp) / 1000000.0
        message = _journal_message(entry)
        if message is not None and epoch >= since:
            entries.append((epoch, message))
    entries.sort(key=lambda item: item[0])
    newest = _Newest(max_lines)
    for epoch, message in entries:
        newest.add(epoch, message)
    return read_result("journal", newest.events(), newest.lines, newest.truncated)


def journal_has_kernel_messages(text):
    return any(line.strip().startswith("{") for line in (text or "").splitlines())


def _syslog_year(month, day, hour, minute, second, now, utc_offset):
    """Epoch of a traditional syslog time (no year, local time): this year, or last year if that is ahead of now."""
    for year in (time.gmtime(now).tm_year + 1, time.gmtime(now).tm_year, time.gmtime(now).tm_year - 1):
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second)
        except ValueError:  # Feb 29 in a year without it
            continue
        if utc_offset is None:
            epoch = time.mktime(moment.timetuple())
        else:
            epoch = calendar.timegm(moment.timetuple()) - utc_offset
        if epoch <= now + 86400:
            return epoch
    return None


def parse_syslog_line(line, now, utc_offset=None):
    """``(epoch, kernel message)`` of a kern.log line, or None (not a kernel line, or malformed).

    rsyslog's RFC 3339 format (``2026-12-02T19:40:01.123456+00:00 host kernel: ...``) and the
    traditional one (``Dec  2 19:40:01 host kernel: ...``, local time, no year: the year that
    puts it not after ``now``). ``utc_offset`` (seconds east of UTC) replaces the local zone.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    if not isinstance(line, type(u"")) or len(line) > MAX_LINE + 300:
        return None
    line = line.rstrip("\r\n")
    match = _RFC3339_SYSLOG.match(line)
    if match:
        iso = _ISO.match(match.group(1))
        try:
            epoch = _iso_epoch(iso, match.group(1)) if iso else None
        except ValueError:
            epoch = None
        rest = match.group(3)
    else:
        match = _TRADITIONAL_SYSLOG.match(line)
        if not match or match.group(1) not in _MONTHS:
            return None
        month, day, hour, minute, second = (_MONTHS[match.group(1)], int(match.group(2)), int(match.group(3)),
                                            int(match.group(4)), int(match.group(5)))
        if hour > 23 or minute > 59 or second > 60:
            return None
        epoch = _syslog_year(month, day, hour, minute, min(second, 59), now, utc_offset)
        rest = match.group(7)
    if epoch is None or not rest.startswith(_KERNEL_TAG):
        return None
    return epoch, rest[len(_KERNEL_TAG):]


def _reverse_lines(handle, block=65536, longest=MAX_LINE * 4):
    """Lines of a binary file from the last to the first; a line longer than ``longest`` comes as b"".

    Memory stays bounded by ``block + longest`` whatever the file holds.
    """
    handle.seek(0, os.SEEK_END)
    position = handle.tell()
    pending, overlong = b"", False
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        pending = handle.read(step) + pending
        parts = pending.split(b"\n")
        pending = parts[0]
        for index in range(len(parts) - 1, 0, -1):
            if overlong and index == len(parts) - 1:  # the start of a line whose end was dropped
                overlong = False
                yield b""
                continue
            yield parts[index] if len(parts[index]) <= longest else b""
        if len(pending) > longest:
            pending, overlong = b"", True
    if overlong:
        yield b""
    elif pending:
        yield pending


def kern_log_has_kernel_messages(paths=KERN_LOG_PATHS, now=None):
    now = time.time() if now is None else now
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                for count, raw in enumerate(_reverse_lines(handle)):
                    if parse_syslog_line(raw, now) is not None:
                        return True
                    if count >= 100:
                        break
        except (IOError, OSError):
            continue
    return False


def read_kern_log(since, max_lines=DEFAULT_MAX_LINES, paths=KERN_LOG_PATHS, now=None, utc_offset=None):
    """Events of ``kern.log`` and ``kern.log.1`` since ``since``, read from their ends backwards.

    Reading stops at the first line older than ``since`` (less ``SYSLOG_SLACK``) or after
    ``max_lines`` lines of the window, so a big log costs no more than the window it holds.
    """
    now = time.time() if now is None else now
    found, lines, truncated, warnings, readable = [], 0, False, [], False
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                readable = True
                for raw in _reverse_lines(handle):
                    if not raw.strip():
                        continue
                    parsed = parse_syslog_line(raw, now, utc_offset)
                    if parsed is not None and parsed[0] < since - SYSLOG_SLACK:
                        break
                    # Every other line counts against the bound, a malformed one too.
                    if lines >= max_lines:
                        truncated = True
                        break
                    lines += 1
                    if parsed is not None and parsed[0] >= since:
                        found.append(_with_time(parse_log_line(parsed[1]), parsed[0]))
                else:
                    continue  # the whole file is in the window: go on with the older one
                break
        except (IOError, OSError) as exc:
            warnings.append("%s could not be read: %s" % (path, exc))
    if not readable and not warnings:
        warnings.append("no kernel log file found (%s)" % ", ".join(paths))
    events = [event for event in reversed(found) if event is not None]
    return read_result("kern.log", events, lines, truncated, warnings)


def boot_time():
    """Wall-clock time of CLOCK_MONOTONIC zero, to turn a /dev/kmsg timestamp into a time."""
    monotonic = time.clock_gettime(time.CLOCK_MONOTONIC) if hasattr(time, "clock_gettime") else time.monotonic()
    return time.time() - monotonic


def parse_kmsg_record(record, boot):
    """``(epoch, message)`` of one ``/dev/kmsg`` record written by the kernel itself, or None.

    A record is ``prio,seq,usec,flags;message`` (continuation lines after it carry device
    metadata). Facility 0 only: the kernel stores what user space writes to /dev/kmsg as
    facility user (1), so such a line cannot pass for one of our rules'.
    """
    if isinstance(record, bytes):
        record = record.decode("utf-8", "replace")
    if not isinstance(record, type(u"")) or len(record) > MAX_LINE * 4:
        return None
    header, sep, message = record.partition(";")
    if not sep:
        return None
    parts = header.split(",")
    if len(parts) < 4 or not all(part.isdigit() and len(part) <= 20 for part in parts[:3]):
        return None
    if int(parts[0]) >> 3 != 0:
        return None
    return boot + int(parts[2]) / 1000000.0, message.split("\n", 1)[0]


def read_kmsg(since, max_lines=DEFAULT_MAX_LINES, path=KMSG_PATH, boot=None):
    """Events of the kernel ring buffer since ``since``: ``path`` read without blocking, to its end (EAGAIN)."""
    boot = boot_time() if boot is None else boot
    newest = _Newest(max_lines)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return read_result("kmsg", warnings=["%s could not be opened: %s" % (path, exc)])
    truncated = False
    try:
        for dummy in range(KMSG_MAX_RECORDS):
            try:
                record = os.read(handle, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten while we read: go on with the oldest left
                    continue
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                if exc.errno == errno.EINVAL:  # a record larger than the buffer: not one of ours
                    continue
                raise
            if not record:
                break
            parsed = parse_kmsg_record(record, boot)
            if parsed is not None and parsed[0] >= since:
                newest.add(*parsed)
        else:
            truncated = True
    except OSError as exc:
        return read_result("kmsg", warnings=["%s could not be read: %s" % (path, exc)])
    finally:
        os.close(handle)
    return read_result("kmsg", newest.events(), newest.lines, truncated or newest.truncated)


def kmsg_readable(path=KMSG_PATH):
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


def read_log(log_source, since, max_lines=DEFAULT_MAX_LINES, run=None, paths=KERN_LOG_PATHS, kmsg_path=KMSG_PATH,
             now=None):
    """Read ``log_source`` (one of ``LOG_SOURCES``); ``auto``: the first of ``AUTO_ORDER`` that holds kernel messages.

    ``run(args)`` runs journalctl and returns ``(rc, stdout, stderr)``; None when journalctl is
    not installed. A source that is missing or unreadable gives no events and a warning.
    """
    if log_source not in LOG_SOURCES:
        raise ValueError("log_source '%s' is not one of %s" % (log_source, ", ".join(LOG_SOURCES)))
    if log_source == "none":
        return read_result("none")
    if log_source == "auto":
        if run is not None:
            rc, out, dummy = run(journal_probe_command())
            if rc == 0 and journal_has_kernel_messages(out):
                log_source = "journal"
        if log_source == "auto" and kern_log_has_kernel_messages(paths, now):
            log_source = "kern.log"
        if log_source == "auto" and kmsg_readable(kmsg_path):
            log_source = "kmsg"
        if log_source == "auto":
            return read_result("none", warnings=[
                "no kernel log found: no journal with kernel messages, no kernel lines in %s, %s not readable; "
                "only the counters tell" % (" or ".join(paths), kmsg_path)])
    if log_source == "journal":
        if run is None:
            return read_result("journal", warnings=["journalctl is not installed: no journal to read"])
        rc, out, err = run(journal_command(since, max_lines))
        if rc != 0:
            return read_result("journal", warnings=["journalctl failed (rc=%d): %s" % (rc, (err or out).strip()[:500])])
        return parse_journal_entries(out, since, max_lines)
    if log_source == "kern.log":
        return read_kern_log(since, max_lines, paths, now)
    return read_kmsg(since, max_lines, kmsg_path)


# --- Windows Firewall log ----------------------------------------------------------------

# Microsoft's documented field order, for a log whose header was cut off.
WINDOWS_FIELDS = ("date", "time", "action", "protocol", "src-ip", "dst-ip", "src-port", "dst-port", "size",
                  "tcpflags", "tcpsyn", "tcpack", "tcpwin", "icmptype", "icmpcode", "info", "path")
_WINDOWS_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WINDOWS_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})$")


def _windows_event(values, fields, utc_offset):
    # Windows writes every field ("-" when empty): a row of another length was cut or is not one.
    if len(values) != len(fields):
        return None
    row = dict(zip(fields, values))
    if row.get("action") != "DROP":
        return None
    protocol = (row.get("protocol") or "").lower()
    if protocol not in ("tcp", "udp"):
        return None
    date, clock = _WINDOWS_DATE.match(row.get("date", "")), _WINDOWS_TIME.match(row.get("time", ""))
    if not date or not clock:
        return None
    try:
        moment = datetime.datetime(*[int(part) for part in date.groups() + clock.groups()])
    except ValueError:
        return None
    endpoints = _endpoints(row.get("src-ip"), row.get("dst-ip"), row.get("src-port"), row.get("dst-port"))
    if endpoints is None:
        return None
    source, destination, source_port, port = endpoints
    direction = row.get("path", "")
    if direction == "SEND":  # our own outgoing packets: nobody knocking
        return None
    return {
        "time": calendar.timegm(moment.timetuple()) - utc_offset,
        "source": str(source),
        "source_port": source_port,
        "destination": str(destination),
        "protocol": protocol,
        "port": port,
        "mode": "gateway" if direction == "FORWARD" else "host",
        "in": "",
        "out": "",
        "syn": protocol == "tcp" and "S" in (row.get("tcpflags") or ""),
        "prefix": None,
    }


def parse_windows_firewall_log(text, since, max_lines=DEFAULT_MAX_LINES, utc_offset=0):
    """Events of a Windows Firewall log (``pfirewall.log``): its DROP lines since ``since``.

    Fields follow the log's own ``#Fields:`` header (Microsoft's documented order when there
    is none). The log's times are the Windows host's local time: ``utc_offset`` is that
    host's offset east of UTC, in seconds. The newest ``max_lines`` lines of the window count.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    fields = WINDOWS_FIELDS
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or len(line) > MAX_LINE:
            continue
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                named = tuple(line[len("#Fields:"):].split())
                if "date" in named and "dst-port" in named and len(named) <= 64:
                    fields = named
            continue
        rows.append((line.split(), fields))
    newest = collections.deque(maxlen=max(1, int(max_lines)))
    lines = 0
    for values, row_fields in rows:
        event = _windows_event(values, row_fields, utc_offset)
        if event is None or event["time"] < since:
            continue
        lines += 1
        newest.append(event)
    return read_result("pfirewall.log", newest, lines, lines > len(newest))


# --- the result --------------------------------------------------------------------------

def _port_label(low, high):
    return "%d" % low if low == high else "%d-%d" % (low, high)


def _address_key(text):
    parsed = ipaddress.ip_address(u"%s" % text)
    return (parsed.version, int(parsed))


def allow_entry(address):
    """The bjnp_allowed_sources entry that lets ``address`` through, or None if the role would refuse it."""
    try:
        return str(parse_network(address).network_address)
    except ValueError:
        return None


def _counter_range(counter):
    try:
        return parse_port_range(counter.get("ports"))
    except (ValueError, AttributeError):
        return None


def _in_ranges(ranges, port):
    return any(low <= port <= high for low, high in ranges)


def summarize(events, counters, ports, since, print_server_min_connections=3, log_source=None, backend=None,
              truncated=False, warnings=()):
    """The result of netsec.bjnp.attempts from the events read and the backend's counters.

    ``counters``: ``Backend.counters()`` (a list) or None when the backend cannot count;
    ``ports``: the ``[{protocol, port}]`` option (refused with ``ValueError`` naming a bad
    entry); ``since``: epoch seconds. Events outside ``ports`` or before ``since`` are left
    out. A connection is a distinct (source, source port, protocol, port): a TCP client's
    retransmitted SYNs share their source port. A source with at least
    ``print_server_min_connections`` connections to TCP 9100 or TCP 8611 (together) is a
    suspected print server, with the ``allow_entry`` the firewall role accepts.
    """
    ranges = normalize_ports(ports)
    if not isinstance(print_server_min_connections, int) or isinstance(print_server_min_connections, bool) \
            or print_server_min_connections < 1:
        raise ValueError("print_server_min_connections '%s' is not a whole number from 1" % (print_server_min_connections,))
    warnings = list(warnings)
    taken, outside = [], 0
    for event in events:
        if event is None or event.get("time") is None or event["time"] < since:
            continue
        if event["protocol"] not in ranges or not _in_ranges(ranges[event["protocol"]], event["port"]):
            if event.get("prefix") == LOG_PREFIX:
                outside += 1
            continue
        taken.append(event)
    if outside:
        warnings.append("%d logged packet(s) with the prefix %r were for ports outside the ports option "
                        "and were left out (rules from another ports setting?)" % (outside, LOG_PREFIX))

    groups = {}
    for event in taken:
        key = (event["source"], event["protocol"], event["port"], event["mode"])
        group = groups.setdefault(key, {"packets": 0, "connections": set(), "first": event["time"],
                                        "last": event["time"], "destinations": {}})
        group["packets"] += 1
        group["connections"].add(event["source_port"])
        group["first"] = min(group["first"], event["time"])
        group["last"] = max(group["last"], event["time"])
        group["destinations"][event["destination"]] = group["destinations"].get(event["destination"], 0) + 1
    sources = []
    for (address, protocol, port, mode), group in groups.items():
        destinations = sorted(group["destinations"], key=lambda item: (-group["destinations"][item],
                                                                       _address_key(item)))
        sources.append({
            "address": address, "protocol": protocol, "port": port, "packets": group["packets"],
            "connections": len(group["connections"]), "first_seen": format_time(group["first"]),
            "last_seen": format_time(group["last"]), "mode": mode,
            "destinations": destinations[:DESTINATIONS_MAX],
        })
    sources.sort(key=lambda item: (-item["packets"], _address_key(item["address"]), item["protocol"], item["port"],
                                   item["mode"]))

    counted = None
    if counters is not None:
        counted = [dict(counter) for counter in counters]
    totals = []
    for protocol in ("tcp", "udp"):
        for low, high in ranges[protocol]:
            inside = [event for event in taken if event["protocol"] == protocol and low <= event["port"] <= high]
            packets_counted = None
            if counted is not None:
                packets_counted = 0
                for counter in counted:
                    span = _counter_range(counter)
                    if counter.get("protocol") == protocol and span and low <= span[0] and span[1] <= high:
                        packets_counted += int(counter.get("packets") or 0)
            totals.append({"protocol": protocol, "port": low if low == high else _port_label(low, high),
                           "packets_logged": len(inside), "packets_counted": packets_counted,
                           "sources": len(set(event["source"] for event in inside))})
    log_limited = any(total["packets_counted"] is not None and total["packets_counted"] > total["packets_logged"]
                      for total in totals)

    if counted is not None:
        hits = sum(total["packets_counted"] for total in totals)
        if not counted:
            warnings.append("the backend's rules hold no counters: run the firewall role with "
                            "bjnp_log_attempts: true to count and log what they block")
        elif hits and not taken and log_source != "none":
            warnings.append(
                "the counters counted %d blocked packet(s) but no log line of ours was found since %s: the lines may "
                "be older than since, or this is a container or network namespace, whose log lines the kernel "
                "drops unless the host sets net.netfilter.nf_log_all_netns=1 (sysctl on the host)"
                % (hits, format_time(since)))

    suspects = {}
    for event in taken:
        if (event["protocol"], event["port"]) not in PRINT_SERVER_PORTS:
            continue
        entry = suspects.setdefault(event["source"], {"connections": set(), "ports": set()})
        entry["connections"].add((event["source_port"], event["protocol"], event["port"]))
        entry["ports"].add((event["protocol"], event["port"]))
    suspected = []
    for address, entry in suspects.items():
        if len(entry["connections"]) >= print_server_min_connections:
            suspected.append({"address": address,
                              "ports": ["%s/%d" % item for item in sorted(entry["ports"])],
                              "connections": len(entry["connections"]),
                              "allow_entry": allow_entry(address)})
    suspected.sort(key=lambda item: (-item["connections"], _address_key(item["address"])))

    return {
        "since": format_time(since),
        "log_source": log_source,
        "backend": backend,
        "counters_available": counted is not None,
        "counters": counted or [],
        "sources": sources,
        "totals": totals,
        "log_limited": log_limited,
        "suspected_print_servers": suspected,
        "truncated": bool(truncated),
        "warnings": warnings,
    }
