# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to netsec.bjnp.probe fails, through ansible, with a message naming the bad value."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from bjnp_integration import run_module

# None of these needs a DNS answer: each is refused before any name is looked up.
CASES = [
    ({"targets": ["10.0.0.0/33"]}, "10.0.0.0/33"),
    ({"targets": ["127.0.0.1", "not..a host!"]}, "not..a host!"),
    ({"targets": ["127.0.0.1"], "tcp_ports": [0]}, "'0'"),
    ({"targets": ["127.0.0.1"], "udp_ports": [65536]}, "'65536'"),
    ({"targets": ["127.0.0.1"], "tcp_ports": ["9100-65536"]}, "65536"),
    ({"targets": ["127.0.0.1"], "timeout": 0}, "got 0"),
    ({"targets": ["127.0.0.1"], "timeout": -2.5}, "-2.5"),
]


@pytest.mark.parametrize("arguments, named", CASES, ids=[str(case[0]) for case in CASES])
def test_bad_input_fails_naming_the_value(arguments, named):
    returncode, result = run_module(arguments)
    assert returncode != 0
    assert result.get("failed") is True
    assert named in result["msg"], result["msg"]
    assert "hosts" not in result  # nothing was probed
