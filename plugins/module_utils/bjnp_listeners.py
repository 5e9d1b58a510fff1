# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role's sockets on the BJNP and raw-print ports (pure functions).

On Linux the role asks ``ss`` for the listening sockets on those ports only: the kernel filters
them, so a host with thousands of sockets answers at once (community.general.listen_ports_facts
lists every socket and runs ``ps`` twice for each, 25 s for 2,000). Hosts without ``ss`` and
Windows hosts give listen_ports_facts entries, reshaped by ``keep_listeners`` the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# users:(("cupsd",pid=812,fd=7),("cupsd",pid=813,fd=7)): one entry per process sharing the socket.
_PROCESS = re.compile(r'\("(.*?)",pid=(\d+),')


def ss_arguments(merged):
    """The ``ss`` command line listing the listening TCP and UDP sockets on the ports of
    ``merged`` (``normalize_ports`` output) and no others."""
    ranges = sorted(set(merged["tcp"]) | set(merged["udp"]))
    if not ranges:
        raise ValueError("bjnp_ports is empty: there is no port to list the listeners of")
    terms = ["sport = :%d" % low if low == high else "( sport >= :%d and sport <= :%d )" % (low, high)
             for low, high in ranges]
    return ["ss", "--listening", "--numeric", "--processes", "--tcp", "--udp", "( %s )" % " or ".join(terms)]


def _split_local(local):
    """``0.0.0.0:9100`` -> ``("0.0.0.0", 9100)``; ``[::]:9100``, ``[::1]%lo:8611`` and ``*:9100``
    keep their address without brackets (``::``, ``::1%lo``, ``*``)."""
    address, _colon, port = local.rpartition(":")
    if address.startswith("[") and "]" in address:
        inside, _bracket, zone = address[1:].partition("]")
        address = inside + zone
    return address, int(port)


def parse_ss(text):
    """``(tcp, udp)`` entries in listen_ports_facts' shape (``address``, ``port``, ``name``,
    ``pid``) of ``ss --listening --numeric --processes --tcp --udp`` output, one per socket and
    process; without a process column (no root) ``name`` and ``pid`` are None. A line of another
    layout raises ``ValueError`` naming it, rather than a socket being left out unseen."""
    found = {"tcp": [], "udp": []}
    for line in text.splitlines():
        if not line.strip() or line.startswith("Netid"):
            continue
        cells = line.split(None, 6)
        if len(cells) < 6 or cells[0] not in found:
            raise ValueError("ss printed a line of an unknown layout: %r" % line)
        try:
            address, port = _split_local(cells[4])
        except ValueError:
            raise ValueError("ss printed a local address without a port: %r" % line)
        processes = _PROCESS.findall(cells[6]) if len(cells) == 7 else []
        for name, pid in processes or [(None, None)]:
            found[cells[0]].append({"address": address, "port": port, "name": name,
                                    "pid": int(pid) if pid is not None else None})
    return found["tcp"], found["udp"]


def keep_listeners(tcp_listen, udp_listen, merged):
    """The entries (listen_ports_facts' shape) on the ports of ``merged`` for their protocol, as
    ``bjnp_listeners`` items ``{port, protocol, address, process, pid}``: one per socket and process,
    sorted by protocol, port, address and pid. Entries without a usable port are skipped."""
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
                "address": "%s" % (entry.get("address", ""),),
                "process": "%s" % (entry["name"],) if entry.get("name") else None,
                "pid": entry.get("pid") or None,
            }
            found[tuple(sorted(item.items(), key=lambda pair: pair[0]))] = item
    return sorted(found.values(), key=lambda item: (item["protocol"], item["port"], item["address"], str(item["pid"])))
