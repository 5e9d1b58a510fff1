#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: report_merge
short_description: Merge the slice reports of one sliced run into one JSON, JUnit XML and HTML report
version_added: 0.2.0
description:
  - A job template with job slicing (AWX, Ansible Automation Platform) runs a playbook as several
    jobs, each on a slice of the inventory, and each writes its own report. This module reads the
    JSON reports of those slices and writes one report of the whole run, in the same three formats
    and with the same renderers as M(netsec.bjnp.report), so it reads like the report of an
    unsliced run.
  - The reports must belong together, or nothing is written. Refused are reports of different
    runs (C(run_id)), changes (C(change_id)) or kinds (detect, verify...), reports with neither a
    run id nor a change id, a slice given twice, an inventory host in two slices, reports without
    a C(slice_id), already merged reports, monitor reports, and a count other than O(expect_slices).
  - Report files are untrusted input. A relative path, a path with C(..), a symlink (or a file
    under a symlinked directory), anything but a regular file, a file over 64 MiB and a value of
    the wrong type or outside the report's vocabulary are refused with a message naming the file
    and the value; nothing is repaired.
  - An address that two slices probed (two gateways protecting one printer) is listed once; when
    the slices read a port differently the more exposed state is kept (C(open) before C(open|filtered),
    C(filtered), C(closed)) and RV(conflicts) names the port.
  - Files are named C(<name>-merged-<UTC timestamp>.json|.xml|.html) in O(dir), with a copy
    C(<name>-merged-latest.*), so they never replace a slice's own C(<name>-latest.*).
  - "Meant to run once on the controller (C(delegate_to: localhost), C(run_once: true)), after
    the slices: on AWX a workflow node after the sliced job template, on the storage the slices
    wrote to."
author:
  - netsec.bjnp developers (@netsec)
options:
  src:
    description:
      - The JSON reports of the slices (absolute paths), one per slice.
    type: list
    elements: path
    required: true
  dir:
    description:
      - Directory the merged report is written to. Created (mode C(0750)) when missing.
    type: path
    required: true
  run_id:
    description:
      - The run the reports must belong to (the slices' C(run_id), on AWX the workflow job id).
        Without it the reports must agree among themselves.
    type: str
  expect_slices:
    description:
      - How many slice reports the run must have; fewer or more are refused, so a slice that
        wrote no report is not missed.
    type: int
  formats:
    description:
      - Which files to write.
    type: list
    elements: str
    choices: [json, junit, html]
    default: [json, junit, html]
  title:
    description:
      - Title of the HTML page and name of the JUnit test suites. Defaults to the slices' title
        when they share one, else C(netsec.bjnp <name>).
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode the reports are read and checked, nothing is written.
  diff_mode:
    support: none
    description: Every run writes new files; there is no previous state to compare.
  platform:
    support: full
    platforms: posix
    description: Runs where the reports are, normally the controller.
seealso:
  - module: netsec.bjnp.report
notes:
  - The merged document has the keys of any report (C(docs/reports.md)); C(slices) lists the
    slice ids it was made of and C(slice_id) is null.
"""

EXAMPLES = r"""
# An AWX workflow: the sliced "BJNP verify" template, then this on the same storage.
- name: Merge the slice reports of this workflow
  netsec.bjnp.report_merge:
    src: "{{ query('ansible.builtin.fileglob', '/var/lib/bjnp-reports/' ~ awx_workflow_job_id ~ '/*/verify-latest.json') }}"
    dir: "/var/lib/bjnp-reports/{{ awx_workflow_job_id }}"
    run_id: "{{ awx_workflow_job_id }}"
    expect_slices: 4
  delegate_to: localhost
  run_once: true
  register: bjnp_merged

- name: Show the merged count
  ansible.builtin.debug:
    msg: "{{ bjnp_merged.summary.exposed }} exposed over {{ bjnp_merged.slices | length }} slices: {{ bjnp_merged.latest.html }}"
"""

RETURN = r"""
name:
  description: The kind of the merged reports.
  returned: success
  type: str
  sample: verify
run_id:
  description: Their run id (null when only a change id ties them together).
  returned: success
  type: str
  sample: "4711"
slices:
  description: The slice ids merged, in order.
  returned: success
  type: list
  elements: str
  sample: ["4712", "4713", "4714"]
conflicts:
  description: Ports that two slices read differently, with the state kept.
  returned: success
  type: list
  elements: str
  sample: ["10.0.5.20 tcp/9100: slice 4712 read closed, slice 4713 read open; kept open"]
paths:
  description: Format to the file written (or that would be written, in check mode).
  returned: success
  type: dict
  sample:
    json: /var/lib/bjnp-reports/4711/verify-merged-20261125T120000Z.json
latest:
  description: Format to the C(<name>-merged-latest.*) copy.
  returned: success
  type: dict
  sample:
    json: /var/lib/bjnp-reports/4711/verify-merged-latest.json
summary:
  description: The merged report's C(summary), the keys of M(netsec.bjnp.report)'s RV(netsec.bjnp.report#module:summary).
  returned: success
  type: dict
  sample: {hosts: 120, exposed: 0, open_ports: 0, before: null, managed: 120, firewall_changed: 0,
           backups: 0, rolled_back: 0, listeners: 0, elapsed: 2.1}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import (
    FORMATS,
    RENDERERS,
    timestamp,
    utc_now,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_files import (
    read_report_file,
    report_paths,
    write_reports,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_merge import merge_documents


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="list", elements="path", required=True),
            dir=dict(type="path", required=True),
            run_id=dict(type="str"),
            expect_slices=dict(type="int"),
            formats=dict(type="list", elements="str", choices=list(FORMATS), default=list(FORMATS)),
            title=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    formats = [fmt for fmt in FORMATS if fmt in params["formats"]]
    if not formats:
        module.fail_json(msg="formats is empty: give at least one of %s" % ", ".join(FORMATS))
    if not params["src"]:
        module.fail_json(msg="src is empty: give the JSON report of every slice")
    now = utc_now()
    try:
        documents = [read_report_file(path) for path in params["src"]]
        document, conflicts = merge_documents(documents, run_id=params["run_id"],
                                              expect_slices=params["expect_slices"], title=params["title"], now=now)
    except ValueError as exc:
        module.fail_json(msg="not merged, nothing written: %s" % exc, src=params["src"])

    directory = params["dir"]
    name = "%s-merged" % document["name"]
    try:
        paths, latest = report_paths(directory, name, timestamp(now), formats)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=True, name=document["name"], run_id=document["run_id"], slices=document["slices"],
                  conflicts=conflicts, paths=paths, latest=latest, summary=document["summary"])
    if module.check_mode:
        module.exit_json(**result)
    try:
        write_reports(directory, paths, latest, document, RENDERERS)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the merged report in %s: %s" % (directory, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
