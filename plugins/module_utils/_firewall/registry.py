# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry of Linux firewall backends and the choice of one for a host.

Every module dispatches through ``backend_class`` / ``select_backend``; nothing else in the
collection names a backend's class. The order of ``BACKENDS`` is the detection order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.firewalld import Firewalld
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.iptables import IptablesLegacy, IptablesNft
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.nftables import Nftables
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.ufw import Ufw

# Managers first (whoever runs the firewall wins), then the plain tools in order of preference.
BACKENDS = dict((cls.name, cls) for cls in (Firewalld, Ufw, Nftables, IptablesNft, IptablesLegacy))
DETECTION_ORDER = ("firewalld", "ufw", "nftables", "iptables-nft", "iptables-legacy")
NAMES = list(DETECTION_ORDER)

# Options of one backend each, accepted by every module that builds a backend (firewall_rules,
# firewall_backup, firewall_restore) so the role passes one set everywhere.
BACKEND_ARGUMENT_SPEC = dict(
    nftables_table=dict(type="str", default="bjnp"),
    nftables_priority=dict(type="int", default=-10),
    nftables_persist_path=dict(type="path", default="/etc/nftables.d/netsec-bjnp.nft"),
    nftables_conf=dict(type="path", default="/etc/nftables.conf"),
    nftables_enable_service=dict(type="bool", default=True),
    iptables_chain_prefix=dict(type="str", default="BJNP"),
    iptables_rules_v4=dict(type="path", default="/etc/iptables/rules.v4"),
    iptables_rules_v6=dict(type="path", default="/etc/iptables/rules.v6"),
    ufw_comment=dict(type="str", default="netsec.bjnp"),
    ufw_site_rules=dict(type="str", choices=["take_over", "refuse"], default="take_over"),
)


def backend_class(name):
    try:
        return BACKENDS[name]
    except KeyError:
        raise FirewallError("unknown firewall backend %r: give one of %s" % (name, ", ".join(NAMES)))


def select_backend(runner, options, requested="auto"):
    """The backend instance for this host, and why it was chosen.

    ``auto``: a running manager (firewalld, then ufw), else the first plain tool that holds
    rules now (nftables, iptables-nft, iptables-legacy), else the first one installed. A named
    backend is used as given, except raw iptables under a running manager, which is refused.
    """
    instances = [BACKENDS[name](runner, options) for name in DETECTION_ORDER]
    managers = [backend for backend in instances if backend.manages_firewall and backend.installed()
                and backend.in_use()]
    if requested != "auto":
        chosen = backend_class(requested)(runner, options)
        others = [m.name for m in managers if m.name != chosen.name]
        if not chosen.manages_firewall and others:
            raise FirewallError(
                "backend %s would write raw firewall rules under an active %s, which rewrites those tables "
                "on its next reload; use backend %s (or auto). Nothing was changed."
                % (chosen.name, " and ".join(others), others[0]))
        if not chosen.installed():
            raise FirewallError("backend %s needs %s, not installed on this host. Nothing was changed."
                                % (chosen.name, ", ".join(chosen.tools)))
        return chosen, "requested"
    if managers:
        return managers[0], "%s is running" % managers[0].name
    installed = [backend for backend in instances if not backend.manages_firewall and backend.installed()]
    for backend in installed:
        if backend.in_use():
            return backend, "%s holds rules" % backend.name
    if installed:
        return installed[0], "nothing in use; %s is installed" % installed[0].name
    raise FirewallError("no firewall tool found on this host (nft, iptables-nft, iptables-legacy, ufw or "
                        "firewall-cmd). Nothing was changed.")
