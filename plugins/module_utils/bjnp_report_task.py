# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netsec.bjnp.report task: its arguments and what it does with them.

One implementation for both places it runs: the action plugin (plugins/action/report.py) calls
``run_report`` in-process when the task runs on the controller, which is how the playbooks use
it, and the module calls it where the task is delegated to another host or runs with become.
Errors are ``ReportError``, carrying the message and what the result says so far.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import (
    FORMATS,
    MONITOR,
    MONITOR_RENDERERS,
    NAMES,
    RENDERERS,
    build_document,
    build_monitor_document,
    monitor_message,
    probe_message,
    timestamp,
    utc_now,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_files import report_paths, write_reports

REPORT_ARGUMENT_SPEC = dict(
    dir=dict(type="path", required=True),
    name=dict(type="str", required=True, choices=list(NAMES) + [MONITOR]),
    probe=dict(type="dict", default={}),
    phases=dict(type="list", elements="str"),
    listeners=dict(type="dict", default={}),
    firewall=dict(type="dict", default={}),
    inventory=dict(type="dict", default={}),
    attempts=dict(type="dict", default={}),
    detail=dict(type="str", choices=["findings", "all"], default="findings"),
    change_id=dict(type="str"),
    run_id=dict(type="str"),
    slice_id=dict(type="str"),
    formats=dict(type="list", elements="str", choices=list(FORMATS), default=list(FORMATS)),
    title=dict(type="str"),
)


class ReportError(Exception):
    """Why the report was not written; ``result`` holds what is known already (paths, summary)."""

    def __init__(self, message, result=None):
        super(ReportError, self).__init__(message)
        self.result = result or {}


def run_report(params, check_mode=False, now=None):
    """Build the report document of ``params`` (validated against ``REPORT_ARGUMENT_SPEC``) and
    write its files, unless ``check_mode``. Returns the task result (changed, paths, latest,
    summary, message). ``phases`` must have been resolved into ``probe`` by the action plugin."""
    if params.get("phases"):
        raise ReportError("phases is read on the controller by the netsec.bjnp.report action plugin, "
                          "not by the module: give probe instead")
    formats = [fmt for fmt in FORMATS if fmt in params["formats"]]
    if not formats:
        raise ReportError("formats is empty: give at least one of %s" % ", ".join(FORMATS))
    now = now or utc_now()
    monitor = params["name"] == MONITOR
    # Input the report would not read is refused, not dropped without a word.
    unread = [key for key in (("probe", "listeners", "firewall", "inventory", "run_id", "slice_id") if monitor
                              else ("attempts",))
              if params.get(key)]
    if unread:
        raise ReportError("%s %s not read by the %s report: %s" % (
            " and ".join(unread), "are" if len(unread) > 1 else "is", params["name"],
            "give attempts only" if monitor else "attempts is for name=monitor"))
    try:
        if monitor:
            document = build_monitor_document(params["attempts"], change_id=params["change_id"],
                                              title=params["title"], now=now)
        else:
            document = build_document(params["name"], probe=params["probe"], listeners=params["listeners"],
                                      firewall=params["firewall"], inventory=params["inventory"],
                                      change_id=params["change_id"], title=params["title"], now=now,
                                      detail=params["detail"], run_id=params["run_id"], slice_id=params["slice_id"])
    except ValueError as exc:
        raise ReportError("bad report input: %s" % exc)

    directory = params["dir"]
    try:
        paths, latest = report_paths(directory, params["name"], timestamp(now), formats)
    except ValueError as exc:
        raise ReportError(str(exc))
    result = dict(changed=True, paths=paths, latest=latest, summary=document["summary"])
    result["message"] = monitor_message(document) if monitor else probe_message(document)
    if check_mode:
        return result
    try:
        write_reports(directory, paths, latest, document, MONITOR_RENDERERS if monitor else RENDERERS)
    except (IOError, OSError) as exc:
        raise ReportError("cannot write the report in %s: %s" % (directory, to_native(exc)), result)
    return result
