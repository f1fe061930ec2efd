"""Penalty totals from monthly flows: what a case changes in each month, summed by unit,
gives the same totals as following every case's balance month by month."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import SHANGHAI
from streams.ledger.rules import Receipt
from streams.ledger.totals import DecidedCase, Flow, Key, Totals, case_flows, monthly_totals
from tests.unit.ledger.test_totals import CASE

MONTHS = [f"2022-{m:02d}" for m in range(1, 13)]
START = datetime(2022, 1, 1, tzinfo=SHANGHAI)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_case_flows_in_its_decision_month_and_each_month_it_is_paid_in() -> None:
    """The case of test_totals, 1 000 decided in January, 400 paid in February, 700 on
    1 April 00:10 (Shanghai): outstanding moves 1 000, -400, -600; overpaid 100 in April."""
    assert case_flows(CASE) == {
        "2022-01": Flow(1_000, 0, 1_000, 0, decisions=1, receipts=0),
        "2022-02": Flow(0, 400, -400, 0, decisions=0, receipts=1),
        "2022-04": Flow(0, 700, -600, 100, decisions=0, receipts=1),
    }


def test_a_payment_before_the_decision_counts_from_the_decision_month() -> None:
    """500 paid in March on a case decided in May at 800: collected in March, outstanding
    300 from May; March has no balance yet."""
    case = DecidedCase(
        "430202",
        "430202-00",
        "TRAFFIC_POLICE",
        at("2022-05-03T09:00:00+08:00"),
        800,
        (Receipt("A", at("2022-03-10T09:00:00+08:00"), 500),),
    )
    assert monthly_totals([case], MONTHS)[("2022-03", "430202", "430202-00", "TRAFFIC_POLICE")] == (
        Totals(0, 500, 0, 0)
    )
    assert monthly_totals([case], MONTHS)[("2022-05", "430202", "430202-00", "TRAFFIC_POLICE")] == (
        Totals(800, 0, 300, 0)
    )


def _month(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m")


def _followed(cases: list[DecidedCase], months: list[str]) -> dict[Key, Totals]:
    """The totals by walking every case's balance through every month, the definition."""
    totals: dict[Key, Totals] = defaultdict(Totals)
    for case in cases:
        unit = (case.district_code, case.squad_code, case.agency)
        decided_month = _month(case.decided_at)
        for month in months:
            paid_in = [r.amount_fen for r in case.receipts if _month(r.paid_at) == month]
            paid_by = sum(r.amount_fen for r in case.receipts if _month(r.paid_at) <= month)
            if month == decided_month:
                totals[(month, *unit)].decided_fen += case.decided_fen
            if paid_in:
                totals[(month, *unit)].collected_fen += sum(paid_in)
            if month >= decided_month:
                row = totals[(month, *unit)]
                row.outstanding_fen += max(case.decided_fen - paid_by, 0)
                row.overpaid_fen += max(paid_by - case.decided_fen, 0)
    return dict(totals)


def _hours(draw: st.DrawFn, base: datetime, days: int) -> datetime:
    return base + timedelta(hours=draw(st.integers(0, 24 * days)))


@st.composite
def decided_cases(draw: st.DrawFn) -> DecidedCase:
    district, squad = draw(st.sampled_from([("430203", "430203-01"), ("430202", "430202-00")]))
    decided = _hours(draw, START, 240)
    paid = draw(st.lists(st.integers(0, 2_000), max_size=4))
    return DecidedCase(
        district,
        squad,
        draw(st.sampled_from(["HOUSING", "ENVIRONMENT"])),
        decided,
        draw(st.sampled_from([0, 500, 1_000])),
        tuple(Receipt(f"R{n}", _hours(draw, START, 360), fen) for n, fen in enumerate(paid)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(decided_cases(), max_size=12))
def test_totals_from_flows_are_the_balances_followed_month_by_month(
    cases: list[DecidedCase],
) -> None:
    """For any decided cases paid in any months of the year (before their decision
    too, in instalments, overpaid), the totals summed from monthly flows are those of
    following each case's balance through every month."""
    assert monthly_totals(cases, MONTHS) == _followed(cases, MONTHS)
