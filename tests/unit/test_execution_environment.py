# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml stays in step with galaxy.yml and meta/runtime.yml, and
ansible-builder turns it into a build context holding the collection tarball."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")


def load(name):
    with open(os.path.join(ROOT, name)) as handle:
        return yaml.safe_load(handle)


EE = load("execution-environment.yml")
GALAXY = load("galaxy.yml")
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


def test_definition_is_builder_v3_with_the_collection_dependencies_of_galaxy_yml():
    assert EE["version"] == 3
    collections = EE["dependencies"]["galaxy"]["collections"]
    ranges = dict((item["name"], item["version"]) for item in collections if item.get("type") != "file")
    assert ranges == GALAXY["dependencies"]
    local = [item["name"] for item in collections if item.get("type") == "file"]
    assert local == ["collections/" + TARBALL]
    assert EE["additional_build_files"] == [{"src": TARBALL, "dest": "collections"}]


def test_ansible_core_range_starts_where_runtime_yml_requires():
    required = re.match(r">=\s*([\d.]+)", load("meta/runtime.yml")["requires_ansible"]).group(1)
    pin = EE["dependencies"]["ansible_core"]["package_pip"]
    lower = re.search(r">=\s*([\d.]+)", pin).group(1)
    assert [int(part) for part in lower.split(".")][:2] == [int(part) for part in required.split(".")][:2]


BUILDER = shutil.which("ansible-builder", path=BIN + os.pathsep + os.environ.get("PATH", ""))


@pytest.mark.skipif(BUILDER is None, reason="ansible-builder is not installed (run `make setup`: requirements-dev.txt pins it)")
def test_ansible_builder_creates_a_context_with_the_built_collection(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), str(work))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", ROOT, "--output-path", str(work)],
                   check=True, stdout=subprocess.PIPE, timeout=300)
    assert (work / TARBALL).exists()
    subprocess.run([BUILDER, "create", "-f", "execution-environment.yml", "--context", "ctx"], cwd=str(work),
                   check=True, stdout=subprocess.PIPE, timeout=300)
    build = work / "ctx" / "_build"
    assert (build / "collections" / TARBALL).exists()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert {"name": "collections/" + TARBALL, "type": "file"} in requirements["collections"]
    containerfile = (work / "ctx" / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "WORKDIR /build" in containerfile
