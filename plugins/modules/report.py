#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: report
short_description: Write the JSON, JUnit XML and HTML reports of a BJNP detect, remediate, verify or monitor run
version_added: 0.1.0
description:
  - Combines what a run found and did (probe results from M(netsec.bjnp.probe), local listeners,
    the firewall role's C(bjnp_firewall_result) per host) into one report document and writes it as
    JSON (stable, documented keys), JUnit XML (one test case per listed address, where an C(open) port
    is a failure, and one for the clean addresses) and a self-contained HTML page (the exposed
    addresses and their printers first, then a collapsed summary of the clean ones).
  - "The report lists an address with every port when it has an C(open) port (or had one before), a
    port that changed, or is an inventory host (O(inventory)); every other, clean, address is counted
    by port and state (O(detail)), so a sweep of a C(/16) gives reports of a few MB."
  - With O(name=monitor) it reports the blocked attempts that M(netsec.bjnp.attempts) read on each
    managed host instead (O(attempts)), per host the sources that hit the rules, and the sources that
    look like a print server missing from C(bjnp_allowed_sources), with the entry to add. Its JUnit
    file has one test case per managed host (a failure when attempts were seen) and one per suspected
    print server (a failure).
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
    choices: [detect, remediate, verify, rollback, monitor]
  probe:
    description:
      - A registered M(netsec.bjnp.probe) result (its RV(netsec.bjnp.probe#module:hosts) and
        RV(netsec.bjnp.probe#module:summary) are read),
        or a dict with keys C(before) and C(after), each a probe result, to report a comparison.
      - A skipped probe task, an empty dict or no value means nothing was probed.
      - Mutually exclusive with O(phases).
    type: dict
    default: {}
  phases:
    description:
      - Instead of O(probe), the phases of the netsec.bjnp playbooks to report, as they stored them on
        every play host (C(bjnp_probes), see C(playbooks/tasks/probe.yml)). They are read on the
        controller from the hosts' variables and merged there, each address tagged with the site it
        was probed from (C(probed_from)), without templating the results into this task's arguments.
      - One phase (V([detect])) reports its merged probe; two (V([before, after])) compare them when
        both were probed, else report the one that was. A phase no host probed is left out.
      - Not read with O(name=monitor).
    type: list
    elements: str
    version_added: 0.2.0
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
  attempts:
    description:
      - Only with O(name=monitor), and the only input it reads. Inventory hostname to the host's
        M(netsec.bjnp.attempts) result (C(since), C(log_source), C(backend), C(counters_available),
        C(counters), C(sources), C(totals), C(log_limited), C(suspected_print_servers), C(truncated),
        C(warnings)), or to a failed result (C(failed), C(msg)) for a host that could not be read.
    type: dict
    default: {}
    version_added: 0.2.0
  detail:
    description:
      - C(findings) lists the exposed, changed and inventory addresses and counts the clean ones;
        C(all) lists every address the probe returned.
      - Not read with O(name=monitor).
    type: str
    choices: [findings, all]
    default: findings
    version_added: 0.2.0
  change_id:
    description:
      - Change ticket of the maintenance window, shown in every format.
    type: str
  run_id:
    description:
      - Which run this report belongs to when one run writes several reports, for example the AWX
        workflow job of a sliced job template (C(awx_workflow_job_id)); M(netsec.bjnp.report_merge)
        merges only reports of one run. Not read with O(name=monitor).
    type: str
    version_added: 0.2.0
  slice_id:
    description:
      - Which part of the run this report covers, unique within the run, for example the slice's
        own AWX job (C(awx_job_id)). Not read with O(name=monitor).
    type: str
    version_added: 0.2.0
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
  action:
    support: full
    description:
      - "An action plugin reads O(phases) on the controller. Where the task runs on the controller
        (connection C(local) without become, as with C(delegate_to: localhost)) it also builds and
        writes the report in the controller's process, as the controller's user; otherwise the module
        does, on the host the task is delegated to (with become, as the become user)."
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
  - Source addresses in a monitor report come from log lines, which are untrusted too (anyone who may
    write to the log can forge one); they are escaped the same way, and an allow entry is suggested only
    when it is an address or network the firewall role accepts.
  - A monitor report holds source addresses, personal data in many jurisdictions; keep the files only
    as long as your retention policy allows.
"""

EXAMPLES = r"""
- name: Report what the detect playbook's probe tasks stored on every host (netsec.bjnp.detect does this)
  netsec.bjnp.report:
    dir: "{{ bjnp_report_dir }}"
    name: detect
    phases: [detect]
  delegate_to: localhost
  run_once: true

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

- name: Report who knocked on the closed ports (netsec.bjnp.monitor does this)
  netsec.bjnp.report:
    dir: "{{ bjnp_report_dir }}"
    name: monitor
    # inventory_hostname -> registered netsec.bjnp.attempts result
    attempts: "{{ bjnp_attempts_results }}"
  delegate_to: localhost
  run_once: true
  register: bjnp_monitor_report

- name: Say what was seen
  ansible.builtin.debug:
    msg: "{{ bjnp_monitor_report.message }}"

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
message:
  description:
    - The lines a playbook shows at the end of the run.
    - For a probe report the counts, then each exposed address (the first 20) with its inventory
      name, printer model and open ports, and a count of the rest.
    - With O(name=monitor), per host with attempts the number of attempts and sources (the first 20),
      and each suspected print server with the allow-list entry to add (the first 10); counts of the rest.
  returned: success
  type: list
  elements: str
  version_added: 0.2.0
  sample:
    - 4 attempts from 1 source address on 1 of 2 managed hosts; 1 suspected print server
    - "printhost: 4 attempts from 1 source"
    - 1 host without attempts
    - 'possibly a print server you forgot to allow: 10.0.0.20 (tcp/9100, 4 connections, seen on printhost):
       if it is a print server, add bjnp_allowed_sources: [..., "10.0.0.20"]'
summary:
  description: The report's C(summary) (see C(docs/reports.md)); with O(name=monitor) the monitor
    summary (C(managed), C(collected), C(not_collected), C(with_attempts), C(attempts), C(addresses),
    C(packets_counted), C(log_limited), C(suspected_print_servers)) instead of the keys below.
  returned: success
  type: dict
  contains:
    hosts:
      description: Addresses probed (after the change when a comparison was given).
      type: int
      sample: 12
    clean:
      description: Addresses probed without an C(open) port.
      type: int
      sample: 11
      version_added: 0.2.0
    listed:
      description: Addresses listed with every port in the report (the others are counted).
      type: int
      sample: 3
      version_added: 0.2.0
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_task import (
    REPORT_ARGUMENT_SPEC,
    ReportError,
    run_report,
)


def main():
    # Reached only where the task does not run on the controller (delegated elsewhere, or with
    # become): the action plugin runs the same run_report in-process otherwise.
    module = AnsibleModule(argument_spec=REPORT_ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**run_report(module.params, check_mode=module.check_mode))
    except ReportError as exc:
        module.fail_json(msg=str(exc), **exc.result)


if __name__ == "__main__":
    main()
