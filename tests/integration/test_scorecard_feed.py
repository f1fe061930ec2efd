"""The scorecard feed on SQLite and PostgreSQL, cases written as the SQL sink writes them:
closing month after month from what changed gives the cards and penalty totals of scoring
every case from scratch, and a closed month gets a new revision only when it changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from consumers.models import PenaltyTotalsRow, ScorecardRow
from consumers.scorecard_feed import Closed, close_months
from consumers.scorecards import facts
from consumers.scorecards.state import ConcurrentClose
from consumers.scorecards.writer import latest_revision
from streams.ledger.totals import DecidedCase, Totals, monthly_totals
from streams.organisation import default_organisation_path, load_organisation
from streams.scorecards.closing import closed_months, month_cards
from streams.scorecards.rubric import load_rubric
from streams.scorecards.scoring import CaseFacts, case_items, pool
from tests.support.cases import empty, snapshot, store_on, write
from tests.unit.scorecards.strategies import case_facts

pytestmark = pytest.mark.integration

ORG = load_organisation(default_organisation_path())
RUBRIC = load_rubric()
NOW = datetime(2023, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with store_on(request.param, request, tmp_path) as engine:
        yield engine


def close(engine: Engine, **options: Any) -> list[Closed]:
    with Session(engine) as session, session.begin():
        return close_months(session, ORG, RUBRIC, drained=True, clock=lambda: NOW, **options)


def _instants(facts: CaseFacts) -> list[datetime]:
    """What a case's row, referral and ledger entries carry towards the watermark."""
    moments = [facts.filed_at, facts.rejected_at, facts.decided_at, facts.feedback_at]
    moments += [facts.opened_at, *(r.paid_at for r in facts.receipts)]
    return [m for m in moments if m is not None]


def _expected_totals(live: list[CaseFacts], months: list[str]) -> dict[tuple[str, ...], Totals]:
    decided = [
        DecidedCase(
            f.district_code, f.squad_code, "HOUSING", f.decided_at, f.decided_fen, f.receipts
        )
        for f in live
        if f.decided_at is not None
    ]
    return dict(monthly_totals(decided, months))


def _stored_totals(engine: Engine) -> dict[tuple[str, ...], Totals]:
    with Session(engine) as session:
        return {
            (r.month, r.district_code, r.squad_code, r.agency): Totals(
                r.decided_fen, r.collected_fen, r.outstanding_fen, r.overpaid_fen
            )
            for r in session.scalars(select(PenaltyTotalsRow))
        }


def _revisions(session: Session, month: str) -> dict[int, set[tuple[Any, ...]]]:
    """Every stored revision of the month: its cards, as comparable rows."""
    found: dict[int, set[tuple[Any, ...]]] = {}
    for r in session.scalars(select(ScorecardRow).where(ScorecardRow.month == month)):
        metrics = tuple(sorted((k, v["due"], v["on_time"]) for k, v in r.metrics.items()))
        card = (r.level, r.unit_code, r.score, r.grade, r.rank, metrics)
        found.setdefault(r.revision, set()).add(card)
    return found


# a step: write case i with new facts, the same facts again, or as absorbed; or close
writes = st.tuples(
    st.just("write"),
    st.integers(0, 5),
    st.one_of(case_facts(opened_within_days=150), st.just("same"), st.just("merged")),
)
steps = st.lists(st.one_of(writes, st.just(("close", 0, None))), min_size=1, max_size=14)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
def test_closing_what_changed_gives_the_cards_of_scoring_everything(
    engine: Engine, steps: list[tuple[str, int, Any]]
) -> None:
    """After any sequence of case writes (new facts, the same facts again, absorbed) and
    closes, every closed month's latest revision holds the cards, and every closed month
    the penalty totals, that the pure functions give from all live cases at once; each
    revision differs from the one before it; and a rebuild from scratch changes nothing."""
    empty(engine)
    facts: dict[str, CaseFacts | None] = {}
    referred: dict[str, datetime] = {}  # the referral row stays when a case is absorbed
    marks: list[datetime] = []
    firsts: list[datetime] = []
    for seq, (kind, index, change) in enumerate([*steps, ("close", 0, None)], start=1):
        case_id = f"C-{index}"
        if kind == "close":
            close(engine)
            marks += [m for f in facts.values() if f for m in _instants(f)] + [*referred.values()]
            firsts += referred.values()
            continue
        if change == "same":
            if case_id not in facts:
                continue
            change = facts[case_id] or "merged"
        facts[case_id] = None if change == "merged" else change
        if facts[case_id] is not None:
            referred[case_id] = change.opened_at
        write(engine, snapshot(case_id, facts[case_id], seq))

    live = [f for f in facts.values() if f is not None]
    months = closed_months(
        min(firsts, default=None), max(marks, default=None), RUBRIC.grace, drained=True
    )
    with Session(engine) as session:
        for month in months:
            items = pool(i for f in live for i in case_items(f, RUBRIC) if i.month == month)
            latest = latest_revision(session, month)
            assert latest is not None and latest.cards == month_cards(month, items, RUBRIC, ORG)
            revisions = _revisions(session, month)
            assert sorted(revisions) == list(range(1, latest.number + 1))
            for number in range(2, latest.number + 1):
                assert revisions[number] != revisions[number - 1]
    assert _stored_totals(engine) == _expected_totals(live, months)

    before = _stored_totals(engine)
    assert close(engine, rebuild=True) == []
    assert _stored_totals(engine) == before


def test_a_late_change_to_a_closed_month_gives_revision_2_and_a_rewrite_nothing(
    engine: Engine,
) -> None:
    """March and April close at revision 1; the same facts written again change nothing;
    a March case filed late makes March revision 2, the old one kept, April untouched."""
    march = datetime(2022, 3, 1, 9, tzinfo=UTC)
    filed = CaseFacts("430203", "430203-01", march, filed_at=march + timedelta(days=1))
    waiting = CaseFacts("430203", "430203-01", march + timedelta(days=4))
    april = CaseFacts(
        "430202", "430202-00", march + timedelta(days=40), filed_at=march + timedelta(days=41)
    )
    write(engine, snapshot("A", filed, 1), snapshot("B", waiting, 1), snapshot("C", april, 1))
    assert close(engine) == [Closed("2022-03", 1), Closed("2022-04", 1)]

    write(engine, snapshot("A", filed, 2))
    assert close(engine) == []

    late = CaseFacts(
        "430203", "430203-01", waiting.opened_at, filed_at=waiting.opened_at + timedelta(days=3)
    )
    write(engine, snapshot("B", late, 3))
    assert close(engine) == [Closed("2022-03", 2)]
    with Session(engine) as session:
        revisions = {
            (r.month, r.revision): r.metrics["filing_timeliness"]
            for r in session.scalars(select(ScorecardRow).where(ScorecardRow.level == "city"))
        }
    assert revisions == {
        ("2022-03", 1): {"due": 2, "on_time": 1, "rate": 0.5},
        ("2022-03", 2): {"due": 2, "on_time": 2, "rate": 1.0},
        ("2022-04", 1): {"due": 1, "on_time": 1, "rate": 1.0},
    }


def test_a_close_that_overlaps_another_keeps_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one feed takes in a new case another closes and commits: the first fails
    with ConcurrentClose and keeps nothing, and what the other kept is what a rebuild
    from scratch gives."""
    march = datetime(2022, 3, 1, 9, tzinfo=UTC)
    write(engine, snapshot("A", CaseFacts("430203", "430203-01", march, filed_at=march), 1))
    close(engine)
    write(engine, snapshot("B", CaseFacts("430202", "430202-00", march + timedelta(days=2)), 1))
    receipts = facts.receipts
    other: list[list[Closed]] = []

    def meanwhile(session: Session, case_ids: list[str]) -> Any:
        if not other:
            other.append([])
            other[0] = close(engine)
        return receipts(session, case_ids)

    monkeypatch.setattr(facts, "receipts", meanwhile)
    with pytest.raises(ConcurrentClose):
        close(engine)
    monkeypatch.undo()
    assert other == [[Closed("2022-03", 2)]]
    before = _stored_totals(engine)
    assert close(engine, rebuild=True) == []
    assert _stored_totals(engine) == before
