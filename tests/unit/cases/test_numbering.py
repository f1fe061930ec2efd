"""Case numbers: per district and year, without gaps, the same on a repeated request."""

from __future__ import annotations

from streams.cases.numbering import number


def _request(case_id: str, year: int = 2022, district: str = "430203") -> dict[str, object]:
    return {"case_id": case_id, "district_code": district, "year": year, "group": "g"}


def test_numbers_count_up_per_year() -> None:
    """Each year of a district starts at 0001 and counts up."""
    state, first = number(None, _request("C1"))
    state, second = number(state, _request("C2"))
    state, other_year = number(state, _request("C3", year=2023))
    assert (first, second, other_year) == (
        "430203-2022-0001",
        "430203-2022-0002",
        "430203-2023-0001",
    )


def test_a_repeated_request_gets_the_same_number_and_changes_nothing() -> None:
    """At-least-once delivery must not burn a number."""
    state, first = number(None, _request("C1"))
    unchanged, again = number(state, _request("C1"))
    assert (unchanged, again) == (None, first)
    _, next_one = number(state, _request("C2"))
    assert next_one == "430203-2022-0002"
