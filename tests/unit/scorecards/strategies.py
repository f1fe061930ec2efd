"""Hypothesis strategies for case facts across the first months of 2022 (Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from streams.events import SHANGHAI
from streams.ledger.rules import Receipt
from streams.scorecards.scoring import CaseFacts

START = datetime(2022, 1, 1, tzinfo=SHANGHAI)
# (district, squad) of the shipped organisation: two squads of 芦淞区, one of 荷塘区
SQUADS = [("430203", "430203-00"), ("430203", "430203-01"), ("430202", "430202-00")]


def _after(draw: st.DrawFn, base: datetime, days: int) -> datetime:
    return base + timedelta(hours=draw(st.integers(0, 24 * days)))


@st.composite
def case_facts(draw: st.DrawFn, opened_within_days: int = 120) -> CaseFacts:
    """A case opened in the first ``opened_within_days`` of 2022, left open, rejected,
    filed or decided, with or without feedback, review and instalments."""
    district, squad = draw(st.sampled_from(SQUADS))
    opened = _after(draw, START, opened_within_days)
    outcome = draw(st.sampled_from(["open", "rejected", "filed", "decided"]))
    rejected = _after(draw, opened, 30) if outcome == "rejected" else None
    filed = _after(draw, opened, 30) if outcome in ("filed", "decided") else None
    decided = _after(draw, filed, 120) if filed is not None and outcome == "decided" else None
    amount, major, reviewed, receipts = 0, False, None, ()
    if decided is not None:
        amount = draw(st.sampled_from([0, 100, 50_000, 3_000_000]))
        major = draw(st.booleans())
        if draw(st.booleans()):
            reviewed = decided + timedelta(hours=draw(st.integers(-72, 24)))
        paid = draw(st.lists(st.integers(1, amount), max_size=3)) if amount else []
        receipts = tuple(
            Receipt(f"P{n}", _after(draw, decided, 60), fen) for n, fen in enumerate(paid)
        )
    answered = decided or rejected
    feedback = _after(draw, answered, 20) if answered and draw(st.booleans()) else None
    return CaseFacts(
        district_code=district,
        squad_code=squad,
        opened_at=opened,
        filed_at=filed,
        rejected_at=rejected,
        decided_at=decided,
        decided_fen=amount,
        major=major,
        legal_reviewed_at=reviewed,
        feedback_at=feedback,
        receipts=receipts,
    )
