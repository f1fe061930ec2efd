"""What closing decides, stored and sent: a month's scorecard revisions (the ``scorecards``
table and ``scorecards.monthly``) and its penalty totals (``penalty_totals`` and
``penalties.monthly``); and the stored revisions read back.

Scores stay Decimal from the scoring function to the database and to the Avro record's
decimal text; only the JSON documents printed for a user carry them as numbers.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from consumers.models import PenaltyTotalsRow, ScorecardRow
from schemas.codec import default_store
from streams import topics
from streams.ledger.totals import Totals
from streams.scorecards.closing import Card, Revision, ordered

Unit = tuple[str, str, str]  # district, squad, agency
Message = tuple[str, bytes, bytes]  # topic, key, value


class Producer(Protocol):
    def send(self, topic: str, key: bytes, value: bytes) -> Any: ...
    def flush(self) -> None: ...


def send(producer: Producer | None, messages: list[Message], prefix: str = "") -> None:
    """Send what was stored, once the close is sure to be kept, to the pipeline's topics
    (``prefix``: REFERRALS_TOPIC_PREFIX)."""
    if producer is not None:
        for topic, key, value in messages:
            producer.send(prefix + topic, key=key, value=value)
        producer.flush()


def _metrics(card: Card) -> dict[str, dict[str, Any]]:
    documents = {}
    for name, (due, on_time) in card.metrics.items():
        rate = card.rate(name)
        documents[name] = {
            "due": due,
            "on_time": on_time,
            "rate": float(rate) if rate is not None else None,
        }
    return documents


def card_document(revision: Revision, card: Card) -> dict[str, Any]:
    """A scorecard as the ``scorecard --format json`` object of docs/contract.md."""
    return {
        "month": revision.month,
        "level": card.level,
        "unit_code": card.unit_code,
        "unit_name": card.unit_name,
        "parent_code": card.parent_code,
        "score": float(card.score) if card.score is not None else None,
        "grade": card.grade,
        "rank": card.rank,
        "revision": revision.number,
        "metrics": _metrics(card),
    }


def _avro(revision: Revision, card: Card) -> dict[str, Any]:
    metrics = _metrics(card)
    return {
        **card_document(revision, card),
        "score": f"{card.score:.2f}" if card.score is not None else None,
        "metrics": [{"metric": name, **tally} for name, tally in metrics.items()],
    }


# what a card and its stored row share, by name
_CARD_FIELDS = ("level", "unit_code", "unit_name", "parent_code", "score", "grade", "rank")


def store_revision(session: Session, revision: Revision) -> list[Message]:
    """Keep the revision beside the earlier ones; its cards as messages to send."""
    store = default_store()
    messages = []
    for card in revision.cards:
        session.add(
            ScorecardRow(
                month=revision.month,
                revision=revision.number,
                metrics=_metrics(card),
                closed_at=revision.closed_at,
                **{name: getattr(card, name) for name in _CARD_FIELDS},
            )
        )
        key = f"{revision.month}|{card.level}|{card.unit_code}".encode()
        value = store.encode("MonthlyScorecard", _avro(revision, card))
        messages.append((topics.SCORECARDS, key, value))
    return messages


def _latest_number(session: Session, month: str) -> int | None:
    return session.scalar(
        select(func.max(ScorecardRow.revision)).where(ScorecardRow.month == month)
    )


def _rows(session: Session, month: str, number: int, *levels: str) -> list[ScorecardRow]:
    query = select(ScorecardRow).where(ScorecardRow.month == month, ScorecardRow.revision == number)
    if levels:
        query = query.where(ScorecardRow.level.in_(levels))
    return list(session.scalars(query))


def latest_revision(session: Session, month: str) -> Revision | None:
    """The month's latest stored revision, or None before its first."""
    number = _latest_number(session, month)
    if number is None:
        return None
    rows = _rows(session, month, number)
    cards = [
        Card(
            metrics={name: (m["due"], m["on_time"]) for name, m in row.metrics.items()},
            **{name: getattr(row, name) for name in _CARD_FIELDS},
        )
        for row in rows
    ]
    return Revision(month, number, rows[0].closed_at, ordered(cards))


def row_document(row: ScorecardRow) -> dict[str, Any]:
    """A stored scorecard as the ``scorecard --format json`` object of docs/contract.md."""
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
    number = _latest_number(session, month)
    if number is None:
        return []
    documents = [row_document(row) for row in _rows(session, month, number, level)]
    return sorted(documents, key=lambda d: (d["rank"] is None, d["rank"] or 0, d["unit_code"]))


def replace_totals(session: Session, month: str, totals: dict[Unit, Totals]) -> list[Message]:
    """Store a month's penalty totals unless they are those stored; the rows as messages
    to send, none when nothing changed."""
    stored = {
        (r.district_code, r.squad_code, r.agency): Totals(
            r.decided_fen, r.collected_fen, r.outstanding_fen, r.overpaid_fen
        )
        for r in session.scalars(select(PenaltyTotalsRow).where(PenaltyTotalsRow.month == month))
    }
    if stored == totals:
        return []
    store = default_store()
    messages = []
    session.execute(delete(PenaltyTotalsRow).where(PenaltyTotalsRow.month == month))
    for (district, squad, agency), row in sorted(totals.items()):
        values = dict(
            month=month, district_code=district, squad_code=squad, agency=agency, **asdict(row)
        )
        session.add(PenaltyTotalsRow(**values))
        key = f"{month}|{district}|{squad}|{agency}".encode()
        messages.append((topics.PENALTIES, key, store.encode("PenaltyTotals", values)))
    return messages
