#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nftables_rules
short_description: Block Canon BJNP and raw print (TCP 9100) in an nftables table of its own
version_added: 0.1.0
description:
  - Keeps one nftables table (C(inet bjnp) by default) holding drop or reject rules for BJNP
    (UDP and TCP 8611-8614) and raw print (TCP 9100), for IPv4 and IPv6, with an allow-list of
    sources (the print servers).
  - Host mode hooks a chain at C(input) (this machine); gateway mode hooks one at C(forward)
    (the printers behind it, O(protected_destinations)). Both chains have policy accept and run
    before the distribution's filter chains (O(priority)); an accept in them only ends this
    table's verdict, every other table still sees the packet.
  - Compared with the B(live) ruleset, not with a file, so a table someone flushed or edited
    is detected and repaired. Applied atomically with one C(nft -f) transaction, validated first
    with C(nft -c). Nothing outside the table is touched.
  - With O(persist), the table is also written to O(persist_path) and included from
    O(nftables_conf), which C(nftables.service) loads at boot.
author:
  - netsec.bjnp developers (@netsec)
options:
  state:
    description:
      - C(present) makes the live table equal the rendered rules; C(absent) deletes the table and, when
        present, the persisted file and its include line.
    type: str
    choices: [present, absent]
    default: present
  table:
    description:
      - Name of the C(inet) table this module owns. Give each independent user its own name.
    type: str
    default: bjnp
  priority:
    description:
      - Chain priority as an offset from C(filter) (0). Negative runs before the distribution's filter chains.
    type: int
    default: -10
  persist:
    description:
      - Also write the table to O(persist_path) and make sure O(nftables_conf) includes it, so the rules
        survive a reboot.
      - O(state=absent) removes the file and the include line whatever this option says.
    type: bool
    default: false
  persist_path:
    description:
      - File holding the persisted table. Validated with C(nft -c) before it is written.
    type: path
    default: /etc/nftables.d/netsec-bjnp.nft
  nftables_conf:
    description:
      - The file loaded at boot. One C(include) line is added at its end (after any C(flush ruleset)); the
        rest of the file is left as it was, and a backup copy is kept when it changes.
    type: path
    default: /etc/nftables.conf
extends_documentation_fragment:
  - netsec.bjnp.firewall_rules
attributes:
  check_mode:
    support: full
    description: Reports whether the live table or the persisted files would change, and validates the rules with C(nft -c).
  diff_mode:
    support: full
    description: Shows the live table before and after, and the persisted files.
  platform:
    support: full
    platforms: posix
    description: Linux with nftables (the C(nft) command).
requirements:
  - nft (nftables 0.9.3 or later)
notes:
  - Comparison is against what C(nft list table) prints. When that text differs from the rendered one only in
    formatting (another nftables version), the module loads the rendered table in a throwaway network
    namespace (C(unshare --net)) to get the canonical text; without that capability such a host reports a
    change on every run.
seealso:
  - module: netsec.bjnp.iptables_rules
  - module: netsec.bjnp.probe
"""

EXAMPLES = r"""
- name: Close BJNP and raw print on this host, except for the print server
  netsec.bjnp.nftables_rules:
    allowed_sources:
      - 192.0.2.10
      - 2001:db8::10
    persist: true

- name: On a router, protect the printer VLAN and this host itself
  netsec.bjnp.nftables_rules:
    mode: [host, gateway]
    protected_destinations:
      - 198.51.100.0/24
    action: reject

- name: Check that the live rules are still in place (fails nothing, reports drift)
  netsec.bjnp.nftables_rules:
    allowed_sources: [192.0.2.10]
  check_mode: true
  register: bjnp_nft_check

- name: Remove the table and its persisted file
  netsec.bjnp.nftables_rules:
    state: absent
"""

RETURN = r"""
rules:
  description: The table as rendered (what C(nft list table) prints once it is loaded). Empty for O(state=absent).
  returned: always
  type: str
  sample: "table inet bjnp {\n\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n..."
live_changed:
  description: Whether the live ruleset was (or in check mode would be) changed.
  returned: always
  type: bool
  sample: true
persist_changed:
  description: Whether the persisted file or O(nftables_conf) was (or would be) changed.
  returned: always
  type: bool
  sample: false
backup_file:
  description: Copy of O(nftables_conf) made before its include line changed.
  returned: when O(nftables_conf) was changed
  type: str
  sample: /etc/nftables.conf.12345.2026-11-25@12:00:00~
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import (
    RULE_ARGUMENT_SPEC,
    add_include,
    build_policy,
    normalize_nft,
    remove_include,
    render_nft_persist_file,
    render_nft_table,
    render_nft_transaction,
)


class Nft(object):
    """The few nft invocations the module needs, failing the module with nft's own words."""

    def __init__(self, module):
        self.module = module
        self.nft = module.get_bin_path("nft", required=True)

    def list_table(self, table):
        rc, out, err = self.module.run_command([self.nft, "list", "table", "inet", table])
        if rc == 0:
            return out
        if "No such file or directory" in err:
            return None
        self.module.fail_json(msg="nft list table inet %s failed: %s" % (table, err.strip()), rc=rc)

    def _with_file(self, text, function):
        fd, path = tempfile.mkstemp(prefix="bjnp-", suffix=".nft", dir=self.module.tmpdir)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            return function(path)
        finally:
            os.unlink(path)

    def check(self, text, what):
        def run(path):
            rc, dummy, err = self.module.run_command([self.nft, "-c", "-f", path])
            if rc != 0:
                self.module.fail_json(msg="nft -c rejected the %s: %s" % (what, err.strip()), rules=text)
        self._with_file(text, run)

    def apply(self, text):
        def run(path):
            rc, dummy, err = self.module.run_command([self.nft, "-f", path])
            if rc != 0:
                self.module.fail_json(msg="nft -f failed, the live ruleset is unchanged: %s" % err.strip(), rules=text)
        self._with_file(text, run)

    def delete_table(self, table):
        rc, dummy, err = self.module.run_command([self.nft, "delete", "table", "inet", table])
        if rc != 0:
            self.module.fail_json(msg="nft delete table inet %s failed: %s" % (table, err.strip()), rc=rc)

    def canonical(self, transaction, table):
        """How this nft version prints the rendered table, from a throwaway network namespace."""
        unshare = self.module.get_bin_path("unshare")
        if not unshare:
            return None

        def run(path):
            rc, out, dummy = self.module.run_command(
                [unshare, "--net", "sh", "-c", 'nft -f "$0" && nft list table inet "$1"', path, table])
            return out if rc == 0 else None
        return self._with_file(transaction, run)


def read_file(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def write_file(module, path, text, mode):
    """Atomically replace ``path``; an existing file keeps its mode."""
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory or None, prefix=".bjnp-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    module.atomic_move(tmp, path)
    # atomic_move gives a new file the umask's mode; ours is decided here.
    os.chmod(path, mode)


def plan_persistence(params, file_text):
    """Wanted (path, before, after) for the persisted file and nftables.conf; None means delete."""
    path, conf = params["persist_path"], params["nftables_conf"]
    current_file, current_conf = read_file(path), read_file(conf)
    if params["state"] == "present" and params["persist"]:
        return [(path, current_file, file_text), (conf, current_conf, add_include(current_conf, path))]
    if params["state"] == "absent":
        wanted_conf = remove_include(current_conf, path) if current_conf is not None else None
        return [(path, current_file, None), (conf, current_conf, wanted_conf)]
    return []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            RULE_ARGUMENT_SPEC,
            state=dict(type="str", choices=["present", "absent"], default="present"),
            table=dict(type="str", default="bjnp"),
            priority=dict(type="int", default=-10),
            persist=dict(type="bool", default=False),
            persist_path=dict(type="path", default="/etc/nftables.d/netsec-bjnp.nft"),
            nftables_conf=dict(type="path", default="/etc/nftables.conf"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    table = params["table"]

    rendered, transaction = "", None
    if params["state"] == "present":
        try:
            policy = build_policy(params["ports"], params["allowed_sources"], params["mode"],
                                  params["protected_destinations"], params["action"])
        except ValueError as exc:
            module.fail_json(msg=to_native(exc))
        rendered = render_nft_table(policy, table, params["priority"])
        transaction = render_nft_transaction(rendered, table)

    nft = Nft(module)
    live = nft.list_table(table)
    if params["state"] == "present":
        live_changed = normalize_nft(live) != normalize_nft(rendered)
        if live_changed and live is not None:
            canonical = nft.canonical(transaction, table)
            if canonical is not None:
                live_changed = normalize_nft(live) != normalize_nft(canonical)
        if live_changed:
            nft.check(transaction, "rendered table")
    else:
        live_changed = live is not None

    file_plan = plan_persistence(params, render_nft_persist_file(rendered, table) if rendered else "")
    file_plan = [(path, before, after) for path, before, after in file_plan if before != after]
    for path, before, after in file_plan:
        if path == params["persist_path"] and after is not None:
            nft.check(after, "file to persist (%s)" % path)

    diff = []
    if live_changed:
        diff.append(dict(before_header="live table inet %s" % table, after_header="live table inet %s" % table,
                         before=live or "", after=rendered))
    for path, before, after in file_plan:
        diff.append(dict(before_header=path, after_header=path, before=before or "", after=after or ""))

    result = dict(changed=live_changed or bool(file_plan), live_changed=live_changed,
                  persist_changed=bool(file_plan), rules=rendered)
    if module._diff:
        result["diff"] = diff
    if module.check_mode:
        module.exit_json(**result)

    if live_changed:
        if params["state"] == "present":
            nft.apply(transaction)
        else:
            nft.delete_table(table)
    for path, before, after in file_plan:
        if after is None:
            os.unlink(path)
            continue
        if path == params["nftables_conf"] and before is not None:
            result["backup_file"] = module.backup_local(path)
        write_file(module, path, after, 0o755 if path == params["nftables_conf"] else 0o644)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
