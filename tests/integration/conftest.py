# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the integration tests (the helpers they use live in bjnp_integration.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import subprocess
import tempfile
import uuid

import pytest

from bjnp_integration import (IS_ROOT, Capture, Emulator, NamespacePair, lease_ipv6_loopback,
                              lease_loopback_address, lease_loopback_block)


@pytest.fixture
def loopback_address():
    """A leased loopback address with nothing listening on it."""
    lease = lease_loopback_address()
    yield lease.address
    lease.release()


@pytest.fixture
def loopback_block():
    """A leased ``127.x.y`` prefix: the whole /24 is this test's."""
    lease = lease_loopback_block()
    yield lease.address
    lease.release()


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="bjnp-integration-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_emulator(workdir):
    """Factory: ``start_emulator(options=[...], ipv6=False, binds=None, netns=None)``.

    Without ``binds`` it leases a fresh loopback address (and ::1 with ``ipv6=True``).
    Every emulator is stopped at teardown and must exit 0 on SIGTERM.
    """
    started, leases = [], []

    def start(options=(), ipv6=False, binds=None, netns=None):
        if binds is None:
            leases.append(lease_loopback_address())
            binds = [leases[-1].address]
            if ipv6:
                leases.append(lease_ipv6_loopback())
                binds.append("::1")
        emulator = Emulator(binds, workdir, netns=netns, options=options)
        started.append(emulator)
        return emulator

    yield start
    try:
        for emulator in started:
            emulator.stop()
    finally:
        for emulator in started:
            emulator.stop(check=False)
        for lease in leases:
            lease.release()


@pytest.fixture
def netns_pair():
    if not IS_ROOT:
        pytest.skip("needs root to create network namespaces")
    pair = NamespacePair()
    yield pair
    pair.delete()


@pytest.fixture
def capture(workdir):
    """Factory: ``capture(interface, capture_filter, netns=None)``; stopped at teardown."""
    if not IS_ROOT:
        pytest.skip("needs root to capture packets with tshark")
    started = []

    def start(interface, capture_filter, netns=None):
        started.append(Capture(workdir, interface, capture_filter, netns=netns))
        return started[-1]

    yield start
    for item in started:
        item.stop()


@pytest.fixture
def kernel_logs_namespaces():
    """The kernel drops log lines of non-initial network namespaces unless told otherwise.

    A runtime setting (gone at reboot); left on, since parallel tests and Molecule rely on it.
    """
    with open("/proc/sys/net/netfilter/nf_log_all_netns", "w") as handle:
        handle.write("1\n")


@pytest.fixture
def netns():
    """A network namespace of this test's own, loopback up, deleted afterwards."""
    name = "bjnpns-%s" % uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


fresh_netns = netns
