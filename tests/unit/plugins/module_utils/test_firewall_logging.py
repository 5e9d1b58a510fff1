# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counting and logging of blocked attempts (``log``), as each backend renders and reads it.

The rendered texts are checked against the real tools by the contract test (scene ``logged``);
here: what logging adds and removes, the settings refused, and the counter parsers on output
the real tools printed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_firewall
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import firewalld, iptables, nftables, ufw
from rule_policies import PORTS

LOG = dict(per_minute=10, burst=5)


def policy(log=None, modes=("host",), protected=()):
    return bjnp_firewall.build_policy(PORTS, ["192.0.2.10"], list(modes), list(protected), "drop", log=log)


@pytest.mark.parametrize("value", [0, -1, 10001, "10", 2.5, True, None])
@pytest.mark.parametrize("key", ["per_minute", "burst"])
def test_log_settings_outside_1_to_10000_are_refused_by_name(key, value):
    log = dict(LOG, **{key: value})
    with pytest.raises(ValueError) as error:
        policy(log=log)
    assert "log_%s %r" % (key, value) in str(error.value)


def test_without_log_no_backend_renders_a_counter_a_limit_or_a_prefix():
    plain = policy(modes=("host", "gateway"))
    texts = [nftables.render_nft_table(plain),
             iptables.render_ipt_text(iptables.render_ipt(plain, 4)),
             "\n".join(firewalld.render_firewalld(plain)["files"].values())]
    for text in texts:
        assert "counter" not in text and "limit" not in text and bjnp_firewall.LOG_PREFIX not in text
    assert all(rule.get("log", "") == "" for rule in ufw.render_rules(plain, ipv6=True))


def test_nftables_counts_each_port_range_in_its_own_named_counter_in_front_of_the_verdict():
    table = nftables.render_nft_table(policy(log=LOG))
    lines = [line.strip() for line in table.splitlines()]
    assert lines.index('tcp dport 9100 counter name "input_tcp_9100" limit rate 10/minute log prefix "netsec-bjnp: "') \
        < lines.index("tcp dport { 8611-8614, 9100 } drop")
    assert [line for line in lines if line.startswith("counter ")] == [
        "counter input_tcp_8611to8614 {", "counter input_tcp_9100 {", "counter input_udp_8611to8614 {"]


def test_nftables_prints_a_burst_only_when_it_is_not_the_default_five():
    assert "burst" not in nftables.render_nft_table(policy(log=LOG))
    assert "limit rate 10/minute burst 9 packets log" in nftables.render_nft_table(policy(log=dict(LOG, burst=9)))


def test_nftables_counter_values_are_not_a_difference_but_the_rules_are():
    rendered = nftables.render_nft_table(policy(log=LOG))
    counted = rendered.replace("packets 0 bytes 0", "packets 3000 bytes 180000", 1)
    assert nftables.normalize_nft(counted) == nftables.normalize_nft(rendered)
    assert nftables.normalize_nft(nftables.render_nft_table(policy())) != nftables.normalize_nft(rendered)


def test_nftables_counters_are_read_from_the_listing_by_name():
    # `nft list table inet bjnp` after 3 SYNs to 9100 (nftables 1.0.6), trimmed to the counters.
    listing = ("table inet bjnp {\n\tcounter input_tcp_8611to8614 {\n\t\tpackets 0 bytes 0\n\t}\n\n"
               "\tcounter input_tcp_9100 {\n\t\tpackets 3 bytes 180\n\t}\n\n"
               "\tcounter site_counter {\n\t\tpackets 7 bytes 9\n\t}\n}\n")
    assert nftables.parse_nft_counters(listing) == [
        dict(mode="host", protocol="tcp", ports="8611-8614", packets=0, bytes=0),
        dict(mode="host", protocol="tcp", ports="9100", packets=3, bytes=180)]
    assert nftables.parse_nft_counter_name("forward_udp_8611to8614") == ("gateway", "udp", "8611-8614")
    assert nftables.parse_nft_counter_name("input_tcp_9100_x") is None


# What `iptables -S` printed for `--limit N/min` (iptables 1.8.9, nf_tables and legacy alike).
@pytest.mark.parametrize("per_minute, printed", [(1, "1/min"), (7, "7/min"), (10, "10/min"), (60, "1/sec"),
                                                 (90, "90/min"), (600, "10/sec"), (1440, "24/sec"),
                                                 (10000, "166/sec")])
def test_iptables_rates_are_rendered_the_way_iptables_prints_them(per_minute, printed):
    assert iptables.ipt_limit_rate(per_minute) == printed


def test_iptables_logs_in_front_of_every_verdict_in_both_chains():
    rules = iptables.render_ipt(policy(log=LOG, modes=("host", "gateway"), protected=["198.51.100.0/24"]), 4)
    forward = rules["chains"]["BJNP-FORWARD"]
    assert forward[-2:] == [
        '-A BJNP-FORWARD -d 198.51.100.0/24 -p udp -m udp --dport 8611:8614 -m limit --limit 10/min '
        '-j LOG --log-prefix "netsec-bjnp: "',
        "-A BJNP-FORWARD -d 198.51.100.0/24 -p udp -m udp --dport 8611:8614 -j DROP"]
    assert len([rule for rule in rules["chains"]["BJNP-INPUT"] if "-j LOG" in rule]) == 3


def test_iptables_counters_come_from_the_verdict_rules_not_the_log_rules():
    # `iptables-nft -S BJNP-INPUT -v` after 3000 SYNs to 9100 and 2000 datagrams to 8612.
    text = ("-N BJNP-INPUT\n"
            "-A BJNP-INPUT -i lo -c 0 0 -j RETURN\n"
            "-A BJNP-INPUT -s 192.0.2.10/32 -c 0 0 -j RETURN\n"
            '-A BJNP-INPUT -p tcp -m tcp --dport 9100 -m limit --limit 10/min -c 5 200 -j LOG --log-prefix "netsec-bjnp: "\n'
            "-A BJNP-INPUT -p tcp -m tcp --dport 9100 -c 3000 120000 -j DROP\n"
            "-A BJNP-INPUT -p udp -m udp --dport 8611:8614 -c 2000 56000 -j DROP\n")
    assert iptables.parse_ipt_counters(text, "BJNP-INPUT", "host") == [
        dict(mode="host", protocol="tcp", ports="9100", packets=3000, bytes=120000),
        dict(mode="host", protocol="udp", ports="8611-8614", packets=2000, bytes=56000)]


def test_ufw_denies_log_and_its_allows_do_not():
    rules = ufw.render_rules(policy(log=LOG), ipv6=True)
    assert set(rule["log"] for rule in rules if rule["action"] == "deny") == {"log"}
    assert all("log" not in rule for rule in rules if rule["action"] == "allow")
    command = ufw.ufw_command("prepend", "any", ufw.rule_commands(
        [rule for rule in rules if rule["action"] == "deny"][:1], "netsec.bjnp")[0][1])
    assert command[:4] == ["ufw", "prepend", "deny", "log"]


def test_ufw_reads_counters_of_port_ranges_matched_with_multiport():
    # `iptables -S ufw-user-input -v` with our rules (ufw 0.36.2).
    text = ("-A ufw-user-input -s 192.0.2.10/32 -p tcp -m multiport --dports 8611:8614 -c 0 0 -j ACCEPT\n"
            "-A ufw-user-input -p tcp -m multiport --dports 8611:8614 -c 4 240 -j ufw-user-logging-input\n"
            "-A ufw-user-input -p tcp -m multiport --dports 8611:8614 -c 4 240 -j DROP\n")
    assert iptables.parse_ipt_counters(text, "ufw-user-input", "host") == [
        dict(mode="host", protocol="tcp", ports="8611-8614", packets=4, bytes=240)]


def test_firewalld_rich_rules_log_with_a_limit_and_the_level_spelled_out():
    rendered = firewalld.render_firewalld(policy(log=dict(per_minute=600, burst=7)))
    assert ('policy netsec-bjnp-host rule rule family="ipv4" source NOT ipset="netsec-bjnp-v4" port port="9100" '
            'protocol="tcp" log prefix="netsec-bjnp: " level="warning" limit value="600/m" drop') in rendered["runtime"]
    xml = rendered["files"]["policies/netsec-bjnp-host.xml"]
    assert '    <log prefix="netsec-bjnp: " level="warning">\n      <limit value="600/m"/>\n    </log>\n    <drop/>' in xml
