"""What the HTTP intake keeps: the receipt it gave for each accepted version of a
referral, so the same request again gets the same receipt and sends nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consumers.receipt_store import IntakeRow


def receipt_for(
    engine: Engine, agency: str, referral_id: str, digest: str
) -> dict[str, Any] | None:
    with Session(engine) as session:
        row = session.get(IntakeRow, (agency, referral_id, digest))
        return None if row is None else dict(row.receipt)


def accepted(engine: Engine, agency: str, referral_id: str) -> datetime | None:
    """When the intake first accepted the referral, if it did."""
    with Session(engine) as session:
        rows = session.query(IntakeRow.accepted_at).filter_by(
            agency=agency, referral_id=referral_id
        )
        times = [at for (at,) in rows]
        return min(times) if times else None


def keep_receipt(
    engine: Engine,
    agency: str,
    referral_id: str,
    digest: str,
    receipt: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """Keep ``receipt``; when the same version was kept meanwhile (two identical requests
    at once), the receipt kept first, which is the one to answer with."""
    try:
        with Session(engine) as session, session.begin():
            session.add(
                IntakeRow(
                    agency=agency,
                    referral_id=referral_id,
                    content_hash=digest,
                    accepted_at=at,
                    receipt=receipt,
                )
            )
    except IntegrityError:
        earlier = receipt_for(engine, agency, referral_id, digest)
        if earlier is not None:
            return earlier
        raise
    return receipt
