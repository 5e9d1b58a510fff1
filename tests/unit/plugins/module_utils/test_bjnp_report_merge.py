# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merging slice reports: the merge of a run's slices equals the report of the unsliced run,
reports that do not belong together are refused, report files are read as untrusted input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_report as report
from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_report_files as files
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_merge import document_inputs, merge_documents

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.timezone.utc)
LATER = datetime.datetime(2026, 11, 25, 12, 5, 0, tzinfo=datetime.timezone.utc)
IDENTITY = {"manufacturer": "Canon", "model": "MG5200 series", "description": "Canon MG5200 series",
            "firmware": "1.050", "command_set": "BJL,BJRaster3", "raw": "MFG:Canon;MDL:MG5200 series;", "mac": None}
PORTS = (("tcp", 9100), ("tcp", 8611), ("udp", 8611), ("udp", 8612))
STATES = ("open", "closed", "filtered", "open|filtered")


def probe_host(address, states, identity=False):
    ports = []
    for (protocol, number), state in zip(PORTS, states):
        entry = {"protocol": protocol, "port": number, "state": state, "service": "bjnp"}
        if identity and protocol == "udp" and state == "open":
            entry["identity"] = IDENTITY
        ports.append(entry)
    return {"address": address, "ports": ports}


def fleet(count):
    """``count`` managed hosts, each with its probe entry, listeners and firewall result."""
    hosts = {}
    for index in range(count):
        name = "printhost-%02d" % index
        hosts[name] = {
            "address": "127.0.%d.%d" % (index // 200, index % 200 + 1),
            "states": [STATES[(index + offset) % 4] for offset in range(len(PORTS))],
            "listeners": [{"protocol": "tcp", "port": 9100, "address": "0.0.0.0", "process": "cupsd", "pid": 100 + index}]
            if index % 2 else [],
            "firewall": {"backend": "nftables", "state": "present", "changed": index % 3 != 0,
                         "backup": "/var/backups/bjnp/%d.nft" % index if index % 3 else "", "rolled_back": index == 4,
                         "message": "closed"},
        }
    return hosts


def scan_targets(hosts):
    """Clean addresses of a printer subnet (no inventory host): counted in ``clean``, not listed.

    Each managed host's site contributes two, so slices split them with their hosts.
    """
    out = []
    for entry in hosts.values():
        base = entry["address"].rsplit(".", 1)[0].replace("127.0.", "127.1.")
        last = int(entry["address"].rsplit(".", 1)[1])
        out += [probe_host("%s.%d" % (base, last), ["closed", "closed", "open|filtered", "closed"]),
                probe_host("%s.%d" % (base, last + 100), ["filtered", "closed", "closed", "closed"])]
    return out


def document(name, hosts, comparison=False, **extra):
    """The report of ``hosts`` (a dict of fleet() entries) and their scan targets, as the playbooks build it."""
    scan = scan_targets(hosts) if extra.pop("scan", True) else []
    after = {"hosts": [probe_host(h["address"], h["states"], identity=True) for h in hosts.values()] + scan,
             "summary": {"targets": len(hosts) + len(scan) + extra.pop("unreturned", 0),
                         "elapsed": extra.pop("elapsed", 1.5)}}
    probe = after
    if comparison:
        before = {"hosts": [probe_host(h["address"], ["open"] * len(PORTS), identity=True) for h in hosts.values()]
                  + scan, "summary": {"targets": len(hosts) + len(scan)}}
        probe = {"before": before, "after": after}
    kwargs = {"inventory": {host: [entry["address"]] for host, entry in hosts.items()}}
    if name in ("remediate", "rollback"):
        kwargs["firewall"] = {host: entry["firewall"] for host, entry in hosts.items()}
    else:
        kwargs["listeners"] = {host: entry["listeners"] for host, entry in hosts.items()}
    kwargs.update(extra)
    return json.loads(report.render_json(report.build_document(name, probe=probe, now=NOW, **kwargs)))


def sliced(name, hosts, count, comparison=False, **extra):
    """The slice reports of ``hosts`` split as AWX splits an inventory: host i goes to slice i % count."""
    names = sorted(hosts)
    return [document(name, dict((host, hosts[host]) for host in names[number::count]), comparison=comparison,
                     slice_id=str(100 + number), **extra)
            for number in range(count)]


def findings(doc):
    """A document without what says when and how it was written."""
    doc = copy.deepcopy(doc)
    for key in ("generated", "run_id", "slice_id", "slices"):
        doc.pop(key)
    return doc


# --- merged equals unsliced ------------------------------------------------------------------

@pytest.mark.parametrize("name, comparison", [("detect", False), ("verify", False), ("remediate", True),
                                              ("rollback", False)])
def test_three_slices_merge_into_the_report_of_the_unsliced_run(name, comparison):
    hosts = fleet(10)
    whole = document(name, hosts, comparison=comparison, run_id="4711", change_id="CHG-9")
    merged, conflicts = merge_documents(sliced(name, hosts, 3, comparison=comparison, run_id="4711",
                                               change_id="CHG-9"), now=LATER)
    assert conflicts == []
    assert findings(merged) == findings(whole)
    assert merged["run_id"] == "4711" and merged["slice_id"] is None
    assert merged["slices"] == ["100", "101", "102"]
    assert merged["generated"] == "2026-11-25T12:05:00Z"
    # The renderers are bjnp_report's: same output but for the header.
    assert report.render_junit(merged).count("<testcase") == report.render_junit(whole).count("<testcase")
    assert "merged from 3 slices: <code>100</code>, <code>101</code>, <code>102</code>" in report.render_html(merged)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(min_value=1, max_value=12), slices=st.integers(min_value=1, max_value=5),
       comparison=st.booleans())
def test_any_split_merges_back_to_the_whole(count, slices, comparison):
    hosts = fleet(count)
    name = "remediate" if comparison else "detect"
    whole = document(name, hosts, comparison=comparison, run_id="r")
    merged, conflicts = merge_documents(sliced(name, hosts, slices, comparison=comparison, run_id="r"))
    assert conflicts == [] and findings(merged) == findings(whole)


def test_document_inputs_rebuild_the_same_document():
    original = document("remediate", fleet(4), comparison=True, slice_id="7", run_id="1")
    inputs = document_inputs(original)
    assert sorted(inputs["firewall"]) == ["printhost-00", "printhost-01", "printhost-02", "printhost-03"]
    assert inputs["inventory"]["printhost-02"] == ["127.0.0.3"]
    merged, conflicts = merge_documents([original])
    assert findings(merged) == findings(original) and conflicts == []


def test_clean_counts_unreturned_targets_and_the_slowest_probe_are_kept():
    hosts = fleet(4)
    names = sorted(hosts)
    parts = [document("detect", {names[0]: hosts[names[0]], names[2]: hosts[names[2]]}, slice_id="1", run_id="r",
                      unreturned=3),  # three clean addresses an only_exposed probe counted, not returned
             document("detect", {names[1]: hosts[names[1]], names[3]: hosts[names[3]]}, slice_id="2", run_id="r",
                      elapsed=9.5)]
    merged, dummy = merge_documents(parts)
    assert merged["summary"]["hosts"] == 4 + 8 + 3 and merged["summary"]["listed"] == 4
    assert merged["clean"]["addresses"] == 8 + 3 and merged["clean"]["without_ports"] == 3
    assert merged["summary"]["clean"] == merged["summary"]["hosts"] - merged["summary"]["exposed"]
    assert merged["clean"]["ports"][1] == {"protocol": "tcp", "port": 9100, "service": "bjnp",
                                           "states": {"closed": 4, "filtered": 4}}
    assert merged["summary"]["elapsed"] == 9.5
    assert findings(merged) == findings(document("detect", hosts, unreturned=3, elapsed=9.5))


def test_an_address_two_slices_disagree_on_keeps_the_more_exposed_state():
    one = {"a": dict(fleet(1)["printhost-00"], address="127.0.0.50", states=["closed", "closed", "open|filtered", "closed"])}
    two = {"b": dict(fleet(1)["printhost-00"], address="127.0.0.50", states=["open", "closed", "open", "closed"])}
    first = document("verify", one, slice_id="1", run_id="r", scan=False)
    second = document("verify", two, slice_id="2", run_id="r", scan=False)
    # Inventory hosts differ, the address is shared: two gateways protecting one printer.
    merged, conflicts = merge_documents([first, second])
    states = dict(("%s/%d" % (p["protocol"], p["port"]), p["state"]) for p in merged["hosts"][0]["ports"])
    assert states == {"tcp/9100": "open", "tcp/8611": "closed", "udp/8611": "open", "udp/8612": "closed"}
    assert conflicts == ["127.0.0.50 tcp/9100: slice 1 read closed, slice 2 read open; kept open",
                         "127.0.0.50 udp/8611: slice 1 read open|filtered, slice 2 read open; kept open"]
    assert merged["hosts"][0]["ports"][2]["identity"] == IDENTITY
    assert merged["summary"]["exposed"] == 1 and merged["summary"]["managed"] == 2


# --- refusals ---------------------------------------------------------------------------------

def refused(documents, match, **kwargs):
    with pytest.raises(ValueError, match=match):
        merge_documents(documents, **kwargs)


def test_reports_of_other_runs_kinds_or_changes_are_refused():
    hosts = fleet(6)
    parts = sliced("detect", hosts, 3, run_id="41")
    parts[2]["run_id"] = "42"
    refused(parts, r"not of one run: run_id 41 \(slice 100\), 41 \(slice 101\), 42 \(slice 102\)")
    parts = sliced("detect", hosts, 2, run_id="41")
    refused(parts, "the reports are of run 41, not of run 40", run_id="40")
    verify = sliced("verify", hosts, 2, run_id="41")
    refused([parts[0], verify[1]], r"not of one kind: name detect \(slice 100\), verify \(slice 101\)")
    changes = sliced("remediate", hosts, 2, comparison=True, change_id="CHG-1")
    changes[1]["change_id"] = "CHG-2"
    refused(changes, "not of one change: change_id CHG-1")
    refused(sliced("detect", hosts, 2), "neither a run_id nor a change_id")
    # A change id alone ties the slices of one maintenance window together.
    assert merge_documents(sliced("remediate", hosts, 2, comparison=True, change_id="CHG-1"))[0]["change_id"] == "CHG-1"


def test_a_slice_given_twice_or_hosts_in_two_slices_are_refused():
    hosts = fleet(6)
    parts = sliced("detect", hosts, 3, run_id="41")
    refused([parts[0], parts[1], parts[0]], "slice 100 is given twice: reports 1 and 3")
    other = copy.deepcopy(parts[1])
    other["slice_id"] = "999"
    refused([parts[0], parts[1], other], "inventory host printhost-01 is in slice 101 and in slice 999")
    refused(parts[:2], r"expected 3 slice reports, got 2 \(slices 100, 101\)", expect_slices=3)


def test_reports_that_are_not_slice_reports_are_refused():
    hosts = fleet(4)
    parts = sliced("detect", hosts, 2, run_id="41")
    merged = json.loads(report.render_json(merge_documents(parts)[0]))
    merged["slice_id"] = "x"
    refused([merged, parts[0]], r"report 1 \(slice x\): already a merged report \(of slices 100, 101\)")
    unnamed = copy.deepcopy(parts[0])
    unnamed["slice_id"] = None
    refused([unnamed], "report 1: has no slice_id")
    monitor = report.build_monitor_document({}, now=NOW)
    refused([dict(monitor, slice_id="1")], "monitor reports are not merged")
    refused([dict(parts[0], schema_version=1)], "not a netsec.bjnp.report report of schema_version 2")
    refused([dict(parts[0], generator="other")], "generator 'other'")
    refused([], "no reports to merge")
    mixed = [parts[0], document("detect", {"x": fleet(1)["printhost-00"]}, comparison=True, slice_id="9", run_id="41")]
    refused(mixed, "some slices compare before and after and some do not")


@pytest.mark.parametrize("path, value, match", [
    (("hosts",), "all", r"report 1 \(slice 100\).hosts: expected list, got str"),
    (("hosts", 0, "ports", 0, "port"), "9100", r"hosts\[0\].ports\[0\].port: '9100' is not a port number"),
    (("hosts", 0, "ports", 0, "port"), True, "True is not a port number"),
    (("hosts", 0, "ports", 0, "state"), ["open"], r"ports\[0\].state: expected str, got list"),
    (("hosts", 0, "ports", 0, "state"), "opened", "'opened' is not one of open, closed, filtered, open|filtered"),
    (("hosts", 0, "ports", 0, "identity"), "x", "identity: expected a dict"),
    (("managed", 0, "listeners"), {}, r"managed\[0\].listeners: expected list, got dict"),
    (("managed", 0, "listeners"), [{"protocol": "sctp", "port": 1}], "'sctp' is not one of tcp, udp"),
    (("summary", "hosts"), -1, "summary.hosts: -1 is not a count"),
    (("summary", "hosts"), 99, r"summary.hosts \(99\) is not the 2 listed addresses plus the 4 clean ones"),
    (("clean", "ports", 0, "states", "closed"), "2", r"clean.ports\[0\].states.closed: '2' is not a count"),
    (("clean", "ports", 0, "states", "shut"), 1, r"clean.ports\[0\].states: 'shut' is not one of open"),
    (("clean", "ports", 0, "protocol"), "sctp", r"clean.ports\[0\].protocol: 'sctp' is not one of tcp, udp"),
    (("clean", "addresses"), None, "clean.addresses: None is not a count"),
    (("clean", "ports", 0, "port"), 70000, r"clean.ports\[0\].port: 70000 is not a port number"),
    (("detail",), "some", "detail 'some' is not one of findings, all"),
    (("summary", "elapsed"), "fast", "summary.elapsed: 'fast' is not a number of seconds"),
    (("run_id",), 41, "run_id 41 is not a string"),
])
def test_malformed_slice_reports_are_refused_naming_the_value(path, value, match):
    parts = sliced("detect", fleet(2), 1, run_id="41")
    target = parts[0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    refused(parts, match)


def test_a_port_or_address_listed_twice_is_refused():
    parts = sliced("detect", fleet(2), 1, run_id="41")
    parts[0]["hosts"].append(copy.deepcopy(parts[0]["hosts"][0]))
    refused(parts, r"hosts\[2\]: address 127.0.0.1 is listed twice")
    parts = sliced("detect", fleet(2), 1, run_id="41")
    parts[0]["hosts"][0]["ports"].append(copy.deepcopy(parts[0]["hosts"][0]["ports"][0]))
    refused(parts, "tcp/8611 is listed twice for 127.0.0.1")


# --- report files as untrusted input ----------------------------------------------------------

def write(path, data):
    with open(str(path), "w") as handle:
        handle.write(data)
    return str(path)


def test_a_report_file_is_read(tmp_path):
    assert files.read_report_file(write(tmp_path / "detect.json", '{"name": "detect"}')) == {"name": "detect"}


def test_unsafe_report_paths_are_refused_not_repaired(tmp_path):
    real = write(tmp_path / "detect.json", "{}")
    os.symlink(real, str(tmp_path / "link.json"))
    os.mkdir(str(tmp_path / "dir"))
    os.symlink(str(tmp_path / "dir"), str(tmp_path / "linkdir"))
    write(tmp_path / "dir" / "detect.json", "{}")
    os.mkfifo(str(tmp_path / "fifo.json"))
    cases = [
        (str(tmp_path / "link.json"), "link.json is a symlink: give the report file itself"),
        (str(tmp_path / "linkdir" / "detect.json"), "lies under a symlinked directory .*: give the real path"),
        ("reports/detect.json", "reports/detect.json is relative: give an absolute path"),
        (str(tmp_path / "dir" / ".." / "detect.json"), r"contains '\.\.': give the path without it"),
        (str(tmp_path / "a\x00b"), "holds a NUL byte"),
        (str(tmp_path / "fifo.json"), "fifo.json is not a regular file"),
        (str(tmp_path / "missing.json"), "missing.json: cannot open: No such file or directory"),
        (str(tmp_path), "is not a regular file"),
    ]
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            files.read_report_file(path)


def test_report_files_that_are_not_json_or_too_big_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="not JSON .*: give the .json file of a report"):
        files.read_report_file(write(tmp_path / "detect.html", "<html>"))
    with open(str(tmp_path / "latin1.json"), "wb") as handle:
        handle.write(b'{"title": "\xe9"}')
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        files.read_report_file(str(tmp_path / "latin1.json"))
    monkeypatch.setattr(files, "MAX_REPORT_BYTES", 10)
    with pytest.raises(ValueError, match=r"is 21 bytes, more than a report holds \(10\): refused"):
        files.read_report_file(write(tmp_path / "big.json", '{"x": "0123456789.."}'))
