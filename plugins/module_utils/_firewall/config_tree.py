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
    check_member,
    manifest_changes,
    sha256_hex,
    tar_manifest,
)


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
    tar = tarfile.open(fileobj=io.BytesIO(content), mode="r")
    for member in tar.getmembers():
        problem = check_member(member.name, roots)
        if problem is None and not (member.isdir() or member.isfile() or member.issym()):
            problem = "archive member %r is neither a file, a directory nor a symlink" % member.name
        if problem:
            raise FirewallError(problem)
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


def restore_config(roots, content, check_mode):
    """Put the archived trees ``roots`` back; the relative names that differed (or would)."""
    tar = open_archive(content, roots)
    changes = manifest_changes(tar_manifest(tar), live_manifest(roots))
    if changes and not check_mode:
        for root in roots:
            replace_tree(tar, root)
    return changes
