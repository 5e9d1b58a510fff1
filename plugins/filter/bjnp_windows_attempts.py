# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows collector of netsec.bjnp.firewall (tasks_from: attempts_windows), on the controller.

The host sends the end of its Windows Firewall log files (script ``attempts_read`` of
bjnp_windows_scripts.py); these filters check the collector's variables before the host is
contacted and turn what the host sent into the result of netsec.bjnp.attempts, with the pure
parser and summary of plugins/module_utils/bjnp_attempts.py. Documentation for ansible-doc
lives in the sidecar files ``<filter name>.yml`` next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import calendar
import datetime
import json
import re
import time

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import normalize_ports
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_attempts import (
    format_time,
    parse_since,
    parse_windows_firewall_log,
    summarize,
)

LOG_SOURCE = "windows-firewall-log"
# KiB of log read at most: a log file holds at most 32767 KiB (Set-NetFirewallProfile
# -LogMaxSizeKilobytes), and the current file and its .old are read.
MAX_KB = 2 * 32767
# UTC offsets run from -12:00 to +14:00.
_MAX_OFFSET_MINUTES = 14 * 60
_PROFILES = ("Domain", "Private", "Public")
_ROW_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (\S+)")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def bjnp_windows_attempts_input(values, now=None):
    """The collector's variables, checked on the controller before the host is contacted.

    ``values``: ``since`` (bjnp_monitor_since), ``print_server_min_connections``, ``max_kb``
    (bjnp_windows_attempts_max_kb) and ``ports`` (bjnp_ports). Returns ``{"problems":
    [messages naming the value], "since": epoch seconds or None, "max_bytes": N}``.
    """
    if not isinstance(values, dict):
        raise AnsibleFilterError("bjnp_windows_attempts_input expects a dict of the collector's variables, not %r"
                                 % (values,))
    problems, since = [], None
    try:
        since = parse_since(values.get("since"), time.time() if now is None else now)
    except ValueError as exc:
        problems.append("bjnp_monitor_%s" % exc)
    minimum = values.get("print_server_min_connections")
    if not _whole(minimum) or minimum < 1:
        problems.append("bjnp_print_server_min_connections %r is not a whole number from 1" % (minimum,))
    max_kb = values.get("max_kb")
    if not _whole(max_kb) or not 1 <= max_kb <= MAX_KB:
        problems.append("bjnp_windows_attempts_max_kb %r is not a whole number from 1 to %d" % (max_kb, MAX_KB))
    try:
        normalize_ports(values.get("ports"))
    except (ValueError, AttributeError, TypeError) as exc:
        problems.append("bjnp_ports: %s" % to_native(exc))
    return {"problems": problems, "since": since, "max_bytes": max_kb * 1024 if not problems else 0}


def _refuse(message):
    raise AnsibleFilterError("bjnp_windows_attempts: what the host sent %s; nothing was summed up" % message)


def _checked(raw):
    """What script attempts_read sent, checked field by field (it comes from the host)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            _refuse("is not JSON (%s)" % exc)
    if not isinstance(raw, dict):
        _refuse("is not a mapping: %r" % (raw,))
    for key in ("offset_now", "offset_since"):
        value = raw.get(key)
        if not _whole(value) or abs(value) > _MAX_OFFSET_MINUTES:
            _refuse("has %s %r, not a UTC offset in minutes" % (key, value))
    if not _whole(raw.get("now")):
        _refuse("has now %r, not epoch seconds" % (raw.get("now"),))
    profiles = raw.get("profiles")
    if not isinstance(profiles, list) or not all(
            isinstance(item, dict) and item.get("name") in _PROFILES and isinstance(item.get("LogBlocked"), str)
            and isinstance(item.get("LogFileName"), str) for item in profiles):
        _refuse("has profiles %r, not [{name, LogBlocked, LogFileName}] of Domain, Private, Public" % (profiles,))
    files = raw.get("files")
    if not isinstance(files, list):
        _refuse("has files %r, not a list" % (files,))
    checked = []
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) \
                or not all(_whole(entry.get(key)) and entry[key] >= 0 for key in ("size", "offset")) \
                or entry["offset"] > entry["size"] \
                or not all(isinstance(entry.get(key), bool) for key in ("exists", "rotated")) \
                or not all(isinstance(entry.get(key), str) for key in ("head", "data", "error")):
            _refuse("has a file entry %r, not {path, rotated, exists, size, offset, head, data, error}" % (entry,))
        try:
            head = base64.b64decode(entry["head"], validate=True)
            data = base64.b64decode(entry["data"], validate=True)
        except (TypeError, ValueError, binascii.Error) as exc:
            _refuse("has a file entry for %s whose content is not base64 (%s)" % (entry["path"], exc))
        checked.append(dict(entry, head=head.decode("utf-8", "replace"), data=data.decode("utf-8", "replace")))
    return raw, checked


def _text(entry):
    """The log text of one file read, whole lines only, with its header when read from inside."""
    data = entry["data"]
    if entry["offset"] == 0:
        return data
    # Read from inside: the first line is cut, and the #Fields: header is at the file's start.
    data = data.split("\n", 1)[1] if "\n" in data else ""
    header = "".join(line + "\n" for line in entry["head"].splitlines() if line.startswith("#"))
    return header + data


def _row_time(line, offset):
    match = _ROW_TIME.match(line)
    if not match:
        return None, None
    try:
        moment = datetime.datetime(*[int(part) for part in match.groups()[:6]])
    except ValueError:
        return None, None
    return calendar.timegm(moment.timetuple()) - offset, match.group(7)


def _first_time(text, offset):
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return _row_time(line, offset)[0]
    return None


def bjnp_windows_attempts(raw, ports, since, print_server_min_connections=3):
    """The netsec.bjnp.attempts result of a Windows host from what script ``attempts_read`` sent.

    ``since``: epoch seconds (from bjnp_windows_attempts_input). The log's local times are
    converted with the host's UTC offset now (a different offset at ``since``, a daylight saving
    change in the window, is a warning). ``truncated``: the window reaches further back than
    what was read (the read started inside a file, or the rotated ``.old`` was not read whole,
    and the oldest line read is younger than ``since``), or more events than the parser keeps.
    ``log_limited``: Windows Firewall wrote ``INFO-EVENTS-LOST`` in the window (it dropped more
    than it logged). No counters: Windows Firewall rules count nothing.
    """
    data, files = _checked(raw)
    offset = data["offset_now"] * 60
    warnings = []
    off = [item["name"] for item in data["profiles"] if item["LogBlocked"] != "True"]
    if len(off) == len(data["profiles"]):
        warnings.append("no profile logs dropped packets (LogBlocked is not True in the effective policy of %s): "
                        "nothing can be read; run netsec.bjnp.firewall with bjnp_log_attempts: true"
                        % (", ".join(off) or "any profile"))
    elif off:
        warnings.append("profile(s) %s do not log dropped packets (LogBlocked is not True in the effective policy): "
                        "attempts there are not seen" % ", ".join(off))
    if data["offset_since"] != data["offset_now"]:
        warnings.append("the host's UTC offset changed within the window (%+d min at since, %+d min now, daylight "
                        "saving time?): lines logged before the change are off by %d min"
                        % (data["offset_since"], data["offset_now"], abs(data["offset_now"] - data["offset_since"])))
    events, truncated, window_cut, lost = [], False, False, 0
    chains = {}
    for entry in files:
        if entry["error"]:
            warnings.append("%s could not be read: %s" % (entry["path"], entry["error"]))
            continue
        if not entry["exists"]:
            if not entry["rotated"]:
                warnings.append("%s does not exist: nothing dropped has been logged there yet" % entry["path"])
            continue
        text = _text(entry)
        parsed = parse_windows_firewall_log(text, since, utc_offset=offset)
        events.extend(parsed["events"])
        truncated = truncated or parsed["truncated"]
        for line in text.splitlines():
            moment, action = _row_time(line, offset)
            if action == "INFO-EVENTS-LOST" and moment >= since:
                lost += 1
        base = entry["path"][:-len(".old")] if entry["rotated"] else entry["path"]
        chains.setdefault(base, []).append((entry, text))
    # Newest first: the current file, then its .old while the budget lasted. What was read is cut
    # when it starts inside a file or leaves the .old out; then the window may reach further back.
    for parts in chains.values():
        current = [(entry, text) for entry, text in parts if not entry["rotated"]]
        old = [(entry, text) for entry, text in parts if entry["rotated"]]
        oldest, cut = current[0] if current else old[0], False
        if oldest[0]["offset"] > 0:
            cut = True
        elif old and old[0][0]["size"] > 0:
            if old[0][0]["offset"] < old[0][0]["size"]:
                oldest = old[0]
            cut = old[0][0]["offset"] > 0
        if cut:
            first = _first_time(oldest[1], offset)
            if first is None or first >= since:
                window_cut = True
    if truncated:
        warnings.append("more events in the window than the parser keeps: only the newest are counted")
    if window_cut:
        truncated = True
        warnings.append("the window reaches back further than what was read of the log (at most "
                        "bjnp_windows_attempts_max_kb KiB, the newest): older attempts since %s are not counted"
                        % format_time(since))
    if lost:
        warnings.append("Windows Firewall lost %d log event(s) in the window (INFO-EVENTS-LOST): more packets were "
                        "dropped than logged" % lost)
    events.sort(key=lambda event: event["time"])
    try:
        result = summarize(events, None, ports, since, print_server_min_connections, log_source=LOG_SOURCE,
                           backend="windows", truncated=truncated, warnings=warnings)
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_windows_attempts: %s" % exc)
    result["log_limited"] = result["log_limited"] or lost > 0
    return result


class FilterModule(object):
    """netsec.bjnp Windows collector filters."""

    def filters(self):
        return {
            "bjnp_windows_attempts_input": bjnp_windows_attempts_input,
            "bjnp_windows_attempts": bjnp_windows_attempts,
        }
