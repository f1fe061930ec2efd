"""Case numbers a replay reproduces: given in the order cases were opened, whatever the
order of the input's lines, and never changed once given."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from referrals.generate import generate_scaled
from streams.organisation import default_organisation_path, load_organisation
from tests.integration.harness import live_cases, run_files, write_jsonl

pytestmark = pytest.mark.integration


def _numbers(db: str) -> dict[str, str | None]:
    return {case_id: case["case_no"] for case_id, case in live_cases(db).items()}


def test_a_shuffled_input_with_invalid_lines_gives_the_same_numbers(tmp_path: Path) -> None:
    """The same incidents, once in publication order and once shuffled with unrelated
    invalid lines interleaved, number every case identically, without gaps."""
    org = load_organisation(default_organisation_path())
    lines = list(generate_scaled(7, org, 250, (2021, 2021)))
    shuffled = lines + ["{not json", '{"kind": "payment"}', "[[[[", '{"kind": "referral"}'] * 5
    random.Random(3).shuffle(shuffled)
    in_order = f"sqlite:///{tmp_path / 'in-order.db'}"
    mixed = f"sqlite:///{tmp_path / 'shuffled.db'}"
    run_files(in_order, [write_jsonl(tmp_path / "in-order.jsonl", lines)])
    run_files(mixed, [write_jsonl(tmp_path / "shuffled.jsonl", shuffled)])

    numbers = _numbers(in_order)
    assert numbers == _numbers(mixed)
    by_district: dict[str, list[int]] = {}
    for case_no in numbers.values():
        assert case_no is not None
        district, year, seq = case_no.split("-")
        by_district.setdefault(f"{district}-{year}", []).append(int(seq))
    assert all(sorted(s) == list(range(1, len(s) + 1)) for s in by_district.values())


def test_a_number_once_given_survives_a_later_run(tmp_path: Path) -> None:
    """A second run whose referral of an earlier day joins a first run's case leaves that
    case's number as it was, and numbers the second run's new case after the first's."""
    org = load_organisation(default_organisation_path())
    lines = list(generate_scaled(11, org, 60, (2021, 2021)))
    db = f"sqlite:///{tmp_path / 'two.db'}"
    run_files(db, [write_jsonl(tmp_path / "a.jsonl", lines[: len(lines) // 2])])
    first = _numbers(db)
    run_files(db, [write_jsonl(tmp_path / "b.jsonl", lines[len(lines) // 2 :])])
    second = _numbers(db)
    assert {k: second[k] for k in first if k in second} == {
        k: v for k, v in first.items() if k in second
    }
