"""A month's cards depend only on the sums of its items by district, squad and metric:
what lets the scorecard feed keep sums as cases change instead of reading them all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.scorecards.rubric import load_rubric
from streams.scorecards.scoring import (
    CaseFacts,
    Tally,
    TallyKey,
    case_items,
    pool,
    scorecards,
    scorecards_of_tallies,
)
from tests.unit.scorecards.strategies import case_facts

RUBRIC = load_rubric()
UNITS = {
    "city": [("430200", None)],
    "district": [("430202", "430200"), ("430203", "430200")],
    "squad": [("430202-00", "430202"), ("430203-00", "430203"), ("430203-01", "430203")],
}


def _pooled(cases: list[CaseFacts], month: str) -> dict[TallyKey, Tally]:
    return pool(i for c in cases for i in case_items(c, RUBRIC) if i.month == month)


def _added(a: dict[TallyKey, Tally], b: dict[TallyKey, Tally]) -> dict[TallyKey, Tally]:
    return {
        key: Tally(
            a.get(key, Tally()).due + b.get(key, Tally()).due,
            a.get(key, Tally()).on_time + b.get(key, Tally()).on_time,
        )
        for key in a.keys() | b.keys()
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(case_facts(), max_size=25), st.data())
def test_cards_of_two_parts_added_are_the_cards_of_the_whole(
    cases: list[CaseFacts], data: st.DataObject
) -> None:
    """Splitting the cases anywhere, pooling each part and adding the tallies gives, for
    every month with an item, exactly the cards of scoring all the cases at once."""
    split = data.draw(st.integers(0, len(cases)))
    months = {i.month for c in cases for i in case_items(c, RUBRIC)}
    for month in months:
        parts = _added(_pooled(cases[:split], month), _pooled(cases[split:], month))
        assert scorecards_of_tallies(parts, month, RUBRIC, UNITS) == scorecards(
            cases, month, RUBRIC, UNITS
        )


@given(case_facts())
def test_a_case_has_at_most_one_item_per_metric_in_its_deadline_month(case: CaseFacts) -> None:
    """Every case owes a filing item; no metric twice; each item sits in its unit."""
    items = case_items(case, RUBRIC)
    metrics = [i.metric for i in items]
    assert metrics[0] == "filing_timeliness"
    assert len(metrics) == len(set(metrics))
    assert {(i.district_code, i.squad_code) for i in items} == {
        (case.district_code, case.squad_code)
    }
    assert all(0 <= i.on_time <= i.due for i in items)
