"""Case numbers: per district and year, without gaps, the same on a repeated request."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.cases.numbering import Assigned, Counter, case_key, counter_key, number
from streams.messages import NumberRequest


def _request(case_id: str, year: int = 2022, district: str = "430203") -> NumberRequest:
    opened = datetime(year, 3, 1, tzinfo=UTC)
    return NumberRequest(case_id, "g", district, year, opened)


class Numbering:
    """The number_cases agent's table, in memory: entries written in the order given."""

    def __init__(self) -> None:
        self.entries: dict[str, Counter | Assigned] = {}
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
