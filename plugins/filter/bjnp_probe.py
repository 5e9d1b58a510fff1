# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter of the playbooks' probe tasks (bjnp_probe_chunks.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_probe_merge import (
    DEFAULT_CHUNK_SIZE,
    scan_chunks,
)
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import DEFAULT_MAX_TARGETS


def bjnp_probe_chunks(sites, chunk_size=DEFAULT_CHUNK_SIZE, max_targets=DEFAULT_MAX_TARGETS):
    try:
        return scan_chunks(dict(sites), int(chunk_size), int(max_targets))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("bjnp_probe_chunks: %s" % to_native(exc))


class FilterModule(object):
    """netsec.bjnp probe plumbing."""

    def filters(self):
        return {"bjnp_probe_chunks": bjnp_probe_chunks}
