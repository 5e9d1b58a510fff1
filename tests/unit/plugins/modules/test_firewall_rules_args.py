# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables_rules and iptables_rules refuse bad options, naming the value, before running any firewall command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.netsec.bjnp.plugins.modules import iptables_rules, nftables_rules


def run_module(capsys, module, **args):
    # Check mode: should validation ever regress, the module still must not touch this host's firewall.
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("module", [nftables_rules, iptables_rules])
@pytest.mark.parametrize("args, message", [
    (dict(allowed_sources=["10.0.0.5/24"]), "'10.0.0.5/24' is not an IPv4/IPv6 address or CIDR network"),
    (dict(protected_destinations=["printers"]), "'printers' is not an IPv4/IPv6 address"),
    (dict(ports=[{"protocol": "tcp", "port": "9100-80"}]), "port range '9100-80' runs backwards"),
    (dict(ports=[{"protocol": "icmp", "port": 1}]), "protocol 'icmp'"),
    (dict(ports=[]), "ports is empty"),
    (dict(mode=[]), "mode is empty"),
])
def test_bad_options_fail_with_the_value_named(capsys, module, args, message):
    result = run_module(capsys, module, **args)
    assert result["failed"] is True
    assert message in result["msg"]


@pytest.mark.parametrize("module", [nftables_rules, iptables_rules])
def test_argument_spec_refuses_unknown_choices(capsys, module):
    result = run_module(capsys, module, action="deny")
    assert result["failed"] is True and "action" in result["msg"] and "deny" in result["msg"]
