"""Step 4's totals: penalties decided, collected, outstanding and overpaid by district,
squad, source agency and month (Asia/Shanghai), and year on year. Pure; integer fen."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class Flow:
    """What one month changes in a unit's totals: what was decided and collected in it,
    how much its month-end balances moved, and how many decisions and receipts it holds.
    Flows add up, so a unit's totals follow from the sums of its cases' flows."""

    decided_fen: int = 0
    collected_fen: int = 0
    outstanding_change_fen: int = 0
    overpaid_change_fen: int = 0
    decisions: int = 0
    receipts: int = 0

    def __add__(self, other: Flow) -> Flow:
        return Flow(*(getattr(self, f) + getattr(other, f) for f in FLOW_FIELDS))

    def __sub__(self, other: Flow) -> Flow:
        return Flow(*(getattr(self, f) - getattr(other, f) for f in FLOW_FIELDS))


FLOW_FIELDS = tuple(f.name for f in fields(Flow))


def _month(at: datetime) -> str:
    local = at.astimezone(SHANGHAI)
    return f"{local.year:04d}-{local.month:02d}"


def case_flows(case: DecidedCase) -> dict[str, Flow]:
    """The case's flow in the month it was decided and in each month it was paid in."""
    decided_month = _month(case.decided_at)
    paid_in: dict[str, list[int]] = {decided_month: []}
    for receipt in case.receipts:
        paid_in.setdefault(_month(receipt.paid_at), []).append(receipt.amount_fen)
    flows = {}
    paid = outstanding = overpaid = 0
    for month in sorted(paid_in):
        collected = sum(paid_in[month])
        paid += collected
        balance = case.decided_fen - paid if month >= decided_month else 0
        decided = month == decided_month
        flows[month] = Flow(
            decided_fen=case.decided_fen if decided else 0,
            collected_fen=collected,
            outstanding_change_fen=max(balance, 0) - outstanding,
            overpaid_change_fen=max(-balance, 0) - overpaid,
            decisions=int(decided),
            receipts=len(paid_in[month]),
        )
        outstanding, overpaid = max(balance, 0), max(-balance, 0)
    return flows


def totals_of_flows(flows: Mapping[Key, Flow], months: list[str]) -> dict[Key, Totals]:
    """Totals for each of ``months`` (sorted YYYY-MM) and each district, squad and agency
    with a decision by then or a receipt in the month; balances are the sums of the flows
    up to the month's end."""
    by_unit: dict[tuple[str, str, str], list[tuple[str, Flow]]] = defaultdict(list)
    for (month, district, squad, agency), flow in flows.items():
        by_unit[(district, squad, agency)].append((month, flow))
    totals: dict[Key, Totals] = {}
    for (district, squad, agency), entries in by_unit.items():
        entries.sort(key=lambda entry: entry[0])
        upto, taken = Flow(), 0
        for month in months:
            while taken < len(entries) and entries[taken][0] <= month:
                upto += entries[taken][1]
                taken += 1
            flow = flows.get((month, district, squad, agency), Flow())
            if upto.decisions > 0 or flow.receipts > 0:
                totals[(month, district, squad, agency)] = Totals(
                    decided_fen=flow.decided_fen,
                    collected_fen=flow.collected_fen,
                    outstanding_fen=upto.outstanding_change_fen,
                    overpaid_fen=upto.overpaid_change_fen,
                )
    return totals


def unit_flows(cases: Iterable[DecidedCase]) -> dict[Key, Flow]:
    """The cases' flows summed by month, district, squad and agency."""
    flows: dict[Key, Flow] = {}
    for case in cases:
        for month, flow in case_flows(case).items():
            key = (month, case.district_code, case.squad_code, case.agency)
            flows[key] = flows.get(key, Flow()) + flow
    return flows


def monthly_totals(cases: Iterable[DecidedCase], months: list[str]) -> dict[Key, Totals]:
    """Totals for each of ``months`` (sorted YYYY-MM) and each district, squad and agency
    with a decided case; outstanding and overpaid are each case's balance at month end."""
    return totals_of_flows(unit_flows(cases), months)


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
