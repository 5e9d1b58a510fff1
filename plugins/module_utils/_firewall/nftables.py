# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables backend: our own table ``inet bjnp``, persisted in a file nftables.conf includes.

The functions are pure: they render exactly what ``nft list table`` prints for the same rules
(nftables 1.0), which is what makes the live comparison idempotent. The class ``Nftables``
drives ``nft``. Nothing outside our table is ever named in a command.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.netsec.bjnp.plugins.module_utils._io import TempFile
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Backend, FileChange, Plan, RestoreResult, sum_counters
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import BACKENDS, nft_restore_script
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_backup import normalize_nft as normalize_nft_ruleset
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import LOG_PREFIX, protected_families

NFT_CHAINS = {"host": ("input", "input"), "gateway": ("forward", "forward")}
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_HANDLE = re.compile(r"\s*# handle \d+")
# What a named counter holds changes with every packet; it is not part of the rules.
_COUNTER_VALUES = re.compile(r"packets \d+ bytes \d+")
_COUNTER_BLOCK = re.compile(r"counter (\w+) \{\s*packets (\d+) bytes (\d+)\s*\}")
_COUNTER = re.compile(r"^(input|forward)_(tcp|udp)_(\d+(?:to\d+)?)$")
# iptables-nft keeps its tables in these families under these names: they are not "nftables in use".
_XTABLES = re.compile(r"^table (ip|ip6|arp|bridge) (filter|nat|mangle|raw|security|broute)$")
# nft 0.9 (Debian 11) reads an ICMP reject code only after "type"; 1.x reads both, prints it without.
_REJECT_CODE = re.compile(r"\breject with (icmp|icmpv6|icmpx) (?!type )")
# port-unreachable is the default code: nft 0.9 prints such a reject bare, 1.x spells it out.
_DEFAULT_REJECT = re.compile(r"\breject with (icmp|icmpv6|icmpx) (type )?port-unreachable\b")


def nft_priority(offset):
    """``-10`` -> ``filter - 10``, as ``nft list`` prints a standard priority with offset."""
    if offset == 0:
        return "filter"
    return "filter %s %d" % ("-" if offset < 0 else "+", abs(offset))


def _nft_ports(ranges):
    items = ["%d" % low if low == high else "%d-%d" % (low, high) for low, high in ranges]
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def _nft_network(network):
    # nft prints a single-address interval element without its /32 or /128.
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def _nft_set(name, family, networks):
    return ["\tset %s {" % name,
            "\t\ttype %s" % ("ipv4_addr" if family == 4 else "ipv6_addr"),
            "\t\tflags interval",
            "\t\telements = { %s }" % ", ".join(_nft_network(n) for n in networks),
            "\t}"]


def nft_counter_name(chain, protocol, low, high):
    """``input_tcp_9100``, ``forward_udp_8611to8614``: one named counter per chain and port range."""
    return "%s_%s_%s" % (chain, protocol, "%d" % low if low == high else "%dto%d" % (low, high))


def parse_nft_counter_name(name):
    """``(mode, protocol, "9100" or "8611-8614")`` from a name nft_counter_name made, or None."""
    match = _COUNTER.match(name or "")
    if not match:
        return None
    mode = dict((chain, mode) for mode, (chain, hook) in NFT_CHAINS.items())[match.group(1)]
    return mode, match.group(2), match.group(3).replace("to", "-")


def _nft_logs(policy, chain, protocol, match):
    """The counting and logging rules in front of a verdict, one per port range.

    Every packet is counted (per range, so each port range has its own figure); ``limit`` is
    a match, so once over the rate the rule stops before ``log``. nft omits the default burst.
    """
    log = policy["log"]
    burst = "" if log["burst"] == 5 else " burst %d packets" % log["burst"]
    return ['\t\t%s%s dport %s counter name "%s" limit rate %d/minute%s log prefix "%s"' % (
        match, protocol, _nft_ports([(low, high)]), nft_counter_name(chain, protocol, low, high), log["per_minute"],
        burst, LOG_PREFIX) for low, high in policy["ports"][protocol]]


def _nft_verdicts(policy, chain, match="", family=None):
    """Drop/reject lines for each protocol, prefixed by ``match`` (a daddr match or empty).

    Once a rule matches one family, nft spells the ICMP type of a reject out, so we do too.
    With logging on, each verdict has its counting and logging rule in front.
    """
    udp_reject = {None: "reject", 4: "reject with icmp port-unreachable",
                  6: "reject with icmpv6 port-unreachable"}[family]
    lines = []
    for protocol in ("tcp", "udp"):
        ranges = policy["ports"][protocol]
        if not ranges:
            continue
        if policy["action"] == "drop":
            verdict = "drop"
        else:
            verdict = "reject with tcp reset" if protocol == "tcp" else udp_reject
        if policy.get("log"):
            lines.extend(_nft_logs(policy, chain, protocol, match))
        lines.append("\t\t%s%s dport %s %s" % (match, protocol, _nft_ports(ranges), verdict))
    return lines


def _nft_counters(policy):
    """The named counters the logging rules count into, as ``nft list`` prints them (zeroed)."""
    if not policy.get("log"):
        return []
    return [["\tcounter %s {" % nft_counter_name(NFT_CHAINS[mode][0], protocol, low, high),
             "\t\tpackets 0 bytes 0", "\t}"]
            for mode in policy["modes"] for protocol in ("tcp", "udp") for low, high in policy["ports"][protocol]]


def render_nft_table(policy, table="bjnp", priority=-10):
    """Render ``table inet <table>`` exactly as ``nft list table inet <table>`` prints it.

    nft lists named counters before sets, whatever order they were declared in.
    """
    blocks = _nft_counters(policy)
    for family in (4, 6):
        if policy["allowed"][family]:
            blocks.append(_nft_set("allowed_v%d" % family, family, policy["allowed"][family]))
    protected = protected_families(policy) if "gateway" in policy["modes"] else {}
    for family in (4, 6):
        if protected.get(family):
            blocks.append(_nft_set("protected_v%d" % family, family, protected[family]))
    for mode in policy["modes"]:
        chain, hook = NFT_CHAINS[mode]
        lines = ["\tchain %s {" % chain,
                 "\t\ttype filter hook %s priority %s; policy accept;" % (hook, nft_priority(priority))]
        if mode == "host":
            # Loopback is this host talking to itself (CUPS to a local backend), never the network.
            lines.append('\t\tiifname "lo" accept')
        # accept only ends this table's chain: other tables still see the packet.
        for family, keyword in ((4, "ip"), (6, "ip6")):
            if policy["allowed"][family]:
                lines.append("\t\t%s saddr @allowed_v%d accept" % (keyword, family))
        if mode == "host":
            lines.extend(_nft_verdicts(policy, chain))
        elif set(protected) == {4, 6} and protected[4] is None:
            lines.extend(_nft_verdicts(policy, chain))
        else:
            for family, keyword in ((4, "ip"), (6, "ip6")):
                if family in protected:
                    lines.extend(_nft_verdicts(policy, chain, "%s daddr @protected_v%d " % (keyword, family), family))
        lines.append("\t}")
        blocks.append(lines)
    text = "table inet %s {\n" % table
    text += "\n\n".join("\n".join(block) for block in blocks)
    return text + "\n}\n"


def render_nft_transaction(table_text, table="bjnp"):
    """One atomic ``nft -f`` batch: create-or-replace our table, nothing else.

    ``add`` makes the ``delete`` valid when the table does not exist yet; the three
    commands commit together, so there is never a moment without our rules. Reject codes get
    their ``type`` keyword, which every nft reads (0.9 only that way).
    """
    body = _REJECT_CODE.sub(r"reject with \1 type ", table_text)
    return "add table inet %s\ndelete table inet %s\n%s" % (table, table, body)


def render_nft_persist_file(table_text, table="bjnp"):
    return ("#!/usr/sbin/nft -f\n"
            "# Managed by netsec.bjnp.firewall_rules: blocks Canon BJNP (8611-8614) and raw print (9100).\n"
            "# Included from /etc/nftables.conf; replaces only table inet %s.\n" % table
            + render_nft_transaction(table_text, table))


def normalize_nft(text):
    """Canonical form for comparing listings: no handles, counters at zero, whitespace runs
    collapsed, a reject with the default code (port-unreachable) written bare, as nft 0.9 prints it.

    nft wraps long element lists at a width of its choosing, so line breaks carry no meaning.
    """
    if not text:
        return ""
    text = _COUNTER_VALUES.sub("packets 0 bytes 0", _HANDLE.sub("", text))
    return " ".join(_DEFAULT_REJECT.sub("reject", text).split())


def parse_nft_counters(table_text):
    """The packets and bytes of our named counters in a ``nft list table`` listing (see counters())."""
    counters = []
    for name, packets, octets in _COUNTER_BLOCK.findall(table_text or ""):
        parsed = parse_nft_counter_name(name)
        if parsed:
            counters.append(dict(mode=parsed[0], protocol=parsed[1], ports=parsed[2],
                                 packets=int(packets), bytes=int(octets)))
    return sum_counters(counters)


def nft_include_line(path):
    return 'include "%s"' % path


def add_include(conf_text, path):
    """Return nftables.conf with our include appended once (after any ``flush ruleset``)."""
    line = nft_include_line(path)
    lines = (conf_text or "").splitlines()
    if any(existing.strip() == line for existing in lines):
        return conf_text
    if not lines:
        lines = ["#!/usr/sbin/nft -f"]
    lines.extend(["# netsec.bjnp: BJNP and raw-print block rules", line])
    return "\n".join(lines) + "\n"


def remove_include(conf_text, path):
    """Return nftables.conf without our include and the comment line we put above it."""
    line = nft_include_line(path)
    lines = (conf_text or "").splitlines()
    result = []
    for existing in lines:
        if existing.strip() == line:
            if result and result[-1] == "# netsec.bjnp: BJNP and raw-print block rules":
                result.pop()
            continue
        result.append(existing)
    if result == lines:
        return conf_text
    return "\n".join(result) + "\n" if result else ""


class Nftables(Backend):
    """Our table in the live ruleset, one ``nft -f`` transaction per change."""

    name = "nftables"
    tools = ("nft",)
    backup_files = BACKENDS["nftables"]

    @property
    def table(self):
        return self.options["nftables_table"]

    def validate(self):
        if not _IDENTIFIER.match(self.table or ""):
            return ["nftables_table %r is not a plain name (a letter, then letters, digits or _, at most 64)"
                    % (self.table,)]
        return []

    def in_use(self):
        """A native table (not one of iptables-nft's), or nftables.service enabled at boot."""
        tables = self.runner.run(["nft", "list", "tables"], check=False)[1]
        if any(line.strip() and not _XTABLES.match(line.strip()) for line in tables.splitlines()):
            return True
        if not self.runner.have("systemctl"):
            return False
        return self.runner.run(["systemctl", "is-enabled", "nftables.service"], check=False)[1].strip() == "enabled"

    def read(self):
        rc, out, err = self.runner.run(["nft", "list", "table", "inet", self.table], check=False)
        if rc != 0 and "No such file or directory" not in err:
            self.fail("nft list table inet %s failed: %s" % (self.table, err.strip()), rc=rc)
        return dict(table=out if rc == 0 else None,
                    files=dict((path, self.runner.read_text(path)) for path in self._paths()),
                    service_enabled=self._service_enabled())

    def _paths(self):
        return (self.options["nftables_persist_path"], self.options["nftables_conf"])

    def counters(self):
        return parse_nft_counters(self.read()["table"])

    def _service_enabled(self):
        """None where systemd does not run (nothing to enable), else whether it is enabled."""
        if not self.runner.isdir("/run/systemd/system") or not self.runner.have("systemctl"):
            return None
        return self.runner.run(["systemctl", "is-enabled", "nftables.service"], check=False)[1].strip() == "enabled"

    def _canonical(self, transaction):
        """How this nft version prints the rendered table, loaded in a throwaway network namespace."""
        if not self.runner.have("unshare"):
            return None
        with TempFile(transaction, ".nft") as path:
            rc, out, dummy = self.runner.run(
                ["unshare", "--net", "sh", "-c", 'nft -f "$0" && nft list table inet "$1"', path, self.table],
                check=False)
        return out if rc == 0 else None

    def check_text(self, text, what):
        with TempFile(text, ".nft") as path:
            rc, dummy, err = self.runner.run(["nft", "-c", "-f", path], check=False)
        if rc != 0:
            self.fail("nft -c rejected the %s: %s" % (what, err.strip()), rules=text)

    def plan(self, policy, live, persist):
        table, conf_path = self.table, self.options["nftables_conf"]
        persist_path = self.options["nftables_persist_path"]
        files = live["files"]
        steps, diff, changes = [], [], []
        if policy is not None:
            rendered = render_nft_table(policy, table, self.options["nftables_priority"])
            transaction = render_nft_transaction(rendered, table)
            differs = normalize_nft(live["table"]) != normalize_nft(rendered)
            if differs and live["table"] is not None:
                canonical = self._canonical(transaction)
                differs = canonical is None or normalize_nft(live["table"]) != normalize_nft(canonical)
            if differs:
                self.check_text(transaction, "rendered table")
                steps.append(("load", transaction))
            if persist:
                persisted = render_nft_persist_file(rendered, table)
                changes = [FileChange(persist_path, files[persist_path], persisted),
                           FileChange(conf_path, files[conf_path], add_include(files[conf_path], persist_path), 0o755)]
                if changes[0].before != changes[0].after:
                    self.check_text(persisted, "file to persist (%s)" % persist_path)
        else:
            rendered = ""
            if live["table"] is not None:
                steps.append(("delete", None))
            changes = [FileChange(persist_path, files[persist_path], None)]
            if files[conf_path] is not None:
                changes.append(FileChange(conf_path, files[conf_path], remove_include(files[conf_path], persist_path), 0o755))
        if steps:
            diff.append(dict(before_header="live table inet %s" % table, after_header="live table inet %s" % table,
                             before=live["table"] or "", after=rendered))
        services = ["nftables.service"] if (policy is not None and persist and self.options["nftables_enable_service"]
                                            and live["service_enabled"] is False) else []
        return Plan(live=steps, live_diff=diff, files=changes, rules=rendered, services=services)

    def apply(self, plan):
        for step, text in plan.live:
            if step == "load":
                with TempFile(text, ".nft") as path:
                    rc, dummy, err = self.runner.run(["nft", "-f", path], check=False)
                if rc != 0:
                    self.fail("nft -f failed, the live ruleset is unchanged: %s" % err.strip(), rules=text)
            else:
                self.runner.run(["nft", "delete", "table", "inet", self.table])

    def revert(self, before):
        """Our table as ``before`` held it (or gone), in one transaction; our boot files as they were."""
        if before["table"] is None:
            return super(Nftables, self).revert(before)
        now = self.read()
        if normalize_nft(now["table"]) != normalize_nft(before["table"]):
            with TempFile(render_nft_transaction(before["table"], self.table), ".nft") as path:
                self.runner.run(["nft", "-f", path])
        modes = {self.options["nftables_conf"]: 0o755}
        for path, text in before["files"].items():
            if now["files"].get(path) != text:
                FileChange(path, None, text, modes.get(path, 0o644)).write(self.runner)
        return True

    def persist(self, plan):
        conf = self.options["nftables_conf"]
        changes = dict((change.path, change) for change in plan.files)
        if conf in changes and changes[conf].after is not None:
            self.check_conf(changes[conf].before, plan.rules)
        super(Nftables, self).persist(plan)
        for unit in plan.services:
            self.runner.run(["systemctl", "enable", unit])

    def check_conf(self, conf_text, rendered):
        """nft -c of the nftables.conf that boot would load, our file included, before either is written.

        A site include that no longer loads must not become a firewall that fails at boot.
        """
        conf = self.options["nftables_conf"]
        with TempFile(render_nft_persist_file(rendered, self.table), ".nft") as ours:
            candidate = add_include(conf_text, ours)
            with TempFile(candidate, ".nft") as path:
                rc, dummy, err = self.runner.run(["nft", "-c", "-f", path], check=False)
        if rc != 0:
            self.fail("nft -c rejected %s with our include line added, so it was left as it was (it would not load "
                      "at boot): %s" % (conf, err.strip()))

    def backup(self):
        return {"ruleset": self.runner.out(["nft", "list", "ruleset"]).encode("utf-8")}, {}

    def restore(self, meta, data, check_mode):
        saved = data["ruleset"].decode("utf-8")
        before = self.runner.out(["nft", "list", "ruleset"])
        if normalize_nft_ruleset(before) == normalize_nft_ruleset(saved):
            return RestoreResult(False, before, before)
        script = nft_restore_script(saved)
        self.check_text(script, "saved ruleset")
        if check_mode:
            return RestoreResult(True, before, saved)
        with TempFile(script, ".nft") as path:
            self.runner.run(["nft", "-f", path])
        return RestoreResult(True, before, self.runner.out(["nft", "list", "ruleset"]))
