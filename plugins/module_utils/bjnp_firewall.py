# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy every firewall backend renders: the user's options validated and normalised.

Pure (no command, no file). Each backend turns the policy into its own rules
(``_firewall/<backend>.py``); ``RULE_ARGUMENT_SPEC`` is the options they all share.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    collapse_networks,
    normalize_ports,
    parse_network,
)

MODES = ("host", "gateway")
# Every backend logs blocked attempts with this prefix (ufw: its own), what SIEM filters match on.
LOG_PREFIX = "netsec-bjnp: "
# Log lines a minute and burst: bounds a flood's log volume; above this a log would drown anyway.
LOG_RATE_MAX = 10000
ACTIONS = ("drop", "reject")

# An allow-list collapsing to one of these lets every source of the family through.
_EVERY_ADDRESS = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}

# TCP ports a connection plugin uses when ansible_port is not set (WinRM: both listeners, as
# sites run either). Always protected along with ansible_port: inside an action (the assert's
# `that`) Ansible fills ansible_port with the plugin's default, outside it does not, and the
# check must say the same in both. Other connections: ansible_port only.
_CONNECTION_PORTS = {
    "ssh": (22,), "smart": (22,), "paramiko": (22,), "paramiko_ssh": (22,), "libssh": (22,),
    "network_cli": (22,), "winrm": (5985, 5986), "psrp": (5985, 5986),
}
# Connections that do not go through the host's network: nothing a rule could cut.
_LOCAL_CONNECTIONS = ("local",)

# The rule options every backend shares (documented in the doc fragment
# netsec.bjnp.firewall_rules); the defaults are the ports of the finding.
RULE_ARGUMENT_SPEC = dict(
    mode=dict(type="list", elements="str", choices=list(MODES), default=["host"]),
    ports=dict(type="list", elements="dict", default=[
        {"protocol": "tcp", "port": 9100},
        {"protocol": "tcp", "port": "8611-8614"},
        {"protocol": "udp", "port": "8611-8614"},
    ]),
    allowed_sources=dict(type="list", elements="str", default=[]),
    protected_destinations=dict(type="list", elements="str", default=[]),
    action=dict(type="str", choices=list(ACTIONS), default="drop"),
    allow_any_source=dict(type="bool", default=False),
    management_ports=dict(type="list", elements="int", default=[22]),
    log=dict(type="bool", default=False),
    log_per_minute=dict(type="int", default=10),
    log_burst=dict(type="int", default=5),
)


def build_policy(ports, allowed_sources, modes, protected_destinations, action,
                 allow_any_source=False, management_ports=(22,), log=None):
    """Validate the user's options into one normalised policy dict.

    Raises ``ValueError`` naming the bad value. ``ports`` uses the role's
    ``[{protocol, port}]`` shape; addresses are collapsed so reordering or repeating
    entries renders the same rules. Refused as well: an allow-list covering a whole family
    (unless ``allow_any_source``) and, in host mode, closing one of ``management_ports``
    (the TCP ports the host is managed through; ``[]`` accepts any).
    ``log``: None, or ``{"per_minute": N, "burst": N}`` to count and log what the rules block.
    """
    modes = list(modes or [])
    if not modes:
        raise ValueError("mode is empty: give host, gateway or both")
    for mode in modes:
        if mode not in MODES:
            raise ValueError("mode '%s' is not one of %s" % (mode, ", ".join(MODES)))
    if action not in ACTIONS:
        raise ValueError("action '%s' is not one of %s" % (action, ", ".join(ACTIONS)))
    normalized_ports = normalize_ports(ports)
    if not normalized_ports["tcp"] and not normalized_ports["udp"]:
        raise ValueError("ports is empty: nothing to close")
    allowed = collapse_networks(allowed_sources)
    families = open_families(allowed)
    if families and not allow_any_source:
        raise ValueError("%s. Remove them" % any_source_message("allowed_sources", allowed_sources, families[0]))
    closed = closed_ports(normalized_ports["tcp"], management_ports or []) if "host" in modes else []
    if closed:
        raise ValueError("ports close TCP %s, the port(s) this host is managed through (SSH, WinRM): in host mode "
                         "the rules would cut the management connection off. Leave %s out of ports"
                         % (_port_list(closed), _it(closed)))
    return {
        "ports": normalized_ports,
        "allowed": allowed,
        "protected": collapse_networks(protected_destinations),
        "modes": [mode for mode in MODES if mode in modes],
        "action": action,
        "log": check_log(log),
    }


def check_log(log):
    """The logging settings, each a whole number from 1 to LOG_RATE_MAX, or None (no logging)."""
    if log is None:
        return None
    for key in ("per_minute", "burst"):
        value = log.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LOG_RATE_MAX:
            raise ValueError("log_%s %r is not a whole number from 1 to %d" % (key, value, LOG_RATE_MAX))
    return {"per_minute": log["per_minute"], "burst": log["burst"]}


def open_families(allowed):
    """Families (4, 6) whose collapsed allow-list is the whole address space: their block matches nobody."""
    return [family for family in (4, 6) if allowed[family] == [_EVERY_ADDRESS[family]]]


def any_source_message(name, sources, family):
    """Why an allow-list that lets every source of ``family`` through defeats the rules, naming its entries."""
    entries = [str(source) for source in sources if parse_network(source).version == family]
    return ("%s %s cover every IPv%d address (%s): the ports would stay open to every IPv%d source"
            % (name, entries, family, _EVERY_ADDRESS[family], family))


def connection_ports(connection, port):
    """The TCP ports of this host the run's own connection uses, which host mode must never close.

    ``connection``: ``ansible_connection`` (a plugin name or FQCN; empty means ssh); ``port``:
    ``ansible_port``, or None. The plugin's default ports and ``port``; a port that only
    ``~/.ssh/config`` sets is not seen here. Raises ``ValueError`` naming a port that is no port.
    """
    name = str(connection or "ssh").strip().rsplit(".", 1)[-1]
    if name in _LOCAL_CONNECTIONS:
        return []
    ports = set(_CONNECTION_PORTS.get(name, ()))
    if port is not None and str(port).strip() != "":
        try:
            number = int(str(port).strip())
        except ValueError:
            number = 0
        if not 1 <= number <= 65535:
            raise ValueError("ansible_port %r is not a port 1-65535" % (port,))
        ports.add(number)
    return sorted(ports)


def closed_ports(tcp_ranges, ports):
    """Those of ``ports`` that the merged TCP ranges ``[(low, high)]`` close."""
    return sorted(set(port for port in ports if any(low <= port <= high for low, high in tcp_ranges)))


def _port_list(ports):
    return ", ".join(str(port) for port in ports)


def _it(items):
    return "it" if len(items) == 1 else "them"


def protected_families(policy):
    """Families whose forwarded traffic the gateway chain drops.

    No destinations means every forwarded destination in both families; destinations in
    one family only leave the other family's forwarded traffic alone.
    """
    protected = policy["protected"]
    if not protected[4] and not protected[6]:
        return {4: None, 6: None}
    return dict((family, nets) for family, nets in protected.items() if nets)


def as_list(value):
    """A list as users type it: a string on the command line (``-e x=10.0.0.5``) is a list of its comma-separated items.

    Raises ``ValueError`` naming a value that is no list (a number, true/false).
    """
    if value is None:
        return []
    if isinstance(value, str):
        # As Ansible's own list options take a string: comma-separated items.
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (bool, int, float)):
        raise ValueError("%r is not a list" % (value,))
    return list(value)


def _flag(values, name, problems):
    """A true/false option as Ansible reads one (``-e x=false`` is the string 'false')."""
    value = values.get(name)
    if value is None:
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        problems.append("bjnp_%s %r is not true or false" % (name, value))
        return False


def check_role_input(values):
    """The role's options, checked once for every backend (Windows too).

    ``values``: ``ports``, ``allowed_sources``, ``protected_destinations``, ``mode``, ``action``,
    ``backup_keep``, ``rolling_back``, ``state``, ``log_attempts`` with ``log_per_minute`` and
    ``log_burst``, the overrides ``allow_any_source`` and
    ``allow_management_ports``, and the connection (``connection``: ansible_connection, ``port``:
    ansible_port or None). Returns ``{"problems": [messages], "warnings": [messages], "options":
    {normalised}}``: lists as lists, addresses and ports as the user gave them once they parse,
    plus ``allow_any_source`` and ``management_ports`` (what host mode must not close; empty when
    overridden). Each message names the bad value; a warning says what an override let through.
    """
    problems, warnings = [], []
    options = dict(action=values.get("action"))
    for name in ("ports", "allowed_sources", "protected_destinations", "mode"):
        try:
            options[name] = as_list(values.get(name))
        except ValueError as exc:
            problems.append("bjnp_%s: %s" % (name, exc))
            options[name] = []
    for name in ("allowed_sources", "protected_destinations"):
        options[name] = [str(v).strip() for v in options[name]]
    options["mode"] = [str(v) for v in options["mode"]]
    options["allow_any_source"] = _flag(values, "allow_any_source", problems)
    allow_management_ports = _flag(values, "allow_management_ports", problems)
    good_ports = []
    for entry in options["ports"]:
        if not isinstance(entry, dict):
            problems.append("bjnp_ports entry %r is not {protocol: tcp|udp, port: N or low-high}" % (entry,))
            continue
        try:
            normalize_ports([entry])
        except ValueError as exc:
            problems.append("bjnp_ports entry %r: %s" % (entry, exc))
            continue
        good_ports.append(entry)
    allowed = {4: [], 6: []}
    for name in ("allowed_sources", "protected_destinations"):
        try:
            networks = collapse_networks(options[name])
        except ValueError as exc:
            problems.append("bjnp_%s: %s" % (name, exc))
            continue
        if name == "allowed_sources":
            allowed = networks
    bad_modes = [mode for mode in options["mode"] if mode not in MODES]
    if bad_modes or not options["mode"]:
        problems.append("bjnp_mode %s: give host, gateway or both" % (options["mode"],))
    if options["action"] not in ACTIONS:
        problems.append("bjnp_action %r is not one of %s" % (options["action"], ", ".join(ACTIONS)))
    removing = values.get("rolling_back") or values.get("state") == "absent"
    if "gateway" in options["mode"] and not options["protected_destinations"] and not values.get("rolling_back"):
        # An empty list would filter BJNP and raw print towards every forwarded destination.
        problems.append("bjnp_mode gateway needs bjnp_protected_destinations, the printers behind this host "
                        "(give 0.0.0.0/0 and ::/0 to protect every forwarded destination)")
    # An allow-list of everything turns the block off while the run reports success.
    for family in [] if removing else open_families(allowed):
        message = any_source_message("bjnp_allowed_sources", options["allowed_sources"], family)
        if options["allow_any_source"]:
            warnings.append("%s (bjnp_allow_any_source is true)" % message)
        else:
            problems.append("%s. Remove them, or set bjnp_allow_any_source: true to accept that" % message)
    try:
        options["management_ports"] = connection_ports(values.get("connection"), values.get("port"))
    except ValueError as exc:
        problems.append(str(exc))
        options["management_ports"] = []
    # Host mode only: gateway mode filters forwarded traffic, never the router's own connection.
    closed = [] if removing or "host" not in options["mode"] else closed_ports(
        normalize_ports(good_ports)["tcp"], options["management_ports"])
    if closed:
        entries = [entry for entry in good_ports
                   if closed_ports(normalize_ports([entry])["tcp"], closed)]
        message = ("bjnp_ports %s close TCP %s, the port(s) ansible manages this host through (connection %s): "
                   "in host mode the rules would lock the play out of the host"
                   % (entries, _port_list(closed), values.get("connection") or "ssh"))
        if allow_management_ports:
            warnings.append("%s (bjnp_allow_management_ports is true)" % message)
        else:
            problems.append("%s. Leave %s out of bjnp_ports, or set bjnp_allow_management_ports: true when the "
                            "host is managed another way" % (message, _it(closed)))
    if allow_management_ports:
        options["management_ports"] = []
    try:
        keep = int(values.get("backup_keep"))
    except (TypeError, ValueError, OverflowError):
        keep = 0
    if keep < 1:
        problems.append("bjnp_backup_keep %r keeps no backup: give 1 or more" % (values.get("backup_keep"),))
    options["log_attempts"] = _flag(values, "log_attempts", problems)
    if options["log_attempts"]:
        try:
            check_log(dict(per_minute=values.get("log_per_minute"), burst=values.get("log_burst")))
        except ValueError as exc:
            problems.append("bjnp_%s" % exc)
    return {"problems": problems, "warnings": warnings, "options": options}
