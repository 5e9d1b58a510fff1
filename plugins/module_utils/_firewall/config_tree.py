# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration trees (/etc/ufw, /etc/firewalld) saved as tar archives and put back exactly.

Used by the backends whose state lives in files (ufw, firewalld).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import io
import os
import shutil
import stat
import tarfile
import tempfile

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    archive_name,
    check_members,
    file_kind,
    manifest_changes,
    sha256_hex,
    tar_manifest,
)


def config_archive(paths):
    """A tar of the configuration paths that exist, and the list of those paths.

    Only directories and regular files are archived (a file's content, never a hard link
    to another member), because a restore accepts nothing else; anything else in the tree
    is refused here, naming it, so no backup is written that could not be restored.
    """
    buf = io.BytesIO()
    present = []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            if os.path.lexists(path):
                present.append(path)
                _archive_tree(tar, path)
    return buf.getvalue(), present


def _archive_tree(tar, path):
    st = os.lstat(path)
    info = tarfile.TarInfo(archive_name(path))
    info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name in sorted(os.listdir(path)):
            _archive_tree(tar, os.path.join(path, name))
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as handle:
            content = handle.read()
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    else:
        raise FirewallError("%s is %s: a backup holds only regular files and directories (a restore refuses "
                            "anything else), so none was taken. Replace it with a regular file, or remove it. "
                            "Nothing was changed." % (path, file_kind(st.st_mode)))


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


def open_archive(content, roots):
    """The archive, once every member and the way to every root on disk were checked."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(content), mode="r")
        members = tar.getmembers()
    except (tarfile.TarError, EOFError) as exc:
        raise FirewallError("the configuration archive of the backup is not a readable tar archive (%s). "
                            "Nothing was changed." % exc)
    names = set(member.name for member in members)
    touched = [root for root in roots if os.path.lexists(root) or archive_name(root) in names
               or any(name.startswith(archive_name(root) + "/") for name in names)]
    problems = check_members(members, roots) + [p for p in (check_way(root) for root in touched) if p]
    if problems:
        shown = "; ".join(problems[:5]) + ("; and %d more" % (len(problems) - 5) if len(problems) > 5 else "")
        raise FirewallError("refusing to restore the configuration archive: %s. Nothing was changed." % shown)
    return tar


def check_way(root):
    """Why the tree at `root` may not be replaced in place, or None.

    The copy is staged next to `root` and renamed over it, so the directory holding `root`
    must be where its name says: a symlink on the way would move the restore elsewhere.
    """
    parent = os.path.dirname(os.path.abspath(root))
    if os.path.realpath(parent) != parent:
        return "%s is reached through a symlink (%s resolves to %s)" % (root, parent, os.path.realpath(parent))
    if not os.path.isdir(parent):
        return "the directory %s that holds %s does not exist" % (parent, root)
    return None


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
    if not members and not os.path.lexists(root):
        return  # absent then and now
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


def restore_config(roots, content, check_mode):
    """Put the archived trees ``roots`` back; the relative names that differed (or would)."""
    tar = open_archive(content, roots)
    changes = manifest_changes(tar_manifest(tar), live_manifest(roots))
    if changes and not check_mode:
        for root in roots:
            try:
                replace_tree(tar, root)
            except OSError as exc:
                raise FirewallError("restoring %s from the configuration archive failed: %s" % (root, exc))
    return changes
