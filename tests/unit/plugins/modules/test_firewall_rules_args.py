# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall_rules refuses bad options, naming the value, before running any firewall command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from module_args import patch_module_args

from ansible_collections.netsec.bjnp.plugins.modules import firewall_rules


def run_module(capsys, **args):
    # Check mode: should validation ever regress, the module still must not touch this host's firewall.
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            firewall_rules.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["nftables", "iptables-nft", "iptables-legacy"])
@pytest.mark.parametrize("args, message", [
    (dict(allowed_sources=["10.0.0.5/24"]), "'10.0.0.5/24' is not an IPv4/IPv6 address or CIDR network"),
    (dict(protected_destinations=["printers"]), "'printers' is not an IPv4/IPv6 address"),
    (dict(ports=[{"protocol": "tcp", "port": "9100-80"}]), "port range '9100-80' runs backwards"),
    (dict(ports=[{"protocol": "icmp", "port": 1}]), "protocol 'icmp'"),
    (dict(ports=[]), "ports is empty"),
    (dict(mode=[]), "mode is empty"),
])
def test_bad_options_fail_with_the_value_named(capsys, backend, args, message):
    result = run_module(capsys, backend=backend, **args)
    assert result["failed"] is True
    assert message in result["msg"] and result["msg"].endswith("Nothing was changed."), result["msg"]


def test_argument_spec_refuses_unknown_choices(capsys):
    result = run_module(capsys, action="deny")
    assert result["failed"] is True and "action" in result["msg"] and "deny" in result["msg"]
    result = run_module(capsys, backend="pf")
    assert result["failed"] is True and "backend" in result["msg"] and "pf" in result["msg"]


@pytest.mark.parametrize("args, message", [
    # Found in review: the table name reached nft's command line unchecked ("bjnp; delete table ip nat").
    (dict(backend="nftables", nftables_table="bjnp; delete table ip nat"), "nftables_table 'bjnp; delete table ip nat'"),
    (dict(backend="nftables", nftables_table="1bjnp"), "nftables_table '1bjnp'"),
    (dict(backend="iptables-nft", iptables_chain_prefix="BJNP -j ACCEPT"), "iptables_chain_prefix 'BJNP -j ACCEPT'"),
    (dict(backend="iptables-legacy", iptables_chain_prefix="B" * 21), "iptables_chain_prefix"),
])
def test_names_that_reach_a_command_line_are_refused(capsys, args, message):
    result = run_module(capsys, **args)
    assert result["failed"] is True and message in result["msg"] and "Nothing was changed." in result["msg"], result
