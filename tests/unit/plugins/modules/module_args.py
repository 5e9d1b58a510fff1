# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hand a module its arguments the way the running ansible-core reads them.

ansible-core 2.19 added ``ansible.module_utils.testing.patch_module_args`` (it also sets up
the module's serialization profile, which 2.19 needs); 2.16 to 2.18 have no such helper and
read the arguments from ``ansible.module_utils.basic._ANSIBLE_ARGS``, a JSON document.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args as _core_patch_module_args
except ImportError:  # ansible-core before 2.19
    _core_patch_module_args = None


@contextlib.contextmanager
def patch_module_args(args):
    if _core_patch_module_args is not None:
        with _core_patch_module_args(args):
            yield
        return
    previous = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = previous
