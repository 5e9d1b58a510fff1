# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CUPS ``bjnp`` backend (cups-backend-bjnp) discovers the emulator as it would a printer.

Run with no arguments, the backend broadcasts a discover on every non-loopback interface
(IPv4: to the interface's broadcast address; IPv6: to ff02::1), asks each answering device
for its identity and lists it as ``network bjnp://HOST:8611 "MAKE MODEL" ...``. Loopback is
skipped by design, so the emulator listens on the wildcard address of its own namespace,
behind a veth pair, and the backend runs in the other namespace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex

import pytest

from bjnp_integration import NamespacePair

BACKEND = "/usr/lib/cups/backend/bjnp"

pytestmark = pytest.mark.skipif(not os.access(BACKEND, os.X_OK),
                                reason="%s is missing (Debian package cups-backend-bjnp)" % BACKEND)


@pytest.mark.parametrize("wildcard, uri", [
    ("0.0.0.0", "bjnp://%s:8611" % NamespacePair.LAB_V4),      # found by IPv4 broadcast
    ("::", "bjnp://[%s]:8611" % NamespacePair.LAB_V6),         # found by IPv6 multicast ff02::1
], ids=["ipv4-broadcast", "ipv6-multicast"])
def test_cups_bjnp_backend_lists_the_emulator(wildcard, uri, netns_pair, start_emulator, workdir):
    start_emulator(["--model", "TS8350 series", "--description", "Canon TS8350 series",
                    "--mac", "00:1e:8f:ab:cd:ef"], binds=[wildcard], netns=netns_pair.lab)
    debug = os.path.join(workdir, "bjnp-backend.log")
    completed = netns_pair.run(netns_pair.scan, ["env", "BJNP_DEBUG_LEVEL=DEBUG", "BJNP_DEBUG_FILE=" + debug,
                                                 BACKEND], timeout=60)
    output = completed.stdout.decode("utf-8", "replace")
    assert completed.returncode == 0, completed.stderr
    devices = [shlex.split(line) for line in output.splitlines() if line.startswith("network bjnp://")]
    assert len(devices) == 1, "backend output:\n%s" % output
    device_class, device_uri, make_and_model, info, device_id = devices[0][:5]
    assert (device_class, device_uri) == ("network", uri)
    assert make_and_model == "Canon TS8350 series"
    assert "MDL:TS8350 series;" in device_id and "MFG:Canon;" in device_id
    assert info.startswith("Canon TS8350 series")
