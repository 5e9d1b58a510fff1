#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: firewall_rules
short_description: Close Canon BJNP and raw print (TCP 9100) with the host's own Linux firewall
version_added: 0.1.0
description:
  - Blocks BJNP (UDP and TCP 8611-8614) and raw print (TCP 9100), or any O(ports), for IPv4 and IPv6,
    except from O(allowed_sources) (the print servers), with the firewall the host runs - nftables (a table
    of its own), iptables-nft or iptables-legacy (chains of its own), ufw (rules carrying O(ufw_comment)) or
    firewalld (ipsets and policies of its own). Nothing that belongs to anyone else is changed.
  - "One call does the whole change, the same steps on every backend: pick the backend (O(backend)), read the
    live state, plan, back up the whole backend (only when something live changes), apply (atomically where
    the tool allows), read the live state back, run O(verify_commands), then write the boot configuration
    (O(persist)). A failure after the backup rolls back (O(rollback)) and fails saying what was rolled back."
  - Compared with the B(live) state, so rules someone flushed or edited are detected and repaired.
  - O(state=absent) removes exactly what this module added, live and in the boot configuration.
author:
  - netsec.bjnp developers (@netsec)
options:
  backend:
    description:
      - The firewall to drive. C(auto) picks a running firewalld, else an active ufw, else the first of
        nftables, iptables-nft, iptables-legacy that holds rules, else the first one installed.
      - A named iptables backend is refused under a running firewalld or ufw, whose reload would rewrite it.
    type: str
    choices: [auto, firewalld, ufw, nftables, iptables-nft, iptables-legacy]
    default: auto
  state:
    description:
      - C(present) makes the firewall hold the rules; C(absent) removes what this module added (and gives back
        ufw site rules it took over, see O(ufw_site_rules)).
    type: str
    choices: [present, absent]
    default: present
  persist:
    description:
      - Also write the rules where the distribution loads them at boot (nftables and iptables; ufw and firewalld
        keep their rules in their own permanent configuration anyway).
      - O(state=absent) always removes our part of the boot configuration.
    type: bool
    default: false
  backup:
    description:
      - Save the whole state of the backend (M(netsec.bjnp.firewall_backup)) in O(backup_dir) before a live change.
    type: bool
    default: true
  backup_dir:
    description:
      - Directory of the backups (root only, created C(0700)).
    type: path
    default: /var/backups/bjnp
  backup_keep:
    description:
      - Backup generations of the backend kept in O(backup_dir); older ones are deleted.
    type: int
    default: 10
  change_id:
    description:
      - Recorded in the backup's metadata (for example a change ticket).
    type: str
    default: ""
  verify:
    description:
      - Read the live state back after applying; a difference restores the backup and fails.
    type: bool
    default: true
  verify_commands:
    description:
      - The site's own health checks, run after the live state verified and before the boot files are written
        (for example that the print server still reaches the printers). Each is a command line, split like a
        shell would but run without one; any non-zero exit rolls back (O(rollback)) and fails, naming the command.
    type: list
    elements: str
    default: []
  rollback:
    description:
      - How a failure after the backup (apply, verification, O(verify_commands), persisting) is undone.
      - C(revert) puts only our part back as it was before this run (our table, chains, rules or objects, live and
        at boot); what other tools (fail2ban, docker, an operator) added in the meantime stays. A backend that
        cannot restore an earlier version of its own rules exactly (ufw, when our rules existed before) falls back
        to C(restore).
      - C(restore) loads the whole backup of this run and reports in RV(discarded) what that threw away.
    type: str
    choices: [revert, restore]
    default: revert
  confirm_timeout:
    description:
      - Seconds after a live change within which the controller must confirm it with
        M(netsec.bjnp.firewall_confirm) (over a new connection, proving it still reaches the host); otherwise a
        detached process on the host reverts our part by itself, as O(rollback=revert) does. C(0) turns it off.
      - The timer survives the loss of the session that started it, but not a reboot; the boot files are already
        written when it is armed (reverting restores them too).
    type: int
    default: 0
extends_documentation_fragment:
  - netsec.bjnp.firewall_rules
  - netsec.bjnp.firewall_backend
attributes:
  check_mode:
    support: full
    description: Plans and reports what would change (live and boot files); changes nothing, takes no backup.
  diff_mode:
    support: full
    description: Shows our part of the live firewall before and after, and every boot file.
  platform:
    support: full
    platforms: posix
    description: Linux with one of the backends' tools.
requirements:
  - "nftables: nft 0.9.3 or later. iptables: iptables 1.8 (the -nft or -legacy binaries). ufw 0.36. firewalld 0.9 or later."
notes:
  - nftables comparison is against what C(nft list table) prints. When the text differs only in formatting (another
    nftables version), the rendered table is loaded in a throwaway network namespace (C(unshare --net)) to get the
    canonical text.
seealso:
  - module: netsec.bjnp.firewall_backup
  - module: netsec.bjnp.firewall_restore
  - module: netsec.bjnp.probe
"""

EXAMPLES = r"""
- name: Close BJNP and raw print with whatever firewall the host runs, except for the print server
  netsec.bjnp.firewall_rules:
    allowed_sources:
      - 192.0.2.10
      - 2001:db8::10
    persist: true
    change_id: CHG-1234

- name: On a router still on iptables-legacy, protect the printer VLAN and check the print server after
  netsec.bjnp.firewall_rules:
    backend: iptables-legacy
    mode: [gateway]
    protected_destinations: [198.51.100.0/24]
    action: reject
    persist: true
    verify_commands:
      - /usr/local/bin/check-print-path 198.51.100.20

- name: Change with a dead man's switch, then confirm over a new connection
  netsec.bjnp.firewall_rules:
    allowed_sources: [192.0.2.10]
    confirm_timeout: 120
  register: bjnp_change

- name: Reconnect (a lockout shows here, and the host reverts by itself)
  ansible.builtin.meta: reset_connection

- name: Confirm the change
  netsec.bjnp.firewall_confirm:
    token: "{{ bjnp_change.confirm.token }}"
  when: bjnp_change.confirm.token is defined

- name: Report drift without changing anything
  netsec.bjnp.firewall_rules:
    allowed_sources: [192.0.2.10]
    persist: true
  check_mode: true
  register: bjnp_drift

- name: Remove what the module added
  netsec.bjnp.firewall_rules:
    state: absent
"""

RETURN = r"""
backend:
  description: The backend used.
  returned: always
  type: str
  sample: nftables
backend_reason:
  description: Why that backend (C(requested), or what detection found).
  returned: always
  type: str
  sample: nftables holds rules
backup:
  description: Main file of the backup taken before the change; empty when none was taken.
  returned: always
  type: str
  sample: /var/backups/bjnp/20261125T114655.123456Z-nftables.nft
rolled_back:
  description: Whether a failure after the change was rolled back (then the task failed too).
  returned: always
  type: bool
  sample: false
discarded:
  description:
    - After a failure rolled back with the whole backup (O(rollback=restore), or a backend that cannot revert its
      own rules exactly), the lines and files the restore removed that were not ours - what other tools had added
      since the backup. Empty otherwise.
  returned: always
  type: list
  elements: str
  sample: ["table ip f2b {"]
confirm:
  description:
    - With O(confirm_timeout), the revert timer armed after the change; empty otherwise.
    - Pass RV(confirm.token) to M(netsec.bjnp.firewall_confirm) over a new connection before RV(confirm.deadline).
  returned: always
  type: dict
  contains:
    token:
      description: The timer's token (32 hex digits).
      type: str
    deadline:
      description: When the timer fires, seconds since the epoch (host clock).
      type: float
    state_dir:
      description: Where the timer keeps its state on the host.
      type: str
  sample: {token: 9f1c2e..., deadline: 1764673200.5, state_dir: /run/netsec-bjnp/confirm}
message:
  description: One line saying what happened.
  returned: always
  type: str
  sample: changed (nftables, state present, backup /var/backups/bjnp/20261125T114655.123456Z-nftables.nft)
plan:
  description: What was (or in check mode would be) changed, the same shape for every backend.
  returned: always
  type: dict
  contains:
    live_changed:
      description: Whether the live firewall changes.
      type: bool
    persist_changed:
      description: Whether a boot file or service changes.
      type: bool
    files:
      description: The boot files that change.
      type: list
      elements: str
    services:
      description: Units enabled at boot (C(nftables.service)).
      type: list
      elements: str
    rules:
      description: Our rules as rendered (text for nftables; per family for iptables; lists for ufw and firewalld).
      type: raw
    notes:
      description: What the user must know beyond the rules, for example ufw site rules taken over.
      type: list
      elements: str
  sample: {live_changed: true, persist_changed: true, files: [/etc/nftables.d/netsec-bjnp.nft], services: [],
           rules: "table inet bjnp {...}", notes: []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, Runner
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import BACKEND_ARGUMENT_SPEC, NAMES
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.rules import converge
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import RULE_ARGUMENT_SPEC


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RULE_ARGUMENT_SPEC,
            backend=dict(type="str", choices=["auto"] + NAMES, default="auto"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            persist=dict(type="bool", default=False),
            backup=dict(type="bool", default=True),
            backup_dir=dict(type="path", default="/var/backups/bjnp"),
            backup_keep=dict(type="int", default=10),
            change_id=dict(type="str", default=""),
            verify=dict(type="bool", default=True),
            verify_commands=dict(type="list", elements="str", default=[]),
            rollback=dict(type="str", choices=["revert", "restore"], default="revert"),
            confirm_timeout=dict(type="int", default=0),
            **BACKEND_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    try:
        result = converge(Runner(module), module.params, module.check_mode)
    except FirewallError as exc:
        details = dict(exc.details)
        if not module._diff:
            details.pop("diff", None)
        module.fail_json(msg=exc.message, **details)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
