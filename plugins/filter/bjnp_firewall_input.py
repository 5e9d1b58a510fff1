# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks the firewall role's options (documented in bjnp_firewall_input.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import check_role_input


def bjnp_firewall_input(values):
    if not isinstance(values, dict):
        raise AnsibleFilterError("bjnp_firewall_input expects a dict of the role's options, not %r" % (values,))
    return check_role_input(values)


class FilterModule(object):
    """netsec.bjnp input checks."""

    def filters(self):
        return {"bjnp_firewall_input": bjnp_firewall_input}
