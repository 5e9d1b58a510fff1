# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewalld backend: rendering, parsing firewall-cmd, planning and the steps of the class.

fixtures/firewalld/*.json are real firewall-cmd 1.3.3 outputs (Debian 12, the project's image,
firewalld started as tests/integration does), one scenario each (its "scenario" key says
what was set up): every command the backend asks, ``{command line: [rc, stdout, stderr]}``,
and our files as they were on disk. The ``installed_*`` files were written by the role's
former filter ``bjnp_firewalld_config``, so these tests also prove existing installs stay
idempotent. ``FakeRunner`` answers the class's commands from them; a command not recorded
fails the test.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError, LocalFiles
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall import firewalld as fw
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_firewall import build_policy

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "firewalld")
PORTS = [{"protocol": "tcp", "port": 9100}, {"protocol": "tcp", "port": "8611-8614"},
         {"protocol": "udp", "port": "8611-8614"}]


def policy(allowed=(), modes=("host",), protected=(), action="drop", ports=None):
    return build_policy(PORTS if ports is None else ports, list(allowed), list(modes), list(protected), action)


# The policies the installed_* scenarios were rendered from (their "scenario" key).
HOST = policy(allowed=["10.0.0.0/8", "10.1.2.3", "2001:db8::7/128"])
BOTH_ALLOWED = ["10.0.0.0/8", "10.1.2.3", "192.0.2.7", "2001:db8::7/128", "2001:db8:1::/48"]
BOTH = policy(allowed=BOTH_ALLOWED, modes=["host", "gateway"], protected=["10.9.0.5", "2001:db8:9::/64"], action="reject")


def scenario(name):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        return json.load(handle)


def out(name, command):
    return scenario(name)["commands"]["firewall-cmd " + command][1]


def runtime_parts(name):
    """The runtime policies and ipsets of a scenario, parsed."""
    ipsets = {}
    for ipset in fw.parse_names(out(name, "--get-ipsets")):
        ipsets.update(fw.parse_listing(out(name, "--info-ipset=" + ipset)))
    return fw.parse_listing(out(name, "--list-all-policies")), ipsets


def view(name, side=""):
    prefix = side + " " if side else ""
    ipsets = {}
    for ipset in fw.parse_names(out(name, prefix + "--get-ipsets")):
        ipsets.update(fw.parse_listing(out(name, prefix + "--info-ipset=" + ipset)))
    return fw.reload_view(fw.parse_listing(out(name, prefix + "--list-all-zones")),
                          fw.parse_listing(out(name, prefix + "--list-all-policies")), ipsets,
                          out(name, prefix + "--direct --get-all-rules"),
                          out(name, prefix + "--direct --get-all-passthroughs"))


# --- rendering ----------------------------------------------------------------------------

def test_host_mode_rules_spare_the_ipsets_and_merge_overlaps():
    rendered = fw.render_firewalld(policy(allowed=["10.0.0.0/8", "10.1.2.3", "2001:DB8::5/128", "10.0.0.0/8"]))
    assert sorted(rendered["files"]) == [
        "ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml", "policies/netsec-bjnp-host.xml"]
    v4 = ET.fromstring(rendered["files"]["ipsets/netsec-bjnp-v4.xml"])
    assert v4.attrib == {"type": "hash:net"} and v4.find("option") is None
    assert [e.text for e in v4.findall("entry")] == ["10.0.0.0/8"]  # firewalld refuses overlapping entries
    v6 = ET.fromstring(rendered["files"]["ipsets/netsec-bjnp-v6.xml"])
    assert [e.text for e in v6.findall("entry")] == ["2001:db8::5"]
    assert v6.find("option").attrib == {"name": "family", "value": "inet6"}
    host = ET.fromstring(rendered["files"]["policies/netsec-bjnp-host.xml"])
    assert host.attrib == {"target": "CONTINUE", "priority": "-32000"}
    assert host.find("ingress-zone").get("name") == "ANY" and host.find("egress-zone").get("name") == "HOST"
    rules = host.findall("rule")
    assert [(r.get("family"), r.find("port").attrib["protocol"], r.find("port").attrib["port"]) for r in rules] == [
        ("ipv4", "tcp", "8611-8614"), ("ipv4", "tcp", "9100"), ("ipv4", "udp", "8611-8614"),
        ("ipv6", "tcp", "8611-8614"), ("ipv6", "tcp", "9100"), ("ipv6", "udp", "8611-8614")]
    for rule in rules:
        assert rule.find("source").attrib == {"ipset": "netsec-bjnp-v%s" % rule.get("family")[-1], "invert": "True"}
        assert rule.find("drop") is not None and rule.find("destination") is None
    assert ('policy netsec-bjnp-host rule rule family="ipv6" source NOT ipset="netsec-bjnp-v6" port port="8611-8614" '
            'protocol="udp" drop') in rendered["runtime"]
    assert "ipset netsec-bjnp-v4 entry 10.0.0.0/8" in rendered["runtime"] and rendered["runtime"] == sorted(rendered["runtime"])


def test_no_allowed_source_still_renders_both_ipsets_empty():
    rendered = fw.render_firewalld(policy())
    for family in (4, 6):
        assert ET.fromstring(rendered["files"]["ipsets/netsec-bjnp-v%d.xml" % family]).findall("entry") == []
        assert "ipset netsec-bjnp-v%d exists" % family in rendered["runtime"]
    assert not [line for line in rendered["runtime"] if " entry " in line]


def test_gateway_mode_rules_per_protected_destination_and_family():
    rendered = fw.render_firewalld(
        policy(modes=["gateway"], protected=["192.0.2.0/24", "192.0.2.7"], action="reject", ports=PORTS[:1]))
    assert "policies/netsec-bjnp-host.xml" not in rendered["files"]
    fwd = ET.fromstring(rendered["files"]["policies/netsec-bjnp-fwd.xml"])
    assert fwd.find("egress-zone").get("name") == "ANY"
    rules = fwd.findall("rule")
    # Only IPv4 destinations were given: no IPv6 rule (IPv6 forwarding is left alone).
    assert [(r.get("family"), r.find("destination").get("address")) for r in rules] == [("ipv4", "192.0.2.0/24")]
    assert rules[0].find("reject") is not None and rules[0].find("drop") is None
    assert "policy netsec-bjnp-fwd egress ANY" in rendered["runtime"]


def test_gateway_ipv6_destinations_only():
    rendered = fw.render_firewalld(policy(modes=["gateway"], protected=["2001:db8:9::/64", "2001:db8:9::1/128"]))
    rules = ET.fromstring(rendered["files"]["policies/netsec-bjnp-fwd.xml"]).findall("rule")
    assert len(rules) == 3
    assert {(r.get("family"), r.find("destination").get("address")) for r in rules} == {("ipv6", "2001:db8:9::/64")}


def test_gateway_without_destinations_covers_every_forwarded_destination():
    rendered = fw.render_firewalld(policy(modes=["host", "gateway"]))
    fwd = ET.fromstring(rendered["files"]["policies/netsec-bjnp-fwd.xml"])
    assert len(fwd.findall("rule")) == 6 and all(r.find("destination") is None for r in fwd.findall("rule"))
    assert len([line for line in rendered["runtime"] if " rule " in line]) == 12


def test_port_ranges_are_merged_and_written_low_high():
    rendered = fw.render_firewalld(policy(ports=[
        {"protocol": "tcp", "port": "8611-8613"}, {"protocol": "tcp", "port": 8614}, {"protocol": "udp", "port": 161}]))
    rules = [line for line in rendered["runtime"] if " rule " in line and 'family="ipv4"' in line]
    assert [rule.split(" port ")[1] for rule in rules] == [
        'port="161" protocol="udp" drop', 'port="8611-8614" protocol="tcp" drop']


@pytest.mark.parametrize("name, wanted", [("installed_host", HOST), ("installed_both", BOTH)])
def test_rendering_is_what_the_role_wrote_and_firewalld_lists(name, wanted):
    """Same files (rules in another order) and the lines firewalld shows once they are loaded."""
    rendered = fw.render_firewalld(wanted)
    on_disk = scenario(name)["files"]
    assert sorted(on_disk) == sorted("/etc/firewalld/" + path for path in rendered["files"])
    for path, text in rendered["files"].items():
        assert fw.same_file(on_disk["/etc/firewalld/" + path], text), path
    assert fw.object_lines(*runtime_parts(name)) == rendered["runtime"]


def test_same_file_ignores_only_the_order_of_rules():
    written = scenario("installed_host")["files"]["/etc/firewalld/policies/netsec-bjnp-host.xml"]
    rendered = fw.render_firewalld(HOST)["files"]["policies/netsec-bjnp-host.xml"]
    assert written != rendered and fw.same_file(written, rendered)
    assert not fw.same_file(written, rendered.replace("<drop/>", "<reject/>", 1))
    assert not fw.same_file(written, rendered.replace('priority="-32000"', 'priority="-1"'))
    assert not fw.same_file(written, rendered.replace('port="9100"', 'port="9101"'))


# --- parsing firewall-cmd -----------------------------------------------------------------

def test_names_and_entries():
    assert fw.parse_names(out("installed_both", "--get-policies")) == [
        "allow-host-ipv6", "netsec-bjnp-fwd", "netsec-bjnp-host", "site-out"]
    assert fw.parse_names(out("installed_both", "--get-ipsets")) == ["netsec-bjnp-v4", "netsec-bjnp-v6", "site-admins"]
    assert fw.parse_names(out("installed_host", "--permanent --get-ipsets")) == [
        "netsec-bjnp-v4", "netsec-bjnp-v6", "site-admins"]
    assert fw.parse_entries(out("installed_both", "--ipset=netsec-bjnp-v6 --get-entries")) == [
        "2001:db8::7", "2001:db8:1::/48"]
    assert fw.parse_entries(out("site_only", "--direct --get-all-rules")) == []


@pytest.mark.parametrize("name", ["installed_host", "installed_both", "installed_both_drift",
                                  "installed_host_ours_changed", "site_only"])
def test_info_ipset_entries_are_get_entries(name):
    """``--info-ipset`` (one call per set, read by the backend) says what ``--get-entries`` says."""
    dummy, ipsets = runtime_parts(name)
    for ipset, info in ipsets.items():
        assert list(info["entries"]) == fw.parse_entries(out(name, "--ipset=%s --get-entries" % ipset))


@pytest.mark.parametrize("name", ["installed_host", "installed_both", "installed_both_drift",
                                  "installed_host_ours_changed"])
def test_list_all_policies_holds_each_info_policy(name):
    """One ``--list-all-policies`` replaces the per-policy ``--info-policy`` the role ran, exactly."""
    policies = fw.parse_listing(out(name, "--list-all-policies"))
    for policy_name in fw.parse_names(out(name, "--get-policies")):
        if fw.is_ours(policy_name):
            assert fw.parse_listing(out(name, "--info-policy=" + policy_name)) == {policy_name: policies[policy_name]}


def test_parse_listing_of_policies_and_zones():
    policies = fw.parse_listing(out("installed_both", "--list-all-policies"))
    assert sorted(policies) == ["allow-host-ipv6", "netsec-bjnp-fwd", "netsec-bjnp-host", "site-out"]
    fwd = policies["netsec-bjnp-fwd"]
    assert fwd["priority"] == ("-32000",) and fwd["target"] == ("CONTINUE",) and fwd["services"] == ()
    assert fwd["ingress-zones"] == ("ANY",) and fwd["egress-zones"] == ("ANY",)
    assert fwd["rich rules"][0] == ('rule family="ipv4" source NOT ipset="netsec-bjnp-v4" destination '
                                    'address="10.9.0.5" port port="9100" protocol="tcp" reject')
    assert len(fwd["rich rules"]) == 6
    zones = fw.parse_listing(out("installed_both_drift", "--list-all-zones"))
    # (firewall-cmd --get-zones printed these on the same host.)
    assert sorted(zones) == ["block", "dmz", "drop", "external", "home", "internal", "public", "trusted", "work"]
    assert zones["public"]["ports"] == ("9100/tcp", "7777/tcp") and zones["public"]["interfaces"] == ("eth0",)
    assert zones["block"]["target"] == ("%%REJECT%%",)
    ipset = fw.parse_listing(out("installed_both", "--info-ipset=netsec-bjnp-v6"))
    assert ipset == {"netsec-bjnp-v6": {"type": ("hash:net",), "options": ("family=inet6",),
                                        "entries": ("2001:db8::7", "2001:db8:1::/48")}}


@pytest.mark.parametrize("text", ["  ports: 9100/tcp\n", "public\nnot indented\n", "two words\n"])
def test_parse_listing_refuses_what_it_does_not_know(text):
    with pytest.raises(ValueError, match="unexpected line"):
        fw.parse_listing(text)


def test_object_lines_show_runtime_changes_to_our_objects():
    lines = fw.object_lines(*runtime_parts("installed_host_ours_changed"))
    wanted = fw.render_firewalld(HOST)["runtime"]
    assert sorted(set(lines) - set(wanted)) == ["ipset netsec-bjnp-v4 entry 203.0.113.0/24"]
    assert sorted(set(wanted) - set(lines)) == [
        'policy netsec-bjnp-host rule rule family="ipv4" source NOT ipset="netsec-bjnp-v4" port port="9100" '
        'protocol="tcp" drop']
    assert fw.object_lines(*runtime_parts("site_only")) == []


@pytest.mark.parametrize("name", ["site_only", "installed_host", "installed_both", "installed_host_ours_changed"])
def test_no_drift_when_runtime_is_the_permanent_configuration(name):
    """Changes to our own objects are ours to repair, not drift."""
    assert fw.runtime_drift(view(name), view(name, "--permanent")) == []


def test_drift_names_every_runtime_only_change_but_interfaces_and_ours():
    assert fw.runtime_drift(view("installed_both_drift"), view("installed_both_drift", "--permanent")) == [
        "direct rules: ipv4 filter INPUT 0 -p tcp --dport 2222 -j ACCEPT at runtime only",
        "ipset site-admins entries: 198.51.100.0/24 at runtime only",
        'policy site-out rich rules: rule family="ipv4" destination address="198.51.100.9" port port="631" '
        'protocol="tcp" reject at runtime only',
        "zone public ports: 7777/tcp at runtime only",
        "zone public services: ssh in the permanent configuration, not at runtime",
    ]


def test_drift_of_whole_objects():
    runtime = {"zone public": {"ports": ()}, "ipset extra": {"entries": ()}}
    permanent = {"zone public": {"ports": ()}, "policy pending": {"priority": ("-1",)}}
    assert fw.runtime_drift(runtime, permanent) == [
        "ipset extra at runtime only", "policy pending in the permanent configuration, not at runtime"]


# --- the class, on recorded outputs -------------------------------------------------------

ACTIONS = scenario("actions")["commands"]


class FakeRunner(LocalFiles):
    """``_io.Runner`` answering from one scenario; ``--reload`` moves on to ``after_reload``.

    Files are the real ones (the tests point the backend's ``config_dir`` at a temporary copy).
    """

    def __init__(self, name, after_reload=None, check_config="firewall-cmd --check-config", offline=True):
        self.commands = dict(scenario(name)["commands"])
        self.after_reload = after_reload
        self.check_config = check_config
        self.offline = offline
        self.calls = []

    def have(self, tool):
        return tool == "firewall-cmd" or (tool == "firewall-offline-cmd" and self.offline)

    def run(self, args, data=None, check=True):
        line = " ".join(args)
        self.calls.append(line)
        if line.endswith("--check-config"):
            rc, stdout, stderr = ACTIONS[self.check_config]
        elif line == "firewall-cmd --reload":
            rc, stdout, stderr = ACTIONS[line]
            if self.after_reload:
                self.commands = dict(scenario(self.after_reload)["commands"])
        else:
            assert line in self.commands, "not recorded: %s" % line
            rc, stdout, stderr = self.commands[line]
        if check and rc != 0:
            raise FirewallError("%s failed (rc=%d): %s" % (line, rc, (stderr or stdout).strip()))
        return rc, stdout, stderr

    def out(self, args, data=None):
        return self.run(args, data=data)[1]

    def ok(self, args):
        return self.run(args, check=False)[0] == 0

    def changing(self):
        return [call for call in self.calls if call.endswith(("--reload", "--check-config"))]


def backend_on(name, tmp_path, **runner_args):
    """A Firewalld on scenario ``name``, its configuration directory a copy of the scenario's files."""
    config = tmp_path / "firewalld"
    for path, text in scenario(name)["files"].items():
        target = config / os.path.relpath(path, "/etc/firewalld")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (config / "policies").mkdir(parents=True, exist_ok=True)
    (config / "policies" / "site-out.xml").write_text("<policy/>\n")  # not ours: never touched
    backend = fw.Firewalld(FakeRunner(name, **runner_args), {})
    backend.config_dir = str(config)
    return backend


def ours_on_disk(backend):
    return sorted(os.path.relpath(path, backend.config_dir) for path in backend._files())


def test_class_attributes():
    assert fw.Firewalld.name == "firewalld" and fw.Firewalld.tools == ("firewall-cmd",)
    assert fw.Firewalld.manages_firewall is True
    assert fw.Firewalld.backup_files == (("config", ".tar"), ("zones", ".zones"))


def test_state_is_asked_once(tmp_path):
    backend = backend_on("installed_host", tmp_path)
    assert backend.in_use() is True and backend.refuse() is None
    backend.read()
    assert backend.runner.calls.count("firewall-cmd --state") == 1


def test_not_running_is_refused_and_not_in_use(tmp_path):
    backend = backend_on("stopped", tmp_path)
    assert backend.in_use() is False
    assert backend.refuse().startswith("firewalld is not running") and backend.refuse().endswith("Nothing was changed.")


IPSET_TYPES = scenario("ipset_types")["outputs"]


@pytest.mark.parametrize("release", sorted(IPSET_TYPES))
def test_firewalld_without_hash_net_ipsets_is_refused(tmp_path, release):
    # firewalld 0.9.3 (Debian 11) without the ipset tool lists no ipset types; its reload then
    # failed with INVALID_IPSET after our files were written (recorded outputs, ipset_types.json).
    backend = backend_on("installed_host", tmp_path)
    backend.runner.commands["firewall-cmd --get-ipset-types"] = IPSET_TYPES[release]
    refusal = backend.refuse()
    if release == "debian11 firewalld 0.9.3, ipset tool missing":
        assert refusal.startswith("firewalld cannot use ipsets of type hash:net here (firewall-cmd "
                                  "--get-ipset-types lists: none)"), refusal
        assert "install the ipset package" in refusal and refusal.endswith("Nothing was changed.")
    else:
        assert refusal is None
    assert backend.runner.changing() == []


def test_read_asks_fewer_commands_than_the_role_did(tmp_path):
    backend = backend_on("installed_both", tmp_path)
    live = backend.read()
    assert live["running"] is True and live["drift"] == []
    assert live["objects"] == fw.render_firewalld(BOTH)["runtime"]
    assert sorted(live["files"]) == [os.path.join(backend.config_dir, path) for path in (
        "ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml", "policies/netsec-bjnp-fwd.xml",
        "policies/netsec-bjnp-host.xml")]
    # The role's bash took 19 here (per-policy --info-policy, --get-entries, the same listings again).
    assert len(backend.runner.calls) == 15
    assert "firewall-cmd --permanent --info-ipset=netsec-bjnp-v4" not in backend.runner.calls


def test_fresh_host_writes_checks_reloads_and_verifies(tmp_path):
    backend = backend_on("site_only", tmp_path, after_reload="installed_host")
    plan = backend.plan(HOST, backend.read(), persist=False)
    assert plan.live == ["write", "reload"] and plan.changed
    assert [os.path.relpath(change.path, backend.config_dir) for change in plan.files] == [
        "ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml", "policies/netsec-bjnp-host.xml"]
    assert all(change.before is None for change in plan.files)
    assert plan.live_diff[0]["before"] == "" and "ipset netsec-bjnp-v4 entry 10.0.0.0/8\n" in plan.live_diff[0]["after"]
    assert plan.as_result()["policies"] == ["netsec-bjnp-host"] and plan.notes == []
    assert plan.rules == "".join(line + "\n" for line in fw.render_firewalld(HOST)["runtime"])

    backend.apply(plan)
    assert backend.runner.changing() == ["firewall-cmd --check-config", "firewall-cmd --reload"]
    assert ours_on_disk(backend) == ["ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml",
                                     "policies/netsec-bjnp-host.xml"]
    for change in plan.files:
        assert stat.S_IMODE(os.stat(change.path).st_mode) == 0o644
        assert open(change.path).read() == change.after
    assert open(os.path.join(backend.config_dir, "policies", "site-out.xml")).read() == "<policy/>\n"
    assert backend.verify(HOST) == []


def test_existing_install_is_idempotent(tmp_path):
    backend = backend_on("installed_both", tmp_path)
    plan = backend.plan(BOTH, backend.read(), persist=True)
    assert not plan.changed and plan.live == [] and plan.files == [] and plan.diff() == []


def test_runtime_change_to_our_objects_is_repaired_by_a_reload(tmp_path):
    backend = backend_on("installed_host_ours_changed", tmp_path, after_reload="installed_host")
    plan = backend.plan(HOST, backend.read(), persist=False)
    assert plan.live == ["reload"] and plan.files == []
    diff = plan.live_diff[0]
    assert "203.0.113.0/24" in diff["before"] and "203.0.113.0/24" not in diff["after"]
    assert backend.verify(HOST) != []
    backend.apply(plan)
    assert backend.runner.changing() == ["firewall-cmd --reload"]
    assert backend.verify(HOST) == []


def test_verify_names_what_is_missing_and_unexpected(tmp_path):
    backend = backend_on("installed_host_ours_changed", tmp_path)
    problems = backend.verify(HOST)
    assert len(problems) == 1
    assert "Missing: ['policy netsec-bjnp-host rule rule family=\"ipv4\"" in problems[0]
    assert "unexpected: ['ipset netsec-bjnp-v4 entry 203.0.113.0/24']" in problems[0]


def test_allow_list_changed_rewrites_one_ipset(tmp_path):
    backend = backend_on("installed_host", tmp_path)
    wanted = policy(allowed=["192.0.2.0/24", "2001:db8::7"])
    plan = backend.plan(wanted, backend.read(), persist=False)
    assert plan.live == ["write", "reload"]
    assert [os.path.relpath(change.path, backend.config_dir) for change in plan.files] == ["ipsets/netsec-bjnp-v4.xml"]
    change = plan.files[0]
    assert "<entry>10.0.0.0/8</entry>" in change.before and "<entry>192.0.2.0/24</entry>" in change.after
    diff = plan.live_diff[0]
    assert "ipset netsec-bjnp-v4 entry 10.0.0.0/8\n" in diff["before"]
    assert "ipset netsec-bjnp-v4 entry 192.0.2.0/24\n" in diff["after"]


def test_mode_changed_adds_and_deletes_policies(tmp_path):
    backend = backend_on("installed_both", tmp_path)
    wanted = policy(allowed=BOTH_ALLOWED, modes=["gateway"],
                    protected=["10.9.0.5", "2001:db8:9::/64"], action="reject")
    plan = backend.plan(wanted, backend.read(), persist=False)
    assert [(os.path.relpath(c.path, backend.config_dir), c.after is None) for c in plan.files] == [
        ("policies/netsec-bjnp-host.xml", True)]
    backend.apply(plan)
    assert ours_on_disk(backend) == ["ipsets/netsec-bjnp-v4.xml", "ipsets/netsec-bjnp-v6.xml",
                                     "policies/netsec-bjnp-fwd.xml"]


def test_runtime_only_changes_are_refused_before_anything_changes(tmp_path):
    backend = backend_on("installed_both_drift", tmp_path)
    with pytest.raises(FirewallError) as info:
        backend.plan(BOTH, backend.read(), persist=False)
    message = info.value.message
    assert message.startswith("firewalld holds runtime-only changes that applying ours (firewall-cmd --reload) "
                              "would discard: ")
    assert "zone public ports: 7777/tcp at runtime only | " in message and "Nothing was changed." in message
    assert "203.0.113.0/24" not in message  # ours: the reload repairs it
    assert len(info.value.details["drift"]) == 5
    assert backend.runner.changing() == []


def test_drift_is_not_our_business_while_nothing_of_ours_changes(tmp_path):
    backend = backend_on("installed_both", tmp_path)
    live = backend.read()
    live["drift"] = fw.runtime_drift(view("installed_both_drift"), view("installed_both_drift", "--permanent"))
    assert not backend.plan(BOTH, live, persist=False).changed


def test_removal_deletes_exactly_our_files_and_reloads(tmp_path):
    backend = backend_on("installed_host", tmp_path, after_reload="site_only")
    plan = backend.plan(None, backend.read(), persist=True)
    assert plan.live == ["write", "reload"] and all(change.after is None for change in plan.files)
    assert plan.live_diff[0]["after"] == "" and plan.rules == "" and plan.as_result()["policies"] == []
    backend.apply(plan)
    assert ours_on_disk(backend) == [] and os.path.exists(os.path.join(backend.config_dir, "policies", "site-out.xml"))
    assert backend.runner.changing() == ["firewall-cmd --check-config", "firewall-cmd --reload"]
    assert backend.verify(None) == []
    assert not backend.plan(None, backend.read(), persist=True).changed


def test_removal_while_stopped_changes_the_files_only(tmp_path):
    backend = backend_on("stopped", tmp_path)
    live = backend.read()
    assert live == dict(running=False, objects=None, files=live["files"], drift=[]) and len(live["files"]) == 3
    plan = backend.plan(None, live, persist=True)
    assert plan.live == ["write"] and len(plan.files) == 3 and plan.live_diff == []
    assert plan.notes == ["firewalld is not running: only its configuration files change, loaded when it starts"]
    backend.apply(plan)
    assert ours_on_disk(backend) == []
    # firewall-cmd --check-config needs the daemon; the offline tool checks the files.
    assert backend.runner.changing() == ["firewall-offline-cmd --check-config"]
    assert backend.verify(None) == []


def test_removal_while_stopped_without_the_offline_tool(tmp_path):
    backend = backend_on("stopped", tmp_path, offline=False)
    backend.apply(backend.plan(None, backend.read(), persist=True))
    assert ours_on_disk(backend) == [] and backend.runner.changing() == []


def test_a_configuration_firewalld_rejects_is_put_back_and_not_loaded(tmp_path):
    backend = backend_on("installed_host", tmp_path, check_config="firewall-cmd --check-config (bad policy)")
    before = dict((path, open(path).read()) for path in backend._files())
    plan = backend.plan(policy(allowed=["192.0.2.1"], modes=["host", "gateway"]), backend.read(), persist=False)
    with pytest.raises(FirewallError) as info:
        backend.apply(plan)
    assert "invalid literal for int() with base 10: 'bogus'" in info.value.message
    assert "they were put back and nothing was loaded" in info.value.message
    assert dict((path, open(path).read()) for path in backend._files()) == before
    assert backend.runner.changing() == ["firewall-cmd --check-config"]


# --- backup and restore -------------------------------------------------------------------

def test_backup_and_restore_put_the_configuration_back(tmp_path):
    backend = backend_on("installed_host", tmp_path)
    data, extra = backend.backup()
    assert sorted(data) == ["config", "zones"] and extra == {"paths": [backend.config_dir], "running": True}
    assert data["zones"].decode("utf-8") == out("installed_host", "--list-all-zones")

    unchanged = backend.restore({"running": True}, data, check_mode=False)
    assert unchanged.changed is False and unchanged.before == unchanged.after

    ours = os.path.join(backend.config_dir, "policies", "netsec-bjnp-host.xml")
    os.unlink(ours)
    open(os.path.join(backend.config_dir, "ipsets", "netsec-bjnp-v4.xml"), "w").write("<ipset/>\n")
    check = backend.restore({"running": True}, data, check_mode=True)
    assert check.changed is True and not os.path.exists(ours)
    assert "firewall-cmd --reload" not in backend.runner.calls

    result = backend.restore({"running": True}, data, check_mode=False)
    prefix = os.path.relpath(backend.config_dir, "/")
    assert result.changed is True and sorted(result.changed_files) == [
        prefix + "/ipsets/netsec-bjnp-v4.xml", prefix + "/policies/netsec-bjnp-host.xml"]
    assert open(ours).read() == scenario("installed_host")["files"]["/etc/firewalld/policies/netsec-bjnp-host.xml"]
    assert backend.runner.calls.count("firewall-cmd --reload") == 1


def test_restore_reloads_when_only_the_runtime_differs(tmp_path):
    saved = backend_on("installed_host", tmp_path / "saved")
    data, extra = saved.backup()
    backend = backend_on("installed_host", tmp_path / "live")
    backend.config_dir = saved.config_dir
    backend.runner.commands["firewall-cmd --list-all-zones"] = scenario("installed_both_drift")["commands"][
        "firewall-cmd --list-all-zones"]
    result = backend.restore(extra, data, check_mode=False)
    assert result.changed is True and result.changed_files == []
    assert backend.runner.changing() == ["firewall-cmd --reload"]
