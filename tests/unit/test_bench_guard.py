# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan benchmark's guard: outside loopback it probes only where no route leads out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import ipaddress
import os

ENGINE = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "scan", "engine.py")
SPEC = importlib.util.spec_from_file_location("bench_scan_engine", ENGINE)
engine = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(engine)

# /proc/net/route and /proc/net/ipv6_route as this machine's host namespace prints them, and as
# a namespace the benchmark creates does (a veth with its /30 and the lab's /24, no default).
IPV4_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
IPV4_HOST = IPV4_HEADER + ("eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                           "podman0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
IPV4_BENCH = IPV4_HEADER + ("bjnpb0\t0000E70A\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0\n"
                            "bjnpb0\t0001E70A\t0200E70A\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
IPV6_LO_REJECT = ("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                  "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")
IPV6_DEFAULT = ("00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                "fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\n")


def test_a_default_route_is_seen_in_either_family():
    assert engine.has_default_route(IPV4_HOST, IPV6_LO_REJECT)
    assert engine.has_default_route(IPV4_BENCH, IPV6_DEFAULT + IPV6_LO_REJECT)


def test_the_benchmark_namespace_has_none():
    # The reject route every namespace has on lo leads nowhere.
    assert not engine.has_default_route(IPV4_BENCH, IPV6_LO_REJECT)
    assert not engine.has_default_route(IPV4_HEADER, "")


def test_only_loopback_is_probed_where_a_route_leads_out():
    addresses = [ipaddress.ip_address(text) for text in ("127.77.0.1", "::1", "10.231.1.5", "fd42::2")]
    assert engine.outside_lab(addresses, routes_out=True) == ["10.231.1.5", "fd42::2"]
    assert engine.outside_lab(addresses, routes_out=False) == []
