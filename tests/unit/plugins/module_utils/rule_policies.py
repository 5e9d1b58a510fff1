# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ports of the finding and a short way to build a policy, for the backends' unit tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_firewall

PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]


def policy(allowed=(), modes=("host",), protected=(), action="drop", ports=None):
    return bjnp_firewall.build_policy(PORTS if ports is None else ports, list(allowed), list(modes), list(protected), action)
