# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks' probe plumbing on the controller (docs/design.md, "Merge path").

Pure functions, no Ansible objects: ``scan_chunks`` turns the scan targets of each probing site
into the chunks the playbook probes one loop item at a time (the progress a long sweep shows),
and ``merge_probes`` merges what the hosts of a run stored (their own probe and their site's scan
chunks) into one result in the shape of a netsec.bjnp.probe result, for the report. Errors are
``ValueError`` naming the bad value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import address_key
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import (
    DEFAULT_MAX_TARGETS,
    MAX_MAX_TARGETS,
    AddressSpan,
    parse_target,
)

# Addresses per loop item: a /18, about a second of probing on loopback; a /16 is four items.
DEFAULT_CHUNK_SIZE = 16384
DEFAULT_SITE = "localhost"


def _pieces(target, chunk_size):
    """``[(target text, addresses)]``: a network larger than ``chunk_size`` as its subnets of at
    most that size, anything else as given (a hostname counts as one address)."""
    parsed = parse_target(target)
    if isinstance(parsed, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        if parsed.num_addresses <= chunk_size:
            return [(target, parsed.num_addresses)]
        prefix = parsed.max_prefixlen - (chunk_size.bit_length() - 1)
        return [(str(subnet), subnet.num_addresses) for subnet in parsed.subnets(new_prefix=prefix)]
    return [(target, 1)]


def _without_covered(targets):
    """``targets`` without the addresses and networks that lie inside another of them (each would
    be probed a second time in its own chunk), in the order given; hostnames are kept. CIDR
    networks nest or are disjoint, so adding the largest first, whatever adds nothing is inside one.
    """
    parsed = {}
    for target in targets:
        item = parse_target(target)
        if not isinstance(item, str):
            parsed[target] = ipaddress.ip_network(item)
    span, covered = AddressSpan(), set()
    for target in sorted(parsed, key=lambda text: parsed[text].num_addresses, reverse=True):
        if not span.add(parsed[target]):
            covered.add(target)
    return [target for target in targets if target not in covered]


def _label(site, targets):
    return "%s: %s%s" % (site, targets[0], " and %d more" % (len(targets) - 1) if len(targets) > 1 else "")


def scan_chunks(sites, chunk_size=DEFAULT_CHUNK_SIZE, max_targets=DEFAULT_MAX_TARGETS):
    """The scan chunks of every site, in the order the sites were given.

    ``sites`` maps each inventory host to ``{"from": site, "targets": [...]}`` (its
    bjnp_probe_from and bjnp_scan_targets). Each site probes the union of the targets of the hosts
    it serves (a target given twice, or inside a network also given, is probed once); its first host (the leader) runs the loop, so
    the sites probe in parallel. Returns ``[{"from", "leader", "targets", "addresses", "chunk",
    "chunks", "label"}]``. A site whose targets add up to more than ``max_targets`` addresses is
    refused, as the probe refuses it: the chunks alone would never reach the limit.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_MAX_TARGETS:
        raise ValueError("chunk size must be from 1 to %d addresses, got %r" % (MAX_MAX_TARGETS, chunk_size))
    # Subnets split on powers of two; a chunk size that is not one packs whole subnets of the next lower.
    split = 1 << (chunk_size.bit_length() - 1)
    order, leaders, targets = [], {}, {}
    for host, entry in sites.items():
        site = entry.get("from") or DEFAULT_SITE
        if site not in leaders:
            order.append(site)
            leaders[site] = host
            targets[site] = []
        given = entry.get("targets") or []
        # As Ansible reads a list option given as a string: comma-separated.
        for target in given.split(",") if isinstance(given, str) else given:
            if target not in targets[site]:
                targets[site].append(target)
    chunks = []
    for site in order:
        if not targets[site]:
            continue
        pieces = []
        try:
            for target in _without_covered(targets[site]):
                pieces.extend(_pieces(target, split))
        except ValueError as exc:
            raise ValueError("bjnp_scan_targets of site %s: %s" % (site, exc))
        total = sum(count for _text, count in pieces)
        if total > max_targets:
            raise ValueError("bjnp_scan_targets of site %s expand to %d addresses, more than bjnp_probe_max_targets=%d; "
                             "narrow them or raise bjnp_probe_max_targets" % (site, total, max_targets))
        packed, current, size = [], [], 0
        for text, count in pieces:
            if current and size + count > chunk_size:
                packed.append((current, size))
                current, size = [], 0
            current.append(text)
            size += count
        packed.append((current, size))
        for index, (texts, size) in enumerate(packed):
            chunks.append({"from": site, "leader": leaders[site], "targets": texts, "addresses": size,
                           "chunk": index + 1, "chunks": len(packed),
                           "label": "%s (%d of %d)" % (_label(site, texts), index + 1, len(packed))})
    return chunks


def _ran(result):
    """Whether a registered result holds a probe that ran (not skipped, not failed)."""
    return isinstance(result, dict) and not result.get("skipped") and not result.get("failed") and "hosts" in result


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def merge_probes(records):
    """One probe result (``hosts``, ``unresolved``, ``summary``) of a run's stored probes.

    ``records``: per inventory host, in play order, what tasks/probe.yml stored for one phase,
    ``{"from": site, "host": <its own probe result>, "scan": [<loop result per scan chunk>]}``.
    Every host entry gets ``probed_from``. A later entry for an address replaces an earlier one;
    a host's own probe is taken after its site's scan, so it wins. ``summary.targets`` counts each
    address once even when the scan returned only the exposed ones (only_exposed) and a host's own
    probe covered a clean address of the scan too: the scanned networks are counted as ranges.
    ``summary.elapsed`` is the longest time one site (its chunks one after the other) or one host's
    own probe took; ``summary.sites`` has per site the addresses scanned, exposed, time and chunks.
    """
    hosts, unresolved, seen_unresolved = {}, [], set()
    sites, site_order = {}, []
    scanned_targets, name_extra = [], 0
    longest = 0.0

    def take(result, site):
        for entry in result.get("hosts") or []:
            if not isinstance(entry, dict) or "address" not in entry:
                raise ValueError("a probe result's hosts hold %r, not a netsec.bjnp.probe host entry" % (entry,))
            hosts[entry["address"]] = dict(entry, probed_from=site)
        for entry in result.get("unresolved") or []:
            key = (site, entry.get("target"))
            if key not in seen_unresolved:
                seen_unresolved.add(key)
                unresolved.append(dict(entry, probed_from=site))

    for index, record in enumerate(records):
        if not record:
            continue
        if not isinstance(record, dict):
            raise ValueError("record %d is %r, not a dict with from, host and scan" % (index, record))
        site = record.get("from") or DEFAULT_SITE
        for result in record.get("scan") or []:
            if not _ran(result):
                continue
            item = result.get("item") or {}
            chunk_site = item.get("from") or site
            take(result, chunk_site)
            summary = result.get("summary") or {}
            targets = item.get("targets") or []
            returned = [entry["address"] for entry in result["hosts"]]
            counted = _number(summary.get("targets"))
            span = AddressSpan.of_targets(targets)
            scanned_targets.extend(targets)
            # Addresses a chunk's hostnames resolved to that it did not return: counted, not known.
            if counted is not None:
                inside = sum(1 for address in returned if address in span)
                name_extra += max(0, int(counted) - span.size - (len(returned) - inside))
            if chunk_site not in sites:
                site_order.append(chunk_site)
                sites[chunk_site] = {"from": chunk_site, "targets": 0, "exposed": 0, "elapsed": 0.0, "chunks": 0}
            entry = sites[chunk_site]
            entry["targets"] += int(counted) if counted is not None else len(returned)
            entry["exposed"] += sum(1 for host in result["hosts"] if host.get("exposed"))
            entry["elapsed"] += _number(summary.get("elapsed")) or 0.0
            entry["chunks"] += 1
        own = record.get("host")
        if _ran(own):
            take(own, site)
            longest = max(longest, _number((own.get("summary") or {}).get("elapsed")) or 0.0)
    scanned = AddressSpan.of_targets(scanned_targets)
    # Known addresses outside the scanned ranges (a host's own address, a scanned name's) add to them.
    outside = sum(1 for address in hosts if address not in scanned)
    for entry in sites.values():
        entry["elapsed"] = round(entry["elapsed"], 3)
        longest = max(longest, entry["elapsed"])
    ordered = sorted(hosts.values(), key=lambda entry: address_key(entry["address"]))
    return {
        "hosts": ordered,
        "unresolved": unresolved,
        "summary": {
            "targets": scanned.size + outside + name_extra if sites else len(hosts),
            "exposed": sum(1 for entry in ordered if any(port.get("state") == "open" for port in entry.get("ports") or [])),
            "elapsed": round(longest, 3),
            "sites": [sites[site] for site in site_order],
        },
    }


def probe_of_phases(stored, phases):
    """The report's probe input for ``phases`` of a run, merged from ``stored``: per play host, in
    play order, its ``bjnp_probes`` (tasks/probe.yml: phase -> record), None where it has none.

    One phase gives its merged result; two, ``[before, after]``, give ``{"before", "after"}`` for
    the report to compare when both were probed, else the one that was; none probed gives ``{}``.
    """
    if not isinstance(phases, list) or not 1 <= len(phases) <= 2 or len(set(phases)) != len(phases) \
            or not all(isinstance(phase, str) and phase for phase in phases):
        raise ValueError("phases must be one phase or two different ones ([before, after]), got %r" % (phases,))
    records = dict((phase, []) for phase in phases)
    for index, probes in enumerate(stored):
        if probes is None:
            continue
        if not isinstance(probes, dict):
            raise ValueError("bjnp_probes of host %d is %r, not a dict of phase -> record" % (index, probes))
        for phase in phases:
            if phase in probes:
                records[phase].append(probes[phase])
    merged = [merge_probes(records[phase]) for phase in phases if records[phase]]
    if len(merged) == 2:
        return {"before": merged[0], "after": merged[1]}
    return merged[0] if merged else {}
