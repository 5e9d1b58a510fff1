# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups on real files: what a restore trusts, the backup directory, full disks, archives.

Everything happens in temporary directories. The unit tests run as root, so ownership cases
chown to uid 65534 (nobody); they are skipped when not root. The full-disk case mounts a 64 KiB
tmpfs, and is skipped (saying why) where mounting is not permitted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_backup as bb
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import backups
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import config_tree
from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="ownership cases chown to uid 65534, which needs root")


class Saved(object):
    """The content side of a backend: ``take_backup`` asks it for bytes, nothing else."""

    def __init__(self, name="nftables", data=None):
        self.name = name
        self.data = data or dict((role, ("%s of %s\n" % (role, name)).encode("utf-8")) for role, dummy in bb.BACKENDS[name])

    def backup(self):
        return dict(self.data), {}


@pytest.fixture
def tmp(tmp_path):
    """tmp_path resolved (the restore refuses trees reached through symlinks)."""
    return os.path.realpath(str(tmp_path))


@pytest.fixture
def bdir(tmp):
    return os.path.join(tmp, "backups")


def plant(directory, when, backend="nftables", meta=True, meta_bytes=None):
    """A generation written by hand, dated ``when`` (metadata as take_backup writes it, or ``meta_bytes``)."""
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    base = bb.generation_base(bb.stamp(when), backend)
    files = [(role, name, ("%s %s\n" % (role, base)).encode("utf-8")) for role, name in bb.generation_files(base, backend)]
    for dummy, name, content in files:
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(content)
    if meta:
        document = bb.build_metadata(when.isoformat(), backend, base, "fw01", "", "", files)
        with open(os.path.join(directory, base + ".json"), "wb") as handle:
            handle.write(json.dumps(document).encode("utf-8") if meta_bytes is None else meta_bytes)
    for name in os.listdir(directory):
        os.chmod(os.path.join(directory, name), 0o600)
    return base


def past(days):
    return datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=days)


def refused(call, *args, **kwargs):
    with pytest.raises(FirewallError) as info:
        call(*args, **kwargs)
    return info.value.message


# --- 2. restore trusts only backups nobody else could have written ---------------------------

def test_a_backup_loads_back_byte_for_byte(bdir):
    taken = backups.take_backup(Saved("iptables-nft"), bdir, 3, "CHG-1", "why")
    directory, base = backups.locate_backup("iptables-nft", bdir)
    meta, data = backups.load_backup("iptables-nft", directory, base)
    assert os.path.join(directory, base + ".json") == taken["metadata_path"] and meta == taken["metadata"]
    assert data == Saved("iptables-nft").data
    assert taken["incomplete"] == [] and taken["future"] == []
    assert stat.S_IMODE(os.stat(bdir).st_mode) == 0o700
    assert sorted(stat.S_IMODE(os.stat(os.path.join(bdir, n)).st_mode) for n in os.listdir(bdir)) == [0o600] * 3


def test_a_relative_path_with_dot_dot_is_refused(tmp, bdir):
    backups.take_backup(Saved(), bdir, 3)
    other = os.path.join(tmp, "other")
    base = plant(other, past(1))
    os.chmod(other, 0o700)
    message = refused(backups.locate_backup, "nftables", bdir, "../other/%s.nft" % base)
    assert "refusing backup '../other/%s.nft': a relative path must be a backup file name inside the backup directory %s" % (
        base, bdir) in message
    # The same backup named by its absolute path is fine: its own directory passes the checks.
    assert backups.locate_backup("nftables", bdir, os.path.join(other, base + ".nft")) == (other, base)


@pytest.mark.parametrize("which", ["data", "metadata"])
def test_a_symlink_in_the_backup_directory_is_refused(tmp, bdir, which):
    taken = backups.take_backup(Saved(), bdir, 3)
    path = taken["path"] if which == "data" else taken["metadata_path"]
    # Same bytes elsewhere, so only the symlink itself can be the reason.
    outside = os.path.join(tmp, "outside")
    shutil.copy(path, outside)
    os.unlink(path)
    os.symlink(outside, path)
    directory, base = backups.locate_backup("nftables", bdir, taken["path"])
    message = refused(backups.load_backup, "nftables", directory, base)
    assert path in message and "it is a symlink" in message and "a backup file must be a regular file" in message


@as_root
def test_a_file_owned_by_another_user_is_refused(bdir):
    taken = backups.take_backup(Saved(), bdir, 3)
    os.chown(taken["path"], NOBODY, NOBODY)
    message = refused(backups.load_backup, "nftables", bdir, taken["metadata"]["generation"])
    assert message == ("refusing backup file %s: it is owned by uid 65534, not by uid 0 (the user running this); a backup "
                       "file must be a regular file owned by the user running this (root) and writable by nobody else."
                       % taken["path"])


@pytest.mark.parametrize("mode, who", [(0o620, "group"), (0o602, "others")])
def test_a_file_writable_by_group_or_others_is_refused(bdir, mode, who):
    taken = backups.take_backup(Saved(), bdir, 3)
    os.chmod(taken["metadata_path"], mode)
    message = refused(backups.load_backup, "nftables", bdir, taken["metadata"]["generation"])
    assert taken["metadata_path"] in message and "it is writable by %s (mode %04o)" % (who, mode) in message


@as_root
@pytest.mark.parametrize("change, says", [
    (lambda d: os.chown(d, NOBODY, NOBODY), "it is owned by uid 65534, not by uid 0 (the user running this)"),
    (lambda d: os.chmod(d, 0o770), "it is writable by group (mode 0770)"),
])
def test_a_backup_in_a_directory_others_can_write_is_refused(bdir, change, says):
    taken = backups.take_backup(Saved(), bdir, 3)
    change(bdir)
    for call in (lambda: backups.locate_backup("nftables", bdir),
                 lambda: backups.locate_backup("nftables", None, taken["path"]),
                 lambda: backups.load_backup("nftables", bdir, taken["metadata"]["generation"])):
        message = refused(call)
        assert message.startswith("refusing backup directory %s: %s; a backup directory must be" % (bdir, says))


def test_a_directory_where_a_backup_file_is_expected_is_refused(bdir):
    taken = backups.take_backup(Saved(), bdir, 3)
    os.unlink(taken["path"])
    os.mkdir(taken["path"], 0o700)
    message = refused(backups.load_backup, "nftables", bdir, taken["metadata"]["generation"])
    assert message.startswith("refusing backup file %s: it is a directory, not a regular file" % taken["path"])
    # Listing: not the newest, not pruned (never rmtree), named in `incomplete`.
    again = backups.take_backup(Saved(), bdir, 1)
    assert again["pruned"] == [taken["metadata_path"]] and os.path.isdir(taken["path"])
    assert again["incomplete"] == [{"generation": taken["metadata"]["generation"],
                                    "files": [taken["metadata_path"], taken["path"]],
                                    "reason": "file %s: it is a directory, not a regular file; a backup file must be a "
                                              "regular file owned by the user running this (root) and writable by "
                                              "nobody else" % taken["path"]}]


def test_metadata_of_the_wrong_types_gives_a_message(bdir):
    taken = backups.take_backup(Saved(), bdir, 3)
    meta = dict(taken["metadata"])
    meta["files"] = [dict(meta["files"][0], name=7, role=["ruleset"])]
    os.unlink(taken["metadata_path"])
    with open(taken["metadata_path"], "w") as handle:
        json.dump(meta, handle)
    os.chmod(taken["metadata_path"], 0o600)
    message = refused(backups.load_backup, "nftables", bdir, meta["generation"])
    assert message.startswith("backup metadata %s is unusable: file entry" % taken["metadata_path"])
    assert "role is not a string" in message


def test_metadata_cannot_vouch_for_another_generation(bdir):
    old = backups.take_backup(Saved(), bdir, 3)
    new = backups.take_backup(Saved(), bdir, 3)
    # The new metadata claims the old data file: refused, although the checksum would match.
    meta = dict(new["metadata"], files=old["metadata"]["files"])
    os.unlink(new["metadata_path"])
    with open(new["metadata_path"], "w") as handle:
        json.dump(meta, handle)
    os.chmod(new["metadata_path"], 0o600)
    message = refused(backups.load_backup, "nftables", bdir, new["metadata"]["generation"])
    assert "is not a file of this generation" in message


# --- 3. the backup directory is checked, never "fixed" --------------------------------------

@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o750 | 0o020])
def test_an_existing_directory_others_can_write_is_refused_and_left_alone(tmp, mode):
    shared = os.path.join(tmp, "shared")
    os.mkdir(shared)
    os.chmod(shared, mode)  # dir: /tmp must not turn /tmp into 0700
    for check_mode in (True, False):
        message = refused(backups.take_backup, Saved(), shared, 3, check_mode=check_mode)
        assert message.startswith("refusing backup directory %s: it is writable by" % shared)
    assert stat.S_IMODE(os.stat(shared).st_mode) == mode and os.listdir(shared) == []


@as_root
def test_an_existing_directory_of_another_user_is_refused_and_left_alone(bdir):
    os.mkdir(bdir, 0o700)
    os.chown(bdir, NOBODY, NOBODY)
    message = refused(backups.take_backup, Saved(), bdir, 3)
    assert message.startswith("refusing backup directory %s: it is owned by uid 65534" % bdir)
    assert os.stat(bdir).st_uid == NOBODY and os.listdir(bdir) == []


def test_a_symlinked_directory_is_refused(tmp, bdir):
    real = os.path.join(tmp, "real")
    os.mkdir(real, 0o700)
    os.symlink(real, bdir)
    assert refused(backups.take_backup, Saved(), bdir, 3).startswith("refusing backup directory %s: it is a symlink" % bdir)
    assert os.listdir(real) == []


def test_a_file_where_the_directory_should_be_gives_a_message(tmp, bdir):
    open(bdir, "w").close()
    assert refused(backups.take_backup, Saved(), bdir, 3).startswith(
        "refusing backup directory %s: it is a regular file, not a directory" % bdir)
    assert refused(backups.take_backup, Saved(), os.path.join(bdir, "sub"), 3) == (
        "cannot create backup directory %s/sub: %s is a regular file, not a directory" % (bdir, bdir))


def test_a_missing_directory_is_created_0700_with_parents_0755(tmp):
    target = os.path.join(tmp, "var", "backups", "bjnp")
    assert backups.take_backup(Saved(), target, 3, check_mode=True)["pruned"] == []
    assert not os.path.exists(os.path.join(tmp, "var")), "check mode creates nothing"
    umask = os.umask(0)
    try:
        backups.take_backup(Saved(), target, 3)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert [stat.S_IMODE(os.stat(os.path.join(tmp, *p)).st_mode) for p in (["var"], ["var", "backups"])] == [0o755, 0o755]


def test_no_directory_is_created_in_a_parent_anyone_can_replace_it_in(tmp):
    parent = os.path.join(tmp, "open")
    os.mkdir(parent)
    os.chmod(parent, 0o777)
    message = refused(backups.take_backup, Saved(), os.path.join(parent, "bjnp"), 3)
    assert message == ("refusing to create backup directory %s/bjnp in %s: %s is writable by everyone without the sticky "
                       "bit, so anyone could replace what is created in it" % (parent, parent, parent))
    os.chmod(parent, 0o1777)  # like /tmp: others cannot rename or delete what we create
    assert backups.take_backup(Saved(), os.path.join(parent, "bjnp"), 3)["path"].startswith(parent + "/bjnp/")


# --- 4. incomplete, future-dated and full-disk generations -----------------------------------

@pytest.mark.parametrize("meta_bytes, reason", [
    (b"", "is empty (the backup did not finish)"),
    (b'{"format": 1, "backend": "nft', "is not valid JSON"),
    (b'{"format": 1, "backend": "nftables", "files": "x"}', "metadata field files is 'x', not a list"),
])
def test_an_unusable_metadata_file_is_incomplete_not_newest_and_not_kept(bdir, meta_bytes, reason):
    good = plant(bdir, past(1))
    bad = plant(bdir, past(2), meta_bytes=meta_bytes)
    assert backups.locate_backup("nftables", bdir) == (bdir, good)
    # keep=2: the new backup and the good one stay; the unusable one goes and is reported.
    taken = backups.take_backup(Saved(), bdir, 2)
    assert taken["pruned"] == [os.path.join(bdir, bad + ".json"), os.path.join(bdir, bad + ".nft")]
    assert [entry["generation"] for entry in taken["incomplete"]] == [bad] and reason in taken["incomplete"][0]["reason"]
    assert sorted(os.listdir(bdir)) == sorted([good + ".json", good + ".nft", os.path.basename(taken["path"]),
                                               os.path.basename(taken["metadata_path"])])


def test_only_incomplete_generations_say_why_none_was_restored(bdir):
    plant(bdir, past(1), meta=False)
    empty = plant(bdir, past(2), meta_bytes=b"")
    with pytest.raises(FirewallError) as info:
        backups.find_backup("nftables", bdir)
    assert info.value.message.startswith("no complete nftables backup in %s (skipped: " % bdir)
    assert "%s: backup metadata %s/%s.json is empty" % (empty, bdir, empty) in info.value.message
    assert "it has no metadata file (an interrupted backup, or one in progress)" in info.value.message
    assert len(info.value.details["incomplete"]) == 2


def test_a_generation_dated_in_the_future_is_never_the_newest(bdir):
    good = plant(bdir, past(1))
    ahead = plant(bdir, datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc))
    assert backups.locate_backup("nftables", bdir) == (bdir, good)
    found = backups.find_backup("nftables", bdir)
    assert found["base"] == good and found["incomplete"] == []
    assert [entry["generation"] for entry in found["future"]] == [ahead]
    assert "minutes past this host's clock); never taken as the newest" in found["future"][0]["reason"]
    # Neither counted towards keep nor pruned; named explicitly it restores like any other.
    taken = backups.take_backup(Saved(), bdir, 1)
    assert taken["pruned"] == [os.path.join(bdir, good + ".json"), os.path.join(bdir, good + ".nft")]
    assert os.path.exists(os.path.join(bdir, ahead + ".json")) and taken["future"][0]["generation"] == ahead
    assert backups.find_backup("nftables", bdir)["base"] == taken["metadata"]["generation"]
    assert backups.locate_backup("nftables", bdir, ahead + ".nft") == (bdir, ahead)


def test_a_failed_write_removes_what_it_wrote(bdir, monkeypatch):
    backups.take_backup(Saved(), bdir, 3)
    before = sorted(os.listdir(bdir))
    real_rename = os.rename

    def fail_on_metadata(src, dst, **kwargs):
        if dst.endswith(".json"):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst, **kwargs)

    monkeypatch.setattr(backups.os, "rename", fail_on_metadata)
    message = refused(backups.take_backup, Saved(), bdir, 3)
    assert "No space left on device. Nothing of it was left behind." in message
    assert sorted(os.listdir(bdir)) == before


@pytest.fixture
def small_disk(tmp):
    """A 64 KiB tmpfs (16 pages of 4 KiB), root-owned 0700: a disk that fills up for real."""
    mount = os.path.join(tmp, "disk")
    os.mkdir(mount)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mount],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here to fill a disk for real: %s" % (proc.stderr.strip() or proc.returncode))
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=False)


def fill(path, pages_left):
    vfs = os.statvfs(path)
    with open(os.path.join(path, "filler"), "ab") as handle:
        handle.write(b"x" * (vfs.f_bavail - pages_left) * vfs.f_bsize)
    assert os.statvfs(path).f_bavail == pages_left


@pytest.mark.parametrize("pages_left", [1, 0], ids=["metadata-does-not-fit", "nothing-fits"])
def test_a_full_disk_leaves_no_fake_backup(small_disk, pages_left):
    good = backups.take_backup(Saved(), small_disk, 2)
    fill(small_disk, pages_left)
    before = sorted(os.listdir(small_disk))
    message = refused(backups.take_backup, Saved(), small_disk, 2)
    assert message.startswith("could not write backup ") and "No space left on device" in message
    assert sorted(os.listdir(small_disk)) == before, "no 0-byte metadata, no data file, no temporary file"
    os.unlink(os.path.join(small_disk, "filler"))
    assert backups.find_backup("nftables", small_disk)["base"] == good["metadata"]["generation"]
    assert backups.take_backup(Saved(), small_disk, 2)["pruned"] == []


# --- 1. configuration archives cannot write outside the tree ---------------------------------

def tree(root, files):
    for name, content in files.items():
        path = os.path.join(root, name)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "w") as handle:
            handle.write(content)


def snapshot(top):
    """Every path under ``top`` with its content, to prove nothing changed."""
    seen = {}
    for here, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(here, name)
            seen[os.path.relpath(path, top)] = None if os.path.isdir(path) else open(path, "rb").read()
    return seen


def archive(entries):
    """A tar of (name, kind, content or link target) entries, made by hand as an attacker would."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, 0o755 if kind == tarfile.DIRTYPE else 0o644
            if kind == tarfile.REGTYPE:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            else:
                info.linkname = value or ""
                tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def ufw_tree(tmp):
    root = os.path.join(tmp, "etc", "ufw")
    tree(root, {"ufw.conf": "ENABLED=yes\n", "user.rules": "*filter\nCOMMIT\n"})
    victim = os.path.join(tmp, "victim")
    os.mkdir(victim)
    return root, bb.archive_name(root), victim


def test_a_symlink_member_cannot_write_outside_the_tree(tmp, ufw_tree):
    root, rel, victim = ufw_tree
    before = snapshot(tmp)
    content = archive([(rel, tarfile.DIRTYPE, None), (rel + "/d", tarfile.SYMTYPE, victim),
                       (rel + "/d/x", tarfile.REGTYPE, b"owned\n")])
    message = refused(config_tree.restore_config, (root,), content, False)
    assert "archive member %r is a symlink (to %r)" % (rel + "/d", victim) in message
    assert message.endswith("Nothing was changed.")
    assert os.listdir(victim) == [] and snapshot(tmp) == before


@pytest.mark.parametrize("name, kind, value", [
    ("/{rel}/x", tarfile.REGTYPE, b"x"),
    ("{rel}/../../x", tarfile.REGTYPE, b"x"),
    ("{rel}/hard", tarfile.LNKTYPE, "etc/shadow"),
    ("{rel}/fifo", tarfile.FIFOTYPE, None),
    ("{rel}/dev", tarfile.CHRTYPE, None),
    ("{rel}/ufw.conf", tarfile.REGTYPE, b"ENABLED=no\n"),
    ("{rel}/ufw.conf/x", tarfile.REGTYPE, b"x"),
    ("etc/passwd", tarfile.REGTYPE, b"x"),
], ids=["absolute", "dot-dot", "hard-link", "fifo", "device", "named-twice", "under-a-file", "outside"])
def test_the_whole_archive_is_checked_before_anything_is_written(tmp, ufw_tree, name, kind, value):
    root, rel, victim = ufw_tree
    before = snapshot(tmp)
    good = [(rel, tarfile.DIRTYPE, None), (rel + "/ufw.conf", tarfile.REGTYPE, b"ENABLED=no\n"),
            (rel + "/new.rules", tarfile.REGTYPE, b"new\n")]
    content = archive(good + [(name.format(rel=rel), kind, value)])
    for check_mode in (True, False):
        message = refused(config_tree.restore_config, (root,), content, check_mode)
        assert "archive member %r " % name.format(rel=rel) in message
    assert snapshot(tmp) == before, "the good members before the bad one were not written either"


def test_a_tree_reached_through_a_symlink_on_disk_is_refused(tmp, ufw_tree):
    root, dummy, victim = ufw_tree
    os.symlink(victim, os.path.join(tmp, "etc", "link"))
    through = os.path.join(tmp, "etc", "link", "ufw")
    rel = bb.archive_name(through)
    content = archive([(rel, tarfile.DIRTYPE, None), (rel + "/ufw.conf", tarfile.REGTYPE, b"ENABLED=yes\n")])
    message = refused(config_tree.restore_config, (through,), content, False)
    assert "%s is reached through a symlink (%s resolves to %s)" % (through, os.path.dirname(through), victim) in message
    assert os.listdir(victim) == []


def test_an_archive_that_is_not_a_tar_gives_a_message(ufw_tree):
    root = ufw_tree[0]
    message = refused(config_tree.restore_config, (root,), b"\x00garbage" * 100, False)
    assert message.startswith("the configuration archive of the backup is not a readable tar archive")


def test_backup_refuses_a_tree_restore_would_refuse(ufw_tree):
    root, dummy, victim = ufw_tree
    os.symlink(victim, os.path.join(root, "d"))
    message = refused(config_tree.config_archive, (root,))
    assert message.startswith("%s/d is a symlink: a backup holds only regular files and directories" % root)


def test_hard_linked_files_are_archived_as_content_and_restore_exactly(ufw_tree):
    root, rel, victim = ufw_tree
    os.link(os.path.join(root, "user.rules"), os.path.join(root, "user6.rules"))
    os.chmod(os.path.join(root, "ufw.conf"), 0o640)
    content, present = config_tree.config_archive((root, os.path.join(os.path.dirname(root), "missing")))
    assert present == [root]
    with tarfile.open(fileobj=io.BytesIO(content)) as tar:
        assert [(m.name, m.type) for m in tar.getmembers()] == [
            (rel, tarfile.DIRTYPE), (rel + "/ufw.conf", tarfile.REGTYPE), (rel + "/user.rules", tarfile.REGTYPE),
            (rel + "/user6.rules", tarfile.REGTYPE)]
    assert config_tree.restore_config((root,), content, False) == []
    os.unlink(os.path.join(root, "user6.rules"))
    tree(root, {"added.rules": "x\n"})
    assert config_tree.restore_config((root,), content, False) == [rel + "/added.rules", rel + "/user6.rules"]
    assert sorted(os.listdir(root)) == ["ufw.conf", "user.rules", "user6.rules"]
    assert stat.S_IMODE(os.stat(os.path.join(root, "ufw.conf")).st_mode) == 0o640
    assert open(os.path.join(root, "user6.rules")).read() == "*filter\nCOMMIT\n"


def test_a_root_absent_then_and_now_needs_no_parent(tmp, ufw_tree):
    root, rel, victim = ufw_tree
    gone = os.path.join(tmp, "no", "such", "default-ufw")
    content, present = config_tree.config_archive((root, gone))
    assert present == [root]
    tree(root, {"added.rules": "x\n"})
    assert config_tree.restore_config((root, gone), content, False) == [rel + "/added.rules"]
    assert not os.path.lexists(os.path.join(tmp, "no"))
