"""Step 4, the penalty ledger of one case: decided, collected, outstanding, overpaid.

Integer fen throughout; a payment is identified by its receipt number, so a receipt seen
twice is one payment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.events import parse_instant

DEFAULT_MAJOR_THRESHOLD_FEN = 30_000 * 100


@dataclass(frozen=True)
class Decision:
    decision_no: str
    decided_at: datetime
    amount_fen: int
    tier: str
    major: bool
    legal_reviewed_at: datetime | None
    exemption: str | None


@dataclass(frozen=True)
class Receipt:
    receipt_no: str
    paid_at: datetime
    amount_fen: int


@dataclass(frozen=True)
class Ledger:
    decided_fen: int
    collected_fen: int
    receipts: tuple[Receipt, ...]

    @property
    def outstanding_fen(self) -> int:
        return max(self.decided_fen - self.collected_fen, 0)

    @property
    def overpaid_fen(self) -> int:
        return max(self.collected_fen - self.decided_fen, 0)


def is_major(flag: bool | None, amount_fen: int, threshold_fen: int) -> bool:
    """A decision is major when flagged so, or, unflagged, when it reaches the threshold."""
    return flag if flag is not None else amount_fen >= threshold_fen


def decision_from(record: Mapping[str, Any], threshold_fen: int) -> Decision:
    reviewed = record.get("legal_reviewed_at")
    amount = int(record["amount_fen"])
    return Decision(
        decision_no=str(record["decision_no"]),
        decided_at=parse_instant(record["decided_at"], "decided_at"),
        amount_fen=amount,
        tier=str(record["tier"]),
        major=is_major(record.get("major"), amount, threshold_fen),
        legal_reviewed_at=parse_instant(reviewed, "legal_reviewed_at") if reviewed else None,
        exemption=record.get("exemption"),
    )


def ledger_for(decision: Decision | None, receipts: Iterable[Receipt]) -> Ledger:
    by_number = {r.receipt_no: r for r in receipts}
    ordered = tuple(sorted(by_number.values(), key=lambda r: (r.paid_at, r.receipt_no)))
    return Ledger(
        decided_fen=decision.amount_fen if decision else 0,
        collected_fen=sum(r.amount_fen for r in ordered),
        receipts=ordered,
    )


def collected_by(receipts: Iterable[Receipt], deadline: datetime) -> int:
    """What was paid at or before ``deadline``: the collection metric's numerator."""
    return sum(r.amount_fen for r in receipts if r.paid_at <= deadline)
