# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build and render the detect/remediate/verify reports (docs/reports.md).

Pure functions: ``build_document`` validates what the playbooks pass and returns the JSON
document (schema_version 1, every key always present); ``render_json``, ``render_junit`` and
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

SCHEMA_VERSION = 1
GENERATOR = "netsec.bjnp.report"
NAMES = ("detect", "remediate", "verify", "rollback")
FORMATS = ("json", "junit", "html")
EXTENSIONS = {"json": "json", "junit": "xml", "html": "html"}
STATES = ("open", "closed", "filtered", "open|filtered")
# A port present in only one of the before/after probes.
ABSENT = "absent"
PROTOCOLS = ("tcp", "udp")
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
        hosts[address] = {"name": _text(host.get("name"), here + ".name"), "ports": ports}
    summary = _dict(result.get("summary"), where + ".summary")
    targets = summary.get("targets")
    elapsed = summary.get("elapsed")
    return {
        "hosts": hosts,
        "targets": targets if isinstance(targets, int) and not isinstance(targets, bool) else None,
        "elapsed": elapsed if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) else None,
    }


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


def build_document(name, probe=None, listeners=None, firewall=None, inventory=None,
                   change_id=None, title=None, now=None):
    """The report document (docs/reports.md). ``now`` is a UTC datetime (default: now)."""
    name = _choice(name, NAMES, "name")
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

    hosts = []
    after_hosts = after["hosts"] if after else {}
    before_hosts = before["hosts"] if comparison else {}
    for address in sorted(set(after_hosts) | set(before_hosts), key=address_key):
        now_host = after_hosts.get(address, {"name": None, "ports": {}})
        old_host = before_hosts.get(address, {"name": None, "ports": {}})
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
        hosts.append({
            "address": address,
            "name": host_name,
            "inventory_hostname": inventory_hostname,
            "exposed": any(entry["state"] == "open" for entry in ports),
            "exposed_before": any(entry["state_before"] == "open" for entry in ports) if comparison else None,
            "models": _models(ports),
            "ports": ports,
        })

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
    summary = {
        "hosts": targets if targets is not None and targets >= len(hosts) else len(hosts),
        "exposed": exposed,
        "open_ports": open_ports,
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
        before_count = len([host for host in hosts if any(p["state_before"] != ABSENT for p in host["ports"])])
        summary["before"] = {
            "hosts": before_targets if before_targets is not None and before_targets >= before_count else before_count,
            "exposed": exposed_before,
            "open_ports": open_before,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": GENERATOR,
        "name": name,
        "title": _text(title, "title") or "netsec.bjnp %s" % name,
        "generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "change_id": _text(change_id, "change_id") or None,
        "comparison": comparison,
        "summary": summary,
        "hosts": hosts,
        "managed": managed,
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


def render_junit(document):
    """JUnit XML: testsuite bjnp.ports (an open port fails) and bjnp.firewall (a rollback fails)."""
    root = ET.Element("testsuites", name=xml_text(document["title"]))
    suites = []

    ports_suite = ET.Element("testsuite", name="bjnp.ports", timestamp=document["generated"][:-1])
    properties = ET.SubElement(ports_suite, "properties")
    for key in ("name", "change_id", "generated"):
        if document[key]:
            ET.SubElement(properties, "property", name=key, value=xml_text(document[key]))
    for host in document["hosts"]:
        for entry in host["ports"]:
            case = ET.SubElement(ports_suite, "testcase", classname="bjnp.%s" % xml_text(host["address"]),
                                 name=xml_text("%s %s" % (_port_label(entry), entry["service"] or "unknown")),
                                 time="0")
            if entry["state"] == "open":
                failure = ET.SubElement(case, "failure", type="exposed",
                                        message=xml_text("%s is open on %s" % (_port_label(entry), host["address"])))
                failure.text = "state: open" + (
                    " (before: %s)" % entry["state_before"] if entry["state_before"] else "")
            out = ["state: %s" % entry["state"]]
            if entry["state_before"]:
                out.append("before: %s" % entry["state_before"])
            if host["inventory_hostname"]:
                out.append("inventory_hostname: %s" % host["inventory_hostname"])
            if entry["identity"]:
                out.append("identity: %s" % _identity_line(entry["identity"]))
            ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    suites.append(ports_suite)

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

    total = failures = 0
    for suite in suites:
        cases = suite.findall("testcase")
        failed = sum(1 for case in cases if case.find("failure") is not None)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failed))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        suite.set("time", "0")
        total += len(cases)
        failures += failed
        root.append(suite)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


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


def _columns(document):
    columns = set()
    for host in document["hosts"]:
        for entry in host["ports"]:
            columns.add((entry["protocol"], entry["port"], entry["service"] or ""))
    return sorted(columns, key=lambda column: (PROTOCOLS.index(column[0]), column[1]))


def render_html(document):
    """One self-contained page: no scripts, no external resources, every string escaped."""
    summary = document["summary"]
    comparison = document["comparison"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        '<meta name="generator" content="%s">' % GENERATOR,
        "<title>%s</title>" % _e(document["title"]),
        "<style>%s</style></head><body>" % _CSS,
        "<h1>%s</h1>" % _e(document["title"]),
        '<p class="meta">%s report, generated %s%s</p>' % (
            _e(document["name"]), _e(document["generated"]),
            ", change <code>%s</code>" % _e(document["change_id"]) if document["change_id"] else ""),
    ]

    out.append('<h2>Summary</h2><table id="summary" class="counts"><tr><th></th>%s<th>now</th></tr>'
               % ("<th>before</th>" if comparison else ""))
    for key, label in (("hosts", "addresses probed"), ("exposed", "exposed addresses"),
                       ("open_ports", "open ports")):
        before = "<td>%s</td>" % summary["before"][key] if comparison else ""
        css = ' class="bad"' if key != "hosts" and summary[key] else ""
        out.append('<tr data-key="%s"><th>%s</th>%s<td%s>%s</td></tr>' % (key, label, before, css, summary[key]))
    for key, label in (("managed", "managed hosts"), ("firewall_changed", "firewalls changed"),
                       ("backups", "backups taken"), ("rolled_back", "rolled back"),
                       ("listeners", "local listeners")):
        css = ' class="bad"' if key == "rolled_back" and summary[key] else ""
        out.append('<tr data-key="%s"><th>%s</th>%s<td%s>%s</td></tr>' % (
            key, label, "<td></td>" if comparison else "", css, summary[key]))
    out.append("</table>")

    columns = _columns(document)
    out.append("<h2>Hosts and ports</h2>")
    if document["hosts"]:
        # Words, not swatches: the only state colours on the page are the cells' own.
        out.append('<p class="legend">Cells: red open, green closed, amber filtered, grey open|filtered'
                   ' (UDP silence: no proof either way)%s.</p>'
                   % ("; a blue outline marks a port this run changed" if comparison else ""))
        out.append('<table id="ports"><thead><tr><th>address</th><th>host</th><th>printer</th>')
        for protocol, port, service in columns:
            out.append("<th>%s/%d<br><small>%s</small></th>" % (protocol, port, _e(service)))
        out.append("</tr></thead><tbody>")
        for host in document["hosts"]:
            by_key = dict(((entry["protocol"], entry["port"]), entry) for entry in host["ports"])
            row_class = "exposed" if host["exposed"] else "clean"
            out.append('<tr class="%s" data-address="%s"><td>%s</td><td>%s</td><td>%s</td>' % (
                row_class, _e(host["address"]), _e(host["address"]),
                _e(" / ".join(part for part in (host["inventory_hostname"], host["name"]) if part)),
                "<br>".join(_e(model) for model in host["models"])))
            for protocol, port, _service in columns:
                entry = by_key.get((protocol, port))
                if entry is None:
                    out.append('<td class="absent" data-address="%s" data-port="%s/%d" data-state="absent"></td>'
                               % (_e(host["address"]), protocol, port))
                    continue
                classes = _state_class(entry["state"]) + (" changed" if entry["changed"] else "")
                if comparison and entry["changed"]:
                    text = "%s &rarr; %s" % (_e(entry["state_before"]), _e(entry["state"]))
                else:
                    text = _e(entry["state"])
                before_attr = ' data-state-before="%s"' % _e(entry["state_before"]) if comparison else ""
                out.append('<td class="%s" data-address="%s" data-port="%s" data-state="%s"%s>%s</td>' % (
                    classes, _e(host["address"]), _port_label(entry), _e(entry["state"]), before_attr, text))
            out.append("</tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>Nothing was probed.</p>")

    printers = [(host, entry) for host in document["hosts"] for entry in host["ports"] if entry["identity"]]
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

    out.append('<p class="meta">Written by %s, schema_version %d.</p></body></html>' % (GENERATOR, SCHEMA_VERSION))
    return "\n".join(out) + "\n"


RENDERERS = {"json": render_json, "junit": render_junit, "html": render_html}
