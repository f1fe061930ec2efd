"""The scorecard feed's read model on SQLite and PostgreSQL: it reads only the cases
written since it last looked, keeps a case written meanwhile for next time, follows the
rubric, forgets absorbed cases, and keeps the watermark without reading history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from consumers.models import CaseRow, PenaltyFlowRow, ScoredCaseRow
from consumers.scorecard_feed import close_months, closed_months, watermark
from consumers.scorecards import facts, read_model, state, sums
from consumers.scorecards.writer import latest_revision
from consumers.store import open_store
from streams.ledger.rules import Receipt
from streams.ledger.totals import DecidedCase, unit_flows
from streams.organisation import default_organisation_path, load_organisation
from streams.scorecards.closing import month_cards
from streams.scorecards.rubric import Rubric, load_rubric
from streams.scorecards.scoring import CaseFacts, case_items, pool
from tests.support.cases import snapshot, store_on, write

pytestmark = pytest.mark.integration

ORG = load_organisation(default_organisation_path())
RUBRIC = load_rubric()
MARCH = datetime(2022, 3, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with store_on(request.param, request, tmp_path) as engine:
        yield engine


def decided(day: int, squad: str = "430203-01") -> CaseFacts:
    """A case opened on ``day`` of March, filed the next day, decided at 50 000 fen a
    week later and paid in full ten days after that, fed back on time."""
    opened = MARCH + timedelta(days=day)
    decision = opened + timedelta(days=8)
    return CaseFacts(
        squad[:6],
        squad,
        opened,
        filed_at=opened + timedelta(days=1),
        decided_at=decision,
        decided_fen=50_000,
        feedback_at=decision + timedelta(days=2),
        receipts=(Receipt("P1", decision + timedelta(days=10), 50_000),),
    )


def take_in(engine: Engine, rubric: Rubric = RUBRIC) -> read_model.Changes:
    with Session(engine) as session, session.begin():
        return read_model.take_in(session, rubric)


def kept(engine: Engine, case_id: str) -> CaseFacts | None:
    """The case's facts as the feed last took it in."""
    with Session(engine) as session:
        taken = facts.stored(session, [case_id]).get(case_id)
        return taken.facts if taken is not None else None


def test_only_the_cases_written_since_the_last_look_are_read(engine: Engine) -> None:
    """Three cases are read once; after two more are written (one of them a redelivery
    of an unchanged snapshot, which leaves its row alone) only the changed one is."""
    write(engine, *(snapshot(f"C{i}", decided(i), 1) for i in range(3)))
    assert take_in(engine).cases == 3
    assert take_in(engine).cases == 0
    write(engine, snapshot("C0", decided(0), 1), snapshot("C1", decided(5), 2))
    assert take_in(engine).cases == 1
    assert kept(engine, "C1") == decided(5)


def test_sqlite_finds_the_unscored_rows_through_the_partial_index(tmp_path: Path) -> None:
    """The query for unscored cases is answered by ix_cases_unscored, not a table scan."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    query = select(CaseRow.case_id).where(state.UNSCORED)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = " ".join(str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    engine.dispose()
    assert "ix_cases_unscored" in plan


def test_a_case_written_while_it_is_taken_in_stays_unscored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink writes a newer version of the case after the feed read it and before it
    marked it scored: the row stays unscored, and the next take-in reads the new facts."""
    write(engine, snapshot("C0", decided(0), 1))
    receipts = facts.receipts
    landed: list[bool] = []

    def meanwhile(session: Session, case_ids: list[str]) -> Any:
        if not landed:
            write(engine, snapshot("C0", decided(20), 2))
            landed.append(True)
        return receipts(session, case_ids)

    monkeypatch.setattr(facts, "receipts", meanwhile)
    assert take_in(engine).cases == 1
    monkeypatch.undo()
    assert take_in(engine).cases == 1
    assert kept(engine, "C0") == decided(20)
    assert take_in(engine).cases == 0


def test_an_absorbed_case_contributes_nothing(engine: Engine) -> None:
    """Once a case is written as MERGED its facts are no longer kept and the sums are
    those of the other case alone."""
    write(engine, snapshot("C0", decided(0), 1), snapshot("C1", decided(1, "430202-00"), 1))
    take_in(engine)
    write(engine, snapshot("C1", None, 2))
    take_in(engine)
    alone = decided(0)
    with Session(engine) as session:
        assert set(session.scalars(select(ScoredCaseRow.case_id))) == {"C0"}
        for month in ("2022-03", "2022-04", "2022-05", "2022-06"):
            items = pool(i for i in case_items(alone, RUBRIC) if i.month == month)
            assert sums.month_tallies(session, month) == items
        case = DecidedCase(
            "430203", "430203-01", "HOUSING", alone.decided_at, 50_000, alone.receipts
        )  # type: ignore[arg-type]
        assert sums.flows_through(session, "2022-12") == unit_flows([case])


def test_a_new_rubric_scores_every_case_again_and_leaves_the_penalty_flows(engine: Engine) -> None:
    """Feedback due in 1 day instead of 10: March, the one month closed, comes out as the
    pure function scores it under the new rubric (revision 2); penalty flows stay."""
    write(engine, *(snapshot(f"C{i}", decided(i), 1) for i in range(4)))
    strict = replace(
        RUBRIC,
        metrics=tuple(
            replace(m, deadline=timedelta(days=1)) if m.name == "feedback" else m
            for m in RUBRIC.metrics
        ),
    )
    with Session(engine) as session, session.begin():
        close_months(session, ORG, RUBRIC, drained=True)
        flows = sorted(tuple(r) for r in session.execute(select(PenaltyFlowRow.__table__)))
    with Session(engine) as session, session.begin():
        close_months(session, ORG, strict, drained=True)
    facts = [decided(i) for i in range(4)]
    with Session(engine) as session:
        items = pool(i for f in facts for i in case_items(f, strict) if i.month == "2022-03")
        latest = latest_revision(session, "2022-03")
        assert latest is not None and latest.cards == month_cards("2022-03", items, strict, ORG)
        assert latest.number == 2
        assert sorted(tuple(r) for r in session.execute(select(PenaltyFlowRow.__table__))) == flows


def test_the_watermark_is_the_latest_stored_instant_before_and_after_closing(
    engine: Engine,
) -> None:
    """Before the feed has looked, and after, the watermark is the latest instant of any
    stored event (here a payment on 20 March) and the months closed are those it implies."""
    write(engine, snapshot("C0", decided(0), 1), snapshot("C1", decided(2), 1))
    latest = decided(2).receipts[0].paid_at
    with Session(engine) as session, session.begin():
        assert watermark(session) == latest
        assert closed_months(session, RUBRIC, drained=True) == ["2022-03"]
        close_months(session, ORG, RUBRIC, drained=True)
    with Session(engine) as session:
        assert watermark(session) == latest
        assert session.scalar(select(func.count()).select_from(ScoredCaseRow)) > 0
        assert closed_months(session, RUBRIC, drained=False) == []
