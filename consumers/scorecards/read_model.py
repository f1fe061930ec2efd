"""The scorecard feed's read model: every case's scoring items and penalty flows, kept per
case and summed by month and unit (``consumers.scorecards.sums``), brought up to date from
the cases that changed.

The sink adds 1 to a case row's ``version`` whenever it changes the row. Taking in reads
only the rows whose ``version`` differs from their ``scored_version`` (a partial index
finds them), turns each into its items (``streams.scorecards.scoring.case_items``) and,
once decided, its flows (``streams.ledger.totals.case_flows``), replaces what the case
contributed before with them, adds the difference to the month sums, and sets
``scored_version`` to the version it read: a write that lands meanwhile leaves the row
unscored for next time. An absorbed (MERGED) case contributes nothing. A month whose sums
changed is marked for its cards to be checked; penalty totals from the earliest changed
month on, since month-end balances carry forward.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from consumers.models import (
    CaseRow,
    LedgerEntryRow,
    MonthCheckRow,
    PenaltyFlowRow,
    PenaltyItemRow,
    ScoringItemRow,
    ScoringTallyRow,
)
from consumers.scorecards import state
from consumers.scorecards.sums import (
    PENALTIES,
    SCORING,
    Line,
    Running,
    Sums,
    add_to_sums,
    replace_lines,
)
from streams.ledger.rules import Receipt
from streams.ledger.totals import DecidedCase, case_flows
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import CaseFacts, case_items

T = TypeVar("T")
CHUNK = 1000  # case ids per IN (...) query
NEVER_OPENED = datetime.min.replace(tzinfo=UTC)

_CASE = (
    CaseRow.case_id,
    CaseRow.version,
    CaseRow.scored_version,
    CaseRow.state,
    CaseRow.district_code,
    CaseRow.squad_code,
    CaseRow.agency,
    CaseRow.opened_at,
    CaseRow.filed_at,
    CaseRow.rejected_at,
    CaseRow.decided_at,
    CaseRow.feedback_at,
    CaseRow.decided_fen,
    CaseRow.major,
    CaseRow.legal_reviewed_at,
)


@dataclass(frozen=True)
class Changes:
    """What a take-in changed: how many cases, and the months whose sums moved."""

    cases: int
    card_months: frozenset[str]
    flow_months: frozenset[str]


def take_in(session: Session, rubric: Rubric) -> Changes:
    """Bring the read model up to date with the cases written since the last take-in."""
    return _take_in(session, rubric, scoring=True, penalties=True, everything=False)


def rebuild(session: Session, rubric: Rubric) -> Changes:
    """Forget the read model and build it again from every case; every month's cards and
    totals are checked again."""
    for table in (ScoringItemRow, ScoringTallyRow, PenaltyItemRow, PenaltyFlowRow, MonthCheckRow):
        session.execute(delete(table))
    return _take_in(session, rubric, scoring=True, penalties=True, everything=True)


def rescore(session: Session, rubric: Rubric) -> Changes:
    """Turn every case into its items again, under a new rubric; penalty flows do not
    depend on the rubric and stay. Every month's cards are checked again."""
    for table in (ScoringItemRow, ScoringTallyRow):
        session.execute(delete(table))
    session.execute(update(MonthCheckRow).values(cards_checked=False))
    return _take_in(session, rubric, scoring=True, penalties=False, everything=True)


def _take_in(
    session: Session, rubric: Rubric, *, scoring: bool, penalties: bool, everything: bool
) -> Changes:
    query = select(*_CASE) if everything else select(*_CASE).where(state.UNSCORED)
    rows: list[Any] = list(session.execute(query))
    deltas: dict[Sums, Running] = {SCORING: {}, PENALTIES: {}}
    every_receipt = _receipts(session, None) if everything else None
    for chunk in batched(rows, CHUNK):
        decided = {r.case_id for r in chunk if r.state != "MERGED" and r.decided_at is not None}
        receipts = _receipts(session, list(decided)) if every_receipt is None else every_receipt
        items: list[Line] = []
        flows: list[Line] = []
        for row in chunk:
            if row.state == "MERGED":
                continue
            paid = receipts.get(row.case_id, ())
            if scoring:
                items += [(row.case_id, *i) for i in case_items(_facts(row, paid), rubric)]
            if penalties and row.case_id in decided:
                flows += _flows(row, paid)
        ids = [row.case_id for row in chunk]
        for sums, lines, wanted in ((SCORING, items, scoring), (PENALTIES, flows, penalties)):
            if wanted:
                replace_lines(session, sums, ids, lines, deltas[sums], fresh=everything)
    card_months = add_to_sums(session, SCORING, deltas[SCORING])
    flow_months = add_to_sums(session, PENALTIES, deltas[PENALTIES])
    _mark_unchecked(session, card_months, flow_months)
    if scoring and penalties:
        # the rows were taken in whole: their instants count, and they are scored
        state.take_marks(session, everything=everything)
        scored = [(r.case_id, r.version) for r in rows if r.version != r.scored_version]
        _mark_scored(session, scored)
    return Changes(len(rows), frozenset(card_months), frozenset(flow_months))


def batched(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _receipts(session: Session, case_ids: list[str] | None) -> dict[str, tuple[Receipt, ...]]:
    """The cases' receipts, or every case's when None (one query rather than one a chunk)."""
    query = select(
        LedgerEntryRow.case_id,
        LedgerEntryRow.receipt_no,
        LedgerEntryRow.at,
        LedgerEntryRow.amount_fen,
    ).where(LedgerEntryRow.kind == "receipt")
    if case_ids is not None:
        if not case_ids:
            return {}
        query = query.where(LedgerEntryRow.case_id.in_(case_ids))
    found: dict[str, list[Receipt]] = defaultdict(list)
    for case_id, receipt_no, at, amount in session.execute(query):
        found[case_id].append(Receipt(receipt_no or "", at, amount))
    return {case_id: tuple(paid) for case_id, paid in found.items()}


def _facts(row: Any, receipts: tuple[Receipt, ...]) -> CaseFacts:
    return CaseFacts(
        district_code=row.district_code or "",
        squad_code=row.squad_code or "",
        opened_at=row.opened_at or NEVER_OPENED,
        filed_at=row.filed_at,
        rejected_at=row.rejected_at,
        decided_at=row.decided_at,
        decided_fen=row.decided_fen,
        major=bool(row.major),
        legal_reviewed_at=row.legal_reviewed_at,
        feedback_at=row.feedback_at,
        receipts=receipts,
    )


def _flows(row: Any, receipts: tuple[Receipt, ...]) -> list[Line]:
    unit = (row.district_code or "", row.squad_code or "", row.agency or "")
    case = DecidedCase(*unit, row.decided_at, row.decided_fen, receipts)
    # vars() keeps the field order and costs far less than dataclasses.astuple
    return [
        (row.case_id, month, *unit, *vars(flow).values())
        for month, flow in case_flows(case).items()
    ]


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
    for chunk in batched(versions, CHUNK):
        session.execute(statement, [{"read_id": i, "read_version": v} for i, v in chunk])
