# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options of one backend each (BACKEND_ARGUMENT_SPEC in _firewall/registry.py)."""

    DOCUMENTATION = r"""
options:
  nftables_table:
    description:
      - nftables backend. Name of the C(inet) table we own. Nothing outside it is touched.
      - A letter, then letters, digits or C(_) (at most 64); anything else is refused.
    type: str
    default: bjnp
  nftables_priority:
    description:
      - nftables backend. Chain priority as an offset from C(filter) (0); negative runs before the
        distribution's filter chains.
    type: int
    default: -10
  nftables_persist_path:
    description:
      - nftables backend. File holding the persisted table, validated with C(nft -c) before it is written.
    type: path
    default: /etc/nftables.d/netsec-bjnp.nft
  nftables_conf:
    description:
      - nftables backend. The file loaded at boot; one C(include) line of our file is added at its end (after
        any C(flush ruleset)), the rest is kept as it was.
    type: path
    default: /etc/nftables.conf
  nftables_enable_service:
    description:
      - nftables backend. Enable C(nftables.service) when persisting, where systemd runs, so the file is loaded at boot.
    type: bool
    default: true
  iptables_chain_prefix:
    description:
      - iptables backends. Our chains are named C(<prefix>-INPUT) and C(<prefix>-FORWARD).
    type: str
    default: BJNP
  iptables_rules_v4:
    description:
      - iptables backends. IPv4 rules file loaded at boot by C(netfilter-persistent); our lines are merged in,
        the rest is kept line for line.
    type: path
    default: /etc/iptables/rules.v4
  iptables_rules_v6:
    description:
      - iptables backends. IPv6 rules file loaded at boot by C(netfilter-persistent).
    type: path
    default: /etc/iptables/rules.v6
  ufw_comment:
    description:
      - ufw backend. The comment that marks our rules, so they are found and removed without touching others.
    type: str
    default: netsec.bjnp
  ufw_site_rules:
    description:
      - ufw backend. What to do with site rules matching exactly what one of our rules matches (for example
        C(ufw allow 9100/tcp), the exposure itself), which ufw cannot hold next to ours.
      - C(take_over) replaces them with our rules, names them in the result and gives them back on removal;
        C(refuse) fails naming them and changes nothing.
    type: str
    choices: [take_over, refuse]
    default: take_over
"""
