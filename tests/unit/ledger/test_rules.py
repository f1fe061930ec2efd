"""Step 4, the penalty ledger: decided, collected, outstanding, overpaid, and major."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.ledger.rules import (
    DEFAULT_MAJOR_THRESHOLD_FEN,
    Decision,
    Receipt,
    collected_by,
    decision_from,
    is_major,
    ledger_for,
)
from tests.unit.factories import Group, at, decided, event, payment, referral

DAY = [datetime(2022, 3, d, 1, 0, tzinfo=UTC) for d in range(1, 32)]  # DAY[n] = March n+1
D1 = Decision(
    decision_no="D1",
    decided_at=DAY[10],
    amount_fen=100_000,
    tier="GENERAL",
    major=False,
    legal_reviewed_at=None,
    exemption=None,
)


# ------------------------------------------------------------------ the pure rules


def test_default_threshold_is_30_000_yuan() -> None:
    """The default major threshold is 30 000 yuan, 3 000 000 fen."""
    assert DEFAULT_MAJOR_THRESHOLD_FEN == 3_000_000


@pytest.mark.parametrize(
    ("flag", "amount_fen", "major"),
    [
        (None, 3_000_000, True),  # at the threshold
        (None, 2_999_999, False),  # one fen below
        (None, 12_000_000, True),
        (False, 5_000_000, False),  # flagged not major above the threshold
        (True, 200_000, True),  # flagged major below it
        (True, 0, True),
    ],
)
def test_is_major(flag: bool | None, amount_fen: int, major: bool) -> None:
    """An explicit flag decides; without one, major means amount ≥ 3 000 000 fen."""
    assert is_major(flag, amount_fen, 3_000_000) is major


def test_decision_from_record() -> None:
    """A decision record is read with its number, time, amount, tier, review and exemption;
    an unflagged 30 000 yuan decision is major."""
    record = decided(
        "2022-03-11T09:00:00+08:00",
        "ZJ-1",
        3_000_000,
        decision_no="株城执罚决字〔2022〕42号",  # noqa: RUF001
        tier="SERIOUS",
        legal_reviewed_at="2022-03-10T09:00:00+08:00",
    )
    assert decision_from(record, 3_000_000) == Decision(
        decision_no="株城执罚决字〔2022〕42号",  # noqa: RUF001
        decided_at=DAY[10],
        amount_fen=3_000_000,
        tier="SERIOUS",
        major=True,
        legal_reviewed_at=DAY[9],
        exemption=None,
    )


def test_first_violation_exemption_is_a_zero_decision() -> None:
    """An exempted first violation is a decision of 0 fen, not major, nothing owed."""
    record = decided(at(10), "ZJ-1", 0, tier="MINOR", exemption="FIRST_VIOLATION")
    decision = decision_from(record, 3_000_000)
    assert (decision.amount_fen, decision.major, decision.exemption) == (
        0,
        False,
        "FIRST_VIOLATION",
    )
    ledger = ledger_for(decision, [])
    assert (ledger.decided_fen, ledger.outstanding_fen, ledger.overpaid_fen) == (0, 0, 0)


def test_instalments_add_up() -> None:
    """Three instalments of 30 000, 30 000 and 40 000 fen settle a 100 000 fen decision."""
    receipts = [Receipt("R-1", DAY[12], 30_000), Receipt("R-2", DAY[15], 30_000)]
    partial = ledger_for(D1, receipts)
    assert (partial.decided_fen, partial.collected_fen, partial.outstanding_fen) == (
        100_000,
        60_000,
        40_000,
    )
    full = ledger_for(D1, [*receipts, Receipt("R-3", DAY[20], 40_000)])
    assert (full.collected_fen, full.outstanding_fen, full.overpaid_fen) == (100_000, 0, 0)


def test_a_receipt_seen_twice_is_one_payment() -> None:
    """The same receipt number twice counts once: 30 000 fen collected, not 60 000."""
    ledger = ledger_for(D1, [Receipt("R-1", DAY[12], 30_000), Receipt("R-1", DAY[12], 30_000)])
    assert (ledger.collected_fen, ledger.outstanding_fen) == (30_000, 70_000)
    assert len(ledger.receipts) == 1


def test_overpaid() -> None:
    """Paying 120 000 fen on a 100 000 fen decision: nothing outstanding, 20 000 overpaid."""
    ledger = ledger_for(D1, [Receipt("R-1", DAY[12], 70_000), Receipt("R-2", DAY[13], 50_000)])
    assert (ledger.collected_fen, ledger.outstanding_fen, ledger.overpaid_fen) == (
        120_000,
        0,
        20_000,
    )


def test_no_decision_owes_nothing() -> None:
    """A case without a decision has decided 0, outstanding 0."""
    ledger = ledger_for(None, [])
    assert (ledger.decided_fen, ledger.collected_fen, ledger.outstanding_fen) == (0, 0, 0)


def test_receipts_are_listed_by_payment_time() -> None:
    """Receipts come out in order of payment time, then receipt number."""
    ledger = ledger_for(
        D1,
        [Receipt("R-9", DAY[20], 1), Receipt("R-2", DAY[12], 1), Receipt("R-1", DAY[20], 1)],
    )
    assert [r.receipt_no for r in ledger.receipts] == ["R-2", "R-1", "R-9"]


def test_collected_by_a_deadline_includes_the_deadline() -> None:
    """What was paid at or before the deadline counts; one second later does not."""
    receipts = [
        Receipt("R-1", DAY[12], 30_000),
        Receipt("R-2", DAY[25], 50_000),
        Receipt("R-3", DAY[25].replace(second=1), 20_000),
    ]
    assert collected_by(receipts, DAY[25]) == 80_000
    assert collected_by(receipts, DAY[11]) == 0


# ------------------------------------------------------------------ through a group


def _decided_case(amount_fen: int, **decision: object) -> Group:
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(2), "ZJ-1"))
    g.send(decided(at(10), "ZJ-1", amount_fen, **decision))
    return g


def test_snapshot_ledger_with_instalments() -> None:
    """Two instalments on a 100 000 fen decision show as receipts, collected and
    outstanding in the case snapshot."""
    g = _decided_case(100_000)
    g.send(payment("R-1", at(12), "ZJ-1", 30_000))
    case = g.case_of("ZJ-1")
    assert (case["decided_fen"], case["collected_fen"], case["outstanding_fen"]) == (
        100_000,
        30_000,
        70_000,
    )
    g.send(payment("R-2", at(20), "ZJ-1", 70_000))
    case = g.case_of("ZJ-1")
    assert (case["collected_fen"], case["outstanding_fen"], case["overpaid_fen"]) == (100_000, 0, 0)
    assert case["payments"] == [
        {"receipt_no": "R-1", "paid_at": "2022-03-13T01:00:00+00:00", "amount_fen": 30_000},
        {"receipt_no": "R-2", "paid_at": "2022-03-21T01:00:00+00:00", "amount_fen": 70_000},
    ]


def test_snapshot_duplicate_receipt_counted_once() -> None:
    """The same receipt published twice (two Kafka records) is collected once."""
    g = _decided_case(100_000)
    g.send(payment("R-1", at(12), "ZJ-1", 30_000), "t/6/1")
    outcome = g.send(payment("R-1", at(12), "ZJ-1", 30_000), "t/6/2")
    assert outcome.state is None
    case = g.case_of("ZJ-1")
    assert (case["collected_fen"], len(case["payments"])) == (30_000, 1)
    assert g.dead == {}


def test_snapshot_receipt_reused_with_other_content_is_dead_lettered() -> None:
    """A receipt number already recorded, arriving with another amount, is dead-lettered
    and the first payment stands."""
    g = _decided_case(100_000)
    g.send(payment("R-1", at(12), "ZJ-1", 30_000), "t/6/1")
    g.send(payment("R-1", at(12), "ZJ-1", 90_000), "t/6/2")
    assert list(g.dead) == ["t/6/2"]
    assert "R-1" in g.dead["t/6/2"]["reason"]
    assert g.case_of("ZJ-1")["collected_fen"] == 30_000


def test_snapshot_overpaid() -> None:
    """Paying 120 000 fen on 100 000: outstanding 0, overpaid 20 000."""
    g = _decided_case(100_000)
    g.send(payment("R-1", at(12), "ZJ-1", 120_000))
    case = g.case_of("ZJ-1")
    assert (case["outstanding_fen"], case["overpaid_fen"]) == (0, 20_000)


def test_snapshot_payment_naming_the_wrong_decision() -> None:
    """A payment naming decision D9 on a case decided as D1 is dead-lettered
    `invalid_transition` and not collected."""
    g = _decided_case(100_000)
    g.send(payment("R-1", at(12), "ZJ-1", 30_000, decision_no="D9"), "t/6/1")
    g.drain()
    assert g.errors() == {"t/6/1": "invalid_transition"}
    assert "D9" in g.dead["t/6/1"]["reason"] and "D1" in g.dead["t/6/1"]["reason"]
    assert g.case_of("ZJ-1")["collected_fen"] == 0


@pytest.mark.parametrize(
    ("amount_fen", "flag", "major"),
    [
        (3_000_000, None, True),
        (2_999_999, None, False),
        (5_000_000, False, False),
        (200_000, True, True),
    ],
    ids=["at-threshold", "below", "flag-false-above", "flag-true-below"],
)
def test_snapshot_major(amount_fen: int, flag: bool | None, major: bool) -> None:
    """The snapshot's decision is major by the 3 000 000 fen threshold unless flagged."""
    extra = {} if flag is None else {"major": flag}
    g = _decided_case(amount_fen, **extra)
    assert g.case_of("ZJ-1")["decision"]["major"] is major
