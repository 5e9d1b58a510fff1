# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Let plain pytest import the collection by FQCN from the working tree.

`make setup` links .cache/collections/ansible_collections/netsec/bjnp to the checkout;
putting .cache/collections on sys.path makes ``ansible_collections.netsec.bjnp`` importable
the same way ansible-test's unit runner does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "collections")
if os.path.isdir(_COLLECTIONS) and os.path.abspath(_COLLECTIONS) not in sys.path:
    sys.path.insert(0, os.path.abspath(_COLLECTIONS))
