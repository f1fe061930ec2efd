"""A case's facts as the scorecard feed sees them: read from the sink's case rows and
ledger entries, and kept in ``scored_cases`` as the feed last took each case in."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from consumers.models import CaseRow, LedgerEntryRow, ScoredCaseRow
from consumers.scorecards.sums import insert_many
from streams.ledger.rules import Receipt
from streams.scorecards.scoring import CaseFacts

T = TypeVar("T")
CHUNK = 1000  # case ids per IN (...) query
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
NEVER_OPENED = datetime.min.replace(tzinfo=UTC)


class Taken(NamedTuple):
    """A live case's facts and the agency of its first referral."""

    facts: CaseFacts
    agency: str


# what the feed reads of a case row
CASE_COLUMNS = (
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
_SCORED = (
    "case_id",
    "district_code",
    "squad_code",
    "agency",
    "opened_us",
    "filed_us",
    "rejected_us",
    "decided_us",
    "feedback_us",
    "legal_reviewed_us",
    "decided_fen",
    "major",
    "receipts",
)


def batched(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def receipts(session: Session, case_ids: list[str] | None) -> dict[str, tuple[Receipt, ...]]:
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


def of_case_row(row: Any, paid: tuple[Receipt, ...]) -> Taken:
    """The facts of a (not absorbed) case row selected with CASE_COLUMNS."""
    facts = CaseFacts(
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
        receipts=paid,
    )
    return Taken(facts, row.agency or "")


def _micros(at: datetime | None) -> int | None:
    return None if at is None else (at - EPOCH) // MICROSECOND


def _receipts_text(paid: tuple[Receipt, ...]) -> str:
    return (
        json.dumps([[r.receipt_no, _micros(r.paid_at), r.amount_fen] for r in paid]) if paid else ""
    )


def store(session: Session, taken: dict[str, Taken]) -> None:
    """Keep the cases' facts as taken in (none may be stored for them yet)."""
    rows = [
        (
            case_id,
            f.district_code,
            f.squad_code,
            agency,
            _micros(f.opened_at),
            _micros(f.filed_at),
            _micros(f.rejected_at),
            _micros(f.decided_at),
            _micros(f.feedback_at),
            _micros(f.legal_reviewed_at),
            f.decided_fen,
            f.major,
            _receipts_text(f.receipts),
        )
        for case_id, (f, agency) in taken.items()
    ]
    insert_many(session, ScoredCaseRow, _SCORED, rows)


def stored(session: Session, case_ids: Sequence[str] | None) -> dict[str, Taken]:
    """The facts kept for the cases, or for every case when None."""
    table = cast(Table, ScoredCaseRow.__table__)  # Core columns: no ORM loading layer
    query = select(*(table.c[c] for c in _SCORED))
    if case_ids is not None:
        query = query.where(table.c.case_id.in_(case_ids))
    found = {}
    # a year's cases are read at once on a new rubric: instants built inline, and
    # receipts parsed only where there are some
    for case_id, district, squad, agency, *us, fen, major, paid in session.execute(query):
        opened, filed, rejected, decided, feedback, reviewed = (
            None if u is None else EPOCH + timedelta(microseconds=u) for u in us
        )
        receipts: tuple[Receipt, ...] = ()
        if paid:
            receipts = tuple(
                Receipt(no, EPOCH + timedelta(microseconds=at), amount)
                for no, at, amount in json.loads(paid)
            )
        facts = CaseFacts(
            district_code=district,
            squad_code=squad,
            opened_at=opened or NEVER_OPENED,
            filed_at=filed,
            rejected_at=rejected,
            decided_at=decided,
            decided_fen=fen,
            major=major,
            legal_reviewed_at=reviewed,
            feedback_at=feedback,
            receipts=receipts,
        )
        found[case_id] = Taken(facts, agency)
    return found


def forget(session: Session, case_ids: Sequence[str]) -> None:
    session.execute(delete(ScoredCaseRow).where(ScoredCaseRow.case_id.in_(case_ids)))
