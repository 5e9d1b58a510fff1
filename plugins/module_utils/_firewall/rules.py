# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One change of the rules, the same steps on every backend (the body of firewall_rules).

detect -> read -> plan -> (check mode stops here) -> backup -> apply -> verify -> the site's
own checks -> persist. A failure after the backup restores it and says so. The boot files are
written last, so a change that did not verify never survives a reboot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.backups import load_backup, locate_backup, take_backup
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import select_backend
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import build_policy


def describe(backend, state, plan, check_mode, backup):
    if not plan.changed:
        what = "already in place" if state == "present" else "nothing to remove"
    else:
        what = "would change" if check_mode else "changed"
    text = "%s (%s, state %s%s)" % (what, backend.name, state, ", backup " + backup if backup else "")
    return " ".join([text] + plan.notes)


def run_site_checks(runner, commands):
    for command in commands:
        rc, out, err = runner.run(shlex.split(command), check=False)
        if rc != 0:
            said = (err or out).strip()
            raise FirewallError("site check %r failed (rc=%d)%s" % (command, rc, ": " + said if said else ""),
                                failed_check=command)


def converge(runner, params, check_mode):
    """Make the firewall hold ``params`` (the module's options); the module result as a dict.

    Raises FirewallError with ``details`` (backend, backup, rolled_back, ...) for the result.
    """
    policy = None
    if params["state"] == "present":
        try:
            policy = build_policy(params["ports"], params["allowed_sources"], params["mode"],
                                  params["protected_destinations"], params["action"])
        except ValueError as exc:
            raise FirewallError("%s. Nothing was changed." % exc)
    backend, reason = select_backend(runner, params, params["backend"])
    problems = backend.validate()
    if problems:
        raise FirewallError("%s. Nothing was changed." % "; ".join(problems), backend=backend.name)
    if policy is not None:
        refusal = backend.refuse()
        if refusal:
            raise FirewallError(refusal, backend=backend.name)

    plan = backend.plan(policy, backend.read(), persist=params["persist"] or policy is None)
    result = dict(changed=plan.changed, backend=backend.name, backend_reason=reason, backup="",
                  rolled_back=False, plan=plan.as_result(), diff=plan.diff())
    if not plan.changed or check_mode:
        result["message"] = describe(backend, params["state"], plan, check_mode, "")
        return result

    if params["backup"] and plan.live_changed:
        result["backup"] = take_backup(backend, params["backup_dir"], params["backup_keep"], params["change_id"],
                                       "netsec.bjnp.firewall_rules state=%s" % params["state"])["path"]
    try:
        if plan.live_changed:
            backend.apply(plan)
        if params["verify"]:
            problems = backend.verify(policy)
            if problems:
                raise FirewallError("verification failed: %s" % "; ".join(problems))
        if policy is not None:
            run_site_checks(runner, params["verify_commands"])
        backend.persist(plan)
    except FirewallError as exc:
        raise FirewallError(roll_back(backend, result, exc), **dict(exc.details, **result))
    result["message"] = describe(backend, params["state"], plan, check_mode, result["backup"])
    return result


def roll_back(backend, result, exc):
    """Restore this run's backup after ``exc``; the message saying what happened."""
    if not result["backup"]:
        return "%s. No backup was taken (nothing live had changed), nothing restored." % exc.message
    try:
        directory, base = locate_backup(backend.name, None, result["backup"])
        meta, data = load_backup(backend.name, directory, base)
        backend.restore(meta, data, check_mode=False)
    except FirewallError as restore_exc:
        return "%s. Restoring %s failed too: %s" % (exc.message, result["backup"], restore_exc.message)
    result["rolled_back"] = True
    result["changed"] = True
    return "%s. Restored %s (%s)." % (exc.message, result["backup"], backend.name)
