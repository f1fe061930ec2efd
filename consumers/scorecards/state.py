"""The scorecard feed's running values, in ``feed_state``.

The event-time watermark (the latest instant any stored event carries) and the first
referral's instant are a running maximum and minimum over the case rows the feed has taken
in, folded with those of the rows it has not taken in yet (few, found by the partial index
on unscored rows): neither is ever read from the whole history. Beside them, the digests
of the rubric and the organisation the read model was built with, and a generation
counted up by every close, so that two feeds closing at once cannot both add the same
changes to the sums: the one that finishes second finds the generation moved and fails.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consumers.models import CaseRow, FeedStateRow, LedgerEntryRow, ReferralRow
from streams.errors import RetryableError

WATERMARK = "watermark"
FIRST_REFERRAL = "first_referral"
RUBRIC = "rubric"
ORGANISATION = "organisation"
GENERATION = "generation"

# the rows the sink wrote since the feed last took them in
UNSCORED = CaseRow.version != CaseRow.scored_version


class ConcurrentClose(RetryableError):
    """Another scorecard feed closed months on the same store meanwhile."""


def digest(value: object) -> str:
    """A digest of a frozen configuration object (rubric, organisation) by its repr."""
    return hashlib.sha256(repr(value).encode()).hexdigest()


def get(session: Session, name: str) -> str | None:
    row = session.get(FeedStateRow, name)
    return row.value if row is not None else None


def put(session: Session, name: str, value: str | None) -> None:
    row = session.get(FeedStateRow, name)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(FeedStateRow(name=name, value=value))
    else:
        row.value = value


def _instant(session: Session, name: str) -> datetime | None:
    value = get(session, name)
    return datetime.fromisoformat(value) if value is not None else None


def _pending(
    session: Session, scope: ColumnElement[bool] | None
) -> tuple[list[datetime], list[datetime]]:
    """The instants of the case rows in ``scope`` (every row when None), their referrals
    and their ledger entries; and their referrals' instants."""
    cases = select(
        func.max(CaseRow.filed_at),
        func.max(CaseRow.rejected_at),
        func.max(CaseRow.decided_at),
        func.max(CaseRow.feedback_at),
        func.max(CaseRow.closed_at),
    )
    referrals = select(func.max(ReferralRow.referred_at), func.min(ReferralRow.referred_at))
    ledger = select(func.max(LedgerEntryRow.at))
    if scope is not None:
        ids = select(CaseRow.case_id).where(scope)
        cases = cases.where(scope)
        referrals = referrals.where(ReferralRow.case_id.in_(ids))
        ledger = ledger.where(LedgerEntryRow.case_id.in_(ids))
    latest_referral, first_referral = session.execute(referrals).one()
    latest = [*session.execute(cases).one(), latest_referral, session.scalar(ledger)]
    return [at for at in latest if at is not None], [first_referral] if first_referral else []


def _marks(session: Session) -> tuple[datetime | None, datetime | None]:
    latest, first = _pending(session, UNSCORED)
    stored_latest, stored_first = _instant(session, WATERMARK), _instant(session, FIRST_REFERRAL)
    latest += [stored_latest] if stored_latest is not None else []
    first += [stored_first] if stored_first is not None else []
    return max(latest, default=None), min(first, default=None)


def watermark(session: Session) -> datetime | None:
    """The latest instant any stored event carries."""
    return _marks(session)[0]


def first_referral(session: Session) -> datetime | None:
    """The earliest instant any stored referral carries."""
    return _marks(session)[1]


def take_marks(session: Session, *, everything: bool) -> None:
    """Fold the unscored rows' instants into the stored marks, before they are marked
    scored; ``everything`` recomputes the marks from every row."""
    if everything:
        latest, first = _pending(session, None)
        marks = max(latest, default=None), min(first, default=None)
    else:
        marks = _marks(session)
    for name, at in zip((WATERMARK, FIRST_REFERRAL), marks, strict=True):
        put(session, name, at.isoformat() if at is not None else None)


def advance(session: Session, seen: str | None) -> None:
    """Count this close, the generation having been ``seen`` as it began; raise
    ConcurrentClose, so that the caller's transaction rolls back, when another close
    counted itself since."""
    value = str(int(seen or 0) + 1)
    problem = ConcurrentClose(
        "another scorecard feed closed months on this store at the same time; "
        "nothing of this close was kept: run it again"
    )
    if seen is None:
        session.add(FeedStateRow(name=GENERATION, value=value))
        try:
            session.flush()
        except IntegrityError as e:  # the other close counted the first generation
            raise problem from e
        return
    moved = update(FeedStateRow).where(FeedStateRow.name == GENERATION, FeedStateRow.value == seen)
    result = cast(CursorResult[Any], session.execute(moved.values(value=value)))
    if result.rowcount != 1:
        raise problem
