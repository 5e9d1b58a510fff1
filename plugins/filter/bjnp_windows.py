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

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    collapse_networks,
    complement_ranges,
    format_range,
    normalize_ports,
)

# A drive path (C:\...) or a UNC path (\\server\share\...).
_WINDOWS_ABSOLUTE = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")

# <UTC stamp>-windows.wfw (the netsh export) and .json (its metadata); the stamp format is the
# Linux backups' (plugins/module_utils/bjnp_backup.py), so names sort in time order.
_BACKUP_NAME = re.compile(r"^(?P<base>\d{8}T\d{6}\.\d{6}Z-windows)\.(?P<kind>wfw|json)$")


def _ports_text(low, high):
    return str(low) if low == high else "%d-%d" % (low, high)


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


def bjnp_windows_rules(ports, allowed_sources=None, group="netsec.bjnp"):
    """Render the inbound block rules for ``bjnp_ports`` as win_firewall_rule arguments.

    One rule per protocol and merged port range, named ``<group> block <protocol> <ports>``
    so names are unique and stable. When every source is allowed, each rule comes back with
    ``state: absent``: a block rule with an empty remote address list would block everything.
    """
    try:
        merged = normalize_ports(ports)
    except (ValueError, AttributeError) as exc:
        raise AnsibleFilterError("bjnp_windows_rules: bad bjnp_ports entry: %s" % to_native(exc))
    remote = bjnp_windows_remote_ranges(allowed_sources)
    rules = []
    for protocol in ("tcp", "udp"):
        for low, high in merged[protocol]:
            localport = _ports_text(low, high)
            rules.append({
                "name": "%s block %s %s" % (group, protocol, localport),
                "protocol": protocol,
                "localport": localport,
                "remoteip": ",".join(remote) if remote else "any",
                "state": "present" if remote else "absent",
            })
    return rules


def bjnp_windows_backup_path(name, backup_dir):
    """Resolve ``bjnp_rollback_from``: an absolute Windows path as given, else a file in ``backup_dir``."""
    text = to_native(name).strip()
    if not text:
        raise AnsibleFilterError("bjnp_windows_backup_path: empty backup name")
    if _WINDOWS_ABSOLUTE.match(text):
        return text
    if "\\" in text or "/" in text:
        raise AnsibleFilterError(
            "bjnp_windows_backup_path: '%s' is neither a file name in %s nor an absolute path"
            % (text, backup_dir))
    return "%s\\%s" % (to_native(backup_dir).rstrip("\\/"), text)


def bjnp_windows_backups(names, keep=None):
    """Sort a backup directory listing into generations; pick the newest and what to prune.

    A generation is complete once both its ``.wfw`` export and ``.json`` metadata exist; only
    complete ones are restored or counted towards ``keep``. Names are returned without their
    directory. Incomplete generations are pruned too, unless newer than the newest complete
    one (a backup in progress).
    """
    found = {}
    for name in names or []:
        match = _BACKUP_NAME.match(to_native(name).replace("/", "\\").rsplit("\\", 1)[-1])
        if match:
            found.setdefault(match.group("base"), set()).add(match.group("kind"))
    complete = sorted(base for base, kinds in found.items() if kinds == {"wfw", "json"})
    prune = []
    if keep is not None:
        keep = int(keep)
        if keep < 1:
            raise AnsibleFilterError("bjnp_windows_backups: keep must be at least 1, got %d" % keep)
        kept = complete[-keep:]
        for base in sorted(found):
            if base in kept or (kept and base > kept[-1]):
                continue
            prune.extend("%s.%s" % (base, kind) for kind in sorted(found[base]))
    return {
        "generations": complete,
        "newest": "%s.wfw" % complete[-1] if complete else "",
        "prune": prune,
    }


def bjnp_windows_listeners(tcp_listen, udp_listen, ports):
    """Keep the listen_ports_facts entries on ``bjnp_ports``, as ``bjnp_listeners`` items.

    Works on ansible.windows.win_listen_ports_facts output (and the same schema from
    community.general.listen_ports_facts). Sorted by protocol, port and address.
    """
    try:
        merged = normalize_ports(ports)
    except (ValueError, AttributeError) as exc:
        raise AnsibleFilterError("bjnp_windows_listeners: bad bjnp_ports entry: %s" % to_native(exc))
    found = []
    for protocol, entries in (("tcp", tcp_listen or []), ("udp", udp_listen or [])):
        for entry in entries:
            try:
                port = int(entry.get("port"))
            except (TypeError, ValueError):
                continue
            if not any(low <= port <= high for low, high in merged[protocol]):
                continue
            found.append({
                "port": port,
                "protocol": protocol,
                "address": to_native(entry.get("address", "")),
                "process": to_native(entry["name"]) if entry.get("name") else None,
                "pid": entry.get("pid"),
            })
    return sorted(found, key=lambda item: (item["protocol"], item["port"], item["address"]))


class FilterModule(object):
    """netsec.bjnp Windows Firewall filters."""

    def filters(self):
        return {
            "bjnp_windows_remote_ranges": bjnp_windows_remote_ranges,
            "bjnp_windows_rules": bjnp_windows_rules,
            "bjnp_windows_backup_path": bjnp_windows_backup_path,
            "bjnp_windows_backups": bjnp_windows_backups,
            "bjnp_windows_listeners": bjnp_windows_listeners,
        }
