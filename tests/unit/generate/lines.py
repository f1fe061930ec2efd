"""What generated lines show, counted from the lines alone, in publication order."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from referrals.generate.incident_lines import UNKNOWN_DISTRICT
from streams.events import TIME_FIELD


def within(observed: int, trials: int, p: float) -> bool:
    """Whether ``observed`` successes of ``trials`` are within four standard deviations
    (plus two, for the rare frictions) of ``p``."""
    mean = trials * p
    return abs(observed - mean) <= 4 * math.sqrt(trials * p * (1 - p)) + 2


@dataclass
class Observed:
    """What the lines show, in publication order."""

    bad_json: int = 0
    referral_texts: dict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    referrals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stray: int = 0  # referrals in an unknown district
    negative: int = 0
    receipts: Counter[str] = field(default_factory=Counter)
    # per referral key named by lifecycle events and payments: kind -> first position
    first_seen: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    positions: dict[tuple[str, str], int] = field(default_factory=dict)  # first referral line
    late_referrals: set[tuple[str, str]] = field(default_factory=set)


def observe(lines: tuple[str, ...]) -> Observed:
    """Every referral, receipt and case event of ``lines``; a referral is late when some
    line before it is dated more than 15 days after it."""
    seen = Observed()
    newest: datetime | None = None  # the latest event time of the lines so far
    for position, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            seen.bad_json += 1
            continue
        key = (record["agency"], record["referral_id"])
        at = datetime.fromisoformat(record[TIME_FIELD.get(record["kind"], "paid_at")])
        if record["kind"] == "referral":
            if record["district_code"] == UNKNOWN_DISTRICT:
                seen.stray += 1
                continue
            seen.referral_texts[key][line] += 1
            seen.referrals.setdefault(key, record)
            seen.positions.setdefault(key, position)
            if newest is not None and at < newest - timedelta(days=15):
                seen.late_referrals.add(key)
        elif record["kind"] == "payment" and record["amount_fen"] < 0:
            seen.negative += 1
            continue
        elif record["kind"] == "payment":
            seen.receipts[line] += 1
        seen.first_seen[key].setdefault(record["kind"], position)
        newest = at if newest is None else max(newest, at)
    return seen


def incidents_of(seen: Observed) -> list[list[tuple[str, str]]]:
    """The referrals of one incident: same party, category and place, each within the
    merge window of the first (a party's next incident comes later than that)."""
    by_place: dict[tuple[str, str, str], list[tuple[datetime, tuple[str, str]]]] = defaultdict(list)
    for key, r in seen.referrals.items():
        if r.get("party_id_hash"):
            place = (r["party_id_hash"], r["category"], r.get("street_code") or r["district_code"])
            by_place[place].append((datetime.fromisoformat(r["referred_at"]), key))
    out: list[list[tuple[str, str]]] = []
    for referrals in by_place.values():
        referrals.sort()
        start = None
        for at, key in referrals:
            if start is None or at - start > timedelta(days=30):
                start = at
                out.append([])
            out[-1].append(key)
    return out
