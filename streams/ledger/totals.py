"""Step 4's totals: penalties decided, collected, outstanding and overpaid by district,
squad, source agency and month (Asia/Shanghai), and year on year. Pure; integer fen."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from streams.events import SHANGHAI
from streams.ledger.rules import Receipt


@dataclass(frozen=True)
class DecidedCase:
    district_code: str
    squad_code: str
    agency: str  # of the case's first referral
    decided_at: datetime
    decided_fen: int
    receipts: tuple[Receipt, ...]


@dataclass
class Totals:
    decided_fen: int = 0
    collected_fen: int = 0
    outstanding_fen: int = 0  # at the month's end
    overpaid_fen: int = 0  # at the month's end


Key = tuple[str, str, str, str]  # month, district, squad, agency


def _month(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m")


def monthly_totals(cases: Iterable[DecidedCase], months: list[str]) -> dict[Key, Totals]:
    """Totals for each of ``months`` (sorted YYYY-MM) and each district, squad and agency
    with a decided case; outstanding and overpaid are each case's balance at month end."""
    totals: dict[Key, Totals] = defaultdict(Totals)
    for case in cases:
        unit = (case.district_code, case.squad_code, case.agency)
        decided_month = _month(case.decided_at)
        if decided_month in months:
            totals[(decided_month, *unit)].decided_fen += case.decided_fen
        paid_by_month: dict[str, int] = defaultdict(int)
        for receipt in case.receipts:
            paid_by_month[_month(receipt.paid_at)] += receipt.amount_fen
        paid = 0
        for month in months:
            paid += paid_by_month.get(month, 0)
            if month in paid_by_month:
                totals[(month, *unit)].collected_fen += paid_by_month[month]
            if month >= decided_month:
                balance = case.decided_fen - paid
                row = totals[(month, *unit)]
                row.outstanding_fen += max(balance, 0)
                row.overpaid_fen += max(-balance, 0)
    return dict(totals)


def change_pct(this: int, last: int) -> float | None:
    """``this`` against ``last`` in percent, rounded half-up to one decimal as the bureau's
    summary writes it (263 against 208.7 -> 26.0); None when ``last`` is nothing."""
    if not last:
        return None
    return float((Decimal(100) * (this - last) / last).quantize(Decimal("0.1"), ROUND_HALF_UP))


def year_on_year(totals: dict[Key, Totals], year: int) -> dict[str, tuple[int, int, float | None]]:
    """Collected per district in ``year`` and the year before, and the change in percent
    rounded half-up to one decimal (None when the year before collected nothing)."""
    by_district: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (month, district, _, _), row in totals.items():
        if month.startswith(f"{year}-"):
            by_district[district][0] += row.collected_fen
        elif month.startswith(f"{year - 1}-"):
            by_district[district][1] += row.collected_fen
    return {
        district: (this, last, change_pct(this, last))
        for district, (this, last) in sorted(by_district.items())
    }
