# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listeners role's filters: bjnp_listeners on listen_ports_facts output, bjnp_ss_* on ss."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.netsec.bjnp.plugins.filter.bjnp_listeners import (
    bjnp_listeners,
    bjnp_ss_arguments,
    bjnp_ss_listeners,
)

PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]


def sock(port, protocol="tcp", address="0.0.0.0", name="cupsd", pid=812):
    return dict(port=port, protocol=protocol, address=address, name=name, pid=pid, state="LISTEN", user="root")


def test_only_the_ports_of_bjnp_ports_are_kept_one_per_socket_and_process():
    tcp = [sock(9100), sock(9100), sock(22, name="sshd"), sock(8613, "tcp6", "::")]
    udp = [sock(8611, "udp", name="cups-browsed", pid=900), sock(5353, "udp")]
    assert bjnp_listeners(tcp, udp, PORTS) == [
        dict(port=8613, protocol="tcp", address="::", process="cupsd", pid=812),
        dict(port=9100, protocol="tcp", address="0.0.0.0", process="cupsd", pid=812),
        dict(port=8611, protocol="udp", address="0.0.0.0", process="cups-browsed", pid=900)]


def test_a_socket_shared_by_two_processes_is_listed_for_each():
    tcp = [sock(9100, pid=812), sock(9100, name="cupsd-child", pid=813)]
    assert [item["pid"] for item in bjnp_listeners(tcp, [], PORTS)] == [812, 813]


def test_thousands_of_sockets_are_filtered():
    tcp = [sock(port % 60000 + 1) for port in range(20000)]
    assert [item["port"] for item in bjnp_listeners(tcp, [], PORTS)] == [8611, 8612, 8613, 8614, 9100]


def test_entries_without_a_port_are_skipped_and_bad_ports_refused():
    assert bjnp_listeners([{"port": None}, {"port": "x"}, "junk"], None, PORTS) == []
    with pytest.raises(AnsibleFilterError, match="bad bjnp_ports entry"):
        bjnp_listeners([], [], [{"protocol": "sctp", "port": 1}])


def test_the_ss_filters_name_themselves_in_their_errors():
    with pytest.raises(AnsibleFilterError, match="^bjnp_ss_arguments: bjnp_ports is empty"):
        bjnp_ss_arguments([])
    with pytest.raises(AnsibleFilterError, match="^bjnp_ss_arguments: bad bjnp_ports entry"):
        bjnp_ss_arguments([{"protocol": "sctp", "port": 1}])
    with pytest.raises(AnsibleFilterError, match="^bjnp_ss_listeners: ss printed a line of an unknown layout"):
        bjnp_ss_listeners("Netid State\nnonsense\n", PORTS)


def test_ss_output_gives_the_items_listen_ports_facts_gives():
    stdout = ("Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n"
              'tcp   LISTEN 0      128        0.0.0.0:9100      0.0.0.0:*    users:(("cupsd",pid=812,fd=7))\n'
              'tcp   LISTEN 0      128        0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=700,fd=3))\n')
    assert bjnp_ss_listeners(stdout, PORTS) == bjnp_listeners([sock(9100), sock(22, name="sshd", pid=700)], [], PORTS)
