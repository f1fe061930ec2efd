"""The ``zhuzhou-scaled`` profile through the real domain code, without Kafka: only the
invalid lines are turned away, every incident is one case, the merges, duplicates and
amendments the lines show are the ones the pipeline counts, and cases close."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache

from referrals.generate.incident_lines import UNKNOWN_DISTRICT
from referrals.generate.scaled import generate_scaled, horizon_of
from referrals.generate.scaled_profile import SCALED
from tests.unit.factories import ORG, Flow
from tests.unit.generate.domain import through_domain
from tests.unit.generate.lines import incidents_of, observe, within
from tests.unit.generate.test_scaled import YEARS

INCIDENTS = 1500


@cache
def lines() -> tuple[str, ...]:
    return tuple(generate_scaled(11, ORG, INCIDENTS, YEARS))


@cache
def processed() -> tuple[Flow, int]:
    return through_domain(lines())


def invalid(line: str) -> bool:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return True
    return record.get("district_code") == UNKNOWN_DISTRICT or record.get("amount_fen", 0) < 0


def test_only_the_invalid_lines_are_dead_lettered() -> None:
    """Lines cut short, in an unknown district or with a negative amount are turned away;
    everything else is applied, out-of-order events included, nothing left waiting."""
    flow, refused = processed()
    assert refused == sum(1 for line in lines() if invalid(line))
    assert refused > 0
    assert flow.dead == {}


def test_every_incident_is_one_case_and_the_counts_agree() -> None:
    """One live case per incident; the pipeline counts the merges, exact duplicates and
    amendments the lines hold, and re-forms a case for each first referral that came
    after a later one of its incident."""
    flow, _ = processed()
    live = flow.live()
    assert len(live) == INCIDENTS
    refs = [r for snap in live for r in snap["referrals"]]
    seen = observe(lines())
    incidents = incidents_of(seen)
    assert sum(not r["opened_case"] for r in refs) == sum(len(keys) - 1 for keys in incidents)
    duplicates = sum(sum(texts.values()) - len(texts) for texts in seen.referral_texts.values())
    assert sum(r["exact_duplicates"] for r in refs) == duplicates
    amendments = sum(len(texts) - 1 for texts in seen.referral_texts.values())
    assert sum(r["amendments"] for r in refs) == amendments
    late_first = sum(
        1
        for keys in incidents
        if len(keys) > 1 and seen.positions[keys[0]] > seen.positions[keys[1]]
    )
    absorbed = [s for s in flow.snapshots.values() if s["state"] == "MERGED"]
    assert len(absorbed) == late_first > 0


def test_cases_close_within_months() -> None:
    """Of the cases opened a year or more before the horizon, all but the profile's
    never-closed share are closed, most within half a year of opening."""
    flow, _ = processed()
    old = [
        s
        for s in flow.live()
        if datetime.fromisoformat(s["opened_at"]) < horizon_of(YEARS) - timedelta(days=365)
    ]
    closed = [s for s in old if s["state"] == "CLOSED"]
    assert within(len(old) - len(closed), len(old), SCALED.never_closed)
    quick = [
        s
        for s in closed
        if datetime.fromisoformat(s["closed_at"]) - datetime.fromisoformat(s["opened_at"])
        <= timedelta(days=180)
    ]
    assert len(quick) >= 0.85 * len(closed)
