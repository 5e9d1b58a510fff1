# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection is tested on what it claims: meta/runtime.yml's lowest ansible-core, the
matrix of tools/matrix/cores.txt, the README's supported-versions line, the execution
environment's ansible-core range and the default toolchain agree, and the collections the
tests run with are ones galaxy.yml allows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import sys

import yaml
from ansible.release import __version__ as core_version
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "matrix"))
import check_bundle  # noqa: E402  (tools/matrix is no package)


def read(name):
    with open(os.path.join(ROOT, name)) as handle:
        return handle.read()


def matrix():
    """[(minor, bundle)] from tools/matrix/cores.txt, in file order."""
    rows = [line.split() for line in read("tools/matrix/cores.txt").splitlines()
            if line.strip() and not line.startswith("#")]
    assert all(len(row) == 2 for row in rows), rows
    return [tuple(row) for row in rows]


def matrix_minors():
    return [row[0] for row in matrix()]


def minor_tuple(minor):
    return tuple(int(part) for part in minor.split("."))


def locked(name):
    return re.search(r"^%s==(\S+)$" % re.escape(name), read("requirements-dev.txt"), re.M).group(1)


def readme_controller_line():
    lines = [line for line in read("README.md").splitlines() if line.startswith("- Controller:")]
    assert len(lines) == 1, lines
    return lines[0]


def test_matrix_is_every_minor_from_requires_ansible_to_the_default_toolchain():
    minors = matrix_minors()
    requires = yaml.safe_load(read("meta/runtime.yml"))["requires_ansible"]
    lowest = re.fullmatch(r">=(\d+\.\d+)\.0", requires)
    assert lowest, "requires_ansible %r is no plain lower bound" % requires
    assert minors[0] == lowest.group(1)
    default_minor = ".".join(locked("ansible-core").split(".")[:2])
    assert minors[-1] == default_minor
    assert dict(matrix())[default_minor] == "default"
    # Consecutive: no minor in between is claimed but untested.
    first, last = minor_tuple(minors[0])[1], minor_tuple(minors[-1])[1]
    assert [minor_tuple(minor) for minor in minors] == [(2, number) for number in range(first, last + 1)]


def test_readme_names_the_tested_range_and_no_unconfirmed_claim():
    minors = matrix_minors()
    line = readme_controller_line()
    assert "ansible-core %s to %s" % (minors[0], minors[-1]) in line
    assert "matrix: confirm" not in read("README.md")
    # The lanes that also run integration and Molecule are the Makefile's, and the README names them.
    full = re.search(r"^MATRIX_FULL \?= (.+)$", read("Makefile"), re.M).group(1).split()
    for minor in full + [minors[-1]]:
        assert minor in line, (minor, line)


def test_execution_environment_installs_exactly_the_tested_minors():
    minors = matrix_minors()
    ee = yaml.safe_load(read("meta/execution-environment.yml"))
    spec = SpecifierSet(re.sub(r"^ansible-core", "", ee["dependencies"]["ansible_core"]["package_pip"]))
    lowest, newest = minor_tuple(minors[0]), minor_tuple(minors[-1])
    for minor in minors:
        assert Version(minor + ".0") in spec and Version(minor + ".99") in spec, (minor, str(spec))
    assert Version("%d.%d.99" % (lowest[0], lowest[1] - 1)) not in spec
    assert Version("%d.%d.0" % (newest[0], newest[1] + 1)) not in spec
    # ansible-core 2.20 and later need Python 3.12 or later on the controller.
    python = re.fullmatch(r"/usr/bin/python(\d+)\.(\d+)", ee["dependencies"]["python_interpreter"]["python_path"])
    assert python and tuple(map(int, python.groups())) >= (3, 12)


def test_default_toolchain_bundle_is_one_galaxy_yml_allows():
    # The unit tests run on each matrix venv: each checks its own ansible-core and bundle.
    minor = ".".join(core_version.split(".")[:2])
    assert check_bundle.problems(minor) == []


def test_no_tracked_file_hard_codes_the_venv_python_version():
    # The venv's site-packages follows PYTHON_BASE; a literal lib/pythonX.Y path breaks when it moves.
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    offenders = []
    for name in tracked.decode().split("\0"):
        path = os.path.join(ROOT, name)
        if not name or not os.path.isfile(path) or name.endswith(".txt"):
            continue
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        if re.search(r"lib/python3\.\d+/site-packages|\"lib\", \"python3\.\d+\"|--python 3\.\d+", text):
            offenders.append(name)
    assert offenders == []


def test_every_integration_file_the_oldest_core_leaves_out_is_named_in_the_docs():
    makefile = read("Makefile").replace("\\\n", " ")
    listed = re.search(r"^MATRIX_INTEGRATION \?= \$\(addprefix tests/integration/,(.+)\)$", makefile, re.M).group(1).split()
    everything = set(name for name in os.listdir(os.path.join(ROOT, "tests", "integration"))
                     if name.startswith("test_") and name.endswith(".py"))
    assert set(listed) <= everything, set(listed) - everything
    # No silent skip: docs/testing.md's "Left out on" paragraph names exactly the rest.
    paragraph = re.search(r"^\*\*Left out on [\d.]+\*\*(.+?)\n\n", read("docs/testing.md"), re.M | re.S).group(1)
    assert set(re.findall(r"`(test_\w+\.py)`", paragraph)) == everything - set(listed)


def test_module_tests_take_patch_module_args_from_the_fallback_helper():
    # ansible.module_utils.testing exists from 2.19 only: a direct import breaks 2.16-2.18.
    tests = os.path.join(ROOT, "tests", "unit")
    needle = "from ansible.module_utils." + "testing import"  # split: this file holds no such import
    direct = [os.path.relpath(os.path.join(folder, name), ROOT)
              for folder, dummy, names in os.walk(tests) for name in names
              if name.endswith(".py") and name != "module_args.py"
              and needle in read(os.path.relpath(os.path.join(folder, name), ROOT))]
    assert direct == [], "import patch_module_args from tests/unit/plugins/modules/module_args.py: %s" % direct
