#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: firewall_confirm
short_description: Confirm a firewall change so its revert timer does not fire
version_added: 0.1.0
description:
  - M(netsec.bjnp.firewall_rules) with O(netsec.bjnp.firewall_rules#module:confirm_timeout) leaves a detached
    process on the host that reverts the change when the deadline passes. This module stops it.
  - "Run it over a new connection (C(ansible.builtin.meta) C(reset_connection) first): reaching the host again
    after the change is what proves the change did not lock the controller out."
  - Fails when the timer fired already, saying what it reverted.
  - O(state=reverted) instead has the timer fire at once.
author:
  - netsec.bjnp developers (@netsec)
options:
  token:
    description:
      - RV(netsec.bjnp.firewall_rules#module:confirm.token) of the change to confirm.
    type: str
    required: true
  state:
    description:
      - C(confirmed) stops the timer and keeps the change.
      - C(reverted) has the timer fire now and waits for it, for a play whose own checks (for example the probe
        from the network side) failed. Our part goes back to how it was before the change, live and at boot.
    type: str
    choices: [confirmed, reverted]
    default: confirmed
attributes:
  check_mode:
    support: full
    description: Says whether a timer would be stopped (or fired); touches nothing.
  diff_mode:
    support: none
    description: Nothing to show; the change itself was shown by M(netsec.bjnp.firewall_rules).
seealso:
  - module: netsec.bjnp.firewall_rules
"""

EXAMPLES = r"""
- name: Confirm the change made with confirm_timeout
  netsec.bjnp.firewall_confirm:
    token: "{{ bjnp_change.confirm.token }}"

- name: Undo it now, our checks from the network side failed
  netsec.bjnp.firewall_confirm:
    token: "{{ bjnp_change.confirm.token }}"
    state: reverted
"""

RETURN = r"""
message:
  description: What happened.
  returned: always
  type: str
  sample: "confirmed: the revert timer is stopped"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netsec.bjnp.plugins.module_utils._io import FirewallError
from ansible_collections.netsec.bjnp.plugins.module_utils._firewall.confirm import confirm, revert_now


def main():
    module = AnsibleModule(argument_spec=dict(token=dict(type="str", required=True, no_log=False),
                                              state=dict(type="str", choices=["confirmed", "reverted"],
                                                         default="confirmed")),
                           supports_check_mode=True)
    action = confirm if module.params["state"] == "confirmed" else revert_now
    try:
        changed, message = action(module.params["token"], check_mode=module.check_mode)
    except FirewallError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    module.exit_json(changed=changed, message=message)


if __name__ == "__main__":
    main()
