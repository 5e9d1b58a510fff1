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
run must be refused. Every managed host is a loopback address of a leased /24, reached with
the local connection; an emulator answers on some of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess

import pytest
import yaml

from bjnp_integration import BIN, tool_env

RUNNER = os.path.join(BIN, "ansible-runner")
PYTHON = os.path.join(BIN, "python")
HOSTS = ["printhost-%02d" % number for number in range(1, 8)]
EXPOSED = (1, 2, 5)          # printhost-01, -02 and -05 run a printer
SLICES = 3
WORKFLOW, UNSLICED_JOB = 500, 600

pytestmark = pytest.mark.skipif(not os.path.exists(RUNNER),
                                reason="ansible-runner is not installed in .venv (pip install ansible-runner)")

DETECT = """---
- name: Detect
  ansible.builtin.import_playbook: netsec.bjnp.detect
"""
MERGE = """---
- name: Merge the slice reports of one run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Merge the slice reports
      netsec.bjnp.report_merge:
        src: "{{ bjnp_merge_src }}"
        dir: "{{ bjnp_report_dir }}"
        run_id: "{{ awx_workflow_job_id | string }}"
        expect_slices: "{{ bjnp_merge_expect_slices }}"
      register: bjnp_merged

    - name: Show the merged report
      ansible.builtin.debug:
        msg: "{{ bjnp_merged.summary.exposed }} exposed, slices {{ bjnp_merged.slices | join(', ') }}: {{ bjnp_merged.latest.json }}"
"""


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


def start(path, playbook):
    env = tool_env()
    env.pop("ANSIBLE_STDOUT_CALLBACK")  # ansible-runner's own event callback, as on AWX
    return subprocess.Popen([RUNNER, "run", path, "-p", playbook, "--ident", "job"], env=env,
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
    """What the run found: the hosts table whole, the managed hosts by name, the counts.

    Local listeners are left out: every managed host here is this machine, whose listeners
    change while parallel tests start emulators.
    """
    summary = dict((key, document["summary"][key]) for key in ("hosts", "exposed", "open_ports", "managed"))
    return {"hosts": document["hosts"], "managed": [item["inventory_hostname"] for item in document["managed"]],
            "summary": summary, "name": document["name"]}


@pytest.fixture
def fleet(loopback_block, start_emulator, workdir):
    start_emulator(["--model", "MG5200 series"], binds=["%s.%d" % (loopback_block, n) for n in EXPOSED])
    return loopback_block


def test_three_slices_under_ansible_runner_merge_into_the_unsliced_report(fleet, workdir):
    reports = os.path.join(workdir, "reports")
    unsliced = start(private_data_dir(workdir, "unsliced", "detect.yml", DETECT, HOSTS, fleet, {
        "awx_job_id": UNSLICED_JOB, "bjnp_report_dir": os.path.join(reports, str(UNSLICED_JOB))}), "detect.yml")
    ok(unsliced)
    whole = load(os.path.join(reports, str(UNSLICED_JOB), "detect-latest.json"))
    assert whole["summary"]["exposed"] == len(EXPOSED) and whole["summary"]["hosts"] == len(HOSTS)
    assert whole["run_id"] is None and whole["slice_id"] == str(UNSLICED_JOB)

    # AWX: one workflow job, one job per slice, each slice every third host; all three at once.
    slice_dirs = []
    for number in range(SLICES):
        job = WORKFLOW + 1 + number
        slice_dirs.append(os.path.join(reports, str(WORKFLOW), str(job)))
        private = private_data_dir(workdir, "slice-%d" % job, "detect.yml", DETECT, HOSTS[number::SLICES], fleet,
                                   {"awx_workflow_job_id": WORKFLOW, "awx_job_id": job, "bjnp_report_dir": slice_dirs[-1]})
        slice_dirs[-1] = (slice_dirs[-1], start(private, "detect.yml"))
    for directory, process in slice_dirs:
        ok(process)
    sources = [os.path.join(directory, "detect-latest.json") for directory, dummy in slice_dirs]
    parts = [load(path) for path in sources]
    assert [part["slice_id"] for part in parts] == ["501", "502", "503"]
    assert [[item["inventory_hostname"] for item in part["managed"]] for part in parts] == [
        HOSTS[0::3], HOSTS[1::3], HOSTS[2::3]]
    assert all(part["run_id"] == str(WORKFLOW) for part in parts)

    merged_dir = os.path.join(reports, str(WORKFLOW))
    out = ok(start(private_data_dir(workdir, "merge", "merge.yml", MERGE, [], fleet, {
        "awx_workflow_job_id": WORKFLOW, "awx_job_id": 510, "bjnp_report_dir": merged_dir,
        "bjnp_merge_src": sources, "bjnp_merge_expect_slices": SLICES}), "merge.yml"))
    assert "3 exposed, slices 501, 502, 503" in out
    merged = load(os.path.join(merged_dir, "detect-merged-latest.json"))
    assert findings(merged) == findings(whole)
    assert merged["run_id"] == str(WORKFLOW) and merged["slices"] == ["501", "502", "503"]
    assert sorted(os.listdir(merged_dir)) == sorted(
        ["501", "502", "503"] + [name for name in os.listdir(merged_dir) if name.startswith("detect-merged-")])
    assert len([name for name in os.listdir(merged_dir) if name.startswith("detect-merged-")]) == 6

    # The unsliced job's report is no slice of workflow 500, and a slice counts once.
    for src, message in (
            (sources[:2] + [os.path.join(reports, str(UNSLICED_JOB), "detect-latest.json")],
             "the reports are not of one run: run_id 500 (slice 501), 500 (slice 502), None (slice 600)"),
            (sources + [sources[0]], "slice 501 is given twice: reports 1 and 4"),
            (sources[:2], "expected 3 slice reports, got 2 (slices 501, 502)")):
        name = "refused-%d" % len(os.listdir(workdir))
        returncode, out = finish(start(private_data_dir(workdir, name, "merge.yml", MERGE, [], fleet, {
            "awx_workflow_job_id": WORKFLOW, "awx_job_id": 511, "bjnp_report_dir": os.path.join(workdir, name + "-out"),
            "bjnp_merge_src": src, "bjnp_merge_expect_slices": SLICES}), "merge.yml"))
        assert returncode != 0 and message in out, out[-4000:]
        assert not os.path.exists(os.path.join(workdir, name + "-out"))
    shutil.rmtree(reports)
