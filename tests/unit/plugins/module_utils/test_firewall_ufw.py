# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw backend: rendering, parsing of ufw's own files and output, plans, and the class.

Every ufw text here was captured from ufw 0.36.2 (Debian 12, the image
localhost/netsec-bjnp-debian12-ufw) in fixtures/ufw/<state>/: user.rules, user6.rules,
/etc/default/ufw, `ufw show added`, `ufw status verbose`. commands-*.json are the commands
the class ran there and what ufw answered, replayed by a fake runner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_firewall as fw
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import ufw
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Plan
from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "ufw")
PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]
# What the fixtures were made with (see the integration test for the same sequence).
HOST_ALLOWED = dict(allowed=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"])
GATEWAY_REJECT = dict(allowed=["10.0.0.0/8", "2001:db8::/32"], modes=["host", "gateway"],
                      protected=["10.9.0.5", "2001:db8:9::5"], action="reject")
OPTIONS = dict(ufw_comment="netsec.bjnp", ufw_site_rules="take_over")


def policy(allowed=(), modes=("host",), protected=(), action="drop", ports=None):
    return fw.build_policy(PORTS if ports is None else ports, list(allowed), list(modes), list(protected), action)


def fixture(*parts):
    path = os.path.join(FIXTURES, *parts)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def live(state):
    """What Ufw.read() returns on the host the fixture ``state`` was captured from."""
    ipv6 = ufw.ipv6_enabled(fixture(state, "default-ufw"))
    return dict(ipv6=ipv6, taken_over=fixture(state, "taken-over.json"),
                tuples={4: ufw.parse_user_rules(fixture(state, "user.rules"), 4),
                        6: ufw.parse_user_rules(fixture(state, "user6.rules"), 6) if ipv6 else []})


def our_lines(state):
    return [line for line in fixture(state, "show-added.txt").splitlines() if line.endswith("comment 'netsec.bjnp'")]


def shown(tuples, ipv6=True):
    """Rule texts in the order and spelling of `ufw show added`."""
    return [ufw.rule_text(family, rule) for family, rule in ufw.pair_families(tuples, ipv6)]


def backend(runner=None, **options):
    return ufw.Ufw(runner, dict(OPTIONS, **options))


def commands(plan):
    return [value for step, value in plan.live if step == "ufw"]


# --- rendering ----------------------------------------------------------------------------

@pytest.mark.parametrize("state, kwargs", [
    ("host_allowed", HOST_ALLOWED),
    ("gateway_reject", GATEWAY_REJECT),
    ("ipv6_off", dict(allowed=["10.0.0.0/8", "2001:db8::/32"], modes=["host", "gateway"],
                      protected=["2001:db8:9::5"])),
])
def test_rendered_tuples_are_what_ufw_wrote(state, kwargs):
    host = live(state)
    wanted = ufw.rule_tuples(ufw.render_rules(policy(**kwargs), host["ipv6"]), "netsec.bjnp", host["ipv6"])
    for family in (4, 6):
        assert wanted[family] == [rule for rule in host["tuples"][family] if rule.comment == "netsec.bjnp"]
    assert shown(wanted, host["ipv6"]) == our_lines(state)


def test_host_rules_deny_every_port_range_for_both_families():
    rules = ufw.render_rules(policy(), ipv6=True)
    assert rules == [dict(route=False, action="deny", src="any", dst="any", port=port, proto=proto, family="any", log="")
                     for proto, port in (("tcp", "8611:8614"), ("tcp", "9100"), ("udp", "8611:8614"))]
    argv = [ufw.ufw_command("prepend", family, rule) for family, rule in ufw.rule_commands(rules, "netsec.bjnp")]
    assert argv[1] == ["ufw", "prepend", "deny", "from", "any", "to", "any", "port", "9100", "proto", "tcp",
                       "comment", "netsec.bjnp"]


def test_allow_rules_come_before_the_denies_and_hosts_lose_their_prefix_length():
    rules = ufw.render_rules(policy(allowed=["192.0.2.7/32", "2001:db8::1/128"], ports=PORTS[:1]), ipv6=True)
    assert [(rule["action"], rule["src"], rule["family"]) for rule in rules] == [
        ("allow", "192.0.2.7", 4), ("allow", "2001:db8::1", 6), ("deny", "any", "any")]


def test_overlapping_allow_lists_render_one_rule_per_network():
    one = ufw.render_rules(policy(allowed=["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"]), ipv6=True)
    assert [rule["src"] for rule in one if rule["action"] == "allow"] == ["10.0.0.0/8"] * 3
    assert one == ufw.render_rules(policy(allowed=["10.1.2.3", "10.0.0.0/8", "10.0.0.0/8"]), ipv6=True)


def test_reject_action():
    assert set(rule["action"] for rule in ufw.render_rules(policy(action="reject"), ipv6=True)) == {"reject"}


def test_without_ipv6_in_ufw_ipv6_sources_and_destinations_are_left_out():
    rules = ufw.render_rules(policy(allowed=["2001:db8::/32", "10.0.0.0/8"], modes=["gateway"],
                                    protected=["2001:db8:9::5"]), ipv6=False)
    assert rules == []  # a v6-only gateway is not ufw's to filter without IPv6
    tuples = ufw.rule_tuples(ufw.render_rules(policy(allowed=["2001:db8::/32"]), ipv6=False), "c", ipv6=False)
    assert tuples[6] == [] and all(rule.action == "deny" for rule in tuples[4])


def test_gateway_rules_route_to_each_destination_and_allow_sources_of_its_family():
    rules = ufw.render_rules(policy(allowed=["10.0.0.0/8", "2001:db8::/32"], modes=["gateway"],
                                    protected=["10.9.0.5", "2001:db8:9::/64"], ports=PORTS[:1]), ipv6=True)
    assert [(r["route"], r["action"], r["src"], r["dst"], r["family"]) for r in rules] == [
        (True, "allow", "10.0.0.0/8", "10.9.0.5", 4), (True, "allow", "2001:db8::/32", "2001:db8:9::/64", 6),
        (True, "deny", "any", "10.9.0.5", 4), (True, "deny", "any", "2001:db8:9::/64", 6)]


def test_gateway_without_destinations_protects_every_forwarded_destination():
    rules = ufw.render_rules(policy(modes=["host", "gateway"], ports=PORTS[:1]), ipv6=True)
    assert [(r["route"], r["dst"], r["family"]) for r in rules] == [(False, "any", "any"), (True, "any", "any")]
    assert ufw.rule_text("any", ufw.rule_commands(rules, "netsec.bjnp")[1][1]) == \
        "ufw route deny 9100/tcp comment 'netsec.bjnp'"


# --- parsing ------------------------------------------------------------------------------

def test_parse_user_rules_reads_route_comment_and_order():
    tuples = ufw.parse_user_rules(fixture("gateway_reject", "user.rules"), 4)
    assert tuples[0] == ufw.UfwTuple(4, False, "allow", "", "tcp", "8611:8614", "0.0.0.0/0", "any", "10.0.0.0/8",
                                     None, "in", "netsec.bjnp")
    site = [rule for rule in tuples if rule.comment == ""]
    assert site == [ufw.UfwTuple(4, False, "allow", "", "tcp", "22", "0.0.0.0/0", "any", "0.0.0.0/0", None, "in", ""),
                    ufw.UfwTuple(4, True, "allow", "", "any", "any", "10.9.0.0/16", "any", "10.8.0.0/16", None, "in", "")]
    assert ufw.rule_text(4, site[1]) == "ufw route allow from 10.8.0.0/16 to 10.9.0.0/16"


def test_parse_user_rules_reads_log_types():
    # Lines ufw 0.36.2 wrote for `ufw allow log 7000/tcp` and `ufw limit log-all 7001/tcp`.
    text = ("### tuple ### allow_log tcp 7000 0.0.0.0/0 any 0.0.0.0/0 in\n"
            "### tuple ### limit_log-all tcp 7001 0.0.0.0/0 any 0.0.0.0/0 in\n")
    logged, limited = ufw.parse_user_rules(text, 4)
    assert (logged.action, logged.log, limited.action, limited.log) == ("allow", "log", "limit", "log-all")
    assert ufw.rule_text("any", limited) == "ufw limit log-all 7001/tcp"


def test_site_rules_render_as_ufw_show_added_prints_them():
    for state in ("site", "exposed", "host_allowed", "gateway_reject", "taken_over"):
        host = live(state)
        printed = fixture(state, "show-added.txt").splitlines()[1:]
        assert shown(host["tuples"]) == printed, state


def test_one_family_rule_to_every_address_names_its_family():
    # Show added prints both as `ufw route deny 9999/tcp`: only the files tell them apart.
    v4 = ufw.parse_user_rules("### tuple ### route:deny tcp 9999 0.0.0.0/0 any 0.0.0.0/0 in comment=7431", 4)
    v6 = ufw.parse_user_rules("### tuple ### route:deny tcp 9999 ::/0 any ::/0 in comment=7432", 6)
    pairs = ufw.pair_families({4: v4, 6: v6})
    assert [family for family, rule in pairs] == [4, 6]
    assert ufw.ufw_command("delete", 6, pairs[1][1]) == [
        "ufw", "route", "delete", "deny", "from", "::/0", "to", "::/0", "port", "9999", "proto", "tcp", "comment", "t2"]
    assert ufw.rule_text(4, pairs[0][1]) == "ufw route deny 9999/tcp comment 't1' (IPv4 only)"


def test_ipv6_setting():
    assert ufw.ipv6_enabled(fixture("site", "default-ufw")) is True
    assert ufw.ipv6_enabled(fixture("ipv6_off", "default-ufw")) is False
    assert ufw.ipv6_enabled(None) is False


def test_parse_status_verbose():
    active, rules = ufw.parse_status_verbose(fixture("gateway_reject", "status-verbose.txt"))
    assert active is True
    assert ufw.enforced_count(rules, "netsec.bjnp") == 12 + 2 * 3 + 6  # v4 + both-family denies + v6
    assert "10.9.0.0/16                ALLOW FWD   10.8.0.0/16" in rules
    assert ufw.parse_status_verbose(fixture("status-inactive.txt")) == (False, [])


# --- plans --------------------------------------------------------------------------------

def test_fresh_host_prepends_every_rule_denies_first():
    plan = backend().plan(policy(**HOST_ALLOWED), live("site"), persist=True)
    argv = commands(plan)
    assert len(argv) == 12 and all(command[1] == "prepend" for command in argv)
    # The last prepended lands first: every deny goes in before every allow rule, IPv6 ones too.
    assert [command[2] for command in argv] == ["deny"] * 3 + ["allow"] * 9
    assert argv[-1][2:9] == ["allow", "from", "10.0.0.0/8", "to", "any", "port", "8611:8614"]
    assert plan.diff()[0]["after"].splitlines() == our_lines("host_allowed")
    assert plan.details == dict(taken_over=[], given_back=[]) and not plan.persist_changed


def test_in_place_rules_plan_nothing():
    plan = backend().plan(policy(**HOST_ALLOWED), live("host_allowed"), persist=True)
    assert not plan.changed and plan.diff() == []
    assert not backend().plan(policy(**GATEWAY_REJECT), live("gateway_reject"), persist=True).changed


def test_one_rule_deleted_replaces_ours():
    host = live("host_allowed")
    host["tuples"][4] = [rule for rule in host["tuples"][4] if rule.dport != "9100" or rule.action != "deny"]
    argv = commands(backend().plan(policy(**HOST_ALLOWED), host, persist=False))
    deletes = [command for command in argv if command[1] == "delete"]
    assert len(deletes) == 12  # the v6 half of the deleted deny is deleted as a v6-only rule
    assert ["ufw", "delete", "deny", "from", "::/0", "to", "::/0", "port", "9100", "proto", "tcp",
            "comment", "netsec.bjnp"] in deletes
    assert len(argv) == 12 + 12


def test_order_drift_is_a_change():
    host = live("host_allowed")
    host["tuples"][4] = list(reversed(host["tuples"][4]))
    assert backend().plan(policy(**HOST_ALLOWED), host, persist=False).changed


def test_changed_allow_list():
    plan = backend().plan(policy(allowed=["10.0.0.0/8"]), live("host_allowed"), persist=False)
    assert plan.changed
    assert [line for line in plan.diff()[0]["after"].splitlines() if "192.0.2.7" in line or "2001:db8" in line] == []
    assert len(plan.diff()[0]["before"].splitlines()) == 12


def test_site_rules_matching_ours_are_taken_over():
    plan = backend().plan(policy(**HOST_ALLOWED), live("exposed"), persist=False)
    assert plan.details["taken_over"] == ["ufw allow 9100/tcp", "ufw allow 8611:8614/udp"]
    assert "ufw allow 9100/tcp, ufw allow 8611:8614/udp" in plan.notes[0]
    # Remembered before anything is deleted.
    assert plan.live[0] == ("remember", fixture("taken_over", "taken-over.json"))
    assert commands(plan)[:2] == [["ufw", "delete", "allow", "from", "any", "to", "any", "port", "9100", "proto", "tcp"],
                                  ["ufw", "delete", "allow", "from", "any", "to", "any", "port", "8611:8614",
                                   "proto", "udp"]]
    assert plan.diff()[1]["before_header"] == ufw.TAKEN_OVER_PATH


def test_after_take_over_nothing_to_do():
    assert not backend().plan(policy(**HOST_ALLOWED), live("taken_over"), persist=False).changed


def test_refuse_mode_names_the_site_rules_and_changes_nothing():
    with pytest.raises(FirewallError) as info:
        backend(ufw_site_rules="refuse").plan(policy(**HOST_ALLOWED), live("exposed"), persist=False)
    assert "ufw allow 9100/tcp, ufw allow 8611:8614/udp" in info.value.message
    assert "Nothing was changed." in info.value.message
    assert info.value.details["conflicts"] == ["ufw allow 9100/tcp", "ufw allow 8611:8614/udp"]


def test_site_rule_matching_an_allow_rule_is_taken_over_too():
    host = live("site")
    host["tuples"][4].append(ufw.UfwTuple(4, False, "deny", "", "tcp", "9100", "0.0.0.0/0", "any", "10.0.0.0/8",
                                          None, "in", ""))
    plan = backend().plan(policy(**HOST_ALLOWED), host, persist=False)
    assert plan.details["taken_over"] == ["ufw deny from 10.0.0.0/8 to any port 9100 proto tcp"]


def test_removal_gives_taken_over_rules_back_and_forgets_them():
    plan = backend().plan(None, live("taken_over"), persist=True)
    recorded = [entry["args"] for entry in json.loads(fixture("commands-giveback.json")) if entry["args"][1] != "status"]
    assert commands(plan) == recorded
    assert recorded[-2:] == [["ufw", "allow", "from", "any", "to", "any", "port", "9100", "proto", "tcp"],
                             ["ufw", "allow", "from", "any", "to", "any", "port", "8611:8614", "proto", "udp"]]
    assert plan.live[-1] == ("remember", None)
    assert plan.details["given_back"] == ["ufw allow 9100/tcp", "ufw allow 8611:8614/udp"]
    assert plan.rules == ""


def test_removal_without_our_rules_is_no_change():
    assert not backend().plan(None, live("site"), persist=True).changed
    assert not backend().plan(None, live("exposed"), persist=True).changed


def test_give_back_puts_rules_at_their_old_position_when_it_still_exists():
    rule = ufw.parse_user_rules(fixture("exposed", "user.rules"), 4)[2]
    assert ufw.give_back_steps([("any", rule, 2), (6, rule._replace(family=6, src="::/0", dst="::/0"), None)], 3) == [
        ["ufw", "insert", "2", "allow", "from", "any", "to", "any", "port", "9100", "proto", "tcp"],
        ["ufw", "allow", "from", "::/0", "to", "::/0", "port", "9100", "proto", "tcp"]]
    assert ufw.give_back_steps([("any", rule, 5)], 3) == [
        ["ufw", "allow", "from", "any", "to", "any", "port", "9100", "proto", "tcp"]]


def test_taken_over_state_round_trips():
    text = fixture("taken_over", "taken-over.json")
    assert ufw.dump_taken_over(ufw.load_taken_over(text)) == text
    assert ufw.load_taken_over(None) == []


@pytest.mark.parametrize("comment, ok", [("netsec.bjnp", True), ("", False), ("it's", False), ("a\nb", False)])
def test_comment_must_be_a_plain_label(comment, ok):
    assert (backend(ufw_comment=comment).validate() == []) is ok


# --- the class, on recorded ufw answers ---------------------------------------------------

class RecordedRunner(object):
    """Answers each command with what ufw answered it on the real host, in the same order,
    and serves the host's files from one fixture state (writes are kept, not made)."""

    def __init__(self, records, state="site"):
        self.records = list(records)
        self.on(state)
        self.written = {}

    def on(self, state):
        self.files = {ufw.RULES_FILES[4]: fixture(state, "user.rules"), ufw.RULES_FILES[6]: fixture(state, "user6.rules"),
                      ufw.DEFAULTS_FILE: fixture(state, "default-ufw"),
                      ufw.TAKEN_OVER_PATH: fixture(state, "taken-over.json")}
        return self

    def run(self, args, data=None, check=True):
        record = self.records.pop(0)
        assert list(args) == record["args"]
        if check and record["rc"] != 0:
            raise FirewallError("%s failed" % args[0], rc=record["rc"])
        return record["rc"], record["out"], record["err"]

    def out(self, args, data=None):
        return self.run(args)[1]

    def read_text(self, path):
        return self.files[path]

    def write_text(self, path, text, mode=0o644):
        self.written[path] = (text, mode)

    def remove_file(self, path):
        self.written[path] = None


def test_class_takes_over_and_verifies():
    runner = RecordedRunner(json.loads(fixture("commands-takeover.json")), "exposed")
    instance = backend(runner)
    plan = instance.plan(policy(**HOST_ALLOWED), instance.read(), persist=False)
    instance.apply(plan)
    assert runner.written == {ufw.TAKEN_OVER_PATH: (fixture("taken_over", "taken-over.json"), 0o600)}
    runner.on("taken_over")
    assert instance.verify(policy(**HOST_ALLOWED)) == []
    assert runner.records == []


def test_class_gives_back():
    runner = RecordedRunner(json.loads(fixture("commands-giveback.json")), "taken_over")
    instance = backend(runner)
    instance.apply(instance.plan(None, instance.read(), persist=True))
    assert runner.written == {ufw.TAKEN_OVER_PATH: None}
    runner.on("exposed")
    assert instance.verify(None) == []
    assert runner.records == []


def test_verify_counts_the_enforced_rules():
    # Files that hold our rules while ufw enforces none of them (the status of the site only).
    runner = RecordedRunner([dict(args=["ufw", "status", "verbose"], rc=0, out=fixture("site", "status-verbose.txt"),
                                  err="")], "host_allowed")
    instance = backend(runner)
    assert instance.verify(policy(**HOST_ALLOWED)) == [
        "ufw status verbose shows 0 rule(s) commented netsec.bjnp, 15 expected"]


def test_apply_fails_when_ufw_did_not_delete():
    # ufw exits 0 with this answer when no rule matches.
    runner = RecordedRunner([dict(args=["ufw", "delete", "allow", "from", "any", "to", "any", "port", "7777",
                                        "proto", "tcp"], rc=0, out="Could not delete non-existent rule\n"
                                  "Could not delete non-existent rule (v6)\n", err="")])
    with pytest.raises(FirewallError) as info:
        backend(runner).apply(Plan(live=[("ufw", ["ufw", "delete", "allow", "from", "any", "to", "any", "port", "7777",
                                                  "proto", "tcp"])]))
    assert "Could not delete non-existent rule" in info.value.message


def test_inactive_ufw_is_refused_and_not_in_use():
    record = dict(args=["ufw", "status"], rc=0, out=fixture("status-inactive.txt"), err="")
    instance = backend(RecordedRunner([record, record]))
    assert instance.in_use() is False
    assert "Nothing was changed." in instance.refuse()
    active = dict(record, out=fixture("site", "status.txt"))
    assert backend(RecordedRunner([active])).refuse() is None


def test_ufw_chain_lines_keep_only_ufw_chains():
    dump = "# Generated\n*filter\n:INPUT DROP [10:20]\n:ufw-user-input - [3:4]\n-A INPUT -j ufw-before-input\nCOMMIT\n"
    assert ufw.ufw_chain_lines(dump) == ":ufw-user-input - [0:0]\n-A INPUT -j ufw-before-input\n"
