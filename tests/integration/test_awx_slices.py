# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sliced detect run the way AWX runs one, under ansible-runner, merged by netsec.bjnp.report_merge.

No AWX here: what AWX hands each slice job is laid out by hand. Each slice gets an ansible-runner
private data directory (project/ with the one-line wrapper of docs/awx.md, inventory/ holding
only the slice's hosts, env/extravars with AWX's awx_workflow_job_id and awx_job_id), and the
three slices run at once with ``ansible-runner run``. A fourth runner job runs the project's
merge.yml (netsec.bjnp.report_merge) over the three slice reports. The merged report must hold
the findings of one unsliced run of the same inventory, and reports that do not belong to the
run must be refused. Every job runs inside a network namespace of the test's own: each
managed host is a loopback address there, reached with the local connection (so the listeners
role reads only that namespace's sockets), and an emulator answers on some of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from bjnp_integration import BIN, IS_ROOT, in_netns, tool_env

RUNNER = os.path.join(BIN, "ansible-runner")
PYTHON = os.path.join(BIN, "python")
HOSTS = ["printhost-%02d" % number for number in range(1, 8)]
EXPOSED = (1, 2, 5)          # printhost-01, -02 and -05 run a printer
SLICES = 3
WORKFLOW, UNSLICED_JOB = 500, 600

pytestmark = [pytest.mark.skipif(not os.path.exists(RUNNER),
                                 reason="ansible-runner is not installed in .venv (pip install ansible-runner)"),
              pytest.mark.skipif(not IS_ROOT, reason="needs root to create the network namespace the jobs run in")]

DETECT = """---
- name: Detect
  ansible.builtin.import_playbook: netsec.bjnp.detect
"""
# docs/awx.md's merge.yml, as the merge job template runs it.
MERGE = """---
- name: Merge the slice reports of one run
  hosts: localhost
  gather_facts: false
  vars:
    site_run: "{{ bjnp_report_run_id | default(awx_workflow_job_id) | string }}"
  tasks:
    # file_type any: a symlink planted among the reports is handed over, and refused by the merge.
    - name: Find the slice reports of the run
      ansible.builtin.find:
        paths: "{{ site_report_root }}/{{ site_run }}"
        patterns: "{{ site_report_name }}-latest.json"
        file_type: any
        recurse: true
        depth: 2
      register: site_slice_reports

    - name: Merge the slice reports
      netsec.bjnp.report_merge:
        src: "{{ site_slice_reports.files | map(attribute='path') | list }}"
        dir: "{{ site_report_root }}/{{ site_run }}"
        run_id: "{{ site_run }}"
        expect_slices: "{{ site_slices }}"
      register: bjnp_merged

    - name: Show the merged report
      ansible.builtin.debug:
        msg: "{{ bjnp_merged.summary.exposed }} exposed, slices {{ bjnp_merged.slices | join(', ') }}: {{ bjnp_merged.latest.html }}"
"""
# docs/awx.md's report directory of a slice: <root>/<run>/<job>.
SLICE_REPORT_DIR = "{{ site_report_root }}/{{ bjnp_report_run_id | default(awx_workflow_job_id) }}/{{ awx_job_id }}"


def inventory(prefix, hosts):
    """What AWX gives a slice job: an inventory of only the slice's hosts.

    The delegated tasks run on the implicit localhost (ansible-playbook's own Python).
    """
    return {"all": {"vars": {"bjnp_probe_timeout": 0.3, "ansible_connection": "local",
                             "ansible_python_interpreter": PYTHON},
                    "hosts": dict((host, {"bjnp_probe_address": "%s.%d" % (prefix, HOSTS.index(host) + 1)})
                                  for host in hosts)}}


def private_data_dir(root, name, playbook, text, hosts, prefix, extravars):
    path = os.path.join(root, name)
    for sub in ("project", "inventory", "env"):
        os.makedirs(os.path.join(path, sub))
    with open(os.path.join(path, "project", playbook), "w") as handle:
        handle.write(text)
    with open(os.path.join(path, "inventory", "hosts.yml"), "w") as handle:
        yaml.safe_dump(inventory(prefix, hosts), handle)
    with open(os.path.join(path, "env", "extravars"), "w") as handle:
        yaml.safe_dump(extravars, handle)
    return path


def start(netns, path, playbook):
    env = tool_env()
    env.pop("ANSIBLE_STDOUT_CALLBACK")  # ansible-runner's own event callback, as on AWX
    return subprocess.Popen(in_netns(netns, [RUNNER, "run", path, "-p", playbook, "--ident", "job"]), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def finish(process, timeout=600):
    out = process.communicate(timeout=timeout)[0]
    return process.returncode, out


def ok(process):
    returncode, out = finish(process)
    assert returncode == 0, out[-6000:]
    return out


def load(path):
    with open(path) as handle:
        return json.load(handle)


def findings(document):
    """The document without what says when and how it was written (and the probe's duration)."""
    document = json.loads(json.dumps(document))
    for key in ("generated", "run_id", "slice_id", "slices"):
        document.pop(key)
    document["summary"].pop("elapsed")
    return document


PREFIX = "127.0.0"


@pytest.fixture
def fleet(netns, start_emulator):
    start_emulator(["--model", "MG5200 series"], binds=["%s.%d" % (PREFIX, n) for n in EXPOSED], netns=netns)
    return netns


def test_three_slices_under_ansible_runner_merge_into_the_unsliced_report(fleet, workdir):
    reports = os.path.join(workdir, "reports")
    unsliced = start(fleet, private_data_dir(workdir, "unsliced", "detect.yml", DETECT, HOSTS, PREFIX, {
        "awx_job_id": UNSLICED_JOB, "bjnp_report_dir": os.path.join(reports, str(UNSLICED_JOB))}), "detect.yml")
    ok(unsliced)
    whole = load(os.path.join(reports, str(UNSLICED_JOB), "detect-latest.json"))
    assert whole["summary"]["exposed"] == len(EXPOSED) and whole["summary"]["hosts"] == len(HOSTS)
    assert whole["run_id"] is None and whole["slice_id"] == str(UNSLICED_JOB)
    # Each host's listeners role ran in the namespace: the emulator is there, on every host, named
    # as the kernel names it (the interpreter running the tests, python3 or python3.12).
    emulator = "tcp/9100 %s" % os.path.basename(sys.executable)[:15]
    assert all(emulator in ["%s/%d %s" % (entry["protocol"], entry["port"], entry["process"])
                            for entry in item["listeners"]] for item in whole["managed"])

    # AWX: one workflow job, one job per slice, each slice every third host; all three at once.
    jobs = [WORKFLOW + 1 + number for number in range(SLICES)]
    slices = [start(fleet, private_data_dir(
        workdir, "slice-%d" % job, "detect.yml", DETECT, HOSTS[number::SLICES], PREFIX, {
            "awx_workflow_job_id": WORKFLOW, "awx_job_id": job, "site_report_root": reports,
            "bjnp_report_dir": SLICE_REPORT_DIR}), "detect.yml") for number, job in enumerate(jobs)]
    for process in slices:
        ok(process)
    run_dir = os.path.join(reports, str(WORKFLOW))
    parts = [load(os.path.join(run_dir, str(job), "detect-latest.json")) for job in jobs]
    assert [part["slice_id"] for part in parts] == ["501", "502", "503"]
    assert [[item["inventory_hostname"] for item in part["managed"]] for part in parts] == [
        HOSTS[0::3], HOSTS[1::3], HOSTS[2::3]]
    assert all(part["run_id"] == str(WORKFLOW) for part in parts)

    def merge(root, name, **extravars):
        extravars = dict({"awx_workflow_job_id": WORKFLOW, "awx_job_id": 510, "site_report_root": root,
                          "site_report_name": "detect", "site_slices": SLICES}, **extravars)
        return finish(start(fleet, private_data_dir(workdir, name, "merge.yml", MERGE, [], PREFIX, extravars),
                            "merge.yml"))

    # Each refusal on a copy of the report tree with one wrong file in it (or one missing).
    foreign = os.path.join(reports, str(UNSLICED_JOB), "detect-latest.json")
    planted = os.path.join("%s", str(WORKFLOW), "599", "detect-latest.json")
    for name, plant, message in (
            ("foreign", lambda root: shutil.copy(foreign, planted % root),
             "the reports are not of one run: run_id 500 (slice 501), 500 (slice 502), 500 (slice 503), "
             "None (slice 600)"),
            ("twice", lambda root: shutil.copy(os.path.join(root, str(WORKFLOW), "501", "detect-latest.json"),
                                               planted % root), "slice 501 is given twice"),
            ("symlink", lambda root: os.symlink(foreign, planted % root),
             "%s is a symlink: give the report file itself" % (planted % os.path.join(workdir, "copy-symlink"))),
            ("missing", lambda root: shutil.rmtree(os.path.join(root, str(WORKFLOW), "503")),
             "expected 3 slice reports, got 2 (slices 501, 502)")):
        root = os.path.join(workdir, "copy-" + name)
        shutil.copytree(run_dir, os.path.join(root, str(WORKFLOW)))
        os.makedirs(os.path.dirname(planted % root))
        plant(root)
        before = sorted(os.listdir(os.path.join(root, str(WORKFLOW))))
        returncode, out = merge(root, "refused-" + name)
        # Whitespace collapsed: the callback folds long messages (2.16 wraps them in YAML, 2.21 not).
        assert returncode != 0 and "not merged, nothing written: " + message in " ".join(out.split()), out[-4000:]
        assert sorted(os.listdir(os.path.join(root, str(WORKFLOW)))) == before

    returncode, out = merge(reports, "merge")
    assert returncode == 0, out[-6000:]
    assert "3 exposed, slices 501, 502, 503: %s/detect-merged-latest.html" % run_dir in out
    merged = load(os.path.join(run_dir, "detect-merged-latest.json"))
    assert findings(merged) == findings(whole)
    assert merged["run_id"] == str(WORKFLOW) and merged["slices"] == ["501", "502", "503"]
    written = sorted(name for name in os.listdir(run_dir) if name.startswith("detect-merged-"))
    assert len(written) == 6 and sorted(os.listdir(run_dir)) == sorted(["501", "502", "503"] + written)
