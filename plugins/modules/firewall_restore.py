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
    type: str
    required: true
    choices: [nftables, iptables-nft, iptables-legacy, ufw, firewalld]
  path:
    description:
      - Any file of the backup to restore (a data file or its C(.json) metadata).
      - A relative path is taken inside O(dir).
      - Without it, the newest complete backup of O(backend) in O(dir) is restored.
    type: path
  dir:
    description:
      - Directory holding the backups.
    type: path
    default: /var/backups/bjnp
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
restored:
  description: The main file of the backup restored (or that would be restored in check mode).
  returned: success
  type: str
  sample: /var/backups/bjnp/20261125T114655.123456Z-nftables.nft
metadata:
  description: The metadata of that backup, as M(netsec.bjnp.firewall_backup) returned it.
  returned: success
  type: dict
changed_files:
  description: Configuration files that differ from the archive (C(ufw), C(firewalld)), relative to C(/).
  returned: for ufw and firewalld
  type: list
  elements: str
  sample: [etc/ufw/user.rules, etc/ufw/user6.rules]
"""

import errno
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    CONFIG_PATHS,
    IPTABLES_COMMANDS,
    METADATA_SUFFIX,
    archive_name,
    base_of,
    check_member,
    check_metadata,
    iptables_restore_input,
    manifest_changes,
    newest,
    nft_restore_script,
    normalize_iptables,
    normalize_nft,
    sha256_hex,
    tar_manifest,
    ufw_enabled,
    without_unused_tables,
)


def run(module, args, data=None, check_rc=True):
    rc, out, err = module.run_command(args, data=data, binary_data=True, check_rc=False)
    if check_rc and rc != 0:
        module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()))
    return rc, out, err


def locate(module, backend):
    """Directory and generation base of the backup to restore."""
    path = module.params["path"]
    directory = module.params["dir"]
    if path:
        if not os.path.isabs(path):
            path = os.path.join(directory, path)
        base = base_of(path)
        if base is None:
            module.fail_json(msg="%s is not a netsec.bjnp backup file (<UTC timestamp>-<backend>.<ext>)" % path)
        return os.path.dirname(path), base
    if not os.path.isdir(directory):
        module.fail_json(msg="backup directory %s does not exist" % directory)
    base = newest(os.listdir(directory), backend)
    if base is None:
        module.fail_json(msg="no complete %s backup in %s" % (backend, directory))
    return directory, base


def load(module, backend, directory, base):
    """Metadata and role -> bytes, every checksum verified."""
    meta_path = os.path.join(directory, base + METADATA_SUFFIX)
    try:
        with open(meta_path, "rb") as handle:
            meta = json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError) as exc:
        module.fail_json(msg="backup metadata %s cannot be read: %s" % (meta_path, exc))
    except ValueError as exc:
        module.fail_json(msg="backup metadata %s is not valid JSON: %s" % (meta_path, exc))
    problems = check_metadata(meta, backend)
    if problems:
        module.fail_json(msg="backup metadata %s: %s" % (meta_path, "; ".join(problems)))
    data = {}
    for entry in meta["files"]:
        path = os.path.join(directory, entry["name"])
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except (IOError, OSError) as exc:
            module.fail_json(msg="backup file %s is missing or unreadable: %s" % (path, exc))
        if sha256_hex(content) != entry["sha256"]:
            module.fail_json(msg="backup file %s is corrupt: its SHA-256 %s differs from %s recorded in %s"
                             % (path, sha256_hex(content), entry["sha256"], meta_path))
        data[entry["role"]] = content
    missing = [role for role, dummy in BACKENDS[backend] if role not in data]
    if missing:
        module.fail_json(msg="backup metadata %s lists no %s file" % (meta_path, " or ".join(missing)))
    return meta, data


def write_temp(data):
    fd, path = tempfile.mkstemp(prefix="bjnp-restore-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


# --- nftables -----------------------------------------------------------------------------

def restore_nftables(module, data):
    nft = module.get_bin_path("nft", required=True)
    saved = data["ruleset"].decode("utf-8")
    before = run(module, [nft, "list", "ruleset"])[1]
    if normalize_nft(before) == normalize_nft(saved):
        return False, before, before
    script = write_temp(nft_restore_script(saved).encode("utf-8"))
    try:
        run(module, [nft, "-c", "-f", script])
        if module.check_mode:
            return True, before, saved
        run(module, [nft, "-f", script])
    finally:
        os.unlink(script)
    return True, before, run(module, [nft, "list", "ruleset"])[1]


# --- iptables -----------------------------------------------------------------------------

def restore_iptables(module, backend, data, families=("ipv4", "ipv6")):
    changed = False
    before_all, after_all = [], []
    nft = module.get_bin_path("nft") if backend == "iptables-nft" else None

    def comparable(text):
        text = normalize_iptables(text)
        return text if nft else without_unused_tables(text)

    for family in families:
        save_cmd, restore_cmd = IPTABLES_COMMANDS[backend][family]
        save = module.get_bin_path(save_cmd, required=True)
        restore = module.get_bin_path(restore_cmd, required=True)
        saved = data[family].decode("utf-8")
        before = run(module, [save])[1]
        before_all.append("# %s\n%s" % (family, normalize_iptables(before)))
        if comparable(before) == comparable(saved):
            after_all.append("# %s\n%s" % (family, normalize_iptables(before)))
            continue
        changed = True
        text, delete = iptables_restore_input(saved, before, can_delete_tables=nft is not None)
        run(module, [restore, "-w", "--test"], data=text.encode("utf-8"))
        if module.check_mode:
            after_all.append("# %s\n%s" % (family, normalize_iptables(saved)))
            continue
        run(module, [restore, "-w"], data=text.encode("utf-8"))
        for table in delete:
            run(module, [nft, "delete", "table", "ip" if family == "ipv4" else "ip6", table])
        after_all.append("# %s\n%s" % (family, normalize_iptables(run(module, [save])[1])))
    return changed, "".join(before_all), "".join(after_all)


# --- configuration trees (ufw, firewalld) -------------------------------------------------

def live_manifest(paths):
    """The tar_manifest() view of the live files under `paths`."""
    manifest = {}
    for root in paths:
        if not os.path.lexists(root):
            continue
        walk = [(root, [], [])]
        if os.path.isdir(root) and not os.path.islink(root):
            walk = os.walk(root)
        for top, dirs, files in walk:
            for path in [top] + [os.path.join(top, name) for name in dirs + files]:
                st = os.lstat(path)
                name = archive_name(path)
                if stat.S_ISDIR(st.st_mode):
                    entry = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, None)
                elif stat.S_ISLNK(st.st_mode):
                    entry = ("symlink", None, st.st_uid, st.st_gid, os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as handle:
                        digest = sha256_hex(handle.read())
                    entry = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest)
                else:
                    entry = ("other", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, None)
                manifest[name] = entry
    return manifest


def open_archive(module, content, roots):
    tar = tarfile.open(fileobj=io.BytesIO(content), mode="r")
    for member in tar.getmembers():
        problem = check_member(member.name, roots)
        if problem is None and not (member.isdir() or member.isfile() or member.issym()):
            problem = "archive member %r is neither a file, a directory nor a symlink" % member.name
        if problem:
            module.fail_json(msg=problem)
    return tar


# Members were checked by open_archive(); Python's newer default filter would drop owners.
TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def replace_tree(tar, root):
    """Swap `root` for its archived copy (or remove it when the archive has none).

    The copy is extracted next to `root` first, so the swap is two renames on one file system.
    On overlayfs (containers) a directory of a lower layer cannot be renamed (EXDEV); then the
    live tree is emptied and the copy moved in entry by entry.
    """
    rel = archive_name(root)
    members = [m for m in tar.getmembers() if m.name == rel or m.name.startswith(rel + "/")]
    parent = os.path.dirname(root)
    staging = tempfile.mkdtemp(prefix=".bjnp-restore-", dir=parent)
    try:
        # Directories last, so their modes do not stop the files going in.
        for member in sorted(members, key=lambda m: m.isdir()):
            tar.extract(member, path=staging, set_attrs=True, numeric_owner=True, **TRUSTED)
        for member in [m for m in members if m.isdir()]:
            target = os.path.join(staging, member.name)
            os.chmod(target, member.mode & 0o7777)
            os.utime(target, (member.mtime, member.mtime))
        copy = os.path.join(staging, rel)
        old = os.path.join(staging, ".old")
        if os.path.lexists(root):
            try:
                os.rename(root, old)
            except OSError as exc:
                if exc.errno != errno.EXDEV or not members or not os.path.isdir(root) or os.path.islink(root):
                    raise
                merge_into(copy, root)
                return
        if members:
            os.rename(copy, root)
    finally:
        shutil.rmtree(staging)


def merge_into(source, target):
    """Make directory `target` hold exactly what `source` holds, moving entries across."""
    wanted = set(os.listdir(source))
    for name in os.listdir(target):
        path = os.path.join(target, name)
        if os.path.isdir(path) and not os.path.islink(path):
            if name in wanted and os.path.isdir(os.path.join(source, name)) and not os.path.islink(os.path.join(source, name)):
                continue
            shutil.rmtree(path)
        else:
            os.unlink(path)
    for name in sorted(wanted):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst):
            merge_into(src, dst)
        else:
            os.rename(src, dst)
    st = os.lstat(source)
    os.chown(target, st.st_uid, st.st_gid)
    os.chmod(target, stat.S_IMODE(st.st_mode))
    os.utime(target, (st.st_atime, st.st_mtime))


def restore_config(module, backend, data):
    roots = CONFIG_PATHS[backend]
    tar = open_archive(module, data["config"], roots)
    changes = manifest_changes(tar_manifest(tar), live_manifest(roots))
    if changes and not module.check_mode:
        for root in roots:
            replace_tree(tar, root)
    return changes


def ufw_chain_lines(text):
    return "".join(line + "\n" for line in normalize_iptables(text).splitlines() if "ufw" in line)


def restore_ufw(module, data):
    ufw = module.get_bin_path("ufw", required=True)
    changes = restore_config(module, "ufw", data)
    conf = tarfile.open(fileobj=io.BytesIO(data["config"]), mode="r")
    try:
        member = conf.extractfile(archive_name("/etc/ufw/ufw.conf"))
        want_enabled = ufw_enabled(member.read().decode("utf-8"))
    except KeyError:
        want_enabled = False
    active = "Status: active" in run(module, [ufw, "status"], check_rc=False)[1]
    live = dict((family, run(module, [module.get_bin_path(IPTABLES_COMMANDS["ufw"][family][0], required=True)])[1])
                for family in ("ipv4", "ipv6"))
    before = "".join(ufw_chain_lines(live[f]) for f in ("ipv4", "ipv6"))
    saved = "".join(ufw_chain_lines(data[f].decode("utf-8")) for f in ("ipv4", "ipv6"))
    # Chains drifted from the files (someone used iptables on ufw's chains) need a reload too.
    needs_load = bool(changes) or active != want_enabled or (want_enabled and before != saved)
    if not needs_load or module.check_mode:
        return needs_load, changes, before, saved if needs_load else before
    if want_enabled:
        run(module, [ufw, "reload"] if active else [ufw, "--force", "enable"])
    elif active:
        run(module, [ufw, "disable"])
    after = "".join(ufw_chain_lines(run(module, [module.get_bin_path(IPTABLES_COMMANDS["ufw"][f][0], required=True)])[1])
                    for f in ("ipv4", "ipv6"))
    return True, changes, before, after


def restore_firewalld(module, meta, data):
    cmd = module.get_bin_path("firewall-cmd", required=True)
    changes = restore_config(module, "firewalld", data)
    running = run(module, [cmd, "--state"], check_rc=False)[0] == 0
    before = run(module, [cmd, "--list-all-zones"])[1] if running else ""
    saved = data["zones"].decode("utf-8")
    # The zones text is only comparable when the daemon ran at backup time too.
    drift = running and meta.get("running") and before != saved
    needs_load = bool(changes) or bool(drift)
    if not needs_load or module.check_mode:
        return needs_load, changes, before, saved if needs_load else before
    if running:
        run(module, [cmd, "--reload"])
        return True, changes, before, run(module, [cmd, "--list-all-zones"])[1]
    return True, changes, before, before


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", required=True, choices=sorted(BACKENDS)),
            path=dict(type="path"),
            dir=dict(type="path", default="/var/backups/bjnp"),
        ),
        supports_check_mode=True,
    )
    backend = module.params["backend"]
    directory, base = locate(module, backend)
    meta, data = load(module, backend, directory, base)
    restored = os.path.join(directory, meta["files"][0]["name"])
    result = dict(restored=restored, metadata=meta)

    if backend == "nftables":
        changed, before, after = restore_nftables(module, data)
    elif backend in ("iptables-nft", "iptables-legacy"):
        changed, before, after = restore_iptables(module, backend, data)
    elif backend == "ufw":
        changed, result["changed_files"], before, after = restore_ufw(module, data)
    else:
        changed, result["changed_files"], before, after = restore_firewalld(module, meta, data)

    result["changed"] = changed
    if module._diff:
        result["diff"] = dict(before=before, after=after,
                              before_header="live %s" % backend, after_header=restored)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
