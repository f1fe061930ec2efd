"""The sums the scorecard feed keeps: each case's contributions (its scoring items, its
penalty flows) stored per case, and their sums by month and unit.

A case's contribution is a list of lines: the case id, the key it is summed by (the month
first) and the values summed. Replacing a case's lines adds the difference to a running
delta; the delta is then added to the stored sums month by month. Those are few (units x
metrics, or units x agencies, per month), so a changed month's sums are read and written
whole, and a month's cards or totals are read from them without touching a case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consumers.models import PenaltyFlowRow, PenaltyItemRow, ScoringItemRow, ScoringTallyRow
from streams.ledger.totals import FLOW_FIELDS, Flow, Key
from streams.scorecards.scoring import Tally, TallyKey

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


def _add(into: Running, key: tuple[Any, ...], values: Sequence[int], sign: int) -> None:
    known = into.get(key)
    if known is None:
        into[key] = [sign * value for value in values]
    else:
        for i, value in enumerate(values):
            known[i] += sign * value


def replace_lines(
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


def add_to_sums(session: Session, sums: Sums, delta: Running) -> set[str]:
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
