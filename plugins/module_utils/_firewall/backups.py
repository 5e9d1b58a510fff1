# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing, finding and loading backup generations; the backend supplies the content.

Used by firewall_backup, firewall_restore and firewall_rules (which backs up before it
changes anything). Names, pruning and metadata are the pure functions of ``bjnp_backup``.

A restore puts back whatever a backup holds, as root, so only backups nobody else could have
written are trusted: regular files owned by the user running us and writable by nobody else,
in a directory with the same properties, opened through the directory's descriptor without
following symlinks. The directory is checked, never "fixed": an existing one is used as it
is or refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import datetime
import json
import os
import posixpath
import socket
import stat

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    METADATA_SUFFIX,
    base_of,
    build_metadata,
    check_metadata,
    file_kind,
    generation_base,
    generation_files,
    generations,
    newest,
    select_prune,
    sha256_hex,
    stamp,
    untrusted,
)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

# A generation dated later than now plus this is never "the newest" (nor pruned): a clock
# that was set wrong, or a name made to win. Small enough that it cannot hide a real backup.
FUTURE_SKEW = datetime.timedelta(minutes=5)

_DIR_RULE = ("a backup directory must be a real directory owned by the user running this (root) and "
             "writable by nobody else; it is never changed to fit, and created with mode 0700 only when missing")
_FILE_RULE = "a backup file must be a regular file owned by the user running this (root) and writable by nobody else"


class _Refused(Exception):
    """Why one file of the backup directory cannot be used (turned into a message by the caller).

    ``trust``: refused for who could have written it (the message then says what is accepted).
    """

    def __init__(self, reason, trust=False):
        super(_Refused, self).__init__(reason)
        self.reason = reason + ("; " + _FILE_RULE if trust else "")


def _dir_problem(path):
    """Why ``path`` (which exists) may not hold backups, or None."""
    st = os.lstat(path)
    return untrusted(st.st_mode, st.st_uid, os.geteuid(), directory=True)


def _nearest_existing(path):
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def check_dir(directory, create=False, check_mode=False):
    """Refuse ``directory`` unless it may hold backups; with ``create``, make it (0700) when missing.

    Missing parents are created 0755. The nearest existing parent must be a directory that
    others cannot replace our new one in: world-writable only with the sticky bit (/tmp).
    Returns the absolute path; in check mode a missing directory is not created.
    """
    directory = os.path.abspath(directory)
    try:
        if os.path.lexists(directory):
            problem = _dir_problem(directory)
            if problem:
                raise FirewallError("refusing backup directory %s: %s; %s." % (directory, problem, _DIR_RULE))
            return directory
        if not create:
            raise FirewallError("backup directory %s does not exist" % directory)
        parent = _nearest_existing(directory)
        st = os.stat(parent)
        if not stat.S_ISDIR(st.st_mode):
            raise FirewallError("cannot create backup directory %s: %s is %s, not a directory"
                                % (directory, parent, file_kind(st.st_mode)))
        if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
            raise FirewallError("refusing to create backup directory %s in %s: %s is writable by everyone without "
                                "the sticky bit, so anyone could replace what is created in it" % (directory, parent, parent))
        if check_mode:
            return directory
        missing = []
        path = directory
        while path != parent:
            missing.insert(0, path)
            path = os.path.dirname(path)
        for path in missing:
            try:
                os.mkdir(path, 0o700 if path == directory else 0o755)
            except FileExistsError:
                pass  # made by someone else meanwhile: checked below like ours
            problem = _dir_problem(path)
            if problem:
                raise FirewallError("refusing backup directory %s: %s (while creating %s); %s."
                                    % (directory, problem, path, _DIR_RULE))
        return directory
    except (IOError, OSError) as exc:
        raise FirewallError("backup directory %s cannot be used: %s" % (directory, exc))


def _open_dir(directory):
    """A descriptor of the checked backup directory; files are reached through it only."""
    directory = check_dir(directory)
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    except (IOError, OSError) as exc:
        raise FirewallError("backup directory %s cannot be opened: %s" % (directory, exc))
    st = os.fstat(fd)
    problem = untrusted(st.st_mode, st.st_uid, os.geteuid(), directory=True)
    if problem:
        os.close(fd)
        raise FirewallError("refusing backup directory %s: %s; %s." % (directory, problem, _DIR_RULE))
    return directory, fd


def _read(dfd, name):
    """The bytes of file ``name`` of the directory ``dfd``, or _Refused saying why not."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        raise _Refused("it is missing")
    except (IOError, OSError) as exc:
        raise _Refused("it cannot be read: %s" % exc)
    # Checked before opening: opening a device or a fifo can block or act.
    problem = untrusted(st.st_mode, st.st_uid, os.geteuid())
    if problem:
        raise _Refused(problem, trust=True)
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=dfd)
    except (IOError, OSError) as exc:
        raise _Refused("it cannot be read: %s" % exc)
    with os.fdopen(fd, "rb") as handle:
        now = os.fstat(handle.fileno())
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise _Refused("it was replaced while being read")
        return handle.read()


def _read_metadata(dfd, directory, base, backend_name):
    """The checked metadata of generation ``base``, or _Refused saying why it cannot be used.

    The reason reads after "backup metadata <path>" (the messages of earlier releases).
    """
    try:
        raw = _read(dfd, base + METADATA_SUFFIX)
    except _Refused as exc:
        raise _Refused("cannot be read: %s" % exc.reason)
    if not raw.strip():
        raise _Refused("is empty (the backup did not finish)")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise _Refused("is not valid JSON: %s" % exc)
    problems = check_metadata(meta, backend_name, base)
    if problems:
        raise _Refused("is unusable: %s" % "; ".join(problems))
    return meta


def _survey(dfd, directory, backend_name, now):
    """The directory listing, the unusable generations (base -> why) and the latest stamp trusted."""
    names = os.listdir(dfd)
    latest = stamp(now + FUTURE_SKEW)
    broken = {}
    for base, files, state in generations(names, backend_name, latest=latest):
        if state == "future":
            continue
        if base + METADATA_SUFFIX not in files:
            broken[base] = "it has no metadata file (an interrupted backup, or one in progress)"
            continue
        problem = None
        for name in files:
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                problem = "file %s vanished while the directory was being listed" % os.path.join(directory, name)
                break
            problem = untrusted(st.st_mode, st.st_uid, os.geteuid())
            if problem:
                problem = "file %s: %s; %s" % (os.path.join(directory, name), problem, _FILE_RULE)
                break
        if problem is None:
            try:
                _read_metadata(dfd, directory, base, backend_name)
            except _Refused as exc:
                problem = "backup metadata %s %s" % (os.path.join(directory, base + METADATA_SUFFIX), exc.reason)
        if problem:
            broken[base] = problem
    return names, broken, latest


def _report(directory, names, backend_name, broken, latest):
    """The ``incomplete`` and ``future`` entries of a result: generation, files, reason."""
    incomplete, future = [], []
    for base, files, state in generations(names, backend_name, broken, latest):
        paths = [os.path.join(directory, name) for name in files]
        if state == "incomplete":
            incomplete.append(dict(generation=base, files=paths, reason=broken.get(base, "")))
        elif state == "future":
            future.append(dict(generation=base, files=paths,
                               reason="dated after %s (%d minutes past this host's clock); never taken as the "
                                      "newest, never pruned" % (latest, FUTURE_SKEW.seconds // 60)))
    return incomplete, future


def _write_all(dfd, directory, base, items):
    """Write ``items`` (name, bytes) into the directory: temporary names, fsync, renames, the last one last.

    On failure every file of this generation is removed again, so a full disk leaves nothing
    behind that could look like a backup.
    """
    tag = binascii.hexlify(os.urandom(4)).decode("ascii")
    temps = []
    renamed = []
    try:
        for name, dummy in items:
            if os.path.lexists(os.path.join(directory, name)):
                raise FirewallError("could not write backup %s in %s: %s already exists" % (base, directory, name))
        for name, content in items:
            tmp = ".%s.%s.tmp" % (name, tag)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dfd)
            temps.append((tmp, name))
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        # The metadata is the last item: renamed last, it is what makes the generation complete.
        for tmp, name in temps:
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            renamed.append(name)
        os.fsync(dfd)
    except (IOError, OSError) as exc:
        left = []
        for name in [tmp for tmp, final in temps if final not in renamed] + renamed:
            try:
                os.unlink(name, dir_fd=dfd)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(os.path.join(directory, name))
        raise FirewallError("could not write backup %s in %s: %s. %s" % (
            base, directory, exc, "Left behind (remove by hand): %s." % ", ".join(left) if left
            else "Nothing of it was left behind."))


def take_backup(backend, directory, keep, change_id="", label="", check_mode=False):
    """Save everything ``backend`` holds as a new generation in ``directory``; prune to ``keep``.

    Returns ``{path, metadata_path, metadata, pruned, incomplete, future}``; in check mode
    nothing is written. ``incomplete`` and ``future`` name the generations found unusable or
    dated in the future (they count neither towards ``keep`` nor as the newest).
    """
    if keep < 1:
        raise FirewallError("keep must be at least 1, got %d" % keep)
    directory = check_dir(directory, create=True, check_mode=check_mode)
    now = datetime.datetime.now(datetime.timezone.utc)
    base = generation_base(stamp(now), backend.name)
    names = generation_files(base, backend.name)
    data, extra = backend.backup()
    files = [(role, name, data[role]) for role, name in names]
    metadata = build_metadata(now.isoformat(), backend.name, base, socket.gethostname(),
                              change_id, label, files, extra)
    metadata_path = os.path.join(directory, base + METADATA_SUFFIX)
    result = dict(path=os.path.join(directory, names[0][1]), metadata_path=metadata_path,
                  metadata=metadata, pruned=[], incomplete=[], future=[])
    if not os.path.lexists(directory):
        return result  # check mode: the directory would be created, empty
    directory, dfd = _open_dir(directory)
    try:
        listing, broken, latest = _survey(dfd, directory, backend.name, now)
        result["incomplete"], result["future"] = _report(directory, listing, backend.name, broken, latest)
        doomed = select_prune(listing, backend.name, keep, base, broken, latest)
        if check_mode:
            result["pruned"] = [os.path.join(directory, name) for name in doomed]
            return result
        content = [(name, body) for dummy, name, body in files]
        content.append((base + METADATA_SUFFIX, json.dumps(metadata, indent=2, sort_keys=True).encode("utf-8") + b"\n"))
        _write_all(dfd, directory, base, content)
        for name in doomed:
            try:
                os.unlink(name, dir_fd=dfd)
            except FileNotFoundError:
                continue  # pruned by a concurrent run
            except OSError:
                continue  # a directory where a file should be: reported in `incomplete`, left alone
            result["pruned"].append(os.path.join(directory, name))
    finally:
        os.close(dfd)
    return result


def find_backup(backend_name, directory, path=None):
    """The backup to restore: ``path``, else the newest complete one in ``directory``.

    Returns ``{directory, base, incomplete, future}``. A relative ``path`` must be a file name
    inside ``directory``; an absolute one names its own directory, which must pass the same checks.
    """
    incomplete, future = [], []
    if path:
        if os.path.isabs(path):
            directory, name = os.path.split(os.path.normpath(path))
        else:
            name = posixpath.normpath(path)
            if "/" in name or name in (".", ".."):
                raise FirewallError("refusing backup %r: a relative path must be a backup file name inside the "
                                    "backup directory %s (no directories, no '..'); give an absolute path for "
                                    "a backup elsewhere" % (path, directory))
        base = base_of(name)
        if base is None:
            raise FirewallError("%s is not a netsec.bjnp backup file (<UTC timestamp>-<backend>.<ext>)"
                                % os.path.join(directory, name))
        return dict(directory=check_dir(directory), base=base, incomplete=incomplete, future=future)
    directory, dfd = _open_dir(directory)
    try:
        listing, broken, latest = _survey(dfd, directory, backend_name, datetime.datetime.now(datetime.timezone.utc))
    finally:
        os.close(dfd)
    incomplete, future = _report(directory, listing, backend_name, broken, latest)
    base = newest(listing, backend_name, broken, latest)
    if base is None:
        skipped = ["%s: %s" % (entry["generation"], entry["reason"]) for entry in incomplete + future]
        raise FirewallError("no complete %s backup in %s%s" % (
            backend_name, directory, " (skipped: %s)" % "; ".join(skipped) if skipped else ""),
            incomplete=incomplete, future=future)
    return dict(directory=directory, base=base, incomplete=incomplete, future=future)


def locate_backup(backend_name, directory, path=None):
    """(directory, generation base) of the backup to restore: ``path``, else the newest."""
    found = find_backup(backend_name, directory, path)
    return found["directory"], found["base"]


def load_backup(backend_name, directory, base):
    """Metadata and role -> bytes of one generation, every file trusted and every checksum verified."""
    meta_path = os.path.join(directory, base + METADATA_SUFFIX)
    directory, dfd = _open_dir(directory)
    try:
        try:
            meta = _read_metadata(dfd, directory, base, backend_name)
        except _Refused as exc:
            raise FirewallError("backup metadata %s %s" % (meta_path, exc.reason))
        data = {}
        for entry in meta["files"]:
            path = os.path.join(directory, entry["name"])
            try:
                content = _read(dfd, entry["name"])
            except _Refused as exc:
                raise FirewallError("refusing backup file %s: %s." % (path, exc.reason))
            if sha256_hex(content) != entry["sha256"]:
                raise FirewallError("backup file %s is corrupt: its SHA-256 %s differs from %s recorded in %s"
                                    % (path, sha256_hex(content), entry["sha256"], meta_path))
            data[entry["role"]] = content
    finally:
        os.close(dfd)
    missing = [role for role, dummy in BACKENDS[backend_name] if role not in data]
    if missing:
        raise FirewallError("backup metadata %s lists no %s file" % (meta_path, " or ".join(missing)))
    return meta, data


def backend_of_backup(path):
    """The backend a backup file name says it belongs to, or None."""
    base = base_of(path)
    return base.split("-", 1)[1] if base else None
