# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nmap's bjnp-discover script, a client written without us, reads the emulator's identity."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
from xml.etree import ElementTree

import pytest

from bjnp_integration import needs_root

IDENTITY = ["--manufacturer", "Canon", "--model", "TS8350 series", "--description", "Canon TS8350 series lab",
            "--firmware", "2.010", "--command-set", "BJL,BJRaster3,NCCe,IVEC"]


def bjnp_discover(address, workdir):
    """Run ``nmap -sU -p 8611,8612 --script bjnp-discover`` and return {port: {key: value}}."""
    output = os.path.join(workdir, "nmap.xml")
    command = ["nmap", "-n", "-Pn", "-sU", "-p", "8611,8612", "--script", "bjnp-discover", "-oX", output, address]
    if ":" in address:
        command.insert(1, "-6")
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=300)
    assert completed.returncode == 0, completed.stdout.decode("utf-8", "replace")
    found = {}
    for port in ElementTree.parse(output).getroot().iter("port"):
        for script in port.iter("script"):
            if script.get("id") == "bjnp-discover":
                lines = [line.strip() for line in script.get("output", "").splitlines()]
                found[int(port.get("portid"))] = dict(line.split(": ", 1) for line in lines if ": " in line)
    return found


@needs_root
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_nmap_bjnp_discover_reports_manufacturer_and_model(family, start_emulator, workdir):
    emulator = start_emulator(IDENTITY, ipv6=family == "ipv6")
    found = bjnp_discover("::1" if family == "ipv6" else emulator.address, workdir)
    assert found[8611] == {"Manufacturer": "Canon", "Model": "TS8350 series", "Description": "Canon TS8350 series lab",
                           "Firmware version": "2.010", "Command": "BJL,BJRaster3,NCCe,IVEC"}
    # nmap asks the scanner port with the scanner request and prints no firmware line for it.
    assert found[8612]["Manufacturer"] == "Canon" and found[8612]["Model"] == "TS8350 series"


@needs_root
def test_nmap_finds_no_identity_where_nothing_listens(loopback_address, workdir):
    assert bjnp_discover(loopback_address, workdir) == {}
