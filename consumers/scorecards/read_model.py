"""The scorecard feed's read model: every case's scoring items and penalty flows, kept per
case and summed by month and unit, brought up to date from the cases that changed.

The sink adds 1 to a case row's ``version`` on every write. Taking in reads only the rows
whose ``version`` differs from their ``scored_version`` (a partial index finds them), turns
each into its items (``streams.scorecards.scoring.case_items``) and, once decided, its
flows (``streams.ledger.totals.case_flows``), replaces what the case contributed before
with them, adds the difference to the month sums, and sets ``scored_version`` to the
version it read: a write that lands meanwhile leaves the row unscored for next time. An
absorbed (MERGED) case contributes nothing. A month whose sums changed is marked for its
cards to be checked; penalty totals from the earliest changed month on, since month-end
balances carry forward.
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
from streams.ledger.rules import Receipt
from streams.ledger.totals import FLOW_FIELDS, DecidedCase, Flow, Key, case_flows
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import CaseFacts, Tally, TallyKey, case_items

T = TypeVar("T")
CHUNK = 1000  # case ids per IN (...) query
NEVER_OPENED = datetime.min.replace(tzinfo=UTC)

Line = tuple[Any, ...]  # a case's contribution: case id, the sum's key, the summed values
Running = dict[tuple[Any, ...], list[int]]  # sums or differences, by sum key


@dataclass(frozen=True)
class Sums:
    """Contributions kept per case in ``items`` and summed by ``key`` in ``sums``."""

    items: type[Any]
    sums: type[Any]
    key: tuple[str, ...]  # the month first
    values: tuple[str, ...]


SCORING = Sums(
    ScoringItemRow,
    ScoringTallyRow,
    ("month", "district_code", "squad_code", "metric"),
    ("due", "on_time"),
)
PENALTIES = Sums(
    PenaltyItemRow,
    PenaltyFlowRow,
    ("month", "district_code", "squad_code", "agency"),
    FLOW_FIELDS,
)

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
    for chunk in batched(rows, CHUNK):
        decided = {r.case_id for r in chunk if r.state != "MERGED" and r.decided_at is not None}
        receipts = _receipts(session, list(decided))
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
                _replace(session, sums, ids, lines, deltas[sums], fresh=everything)
    card_months = _add_to_sums(session, SCORING, deltas[SCORING])
    flow_months = _add_to_sums(session, PENALTIES, deltas[PENALTIES])
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


def _receipts(session: Session, case_ids: list[str]) -> dict[str, tuple[Receipt, ...]]:
    found: dict[str, list[Receipt]] = defaultdict(list)
    if case_ids:
        query = select(
            LedgerEntryRow.case_id,
            LedgerEntryRow.receipt_no,
            LedgerEntryRow.at,
            LedgerEntryRow.amount_fen,
        ).where(LedgerEntryRow.kind == "receipt", LedgerEntryRow.case_id.in_(case_ids))
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


def _add(into: Running, key: tuple[Any, ...], values: Sequence[int], sign: int) -> None:
    known = into.get(key)
    if known is None:
        into[key] = [sign * value for value in values]
    else:
        for i, value in enumerate(values):
            known[i] += sign * value


def _replace(
    session: Session,
    sums: Sums,
    case_ids: Sequence[str],
    lines: list[Line],
    delta: Running,
    *,
    fresh: bool,
) -> None:
    """Swap the cases' stored lines for ``lines`` (case id, sum key, values), noting the
    difference in ``delta``; ``fresh`` when nothing is stored yet."""
    width = len(sums.key)
    if not fresh:
        columns = [getattr(sums.items, c) for c in (*sums.key, *sums.values)]
        stored = select(*columns).where(sums.items.case_id.in_(case_ids))
        for row in session.execute(stored):
            _add(delta, tuple(row[:width]), row[width:], -1)
        session.execute(delete(sums.items).where(sums.items.case_id.in_(case_ids)))
    for line in lines:
        _add(delta, line[1 : 1 + width], line[1 + width :], +1)
    _insert_many(session, sums.items, ("case_id", *sums.key, *sums.values), lines)


def _insert_many(
    session: Session, table: type[Any], columns: Sequence[str], rows: list[Line]
) -> None:
    """Plain text and integer rows, inserted by the driver's own executemany: SQLAlchemy's
    per-row parameter handling costs more than SQLite's insert (bench/scorecards.py)."""
    if rows:
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        names, marks = ", ".join(columns), ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table.__tablename__} ({names}) VALUES ({marks})"
        connection.exec_driver_sql(sql, rows)


def _add_to_sums(session: Session, sums: Sums, delta: Running) -> set[str]:
    """Add ``delta`` to the stored sums; returns the months that changed. A month's sums
    are few (units x metrics), so the changed months are read and written whole."""
    changed = {key: values for key, values in delta.items() if any(values)}
    months = {key[0] for key in changed}
    if not months:
        return months
    width = len(sums.key)
    columns = [getattr(sums.sums, c) for c in (*sums.key, *sums.values)]
    current = {
        tuple(row[:width]): list(row[width:])
        for row in session.execute(select(*columns).where(sums.sums.month.in_(months)))
    }
    for key, values in changed.items():
        _add(current, key, values, +1)
    session.execute(delete(sums.sums).where(sums.sums.month.in_(months)))
    rows = [(*key, *values) for key, values in current.items() if any(values)]
    _insert_many(session, sums.sums, (*sums.key, *sums.values), rows)
    return months


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


def month_tallies(session: Session, month: str) -> dict[TallyKey, Tally]:
    """A month's items summed by district, squad and metric."""
    query = select(
        ScoringTallyRow.district_code,
        ScoringTallyRow.squad_code,
        ScoringTallyRow.metric,
        ScoringTallyRow.due,
        ScoringTallyRow.on_time,
    ).where(ScoringTallyRow.month == month)
    return {(d, s, m): Tally(due, on) for d, s, m, due, on in session.execute(query)}


def flows_through(session: Session, month: str) -> dict[Key, Flow]:
    """The cases' flows summed by month and unit, for every month up to ``month``."""
    columns = [getattr(PenaltyFlowRow, c) for c in (*PENALTIES.key, *PENALTIES.values)]
    query = select(*columns).where(PenaltyFlowRow.month <= month)
    return {(m, d, s, a): Flow(*values) for m, d, s, a, *values in session.execute(query)}
