# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role's filters: the ss command line, and the sockets on the BJNP and raw-print
ports from its output or from listen_ports_facts (bjnp_listeners.yml, bjnp_ss_*.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import normalize_ports
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_listeners import (
    keep_listeners,
    parse_ss,
    ss_arguments,
)


def _merged(name, ports):
    try:
        return normalize_ports(ports)
    except (ValueError, AttributeError, TypeError) as exc:
        raise AnsibleFilterError("%s: bad bjnp_ports entry: %s" % (name, to_native(exc)))


def bjnp_listeners(tcp_listen, udp_listen, ports):
    """The listen_ports_facts entries on ``bjnp_ports``, as ``bjnp_listeners`` items."""
    return keep_listeners(tcp_listen, udp_listen, _merged("bjnp_listeners", ports))


def bjnp_ss_arguments(ports):
    """The ss argv listing only the listening sockets on ``bjnp_ports``."""
    try:
        return ss_arguments(_merged("bjnp_ss_arguments", ports))
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_ss_arguments: %s" % to_native(exc))


def bjnp_ss_listeners(stdout, ports):
    """The sockets of that ss output on ``bjnp_ports``, as ``bjnp_listeners`` items."""
    merged = _merged("bjnp_ss_listeners", ports)
    try:
        tcp_listen, udp_listen = parse_ss(to_native(stdout))
    except ValueError as exc:
        raise AnsibleFilterError("bjnp_ss_listeners: %s" % to_native(exc))
    return keep_listeners(tcp_listen, udp_listen, merged)


class FilterModule(object):
    """netsec.bjnp listener filters."""

    def filters(self):
        return {
            "bjnp_listeners": bjnp_listeners,
            "bjnp_ss_arguments": bjnp_ss_arguments,
            "bjnp_ss_listeners": bjnp_ss_listeners,
        }
