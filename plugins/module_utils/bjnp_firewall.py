# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy every firewall backend renders: the user's options validated and normalised.

Pure (no command, no file). Each backend turns the policy into its own rules
(``_firewall/<backend>.py``); ``RULE_ARGUMENT_SPEC`` is the options they all share.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netsec.bjnp.plugins.module_utils.bjnp_addresses import (
    collapse_networks,
    normalize_ports,
)

MODES = ("host", "gateway")
ACTIONS = ("drop", "reject")

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
)


def build_policy(ports, allowed_sources, modes, protected_destinations, action):
    """Validate the user's options into one normalised policy dict.

    Raises ``ValueError`` naming the bad value. ``ports`` uses the role's
    ``[{protocol, port}]`` shape; addresses are collapsed so reordering or repeating
    entries renders the same rules.
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
    return {
        "ports": normalized_ports,
        "allowed": collapse_networks(allowed_sources),
        "protected": collapse_networks(protected_destinations),
        "modes": [mode for mode in MODES if mode in modes],
        "action": action,
    }


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
    """A list as users type it: a string on the command line (``-e x=10.0.0.5``) is a list of its comma-separated items."""
    if value is None:
        return []
    if isinstance(value, str):
        # As Ansible's own list options take a string: comma-separated items.
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, dict):
        return [value]
    return list(value)


def check_role_input(values):
    """The role's options, checked once for every backend (Windows too).

    ``values``: ``ports``, ``allowed_sources``, ``protected_destinations``, ``mode``, ``action``,
    ``backup_keep``, ``rolling_back``. Returns ``{"problems": [messages], "options": {normalised}}``:
    lists as lists, addresses and ports as the user gave them once they parse. Each message names
    the bad value.
    """
    problems = []
    options = dict(
        ports=as_list(values.get("ports")),
        allowed_sources=[str(v).strip() for v in as_list(values.get("allowed_sources"))],
        protected_destinations=[str(v).strip() for v in as_list(values.get("protected_destinations"))],
        mode=[str(v) for v in as_list(values.get("mode"))],
        action=values.get("action"),
    )
    for entry in options["ports"]:
        if not isinstance(entry, dict):
            problems.append("bjnp_ports entry %r is not {protocol: tcp|udp, port: N or low-high}" % (entry,))
            continue
        try:
            normalize_ports([entry])
        except ValueError as exc:
            problems.append("bjnp_ports: %s" % exc)
    for name in ("allowed_sources", "protected_destinations"):
        try:
            collapse_networks(options[name])
        except ValueError as exc:
            problems.append("bjnp_%s: %s" % (name, exc))
    bad_modes = [mode for mode in options["mode"] if mode not in MODES]
    if bad_modes or not options["mode"]:
        problems.append("bjnp_mode %s: give host, gateway or both" % (options["mode"],))
    if options["action"] not in ACTIONS:
        problems.append("bjnp_action %r is not one of %s" % (options["action"], ", ".join(ACTIONS)))
    if "gateway" in options["mode"] and not options["protected_destinations"] and not values.get("rolling_back"):
        # An empty list would filter BJNP and raw print towards every forwarded destination.
        problems.append("bjnp_mode gateway needs bjnp_protected_destinations, the printers behind this host "
                        "(give 0.0.0.0/0 and ::/0 to protect every forwarded destination)")
    try:
        keep = int(values.get("backup_keep"))
    except (TypeError, ValueError):
        keep = 0
    if keep < 1:
        problems.append("bjnp_backup_keep %r keeps no backup: give 1 or more" % (values.get("backup_keep"),))
    return {"problems": problems, "options": options}
