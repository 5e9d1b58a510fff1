# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containers.podman.podman with pipelining, for bench/remediate/run.py only (not shipped).

The stock plugin sets has_pipelining = False because it runs ``podman exec`` without ``-i``,
so stdin never reaches the module: every module call then costs six podman commands (mount,
echo ~, mkdir, chmod, python, rm). Here a module is one ``podman exec -i ... python3`` with
the module on stdin, as pipelining over SSH does, and the container is mounted only when a
file really has to be copied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: bjnp_podman_pipelined
    short_description: containers.podman.podman with pipelining (bench only)
    description:
      - Runs modules in an existing podman container through C(podman exec -i), the module on stdin.
    author: netsec.bjnp contributors
    extends_documentation_fragment:
      - ansible.builtin.connection_pipelining
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
      remote_user:
        description: User to run the commands as inside the container.
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """Pipelined podman exec; the mount the stock plugin makes on every task is made on demand."""

    transport = "bjnp_podman_pipelined"
    has_pipelining = True

    def _connect(self):
        # ConnectionBase's bookkeeping only: no `podman mount` until a file is copied.
        ConnectionBase._connect(self)  # pylint: disable=protected-access
        self._connected = True
        return self

    def _mount(self):
        if self._mount_point is None:
            PodmanConnection._connect(self)  # pylint: disable=protected-access

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        arguments = ["exec"] + (["-i"] if in_data is not None else []) + (["--user", self.user] if self.user else [])
        return self._podman(arguments, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount()
        PodmanConnection.put_file(self, in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount()
        PodmanConnection.fetch_file(self, in_path, out_path)
