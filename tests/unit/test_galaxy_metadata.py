# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""galaxy.yml links only to places that exist: an optional URL is left out rather than invented."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from urllib.parse import urlparse

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
URL_FIELDS = ("repository", "documentation", "homepage", "issues")
# RFC 2606 / RFC 6761: names that can never be a project's public address.
RESERVED = ("example", "invalid", "localhost", "test")


def test_galaxy_yml_urls_are_absent_or_real_https_addresses():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    for field in URL_FIELDS:
        if galaxy.get(field) is None:
            continue
        url = urlparse(galaxy[field])
        labels = (url.hostname or "").split(".")
        assert url.scheme == "https" and url.hostname, "%s: %r is no https URL" % (field, galaxy[field])
        assert labels[-1] not in RESERVED and "example" not in labels[-2:], (
            "%s: %r is a placeholder address; leave the optional field out instead" % (field, galaxy[field]))
