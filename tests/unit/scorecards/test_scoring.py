"""The monthly scoring function, with expectations computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from streams.errors import ConfigurationError
from streams.ledger.rules import Receipt
from streams.scorecards.rubric import load_rubric, parse_rubric
from streams.scorecards.scoring import CaseFacts, month_of, scorecards

RUBRIC = load_rubric()
UNITS = {
    "city": [("430200", None)],
    "district": [("430202", "430200"), ("430203", "430200")],
    "squad": [("430202-00", "430202"), ("430203-00", "430203"), ("430203-01", "430203")],
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def card(cards: list, code: str):  # type: ignore[no-untyped-def]
    return next(c for c in cards if c.unit_code == code)


def case(squad: str = "430203-01", **facts: object) -> CaseFacts:
    return CaseFacts(district_code=squad[:6], squad_code=squad, **facts)  # type: ignore[arg-type]


def test_a_deadline_belongs_to_its_month_in_shanghai() -> None:
    """23:30 in Zhuzhou on 31 January is January; 16:30 UTC the same day is February."""
    assert month_of(at("2022-01-31T23:30:00+08:00")) == "2022-01"
    assert month_of(at("2022-01-31T16:30:00+00:00")) == "2022-02"


def test_filing_deadline_either_side_of_the_month_end() -> None:
    """A case opened 16 Jan 23:30 (+08) is due 31 Jan 23:30: January; opened 17 Jan
    00:30 it is due in February."""
    early = case(
        opened_at=at("2022-01-16T23:30:00+08:00"), filed_at=at("2022-01-20T09:00:00+08:00")
    )
    late = case(opened_at=at("2022-01-17T00:30:00+08:00"))
    january = card(scorecards([early, late], "2022-01", RUBRIC, UNITS), "430203-01")
    february = card(scorecards([early, late], "2022-02", RUBRIC, UNITS), "430203-01")
    assert (
        january.metrics["filing_timeliness"].due,
        january.metrics["filing_timeliness"].on_time,
    ) == (1, 1)
    assert (
        february.metrics["filing_timeliness"].due,
        february.metrics["filing_timeliness"].on_time,
    ) == (1, 0)


def test_each_metric_counts_its_own_items() -> None:
    """One case filed on time, decided late, major without review, fed back in time:
    each metric's item falls in the month its deadline does."""
    c = case(
        opened_at=at("2022-01-01T09:00:00+08:00"),
        filed_at=at("2022-01-10T09:00:00+08:00"),  # filing due 01-16: on time (January)
        decided_at=at("2022-04-20T09:00:00+08:00"),  # decision due 04-10: late (April)
        decided_fen=5_000_000,  # collection due 05-05 (May)
        major=True,  # legal review due 04-20, none (April)
        feedback_at=at("2022-04-25T09:00:00+08:00"),  # feedback due 04-30: on time (April)
        receipts=(Receipt("P1", at("2022-05-01T09:00:00+08:00"), 1_000_000),),
    )
    april = card(scorecards([c], "2022-04", RUBRIC, UNITS), "430203-01").metrics
    assert {k: (v.due, v.on_time) for k, v in april.items()} == {
        "filing_timeliness": (0, 0),
        "decision_timeliness": (1, 0),
        "legal_review": (1, 0),
        "collection": (0, 0),
        "feedback": (1, 1),
    }
    may = card(scorecards([c], "2022-05", RUBRIC, UNITS), "430203-01").metrics
    assert (may["collection"].due, may["collection"].on_time) == (5_000_000, 1_000_000)


def test_weights_are_renormalised_over_metrics_with_items_and_nothing_due_means_no_score() -> None:
    """Only filing due (1 of 2 on time) scores 50.00; a squad with nothing due has no
    score, no grade and no rank."""
    cases = [
        case(opened_at=at("2022-03-01T09:00:00+08:00"), filed_at=at("2022-03-02T09:00:00+08:00")),
        case(opened_at=at("2022-03-02T09:00:00+08:00")),
    ]
    cards = scorecards(cases, "2022-03", RUBRIC, UNITS)
    squad = card(cards, "430203-01")
    assert (squad.score, squad.grade, squad.rank) == (Decimal("50.00"), "FAIL", 1)
    idle = card(cards, "430203-00")
    assert (idle.score, idle.grade, idle.rank) == (None, None, None)


def test_amount_weighted_collection_with_instalments_around_the_deadline() -> None:
    """Decided 1 000 000 fen on 1 Mar (due 16 Mar): 300 000 paid before and 200 000 on the
    deadline count, 500 000 after does not: rate 0.5."""
    deadline = at("2022-03-16T09:00:00+08:00")
    c = case(
        opened_at=at("2022-01-01T09:00:00+08:00"),
        filed_at=at("2022-01-02T09:00:00+08:00"),
        decided_at=at("2022-03-01T09:00:00+08:00"),
        decided_fen=1_000_000,
        receipts=(
            Receipt("A", at("2022-03-05T09:00:00+08:00"), 300_000),
            Receipt("B", deadline, 200_000),
            Receipt("C", deadline + timedelta(seconds=1), 500_000),
        ),
    )
    collection = card(scorecards([c], "2022-03", RUBRIC, UNITS), "430203-01").metrics["collection"]
    assert (collection.due, collection.on_time, collection.rate) == (
        1_000_000,
        500_000,
        Decimal("0.5"),
    )


def test_overpayment_counts_no_more_than_the_decision() -> None:
    """Paying 150 % by the deadline gives a rate of exactly 1."""
    c = case(
        opened_at=at("2022-01-01T09:00:00+08:00"),
        filed_at=at("2022-01-02T09:00:00+08:00"),
        decided_at=at("2022-03-01T09:00:00+08:00"),
        decided_fen=100,
        receipts=(Receipt("A", at("2022-03-02T09:00:00+08:00"), 150),),
    )
    collection = card(scorecards([c], "2022-03", RUBRIC, UNITS), "430203-01").metrics["collection"]
    assert (collection.due, collection.on_time) == (100, 100)


def test_scores_round_half_up_at_the_third_decimal() -> None:
    """1 of 16 filings on time (0.0625) and 0 of 1 feedback at equal weights score
    100 x 0.0625 / 2 = 3.125, which rounds half-up to 3.13 (half-even would say 3.12)."""
    base = at("2022-03-01T09:00:00+08:00")
    filings = [case(opened_at=base, filed_at=base)] + [case(opened_at=base) for _ in range(15)]
    rejected = case(opened_at=at("2022-02-01T09:00:00+08:00"), rejected_at=base)
    squad = card(scorecards([*filings, rejected], "2022-03", RUBRIC, UNITS), "430203-01")
    assert {k: (v.due, v.on_time) for k, v in squad.metrics.items() if v.due} == {
        "filing_timeliness": (16, 1),
        "feedback": (1, 0),
    }
    assert squad.score == Decimal("3.13")


def test_parents_pool_their_cases_and_ties_share_a_rank() -> None:
    """District 430203: squad -00 has 1 of 1 on time, squad -01 1 of 3: pooled 2 of 4 =
    50.00, not the mean 66.67; district 430202 also scores 50.00, so both rank 1."""
    base = at("2022-03-01T09:00:00+08:00")
    cases = [
        case("430203-00", opened_at=base, filed_at=base),
        case("430203-01", opened_at=base, filed_at=base),
        case("430203-01", opened_at=base),
        case("430203-01", opened_at=base),
        case("430202-00", opened_at=base, filed_at=base),
        case("430202-00", opened_at=base),
    ]
    cards = scorecards(cases, "2022-03", RUBRIC, UNITS)
    assert card(cards, "430203-00").score == Decimal("100.00")
    assert card(cards, "430203-01").score == Decimal("33.33")
    assert [card(cards, "430203").score, card(cards, "430202").score] == [Decimal("50.00")] * 2
    assert [card(cards, "430203").rank, card(cards, "430202").rank] == [1, 1]
    assert [card(cards, "430203-00").rank, card(cards, "430203-01").rank] == [1, 2]
    assert card(cards, "430200").score == Decimal("50.00")  # 3 of 6


def test_major_by_threshold_or_flag_is_what_the_case_says() -> None:
    """Only a major decision makes a legal-review item."""
    base = at("2022-03-01T09:00:00+08:00")
    minor = case(opened_at=base, filed_at=base, decided_at=base, decided_fen=10, major=False)
    major = case(
        opened_at=base,
        filed_at=base,
        decided_at=base,
        decided_fen=10,
        major=True,
        legal_reviewed_at=base,
    )
    review = card(scorecards([minor, major], "2022-03", RUBRIC, UNITS), "430203-01").metrics
    assert (review["legal_review"].due, review["legal_review"].on_time) == (1, 1)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("weight = 20\ndays = 15", "weight = 0\ndays = 15"), "metrics.filing_timeliness.weight"),
        (
            ("[metrics.feedback]", "[metrics.speed]\nweight = 1\ndays = 1\n[metrics.feedback]"),
            "metrics.speed",
        ),
        (("min_score = 80", "min_score = 95"), "grades"),
        (("grace_days = 5", "grace = 5"), "grace"),
    ],
)
def test_a_bad_rubric_is_refused_naming_the_key(change: tuple[str, str], key: str) -> None:
    """Weights not above 0, unknown metrics, bands out of order and unknown keys are
    refused with the key named."""
    text = load_rubric.__globals__["default_rubric_path"]().read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")):
        parse_rubric(text.replace(change[0], change[1], 1))
