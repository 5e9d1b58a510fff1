#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: report
short_description: Write the JSON, JUnit XML and HTML reports of a BJNP detect, remediate or verify run
version_added: 0.1.0
description:
  - Combines what a run found and did (probe results from M(netsec.bjnp.probe), local listeners,
    the firewall role's C(bjnp_firewall_result) per host) into one report and writes it as JSON
    (stable, documented keys), JUnit XML (one test case per host and port; an C(open) port is a
    failure) and a self-contained HTML page.
  - Files are named C(<name>-<UTC timestamp>.json|.xml|.html) in O(dir); a copy named
    C(<name>-latest.*) is replaced atomically next to them.
  - "Meant to run once on the controller (C(delegate_to: localhost), C(run_once: true))."
  - The JSON schema is described in C(docs/reports.md) of the collection.
author:
  - netsec.bjnp developers (@netsec)
options:
  dir:
    description:
      - Directory the reports are written to. Created (mode C(0750)) when missing.
    type: path
    required: true
  name:
    description:
      - Which run this is; the first part of every file name.
    type: str
    required: true
    choices: [detect, remediate, verify, rollback]
  probe:
    description:
      - A registered M(netsec.bjnp.probe) result (its RV(netsec.bjnp.probe#module:hosts) and
        RV(netsec.bjnp.probe#module:summary) are read),
        or a dict with keys C(before) and C(after), each a probe result, to report a comparison.
      - A skipped probe task, an empty dict or no value means nothing was probed.
    type: dict
    default: {}
  listeners:
    description:
      - Inventory hostname to the list of local listeners on the BJNP and raw-print ports, each
        a dict with C(port), C(protocol), C(address), C(process) (or C(name), as
        M(community.general.listen_ports_facts) calls it) and C(pid).
    type: dict
    default: {}
  firewall:
    description:
      - Inventory hostname to the firewall role's C(bjnp_firewall_result)
        (C(backend), C(state), C(changed), C(backup), C(rolled_back), C(message)).
    type: dict
    default: {}
  inventory:
    description:
      - Inventory hostname to its address or list of addresses, so the hosts table names the
        managed hosts among the probed addresses.
    type: dict
    default: {}
  change_id:
    description:
      - Change ticket of the maintenance window, shown in every format.
    type: str
  formats:
    description:
      - Which files to write.
    type: list
    elements: str
    choices: [json, junit, html]
    default: [json, junit, html]
  title:
    description:
      - Title of the HTML page and name of the JUnit test suites. Defaults to C(netsec.bjnp <name>).
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; the module returns the paths it would write.
  diff_mode:
    support: none
    description: Every run writes new files; there is no previous state to compare.
  platform:
    support: full
    platforms: posix
    description: Runs where the files are to be written, normally the controller.
notes:
  - Identity strings come from the network and are untrusted; the HTML page escapes them, carries
    a Content-Security-Policy that forbids scripts and remote loads, and needs no external resource.
"""

EXAMPLES = r"""
- name: Report a detect run
  netsec.bjnp.report:
    dir: /var/lib/bjnp/reports
    name: detect
    probe: "{{ bjnp_scan }}"
    listeners: "{{ bjnp_listeners }}"
  delegate_to: localhost
  run_once: true
  register: bjnp_report

- name: Report a maintenance window, before and after
  netsec.bjnp.report:
    dir: "{{ bjnp_report_dir }}"
    name: remediate
    probe:
      before: "{{ bjnp_probe_before }}"
      after: "{{ bjnp_probe_after }}"
    # inventory_hostname -> bjnp_firewall_result, gathered from hostvars by an earlier task
    firewall: "{{ bjnp_firewall_results }}"
    change_id: CHG-1234
    formats: [json, html]
  delegate_to: localhost
  run_once: true

- name: Show where the page is
  ansible.builtin.debug:
    msg: "{{ bjnp_report.summary.exposed }} exposed, see {{ bjnp_report.latest.html }}"
"""

RETURN = r"""
paths:
  description: Format to the file written by this run (or that would be written, in check mode).
  returned: success
  type: dict
  sample:
    json: /var/lib/bjnp/reports/detect-20261125T120000Z.json
    junit: /var/lib/bjnp/reports/detect-20261125T120000Z.xml
    html: /var/lib/bjnp/reports/detect-20261125T120000Z.html
latest:
  description: Format to the C(<name>-latest.*) copy of this run's file.
  returned: success
  type: dict
  sample:
    json: /var/lib/bjnp/reports/detect-latest.json
    html: /var/lib/bjnp/reports/detect-latest.html
summary:
  description: The report's C(summary) (see C(docs/reports.md)).
  returned: success
  type: dict
  contains:
    hosts:
      description: Addresses probed (after the change when a comparison was given).
      type: int
      sample: 12
    exposed:
      description: Addresses with at least one C(open) port.
      type: int
      sample: 1
    open_ports:
      description: C(open) ports over all addresses.
      type: int
      sample: 3
    before:
      description: C(hosts), C(exposed) and C(open_ports) of the before probe; null without a comparison.
      type: dict
      sample: {hosts: 12, exposed: 4, open_ports: 11}
    managed:
      description: Inventory hosts with listeners or a firewall result.
      type: int
      sample: 2
    firewall_changed:
      description: Managed hosts whose firewall changed.
      type: int
      sample: 2
    backups:
      description: Managed hosts with a backup taken.
      type: int
      sample: 2
    rolled_back:
      description: Managed hosts the role rolled back.
      type: int
      sample: 0
    listeners:
      description: Local listeners on the BJNP and raw-print ports over all managed hosts.
      type: int
      sample: 3
    elapsed:
      description: Seconds the (after) probe took, when it said so.
      type: float
      sample: 1.204
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import (
    EXTENSIONS,
    FORMATS,
    NAMES,
    RENDERERS,
    build_document,
    timestamp,
    utc_now,
)


def free_stem(directory, name, stamp, formats):
    """``<name>-<stamp>``, with ``-2``, ``-3``... when a run in the same second left files."""
    stem = "%s-%s" % (name, stamp)
    counter = 1
    while any(os.path.exists(os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[fmt]))) for fmt in formats):
        counter += 1
        stem = "%s-%s-%d" % (name, stamp, counter)
    return stem


def write_atomically(path, data):
    """Write to a temporary file in the same directory and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o640)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            name=dict(type="str", required=True, choices=list(NAMES)),
            probe=dict(type="dict", default={}),
            listeners=dict(type="dict", default={}),
            firewall=dict(type="dict", default={}),
            inventory=dict(type="dict", default={}),
            change_id=dict(type="str"),
            formats=dict(type="list", elements="str", choices=list(FORMATS), default=list(FORMATS)),
            title=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    formats = [fmt for fmt in FORMATS if fmt in params["formats"]]
    if not formats:
        module.fail_json(msg="formats is empty: give at least one of %s" % ", ".join(FORMATS))
    now = utc_now()
    try:
        document = build_document(params["name"], probe=params["probe"], listeners=params["listeners"],
                                  firewall=params["firewall"], inventory=params["inventory"],
                                  change_id=params["change_id"], title=params["title"], now=now)
    except ValueError as exc:
        module.fail_json(msg="bad report input: %s" % exc)

    directory = params["dir"]
    if os.path.exists(directory) and not os.path.isdir(directory):
        module.fail_json(msg="dir %s exists and is not a directory" % directory)
    stem = free_stem(directory, params["name"], timestamp(now), formats)
    paths = dict((fmt, os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[fmt]))) for fmt in formats)
    latest = dict((fmt, os.path.join(directory, "%s-latest.%s" % (params["name"], EXTENSIONS[fmt])))
                  for fmt in formats)
    result = dict(changed=True, paths=paths, latest=latest, summary=document["summary"])
    if module.check_mode:
        module.exit_json(**result)

    try:
        if not os.path.isdir(directory):
            os.makedirs(directory)
            # Reports list the network's exposures: not for every local user.
            os.chmod(directory, 0o750)
        for fmt in formats:
            data = to_bytes(RENDERERS[fmt](document), errors="surrogate_or_replace")
            write_atomically(paths[fmt], data)
            write_atomically(latest[fmt], data)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write the report in %s: %s" % (directory, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
