# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/execution-environment.yml stays in step with galaxy.yml and meta/runtime.yml, is not
tied to one version's tarball, ansible-builder turns it into a build context holding the
collection tarball, and its introspection finds no dependencies in the installed collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")


def load(name):
    with open(os.path.join(ROOT, name)) as handle:
        return yaml.safe_load(handle)


# Where ansible-builder and AWX look for it (and read a collection's own dependencies from).
EE_PATH = os.path.join("meta", "execution-environment.yml")
EE = load(EE_PATH)
GALAXY = load("galaxy.yml")
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
ANY_VERSION = "%s-%s-*.tar.gz" % (GALAXY["namespace"], GALAXY["name"])


def test_definition_is_builder_v3_with_the_collection_dependencies_of_galaxy_yml():
    assert not os.path.exists(os.path.join(ROOT, "execution-environment.yml"))
    assert EE["version"] == 3
    collections = EE["dependencies"]["galaxy"]["collections"]
    assert dict((item["name"], item["version"]) for item in collections) == GALAXY["dependencies"]
    # Introspection of the installed collection reads these two as file names: none is declared.
    assert not set(EE["dependencies"]) & {"python", "system"}


def test_the_collection_comes_from_whichever_tarball_was_built_not_one_version():
    with open(os.path.join(ROOT, EE_PATH)) as handle:
        text = handle.read()
    assert GALAXY["version"] not in text and TARBALL not in text
    # Relative to meta/: the tarball `ansible-galaxy collection build` writes next to galaxy.yml.
    assert EE["additional_build_files"] == [{"src": "../" + ANY_VERSION, "dest": "collections"}]
    step = " ".join(EE["additional_build_steps"]["append_galaxy"])
    assert "set -- /build/collections/%s;" % ANY_VERSION in step and '[ "$#" -ne 1 ]' in step
    assert step.endswith('ansible-galaxy collection install --offline --collections-path /usr/share/ansible/collections "$1"')


def test_ansible_core_range_starts_where_runtime_yml_requires():
    required = re.match(r">=\s*([\d.]+)", load("meta/runtime.yml")["requires_ansible"]).group(1)
    pin = EE["dependencies"]["ansible_core"]["package_pip"]
    lower = re.search(r">=\s*([\d.]+)", pin).group(1)
    assert [int(part) for part in lower.split(".")][:2] == [int(part) for part in required.split(".")][:2]


BUILDER = shutil.which("ansible-builder", path=BIN + os.pathsep + os.environ.get("PATH", ""))
needs_builder = pytest.mark.skipif(BUILDER is None, reason="ansible-builder is not installed "
                                   "(run `make setup`: requirements-dev.txt pins it)")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The repository's layout as a user builds the EE: the tarball next to meta/."""
    work = tmp_path_factory.mktemp("repo")
    (work / "meta").mkdir()
    shutil.copy(os.path.join(ROOT, EE_PATH), str(work / "meta"))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", ROOT, "--output-path", str(work)],
                   check=True, stdout=subprocess.PIPE, timeout=300)
    assert (work / TARBALL).exists()
    return work


@needs_builder
def test_ansible_builder_creates_a_context_with_the_built_collection(built):
    subprocess.run([BUILDER, "create", "-f", EE_PATH, "--context", "ctx"], cwd=str(built),
                   check=True, stdout=subprocess.PIPE, timeout=300)
    build = built / "ctx" / "_build"
    assert os.listdir(str(build / "collections")) == [TARBALL]
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert [item["name"] for item in requirements["collections"]] == list(GALAXY["dependencies"])
    containerfile = (built / "ctx" / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "WORKDIR /build" in containerfile
    # The tarball is installed in the galaxy stage, after the dependencies and before the
    # builder stage copies /usr/share/ansible (and introspects it).
    galaxy = containerfile.index("FROM base AS galaxy")
    dependencies = containerfile.index("-r requirements.yml --collections-path", galaxy)
    collection = containerfile.index("set -- /build/collections/" + ANY_VERSION)
    assert galaxy < dependencies < collection < containerfile.index("FROM base AS builder")


@needs_builder
def test_builder_introspection_reads_the_shipped_definition_and_finds_no_dependencies(built):
    from ansible_builder._target_scripts import introspect

    installed = built / "installed" / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    with tarfile.open(str(built / TARBALL)) as archive:
        assert EE_PATH in archive.getnames()
        # The "data" filter where this Python has it (3.12 warns without a filter).
        archive.extractall(str(installed), **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    assert introspect.CollectionDefinition(str(installed)).raw == EE
    assert introspect.process_collection(str(installed)) == ([], [])
