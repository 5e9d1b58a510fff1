# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every backend through the same contract, replayed from real tool output.

fixtures/contract/<backend>.json holds what the real tools printed while record_contract.py took
the backend through ``contract_harness.round_trip`` (tools/record-contract.sh: nftables and
iptables in a network namespace, ufw and firewalld in a container), on Debian 12;
fixtures/contract/<distro>/<backend>.json the same on the other releases the role is tested on
(every backend in a container of that release's image). Replaying it here runs the
backend's reading, parsing and planning on that output without root, and the same assertions
hold for every backend: a fresh host needs a change, after apply the live state verifies and a
second plan changes nothing, removal plans a change and leaves nothing of ours.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from contract_harness import ReplayModule, load, round_trip
from contract_scenes import SCENES, backend_options

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.base import Backend
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import NAMES, backend_class

# One counter per chain and port range, both families added up.
COUNTERS = dict((mode, [dict(mode=mode, protocol=protocol, ports=ports, packets=0, bytes=0)
                        for protocol, ports in (("tcp", "8611-8614"), ("tcp", "9100"), ("udp", "8611-8614"))])
                for mode in ("gateway", "host"))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "contract")
# Debian 12's recordings sit at the top, each other release's in a folder of its name.
DISTROS = ["debian12"] + sorted(name for name in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, name)))


def recording(distro, name):
    return os.path.join(FIXTURES if distro == "debian12" else os.path.join(FIXTURES, distro), "%s.json" % name)


@pytest.mark.parametrize("distro", DISTROS)
def test_every_backend_is_recorded_on_every_release(distro):
    assert [name for name in NAMES if not os.path.exists(recording(distro, name))] == []


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("scene", sorted(SCENES))
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_on_recorded_tool_output(name, scene, distro):
    recorded = load(recording(distro, name))[scene]
    module = ReplayModule(recorded["calls"])
    # The recording's own boot-file directory: a replay writes nothing, it compares.
    seen = round_trip(backend_class(name), module, backend_options(recorded["directory"]), SCENES[scene])
    assert module.finished(), "the backend made fewer calls than recorded"

    assert seen["plan"]["live_changed"], seen["plan"]
    assert seen["verify"] == [], seen["verify"]
    assert seen["in_use_after"] is True
    assert seen["again_changed"] is False
    # Counters for what was just loaded, at zero: nftables only when logging, iptables and ufw
    # always (rule counters), firewalld never.
    if backend_class(name).counters is Backend.counters:
        assert seen["counters"] is None
    elif name == "nftables" and scene != "logged":
        assert seen["counters"] == []
    elif name != "ufw" or scene == "logged":
        assert seen["counters"] == (COUNTERS["host"] if scene == "host" else COUNTERS["gateway"] + COUNTERS["host"])
    assert seen["backup_roles"] == sorted(role for role, dummy in backend_class(name).backup_files)
    assert seen["removal"]["live_changed"], seen["removal"]
    assert seen["removed_verify"] == []
    assert seen["after_removal_changed"] is False
    # What the backend decides from the output is what it decided on the real host.
    assert json.dumps(seen, sort_keys=True) == json.dumps(recorded["seen"], sort_keys=True)
