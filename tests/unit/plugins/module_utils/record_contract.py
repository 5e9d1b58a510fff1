# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record the contract round trips of one backend on the real tools (tools/record-contract.sh runs it).

Run as root where the backend's tools act on a throwaway firewall: a fresh network namespace
(nftables, iptables-*) or a privileged container (ufw, firewalld). Writes
fixtures/contract/<backend>.json, which test_firewall_contract.py replays.

    python3 record_contract.py BACKEND FIXTURE_DIR
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from contract_harness import RecordingModule, round_trip, save  # noqa: E402
from contract_scenes import SCENES, backend_options  # noqa: E402

from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.registry import backend_class  # noqa: E402


def main(name, fixture_dir):
    recording = {}
    for scene, policy_args in sorted(SCENES.items()):
        module = RecordingModule()
        directory = tempfile.mkdtemp(prefix="contract-")
        seen = round_trip(backend_class(name), module, backend_options(directory), policy_args)
        recording[scene] = {"calls": module.calls, "seen": seen, "directory": directory}
    save(os.path.join(fixture_dir, "%s.json" % name), recording)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
