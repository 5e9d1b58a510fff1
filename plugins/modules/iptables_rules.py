#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iptables_rules
short_description: Block Canon BJNP and raw print (TCP 9100) in iptables chains of its own
version_added: 0.1.0
description:
  - Keeps two chains in the C(filter) table, C(BJNP-INPUT) (host mode) and C(BJNP-FORWARD) (gateway mode),
    for IPv4 and IPv6, holding drop or reject rules for BJNP (UDP and TCP 8611-8614) and raw print
    (TCP 9100), with an allow-list of sources. One jump to each sits at the top of C(INPUT) / C(FORWARD).
  - Our chains C(RETURN) what is not theirs to judge (loopback, allowed sources, other ports), so every
    other rule of the host still applies. Nothing outside our chains and jumps is touched.
  - Compared with the B(live) ruleset (C(iptables -S)), so a flushed chain, a lost jump or a jump pushed
    down by another tool is detected and repaired. Each family is changed with one
    C(iptables-restore --noflush) transaction; the xtables lock is always waited for (C(-w)).
  - "Works with both iptables variants (O(variant)): C(nft) (the Debian default, C(iptables-nft)) and
    C(legacy) (C(iptables-legacy)). Use the one whose rules the host actually loads."
  - With O(persist), our lines are also merged into O(rules_v4) and O(rules_v6), the files
    C(netfilter-persistent) loads at boot.
author:
  - netsec.bjnp developers (@netsec)
options:
  state:
    description:
      - C(present) makes the live chains and jumps equal the rendered rules; C(absent) removes our jumps and
        chains (live, and from the rules files when they exist).
    type: str
    choices: [present, absent]
    default: present
  variant:
    description:
      - Which iptables to drive. C(nft) runs C(iptables-nft) and friends, C(legacy) runs C(iptables-legacy).
    type: str
    choices: [nft, legacy]
    default: nft
  chain_prefix:
    description:
      - Our chains are named C(<prefix>-INPUT) and C(<prefix>-FORWARD).
    type: str
    default: BJNP
  persist:
    description:
      - Also merge our chains and jumps into O(rules_v4) and O(rules_v6). The rest of those files is kept
        line for line; a missing file is first seeded from the live ruleset (C(iptables-save)), as
        C(netfilter-persistent save) would, under a header line holding a checksum of the file without our lines.
      - O(state=absent) removes our lines from existing files whatever this option says, and deletes a file
        this module created when the rest of it is still what it seeded (the host boots as before);
        a file changed since is kept, without our lines and header.
    type: bool
    default: false
  rules_v4:
    description:
      - IPv4 rules file loaded at boot by C(netfilter-persistent).
    type: path
    default: /etc/iptables/rules.v4
  rules_v6:
    description:
      - IPv6 rules file loaded at boot by C(netfilter-persistent).
    type: path
    default: /etc/iptables/rules.v6
extends_documentation_fragment:
  - netsec.bjnp.firewall_rules
attributes:
  check_mode:
    support: full
    description: Reports what would change in the live chains and in the rules files.
  diff_mode:
    support: full
    description: Shows our chains and jumps before and after, per family, and the rules files.
  platform:
    support: full
    platforms: posix
    description: Linux with iptables 1.8 or later (for C(iptables-restore -w)).
requirements:
  - iptables 1.8 (the C(-nft) or C(-legacy) binaries for O(variant))
notes:
  - Never use this module on a host where firewalld or ufw manages the firewall; they own these tables.
    The role C(netsec.bjnp.firewall) detects them and uses their own interfaces instead.
  - The rules files hold the whole ruleset of the host, not only ours; this module changes only its own
    lines in them.
seealso:
  - module: netsec.bjnp.nftables_rules
  - module: netsec.bjnp.probe
"""

EXAMPLES = r"""
- name: Close BJNP and raw print with iptables-nft, keep the print server allowed
  netsec.bjnp.iptables_rules:
    allowed_sources:
      - 192.0.2.10
      - 2001:db8::10
    persist: true

- name: On an old router still on iptables-legacy, protect the printer VLAN
  netsec.bjnp.iptables_rules:
    variant: legacy
    mode: [gateway]
    protected_destinations: [198.51.100.0/24]
    action: reject

- name: Remove our chains and jumps
  netsec.bjnp.iptables_rules:
    state: absent
    variant: legacy
"""

RETURN = r"""
rules:
  description: Our chains and jumps per family as C(iptables -S) prints them. Empty strings for O(state=absent).
  returned: always
  type: dict
  contains:
    ipv4:
      description: IPv4 chains and jumps.
      type: str
      sample: "-N BJNP-INPUT\n-A BJNP-INPUT -i lo -j RETURN\n-A BJNP-INPUT -p tcp -m tcp --dport 9100 -j DROP\n-A INPUT -j BJNP-INPUT\n"
    ipv6:
      description: IPv6 chains and jumps.
      type: str
      sample: "-N BJNP-INPUT\n-A BJNP-INPUT -i lo -j RETURN\n-A INPUT -j BJNP-INPUT\n"
live_changed:
  description: Whether the live ruleset was (or in check mode would be) changed.
  returned: always
  type: bool
  sample: true
persist_changed:
  description: Whether a rules file was (or would be) changed.
  returned: always
  type: bool
  sample: false
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import (
    RULE_ARGUMENT_SPEC,
    build_policy,
    ipt_in_sync,
    live_ipt_state,
    merge_rules_file,
    parse_ipt_rules,
    render_ipt,
    render_ipt_restore,
    render_ipt_text,
    seed_rules_file,
    strip_counters,
    unmerge_rules_file,
)

FAMILIES = ((4, "ipv4", "iptables"), (6, "ipv6", "ip6tables"))


def run(module, args, data=None):
    rc, out, err = module.run_command(args, data=data, binary_data=data is not None)
    if rc != 0:
        module.fail_json(msg="%s failed: %s" % (" ".join(args), err.strip()), rc=rc, stdin=data)
    return out


def write_file(module, path, text):
    """Atomically replace ``path``; an existing file keeps its mode, a new one is root-only."""
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o640
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory or None, prefix=".bjnp-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    module.atomic_move(tmp, path)
    # atomic_move gives a new file the umask's mode; ours is decided here.
    os.chmod(path, mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RULE_ARGUMENT_SPEC,
            state=dict(type="str", choices=["present", "absent"], default="present"),
            variant=dict(type="str", choices=["nft", "legacy"], default="nft"),
            chain_prefix=dict(type="str", default="BJNP"),
            persist=dict(type="bool", default=False),
            rules_v4=dict(type="path", default="/etc/iptables/rules.v4"),
            rules_v6=dict(type="path", default="/etc/iptables/rules.v6"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    prefix, variant = params["chain_prefix"], params["variant"]
    policy = None
    if params["state"] == "present":
        try:
            policy = build_policy(params["ports"], params["allowed_sources"], params["mode"],
                                  params["protected_destinations"], params["action"])
        except ValueError as exc:
            module.fail_json(msg=to_native(exc))

    plans, rules, diff = [], {}, []
    for family, label, command in FAMILIES:
        binary = module.get_bin_path("%s-%s" % (command, variant), required=True)
        restore = module.get_bin_path("%s-%s-restore" % (command, variant), required=True)
        save = module.get_bin_path("%s-%s-save" % (command, variant), required=True)
        parsed = parse_ipt_rules(run(module, [binary, "-w", "-t", "filter", "-S"]))
        desired = render_ipt(policy, family, prefix) if policy else {"chains": {}, "jumps": {}}
        rules[label] = render_ipt_text(desired)
        live_changed = not ipt_in_sync(parsed, desired, prefix)
        if live_changed:
            diff.append(dict(before_header="live %s filter (ours)" % label, after_header="live %s filter (ours)" % label,
                             before=render_ipt_text(live_ipt_state(parsed, prefix)), after=rules[label]))

        path = params["rules_v%d" % family]
        file_before = file_after = None
        remove_file = False
        if os.path.exists(path):
            with open(path) as handle:
                file_before = handle.read()
        if params["state"] == "absent" and file_before is not None:
            file_after = unmerge_rules_file(file_before, prefix)
            remove_file = file_after is None
        elif params["state"] == "present" and params["persist"]:
            if file_before is None:
                file_after = seed_rules_file(strip_counters(run(module, [save])), desired, prefix)
            else:
                file_after = merge_rules_file(file_before, desired, prefix)
        file_changed = remove_file or (file_after is not None and file_after != file_before)
        if file_changed:
            diff.append(dict(before_header=path, after_header=path + (" (removed)" if remove_file else ""),
                             before=file_before or "", after=file_after or ""))
        plans.append(dict(restore=restore, script=render_ipt_restore(parsed, desired, prefix) if live_changed else None,
                          path=path, file_after=file_after if file_changed else None, remove_file=remove_file))

    live_changed = any(plan["script"] for plan in plans)
    persist_changed = any(plan["file_after"] is not None or plan["remove_file"] for plan in plans)
    result = dict(changed=live_changed or persist_changed, live_changed=live_changed,
                  persist_changed=persist_changed, rules=rules)
    if module._diff:
        result["diff"] = diff
    if module.check_mode:
        module.exit_json(**result)

    for plan in plans:
        if plan["script"]:
            run(module, [plan["restore"], "--noflush", "-w"], data=plan["script"])
    for plan in plans:
        if plan["remove_file"]:
            os.remove(plan["path"])
        elif plan["file_after"] is not None:
            write_file(module, plan["path"], plan["file_after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
