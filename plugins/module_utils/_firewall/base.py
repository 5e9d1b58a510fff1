# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract every Linux firewall backend of netsec.bjnp follows (docs/design.md).

One subclass of ``Backend`` per backend, registered in ``registry.py``. The modules
``firewall_rules``, ``firewall_backup`` and ``firewall_restore`` only ever talk to this
interface, so adding a backend is one class (plus a Molecule scenario and docs).

The methods split reading from deciding from doing: ``read`` asks the host, ``plan`` is pure
(the live state and the wanted policy in, a ``Plan`` out), ``apply``/``persist``/``restore``
change the host. A plan is data: it says what would change, shows it as a diff, and carries
what ``apply`` needs, so check mode is simply "plan, do not apply".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError


def sum_counters(counters):
    """One entry per (mode, protocol, ports), sorted: both families (and all rules of one range) added up."""
    totals = {}
    for counter in counters:
        key = (counter["mode"], counter["protocol"], counter["ports"])
        entry = totals.setdefault(key, dict(counter, packets=0, bytes=0))
        entry["packets"] += counter["packets"]
        entry["bytes"] += counter["bytes"]
    return [totals[key] for key in sorted(totals)]


class FileChange(object):
    """One boot-configuration file to write (``after``) or delete (``after`` None)."""

    def __init__(self, path, before, after, mode=0o644):
        self.path = path
        self.before = before
        self.after = after
        self.mode = mode

    def diff(self):
        return dict(before_header=self.path, after_header=self.path + (" (removed)" if self.after is None else ""),
                    before=self.before or "", after=self.after or "")

    def write(self, runner):
        if self.after is None:
            runner.remove_file(self.path)
        else:
            runner.write_text(self.path, self.after, self.mode)


class Plan(object):
    """What a backend would change, as data.

    ``live`` holds the backend's own steps for the live firewall (opaque to everyone else),
    ``live_diff`` shows them as before/after texts, ``files`` are the boot files, ``rules`` is
    our part as rendered, ``notes`` name anything the user must hear about (site rules taken
    over, for example), ``details`` is backend-specific data returned as it is, ``services``
    the units to enable at boot.
    """

    def __init__(self, live=None, live_diff=None, files=None, rules="", notes=None, details=None, services=None):
        self.live = list(live or [])
        self.services = list(services or [])
        self.live_diff = list(live_diff or [])
        self.files = [change for change in (files or []) if change.before != change.after]
        self.rules = rules
        self.notes = list(notes or [])
        self.details = dict(details or {})

    @property
    def live_changed(self):
        return bool(self.live)

    @property
    def persist_changed(self):
        return bool(self.files) or bool(self.services)

    @property
    def changed(self):
        return self.live_changed or self.persist_changed

    def diff(self):
        return self.live_diff + [change.diff() for change in self.files]

    def as_result(self):
        result = dict(live_changed=self.live_changed, persist_changed=self.persist_changed,
                      files=[change.path for change in self.files], services=self.services,
                      rules=self.rules, notes=self.notes)
        result.update(self.details)
        return result


class RestoreResult(object):
    def __init__(self, changed, before="", after="", changed_files=None):
        self.changed = changed
        self.before = before
        self.after = after
        self.changed_files = changed_files


class Backend(object):
    """One Linux firewall backend. Subclasses set the class attributes and the methods below.

    ``runner`` is an ``_io.Runner``; ``options`` the module parameters (backend-specific ones
    are named ``<backend>_*``, see ``registry.BACKEND_ARGUMENT_SPEC``).
    """

    #: Registry key and the value of the ``backend`` option.
    name = None
    #: Tools that must be installed for the backend to work at all.
    tools = ()
    #: True for a manager that owns the kernel tables (firewalld, ufw): raw iptables under it
    #: would be rewritten by its next reload, so it is refused.
    manages_firewall = False
    #: Files of one backup generation, ``((role, suffix), ...)``, the main file first.
    backup_files = ()

    def __init__(self, runner, options):
        self.runner = runner
        self.options = options

    # --- detection ------------------------------------------------------------------------
    def installed(self):
        return all(self.runner.have(tool) for tool in self.tools)

    def in_use(self):
        """Whether this backend holds the host's firewall now (see registry.select_backend)."""
        raise NotImplementedError

    def validate(self):
        """Problems with this backend's own options (names that reach a command line), as messages."""
        return []

    def refuse(self):
        """A reason why this backend cannot be changed here now, or None (for state present)."""
        return None

    # --- the contract ---------------------------------------------------------------------
    def read(self):
        """The live state of our part (and whatever ``plan`` needs to compare), from the host."""
        raise NotImplementedError

    def plan(self, policy, live, persist):
        """Pure: the ``Plan`` turning ``live`` into ``policy`` (``None``: remove what we added).

        ``persist``: also plan the boot files (removal always plans them).
        """
        raise NotImplementedError

    def apply(self, plan):
        """Carry out ``plan.live`` on the live firewall, atomically where the tool allows."""
        raise NotImplementedError

    def verify(self, policy, persist=False):
        """Read the live state back; a list of problems (empty: the live firewall is as wanted)."""
        plan = self.plan(policy, self.read(), persist=False)
        if plan.live_changed:
            return ["the live %s state does not hold what was applied: %s"
                    % (self.name, "; ".join(d.get("before_header", "") for d in plan.live_diff) or "differs")]
        return []

    def persist(self, plan):
        """Write the boot files of ``plan``; the live firewall already holds the rules."""
        for change in plan.files:
            change.write(self.runner)

    def revert(self, before):
        """Put our part back as ``before`` (a ``read()`` from before this run); True when done.

        What other tools added since stays. The default covers a host that had none of our
        rules (removing ours from ``before`` would change nothing): our rules are removed, live
        and at boot. A backend that can restore an earlier version of its own rules overrides
        this; False sends the caller to the full restore of the backup.
        """
        if self.plan(None, before, persist=True).live_changed:
            return False
        plan = self.plan(None, self.read(), persist=True)
        self.apply(plan)
        self.persist(plan)
        return True

    def counters(self):
        """Packets our rules blocked since they were loaded, for netsec.bjnp.attempts.

        ``[{mode, protocol, ports ("9100", "8611-8614"), packets, bytes}]``; None where the
        backend cannot count (the default: firewalld keeps no counters on rich rules).
        """
        return None

    def backup(self):
        """Everything the backend holds: ``({role: bytes}, {extra metadata})``."""
        raise NotImplementedError

    def restore(self, meta, data, check_mode):
        """Put the backend back as ``data`` (a verified backup) saved it; a RestoreResult."""
        raise NotImplementedError

    # --- shared helpers -------------------------------------------------------------------
    def fail(self, message, **details):
        raise FirewallError(message, **details)
