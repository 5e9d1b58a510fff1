# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure rendering and parsing for the nftables and iptables rules modules.

Nothing here runs a command or touches a file: the modules feed in what the live firewall
printed and get back the text to apply, so every decision is unit-testable without root.
Renderers produce exactly what ``nft list table`` and ``iptables -S`` print for the same
rules (nftables 1.0 / iptables 1.8), which is what makes live comparison idempotent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    collapse_networks,
    normalize_ports,
)

MODES = ("host", "gateway")
ACTIONS = ("drop", "reject")
NFT_CHAINS = {"host": ("input", "input"), "gateway": ("forward", "forward")}
IPT_HOOKS = {"host": "INPUT", "gateway": "FORWARD"}
_HANDLE = re.compile(r"\s*# handle \d+")

# The rule options nftables_rules and iptables_rules share (documented in the doc fragment
# netsec.bjnp.firewall_rules); the defaults are the ports of the finding.
RULE_ARGUMENT_SPEC = dict(
    mode=dict(type="list", elements="str", choices=list(MODES), default=["host"]),
    ports=dict(type="list", elements="dict", default=[
        {"protocol": "tcp", "port": 9100},
        {"protocol": "tcp", "port": "8611-8614"},
        {"protocol": "udp", "port": "8611-8614"},
    ]),
    allowed_sources=dict(type="list", elements="str", default=[]),
    protected_destinations=dict(type="list", elements="str", default=[]),
    action=dict(type="str", choices=list(ACTIONS), default="drop"),
)


def build_policy(ports, allowed_sources, modes, protected_destinations, action):
    """Validate the user's options into one normalised policy dict.

    Raises ``ValueError`` naming the bad value. ``ports`` uses the role's
    ``[{protocol, port}]`` shape; addresses are collapsed so reordering or repeating
    entries renders the same rules.
    """
    modes = list(modes or [])
    if not modes:
        raise ValueError("mode is empty: give host, gateway or both")
    for mode in modes:
        if mode not in MODES:
            raise ValueError("mode '%s' is not one of %s" % (mode, ", ".join(MODES)))
    if action not in ACTIONS:
        raise ValueError("action '%s' is not one of %s" % (action, ", ".join(ACTIONS)))
    normalized_ports = normalize_ports(ports)
    if not normalized_ports["tcp"] and not normalized_ports["udp"]:
        raise ValueError("ports is empty: nothing to close")
    return {
        "ports": normalized_ports,
        "allowed": collapse_networks(allowed_sources),
        "protected": collapse_networks(protected_destinations),
        "modes": [mode for mode in MODES if mode in modes],
        "action": action,
    }


def _protected_families(policy):
    """Families whose forwarded traffic the gateway chain drops.

    No destinations means every forwarded destination in both families; destinations in
    one family only leave the other family's forwarded traffic alone.
    """
    protected = policy["protected"]
    if not protected[4] and not protected[6]:
        return {4: None, 6: None}
    return dict((family, nets) for family, nets in protected.items() if nets)


# --- nftables -------------------------------------------------------------------------

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


def _nft_verdicts(policy, match="", family=None):
    """Drop/reject lines for each protocol, prefixed by ``match`` (a daddr match or empty).

    Once a rule matches one family, nft spells the ICMP type of a reject out, so we do too.
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
        lines.append("\t\t%s%s dport %s %s" % (match, protocol, _nft_ports(ranges), verdict))
    return lines


def render_nft_table(policy, table="bjnp", priority=-10):
    """Render ``table inet <table>`` exactly as ``nft list table inet <table>`` prints it."""
    blocks = []
    for family in (4, 6):
        if policy["allowed"][family]:
            blocks.append(_nft_set("allowed_v%d" % family, family, policy["allowed"][family]))
    protected = _protected_families(policy) if "gateway" in policy["modes"] else {}
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
            lines.extend(_nft_verdicts(policy))
        elif set(protected) == {4, 6} and protected[4] is None:
            lines.extend(_nft_verdicts(policy))
        else:
            for family, keyword in ((4, "ip"), (6, "ip6")):
                if family in protected:
                    lines.extend(_nft_verdicts(policy, "%s daddr @protected_v%d " % (keyword, family), family))
        lines.append("\t}")
        blocks.append(lines)
    text = "table inet %s {\n" % table
    text += "\n\n".join("\n".join(block) for block in blocks)
    return text + "\n}\n"


def render_nft_transaction(table_text, table="bjnp"):
    """One atomic ``nft -f`` batch: create-or-replace our table, nothing else.

    ``add`` makes the ``delete`` valid when the table does not exist yet; the three
    commands commit together, so there is never a moment without our rules.
    """
    return "add table inet %s\ndelete table inet %s\n%s" % (table, table, table_text)


def render_nft_persist_file(table_text, table="bjnp"):
    return ("#!/usr/sbin/nft -f\n"
            "# Managed by netsec.bjnp.nftables_rules: blocks Canon BJNP (8611-8614) and raw print (9100).\n"
            "# Included from /etc/nftables.conf; replaces only table inet %s.\n" % table
            + render_nft_transaction(table_text, table))


def normalize_nft(text):
    """Canonical form for comparing listings: no handles, whitespace runs collapsed.

    nft wraps long element lists at a width of its choosing, so line breaks carry no meaning.
    """
    if not text:
        return ""
    return " ".join(_HANDLE.sub("", text).split())


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


# --- iptables -------------------------------------------------------------------------

def ipt_chain_names(prefix="BJNP"):
    return {"host": "%s-INPUT" % prefix, "gateway": "%s-FORWARD" % prefix}


def _ipt_match(option, network):
    """``-s NET `` / ``-d NET ``; nothing for a whole family (``iptables -S`` omits ``0.0.0.0/0``)."""
    if network.prefixlen == 0:
        return ""
    return "%s %s " % (option, network)


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
            lines.append("-A %s %s-p %s -m %s --dport %s -j %s" % (chain, match, protocol, protocol, port, target))
    return lines


def render_ipt(policy, family, prefix="BJNP"):
    """Desired state of one family: ``{"chains": {name: [rules]}, "jumps": {builtin: [rules]}}``.

    Rules are written the way ``iptables -S`` prints them. Our chains RETURN what is not
    ours to judge, so the packet continues through the host's own INPUT/FORWARD rules.
    A family that the gateway mode does not protect gets no chain at all.
    """
    names = ipt_chain_names(prefix)
    chains, jumps = {}, {}
    protected = _protected_families(policy) if "gateway" in policy["modes"] else {}
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
