# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commit-confirmed changes: a revert that fires on the host unless the controller confirms in time.

``arm`` forks a detached process (its own session, every descriptor closed, so neither the SSH
session nor pipelining waits for it or takes it down) that holds the backend and the state read
before the change in memory. It sleeps until the deadline, polling its token file; when the file
is still ``<token>.armed`` it renames it to ``.firing`` (so a late confirm cannot race it), reverts
our part with ``Backend.revert`` and writes ``<token>.fired``. ``confirm`` (module firewall_confirm,
run over a new connection) renames ``.armed`` to ``.confirmed``, after which the process exits;
``revert_now`` (the play's own checks failed) has it fire at once and waits for the outcome.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import stat
import time
import uuid

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, write_private

# Timers do not survive a reboot, so their state lives in a tmpfs where one exists.
STATE_DIR = "/run/netsec-bjnp/confirm" if os.path.isdir("/run") else "/var/lib/netsec-bjnp/confirm"
POLL_SECONDS = 0.5
MAX_TIMEOUT = 86400


def check_state_dir(path):
    """Create ``path`` (0700) when missing; refuse one that is a symlink, not ours, or writable by others."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        os.makedirs(path, 0o700)
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise FirewallError("confirm state directory %s is not a plain directory (a symlink or a file): refused" % path)
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise FirewallError("confirm state directory %s is owned by uid %d or writable by group/others (mode %o): "
                            "refused" % (path, info.st_uid, stat.S_IMODE(info.st_mode)))


def _token_path(state_dir, token, state):
    if not token or not all(c in "0123456789abcdef" for c in token) or len(token) != 32:
        raise FirewallError("confirm token %r is not a token this collection issued (32 hex digits)" % (token,))
    return os.path.join(state_dir, "%s.%s" % (token, state))


def _revert_when_due(backend, before, armed, deadline):
    """Body of the detached process: wait, then revert unless confirmed. Never returns."""
    try:
        revert_now = armed[:-len(".armed")] + ".revert-now"
        while time.time() < deadline and not os.path.exists(revert_now):
            if not os.path.exists(armed):
                os._exit(0)
            time.sleep(POLL_SECONDS)
        firing = armed[:-len(".armed")] + ".firing"
        try:
            os.rename(armed, firing)
        except OSError:
            os._exit(0)  # confirmed at the last moment
        try:
            done = backend.revert(before)
            outcome = dict(reverted=bool(done), message="reverted our %s rules to their state before the change"
                           % backend.name if done else "could not revert exactly; restore the backup")
        except Exception as exc:  # pylint: disable=broad-except
            outcome = dict(reverted=False, message="revert failed: %s" % getattr(exc, "message", exc))
        outcome["fired_at"] = time.time()
        write_private(firing[:-len(".firing")] + ".fired", json.dumps(outcome).encode("utf-8"))
        os.unlink(firing)
        if os.path.exists(revert_now):
            os.unlink(revert_now)
    finally:
        os._exit(0)


def arm(backend, before, timeout, state_dir=STATE_DIR):
    """Start the revert timer; ``{token, deadline, state_dir}`` for the result."""
    if not 0 < timeout <= MAX_TIMEOUT:
        raise FirewallError("confirm_timeout %r must be 1 to %d seconds (0 turns the timer off)" % (timeout, MAX_TIMEOUT))
    check_state_dir(state_dir)
    token = uuid.uuid4().hex
    deadline = time.time() + timeout
    armed = _token_path(state_dir, token, "armed")
    write_private(armed, json.dumps(dict(deadline=deadline, backend=backend.name, pid=os.getpid())).encode("utf-8"))
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, 65536)
            _revert_when_due(backend, before, armed, deadline)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return dict(token=token, deadline=deadline, state_dir=state_dir)


def revert_now(token, state_dir=STATE_DIR, check_mode=False, wait=60):
    """Have the timer of ``token`` fire now (the play's own checks failed); ``(changed, message)``."""
    armed = _token_path(state_dir, token, "armed")
    fired = _token_path(state_dir, token, "fired")
    if not os.path.exists(armed):
        if os.path.exists(fired):
            return False, "the timer had fired already: %s" % _outcome(fired)["message"]
        raise FirewallError("no armed timer with this token: the change was confirmed already, nothing to revert")
    if check_mode:
        return True, "would revert now"
    write_private(_token_path(state_dir, token, "revert-now"), b"")
    deadline = time.time() + wait
    while time.time() < deadline and not os.path.exists(fired):
        time.sleep(POLL_SECONDS / 5)
    if not os.path.exists(fired):
        raise FirewallError("the timer did not report within %ds; look at the host's firewall" % wait)
    outcome = _outcome(fired)
    if not outcome.get("reverted"):
        raise FirewallError(outcome["message"])
    return True, outcome["message"]


def _outcome(fired):
    try:
        with open(fired) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return dict(reverted=False, message="the revert is running now")


def confirm(token, state_dir=STATE_DIR, check_mode=False):
    """Stop the timer of ``token``. Returns ``(changed, message)``; raises when it already fired."""
    armed = _token_path(state_dir, token, "armed")
    if os.path.exists(armed):
        if not check_mode:
            try:
                os.rename(armed, armed[:-len(".armed")] + ".confirmed")
            except OSError:
                return confirm(token, state_dir, check_mode)  # fired in between: report that
            os.unlink(armed[:-len(".armed")] + ".confirmed")
        return True, "confirmed: the revert timer is stopped"
    fired = _token_path(state_dir, token, "fired")
    if os.path.exists(fired) or os.path.exists(_token_path(state_dir, token, "firing")):
        raise FirewallError("too late to confirm: the revert timer fired before the controller confirmed: %s"
                            % _outcome(fired)["message"], reverted=True)
    return False, "no timer with this token (already confirmed)"
