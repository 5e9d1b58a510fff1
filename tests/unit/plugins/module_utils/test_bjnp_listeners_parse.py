# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role's ss command line and the parse of its output (captured from ss 6.1)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import normalize_ports
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_listeners import keep_listeners, parse_ss, ss_arguments

PORTS = normalize_ports([{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
                         {"protocol": "udp", "port": "8611-8614"}])

# Root, in a network namespace: a forked child shares every socket; 8611 is bound to lo; 8613 is
# a dual-stack socket on ::, 8614 one with IPV6_V6ONLY.
SS_ROOT = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
udp   UNCONN 0      0              [::1]:8612         [::]:*    users:(("python3",pid=21116,fd=4),("python3",pid=21075,fd=4))
tcp   LISTEN 0      128       0.0.0.0%lo:8611      0.0.0.0:*    users:(("python3",pid=21116,fd=7),("python3",pid=21075,fd=7))
tcp   LISTEN 0      128        127.0.0.1:9100      0.0.0.0:*    users:(("python3",pid=21116,fd=3),("python3",pid=21075,fd=3))
tcp   LISTEN 0      128             [::]:8614         [::]:*    users:(("python3",pid=21116,fd=6),("python3",pid=21075,fd=6))
tcp   LISTEN 0      128                *:8613            *:*    users:(("python3",pid=21116,fd=5),("python3",pid=21075,fd=5))
"""

# Without root ss names no process.
SS_USER = """\
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
tcp   LISTEN 0      128        127.0.0.1:9100      0.0.0.0:*
"""


def test_the_command_lists_the_ports_of_both_protocols_and_only_them():
    assert ss_arguments(PORTS) == ["ss", "--listening", "--numeric", "--processes", "--tcp", "--udp",
                                   "( ( sport >= :8611 and sport <= :8614 ) or sport = :9100 )"]
    assert ss_arguments(normalize_ports([{"protocol": "udp", "port": 9100}]))[-1] == "( sport = :9100 )"


def test_no_port_is_refused_rather_than_listing_every_socket():
    with pytest.raises(ValueError, match="bjnp_ports is empty"):
        ss_arguments(normalize_ports([]))


def test_each_socket_is_read_once_per_process_with_its_address_as_bound():
    tcp, udp = parse_ss(SS_ROOT)
    assert [(item["address"], item["port"], item["pid"]) for item in tcp] == [
        ("0.0.0.0%lo", 8611, 21116), ("0.0.0.0%lo", 8611, 21075), ("127.0.0.1", 9100, 21116), ("127.0.0.1", 9100, 21075),
        ("::", 8614, 21116), ("::", 8614, 21075), ("*", 8613, 21116), ("*", 8613, 21075)]
    assert udp == [{"address": "::1", "port": 8612, "name": "python3", "pid": 21116},
                   {"address": "::1", "port": 8612, "name": "python3", "pid": 21075}]


def test_without_a_process_column_name_and_pid_are_unknown():
    assert parse_ss(SS_USER) == ([{"address": "127.0.0.1", "port": 9100, "name": None, "pid": None}], [])
    assert keep_listeners(*parse_ss(SS_USER), merged=PORTS) == [
        {"port": 9100, "protocol": "tcp", "address": "127.0.0.1", "process": None, "pid": None}]


@pytest.mark.parametrize("line, message", [
    ("raw   UNCONN 0 0 0.0.0.0:255 0.0.0.0:*", "unknown layout"),
    ("tcp   LISTEN 0 128", "unknown layout"),
    ("tcp   LISTEN 0 128 127.0.0.1 0.0.0.0:*", "without a port"),
])
def test_a_line_of_another_layout_is_an_error_naming_it(line, message):
    with pytest.raises(ValueError, match=message):
        parse_ss("Netid State\n" + line + "\n")


def test_kept_per_protocol_sorted_and_a_pid_of_zero_is_unknown():
    tcp, udp = parse_ss(SS_ROOT)
    kept = keep_listeners(tcp + [{"address": "0.0.0.0", "port": 8612, "name": "", "pid": 0}],
                          udp + [{"address": "0.0.0.0", "port": 9100, "name": "x", "pid": 1}], PORTS)
    assert [(item["protocol"], item["port"], item["address"], item["pid"]) for item in kept] == [
        ("tcp", 8611, "0.0.0.0%lo", 21075), ("tcp", 8611, "0.0.0.0%lo", 21116), ("tcp", 8612, "0.0.0.0", None),
        ("tcp", 8613, "*", 21075), ("tcp", 8613, "*", 21116), ("tcp", 8614, "::", 21075), ("tcp", 8614, "::", 21116),
        ("tcp", 9100, "127.0.0.1", 21075), ("tcp", 9100, "127.0.0.1", 21116), ("udp", 8612, "::1", 21075),
        ("udp", 8612, "::1", 21116)]
