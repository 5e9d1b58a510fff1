# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the probe engine alone (no ansible) with the module's defaults; write its result as JSON.

Usage: python3 bench/scan/engine.py OUTPUT.json [--only-exposed] [--collections DIR] [--profile N] TARGET [TARGET ...]

``--collections DIR`` imports netsec.bjnp from DIR (default: the tree's .cache/collections;
bench/scan/run.py --engine-baseline points it at a copy holding an older engine).
Targets outside loopback are refused where a default route exists: the benchmarks probe only
loopback and the network namespaces they wire (``ip netns exec``, as run.py's netns scenario
does, in a namespace with no default route), never a network that routes out.

``--profile N`` runs the UDP half, then the TCP half, each alone under cProfile, and prints
for each its wall time, user and system CPU (of this process and of a child the engine
forks), CPU per probe and the N costliest functions (own time) to stderr; the result
written is the same scan's. An engine that probes half the addresses in a child process
is profiled in this process's half only (the child escapes the profiler).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import cProfile
import json
import os
import pstats
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UDP_PORTS = [8611, 8612, 8613, 8614]
TCP_PORTS = [8611, 8612, 8613, 8614, 9100]


def has_default_route(ipv4_routes, ipv6_routes):
    """Whether /proc/net/route or /proc/net/ipv6_route (their texts) hold a default route."""
    ipv4 = any(line.split()[1:2] == ["00000000"] and line.split()[7:8] == ["00000000"]
               for line in ipv4_routes.splitlines()[1:])
    ipv6 = any(line.split()[:2] == ["0" * 32, "00"] and line.split()[9:10] != ["lo"]
               for line in ipv6_routes.splitlines())
    return ipv4 or ipv6


def outside_lab(addresses, routes_out):
    """The addresses a benchmark must not probe: every non-loopback one where a route leads out."""
    return [str(address) for address in addresses if routes_out and not address.is_loopback]


def read_text(path):
    with open(path) as handle:
        return handle.read()


def usage():
    """(user, system, of which children) CPU seconds of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime,
            children.ru_utime + children.ru_stime)


def profile_halves(bjnp_scanner, targets, top):
    """Each protocol alone under cProfile; the CPU counted includes a forked child's."""
    addresses = [str(address) for address, dummy_name in targets]
    results = {}
    for name, udp_ports, tcp_ports in (("udp", UDP_PORTS, []), ("tcp", [], TCP_PORTS)):
        scanner = bjnp_scanner.Scanner(udp_ports, tcp_ports)
        profiler = cProfile.Profile()
        before, started = usage(), time.monotonic()
        profiler.enable()
        results.update(scanner.run(addresses))
        profiler.disable()
        wall, after = time.monotonic() - started, usage()
        user, system, child = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
        probes = len(addresses) * len(udp_ports or tcp_ports)
        sys.stderr.write("%s half alone, under cProfile: %.2f s wall, user %.2f s, system %.2f s "
                         "(%.2f s of them in a child process, not profiled), %.2f us CPU per probe "
                         "(%d probes, %d datagrams or connects sent)\n" % (
                             name, wall, user, system, child, (user + system) * 1e6 / probes, probes,
                             scanner.probes_sent))
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(top)
    return results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("output")
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--only-exposed", action="store_true")
    parser.add_argument("--collections", default=os.path.join(ROOT, ".cache", "collections"))
    parser.add_argument("--profile", type=int, metavar="N")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.collections)
    from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_scanner, bjnp_targets

    targets = bjnp_targets.expand_targets(args.targets)
    routes_out = has_default_route(read_text("/proc/net/route"), read_text("/proc/net/ipv6_route"))
    refused = outside_lab([address for address, dummy_name in targets], routes_out)
    if refused:
        sys.exit("refusing to probe %s (and %d more): not loopback, and this network namespace has a "
                 "default route (run it inside the benchmark's own namespaces)" % (refused[0], len(refused) - 1))
    if args.profile:
        started = time.monotonic()
        results = profile_halves(bjnp_scanner, targets, args.profile)
        report = bjnp_scanner.build_report(targets, results, UDP_PORTS, TCP_PORTS, time.monotonic() - started,
                                           only_exposed=args.only_exposed)
    else:
        report = bjnp_scanner.scan(targets, udp_ports=UDP_PORTS, tcp_ports=TCP_PORTS,
                                   only_exposed=args.only_exposed)
    with open(args.output, "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1:])
