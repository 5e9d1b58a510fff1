# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge the reports of one sliced run (AWX/AAP job slicing) into one report (docs/reports.md).

Pure functions. ``merge_documents`` takes the parsed JSON documents of the slices, refuses
reports that do not belong together, turns each document's listed hosts and managed hosts back
into what the playbooks gave ``netsec.bjnp.report`` (probe hosts, listeners, firewall results,
inventory) and builds the merged document with ``bjnp_report.build_document``: the same
validation, summary, sorting and renderers as a report written by one run. The clean addresses
a document only counts (``clean``) are added up. The files are untrusted input: every value
read is checked here or again by ``build_document``; errors are ``ValueError`` naming the slice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import (
    ABSENT,
    DETAILS,
    GENERATOR,
    MONITOR,
    NAMES,
    PROTOCOLS,
    SCHEMA_VERSION,
    STATES,
    address_key,
    build_document,
)

# Two slices probed the same address (two gateways protecting one printer) and disagree: the
# more exposed state is kept, so a merge never hides a port that one slice saw open.
EXPOSURE_RANK = {"open": 4, "open|filtered": 3, "filtered": 2, "closed": 1, ABSENT: 0}


def _where(index, document):
    slice_id = document.get("slice_id") if isinstance(document, dict) else None
    return "report %d%s" % (index + 1, " (slice %s)" % slice_id if isinstance(slice_id, str) else "")


def _need(value, kind, where):
    if not isinstance(value, kind):
        raise ValueError("%s: expected %s, got %s" % (where, kind.__name__, type(value).__name__))
    return value


def _header(document, where):
    """The keys that say what a report is; refuses anything but a slice report of ours."""
    _need(document, dict, where)
    name = document.get("name")
    if name == MONITOR:
        raise ValueError("%s: monitor reports are not merged (each host's attempts are already its own)" % where)
    if document.get("generator") != GENERATOR or document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("%s: not a %s report of schema_version %d (generator %r, schema_version %r)" % (
            where, GENERATOR, SCHEMA_VERSION, document.get("generator"), document.get("schema_version")))
    if name not in NAMES:
        raise ValueError("%s: name %r is not one of %s" % (where, name, ", ".join(NAMES)))
    if document.get("detail") not in DETAILS:
        raise ValueError("%s: detail %r is not one of %s" % (where, document.get("detail"), ", ".join(DETAILS)))
    for key in ("change_id", "run_id", "slice_id", "title"):
        if document.get(key) is not None and not isinstance(document.get(key), str):
            raise ValueError("%s: %s %r is not a string" % (where, key, document.get(key)))
    if document.get("slices"):
        raise ValueError("%s: already a merged report (of slices %s): merge the slice reports themselves" % (
            where, ", ".join("%s" % item for item in _need(document["slices"], list, where + ".slices"))))
    if not document.get("slice_id"):
        raise ValueError("%s: has no slice_id, so it cannot be told from another slice (the playbooks set it "
                         "from bjnp_report_slice_id, on AWX from awx_job_id)" % where)
    return {key: document.get(key) for key in ("name", "change_id", "run_id", "slice_id", "title", "detail")}


def _count(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("%s: %r is not a count" % (where, value))
    return value


def _port_number(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError("%s: %r is not a port number" % (where, value))
    return value


def _clean(value, where):
    """The ``clean`` counts of a document, checked: they are added up as they are."""
    _need(value, dict, where)
    ports = []
    for index, column in enumerate(_need(value.get("ports"), list, where + ".ports")):
        here = "%s.ports[%d]" % (where, index)
        _need(column, dict, here)
        protocol = column.get("protocol")
        if protocol not in PROTOCOLS:
            raise ValueError("%s.protocol: %r is not one of %s" % (here, protocol, ", ".join(PROTOCOLS)))
        if column.get("service") is not None:
            _need(column["service"], str, here + ".service")
        states = {}
        for state, count in sorted(_need(column.get("states"), dict, here + ".states").items()):
            if state not in STATES + (ABSENT,):
                raise ValueError("%s.states: %r is not one of %s" % (here, state, ", ".join(STATES + (ABSENT,))))
            states[state] = _count(count, "%s.states.%s" % (here, state))
        ports.append({"protocol": protocol, "port": _port_number(column.get("port"), here + ".port"),
                      "service": column.get("service"), "states": states})
    return {"addresses": _count(value.get("addresses"), where + ".addresses"),
            "without_ports": _count(value.get("without_ports"), where + ".without_ports"), "ports": ports}


def _add_clean(document, slices):
    """Add the slices' clean counts to the merged ``document`` (its summary follows)."""
    clean = document["clean"]
    by_port = dict(((column["protocol"], column["port"]), column) for column in clean["ports"])
    for inputs in slices:
        clean["addresses"] += inputs["clean"]["addresses"]
        clean["without_ports"] += inputs["clean"]["without_ports"]
        for column in inputs["clean"]["ports"]:
            into = by_port.setdefault((column["protocol"], column["port"]), {
                "protocol": column["protocol"], "port": column["port"], "service": column["service"], "states": {}})
            into["service"] = into["service"] or column["service"]
            for state, count in column["states"].items():
                into["states"][state] = into["states"].get(state, 0) + count
    clean["ports"] = [by_port[key] for key in sorted(by_port, key=lambda key: (PROTOCOLS.index(key[0]), key[1]))]
    summary = document["summary"]
    summary["hosts"] = summary["listed"] + clean["addresses"]
    summary["clean"] = summary["hosts"] - summary["exposed"]


def document_inputs(document, where="report"):
    """What ``netsec.bjnp.report`` was given for ``document``: the inverse of ``build_document``.

    Returns ``header`` (name, change_id, run_id, slice_id, title), ``comparison``, ``after`` and
    ``before`` (address -> {name, probed_from, ports: {(protocol, port): port}} of the listed
    addresses; before is None without a comparison), ``clean`` (the document's, checked),
    ``extra_before`` (before targets not listed), ``elapsed``, ``listeners``, ``firewall`` and
    ``inventory`` (inventory host -> addresses).
    """
    header = _header(document, where)
    comparison = _need(document.get("comparison"), bool, where + ".comparison")
    summary = _need(document.get("summary"), dict, where + ".summary")
    after, before = {}, ({} if comparison else None)
    inventory, named = {}, {}
    for index, host in enumerate(_need(document.get("hosts"), list, where + ".hosts")):
        here = "%s.hosts[%d]" % (where, index)
        _need(host, dict, here)
        address = _need(host.get("address"), str, here + ".address")
        if address in after or (before is not None and address in before):
            raise ValueError("%s: address %s is listed twice" % (here, address))
        for probe, key in ((after, "state"), (before, "state_before")):
            if probe is None:
                continue
            ports = {}
            for pindex, port in enumerate(_need(host.get("ports"), list, here + ".ports")):
                phere = "%s.ports[%d]" % (here, pindex)
                _need(port, dict, phere)
                state = _need(port.get(key), str, "%s.%s" % (phere, key))
                if state == ABSENT:
                    continue
                port_key = (_need(port.get("protocol"), str, phere + ".protocol"),
                            _port_number(port.get("port"), phere + ".port"))
                if port_key in ports:
                    raise ValueError("%s: %s/%d is listed twice for %s" % (phere, port_key[0], port_key[1], address))
                ports[port_key] = {
                    "protocol": port.get("protocol"), "port": port.get("port"), "state": state,
                    "service": port.get("service"), "identity": port.get("identity")}
            if ports or key == "state" and not host.get("ports"):
                probe[address] = {"address": address, "name": host.get("name"),
                                  "probed_from": host.get("probed_from"), "ports": ports}
        if host.get("inventory_hostname") is not None:
            named[address] = _need(host["inventory_hostname"], str, here + ".inventory_hostname")
    listeners, firewall = {}, {}
    for index, item in enumerate(_need(document.get("managed"), list, where + ".managed")):
        here = "%s.managed[%d]" % (where, index)
        _need(item, dict, here)
        host = _need(item.get("inventory_hostname"), str, here + ".inventory_hostname")
        if host in listeners:
            raise ValueError("%s: managed host %s is listed twice" % (here, host))
        listeners[host] = _need(item.get("listeners"), list, here + ".listeners")
        if item.get("firewall") is not None:
            firewall[host] = _need(item["firewall"], dict, here + ".firewall")
        addresses = _need(item.get("addresses"), list, here + ".addresses")
        if addresses:
            inventory[host] = addresses
    # An address named after an inventory host that is not managed came from the inventory (a
    # managed host's name is build_document's fallback, already covered by its addresses).
    for address, host in named.items():
        if host not in listeners:
            inventory.setdefault(host, []).append(address)
    clean = _clean(document.get("clean"), where + ".clean")
    extra_after = _count(summary.get("hosts"), where + ".summary.hosts") - len(document["hosts"])
    if extra_after != clean["addresses"]:
        raise ValueError("%s: summary.hosts (%d) is not the %d listed addresses plus the %d clean ones" % (
            where, summary["hosts"], len(document["hosts"]), clean["addresses"]))
    extra_before = 0
    if comparison:
        before_summary = _need(summary.get("before"), dict, where + ".summary.before")
        extra_before = _count(before_summary.get("hosts"), where + ".summary.before.hosts") - len(before)
    elapsed = summary.get("elapsed")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, (int, float))):
        raise ValueError("%s.summary.elapsed: %r is not a number of seconds" % (where, elapsed))
    return {"header": header, "comparison": comparison, "after": after, "before": before, "clean": clean,
            "extra_before": max(extra_before, 0), "elapsed": elapsed,
            "listeners": listeners, "firewall": firewall, "inventory": inventory}


def _agree(headers, key, what):
    if len(set(header[key] for header in headers)) > 1:
        raise ValueError("the reports are not of one %s: %s %s" % (what, key, ", ".join(
            "%s (slice %s)" % (header[key], header["slice_id"]) for header in headers)))
    return headers[0][key]


def _merge_probe(slices, key, conflicts):
    """One probe result (hosts and summary) out of the slices' ``after`` or ``before`` probes."""
    merged = {}
    for inputs in slices:
        slice_id = inputs["header"]["slice_id"]
        for address, host in sorted(inputs[key].items()):
            into = merged.setdefault(address, {"address": address, "name": host["name"],
                                               "probed_from": host["probed_from"], "ports": {}, "seen": {}})
            into["name"] = into["name"] or host["name"]
            into["probed_from"] = into["probed_from"] or host["probed_from"]
            for port_key, port in sorted(host["ports"].items()):
                kept = into["ports"].get(port_key)
                if kept is not None and kept["state"] != port["state"]:
                    conflicts.append("%s %s/%s%s: slice %s read %s, slice %s read %s; kept %s" % (
                        address, port["protocol"], port["port"], " (before)" if key == "before" else "",
                        into["seen"][port_key], kept["state"], slice_id, port["state"],
                        max((kept["state"], port["state"]), key=lambda state: EXPOSURE_RANK.get(state, 0))))
                if kept is None or EXPOSURE_RANK.get(port["state"], 0) > EXPOSURE_RANK.get(kept["state"], 0):
                    identity = port["identity"] or (kept and kept["identity"])
                    into["ports"][port_key] = dict(port, identity=identity)
                    into["seen"][port_key] = slice_id
                elif not kept["identity"] and port["identity"]:
                    kept["identity"] = port["identity"]
    return [{"address": address, "name": host["name"], "probed_from": host["probed_from"],
             "ports": list(host["ports"].values())}
            for address, host in sorted(merged.items(), key=lambda item: address_key(item[0]))]


def slice_sort_key(slice_id):
    """AWX job ids in numeric order, other ids after them by text."""
    return (0, int(slice_id), "") if slice_id.isdigit() else (1, 0, slice_id)


def merge_documents(documents, run_id=None, expect_slices=None, title=None, now=None):
    """(merged document, conflicts) of the slice reports ``documents`` (parsed JSON).

    Refused (``ValueError``): no reports, a report that is not a slice report of ours (monitor,
    already merged, no slice id), reports of different kinds, change ids, run ids or before/after
    shapes, nothing that ties them to one run (neither a run id nor a change id), a run id other
    than ``run_id``, a slice given twice, a managed host in two slices, a count other than
    ``expect_slices``. ``conflicts`` lists the ports two slices read differently.
    """
    if not documents:
        raise ValueError("no reports to merge")
    slices = [document_inputs(document, _where(index, document)) for index, document in enumerate(documents)]
    headers = [inputs["header"] for inputs in slices]
    seen = {}
    for index, header in enumerate(headers):
        if header["slice_id"] in seen:
            raise ValueError("slice %s is given twice: reports %d and %d" % (
                header["slice_id"], seen[header["slice_id"]] + 1, index + 1))
        seen[header["slice_id"]] = index
    # In slice order from here on: messages and conflicts do not depend on the order of the files.
    slices.sort(key=lambda inputs: slice_sort_key(inputs["header"]["slice_id"]))
    headers = [inputs["header"] for inputs in slices]
    name = _agree(headers, "name", "kind")
    detail = _agree(headers, "detail", "detail")
    change_id = _agree(headers, "change_id", "change")
    merged_run = _agree(headers, "run_id", "run")
    if run_id is not None and merged_run != run_id:
        raise ValueError("the reports are of run %s, not of run %s" % (merged_run, run_id))
    if merged_run is None and change_id is None:
        raise ValueError("nothing ties these reports to one run: they have neither a run_id nor a change_id "
                         "(set bjnp_report_run_id, on AWX awx_workflow_job_id does)")
    if expect_slices is not None and len(slices) != expect_slices:
        raise ValueError("expected %d slice reports, got %d (slices %s)" % (
            expect_slices, len(slices), ", ".join(sorted(seen, key=slice_sort_key))))
    if len(set(inputs["comparison"] for inputs in slices)) > 1:
        raise ValueError("some slices compare before and after and some do not: %s" % ", ".join(
            "slice %s %s" % (inputs["header"]["slice_id"], "before/after" if inputs["comparison"] else "one probe")
            for inputs in slices))
    owner = {}
    listeners, firewall, inventory = {}, {}, {}
    for inputs in slices:
        slice_id = inputs["header"]["slice_id"]
        for host in sorted(set(inputs["listeners"]) | set(inputs["inventory"])):
            if host in owner and owner[host] != slice_id:
                raise ValueError("inventory host %s is in slice %s and in slice %s: slices of one run hold "
                                 "different hosts" % (host, owner[host], slice_id))
            owner[host] = slice_id
        listeners.update(inputs["listeners"])
        firewall.update(inputs["firewall"])
        inventory.update(inputs["inventory"])
    conflicts = []
    after = _merge_probe(slices, "after", conflicts)
    elapsed = [inputs["elapsed"] for inputs in slices if inputs["elapsed"] is not None]
    # Slices run side by side: the run took as long as its slowest probe.
    probe = {"hosts": after, "summary": {"elapsed": max(elapsed) if elapsed else None}}
    if slices[0]["comparison"]:
        before = _merge_probe(slices, "before", conflicts)
        probe = {"after": probe, "before": {"hosts": before, "summary": {
            "targets": len(before) + sum(inputs["extra_before"] for inputs in slices)}}}
    titles = set(header["title"] for header in headers)
    document = build_document(
        name, probe=probe, listeners=listeners, firewall=firewall, inventory=inventory, change_id=change_id,
        title=title or (titles.pop() if len(titles) == 1 else None), now=now, detail=detail, run_id=merged_run,
        slices=sorted(seen, key=slice_sort_key))
    _add_clean(document, slices)
    return document, conflicts
