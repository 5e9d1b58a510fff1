# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.report on the controller.

A /16 sweep's results are megabytes. Templated into the module's arguments and shipped to a
module process they cost seconds (docs/design.md, "Merge path"); here ``phases`` is merged from
the play hosts' raw variables and, where the task runs on the controller, the report is built and
written in this process. Delegated to another host, or with become, the module does it there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_probe_merge import probe_of_phases
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report_task import (
    REPORT_ARGUMENT_SPEC,
    ReportError,
    run_report,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(REPORT_ARGUMENT_SPEC)

    def _stored_probes(self, task_vars):
        """Each play host's bjnp_probes, in play order, untemplated: they hold results, not templates."""
        hostvars = task_vars["hostvars"]
        return [hostvars.raw_get(host).get("bjnp_probes") for host in task_vars.get("ansible_play_hosts_all") or []]

    def _on_controller(self):
        return self._connection.transport == "local" and not self._play_context.become

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, params = self.validate_argument_spec(argument_spec=REPORT_ARGUMENT_SPEC)
        module_args = dict(self._task.args)
        phases = module_args.pop("phases", None)
        if phases is not None:
            if params["name"] == "monitor":
                raise AnsibleActionFail("phases is not read by the monitor report: give attempts only")
            if self._task.args.get("probe"):
                raise AnsibleActionFail("give probe or phases, not both: phases reads the probes the netsec.bjnp "
                                        "playbooks stored on the play hosts (bjnp_probes)")
            try:
                probe = probe_of_phases(self._stored_probes(task_vars), phases)
            except ValueError as exc:
                raise AnsibleActionFail("phases: %s" % to_native(exc))
            params.update(probe=probe, phases=None)
            module_args["probe"] = probe
        if not self._on_controller():
            result.update(self._execute_module(module_name="netsec.bjnp.report", module_args=module_args,
                                               task_vars=task_vars))
            return result
        try:
            result.update(run_report(params, check_mode=bool(self._play_context.check_mode)))
        except ReportError as exc:
            result.update(exc.result, failed=True, msg=to_native(exc))
        return result
