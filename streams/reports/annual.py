"""The annual report: what happened in a year, counted in Asia/Shanghai.

Referrals count by ``referred_at`` (distinct referral keys, so duplicates and amendments
count once), cases opened by their first referral, filed by ``filed_at``, penalties
decided by ``decided_at`` and collected by ``paid_at``; a case is attributed to the
agency of its first referral. Pure: the caller reads the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from streams.events import SHANGHAI
from streams.ledger.totals import change_pct

AGENCIES = ("HOUSING", "TRAFFIC_POLICE", "ENVIRONMENT")
AGENCY_ZH = {"HOUSING": "住建", "TRAFFIC_POLICE": "交警", "ENVIRONMENT": "生态环境"}


@dataclass(frozen=True)
class ReferralFacts:
    agency: str
    referred_at: datetime
    exact_duplicates: int
    opened_case: bool


@dataclass(frozen=True)
class CaseFacts:
    agency: str  # of the first referral
    opened_at: datetime
    filed_at: datetime | None
    decided_at: datetime | None
    decided_fen: int
    major: bool
    payments: tuple[tuple[datetime, int], ...]  # (paid_at, amount_fen)


def _year(at: datetime | None) -> int | None:
    return at.astimezone(SHANGHAI).year if at is not None else None


def _collected(cases: Iterable[CaseFacts], year: int) -> int:
    return sum(fen for c in cases for paid_at, fen in c.payments if _year(paid_at) == year)


def annual_report(
    year: int, referrals: Iterable[ReferralFacts], cases: Iterable[CaseFacts]
) -> dict[str, Any]:
    """The report of ``report --format json`` (docs/contract.md)."""
    received = [r for r in referrals if _year(r.referred_at) == year]
    cases = list(cases)
    filed = [c for c in cases if _year(c.filed_at) == year]
    major = [c for c in filed if c.major]
    collected = _collected(cases, year)
    before = _collected(cases, year - 1)
    by_agency = Counter(r.agency for r in received)
    major_by_agency = Counter(c.agency for c in major)
    return {
        "year": year,
        "referrals_received": len(received),
        "referrals_by_agency": {a: by_agency[a] for a in AGENCIES},
        "exact_duplicates": sum(r.exact_duplicates for r in received),
        "merged": sum(1 for r in received if not r.opened_case),
        "cases_opened": sum(1 for c in cases if _year(c.opened_at) == year),
        "cases_filed": len(filed),
        "major_cases_filed": len(major),
        "major_cases_filed_by_agency": {a: n for a, n in major_by_agency.items() if n},
        "penalties_decided_fen": sum(c.decided_fen for c in cases if _year(c.decided_at) == year),
        "penalties_collected_fen": collected,
        "collected_change_pct": change_pct(collected, before),
    }


def _wan(fen: int) -> str:
    """Fen as 万元 the way the summary writes it: 263 000 000 fen -> 263."""
    wan = Decimal(fen) / Decimal(1_000_000)
    text = f"{wan.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}".rstrip("0").rstrip(".")
    return text


def report_text(report: dict[str, Any], lang: str = "zh") -> str:
    """The report as the bureau's own summary sentence (zh) or its English rendering."""
    change = report["collected_change_pct"]
    major = report["major_cases_filed"]
    domains = report["major_cases_filed_by_agency"]
    if lang == "zh":
        domain = AGENCY_ZH[next(iter(domains))] + "领域" if len(domains) == 1 else ""
        trend = ""
        if change is not None:
            word = "增长" if change >= 0 else "下降"
            trend = f"，相比去年{word}{abs(change):g}%"
        return (
            f"{report['year']}年接收相关案件线索{report['referrals_received']}起，"
            f"立案查处{domain}重大案件{major}起，"
            f"执收罚没款{_wan(report['penalties_collected_fen'])}万元{trend}。"
        )
    trend = ""
    if change is not None:
        trend = f", {'up' if change >= 0 else 'down'} {abs(change):g}% on the year before"
    domain = f" {next(iter(domains)).lower().replace('_', ' ')}" if len(domains) == 1 else ""
    millions = Decimal(report["penalties_collected_fen"]) / Decimal(100_000_000)
    return (
        f"In {report['year']} the bureau received {report['referrals_received']} referred "
        f"leads, filed {major} major{domain} cases and collected {millions:.2f} million yuan "
        f"in fines and confiscations{trend}."
    )
