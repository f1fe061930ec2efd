"""Synthetic JSONL inputs for ``referrals generate``, split by role:

- ``texts`` and ``drawing``: the vocabulary and the seeded draws both profiles share;
  ``records``: the JSON objects of the batch-input format;
- ``zhuzhou-2022`` (``zhuzhou2022``): the profile in figures (``profile``), its cases
  drawn (``builder``), its collections made exact (``balancing``) and its lines in
  publication order (``writer``);
- ``zhuzhou-scaled`` (``scaled``): any number of incidents over any years, streamed in
  publication order for benchmarks and long replays: its figures (``scaled_profile``),
  when incidents begin (``timeline``), each one drawn (``incident``) and written with
  its publication delays and frictions (``incident_lines``).
"""

from __future__ import annotations

from referrals.generate.scaled import generate_scaled
from referrals.generate.scaled_profile import SCALED_PROFILE, InvalidScale, parse_years
from referrals.generate.zhuzhou2022 import generate_zhuzhou_2022

PROFILES = ("zhuzhou-2022", SCALED_PROFILE)

__all__ = [
    "PROFILES",
    "SCALED_PROFILE",
    "InvalidScale",
    "generate_scaled",
    "generate_zhuzhou_2022",
    "parse_years",
]
