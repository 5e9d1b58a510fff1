# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WCAG 2 contrast ratio, shared by the report's unit test (its CSS) and its Chromium test (the page)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def contrast_ratio(first, second):
    """WCAG 2 contrast ratio of two sRGB colours (0-255 triples): (L1 + 0.05) / (L2 + 0.05)."""
    def luminance(rgb):
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255.0 for v in rgb)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
