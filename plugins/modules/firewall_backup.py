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
    host, O(change_id), O(label) and the SHA-256 of every file. The metadata file is written
    last, so a backup without it is incomplete and is never restored.
  - Generations of the same backend beyond O(keep) are deleted, oldest first.
author:
  - netsec.bjnp developers (@netsec)
options:
  backend:
    description:
      - The firewall backend whose state is saved.
    type: str
    required: true
    choices: [nftables, iptables-nft, iptables-legacy, ufw, firewalld]
  dir:
    description:
      - Directory receiving the backups. Created when missing; its mode is set to C(0700).
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
    about to be made, as the M(netsec.bjnp.firewall) role does.
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
"""

import datetime
import io
import json
import os
import socket
import tarfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    CONFIG_PATHS,
    IPTABLES_COMMANDS,
    METADATA_SUFFIX,
    archive_name,
    build_metadata,
    generation_base,
    generation_files,
    select_prune,
    stamp,
)


def run(module, args, check_rc=True):
    rc, out, err = module.run_command(args, check_rc=False)
    if check_rc and rc != 0:
        module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()))
    return rc, out, err


def iptables_dump(module, backend, family):
    save = module.get_bin_path(IPTABLES_COMMANDS[backend][family][0], required=True)
    return run(module, [save])[1]


def config_archive(paths):
    """A tar of the configuration paths that exist, and the list of those paths."""
    buf = io.BytesIO()
    present = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in paths:
            if os.path.lexists(path):
                present.append(path)
                tar.add(path, arcname=archive_name(path), recursive=True)
    return buf.getvalue(), present


def collect(module, backend):
    """Role -> bytes of every data file, and extra metadata."""
    data = {}
    extra = {}
    if backend == "nftables":
        nft = module.get_bin_path("nft", required=True)
        data["ruleset"] = run(module, [nft, "list", "ruleset"])[1]
    elif backend in ("iptables-nft", "iptables-legacy"):
        for family in ("ipv4", "ipv6"):
            data[family] = iptables_dump(module, backend, family)
    elif backend == "ufw":
        data["config"], extra["paths"] = config_archive(CONFIG_PATHS["ufw"])
        for family in ("ipv4", "ipv6"):
            data[family] = iptables_dump(module, backend, family)
        ufw = module.get_bin_path("ufw", required=True)
        extra["running"] = "Status: active" in run(module, [ufw, "status"], check_rc=False)[1]
    elif backend == "firewalld":
        data["config"], extra["paths"] = config_archive(CONFIG_PATHS["firewalld"])
        cmd = module.get_bin_path("firewall-cmd", required=True)
        extra["running"] = run(module, [cmd, "--state"], check_rc=False)[0] == 0
        data["zones"] = run(module, [cmd, "--list-all-zones"])[1] if extra["running"] else ""
    encoded = {}
    for role, value in data.items():
        encoded[role] = value if isinstance(value, bytes) else value.encode("utf-8")
    return encoded, extra


def write_private(path, data):
    """Create `path` 0600 (never overwriting) and write `data` to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def ensure_dir(module, path):
    if not os.path.isdir(path):
        if module.check_mode:
            return
        os.makedirs(path, 0o700)
    if module.check_mode:
        return
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", required=True, choices=sorted(BACKENDS)),
            dir=dict(type="path", default="/var/backups/bjnp"),
            keep=dict(type="int", default=10),
            change_id=dict(type="str", default=""),
            label=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    backend = params["backend"]
    directory = params["dir"]
    if params["keep"] < 1:
        module.fail_json(msg="keep must be at least 1, got %d" % params["keep"])

    now = datetime.datetime.now(datetime.timezone.utc)
    base = generation_base(stamp(now), backend)
    names = generation_files(base, backend)
    main_path = os.path.join(directory, names[0][1])
    metadata_path = os.path.join(directory, base + METADATA_SUFFIX)

    data, extra = collect(module, backend)
    files = [(role, name, data[role]) for role, name in names]
    metadata = build_metadata(now.isoformat(), backend, base, socket.gethostname(),
                              params["change_id"], params["label"], files, extra)

    ensure_dir(module, directory)
    listing = os.listdir(directory) if os.path.isdir(directory) else []
    pruned = [os.path.join(directory, name) for name in select_prune(listing, backend, params["keep"], base)]

    if not module.check_mode:
        written = []
        try:
            for dummy, name, content in files:
                path = os.path.join(directory, name)
                write_private(path, content)
                written.append(path)
            write_private(metadata_path, json.dumps(metadata, indent=2, sort_keys=True).encode("utf-8") + b"\n")
        except OSError as exc:
            for path in written:
                os.unlink(path)
            module.fail_json(msg="could not write backup %s: %s" % (base, exc))
        for path in pruned:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # pruned by a concurrent run

    module.exit_json(changed=True, path=main_path, metadata_path=metadata_path, metadata=metadata, pruned=pruned)


if __name__ == "__main__":
    main()
