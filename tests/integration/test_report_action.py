# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netsec.bjnp.report action plugin through ansible-playbook for real: ``phases`` merged from
every play host's stored probes, the report written in the controller's process, and the module
path (become) writing the same document. No network traffic: the stored probes are given."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest

from bjnp_integration import BIN, IS_ROOT, tool_env


def entry(address, state, model=None):
    host = {"address": address, "exposed": state == "open",
            "ports": [{"protocol": "tcp", "port": 9100, "state": state, "service": "jetdirect"}]}
    if model:
        host["identity"] = {"model": model}
    return host


def probe_result(*hosts):
    return {"changed": False, "hosts": list(hosts), "unresolved": [],
            "summary": {"targets": len(hosts), "exposed": sum(1 for h in hosts if h["exposed"]), "elapsed": 0.5}}


# What tasks/probe.yml stores: web1 led the site's scan (one chunk of 10.9.0.0/30), web2 probed itself.
STORED = {
    "web1": {"detect": {"from": "localhost", "host": probe_result(entry("10.9.0.10", "closed")),
                        "scan": [dict(probe_result(entry("10.9.0.1", "open")),
                                      item={"from": "localhost", "targets": ["10.9.0.0/30"]})]},
             "before": {"from": "localhost", "host": probe_result(entry("10.9.0.10", "open")), "scan": []}},
    "web2": {"detect": {"from": "jump-b", "host": probe_result(entry("10.9.0.20", "open")), "scan": []}},
}


def play(workdir, report_args, become=False, check=False, verbosity=None):
    """Runs a play over web1 and web2 (local connections) that stores STORED as bjnp_probes and
    writes one report with ``report_args``; returns (exit code, the report task's result, output)."""
    inventory = os.path.join(workdir, "inventory.json")
    python = os.path.join(BIN, "python")
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": dict((name, {"ansible_connection": "local", "ansible_python_interpreter": python,
                                                 "stored_probes": STORED[name]}) for name in STORED)}}, handle)
    playbook = os.path.join(workdir, "report.yml")
    task = {"name": "Write the report", "netsec.bjnp.report": report_args, "delegate_to": "localhost",
            "run_once": True, "register": "written"}
    if become:
        task.update(become=True, become_method="ansible.builtin.su", become_user="root")
    with open(playbook, "w") as handle:
        json.dump([{"hosts": "all", "gather_facts": False, "tasks": [
            {"name": "Store the probes", "ansible.builtin.set_fact": {"bjnp_probes": "{{ stored_probes }}"}},
            task,
            {"name": "Show it", "ansible.builtin.debug": {"var": "written"}, "run_once": True}]}], handle)
    command = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook] + (["--check"] if check else [])
    env = dict(tool_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    if verbosity:
        command.append("-" + "v" * verbosity)
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
    completed = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=300, check=False)
    if verbosity:
        return completed.returncode, None, completed.stdout + completed.stderr
    output = json.loads(completed.stdout)
    for task_result in output["plays"][0]["tasks"]:
        if task_result["task"]["name"] == "Write the report":
            return completed.returncode, next(iter(task_result["hosts"].values())), completed.stderr
    raise AssertionError("no report task in the output:\n%s" % completed.stdout)


def document(path):
    with open(path) as handle:
        data = json.load(handle)
    data.pop("generated", None)
    return data


def test_phases_merge_every_hosts_stored_probes_on_the_controller(workdir):
    reports = os.path.join(workdir, "reports")
    code, result, errors = play(workdir, {"dir": reports, "name": "detect", "phases": ["detect"]})
    assert code == 0, errors
    assert result["summary"]["exposed"] == 2 and result["summary"]["hosts"] == 6
    hosts = dict((host["address"], host) for host in document(result["paths"]["json"])["hosts"])
    assert sorted(hosts) == ["10.9.0.1", "10.9.0.20"]
    assert hosts["10.9.0.20"]["probed_from"] == "jump-b" and hosts["10.9.0.1"]["probed_from"] == "localhost"
    # before was stored too, but only detect was asked for
    assert document(result["paths"]["json"])["summary"]["before"] is None


def test_the_controller_writes_in_process_and_the_module_path_writes_the_same_report(workdir):
    if not IS_ROOT:
        pytest.skip("the module path is taken with become; su to root without a password needs root")
    args = {"dir": os.path.join(workdir, "reports"), "name": "remediate", "phases": ["before", "detect"]}
    code, output_in_process = play(workdir, args, verbosity=3)[::2]
    assert code == 0, output_in_process
    code, output_module = play(workdir, args, become=True, verbosity=3)[::2]
    assert code == 0, output_module
    # -vvv names every module file ansible ships; the in-process report ships none.
    assert "AnsiballZ_report.py" not in output_in_process
    assert "AnsiballZ_report.py" in output_module
    runs = sorted(name for name in os.listdir(args["dir"]) if name.endswith(".json") and "latest" not in name)
    assert len(runs) == 2
    first, second = (document(os.path.join(args["dir"], name)) for name in runs)
    assert first == second
    assert first["summary"]["before"] == {"hosts": 1, "exposed": 1, "open_ports": 1}


def test_check_mode_writes_nothing_in_process(workdir):
    reports = os.path.join(workdir, "reports")
    code, result, errors = play(workdir, {"dir": reports, "name": "detect", "phases": ["detect"]}, check=True)
    assert code == 0, errors
    assert result["changed"] is True and result["paths"]["json"].startswith(reports)
    assert not os.path.exists(reports)


@pytest.mark.parametrize("extra, message", [
    ({"phases": ["detect"], "probe": probe_result(entry("10.9.0.1", "open"))}, "give probe or phases, not both"),
    ({"phases": ["detect", "detect"]}, "phases: phases must be one phase or two different ones"),
    ({"phases": ["detect"], "name": "monitor"}, "phases is not read by the monitor report"),
    ({"phases": ["detect"], "formats": ["pdf"]}, "value of formats must be one or more of: json, junit, html"),
    ({"phases": ["detect"], "colour": "red"}, "colour"),
])
def test_bad_arguments_are_refused_before_anything_is_written(workdir, extra, message):
    reports = os.path.join(workdir, "reports")
    code, result, dummy = play(workdir, dict({"dir": reports, "name": "detect"}, **extra))
    assert code != 0 and result["failed"] is True
    assert message in result["msg"]
    assert not os.path.exists(reports)


def test_a_dir_that_is_a_file_is_refused_in_process(workdir):
    blocker = os.path.join(workdir, "file")
    with open(blocker, "w") as handle:
        handle.write("x")
    code, result, dummy = play(workdir, {"dir": blocker, "name": "detect", "phases": ["detect"]})
    assert code != 0 and "is not a directory" in result["msg"]
