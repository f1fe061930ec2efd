"""Case rows written the way the SQL sink writes them, from plain case facts.

``snapshot`` turns ``CaseFacts`` into the decoded ``CaseSnapshot`` record the sink gets
from ``cases.snapshots`` (with one referral, opened on the case's opening), or, given no
facts, the tombstone of a case absorbed into another; ``write`` stores snapshots through
``consumers.store.apply_snapshots`` in one transaction, as the sink stores a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from consumers.models import Base
from consumers.store import apply_snapshots, open_store
from streams.scorecards.scoring import CaseFacts


def snapshot(
    case_id: str, facts: CaseFacts | None, seq: int, agency: str = "HOUSING"
) -> dict[str, Any]:
    """The case as the sink receives it; ``facts`` None for an absorbed (MERGED) case."""
    if facts is None:
        return {
            "case_id": case_id,
            "group_key": f"g-{case_id}",
            "group_seq": seq,
            "state": "MERGED",
            "merged_into": "C-heir",
            "decided_fen": 0,
            "collected_fen": 0,
            "outstanding_fen": 0,
            "overpaid_fen": 0,
            "payments": [],
            "referrals": [],
        }
    paid = sum(r.amount_fen for r in facts.receipts)
    state = (
        "DECIDED"
        if facts.decided_at
        else "REJECTED"
        if facts.rejected_at
        else "FILED"
        if facts.filed_at
        else "OPEN"
    )
    decision = None
    if facts.decided_at is not None:
        decision = {
            "decision_no": f"D-{case_id}",
            "amount_fen": facts.decided_fen,
            "tier": "GENERAL",
            "major": facts.major,
            "legal_reviewed_at": facts.legal_reviewed_at,
            "exemption": None,
        }
    referral_id = f"R-{case_id}"
    return {
        "case_id": case_id,
        "case_no": None,
        "group_key": f"g-{case_id}",
        "group_seq": seq,
        "state": state,
        "merged_into": None,
        "district_code": facts.district_code,
        "squad_code": facts.squad_code,
        "street_code": None,
        "agency": agency,
        "category": "STREET_VENDING",
        "opened_at": facts.opened_at,
        "filed_at": facts.filed_at,
        "rejected_at": facts.rejected_at,
        "decided_at": facts.decided_at,
        "feedback_at": facts.feedback_at,
        "closed_at": None,
        "decision": decision,
        "payments": [
            {"receipt_no": r.receipt_no, "paid_at": r.paid_at, "amount_fen": r.amount_fen}
            for r in facts.receipts
        ],
        "decided_fen": facts.decided_fen,
        "collected_fen": paid,
        "outstanding_fen": max(facts.decided_fen - paid, 0),
        "overpaid_fen": max(paid - facts.decided_fen, 0),
        "referrals": [
            {
                "agency": agency,
                "referral_id": referral_id,
                "referred_at": facts.opened_at,
                "opened_case": True,
                "amendments": 0,
                "exact_duplicates": 0,
                "versions": [{"referral_id": referral_id, "agency": agency}],
            }
        ],
        "history": [],
    }


def write(engine: Engine, *snapshots: dict[str, Any]) -> None:
    """Store snapshots in one transaction, as the sink stores one polled batch."""
    with Session(engine) as session, session.begin():
        apply_snapshots(session, snapshots)


def empty(engine: Engine) -> None:
    """Delete every row of every table."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))


@contextmanager
def store_on(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store with its schema created, on a new SQLite file or PostgreSQL database."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")
    engine = open_store(url)
    try:
        yield engine
    finally:
        engine.dispose()
