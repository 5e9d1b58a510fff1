# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks every playbook runs before it contacts a host, through ansible-playbook for real.

The inventories are throwaway files of local hosts (ansible_connection local) whose Python
interpreter does not exist: a host the run contacts fails with "interpreter not found", so
the tests see exactly which hosts a run reached. Nothing here changes a firewall; the one run
that gets through (detect) probes a leased loopback address.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest

from bjnp_integration import BIN, tool_env

CHECK_PLAY = "Check the run before any host is contacted"
GUARD_TASK = "Refuse unless the checks passed for these hosts"
REFUSAL_TASK = "Refuse the run before any host is contacted"
NO_PYTHON = "/nonexistent/netsec-bjnp-test/python3"
PRINTERS = ["p1", "p2", "p3", "p4", "p5"]


def write_inventory(workdir, hosts=None, group_vars=None):
    """printers p1-p5 and others o1 (unless ``hosts`` says otherwise), all unreachable for modules."""
    hosts = hosts or {"printers": dict((name, {}) for name in PRINTERS), "others": {"o1": {}}}
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": NO_PYTHON},
                         "children": dict((group, {"hosts": members}) for group, members in hosts.items())}}
    directory = os.path.join(workdir, "inventory")
    os.makedirs(os.path.join(directory, "group_vars"))
    with open(os.path.join(directory, "hosts.json"), "w") as handle:
        json.dump(inventory, handle)
    if group_vars:
        with open(os.path.join(directory, "group_vars", "all.json"), "w") as handle:
            json.dump(group_vars, handle)
    return directory


class Run(object):
    def __init__(self, completed):
        self.returncode = completed.returncode
        self.text = completed.stdout + completed.stderr
        try:
            self.plays = json.loads(completed.stdout)["plays"]
        except (ValueError, KeyError):
            self.plays = []

    def results(self):
        """(play, task, host, result) of every task a host ran (skipped ones left out)."""
        for play in self.plays:
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    if not result.get("skipped"):
                        yield play["play"]["name"], task["task"]["name"], host, result

    def contacted(self):
        """Hosts that ran anything beyond the checks (which contact no host)."""
        return sorted(set(host for play, task, host, result in self.results()
                          if not play.startswith(CHECK_PLAY) and task != GUARD_TASK))

    def failure(self, task):
        found = [result["msg"] for dummy, name, dummy2, result in self.results() if name == task and result.get("failed")]
        assert found, "task %r did not fail:\n%s" % (task, self.text[-6000:])
        return found[0]

    def refusal(self):
        return self.failure(REFUSAL_TASK)


def playbook(workdir, inventory, name, *args):
    env = dict(tool_env(), PWD=workdir)  # the default report directory is $PWD/bjnp-reports
    completed = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "netsec.bjnp." + name] + list(args),
                               cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=600, check=False)
    return Run(completed)


def refused(run):
    """The refusal message of a run that contacted no host and wrote no report."""
    assert run.returncode != 0, run.text[-6000:]
    assert run.contacted() == [], run.text[-6000:]
    return run.refusal()


@pytest.fixture
def inventory(workdir):
    return write_inventory(workdir)


def reports(workdir):
    directory = os.path.join(workdir, "bjnp-reports")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


CHANGE = ["-e", "bjnp_hosts=printers", "-e", "bjnp_change_id=IT-GUARDS"]


# --- 1. a pattern that matches no host -------------------------------------------------------

@pytest.mark.parametrize("name", ["detect", "verify", "monitor"])
def test_a_gate_fails_when_bjnp_hosts_matches_no_host(workdir, inventory, name):
    message = refused(playbook(workdir, inventory, name, "-e", "bjnp_hosts=printres"))
    assert 'bjnp_hosts "printres" matches no host of the inventory: nothing would be checked' in message
    assert "(groups: others, printers)" in message
    assert reports(workdir) == []


def test_a_gate_fails_when_the_limit_leaves_none_of_its_hosts(workdir, inventory):
    message = refused(playbook(workdir, inventory, "verify", "-e", "bjnp_hosts=printers", "--limit", "others"))
    assert 'bjnp_hosts "printers" matches no host of the inventory within --limit "others"' in message


@pytest.mark.parametrize("name, args", [("detect", []), ("remediate", ["-e", "bjnp_change_id=IT-GUARDS"]),
                                        ("monitor", [])])
def test_bjnp_hosts_from_the_inventory_is_refused(workdir, name, args):
    # A play's hosts: cannot read the inventory: detect would run on every host instead.
    inventory = write_inventory(workdir, group_vars={"bjnp_hosts": "printers"})
    assert refused(playbook(workdir, inventory, name, *args)).endswith(
        'bjnp_hosts "printers" is set in the inventory (host or group vars), where the play\'s hosts: cannot read it '
        "(remediate and rollback would find no hosts, detect, verify and monitor every host): "
        "give it with -e bjnp_hosts=printers")
    assert reports(workdir) == []


def test_the_play_runs_only_on_the_hosts_the_checks_passed(workdir, inventory):
    # The checks must have run for this playbook: skipping them (--skip-tags always) stops the change.
    run = playbook(workdir, inventory, "remediate", "--skip-tags", "always", *CHANGE)
    assert run.returncode != 0 and run.contacted() == []
    assert "the checks of netsec.bjnp.remediate did not run" in run.failure(GUARD_TASK)


def test_a_detect_that_passes_the_checks_probes_and_reports(workdir, loopback_address):
    inventory = write_inventory(workdir, hosts={"printers": {"lab1": {
        "ansible_python_interpreter": os.path.join(BIN, "python"), "bjnp_probe_address": loopback_address,
        "bjnp_site_tag": "ours"}}})
    run = playbook(workdir, inventory, "detect", "-e", "bjnp_hosts=printers", "-e", "bjnp_probe_timeout=0.2",
                   "-e", '{"bjnp_unknown_vars_waived": ["bjnp_site_tag"]}')
    assert run.returncode == 0, run.text[-6000:]
    assert run.contacted() == ["lab1"]
    assert "bjnp_site_tag is not a variable of netsec.bjnp - waived by bjnp_unknown_vars_waived (host lab1)" in run.text
    assert "detect-latest.json" in reports(workdir)
    with open(os.path.join(workdir, "bjnp-reports", "detect-latest.json")) as handle:
        assert [entry["address"] for entry in json.load(handle)["hosts"]] == [loopback_address]


# --- 2. types, choices and typos, before any host ------------------------------------------------

@pytest.mark.parametrize("name, args, message", [
    ("detect", ["-e", "bjnp_fail_on_exposure=ture"],
     'bjnp_fail_on_exposure "ture": is not a boolean (true/false, yes/no, on/off or 1/0) (every target host)'),
    ("verify", ["-e", '{"bjnp_report_formats": ["pdf"]}'],
     'bjnp_report_formats ["pdf"]: value of bjnp_report_formats must be one or more of: json, junit, html'),
    ("detect", ["-e", "bjnp_probe_from=controler", "-e", "bjnp_unknown_vars_waived=true"],
     'bjnp_probe_from "controler" is not a host of the inventory'),
    ("verify", ["-e", "bjnp_probe_timeout=0"], 'bjnp_probe_timeout "0" must be more than 0'),
    ("remediate", CHANGE + ["-e", "bjnp_serial=0"], 'bjnp_serial "0" is not a batch size'),
    ("remediate", CHANGE + ["-e", "bjnp_serial=1,10%"], 'bjnp_serial "1,10%": a list is given as YAML or JSON'),
    ("remediate", CHANGE + ["-e", "bjnp_max_fail_percentage=150"], 'bjnp_max_fail_percentage "150" is not a percentage'),
    ("remediate", CHANGE + ["-e", "bjnp_action=dorp"],
     'bjnp_action "dorp": value of bjnp_action must be one of: drop, reject, got: dorp (every target host)'),
    ("rollback", CHANGE + ["-e", "bjnp_rollback=undo"], 'bjnp_rollback "undo": value of bjnp_rollback must be one of'),
    ("remediate", CHANGE + ["--tags", "rollback", "-e", "bjnp_rollback=undo"], 'bjnp_rollback "undo"'),
])
def test_bad_types_and_choices_are_refused_before_any_host(workdir, inventory, name, args, message):
    assert message in refused(playbook(workdir, inventory, name, *args))


@pytest.mark.parametrize("name, args", [("detect", []), ("remediate", CHANGE), ("rollback", CHANGE)])
def test_typos_in_extra_vars_and_host_vars_are_refused_with_the_closest_name(workdir, name, args):
    inventory = write_inventory(workdir, hosts={"printers": {"p1": {"bjnp_alowed_sources": ["10.0.0.20"]}, "p2": {}}})
    message = refused(playbook(workdir, inventory, name, "-e", "bjnp_fail_on_exposed=true", *args))
    assert "bjnp_fail_on_exposed is not a variable of netsec.bjnp (did you mean bjnp_fail_on_exposure?) (every target host)" in message
    assert "bjnp_alowed_sources is not a variable of netsec.bjnp (did you mean bjnp_allowed_sources?) (host p1)" in message
    assert "list your own in bjnp_unknown_vars_waived" in message


def test_a_typo_waiver_names_what_it_lets_through(workdir):
    inventory = write_inventory(workdir, hosts={"printers": {"p1": {"bjnp_site_tag": "ours", "bjnp_alowed_sources": []}}})
    message = refused(playbook(workdir, inventory, "remediate", "-e", '{"bjnp_unknown_vars_waived": ["bjnp_site_tag"]}', *CHANGE))
    assert "bjnp_alowed_sources is not a variable" in message and "bjnp_site_tag" not in message


# --- 3. safe defaults of the playbooks that change firewalls ----------------------------------------

ROLLBACKS = [("remediate", []), ("rollback", []), ("remediate", ["--tags", "rollback"])]


@pytest.mark.parametrize("name, args", ROLLBACKS)
def test_no_default_hosts_for_a_change(workdir, inventory, name, args):
    message = refused(playbook(workdir, inventory, name, "-e", "bjnp_change_id=IT-GUARDS", *args))
    assert message.endswith(
        "changes firewalls and has no default hosts: name them with -e bjnp_hosts=<group or pattern> "
        "(-e bjnp_hosts=all for every host of the inventory)")


@pytest.mark.parametrize("name, args", ROLLBACKS)
def test_a_change_needs_a_change_id_unless_waived(workdir, inventory, name, args):
    message = refused(playbook(workdir, inventory, name, "-e", "bjnp_hosts=printers", *args))
    assert "needs a change id: give the change ticket with -e bjnp_change_id=CHG-1234" in message
    assert "or set bjnp_change_id_waived: true to run without one (every target host)" in message
    # Waived: the checks pass and the run goes on to the hosts (which have no Python here).
    run = playbook(workdir, inventory, name, "-e", "bjnp_hosts=printers", "-e", "bjnp_change_id_waived=true", *args)
    assert run.returncode != 0 and run.contacted()
    assert "running without a change id (bjnp_change_id_waived is true) (every target host)" in run.text
    # ansible-core 2.19 names the missing interpreter; 2.16-2.18 say only that the module failed for want of one.
    assert ("interpreter '%s' was not found" % NO_PYTHON in run.text
            or "The module failed to execute correctly, you probably need to set the interpreter" in run.text), run.text[-3000:]


def test_remediate_starts_with_one_host_and_stops_at_its_failure(workdir, inventory):
    run = playbook(workdir, inventory, "remediate", *CHANGE)
    assert run.returncode != 0
    assert run.contacted() == ["p1"]  # p2-p5 never contacted
    assert playbook(workdir, inventory, "remediate", "-e", "bjnp_serial=2", *CHANGE).contacted() == ["p1", "p2"]


def test_a_rollback_reaches_every_host_at_once(workdir, inventory):
    assert playbook(workdir, inventory, "rollback", *CHANGE).contacted() == PRINTERS


# --- 4. monitor: read-only, but its variables are checked like the others' ----------------------------

@pytest.mark.parametrize("args, message", [
    (["-e", "bjnp_fail_on_attempts=ture"],
     'bjnp_fail_on_attempts "ture": is not a boolean (true/false, yes/no, on/off or 1/0) (every target host)'),
    (["-e", "bjnp_monitor_since=yesterday"], 'bjnp_monitor_since "yesterday": '),
    (["-e", "bjnp_monitor_log_source=syslog"],
     'bjnp_monitor_log_source "syslog": value of bjnp_monitor_log_source must be one of: auto, journal, kern.log, '
     "kmsg, none, got: syslog"),
    (["-e", "bjnp_print_server_min_connections=0"], 'bjnp_print_server_min_connections "0" must be at least 1'),
    (["-e", "bjnp_print_server_min_connections=many"], 'bjnp_print_server_min_connections "many": is not an int'),
    (["-e", '{"bjnp_report_formats": ["pdf"]}'], "value of bjnp_report_formats must be one or more of: json, junit, html"),
    (["-e", '{"bjnp_ports": [{"protocol": "tpc", "port": 9100}]}'], "value of protocol must be one of: tcp, udp, got: tpc"),
    (["-e", "bjnp_backend=nft"], 'bjnp_backend "nft": value of bjnp_backend must be one of'),
])
def test_monitor_refuses_bad_values_before_any_host(workdir, inventory, args, message):
    assert message in refused(playbook(workdir, inventory, "monitor", *args))
    assert reports(workdir) == []


def test_monitor_refuses_typos_with_the_closest_name(workdir):
    inventory = write_inventory(workdir, hosts={"printers": {"p1": {"bjnp_monitor_sinse": "2h"}, "p2": {}}})
    message = refused(playbook(workdir, inventory, "monitor", "-e", "bjnp_fail_on_attempt=true"))
    assert "bjnp_fail_on_attempt is not a variable of netsec.bjnp (did you mean bjnp_fail_on_attempts?) (every target host)" in message
    assert "bjnp_monitor_sinse is not a variable of netsec.bjnp (did you mean bjnp_monitor_since?) (host p1)" in message


def test_a_monitor_whose_hosts_cannot_be_read_reports_them_and_fails(workdir, inventory):
    # Past the checks every host is reached; none has Python here, so none can be read: the report
    # names each one, and the run fails after writing it instead of passing on nothing.
    run = playbook(workdir, inventory, "monitor", "-e", "bjnp_hosts=printers", "-e", "bjnp_monitor_since=2h")
    assert run.returncode != 0
    assert run.contacted() == PRINTERS
    with open(os.path.join(workdir, "bjnp-reports", "monitor-latest.json")) as handle:
        document = json.load(handle)
    assert document["summary"]["managed"] == 5 and document["summary"]["not_collected"] == 5
    assert all("interpreter" in item["error"] for item in document["managed"]), document["managed"]
    failed = [host for dummy, task, host, result in run.results()
              if task == "Fail the hosts whose attempts could not be read" and result.get("failed")]
    assert failed == PRINTERS
