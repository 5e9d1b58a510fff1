# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks' input check (filter bjnp_playbook_input): pure, on the real role argument specs.

tests/integration/test_playbook_guards.py runs the same checks through ansible-playbook.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.filter import bjnp_playbook_input as pi

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
INVENTORY = ["printhost", "gateway", "printserver", "controller"]


def check(playbook="detect", hosts=None, run=None, targets=None, **extra):
    """The filter on a run: ``hosts`` maps host -> its bjnp_* variables (default: one host, none)."""
    hosts = {"printhost": {}} if hosts is None else hosts
    data = dict(playbook=playbook, hosts=hosts, run=run if run is not None else {"bjnp_hosts": "all"},
                targets=list(hosts) if targets is None else targets, inventory=INVENTORY,
                groups=["all", "ungrouped", "print_hosts", "support"])
    data.update(extra)
    return pi.bjnp_playbook_input(data)


def changing(playbook="remediate", **values):
    """A remediate (or rollback) run on printhost with a change id, plus ``values``."""
    values.setdefault("bjnp_change_id", "CHG-1")
    return check(playbook, hosts={"printhost": values})


def only(result):
    assert len(result["problems"]) == 1, result["problems"]
    return result["problems"][0]


# --- known names -----------------------------------------------------------------------------

def test_known_names_are_the_roles_and_the_playbooks():
    specs = pi.load_role_specs()
    # firewall role (argument specs and defaults), listeners role, playbooks
    for name in ("bjnp_allowed_sources", "bjnp_backend", "bjnp_rollback_from", "bjnp_windows_backup_dir", "bjnp_ports"):
        assert name in specs
    assert specs["bjnp_action"]["choices"] == ["drop", "reject"]
    assert "description" not in specs["bjnp_action"]


def _names_in(paths):
    found = set()
    for path in paths:
        with open(path) as handle:
            # bjnp_run_* are the playbooks' own computed names, __bjnp_* the role's internal ones,
            # &bjnp_* / *bjnp_* YAML anchors, netsec.bjnp.bjnp_* filters and their files.
            found.update(re.findall(r"(?<![_\w&*./])bjnp_(?!run_)[a-z0-9_]+", handle.read()))
    return found


def test_every_name_the_playbooks_and_roles_use_is_known():
    """A name the code reads or sets but the check does not know would be refused as a typo."""
    paths = glob.glob(os.path.join(REPO, "playbooks", "**", "*.yml"), recursive=True) + \
        glob.glob(os.path.join(REPO, "roles", "**", "*.yml"), recursive=True)
    # Role vars (vars/main.yml) outrank the inventory: setting one is a mistake the check reports.
    role_vars = _names_in(glob.glob(os.path.join(REPO, "roles", "*", "vars", "main.yml")))
    known = set(pi.PLAYBOOK_VARIABLES) | set(pi.load_role_specs()) | set(pi.OUTPUTS)
    assert sorted(_names_in(paths) - known - role_vars) == []


def test_every_playbook_variable_is_documented():
    with open(os.path.join(REPO, "docs", "playbooks.md")) as handle:
        documented = set(re.findall(r"`(bjnp_[a-z0-9_]+)`", handle.read()))
    assert sorted(set(pi.PLAYBOOK_VARIABLES) - documented) == []


# --- unknown names: likely typos -------------------------------------------------------------

@pytest.mark.parametrize("typo, meant", [
    ("bjnp_alowed_sources", "bjnp_allowed_sources"),
    ("bjnp_fail_on_exposed", "bjnp_fail_on_exposure"),
    ("bjnp_chnage_id", "bjnp_change_id"),
    ("bjnp_serail", "bjnp_serial"),
    ("bjnp_protected_destination", "bjnp_protected_destinations"),
    ("bjnp_smoketest_from", "bjnp_smoke_test_from"),
    ("bjnp_run_report_dir", "bjnp_report_dir"),  # the playbooks' internal names are no input
])
def test_unknown_name_is_refused_with_the_closest_known_name(typo, meant):
    result = check(hosts={"printhost": {typo: "x"}})
    assert result["problems"][0] == "%s is not a variable of netsec.bjnp (did you mean %s?) (host printhost)" % (typo, meant)
    assert "bjnp_unknown_vars_waived" in result["problems"][-1]


def test_unknown_name_without_a_close_match_gives_no_suggestion():
    assert check(hosts={"printhost": {"bjnp_site_tag": 1}})["problems"][0] == (
        "bjnp_site_tag is not a variable of netsec.bjnp (host printhost)")


@pytest.mark.parametrize("waiver", [True, "yes", ["bjnp_site_tag"], "bjnp_site_tag,bjnp_other"])
def test_waived_unknown_names_are_warnings(waiver):
    result = check(hosts={"printhost": {"bjnp_site_tag": 1, "bjnp_unknown_vars_waived": waiver}})
    assert result["problems"] == []
    assert result["warnings"] == ["bjnp_site_tag is not a variable of netsec.bjnp - waived by bjnp_unknown_vars_waived "
                                  "(host printhost)"]


def test_a_waiver_list_lets_only_its_names_through():
    result = check(hosts={"printhost": {"bjnp_site_tag": 1, "bjnp_alowed_sources": [], "bjnp_unknown_vars_waived": ["bjnp_site_tag"]}})
    assert result["problems"][0].startswith("bjnp_alowed_sources is not a variable")
    assert result["warnings"][0].startswith("bjnp_site_tag is not a variable")


@pytest.mark.parametrize("waiver", [{"bjnp_x": 1}, 5, [1]])
def test_a_bad_waiver_is_refused(waiver):
    assert check(hosts={"printhost": {"bjnp_unknown_vars_waived": waiver}})["problems"][0].startswith(
        "bjnp_unknown_vars_waived %s: give true" % pi.show(waiver))


def test_output_facts_of_an_earlier_play_are_no_typos():
    assert check(hosts={"printhost": {"bjnp_firewall_result": {}, "bjnp_run_checked": {}, "bjnp_listeners": []}})["problems"] == []


@pytest.mark.parametrize("value, meant", [(True, True), ("Yes", True), (" on ", True), (1, True), ("false", False),
                                          (0, False), ("n", False), ("ture", None), (2, None), ([True], None), ({}, None)])
def test_booleans_read_as_ansible_reads_them(value, meant):
    assert pi.truth(value) is meant


# --- types and choices -----------------------------------------------------------------------

@pytest.mark.parametrize("playbook, name, value, message", [
    ("detect", "bjnp_fail_on_exposure", "ture", 'bjnp_fail_on_exposure "ture": is not a boolean (true/false, yes/no, on/off or 1/0)'),
    ("verify", "bjnp_report_formats", ["pdf"], 'bjnp_report_formats ["pdf"]: value of bjnp_report_formats must be one or more of: json, junit, html'),
    ("detect", "bjnp_report_dir", ["/tmp"], 'bjnp_report_dir ["/tmp"] is a list, not a string'),
    ("detect", "bjnp_report_dir", "", "bjnp_report_dir is empty"),
    ("detect", "bjnp_probe_timeout", "0", 'bjnp_probe_timeout "0" must be more than 0'),
    ("detect", "bjnp_probe_timeout", "fast", 'bjnp_probe_timeout "fast": is not a float'),
    ("detect", "bjnp_probe_retries", -1, "bjnp_probe_retries -1 must be at least 0"),
    ("detect", "bjnp_probe_rate", "10k", 'bjnp_probe_rate "10k": is not an int'),
    ("verify", "bjnp_smoke_test_timeout", 0, "bjnp_smoke_test_timeout 0 must be more than 0"),
    # The probe's own bounds, before any host is contacted.
    ("detect", "bjnp_probe_timeout", 61, "bjnp_probe_timeout 61 must be at most 60"),
    ("detect", "bjnp_probe_retries", 11, "bjnp_probe_retries 11 must be at most 10"),
    ("detect", "bjnp_probe_rate", 2000000, "bjnp_probe_rate 2000000 must be at most 1000000"),
    ("detect", "bjnp_probe_concurrency", 0, "bjnp_probe_concurrency 0 must be at least 1"),
    ("detect", "bjnp_probe_concurrency", 2000000, "bjnp_probe_concurrency 2000000 must be at most 1048576"),
    ("verify", "bjnp_probe_max_targets", 0, "bjnp_probe_max_targets 0 must be at least 1"),
    ("detect", "bjnp_probe_max_targets", "lots", 'bjnp_probe_max_targets "lots": is not an int'),
    ("remediate", "bjnp_probe_max_targets", 16777217, "bjnp_probe_max_targets 16777217 must be at most 16777216"),
    ("detect", "bjnp_probe_chunk_size", 0, "bjnp_probe_chunk_size 0 must be at least 1"),
    ("detect", "bjnp_probe_identify", "perhaps", 'bjnp_probe_identify "perhaps": is not a boolean'),
    ("detect", "bjnp_probe_only_exposed", "some", 'bjnp_probe_only_exposed "some": is not a boolean'),
    ("verify", "bjnp_report_detail", "everything",
     'bjnp_report_detail "everything": value of bjnp_report_detail must be one of: findings, all'),
    ("detect", "bjnp_scan_targets", ["10.0.0.0/24", "192.168.1"],
     "bjnp_scan_targets: target '192.168.1' is not a dotted-quad IPv4 address"),
    ("detect", "bjnp_scan_targets", ["10.0.0.0/33"], "bjnp_scan_targets: target '10.0.0.0/33' is not a valid CIDR network"),
    ("detect", "bjnp_scan_targets", ["10.0.0.0/8"],
     "bjnp_scan_targets expand to 16777216 addresses, more than bjnp_probe_max_targets=65536 (a /8 instead of a /24?)"),
    ("detect", "bjnp_probe_from", "controler", 'bjnp_probe_from "controler" is not a host of the inventory (did you mean controller?)'),
    ("verify", "bjnp_smoke_test_from", "nowhere", 'bjnp_smoke_test_from "nowhere" is not a host of the inventory'),
    ("detect", "bjnp_ports", [{"protocol": "tpc", "port": 9100}],
     'bjnp_ports [{"port": 9100, "protocol": "tpc"}]: value of protocol must be one of: tcp, udp, got: tpc'),
    ("detect", "bjnp_mode", ["gatway"], 'bjnp_mode ["gatway"]: value of bjnp_mode must be one or more of: host, gateway'),
    ("remediate", "bjnp_action", "dorp", 'bjnp_action "dorp": value of bjnp_action must be one of: drop, reject, got: dorp'),
    ("remediate", "bjnp_persist", "maybe", 'bjnp_persist "maybe": is not a boolean'),
    ("remediate", "bjnp_backup_keep", "ten", 'bjnp_backup_keep "ten": is not an int'),
    ("rollback", "bjnp_rollback", "undo", 'bjnp_rollback "undo": value of bjnp_rollback must be one of: remove, restore'),
    ("remediate", "bjnp_change_id", ["CHG-1"], 'bjnp_change_id ["CHG-1"] is a list, not a string'),
    ("remediate", "bjnp_change_id", "CHG-1\nrm -rf", "bjnp_change_id \"CHG-1\\nrm -rf\" holds control characters"),
    ("remediate", "bjnp_change_id", " CHG-1", 'bjnp_change_id " CHG-1" starts or ends with blanks'),
    ("remediate", "bjnp_change_id_waived", "sure", 'bjnp_change_id_waived "sure": is not a boolean'),
])
def test_bad_types_and_choices_are_refused_naming_the_value(playbook, name, value, message):
    values = {name: value}
    if playbook in pi.CHANGING and name != "bjnp_change_id":
        values["bjnp_change_id"] = "CHG-1"
    result = check(playbook, hosts={"printhost": values})
    assert result["problems"] and result["problems"][0].startswith(message), result["problems"]


def test_a_playbook_checks_only_what_it_reads():
    # detect runs no firewall role: a bad firewall option is remediate's business.
    assert check("detect", hosts={"printhost": {"bjnp_action": "dorp", "bjnp_serial": "x"}})["problems"] == []
    assert "bjnp_action" in only(changing(bjnp_action="dorp"))


def test_scan_targets_are_counted_against_the_hosts_own_max_targets():
    values = {"bjnp_scan_targets": ["10.0.0.0/16", "10.1.0.0/24"], "bjnp_probe_max_targets": 65536}
    assert "expand to 65792 addresses" in only(check(hosts={"printhost": values}))
    values["bjnp_probe_max_targets"] = 65792
    assert check(hosts={"printhost": values})["problems"] == []
    # A comma-separated string is a list, as Ansible reads one.
    assert check(hosts={"printhost": {"bjnp_scan_targets": "10.0.0.0/24,printer01.example.com"}})["problems"] == []


def test_scan_targets_inside_a_listed_network_count_once():
    # The probe counts distinct addresses: a printer listed beside its /16 is no 65,537th target.
    values = {"bjnp_scan_targets": ["10.0.7.9", "10.0.0.0/16", "10.0.3.0/24"], "bjnp_probe_max_targets": 65536}
    assert check(hosts={"printhost": values})["problems"] == []


@pytest.mark.parametrize("playbook", pi.PLAYBOOKS)
def test_good_values_pass(playbook):
    values = {"bjnp_probe_from": "controller", "bjnp_probe_timeout": "0.5", "bjnp_probe_retries": 0,
              "bjnp_scan_targets": "10.0.0.0/24", "bjnp_report_formats": ["json"], "bjnp_fail_on_exposure": "no",
              "bjnp_probe_concurrency": 512, "bjnp_probe_rate": "1000", "bjnp_probe_identify": "no",
              "bjnp_probe_max_targets": 16777216, "bjnp_probe_only_exposed": False, "bjnp_probe_chunk_size": 4096,
              "bjnp_report_detail": "all",
              "bjnp_smoke_test_from": "printserver", "bjnp_smoke_test_printer": "10.0.0.5", "bjnp_change_id": 1234,
              "bjnp_allowed_sources": ["10.0.0.20"], "bjnp_mode": ["host"], "bjnp_rollback": "restore"}
    assert check(playbook, hosts={"printhost": values}) == dict(playbook=playbook, targets=["printhost"], problems=[], warnings=[])


# --- the play's own keywords: hosts, batches ---------------------------------------------------

@pytest.mark.parametrize("serial", [1, "2", "10%", [1, "10%", "100%"], ["1", 5]])
def test_good_batches(serial):
    assert pi.check_serial(serial) == []


@pytest.mark.parametrize("serial, message", [
    (0, "bjnp_serial 0 is not a batch size"),
    ("-1", 'bjnp_serial "-1" is not a batch size'),
    ("0%", 'bjnp_serial "0%" is not a batch size'),
    ("150%", 'bjnp_serial "150%" is not a batch size'),
    ("1.5", 'bjnp_serial "1.5" is not a batch size'),
    ("some", 'bjnp_serial "some" is not a batch size'),
    (True, "bjnp_serial true is not a batch size"),
    ([1, "x"], 'bjnp_serial [1, "x"]: "x" is not a batch size'),
    ([], "bjnp_serial []: give at least one batch size"),
    ("1,10%,100%", 'bjnp_serial "1,10%,100%": a list is given as YAML or JSON'),
    ("nan", 'bjnp_serial "nan" is not a batch size'),
    ("inf%", 'bjnp_serial "inf%" is not a batch size'),
])
def test_bad_batches(serial, message):
    problems = pi.check_serial(serial)
    assert len(problems) == 1 and problems[0].startswith(message), problems


@pytest.mark.parametrize("value, good", [(0, True), ("100", True), ("25%", True), (12.5, True),
                                         (-1, False), (101, False), ("all", False), (True, False), ("nan", False)])
def test_max_fail_percentage(value, good):
    assert (pi.check_percentage(value) == []) is good


def test_batch_keywords_are_checked_only_where_the_play_has_them():
    run = {"bjnp_hosts": "all", "bjnp_serial": 0, "bjnp_max_fail_percentage": 150}
    assert check("detect", run=run)["problems"] == []
    problems = check("remediate", run=run, hosts={"printhost": {"bjnp_change_id": "C"}})["problems"]
    assert [p.split(" ")[0] for p in problems] == ["bjnp_serial", "bjnp_max_fail_percentage"]


@pytest.mark.parametrize("playbook", pi.CHANGING)
def test_changing_playbooks_need_bjnp_hosts(playbook):
    result = check(playbook, run={}, hosts={"printhost": {"bjnp_change_id": "C"}}, targets=[])
    assert only(result) == ("netsec.bjnp.%s changes firewalls and has no default hosts: name them with "
                            "-e bjnp_hosts=<group or pattern> (-e bjnp_hosts=all for every host of the inventory)" % playbook)


@pytest.mark.parametrize("playbook", pi.GATES)
def test_read_only_playbooks_default_to_all_hosts(playbook):
    assert check(playbook, run={})["problems"] == []


@pytest.mark.parametrize("hosts", ["", " ", [], ["print_hosts", ""], {"a": 1}, 5])
def test_a_bad_host_pattern_is_refused(hosts):
    assert only(check(run={"bjnp_hosts": hosts}, targets=[])).startswith(
        "bjnp_hosts %s is not a host pattern" % pi.show(hosts))


@pytest.mark.parametrize("playbook, verb", [("detect", "checked"), ("verify", "checked"), ("remediate", "changed")])
def test_a_pattern_matching_no_host_fails(playbook, verb):
    result = check(playbook, run={"bjnp_hosts": "printres"}, targets=[], limit=None)
    assert only(result) == ('bjnp_hosts "printres" matches no host of the inventory: nothing would be %s, so the run '
                            "fails instead of passing (groups: print_hosts, support)" % verb)


@pytest.mark.parametrize("playbook", pi.PLAYBOOKS)
def test_bjnp_hosts_from_the_inventory_is_refused(playbook):
    # The check play's name says whether bjnp_hosts reached the play: here only the hosts' variables.
    result = check(playbook, run={"bjnp_hosts": "print_hosts"}, hosts_given=False, hosts={"printhost": {"bjnp_change_id": "C"}})
    assert only(result).startswith('bjnp_hosts "print_hosts" is set in the inventory (host or group vars), where the '
                                   "play's hosts: cannot read it")
    assert only(result).endswith("give it with -e bjnp_hosts=print_hosts")


def test_a_limit_leaving_no_target_is_named():
    result = check(run={"bjnp_hosts": "print_hosts"}, targets=[], limit="support")
    assert 'matches no host of the inventory within --limit "support"' in only(result)


# --- change id ---------------------------------------------------------------------------------

@pytest.mark.parametrize("playbook", pi.CHANGING)
def test_changing_playbooks_need_a_change_id(playbook):
    needs = "netsec.bjnp.%s needs a change id: give the change ticket with -e bjnp_change_id=CHG-1234" % playbook
    assert only(check(playbook, hosts={"printhost": {}})).startswith(needs)
    assert only(check(playbook, hosts={"printhost": {"bjnp_change_id": " "}})).startswith(needs)


@pytest.mark.parametrize("playbook", pi.CHANGING)
def test_the_change_id_can_be_waived_explicitly(playbook):
    result = check(playbook, hosts={"printhost": {"bjnp_change_id_waived": "true"}})
    assert result["problems"] == []
    assert result["warnings"] == ["running without a change id (bjnp_change_id_waived is true) (host printhost)"]


def test_bjnp_require_change_id_false_is_no_waiver():
    assert only(check("remediate", hosts={"printhost": {"bjnp_require_change_id": False}})).endswith(
        "(bjnp_require_change_id: false no longer waives it) (host printhost)")


@pytest.mark.parametrize("playbook", pi.GATES)
def test_read_only_playbooks_need_no_change_id(playbook):
    assert check(playbook)["problems"] == []


# --- one message per problem, naming the hosts ----------------------------------------------------

def test_a_problem_of_every_host_is_said_once():
    hosts = dict(("host%d" % n, {"bjnp_fail_on_exposed": True}) for n in range(3))
    assert check(hosts=hosts)["problems"][0].endswith("(every target host)")


def test_many_hosts_are_counted_not_all_named():
    hosts = dict(("host%02d" % n, {"bjnp_action": "dorp", "bjnp_change_id": "C"}) for n in range(8))
    hosts["good"] = {"bjnp_change_id": "C"}
    assert check("remediate", hosts=hosts, targets=sorted(hosts))["problems"] == [
        'bjnp_action "dorp": value of bjnp_action must be one of: drop, reject, got: dorp '
        "(hosts host00, host01, host02, host03, host04 and 3 more)"]


def test_bad_filter_input_is_an_error_not_a_traceback():
    with pytest.raises(AnsibleFilterError, match="expects a dict"):
        pi.bjnp_playbook_input(["detect"])
    with pytest.raises(AnsibleFilterError, match='playbook "scan" is not one of detect, remediate, verify, rollback'):
        pi.bjnp_playbook_input({"playbook": "scan"})


def test_missing_role_specs_are_an_error_naming_the_file(tmp_path):
    with pytest.raises(AnsibleFilterError, match="cannot read the firewall role's variables"):
        pi.load_role_specs(str(tmp_path))


# --- monitor -------------------------------------------------------------------------------------

@pytest.mark.parametrize("typo, meant", [
    ("bjnp_fail_on_attempt", "bjnp_fail_on_attempts"),
    ("bjnp_monitor_sinse", "bjnp_monitor_since"),
    ("bjnp_monitor_logsource", "bjnp_monitor_log_source"),
    ("bjnp_print_server_min_connection", "bjnp_print_server_min_connections"),
])
def test_monitor_typos_are_refused_with_the_closest_known_name(typo, meant):
    result = check("monitor", hosts={"printhost": {typo: "x"}})
    assert result["problems"][0] == "%s is not a variable of netsec.bjnp (did you mean %s?) (host printhost)" % (typo, meant)


@pytest.mark.parametrize("name, value, message", [
    ("bjnp_fail_on_attempts", "ture", 'bjnp_fail_on_attempts "ture": is not a boolean (true/false, yes/no, on/off or 1/0)'),
    ("bjnp_monitor_log_source", "syslog",
     'bjnp_monitor_log_source "syslog": value of bjnp_monitor_log_source must be one of: auto, journal, kern.log, kmsg, '
     "none, got: syslog"),
    ("bjnp_print_server_min_connections", 0, "bjnp_print_server_min_connections 0 must be at least 1"),
    ("bjnp_print_server_min_connections", "some", 'bjnp_print_server_min_connections "some": is not an int'),
    ("bjnp_monitor_since", "yesterday", 'bjnp_monitor_since "yesterday": since \'yesterday\' is not a time: give an ISO 8601 time'),
    ("bjnp_monitor_since", "2026-13-01T00:00:00Z", 'bjnp_monitor_since "2026-13-01T00:00:00Z": '),
    ("bjnp_monitor_since", ["2h"], 'bjnp_monitor_since ["2h"] is a list, not a time'),
    ("bjnp_monitor_since", "2099-01-01T00:00:00Z", 'bjnp_monitor_since "2099-01-01T00:00:00Z": since \'2099-01-01T00:00:00Z\' is in the future'),
    ("bjnp_monitor_since", -5, "bjnp_monitor_since -5: since '-5' is before 2000-01-01"),
    ("bjnp_monitor_since", True, "bjnp_monitor_since true: since True is not a time"),
    ("bjnp_report_formats", ["pdf"], "value of bjnp_report_formats must be one or more of: json, junit, html"),
    ("bjnp_backend", "nft", 'bjnp_backend "nft": value of bjnp_backend must be one of'),
    ("bjnp_ports", [{"protocol": "tpc", "port": 9100}], "value of protocol must be one of: tcp, udp, got: tpc"),
])
def test_monitor_refuses_bad_values_naming_them(name, value, message):
    result = check("monitor", hosts={"printhost": {name: value}})
    assert result["problems"] and message in result["problems"][0], result["problems"]


@pytest.mark.parametrize("since", ["24h", "30m", "1d", "1w", "90s", "2026-11-25T08:00:00Z", "2026-11-25T08:00:00", "2026-11-25T08:00:00+01:00", 1764547200,
                                   "1764547200"])
def test_monitor_accepts_the_windows_the_collector_reads(since):
    assert check("monitor", hosts={"printhost": {"bjnp_monitor_since": since}})["problems"] == []


def test_monitor_is_read_only_defaults_to_every_host_and_reads_only_its_own_variables():
    assert check("monitor", run={})["problems"] == []
    assert only(check("monitor", run={"bjnp_hosts": "printres"}, targets=[])).startswith(
        'bjnp_hosts "printres" matches no host of the inventory: nothing would be checked')
    # No probe, no firewall change: those variables are known, and not monitor's business.
    values = {"bjnp_probe_timeout": 0, "bjnp_action": "dorp", "bjnp_fail_on_exposure": "maybe", "bjnp_serial": 0}
    assert check("monitor", hosts={"printhost": values})["problems"] == []
    assert check("detect", hosts={"printhost": {"bjnp_fail_on_attempts": "maybe"}})["problems"] == []
