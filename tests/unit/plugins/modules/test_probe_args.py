# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.probe refuses bad options with a message naming the value, before any probe."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.netsec.bjnp.plugins.modules import probe


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    (dict(targets=["127.0.0.1"], udp_ports=[70000]), "udp_ports: port '70000' is outside 1-65535"),
    (dict(targets=["127.0.0.1"], tcp_ports=["0"]), "tcp_ports: port '0' is outside 1-65535"),
    (dict(targets=["127.0.0.1"], tcp_ports=["9100-80"]), "tcp_ports: port range '9100-80' runs backwards"),
    (dict(targets=["127.0.0.1"], timeout=0), "timeout must be greater than 0 seconds, got 0.0"),
    (dict(targets=["127.0.0.1"], timeout=-2), "got -2.0"),
    (dict(targets=["127.0.0.1"], retries=-1), "retries must be 0 or more, got -1"),
    (dict(targets=["127.0.0.1"], concurrency=0), "concurrency must be at least 1, got 0"),
    (dict(targets=["10.0.0.0/8"]), "max_targets=65536 addresses (at least 16777216"),
    (dict(targets=["127.0.0.0/24"], max_targets=100), "max_targets=100"),
    (dict(targets=["127.0.0.1/33"]), "'127.0.0.1/33' is not a valid CIDR network"),
    (dict(targets=["no-such-host.invalid"]), "'no-such-host.invalid' is not an address"),
    (dict(targets=[]), "targets is empty"),
])
def test_bad_options_fail_with_the_value_named(capsys, args, message):
    result = run_module(capsys, **args)
    assert result["failed"] is True
    assert message in result["msg"]


def test_unknown_option_is_refused_by_the_argument_spec(capsys):
    result = run_module(capsys, targets=["127.0.0.1"], ports=[9100])
    assert result["failed"] is True and "ports" in result["msg"]


def test_targets_are_required(capsys):
    result = run_module(capsys)
    assert result["failed"] is True and "targets" in result["msg"]
