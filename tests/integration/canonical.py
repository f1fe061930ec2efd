"""The SQL store as plain, comparable data: what a run's outcome is, whatever crashed on
the way and whichever database holds it.

``canonical_dump`` reads the tables the pipeline's promise is about — cases, referrals and
their versions, the ledger, dead letters — row by row, sorted by natural key, with every
value in a database-independent form (instants as UTC ISO strings, JSON parsed, bytes as
hex). Left out is only what differs between two clean runs of the same input:

- the columns that record *when* or *how often* something was written rather than what;
- the provisional cases absorbed on the way (MERGED rows, and the ``absorbed`` entries
  of their heirs' histories): a referral that reaches its group before an earlier one of
  the same incident opens a case of its own, which the earlier one's arrival absorbs.
  Referrals of one incident travel on different input partitions, so which of them
  arrives first depends on timing (docs/architecture.md, ``form_groups``); the live
  cases they end in do not. ``absorbed_point_to_live`` checks that each absorbed case
  names a live heir.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from consumers.models import (
    CaseRow,
    DeadLetterRow,
    LedgerEntryRow,
    ReferralRow,
    ReferralVersionRow,
)

# Columns that depend on timing, not on the input:
TIMING = {
    # how many steps a group took: one per batch, and batches depend on fetch timing
    "cases": {"group_seq", "version", "scored_version"},
    "referrals": {"group_seq"},
    "referral_versions": set(),
    "ledger_entries": set(),
    # the wall clock of the step that refused the event
    "dead_letters": {"dead_lettered_at"},
}
# Inside a case's snapshot document: its group_seq again.
SNAPSHOT_TIMING = {"group_seq"}

MODELS = {
    "cases": CaseRow,
    "referrals": ReferralRow,
    "referral_versions": ReferralVersionRow,
    "ledger_entries": LedgerEntryRow,
    "dead_letters": DeadLetterRow,
}

Row = tuple[Any, ...]
Dump = dict[str, list[Row]]


def canonical_dump(engine: Engine) -> Dump:
    """Every row of the compared tables, timing columns left out, sorted."""
    dump: Dump = {}
    with Session(engine) as session:
        for table, model in MODELS.items():
            columns = [c for c in model.__table__.columns if c.name not in TIMING[table]]
            query = select(*columns)
            if model is CaseRow:
                query = query.where(CaseRow.state != "MERGED")
            rows = session.execute(query).all()
            names = [c.name for c in columns]
            dump[table] = sorted(
                (tuple(_plain(name, value) for name, value in zip(names, row, strict=True)))
                for row in rows
            )
    return dump


def absorbed_point_to_live(engine: Engine) -> list[str]:
    """The absorbed (MERGED) cases whose heir is not a live case: none, when all is well."""
    with Session(engine) as session:
        live = set(session.scalars(select(CaseRow.case_id).where(CaseRow.state != "MERGED")))
        merged = session.execute(
            select(CaseRow.case_id, CaseRow.merged_into).where(CaseRow.state == "MERGED")
        ).all()
    return [f"{case_id} -> {heir}" for case_id, heir in merged if heir not in live]


def _plain(column: str, value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLite hands back what UTCDateTime stored; both databases mean UTC
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping) and column == "snapshot":
        kept = {k: v for k, v in value.items() if k not in SNAPSHOT_TIMING}
        kept["history"] = [h for h in kept["history"] if h["what"] != "absorbed"]
        return _frozen(kept)
    if isinstance(value, Mapping):
        return _frozen(value)
    if isinstance(value, list):
        return _frozen(value)
    return value


def _frozen(value: Any) -> Any:
    """JSON as nested tuples, so rows sort and compare whatever their keys' order."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def differences(found: Dump, expected: Dump, shown: int = 5) -> tuple[int, list[str]]:
    """How many rows differ between two dumps (missing, extra or changed, counted once
    each side), and the first few of them, named by table."""
    count = 0
    lines: list[str] = []
    for table in expected.keys() | found.keys():
        have, want = _counted(found.get(table, [])), _counted(expected.get(table, []))
        for row in sorted(set(have) | set(want), key=repr):
            surplus = have.get(row, 0) - want.get(row, 0)
            if surplus:
                count += abs(surplus)
                if len(lines) < shown:
                    what = "extra" if surplus > 0 else "missing"
                    lines.append(f"{table}: {what} x{abs(surplus)}: {str(row)[:400]}")
    return count, lines


def _counted(rows: list[Row]) -> dict[Row, int]:
    counts: dict[Row, int] = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    return counts


def ledger_mismatches(engine: Engine) -> list[str]:
    """Live cases whose figures are not what their ledger adds up to, or whose snapshot
    lists a receipt twice: a payment or decision applied twice shows here."""
    wrong = []
    with Session(engine) as session:
        entries: dict[str, list[LedgerEntryRow]] = {}
        for entry in session.scalars(select(LedgerEntryRow)):
            entries.setdefault(entry.case_id, []).append(entry)
        for case in session.scalars(select(CaseRow).where(CaseRow.state != "MERGED")):
            mine = entries.get(case.case_id, [])
            receipts = [e.amount_fen for e in mine if e.kind == "receipt"]
            decided = sum(e.amount_fen for e in mine if e.kind == "decision")
            listed = [p["receipt_no"] for p in case.snapshot.get("payments") or ()]
            if (
                case.collected_fen != sum(receipts)
                or case.decided_fen != decided
                or len(listed) != len(set(listed))
                or len(listed) != len(receipts)
            ):
                wrong.append(
                    f"{case.case_id}: decided {case.decided_fen} (ledger {decided}), "
                    f"collected {case.collected_fen} (ledger {sum(receipts)}), receipts {listed}"
                )
    return wrong
