"""Synthetic JSONL inputs for ``referrals generate``, split by role:

- ``texts`` and ``drawing``: the vocabulary and the seeded draws both profiles share;
  ``records``: the JSON objects of the batch-input format;
- ``zhuzhou-2022`` (``zhuzhou2022``): the profile in figures (``profile``), its cases
  drawn (``builder``), its collections made exact (``balancing``) and its lines in
  publication order (``writer``).
"""

from __future__ import annotations

from referrals.generate.zhuzhou2022 import generate_zhuzhou_2022

PROFILES = ("zhuzhou-2022",)

__all__ = ["PROFILES", "generate_zhuzhou_2022"]
