# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitor report (netsec.bjnp.monitor): document, JSON, JUnit, HTML, closing message, and
hostile strings from log lines. The collector results are in netsec.bjnp.attempts' shape."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import json
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_report as report
from test_bjnp_report import ALLOWED_TAGS, css_colour_pairs, parse_html
from wcag_contrast import contrast_ratio

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)
MONITOR_TAGS = ALLOWED_TAGS | {"pre"}


def source(address, port=9100, packets=4, connections=4, protocol="tcp", **extra):
    entry = {"address": address, "protocol": protocol, "port": port, "packets": packets, "connections": connections,
             "first_seen": "2026-11-25T10:00:00Z", "last_seen": "2026-11-25T11:59:00Z", "mode": "host",
             "destinations": []}
    entry.update(extra)
    return entry


def collected(sources=(), totals=None, suspects=(), counters=None, **extra):
    """A netsec.bjnp.attempts result; totals default to one row per protocol/port of the sources."""
    if totals is None:
        by_port = {}
        for item in sources:
            row = by_port.setdefault((item["protocol"], item["port"]), {
                "protocol": item["protocol"], "port": item["port"], "packets_logged": 0, "packets_counted": None,
                "sources": 0})
            row["packets_logged"] += item["packets"]
            row["sources"] += 1
        totals = list(by_port.values())
    result = {"changed": False, "since": "2026-11-24T12:00:00Z", "log_source": "kmsg", "backend": "nftables",
              "counters_available": counters is not None, "counters": counters or [], "sources": list(sources),
              "totals": totals, "log_limited": False, "suspected_print_servers": list(suspects), "truncated": False,
              "warnings": []}
    result.update(extra)
    return result


def suspect(address, connections=4, allow_entry=None, ports=("tcp/9100",)):
    return {"address": address, "ports": list(ports), "connections": connections,
            "allow_entry": address if allow_entry is None else allow_entry}


COUNTERS = [{"mode": "host", "protocol": "tcp", "ports": "9100", "packets": 40, "bytes": 2400},
            {"mode": "host", "protocol": "udp", "ports": "8611-8614", "packets": 2, "bytes": 120}]
PRINTHOST = collected([source("10.0.0.20", packets=9, connections=9),
                       source("10.0.0.7", port=8612, protocol="udp", packets=2, connections=None)],
                      suspects=[suspect("10.0.0.20", connections=9)], counters=COUNTERS, log_limited=True)
GATEWAY = collected([source("10.0.0.20", packets=3, connections=3, mode="gateway", destinations=["10.0.62.50"])],
                    suspects=[suspect("10.0.0.20", connections=3)])
QUIET = collected()
FAILED = {"failed": True, "msg": "cannot read /dev/kmsg: Permission denied"}


def build(attempts, **kwargs):
    kwargs.setdefault("now", NOW)
    return report.build_monitor_document(attempts, **kwargs)


# --- the document --------------------------------------------------------------------------

def test_monitor_document_has_every_documented_key():
    doc = build({"printhost": PRINTHOST, "gateway": GATEWAY, "quiet": QUIET, "broken": FAILED})
    assert set(doc) == {"schema_version", "generator", "name", "title", "generated", "change_id", "summary",
                        "managed", "suspected_print_servers"}
    assert doc["name"] == "monitor" and doc["title"] == "netsec.bjnp monitor" and doc["schema_version"] == 1
    assert doc["summary"] == {"managed": 4, "collected": 3, "not_collected": 1, "with_attempts": 2, "attempts": 14,
                              "addresses": 2, "packets_counted": 42, "log_limited": 1, "suspected_print_servers": 1}
    assert [item["inventory_hostname"] for item in doc["managed"]] == ["broken", "gateway", "printhost", "quiet"]
    printhost = doc["managed"][2]
    assert set(printhost) == {"inventory_hostname", "collected", "error", "since", "log_source", "backend",
                              "counters_available", "attempts", "addresses", "packets_counted", "log_limited",
                              "truncated", "warnings", "counters", "totals", "sources", "suspected_print_servers"}
    assert (printhost["attempts"], printhost["addresses"], printhost["packets_counted"]) == (11, 2, 42)
    assert [s["address"] for s in printhost["sources"]] == ["10.0.0.20", "10.0.0.7"]  # most packets first
    assert printhost["sources"][1]["connections"] is None and printhost["sources"][1]["port"] == 8612
    assert printhost["counters"][1]["ports"] == "8611-8614"
    broken = doc["managed"][0]
    assert broken["collected"] is False and broken["error"] == "cannot read /dev/kmsg: Permission denied"
    assert broken["sources"] == [] and broken["packets_counted"] is None
    assert doc["managed"][3]["packets_counted"] is None  # no counters: unknown, not zero


def test_suspects_seen_on_several_hosts_are_one_entry_with_the_allow_line():
    doc = build({"printhost": PRINTHOST, "gateway": GATEWAY})
    assert doc["suspected_print_servers"] == [{
        "address": "10.0.0.20", "allow_entry": "10.0.0.20", "allow_line": 'bjnp_allowed_sources: [..., "10.0.0.20"]',
        "problem": None, "ports": ["tcp/9100"], "connections": 12, "hosts": ["gateway", "printhost"]}]


def test_suspects_are_sorted_by_connections_then_address():
    host = collected([source("10.0.0.9"), source("10.0.0.10"), source("2001:db8::5")],
                     suspects=[suspect("2001:db8::5", 3), suspect("10.0.0.10", 3), suspect("10.0.0.9", 8)])
    assert [s["address"] for s in build({"h": host})["suspected_print_servers"]] == ["10.0.0.9", "10.0.0.10",
                                                                                     "2001:db8::5"]


def test_totals_count_every_log_line_even_when_the_source_list_was_cut():
    host = collected([source("10.0.0.20", packets=5)], truncated=True,
                     totals=[{"protocol": "tcp", "port": 9100, "packets_logged": 500, "packets_counted": 900,
                              "sources": 40}])
    item = build({"h": host})["managed"][0]
    assert item["attempts"] == 500 and item["truncated"] is True


@pytest.mark.parametrize("result, error", [
    ({"failed": True}, "the collector failed (no message)"),
    ({"unreachable": True, "msg": "ssh: timeout"}, "ssh: timeout"),
    ({"skipped": True}, "the collector was skipped on this host"),
])
def test_a_host_that_could_not_be_read_is_named_not_dropped(result, error):
    item = build({"h": result})["managed"][0]
    assert item["collected"] is False and item["error"] == error


@pytest.mark.parametrize("entry, problem", [
    ("10.0.0.5/24", "not suggested: '10.0.0.5/24' is not an IPv4/IPv6 address or CIDR network"),
    ('10.0.0.5"]\nbjnp_allow_any_source: true', "not suggested: '10.0.0.5\"]\nbjnp_allow_any_source: true' is not"),
    ("fe80::1%eth0", "not suggested: 'fe80::1%eth0' carries a zone id"),
    ("", "no allow entry: the collector found none the firewall role would accept"),
])
def test_an_allow_entry_the_role_would_refuse_is_not_suggested(entry, problem):
    host = collected([source("10.0.0.5")], suspects=[suspect("10.0.0.5", allow_entry=entry)])
    found = build({"h": host})["suspected_print_servers"][0]
    assert found["allow_entry"] is None and found["allow_line"] is None
    assert found["problem"].startswith(problem)


def test_the_allow_line_quotes_the_entry_as_yaml_does():
    assert report.allow_line("2001:db8::20") == 'bjnp_allowed_sources: [..., "2001:db8::20"]'
    assert report.allow_line("10.0.0.0/28") == 'bjnp_allowed_sources: [..., "10.0.0.0/28"]'


@pytest.mark.parametrize("attempts, message", [
    ({"h": "nothing"}, "attempts.h: expected a dict, got str"),
    ({"h": {"changed": False}}, "attempts.h: has no 'sources': pass a registered netsec.bjnp.attempts result"),
    ({"h": collected([source("10.0.0.1", packets=-1)])}, "attempts.h.sources[0].packets: -1 is not a count"),
    ({"h": collected([source("10.0.0.1", packets=True)])}, "attempts.h.sources[0].packets: True is not a count"),
    ({"h": collected([source("10.0.0.1", protocol="icmp")])}, "attempts.h.sources[0].protocol: 'icmp' is not one of"),
    ({"h": collected([source("10.0.0.1", port=70000)])}, "attempts.h.sources[0].port: port 70000 is outside 1-65535"),
    ({"h": collected([source("10.0.0.1", mode="bridge")])}, "attempts.h.sources[0].mode: 'bridge' is not one of"),
    ({"h": collected([source(None)])}, "attempts.h.sources[0].address: is required"),
    ({"h": collected([source("10.0.0.1", destinations="10.0.0.2")])},
     "attempts.h.sources[0].destinations: expected a list, got str"),
    ({"h": collected(counters=[{"protocol": "tcp", "ports": "8614-8611", "packets": 1}])},
     "attempts.h.counters[0].ports: port range '8614-8611' runs backwards"),
    ({"h": collected(suspects=[{"address": "10.0.0.1", "ports": ["9100"], "connections": 3}])},
     "attempts.h.suspected_print_servers[0].ports[0]: '9100' is not a port like tcp/9100"),
    ({"h": collected(log_limited="sometimes")}, "attempts.h.log_limited: 'sometimes' is not a boolean"),
    ({"h": collected(warnings="one")}, "attempts.h.warnings: expected a list, got str"),
    ("printhost", "attempts: expected a dict, got str"),
])
def test_bad_collector_input_names_the_value_and_where_it_is(attempts, message):
    with pytest.raises(ValueError) as excinfo:
        build(attempts)
    assert message in str(excinfo.value)


def test_build_does_not_modify_its_input():
    attempts = {"printhost": PRINTHOST, "gateway": GATEWAY}
    kept = copy.deepcopy(attempts)
    build(attempts)
    assert attempts == kept


def test_json_rendering_round_trips_and_is_stable():
    doc = build({"printhost": PRINTHOST, "gateway": GATEWAY})
    text = report.render_json(doc)
    assert json.loads(text) == doc
    assert text == report.render_json(build({"gateway": GATEWAY, "printhost": PRINTHOST}))


# --- the closing message -----------------------------------------------------------------------

def test_the_message_names_hosts_with_attempts_and_each_suspect_with_its_entry():
    lines = report.monitor_message(build({"printhost": PRINTHOST, "gateway": GATEWAY, "quiet": QUIET,
                                          "broken": FAILED}))
    assert lines == [
        "14 attempts from 2 source addresses on 2 of 4 managed hosts (1 not collected); 1 suspected print server",
        "broken: not collected: cannot read /dev/kmsg: Permission denied",
        "printhost: 11 attempts from 2 sources (log rate-limited)",
        "gateway: 3 attempts from 1 source",
        "1 host without attempts",
        'possibly a print server you forgot to allow: 10.0.0.20 (tcp/9100, 12 connections, seen on gateway, '
        'printhost): if it is a print server, add bjnp_allowed_sources: [..., "10.0.0.20"]']


def test_the_message_is_capped_with_a_count():
    attempts = dict(("h%02d" % n, collected([source("10.1.0.%d" % n, packets=n + 1)],
                                            suspects=[suspect("10.1.0.%d" % n, n + 3)])) for n in range(30))
    lines = report.monitor_message(build(attempts), hosts=5, suspects=3)
    assert lines[1] == "h29: 30 attempts from 1 source" and lines[5] == "h25: 26 attempts from 1 source"
    assert lines[6] == "... and 25 more hosts with attempts (see the report)"
    assert [line.split(": ", 1)[1].split(" ")[0] for line in lines[7:10]] == ["10.1.0.29", "10.1.0.28", "10.1.0.27"]
    assert lines[10:] == ["... and 27 more suspected print servers (see the report)"]


def test_a_quiet_run_says_so():
    assert report.monitor_message(build({"a": QUIET, "b": QUIET})) == [
        "0 attempts from 0 source addresses on 0 of 2 managed hosts; 0 suspected print servers",
        "2 hosts without attempts"]


# --- JUnit ---------------------------------------------------------------------------------------

def test_junit_fails_hosts_with_attempts_and_every_suspect_and_errs_hosts_not_read():
    doc = build({"printhost": PRINTHOST, "gateway": GATEWAY, "quiet": QUIET, "broken": FAILED}, change_id="CHG-5")
    root = ET.fromstring(report.render_monitor_junit(doc).encode("utf-8"))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "1")
    hosts_suite, servers_suite = root.findall("testsuite")
    assert hosts_suite.get("name") == "bjnp.attempts"
    cases = dict((case.get("name"), case) for case in hosts_suite.findall("testcase"))
    assert sorted(cases) == ["broken", "gateway", "printhost", "quiet"]
    assert cases["quiet"].find("failure") is None and cases["quiet"].find("error") is None
    failure = cases["printhost"].find("failure")
    assert failure.get("type") == "attempts" and failure.get("message") == "printhost: 11 blocked attempts from 2 sources"
    assert "10.0.0.20 tcp/9100: 9 packets, 9 connections, first 2026-11-25T10:00:00Z" in failure.text
    assert "10.0.0.7 udp/8612: 2 packets, ? connections" in failure.text
    assert "note: the log is rate-limited" in cases["printhost"].find("system-out").text
    error = cases["broken"].find("error")
    assert error.get("type") == "not_collected" and "Permission denied" in error.text
    assert servers_suite.get("name") == "bjnp.print_servers" and servers_suite.get("failures") == "1"
    case = servers_suite.find("testcase")
    assert case.get("name") == "10.0.0.20" and case.find("failure").get("type") == "suspected_print_server"
    assert 'add bjnp_allowed_sources: [..., "10.0.0.20"]' in case.find("failure").text
    props = dict((p.get("name"), p.get("value")) for p in hosts_suite.iter("property"))
    assert props == {"name": "monitor", "change_id": "CHG-5", "generated": "2026-11-25T12:00:00Z"}


def test_junit_of_a_quiet_run_passes_and_has_no_print_server_suite():
    root = ET.fromstring(report.render_monitor_junit(build({"a": QUIET})).encode("utf-8"))
    assert [s.get("name") for s in root.findall("testsuite")] == ["bjnp.attempts"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")


# --- HTML ----------------------------------------------------------------------------------------

class _Cells(HTMLParser):
    """The coloured cells of a monitor page (those with data-state) and the text inside each."""

    def __init__(self, text):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.cells = []
        self._cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-state" in attrs:
            self._cell = dict(attrs, text="")
            self.cells.append(self._cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def test_html_shows_each_host_each_source_and_the_entry_to_add():
    doc = build({"printhost": PRINTHOST, "gateway": GATEWAY, "quiet": QUIET, "broken": FAILED})
    page_text = report.render_monitor_html(doc)
    page = parse_html(page_text)
    assert page.tags <= MONITOR_TAGS
    cells = [(c.get("data-host") or c.get("data-address"), c["data-state"], c["class"], c["text"])
             for c in _Cells(page_text).cells]
    assert cells == [("10.0.0.20", "suspect", "suspect", "10.0.0.20"),
                     ("broken", "not-collected", "not-collected", "not read"),
                     ("gateway", "attempts", "attempts", "3"), ("printhost", "attempts", "attempts", "11"),
                     ("quiet", "quiet", "quiet", "0")]
    text = "".join(page.text)
    assert "Possibly a print server you forgot to allow" in text
    assert 'bjnp_allowed_sources: [..., "10.0.0.20"]' in text and "gateway, printhost" in text
    assert "the log is rate-limited" in text and "cannot read /dev/kmsg: Permission denied" in text
    assert "tcp/9100: 9 / n/a" in text
    assert "2026-11-25T11:59:00Z" in text and "10.0.62.50" in text
    assert "retention" in text


def test_html_of_a_quiet_run_says_no_print_server_was_suspected():
    text = "".join(parse_html(report.render_monitor_html(build({"a": QUIET}))).text)
    assert "None: no source looked like a print server." in text


def test_html_caps_the_sources_of_a_host_with_a_count(monkeypatch):
    monkeypatch.setattr(report, "HTML_SOURCES_PER_HOST", 3)
    host = collected([source("10.2.0.%d" % n, packets=100 - n) for n in range(1, 8)])
    text = "".join(parse_html(report.render_monitor_html(build({"h": host}))).text)
    assert "10.2.0.3" in text and "10.2.0.4" not in text
    assert "... and 4 more sources (the JSON report has them all)" in text


def test_every_text_colour_of_the_monitor_page_has_aa_contrast_on_its_background():
    pairs = css_colour_pairs(report.render_monitor_html(build({"printhost": PRINTHOST, "broken": FAILED})))
    assert {"td.attempts", "td.quiet", "td.not-collected", "td.suspect", "pre", ".bad"} <= set(pairs)
    low = dict((selector, round(contrast_ratio(*pair), 2)) for selector, pair in pairs.items()
               if contrast_ratio(*pair) < 4.5)
    assert low == {}, "below 4.5:1 (WCAG AA): %s" % low


# --- hostile strings from log lines -------------------------------------------------------------------

HOSTILE = "<script>document.title='pwned'</script>"
HOSTILE_HOST = collected(
    [source(HOSTILE, first_seen="\"><img src=x onerror=alert(1)>", last_seen=u"\ud800</table>",
            destinations=["<!--", "a&b"]), source("10.0.0.1\x00\x1b[31m", packets=1)],
    suspects=[suspect(HOSTILE, allow_entry=HOSTILE)], warnings=["</pre><b>bold</b>"], backend="<i>nft</i>")


def test_hostile_log_strings_stay_text_in_html_and_junit_and_are_never_suggested():
    doc = build({"<h1>host</h1>": HOSTILE_HOST}, title="<i>t</i>")
    page = parse_html(report.render_monitor_html(doc))
    assert page.tags <= MONITOR_TAGS
    text = "".join(page.text)
    assert HOSTILE in text and "\"><img src=x onerror=alert(1)>" in text and u"\ufffd</table>" in text
    assert "</pre><b>bold</b>" in text and "<h1>host</h1>" in text and "<i>t</i>" in text
    assert u"10.0.0.1\ufffd\ufffd[31m" in text
    assert "bjnp_allowed_sources: [..., \"<script>" not in text and "not suggested" in text
    root = ET.fromstring(report.render_monitor_junit(doc).encode("utf-8"))
    failure = root.find("testsuite/testcase/failure")
    assert HOSTILE in failure.text and u"10.0.0.1\ufffd\ufffd[31m" in failure.text
    assert root.findall("testsuite")[1].find("testcase").get("name") == HOSTILE
    # JSON keeps the control characters (escaped); only the lone surrogate is replaced.
    assert json.loads(report.render_json(doc))["managed"][0]["sources"][1]["address"] == "10.0.0.1\x00\x1b[31m"
    assert report.monitor_message(doc)[-1].endswith("not suggested: '%s' is not an IPv4/IPv6 address or CIDR "
                                                    "network (%r does not appear to be an IPv4 or IPv6 network)"
                                                    % (HOSTILE, HOSTILE))


@settings(max_examples=150, deadline=None)
@given(address=st.text(max_size=40), when=st.text(max_size=30), warning=st.text(max_size=40),
       host=st.text(min_size=1, max_size=20))
def test_any_log_string_renders_to_valid_xml_json_and_tag_free_html(address, when, warning, host):
    result = collected([source(address, first_seen=when, last_seen=when)], suspects=[suspect(address)],
                       warnings=[warning])
    doc = build({host: result})
    root = ET.fromstring(report.render_monitor_junit(doc).encode("utf-8"))
    assert root.get("failures") == "2"
    assert json.loads(report.render_json(doc)) == doc
    html_text = report.render_monitor_html(doc)
    assert parse_html(html_text).tags <= MONITOR_TAGS
    html_text.encode("utf-8")
