# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure rendering and parsing of the iptables backends.

The expected texts are what iptables 1.8.9 prints for the loaded rules (the integration tests load them
into real network namespaces and compare the listing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import iptables as fw
from rule_policies import policy


# --- iptables ---------------------------------------------------------------------------

def test_ipt_host_v4_and_v6():
    pol = policy(allowed=["192.0.2.10", "2001:db8::/64"], action="reject")
    v4 = fw.render_ipt(pol, 4)
    assert v4 == {"chains": {"BJNP-INPUT": [
        "-A BJNP-INPUT -i lo -j RETURN",
        "-A BJNP-INPUT -s 192.0.2.10/32 -j RETURN",
        "-A BJNP-INPUT -p tcp -m tcp --dport 8611:8614 -j REJECT --reject-with tcp-reset",
        "-A BJNP-INPUT -p tcp -m tcp --dport 9100 -j REJECT --reject-with tcp-reset",
        "-A BJNP-INPUT -p udp -m udp --dport 8611:8614 -j REJECT --reject-with icmp-port-unreachable"]},
        "jumps": {"INPUT": ["-A INPUT -j BJNP-INPUT"]}}
    v6 = fw.render_ipt(pol, 6)
    assert v6["chains"]["BJNP-INPUT"][1] == "-A BJNP-INPUT -s 2001:db8::/64 -j RETURN"
    assert v6["chains"]["BJNP-INPUT"][-1].endswith("--reject-with icmp6-port-unreachable")


def test_ipt_gateway_destinations_of_one_family_leave_the_other_alone():
    pol = policy(modes=["gateway"], protected=["198.51.100.0/24"])
    v4 = fw.render_ipt(pol, 4, prefix="PRN")
    assert v4["jumps"] == {"FORWARD": ["-A FORWARD -j PRN-FORWARD"]}
    assert v4["chains"]["PRN-FORWARD"][0] == "-A PRN-FORWARD -d 198.51.100.0/24 -p tcp -m tcp --dport 8611:8614 -j DROP"
    assert fw.render_ipt(pol, 6, prefix="PRN") == {"chains": {}, "jumps": {}}


LIVE_FOREIGN = """-P INPUT DROP
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N DOCKER
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j DOCKER
"""


def synced_listing(desired, foreign=LIVE_FOREIGN):
    """What ``iptables -S`` prints after our restore on top of ``foreign``."""
    lines = foreign.splitlines()
    policies = [line for line in lines if line.startswith(("-P", "-N"))]
    rules = [line for line in lines if line.startswith("-A")]
    ours = ["-N %s" % chain for chain in sorted(desired["chains"])]
    jumps = desired["jumps"].get("INPUT", []) + desired["jumps"].get("FORWARD", [])
    body = [rule for chain in sorted(desired["chains"]) for rule in desired["chains"][chain]]
    return "\n".join(policies + ours + jumps + rules + body) + "\n"


def test_ipt_sync_detection():
    desired = fw.render_ipt(policy(modes=["host", "gateway"]), 4)
    good = synced_listing(desired)
    assert fw.ipt_in_sync(fw.parse_ipt_rules(good), desired)
    # flushed chain
    flushed = "\n".join(line for line in good.splitlines() if not line.startswith("-A BJNP-INPUT")) + "\n"
    assert not fw.ipt_in_sync(fw.parse_ipt_rules(flushed), desired)
    # jump pushed down by someone's -I
    pushed = good.replace("-A INPUT -j BJNP-INPUT\n", "-A INPUT -j ACCEPT\n-A INPUT -j BJNP-INPUT\n")
    assert not fw.ipt_in_sync(fw.parse_ipt_rules(pushed), desired)
    # duplicated jump
    doubled = good.replace("-A INPUT -j BJNP-INPUT\n", "-A INPUT -j BJNP-INPUT\n-A INPUT -j BJNP-INPUT\n")
    assert not fw.ipt_in_sync(fw.parse_ipt_rules(doubled), desired)
    # nothing of ours yet
    assert not fw.ipt_in_sync(fw.parse_ipt_rules(LIVE_FOREIGN), desired)
    # absent wanted and nothing there
    assert fw.ipt_in_sync(fw.parse_ipt_rules(LIVE_FOREIGN), {"chains": {}, "jumps": {}})


def test_ipt_restore_repairs_and_names_nothing_foreign():
    desired = fw.render_ipt(policy(modes=["host", "gateway"]), 4)
    live = fw.parse_ipt_rules(synced_listing(desired).replace(
        "-A INPUT -j BJNP-INPUT\n", "-A INPUT -j ACCEPT\n-A INPUT -j BJNP-INPUT\n-A INPUT -j BJNP-INPUT\n"))
    script = fw.render_ipt_restore(live, desired).splitlines()
    assert script[0] == "*filter" and script[-1] == "COMMIT"
    assert script[1:4] == ["-D INPUT -j BJNP-INPUT", "-D INPUT -j BJNP-INPUT", "-D FORWARD -j BJNP-FORWARD"]
    assert ":BJNP-INPUT - [0:0]" in script and ":BJNP-FORWARD - [0:0]" in script
    assert script[-3:-1] == ["-I INPUT 1 -j BJNP-INPUT", "-I FORWARD 1 -j BJNP-FORWARD"]
    assert not [line for line in script if "DOCKER" in line or "22" in line or "ACCEPT" in line]


def test_ipt_restore_for_absent_deletes_jumps_then_chains():
    desired = fw.render_ipt(policy(), 4)
    live = fw.parse_ipt_rules(synced_listing(desired))
    script = fw.render_ipt_restore(live, {"chains": {}, "jumps": {}}).splitlines()
    assert script == ["*filter", "-D INPUT -j BJNP-INPUT", "-F BJNP-INPUT", "-X BJNP-INPUT", "COMMIT"]


def test_gateway_jump_with_match_is_deleted_verbatim():
    live = fw.parse_ipt_rules("-P FORWARD ACCEPT\n-N BJNP-FORWARD\n-A FORWARD -d 10.9.0.0/16 -j BJNP-FORWARD\n")
    script = fw.render_ipt_restore(live, {"chains": {}, "jumps": {}})
    assert "-D FORWARD -d 10.9.0.0/16 -j BJNP-FORWARD\n" in script


def test_ipt_text_for_diffs():
    assert fw.render_ipt_text({"chains": {}, "jumps": {}}) == ""
    text = fw.render_ipt_text(fw.render_ipt(policy(), 6))
    assert text.splitlines()[0] == "-N BJNP-INPUT" and text.splitlines()[-1] == "-A INPUT -j BJNP-INPUT"


SAVED = """# Generated by iptables-save v1.8.9 on Wed Nov 25 11:00:00 2026
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
COMMIT
*filter
:INPUT DROP [12:3456]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""


def test_rules_file_merge_keeps_everything_else_and_is_idempotent():
    desired = fw.render_ipt(policy(modes=["host", "gateway"]), 4)
    merged = fw.merge_rules_file(SAVED, desired)
    lines = merged.splitlines()
    start = lines.index("*filter")
    assert lines[start + 1:start + 8] == [
        ":INPUT DROP [12:3456]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":BJNP-FORWARD - [0:0]", ":BJNP-INPUT - [0:0]", "-A INPUT -j BJNP-INPUT", "-A FORWARD -j BJNP-FORWARD"]
    assert lines[-1] == "COMMIT" and lines[-2] == desired["chains"]["BJNP-INPUT"][-1]
    assert fw.merge_rules_file(merged, desired) == merged
    assert fw.merge_rules_file(merged, {"chains": {}, "jumps": {}}) == SAVED


def test_rules_file_without_filter_section():
    desired = fw.render_ipt(policy(), 6)
    merged = fw.merge_rules_file("", desired)
    assert merged.splitlines()[:6] == ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                                       ":OUTPUT ACCEPT [0:0]", ":BJNP-INPUT - [0:0]", "-A INPUT -j BJNP-INPUT"]
    assert fw.merge_rules_file("", {"chains": {}, "jumps": {}}) == ""


@pytest.mark.parametrize("seed", [SAVED, ""])
def test_a_file_we_created_is_deleted_by_absent_while_nobody_changed_it(seed):
    desired = fw.render_ipt(policy(modes=["host", "gateway"]), 4)
    created = fw.seed_rules_file(seed, desired)
    assert created.startswith(fw.SEED_HEADER) and created.endswith(fw.merge_rules_file(seed, desired))
    # Later runs keep the header (and so the checksum), whatever the allow-list becomes.
    rerun = fw.merge_rules_file(created, fw.render_ipt(policy(allowed=["192.0.2.10"]), 4))
    assert rerun.splitlines()[0] == created.splitlines()[0]
    assert fw.unmerge_rules_file(created) is None
    assert fw.unmerge_rules_file(rerun) is None


def test_a_file_we_created_and_someone_changed_is_kept_without_our_lines():
    desired = fw.render_ipt(policy(), 4)
    edited = fw.seed_rules_file(SAVED, desired).replace("--dport 22 -j ACCEPT", "--dport 2222 -j ACCEPT")
    kept = fw.unmerge_rules_file(edited)
    assert kept == SAVED.replace("--dport 22 -j ACCEPT", "--dport 2222 -j ACCEPT")


def test_a_file_we_did_not_create_only_loses_our_lines():
    merged = fw.merge_rules_file(SAVED, fw.render_ipt(policy(), 4))
    assert fw.unmerge_rules_file(merged) == SAVED


def test_strip_counters():
    assert fw.strip_counters(SAVED).splitlines()[:2] == ["*nat", ":PREROUTING ACCEPT [0:0]"]
    assert ":INPUT DROP [0:0]" in fw.strip_counters(SAVED)


_foreign_rule = st.builds(
    lambda chain, port, target: "-A %s -p tcp -m tcp --dport %d -j %s" % (chain, port, target),
    st.sampled_from(["INPUT", "FORWARD", "OUTPUT"]), st.integers(1, 65535), st.sampled_from(["ACCEPT", "DROP"]))


@given(st.lists(_foreign_rule, max_size=8), st.sampled_from([["host"], ["gateway"], ["host", "gateway"]]))
def test_rules_file_round_trip(foreign, modes):
    """Adding then removing our lines gives back any foreign file line for line."""
    text = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n%sCOMMIT\n" % (
        "".join(rule + "\n" for rule in foreign))
    desired = fw.render_ipt(policy(modes=modes), 4)
    merged = fw.merge_rules_file(text, desired)
    assert [line for line in merged.splitlines() if "BJNP" not in line] == text.splitlines()
    assert fw.merge_rules_file(merged, {"chains": {}, "jumps": {}}) == text


# nft list table ip filter, as iptables-nft leaves it (1.8.9), with and without someone's empty chain.
EMPTY_FILTER = """table ip filter {
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t}
\tchain FORWARD {
\t\ttype filter hook forward priority filter; policy accept;
\t}
}
"""


def test_an_empty_table_iptables_nft_created_is_deletable():
    assert fw.empty_builtin_table(EMPTY_FILTER)


@pytest.mark.parametrize("listing", [
    EMPTY_FILTER.replace("}\n}\n", "}\n\tchain F2B {\n\t}\n}\n"),
    EMPTY_FILTER.replace("policy accept;\n\t}\n\tchain FORWARD", "policy drop;\n\t}\n\tchain FORWARD"),
    EMPTY_FILTER.replace("accept;\n\t}\n}", "accept;\n\t\tcounter packets 0 bytes 0 accept\n\t}\n}"),
    "",
])
def test_a_table_someone_uses_is_never_deleted(listing):
    assert not fw.empty_builtin_table(listing)
