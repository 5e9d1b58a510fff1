# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw backend: our rules carry a comment of their own, placed at the top of ufw's rule list.

The rules are read from ufw's own files, ``/etc/ufw/user.rules`` and ``user6.rules``: their
``### tuple ###`` lines are exactly what ufw compares when it adds, matches or deletes a rule,
one line per address family. (``ufw show added`` is rendered from them but merges the
families: a rule to ``0.0.0.0/0`` only prints like one to both families.) The functions are
pure; the class ``Ufw`` drives ``ufw``, one invocation per rule and family pair.

ufw keys a rule by what it matches, not by its action or comment, so a site rule matching
exactly what one of ours matches (``ufw allow 9100/tcp`` against our ``deny 9100/tcp``) cannot
stay next to ours. With ``ufw_site_rules: take_over`` such rules are deleted, remembered in
``TAKEN_OVER_PATH`` (inside /etc/ufw, so every ufw backup holds it) and given back on removal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import collections
import io
import json
import re
import tarfile

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Backend, Plan, RestoreResult, sum_counters
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.config_tree import config_archive, restore_config
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.iptables import parse_ipt_counters, save_both
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import (
    BACKENDS,
    CONFIG_PATHS,
    archive_name,
    normalize_iptables,
    ufw_enabled,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import protected_families

RULES_FILES = {4: "/etc/ufw/user.rules", 6: "/etc/ufw/user6.rules"}
DEFAULTS_FILE = "/etc/default/ufw"
TAKEN_OVER_PATH = "/etc/ufw/netsec-bjnp-taken-over.json"
UFW_USER_CHAINS = {"host": "ufw-user-input", "gateway": "ufw-user-forward"}
# How ufw spells "every address" of a family in its tuples.
ANY = {4: "0.0.0.0/0", 6: "::/0"}

_TUPLE = re.compile(r"^### tuple ###\s*(?P<fields>.*?)(?: comment=(?P<comment>[0-9a-fA-F]*))?\s*$")
_IPV6_ON = re.compile(r'^IPV6=["\']?yes', re.MULTILINE)

# One line of user.rules / user6.rules. ``apps`` is (dapp, sapp) or None, ``iface`` the last
# field as ufw writes it (``in``, ``out``, ``in_eth0``...), ``log`` "", "log" or "log-all".
UfwTuple = collections.namedtuple("UfwTuple", "family route action log proto dport dst sport src apps iface comment")


# --- rendering ----------------------------------------------------------------------------

def _address(network):
    # ufw stores a host address as written, so we write it without /32 or /128.
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def _port(low, high):
    return "%d" % low if low == high else "%d:%d" % (low, high)


def render_rules(policy, ipv6):
    """The wanted rules, in the order they must hold in ufw: every allow rule, then the denies.

    Each is a dict ``route, action, src, dst, port, proto, family`` (``src``/``dst`` an address
    or ``any``, ``family`` 4, 6 or ``any``; denies ``log`` "log" with logging on, ufw's own
    prefix and rate). Host mode: ``to any``; gateway mode: ``ufw route``
    to each protected destination (``any`` when none is given). Without IPv6 in ufw
    (/etc/default/ufw) IPv6 sources and destinations are left out: ufw refuses them.
    """
    families = (4, 6) if ipv6 else (4,)
    sources = [(family, _address(net)) for family in families for net in policy["allowed"][family]]
    ports = [(protocol, _port(low, high)) for protocol in ("tcp", "udp") for low, high in policy["ports"][protocol]]
    verdict = "reject" if policy["action"] == "reject" else "deny"
    allows, denies = [], []
    for mode in policy["modes"]:
        if mode == "host":
            targets = [("any", "any")]
        else:
            protected = protected_families(policy)
            if protected.get(4, []) is None:
                targets = [("any", "any")]
            else:
                targets = [(family, _address(net)) for family in families for net in protected.get(family) or []]
        for target_family, target in targets:
            for protocol, port in ports:
                rule = dict(route=mode == "gateway", dst=target, port=port, proto=protocol)
                denies.append(dict(rule, action=verdict, src="any", family=target_family,
                                   log="log" if policy.get("log") else ""))
                for family, source in sources:
                    if target_family in ("any", family):
                        allows.append(dict(rule, action="allow", src=source, family=family))
    return allows + denies


def rule_families(rule, ipv6):
    if rule["family"] == "any":
        return (4, 6) if ipv6 else (4,)
    return (rule["family"],)


def _rule_tuple(rule, family, comment):
    return UfwTuple(family, rule["route"], rule["action"], rule.get("log", ""), rule["proto"], rule["port"],
                    ANY[family] if rule["dst"] == "any" else rule["dst"], "any",
                    ANY[family] if rule["src"] == "any" else rule["src"], None, "in", comment)


def rule_commands(rules, comment):
    """``[(family or "any", UfwTuple)]`` in the order of ``rules``: one ufw command each."""
    return [(rule["family"], _rule_tuple(rule, 4 if rule["family"] == "any" else rule["family"], comment))
            for rule in rules]


def rule_tuples(rules, comment, ipv6):
    """``{4: [UfwTuple...], 6: [...]}``: the rules as ufw writes them in its two files."""
    tuples = {4: [], 6: []}
    for rule in rules:
        for family in rule_families(rule, ipv6):
            tuples[family].append(_rule_tuple(rule, family, comment))
    return tuples


# --- parsing ------------------------------------------------------------------------------

def ipv6_enabled(defaults_text):
    """Whether /etc/default/ufw says IPV6=yes (ufw then writes user6.rules too)."""
    return bool(_IPV6_ON.search(defaults_text or ""))


def _decode_comment(hex_text):
    if not hex_text:
        return ""
    return binascii.unhexlify(hex_text).decode("utf-8")


def parse_user_rules(text, family):
    """The ``### tuple ###`` lines of user.rules (family 4) or user6.rules (6), in order."""
    tuples = []
    for line in (text or "").splitlines():
        found = _TUPLE.match(line.strip())
        if not found:
            continue
        fields = found.group("fields").split()
        action, route = fields[0], False
        if action.startswith("route:"):
            action, route = action[len("route:"):], True
        action, dummy, log = action.partition("_")
        apps = None
        if len(fields) >= 9:
            apps = tuple(None if app == "-" else app.replace("%20", " ") for app in fields[6:8])
        tuples.append(UfwTuple(family, route, action, log, fields[1], fields[2], fields[3], fields[4],
                               fields[5], apps, fields[-1], _decode_comment(found.group("comment"))))
    return tuples


def match_key(rule):
    """What ufw compares to call two rules one: everything but action, log type and comment."""
    return (rule.family, rule.route, rule.proto, rule.dport, rule.dst, rule.sport, rule.src, rule.apps, rule.iface)


def parse_status_verbose(text):
    """``(active, [rule lines])`` of ``ufw status verbose`` (the rules ufw enforces now)."""
    active = False
    rules = []
    in_table = False
    for line in (text or "").splitlines():
        if line.startswith("Status:"):
            active = line.split(":", 1)[1].strip() == "active"
        elif line.startswith("--"):
            in_table = True
        elif in_table and line.strip():
            rules.append(line.rstrip())
    return active, rules


def enforced_count(status_rules, comment):
    return len([line for line in status_rules if line.endswith("# " + comment)])


# --- commands -----------------------------------------------------------------------------

def _all_any(rule):
    return rule.src == ANY[rule.family] and rule.dst == ANY[rule.family]


def pair_families(tuples, ipv6=True):
    """The rules as ufw commands see them: ``[(family or "any", UfwTuple of that family)]``.

    A rule to and from every address that is in both files (or in user.rules while ufw has no
    IPv6) is one command with ``any``; the same rule in one file only has to name its family
    (``to 0.0.0.0/0``), or a command would touch both. Order: the IPv4 file first, as
    ``ufw show added`` lists them.
    """
    def both_key(rule):
        return (rule.route, rule.action, rule.log, rule.proto, rule.dport, rule.sport, rule.apps, rule.iface, rule.comment)

    v6_any = collections.Counter(both_key(rule) for rule in tuples[6] if _all_any(rule))
    result = []
    for rule in tuples[4]:
        if _all_any(rule) and not ipv6:
            result.append(("any", rule))
        elif _all_any(rule) and v6_any[both_key(rule)]:
            v6_any[both_key(rule)] -= 1
            result.append(("any", rule))
        else:
            result.append((4, rule))
    paired = collections.Counter(both_key(rule) for family, rule in result if family == "any")
    for rule in tuples[6]:
        if _all_any(rule) and paired[both_key(rule)]:
            paired[both_key(rule)] -= 1
            continue
        result.append((6, rule))
    return result


def _where(address, family, rule):
    # One side named is enough for ufw to know the family; only a rule to and from every
    # address of one family must spell that family out.
    if address == ANY[rule.family] and (family == "any" or not _all_any(rule)):
        return "any"
    return address


def rule_args(family, rule):
    """The ufw words after ``ufw [route] [delete|insert N|prepend]`` that make ``rule``.

    Only port rules without application or interface (ours, and the site rules matching them).
    """
    args = [rule.action] + ([rule.log] if rule.log else [])
    args += ["from", _where(rule.src, family, rule)] + (["port", rule.sport] if rule.sport != "any" else [])
    args += ["to", _where(rule.dst, family, rule)] + (["port", rule.dport] if rule.dport != "any" else [])
    args += ["proto", rule.proto] if rule.proto != "any" else []
    return args + (["comment", rule.comment] if rule.comment else [])


def ufw_command(verb, family, rule, position=None):
    """argv for ``ufw [route] <verb> ...``; ``verb`` add (""), delete, prepend or insert."""
    argv = ["ufw"] + (["route"] if rule.route else [])
    if verb == "insert":
        argv += ["insert", str(position)]
    elif verb:
        argv.append(verb)
    return argv + rule_args(family, rule)


def rule_text(family, rule):
    """The rule as ``ufw show added`` prints it (for messages), its family named when one only."""
    words = ["ufw"] + (["route"] if rule.route else []) + [rule.action] + ([rule.log] if rule.log else [])
    if _all_any(rule) and rule.sport == "any" and rule.dport != "any" and rule.iface == "in":
        words.append(rule.dport + ("/" + rule.proto if rule.proto != "any" else ""))
    else:
        for keyword, address, port in (("from", rule.src, rule.sport), ("to", rule.dst, rule.dport)):
            address = "any" if address == ANY[rule.family] else address
            if address != "any" or port != "any":
                words += [keyword, address] + (["port", port] if port != "any" else [])
        if " to " not in " ".join(words) and " from " not in " ".join(words):
            words += ["to", "any"]
        words += ["proto", rule.proto] if rule.proto != "any" else []
    if rule.comment:
        words.append("comment '%s'" % rule.comment)
    return " ".join(words) + (" (IPv%d only)" % family if family != "any" and _all_any(rule) else "")


# --- taken-over site rules ----------------------------------------------------------------

def taken_over_record(family, rule, position):
    return dict(text=rule_text(family, rule), family=family, position=position, tuple=list(rule))


def load_taken_over(text):
    """The site rules remembered in TAKEN_OVER_PATH: ``[(family, UfwTuple, position)]``."""
    if not text:
        return []
    records = json.loads(text)["rules"]
    return [(record["family"], UfwTuple(*[tuple(item) if isinstance(item, list) else item for item in record["tuple"]]),
             record["position"]) for record in records]


def dump_taken_over(records):
    return json.dumps(dict(format=1, rules=[taken_over_record(*record) for record in records]),
                      indent=2, sort_keys=True) + "\n"


def give_back_steps(records, site_v4_count):
    """Commands putting remembered site rules back, at their old place where it still exists.

    ``site_v4_count``: how many IPv4 rules ufw holds when they go back (ours deleted). IPv4
    positions are ufw's ``insert`` numbers; IPv6-only rules are appended.
    """
    steps = []
    count = site_v4_count
    for family, rule, position in sorted(records, key=lambda record: (record[2] is None, record[2] or 0)):
        if family != 6 and position is not None and position <= count:
            steps.append(ufw_command("insert", family, rule, position))
        else:
            steps.append(ufw_command("", family, rule))
        if family != 6:
            count += 1
    return steps


# --- iptables view (restore) --------------------------------------------------------------

def ufw_chain_lines(text):
    """The lines of an iptables-save dump that belong to ufw's chains, counters zeroed."""
    return "".join(line + "\n" for line in normalize_iptables(text).splitlines() if "ufw" in line)


class Ufw(Backend):
    """Our commented rules at the top of ufw's list, changed with ``ufw`` itself."""

    name = "ufw"
    tools = ("ufw",)
    manages_firewall = True
    backup_files = BACKENDS["ufw"]

    @property
    def comment(self):
        return self.options["ufw_comment"]

    def validate(self):
        # The comment is what tells our rules from the site's: an empty one would claim every
        # uncommented rule, and quotes break how ufw prints it back.
        if not re.match(r"^[A-Za-z0-9._:/@+-][A-Za-z0-9 ._:/@+-]{0,63}$", self.comment or ""):
            return ["ufw_comment %r is not a plain label (letters, digits, space and ._:/@+-, at most 64)"
                    % (self.comment,)]
        return []

    def _active(self):
        return parse_status_verbose(self.runner.run(["ufw", "status"], check=False)[1])[0]

    def in_use(self):
        return self._active()

    def refuse(self):
        if self._active():
            return None
        return ("ufw is not active on this host: its rules would not be enforced, and enabling it applies its "
                "default policies to all traffic. Nothing was changed. Enable ufw yourself or choose another backend.")

    def read(self):
        ipv6 = ipv6_enabled(self.runner.read_text(DEFAULTS_FILE))
        tuples = {4: parse_user_rules(self.runner.read_text(RULES_FILES[4]), 4),
                  6: parse_user_rules(self.runner.read_text(RULES_FILES[6]), 6) if ipv6 else []}
        return dict(ipv6=ipv6, tuples=tuples, taken_over=self.runner.read_text(TAKEN_OVER_PATH))

    def _ours(self, rule):
        return rule.comment == self.comment

    def plan(self, policy, live, persist):
        tuples, ipv6 = live["tuples"], live["ipv6"]
        ours = dict((family, [rule for rule in tuples[family] if self._ours(rule)]) for family in (4, 6))
        site = dict((family, [rule for rule in tuples[family] if not self._ours(rule)]) for family in (4, 6))
        remembered = load_taken_over(live["taken_over"])
        rules = render_rules(policy, ipv6) if policy is not None else []
        wanted = rule_tuples(rules, self.comment, ipv6)
        wanted_keys = set(match_key(rule) for family in (4, 6) for rule in wanted[family])
        positions = dict((rule, index + 1) for index, rule in enumerate(site[4]))
        conflicts = [(family, rule) for family, rule in pair_families(site, ipv6) if match_key(rule) in wanted_keys]
        if conflicts and self.options["ufw_site_rules"] == "refuse":
            self.fail("ufw holds rule(s) %s matching exactly what our rule(s) match; ufw keeps one rule per match, "
                      "so it cannot hold both. They are the exposure itself: delete them (`ufw delete ...`) and run "
                      "again, or let the backend take them over (ufw_site_rules: take_over). Nothing was changed."
                      % ", ".join(rule_text(family, rule) for family, rule in conflicts),
                      conflicts=[rule_text(family, rule) for family, rule in conflicts])
        steps, notes = [], []
        in_place = ours == wanted and not conflicts
        if not in_place:
            steps += [ufw_command("delete", family, rule) for family, rule in pair_families(ours, ipv6)]
            steps += [ufw_command("delete", family, rule) for family, rule in conflicts]
        taken = remembered + [(family, rule, positions.get(rule) if family != 6 else None) for family, rule in conflicts]
        if policy is None:
            steps += give_back_steps(remembered, len(site[4]))
        elif not in_place:
            # prepend puts each rule at the top of its family: the last one prepended ends first,
            # so every allow rule lands above every deny rule in both families.
            steps += [ufw_command("prepend", family, rule)
                      for family, rule in reversed(rule_commands(rules, self.comment))]
        if conflicts:
            notes.append("took over site rule(s) matching ours (given back on removal): %s"
                         % ", ".join(rule_text(family, rule) for family, rule in conflicts))
        if policy is None and remembered:
            notes.append("gave back site rule(s) taken over before: %s"
                         % ", ".join(rule_text(family, rule) for family, rule, dummy in remembered))
        state_after = dump_taken_over(taken) if policy is not None and taken else None
        live_steps = [("ufw", argv) for argv in steps]
        if state_after != live["taken_over"]:
            # Remembered before any site rule is deleted, forgotten once all are back.
            if state_after is None:
                live_steps.append(("remember", None))
            else:
                live_steps.insert(0, ("remember", state_after))
        before = "\n".join(rule_text(family, rule) for family, rule in pair_families(ours, ipv6))
        after = "\n".join(rule_text(family, rule) for family, rule in pair_families(wanted, ipv6))
        diff = []
        if steps:
            diff.append(dict(before_header="ufw rules commented %s" % self.comment,
                             after_header="ufw rules commented %s" % self.comment,
                             before=before + "\n" if before else "", after=after + "\n" if after else ""))
        if state_after != live["taken_over"]:
            diff.append(dict(before_header=TAKEN_OVER_PATH,
                             after_header=TAKEN_OVER_PATH + (" (removed)" if state_after is None else ""),
                             before=live["taken_over"] or "", after=state_after or ""))
        details = dict(taken_over=[rule_text(family, rule) for family, rule in conflicts],
                       given_back=[rule_text(family, rule) for family, rule, dummy in remembered] if policy is None else [])
        return Plan(live=live_steps, live_diff=diff, rules=after + "\n" if after else "", notes=notes, details=details)

    def apply(self, plan):
        for step, value in plan.live:
            if step == "remember":
                if value is None:
                    self.runner.remove_file(TAKEN_OVER_PATH)
                else:
                    self.runner.write_text(TAKEN_OVER_PATH, value, 0o600)
                continue
            out = self.runner.out(value)
            # ufw exits 0 when it finds nothing to delete or skips an existing rule.
            if "Could not delete" in out or "Skipping" in out:
                self.fail("%s did not change ufw: %s" % (" ".join(value), out.strip()), stdout=out)

    def verify(self, policy, persist=False):
        problems = super(Ufw, self).verify(policy, persist)
        active, status_rules = parse_status_verbose(self.runner.out(["ufw", "status", "verbose"]))
        if policy is None:
            if active and enforced_count(status_rules, self.comment):
                problems.append("ufw still enforces rules commented %s" % self.comment)
            return problems
        ipv6 = ipv6_enabled(self.runner.read_text(DEFAULTS_FILE))
        wanted = rule_tuples(render_rules(policy, ipv6), self.comment, ipv6)
        count = len(wanted[4]) + len(wanted[6])
        if not active:
            problems.append("ufw is not active: its rules are not enforced")
        elif enforced_count(status_rules, self.comment) != count:
            problems.append("ufw status verbose shows %d rule(s) commented %s, %d expected"
                            % (enforced_count(status_rules, self.comment), self.comment, count))
        return problems

    def persist(self, plan):
        """Nothing to do: ufw loads its own rule files at boot."""

    def counters(self):
        """The verdict rules' counters in ufw's user chains (the site's denies there went to us)."""
        counters = []
        for command in ("iptables", "ip6tables"):
            for mode, chain in UFW_USER_CHAINS.items():
                rc, out, dummy = self.runner.run([command, "-w", "-t", "filter", "-S", chain, "-v"], check=False)
                if rc == 0:
                    counters.extend(parse_ipt_counters(out, chain, mode))
        return sum_counters(counters)

    def _iptables_dumps(self):
        return save_both(self.runner, self.name)

    def backup(self):
        config, paths = config_archive(CONFIG_PATHS["ufw"])
        data = dict(config=config)
        data.update((family, text.encode("utf-8")) for family, text in self._iptables_dumps().items())
        return data, dict(paths=paths, running=self._active())

    def restore(self, meta, data, check_mode):
        changes = restore_config(CONFIG_PATHS["ufw"], data["config"], check_mode)
        with tarfile.open(fileobj=io.BytesIO(data["config"]), mode="r") as archive:
            try:
                member = archive.extractfile(archive_name("/etc/ufw/ufw.conf"))
            except KeyError:
                member = None
            # None also for a member that is no regular file: ufw.conf absent means disabled.
            want_enabled = member is not None and ufw_enabled(member.read().decode("utf-8", "replace"))
        active = self._active()
        before = "".join(ufw_chain_lines(text) for family, text in sorted(self._iptables_dumps().items()))
        saved = "".join(ufw_chain_lines(data[family].decode("utf-8")) for family in ("ipv4", "ipv6"))
        # Chains drifted from the files (someone used iptables on ufw's chains) need a reload too.
        needs_load = bool(changes) or active != want_enabled or (want_enabled and before != saved)
        if not needs_load or check_mode:
            return RestoreResult(needs_load, before, saved if needs_load else before, changes)
        if want_enabled:
            self.runner.run(["ufw", "reload"] if active else ["ufw", "--force", "enable"])
        elif active:
            self.runner.run(["ufw", "disable"])
        after = "".join(ufw_chain_lines(text) for family, text in sorted(self._iptables_dumps().items()))
        return RestoreResult(True, before, after, changes)
