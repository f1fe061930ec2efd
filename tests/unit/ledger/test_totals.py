"""Penalty totals by unit and month, by hand."""

from __future__ import annotations

from datetime import datetime

from streams.ledger.rules import Receipt
from streams.ledger.totals import (
    DecidedCase,
    Totals,
    change_pct,
    monthly_totals,
    year_on_year,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


CASE = DecidedCase(
    "430203",
    "430203-01",
    "HOUSING",
    at("2022-01-31T23:30:00+08:00"),
    1_000,
    (
        Receipt("A", at("2022-02-10T09:00:00+08:00"), 400),
        Receipt("B", at("2022-04-01T00:10:00+08:00"), 700),
    ),  # 31 Mar 16:10 UTC: April
)


def test_decided_collected_and_month_end_balances() -> None:
    """Decided in January (Shanghai), 400 paid in February, 700 in April: outstanding
    1 000, 600, 600, then overpaid 100."""
    totals = monthly_totals([CASE], ["2022-01", "2022-02", "2022-03", "2022-04"])
    unit = ("430203", "430203-01", "HOUSING")
    assert totals == {
        ("2022-01", *unit): Totals(1_000, 0, 1_000, 0),
        ("2022-02", *unit): Totals(0, 400, 600, 0),
        ("2022-03", *unit): Totals(0, 0, 600, 0),
        ("2022-04", *unit): Totals(0, 700, 0, 100),
    }


def test_year_on_year_by_district() -> None:
    """1 100 collected in 2022 against 880 in 2021 is +25.0 %; nothing before is None."""
    before = DecidedCase(
        "430203",
        "430203-01",
        "HOUSING",
        at("2021-05-01T09:00:00+08:00"),
        880,
        (Receipt("C", at("2021-06-01T09:00:00+08:00"), 880),),
    )
    other = DecidedCase(
        "430202",
        "430202-00",
        "TRAFFIC_POLICE",
        at("2022-05-01T09:00:00+08:00"),
        50,
        (Receipt("D", at("2022-05-02T09:00:00+08:00"), 50),),
    )
    months = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)]
    changes = year_on_year(monthly_totals([CASE, before, other], months), 2022)
    assert changes == {"430202": (50, 0, None), "430203": (1_100, 880, 25.0)}


def test_change_rounds_half_up_to_one_decimal() -> None:
    """A change of exactly 0.15 % is 0.2, where binary floating point would round to 0.1."""
    assert change_pct(10_015, 10_000) == 0.2
    assert change_pct(9_985, 10_000) == -0.2
    assert change_pct(5, 0) is None
