# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that render the Windows Firewall part of netsec.bjnp.firewall.

Documentation for ansible-doc lives in the sidecar files ``<filter name>.yml`` next to
this file. Everything here is pure: the role's tasks stay thin and the rendering is unit
tested without a Windows host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.filter.bjnp_listeners import bjnp_listeners
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    collapse_networks,
    complement_ranges,
    format_range,
    normalize_ports,
)

# A drive path (C:\...) or a UNC path (\\server\share\...).
_WINDOWS_ABSOLUTE = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")

# <UTC stamp>-windows.wfw (the netsh export) and .json (its metadata); the stamp format is the
# Linux backups' (plugins/module_utils/bjnp_backup.py), so names sort in time order. NTFS names
# are case-insensitive and win_find matches its patterns that way, so this does too.
_BACKUP_NAME = re.compile(r"^(?P<base>\d{8}T\d{6}\.\d{6}Z-windows)\.(?P<kind>wfw|json)$", re.IGNORECASE)

# The rule group: it names our rules, prefixes their display names and names the scheduled
# tasks of the confirm timer and the restore. Letters, digits, space, '.', '_' and '-' only:
# no wildcard (* ? [ ] would match other groups in the NetSecurity cmdlets), no quote, no
# leading '@' (an indirect resource string), nothing a task name refuses.
_RULE_GROUP = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9_-])?$")
_WILDCARDS = "*?[]"

# One rule's RemoteAddresses: about 1,000 entries is the limit reported for Windows Firewall,
# so longer complements are split into several rules.
MAX_REMOTE_ADDRESSES = 1000

# Characters Windows refuses in file names, and the device names that are never files
# (NUL.wfw is the NUL device), case-insensitive, with or without an extension.
_BAD_NAME_CHARS = set('<>:"|?*') | set(chr(code) for code in range(32))
_DEVICE_NAMES = set(["CON", "PRN", "AUX", "NUL"] + ["COM%d" % n for n in range(1, 10)]
                    + ["LPT%d" % n for n in range(1, 10)])

# bjnp_confirm_timeout and bjnp_windows_restore_timeout: whole seconds, at most a day.
MAX_TIMEOUT = 86400


def _ports_text(low, high):
    return str(low) if low == high else "%d-%d" % (low, high)


def rule_group_problem(group):
    """Why ``group`` cannot be bjnp_windows_rule_group, or None."""
    if not isinstance(group, str) or not group.strip():
        return "bjnp_windows_rule_group is empty: the role only ever touches the rules of its own group"
    wildcards = sorted(set(c for c in group if c in _WILDCARDS))
    if wildcards:
        return ("bjnp_windows_rule_group '%s' holds the wildcard character(s) %s: the Windows Firewall cmdlets "
                "would take it as a pattern and match the rules of other groups" % (group, " ".join(wildcards)))
    if not _RULE_GROUP.match(group):
        return ("bjnp_windows_rule_group '%s' is refused: use 1 to 64 letters, digits, spaces, '.', '_' and '-', "
                "starting with a letter or digit and not ending with a space or '.'" % group)
    return None


def _name_problem(name):
    """Why ``name`` cannot be one component of a Windows path, or None."""
    if name in (".", ".."):
        return "'%s' is a relative path component" % name
    bad = sorted(set(c for c in name if c in _BAD_NAME_CHARS))
    if bad:
        return "'%s' holds %s, which a Windows file name cannot" % (
            name, " ".join(repr(c) if ord(c) >= 32 else "\\x%02x" % ord(c) for c in bad))
    if name != name.rstrip(" ."):
        return "'%s' ends with a space or '.', which Windows drops" % name
    if name.split(".")[0].rstrip(" ").upper() in _DEVICE_NAMES:
        return "'%s' is a Windows device name, not a file" % name
    return None


def windows_path_problem(path):
    """Why ``path`` is not a plain absolute Windows path (C:\\dir\\file, \\\\server\\share\\file), or None."""
    text = to_native(path)
    if not _WINDOWS_ABSOLUTE.match(text):
        return "'%s' is not an absolute Windows path (C:\\... or \\\\server\\share\\...)" % text
    if text.startswith("\\\\"):
        # \\?\ and \\.\ reach devices and bypass path normalisation.
        parts = text[2:].replace("/", "\\").split("\\")
        if parts[0] in ("?", ".") or len(parts) < 2 or not parts[0] or not parts[1]:
            return "'%s' is not a \\\\server\\share\\... path" % text
    else:
        parts = text[3:].replace("/", "\\").split("\\")
    parts = [part for part in parts if part]
    for part in parts:
        problem = _name_problem(part)
        if problem:
            return "'%s': %s" % (text, problem)
    return None


def bjnp_windows_remote_ranges(allowed_sources):
    """Remote addresses a block rule needs so that only ``allowed_sources`` get through.

    Windows Firewall applies block rules before allow rules, so an allow rule cannot open a
    hole in a block rule: the block rule itself has to leave the allowed sources out.
    Returns ``["any"]`` for an empty allow-list, ``[]`` when both address families are
    allowed entirely (nothing to block: the rule must not exist), otherwise the
    complement per family as single addresses and ``first-last`` ranges, IPv4 first.
    """
    try:
        networks = collapse_networks(allowed_sources)
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_windows_remote_ranges: %s" % to_native(exc))
    if not networks[4] and not networks[6]:
        return ["any"]
    return [format_range(first, last)
            for family in (4, 6)
            for first, last in complement_ranges(networks[family], family)]


def bjnp_windows_rules(ports, allowed_sources=None, group="netsec.bjnp", max_addresses=MAX_REMOTE_ADDRESSES):
    """Render the inbound block rules for ``bjnp_ports`` as win_firewall_rule arguments.

    One rule per protocol and merged port range, named ``<group> block <protocol> <ports>``
    so names are unique and stable. A remote address list longer than ``max_addresses`` is
    split over several rules; the first keeps that name, the next ones add `` part 2``,
    `` part 3``... When every source is allowed, each rule comes back with ``state: absent``:
    a block rule with an empty remote address list would block everything.
    """
    problem = rule_group_problem(group)
    if problem:
        raise AnsibleFilterError("bjnp_windows_rules: %s" % problem)
    try:
        max_addresses = int(max_addresses)
    except (TypeError, ValueError):
        raise AnsibleFilterError("bjnp_windows_rules: max_addresses %r is not a number" % (max_addresses,))
    if max_addresses < 1:
        raise AnsibleFilterError("bjnp_windows_rules: max_addresses must be at least 1, got %d" % max_addresses)
    try:
        merged = normalize_ports(ports)
    except (ValueError, AttributeError) as exc:
        raise AnsibleFilterError("bjnp_windows_rules: bad bjnp_ports entry: %s" % to_native(exc))
    remote = bjnp_windows_remote_ranges(allowed_sources)
    chunks = [remote[start:start + max_addresses] for start in range(0, len(remote), max_addresses)] or [[]]
    rules = []
    for protocol in ("tcp", "udp"):
        for low, high in merged[protocol]:
            localport = _ports_text(low, high)
            name = "%s block %s %s" % (group, protocol, localport)
            for number, chunk in enumerate(chunks, 1):
                rules.append({
                    "name": name if number == 1 else "%s part %d" % (name, number),
                    "protocol": protocol,
                    "localport": localport,
                    "remoteip": ",".join(chunk) if chunk else "any",
                    "state": "present" if chunk else "absent",
                })
    return rules


def _timeout_problem(name, value, minimum=0):
    text = to_native(value).strip()
    if isinstance(value, bool) or not re.match(r"^-?[0-9]+$", text):
        return "%s %r is not a whole number of seconds" % (name, value)
    if not minimum <= int(text) <= MAX_TIMEOUT:
        return "%s %s must be %d to %d seconds" % (name, text, minimum, MAX_TIMEOUT)
    return None


def bjnp_windows_input(values):
    """The Windows-only options, checked on the controller before the host is touched.

    ``values``: ``mode`` (the checked bjnp_mode list; omit it for a roll-back),
    ``rule_group``, ``backup_dir``, ``confirm_timeout``, ``restore_timeout``. Returns
    ``{"problems": [messages]}``; each message names the value.
    """
    if not isinstance(values, dict):
        raise AnsibleFilterError("bjnp_windows_input expects a dict of the role's options, not %r" % (values,))
    problems = []
    mode = values.get("mode")
    if mode is not None and "gateway" in mode:
        problems.append("bjnp_mode %s: gateway mode (forwarded traffic) is Linux only; Windows hosts take "
                        "bjnp_mode [host]" % ", ".join(to_native(item) for item in mode))
    problem = rule_group_problem(values.get("rule_group"))
    if problem:
        problems.append(problem)
    backup_dir = values.get("backup_dir")
    if not isinstance(backup_dir, str) or not backup_dir.strip():
        problems.append("bjnp_windows_backup_dir is empty")
    else:
        problem = windows_path_problem(backup_dir.rstrip("\\/"))
        if problem:
            problems.append("bjnp_windows_backup_dir %s" % problem)
    # 0 turns the confirm timer off; a restore needs time for netsh and a new connection.
    for key, name, minimum in (("confirm_timeout", "bjnp_confirm_timeout", 0),
                               ("restore_timeout", "bjnp_windows_restore_timeout", 30)):
        if key in values:
            problem = _timeout_problem(name, values[key], minimum)
            if problem:
                problems.append(problem)
    return {"problems": problems}


def bjnp_windows_backup_path(name, backup_dir):
    """Resolve ``bjnp_rollback_from``: an absolute Windows path as given, else a file in ``backup_dir``.

    Either way the file must end in ``.wfw`` (any case) and be a plain file name: no
    drive-relative ``C:x.wfw`` (it would name an alternate data stream once joined to the
    directory), no wildcard, no device name, no ``..``.
    """
    text = to_native(name).strip()
    if not text:
        raise AnsibleFilterError("bjnp_windows_backup_path: empty backup name")
    if _WINDOWS_ABSOLUTE.match(text):
        problem = windows_path_problem(text)
        path = text
    elif "\\" in text or "/" in text:
        raise AnsibleFilterError(
            "bjnp_windows_backup_path: '%s' is neither a file name in %s nor an absolute path"
            % (text, backup_dir))
    else:
        problem = _name_problem(text)
        if problem and ":" in text:
            problem = "'%s' is drive-relative or names a data stream; give a file name or C:\\...\\file.wfw" % text
        path = "%s\\%s" % (to_native(backup_dir).rstrip("\\/"), text)
    if problem:
        raise AnsibleFilterError("bjnp_windows_backup_path: %s" % problem)
    if not text.lower().endswith(".wfw"):
        raise AnsibleFilterError("bjnp_windows_backup_path: '%s' is not a netsh export (*.wfw)" % text)
    return path


def bjnp_windows_backups(names, keep=None):
    """Sort a backup directory listing into generations; pick the newest and what to prune.

    A generation is complete once both its ``.wfw`` export and ``.json`` metadata exist; only
    complete ones are restored or counted towards ``keep``. Names are matched in any case, as
    NTFS does, and returned as listed, without their directory. Incomplete generations are
    pruned too, unless newer than the newest complete one (a backup in progress).
    """
    found = {}
    for name in names or []:
        base_name = to_native(name).replace("/", "\\").rsplit("\\", 1)[-1]
        match = _BACKUP_NAME.match(base_name)
        if match:
            key = match.group("base").upper()
            found.setdefault(key, {})[match.group("kind").lower()] = base_name
    complete = sorted(key for key, kinds in found.items() if set(kinds) == {"wfw", "json"})
    prune = []
    if keep is not None:
        keep = int(keep)
        if keep < 1:
            raise AnsibleFilterError("bjnp_windows_backups: keep must be at least 1, got %d" % keep)
        kept = complete[-keep:]
        for key in sorted(found):
            if key in kept or (kept and key > kept[-1]):
                continue
            prune.extend(found[key][kind] for kind in sorted(found[key]))
    return {
        "generations": [found[key]["wfw"][:-len(".wfw")] for key in complete],
        "newest": found[complete[-1]]["wfw"] if complete else "",
        "prune": prune,
    }


def _rule_lines(rules):
    lines = []
    for rule in rules or []:
        remote = sorted(part for part in to_native(rule.get("remoteip", "")).split(",") if part)
        lines.append("%s: %s %s from %s\n" % (rule.get("name"), rule.get("protocol"), rule.get("localport"),
                                              ",".join(remote) or "any"))
    return "".join(sorted(lines))


def bjnp_windows_diff(before, after, group):
    """The change to our group as firewall_rules' ``diff``: one before/after text, a line per rule.

    ``before``: the group's rules as the host reports them (the ``rules`` of the state read);
    ``after``: the rendered rules that will be present. Lines are sorted, and so are the remote
    addresses within a line, so only real differences show (a change of a property the line does
    not show, the description for example, leaves both texts equal).
    """
    header = "Windows Firewall group %s" % group
    return [{"before_header": header, "after_header": header, "before": _rule_lines(before), "after": _rule_lines(after)}]


def bjnp_windows_listeners(tcp_listen, udp_listen, ports):
    """The name 0.1.0 gave netsec.bjnp.bjnp_listeners, which both listener task files now use."""
    return bjnp_listeners(tcp_listen, udp_listen, ports)


# --- dropped-packet logging (bjnp_log_attempts) ---------------------------------------------

# The profiles our rules apply to (windows_rules.yml: domain, private, public).
WINDOWS_PROFILES = ("Domain", "Private", "Public")
# Set-NetFirewallProfile -LogBlocked takes a GpoBoolean.
_GPO_BOOLEANS = ("True", "False", "NotConfigured")
# The only setting the role changes; LogFileName and LogMaxSizeKilobytes are recorded, never set.
_LOGGED_SETTING = "LogBlocked"
_RECORD_FORMAT = 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _logging_values(entry, where):
    """One profile's logging settings as read from the host (strings), checked; raises naming the value."""
    if not isinstance(entry, dict):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: profile entry %r is not a mapping" % (where, entry))
    name = entry.get("name")
    if name not in WINDOWS_PROFILES:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: profile %r is not one of %s"
                                 % (where, name, ", ".join(WINDOWS_PROFILES)))
    blocked = entry.get("LogBlocked")
    if blocked not in _GPO_BOOLEANS:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: LogBlocked %r of profile %s is not one of %s"
                                 % (where, blocked, name, ", ".join(_GPO_BOOLEANS)))
    file_name = entry.get("LogFileName")
    if not isinstance(file_name, str) or len(file_name) > 1024 or _CONTROL.search(file_name):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: LogFileName %r of profile %s is not a plain path"
                                 % (where, file_name, name))
    size = to_native(entry.get("LogMaxSizeKilobytes"))
    if not (size == "NotConfigured" or re.match(r"^[0-9]{1,10}$", size)):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: LogMaxSizeKilobytes %r of profile %s is not a number"
                                 % (where, entry.get("LogMaxSizeKilobytes"), name))
    return {"name": name, "LogBlocked": blocked, "LogFileName": to_native(file_name), "LogMaxSizeKilobytes": size}


def _profiles(entries, where):
    if not isinstance(entries, list):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: the profiles are not a list: %r" % (where, entries))
    found = dict((item["name"], item) for item in (_logging_values(entry, where) for entry in entries))
    if len(found) != len(entries):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: a profile is listed twice" % where)
    return [found[name] for name in WINDOWS_PROFILES if name in found]


def _changes(entries, where):
    """Logging changes ``{profile, setting, before, after}``, checked: LogBlocked of our profiles only."""
    if not isinstance(entries, list):
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s: changed is not a list: %r" % (where, entries))
    checked, seen = [], set()
    for entry in entries:
        if not isinstance(entry, dict) or sorted(entry) != ["after", "before", "profile", "setting"]:
            raise AnsibleFilterError("bjnp_windows_logging_plan: %s: change %r is not {profile, setting, before, after}"
                                     % (where, entry))
        if entry["profile"] not in WINDOWS_PROFILES or entry["setting"] != _LOGGED_SETTING:
            raise AnsibleFilterError("bjnp_windows_logging_plan: %s: change %r is not one the role makes "
                                     "(LogBlocked of %s)" % (where, entry, ", ".join(WINDOWS_PROFILES)))
        for key in ("before", "after"):
            if entry[key] not in _GPO_BOOLEANS:
                raise AnsibleFilterError("bjnp_windows_logging_plan: %s: %s %r of profile %s is not one of %s"
                                         % (where, key, entry[key], entry["profile"], ", ".join(_GPO_BOOLEANS)))
        if entry["profile"] in seen:
            raise AnsibleFilterError("bjnp_windows_logging_plan: %s: profile %s is changed twice"
                                     % (where, entry["profile"]))
        seen.add(entry["profile"])
        checked.append(dict((key, to_native(entry[key])) for key in ("profile", "setting", "before", "after")))
    return checked


def _record(data, where, group):
    """The record of what the role changed (a mapping, or None), checked; raises naming what is wrong."""
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("format") != _RECORD_FORMAT or sorted(data) != [
            "changed", "format", "group", "profiles"]:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s is not a logging record of netsec.bjnp (format %d: "
                                 "format, group, profiles, changed): %r. Nothing was changed; move it away if it is "
                                 "not the role's" % (where, _RECORD_FORMAT, data))
    if data["group"] != group:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s belongs to rule group %r, not %r"
                                 % (where, data["group"], group))
    return {"format": _RECORD_FORMAT, "group": group, "profiles": _profiles(data["profiles"], where),
            "changed": _changes(data["changed"], where)}


def _record_text(text, where, group):
    if text is None:
        return None
    try:
        data = json.loads(to_native(text))
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s is not JSON (%s): refusing to guess what to put back. "
                                 "Nothing was changed" % (where, exc))
    return _record(data, where, group)


def _live(profiles):
    return dict((item["name"], item[_LOGGED_SETTING]) for item in profiles)


def bjnp_windows_logging_plan(raw, group, action, backup=None, record_path="the logging record"):
    """Plan a change of the profiles' dropped-packet logging from what script ``logging_state`` read.

    ``raw``: that script's output (JSON text or its mapping: ``profiles`` and ``effective``, each
    ``[{name, LogBlocked, LogFileName, LogMaxSizeKilobytes}]``, and ``record``, the text of our
    record file or null). ``action``:

    - ``enable``: LogBlocked True in every profile of ``WINDOWS_PROFILES`` where it is not; the
      record gains each change with the value it replaces (changes already recorded keep their
      first value), so what the role found is what it puts back.
    - ``undo``: every recorded change put back where the live value differs; no record is left.
    - ``import``: after a whole-policy import. ``backup`` is the ``logging`` of the imported
      backup's metadata (``changed``: what that run changed, ``record``: the record then) or
      None (or '') for a backup without one. That run's changes are put back explicitly (whatever netsh
      restored), and the record kept is the backup's (else the current one) less the changes
      whose live value is back to the recorded one.

    Returns ``profiles``, ``effective`` (checked), ``record`` (now, or None), ``changes``
    (``{profile, setting, before, after}``), ``record_after`` (None: delete),
    ``record_changed``, ``effective_off`` (profiles whose effective LogBlocked is not True) and
    ``diff`` (one entry when something changes). Anything malformed is refused, naming it.
    """
    if action not in ("enable", "undo", "import"):
        raise AnsibleFilterError("bjnp_windows_logging_plan: action %r is not enable, undo or import" % (action,))
    problem = rule_group_problem(group)
    if problem:
        raise AnsibleFilterError("bjnp_windows_logging_plan: %s" % problem)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise AnsibleFilterError("bjnp_windows_logging_plan: the logging state read from the host is not JSON: %s"
                                     % exc)
    if not isinstance(raw, dict):
        raise AnsibleFilterError("bjnp_windows_logging_plan: the logging state %r is not a mapping" % (raw,))
    profiles = _profiles(raw.get("profiles"), "the local store")
    effective = _profiles(raw.get("effective"), "the effective policy")
    missing = [name for name in WINDOWS_PROFILES if name not in _live(profiles)]
    if missing:
        raise AnsibleFilterError("bjnp_windows_logging_plan: the host reported no firewall profile %s"
                                 % ", ".join(missing))
    record = _record_text(raw.get("record"), record_path, group)
    live = _live(profiles)
    if action == "enable":
        changes = [{"profile": name, "setting": _LOGGED_SETTING, "before": live[name], "after": "True"}
                   for name in WINDOWS_PROFILES if live[name] != "True"]
        after = record or {"format": _RECORD_FORMAT, "group": group, "profiles": profiles, "changed": []}
        recorded = set(change["profile"] for change in after["changed"])
        after = dict(after, changed=after["changed"] + [c for c in changes if c["profile"] not in recorded])
        after = after if after["changed"] else record
    elif action == "undo":
        changes = [{"profile": c["profile"], "setting": c["setting"], "before": live[c["profile"]], "after": c["before"]}
                   for c in (record or {"changed": []})["changed"] if live[c["profile"]] != c["before"]]
        after = None
    else:
        # '': a none from the role's templates on ansible-core before 2.19, which render it so.
        if backup is None or backup == "":
            ran, kept = [], record
        else:
            if not isinstance(backup, dict) or sorted(backup) != ["changed", "profiles", "record"]:
                raise AnsibleFilterError("bjnp_windows_logging_plan: the backup's logging metadata %r is not "
                                         "{profiles, changed, record}" % (backup,))
            ran = _changes(backup["changed"], "the backup's logging metadata")
            kept = _record(backup["record"], "the record in the backup's metadata", group)
        changes = [{"profile": c["profile"], "setting": c["setting"], "before": live[c["profile"]], "after": c["before"]}
                   for c in ran if live[c["profile"]] != c["before"]]
        now = dict(live, **dict((c["profile"], c["after"]) for c in changes))
        after = None
        if kept is not None:
            left = [c for c in kept["changed"] if now[c["profile"]] != c["before"]]
            after = dict(kept, changed=left) if left else None
    lines = dict((key, "".join("%s %s: %s\n" % (c["profile"], c["setting"], c[key]) for c in changes))
                 for key in ("before", "after"))
    header = "Windows Firewall profile logging (dropped packets)"
    return {
        "profiles": profiles,
        "effective": effective,
        "record": record,
        "changes": changes,
        "record_after": after,
        "record_changed": after != record,
        "effective_off": [item["name"] for item in effective if item[_LOGGED_SETTING] != "True"],
        "diff": [{"before_header": header, "after_header": header, "before": lines["before"],
                  "after": lines["after"]}] if changes else [],
    }


class FilterModule(object):
    """netsec.bjnp Windows Firewall filters."""

    def filters(self):
        return {
            "bjnp_windows_remote_ranges": bjnp_windows_remote_ranges,
            "bjnp_windows_rules": bjnp_windows_rules,
            "bjnp_windows_input": bjnp_windows_input,
            "bjnp_windows_diff": bjnp_windows_diff,
            "bjnp_windows_backup_path": bjnp_windows_backup_path,
            "bjnp_windows_backups": bjnp_windows_backups,
            "bjnp_windows_listeners": bjnp_windows_listeners,
            "bjnp_windows_logging_plan": bjnp_windows_logging_plan,
        }
