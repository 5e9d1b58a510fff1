# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.probe across a veth pair: a port dropped by nftables in the printer's namespace.

The emulator runs in the ``lab`` namespace, the probe (through ansible) in ``scan``; an
nftables drop rule in ``lab`` turns TCP 9100 into ``filtered`` and UDP 8611 into
``open|filtered``, while the ports it leaves alone keep reading ``open`` and ``closed``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from bjnp_integration import NamespacePair, port_result, probe

ADDRESSES = (NamespacePair.LAB_V4, NamespacePair.LAB_V6)
ARGUMENTS = {"targets": list(ADDRESSES), "udp_ports": [8611, 8612, 8613], "tcp_ports": [9100, 8611, 8613],
             "timeout": 1.0, "retries": 1}
DROP_RULES = """
table inet bjnp_integration {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 9100 drop
        udp dport 8611 drop
    }
}
"""


def states(result, address):
    return dict(((entry["protocol"], entry["port"]), entry["state"])
                for entry in [port_result(result, address, protocol, port)
                              for protocol, port in (("udp", 8611), ("udp", 8612), ("udp", 8613),
                                                     ("tcp", 9100), ("tcp", 8611), ("tcp", 8613))])


def test_ports_dropped_by_nftables_read_filtered_and_open_filtered(netns_pair, start_emulator):
    start_emulator(["--model", "TS8350 series"], binds=list(ADDRESSES), netns=netns_pair.lab)
    before = probe(ARGUMENTS, netns=netns_pair.scan)
    for address in ADDRESSES:
        assert states(before, address) == {
            ("udp", 8611): "open", ("udp", 8612): "open", ("udp", 8613): "closed",
            ("tcp", 9100): "open", ("tcp", 8611): "open", ("tcp", 8613): "closed"}

    loaded = netns_pair.run(netns_pair.lab, ["nft", "-f", "-"], stdin=DROP_RULES.encode("ascii"))
    assert loaded.returncode == 0, loaded.stderr
    after = probe(ARGUMENTS, netns=netns_pair.scan)
    for address in ADDRESSES:
        assert states(after, address) == {
            ("udp", 8611): "open|filtered", ("udp", 8612): "open", ("udp", 8613): "closed",
            ("tcp", 9100): "filtered", ("tcp", 8611): "open", ("tcp", 8613): "closed"}
        assert "identity" not in port_result(after, address, "udp", 8611)
        assert port_result(after, address, "udp", 8612)["identity"]["model"] == "TS8350 series"
