# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iptables backends (iptables-nft, iptables-legacy): our own chains, persisted in rules.v4/v6.

The functions are pure: rules are rendered the way ``iptables -S`` prints them (iptables 1.8),
so the live comparison is idempotent. ``IptablesNft`` and ``IptablesLegacy`` drive the two
variants; each family is changed with one ``iptables-restore --noflush`` transaction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Backend, FileChange, Plan, RestoreResult, sum_counters
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    IPTABLES_COMMANDS,
    iptables_restore_input,
    normalize_iptables,
    without_unused_tables,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import LOG_PREFIX, protected_families

IPT_HOOKS = {"host": "INPUT", "gateway": "FORWARD"}
# A verdict rule with its counters (``-S -v``); ufw matches a port range with multiport.
_VERDICT_COUNTERS = re.compile(r"^-A (\S+) .*-p (tcp|udp) -m (?:(?:tcp|udp) --dport|multiport --dports) (\d+(?::\d+)?) "
                               r"-c (\d+) (\d+) -j (?:DROP|REJECT)\b")
FAMILIES = ((4, "ipv4", "iptables", "ip"), (6, "ipv6", "ip6tables", "ip6"))


def ipt_chain_names(prefix="BJNP"):
    return {"host": "%s-INPUT" % prefix, "gateway": "%s-FORWARD" % prefix}


def _ipt_match(option, network):
    """``-s NET `` / ``-d NET ``; nothing for a whole family (``iptables -S`` omits ``0.0.0.0/0``)."""
    if network.prefixlen == 0:
        return ""
    return "%s %s " % (option, network)


# The units libxt_limit prints a rate in, with its XT_LIMIT_SCALE multipliers, largest first.
_LIMIT_UNITS = (("day", 864000000), ("hour", 36000000), ("min", 600000), ("sec", 10000))


def ipt_limit_rate(per_minute):
    """``--limit`` as ``iptables -S`` prints N a minute (libxt_limit's print_rate, to the letter).

    The kernel keeps a period, not a rate: 600/min prints as 10/sec, 10000/min as 166/sec.
    """
    period = _LIMIT_UNITS[2][1] // per_minute
    index = 1
    while index < len(_LIMIT_UNITS):
        mult = _LIMIT_UNITS[index][1]
        if period > mult or mult // period < mult % period:
            break
        index += 1
    name, mult = _LIMIT_UNITS[index - 1]
    return "%d/%s" % (mult // period, name)


def _ipt_log(policy, chain, match, protocol, port):
    """The LOG rule in front of a verdict; the verdict rule's own counters count every packet."""
    log = policy["log"]
    burst = "" if log["burst"] == 5 else " --limit-burst %d" % log["burst"]
    return '-A %s %s-p %s -m %s --dport %s -m limit --limit %s%s -j LOG --log-prefix "%s"' % (
        chain, match, protocol, protocol, port, ipt_limit_rate(log["per_minute"]), burst, LOG_PREFIX)


def _ipt_verdicts(policy, chain, family, match=""):
    lines = []
    for protocol in ("tcp", "udp"):
        for low, high in policy["ports"][protocol]:
            port = "%d" % low if low == high else "%d:%d" % (low, high)
            if policy["action"] == "drop":
                target = "DROP"
            elif protocol == "tcp":
                target = "REJECT --reject-with tcp-reset"
            else:
                target = "REJECT --reject-with %s" % (
                    "icmp-port-unreachable" if family == 4 else "icmp6-port-unreachable")
            if policy.get("log"):
                lines.append(_ipt_log(policy, chain, match, protocol, port))
            lines.append("-A %s %s-p %s -m %s --dport %s -j %s" % (chain, match, protocol, protocol, port, target))
    return lines


def parse_ipt_counters(verbose_text, chain, mode):
    """Packets and bytes of the verdict rules of ``chain`` in ``iptables -S <chain> -v`` output."""
    counters = []
    for line in (verbose_text or "").splitlines():
        match = _VERDICT_COUNTERS.match(line.strip())
        if match and match.group(1) == chain:
            counters.append(dict(mode=mode, protocol=match.group(2), ports=match.group(3).replace(":", "-"),
                                 packets=int(match.group(4)), bytes=int(match.group(5))))
    return counters


def render_ipt(policy, family, prefix="BJNP"):
    """Desired state of one family: ``{"chains": {name: [rules]}, "jumps": {builtin: [rules]}}``.

    Rules are written the way ``iptables -S`` prints them. Our chains RETURN what is not
    ours to judge, so the packet continues through the host's own INPUT/FORWARD rules.
    A family that the gateway mode does not protect gets no chain at all.
    """
    names = ipt_chain_names(prefix)
    chains, jumps = {}, {}
    protected = protected_families(policy) if "gateway" in policy["modes"] else {}
    for mode in policy["modes"]:
        chain = names[mode]
        if mode == "gateway" and family not in protected:
            continue
        rules = []
        if mode == "host":
            rules.append("-A %s -i lo -j RETURN" % chain)
        for network in policy["allowed"][family]:
            rules.append("-A %s %s-j RETURN" % (chain, _ipt_match("-s", network)))
        if mode == "gateway" and protected[family]:
            for network in protected[family]:
                rules.extend(_ipt_verdicts(policy, chain, family, _ipt_match("-d", network)))
        else:
            rules.extend(_ipt_verdicts(policy, chain, family))
        chains[chain] = rules
        jumps[IPT_HOOKS[mode]] = ["-A %s -j %s" % (IPT_HOOKS[mode], chain)]
    return {"chains": chains, "jumps": jumps}


def parse_ipt_rules(text):
    """Parse ``iptables -S`` (one table) into ``{"chains": {name: [rules]}, "order": [...]}``.

    Built-in chains appear with their ``-P`` policy line, user chains with ``-N``;
    rules keep their printed text so they can be deleted with ``-D`` verbatim.
    """
    chains, order = {}, []
    for raw in (text or "").splitlines():
        line = raw.strip()
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ("-P", "-N", "-A"):
            continue
        name = parts[1]
        if name not in chains:
            chains[name] = []
            order.append(name)
        if parts[0] == "-A":
            chains[name].append(line)
    return {"chains": chains, "order": order}


def _jumps_to(rules, targets):
    result = []
    for rule in rules:
        parts = rule.split()
        for index, token in enumerate(parts[:-1]):
            if token in ("-j", "-g", "--jump", "--goto") and parts[index + 1] in targets:
                result.append(rule)
                break
    return result


def live_ipt_state(parsed, prefix="BJNP"):
    """Our part of a parsed table: our chains that exist, and every jump to them from INPUT/FORWARD."""
    ours = set(ipt_chain_names(prefix).values())
    chains = dict((name, rules) for name, rules in parsed["chains"].items() if name in ours)
    jumps = {}
    for builtin in ("INPUT", "FORWARD"):
        found = _jumps_to(parsed["chains"].get(builtin, []), ours)
        if found:
            jumps[builtin] = found
    return {"chains": chains, "jumps": jumps}


def ipt_in_sync(parsed, desired, prefix="BJNP"):
    """True when the live table holds exactly the desired chains and jumps, jumps first."""
    live = live_ipt_state(parsed, prefix)
    if live["chains"] != desired["chains"]:
        return False
    if live["jumps"] != desired["jumps"]:
        return False
    for builtin, jumps in desired["jumps"].items():
        if parsed["chains"].get(builtin, [])[:len(jumps)] != jumps:
            return False
    return True


def render_ipt_restore(parsed, desired, prefix="BJNP"):
    """``iptables-restore --noflush`` input turning the live state into ``desired``.

    Declaring a user chain (``:NAME - [0:0]``) with --noflush creates it or empties it;
    every live jump is deleted and the wanted ones inserted at position 1, so a jump
    pushed down by someone else's ``-I`` moves back to the top. Nothing outside our
    chains and jumps is named, and the file commits as one transaction.
    """
    live = live_ipt_state(parsed, prefix)
    lines = ["*filter"]
    for builtin in ("INPUT", "FORWARD"):
        for rule in live["jumps"].get(builtin, []):
            lines.append("-D" + rule[2:])
    for chain in sorted(desired["chains"]):
        lines.append(":%s - [0:0]" % chain)
    for chain in sorted(live["chains"]):
        if chain not in desired["chains"]:
            lines.extend(["-F %s" % chain, "-X %s" % chain])
    for chain in sorted(desired["chains"]):
        lines.extend(desired["chains"][chain])
    for builtin in ("INPUT", "FORWARD"):
        for rule in reversed(desired["jumps"].get(builtin, [])):
            lines.append("-I %s 1%s" % (builtin, rule[len("-A " + builtin):]))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render_ipt_text(state):
    """Human-readable text of our part (chains then jumps) for diffs and the result."""
    lines = []
    for chain in sorted(state["chains"]):
        lines.append("-N %s" % chain)
        lines.extend(state["chains"][chain])
    for builtin in ("INPUT", "FORWARD"):
        lines.extend(state["jumps"].get(builtin, []))
    return "\n".join(lines) + "\n" if lines else ""


def merge_rules_file(text, desired, prefix="BJNP"):
    """Put our chains and jumps into an ``iptables-save`` file (rules.v4/v6), nothing else changed.

    netfilter-persistent loads these files with ``iptables-restore`` (which flushes each
    table it names), so our lines must sit in the ``*filter`` section: declarations after
    the built-in ones, jumps before any other rule (they are appended in file order, so the
    first line is rule 1), our rules before ``COMMIT``. Our old lines are removed first.
    With ``desired`` empty (state=absent) the result simply lacks our lines.
    """
    ours = set(ipt_chain_names(prefix).values())
    lines = (text or "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "*filter"), None)
    if start is None:
        if not desired["chains"]:
            return text or ""
        lines.extend(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                      ":OUTPUT ACCEPT [0:0]", "COMMIT"])
        start = len(lines) - 5
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "COMMIT")
    section = []
    for line in lines[start + 1:end]:
        parts = line.split()
        if parts and parts[0].startswith(":") and parts[0][1:] in ours:
            continue
        if len(parts) > 1 and parts[0] == "-A" and (parts[1] in ours or _jumps_to([line], ours)):
            continue
        section.append(line)
    declarations = [i for i, line in enumerate(section) if line.startswith(":")]
    insert_at = declarations[-1] + 1 if declarations else 0
    ours_lines = [":%s - [0:0]" % chain for chain in sorted(desired["chains"])]
    for builtin in ("INPUT", "FORWARD"):
        ours_lines.extend(desired["jumps"].get(builtin, []))
    section[insert_at:insert_at] = ours_lines
    for chain in sorted(desired["chains"]):
        section.extend(desired["chains"][chain])
    merged = lines[:start + 1] + section + lines[end:]
    return "\n".join(merged) + "\n"


# First line of a rules file this collection created (none existed): the checksum lets
# state=absent delete the file again when nobody else changed it, and keep it otherwise.
SEED_HEADER = "# netsec.bjnp created this file from the live ruleset; sha256 without our rules: "
NO_RULES = {"chains": {}, "jumps": {}}


def seed_rules_file(seed, desired, prefix="BJNP"):
    """A new rules file: the live ruleset ``seed`` with our lines merged in, under SEED_HEADER."""
    merged = merge_rules_file(seed, desired, prefix)
    bare = merge_rules_file(merged, NO_RULES, prefix)
    return SEED_HEADER + hashlib.sha256(bare.encode("utf-8")).hexdigest() + "\n" + merged


def unmerge_rules_file(text, prefix="BJNP"):
    """The rules file without our lines, or None when we created it and nobody changed the rest.

    A file we created whose remainder no longer matches its checksum is somebody's now: it is
    kept, without our header.
    """
    bare = merge_rules_file(text, NO_RULES, prefix)
    first, _sep, rest = bare.partition("\n")
    if not first.startswith(SEED_HEADER):
        return bare
    if hashlib.sha256(rest.encode("utf-8")).hexdigest() == first[len(SEED_HEADER):].strip():
        return None
    return rest


def strip_counters(save_text):
    """iptables-save output without counters or timestamp comments (stable for seeding files)."""
    lines = []
    for line in (save_text or "").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(":"):
            line = re.sub(r"\[\d+:\d+\]$", "[0:0]", line)
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def empty_builtin_table(nft_listing):
    """Whether ``nft list table ip filter`` shows only empty base chains with policy accept.

    That is how iptables-nft leaves the table it created for our jump once the jump is gone:
    it filters nothing, so deleting it gives back the ruleset as it was before our change.
    """
    chains = base_chains = 0
    for line in (nft_listing or "").splitlines():
        words = line.split()
        if not words or words[0] in ("table", "}"):
            continue
        if words[0] == "chain":
            chains += 1
        elif words[0] == "type":
            base_chains += 1
            if "policy accept;" not in line:
                return False
        else:
            return False
    # A chain without a hook (someone's own, even empty) means the table is in use.
    return chains > 0 and chains == base_chains


def save_both(runner, backend_name):
    """``{"ipv4": text, "ipv6": text}``: iptables-save of both families, as backend ``backend_name`` runs it."""
    return dict((label, runner.out([save])) for label, (save, dummy) in IPTABLES_COMMANDS[backend_name].items())


class Iptables(Backend):
    """Our chains BJNP-INPUT / BJNP-FORWARD and their jumps, both families."""

    variant = None
    backup_files = ()

    @property
    def prefix(self):
        return self.options["iptables_chain_prefix"]

    def validate(self):
        # iptables chain names are at most 28 characters; ours add -FORWARD.
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,19}$", self.prefix or ""):
            return ["iptables_chain_prefix %r is not a plain name (a letter, then letters, digits or _, at most 20)"
                    % (self.prefix,)]
        return []

    def command(self, base, suffix=""):
        return "%s-%s%s" % (base, self.variant, suffix)

    @property
    def tools(self):
        return tuple(self.command(base, suffix) for dummy, dummy2, base, dummy3 in FAMILIES
                     for suffix in ("", "-save", "-restore"))

    def in_use(self):
        """Rules in either family (``-A`` lines in the save output)."""
        for dummy, dummy2, base, dummy3 in FAMILIES:
            rc, out, dummy4 = self.runner.run([self.command(base, "-save")], check=False)
            if rc == 0 and any(line.startswith("-A ") for line in out.splitlines()):
                return True
        return False

    def read(self):
        live = {}
        for family, label, base, dummy in FAMILIES:
            path = self.options["iptables_rules_v%d" % family]
            live[family] = dict(parsed=parse_ipt_rules(self.runner.out([self.command(base), "-w", "-t", "filter", "-S"])),
                                path=path, file=self.runner.read_text(path))
        return live

    def plan(self, policy, live, persist):
        steps, diff, files, rules = [], [], [], {}
        for family, label, base, dummy in FAMILIES:
            state = live[family]
            desired = render_ipt(policy, family, self.prefix) if policy is not None else NO_RULES
            rules[label] = render_ipt_text(desired)
            if not ipt_in_sync(state["parsed"], desired, self.prefix):
                # The undo script is what apply loads when the other family fails afterwards.
                steps.append((family, render_ipt_restore(state["parsed"], desired, self.prefix),
                              live_ipt_state(state["parsed"], self.prefix)))
                diff.append(dict(before_header="live %s filter (ours)" % label, after_header="live %s filter (ours)" % label,
                                 before=render_ipt_text(live_ipt_state(state["parsed"], self.prefix)), after=rules[label]))
            before = state["file"]
            if policy is None and before is not None:
                files.append(FileChange(state["path"], before, unmerge_rules_file(before, self.prefix)))
            elif policy is not None and persist:
                if before is None:
                    seed = strip_counters(self.runner.out([self.command(base, "-save")]))
                    files.append(FileChange(state["path"], None, seed_rules_file(seed, desired, self.prefix), 0o640))
                else:
                    files.append(FileChange(state["path"], before, merge_rules_file(before, desired, self.prefix)))
        return Plan(live=steps, live_diff=diff, files=files, rules=rules)

    def _restore_command(self, family):
        return self.command(FAMILIES[0][2] if family == 4 else FAMILIES[1][2], "-restore")

    def load_both(self, scripts):
        """Load ``[(family, script, previous ours)]``: every script tested before any is loaded.

        iptables-restore commits one family at a time; when a later family fails, the families
        already loaded are put back to ``previous``, so the firewall is never left half-changed.
        The error says what is live.
        """
        for family, script, dummy in scripts:
            rc, dummy2, err = self.runner.run([self._restore_command(family), "--noflush", "--test", "-w"],
                                              data=script, check=False)
            if rc != 0:
                self.fail("ip%stables-restore --test rejected our IPv%d rules, so neither family was changed: %s"
                          % ("6" if family == 6 else "", family, err.strip()), live="unchanged", stdin=script)
        loaded = []
        for family, script, previous in scripts:
            rc, dummy, err = self.runner.run([self._restore_command(family), "--noflush", "-w"], data=script, check=False)
            if rc == 0:
                loaded.append((family, previous))
                continue
            undone = []
            for done_family, done_previous in loaded:
                state = self._parsed(done_family)
                self.runner.run([self._restore_command(done_family), "--noflush", "-w"],
                                data=render_ipt_restore(state, done_previous, self.prefix))
                undone.append("IPv%d" % done_family)
            self.fail("loading our IPv%d rules failed (%s); %s" % (
                family, err.strip(), ("%s put back as before, so the live firewall is unchanged" % ", ".join(undone))
                if undone else "the live firewall is unchanged"), live="unchanged", stdin=script)

    def counters(self):
        """Our verdict rules' packet counters, both families added up."""
        counters = []
        for dummy, dummy2, base, dummy3 in FAMILIES:
            parsed = parse_ipt_rules(self.runner.out([self.command(base), "-w", "-t", "filter", "-S"]))
            for mode, chain in ipt_chain_names(self.prefix).items():
                if chain in parsed["chains"]:
                    text = self.runner.out([self.command(base), "-w", "-t", "filter", "-S", chain, "-v"])
                    counters.extend(parse_ipt_counters(text, chain, mode))
        return sum_counters(counters)

    def _parsed(self, family):
        base = FAMILIES[0][2] if family == 4 else FAMILIES[1][2]
        return parse_ipt_rules(self.runner.out([self.command(base), "-w", "-t", "filter", "-S"]))

    def apply(self, plan):
        self.load_both(plan.live)
        if not plan.rules["ipv4"] and not plan.rules["ipv6"]:
            self.drop_tables_we_emptied()

    def revert(self, before):
        """Our chains and jumps back as ``before`` held them, in both families; the rules files too."""
        now = self.read()
        scripts = []
        for family, dummy, dummy2, dummy3 in FAMILIES:
            previous = live_ipt_state(before[family]["parsed"], self.prefix)
            if not ipt_in_sync(now[family]["parsed"], previous, self.prefix):
                scripts.append((family, render_ipt_restore(now[family]["parsed"], previous, self.prefix),
                                live_ipt_state(now[family]["parsed"], self.prefix)))
        self.load_both(scripts)
        if not any(live_ipt_state(before[family]["parsed"], self.prefix)["chains"] for family in (4, 6)):
            self.drop_tables_we_emptied()
        for family in (4, 6):
            path, saved = before[family]["path"], before[family]["file"]
            if self.runner.read_text(path) != saved:
                FileChange(path, None, saved, 0o640).write(self.runner)
        return True

    def drop_tables_we_emptied(self):
        """Nothing left to do for iptables-legacy, whose tables cannot be unregistered."""

    def backup(self):
        return dict((label, text.encode("utf-8")) for label, text in save_both(self.runner, self.name).items()), {}

    def can_delete_tables(self):
        return False

    def comparable(self, text):
        text = normalize_iptables(text)
        return text if self.can_delete_tables() else without_unused_tables(text)

    def restore(self, meta, data, check_mode):
        """Both families tested before either is loaded; a failing IPv6 load puts IPv4 back."""
        todo, before_all, after_all = [], [], []
        for dummy, label, base, nft_family in FAMILIES:
            save, restore = self.command(base, "-save"), self.command(base, "-restore")
            saved = data[label].decode("utf-8")
            content = [line for line in saved.splitlines() if line.strip() and not line.startswith("#")]
            if content and content[-1].strip() != "COMMIT":
                self.fail("the backup's %s file does not end with COMMIT: it is not complete iptables-save "
                          "output, nothing was restored" % label)
            before = self.runner.out([save])
            before_all.append("# %s\n%s" % (label, normalize_iptables(before)))
            if self.comparable(before) == self.comparable(saved):
                continue
            text, delete = iptables_restore_input(saved, before, can_delete_tables=self.can_delete_tables())
            rc, dummy2, err = self.runner.run([restore, "-w", "--test"], data=text, check=False)
            if rc != 0:
                self.fail("%s --test rejected the saved %s rules, so neither family was restored: %s"
                          % (restore, label, err.strip()), live="unchanged")
            todo.append((label, save, restore, nft_family, text, delete, before))
        if check_mode or not todo:
            for dummy, label, base, dummy2 in FAMILIES:
                match = [item for item in todo if item[0] == label]
                text = data[label].decode("utf-8") if match else self.runner.out([self.command(base, "-save")])
                after_all.append("# %s\n%s" % (label, normalize_iptables(text)))
            return RestoreResult(bool(todo), "".join(before_all), "".join(after_all))
        done = []
        for label, save, restore, nft_family, text, delete, before in todo:
            rc, dummy, err = self.runner.run([restore, "-w"], data=text, check=False)
            if rc != 0:
                for done_label, done_restore, done_before in done:
                    self.runner.run([done_restore, "-w"], data=done_before)
                self.fail("%s failed (%s); %s" % (restore, err.strip(), "%s put back as it was, so the live firewall "
                                                  "is unchanged" % ", ".join(d[0] for d in done) if done
                                                  else "the live firewall is unchanged"), live="unchanged")
            done.append((label, restore, before))
            for table in delete:
                self.runner.run(["nft", "delete", "table", nft_family, table])
        for dummy, label, base, dummy2 in FAMILIES:
            after_all.append("# %s\n%s" % (label, normalize_iptables(self.runner.out([self.command(base, "-save")]))))
        return RestoreResult(True, "".join(before_all), "".join(after_all))


class IptablesNft(Iptables):
    name = "iptables-nft"
    variant = "nft"
    backup_files = BACKENDS["iptables-nft"]

    def can_delete_tables(self):
        """Tables created after a backup are deleted on restore, with nft (when installed)."""
        return self.runner.have("nft")

    def drop_tables_we_emptied(self):
        """Delete ``ip filter`` / ``ip6 filter`` when our removal left them empty.

        iptables-nft creates the table (with empty base chains) for our jump when the host
        had none; removing the jump must not leave it behind.
        """
        if not self.can_delete_tables():
            return
        for dummy, dummy2, dummy3, nft_family in FAMILIES:
            rc, listing, dummy4 = self.runner.run(["nft", "list", "table", nft_family, "filter"], check=False)
            if rc == 0 and empty_builtin_table(listing):
                self.runner.run(["nft", "delete", "table", nft_family, "filter"])


class IptablesLegacy(Iptables):
    name = "iptables-legacy"
    variant = "legacy"
    backup_files = BACKENDS["iptables-legacy"]
