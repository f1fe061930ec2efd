"""Step 1, validate: what keeps an event out of the pipeline, and what lets it in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.errors import ImpossibleValue, Rejected, SchemaViolation, UnknownPlace
from streams.events import parse_event
from streams.intake.rules import validate
from tests.unit.factories import (
    ORG,
    decided,
    environment_referral,
    event,
    payment,
    referral,
    traffic_referral,
)

# the pipeline's clock in every test: 2022-06-01 20:00 in Zhuzhou
NOW = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)
WHEN = "2022-05-01T09:00:00+08:00"


def check(record: dict[str, Any]) -> None:
    validate(parse_event(record), ORG, NOW)


def rejection(record: dict[str, Any]) -> Rejected:
    with pytest.raises(Rejected) as caught:
        check(record)
    return caught.value


@pytest.mark.parametrize(
    "record",
    [
        referral("ZJ-1", WHEN),
        referral("ZJ-2", WHEN, street_code=None),  # no street: the district's direct squad
        referral("ZJ-3", WHEN, party_id_hash=None, party_type=None),
        traffic_referral("JJ-1", WHEN, category="SIDEWALK_PARKING"),
        environment_referral("HB-1", WHEN, category="CATERING_FUMES"),
        event("case_filed", WHEN, "ZJ-1"),
        event("case_rejected", WHEN, "ZJ-1", reason="不属于管辖范围"),
        decided(WHEN, "ZJ-1", 0, legal_reviewed_at=WHEN),
        event("feedback_sent", WHEN, "ZJ-1"),
        event("case_closed", WHEN, "ZJ-1"),
        payment("R-1", WHEN, "ZJ-1", 0),
    ],
    ids=lambda r: f"{r['kind']}-{r.get('agency')}",
)
def test_well_formed_events_pass(record: dict[str, Any]) -> None:
    """A well-formed event of every kind on a known place, dated last month, is admitted."""
    check(record)


def test_unknown_district_is_rejected() -> None:
    """A district code that is not in the organisation is an `unknown_place`."""
    error = rejection(referral("ZJ-1", WHEN, district_code="430299", street_code=None))
    assert isinstance(error, UnknownPlace)
    assert error.code == "unknown_place"
    assert "430299" in error.reason


def test_unknown_street_is_rejected() -> None:
    """A street code that no squad covers is an `unknown_place`."""
    error = rejection(referral("ZJ-1", WHEN, street_code="430203999"))
    assert isinstance(error, UnknownPlace)
    assert "430203999" in error.reason


def test_street_of_another_district_is_rejected() -> None:
    """月塘街道 430202001 is in 荷塘区, so a 芦淞区 430203 referral naming it is an
    `unknown_place` that names both districts."""
    error = rejection(referral("ZJ-1", WHEN, district_code="430203", street_code="430202001"))
    assert isinstance(error, UnknownPlace)
    assert "430202" in error.reason and "430203" in error.reason


@pytest.mark.parametrize(
    "record",
    [decided(WHEN, "ZJ-1", -1), payment("R-1", WHEN, "ZJ-1", -100)],
    ids=["decision", "payment"],
)
def test_negative_amount_is_rejected(record: dict[str, Any]) -> None:
    """A decision or payment of a negative number of fen is an `impossible_value`."""
    error = rejection(record)
    assert isinstance(error, ImpossibleValue)
    assert error.code == "impossible_value"
    assert "negative" in error.reason


@pytest.mark.parametrize(
    "record",
    [
        referral("ZJ-1", "1999-12-31T23:59:59+08:00"),
        referral("ZJ-1", "1970-01-01T00:00:00Z"),
        event("case_filed", "1999-06-01T00:00:00+08:00", "ZJ-1"),
        decided(WHEN, "ZJ-1", 100, legal_reviewed_at="1999-12-31T15:59:59Z"),
        payment("R-1", "1999-12-31T23:00:00+08:00", "ZJ-1", 100),
    ],
    ids=["referral", "epoch", "filed", "legal-review", "payment"],
)
def test_time_before_2000_is_rejected(record: dict[str, Any]) -> None:
    """Any timestamp before 2000-01-01 00:00 in Zhuzhou is an `impossible_value`."""
    error = rejection(record)
    assert isinstance(error, ImpossibleValue)
    assert "before 2000" in error.reason


@pytest.mark.parametrize(
    "moment",
    ["2000-01-01T00:00:00+08:00", "1999-12-31T16:00:00Z", "1999-12-31T17:00:00Z"],
    ids=["shanghai-midnight", "same-instant-in-utc", "01:00-in-zhuzhou"],
)
def test_first_instant_of_2000_in_zhuzhou_passes(moment: str) -> None:
    """Years are counted in Asia/Shanghai, so 2000-01-01 00:00 +08:00 (still 1999 in UTC)
    is already 2000."""
    check(referral("ZJ-1", moment))


def test_time_more_than_a_day_ahead_is_rejected() -> None:
    """A time one day and one second after the pipeline's clock is an `impossible_value`."""
    error = rejection(referral("ZJ-1", "2022-06-02T12:00:01Z"))
    assert isinstance(error, ImpossibleValue)
    assert "future" in error.reason
    assert isinstance(
        rejection(payment("R-1", "2022-06-02T20:00:01+08:00", "ZJ-1", 1)), ImpossibleValue
    )


def test_time_exactly_a_day_ahead_passes() -> None:
    """Clocks drift: a time exactly one day after the pipeline's clock is still admitted."""
    check(referral("ZJ-1", "2022-06-02T12:00:00Z"))
    check(event("case_closed", "2022-06-02T20:00:00+08:00", "ZJ-1"))


@pytest.mark.parametrize(
    "blocks",
    [
        {"housing": None, "traffic": {"plate_no": "湘B·1", "vehicle_type": "car"}},
        {"traffic": {"plate_no": "湘B·1", "vehicle_type": "car"}},
        {"housing": None},
    ],
    ids=["another-agency's", "both", "none"],
)
def test_wrong_agency_block_is_rejected(blocks: dict[str, Any]) -> None:
    """A HOUSING referral must carry its `housing` block and no other, else `schema`."""
    error = rejection(referral("ZJ-1", WHEN, **blocks))
    assert isinstance(error, SchemaViolation)
    assert error.code == "schema"
    assert "housing" in error.reason


def test_unknown_agency_is_rejected() -> None:
    """An agency outside HOUSING, TRAFFIC_POLICE and ENVIRONMENT is a `schema` violation."""
    error = rejection(referral("ZJ-1", WHEN, agency="TAX"))
    assert isinstance(error, SchemaViolation)
    assert "TAX" in error.reason


@pytest.mark.parametrize(
    "party_id_hash",
    [
        "430203199001011234",  # a resident ID number in clear
        "91430200MA4L000001",  # a unified social credit code in clear
        "DC048F79F1AEA6753C69D683C3FC63ADCB00BB5567988AF9BB45792956F5B133",  # upper case
        "dc048f79f1aea6753c69d683c3fc63adcb00bb5567988af9bb45792956f5b13",  # 63 digits
    ],
    ids=["id-number", "credit-code", "upper-case-hex", "short"],
)
def test_party_in_clear_is_rejected(party_id_hash: str) -> None:
    """Anything but 64 lowercase hex digits in `party_id_hash` is a `schema` violation,
    and the reason does not repeat the value (it may be a person's ID number)."""
    error = rejection(referral("ZJ-1", WHEN, party_id_hash=party_id_hash))
    assert isinstance(error, SchemaViolation)
    assert party_id_hash not in error.reason


def test_party_hash_passes() -> None:
    """The lowercase hex SHA-256 of the upper-cased credit code 91430200MA4L000001 passes."""
    check(
        referral(
            "ZJ-1",
            WHEN,
            party_id_hash="dc048f79f1aea6753c69d683c3fc63adcb00bb5567988af9bb45792956f5b133",
        )
    )
