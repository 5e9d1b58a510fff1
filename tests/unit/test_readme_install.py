# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's install instructions name a released tarball and the dependencies of galaxy.yml,
and its supported ansible-core range starts where meta/runtime.yml does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(name):
    with open(os.path.join(ROOT, name)) as handle:
        return handle.read()


README = read("README.md")
GALAXY = yaml.safe_load(read("galaxy.yml"))
RELEASES = yaml.safe_load(read("changelogs/changelog.yaml"))["releases"] or {}


def requirements_block():
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", README, re.S)]
    found = [block for block in blocks if isinstance(block, dict) and "collections" in block]
    assert len(found) == 1, "expected one requirements.yml example in README.md"
    return found[0]["collections"]


def test_requirements_example_installs_a_released_tarball_and_pins_galaxy_yml_dependencies():
    collections = requirements_block()
    tarball = collections[0]
    assert tarball["type"] == "file"
    match = re.match(r"^\./netsec-bjnp-(\d+\.\d+\.\d+)\.tar\.gz$", tarball["name"])
    assert match and match.group(1) in RELEASES, "%s is no released version" % tarball["name"]
    assert dict((c["name"], c["version"]) for c in collections[1:]) == GALAXY["dependencies"]
    assert "ansible-galaxy collection install %s\n" % tarball["name"][2:] in README


def test_supported_ansible_core_starts_where_runtime_yml_requires():
    required = re.match(r">=\s*(\d+\.\d+)", yaml.safe_load(read("meta/runtime.yml"))["requires_ansible"]).group(1)
    assert re.search(r"ansible-core %s to \d+\.\d+ tested" % re.escape(required), README)
