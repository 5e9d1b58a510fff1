# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running commands and writing files, one way for every module of the collection.

Private (the leading ``_``): not a public API. Errors are raised as ``FirewallError`` with a
message that names the command or the path, so a module turns them into ``fail_json`` in one
place and the backends stay free of ``AnsibleModule`` calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile


class FirewallError(Exception):
    """A refusal or a failed step; ``details`` go into the module result as they are."""

    def __init__(self, message, **details):
        super(FirewallError, self).__init__(message)
        self.message = message
        self.details = details


class LocalFiles(object):
    """The host's files, as the backends see them (the contract tests record and replay these)."""

    def read_text(self, path):
        return read_text(path)

    def write_text(self, path, text, mode):
        atomic_write(path, text, mode)

    def remove_file(self, path):
        remove_file(path)

    def isdir(self, path):
        return os.path.isdir(path)

    def listdir(self, path):
        return sorted(os.listdir(path))


class Runner(object):
    """Runs the tools of one host through ``module.run_command`` (never a shell), reads and writes its files.

    Every backend reaches the host through these methods only, so a recording of them is a
    complete record of what the backend saw.
    """

    def __init__(self, module, files=None):
        self.module = module
        self.files = files or getattr(module, "files", None) or LocalFiles()
        self._paths = {}

    def read_text(self, path):
        return self.files.read_text(path)

    def write_text(self, path, text, mode=0o644):
        self.files.write_text(path, text, mode)

    def remove_file(self, path):
        self.files.remove_file(path)

    def isdir(self, path):
        return self.files.isdir(path)

    def listdir(self, path):
        return self.files.listdir(path)

    def which(self, name):
        """Absolute path of a tool, or None when it is not installed."""
        if name not in self._paths:
            self._paths[name] = self.module.get_bin_path(name)
        return self._paths[name]

    def have(self, name):
        return self.which(name) is not None

    def run(self, args, data=None, check=True):
        """Run ``args`` (the first item a tool name or path); return (rc, stdout, stderr).

        With ``check`` a non-zero exit raises FirewallError quoting the tool's own words.
        """
        args = list(args)
        if not os.path.isabs(args[0]):
            path = self.which(args[0])
            if path is None:
                raise FirewallError("%s is not installed on this host (needed for: %s)" % (args[0], " ".join(args)))
            args[0] = path
        if data is not None and not isinstance(data, bytes):
            data = data.encode("utf-8")
        rc, out, err = self.module.run_command(args, data=data, binary_data=data is not None)
        if check and rc != 0:
            raise FirewallError("%s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()),
                                rc=rc, stderr=err, stdin=data.decode("utf-8", "replace") if data else None)
        return rc, out, err

    def out(self, args, data=None):
        """Standard output of a command that must succeed."""
        return self.run(args, data=data)[1]

    def ok(self, args):
        """Whether a command exits 0 (a question, not a step that must succeed)."""
        return self.run(args, check=False)[0] == 0


def read_text(path):
    """The text of a regular file, None when nothing exists at ``path``.

    Anything else there (a directory, a device) is refused, never read or replaced.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise FirewallError("%s is not a regular file; refusing to read or replace it" % path)
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8")


def atomic_write(path, text, mode=0o644):
    """Replace ``path`` by a file holding ``text``: temporary file, fsync, rename.

    An existing file keeps its mode and owner; a new one gets ``mode``. A missing parent
    directory is created 0755.
    """
    existing = None
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        pass
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise FirewallError("%s is not a regular file; refusing to replace it" % path)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bjnp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if existing is not None:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
            os.chown(tmp, existing.st_uid, existing.st_gid)
        else:
            os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def remove_file(path):
    """Delete ``path`` if it is there (a file we own; a directory is refused)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise FirewallError("%s is a directory; refusing to delete it" % path)
    os.unlink(path)


def write_private(path, data):
    """Create ``path`` 0600 (never overwriting anything), write ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class TempFile(object):
    """A private temporary file holding ``text`` for a tool that reads a file (``nft -f``)."""

    def __init__(self, text, suffix="", directory=None):
        self.text = text
        self.suffix = suffix
        self.directory = directory
        self.path = None

    def __enter__(self):
        fd, self.path = tempfile.mkstemp(prefix="bjnp-", suffix=self.suffix, dir=self.directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.text.encode("utf-8") if not isinstance(self.text, bytes) else self.text)
        return self.path

    def __exit__(self, *exc):
        os.unlink(self.path)
        return False
