"""The end-to-end benchmark's generated input: deterministic, of the asked length, a
realistic mix of valid events with a few lines that must be dead-lettered."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

from bench.inputs import event_lines, prepare, warm_up_lines
from streams import topics


def test_the_same_seed_gives_the_same_lines_and_another_seed_others() -> None:
    """The stream is a function of its seed."""
    assert list(event_lines(7, 500)) == list(event_lines(7, 500))
    assert list(event_lines(7, 500)) != list(event_lines(8, 500))


def test_a_stream_has_exactly_the_events_asked_and_a_longer_one_extends_it() -> None:
    """N events are N lines, the first N of any longer stream of the same seed."""
    lines = list(event_lines(3, 2_000))
    assert len(lines) == 2_000
    assert list(islice(event_lines(3, 5_000), 2_000)) == lines


def test_the_mix_has_every_kind_and_few_bad_lines() -> None:
    """Referrals, every lifecycle step and payments all occur; under 1 % must be
    dead-lettered, and every referral that names a known place is counted as expected."""
    lines = list(event_lines(11, 20_000))
    kinds: Counter[str] = Counter()
    for line in lines:
        try:
            kinds[json.loads(line)["kind"]] += 1
        except json.JSONDecodeError:
            kinds["not json"] += 1
    expected_kinds = {"referral", "case_filed", "case_rejected", "case_decided", "payment"}
    assert expected_kinds | {"feedback_sent", "case_closed"} <= set(kinds)
    prepared = prepare(lines, "test")
    dead = sum(r.topic == topics.DEADLETTERS for r in prepared.records)
    assert 0 < dead < len(lines) / 100
    referral_keys = {
        (obj["agency"], obj["referral_id"])
        for obj in (json.loads(line) for line in lines if '"kind": "referral"' in line)
        if obj["district_code"] != "430299"
    }
    assert prepared.referrals == len(referral_keys)


def test_lifecycle_events_name_referrals_of_the_stream() -> None:
    """Almost every lifecycle event or payment names a referral published in the same
    stream (the rest were cut off at its end), so nothing waits forever."""
    objs = [json.loads(line) for line in event_lines(5, 10_000) if line.endswith("}")]
    referrals = {(o["agency"], o["referral_id"]) for o in objs if o["kind"] == "referral"}
    named = [(o["agency"], o["referral_id"]) for o in objs if o["kind"] != "referral"]
    assert sum(key in referrals for key in named) >= 0.99 * len(named)


def test_warm_up_referrals_are_valid_and_before_the_input() -> None:
    """Warm-up referrals go to the housing topic, one distinct key each, dated before 2016."""
    lines = warm_up_lines(8)
    prepared = prepare(lines, "warm-up")
    assert prepared.referrals == 8
    assert {r.topic for r in prepared.records} == {topics.REFERRAL_TOPICS["HOUSING"]}
    assert all(json.loads(line)["referred_at"] < "2016" for line in lines)
