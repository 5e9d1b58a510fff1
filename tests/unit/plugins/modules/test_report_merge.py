# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.report_merge on slice reports written by netsec.bjnp.report: real files in, real files out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import xml.etree.ElementTree as ET

import pytest

from module_args import patch_module_args

from ansible_collections.netsec.bjnp.plugins.modules import report, report_merge


def run(capsys, module, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def probe(*addresses):
    return {"hosts": [{"address": address, "ports": [{"protocol": "tcp", "port": 9100, "state": state}]}
                      for address, state in addresses], "summary": {"targets": len(addresses)}}


def slice_reports(capsys, tmp_path, run_id="77"):
    """Three slices of one detect run, each in a directory of its own (as AWX jobs write them)."""
    parts = [("printhost-a", "127.0.0.11", "open"), ("printhost-b", "127.0.0.12", "closed"),
             ("printhost-c", "127.0.0.13", "open")]
    paths = []
    for number, (host, address, state) in enumerate(parts):
        written = run(capsys, report, dir=str(tmp_path / "slices" / str(number)), name="detect",
                      probe=probe((address, state)), listeners={host: []}, inventory={host: address},
                      run_id=run_id, slice_id=str(78 + number), formats=["json"])
        paths.append(written["paths"]["json"])
    return paths


def test_merges_three_slices_into_three_formats(capsys, tmp_path):
    src = slice_reports(capsys, tmp_path)
    out = tmp_path / "merged"
    result = run(capsys, report_merge, src=src, dir=str(out), run_id="77", expect_slices=3)
    assert result["changed"] is True and result["name"] == "detect" and result["slices"] == ["78", "79", "80"]
    assert result["summary"]["hosts"] == 3 and result["summary"]["exposed"] == 2 and result["conflicts"] == []
    assert sorted(os.path.basename(path) for path in result["latest"].values()) == [
        "detect-merged-latest.html", "detect-merged-latest.json", "detect-merged-latest.xml"]
    with open(result["paths"]["json"]) as handle:
        document = json.load(handle)
    assert [host["inventory_hostname"] for host in document["hosts"]] == ["printhost-a", "printhost-b", "printhost-c"]
    assert document["run_id"] == "77" and document["slices"] == ["78", "79", "80"]
    suites = ET.parse(result["paths"]["junit"]).getroot()
    assert suites.get("tests") == "3" and suites.get("failures") == "2"
    assert len(os.listdir(str(out))) == 6


def test_check_mode_and_refusals_write_nothing(capsys, tmp_path):
    src = slice_reports(capsys, tmp_path)
    out = tmp_path / "merged"
    checked = run(capsys, report_merge, src=src, dir=str(out), _ansible_check_mode=True)
    assert checked["changed"] is True and checked["summary"]["exposed"] == 2 and not out.exists()
    refused = run(capsys, report_merge, src=src + [src[0]], dir=str(out))
    assert refused["failed"] is True
    assert refused["msg"] == "not merged, nothing written: slice 78 is given twice: reports 1 and 4"
    other = run(capsys, report_merge, src=src, dir=str(out), run_id="76")
    assert other["msg"] == "not merged, nothing written: the reports are of run 77, not of run 76"
    os.symlink(src[0], str(tmp_path / "link.json"))
    linked = run(capsys, report_merge, src=[str(tmp_path / "link.json")] + src[1:], dir=str(out))
    assert linked["msg"] == "not merged, nothing written: %s is a symlink: give the report file itself" % (
        tmp_path / "link.json")
    assert not out.exists()
    assert run(capsys, report_merge, src=[], dir=str(out))["msg"] == "src is empty: give the JSON report of every slice"
