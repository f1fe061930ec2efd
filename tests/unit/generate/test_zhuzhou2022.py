"""The ``zhuzhou-2022`` profile: deterministic, and its 2022 report gives the summary's
figures whatever the seed, counted by the real domain code without Kafka."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import pytest

from referrals.generate import generate_zhuzhou_2022
from streams.reports.annual import CaseFacts, ReferralFacts, annual_report
from tests.unit.factories import ORG, Flow
from tests.unit.generate.domain import through_domain

SEEDS = (0, 1, 7, 2022)


@cache
def lines_of(seed: int) -> tuple[str, ...]:
    return tuple(generate_zhuzhou_2022(seed, ORG))


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


@cache
def processed(seed: int) -> tuple[Flow, int]:
    return through_domain(lines_of(seed))


def report_of(flow: Flow, year: int) -> dict[str, Any]:
    """The annual report of the live snapshots, as the store would give it."""
    live = flow.live()
    referrals = [
        ReferralFacts(r["agency"], _at(r["referred_at"]), r["exact_duplicates"], r["opened_case"])  # type: ignore[arg-type]
        for snap in live
        for r in snap["referrals"]
    ]
    cases = [
        CaseFacts(
            agency=snap["agency"],
            opened_at=_at(snap["opened_at"]),  # type: ignore[arg-type]
            filed_at=_at(snap["filed_at"]),
            decided_at=_at(snap["decided_at"]),
            decided_fen=snap["decided_fen"],
            major=bool(snap["decision"] and snap["decision"]["major"]),
            payments=tuple((_at(p["paid_at"]), p["amount_fen"]) for p in snap["payments"]),  # type: ignore[misc]
        )
        for snap in live
    ]
    return annual_report(year, referrals, cases)


def records(seed: int) -> list[dict[str, Any]]:
    out = []
    for line in lines_of(seed):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def test_same_seed_same_lines() -> None:
    """The same seed gives the very same lines, in the same order."""
    assert generate_zhuzhou_2022(3, ORG) == generate_zhuzhou_2022(3, ORG)


def test_different_seeds_different_lines() -> None:
    """Different seeds give different inputs."""
    assert lines_of(0) != lines_of(1)


@pytest.mark.parametrize("seed", SEEDS)
def test_report_gives_the_summary_figures(seed: int) -> None:
    """Processed by the domain code, the 2022 report gives 92 leads, 58 major housing
    cases, 263万元 collected and +26 %."""
    flow, _ = processed(seed)
    report = report_of(flow, 2022)
    assert report["referrals_received"] == 92
    assert report["major_cases_filed"] == 58
    assert report["major_cases_filed_by_agency"] == {"HOUSING": 58}
    assert report["penalties_collected_fen"] == 263_000_000
    assert report["collected_change_pct"] == 26.0


@pytest.mark.parametrize("seed", SEEDS)
def test_only_the_bad_lines_are_dead_lettered(seed: int) -> None:
    """The four bad lines are turned away at the door and nothing else is dead-lettered."""
    flow, refused = processed(seed)
    assert refused == 4
    assert flow.dead == {}


@pytest.mark.parametrize("seed", range(100, 140))
def test_collections_are_exact_for_many_seeds(seed: int) -> None:
    """Counted straight from the lines, each receipt once, 2022 collects exactly 263万元
    and 2021 what gives +26.0 %."""
    paid: dict[str, tuple[int, int]] = {}
    for record in records(seed):
        if record.get("kind") == "payment":
            year = datetime.fromisoformat(record["paid_at"]).year  # written in +08:00
            paid[record["receipt_no"]] = (year, record["amount_fen"])
    by_year = Counter[int]()
    for year, fen in paid.values():
        by_year[year] += fen
    assert by_year[2022] == 263_000_000
    assert round(100 * (263_000_000 - by_year[2021]) / by_year[2021], 1) == 26.0


def test_profile_is_plausible() -> None:
    """The input has what a real one has: duplicates, amendments, merges, rejections, late
    filings, late payments, instalments, missing legal reviews and no-street referrals."""
    seed = 0
    flow, refused = processed(seed)
    live = flow.live()
    refs = [r for snap in live for r in snap["referrals"]]
    assert sum(r["exact_duplicates"] for r in refs) >= 3
    assert sum(r["amendments"] for r in refs) >= 3
    assert sum(not r["opened_case"] for r in refs) == 6  # 2 in 2021, 4 in 2022
    assert refused == 4
    states = Counter(snap["state"] for snap in live)
    assert (
        states["REJECTED"]
        + sum(1 for s in live if s["rejected_at"] is not None and s["state"] == "CLOSED")
        >= 5
    )
    assert states["CLOSED"] >= 50
    assert any(s["street_code"] is None for s in live)
    late_filing = [
        s
        for s in live
        if s["filed_at"] and _at(s["filed_at"]) - _at(s["opened_at"]) > timedelta(days=15)  # type: ignore[operator]
    ]
    assert late_filing
    late_paid = [
        s
        for s in live
        if s["payments"]
        and _at(s["payments"][0]["paid_at"]) - _at(s["decided_at"]) > timedelta(days=15)  # type: ignore[operator]
    ]
    assert late_paid
    assert any(len(s["payments"]) >= 3 for s in live)
    assert any(s["outstanding_fen"] > 0 for s in live)
    assert any(
        s["payments"] and _at(s["payments"][-1]["paid_at"]).year == 2023  # type: ignore[union-attr]
        for s in live
    )
    majors = [s for s in live if s["decision"] and s["decision"]["major"]]
    assert any(s["decision"]["legal_reviewed_at"] is None for s in majors)
    assert all(s["agency"] == "HOUSING" for s in majors)
    by_agency = Counter(r["agency"] for r in refs if r["referred_at"].startswith("2022"))
    assert by_agency == {"HOUSING": 70, "TRAFFIC_POLICE": 12, "ENVIRONMENT": 10}
    assert max(r["referred_at"] for r in refs) < "2023"
    assert min(r["referred_at"] for r in refs) >= "2020-12-31T16"
