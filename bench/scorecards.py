"""Scorecards for 100 000 cases: closing after 1 000 cases changed, and rescoring a year
from scratch, beside reading every case row once (all columns but the snapshot: the floor
of any rescore), measured in the same run. Target: the year rescored in under 5 s.

A fresh SQLite store is filled directly with SQLAlchemy Core: a year (2022) of rejected,
filed and decided cases spread over the districts and squads of the shipped organisation,
each with its referral, its ledger entries and a snapshot of the sink's shape.
"""

from __future__ import annotations

import hashlib
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from consumers.models import CaseRow, LedgerEntryRow, ReferralRow
from consumers.scorecard_feed import close_months
from consumers.store import open_store
from streams.events import SHANGHAI
from streams.logging import configure
from streams.organisation import Organisation, default_organisation_path, load_organisation
from streams.scorecards.rubric import Rubric, load_rubric

AGENCIES = ("HOUSING", "TRAFFIC_POLICE", "ENVIRONMENT")
CATEGORIES = ("ILLEGAL_CONSTRUCTION", "CONSTRUCTION_DUST", "MUCK_TRANSPORT", "STREET_VENDING")
YEAR = datetime(2022, 1, 1, tzinfo=SHANGHAI)
CHANGED = 1_000
TARGET_S = 5.0


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(days=rng.uniform(low, high))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _case(i: int, rng: random.Random, org: Organisation) -> dict[str, Any]:
    """One case's facts: 8 % rejected, 22 % filed and waiting, the rest decided."""
    squad = rng.choice(list(org.squads.values()))
    opened = YEAR + _days(rng, 0, 365)
    roll = rng.random()
    case: dict[str, Any] = {
        "case_id": f"C-{i:07d}",
        "case_no": f"{squad.district_code}-2022-{i:06d}",
        "group_key": f"g{i}",
        "group_seq": 3,
        "district_code": squad.district_code,
        "squad_code": squad.code,
        "street_code": rng.choice(list(squad.streets)) if squad.streets else None,
        "agency": rng.choice(AGENCIES),
        "category": rng.choice(CATEGORIES),
        "opened_at": opened,
        "state": "FILED",
        "payments": [],
    }
    if roll < 0.08:
        case.update(state="REJECTED", rejected_at=opened + _days(rng, 0.5, 20))
    else:
        case["filed_at"] = opened + _days(rng, 0.5, 20)
    if roll >= 0.30:
        _decide(case, rng)
    answered = case.get("decided_at") or case.get("rejected_at")
    if answered is not None and rng.random() < 0.9:
        case["feedback_at"] = answered + _days(rng, 0, 14)
    return case


def _decide(case: dict[str, Any], rng: random.Random) -> None:
    decided = case["filed_at"] + _days(rng, 5, 120)
    amount = 0 if rng.random() < 0.1 else int(math.exp(rng.uniform(math.log(2e4), math.log(1e7))))
    major = amount >= 3_000_000 or rng.random() < 0.02
    paid = [] if amount == 0 or rng.random() < 0.15 else [amount // 2, amount - amount // 2]
    case.update(
        state="DECIDED",
        decided_at=decided,
        decided_fen=amount,
        decision_no=f"D-{case['case_id']}",
        major=major,
        tier="SERIOUS" if major else "GENERAL",
        legal_reviewed_at=decided - _days(rng, 0, 5) if major and rng.random() < 0.95 else None,
        payments=[
            {
                "receipt_no": f"R-{case['case_id']}-{n}",
                "paid_at": decided + _days(rng, 0, 40),
                "amount_fen": a,
            }
            for n, a in enumerate(paid)
        ],
    )


def _referral(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "referral",
        "agency": case["agency"],
        "referral_id": f"R-{case['case_id']}",
        "referred_at": _iso(case["opened_at"]),
        "district_code": case["district_code"],
        "street_code": case["street_code"],
        "address": "建宁路 5 号",
        "category": case["category"],
        "description": "占道经营",
        "party_id_hash": hashlib.sha256(case["case_id"].encode()).hexdigest(),
    }


def _rows(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The case's row, its referral's row and its ledger entries, as the sink writes them."""
    decided, collected = case.get("decided_fen", 0), sum(p["amount_fen"] for p in case["payments"])
    instants = ("opened_at", "filed_at", "rejected_at", "decided_at", "feedback_at")
    decision = None
    if "decided_at" in case:
        decision = {
            "decision_no": case["decision_no"],
            "amount_fen": decided,
            "tier": case["tier"],
            "major": case["major"],
            "legal_reviewed_at": _iso(case["legal_reviewed_at"]),
            "exemption": None,
        }
    referral = _referral(case)
    snapshot = {
        **{k: case[k] for k in ("case_id", "case_no", "group_key", "state", "district_code")},
        **{k: _iso(case.get(k)) for k in instants},
        "decision": decision,
        "payments": [{**p, "paid_at": _iso(p["paid_at"])} for p in case["payments"]],
        "referrals": [{"referral_id": referral["referral_id"], "versions": [referral]}],
        "history": [{"at": _iso(case.get(k)), "what": k, "detail": ""} for k in instants],
    }
    row = {
        **{k: case[k] for k in ("case_id", "case_no", "group_key", "group_seq", "state")},
        **{k: case[k] for k in ("district_code", "squad_code", "street_code", "agency")},
        "category": case["category"],
        **{k: case.get(k) for k in (*instants, "closed_at")},
        "merged_into": None,
        "decision_no": case.get("decision_no"),
        "major": case.get("major"),
        "tier": case.get("tier"),
        "legal_reviewed_at": case.get("legal_reviewed_at"),
        "decided_fen": decided,
        "collected_fen": collected,
        "outstanding_fen": max(decided - collected, 0),
        "overpaid_fen": max(collected - decided, 0),
        "snapshot": snapshot,
        "version": 1,
    }
    referral_row = {
        "agency": case["agency"],
        "referral_id": referral["referral_id"],
        "case_id": case["case_id"],
        "group_seq": case["group_seq"],
        "referred_at": case["opened_at"],
        "opened_case": True,
        "amendments": 0,
        "exact_duplicates": 0,
    }
    return row, referral_row, _ledger(case)


def _ledger(case: dict[str, Any]) -> list[dict[str, Any]]:
    if "decided_at" not in case:
        return []
    entry = {"case_id": case["case_id"], "decision_no": case["decision_no"]}
    return [
        {
            **entry,
            "entry_id": f"decision:{case['case_id']}",
            "kind": "decision",
            "receipt_no": None,
            "at": case["decided_at"],
            "amount_fen": case["decided_fen"],
        },
        *(
            {
                **entry,
                "entry_id": f"receipt:{case['case_id']}:{p['receipt_no']}",
                "kind": "receipt",
                "receipt_no": p["receipt_no"],
                "at": p["paid_at"],
                "amount_fen": p["amount_fen"],
            }
            for p in case["payments"]
        ),
    ]


def fill(engine: Engine, cases: int, org: Organisation, seed: int = 0) -> None:
    """Insert ``cases`` generated cases, 10 000 to a transaction."""
    rng = random.Random(seed)
    for start in range(0, cases, 10_000):
        rows, referrals, ledger = [], [], []
        for i in range(start, min(start + 10_000, cases)):
            row, referral, entries = _rows(_case(i, rng, org))
            rows.append(row)
            referrals.append(referral)
            ledger += entries
        with engine.begin() as connection:
            connection.execute(insert(CaseRow), rows)
            connection.execute(insert(ReferralRow), referrals)
            connection.execute(insert(LedgerEntryRow), ledger)


def change(engine: Engine, count: int, seed: int = 1) -> None:
    """Decide ``count`` filed cases as the sink writes them: facts, version + 1, ledger
    entries (the snapshot, which the feed does not read, is left as it was)."""
    rng = random.Random(seed)
    with engine.begin() as connection:
        waiting = connection.execute(
            select(CaseRow.case_id, CaseRow.filed_at).where(CaseRow.state == "FILED")
        ).all()
        rows, ledger = [], []
        for case_id, filed_at in rng.sample(waiting, count):
            case: dict[str, Any] = {"case_id": case_id, "filed_at": filed_at}
            _decide(case, rng)
            rows.append({"id": case_id, **{k: case[k] for k in _DECIDED}})
            ledger += _ledger(case)
        connection.execute(
            update(CaseRow)
            .where(CaseRow.case_id == bindparam("id"))
            .values(version=CaseRow.version + 1, **{k: bindparam(k) for k in _DECIDED}),
            rows,
        )
        connection.execute(insert(LedgerEntryRow), ledger)


_DECIDED = (
    "state",
    "decided_at",
    "decided_fen",
    "decision_no",
    "major",
    "tier",
    "legal_reviewed_at",
)


def _close(engine: Engine, org: Organisation, rubric: Rubric, *, rebuild: bool = False) -> None:
    with Session(engine) as session, session.begin():
        close_months(session, org, rubric, drained=True, rebuild=rebuild)


def _read(engine: Engine) -> None:
    columns = [c for c in CaseRow.__table__.columns if c.name != "snapshot"]
    with engine.connect() as connection:
        connection.execute(select(*columns)).all()


def _timed(work: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU seconds of ``work``: on a shared machine the wall time includes
    waiting for a core, the CPU time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def revised(rubric: Rubric) -> Rubric:
    """The rubric with feedback due two days later: every case's items change."""
    later = tuple(
        replace(m, deadline=m.deadline + timedelta(days=2)) if m.name == "feedback" else m
        for m in rubric.metrics
    )
    return replace(rubric, metrics=later)


def measure(cases: int = 100_000) -> dict[str, float | int]:
    """Seconds to close after 1 000 of ``cases`` cases changed, and to rescore the year
    from scratch under a revised rubric (every case's items and every month's cards
    again); beside them the first close (every case new), a rebuild of the whole read
    model, penalty flows included, and the baseline. ``*_cpu_s``: the same in CPU time."""
    org, rubric = load_organisation(default_organisation_path()), load_rubric()
    figures: dict[str, float | int] = {"cases": cases}

    def timed(name: str, work: Callable[[], None]) -> None:
        figures[f"{name}_s"], figures[f"{name}_cpu_s"] = _timed(work)

    with tempfile.TemporaryDirectory(prefix="bench-scorecards-") as work:
        engine = open_store(f"sqlite:///{Path(work) / 'scorecards.db'}")
        try:
            fill(engine, cases, org)
            timed("first_close", lambda: _close(engine, org, rubric))
            timed("read_cases", lambda: _read(engine))
            change(engine, min(CHANGED, cases // 10))
            timed("close_month", lambda: _close(engine, org, rubric))
            timed("rescore_year", lambda: _close(engine, org, revised(rubric)))
            timed("rebuild", lambda: _close(engine, org, revised(rubric), rebuild=True))
        finally:
            engine.dispose()
    return figures


def main() -> None:
    configure(level="warning")
    figures = measure()
    print(
        f"scorecards of {figures['cases']:,} cases (SQLite): wall and CPU seconds, "
        "and each as a multiple of the baseline's"
    )
    lines = [
        ("read every case row once (baseline)", "read_cases", False),
        ("first close, every case new", "first_close", False),
        (f"close after {CHANGED:,} cases changed", "close_month", False),
        ("rescore the year from scratch, revised rubric", "rescore_year", True),
        ("rebuild the read model, penalty flows too", "rebuild", False),
    ]
    for label, key, target in lines:
        wall, cpu = figures[f"{key}_s"], figures[f"{key}_cpu_s"]
        ratios = f"{wall / figures['read_cases_s']:5.2f}x {cpu / figures['read_cases_cpu_s']:5.2f}x"
        verdict = f"  target < {TARGET_S:g} s: {'met' if wall < TARGET_S else 'NOT met'}"
        print(f"  {label:<48} {wall:7.3f} s {cpu:7.3f} s  {ratios}{verdict if target else ''}")


if __name__ == "__main__":
    main()
