"""The sums the scorecard feed keeps: the scored cases' items by month, district, squad and
metric, and their penalty flows by month, district, squad and agency.

A change is first gathered as differences by key (``Delta``), then added to the stored
sums month by month. A month's sums are few (units x metrics, or units x agencies), so a
changed month's are read and written whole, and a month's cards or totals are read from
them without touching a case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consumers.models import PenaltyFlowRow, ScoringTallyRow
from streams.ledger.totals import FLOW_FIELDS, Flow, Key
from streams.scorecards.scoring import Tally, TallyKey

Delta = dict[tuple[Any, ...], list[int]]  # differences (or sums) of values, by key


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a hot dict key
class Sums:
    """Values summed by ``key`` (the month first) in ``table``."""

    table: type[Any]
    key: tuple[str, ...]
    values: tuple[str, ...]


SCORING = Sums(
    ScoringTallyRow, ("month", "district_code", "squad_code", "metric"), ("due", "on_time")
)
PENALTIES = Sums(PenaltyFlowRow, ("month", "district_code", "squad_code", "agency"), FLOW_FIELDS)


def add(delta: Delta, key: tuple[Any, ...], values: Iterable[int], sign: int) -> None:
    known = delta.get(key)
    if known is None:
        delta[key] = [sign * value for value in values]
    else:
        for i, value in enumerate(values):
            known[i] += sign * value


def insert_many(
    session: Session, table: type[Any], columns: Sequence[str], rows: list[Any]
) -> None:
    """Plain text and integer rows, inserted by the driver's own executemany: SQLAlchemy's
    per-row parameter handling costs more than SQLite's insert (bench/scorecards.py)."""
    if rows:
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        names, marks = ", ".join(columns), ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {table.__tablename__} ({names}) VALUES ({marks})"
        connection.exec_driver_sql(sql, rows)


def add_to_sums(session: Session, sums: Sums, delta: Delta) -> set[str]:
    """Add ``delta`` to the stored sums; returns the months that changed."""
    changed = {key: values for key, values in delta.items() if any(values)}
    months = {key[0] for key in changed}
    if not months:
        return months
    width = len(sums.key)
    columns = [getattr(sums.table, c) for c in (*sums.key, *sums.values)]
    current: Delta = {
        tuple(row[:width]): list(row[width:])
        for row in session.execute(select(*columns).where(sums.table.month.in_(months)))
    }
    for key, values in changed.items():
        add(current, key, values, +1)
    session.execute(delete(sums.table).where(sums.table.month.in_(months)))
    rows = [(*key, *values) for key, values in current.items() if any(values)]
    insert_many(session, sums.table, (*sums.key, *sums.values), rows)
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
