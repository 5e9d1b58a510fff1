# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall_backup / firewall_restore refuse bad options and bad backups before touching a firewall.

The real backups and restores run in network namespaces: tests/integration/test_backup_restore_netns.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from module_args import patch_module_args

from ansible_collections.netsec.bjnp.plugins.modules import firewall_backup, firewall_restore


def run_module(capsys, module, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_backup_keep_must_be_positive(capsys, tmp_path):
    result = run_module(capsys, firewall_backup, backend="nftables", dir=str(tmp_path), keep=0)
    assert result["failed"] is True and result["msg"] == "keep must be at least 1, got 0"
    assert list(tmp_path.iterdir()) == []


def test_backup_unknown_backend_is_refused(capsys, tmp_path):
    result = run_module(capsys, firewall_backup, backend="pf", dir=str(tmp_path))
    assert result["failed"] is True and "pf" in result["msg"]


def test_restore_refuses_a_file_that_is_not_a_backup(capsys, tmp_path):
    result = run_module(capsys, firewall_restore, backend="nftables", path="/etc/nftables.conf")
    assert result["failed"] is True
    assert result["msg"].startswith("/etc/nftables.conf is not a netsec.bjnp backup file")


def test_restore_without_a_backup_names_the_directory(capsys, tmp_path):
    (tmp_path / "20261125T114655.123456Z-nftables.nft").write_text("")  # no metadata: incomplete
    result = run_module(capsys, firewall_restore, backend="nftables", dir=str(tmp_path))
    assert result["failed"] is True and result["msg"] == (
        "no complete nftables backup in %s (skipped: 20261125T114655.123456Z-nftables: it has no metadata file "
        "(an interrupted backup, or one in progress))" % tmp_path)
    assert [entry["generation"] for entry in result["incomplete"]] == ["20261125T114655.123456Z-nftables"]
    result = run_module(capsys, firewall_restore, backend="nftables", dir=str(tmp_path / "nope"))
    assert result["msg"] == "backup directory %s does not exist" % (tmp_path / "nope")


def test_restore_names_unreadable_or_invalid_metadata(capsys, tmp_path):
    data = tmp_path / "20261125T114655.123456Z-ufw.tar"
    data.write_bytes(b"")
    result = run_module(capsys, firewall_restore, backend="ufw", path=str(data))
    assert result["failed"] is True
    assert result["msg"].startswith("backup metadata %s.json cannot be read" % str(data)[:-4])
    (tmp_path / "20261125T114655.123456Z-ufw.json").write_text("{not json")
    result = run_module(capsys, firewall_restore, backend="ufw", path=str(data))
    assert "is not valid JSON" in result["msg"]
