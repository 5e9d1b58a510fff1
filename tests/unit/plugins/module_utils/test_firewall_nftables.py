# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure rendering and parsing of the nftables backend.

The expected texts are what nftables 1.0.6 prints for the loaded rules (the integration tests load them
into real network namespaces and compare the listing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils._io import Runner
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import nftables as fw
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import build_policy
from contract_harness import ReplayModule
from contract_scenes import SCENES, backend_options
from rule_policies import policy

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nftables")


# --- nftables ---------------------------------------------------------------------------

HOST_DEFAULT = """table inet bjnp {
\tchain input {
\t\ttype filter hook input priority filter - 10; policy accept;
\t\tiifname "lo" accept
\t\ttcp dport { 8611-8614, 9100 } drop
\t\tudp dport 8611-8614 drop
\t}
}
"""


def test_nft_host_default_renders_as_nft_lists_it():
    assert fw.render_nft_table(policy()) == HOST_DEFAULT


def test_nft_allow_list_and_gateway_with_v4_destinations():
    text = fw.render_nft_table(policy(allowed=["192.0.2.10", "2001:db8::/64"], modes=["host", "gateway"],
                                      protected=["198.51.100.0/24"], action="reject"), table="t", priority=5)
    assert text.startswith("table inet t {\n\tset allowed_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                           "\t\telements = { 192.0.2.10 }\n\t}\n\n\tset allowed_v6 {")
    assert "\t\telements = { 2001:db8::/64 }\n" in text
    assert "\tset protected_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 198.51.100.0/24 }" in text
    assert "protected_v6" not in text
    assert "type filter hook forward priority filter + 5; policy accept;" in text
    forward = text[text.index("chain forward"):]
    assert forward.splitlines()[2:] == [
        "\t\tip saddr @allowed_v4 accept",
        "\t\tip6 saddr @allowed_v6 accept",
        "\t\tip daddr @protected_v4 tcp dport { 8611-8614, 9100 } reject with tcp reset",
        "\t\tip daddr @protected_v4 udp dport 8611-8614 reject with icmp port-unreachable",
        "\t}", "}"]
    host = text[text.index("chain input"):text.index("chain forward")]
    assert "\t\tudp dport 8611-8614 reject\n" in host


def test_nft_gateway_without_destinations_covers_every_forwarded_packet():
    text = fw.render_nft_table(policy(modes=["gateway"]))
    assert "chain input" not in text and "iifname" not in text
    assert "\t\ttcp dport { 8611-8614, 9100 } drop\n\t\tudp dport 8611-8614 drop\n" in text


def test_nft_v6_destinations_spell_icmpv6():
    text = fw.render_nft_table(policy(modes=["gateway"], protected=["2001:db8:1::/48"], action="reject"))
    assert "ip6 daddr @protected_v6 udp dport 8611-8614 reject with icmpv6 port-unreachable" in text
    assert "ip daddr" not in text


@pytest.mark.parametrize("offset, text", [(-10, "filter - 10"), (0, "filter"), (7, "filter + 7")])
def test_nft_priority(offset, text):
    assert fw.nft_priority(offset) == text


def test_nft_transaction_replaces_only_our_table():
    assert fw.render_nft_transaction(HOST_DEFAULT).splitlines()[:3] == [
        "add table inet bjnp", "delete table inet bjnp", "table inet bjnp {"]
    persisted = fw.render_nft_persist_file(HOST_DEFAULT)
    assert persisted.startswith("#!/usr/sbin/nft -f\n#") and persisted.endswith(HOST_DEFAULT)


def test_normalize_ignores_handles_and_wrapping_but_not_rules():
    listed = ("table inet bjnp { # handle 7\n\tset allowed_v6 { # handle 2\n\t\ttype ipv6_addr\n"
              "\t\tflags interval\n\t\telements = { ::1,\n\t\t\t     2001:db8::/32 }\n\t}\n}\n")
    rendered = ("table inet bjnp {\n\tset allowed_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n"
                "\t\telements = { ::1, 2001:db8::/32 }\n\t}\n}\n")
    assert fw.normalize_nft(listed) == fw.normalize_nft(rendered)
    assert fw.normalize_nft(rendered.replace("::1", "::2")) != fw.normalize_nft(listed)
    assert fw.normalize_nft(None) == ""


def nft_098():
    with open(os.path.join(FIXTURES, "nft-0.9.8-gateway.json")) as handle:
        return json.load(handle)


def test_reject_codes_are_loaded_the_way_nft_0_9_reads_them():
    # nft 0.9.8 (Debian 11) refused "reject with icmp port-unreachable" (error_without_type), so a
    # gateway with reject and protected destinations could not be changed there at all.
    rendered = fw.render_nft_table(build_policy(**SCENES["gateway"]))
    assert "reject with icmp port-unreachable" in rendered  # what nft 1.x lists
    for text in (fw.render_nft_transaction(rendered), fw.render_nft_persist_file(rendered)):
        codes = re.findall(r"reject with (\S+ \S+)", text)
        assert sorted(set(codes)) == ["icmp type", "icmpv6 type", "tcp reset"], codes
    assert "expecting type" in nft_098()["error_without_type"]


def test_nft_0_9_listing_of_our_table_needs_no_change():
    # 0.9.8 lists a reject with the default code bare; no calls recorded: a plan that had to ask
    # nft (the throwaway-namespace comparison) would fail here.
    backend = fw.Nftables(Runner(ReplayModule([])), backend_options("/nonexistent"))
    live = dict(table=nft_098()["listing"], files={}, service_enabled=None)
    plan = backend.plan(build_policy(**SCENES["gateway"]), live, persist=False)
    assert plan.live == [] and not plan.live_changed
    assert fw.normalize_nft(nft_098()["listing"].replace("udp dport 8611-8614 reject\n\t}\n}",
                                                         "udp dport 8611-8614 drop\n\t}\n}")) != \
        fw.normalize_nft(nft_098()["listing"])


def test_normalize_keeps_reject_codes_other_than_the_default():
    assert fw.normalize_nft("reject with icmp type port-unreachable") == fw.normalize_nft("reject") == \
        fw.normalize_nft("reject with icmpv6 port-unreachable") == "reject"
    assert fw.normalize_nft("reject with icmp host-unreachable") == "reject with icmp host-unreachable"
    assert fw.normalize_nft("reject with tcp reset") == "reject with tcp reset"


DEBIAN_CONF = """#!/usr/sbin/nft -f

flush ruleset

table inet filter {
\tchain input {
\t\ttype filter hook input priority filter;
\t}
}
"""


def test_include_is_added_once_after_everything_and_removed_exactly():
    path = "/etc/nftables.d/netsec-bjnp.nft"
    added = fw.add_include(DEBIAN_CONF, path)
    assert added.startswith(DEBIAN_CONF)
    assert added.endswith('include "/etc/nftables.d/netsec-bjnp.nft"\n')
    assert fw.add_include(added, path) == added
    assert fw.remove_include(added, path) == DEBIAN_CONF
    assert fw.remove_include(DEBIAN_CONF, path) == DEBIAN_CONF


def test_include_into_missing_conf():
    added = fw.add_include(None, "/x.nft")
    assert added.splitlines()[0] == "#!/usr/sbin/nft -f" and added.endswith('include "/x.nft"\n')
