# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report files on disk: free names, atomic writes (netsec.bjnp.report and report_merge).

Reading a report back (report_merge) treats the file as untrusted: ``read_report_file`` refuses
relative paths, ``..``, symlinks (of the file or of a directory above it), anything but a
regular file, and files over ``MAX_REPORT_BYTES``, each with a message naming the path.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_report import EXTENSIONS

# A /16 of detect results is a few MB; anything far larger is not one of our reports.
MAX_REPORT_BYTES = 64 * 1024 * 1024


def free_stem(directory, name, stamp, formats):
    """``<name>-<stamp>``, with ``-2``, ``-3``... when a run in the same second left files."""
    stem = "%s-%s" % (name, stamp)
    counter = 1
    while any(os.path.exists(os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[fmt]))) for fmt in formats):
        counter += 1
        stem = "%s-%s-%d" % (name, stamp, counter)
    return stem


def report_paths(directory, name, stamp, formats):
    """``(paths, latest)``: per format, the stamped file of this run and the ``<name>-latest`` copy.

    ``ValueError`` when ``directory`` exists and is not a directory.
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError("dir %s exists and is not a directory" % directory)
    stem = free_stem(directory, name, stamp, formats)
    paths = dict((fmt, os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[fmt]))) for fmt in formats)
    latest = dict((fmt, os.path.join(directory, "%s-latest.%s" % (name, EXTENSIONS[fmt]))) for fmt in formats)
    return paths, latest


def write_reports(directory, paths, latest, document, renderers):
    """Render ``document`` in each format of ``paths``; write it there and to its latest copy, atomically."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
        # Reports list the network's exposures: not for every local user.
        os.chmod(directory, 0o750)
    for fmt in paths:
        data = to_bytes(renderers[fmt](document), errors="surrogate_or_replace")
        write_atomically(paths[fmt], data)
        write_atomically(latest[fmt], data)


def write_atomically(path, data):
    """Write to a temporary file in the same directory and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o640)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def unsafe_path(path):
    """Why ``path`` may not be read as a report (None when it may): checked, never repaired."""
    if not isinstance(path, str) or not path:
        return "%r is not a path" % (path,)
    if "\x00" in path:
        return "%r holds a NUL byte" % (path,)
    if not os.path.isabs(path):
        return "%s is relative: give an absolute path" % path
    if ".." in path.split(os.sep):
        return "%s contains '..': give the path without it" % path
    if os.path.islink(path):
        return "%s is a symlink: give the report file itself" % path
    parent = os.path.dirname(os.path.normpath(path))
    if os.path.realpath(parent) != parent:
        return "%s lies under a symlinked directory (it resolves to %s): give the real path" % (
            path, os.path.realpath(parent))
    return None


def read_report_file(path):
    """The parsed JSON of one report file; ``ValueError`` naming the path when it is unsafe or bad."""
    problem = unsafe_path(path)
    if problem:
        raise ValueError(problem)
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is refused by the kernel, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError("%s: cannot open: %s" % (path, exc.strerror))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError("%s is not a regular file" % path)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_REPORT_BYTES:
            raise ValueError("%s is %d bytes, more than a report holds (%d): refused" % (
                path, info.st_size, MAX_REPORT_BYTES))
        data = handle.read(MAX_REPORT_BYTES + 1)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("%s is not UTF-8 text: not a JSON report" % path)
    except ValueError as exc:
        raise ValueError("%s is not JSON (%s): give the .json file of a report" % (path, exc))
