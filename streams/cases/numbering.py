"""Case numbers: per district and per year, in the order cases are opened.

One record per district holds its counters and the numbers already given, so a request
seen twice (at-least-once) gets the same number and numbers have no gaps.
"""

from __future__ import annotations

from typing import Any


def number(
    state: dict[str, Any] | None, request: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """(state to store or None if unchanged, the case number) for one request."""
    current = state or {"next": {}, "assigned": {}}
    case_id = request["case_id"]
    known = current["assigned"].get(case_id)
    if known is not None:
        return None, str(known)
    year = str(request["year"])
    seq = current["next"].get(year, 1)
    case_no = f"{request['district_code']}-{year}-{seq:04d}"
    updated = {
        **current,
        "next": {**current["next"], year: seq + 1},
        "assigned": {**current["assigned"], case_id: case_no},
    }
    return updated, case_no
