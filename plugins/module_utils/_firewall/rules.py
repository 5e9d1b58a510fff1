# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One change of the rules, the same steps on every backend (the body of firewall_rules).

detect -> read -> plan -> (check mode stops here) -> backup -> apply -> verify -> the site's
own checks -> persist -> (confirm_timeout) arm the revert timer. A failure after the backup puts
our part back as it was (``Backend.revert``: what other tools added meanwhile stays); only
``rollback: restore``, or a backend that cannot revert exactly, loads the whole backup, and then
the result names what that discarded. The boot files are written last, so a change that did not
verify never survives a reboot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.backups import load_backup, locate_backup, take_backup
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.confirm import arm
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
                                  params["protected_destinations"], params["action"],
                                  allow_any_source=params["allow_any_source"],
                                  management_ports=params["management_ports"],
                                  log=dict(per_minute=params["log_per_minute"], burst=params["log_burst"])
                                  if params["log"] else None)
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

    before = backend.read()
    plan = backend.plan(policy, before, persist=params["persist"] or policy is None)
    result = dict(changed=plan.changed, backend=backend.name, backend_reason=reason, backup="",
                  rolled_back=False, discarded=[], confirm={}, plan=plan.as_result(), diff=plan.diff())
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
        raise FirewallError(roll_back(backend, before, result, exc, params["rollback"]), **dict(exc.details, **result))
    if params["confirm_timeout"] and plan.live_changed:
        result["confirm"] = arm(backend, before, params["confirm_timeout"])
    result["message"] = describe(backend, params["state"], plan, check_mode, result["backup"])
    if result["confirm"]:
        result["message"] += " Reverts by itself in %ds unless confirmed (netsec.bjnp.firewall_confirm)." % (
            params["confirm_timeout"])
    return result


def discarded_lines(before, after, ours):
    """Lines a full restore removed that were not ours: what other tools had added since the backup."""
    mine = set(line.strip() for line in (ours if isinstance(ours, str) else "\n".join(
        str(v) for v in (ours.values() if isinstance(ours, dict) else ours or []))).splitlines())
    kept = set(line.strip() for line in (after or "").splitlines())
    return [line.strip() for line in (before or "").splitlines()
            if line.strip() and line.strip() not in kept and line.strip() not in mine
            and line.strip() not in ("{", "}") and not line.strip().startswith("#")]


def restore_backup(backend, result, plan_rules):
    """Load the whole backup of this run; record what that discarded. Raises FirewallError."""
    directory, base = locate_backup(backend.name, None, result["backup"])
    meta, data = load_backup(backend.name, directory, base)
    restored = backend.restore(meta, data, check_mode=False)
    result["discarded"] = discarded_lines(restored.before, restored.after, plan_rules) + [
        "file %s" % path for path in restored.changed_files or []]


def roll_back(backend, before, result, exc, how):
    """Undo this run after ``exc``: revert our part (default) or restore the backup; the message."""
    if not result["backup"]:
        return "%s. No backup was taken (nothing live had changed), nothing restored." % exc.message
    try:
        if how == "revert" and backend.revert(before):
            result["rolled_back"] = result["changed"] = True
            return "%s. Put our %s rules back as they were before this run (other rules untouched; backup %s)." % (
                exc.message, backend.name, result["backup"])
        restore_backup(backend, result, result["plan"].get("rules"))
    except FirewallError as restore_exc:
        return "%s. Rolling back failed too: %s (backup %s)" % (exc.message, restore_exc.message, result["backup"])
    result["rolled_back"] = result["changed"] = True
    discarded = result["discarded"]
    return "%s. Restored the whole backup %s (%s)%s." % (
        exc.message, result["backup"], backend.name,
        "; it discarded what was added since: %s" % "; ".join(discarded[:10]) + (
            " (+%d more)" % (len(discarded) - 10) if len(discarded) > 10 else "") if discarded else "")
