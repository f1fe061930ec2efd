"""What the page tells of a case without a database: what is overdue at an instant, why an
item fell short, and the months a trend covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.views import Shortfall, overdue_items, previous_months
from streams.ledger.rules import Receipt
from streams.scorecards.rubric import load_rubric
from streams.scorecards.scoring import CaseFacts

RUBRIC = load_rubric()
OPENED = datetime(2022, 3, 1, 1, 0, tzinfo=UTC)


def case(**changes: object) -> CaseFacts:
    values: dict[str, object] = {"district_code": "430203", "squad_code": "430203-01"}
    values["opened_at"] = OPENED
    values.update(changes)
    return CaseFacts(**values)  # type: ignore[arg-type]


def test_an_unfiled_case_is_overdue_once_its_filing_deadline_passes() -> None:
    """Filing is due 15 days after the referral: not overdue before, overdue after."""
    assert overdue_items(case(), RUBRIC, OPENED + timedelta(days=14)) == []
    assert overdue_items(case(), RUBRIC, OPENED + timedelta(days=16)) == ["filing_timeliness"]


def test_an_item_done_late_is_not_overdue_any_more() -> None:
    """A case filed after its deadline was late, but nothing is pending now."""
    late = case(filed_at=OPENED + timedelta(days=20))
    assert overdue_items(late, RUBRIC, OPENED + timedelta(days=30)) == []


def test_an_unpaid_decision_is_overdue_until_paid_in_full() -> None:
    """Collection is overdue 15 days after the decision while anything is unpaid."""
    decided = OPENED + timedelta(days=5)
    facts = case(
        filed_at=OPENED + timedelta(days=1),
        decided_at=decided,
        decided_fen=10_000,
        feedback_at=decided,
        receipts=(Receipt("R1", decided + timedelta(days=1), 4_000),),
    )
    assert overdue_items(facts, RUBRIC, decided + timedelta(days=16)) == ["collection"]
    paid = case(**{**facts.__dict__, "receipts": (Receipt("R1", decided, 10_000),)})
    assert overdue_items(paid, RUBRIC, decided + timedelta(days=16)) == []


def test_a_shortfall_says_late_missing_or_partly_paid() -> None:
    """Done after the deadline is late; never done is missing; part paid is partial."""

    def shortfall(metric: str, on_time: int, done: datetime | None) -> str:
        return Shortfall(metric, "C1", None, "d", "s", OPENED, 100, on_time, done).status

    assert shortfall("filing_timeliness", 0, OPENED) == "late"
    assert shortfall("filing_timeliness", 0, None) == "missing"
    assert shortfall("collection", 40, None) == "partial"
    assert shortfall("collection", 0, None) == "missing"


def test_a_trend_covers_the_twelve_months_up_to_the_chosen_one() -> None:
    """Twelve months, oldest first, across a year's turn."""
    months = previous_months("2022-03", 12)
    assert (months[0], months[-1], len(months)) == ("2021-04", "2022-03", 12)
