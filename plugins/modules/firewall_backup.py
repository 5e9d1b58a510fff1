#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: firewall_backup
short_description: Save the full state of a Linux firewall backend before changing it
version_added: 0.1.0
description:
  - Saves everything the chosen firewall backend holds, not only the rules of this collection,
    so that M(netsec.bjnp.firewall_restore) can put the firewall back exactly as it was.
  - "C(nftables): the output of C(nft list ruleset)."
  - "C(iptables-nft) and C(iptables-legacy): C(iptables-save) and C(ip6tables-save) of that
    variant (for example C(iptables-legacy-save)), one file per address family."
  - "C(ufw): a tar archive of C(/etc/ufw) and C(/etc/default/ufw), plus the live
    C(iptables-save) and C(ip6tables-save) output."
  - "C(firewalld): a tar archive of C(/etc/firewalld), plus C(firewall-cmd --list-all-zones)
    output for reference when the daemon runs."
  - Files are named C(<UTC timestamp>-<backend>.<ext>), are readable by their owner only
    (mode C(0600)) and come with a JSON metadata file (C(.json)) that records the time, backend,
    host, O(change_id), O(label) and the SHA-256 of every file. Every file is written under a
    temporary name and synced, then renamed, the metadata file last, so a backup without it is
    incomplete and is never restored; a failed write (a full disk) removes what it wrote.
  - Generations of the same backend beyond O(keep) are deleted, oldest first. Only complete
    generations count; incomplete ones (metadata missing, empty or invalid) older than the new one
    are deleted and reported in RV(incomplete); generations dated in the future (RV(future)) are
    neither counted nor deleted.
author:
  - netsec.bjnp developers (@netsec)
options:
  backend:
    description:
      - The firewall backend whose state is saved.
    type: str
    required: true
    choices: [firewalld, ufw, nftables, iptables-nft, iptables-legacy]
  dir:
    description:
      - Directory receiving the backups. Created with mode C(0700) when missing (missing parents C(0755)),
        unless its nearest existing parent is writable by everyone without the sticky bit.
      - An existing directory is used as it is, never changed, and refused when it is a symlink, not a directory,
        owned by another user than the one running the module, or writable by group or others.
    type: path
    default: /var/backups/bjnp
  keep:
    description:
      - Generations of O(backend) kept in O(dir), the new one included. At least 1.
    type: int
    default: 10
  change_id:
    description:
      - Recorded in the metadata, for example a change ticket.
    type: str
    default: ""
  label:
    description:
      - Free text recorded in the metadata, for example why the backup was taken.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Reports the backup it would write and the generations it would prune; writes and deletes nothing.
  diff_mode:
    support: none
    description: A backup does not change the firewall.
  platform:
    support: full
    platforms: posix
    description: Linux with the backend's own tools installed.
notes:
  - Runs the backend's own commands (C(nft), C(iptables-save), C(firewall-cmd)), so it needs root.
  - Every run writes a new generation and reports a change; take a backup only when a change is
    about to be made, as the P(netsec.bjnp.firewall#role) role does.
seealso:
  - module: netsec.bjnp.firewall_restore
"""

EXAMPLES = r"""
- name: Save the nftables ruleset before changing it
  netsec.bjnp.firewall_backup:
    backend: nftables
    dir: /var/backups/bjnp
    keep: 10
    change_id: CHG-1234
    label: before closing BJNP
  register: bjnp_backup

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ bjnp_backup.path }} (pruned: {{ bjnp_backup.pruned | length }})"
"""

RETURN = r"""
path:
  description:
    - The main file of the new backup (the ruleset, the IPv4 dump, or the configuration archive).
    - In check mode, the file that would be written.
  returned: success
  type: str
  sample: /var/backups/bjnp/20261125T114655.123456Z-nftables.nft
metadata_path:
  description: The JSON metadata file of the new backup.
  returned: success
  type: str
  sample: /var/backups/bjnp/20261125T114655.123456Z-nftables.json
metadata:
  description: The content of the metadata file.
  returned: success
  type: dict
  contains:
    format:
      description: Version of the metadata layout.
      type: int
      sample: 1
    time:
      description: When the backup was taken, ISO 8601 UTC.
      type: str
      sample: "2026-11-25T11:46:55.123456+00:00"
    backend:
      description: The backend saved.
      type: str
      sample: nftables
    generation:
      description: The common prefix of the backup's file names.
      type: str
      sample: 20261125T114655.123456Z-nftables
    host:
      description: Host name of the machine saved.
      type: str
      sample: fw01
    change_id:
      description: O(change_id).
      type: str
      sample: CHG-1234
    label:
      description: O(label).
      type: str
      sample: before closing BJNP
    files:
      description: One entry per data file.
      type: list
      elements: dict
      sample:
        - role: ruleset
          name: 20261125T114655.123456Z-nftables.nft
          size: 1234
          sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    paths:
      description: Configuration paths archived (C(ufw), C(firewalld)); paths that did not exist are omitted.
      type: list
      elements: str
      returned: for ufw and firewalld
      sample: [/etc/ufw, /etc/default/ufw]
    running:
      description: Whether the ufw or firewalld service was active when saved.
      type: bool
      returned: for ufw and firewalld
      sample: true
pruned:
  description: Files deleted (in check mode, that would be deleted) because they belonged to older generations.
  returned: success
  type: list
  elements: str
  sample: [/var/backups/bjnp/20261101T080000.000000Z-nftables.nft, /var/backups/bjnp/20261101T080000.000000Z-nftables.json]
incomplete:
  description:
    - Generations of O(backend) found incomplete or untrusted (metadata missing, empty or invalid, a file that is
      not a regular file owned by the user running the module), with the reason. They do not count towards
      O(keep); those older than the new backup are deleted (listed in RV(pruned) too).
  returned: success
  type: list
  elements: dict
  sample:
    - generation: 20261101T080000.000000Z-nftables
      files: [/var/backups/bjnp/20261101T080000.000000Z-nftables.json, /var/backups/bjnp/20261101T080000.000000Z-nftables.nft]
      reason: metadata file /var/backups/bjnp/20261101T080000.000000Z-nftables.json is empty (the backup did not finish)
future:
  description:
    - Generations of O(backend) dated more than 5 minutes after the host's clock (a clock set wrong); neither
      counted towards O(keep) nor deleted.
  returned: success
  type: list
  elements: dict
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, Runner
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.backups import take_backup
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import (
    BACKEND_ARGUMENT_SPEC,
    NAMES,
    backend_class,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", required=True, choices=NAMES),
            dir=dict(type="path", default="/var/backups/bjnp"),
            keep=dict(type="int", default=10),
            change_id=dict(type="str", default=""),
            label=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    # Backing up reads the whole backend; its own options keep their defaults.
    options = dict((name, spec.get("default")) for name, spec in BACKEND_ARGUMENT_SPEC.items())
    try:
        backend = backend_class(params["backend"])(Runner(module), options)
        result = take_backup(backend, params["dir"], params["keep"], params["change_id"], params["label"],
                             check_mode=module.check_mode)
    except FirewallError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
