# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter keeping the listening sockets on the BJNP and raw-print ports (bjnp_listeners.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import normalize_ports


def bjnp_listeners(tcp_listen, udp_listen, ports):
    """The listen_ports_facts entries on ``bjnp_ports``, as ``bjnp_listeners`` items.

    One item per socket and process (ss lists a socket once for every process sharing it),
    sorted by protocol, port and address. In Python: a Jinja loop over the thousands of
    sockets of a busy host took minutes.
    """
    try:
        merged = normalize_ports(ports)
    except (ValueError, AttributeError, TypeError) as exc:
        raise AnsibleFilterError("bjnp_listeners: bad bjnp_ports entry: %s" % to_native(exc))
    found = {}
    for protocol, entries in (("tcp", tcp_listen or []), ("udp", udp_listen or [])):
        for entry in entries:
            try:
                port = int(entry.get("port"))
            except (AttributeError, TypeError, ValueError):
                continue
            if not any(low <= port <= high for low, high in merged[protocol]):
                continue
            item = {
                "port": port,
                "protocol": protocol,
                "address": to_native(entry.get("address", "")),
                "process": to_native(entry["name"]) if entry.get("name") else None,
                "pid": entry.get("pid"),
            }
            found[tuple(sorted(item.items(), key=lambda pair: pair[0]))] = item
    return sorted(found.values(), key=lambda item: (item["protocol"], item["port"], item["address"], str(item["pid"])))


class FilterModule(object):
    """netsec.bjnp listener filter."""

    def filters(self):
        return {"bjnp_listeners": bjnp_listeners}
