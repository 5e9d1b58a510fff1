#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: probe
short_description: Detect exposed Canon BJNP (UDP/TCP 8611-8614) and raw-print (TCP 9100) services
version_added: 0.1.0
description:
  - Probes hosts, addresses and networks for Canon BJNP and raw-print (JetDirect/AppSocket) services
    and reports, per address, which ports are reachable and the printer identity BJNP gives away.
  - "UDP: sends a BJNP discover to each UDP port. A well-formed BJNP answer (checked as Nessus
    plugin 58147 does) is C(open); with O(identify) a get-identity request follows (printer type,
    scanner type on 8612). An ICMP port unreachable is C(closed), any other ICMP unreachable
    (for example administratively prohibited) C(filtered), silence after O(retries) C(open|filtered)."
  - "TCP: connect only; not a single byte is sent (bytes sent to 9100 get printed). A completed
    handshake is C(open), a reset C(closed), silence or an ICMP error C(filtered)."
  - Read-only; it never reports a change and runs in check mode too.
  - Many probes share a few sockets (ICMP errors are read from the socket error queue), so large
    networks are swept quickly. Runs on Linux; use C(delegate_to) to probe from the controller.
author:
  - netsec.bjnp developers (@netsec)
options:
  targets:
    description:
      - Hostnames, IPv4 addresses as dotted quads, IPv6 addresses and CIDR networks (for example
        C(192.0.2.0/24) or C(2001:db8::/120)).
      - Networks contribute every address they contain; a hostname contributes every address it resolves to.
      - Duplicates are probed once.
      - "Refused, naming the target, before anything is probed: shorthand IPv4 forms the system resolver
        would expand to another address (C(192.168.1) is 192.168.0.1, C(5) is 0.0.0.5, C(0177.0.0.1) is
        127.0.0.1), IPv6 zone ids (C(fe80::1%eth0)) and IPv6 link-local addresses and networks
        (C(fe80::/10), unreachable without a zone id), address ranges (C(192.0.2.1-20)) and malformed names."
      - A hostname that does not resolve is listed in RV(unresolved) with the reason and a warning, and
        the other targets are still probed; the module fails only when no target is left to probe.
        Link-local IPv6 addresses a name resolves to are left out.
    type: list
    elements: str
    required: true
  udp_ports:
    description:
      - UDP ports to send a BJNP discover to, as numbers or C(low-high) ranges.
      - O(udp_ports) and O(tcp_ports) cannot both be empty.
    type: list
    elements: raw
    default: ["8611-8614"]
  tcp_ports:
    description:
      - TCP ports to try a connection on, as numbers or C(low-high) ranges.
      - O(udp_ports) and O(tcp_ports) cannot both be empty.
    type: list
    elements: raw
    default: [9100, "8611-8614"]
  timeout:
    description:
      - Seconds to wait for an answer to each UDP datagram and for each TCP handshake.
      - More than 0 and at most 60; C(inf) and C(nan) are refused.
    type: float
    default: 1.0
  retries:
    description:
      - How many times a silent UDP probe is sent again before it is reported C(open|filtered).
      - Also applies to the get-identity request.
      - From 0 to 10.
    type: int
    default: 1
  concurrency:
    description:
      - Most TCP connections in progress at once. Capped by the open-files limit, which the module
        raises to its hard limit.
      - From 1 to 1048576.
    type: int
    default: 4096
  rate:
    description:
      - Most probes (UDP datagrams plus TCP connection attempts) sent per second; C(0) sends as fast
        as the host can. Lower it on production networks with fragile devices.
      - From 0 to 1000000.
    type: int
    default: 0
  identify:
    description:
      - Ask each answering BJNP port for its IEEE 1284 identity (manufacturer, model, firmware).
    type: bool
    default: true
  max_targets:
    description:
      - Refuse to run when the targets expand to more distinct addresses than this, so a typo such
        as C(/8) instead of C(/24) fails early. An address inside a listed network, or a network
        listed twice, counts once.
      - From 1 to 16777216 (a C(/8)).
    type: int
    default: 65536
  only_exposed:
    description:
      - Return only hosts with at least one C(open) port in RV(hosts). RV(summary) still counts every target.
      - Keeps the result small for large sweeps.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads the network, so it runs the same way in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Linux (uses C(IP_RECVERR) and epoll).
notes:
  - Probe only networks you are authorised to scan.
  - "Without root, or on hosts that rate-limit ICMP (Linux sends about one port-unreachable per
    second per peer), closed UDP ports read C(open|filtered): as with nmap, only an C(open) UDP port is proof."
"""

EXAMPLES = r"""
- name: Sweep the printer VLAN from the controller
  netsec.bjnp.probe:
    targets:
      - 192.0.2.0/24
      - printer01.example.com
  delegate_to: localhost
  run_once: true
  register: bjnp_scan

- name: List exposed printers with their model
  ansible.builtin.debug:
    msg: "{{ item.address }}: {{ item.ports | selectattr('identity', 'defined') | map(attribute='identity.model') | unique }}"
  loop: "{{ bjnp_scan.hosts | selectattr('exposed') }}"
  loop_control:
    label: "{{ item.address }}"

- name: Check that a host no longer answers BJNP, gently and quickly
  netsec.bjnp.probe:
    targets: ["{{ ansible_host }}"]
    udp_ports: [8611, 8612]
    tcp_ports: [9100]
    timeout: 0.5
    rate: 200
  delegate_to: localhost
  register: bjnp_after
  failed_when: bjnp_after.summary.exposed > 0
"""

RETURN = r"""
hosts:
  description:
    - One entry per probed address, sorted IPv4 first then numerically.
    - With O(only_exposed), only the addresses with an C(open) port.
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The address probed.
      type: str
      sample: 192.0.2.10
    name:
      description: The hostname given in O(targets) that resolved to this address.
      type: str
      returned: when the target was given as a hostname
      sample: printer01.example.com
    exposed:
      description: Whether any port is C(open).
      type: bool
      sample: true
    ports:
      description: One entry per protocol and port, TCP first, by port number.
      type: list
      elements: dict
      contains:
        port:
          description: Port number.
          type: int
          sample: 8611
        protocol:
          description: C(tcp) or C(udp).
          type: str
          sample: udp
        state:
          description: C(open), C(closed), C(filtered) or, for silent UDP ports, C(open|filtered).
          type: str
          sample: open
        service:
          description: C(bjnp-printer) (8611), C(bjnp-scanner) (8612), C(bjnp) (8613, 8614), C(jetdirect) (9100), C(unknown).
          type: str
          sample: bjnp-printer
        identity:
          description:
            - What the device said about itself. Present when a UDP port gave a BJNP answer;
              fields the device did not send are null.
          type: dict
          returned: when a BJNP answer was received
          contains:
            manufacturer:
              description: IEEE 1284 C(MFG) / C(MANUFACTURER).
              type: str
              sample: Canon
            model:
              description: IEEE 1284 C(MDL) / C(MODEL).
              type: str
              sample: MG5200 series
            description:
              description: IEEE 1284 C(DES) / C(DESCRIPTION).
              type: str
              sample: Canon MG5200 series
            firmware:
              description: IEEE 1284 C(VER).
              type: str
              sample: "1.050"
            command_set:
              description: IEEE 1284 C(CMD) / C(COMMAND SET).
              type: str
              sample: BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI
            raw:
              description: The whole IEEE 1284 device ID string.
              type: str
              sample: "MFG:Canon;CMD:BJL,BJRaster3;MDL:MG5200 series;CLS:PRINTER;DES:Canon MG5200 series;VER:1.050;"
            mac:
              description: MAC address from the discover answer.
              type: str
              returned: when the discover answer carries one
              sample: "00:1e:8f:12:34:56"
unresolved:
  description:
    - The targets given as hostnames that did not resolve, so were not probed, with the reason.
    - Empty when every hostname resolved. When some entries are listed the module warns, and when no
      target is left to probe it fails with this list in the result.
  returned: success, and on failure when no target resolved
  type: list
  elements: dict
  contains:
    target:
      description: The target exactly as given in O(targets).
      type: str
      sample: printer09.example.com
    error:
      description: Why it was not probed.
      type: str
      sample: "does not resolve ([Errno -2] Name or service not known)"
summary:
  description: Totals of the run.
  returned: success
  type: dict
  contains:
    targets:
      description: Number of addresses probed.
      type: int
      sample: 256
    exposed:
      description: Number of addresses with at least one C(open) port.
      type: int
      sample: 3
    elapsed:
      description: Seconds the probing took.
      type: float
      sample: 1.204
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_scanner import scan
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import (
    check_ports,
    check_timing,
    describe_unresolved,
    parse_ports,
    resolve_targets,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="str", required=True),
            udp_ports=dict(type="list", elements="raw", default=["8611-8614"]),
            tcp_ports=dict(type="list", elements="raw", default=[9100, "8611-8614"]),
            timeout=dict(type="float", default=1.0),
            retries=dict(type="int", default=1),
            concurrency=dict(type="int", default=4096),
            rate=dict(type="int", default=0),
            identify=dict(type="bool", default=True),
            max_targets=dict(type="int", default=65536),
            only_exposed=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        check_timing(params["timeout"], params["retries"], params["concurrency"], params["rate"])
        udp_ports = parse_ports(params["udp_ports"], option="udp_ports")
        tcp_ports = parse_ports(params["tcp_ports"], option="tcp_ports")
        check_ports(udp_ports, tcp_ports)
        targets, unresolved = resolve_targets(params["targets"], params["max_targets"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not targets:
        if unresolved:
            module.fail_json(msg="no target could be probed: %s" % describe_unresolved(unresolved),
                             unresolved=unresolved)
        module.fail_json(msg="targets is empty: give at least one hostname, address or network")

    try:
        report = scan(targets, udp_ports, tcp_ports, timeout=params["timeout"],
                      retries=params["retries"], concurrency=params["concurrency"],
                      rate=params["rate"], identify=params["identify"],
                      only_exposed=params["only_exposed"])
    except OSError as exc:
        module.fail_json(msg="probing failed: %s (lower concurrency if file descriptors ran out)" % exc)
    if unresolved:  # the others were probed; say which were not, in the result and as a warning
        report["msg"] = "%d of %d targets not probed: %s" % (len(unresolved), len(params["targets"]),
                                                             describe_unresolved(unresolved))
        module.warn(report["msg"])
    module.exit_json(changed=False, unresolved=unresolved, **report)


if __name__ == "__main__":
    main()
