"""The ``zhuzhou-scaled`` profile: deterministic, readable by the project's JSONL reader
but for its deliberately invalid lines, and with the mix of frictions its parameters say,
counted from the lines themselves."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from functools import cache

import pytest

from referrals.generate.scaled import generate_scaled, horizon_of
from referrals.generate.scaled_profile import SCALED, InvalidScale, parse_years
from referrals.generate.texts import Agency
from schemas.jsonl import record_from_json
from streams.events import SHANGHAI, TIME_FIELD
from tests.unit.factories import ORG
from tests.unit.generate.lines import incidents_of, observe, within

YEARS = (2019, 2021)
INCIDENTS = 6000
ORIGIN = datetime(YEARS[0], 1, 1, tzinfo=SHANGHAI)


@cache
def lines_of(seed: int, incidents: int = INCIDENTS) -> tuple[str, ...]:
    return tuple(generate_scaled(seed, ORG, incidents, YEARS))


def test_same_seed_same_lines() -> None:
    """The same seed gives the very same lines in the same order; another seed does not."""
    assert list(generate_scaled(3, ORG, 400, YEARS)) == list(generate_scaled(3, ORG, 400, YEARS))
    assert list(generate_scaled(3, ORG, 400, YEARS)) != list(generate_scaled(4, ORG, 400, YEARS))


def test_every_line_is_read_by_the_jsonl_reader_but_the_cut_ones() -> None:
    """Every line that is JSON is a valid record of the batch format; the others are the
    lines cut short on purpose, as many as the profile says."""
    failures = 0
    for line in lines_of(0):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            failures += 1
            continue
        record_from_json(obj)
    assert within(failures, len(observe(lines_of(0)).referrals), SCALED.bad_json)


def test_the_whole_city_refers() -> None:
    """All three agencies refer, with every category of the profile, in every district
    and on every street of the organisation, and about as many incidents as asked for."""
    seen = observe(lines_of(0))
    referrals = seen.referrals.values()
    joiners = {key for keys in incidents_of(seen) for key in keys[1:]}
    openers = Counter(r["agency"] for key, r in seen.referrals.items() if key not in joiners)
    assert sum(openers.values()) == INCIDENTS
    assert set(openers) == set(Agency)
    total = sum(w for _, w in SCALED.agencies)
    for agency, weight in SCALED.agencies:
        assert within(openers[agency], INCIDENTS, weight / total)
        categories = {r["category"] for r in referrals if r["agency"] == agency}
        assert categories == {c for c, _ in SCALED.categories[agency]}
    assert {r["district_code"] for r in referrals} == set(ORG.districts)
    streets = {code for squad in ORG.squads.values() for code in squad.streets}
    assert {r["street_code"] for r in referrals if "street_code" in r} == streets


def test_frictions_come_in_the_profile_shares() -> None:
    """Exact duplicates, amendments, receipts sent twice and invalid lines each come in
    the share the profile gives, within binomial tolerance."""
    seen = observe(lines_of(0))
    n = len(seen.referral_texts)
    duplicated = sum(1 for texts in seen.referral_texts.values() if max(texts.values()) > 1)
    amended = sum(1 for texts in seen.referral_texts.values() if len(texts) > 1)
    assert within(duplicated, n, SCALED.exact_duplicate)
    assert within(amended, n, SCALED.amendment)
    twice = sum(1 for count in seen.receipts.values() if count > 1)
    assert within(twice, len(seen.receipts), SCALED.receipt_twice)
    assert within(seen.stray, n, SCALED.unknown_district)
    paid = sum(1 for kinds in seen.first_seen.values() if "payment" in kinds)
    assert within(seen.negative, paid, SCALED.negative_amount)
    assert duplicated and amended and twice and seen.stray and seen.negative and seen.bad_json


def test_events_arrive_out_of_order_in_the_profile_shares() -> None:
    """Decisions published before their filing, payments before their decision, first
    referrals after a later one of their incident, and joiners weeks late."""
    seen = observe(lines_of(0))
    both = [k for k in seen.first_seen.values() if {"case_filed", "case_decided"} <= set(k)]
    early = sum(1 for k in both if k["case_decided"] < k["case_filed"])
    assert within(early, len(both), SCALED.decision_before_filing)
    paid = [k for k in seen.first_seen.values() if {"case_decided", "payment"} <= set(k)]
    unpaid_first = sum(1 for k in paid if k["payment"] < k["case_decided"])
    assert within(unpaid_first, len(paid), SCALED.payment_before_decision)
    merged = [keys for keys in incidents_of(seen) if len(keys) > 1]
    late_first = sum(1 for keys in merged if seen.positions[keys[0]] > seen.positions[keys[1]])
    assert within(late_first, len(merged), SCALED.late_opener)
    late_joiner = sum(1 for keys in merged if any(k in seen.late_referrals for k in keys[1:]))
    assert within(late_joiner, len(merged), SCALED.late_joiner)
    assert early and unpaid_first and late_first and late_joiner


def test_incidents_merge_in_the_profile_share() -> None:
    """About the profile's share of incidents has a second (and some a third) referral
    of the same party, category and place within the merge window."""
    seen = observe(lines_of(0))
    incidents = incidents_of(seen)
    with_party = len(incidents)
    merged = sum(1 for keys in incidents if len(keys) > 1)
    third = sum(1 for keys in incidents if len(keys) > 2)
    assert within(merged, INCIDENTS, SCALED.merged)
    assert within(third, merged, SCALED.third_referral)
    assert with_party < INCIDENTS  # some name no party (a plate number only)


def test_events_end_at_the_horizon() -> None:
    """No event is dated after the horizon, half a year after the last year; none before
    the first year."""
    horizon = horizon_of(YEARS)
    for line in lines_of(0):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        at = datetime.fromisoformat(record[TIME_FIELD.get(record["kind"], "paid_at")])
        assert ORIGIN <= at <= horizon


@pytest.mark.parametrize("text", ["2013", "2022-2013", "twenty", "1999-2001"])
def test_bad_years_are_refused(text: str) -> None:
    """Years that are not FIRST-LAST from 2000 on, in order, are refused with a reason;
    a single year is a run of one."""
    if text == "2013":
        assert parse_years(text) == (2013, 2013)
        return
    with pytest.raises(InvalidScale):
        parse_years(text)


def test_no_incidents_is_refused_at_once() -> None:
    """Asking for no incidents raises before any line is drawn."""
    with pytest.raises(InvalidScale, match="at least 1"):
        generate_scaled(0, ORG, 0)
