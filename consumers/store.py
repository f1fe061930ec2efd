"""Writing pipeline outputs into SQL, idempotently, and reading them back.

The caller owns the session and its transaction (``with Session.begin()``); these
functions only stage work in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from consumers.models import (
    Base,
    CaseRow,
    DeadLetterRow,
    LedgerEntryRow,
    ReferralRow,
    ReferralVersionRow,
)
from streams.cases.snapshots import INSTANTS, PLACE_AND_KIND
from streams.errors import RetryableError
from streams.state.database import connect


def open_store(url: str) -> Engine:
    """An engine on ``url`` with the schema created."""
    engine = connect(url)

    try:
        Base.metadata.create_all(engine)
    except SQLAlchemyError as e:
        raise RetryableError(
            f"database {engine.url!r} unreachable: {e.__class__.__name__}: {str(e).splitlines()[0]}"
        ) from e
    return engine


_CASE_COLUMNS = (
    "case_no",
    "group_key",
    "group_seq",
    "state",
    "merged_into",
    *PLACE_AND_KIND,
    *INSTANTS,
    "decided_fen",
    "collected_fen",
    "outstanding_fen",
    "overpaid_fen",
)


def apply_snapshots(session: Session, snapshots: Iterable[Mapping[str, Any]]) -> int:
    """Store case snapshots (decoded CaseSnapshot records); older ones than stored are
    ignored. Returns how many changed the store."""
    latest: dict[str, Mapping[str, Any]] = {}
    for snap in snapshots:
        known = latest.get(snap["case_id"])
        if known is None or known["group_seq"] <= snap["group_seq"]:
            latest[snap["case_id"]] = snap
    if not latest:
        return 0
    query = select(CaseRow.case_id, CaseRow.group_seq).where(CaseRow.case_id.in_(latest))
    stored = {case_id: seq for case_id, seq in session.execute(query)}
    changed = 0
    for case_id, snap in latest.items():
        if stored.get(case_id, -1) > snap["group_seq"]:
            continue
        _write_case(session, snap)
        changed += 1
    return changed


def _write_case(session: Session, snap: Mapping[str, Any]) -> None:
    case_id = snap["case_id"]
    decision = snap.get("decision")
    row = session.get(CaseRow, case_id) or CaseRow(case_id=case_id)
    for column in _CASE_COLUMNS:
        setattr(row, column, snap.get(column))
    row.decision_no = decision["decision_no"] if decision else None
    row.major = decision["major"] if decision else None
    row.tier = decision["tier"] if decision else None
    row.legal_reviewed_at = decision["legal_reviewed_at"] if decision else None
    row.snapshot = json.loads(json.dumps(snap, default=_jsonable, ensure_ascii=False))
    if session.is_modified(row):  # tells the scorecard feed the case changed
        row.version = (row.version or 0) + 1
    session.add(row)
    session.execute(delete(LedgerEntryRow).where(LedgerEntryRow.case_id == case_id))
    if decision is not None:
        session.add(
            LedgerEntryRow(
                entry_id=f"decision:{case_id}",
                case_id=case_id,
                kind="decision",
                decision_no=decision["decision_no"],
                at=snap["decided_at"],
                amount_fen=decision["amount_fen"],
            )
        )
    for receipt in snap.get("payments") or ():
        session.add(
            LedgerEntryRow(
                # Scoped to the case: a receipt number reused in another incident group
                # (which that group cannot see) must not break this case's ledger.
                entry_id=f"receipt:{case_id}:{receipt['receipt_no']}",
                case_id=case_id,
                kind="receipt",
                decision_no=decision["decision_no"] if decision else None,
                receipt_no=receipt["receipt_no"],
                at=receipt["paid_at"],
                amount_fen=receipt["amount_fen"],
            )
        )
    for referral in snap.get("referrals") or ():
        _write_referral(session, case_id, snap["group_seq"], referral)


def _write_referral(
    session: Session, case_id: str, group_seq: int, referral: Mapping[str, Any]
) -> None:
    key = (referral["agency"], referral["referral_id"])
    row = session.get(ReferralRow, key)
    if row is not None and row.group_seq > group_seq:
        return
    row = row or ReferralRow(agency=key[0], referral_id=key[1])
    row.case_id = case_id
    row.group_seq = group_seq
    row.referred_at = referral["referred_at"]
    row.opened_case = referral["opened_case"]
    row.amendments = referral["amendments"]
    row.exact_duplicates = referral["exact_duplicates"]
    session.add(row)
    for number, version in enumerate(referral["versions"], start=1):
        if session.get(ReferralVersionRow, (*key, number)) is None:
            record = json.loads(version) if isinstance(version, str) else version
            session.add(
                ReferralVersionRow(
                    agency=key[0], referral_id=key[1], version_no=number, record=record
                )
            )


def apply_dead_letters(session: Session, letters: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
    """Store dead letters (key, decoded DeadLetter record); a letter seen again is kept once."""
    added = 0
    for key, letter in letters:
        if session.get(DeadLetterRow, key) is not None:
            continue
        session.add(DeadLetterRow(letter_key=key, **dict(letter)))
        session.flush()
        added += 1
    return added


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@dataclass(frozen=True)
class Totals:
    """What the store holds, in the figures of a run's summary."""

    dead_lettered: int
    exact_duplicates: int
    amendments: int
    merged: int
    cases_opened: int


def totals(session: Session) -> Totals:
    live = select(CaseRow.case_id).where(CaseRow.state != "MERGED")
    referrals = select(
        func.coalesce(func.sum(ReferralRow.exact_duplicates), 0),
        func.coalesce(func.sum(ReferralRow.amendments), 0),
        func.count().filter(ReferralRow.opened_case.is_(False)),
    ).where(ReferralRow.case_id.in_(live))
    duplicates, amendments, merged = session.execute(referrals).one()
    return Totals(
        dead_lettered=session.scalar(select(func.count()).select_from(DeadLetterRow)) or 0,
        exact_duplicates=int(duplicates),
        amendments=int(amendments),
        merged=int(merged),
        cases_opened=session.scalar(select(func.count()).select_from(live.subquery())) or 0,
    )
