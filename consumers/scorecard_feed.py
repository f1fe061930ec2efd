"""The scorecard feed: closes months and publishes their scorecards, from the store.

A month is closed once the event-time watermark (the latest instant any stored event
carries) passes its end plus the rubric's grace period, or, in a batch run, once the
input is drained (every month up to the watermark's). A closed month whose scorecards
come out different from its latest revision gets revision n+1: stored beside the old
ones in SQL and sent to ``scorecards.monthly``; never a silent change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from consumers.models import (
    CaseRow,
    LedgerEntryRow,
    PenaltyTotalsRow,
    ReferralRow,
    ScorecardRow,
)
from schemas.codec import default_store
from streams import topics
from streams.events import SHANGHAI
from streams.ledger.rules import Receipt
from streams.ledger.totals import DecidedCase, Totals, monthly_totals
from streams.organisation import Organisation
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import CaseFacts, Scorecard, month_of, scorecards


class Producer(Protocol):
    def send(self, topic: str, key: bytes, value: bytes) -> Any: ...
    def flush(self) -> None: ...


@dataclass(frozen=True)
class Closed:
    month: str
    revision: int


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def case_facts(session: Session) -> list[CaseFacts]:
    """Every live case as the scoring function wants it."""
    facts = []
    for row in session.scalars(select(CaseRow).where(CaseRow.state != "MERGED")):
        snap = row.snapshot
        decision = snap.get("decision") or {}
        facts.append(
            CaseFacts(
                district_code=row.district_code or "",
                squad_code=row.squad_code or "",
                opened_at=_instant(snap["opened_at"]) or datetime.min.replace(tzinfo=UTC),
                filed_at=_instant(snap["filed_at"]),
                rejected_at=_instant(snap["rejected_at"]),
                decided_at=_instant(snap["decided_at"]),
                decided_fen=row.decided_fen,
                major=bool(decision.get("major")),
                legal_reviewed_at=_instant(decision.get("legal_reviewed_at")),
                feedback_at=_instant(snap["feedback_at"]),
                receipts=tuple(
                    Receipt(p["receipt_no"], datetime.fromisoformat(p["paid_at"]), p["amount_fen"])
                    for p in snap["payments"]
                ),
            )
        )
    return facts


def watermark(session: Session) -> datetime | None:
    """The latest instant any stored event carries."""
    candidates = [
        session.scalar(select(func.max(ReferralRow.referred_at))),
        session.scalar(select(func.max(LedgerEntryRow.at))),
        *session.execute(
            select(
                func.max(CaseRow.filed_at),
                func.max(CaseRow.rejected_at),
                func.max(CaseRow.decided_at),
                func.max(CaseRow.feedback_at),
                func.max(CaseRow.closed_at),
            )
        ).one(),
    ]
    present = [c for c in candidates if c is not None]
    return max(present) if present else None


def _months(first: datetime, last: datetime) -> Iterator[str]:
    year, month = (int(x) for x in month_of(first).split("-"))
    end = month_of(last)
    while True:
        current = f"{year:04d}-{month:02d}"
        yield current
        if current >= end:
            return
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _month_end(month: str) -> datetime:
    year, number = (int(x) for x in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=SHANGHAI)


def closed_months(session: Session, rubric: Rubric, *, drained: bool) -> list[str]:
    mark = watermark(session)
    first = session.scalar(select(func.min(ReferralRow.referred_at)))
    if mark is None or first is None:
        return []
    grace: timedelta = rubric.grace
    return [
        month
        for month in _months(first, mark)
        if (drained and month <= month_of(mark)) or _month_end(month) + grace <= mark
    ]


def units(org: Organisation) -> dict[str, list[tuple[str, str | None]]]:
    return {
        "city": [(org.city.code, None)],
        "district": [(code, org.city.code) for code in org.districts],
        "squad": [(s.code, s.district_code) for s in org.squads.values()],
    }


def unit_name(org: Organisation, level: str, code: str) -> str:
    if level == "city":
        return org.city.name
    if level == "district":
        return org.districts[code].name
    return org.squads[code].name


def card_document(card: Scorecard, org: Organisation, revision: int) -> dict[str, Any]:
    """A scorecard as CONTRACT.md's ``scorecard --format json`` object."""
    return {
        "month": card.month,
        "level": card.level,
        "unit_code": card.unit_code,
        "unit_name": unit_name(org, card.level, card.unit_code),
        "parent_code": card.parent_code,
        "score": float(card.score) if card.score is not None else None,
        "grade": card.grade,
        "rank": card.rank,
        "revision": revision,
        "metrics": {
            name: {
                "due": tally.due,
                "on_time": tally.on_time,
                "rate": float(tally.rate) if tally.rate is not None else None,
            }
            for name, tally in card.metrics.items()
        },
    }


def _comparable(documents: list[dict[str, Any]]) -> str:
    return json.dumps(
        sorted(
            ({k: v for k, v in d.items() if k != "revision"} for d in documents),
            key=lambda d: (d["level"], d["unit_code"]),
        ),
        sort_keys=True,
    )


def close_months(
    session: Session,
    org: Organisation,
    rubric: Rubric,
    *,
    drained: bool,
    producer: Producer | None = None,
) -> list[Closed]:
    """Score every closed month; store and send a new revision where anything changed."""
    facts = case_facts(session)
    store = default_store()
    closed = []
    now = datetime.now(UTC)
    months = closed_months(session, rubric, drained=drained)
    for month in months:
        cards = scorecards(facts, month, rubric, units(org))
        latest = session.scalar(
            select(func.max(ScorecardRow.revision)).where(ScorecardRow.month == month)
        )
        documents = [card_document(card, org, (latest or 0) + 1) for card in cards]
        if latest is not None:
            stored = session.scalars(
                select(ScorecardRow).where(
                    ScorecardRow.month == month, ScorecardRow.revision == latest
                )
            ).all()
            if _comparable([row_document(row) for row in stored]) == _comparable(documents):
                continue
        for document in documents:
            session.add(
                ScorecardRow(
                    month=month,
                    level=document["level"],
                    unit_code=document["unit_code"],
                    revision=document["revision"],
                    unit_name=document["unit_name"],
                    parent_code=document["parent_code"],
                    score=None if document["score"] is None else _decimal(document["score"]),
                    grade=document["grade"],
                    rank=document["rank"],
                    metrics=document["metrics"],
                    closed_at=now,
                )
            )
            if producer is not None:
                producer.send(
                    topics.SCORECARDS,
                    key=f"{month}|{document['level']}|{document['unit_code']}".encode(),
                    value=store.encode("MonthlyScorecard", _avro(document)),
                )
        closed.append(Closed(month, documents[0]["revision"]))
    _close_penalties(session, months, store, producer)
    if producer is not None:
        producer.flush()
    return closed


def decided_cases(session: Session) -> list[DecidedCase]:
    return [
        DecidedCase(
            district_code=row.district_code or "",
            squad_code=row.squad_code or "",
            agency=row.agency or "",
            decided_at=row.decided_at,
            decided_fen=row.decided_fen,
            receipts=tuple(
                Receipt(p["receipt_no"], datetime.fromisoformat(p["paid_at"]), p["amount_fen"])
                for p in row.snapshot["payments"]
            ),
        )
        for row in session.scalars(
            select(CaseRow).where(CaseRow.state != "MERGED", CaseRow.decided_at.is_not(None))
        )
        if row.decided_at is not None
    ]


def _close_penalties(
    session: Session, months: list[str], store: Any, producer: Producer | None
) -> None:
    """Store each closed month's penalty totals, sending the months that changed."""
    totals = monthly_totals(decided_cases(session), months)
    for month in months:
        rows = {k[1:]: v for k, v in totals.items() if k[0] == month}
        stored = {
            (r.district_code, r.squad_code, r.agency): Totals(
                r.decided_fen, r.collected_fen, r.outstanding_fen, r.overpaid_fen
            )
            for r in session.scalars(
                select(PenaltyTotalsRow).where(PenaltyTotalsRow.month == month)
            )
        }
        if stored == rows:
            continue
        session.execute(delete(PenaltyTotalsRow).where(PenaltyTotalsRow.month == month))
        for (district, squad, agency), row in sorted(rows.items()):
            values = dict(
                month=month, district_code=district, squad_code=squad, agency=agency, **asdict(row)
            )
            session.add(PenaltyTotalsRow(**values))
            if producer is not None:
                producer.send(
                    topics.PENALTIES,
                    key=f"{month}|{district}|{squad}|{agency}".encode(),
                    value=store.encode("PenaltyTotals", values),
                )


def _decimal(score: float) -> Decimal:
    return Decimal(f"{score:.2f}")


def _avro(document: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in document.items() if k != "metrics"},
        "score": None if document["score"] is None else f"{document['score']:.2f}",
        "metrics": [{"metric": name, **tally} for name, tally in document["metrics"].items()],
    }


def row_document(row: ScorecardRow) -> dict[str, Any]:
    return {
        "month": row.month,
        "level": row.level,
        "unit_code": row.unit_code,
        "unit_name": row.unit_name,
        "parent_code": row.parent_code,
        "score": float(row.score) if row.score is not None else None,
        "grade": row.grade,
        "rank": row.rank,
        "revision": row.revision,
        "metrics": row.metrics,
    }


def latest_scorecards(session: Session, month: str, level: str) -> list[dict[str, Any]]:
    """The latest revision of a month's scorecards at one level, best first."""
    latest = session.scalar(
        select(func.max(ScorecardRow.revision)).where(ScorecardRow.month == month)
    )
    if latest is None:
        return []
    rows = session.scalars(
        select(ScorecardRow).where(
            ScorecardRow.month == month,
            ScorecardRow.level == level,
            ScorecardRow.revision == latest,
        )
    ).all()
    documents = [row_document(row) for row in rows]
    return sorted(documents, key=lambda d: (d["rank"] is None, d["rank"] or 0, d["unit_code"]))
