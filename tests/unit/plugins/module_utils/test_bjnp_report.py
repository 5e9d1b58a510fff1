# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document, its JUnit and HTML renderings, and their handling of hostile strings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import json
import re
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_report as report
from wcag_contrast import contrast_ratio

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)
IDENTITY = {"manufacturer": "Canon", "model": "MG5200 series", "description": "Canon MG5200 series",
            "firmware": "1.050", "command_set": "BJL,BJRaster3", "raw": "MFG:Canon;MDL:MG5200 series;",
            "mac": "00:1e:8f:12:34:56"}


def port(protocol, number, state, service=None, identity=None):
    entry = {"protocol": protocol, "port": number, "state": state,
             "service": service or {9100: "jetdirect", 8611: "bjnp-printer", 8612: "bjnp-scanner"}.get(number, "bjnp")}
    if identity is not None:
        entry["identity"] = identity
    return entry


def probe_result(*hosts, **summary):
    counts = dict({"targets": len(hosts), "exposed": 0, "elapsed": 0.25}, **summary)
    return {"changed": False, "hosts": list(hosts), "summary": counts}


def host(address, *ports, **extra):
    return dict({"address": address, "exposed": any(p["state"] == "open" for p in ports), "ports": list(ports)}, **extra)


PRINTER = host("127.0.0.10", port("tcp", 9100, "open"), port("udp", 8611, "open", identity=IDENTITY),
               port("udp", 8612, "open|filtered"))
QUIET = host("127.0.0.9", port("tcp", 9100, "closed"), port("udp", 8611, "open|filtered"))
V6 = host("::1", port("tcp", 9100, "filtered"), port("udp", 8611, "closed"))


def build(**kwargs):
    kwargs.setdefault("now", NOW)
    return report.build_document(kwargs.pop("name", "detect"), **kwargs)


# --- the document --------------------------------------------------------------------------

def test_detect_document_has_every_documented_key_and_sorted_hosts():
    doc = build(probe=probe_result(V6, PRINTER, QUIET), detail="all")
    assert set(doc) == {"schema_version", "generator", "name", "title", "generated", "change_id", "run_id",
                        "slice_id", "slices", "detail", "comparison", "summary", "hosts", "clean", "managed"}
    assert doc["schema_version"] == 2 and doc["generated"] == "2026-11-25T12:00:00Z"
    assert doc["title"] == "netsec.bjnp detect" and doc["comparison"] is False and doc["detail"] == "all"
    # Numeric order (.9 before .10), IPv4 before IPv6.
    assert [h["address"] for h in doc["hosts"]] == ["127.0.0.9", "127.0.0.10", "::1"]
    printer = doc["hosts"][1]
    assert set(printer) == {"address", "name", "inventory_hostname", "probed_from", "exposed", "exposed_before",
                            "models", "ports"}
    assert printer["exposed"] is True and printer["exposed_before"] is None
    assert printer["models"] == ["Canon MG5200 series"]
    assert [(p["protocol"], p["port"], p["state"]) for p in printer["ports"]] == [
        ("tcp", 9100, "open"), ("udp", 8611, "open"), ("udp", 8612, "open|filtered")]
    assert printer["ports"][1]["identity"] == IDENTITY
    assert printer["ports"][0]["identity"] is None and printer["ports"][0]["state_before"] is None
    assert doc["summary"] == {"hosts": 3, "exposed": 1, "open_ports": 2, "clean": 2, "listed": 3, "before": None,
                              "managed": 0, "firewall_changed": 0, "backups": 0, "rolled_back": 0, "listeners": 0,
                              "elapsed": 0.25}
    assert doc["clean"] == {"addresses": 0, "without_ports": 0, "ports": []}


def test_clean_addresses_are_counted_by_port_and_state_not_listed():
    other = host("127.0.0.11", port("tcp", 9100, "filtered"), port("udp", 8611, "open|filtered"))
    doc = build(probe=probe_result(V6, PRINTER, QUIET, other, targets=10),
                inventory={"quiethost": "127.0.0.9"})
    # The exposed address and the inventory host keep every port; the two others are counts.
    assert [(h["address"], h["inventory_hostname"]) for h in doc["hosts"]] == [
        ("127.0.0.9", "quiethost"), ("127.0.0.10", None)]
    assert doc["detail"] == "findings"
    assert doc["clean"] == {"addresses": 8, "without_ports": 6, "ports": [
        {"protocol": "tcp", "port": 9100, "service": "jetdirect", "states": {"filtered": 2}},
        {"protocol": "udp", "port": 8611, "service": "bjnp-printer", "states": {"closed": 1, "open|filtered": 1}}]}
    summary = doc["summary"]
    assert (summary["hosts"], summary["exposed"], summary["clean"], summary["listed"]) == (10, 1, 9, 2)


def test_a_host_clean_after_but_exposed_before_stays_listed():
    after_printer = host("127.0.0.10", port("tcp", 9100, "closed"), port("udp", 8611, "closed"),
                         port("udp", 8612, "open|filtered"))
    doc = build(name="remediate", probe={"before": probe_result(PRINTER, QUIET),
                                         "after": probe_result(after_printer, QUIET)})
    assert [h["address"] for h in doc["hosts"]] == ["127.0.0.10"]
    assert doc["clean"]["addresses"] == 1 and doc["summary"]["before"]["hosts"] == 2


def test_probed_from_is_kept_per_address():
    doc = build(probe=probe_result(dict(PRINTER, probed_from="site-b")))
    assert doc["hosts"][0]["probed_from"] == "site-b"


def test_exposed_is_recomputed_from_the_port_states_not_trusted():
    lying = host("127.0.0.2", port("tcp", 9100, "closed"))
    lying["exposed"] = True
    doc = build(probe=probe_result(lying))
    assert doc["hosts"] == [] and doc["summary"]["exposed"] == 0 and doc["clean"]["addresses"] == 1


def test_only_exposed_probe_still_counts_every_target():
    doc = build(probe=probe_result(PRINTER, targets=256))
    assert doc["summary"]["hosts"] == 256 and len(doc["hosts"]) == 1


def test_missing_identity_fields_read_null_and_models_fall_back_to_manufacturer_and_model():
    identity = {"manufacturer": "Canon", "model": "TS5000"}
    doc = build(probe=probe_result(host("127.0.0.3", port("udp", 8611, "open", identity=identity))))
    entry = doc["hosts"][0]["ports"][0]
    assert entry["identity"] == dict(dict.fromkeys(report.IDENTITY_KEYS), **identity)
    assert doc["hosts"][0]["models"] == ["Canon TS5000"]


def test_before_and_after_are_merged_per_port():
    after_printer = host("127.0.0.10", port("tcp", 9100, "filtered"), port("udp", 8611, "open|filtered"),
                         port("udp", 8612, "open|filtered"))
    doc = build(name="remediate", probe={"before": probe_result(PRINTER, QUIET),
                                         "after": probe_result(after_printer, QUIET)}, detail="all")
    assert doc["comparison"] is True
    printer = doc["hosts"][1]
    assert printer["exposed"] is False and printer["exposed_before"] is True
    states = [(p["protocol"], p["port"], p["state_before"], p["state"], p["changed"]) for p in printer["ports"]]
    assert states == [("tcp", 9100, "open", "filtered", True), ("udp", 8611, "open", "open|filtered", True),
                      ("udp", 8612, "open|filtered", "open|filtered", False)]
    # The identity seen before the change is kept: the report says which printer it was.
    assert printer["ports"][1]["identity"]["model"] == "MG5200 series"
    assert printer["models"] == ["Canon MG5200 series"]
    assert doc["summary"]["before"] == {"hosts": 2, "exposed": 1, "open_ports": 2}
    assert (doc["summary"]["exposed"], doc["summary"]["open_ports"]) == (0, 0)
    assert doc["hosts"][0]["exposed_before"] is False


def test_a_port_or_host_in_only_one_probe_reads_absent_on_the_other_side():
    after = probe_result(host("127.0.0.9", port("tcp", 9100, "closed")), V6)
    doc = build(probe={"before": probe_result(QUIET), "after": after})
    quiet, v6 = doc["hosts"]
    states = [(p["port"], p["state_before"], p["state"]) for p in quiet["ports"]]
    assert states == [(9100, "closed", "closed"), (8611, "open|filtered", "absent")]
    assert all(p["state_before"] == "absent" and p["changed"] for p in v6["ports"])


def test_a_skipped_before_probe_is_no_comparison():
    doc = build(probe={"before": {"skipped": True, "changed": False}, "after": probe_result(QUIET)}, detail="all")
    assert doc["comparison"] is False and doc["hosts"][0]["exposed_before"] is None


@pytest.mark.parametrize("probe", [None, {}, {"skipped": True, "changed": False, "skip_reason": "when"}])
def test_no_probe_is_an_empty_host_list(probe):
    doc = build(probe=probe)
    assert doc["hosts"] == [] and doc["summary"]["hosts"] == 0 and doc["summary"]["elapsed"] is None


def test_managed_hosts_join_listeners_firewall_and_inventory():
    listeners = {"printhost": [{"port": "9100", "protocol": "TCP", "address": "0.0.0.0", "name": "cupsd", "pid": "42"},
                               {"port": 8611, "protocol": "udp", "address": "::", "process": None, "pid": None}]}
    firewall = {"gateway": {"backend": "iptables-nft", "state": "present", "changed": True,
                            "backup": "/var/backups/bjnp/x.v4", "rolled_back": False, "message": "ok"},
                "printhost": {"backend": "nftables", "state": "present", "changed": "false", "backup": "",
                              "rolled_back": False}}
    doc = build(probe=probe_result(PRINTER), listeners=listeners, firewall=firewall,
                inventory={"printhost": "127.0.0.10", "gateway": ["127.0.0.1", "::1"]}, change_id="CHG-1")
    assert doc["change_id"] == "CHG-1"
    assert [m["inventory_hostname"] for m in doc["managed"]] == ["gateway", "printhost"]
    gateway, printhost = doc["managed"]
    assert gateway["addresses"] == ["127.0.0.1", "::1"] and gateway["listeners"] == []
    assert printhost["listeners"] == [
        {"protocol": "tcp", "port": 9100, "address": "0.0.0.0", "process": "cupsd", "pid": 42},
        {"protocol": "udp", "port": 8611, "address": "::", "process": None, "pid": None}]
    assert printhost["firewall"] == {"backend": "nftables", "state": "present", "changed": False, "backup": None,
                                     "rolled_back": False, "message": None}
    assert doc["hosts"][0]["inventory_hostname"] == "printhost"
    summary = doc["summary"]
    assert (summary["managed"], summary["firewall_changed"], summary["backups"], summary["rolled_back"],
            summary["listeners"]) == (2, 1, 1, 0, 2)


def test_a_probed_hostname_that_is_an_inventory_host_is_linked_without_an_inventory_map():
    doc = build(probe=probe_result(host("127.0.0.5", port("tcp", 9100, "open"), name="printhost")),
                firewall={"printhost": {"changed": True}})
    assert doc["hosts"][0]["name"] == "printhost" and doc["hosts"][0]["inventory_hostname"] == "printhost"


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="scan"), "name: 'scan' is not one of detect, remediate, verify, rollback"),
    (dict(probe={"after": probe_result(QUIET)}), "probe: has after but no 'before'"),
    (dict(probe={"before": probe_result(QUIET)}), "probe: has before but no 'after'"),
    (dict(probe={"summary": {}}), "probe: has no 'hosts'"),
    (dict(probe={"failed": True, "msg": "targets is empty"}), "probe: the probe failed: targets is empty"),
    (dict(probe={"hosts": "127.0.0.1"}), "probe.hosts: expected a list, got str '127.0.0.1'"),
    (dict(probe={"hosts": [{"ports": []}]}), "probe.hosts[0].address: is required"),
    (dict(probe={"hosts": [host("127.0.0.1", port("tcp", 9100, "opened"))]}),
     "probe.hosts[0].ports[0].state: 'opened' is not one of open, closed, filtered, open|filtered"),
    (dict(probe={"hosts": [host("127.0.0.1", port("sctp", 9100, "open"))]}),
     "probe.hosts[0].ports[0].protocol: 'sctp' is not one of tcp, udp"),
    (dict(probe={"before": probe_result(QUIET), "after": {"hosts": [host("::1", port("tcp", 70000, "open"))]}}),
     "probe.after.hosts[0].ports[0].port: port 70000 is outside 1-65535"),
    (dict(probe={"hosts": [host("::1", port("tcp", "jetdirect", "open"))]}),
     "probe.hosts[0].ports[0].port: 'jetdirect' is not a port number"),
    (dict(probe={"hosts": [host("::1", port("tcp", True, "open"))]}), "port: True is not a port number"),
    (dict(probe={"hosts": [host("::1", port("udp", 8611, "open", identity="Canon"))]}),
     "probe.hosts[0].ports[0].identity: expected a dict, got str 'Canon'"),
    (dict(listeners={"h1": [["tcp", 9100]]}), "listeners.h1[0]: expected a dict, got list"),
    (dict(listeners={"h1": {"port": 9100}}), "listeners.h1: expected a list, got dict"),
    (dict(listeners={"h1": [{"port": 9100, "protocol": "tcp", "pid": "init"}]}),
     "listeners.h1[0].pid: 'init' is not a process id"),
    (dict(firewall={"h1": {"changed": "maybe"}}), "firewall.h1.changed: 'maybe' is not a boolean"),
    (dict(firewall={"h1": "nftables"}), "firewall.h1: expected a dict, got str"),
    (dict(inventory={"h1": {"ansible_host": "x"}}), "inventory.h1: {'ansible_host': 'x'} is not a string"),
])
def test_bad_input_names_the_value_and_where_it_is(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        build(**kwargs)
    assert message in str(excinfo.value)


def test_build_does_not_modify_its_input():
    probe = {"before": probe_result(PRINTER), "after": probe_result(QUIET)}
    kept = copy.deepcopy(probe)
    build(probe=probe)
    assert probe == kept


def test_json_rendering_round_trips_and_is_stable():
    doc = build(probe=probe_result(PRINTER, QUIET))
    text = report.render_json(doc)
    assert json.loads(text) == doc
    assert text == report.render_json(build(probe=probe_result(QUIET, PRINTER)))


def test_timestamp_is_utc_basic_format():
    assert report.timestamp(NOW) == "20261125T120000Z"


# --- JUnit -------------------------------------------------------------------------------

def test_junit_has_one_case_per_listed_address_and_one_for_the_clean_ones():
    firewall = {"printhost": {"backend": "nftables", "changed": True, "rolled_back": True,
                              "message": "verification failed; restored /var/backups/bjnp/a.nft"},
                "gateway": {"backend": "iptables-nft", "changed": True}}
    doc = build(name="verify", probe=probe_result(PRINTER, QUIET, V6, targets=300), firewall=firewall,
                change_id="CHG-9", inventory={"printhost": "127.0.0.10"})
    root = ET.fromstring(report.render_junit(doc).encode("utf-8"))
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "2"
    hosts_suite, fw_suite = root.findall("testsuite")
    assert hosts_suite.get("name") == "bjnp.hosts" and hosts_suite.get("tests") == "2"
    printer, clean = hosts_suite.findall("testcase")
    assert (printer.get("classname"), printer.get("name")) == ("bjnp.hosts", "127.0.0.10")
    failure = printer.find("failure")
    assert failure.get("type") == "exposed"
    assert failure.get("message") == "tcp/9100, udp/8611 open on 127.0.0.10 (printhost)"
    assert failure.text == "Canon MG5200 series"
    out = printer.find("system-out").text
    assert "tcp/9100 jetdirect: open" in out and "udp/8612 bjnp-scanner: open|filtered" in out
    assert "model=MG5200 series" in out
    # The clean addresses are one passing case, their port states counted.
    assert clean.get("name") == "299 clean addresses" and clean.find("failure") is None
    assert clean.find("system-out").text.splitlines() == [
        "tcp/9100: 1 closed, 1 filtered", "udp/8611: 1 closed, 1 open|filtered",
        "297 addresses without an open port, not returned by the probe (only_exposed)"]
    props = dict((p.get("name"), p.get("value")) for p in hosts_suite.iter("property"))
    assert props == {"name": "verify", "change_id": "CHG-9", "generated": "2026-11-25T12:00:00Z"}
    assert [c.get("name") for c in fw_suite.findall("testcase")] == ["gateway", "printhost"]
    assert fw_suite.get("failures") == "1"
    failure = fw_suite.findall("testcase")[1].find("failure")
    assert failure.get("type") == "rolled_back" and "restored /var/backups/bjnp/a.nft" in failure.text


def test_junit_without_firewall_results_has_only_the_hosts_suite():
    root = ET.fromstring(report.render_junit(build(probe=probe_result(QUIET))).encode("utf-8"))
    assert [s.get("name") for s in root.findall("testsuite")] == ["bjnp.hosts"]
    assert root.get("failures") == "0" and root.get("tests") == "1"


def test_probe_message_names_each_exposed_address_up_to_the_cap():
    printers = [host("127.0.1.%d" % n, port("tcp", 9100, "open"), port("udp", 8611, "open", identity=IDENTITY))
                for n in range(1, 24)]
    doc = build(probe=probe_result(QUIET, *printers, targets=65536), inventory={"printhost": "127.0.1.1"})
    lines = report.probe_message(doc)
    assert lines[0] == "23 of 65536 addresses expose 46 open BJNP/raw-print ports"
    assert lines[1] == "127.0.1.1 (printhost): Canon MG5200 series; open tcp/9100, udp/8611"
    assert lines[2] == "127.0.1.2: Canon MG5200 series; open tcp/9100, udp/8611"
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "... and 3 more exposed addresses (see the report)"
    assert report.probe_message(build(probe=probe_result(QUIET))) == ["0 of 1 address expose 0 open BJNP/raw-print ports"]


# --- HTML --------------------------------------------------------------------------------

class _Collector(HTMLParser):
    """Tags, the port cells (data-* attributes and text), and all text of a page."""

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags = set()
        self.cells = []
        self.text = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        for name in attrs:
            assert not name.startswith("on"), "event handler attribute %s" % name
        if tag == "td" and "data-port" in attrs:
            self._cell = dict(attrs, text="")
            self.cells.append(self._cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell["text"] += data


def parse_html(text):
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead",
                "tbody", "tr", "th", "td", "br", "small", "code", "span", "details", "summary"}


def test_html_table_has_a_coloured_cell_per_host_and_port():
    doc = build(probe=probe_result(PRINTER, QUIET), detail="all")
    page = parse_html(report.render_html(doc))
    assert page.tags <= ALLOWED_TAGS
    cells = [(c["data-address"], c["data-port"], c["data-state"], c["class"]) for c in page.cells]
    # The exposed address first; the clean one, in its own table, has only the ports it was probed on.
    assert cells == [
        ("127.0.0.10", "tcp/9100", "open", "open"), ("127.0.0.10", "udp/8611", "open", "open"),
        ("127.0.0.10", "udp/8612", "open|filtered", "open-filtered"),
        ("127.0.0.9", "tcp/9100", "closed", "closed"), ("127.0.0.9", "udp/8611", "open|filtered", "open-filtered")]
    text = "".join(page.text)
    assert "Canon MG5200 series" in text and "00:1e:8f:12:34:56" in text


def test_html_absent_column_cell_for_a_host_without_that_port():
    # Two exposed addresses, one without udp/8612: an absent cell keeps the grid rectangular.
    other = host("127.0.0.9", port("tcp", 9100, "open"), port("udp", 8611, "open|filtered"))
    page = parse_html(report.render_html(build(probe=probe_result(other, PRINTER))))
    absent = [(c["data-address"], c["data-port"]) for c in page.cells if c["data-state"] == "absent"]
    assert absent == [("127.0.0.9", "udp/8612")]


def test_html_leads_with_the_exposed_addresses_then_a_collapsed_summary_of_the_clean_ones():
    doc = build(probe=probe_result(QUIET, PRINTER, V6, targets=1000), inventory={"quiethost": "127.0.0.9"})
    text = report.render_html(doc)
    exposed, clean = text.index('<table id="ports">'), text.index('<details id="clean">')
    assert exposed < text.index('<table id="printers">') < clean
    assert '<tr class="exposed" data-address="127.0.0.10">' in text[exposed:clean]
    assert "127.0.0.9" not in text[exposed:clean] and "::1" not in text[exposed:clean]
    section = text[clean:text.index("</details>")]
    assert "<summary>999 clean addresses without an open port (1 listed: inventory hosts)</summary>" in section
    assert '<table id="clean-hosts">' in section and 'data-address="127.0.0.9"' in section
    # ::1 and the 997 addresses the probe did not return are counts, not rows.
    assert "::1" not in section and "997 addresses not returned by the probe" in section
    assert '<tr data-count-port="tcp/9100"><td>tcp/9100</td><td>jetdirect</td><td>0</td><td>0</td><td>1</td>' in section
    page = parse_html(text)
    assert page.tags <= ALLOWED_TAGS
    assert sorted(set(c["data-address"] for c in page.cells)) == ["127.0.0.10", "127.0.0.9"]


def test_html_of_a_clean_run_says_so():
    text = report.render_html(build(probe=probe_result(QUIET)))
    assert "None: no address has an open BJNP or raw-print port." in text and '<table id="ports">' not in text
    assert "Nothing was probed." in report.render_html(build())


def test_html_before_after_marks_changed_cells():
    after_printer = host("127.0.0.10", port("tcp", 9100, "filtered"), port("udp", 8611, "open"))
    doc = build(name="remediate", probe={"before": probe_result(PRINTER), "after": probe_result(after_printer)},
                firewall={"printhost": {"backend": "nftables", "changed": True, "backup": "/b/1.nft"}})
    html_text = report.render_html(doc)
    page = parse_html(html_text)
    by_port = dict((c["data-port"], c) for c in page.cells)
    assert by_port["tcp/9100"]["class"] == "filtered changed" and by_port["tcp/9100"]["text"] == u"open \u2192 filtered"
    assert by_port["tcp/9100"]["data-state-before"] == "open"
    assert by_port["udp/8611"]["class"] == "open" and by_port["udp/8611"]["text"] == "open"
    assert by_port["udp/8612"]["data-state"] == "absent"
    assert "/b/1.nft" in "".join(page.text)


# --- colour contrast (WCAG 2 AA: 4.5:1 for normal text) ------------------------------------

def hex_colour(value, where):
    match = re.match(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", value.strip())
    assert match, "%s: %r is not a #rgb/#rrggbb colour, which this check reads" % (where, value)
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))


def css_colour_pairs(page):
    """{selector: (text, background)} for every rule of the page's stylesheet that sets a text or
    background colour; the other one is the page's (body, else the browser's black on white)."""
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    rules = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", style):
        declarations = dict((name.strip(), value.strip()) for name, dummy, value in
                            (item.partition(":") for item in body.split(";") if item.strip()))
        for selector in selectors.split(","):
            rules[selector.strip()] = declarations
    page_text = hex_colour(rules.get("body", {}).get("color", "#000"), "body")
    page_background = hex_colour(rules.get("body", {}).get("background", "#fff"), "body")
    pairs = {}
    for selector, declarations in rules.items():
        if "color" in declarations or "background" in declarations:
            text = hex_colour(declarations["color"], selector) if "color" in declarations else page_text
            background = (hex_colour(declarations["background"], selector) if "background" in declarations
                          else page_background)
            pairs[selector] = (text, background)
    return pairs


def test_contrast_ratio_matches_the_wcag_reference_values():
    assert round(contrast_ratio((0, 0, 0), (255, 255, 255)), 2) == 21.0
    assert round(contrast_ratio((255, 255, 255), (255, 255, 255)), 2) == 1.0
    assert round(contrast_ratio((0x76, 0x76, 0x76), (255, 255, 255)), 2) == 4.54  # the well-known minimum grey
    # The report's old green cell (white on #66bb6a): 2.4:1, the failure the check is for.
    assert round(contrast_ratio((255, 255, 255), (0x66, 0xbb, 0x6a)), 1) == 2.4


def test_every_text_colour_of_the_html_report_has_aa_contrast_on_its_background():
    doc = build(name="remediate", probe={"before": probe_result(PRINTER), "after": probe_result(QUIET)})
    pairs = css_colour_pairs(report.render_html(doc))
    # Every state a port cell can have is among the checked rules.
    assert {"td.open", "td.closed", "td.filtered", "td.open-filtered", "td.absent", "th", ".bad", ".good"} <= set(pairs)
    low = dict((selector, round(contrast_ratio(*pair), 2)) for selector, pair in pairs.items()
               if contrast_ratio(*pair) < 4.5)
    assert low == {}, "below 4.5:1 (WCAG AA): %s" % low


HOSTILE = {"manufacturer": "<script>document.title='pwned'</script>", "model": "\"><img src=x onerror=alert(1)>",
           "description": "Canon & <b>bold</b>", "firmware": "1.0\x00\x1b[31m", "command_set": "a'b\"c",
           "raw": u"MFG:\ud800;MDL:</table>", "mac": "<!--"}


def test_hostile_identity_strings_stay_text_in_html_and_junit():
    doc = build(probe=probe_result(host("127.0.0.7", port("udp", 8611, "open", identity=HOSTILE))),
                title="<i>t</i>")
    page = parse_html(report.render_html(doc))
    assert page.tags <= ALLOWED_TAGS
    text = "".join(page.text)
    assert "<script>document.title='pwned'</script>" in text and "\"><img src=x onerror=alert(1)>" in text
    assert u"MFG:\ufffd;MDL:</table>" in text and "<i>t</i>" in text
    root = ET.fromstring(report.render_junit(doc).encode("utf-8"))
    out = root.find("testsuite/testcase/system-out").text
    assert "manufacturer=<script>document.title='pwned'</script>" in out and u"firmware=1.0\ufffd\ufffd[31m" in out
    # JSON keeps the control characters (escaped), only the lone surrogate is replaced.
    assert json.loads(report.render_json(doc))["hosts"][0]["ports"][0]["identity"]["firmware"] == "1.0\x00\x1b[31m"


@settings(max_examples=150, deadline=None)
@given(fields=st.fixed_dictionaries(dict((key, st.one_of(st.none(), st.text(max_size=40)))
                                         for key in report.IDENTITY_KEYS)),
       name=st.one_of(st.none(), st.text(max_size=20)),
       message=st.text(max_size=40))
def test_any_network_string_renders_to_valid_xml_json_and_tag_free_html(fields, name, message):
    doc = build(probe=probe_result(host("127.0.0.8", port("udp", 8611, "open", identity=fields), name=name)),
                firewall={"h": {"message": message, "rolled_back": True}})
    root = ET.fromstring(report.render_junit(doc).encode("utf-8"))
    assert root.get("failures") == "2"
    assert json.loads(report.render_json(doc)) == doc
    page = parse_html(report.render_html(doc))
    assert page.tags <= ALLOWED_TAGS
    report.render_html(doc).encode("utf-8")
