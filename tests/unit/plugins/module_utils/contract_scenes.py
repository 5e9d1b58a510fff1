# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policies every backend is taken through by the contract tests, and its options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import BACKEND_ARGUMENT_SPEC
from rule_policies import PORTS

SCENES = {
    # Overlapping allow-lists in both families collapse; host mode only.
    "host": dict(ports=PORTS, allowed_sources=["192.0.2.0/25", "192.0.2.10", "2001:db8::10"], modes=["host"],
                 protected_destinations=[], action="drop"),
    # A router: both modes, printers in both families, reject.
    "gateway": dict(ports=PORTS, allowed_sources=["192.0.2.10"], modes=["host", "gateway"],
                    protected_destinations=["198.51.100.0/24", "2001:db8:1::/48"], action="reject"),
    # The same router counting and logging; 600 a minute is what iptables prints as 10/sec.
    "logged": dict(ports=PORTS, allowed_sources=["192.0.2.10"], modes=["host", "gateway"],
                   protected_destinations=["198.51.100.0/24", "2001:db8:1::/48"], action="drop",
                   log=dict(per_minute=600, burst=7)),
}


def backend_options(directory):
    """The backends' options at their defaults, boot files inside ``directory``.

    nftables.service is left alone: the recording runs in a network namespace of the real host.
    """
    options = dict((name, spec.get("default")) for name, spec in BACKEND_ARGUMENT_SPEC.items())
    options.update(nftables_persist_path=os.path.join(directory, "nftables.d", "netsec-bjnp.nft"),
                   nftables_conf=os.path.join(directory, "nftables.conf"),
                   iptables_rules_v4=os.path.join(directory, "rules.v4"),
                   iptables_rules_v6=os.path.join(directory, "rules.v6"),
                   nftables_enable_service=False)
    return options
