# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the probe engine alone (no ansible) with the module's defaults; write its result as JSON.

Usage: python3 bench/scan/engine.py OUTPUT.json [--only-exposed] TARGET [TARGET ...]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_scanner, bjnp_targets  # noqa: E402


def main(argv):
    output, args = argv[0], argv[1:]
    only_exposed = "--only-exposed" in args
    targets = bjnp_targets.expand_targets([arg for arg in args if arg != "--only-exposed"])
    report = bjnp_scanner.scan(targets, udp_ports=[8611, 8612, 8613, 8614],
                               tcp_ports=[8611, 8612, 8613, 8614, 9100], only_exposed=only_exposed)
    with open(output, "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1:])
