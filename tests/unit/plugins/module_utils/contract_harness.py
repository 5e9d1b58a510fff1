# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record and replay the tool calls of one backend round trip (the contract tests).

``round_trip`` runs the same steps on every backend: read, plan, apply, persist, verify, read
the counters, plan again (nothing left), back up, remove, plan once more (nothing left). ``RecordingModule`` runs
the real tools (as root, in a namespace or a container: ``record_contract.py``) and keeps every
call with its real output; ``ReplayModule`` answers the same calls from that recording, so the
unit tests exercise each backend's parsing and planning on what the real tools printed. File
accesses go through the same recording: a replay reads what the host held and writes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import shutil
import subprocess

from ansible_collections.netsec.bjnp.plugins.module_utils._io import LocalFiles, Runner
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import build_policy

# Temporary files differ between runs; the calls are compared without them.
_TEMP = re.compile(r"/[^\s'\"]*/bjnp-[A-Za-z0-9_]+(\.nft)?")


def comparable(args):
    return [_TEMP.sub("<temp>", str(arg)) for arg in args]


class RecordingFiles(LocalFiles):
    """The host's files, each access kept (with what was read) in the module's calls."""

    def __init__(self, calls):
        self.calls = calls

    def _keep(self, op, path, result=None, text=None):
        self.calls.append({"file": op, "path": path, "result": result, "text": text})
        return result

    def read_text(self, path):
        return self._keep("read_text", path, LocalFiles.read_text(self, path))

    def write_text(self, path, text, mode):
        LocalFiles.write_text(self, path, text, mode)
        self._keep("write_text", path, text=text)

    def remove_file(self, path):
        LocalFiles.remove_file(self, path)
        self._keep("remove_file", path)

    def isdir(self, path):
        return self._keep("isdir", path, LocalFiles.isdir(self, path))

    def listdir(self, path):
        return self._keep("listdir", path, LocalFiles.listdir(self, path))


class ReplayFiles(object):
    """Answers file accesses from the recording; writes are compared, never made."""

    def __init__(self, module):
        self.module = module

    def _answer(self, op, path, text=None):
        call = self.module._next("file", "%s %s" % (op, path))
        assert (call["file"], call["path"]) == (op, path), "call %d: recorded %s %s, now %s %s" % (
            self.module.position, call["file"], call["path"], op, path)
        assert call["text"] == text, "call %d: %s %s writes other text" % (self.module.position, op, path)
        return call["result"]

    def read_text(self, path):
        return self._answer("read_text", path)

    def write_text(self, path, text, mode):
        self._answer("write_text", path, text)

    def remove_file(self, path):
        self._answer("remove_file", path)

    def isdir(self, path):
        return self._answer("isdir", path)

    def listdir(self, path):
        return self._answer("listdir", path)


class RecordingModule(object):
    """The two AnsibleModule methods Runner uses, running the real tools and keeping the calls."""

    tmpdir = None

    def __init__(self):
        self.calls = []
        self.files = RecordingFiles(self.calls)

    def get_bin_path(self, name):
        path = shutil.which(name)
        self.calls.append({"which": name, "path": path})
        return path

    def run_command(self, args, data=None, binary_data=False):
        proc = subprocess.run(args, input=data, capture_output=True, check=False)
        out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        self.calls.append({"args": comparable(args), "data": _TEMP.sub("<temp>", data.decode("utf-8"))
                           if data else None, "rc": proc.returncode, "out": out, "err": err})
        return proc.returncode, out, err


class ReplayModule(object):
    """Answers the calls of a recording in order; a call that differs fails the test."""

    tmpdir = None

    def __init__(self, calls):
        self.calls = list(calls)
        self.position = 0
        self.files = ReplayFiles(self)

    def _next(self, kind, what):
        assert self.position < len(self.calls), "unrecorded call %s %r" % (kind, what)
        call = self.calls[self.position]
        self.position += 1
        assert kind in call, "call %d: recorded %r, now %s %r" % (self.position, call, kind, what)
        return call

    def get_bin_path(self, name):
        call = self._next("which", name)
        assert call["which"] == name, "call %d: recorded which %s, now %s" % (self.position, call["which"], name)
        return call["path"]

    def run_command(self, args, data=None, binary_data=False):
        call = self._next("args", args)
        now = comparable(args)
        assert call["args"] == now, "call %d: recorded %r, now %r" % (self.position, call["args"], now)
        if call["data"] is not None:
            assert _TEMP.sub("<temp>", data.decode("utf-8")) == call["data"], "call %d: stdin differs" % self.position
        return call["rc"], call["out"], call["err"]

    def finished(self):
        return self.position == len(self.calls)


def round_trip(backend_class, module, options, policy_args):
    """The contract, step by step; returns what each step said (the tests assert on it)."""
    policy = build_policy(**policy_args)
    backend = backend_class(Runner(module), options)
    seen = {"in_use_before": backend.in_use()}
    plan = backend.plan(policy, backend.read(), persist=True)
    seen["plan"] = plan.as_result()
    backend.apply(plan)
    backend.persist(plan)
    seen["verify"] = backend.verify(policy)
    seen["counters"] = backend.counters()
    seen["in_use_after"] = backend.in_use()
    again = backend.plan(policy, backend.read(), persist=True)
    seen["again_changed"] = again.changed
    data, extra = backend.backup()
    seen["backup_roles"] = sorted(data)
    removal = backend.plan(None, backend.read(), persist=True)
    seen["removal"] = removal.as_result()
    backend.apply(removal)
    backend.persist(removal)
    seen["removed_verify"] = backend.verify(None)
    seen["after_removal_changed"] = backend.plan(None, backend.read(), persist=True).changed
    return seen


def save(path, recording):
    with open(path, "w") as handle:
        json.dump(recording, handle, indent=1, sort_keys=True)
        handle.write("\n")


def load(path):
    with open(path) as handle:
        return json.load(handle)
