# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks' probe plumbing: scan chunks per site and the merge of the stored results."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_probe_merge as merge


def entry(address, *states, **extra):
    ports = [{"protocol": protocol, "port": port, "state": state, "service": "x"}
             for (protocol, port), state in zip([("tcp", 9100), ("udp", 8611)], states)]
    return dict({"address": address, "exposed": "open" in states, "ports": ports}, **extra)


def result(*hosts, **summary):
    return {"changed": False, "hosts": list(hosts), "unresolved": summary.pop("unresolved", []),
            "summary": dict({"targets": len(hosts), "exposed": 0, "elapsed": 1.0}, **summary)}


def chunk(site, probed, *hosts, **summary):
    """A loop item's result: the chunk (``probed``, its targets) and what the probe returned."""
    return dict(result(*hosts, **summary), item={"from": site, "targets": probed})


# --- chunks ------------------------------------------------------------------------------------

def test_a_16_is_four_chunks_of_its_18s_probed_by_the_sites_first_host():
    chunks = merge.scan_chunks({"web1": {"from": "localhost", "targets": ["10.0.0.0/16"]},
                                "web2": {"from": "localhost", "targets": ["10.0.0.0/16", "printer.example.com"]}},
                               max_targets=65537)
    assert [(c["leader"], c["targets"], c["addresses"]) for c in chunks] == [
        ("web1", ["10.0.0.0/18"], 16384), ("web1", ["10.0.64.0/18"], 16384), ("web1", ["10.0.128.0/18"], 16384),
        ("web1", ["10.0.192.0/18"], 16384), ("web1", ["printer.example.com"], 1)]
    assert chunks[0]["label"] == "localhost: 10.0.0.0/18 (1 of 5)"


def test_each_site_probes_the_union_of_the_scan_targets_of_the_hosts_it_serves():
    sites = {"a1": {"from": "jump-a", "targets": ["10.1.0.0/24"]}, "b1": {"from": "jump-b", "targets": ["10.2.0.0/24"]},
             "a2": {"from": "jump-a", "targets": ["10.1.1.5", "10.1.0.0/24"]}, "c1": {"from": "jump-c", "targets": []}}
    chunks = merge.scan_chunks(sites)
    assert [(c["from"], c["leader"], c["targets"], c["label"]) for c in chunks] == [
        ("jump-a", "a1", ["10.1.0.0/24", "10.1.1.5"], "jump-a: 10.1.0.0/24 and 1 more (1 of 1)"),
        ("jump-b", "b1", ["10.2.0.0/24"], "jump-b: 10.2.0.0/24 (1 of 1)")]


def test_a_target_inside_another_network_of_the_site_is_probed_once_with_it():
    # Before, 10.0.7.9 was a chunk of its own and again in the first /18, and the site counted
    # 65,537 addresses: refused at the default max_targets.
    sites = {"a": {"targets": ["10.0.7.9", "10.0.0.0/24"]}, "b": {"targets": ["10.0.0.0/16", "10.0.0.7/16"]}}
    assert [(c["targets"], c["addresses"]) for c in merge.scan_chunks(sites)] == [
        (["10.0.0.0/18"], 16384), (["10.0.64.0/18"], 16384), (["10.0.128.0/18"], 16384), (["10.0.192.0/18"], 16384)]
    # Hostnames are kept (they resolve on the probing host); halves before their whole go.
    sites = {"a": {"targets": ["192.0.2.0/25", "printer.example.com", "192.0.2.128/25", "192.0.2.0/24"]}}
    assert [c["targets"] for c in merge.scan_chunks(sites)] == [["printer.example.com", "192.0.2.0/24"]]


def test_small_targets_are_packed_and_a_size_that_is_no_power_of_two_splits_on_the_lower_one():
    chunks = merge.scan_chunks({"h": {"from": None, "targets": ["10.0.0.0/25", "10.0.1.0/25", "10.0.2.0/24"]}},
                               chunk_size=300)
    assert [(c["from"], c["targets"], c["addresses"]) for c in chunks] == [
        ("localhost", ["10.0.0.0/25", "10.0.1.0/25"], 256), ("localhost", ["10.0.2.0/24"], 256)]


def test_a_site_over_max_targets_and_a_malformed_target_are_refused():
    with pytest.raises(ValueError, match="site jump-a expand to 131072 addresses, more than bjnp_probe_max_targets=65536"):
        merge.scan_chunks({"a": {"from": "jump-a", "targets": ["10.0.0.0/16"]},
                           "b": {"from": "jump-a", "targets": ["10.1.0.0/16"]}})
    with pytest.raises(ValueError, match="site localhost: target '10.1' is not a dotted-quad"):
        merge.scan_chunks({"a": {"targets": ["10.1"]}})
    with pytest.raises(ValueError, match="chunk size must be from 1"):
        merge.scan_chunks({}, chunk_size=0)


# --- merge -------------------------------------------------------------------------------------

def test_only_exposed_scans_count_every_address_once():
    # The site scanned a /24 in two chunks and returned only the printer; the managed host's own
    # probe (full) covered 10.0.0.1, clean, inside the scanned network, and ::1 outside it.
    records = [
        {"from": "localhost", "host": result(entry("10.0.0.1", "closed", "closed"), entry("::1", "closed", "closed")),
         "scan": [chunk("localhost", ["10.0.0.0/25"], entry("10.0.0.5", "open", "open"), targets=128, elapsed=1.5),
                  chunk("localhost", ["10.0.0.128/25"], targets=128, elapsed=0.5)]},
        {"from": "localhost", "host": {"skipped": True}, "scan": []},
    ]
    merged = merge.merge_probes(records)
    assert [(h["address"], h["probed_from"]) for h in merged["hosts"]] == [
        ("10.0.0.1", "localhost"), ("10.0.0.5", "localhost"), ("::1", "localhost")]
    assert merged["summary"] == {"targets": 257, "exposed": 1, "elapsed": 2.0, "sites": [
        {"from": "localhost", "targets": 256, "exposed": 1, "elapsed": 2.0, "chunks": 2}]}


def test_the_hosts_own_probe_wins_and_names_resolved_by_a_scan_are_counted():
    records = [{"from": "jump-b", "host": result(entry("10.0.0.5", "closed", "closed"), elapsed=3.0),
                "scan": [chunk("jump-b", ["10.0.0.5", "printer.example.com"], entry("10.0.0.5", "open", "open"),
                               targets=3, elapsed=1.0,
                               unresolved=[{"target": "gone.example.com", "error": "does not resolve"}])]}]
    merged = merge.merge_probes(records)
    assert merged["hosts"][0]["ports"][0]["state"] == "closed"
    # 10.0.0.5 plus the two addresses printer.example.com resolved to (clean, not returned).
    assert merged["summary"]["targets"] == 3 and merged["summary"]["elapsed"] == 3.0
    assert merged["unresolved"] == [{"target": "gone.example.com", "error": "does not resolve", "probed_from": "jump-b"}]


def test_without_scans_the_targets_are_the_addresses_probed():
    merged = merge.merge_probes([{"from": "a", "host": result(entry("10.0.0.1", "open", "closed"))}, None])
    assert merged["summary"] == {"targets": 1, "exposed": 1, "elapsed": 1.0, "sites": []}
    assert merge.merge_probes([])["summary"]["targets"] == 0


def test_sites_are_reported_apart():
    records = [{"from": "jump-a", "scan": [chunk("jump-a", ["10.1.0.0/24"], entry("10.1.0.9", "open", "open"),
                                                 targets=256, elapsed=4.0)]},
               {"from": "jump-b", "scan": [chunk("jump-b", ["10.2.0.0/24"], targets=256, elapsed=6.0)]}]
    merged = merge.merge_probes(records)
    assert merged["hosts"][0]["probed_from"] == "jump-a"
    assert merged["summary"]["targets"] == 512 and merged["summary"]["elapsed"] == 6.0
    assert [site["from"] for site in merged["summary"]["sites"]] == ["jump-a", "jump-b"]


def test_a_record_that_is_no_probe_result_is_an_error():
    with pytest.raises(ValueError, match="not a dict"):
        merge.merge_probes(["x"])
    with pytest.raises(ValueError, match="not a netsec.bjnp.probe host entry"):
        merge.merge_probes([{"host": {"hosts": ["10.0.0.1"]}}])


# --- phases, as the report action reads them from every host ------------------------------------

def stored(phase, *hosts):
    return {phase: {"from": "localhost", "host": result(*hosts), "scan": []}}


def test_one_phase_is_its_merged_result_and_other_phases_are_not_read():
    probes = [dict(stored("before", entry("10.0.0.1", "open")), **stored("detect", entry("10.0.0.9", "closed"))),
              None, stored("detect", entry("10.0.0.2", "open"))]
    merged = merge.probe_of_phases(probes, ["detect"])
    assert [host["address"] for host in merged["hosts"]] == ["10.0.0.2", "10.0.0.9"]
    assert merged["summary"]["exposed"] == 1


def test_before_and_after_are_compared_when_both_were_probed_and_the_one_probed_stands_alone():
    both = [dict(stored("before", entry("10.0.0.1", "open")), **stored("after", entry("10.0.0.1", "filtered")))]
    compared = merge.probe_of_phases(both, ["before", "after"])
    assert sorted(compared) == ["after", "before"]
    assert compared["after"]["hosts"][0]["ports"][0]["state"] == "filtered"
    alone = merge.probe_of_phases([stored("before", entry("10.0.0.1", "open"))], ["before", "after"])
    assert alone["hosts"][0]["address"] == "10.0.0.1" and "before" not in alone
    assert merge.probe_of_phases([None, {}], ["verify"]) == {}


@pytest.mark.parametrize("phases, stored_probes, message", [
    ([], [], "phases must be one phase or two different ones"),
    (["before", "after", "verify"], [], "phases must be one phase or two different ones"),
    (["detect", "detect"], [], "phases must be one phase or two different ones"),
    ("detect", [], "phases must be one phase or two different ones"),
    (["detect"], ["not a dict"], "bjnp_probes of host 0 is 'not a dict'"),
    (["detect"], [{"detect": "oops"}], "record 0 is 'oops', not a dict with from, host and scan"),
])
def test_bad_phases_and_bad_stored_probes_are_refused(phases, stored_probes, message):
    with pytest.raises(ValueError, match=message):
        merge.probe_of_phases(stored_probes, phases)
