# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks a playbook run's variables before any host is touched (documented in bjnp_playbook_input.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import math
import os
import re
import time

import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_attempts import LOG_SOURCES, parse_since
from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_targets import (
    DEFAULT_MAX_TARGETS,
    MAX_CONCURRENCY,
    MAX_MAX_TARGETS,
    MAX_RATE,
    MAX_RETRIES,
    MAX_TIMEOUT,
    AddressSpan,
    parse_target,
)

PLAYBOOKS = ("detect", "remediate", "verify", "rollback", "monitor")
# The playbooks that change firewalls: no default hosts, a change id unless waived.
CHANGING = ("remediate", "rollback")
SMOKE = ("remediate", "verify")
GATES = ("detect", "verify")
# The playbooks that probe: all but monitor, which reads the hosts' logs instead.
PROBING = ("detect", "remediate", "verify", "rollback")
MONITORING = ("monitor",)

# The playbooks' own variables (docs/playbooks.md): argument spec and the playbooks reading them.
PLAYBOOK_VARIABLES = {
    "bjnp_hosts": (dict(type="raw"), PLAYBOOKS),
    "bjnp_probe_from": (dict(type="str"), PROBING),
    "bjnp_probe_address": (dict(type="list", elements="str"), PROBING),
    "bjnp_scan_targets": (dict(type="list", elements="str"), PROBING),
    "bjnp_probe_timeout": (dict(type="float"), PROBING),
    "bjnp_probe_retries": (dict(type="int"), PROBING),
    "bjnp_probe_rate": (dict(type="int"), PROBING),
    "bjnp_probe_concurrency": (dict(type="int"), PROBING),
    "bjnp_probe_identify": (dict(type="bool"), PROBING),
    "bjnp_probe_max_targets": (dict(type="int"), PROBING),
    "bjnp_probe_only_exposed": (dict(type="bool"), PROBING),
    "bjnp_probe_chunk_size": (dict(type="int"), PROBING),
    "bjnp_report_dir": (dict(type="path"), PLAYBOOKS),
    "bjnp_report_title": (dict(type="str"), PLAYBOOKS),
    "bjnp_report_formats": (dict(type="list", elements="str", choices=["json", "junit", "html"]), PLAYBOOKS),
    "bjnp_report_detail": (dict(type="str", choices=["findings", "all"]), PROBING),
    "bjnp_report_run_id": (dict(type="str"), PROBING),
    "bjnp_report_slice_id": (dict(type="str"), PROBING),
    "bjnp_unknown_vars_waived": (dict(type="raw"), PLAYBOOKS),
    "bjnp_fail_on_exposure": (dict(type="bool"), GATES),
    "bjnp_fail_on_attempts": (dict(type="bool"), MONITORING),
    "bjnp_monitor_since": (dict(type="raw"), MONITORING),
    "bjnp_monitor_log_source": (dict(type="str", choices=list(LOG_SOURCES)), MONITORING),
    "bjnp_print_server_min_connections": (dict(type="int"), MONITORING),
    "bjnp_change_id_waived": (dict(type="bool"), CHANGING),
    # Kept so inventories that set it still run: the change id is required by default now.
    "bjnp_require_change_id": (dict(type="bool"), CHANGING),
    "bjnp_serial": (dict(type="raw"), CHANGING),
    "bjnp_max_fail_percentage": (dict(type="raw"), CHANGING),
    "bjnp_smoke_test_from": (dict(type="str"), SMOKE),
    "bjnp_smoke_test_printer": (dict(type="list", elements="str"), SMOKE),
    "bjnp_smoke_test_timeout": (dict(type="float"), SMOKE),
}

# Role variables each playbook reads itself (None: it runs the firewall role, so all of them).
ROLE_VARIABLES_READ = {
    "detect": ("bjnp_ports", "bjnp_mode", "bjnp_protected_destinations"),
    "verify": ("bjnp_ports", "bjnp_mode", "bjnp_protected_destinations", "bjnp_change_id"),
    "remediate": None,
    "rollback": None,
    # What netsec.bjnp.attempts is given: the ports and backend the firewall role was run with.
    "monitor": ("bjnp_ports", "bjnp_backend", "bjnp_nftables_table", "bjnp_nftables_persist_path", "bjnp_nftables_conf",
                "bjnp_iptables_rules_v4", "bjnp_iptables_rules_v6", "bjnp_ufw_comment", "bjnp_windows_attempts_max_kb"),
}

# Facts and results the playbooks and roles set on the hosts: known names, never input.
OUTPUTS = (
    "bjnp_attempts_linux", "bjnp_attempts_result", "bjnp_exposed_ports", "bjnp_firewall_result", "bjnp_listeners", "bjnp_preflight_df",
    "bjnp_probe_addresses", "bjnp_probe_chunks", "bjnp_probe_of_host", "bjnp_probe_of_scan", "bjnp_probe_targets", "bjnp_probes",
    "bjnp_remediate_problems", "bjnp_remediate_roll_back", "bjnp_report", "bjnp_run_checked",
    "bjnp_smoke_jobs", "bjnp_smoke_probe", "bjnp_smoke_test", "bjnp_unprobed_targets", "bjnp_verify_targets",
)

# Lower bounds of the numbers, as (minimum, whether the minimum itself is allowed).
MINIMUMS = {
    "bjnp_probe_timeout": (0, False),
    "bjnp_probe_retries": (0, True),
    "bjnp_probe_rate": (0, True),
    "bjnp_probe_concurrency": (1, True),
    "bjnp_probe_max_targets": (1, True),
    "bjnp_probe_chunk_size": (1, True),
    "bjnp_smoke_test_timeout": (0, False),
    "bjnp_print_server_min_connections": (1, True),
}
# Upper bounds (inclusive): netsec.bjnp.probe's own, so a bad value fails before any host is contacted.
MAXIMUMS = {
    "bjnp_probe_timeout": MAX_TIMEOUT,
    "bjnp_probe_retries": MAX_RETRIES,
    "bjnp_probe_rate": MAX_RATE,
    "bjnp_probe_concurrency": MAX_CONCURRENCY,
    "bjnp_probe_max_targets": MAX_MAX_TARGETS,
    "bjnp_probe_chunk_size": MAX_MAX_TARGETS,
}

ROLES = ("firewall", "listeners")
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOLEAN_HINT = "true/false, yes/no, on/off or 1/0"
# More hosts than this in one message are counted, not named.
NAMED_HOSTS = 5


def load_role_specs(root=COLLECTION):
    """``{name: argument spec}`` of every option of the firewall and listeners roles.

    Their defaults count too: a knob in defaults/main.yml is known even before it is documented.
    """
    specs = {}
    for role in ROLES:
        base = os.path.join(root, "roles", role)
        try:
            with open(os.path.join(base, "meta", "argument_specs.yml")) as handle:
                options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
            with open(os.path.join(base, "defaults", "main.yml")) as handle:
                defaults = yaml.safe_load(handle) or {}
        except (IOError, OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise AnsibleFilterError("bjnp_playbook_input cannot read the %s role's variables under %s: %s"
                                     % (role, base, exc))
        for name in defaults:
            specs.setdefault(name, dict(type="raw"))
        for name, spec in options.items():
            specs[name] = dict((key, value) for key, value in spec.items() if key != "description")
    return specs


def plain(value):
    """The value as plain Python types (no Ansible tags), so messages show what the user typed."""
    if isinstance(value, dict):
        return dict((str(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def show(value):
    """A value as the user would write it in YAML or JSON."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def closest(name, candidates, prefix=""):
    """The candidate most like ``name`` (difflib), or None; ``prefix`` (shared by all) is not compared."""
    def strip(text):
        return text[len(prefix):] if prefix and text.startswith(prefix) else text
    by_rest = dict((strip(candidate), candidate) for candidate in sorted(candidates))
    match = difflib.get_close_matches(strip(name), sorted(by_rest), n=1, cutoff=0.6)
    return by_rest[match[0]] if match else None


def check_type(name, value, spec):
    """Problems of one value against its argument spec (the check the role itself runs), or []."""
    kind = spec.get("type", "str")
    if kind in ("str", "path") and isinstance(value, (dict, list, bool)):
        # Ansible would turn ["a"] into the string "['a']" without a word.
        return ["%s %s is a %s, not a string" % (name, show(value), type(value).__name__)]
    result = ArgumentSpecValidator({name: spec}).validate({name: value})
    problems = []
    for message in result.error_messages:
        # The type reads "str" from ansible-core 2.19, "<class 'str'>" before.
        found = re.match(r"argument '[^']*' is of type (?:<class '[^']*'>|\S+) and we were unable to convert to (\w+)",
                         message)
        if found and found.group(1) == "bool":
            message = "is not a boolean (%s)" % BOOLEAN_HINT
        elif found:
            message = "is not a%s %s" % ("n" if found.group(1)[0] in "aeiou" else "", found.group(1))
        problems.append("%s %s: %s" % (name, show(value), message))
    return problems


def truth(value):
    """True or False for what Ansible reads as a boolean (yes, on, 1, ...), None for anything else."""
    if isinstance(value, str):
        value = value.strip().lower()
    try:
        if value in BOOLEANS_TRUE:
            return True
        if value in BOOLEANS_FALSE:
            return False
    except TypeError:  # a list or a dict
        pass
    return None


def _number(value):
    """A finite number as typed (``"0.5"``, ``10``), else None (booleans included)."""
    if isinstance(value, (bool, dict, list)):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _plain_number(number):
    return int(number) if number == int(number) else number


def check_scan_targets(value, max_targets):
    """Problems of bjnp_scan_targets, by netsec.bjnp.probe's own target parser, and their count
    against bjnp_probe_max_targets (distinct addresses; hostnames count as one address here)."""
    problems, total, span = [], 0, AddressSpan()
    # A string is a comma-separated list, as Ansible reads a list option.
    for target in value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]:
        try:
            parsed = parse_target(target)
        except ValueError as exc:
            problems.append("bjnp_scan_targets: %s" % exc)
            continue
        total += 1 if isinstance(parsed, str) else span.add(parsed)
    limit = _number(max_targets)
    if not problems and limit is not None and total > limit:
        problems.append("bjnp_scan_targets expand to %d addresses, more than bjnp_probe_max_targets=%s (a /8 instead of "
                        "a /24?): narrow them or raise bjnp_probe_max_targets" % (total, _plain_number(limit)))
    return problems


def check_serial(value):
    """Problems of bjnp_serial: a batch size (N >= 1 or 'N%' with 1 <= N <= 100) or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return ["bjnp_serial []: give at least one batch size"]
    for item in items:
        text = str(item).strip() if not isinstance(item, (bool, dict, list)) else ""
        if "," in text:
            return ["bjnp_serial %s: a list is given as YAML or JSON (-e '{\"bjnp_serial\": [1, \"10%%\", \"100%%\"]}'), "
                    "not as a comma-separated string" % show(value)]
        percent = text.endswith("%")
        number = _number(text[:-1] if percent else text)
        if number is None or number != int(number) or not (1 <= number <= (100 if percent else float("inf"))):
            return ["bjnp_serial %s%s is not a batch size (a number of hosts from 1, or a percentage from 1%% to 100%%)"
                    % (show(value), ": %s" % show(item) if isinstance(value, list) else "")]
    return []


def check_percentage(value):
    text = str(value).strip() if not isinstance(value, (bool, dict, list)) else ""
    number = _number(text[:-1] if text.endswith("%") else text)
    if number is None or not 0 <= number <= 100:
        return ["bjnp_max_fail_percentage %s is not a percentage from 0 to 100" % show(value)]
    return []


def check_hosts(value):
    patterns = value if isinstance(value, list) else [value]
    if not patterns or any(not isinstance(item, str) or not item.strip() for item in patterns):
        return ["bjnp_hosts %s is not a host pattern (a group, a host or a pattern such as print_hosts:!lab)"
                % show(value)]
    return []


def check_change_id(value):
    if isinstance(value, (dict, list, bool)):
        return []  # its type check says so
    text = str(value)
    if not text.strip():
        return []  # no change id at all: the playbooks that need one say so
    if re.search(r"[\x00-\x1f\x7f]", text):
        return ["bjnp_change_id %s holds control characters (a line break?)" % show(text)]
    if text != text.strip():
        return ["bjnp_change_id %s starts or ends with blanks" % show(text)]
    return []


def check_since(value):
    """Problems of bjnp_monitor_since, by netsec.bjnp.attempts' own parser of its ``since``."""
    if isinstance(value, (dict, list)):
        return ["bjnp_monitor_since %s is a %s, not a time (24h, 30m, 2026-11-25T08:00:00Z or epoch seconds)"
                % (show(value), type(value).__name__)]
    try:
        parse_since(value, time.time())
    except ValueError as exc:
        return ["bjnp_monitor_since %s: %s" % (show(value), exc)]
    return []


def waived_names(value):
    """``(waived, problem)``: what bjnp_unknown_vars_waived lets through, True (every name) or a set of names."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return set(item.strip() for item in value), None
    if truth(value) is not None:
        return truth(value), None
    if isinstance(value, str):  # -e bjnp_unknown_vars_waived=bjnp_a,bjnp_b
        return set(item.strip() for item in value.split(",") if item.strip()), None
    return False, ("bjnp_unknown_vars_waived %s: give true, or the list of your own bjnp_* names" % show(value))


def check_host(playbook, values, role_specs, inventory):
    """``(problems, warnings)`` of one target host's bjnp_* variables for ``playbook``."""
    problems, warnings = [], []
    known = set(PLAYBOOK_VARIABLES) | set(role_specs) | set(OUTPUTS)
    waived, problem = waived_names(values.get("bjnp_unknown_vars_waived", False))
    if problem:
        problems.append(problem)
    read = ROLE_VARIABLES_READ[playbook]
    for name in sorted(values):
        value = values[name]
        if name not in known:
            suggestion = closest(name, set(PLAYBOOK_VARIABLES) | set(role_specs), prefix="bjnp_")
            message = "%s is not a variable of netsec.bjnp%s" % (
                name, " (did you mean %s?)" % suggestion if suggestion else "")
            if waived is True or (waived and name in waived):
                warnings.append(message + " - waived by bjnp_unknown_vars_waived")
            else:
                problems.append(message)
            continue
        if name in PLAYBOOK_VARIABLES:
            spec, playbooks = PLAYBOOK_VARIABLES[name]
            if playbook not in playbooks:
                continue
        elif name in role_specs and (read is None or name in read):
            spec = role_specs[name]
        else:
            continue
        found = check_type(name, value, spec)
        if not found and name in MINIMUMS:
            minimum, inclusive = MINIMUMS[name]
            number = _number(value)
            if number is None or number < minimum or (number == minimum and not inclusive):
                found = ["%s %s must be %s %s" % (name, show(value), "at least" if inclusive else "more than", minimum)]
            elif name in MAXIMUMS and number > MAXIMUMS[name]:
                found = ["%s %s must be at most %s" % (name, show(value), _plain_number(MAXIMUMS[name]))]
        if not found and name == "bjnp_scan_targets":
            found = check_scan_targets(value, values.get("bjnp_probe_max_targets", DEFAULT_MAX_TARGETS))
        if not found and name in ("bjnp_probe_from", "bjnp_smoke_test_from") and str(value) not in inventory:
            suggestion = closest(str(value), inventory)
            found = ["%s %s is not a host of the inventory%s" % (
                name, show(value), " (did you mean %s?)" % suggestion if suggestion else "")]
        if not found and name == "bjnp_report_dir" and not str(value).strip():
            found = ["bjnp_report_dir is empty"]
        if not found and name == "bjnp_change_id":
            found = check_change_id(value)
        if not found and name == "bjnp_monitor_since":
            found = check_since(value)
        problems.extend(found)
    if playbook in CHANGING:
        problems.extend(_change_id_problems(playbook, values))
        warnings.extend(_change_id_warnings(values))
    return problems, warnings


def _flag(values, name):
    return truth(values.get(name, False)) is True


def _change_id_problems(playbook, values):
    if str(values.get("bjnp_change_id", "")).strip() or _flag(values, "bjnp_change_id_waived"):
        return []
    return ["netsec.bjnp.%s needs a change id: give the change ticket with -e bjnp_change_id=CHG-1234 (it is recorded "
            "in every backup's metadata and in the reports), or set bjnp_change_id_waived: true to run without one%s"
            % (playbook, " (bjnp_require_change_id: false no longer waives it)"
               if "bjnp_require_change_id" in values and not _flag(values, "bjnp_require_change_id") else "")]


def _change_id_warnings(values):
    if str(values.get("bjnp_change_id", "")).strip() or not _flag(values, "bjnp_change_id_waived"):
        return []
    return ["running without a change id (bjnp_change_id_waived is true)"]


def check_run(playbook, run, hosts_given=True):
    """Problems of the values the play itself reads when it starts (hosts, batches).

    ``hosts_given``: whether bjnp_hosts reached the play itself (an extra var), where a value from
    the inventory never does.
    """
    if "bjnp_hosts" in run and not hosts_given:
        return ["bjnp_hosts %s is set in the inventory (host or group vars), where the play's hosts: cannot read it "
                "(remediate and rollback would find no hosts, detect, verify and monitor every host): "
                "give it with -e bjnp_hosts=%s"
                % (show(run["bjnp_hosts"]), run["bjnp_hosts"] if isinstance(run["bjnp_hosts"], str) else "<pattern>")]
    problems = []
    if playbook in CHANGING and "bjnp_hosts" not in run:
        problems.append("netsec.bjnp.%s changes firewalls and has no default hosts: name them with "
                        "-e bjnp_hosts=<group or pattern> (-e bjnp_hosts=all for every host of the inventory)" % playbook)
    if "bjnp_hosts" in run:
        problems.extend(check_hosts(run["bjnp_hosts"]))
    if playbook in CHANGING and "bjnp_serial" in run:
        problems.extend(check_serial(run["bjnp_serial"]))
    if playbook in CHANGING and "bjnp_max_fail_percentage" in run:
        problems.extend(check_percentage(run["bjnp_max_fail_percentage"]))
    return problems


def _hosts_note(hosts, targets):
    if len(targets) > 1 and len(hosts) == len(targets):
        return " (every target host)"
    named = ", ".join(hosts[:NAMED_HOSTS])
    more = " and %d more" % (len(hosts) - NAMED_HOSTS) if len(hosts) > NAMED_HOSTS else ""
    return " (host%s %s%s)" % ("s" if len(hosts) > 1 else "", named, more)


def _grouped(found, targets):
    """Each message once, followed by the hosts it concerns."""
    order, hosts = [], {}
    for host, message in found:
        if message not in hosts:
            order.append(message)
            hosts[message] = []
        hosts[message].append(host)
    return [message + _hosts_note(hosts[message], targets) for message in order]


def bjnp_playbook_input(data):
    if not isinstance(data, dict):
        raise AnsibleFilterError("bjnp_playbook_input expects a dict (playbook, run, hosts, ...), not %s" % show(plain(data)))
    playbook = data.get("playbook")
    if playbook not in PLAYBOOKS:
        raise AnsibleFilterError("bjnp_playbook_input: playbook %s is not one of %s" % (show(plain(playbook)), ", ".join(PLAYBOOKS)))
    role_specs = load_role_specs()
    run = plain(data.get("run") or {})
    hosts = plain(data.get("hosts") or {})
    targets = [str(host) for host in plain(data.get("targets") or [])]
    inventory = set(str(host) for host in plain(data.get("inventory") or [])) | set(["localhost"])
    problems = check_run(playbook, run, data.get("hosts_given", True) is not False)
    if not problems and not targets:
        limit = plain(data.get("limit"))
        groups = sorted(str(group) for group in plain(data.get("groups") or []) if group not in ("all", "ungrouped"))
        problems.append("bjnp_hosts %s matches no host of the inventory%s: nothing would be %s, so the run fails "
                        "instead of passing%s" % (
                            show(run.get("bjnp_hosts", "all")), " within --limit %s" % show(limit) if limit else "",
                            "changed" if playbook in CHANGING else "checked",
                            " (groups: %s)" % ", ".join(groups[:20]) if groups else ""))
    found_problems, found_warnings = [], []
    # Identical values (group vars, extra vars) give identical answers: check each once.
    cache = {}
    for host in targets:
        values = hosts.get(host) or {}
        key = json.dumps(values, sort_keys=True, default=repr)
        if key not in cache:
            cache[key] = check_host(playbook, values, role_specs, inventory)
        found_problems.extend((host, message) for message in cache[key][0])
        found_warnings.extend((host, message) for message in cache[key][1])
    problems.extend(_grouped(found_problems, targets))
    if any("is not a variable of netsec.bjnp" in message for message in problems):
        problems.append("unknown bjnp_* names are refused as likely typos; list your own in "
                        "bjnp_unknown_vars_waived (or set it to true) to run anyway")
    return dict(playbook=playbook, targets=targets, problems=problems, warnings=_grouped(found_warnings, targets))


class FilterModule(object):
    """netsec.bjnp playbook input checks."""

    def filters(self):
        return {"bjnp_playbook_input": bjnp_playbook_input}
