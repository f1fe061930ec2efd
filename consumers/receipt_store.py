"""Receipts given to the agencies, kept in SQL: which were sent (so none is sent twice),
each referral's latest status, which the HTTP intake's status endpoint serves, and the
receipt the intake gave for each version it accepted (web/intake_store.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from consumers.models import Base, Code, Instant, MaybeCode, MaybeInstant
from consumers.receipt_rules import Step


class ReceiptRow(Base):
    """One receipt as it was sent; ``seq`` orders a referral's receipts."""

    __tablename__ = "referral_receipts"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[str] = mapped_column(String(320), unique=True)
    agency: Mapped[Code]
    referral_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[Code]
    case_id: Mapped[MaybeCode]
    case_no: Mapped[MaybeCode]
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_no: Mapped[MaybeCode]
    amount_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    count: Mapped[int | None]
    at: Mapped[MaybeInstant]
    emitted_at: Mapped[Instant]


class ReferralStatusRow(Base):
    """The last status a referral was told, and the case it is in."""

    __tablename__ = "referral_status"

    agency: Mapped[Code] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[Code]
    case_id: Mapped[MaybeCode]
    case_no: Mapped[MaybeCode]
    receipt_id: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[Instant]


class IntakeRow(Base):
    """One accepted version (by content) of a referral, and the receipt the HTTP intake
    gave for it."""

    __tablename__ = "intake_receipts"

    agency: Mapped[Code] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted_at: Mapped[Instant]
    receipt: Mapped[dict[str, Any]]


_EVENTS_NOT_STATES = ("DUPLICATE", "AMENDED")


def unsent(session: Session, steps: Iterable[Step]) -> list[Step]:
    """The steps no receipt was sent for yet, each once, in their order."""
    fresh: dict[str, Step] = {}
    for step in steps:
        fresh.setdefault(step["receipt_id"], step)
    if not fresh:
        return []
    sent = set(
        session.scalars(select(ReceiptRow.receipt_id).where(ReceiptRow.receipt_id.in_(fresh)))
    )
    return [s for rid, s in fresh.items() if rid not in sent]


def record_sent(session: Session, steps: list[Step], emitted_at: datetime) -> None:
    """Keep the receipts just sent and move each referral's status to its latest."""
    for step in steps:
        session.add(ReceiptRow(**step, emitted_at=emitted_at))
        row = session.get(ReferralStatusRow, (step["agency"], step["referral_id"]))
        if row is None:
            row = ReferralStatusRow(agency=step["agency"], referral_id=step["referral_id"])
            session.add(row)
        # a duplicate or an amendment happens to a referral; it is not where its case is
        if row.status is None or step["status"] not in _EVENTS_NOT_STATES:
            row.status = step["status"]
        row.case_id = step["case_id"] or row.case_id
        row.case_no = step["case_no"] or row.case_no
        row.receipt_id = step["receipt_id"]
        row.updated_at = emitted_at
    session.flush()


def status_of(session: Session, agency: str, referral_id: str) -> dict[str, Any] | None:
    """A referral's status and every receipt it was sent, oldest first; None if none."""
    row = session.get(ReferralStatusRow, (agency, referral_id))
    if row is None:
        return None
    receipts = session.scalars(
        select(ReceiptRow)
        .where(ReceiptRow.agency == agency, ReceiptRow.referral_id == referral_id)
        .order_by(ReceiptRow.seq)
    ).all()
    return {
        "referral_key": f"{agency}:{referral_id}",
        "status": row.status,
        "case_id": row.case_id,
        "case_no": row.case_no,
        "updated_at": row.updated_at.isoformat(),
        "receipts": [_receipt_json(r) for r in receipts],
    }


def _receipt_json(row: ReceiptRow) -> dict[str, Any]:
    out: dict[str, Any] = {"receipt_id": row.receipt_id, "status": row.status}
    for name in ("case_id", "case_no", "reason", "decision_no", "amount_fen", "count"):
        value = getattr(row, name)
        if value is not None:
            out[name] = value
    out["at"] = row.at.isoformat() if row.at is not None else None
    out["emitted_at"] = row.emitted_at.isoformat()
    return out
