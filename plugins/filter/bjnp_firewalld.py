# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that renders the firewalld part of netsec.bjnp.firewall.

Documentation for ansible-doc lives in the sidecar file ``bjnp_firewalld_config.yml``. Pure:
the role writes the files and compares the lines, the rendering is unit tested here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import collapse_networks

PREFIX = "netsec-bjnp"
# Policies with a negative priority run before every zone; this one before the site's own.
PRIORITY = -32000
POLICIES = {"host": ("%s-host" % PREFIX, "HOST"), "gateway": ("%s-fwd" % PREFIX, "ANY")}
IPSETS = {4: ("%s-v4" % PREFIX, "ipv4", "inet"), 6: ("%s-v6" % PREFIX, "ipv6", "inet6")}


def _address(network):
    """A host network as its bare address (as firewalld prints it back), others as CIDR."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _port_text(port):
    return str(port).replace(":", "-").strip()


def _rich_rule(family, destination, port, action):
    """(XML element, the line firewall-cmd --list-rich-rules prints) of one drop/reject rule."""
    ipset, family_name = IPSETS[family][0], IPSETS[family][1]
    xml = ['  <rule family="%s">' % family_name, '    <source ipset="%s" invert="True"/>' % ipset]
    text = 'rule family="%s" source NOT ipset="%s"' % (family_name, ipset)
    if destination:
        xml.append('    <destination address="%s"/>' % destination)
        text += ' destination address="%s"' % destination
    xml.append('    <port port="%s" protocol="%s"/>' % (_port_text(port["port"]), port["protocol"]))
    xml.append("    <%s/>" % action)
    xml.append("  </rule>")
    text += ' port port="%s" protocol="%s" %s' % (_port_text(port["port"]), port["protocol"], action)
    return "\n".join(xml), text


def bjnp_firewalld_config(ports, mode=None, allowed_sources=None, protected_destinations=None, action="drop"):
    """Files and expected runtime state of the firewalld backend.

    Returns ``{"files": {relative path under /etc/firewalld: XML}, "runtime": [lines]}``. The
    lines are what the role's reader prints for the live (runtime) firewalld, sorted.
    """
    mode = sorted(set(mode or ["host"]))
    if action not in ("drop", "reject"):
        raise AnsibleFilterError("bjnp_firewalld_config: action must be drop or reject, not %r" % (action,))
    unknown = [m for m in mode if m not in POLICIES]
    if unknown:
        raise AnsibleFilterError("bjnp_firewalld_config: unknown mode %s" % ", ".join(unknown))
    for port in ports:
        if not isinstance(port, dict) or port.get("protocol") not in ("tcp", "udp") or "port" not in port:
            raise AnsibleFilterError("bjnp_firewalld_config: a port is {protocol: tcp|udp, port: N or low-high}, not %r" % (port,))
    try:
        allowed = collapse_networks(allowed_sources or [])
        protected = collapse_networks(protected_destinations or [])
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_firewalld_config: %s" % to_native(exc))

    files, runtime = {}, []
    # Both sets always exist: an empty one is "nobody allowed" for its family.
    for family in (4, 6):
        name, dummy, inet = IPSETS[family]
        entries = [_address(network) for network in allowed[family]]
        xml = ['<?xml version="1.0" encoding="utf-8"?>', '<ipset type="hash:net">',
               "  <short>%s allowed IPv%d</short>" % (PREFIX, family),
               "  <description>Print servers netsec.bjnp.firewall lets reach BJNP and raw print.</description>"]
        if inet == "inet6":
            xml.append('  <option name="family" value="inet6"/>')
        xml += ["  <entry>%s</entry>" % entry for entry in entries] + ["</ipset>", ""]
        files["ipsets/%s.xml" % name] = "\n".join(xml)
        runtime += ["ipset %s entry %s" % (name, entry) for entry in entries]
        runtime.append("ipset %s exists" % name)

    for kind in mode:
        name, egress = POLICIES[kind]
        if kind == "host":
            targets = {4: [None], 6: [None]}
        elif protected[4] or protected[6]:
            # Only the families that have protected destinations.
            targets = dict((family, [_address(n) for n in protected[family]]) for family in (4, 6))
        else:
            targets = {4: [None], 6: [None]}
        xml = ['<?xml version="1.0" encoding="utf-8"?>',
               '<policy target="CONTINUE" priority="%d">' % PRIORITY,
               "  <short>%s %s</short>" % (PREFIX, kind),
               "  <description>netsec.bjnp.firewall: BJNP and raw print closed but to the allowed print servers."
               "</description>",
               '  <ingress-zone name="ANY"/>',
               '  <egress-zone name="%s"/>' % egress]
        runtime += ["policy %s priority %d" % (name, PRIORITY), "policy %s ingress ANY" % name,
                    "policy %s egress %s" % (name, egress)]
        for family in (4, 6):
            for destination in targets[family]:
                for port in ports:
                    element, text = _rich_rule(family, destination, port, action)
                    xml.append(element)
                    runtime.append("policy %s rule %s" % (name, text))
        files["policies/%s.xml" % name] = "\n".join(xml + ["</policy>", ""])
    return {"files": files, "runtime": sorted(runtime)}


class FilterModule(object):
    """netsec.bjnp firewalld filters."""

    def filters(self):
        return {"bjnp_firewalld_config": bjnp_firewalld_config}
