#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: firewall_restore
short_description: Put a Linux firewall backend back exactly as a backup saved it
version_added: 0.1.0
description:
  - Restores a backup written by M(netsec.bjnp.firewall_backup), the whole state of the backend,
    not only the rules of this collection.
  - Checks the SHA-256 of every file against the metadata first; a missing or altered file fails
    the task, naming the file, before anything changes.
  - Only backups nobody else could have written are restored, since a restore runs as root. The
    backup directory must be a real directory (not a symlink) owned by the user running the module
    and not writable by group or others; every file of the backup must be a regular file (not a
    symlink, not a directory) with the same owner and not writable by group or others. Anything
    else is refused with a message saying why. The metadata is checked field by field.
  - "The configuration archives of C(ufw) and C(firewalld) are checked as a whole before anything is
    written: only regular files and directories under the archived trees, each named once, are
    accepted; symlinks, hard links, devices, fifos, absolute names, C(..) and a tree reached
    through a symlink on disk are refused."
  - "C(nftables): loads C(flush ruleset) followed by the saved ruleset with one C(nft -f), which is
    atomic: the old ruleset stays if the new one does not load. The input is checked with
    C(nft -c) first."
  - "C(iptables-nft) and C(iptables-legacy): C(iptables-restore -w) and C(ip6tables-restore -w) of
    that variant, which replace every table the dump holds. Tables created after the backup are
    deleted (iptables-nft) or emptied with ACCEPT policies (iptables-legacy, whose tables cannot
    be unregistered). The input is checked with C(--test) first."
  - "C(ufw): replaces C(/etc/ufw) and C(/etc/default/ufw) with the archived ones (files added
    since the backup are removed), then reloads, enables or disables ufw as the restored
    C(ufw.conf) says."
  - "C(firewalld): replaces C(/etc/firewalld) with the archived one, then C(firewall-cmd --reload)
    when the daemon runs. Runtime-only changes are discarded by the reload."
  - Nothing is done, and no change reported, when the live state already equals the backup.
author:
  - netsec.bjnp developers (@netsec)
options:
  backend:
    description:
      - The firewall backend to restore. Must match the backend recorded in the backup.
      - C(auto) takes the backend from the name of O(path), or without O(path) the backend in use on the host
        (detected as M(netsec.bjnp.firewall_rules) does).
    type: str
    choices: [auto, firewalld, ufw, nftables, iptables-nft, iptables-legacy]
    default: auto
  path:
    description:
      - Any file of the backup to restore (a data file or its C(.json) metadata).
      - A relative path must be a file name inside O(dir) (no directories, no C(..)); an absolute path
        names its own directory, which must pass the same checks as O(dir).
      - Without it, the newest complete backup of O(backend) in O(dir) is restored. A backup whose metadata
        is missing, empty, unreadable or invalid is incomplete and skipped, and so is one dated more than
        5 minutes after the host's clock; both are returned (RV(incomplete), RV(future)) with a warning.
    type: path
  dir:
    description:
      - Directory holding the backups.
    type: path
    default: /var/backups/bjnp
extends_documentation_fragment:
  - netsec.bjnp.firewall_backend
attributes:
  check_mode:
    support: full
    description: Verifies the backup and reports whether a restore would change anything; restores nothing.
  diff_mode:
    support: full
    description: Returns the live ruleset before and after (in check mode, the saved one).
  platform:
    support: full
    platforms: posix
    description: Linux with the backend's own tools installed.
notes:
  - Runs the backend's own commands, so it needs root.
seealso:
  - module: netsec.bjnp.firewall_backup
"""

EXAMPLES = r"""
- name: Restore the newest nftables backup
  netsec.bjnp.firewall_restore:
    backend: nftables
    dir: /var/backups/bjnp

- name: Restore a named iptables-legacy backup and show what changes
  netsec.bjnp.firewall_restore:
    backend: iptables-legacy
    path: /var/backups/bjnp/20261125T114655.123456Z-iptables-legacy.json
  diff: true
"""

RETURN = r"""
backend:
  description: The backend restored.
  returned: success
  type: str
  sample: nftables
restored:
  description: The main file of the backup restored (or that would be restored in check mode).
  returned: success
  type: str
  sample: /var/backups/bjnp/20261125T114655.123456Z-nftables.nft
metadata:
  description: The metadata of that backup, as M(netsec.bjnp.firewall_backup) returned it.
  returned: success
  type: dict
boot_files_forgotten:
  description:
    - Boot files of ours removed or edited after the restore, because the restored live state holds none of
      our rules (nftables and iptables; a reboot would otherwise bring them back). The options
      O(nftables_persist_path), O(nftables_conf), O(iptables_rules_v4) and O(iptables_rules_v6) say where they are.
  returned: success
  type: list
  elements: str
  sample: [/etc/nftables.d/netsec-bjnp.nft, /etc/nftables.conf]
incomplete:
  description:
    - Without O(path), the generations of O(backend) in O(dir) skipped as incomplete or untrusted, with the reason.
  returned: success
  type: list
  elements: dict
  sample:
    - generation: 20261125T114655.123456Z-nftables
      files: [/var/backups/bjnp/20261125T114655.123456Z-nftables.json, /var/backups/bjnp/20261125T114655.123456Z-nftables.nft]
      reason: metadata file /var/backups/bjnp/20261125T114655.123456Z-nftables.json is empty (the backup did not finish)
future:
  description:
    - Without O(path), the generations of O(backend) in O(dir) dated after the host's clock plus 5 minutes,
      never taken as the newest (give O(path) to restore one).
  returned: success
  type: list
  elements: dict
  sample: []
changed_files:
  description: Configuration files that differ from the archive (C(ufw), C(firewalld)), relative to C(/).
  returned: for ufw and firewalld
  type: list
  elements: str
  sample: [etc/ufw/user.rules, etc/ufw/user6.rules]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, Runner
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.backups import (
    backend_of_backup,
    find_backup,
    load_backup,
)
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import (
    BACKEND_ARGUMENT_SPEC,
    NAMES,
    backend_class,
    select_backend,
)


def forget_persisted(backend):
    """Boot files of ours that the restored live state no longer holds: removed, or a reboot brings them back."""
    plan = backend.plan(None, backend.read(), persist=True)
    if plan.live_changed or not plan.persist_changed:
        return []
    backend.persist(plan)
    return [change.path for change in plan.files]


def pick_backend(runner, params):
    """The named backend; for auto, the one the backup's name says, else the one in use here."""
    if params["backend"] != "auto":
        return backend_class(params["backend"])(runner, params)
    if params["path"]:
        name = backend_of_backup(params["path"])
        if name is None:
            raise FirewallError("%s is not a netsec.bjnp backup file (<UTC timestamp>-<backend>.<ext>, backend one of %s). "
                                "Nothing was changed." % (params["path"], ", ".join(NAMES)))
        return backend_class(name)(runner, params)
    return select_backend(runner, params, "auto")[0]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=["auto"] + NAMES, default="auto"),
            path=dict(type="path"),
            dir=dict(type="path", default="/var/backups/bjnp"),
            **BACKEND_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        backend = pick_backend(Runner(module), params)
        found = find_backup(backend.name, params["dir"], params["path"])
        directory = found["directory"]
        meta, data = load_backup(backend.name, directory, found["base"])
        restored = backend.restore(meta, data, check_mode=module.check_mode)
        forgotten = forget_persisted(backend) if restored.changed and not module.check_mode else []
    except FirewallError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    result = dict(changed=restored.changed or bool(forgotten), backend=backend.name, restored="%s/%s" % (directory, meta["files"][0]["name"]),
                  metadata=meta, boot_files_forgotten=forgotten, incomplete=found["incomplete"], future=found["future"])
    for entry in found["incomplete"] + found["future"]:
        module.warn("skipped backup %s: %s" % (entry["generation"], entry["reason"]))
    if restored.changed_files is not None:
        result["changed_files"] = restored.changed_files
    if module._diff:
        result["diff"] = dict(before=restored.before, after=restored.after,
                              before_header="live %s" % backend.name, after_header=result["restored"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
