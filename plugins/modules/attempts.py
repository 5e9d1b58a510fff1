#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: attempts
short_description: Report who still knocks on the ports the firewall rules of this collection close
version_added: 0.2.0
description:
  - Reads, on a Linux host, the kernel log lines that the rules of M(netsec.bjnp.firewall_rules) log when
    they block a packet (O(netsec.bjnp.firewall_rules#module:log=true), the role's C(bjnp_log_attempts)), and the rules'
    own counters, and sums them up per source address, protocol and port.
  - "Log lines are those with the prefix C(netsec-bjnp: ) (ufw: its own C([UFW BLOCK] )) for one of O(ports),
    since O(since). The counters say how many packets were blocked since the rules were loaded, the log says
    who sent them, within the rules' rate limit (RV(log_limited))."
  - A source that keeps connecting to TCP 9100 or TCP 8611 (at least O(print_server_min_connections) distinct
    connections) is listed in RV(suspected_print_servers), probably a print server missing from the role's
    C(bjnp_allowed_sources), with the entry to add.
  - Containers share their host's kernel log, so every container reads every other's lines. Only lines of
    frames addressed to a MAC address of this host (or to a group address, or without an Ethernet header) are
    counted; a warning says how many were left out.
  - Read-only; never changes anything and never reports a change.
author:
  - netsec.bjnp developers (@netsec)
options:
  since:
    description:
      - The start of the window. An ISO 8601 time (C(2026-12-02T19:40:00Z); without an offset it is UTC), epoch
        seconds (C(1796244000)), or a time back from now (C(30m), C(2h), C(1d), C(1w); C(s) for seconds).
      - A time in the future, before 2000, or anything else is refused, naming the value.
    type: raw
    default: 24h
  log_source:
    description:
      - Where the kernel log lines are read. C(journal) runs C(journalctl) (kernel entries of every boot),
        C(kern.log) reads C(/var/log/kern.log) and C(/var/log/kern.log.1) (rsyslog, RFC 3339 or traditional
        format), C(kmsg) reads the kernel's ring buffer C(/dev/kmsg) (only what it still holds, since boot).
      - C(auto) takes the first of these that exists and holds kernel messages. C(none) reads the counters only.
      - A source that is missing gives no lines and a warning (RV(warnings)), not a failure.
    type: str
    choices: [auto, journal, kern.log, kmsg, none]
    default: auto
  ports:
    description:
      - The ports the rules close, as given to M(netsec.bjnp.firewall_rules) (the role's C(bjnp_ports)). Each
        entry has C(protocol) (C(tcp) or C(udp)) and C(port) (a number or a C(low-high) range). Log lines for
        other ports are left out.
    type: list
    elements: dict
    default:
      - {protocol: tcp, port: 9100}
      - {protocol: tcp, port: "8611-8614"}
      - {protocol: udp, port: "8611-8614"}
  backend:
    description:
      - The firewall whose counters are read, chosen as M(netsec.bjnp.firewall_rules) chooses it. C(auto) picks a
        running firewalld, else an active ufw, else the first of nftables, iptables-nft, iptables-legacy that holds
        rules, else the first one installed; when there is none the log is still read (a warning says so).
      - firewalld keeps no counters on rich rules (RV(counters_available) is false there).
    type: str
    choices: [auto, firewalld, ufw, nftables, iptables-nft, iptables-legacy]
    default: auto
  max_lines:
    description:
      - At most this many kernel log lines of the window are read, the newest; RV(truncated) tells when the
        window held more. Bounds the time and memory a flooded log costs.
    type: int
    default: 50000
  print_server_min_connections:
    description:
      - Connections (distinct source ports) to TCP 9100 or TCP 8611, together, that make a source a suspected print
        server. At least 1.
    type: int
    default: 3
extends_documentation_fragment:
  - netsec.bjnp.firewall_backend
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode changes nothing in what it does.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Linux only; the Windows Firewall log is read by a collector of its own.
notes:
  - Needs root for the counters (C(nft), C(iptables)) and for C(/dev/kmsg) on hosts that restrict it
    (C(kernel.dmesg_restrict)).
  - In a container or network namespace, the kernel drops the log lines of its rules unless the host sets
    C(net.netfilter.nf_log_all_netns=1); the counters still count. RV(warnings) says so when the counters counted
    packets and no line was found.
  - Log lines can be forged by whoever can write to the log (C(kern.log) more easily than the journal or
    C(/dev/kmsg), of which only the kernel's own lines are read). Treat addresses as leads, not proof.
seealso:
  - module: netsec.bjnp.firewall_rules
  - module: netsec.bjnp.report
"""

EXAMPLES = r"""
- name: Who knocked on the closed printer ports in the last two hours
  netsec.bjnp.attempts:
    since: 2h
  register: bjnp_attempts

- name: Name the print servers that were probably forgotten in bjnp_allowed_sources
  ansible.builtin.debug:
    msg: "{{ item.address }}: add {{ item.allow_entry }} ({{ item.connections }} connections to {{ item.ports | join(', ') }})"
  loop: "{{ bjnp_attempts.suspected_print_servers }}"

- name: Since a change window, from the journal, with the role's ports
  netsec.bjnp.attempts:
    since: "2026-12-02T19:40:00Z"
    log_source: journal
    ports:
      - {protocol: tcp, port: 9100}
      - {protocol: udp, port: "8611-8614"}
"""

RETURN = r"""
since:
  description: The start of the window, ISO 8601 UTC.
  returned: success
  type: str
  sample: "2026-12-02T19:40:00Z"
log_source:
  description: The log read (C(journal), C(kern.log), C(kmsg)), C(none) when none was.
  returned: success
  type: str
  sample: kmsg
backend:
  description: The firewall backend whose counters were read; null when there was none.
  returned: success
  type: str
  sample: nftables
counters_available:
  description: Whether the backend counts what the rules block (false for firewalld, or with no backend).
  returned: success
  type: bool
  sample: true
counters:
  description:
    - The rules' counters, since the rules were loaded, per mode, protocol and port range (both address families
      added up). Empty when the backend cannot count, or its rules hold no counters (logging is off).
  returned: success
  type: list
  elements: dict
  sample:
    - {mode: host, protocol: tcp, ports: "9100", packets: 8, bytes: 560}
    - {mode: host, protocol: udp, ports: "8611-8614", packets: 6, bytes: 324}
sources:
  description:
    - One entry per source address, protocol, destination port and mode, most packets first. C(packets) are
      logged packets; C(connections) distinct source ports (retransmitted SYNs of one connection count once);
      C(mode) is C(host) for packets to this host, C(gateway) for packets routed through it; C(destinations)
      the addresses they were sent to, the first 10. Times are ISO 8601 UTC.
  returned: success
  type: list
  elements: dict
  sample:
    - address: 10.0.20.5
      protocol: tcp
      port: 9100
      packets: 4
      connections: 3
      first_seen: "2026-12-02T19:41:07Z"
      last_seen: "2026-12-02T19:41:09Z"
      mode: host
      destinations: [10.0.20.2]
totals:
  description:
    - One entry per entry of O(ports) (merged as the rules merge them; C(port) a number or a C(low-high) range).
      C(packets_logged) lines found in the window, C(packets_counted) what the counters counted since the rules
      were loaded (null when the backend cannot count), C(sources) distinct addresses.
  returned: success
  type: list
  elements: dict
  sample:
    - {protocol: tcp, port: 9100, packets_logged: 5, packets_counted: 8, sources: 1}
    - {protocol: tcp, port: "8611-8614", packets_logged: 0, packets_counted: 0, sources: 0}
log_limited:
  description:
    - True when a counter counted more packets than lines were found for its ports - the rate limit held lines
      back (or the lines are older than O(since), or the counters older than the window).
  returned: success
  type: bool
  sample: true
suspected_print_servers:
  description:
    - Sources with at least O(print_server_min_connections) connections to TCP 9100 or TCP 8611. C(allow_entry)
      is the C(bjnp_allowed_sources) entry that lets the source through, null when the role would refuse the
      address (an IPv4-mapped IPv6 address, for example).
  returned: success
  type: list
  elements: dict
  sample:
    - {address: 10.0.20.5, ports: [tcp/9100], connections: 3, allow_entry: 10.0.20.5}
truncated:
  description: True when the window held more than O(max_lines) lines; only the newest were read.
  returned: success
  type: bool
  sample: false
warnings:
  description:
    - What the numbers need to be read right, for example counters that counted packets while no log line was
      found, or a log source that is missing. Ansible shows them and keeps them in the result; like every
      module's warnings, the key is there only when there is one.
  returned: when there are any
  type: list
  elements: str
  sample: []
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, Runner
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import (
    BACKEND_ARGUMENT_SPEC,
    NAMES,
    select_backend,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import normalize_ports
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_attempts import (
    DEFAULT_MAX_LINES,
    DEFAULT_SINCE,
    LOG_SOURCES,
    interface_macs,
    own_events,
    parse_since,
    read_log,
    summarize,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import RULE_ARGUMENT_SPEC


def read_counters(runner, params):
    """``(backend name, counters or None, warnings)``; only a named backend that cannot be used fails."""
    try:
        backend, dummy = select_backend(runner, params, params["backend"])
    except FirewallError as exc:
        if params["backend"] != "auto":
            raise
        return None, None, ["no firewall backend found, counters not read: %s" % exc.message]
    problems = backend.validate()
    if problems:
        raise FirewallError("; ".join(problems), backend=backend.name)
    counters = getattr(backend, "counters", None)
    if counters is None:
        return backend.name, None, []
    try:
        return backend.name, counters(), []
    except FirewallError as exc:
        return backend.name, None, ["the %s counters could not be read: %s" % (backend.name, exc.message)]


def main():
    argument_spec = dict(
        since=dict(type="raw", default=DEFAULT_SINCE),
        log_source=dict(type="str", choices=list(LOG_SOURCES), default="auto"),
        ports=dict(RULE_ARGUMENT_SPEC["ports"]),
        backend=dict(type="str", choices=["auto"] + NAMES, default="auto"),
        max_lines=dict(type="int", default=DEFAULT_MAX_LINES),
        print_server_min_connections=dict(type="int", default=3),
    )
    argument_spec.update(BACKEND_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        since = parse_since(params["since"], time.time())
        normalize_ports(params["ports"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for name in ("max_lines", "print_server_min_connections"):
        if params[name] < 1:
            module.fail_json(msg="%s '%s' must be 1 or more" % (name, params[name]))
    runner = Runner(module)
    try:
        # Counters first: a packet blocked while the log is read can only add a line, never
        # make the counters look ahead of the log (log_limited).
        backend, counters, warnings = read_counters(runner, params)
    except FirewallError as exc:
        module.fail_json(msg=exc.message, **exc.details)

    def journalctl(args):
        return runner.run(args, check=False)

    log = read_log(params["log_source"], since, params["max_lines"], run=journalctl if runner.have("journalctl") else None)
    events, others = own_events(log["events"], interface_macs())
    if others:
        warnings.append("%d log line(s) of frames to other hosts' MAC addresses were left out: this host shares its "
                        "kernel log (a container), and those lines are other hosts' (see docs/monitoring.md)" % others)
    result = summarize(events, counters, params["ports"], since, params["print_server_min_connections"],
                       log_source=log["log_source"], backend=backend, truncated=log["truncated"],
                       warnings=log["warnings"] + warnings)
    # Ansible shows a module's warnings and keeps them in the registered result as ``warnings``.
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
