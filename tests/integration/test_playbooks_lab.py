# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The detect, remediate, verify and rollback playbooks against a real podman lab.

tests/lab/demo.sh builds a second lab of its own (names bjnp-itlab-*, subnets 10.89.71.0/24 and
10.89.72.0/24, both internal) so it can run beside `make demo`. The tests share the lab and run
in file order: detect, the pre-flight refusal, check mode, remediate in batches, idempotence,
verify, check mode of detect, verify and rollback, `--tags rollback`, then a remediation that
fails verification and rolls itself back.
Rulesets are compared with what they were before anything ran, byte for byte.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from bjnp_integration import BIN, COLLECTIONS_PATH

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "tests", "lab")
IMAGE = "localhost/netsec-bjnp-debian12:latest"
PREFIX = "bjnp-itlab"
OFFICE, PRINTERS = "10.89.71", "10.89.72"
CONTROLLER, PRINTSERVER, PRINTHOST, PRINTER = OFFICE + ".10", OFFICE + ".20", OFFICE + ".30", PRINTERS + ".50"

ENV = dict(
    os.environ,
    PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
    # demo.sh runs the venv of these tests, not necessarily .venv.
    VIRTUAL_ENV=os.path.dirname(BIN),
    ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
    ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
    CONTAINERS_CONF=os.path.join(REPO, "tests", "podman", "containers.conf"),
    ANSIBLE_FORCE_COLOR="0",
    BJNP_LAB_PREFIX=PREFIX,
    BJNP_LAB_OFFICE=OFFICE,
    BJNP_LAB_PRINTERS=PRINTERS,
)


def _lab_missing():
    if os.geteuid() != 0:
        return "the lab needs root (podman networks, nftables and iptables in containers)"
    if shutil.which("podman") is None:
        return "podman is not installed (make setup installs it)"
    if subprocess.call(["podman", "image", "exists", IMAGE], env=ENV) != 0:
        return "image %s is missing (make image builds it)" % IMAGE
    return None


pytestmark = pytest.mark.skipif(_lab_missing() is not None, reason=str(_lab_missing()))


class Lab(object):
    def __init__(self, workdir):
        self.workdir = workdir
        self.reports = os.path.join(workdir, "reports")
        self.inventory = os.path.join(workdir, "inventory.yml")
        with open(os.path.join(LAB, "inventory.yml")) as source:
            text = source.read()
        text = text.replace("bjnp-lab-", PREFIX + "-").replace("10.89.61.", OFFICE + ".")
        with open(self.inventory, "w") as target:
            target.write(text.replace("10.89.62.", PRINTERS + "."))
        self.env = dict(ENV, BJNP_LAB_INVENTORY=self.inventory)

    def demo(self, action):
        subprocess.run(["bash", os.path.join(LAB, "demo.sh"), action], env=self.env, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)

    def playbook(self, name, *args):
        command = ["ansible-playbook", "-i", self.inventory, "-e", "bjnp_hosts=bjnp_lab_targets",
                   "-e", "bjnp_report_dir=" + self.reports, "netsec.bjnp." + name] + list(args)
        return subprocess.run(command, env=self.env, stdout=subprocess.PIPE, check=False,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=1200)

    def report(self, name):
        with open(os.path.join(self.reports, name + "-latest.json")) as handle:
            return json.load(handle)

    def run(self, container, *command):
        return subprocess.run(["podman", "exec", "%s-%s" % (PREFIX, container)] + list(command),
                              env=self.env, check=True, stdout=subprocess.PIPE,
                              universal_newlines=True).stdout

    def rulesets(self):
        """printhost's nftables ruleset and gateway's iptables (both families), counters removed."""
        gateway = self.run("gateway", "iptables-save") + self.run("gateway", "ip6tables-save")
        gateway = re.sub(r"^#.*\n", "", gateway, flags=re.M)
        gateway = re.sub(r"\[\d+:\d+\]", "[0:0]", gateway)
        # The lab logs attempts (bjnp_log_attempts): our named counters count the probes.
        printhost = re.sub(r"packets \d+ bytes \d+", "packets 0 bytes 0", self.run("printhost", "nft", "list", "ruleset"))
        return {"printhost": printhost, "gateway": gateway}

    def spool(self, container):
        return len(self.run(container, "find", "/var/spool/bjnp", "-type", "f").split())


@pytest.fixture(scope="module")
def lab():
    workdir = tempfile.mkdtemp(prefix="bjnp-itlab-")
    lab = Lab(workdir)
    lab.demo("up")
    lab.original = lab.rulesets()
    try:
        yield lab
    finally:
        lab.demo("clean")
        shutil.rmtree(workdir, ignore_errors=True)


def ok(result):
    assert result.returncode == 0, result.stdout[-6000:]


def ports(report, address, state="open"):
    host = [entry for entry in report["hosts"] if entry["address"] == address]
    assert host, "%s not in the report" % address
    return sorted("%s/%d" % (port["protocol"], port["port"]) for port in host[0]["ports"]
                  if port["state"] == state)


def test_detect_finds_the_exposures_and_the_listening_process(lab):
    ok(lab.playbook("detect"))
    report = lab.report("detect")
    assert report["summary"]["exposed"] == 2
    assert ports(report, PRINTHOST) == ["tcp/8611", "tcp/9100", "udp/8611"]
    assert ports(report, PRINTER) == ["tcp/8611", "tcp/9100", "udp/8611", "udp/8612"]
    assert [h["models"] for h in report["hosts"] if h["address"] == PRINTER] == [["Canon MG5200 series"]]
    listeners = {m["inventory_hostname"]: m["listeners"] for m in report["managed"]}
    assert listeners["gateway"] == []
    assert sorted("%s/%d %s" % (s["protocol"], s["port"], s["process"]) for s in listeners["printhost"]) == [
        "tcp/8611 python3", "tcp/9100 python3", "udp/8611 python3"]
    assert all(s["pid"] for s in listeners["printhost"])


def test_detect_gate_fails_on_exposure(lab):
    result = lab.playbook("detect", "-e", "bjnp_fail_on_exposure=true")
    assert result.returncode != 0
    # The failure names each exposed address with its inventory name, printer and open ports
    # (the YAML callback folds long lines: compare with the whitespace collapsed).
    shown = " ".join(result.stdout.split())
    assert "2 of " in shown and "%s (printhost): " % PRINTHOST in shown, result.stdout[-3000:]
    assert "%s: Canon MG5200 series; open tcp/8611, tcp/9100, udp/8611, udp/8612" % PRINTER in shown, result.stdout[-3000:]


def test_remediate_refuses_without_change_id(lab):
    result = lab.playbook("remediate")
    assert result.returncode != 0
    assert "netsec.bjnp.remediate needs a change id" in result.stdout
    assert lab.rulesets() == lab.original


def test_remediate_check_mode_changes_nothing(lab):
    jobs = lab.spool("printer-1")
    result = lab.playbook("remediate", "--check", "--diff", "-e", "bjnp_change_id=IT-CHECK")
    ok(result)
    assert re.search(r"printhost +: ok=\d+ +changed=[1-9]", result.stdout), "check mode predicts no change"
    assert lab.rulesets() == lab.original
    assert lab.spool("printer-1") == jobs  # no test job in check mode
    assert not os.path.exists(os.path.join(lab.reports, "remediate-latest.json"))


def test_remediate_in_batches_closes_the_ports_and_keeps_printing(lab):
    jobs = lab.spool("printer-1"), lab.spool("printhost")
    result = lab.playbook("remediate", "-e", "bjnp_change_id=IT-1", "-e", "bjnp_serial=1")
    ok(result)
    # Before and after the change, in each of the two batches (one run of both without batches).
    assert result.stdout.count("TASK [Probe each host from the network side]") == 4
    report = lab.report("remediate")
    assert report["change_id"] == "IT-1"
    assert report["summary"]["before"]["exposed"] == 2
    assert report["summary"]["exposed"] == 0
    assert ports(report, PRINTHOST, "filtered") == ["tcp/8611", "tcp/8612", "tcp/8613", "tcp/8614", "tcp/9100"]
    firewall = {m["inventory_hostname"]: m["firewall"] for m in report["managed"]}
    assert firewall["printhost"]["backend"] == "nftables"
    assert firewall["gateway"]["backend"] == "iptables-nft"
    assert all(f["changed"] and f["backup"] and not f["rolled_back"] for f in firewall.values())
    # After each batch, the allowed print server printed through both kinds of protection.
    assert (lab.spool("printer-1"), lab.spool("printhost")) == (jobs[0] + 2, jobs[1] + 2)
    assert lab.rulesets() != lab.original


def test_second_remediate_changes_nothing_and_rolls_nothing_back(lab):
    closed = lab.rulesets()
    ok(lab.playbook("remediate", "-e", "bjnp_change_id=IT-2"))
    firewall = [m["firewall"] for m in lab.report("remediate")["managed"]]
    assert [(f["changed"], f["rolled_back"]) for f in firewall] == [(False, False), (False, False)]
    assert lab.rulesets() == closed


def test_verify_passes_and_prints(lab):
    jobs = lab.spool("printer-1")
    ok(lab.playbook("verify"))
    assert lab.report("verify")["summary"]["exposed"] == 0
    assert lab.spool("printer-1") == jobs + 1


def test_check_mode_of_detect_verify_and_rollback_changes_nothing(lab):
    closed, jobs, reports = lab.rulesets(), lab.spool("printer-1"), sorted(os.listdir(lab.reports))
    output = {}
    for name in ("detect", "verify", "rollback"):
        result = lab.playbook(name, "--check", "--diff", *(["-e", "bjnp_change_id=IT-CHECK"] if name == "rollback" else []))
        ok(result)
        output[name] = result.stdout
    assert "no job sent (check mode)" in output["verify"] and "test job accepted" not in output["verify"]
    assert "-table inet bjnp {" in output["rollback"] and "--- before: live ipv4 filter (ours)" in output["rollback"]
    assert lab.rulesets() == closed
    assert lab.spool("printer-1") == jobs
    assert sorted(os.listdir(lab.reports)) == reports


def test_rollback_tag_restores_the_original_rulesets(lab):
    result = lab.playbook("remediate", "--tags", "rollback", "-e", "bjnp_change_id=IT-ROLLBACK")
    ok(result)
    assert "PLAY [Close BJNP and raw printing" in result.stdout
    assert "Probe before the change" not in result.stdout and "(before)" not in result.stdout
    assert lab.rulesets() == lab.original
    assert lab.report("rollback")["summary"]["exposed"] == 2


def test_failed_verification_rolls_the_host_back(lab):
    # The controller, where the probes run, is wrongly in the allow-list: the ports stay open.
    result = lab.playbook("remediate", "-e", "bjnp_change_id=IT-3", "-e", "bjnp_hosts=printhost",
                          "-e", json.dumps({"bjnp_allowed_sources": [PRINTSERVER, CONTROLLER]}))
    assert result.returncode != 0
    assert "still open: %s tcp/8611, %s tcp/9100, %s udp/8611" % (PRINTHOST, PRINTHOST, PRINTHOST) in result.stdout
    report = lab.report("remediate")
    assert report["summary"]["rolled_back"] == 1
    firewall = report["managed"][0]["firewall"]
    assert firewall["rolled_back"] and firewall["message"].startswith("Verification failed (still open")
    assert lab.rulesets() == lab.original
