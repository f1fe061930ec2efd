"""The scorecard feed's read model: each live case's facts as the feed last took it in
(``scored_cases``), and the sums of their items and penalty flows by month and unit
(``consumers.scorecards.sums``), brought up to date from the cases that changed.

The sink adds 1 to a case row's ``version`` whenever it changes the row. Taking in reads
only the rows whose ``version`` differs from their ``scored_version`` (a partial index
finds them); for each, takes out of the sums what its kept facts contribute (its items,
``streams.scorecards.scoring.case_items``, and once decided its flows,
``streams.ledger.totals.case_flows``), keeps its new facts and adds what they contribute;
then sets ``scored_version`` to the version it read, so a write that lands meanwhile
leaves the row unscored for next time. An absorbed (MERGED) case contributes nothing.

The sums always equal what the kept facts contribute under the current rubric, so a new
rubric recomputes them from the kept facts without rewriting any case. A month whose
sums changed is marked for its cards to be checked; penalty totals from the earliest
changed month on, since month-end balances carry forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from consumers.models import CaseRow, MonthCheckRow, PenaltyFlowRow, ScoredCaseRow, ScoringTallyRow
from consumers.scorecards import facts, state
from consumers.scorecards.facts import CASE_COLUMNS, Taken, batched
from consumers.scorecards.sums import PENALTIES, SCORING, Delta, Sums, add, add_to_sums
from streams.ledger.totals import DecidedCase, case_flows
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import case_items


@dataclass(frozen=True)
class Changes:
    """What a take-in changed: how many cases, and the months whose sums moved."""

    cases: int
    card_months: frozenset[str]
    flow_months: frozenset[str]


def take_in(session: Session, rubric: Rubric) -> Changes:
    """Bring the read model up to date with the cases written since the last take-in,
    under the rubric its sums were built with (the feed rescores first on a new one)."""
    return _take_in(session, rubric, everything=False)


def rebuild(session: Session, rubric: Rubric) -> Changes:
    """Forget the read model and build it again from every case; every month's cards and
    totals are checked again."""
    for table in (ScoredCaseRow, ScoringTallyRow, PenaltyFlowRow, MonthCheckRow):
        session.execute(delete(table))
    return _take_in(session, rubric, everything=True)


def rescore(session: Session, rubric: Rubric) -> Changes:
    """The items of every kept case again, under a new rubric; penalty flows do not depend
    on the rubric and stay. Every month's cards are checked again."""
    session.execute(delete(ScoringTallyRow))
    session.execute(update(MonthCheckRow).values(cards_checked=False))
    deltas: dict[Sums, Delta] = {SCORING: {}, PENALTIES: {}}
    kept = facts.stored(session, None)
    for taken in kept.values():
        _contribute(deltas, taken, rubric, +1, penalties=False)
    months = add_to_sums(session, SCORING, deltas[SCORING])
    return Changes(len(kept), frozenset(months), frozenset())


def _take_in(session: Session, rubric: Rubric, *, everything: bool) -> Changes:
    query = select(*CASE_COLUMNS)
    rows: list[Any] = list(session.execute(query if everything else query.where(state.UNSCORED)))
    every_receipt = facts.receipts(session, None) if everything else None
    deltas: dict[Sums, Delta] = {SCORING: {}, PENALTIES: {}}
    for chunk in batched(rows):
        ids = [row.case_id for row in chunk]
        live = [row for row in chunk if row.state != "MERGED"]
        if every_receipt is None:
            decided = [row.case_id for row in live if row.decided_at is not None]
            paid = facts.receipts(session, decided)
        else:
            paid = every_receipt
        new = {row.case_id: facts.of_case_row(row, paid.get(row.case_id, ())) for row in live}
        if not everything:
            for taken in facts.stored(session, ids).values():
                _contribute(deltas, taken, rubric, -1)
            facts.forget(session, ids)
        for taken in new.values():
            _contribute(deltas, taken, rubric, +1)
        facts.store(session, new)
    card_months = add_to_sums(session, SCORING, deltas[SCORING])
    flow_months = add_to_sums(session, PENALTIES, deltas[PENALTIES])
    _mark_unchecked(session, card_months, flow_months)
    state.take_marks(session, everything=everything)
    _mark_scored(session, [(r.case_id, r.version) for r in rows if r.version != r.scored_version])
    return Changes(len(rows), frozenset(card_months), frozenset(flow_months))


def _contribute(
    deltas: dict[Sums, Delta], taken: Taken, rubric: Rubric, sign: int, *, penalties: bool = True
) -> None:
    """Add (``sign`` +1) or take out (-1) what a case's facts contribute to the sums."""
    case, agency = taken
    tallies = deltas[SCORING]
    for month, district, squad, metric, due, on_time in case_items(case, rubric):
        # inline: a year's cases make hundreds of thousands of items on a new rubric
        known = tallies.get((month, district, squad, metric))
        if known is None:
            tallies[(month, district, squad, metric)] = [sign * due, sign * on_time]
        else:
            known[0] += sign * due
            known[1] += sign * on_time
    if penalties and case.decided_at is not None:
        unit = (case.district_code, case.squad_code, agency)
        decided = DecidedCase(*unit, case.decided_at, case.decided_fen, case.receipts)
        for month, flow in case_flows(decided).items():
            # vars() keeps the field order and costs far less than dataclasses.astuple
            add(deltas[PENALTIES], (month, *unit), vars(flow).values(), sign)


def _mark_unchecked(session: Session, card_months: set[str], flow_months: set[str]) -> None:
    if card_months:
        session.execute(
            update(MonthCheckRow)
            .where(MonthCheckRow.month.in_(card_months))
            .values(cards_checked=False)
        )
    if flow_months:
        session.execute(
            update(MonthCheckRow)
            .where(MonthCheckRow.month >= min(flow_months))
            .values(penalties_checked=False)
        )


def _mark_scored(session: Session, versions: list[tuple[str, int]]) -> None:
    """Each row scored as of the version read; a later write keeps it unscored."""
    table = cast(Table, CaseRow.__table__)
    statement = (
        update(table)
        .where(table.c.case_id == bindparam("read_id"))
        .values(scored_version=bindparam("read_version"))
    )
    for chunk in batched(versions):
        session.execute(statement, [{"read_id": i, "read_version": v} for i, v in chunk])
