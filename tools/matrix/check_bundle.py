# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that this venv's ansible-core is the minor asked for, and that each collection
galaxy.yml depends on is installed in the range galaxy.yml gives and declares support
(meta/runtime.yml requires_ansible) for this ansible-core: a matrix entry must test a
combination a user can have. Usage: python check_bundle.py MINOR"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys
import sysconfig

import yaml
from ansible.release import __version__ as core_version
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def problems(minor):
    found = []
    if ".".join(core_version.split(".")[:2]) != minor:
        found.append("ansible-core is %s, not %s" % (core_version, minor))
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    collections = os.path.join(sysconfig.get_path("purelib"), "ansible_collections")
    for name, allowed in sorted(dependencies.items()):
        path = os.path.join(collections, *name.split("."))
        try:
            with open(os.path.join(path, "MANIFEST.json")) as handle:
                version = json.load(handle)["collection_info"]["version"]
            with open(os.path.join(path, "meta", "runtime.yml")) as handle:
                requires = yaml.safe_load(handle)["requires_ansible"]
        except (IOError, OSError) as error:
            found.append("%s: not installed (%s)" % (name, error))
            continue
        if Version(version) not in SpecifierSet(allowed):
            found.append("%s %s: outside galaxy.yml's %s" % (name, version, allowed))
        if Version(core_version) not in SpecifierSet(requires):
            found.append("%s %s: requires_ansible %s excludes ansible-core %s" % (name, version, requires, core_version))
    return found


if __name__ == "__main__":
    errors = problems(sys.argv[1])
    for error in errors:
        print("check_bundle: " + error, file=sys.stderr)
    sys.exit(1 if errors else 0)
