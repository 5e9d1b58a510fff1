# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The rule options every backend shares (RULE_ARGUMENT_SPEC in bjnp_firewall)."""

    DOCUMENTATION = r"""
options:
  mode:
    description:
      - C(host) filters traffic to this machine (the input hook, C(INPUT)); C(gateway) filters forwarded
        traffic (the forward hook, C(FORWARD)).
    type: list
    elements: str
    choices: [host, gateway]
    default: [host]
  ports:
    description:
      - What to close. Each entry has C(protocol) (C(tcp) or C(udp)) and C(port) (a number or a C(low-high) range).
    type: list
    elements: dict
    default:
      - {protocol: tcp, port: 9100}
      - {protocol: tcp, port: "8611-8614"}
      - {protocol: udp, port: "8611-8614"}
  allowed_sources:
    description:
      - IPv4/IPv6 addresses or CIDR networks still allowed in (for example the print servers).
      - Host bits set in a CIDR (C(10.0.0.5/24)) are refused as a probable typo.
    type: list
    elements: str
    default: []
  protected_destinations:
    description:
      - Gateway mode only. Addresses or networks of the printers behind this host. Empty protects every
        forwarded destination in both families; entries of one family only leave the other family's
        forwarded traffic alone.
    type: list
    elements: str
    default: []
  action:
    description:
      - C(drop) silently (as the finding advises) or C(reject) (TCP reset, ICMP port unreachable).
    type: str
    choices: [drop, reject]
    default: drop
  allow_any_source:
    description:
      - Accept an O(allowed_sources) that covers every IPv4 or IPv6 address (C(0.0.0.0/0), C(::/0), or parts adding
        up to one). Without it such a list is refused, since the ports would stay open to that whole family.
    type: bool
    default: false
  management_ports:
    description:
      - TCP ports this host is managed through (SSH, WinRM). In C(host) mode, O(ports) that close one of them are
        refused, so the change cannot cut off the connection that makes it. C([]) accepts any port.
      - The role passes C(ansible_port) and the connection's default ports (and C([]) with
        C(bjnp_allow_management_ports)).
    type: list
    elements: int
    default: [22]
  log:
    description:
      - "Count every packet the rules block and log it to the kernel log with the prefix C(netsec-bjnp: ), at most
        O(log_per_minute) lines a minute after a burst of O(log_burst). Off, the rules neither count nor log."
      - nftables counts in named counters (C(input_tcp_9100), ...), iptables and ufw in the verdict rules' own
        counters; ufw logs with its own prefix C([UFW BLOCK]) and rate (3 a minute, burst 10); firewalld logs
        through its rich rules (burst 5) and keeps no counter. M(netsec.bjnp.attempts) reads the counters and the
        log back.
    type: bool
    default: false
    version_added: 0.2.0
  log_per_minute:
    description:
      - Log lines a minute at most once the burst is used up, from 1 to 10000. Counting is never limited.
    type: int
    default: 10
    version_added: 0.2.0
  log_burst:
    description:
      - Log lines allowed in a burst before O(log_per_minute) applies, from 1 to 10000.
    type: int
    default: 5
    version_added: 0.2.0
"""
