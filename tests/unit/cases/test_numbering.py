"""Case numbers: per district and year, without gaps, the same on a repeated request."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.cases.numbering import (
    Assigned,
    Counter,
    Entry,
    Waiting,
    ask,
    case_key,
    counter_key,
    give,
    number,
    waiting_key,
)
from streams.cases.numbering import Numbering as Step
from streams.messages import NumberRequest


def _request(
    case_id: str, year: int = 2022, district: str = "430203", day: int = 1
) -> NumberRequest:
    opened = datetime(year, 3, day, tzinfo=UTC)
    return NumberRequest(case_id, "g", district, year, opened)


class Numbering:
    """The number_cases agent's table, in memory: entries written in the order given."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.writes = 0

    def ask(self, request: NumberRequest) -> str:
        writes, case_no = number(self.entries, request, 0)
        self.entries.update(writes)
        self.writes += len(writes)
        return case_no


def test_numbers_count_up_per_year() -> None:
    """Each year of a district starts at 0001 and counts up."""
    table = Numbering()
    first, second = table.ask(_request("C1")), table.ask(_request("C2"))
    other_year = table.ask(_request("C3", year=2023))
    assert (first, second, other_year) == (
        "430203-2022-0001",
        "430203-2022-0002",
        "430203-2023-0001",
    )


def test_a_repeated_request_gets_the_same_number_and_changes_nothing() -> None:
    """At-least-once delivery must not burn a number."""
    table = Numbering()
    first = table.ask(_request("C1"))
    writes = table.writes
    assert table.ask(_request("C1")) == first and table.writes == writes
    assert table.ask(_request("C2")) == "430203-2022-0002"


def test_state_is_one_counter_and_one_small_entry_per_case() -> None:
    """However many cases a district numbers, each holds one entry and the district-year
    one counter: nothing grows with the district's history."""
    table = Numbering()
    for i in range(300):
        table.ask(_request(f"C{i}"))
    assert len(table.entries) == 301
    assert table.entries[counter_key(_request("C0"))] == Counter(0, 301)


def test_a_crash_between_the_two_writes_neither_burns_nor_repeats_a_number() -> None:
    """The case entry is written before the counter; if only the entry reached the
    changelog, the redelivered request finds its number and moves the counter past it,
    so the next case gets the next number: no gap, no duplicate."""
    table = Numbering()
    table.ask(_request("C1"))
    writes, case_no = number(table.entries, _request("C2"), 0)
    assert list(writes) == [case_key(_request("C2")), counter_key(_request("C2"))]
    table.entries[case_key(_request("C2"))] = writes[case_key(_request("C2"))]  # crash here
    assert table.ask(_request("C2")) == case_no == "430203-2022-0002"
    assert table.ask(_request("C3")) == "430203-2022-0003"


def test_waiting_requests_are_numbered_in_the_order_their_cases_were_opened() -> None:
    """Requests that arrived in any order wait; when they are given numbers, the case
    opened first gets the first number, ties broken by case id."""
    entries: dict[str, Entry] = {}
    arrivals = [_request("C3", day=9), _request("C1", day=2), _request("C2", day=9)]
    for request in arrivals:
        step = ask(entries, request, 0, received_ms=0)
        assert step.given == []
        entries.update(step.writes)
    waiting = [e for e in entries.values() if isinstance(e, Waiting)]
    step = give(entries, waiting, 0)
    assert [(r.case_id, no) for r, no in step.given] == [
        ("C1", "430203-2022-0001"),
        ("C2", "430203-2022-0002"),
        ("C3", "430203-2022-0003"),
    ]
    assert sorted(step.deletes) == ["wait:C1", "wait:C2", "wait:C3"]
    entries.update(step.writes)
    again = ask(entries, _request("C2", day=9), 0, received_ms=5)
    assert again.given[0][1] == "430203-2022-0002" and again.writes == {}


def test_numbers_come_before_the_counter_in_the_changelog() -> None:
    """Within a step, a case's number is written before the counter that counts it."""
    step = give({}, [Waiting(0, _request("C1"), 0)], 0)
    assert [type(entry) for _, entry in step.ordered()] == [Assigned, Counter]


def test_a_batch_of_steps_settles_as_the_steps_one_after_another() -> None:
    """The agent merges a batch's steps to settle them once: each key ends as the last
    step left it (a later write undoes an earlier delete and the other way round), and
    the answers keep their order."""
    entries: dict[str, Entry] = {}
    one_by_one: dict[str, Entry] = {}
    merged = Step()
    first = give({}, [Waiting(0, _request("C1"), 0)], 0)
    steps = [
        ask(entries, _request("C2"), 0, received_ms=1),
        first,
        ask({**first.writes}, _request("C1"), 0, received_ms=2),
        Step(deletes=[waiting_key(_request("C2"))]),
        Step(writes={waiting_key(_request("C2")): Waiting(0, _request("C2"), 3)}),
    ]
    for step in steps:
        for key, entry in step.ordered():
            one_by_one[key] = entry
        for key in step.deletes:
            one_by_one.pop(key, None)
        merged.merge(step)
    settled: dict[str, Entry] = {}
    for key, entry in merged.ordered():
        settled[key] = entry
    for key in merged.deletes:
        settled.pop(key, None)
    assert settled == one_by_one
    assert [(r.case_id, no) for r, no in merged.given] == [
        ("C1", "430203-2022-0001"),
        ("C1", "430203-2022-0001"),
    ]
    assert [type(entry) for _, entry in merged.ordered()][-1] is Counter
