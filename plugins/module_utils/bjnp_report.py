# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build and render the detect/remediate/verify reports (docs/reports.md).

Pure functions: ``build_document`` validates what the playbooks pass and returns the JSON
document (schema_version 2, every key always present); ``render_json``, ``render_junit`` and
``render_html`` turn it into text. Errors are ``ValueError`` naming the bad value and where it
is. Identity strings come from the network: they are escaped in every rendering.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import html
import ipaddress
import json
import re
import xml.etree.ElementTree as ET

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import parse_network

# 2: clean addresses are counted in "clean" instead of listed in "hosts" (detail: findings).
SCHEMA_VERSION = 2
# The monitor document did not change.
MONITOR_SCHEMA_VERSION = 1
GENERATOR = "netsec.bjnp.report"
NAMES = ("detect", "remediate", "verify", "rollback")
FORMATS = ("json", "junit", "html")
EXTENSIONS = {"json": "json", "junit": "xml", "html": "html"}
STATES = ("open", "closed", "filtered", "open|filtered")
# A port present in only one of the before/after probes.
ABSENT = "absent"
PROTOCOLS = ("tcp", "udp")
DETAILS = ("findings", "all")
# Addresses (monitor: hosts) named in a playbook's closing message; the rest are counted.
MESSAGE_HOSTS = 20
IDENTITY_KEYS = ("manufacturer", "model", "description", "firmware", "command_set", "raw", "mac")

# Characters XML 1.0 forbids (and lone surrogates, which no encoder accepts).
_XML_ILLEGAL = re.compile(u"[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile(u"[\ud800-\udfff]")


def timestamp(now):
    """File-name stamp of a UTC datetime: ``20261125T120000Z``."""
    return now.strftime("%Y%m%dT%H%M%SZ")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# --- validation and normalisation ------------------------------------------------------

def _fail(where, message):
    raise ValueError("%s: %s" % (where, message))


def _text(value, where, allow_none=True):
    """Scalars become text; lone surrogates (undecodable network bytes) become U+FFFD."""
    if value is None:
        if allow_none:
            return None
        _fail(where, "is required")
    if isinstance(value, (dict, list, tuple)):
        _fail(where, "%r is not a string" % (value,))
    if isinstance(value, bool):
        value = "true" if value else "false"
    return _SURROGATE.sub(u"\ufffd", u"%s" % (value,))


def _bool(value, where):
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0", ""):
        return False
    return _fail(where, "%r is not a boolean" % (value,))


def _dict(value, where, allow_none=True):
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        _fail(where, "expected a dict, got %s %r" % (type(value).__name__, value))
    return value


def _list(value, where):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        _fail(where, "expected a list, got %s %r" % (type(value).__name__, value))
    return list(value)


def _port(value, where):
    # Whole numbers only: 9100 or "9100", never True, 9100.5 or "http".
    if isinstance(value, bool) or not re.match(r"^\s*\d+\s*$", u"%s" % (value,)):
        return _fail(where, "%r is not a port number" % (value,))
    port = int(value)
    if not 1 <= port <= 65535:
        _fail(where, "port %d is outside 1-65535" % port)
    return port


def _choice(value, choices, where):
    value = _text(value, where, allow_none=False).lower()
    if value not in choices:
        _fail(where, "%r is not one of %s" % (value, ", ".join(choices)))
    return value


def address_key(address):
    """IPv4 first, then IPv6, numerically; anything else (a name) after, alphabetically."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return (7, 0, address)
    return (parsed.version, int(parsed), "")


def _port_key(entry):
    return (PROTOCOLS.index(entry["protocol"]), entry["port"])


def _identity(value, where):
    if value is None:
        return None
    value = _dict(value, where, allow_none=False)
    return dict((key, _text(value.get(key), "%s.%s" % (where, key))) for key in IDENTITY_KEYS)


def _probe_hosts(result, where):
    """``{address: host}`` of one probe result, plus its summary (targets, elapsed)."""
    result = _dict(result, where)
    if not result or result.get("skipped"):
        return None
    if result.get("failed"):
        _fail(where, "the probe failed: %s" % (result.get("msg") or "no message"))
    if "hosts" not in result:
        _fail(where, "has no 'hosts': pass a registered netsec.bjnp.probe result")
    hosts = {}
    for index, host in enumerate(_list(result["hosts"], where + ".hosts")):
        here = "%s.hosts[%d]" % (where, index)
        host = _dict(host, here, allow_none=False)
        address = _text(host.get("address"), here + ".address", allow_none=False)
        ports = {}
        for pindex, port in enumerate(_list(host.get("ports"), here + ".ports")):
            phere = "%s.ports[%d]" % (here, pindex)
            port = _dict(port, phere, allow_none=False)
            entry = {
                "protocol": _choice(port.get("protocol"), PROTOCOLS, phere + ".protocol"),
                "port": _port(port.get("port"), phere + ".port"),
                "state": _choice(port.get("state"), STATES, phere + ".state"),
                "service": _text(port.get("service"), phere + ".service"),
                "identity": _identity(port.get("identity"), phere + ".identity"),
            }
            ports[(entry["protocol"], entry["port"])] = entry
        hosts[address] = {"name": _text(host.get("name"), here + ".name"),
                          "probed_from": _text(host.get("probed_from"), here + ".probed_from"), "ports": ports}
    summary = _dict(result.get("summary"), where + ".summary")
    targets = summary.get("targets")
    elapsed = summary.get("elapsed")
    return {
        "hosts": hosts,
        "targets": targets if isinstance(targets, int) and not isinstance(targets, bool) else None,
        "elapsed": elapsed if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) else None,
    }


_NO_HOST = {"name": None, "probed_from": None, "ports": {}}


def _split_probe(probe):
    """(before, after) parsed probes; before is None unless both were given."""
    probe = _dict(probe, "probe")
    if "hosts" not in probe and ("before" in probe or "after" in probe):
        for key in ("before", "after"):
            if key not in probe:
                _fail("probe", "has %s but no '%s': a comparison needs both probe results"
                      % ("after" if key == "before" else "before", key))
        before = _probe_hosts(probe["before"], "probe.before")
        after = _probe_hosts(probe["after"], "probe.after")
        if before is None or after is None:
            return None, before or after
        return before, after
    return None, _probe_hosts(probe, "probe")


def _models(ports):
    models = []
    for entry in ports:
        identity = entry["identity"]
        if not identity:
            continue
        model = identity["description"] or " ".join(
            part for part in (identity["manufacturer"], identity["model"]) if part)
        if model and model not in models:
            models.append(model)
    return models


def _inventory_addresses(inventory):
    mapping = {}
    for host, addresses in sorted(_dict(inventory, "inventory").items()):
        where = "inventory.%s" % host
        if isinstance(addresses, (list, tuple)):
            values = [_text(item, "%s[%d]" % (where, i), allow_none=False) for i, item in enumerate(addresses)]
        else:
            values = [_text(addresses, where, allow_none=False)]
        mapping[_text(host, "inventory")] = values
    return mapping


def _listener(value, where):
    value = _dict(value, where, allow_none=False)
    pid = value.get("pid")
    if pid is not None:
        try:
            pid = int(pid)
        except (TypeError, ValueError):
            _fail(where + ".pid", "%r is not a process id" % (pid,))
    # community.general.listen_ports_facts calls the process "name".
    process = value.get("process", value.get("name"))
    return {
        "protocol": _choice(value.get("protocol"), PROTOCOLS, where + ".protocol"),
        "port": _port(value.get("port"), where + ".port"),
        "address": _text(value.get("address"), where + ".address"),
        "process": _text(process, where + ".process"),
        "pid": pid,
    }


def _firewall(value, where):
    if value is None:
        return None
    value = _dict(value, where, allow_none=False)
    backup = _text(value.get("backup"), where + ".backup")
    return {
        "backend": _text(value.get("backend"), where + ".backend"),
        "state": _text(value.get("state"), where + ".state"),
        "changed": _bool(value.get("changed"), where + ".changed"),
        "backup": backup or None,
        "rolled_back": _bool(value.get("rolled_back"), where + ".rolled_back"),
        "message": _text(value.get("message"), where + ".message"),
    }


def _counts(hosts, state_key):
    exposed = 0
    open_ports = 0
    for host in hosts:
        opened = sum(1 for entry in host["ports"] if entry[state_key] == "open")
        open_ports += opened
        exposed += 1 if opened else 0
    return exposed, open_ports


def _listed(host, detail):
    """Whether an address gets its own entry (every port) or only counts towards ``clean``."""
    return (detail == "all" or host["exposed"] or host["exposed_before"] or host["inventory_hostname"] is not None
            or any(entry["changed"] for entry in host["ports"]))


def _clean_counts(hosts):
    """``clean.ports`` of the addresses not listed: per port, how many addresses read each state."""
    by_port = {}
    for host in hosts:
        for entry in host["ports"]:
            key = (entry["protocol"], entry["port"])
            column = by_port.setdefault(key, {"protocol": key[0], "port": key[1], "service": entry["service"],
                                              "states": {}})
            column["states"][entry["state"]] = column["states"].get(entry["state"], 0) + 1
    return [by_port[key] for key in sorted(by_port, key=lambda key: (PROTOCOLS.index(key[0]), key[1]))]


def build_document(name, probe=None, listeners=None, firewall=None, inventory=None,
                   change_id=None, title=None, now=None, detail="findings", run_id=None, slice_id=None, slices=None):
    """The report document (docs/reports.md). ``now`` is a UTC datetime (default: now).

    ``run_id`` and ``slice_id`` say which run (an AWX workflow job) and which part of it (a
    slice's job) this report is; ``slices`` lists the slice ids a merged report was made of.

    ``detail`` ``findings`` lists an address with every port only when it is exposed (now or
    before), changed or an inventory host, and counts the other, clean, ones by port and state
    in ``clean``; ``all`` lists every address probed.
    """
    name = _choice(name, NAMES, "name")
    detail = _choice(detail, DETAILS, "detail")
    now = now or utc_now()
    before, after = _split_probe(probe)
    comparison = before is not None
    inventory = _inventory_addresses(inventory)
    by_address = {}
    for host in sorted(inventory):
        for address in inventory[host]:
            by_address.setdefault(address, host)

    listeners = _dict(listeners, "listeners")
    firewall = _dict(firewall, "firewall")
    managed_names = sorted(set(_text(key, "listeners") for key in listeners)
                           | set(_text(key, "firewall") for key in firewall))

    probed = []
    after_hosts = after["hosts"] if after else {}
    before_hosts = before["hosts"] if comparison else {}
    for address in sorted(set(after_hosts) | set(before_hosts), key=address_key):
        now_host = after_hosts.get(address, _NO_HOST)
        old_host = before_hosts.get(address, _NO_HOST)
        ports = []
        for key in sorted(set(now_host["ports"]) | set(old_host["ports"]),
                          key=lambda key: (PROTOCOLS.index(key[0]), key[1])):
            new = now_host["ports"].get(key)
            old = old_host["ports"].get(key)
            seen = new or old
            state = new["state"] if new else ABSENT
            state_before = (old["state"] if old else ABSENT) if comparison else None
            ports.append({
                "protocol": key[0],
                "port": key[1],
                "service": seen["service"],
                "state": state,
                "state_before": state_before,
                "changed": comparison and state != state_before,
                "identity": (new and new["identity"]) or (old and old["identity"]) or None,
            })
        host_name = now_host["name"] or old_host["name"]
        inventory_hostname = by_address.get(address)
        if inventory_hostname is None and host_name in managed_names:
            inventory_hostname = host_name
        probed.append({
            "address": address,
            "name": host_name,
            "inventory_hostname": inventory_hostname,
            "probed_from": now_host["probed_from"] or old_host["probed_from"],
            "exposed": any(entry["state"] == "open" for entry in ports),
            "exposed_before": any(entry["state_before"] == "open" for entry in ports) if comparison else None,
            "models": _models(ports),
            "ports": ports,
        })
    hosts = [host for host in probed if _listed(host, detail)]
    unlisted = [host for host in probed if not _listed(host, detail)]

    managed = []
    for host in managed_names:
        entries = [_listener(item, "listeners.%s[%d]" % (host, index))
                   for index, item in enumerate(_list(listeners.get(host), "listeners.%s" % host))]
        entries.sort(key=lambda entry: (_port_key(entry), entry["address"] or ""))
        managed.append({
            "inventory_hostname": host,
            "addresses": inventory.get(host, []),
            "listeners": entries,
            "firewall": _firewall(firewall.get(host), "firewall.%s" % host),
        })

    exposed, open_ports = _counts(hosts, "state")
    targets = after["targets"] if after else None
    total = targets if targets is not None and targets >= len(probed) else len(probed)
    summary = {
        "hosts": total,
        "exposed": exposed,
        "open_ports": open_ports,
        "clean": total - exposed,
        "listed": len(hosts),
        "before": None,
        "managed": len(managed),
        "firewall_changed": sum(1 for item in managed if item["firewall"] and item["firewall"]["changed"]),
        "backups": sum(1 for item in managed if item["firewall"] and item["firewall"]["backup"]),
        "rolled_back": sum(1 for item in managed if item["firewall"] and item["firewall"]["rolled_back"]),
        "listeners": sum(len(item["listeners"]) for item in managed),
        "elapsed": after["elapsed"] if after else None,
    }
    if comparison:
        exposed_before, open_before = _counts(hosts, "state_before")
        before_targets = before["targets"]
        before_count = len([host for host in probed if any(p["state_before"] != ABSENT for p in host["ports"])])
        summary["before"] = {
            "hosts": before_targets if before_targets is not None and before_targets >= before_count else before_count,
            "exposed": exposed_before,
            "open_ports": open_before,
        }
    # The probe counted more addresses than it returned (only_exposed): clean ones without ports.
    clean = {"addresses": total - len(hosts), "without_ports": total - len(probed), "ports": _clean_counts(unlisted)}
    document = _header(name, title, change_id, now)
    document.update(run_id=_text(run_id, "run_id") or None, slice_id=_text(slice_id, "slice_id") or None,
                    slices=[_text(item, "slices[%d]" % index, allow_none=False)
                            for index, item in enumerate(_list(slices, "slices"))])
    document.update(detail=detail, comparison=comparison, summary=summary, hosts=hosts, clean=clean,
                    managed=managed)
    return document


def _header(name, title, change_id, now, schema_version=SCHEMA_VERSION):
    """The keys every report starts with (docs/reports.md)."""
    return {
        "schema_version": schema_version,
        "generator": GENERATOR,
        "name": name,
        "title": _text(title, "title") or "netsec.bjnp %s" % name,
        "generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "change_id": _text(change_id, "change_id") or None,
    }


# --- renderings ------------------------------------------------------------------------

def render_json(document):
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def xml_text(value):
    """Text safe inside XML 1.0 (and HTML): forbidden characters become U+FFFD."""
    return _XML_ILLEGAL.sub(u"\ufffd", u"%s" % (value,))


def _port_label(entry):
    return "%s/%d" % (entry["protocol"], entry["port"])


def _identity_line(identity):
    return "; ".join("%s=%s" % (key, identity[key]) for key in IDENTITY_KEYS if identity[key])


def _host_label(host):
    return " / ".join(part for part in (host["inventory_hostname"], host["name"]) if part)


def _open_ports(host):
    return [_port_label(entry) for entry in host["ports"] if entry["state"] == "open"]


def _state_counts(states):
    return ", ".join("%d %s" % (states[state], state) for state in STATES + (ABSENT,) if states.get(state))


def render_junit(document):
    """JUnit XML: testsuite bjnp.hosts, one case per listed address (an open port fails) and one for
    the clean addresses counted, and bjnp.firewall (a rollback fails)."""
    root = ET.Element("testsuites", name=xml_text(document["title"]))
    suites = []

    hosts_suite = ET.Element("testsuite", name="bjnp.hosts", timestamp=document["generated"][:-1])
    properties = ET.SubElement(hosts_suite, "properties")
    for key in ("name", "change_id", "run_id", "slice_id", "generated"):
        if document[key]:
            ET.SubElement(properties, "property", name=key, value=xml_text(document[key]))
    if document["slices"]:
        ET.SubElement(properties, "property", name="slices", value=xml_text(" ".join(document["slices"])))
    for host in document["hosts"]:
        case = ET.SubElement(hosts_suite, "testcase", classname="bjnp.hosts", name=xml_text(host["address"]),
                             time="0")
        opened = _open_ports(host)
        if opened:
            failure = ET.SubElement(case, "failure", type="exposed", message=xml_text(
                "%s open on %s%s" % (", ".join(opened), host["address"],
                                     " (%s)" % _host_label(host) if _host_label(host) else "")))
            failure.text = xml_text("; ".join(host["models"]) or "no BJNP identity")
        out = ["%s: %s" % (key, host[key]) for key in ("inventory_hostname", "name", "probed_from") if host[key]]
        for entry in host["ports"]:
            out.append("%s %s: %s%s" % (_port_label(entry), entry["service"] or "unknown", entry["state"],
                                        " (before: %s)" % entry["state_before"] if entry["state_before"] else ""))
            if entry["identity"]:
                out.append("  identity: %s" % _identity_line(entry["identity"]))
        ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    clean = document["clean"]
    if clean["addresses"]:
        case = ET.SubElement(hosts_suite, "testcase", classname="bjnp.hosts",
                             name="%d clean addresses" % clean["addresses"], time="0")
        out = ["%s: %s" % (_port_label(column), _state_counts(column["states"])) for column in clean["ports"]]
        if clean["without_ports"]:
            out.append("%d addresses without an open port, not returned by the probe (only_exposed)"
                       % clean["without_ports"])
        ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    suites.append(hosts_suite)

    with_firewall = [item for item in document["managed"] if item["firewall"]]
    if with_firewall:
        fw_suite = ET.Element("testsuite", name="bjnp.firewall", timestamp=document["generated"][:-1])
        for item in with_firewall:
            result = item["firewall"]
            case = ET.SubElement(fw_suite, "testcase", classname="bjnp.firewall",
                                 name=xml_text(item["inventory_hostname"]), time="0")
            if result["rolled_back"]:
                failure = ET.SubElement(case, "failure", type="rolled_back",
                                        message=xml_text("%s: rolled back" % item["inventory_hostname"]))
                failure.text = xml_text(result["message"] or "")
            ET.SubElement(case, "system-out").text = xml_text("\n".join(
                "%s: %s" % (key, result[key]) for key in ("backend", "state", "changed", "backup", "message")))
        suites.append(fw_suite)

    _finish_suites(root, suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def probe_message(document, hosts=MESSAGE_HOSTS):
    """The playbook's closing lines: the counts, then each exposed address (the first ``hosts``)
    with its inventory name, printer and open ports, and a count of the rest."""
    summary = document["summary"]
    lines = ["%d of %s expose %s" % (summary["exposed"], _many(summary["hosts"], "address", "addresses"),
                                     _many(summary["open_ports"], "open BJNP/raw-print port"))]
    exposed = [host for host in document["hosts"] if host["exposed"]]
    for host in exposed[:hosts]:
        lines.append("%s%s: %s; open %s" % (
            host["address"], " (%s)" % _host_label(host) if _host_label(host) else "",
            ", ".join(host["models"]) or "no BJNP identity", ", ".join(_open_ports(host))))
    if len(exposed) > hosts:
        lines.append("... and %d more exposed addresses (see the report)" % (len(exposed) - hosts))
    return lines


def _e(value):
    return html.escape(xml_text("" if value is None else value), quote=True)


# Every text colour on its background is at least 4.5:1 (WCAG 2 AA for normal text); the unit
# tests compute it.
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.6em}
.meta{color:#555;margin:0 0 1em}
table{border-collapse:collapse;margin:.4em 0}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eee}
.counts td{text-align:right}
td.open{background:#c62828;color:#fff;font-weight:bold}
td.closed{background:#2e7d32;color:#fff}
td.filtered{background:#ffb300;color:#222}
td.open-filtered{background:#cfd8dc;color:#222}
td.absent{background:#fff;color:#6b6b6b}
td.changed{outline:3px solid #1e88e5;outline-offset:-3px}
.bad{color:#c62828;font-weight:bold}.good{color:#2e7d32}
code{font-size:.95em}
"""


def _state_class(state):
    return "open-filtered" if state == "open|filtered" else state


def _columns(hosts):
    columns = set()
    for host in hosts:
        for entry in host["ports"]:
            columns.add((entry["protocol"], entry["port"], entry["service"] or ""))
    return sorted(columns, key=lambda column: (PROTOCOLS.index(column[0]), column[1]))


def _ports_table(table_id, hosts, comparison):
    """One row per address, one state cell per port; ``hosts`` is not empty."""
    columns = _columns(hosts)
    out = ['<table id="%s"><thead><tr><th>address</th><th>host</th><th>printer</th>' % table_id]
    for protocol, port, service in columns:
        out.append("<th>%s/%d<br><small>%s</small></th>" % (protocol, port, _e(service)))
    out.append("</tr></thead><tbody>")
    for host in hosts:
        by_key = dict(((entry["protocol"], entry["port"]), entry) for entry in host["ports"])
        address = _e(host["address"])
        row = ['<tr class="%s" data-address="%s"><td>%s</td><td>%s</td><td>%s</td>' % (
            "exposed" if host["exposed"] else "clean", address, address, _e(_host_label(host)),
            "<br>".join(_e(model) for model in host["models"]))]
        for protocol, port, _service in columns:
            entry = by_key.get((protocol, port))
            if entry is None:
                row.append('<td class="absent" data-address="%s" data-port="%s/%d" data-state="absent"></td>'
                           % (address, protocol, port))
                continue
            classes = _state_class(entry["state"]) + (" changed" if entry["changed"] else "")
            if comparison and entry["changed"]:
                text = "%s &rarr; %s" % (_e(entry["state_before"]), _e(entry["state"]))
            else:
                text = _e(entry["state"])
            before_attr = ' data-state-before="%s"' % _e(entry["state_before"]) if comparison else ""
            row.append('<td class="%s" data-address="%s" data-port="%s" data-state="%s"%s>%s</td>' % (
                classes, address, _port_label(entry), _e(entry["state"]), before_attr, text))
        row.append("</tr>")
        out.append("".join(row))
    out.append("</tbody></table>")
    return out


def render_html(document):
    """One self-contained page: no scripts, no external resources, every string escaped.

    The exposed (and, in a comparison, the changed) addresses and their printers come first; the
    clean ones follow in a collapsed section, the listed ones as rows and the rest as counts.
    """
    summary = document["summary"]
    comparison = document["comparison"]
    out = _page_head(document["title"], _CSS) + [
        '<p class="meta">%s report, generated %s%s%s%s%s</p>' % (
            _e(document["name"]), _e(document["generated"]),
            ", change <code>%s</code>" % _e(document["change_id"]) if document["change_id"] else "",
            ", run <code>%s</code>" % _e(document["run_id"]) if document["run_id"] else "",
            ", slice <code>%s</code>" % _e(document["slice_id"]) if document["slice_id"] else "",
            ", merged from %d slices: %s" % (len(document["slices"]), ", ".join(
                "<code>%s</code>" % _e(item) for item in document["slices"])) if document["slices"] else ""),
    ]

    out.append('<h2>Summary</h2><table id="summary" class="counts"><tr><th></th>%s<th>now</th></tr>'
               % ("<th>before</th>" if comparison else ""))
    for key, label in (("hosts", "addresses probed"), ("exposed", "exposed addresses"),
                       ("open_ports", "open ports")):
        before = "<td>%s</td>" % summary["before"][key] if comparison else ""
        css = ' class="bad"' if key != "hosts" and summary[key] else ""
        out.append('<tr data-key="%s"><th>%s</th>%s<td%s>%s</td></tr>' % (key, label, before, css, summary[key]))
    for key, label in (("clean", "clean addresses"), ("managed", "managed hosts"),
                       ("firewall_changed", "firewalls changed"), ("backups", "backups taken"),
                       ("rolled_back", "rolled back"), ("listeners", "local listeners")):
        css = ' class="bad"' if key == "rolled_back" and summary[key] else ""
        out.append('<tr data-key="%s"><th>%s</th>%s<td%s>%s</td></tr>' % (
            key, label, "<td></td>" if comparison else "", css, summary[key]))
    out.append("</table>")

    # Words, not swatches: the only state colours on the page are the cells' own.
    legend = ('<p class="legend">Cells: red open, green closed, amber filtered, grey open|filtered'
              ' (UDP silence: no proof either way)%s.</p>'
              % ("; a blue outline marks a port this run changed" if comparison else ""))

    def leads(host):
        return host["exposed"] or any(entry["changed"] for entry in host["ports"])

    leading = [host for host in document["hosts"] if leads(host)]
    rest = [host for host in document["hosts"] if not leads(host)]
    out.append("<h2>%s</h2>" % ("Exposed and changed addresses" if comparison else "Exposed addresses"))
    if leading:
        out.append(legend)
        out.extend(_ports_table("ports", leading, comparison))
    elif summary["hosts"]:
        out.append('<p class="good">None: no address has an open BJNP or raw-print port.</p>')
    else:
        out.append("<p>Nothing was probed.</p>")

    printers = [(host, entry) for host in leading for entry in host["ports"] if entry["identity"]]
    if printers:
        out.append('<h2>Printers (what BJNP gives away)</h2><table id="printers"><thead><tr><th>address</th>'
                   "<th>port</th><th>manufacturer</th><th>model</th><th>description</th><th>firmware</th>"
                   "<th>MAC</th><th>IEEE 1284 device ID</th></tr></thead><tbody>")
        for host, entry in printers:
            identity = entry["identity"]
            out.append("<tr><td>%s</td><td>%s</td>%s<td><code>%s</code></td></tr>" % (
                _e(host["address"]), _port_label(entry),
                "".join("<td>%s</td>" % _e(identity[key])
                        for key in ("manufacturer", "model", "description", "firmware", "mac")),
                _e(identity["raw"])))
        out.append("</tbody></table>")

    clean = document["clean"]
    if rest or clean["addresses"]:
        out.append('<details id="clean"><summary>%s without an open port%s</summary>' % (
            _many(len(rest) + clean["addresses"], "clean address", "clean addresses"),
            " (%d listed: inventory hosts)" % len(rest) if rest and clean["addresses"] else ""))
        if rest:
            out.append(legend)
            out.extend(_ports_table("clean-hosts", rest, comparison))
        if clean["addresses"]:
            out.append('<table id="clean-counts" class="counts"><thead><tr><th>port</th><th>service</th>%s'
                       "</tr></thead><tbody>" % "".join("<th>%s</th>" % _e(state) for state in STATES))
            for column in clean["ports"]:
                out.append('<tr data-count-port="%s"><td>%s</td><td>%s</td>%s</tr>' % (
                    _port_label(column), _port_label(column), _e(column["service"]),
                    "".join("<td>%d</td>" % column["states"].get(state, 0) for state in STATES)))
            out.append("</tbody></table>")
            if clean["without_ports"]:
                out.append("<p>%s not returned by the probe (only_exposed): counted, without port states.</p>"
                           % _many(clean["without_ports"], "address", "addresses"))
        out.append("</details>")

    with_firewall = [item for item in document["managed"] if item["firewall"]]
    if with_firewall:
        out.append('<h2>Firewall changes and backups</h2><table id="firewall"><thead><tr><th>host</th>'
                   "<th>backend</th><th>state</th><th>changed</th><th>backup</th><th>rolled back</th>"
                   "<th>message</th></tr></thead><tbody>")
        for item in with_firewall:
            result = item["firewall"]
            out.append('<tr data-host="%s"><td>%s</td><td>%s</td><td>%s</td><td%s>%s</td><td><code>%s</code></td>'
                       '<td%s>%s</td><td>%s</td></tr>' % (
                           _e(item["inventory_hostname"]), _e(item["inventory_hostname"]),
                           _e(result["backend"]), _e(result["state"]),
                           ' class="good"' if result["changed"] else "", "yes" if result["changed"] else "no",
                           _e(result["backup"] or "none"),
                           ' class="bad"' if result["rolled_back"] else "", "yes" if result["rolled_back"] else "no",
                           _e(result["message"])))
        out.append("</tbody></table>")

    with_listeners = [item for item in document["managed"] if item["listeners"]]
    if with_listeners:
        out.append('<h2>Local listeners on BJNP / raw-print ports</h2><table id="listeners"><thead><tr>'
                   "<th>host</th><th>port</th><th>address</th><th>process</th><th>pid</th></tr></thead><tbody>")
        for item in with_listeners:
            for entry in item["listeners"]:
                out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                    _e(item["inventory_hostname"]), _port_label(entry), _e(entry["address"]),
                    _e(entry["process"]), _e(entry["pid"])))
        out.append("</tbody></table>")

    out.append('<p class="meta">Written by %s, schema_version %d.</p></body></html>'
               % (GENERATOR, document["schema_version"]))
    return "\n".join(out) + "\n"


RENDERERS = {"json": render_json, "junit": render_junit, "html": render_html}


# --- the monitor report ----------------------------------------------------------------
# netsec.bjnp.monitor: who still knocks on the closed ports (the netsec.bjnp.attempts results of
# the managed hosts). Its own document, JUnit and HTML, apart from the probe reports above.
# Source addresses and times come from log lines, which anyone who can write to the log can
# forge: they are escaped like the identity strings, and an allow entry is suggested only when
# it is an address the firewall role accepts.

MONITOR = "monitor"
MODES = ("host", "gateway")
# Source rows per host on the HTML page (the JSON has them all).
HTML_SOURCES_PER_HOST = 200
MESSAGE_SUSPECTS = 10
_PORT_LABEL = re.compile(r"^(tcp|udp)/(\d+)(?:-(\d+))?$")


def _count(value, where, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not re.match(r"^\s*\d+\s*$", u"%s" % (value,)):
        return _fail(where, "%r is not a count (a whole number from 0)" % (value,))
    return int(value)


def _port_or_range(value, where):
    """``9100`` (an int) or ``"8611-8614"`` (a range, as the counters name it)."""
    text = _text(value, where, allow_none=False).strip()
    low, sep, high = text.partition("-")
    if not sep:
        return _port(low, where)
    first, last = _port(low, where), _port(high, where)
    if first > last:
        _fail(where, "port range %r runs backwards" % (value,))
    return text if first != last else first


def _port_text(protocol, port):
    return "%s/%s" % (protocol, port)


def _port_label_of(value, where):
    """``tcp/9100``, as the collector names the ports of a suspected print server."""
    text = _text(value, where, allow_none=False).strip().lower()
    match = _PORT_LABEL.match(text)
    if not match:
        _fail(where, "%r is not a port like tcp/9100" % (value,))
    _port_or_range(text.split("/", 1)[1], where)
    return text


def _mode(value, where):
    return None if value is None else _choice(value, MODES, where)


def _attempt_source(value, where):
    value = _dict(value, where, allow_none=False)
    return {
        "address": _text(value.get("address"), where + ".address", allow_none=False),
        "protocol": _choice(value.get("protocol"), PROTOCOLS, where + ".protocol"),
        "port": _port_or_range(value.get("port"), where + ".port"),
        "packets": _count(value.get("packets"), where + ".packets"),
        "connections": _count(value.get("connections"), where + ".connections", allow_none=True),
        "first_seen": _text(value.get("first_seen"), where + ".first_seen"),
        "last_seen": _text(value.get("last_seen"), where + ".last_seen"),
        "mode": _mode(value.get("mode"), where + ".mode"),
        "destinations": [_text(item, "%s.destinations[%d]" % (where, index), allow_none=False)
                         for index, item in enumerate(_list(value.get("destinations"), where + ".destinations"))],
    }


def _attempt_counter(value, where):
    value = _dict(value, where, allow_none=False)
    return {
        "mode": _mode(value.get("mode"), where + ".mode"),
        "protocol": _choice(value.get("protocol"), PROTOCOLS, where + ".protocol"),
        "ports": u"%s" % _port_or_range(value.get("ports"), where + ".ports"),
        "packets": _count(value.get("packets"), where + ".packets"),
        "bytes": _count(value.get("bytes"), where + ".bytes", allow_none=True),
    }


def _attempt_total(value, where):
    value = _dict(value, where, allow_none=False)
    return {
        "protocol": _choice(value.get("protocol"), PROTOCOLS, where + ".protocol"),
        "port": _port_or_range(value.get("port"), where + ".port"),
        "packets_logged": _count(value.get("packets_logged"), where + ".packets_logged"),
        "packets_counted": _count(value.get("packets_counted"), where + ".packets_counted", allow_none=True),
        "sources": _count(value.get("sources"), where + ".sources"),
    }


def _allow_entry(value, where):
    """``(entry, problem)``: the entry when the firewall role would accept it, else why not."""
    text = _text(value, where)
    if text is None or not text.strip():
        return None, "no allow entry: the collector found none the firewall role would accept"
    try:
        parse_network(text)
    except ValueError as exc:
        return None, "not suggested: %s" % exc
    return text.strip(), None


def _suspect(value, where):
    value = _dict(value, where, allow_none=False)
    entry, problem = _allow_entry(value.get("allow_entry"), where + ".allow_entry")
    return {
        "address": _text(value.get("address"), where + ".address", allow_none=False),
        "ports": [_port_label_of(item, "%s.ports[%d]" % (where, index))
                  for index, item in enumerate(_list(value.get("ports"), where + ".ports"))],
        "connections": _count(value.get("connections"), where + ".connections"),
        "allow_entry": entry,
        "problem": problem,
    }


def _not_collected(host, error):
    return {
        "inventory_hostname": host, "collected": False, "error": error, "since": None, "log_source": None,
        "backend": None, "counters_available": False, "attempts": 0, "addresses": 0, "packets_counted": None,
        "log_limited": False, "truncated": False, "warnings": [], "counters": [], "totals": [], "sources": [],
        "suspected_print_servers": [],
    }


def _monitor_host(host, value):
    """One managed host's collector result, checked and summed up."""
    where = "attempts.%s" % host
    value = _dict(value, where, allow_none=False)
    if value.get("failed") or value.get("unreachable"):
        return _not_collected(host, _text(value.get("msg"), where + ".msg") or "the collector failed (no message)")
    if value.get("skipped"):
        return _not_collected(host, "the collector was skipped on this host")
    if "sources" not in value:
        _fail(where, "has no 'sources': pass a registered netsec.bjnp.attempts result")
    sources = [_attempt_source(item, "%s.sources[%d]" % (where, index))
               for index, item in enumerate(_list(value["sources"], where + ".sources"))]
    sources.sort(key=lambda item: (-item["packets"], address_key(item["address"]), item["protocol"],
                                   u"%s" % item["port"]))
    totals = [_attempt_total(item, "%s.totals[%d]" % (where, index))
              for index, item in enumerate(_list(value.get("totals"), where + ".totals"))]
    counters = [_attempt_counter(item, "%s.counters[%d]" % (where, index))
                for index, item in enumerate(_list(value.get("counters"), where + ".counters"))]
    counters_available = _bool(value.get("counters_available"), where + ".counters_available")
    suspects = [_suspect(item, "%s.suspected_print_servers[%d]" % (where, index))
                for index, item in enumerate(_list(value.get("suspected_print_servers"),
                                                   where + ".suspected_print_servers"))]
    # The totals cover every log line read; the source list may have been cut (truncated).
    attempts = (sum(item["packets_logged"] for item in totals) if totals
                else sum(item["packets"] for item in sources))
    return {
        "inventory_hostname": host,
        "collected": True,
        "error": None,
        "since": _text(value.get("since"), where + ".since"),
        "log_source": _text(value.get("log_source"), where + ".log_source"),
        "backend": _text(value.get("backend"), where + ".backend"),
        "counters_available": counters_available,
        "attempts": attempts,
        "addresses": len(set(item["address"] for item in sources)),
        "packets_counted": sum(item["packets"] for item in counters) if counters_available else None,
        "log_limited": _bool(value.get("log_limited"), where + ".log_limited"),
        "truncated": _bool(value.get("truncated"), where + ".truncated"),
        "warnings": [_text(item, "%s.warnings[%d]" % (where, index), allow_none=False)
                     for index, item in enumerate(_list(value.get("warnings"), where + ".warnings"))],
        "counters": counters,
        "totals": totals,
        "sources": sources,
        "suspected_print_servers": suspects,
    }


def allow_line(entry):
    """What to add to the inventory: ``bjnp_allowed_sources: [..., "10.0.0.20"]``."""
    return u"bjnp_allowed_sources: [..., %s]" % json.dumps(entry, ensure_ascii=False)


def _merge_suspects(managed):
    """One entry per allow entry (else address) over every host that saw it."""
    merged = {}
    for item in managed:
        for suspect in item["suspected_print_servers"]:
            key = suspect["allow_entry"] or suspect["address"]
            entry = merged.setdefault(key, {
                "address": suspect["address"], "allow_entry": suspect["allow_entry"],
                "allow_line": allow_line(suspect["allow_entry"]) if suspect["allow_entry"] else None,
                "problem": suspect["problem"], "ports": [], "connections": 0, "hosts": []})
            entry["connections"] += suspect["connections"]
            for label in suspect["ports"]:
                if label not in entry["ports"]:
                    entry["ports"].append(label)
            if item["inventory_hostname"] not in entry["hosts"]:
                entry["hosts"].append(item["inventory_hostname"])
    found = list(merged.values())
    for entry in found:
        entry["ports"].sort(key=lambda label: (label.split("/")[0], int(re.split(r"[/-]", label)[1])))
    found.sort(key=lambda entry: (-entry["connections"], address_key(entry["address"])))
    return found


def build_monitor_document(attempts, change_id=None, title=None, now=None):
    """The monitor report (docs/reports.md): ``attempts`` maps inventory host -> attempts result."""
    now = now or utc_now()
    attempts = _dict(attempts, "attempts")
    managed = [_monitor_host(host, attempts[key]) for host, key in
               sorted((_text(key, "attempts", allow_none=False), key) for key in attempts)]
    suspects = _merge_suspects(managed)
    collected = [item for item in managed if item["collected"]]
    counted = [item["packets_counted"] for item in collected if item["packets_counted"] is not None]
    summary = {
        "managed": len(managed),
        "collected": len(collected),
        "not_collected": len(managed) - len(collected),
        "with_attempts": sum(1 for item in collected if item["attempts"]),
        "attempts": sum(item["attempts"] for item in collected),
        "addresses": len(set(source["address"] for item in collected for source in item["sources"])),
        "packets_counted": sum(counted) if counted else None,
        "log_limited": sum(1 for item in collected if item["log_limited"]),
        "suspected_print_servers": len(suspects),
    }
    document = _header(MONITOR, title, change_id, now, MONITOR_SCHEMA_VERSION)
    document.update(summary=summary, managed=managed, suspected_print_servers=suspects)
    return document


def _host_notes(item):
    """What a reader must know about one host's numbers, in words."""
    if not item["collected"]:
        return ["not collected: %s" % item["error"]]
    notes = []
    if item["log_limited"]:
        notes.append("the log is rate-limited: more attempts were blocked than logged%s" % (
            " (the counters counted %d packets since the rules were loaded)" % item["packets_counted"]
            if item["packets_counted"] is not None else ""))
    if item["truncated"]:
        notes.append("only the newest log lines were read (max_lines): older attempts are missing")
    if not item["counters_available"]:
        notes.append("no counters on this backend: only the log tells")
    return notes + item["warnings"]


def _many(number, word, plural=None):
    """``1 source``, ``2 sources``."""
    return "%d %s" % (number, word if number == 1 else plural or word + "s")


def _suspect_text(suspect):
    return "%s (%s, %s, seen on %s): %s" % (
        suspect["address"], ", ".join(suspect["ports"]), _many(suspect["connections"], "connection"),
        ", ".join(suspect["hosts"]),
        "if it is a print server, add %s" % suspect["allow_line"] if suspect["allow_entry"] else suspect["problem"])


def monitor_message(document, hosts=MESSAGE_HOSTS, suspects=MESSAGE_SUSPECTS):
    """The playbook's closing lines: hosts with attempts first (most first), then the suspects."""
    summary = document["summary"]
    lines = ["%s from %s on %d of %s%s; %s" % (
        _many(summary["attempts"], "attempt"), _many(summary["addresses"], "source address", "source addresses"),
        summary["with_attempts"], _many(summary["managed"], "managed host"),
        " (%d not collected)" % summary["not_collected"] if summary["not_collected"] else "",
        _many(summary["suspected_print_servers"], "suspected print server"))]
    ordered = sorted(document["managed"], key=lambda item: (item["collected"], -item["attempts"]))
    ordered = [item for item in ordered if not item["collected"] or item["attempts"]]
    for item in ordered[:hosts]:
        if item["collected"]:
            lines.append("%s: %s from %s%s" % (
                item["inventory_hostname"], _many(item["attempts"], "attempt"), _many(item["addresses"], "source"),
                " (log rate-limited)" if item["log_limited"] else ""))
        else:
            lines.append("%s: not collected: %s" % (item["inventory_hostname"], item["error"]))
    if len(ordered) > hosts:
        lines.append("... and %d more hosts with attempts (see the report)" % (len(ordered) - hosts))
    quiet = summary["collected"] - summary["with_attempts"]
    if quiet:
        lines.append("%s without attempts" % _many(quiet, "host"))
    for suspect in document["suspected_print_servers"][:suspects]:
        lines.append("possibly a print server you forgot to allow: " + _suspect_text(suspect))
    if len(document["suspected_print_servers"]) > suspects:
        lines.append("... and %d more suspected print servers (see the report)"
                     % (len(document["suspected_print_servers"]) - suspects))
    return lines


def _source_line(source):
    return "%s %s: %d packets, %s connections, first %s, last %s%s%s" % (
        source["address"], _port_text(source["protocol"], source["port"]), source["packets"],
        "?" if source["connections"] is None else source["connections"], source["first_seen"] or "?",
        source["last_seen"] or "?", ", %s mode" % source["mode"] if source["mode"] else "",
        " to %s" % ", ".join(source["destinations"]) if source["destinations"] else "")


def _finish_suites(root, suites):
    total = failures = errors = 0
    for suite in suites:
        cases = suite.findall("testcase")
        failed = sum(1 for case in cases if case.find("failure") is not None)
        erred = sum(1 for case in cases if case.find("error") is not None)
        for key, number in (("tests", len(cases)), ("failures", failed), ("errors", erred), ("skipped", 0)):
            suite.set(key, str(number))
        suite.set("time", "0")
        total, failures, errors = total + len(cases), failures + failed, errors + erred
        root.append(suite)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))


def render_monitor_junit(document):
    """JUnit XML: bjnp.attempts (a managed host with attempts fails, one not collected errs) and
    bjnp.print_servers (every suspected print server fails), so a CI job can gate on either."""
    root = ET.Element("testsuites", name=xml_text(document["title"]))
    stamp = document["generated"][:-1]
    hosts_suite = ET.Element("testsuite", name="bjnp.attempts", timestamp=stamp)
    properties = ET.SubElement(hosts_suite, "properties")
    for key in ("name", "change_id", "generated"):
        if document[key]:
            ET.SubElement(properties, "property", name=key, value=xml_text(document[key]))
    for item in document["managed"]:
        host = item["inventory_hostname"]
        case = ET.SubElement(hosts_suite, "testcase", classname="bjnp.attempts", name=xml_text(host), time="0")
        if not item["collected"]:
            error = ET.SubElement(case, "error", type="not_collected",
                                  message=xml_text("%s: attempts not collected" % host))
            error.text = xml_text(item["error"])
        elif item["attempts"]:
            failure = ET.SubElement(case, "failure", type="attempts", message=xml_text(
                "%s: %s from %s" % (host, _many(item["attempts"], "blocked attempt"),
                                    _many(item["addresses"], "source"))))
            failure.text = xml_text("\n".join(_source_line(source) for source in item["sources"]))
        out = ["since: %s" % item["since"], "log_source: %s" % item["log_source"], "backend: %s" % item["backend"],
               "packets_counted: %s" % item["packets_counted"]] if item["collected"] else []
        out.extend("note: %s" % note for note in _host_notes(item) if item["collected"])
        if out:
            ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    suites = [hosts_suite]
    if document["suspected_print_servers"]:
        servers_suite = ET.Element("testsuite", name="bjnp.print_servers", timestamp=stamp)
        for suspect in document["suspected_print_servers"]:
            case = ET.SubElement(servers_suite, "testcase", classname="bjnp.print_servers",
                                 name=xml_text(suspect["address"]), time="0")
            failure = ET.SubElement(case, "failure", type="suspected_print_server", message=xml_text(
                "%s looks like a print server that is not allowed" % suspect["address"]))
            failure.text = xml_text(_suspect_text(suspect))
        suites.append(servers_suite)
    _finish_suites(root, suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# The probe pages' stylesheet plus the monitor's cells; every pair is AA (the unit tests check).
_MONITOR_CSS = _CSS + """
td.attempts{background:#ffb300;color:#222;font-weight:bold}
td.quiet{background:#2e7d32;color:#fff}
td.not-collected{background:#555;color:#fff}
td.suspect{background:#c62828;color:#fff;font-weight:bold}
pre{background:#f4f4f4;color:#222;padding:.3em .5em;margin:.2em 0;white-space:pre-wrap}
"""


def _monitor_state(item):
    if not item["collected"]:
        return "not-collected"
    return "attempts" if item["attempts"] else "quiet"


def _page_head(title, css):
    """The start of a report page: its own stylesheet only (the CSP forbids scripts), then the title."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="generator" content="%s">' % GENERATOR,
        "<title>%s</title>" % _e(title),
        "<style>%s</style></head><body>" % css,
        "<h1>%s</h1>" % _e(title),
    ]


def render_monitor_html(document):
    """One self-contained page: no scripts, no external resources, every string escaped."""
    summary = document["summary"]
    out = _page_head(document["title"], _MONITOR_CSS) + [
        '<p class="meta">monitor report (who knocks on the closed BJNP and raw-print ports), generated %s%s</p>' % (
            _e(document["generated"]),
            ", change <code>%s</code>" % _e(document["change_id"]) if document["change_id"] else ""),
        '<h2>Summary</h2><table id="summary" class="counts">',
    ]
    for key, label in (("managed", "managed hosts"), ("collected", "hosts read"),
                       ("not_collected", "hosts not read"), ("with_attempts", "hosts with attempts"),
                       ("attempts", "attempts logged"), ("addresses", "source addresses"),
                       ("packets_counted", "packets counted since the rules were loaded"),
                       ("log_limited", "hosts whose log was rate-limited"),
                       ("suspected_print_servers", "suspected print servers")):
        value = summary[key]
        css = ' class="bad"' if key in ("not_collected", "suspected_print_servers") and value else ""
        out.append('<tr data-key="%s"><th>%s</th><td%s>%s</td></tr>' % (
            key, label, css, "n/a" if value is None else value))
    out.append("</table>")

    suspects = document["suspected_print_servers"]
    out.append('<h2 id="print-servers">Possibly a print server you forgot to allow</h2>')
    if suspects:
        out.append("<p>These sources kept opening connections to TCP 9100 or 8611, as a print server sending "
                   "jobs does. If one is a print server of yours, add its entry to <code>bjnp_allowed_sources</code> "
                   "of the hosts it was seen on and run netsec.bjnp.remediate; if not, find out who it is.</p>")
        out.append('<table id="suspects"><thead><tr><th>source</th><th>ports</th><th>connections</th>'
                   "<th>seen on</th><th>add to the inventory</th></tr></thead><tbody>")
        for suspect in suspects:
            suggestion = ("<pre>%s</pre>" % _e(suspect["allow_line"]) if suspect["allow_entry"]
                          else '<span class="bad">%s</span>' % _e(suspect["problem"]))
            out.append('<tr data-address="%s"><td class="suspect" data-address="%s" data-state="suspect">%s</td>'
                       "<td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>" % (
                           _e(suspect["address"]), _e(suspect["address"]), _e(suspect["address"]),
                           _e(", ".join(suspect["ports"])), suspect["connections"],
                           _e(", ".join(suspect["hosts"])), suggestion))
        out.append("</tbody></table>")
    else:
        out.append("<p>None: no source looked like a print server.</p>")

    out.append("<h2>Attempts per host</h2>")
    if document["managed"]:
        out.append('<p class="legend">Cells: amber attempts were logged, green none, grey the host could not '
                   "be read. Counted: every packet since the rules were loaded; logged: rate-limited.</p>")
        out.append('<table id="hosts"><thead><tr><th>host</th><th>attempts logged</th><th>sources</th>'
                   "<th>per port: logged / counted</th><th>log</th><th>backend</th><th>since</th><th>notes</th>"
                   "</tr></thead><tbody>")
        for item in document["managed"]:
            state = _monitor_state(item)
            ports = "<br>".join("%s: %d / %s" % (
                _e(_port_text(total["protocol"], total["port"])), total["packets_logged"],
                "n/a" if total["packets_counted"] is None else total["packets_counted"]) for total in item["totals"])
            out.append('<tr data-host="%s"><td>%s</td><td class="%s" data-host="%s" data-state="%s">%s</td>'
                       "<td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                           _e(item["inventory_hostname"]), _e(item["inventory_hostname"]), state,
                           _e(item["inventory_hostname"]), state,
                           item["attempts"] if item["collected"] else "not read", item["addresses"], ports,
                           _e(item["log_source"] or ""), _e(item["backend"] or ""), _e(item["since"] or ""),
                           "<br>".join(_e(note) for note in _host_notes(item))))
        out.append("</tbody></table>")
    else:
        out.append("<p>No managed host was given.</p>")

    with_sources = [item for item in document["managed"] if item["sources"]]
    if with_sources:
        out.append('<h2>Sources that hit our rules</h2><table id="sources"><thead><tr><th>host</th>'
                   "<th>source</th><th>port</th><th>packets</th><th>connections</th><th>first seen</th>"
                   "<th>last seen</th><th>mode</th><th>destinations</th></tr></thead><tbody>")
        for item in with_sources:
            for source in item["sources"][:HTML_SOURCES_PER_HOST]:
                out.append('<tr data-host="%s" data-address="%s" data-port="%s"><td>%s</td><td>%s</td><td>%s</td>'
                           "<td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                               _e(item["inventory_hostname"]), _e(source["address"]),
                               _e(_port_text(source["protocol"], source["port"])),
                               _e(item["inventory_hostname"]), _e(source["address"]),
                               _e(_port_text(source["protocol"], source["port"])), source["packets"],
                               "" if source["connections"] is None else source["connections"],
                               _e(source["first_seen"]), _e(source["last_seen"]), _e(source["mode"]),
                               _e(", ".join(source["destinations"]))))
            if len(item["sources"]) > HTML_SOURCES_PER_HOST:
                out.append('<tr><td>%s</td><td colspan="8">... and %d more sources (the JSON report has them all)'
                           "</td></tr>" % (_e(item["inventory_hostname"]),
                                           len(item["sources"]) - HTML_SOURCES_PER_HOST))
        out.append("</tbody></table>")

    out.append('<p class="meta">Source addresses are personal data in many jurisdictions: keep this report only '
               "as long as your retention policy allows. Written by %s, schema_version %d.</p></body></html>"
               % (GENERATOR, document["schema_version"]))
    return "\n".join(out) + "\n"


MONITOR_RENDERERS = {"json": render_json, "junit": render_monitor_junit, "html": render_monitor_html}
