# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld backend: ipsets and policies of our own in firewalld's permanent configuration.

Our objects (docs/firewall.md, "firewalld"): the ipsets ``netsec-bjnp-v4``/``-v6`` (the allowed
sources) and the policies ``netsec-bjnp-host`` (ANY -> HOST, host mode) and ``netsec-bjnp-fwd``
(ANY -> ANY, gateway mode), priority -32000 so they run before every zone. Each rich rule drops
(or rejects) one port from any source NOT in the family's ipset; allowed traffic is not
accepted by us, it goes on to the zones as before.

firewall-cmd cannot replace a policy in one step, so the XML files are written under
/etc/firewalld and loaded with one ``firewall-cmd --reload``. A reload discards runtime-only
changes, so a change is refused while the runtime differs from the permanent configuration
anywhere but in our own objects.

The functions are pure: they render the files and the lines our reader makes of the runtime
objects, and parse what firewall-cmd prints (firewalld 1.3). The class ``Firewalld`` drives
firewall-cmd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Backend, FileChange, Plan, RestoreResult
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.config_tree import config_archive, restore_config
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import BACKENDS, CONFIG_PATHS
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import LOG_PREFIX

PREFIX = "netsec-bjnp"
# Policies with a negative priority run before every zone; this one before the site's own.
PRIORITY = -32000
POLICIES = {"host": ("%s-host" % PREFIX, "HOST"), "gateway": ("%s-fwd" % PREFIX, "ANY")}
IPSETS = {4: ("%s-v4" % PREFIX, "ipv4", "inet"), 6: ("%s-v6" % PREFIX, "ipv6", "inet6")}
# The configuration directories our files live in, relative to /etc/firewalld.
OBJECT_DIRS = ("ipsets", "policies")

DRIFT_MESSAGE = ("firewalld holds runtime-only changes that applying ours (firewall-cmd --reload) would discard: "
                 "%s. Nothing was changed. Make them permanent (firewall-cmd --runtime-to-permanent) or drop them "
                 "(firewall-cmd --reload), then run again.")
NOT_RUNNING_MESSAGE = ("firewalld is not running: rules written to its configuration would not be enforced. "
                       "Start firewalld or choose another backend. Nothing was changed.")
# firewalld 0.9 (Debian 11) takes its ipset types from the ipset tool (a Recommends): without it
# it lists none and its reload rejects our ipsets (INVALID_IPSET), so that is refused up front.
NO_IPSET_MESSAGE = ("firewalld cannot use ipsets of type hash:net here (firewall-cmd --get-ipset-types lists: %s), "
                    "and our rules keep the allowed print servers in one. firewalld 0.9 takes its ipset types from "
                    "the ipset tool: install the ipset package, then restart or reload firewalld. Nothing was changed.")

# "public", "public (active)", "public (default, active)": the name, then what firewall-cmd adds.
_HEADER = re.compile(r"^(\S+)(?: \([^)]*\))?$")


def is_ours(name):
    return name.startswith(PREFIX + "-")


# --- rendering ----------------------------------------------------------------------------

def _address(network):
    """A host network as its bare address (as firewalld prints it back), others as CIDR."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _port_text(low, high):
    return "%d" % low if low == high else "%d-%d" % (low, high)


def _rich_rule(family, destination, port, protocol, action, log=None):
    """(XML element, the line firewall-cmd lists) of one drop/reject rule.

    With ``log`` the rule logs too, rate-limited; firewalld (1.3) has no burst setting and no
    counter, and lists the level only when it is given, so it always is.
    """
    ipset, family_name = IPSETS[family][0], IPSETS[family][1]
    xml = ['  <rule family="%s">' % family_name, '    <source ipset="%s" invert="True"/>' % ipset]
    text = 'rule family="%s" source NOT ipset="%s"' % (family_name, ipset)
    if destination:
        xml.append('    <destination address="%s"/>' % destination)
        text += ' destination address="%s"' % destination
    xml.append('    <port port="%s" protocol="%s"/>' % (port, protocol))
    text += ' port port="%s" protocol="%s"' % (port, protocol)
    if log:
        xml += ['    <log prefix="%s" level="warning">' % LOG_PREFIX, '      <limit value="%d/m"/>' % log["per_minute"],
                "    </log>"]
        text += ' log prefix="%s" level="warning" limit value="%d/m"' % (LOG_PREFIX, log["per_minute"])
    xml.append("    <%s/>" % action)
    xml.append("  </rule>")
    text += " %s" % action
    return "\n".join(xml), text


def _targets(policy, mode):
    """Destinations per family the policy of ``mode`` closes the ports to (None: any)."""
    protected = policy["protected"]
    if mode == "gateway" and (protected[4] or protected[6]):
        # Only the families that have protected destinations.
        return dict((family, [_address(n) for n in protected[family]]) for family in (4, 6))
    return {4: [None], 6: [None]}


def render_firewalld(policy):
    """Files and expected runtime state of our objects for ``policy`` (bjnp_firewall.build_policy).

    Returns ``{"files": {path under /etc/firewalld: XML}, "runtime": [lines]}``, the lines sorted
    as ``object_lines`` makes them of the live firewalld once the files are loaded.
    """
    files, runtime = {}, []
    # Both sets always exist: an empty one is "nobody allowed" for its family.
    for family in (4, 6):
        name, dummy, inet = IPSETS[family]
        entries = [_address(network) for network in policy["allowed"][family]]
        xml = ['<?xml version="1.0" encoding="utf-8"?>', '<ipset type="hash:net">',
               "  <short>%s allowed IPv%d</short>" % (PREFIX, family),
               "  <description>Print servers netsec.bjnp.firewall lets reach BJNP and raw print.</description>"]
        if inet == "inet6":
            xml.append('  <option name="family" value="inet6"/>')
        xml += ["  <entry>%s</entry>" % entry for entry in entries] + ["</ipset>", ""]
        files["ipsets/%s.xml" % name] = "\n".join(xml)
        runtime += ["ipset %s entry %s" % (name, entry) for entry in entries]
        runtime.append("ipset %s exists" % name)

    for mode in policy["modes"]:
        name, egress = POLICIES[mode]
        targets = _targets(policy, mode)
        xml = ['<?xml version="1.0" encoding="utf-8"?>',
               '<policy target="CONTINUE" priority="%d">' % PRIORITY,
               "  <short>%s %s</short>" % (PREFIX, mode),
               "  <description>netsec.bjnp.firewall: BJNP and raw print closed but to the allowed print servers."
               "</description>",
               '  <ingress-zone name="ANY"/>',
               '  <egress-zone name="%s"/>' % egress]
        runtime += ["policy %s priority %d" % (name, PRIORITY), "policy %s ingress ANY" % name,
                    "policy %s egress %s" % (name, egress)]
        for family in (4, 6):
            for destination in targets[family]:
                for protocol in ("tcp", "udp"):
                    for low, high in policy["ports"][protocol]:
                        element, text = _rich_rule(family, destination, _port_text(low, high), protocol,
                                                   policy["action"], policy.get("log"))
                        xml.append(element)
                        runtime.append("policy %s rule %s" % (name, text))
        files["policies/%s.xml" % name] = "\n".join(xml + ["</policy>", ""])
    return {"files": files, "runtime": sorted(runtime)}


def _file_key(text):
    """A file of ours with its rule elements sorted: their order means nothing to firewalld.

    (The role rendered the rules in the order of its port list, ``render_firewalld`` in the
    order of the normalised ports; both files hold the same policy.)
    """
    others, rules, rule = [], [], None
    for line in text.splitlines():
        if line.startswith("  <rule "):
            rule = [line]
        elif rule is not None:
            rule.append(line)
            if line == "  </rule>":
                rules.append("\n".join(rule))
                rule = None
        else:
            others.append(line)
    if rule is not None:
        rules.append("\n".join(rule))
    return others, sorted(rules)


def same_file(before, after):
    """Whether the file of ours on the host (``before``) holds what ``after`` holds."""
    return before == after or _file_key(before) == _file_key(after)


# --- parsing firewall-cmd -----------------------------------------------------------------

def parse_names(text):
    """``--get-policies``, ``--get-ipsets``, ``--get-zones``: the names, in firewall-cmd's order."""
    return text.split()


def parse_entries(text):
    """``--ipset=NAME --get-entries``: one entry a line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_listing(text):
    """``--list-all-zones``, ``--list-all-policies``, ``--info-policy=``, ``--info-ipset=``.

    Returns ``{name: {key: (item, ...)}}``: the items are the words after ``key:``, then the
    lines firewall-cmd prints tab-indented under the key (rich rules, forward ports). The
    ``(active)`` after a name is dropped: it says whether interfaces are bound, not what the
    object holds. An unexpected line raises ValueError.
    """
    objects = {}
    current = key = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t") and key is not None:
            current[key] += (line.strip(),)
        elif line.startswith("  ") and current is not None and ":" in line:
            key, dummy, value = line.strip().partition(":")
            current[key] = tuple(value.split())
        else:
            match = _HEADER.match(line)
            if match is None:
                raise ValueError("unexpected line in firewall-cmd output: %r" % line)
            current, key = {}, None
            objects[match.group(1)] = current
    return objects


def object_lines(policies, ipsets):
    """The lines of our runtime objects, sorted (what ``render_firewalld`` expects in "runtime").

    ``policies``: ``parse_listing`` of ``--list-all-policies``; ``ipsets``: name -> the parsed
    ``--info-ipset=NAME`` of that set. Objects not ours are ignored.
    """
    lines = []
    for name, info in ipsets.items():
        if is_ours(name):
            lines.append("ipset %s exists" % name)
            lines += ["ipset %s entry %s" % (name, entry) for entry in info.get("entries", ())]
    for name, info in policies.items():
        if is_ours(name):
            lines += ["policy %s %s %s" % (name, label, " ".join(info.get(key, ())))
                      for label, key in (("priority", "priority"), ("ingress", "ingress-zones"),
                                         ("egress", "egress-zones"))]
            lines += ["policy %s rule %s" % (name, rule) for rule in info.get("rich rules", ())]
    return sorted(lines)


def reload_view(zones, policies, ipsets, direct_rules, passthroughs):
    """What a reload resets, seen from one side (runtime or permanent): {"KIND NAME": {key: items}}.

    Our own objects are left out (a reload is how they change), and so are the interfaces of
    zones: those bound at runtime (by NetworkManager) survive a reload.
    """
    view = {}
    for name, info in zones.items():
        view["zone %s" % name] = dict((key, items) for key, items in info.items() if key != "interfaces")
    for kind, objects in (("policy", policies), ("ipset", ipsets)):
        for name, info in objects.items():
            if not is_ours(name):
                view["%s %s" % (kind, name)] = info
    view["direct rules"] = {"": tuple(parse_entries(direct_rules))}
    view["direct passthroughs"] = {"": tuple(parse_entries(passthroughs))}
    return view


def runtime_drift(runtime, permanent):
    """Each difference between two ``reload_view``s, as a phrase naming it (empty: none).

    Both sides count: what only the runtime holds is discarded by a reload, and what only the
    permanent configuration holds (removed at runtime, or not loaded yet) is brought in by it.
    """
    drift = []
    for label in sorted(set(runtime) | set(permanent)):
        if label not in permanent:
            drift.append("%s at runtime only" % label)
            continue
        if label not in runtime:
            drift.append("%s in the permanent configuration, not at runtime" % label)
            continue
        left, right = runtime[label], permanent[label]
        for key in sorted(set(left) | set(right)):
            where = "%s %s" % (label, key) if key else label
            drift += ["%s: %s at runtime only" % (where, item) for item in left.get(key, ()) if item not in right.get(key, ())]
            drift += ["%s: %s in the permanent configuration, not at runtime" % (where, item)
                      for item in right.get(key, ()) if item not in left.get(key, ())]
    return drift


# --- the backend --------------------------------------------------------------------------

class Firewalld(Backend):
    """Our ipsets and policies as files of firewalld's permanent configuration, one reload per change.

    The permanent configuration is also what firewalld loads at boot, so ``persist`` has
    nothing to do and the ``persist`` argument of ``plan`` changes nothing.
    """

    name = "firewalld"
    tools = ("firewall-cmd",)
    manages_firewall = True
    backup_files = BACKENDS["firewalld"]
    #: firewalld's configuration (the unit tests point it at a temporary directory).
    config_dir = CONFIG_PATHS["firewalld"][0]

    def __init__(self, runner, options):
        super(Firewalld, self).__init__(runner, options)
        self._running = None

    # --- detection ------------------------------------------------------------------------
    def running(self):
        # Asked once per module run: detection, refusal and reading all need it.
        if self._running is None:
            self._running = self.runner.ok(["firewall-cmd", "--state"])
        return self._running

    def in_use(self):
        return self.running()

    def refuse(self):
        if not self.running():
            return NOT_RUNNING_MESSAGE
        types = parse_names(self.runner.out(["firewall-cmd", "--get-ipset-types"]))
        if "hash:net" not in types:
            return NO_IPSET_MESSAGE % (" ".join(types) or "none")
        return None

    # --- reading --------------------------------------------------------------------------
    def _listing(self, *args):
        """``parse_listing`` of ``firewall-cmd ARGS``; a listing it cannot read fails the run."""
        try:
            return parse_listing(self.runner.out(["firewall-cmd"] + list(args)))
        except ValueError as exc:
            self.fail("cannot read firewall-cmd %s: %s" % (" ".join(args), exc))

    def _ipsets(self, side, wanted):
        """name -> parsed ``--info-ipset`` of the ipsets of ``side`` ([] or ["--permanent"]) ``wanted`` picks."""
        names = parse_names(self.runner.out(["firewall-cmd"] + side + ["--get-ipsets"]))
        infos = {}
        for name in names:
            if wanted(name):
                infos.update(self._listing(*(side + ["--info-ipset=%s" % name])))
        return infos

    def _view(self, side, policies, ipsets):
        return reload_view(self._listing(*(side + ["--list-all-zones"])), policies, ipsets,
                           self.runner.out(["firewall-cmd"] + side + ["--direct", "--get-all-rules"]),
                           self.runner.out(["firewall-cmd"] + side + ["--direct", "--get-all-passthroughs"]))

    def _files(self):
        """Our files under the configuration directory: path -> text."""
        files = {}
        for directory in OBJECT_DIRS:
            path = os.path.join(self.config_dir, directory)
            if not self.runner.isdir(path):
                continue
            for name in self.runner.listdir(path):
                if is_ours(name) and name.endswith(".xml"):
                    files[os.path.join(path, name)] = self.runner.read_text(os.path.join(path, name))
        return files

    def read(self):
        """Our files; when running, our runtime objects and the drift a reload would discard.

        The runtime listings serve both: ``--list-all-policies`` and the ipsets' ``--info-ipset``
        show our objects and the site's, so each is asked once.
        """
        files = self._files()
        if not self.running():
            return dict(running=False, objects=None, files=files, drift=[])
        policies = self._listing("--list-all-policies")
        ipsets = self._ipsets([], lambda name: True)
        runtime = self._view([], policies, ipsets)
        permanent = self._view(["--permanent"], self._listing("--permanent", "--list-all-policies"),
                               self._ipsets(["--permanent"], lambda name: not is_ours(name)))
        return dict(running=True, objects=object_lines(policies, ipsets), files=files,
                    drift=runtime_drift(runtime, permanent))

    # --- deciding -------------------------------------------------------------------------
    def plan(self, policy, live, persist):
        wanted = render_firewalld(policy) if policy is not None else {"files": {}, "runtime": []}
        after = dict((os.path.join(self.config_dir, path), text) for path, text in wanted["files"].items())
        changes = []
        for path in sorted(set(after) | set(live["files"])):
            before = live["files"].get(path)
            if before is not None and path in after and same_file(before, after[path]):
                continue
            changes.append(FileChange(path, before, after.get(path)))
        steps, diff, notes = [], [], []
        if changes:
            steps.append("write")
        if live["running"] and (changes or live["objects"] != wanted["runtime"]):
            if live["drift"]:
                self.fail(DRIFT_MESSAGE % " | ".join(live["drift"]), drift=live["drift"])
            steps.append("reload")
            diff.append(dict(before_header="live firewalld (%s-* ipsets and policies)" % PREFIX,
                             after_header="live firewalld (%s-* ipsets and policies)" % PREFIX,
                             before="".join(line + "\n" for line in live["objects"]),
                             after="".join(line + "\n" for line in wanted["runtime"])))
        if changes and not live["running"]:
            notes.append("firewalld is not running: only its configuration files change, loaded when it starts")
        policies = sorted(POLICIES[mode][0] for mode in policy["modes"]) if policy is not None else []
        return Plan(live=steps, live_diff=diff, files=changes, notes=notes,
                    rules="".join(line + "\n" for line in wanted["runtime"]),
                    details=dict(running=live["running"], policies=policies))

    # --- doing ----------------------------------------------------------------------------
    def _check_config(self, running):
        """firewalld's own words against the configuration on disk, or None when it accepts it.

        ``--check-config`` needs the daemon; a stopped one is checked by firewall-offline-cmd.
        """
        if running:
            args = ["firewall-cmd", "--check-config"]
        elif self.runner.have("firewall-offline-cmd"):
            args = ["firewall-offline-cmd", "--check-config"]
        else:
            return None
        rc, out, err = self.runner.run(args, check=False)
        if rc == 0:
            return None
        return (err or out).strip() or "%s: rc=%d" % (" ".join(args), rc)

    def apply(self, plan):
        """Write our files, have firewalld check them, reload: the runtime then holds them."""
        if "write" in plan.live:
            for change in plan.files:
                change.write(self.runner)
            problem = self._check_config(plan.details["running"])
            if problem:
                for change in plan.files:
                    FileChange(change.path, change.after, change.before).write(self.runner)
                self.fail("firewalld rejected the configuration with our files (%s); they were put back and "
                          "nothing was loaded" % problem, files=[change.path for change in plan.files])
        if "reload" in plan.live:
            self.runner.run(["firewall-cmd", "--reload"])

    def verify(self, policy, persist=False):
        """Read our runtime objects back: they must be exactly the wanted ones."""
        if not self.running():
            return []
        wanted = render_firewalld(policy)["runtime"] if policy is not None else []
        live = object_lines(self._listing("--list-all-policies"), self._ipsets([], is_ours))
        missing = [line for line in wanted if line not in live]
        unexpected = [line for line in live if line not in wanted]
        if missing or unexpected:
            return ["firewalld does not hold what it should after the reload. Missing: %s; unexpected: %s"
                    % (missing, unexpected)]
        return []

    def persist(self, plan):
        """Nothing to do: ``apply`` wrote the permanent configuration, which is the boot configuration."""

    def revert(self, before):
        """Our XML files as ``before`` held them, then a reload (when the daemon runs) loads exactly those."""
        now = self._files()
        changes = [FileChange(path, now.get(path), before["files"].get(path))
                   for path in sorted(set(now) | set(before["files"]))
                   if now.get(path) != before["files"].get(path)]
        for change in changes:
            change.write(self.runner)
        if changes and self.running():
            self.runner.run(["firewall-cmd", "--reload"])
        return True

    # --- backup and restore ---------------------------------------------------------------
    def backup(self):
        """A tar of /etc/firewalld, and ``--list-all-zones`` for reference when the daemon runs."""
        config, paths = config_archive((self.config_dir,))
        running = self.running()
        zones = self.runner.out(["firewall-cmd", "--list-all-zones"]) if running else ""
        return {"config": config, "zones": zones.encode("utf-8")}, {"paths": paths, "running": running}

    def restore(self, meta, data, check_mode):
        """Put /etc/firewalld back exactly, then reload when the daemon runs."""
        changes = restore_config((self.config_dir,), data["config"], check_mode)
        running = self.running()
        before = self.runner.out(["firewall-cmd", "--list-all-zones"]) if running else ""
        saved = data["zones"].decode("utf-8")
        # The zones text is only comparable when the daemon ran at backup time too.
        drift = running and meta.get("running") and before != saved
        needs_load = bool(changes) or bool(drift)
        if not needs_load or check_mode:
            return RestoreResult(needs_load, before, saved if needs_load else before, changes)
        if running:
            self.runner.run(["firewall-cmd", "--reload"])
            return RestoreResult(True, before, self.runner.out(["firewall-cmd", "--list-all-zones"]), changes)
        return RestoreResult(True, before, before, changes)
