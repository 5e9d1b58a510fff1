# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing, finding and loading backup generations; the backend supplies the content.

Used by firewall_backup, firewall_restore and firewall_rules (which backs up before it
changes anything). Names, pruning and metadata are the pure functions of ``bjnp_backup``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import socket

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, write_private
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    METADATA_SUFFIX,
    base_of,
    build_metadata,
    check_metadata,
    generation_base,
    generation_files,
    newest,
    select_prune,
    sha256_hex,
    stamp,
)


def ensure_dir(path, check_mode):
    if not os.path.isdir(path):
        if check_mode:
            return
        os.makedirs(path, 0o700)
    if check_mode:
        return
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)


def take_backup(backend, directory, keep, change_id="", label="", check_mode=False):
    """Save everything ``backend`` holds as a new generation in ``directory``; prune to ``keep``.

    Returns ``{path, metadata_path, metadata, pruned}``; in check mode nothing is written.
    """
    if keep < 1:
        raise FirewallError("keep must be at least 1, got %d" % keep)
    now = datetime.datetime.now(datetime.timezone.utc)
    base = generation_base(stamp(now), backend.name)
    names = generation_files(base, backend.name)
    data, extra = backend.backup()
    files = [(role, name, data[role]) for role, name in names]
    metadata = build_metadata(now.isoformat(), backend.name, base, socket.gethostname(),
                              change_id, label, files, extra)
    metadata_path = os.path.join(directory, base + METADATA_SUFFIX)

    ensure_dir(directory, check_mode)
    listing = os.listdir(directory) if os.path.isdir(directory) else []
    pruned = [os.path.join(directory, name) for name in select_prune(listing, backend.name, keep, base)]
    if not check_mode:
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
            raise FirewallError("could not write backup %s in %s: %s" % (base, directory, exc))
        for path in pruned:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # pruned by a concurrent run
    return dict(path=os.path.join(directory, names[0][1]), metadata_path=metadata_path,
                metadata=metadata, pruned=pruned)


def locate_backup(backend_name, directory, path=None):
    """(directory, generation base) of the backup to restore: ``path``, else the newest."""
    if path:
        if not os.path.isabs(path):
            path = os.path.join(directory, path)
        base = base_of(path)
        if base is None:
            raise FirewallError("%s is not a netsec.bjnp backup file (<UTC timestamp>-<backend>.<ext>)" % path)
        return os.path.dirname(path), base
    if not os.path.isdir(directory):
        raise FirewallError("backup directory %s does not exist" % directory)
    base = newest(os.listdir(directory), backend_name)
    if base is None:
        raise FirewallError("no complete %s backup in %s" % (backend_name, directory))
    return directory, base


def load_backup(backend_name, directory, base):
    """Metadata and role -> bytes of one generation, every checksum verified."""
    meta_path = os.path.join(directory, base + METADATA_SUFFIX)
    try:
        with open(meta_path, "rb") as handle:
            meta = json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError) as exc:
        raise FirewallError("backup metadata %s cannot be read: %s" % (meta_path, exc))
    except ValueError as exc:
        raise FirewallError("backup metadata %s is not valid JSON: %s" % (meta_path, exc))
    problems = check_metadata(meta, backend_name)
    if problems:
        raise FirewallError("backup metadata %s: %s" % (meta_path, "; ".join(problems)))
    data = {}
    for entry in meta["files"]:
        path = os.path.join(directory, entry["name"])
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except (IOError, OSError) as exc:
            raise FirewallError("backup file %s is missing or unreadable: %s" % (path, exc))
        if sha256_hex(content) != entry["sha256"]:
            raise FirewallError("backup file %s is corrupt: its SHA-256 %s differs from %s recorded in %s"
                                % (path, sha256_hex(content), entry["sha256"], meta_path))
        data[entry["role"]] = content
    missing = [role for role, dummy in BACKENDS[backend_name] if role not in data]
    if missing:
        raise FirewallError("backup metadata %s lists no %s file" % (meta_path, " or ".join(missing)))
    return meta, data


def backend_of_backup(path):
    """The backend a backup file name says it belongs to, or None."""
    base = base_of(path)
    return base.split("-", 1)[1] if base else None
