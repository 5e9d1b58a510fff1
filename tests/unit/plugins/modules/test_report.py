# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netsec.bjnp.report writes real files (or, in check mode, none) and refuses bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import xml.etree.ElementTree as ET

import pytest

from module_args import patch_module_args

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_report_task
from ansible_collections.netsec.bjnp.plugins.modules import report

PROBE = {"hosts": [{"address": "127.0.0.10", "exposed": True,
                    "ports": [{"port": 9100, "protocol": "tcp", "state": "open", "service": "jetdirect"}]}],
         "summary": {"targets": 1, "exposed": 1, "elapsed": 0.1}}


def run_module(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            report.main()
    return json.loads(capsys.readouterr().out)


def test_writes_three_formats_and_latest_copies(capsys, tmp_path):
    out = tmp_path / "reports" / "nested"
    result = run_module(capsys, dir=str(out), name="detect", probe=PROBE, change_id="CHG-7")
    assert result["changed"] is True and result["summary"]["exposed"] == 1
    assert sorted(result["paths"]) == ["html", "json", "junit"]
    stem = os.path.basename(result["paths"]["json"])[:-len(".json")]
    assert stem.startswith("detect-") and stem.endswith("Z") and len(stem) == len("detect-20261125T120000Z")
    assert result["paths"]["junit"] == str(out / (stem + ".xml"))
    assert result["latest"] == {"json": str(out / "detect-latest.json"), "junit": str(out / "detect-latest.xml"),
                                "html": str(out / "detect-latest.html")}
    for fmt in ("json", "junit", "html"):
        with open(result["paths"][fmt], "rb") as run_file, open(result["latest"][fmt], "rb") as latest_file:
            assert run_file.read() == latest_file.read()
    assert stat.S_IMODE(os.stat(str(out)).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(result["paths"]["json"]).st_mode) == 0o640
    with open(result["paths"]["json"]) as handle:
        document = json.load(handle)
    assert document["change_id"] == "CHG-7" and document["hosts"][0]["ports"][0]["state"] == "open"
    assert ET.parse(result["paths"]["junit"]).getroot().get("failures") == "1"
    # Nothing but the six files (no temporary file left behind).
    assert len(os.listdir(str(out))) == 6


def test_a_second_run_in_the_same_second_does_not_overwrite(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(bjnp_report_task, "timestamp", lambda now: "20261125T120000Z")
    first = run_module(capsys, dir=str(tmp_path), name="verify", probe=PROBE, formats=["json"])
    second = run_module(capsys, dir=str(tmp_path), name="verify", probe={}, formats=["json"])
    assert first["paths"] == {"json": str(tmp_path / "verify-20261125T120000Z.json")}
    assert second["paths"] == {"json": str(tmp_path / "verify-20261125T120000Z-2.json")}
    with open(str(tmp_path / "verify-latest.json")) as handle:
        assert json.load(handle)["hosts"] == []
    with open(first["paths"]["json"]) as handle:
        assert len(json.load(handle)["hosts"]) == 1


def test_check_mode_writes_nothing_and_returns_the_paths(capsys, tmp_path):
    target = tmp_path / "reports"
    result = run_module(capsys, dir=str(target), name="remediate", formats=["html"],
                        probe={"before": PROBE, "after": PROBE}, _ansible_check_mode=True)
    assert result["changed"] is True and list(result["paths"]) == ["html"]
    assert result["summary"]["before"] == {"hosts": 1, "exposed": 1, "open_ports": 1}
    assert not target.exists()


@pytest.mark.parametrize("args, message", [
    (dict(name="detect", probe={"hosts": [{"address": "::1", "ports": [{"port": 9100, "protocol": "tcp",
                                                                        "state": "up"}]}]}),
     "bad report input: probe.hosts[0].ports[0].state: 'up' is not one of"),
    (dict(name="remediate", probe={"after": PROBE}), "bad report input: probe: has after but no 'before'"),
    (dict(name="scan"), "value of name must be one of: detect, remediate, verify, rollback, monitor, got: scan"),
    (dict(name="detect", formats=["pdf"]), "value of formats must be one or more of: json, junit, html"),
    (dict(name="detect", formats=[]), "formats is empty"),
    # The module cannot read other hosts' variables: phases is resolved by the action plugin.
    (dict(name="detect", phases=["detect"]), "phases is read on the controller by the netsec.bjnp.report action"),
])
def test_bad_input_fails_clearly_and_writes_nothing(capsys, tmp_path, args, message):
    result = run_module(capsys, dir=str(tmp_path / "r"), **args)
    assert result["failed"] is True and message in result["msg"]
    assert not (tmp_path / "r").exists()


def test_dir_that_is_a_file_is_refused(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text(u"x")
    result = run_module(capsys, dir=str(blocker), name="detect")
    assert result["failed"] is True and "is not a directory" in result["msg"]
