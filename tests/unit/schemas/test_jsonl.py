"""schemas.jsonl: the JSONL batch input format to and from Avro records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given

from schemas.codec import SchemaStore
from schemas.jsonl import KIND_TO_SCHEMA, InputError, record_from_json, record_to_json

from .conftest import SAMPLES
from .strategies import referrals

SHANGHAI = timezone(timedelta(hours=8))
REFERRAL: dict[str, Any] = {
    "kind": "referral",
    "agency": "TRAFFIC_POLICE",
    "referral_id": "JJ-2022-0007",
    "referred_at": "2022-03-01T09:30:00+08:00",
    "district_code": "430202",
    "address": "荷塘区红旗路",
    "category": "SIDEWALK_PARKING",
    "description": "人行道违停",
    "traffic": {"plate_no": "湘B·12345", "vehicle_type": "car"},
}
DECIDED: dict[str, Any] = {
    "kind": "case_decided",
    "agency": "HOUSING",
    "referral_id": "ZJ-2022-0042",
    "decided_at": "2022-05-01T10:00:00Z",
    "decision_no": "D-42",
    "amount_fen": 3_000_000,
    "tier": "GENERAL",
}


def line(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with `changes`; a change to None removes the field."""
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not None}


def error(obj: Any) -> str:
    with pytest.raises(InputError) as caught:
        record_from_json(obj)
    return str(caught.value)


def test_kinds_map_to_shipped_schemas(store: SchemaStore) -> None:
    """Every JSONL kind names a schema the store has, and every event schema has a kind."""
    assert set(KIND_TO_SCHEMA.values()) <= set(store.names())
    assert len(KIND_TO_SCHEMA) == 7


@pytest.mark.parametrize("kind", sorted(KIND_TO_SCHEMA))
def test_every_kind_converts_and_encodes(store: SchemaStore, kind: str) -> None:
    """The JSON of each sample record converts back to it, and the result encodes."""
    name = KIND_TO_SCHEMA[kind]
    obj = record_to_json(name, SAMPLES[name])
    assert obj["kind"] == kind
    assert record_from_json(json.loads(json.dumps(obj))) == (name, SAMPLES[name])
    store.encode(name, SAMPLES[name])


def test_referral_gets_defaults_and_an_aware_time() -> None:
    """Optional fields left out get their defaults; the timestamp keeps its instant."""
    name, record = record_from_json(REFERRAL)
    assert name == "Referral"
    assert record["referred_at"] == datetime(2022, 3, 1, 9, 30, tzinfo=SHANGHAI)
    assert record["referred_at"] == datetime(2022, 3, 1, 1, 30, tzinfo=UTC)
    assert record["evidence"] == []
    assert record["street_code"] is record["housing"] is record["party_type"] is None


def test_case_is_named_by_referral_key_or_case_id() -> None:
    """Top-level case_id / agency / referral_id go into the ref record."""
    _, by_key = record_from_json(DECIDED)
    assert by_key["ref"] == {"case_id": None, "agency": "HOUSING", "referral_id": "ZJ-2022-0042"}
    _, by_id = record_from_json(line(DECIDED, case_id="C-1", agency=None, referral_id=None))
    assert by_id["ref"] == {"case_id": "C-1", "agency": None, "referral_id": None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"amount_fen": 12.5},
            "case_decided: field 'amount_fen' must be an integer number of fen, got 12.5",
        ),
        ({"amount_fen": True}, "field 'amount_fen' must be an integer number of fen, got true"),
        (
            {"amount_fen": "1200"},
            "field 'amount_fen' must be an integer number of fen, got \"1200\"",
        ),
        ({"amount_fen": 2**64}, "field 'amount_fen' must be an integer number of fen"),
        ({"amount_fen": None}, "case_decided: missing field 'amount_fen'"),
        (
            {"decided_at": "2022-05-01T10:00:00"},
            "field 'decided_at' must be an ISO 8601 timestamp with an offset",
        ),
        ({"decided_at": "2022-05-01"}, "field 'decided_at' must be an ISO 8601 timestamp"),
        ({"decided_at": "last Tuesday"}, "field 'decided_at' must be an ISO 8601 timestamp"),
        ({"decided_at": 1651399200000}, "field 'decided_at' must be an ISO 8601 timestamp"),
        ({"legal_reviewed_at": "2022-05-01 10:00"}, "field 'legal_reviewed_at' must be"),
        ({"tier": "HUGE"}, "field 'tier' must be one of MINOR, GENERAL, SERIOUS, got \"HUGE\""),
        ({"major": "yes"}, "field 'major' must be true or false"),
        ({"decision_no": 42}, "field 'decision_no' must be a string, got 42"),
        (
            {"agency": "POLICE"},
            "field 'agency' must be one of HOUSING, TRAFFIC_POLICE, ENVIRONMENT",
        ),
        ({"agency": None}, "case_decided: missing field 'agency'"),
        ({"agency": None, "referral_id": None}, "missing field 'case_id'"),
        ({"case_id": 7}, "field 'case_id' must be a string, got 7"),
        ({"ref": {"case_id": "C-1"}}, "name the case by top-level 'case_id'"),
        ({"amount": 100}, "case_decided: unknown field 'amount'"),
    ],
)
def test_bad_case_decided_names_the_field(changes: dict[str, Any], message: str) -> None:
    """Each way a case_decided line can be wrong raises InputError naming kind and field."""
    assert message in error(line(DECIDED, **changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"address": None}, "referral: missing field 'address'"),
        ({"address": ""}, None),
        ({"description": [1]}, "field 'description' must be a string, got [1]"),
        ({"category": "JAYWALKING"}, "field 'category' must be one of ILLEGAL_CONSTRUCTION"),
        ({"evidence": "photo.jpg"}, "field 'evidence' must be a list"),
        ({"evidence": [{"uri": "u"}]}, "referral: missing field 'evidence[0].sha256'"),
        ({"traffic": {"plate_no": "x"}}, "missing field 'traffic.vehicle_type'"),
        (
            {"traffic": {"plate_no": "x", "vehicle_type": "y", "color": "red"}},
            "unknown field 'traffic.color'",
        ),
        ({"traffic": "湘B·12345"}, "field 'traffic' must be an object"),
        (
            {"housing": {"project_name": "p"}},
            "field 'housing' is the HOUSING block, but the referral is from TRAFFIC_POLICE",
        ),
        ({"party_type": "ROBOT"}, "field 'party_type' must be one of PERSON, ORGANIZATION"),
    ],
)
def test_bad_referral_names_the_field(changes: dict[str, Any], message: str | None) -> None:
    """Each way a referral line can be wrong raises InputError naming the (nested) field."""
    obj = line(REFERRAL, **changes)
    if message is None:
        record_from_json(obj)
    else:
        assert message in error(obj)


def test_environment_numbers_accept_integers_but_not_nan_or_bools() -> None:
    """Measured values may be written as integers; NaN and booleans are refused."""
    block = {"pollutant": "noise", "measured_value": 70, "limit_value": 55.5, "unit": "dB(A)"}
    base = line(REFERRAL, agency="ENVIRONMENT", traffic=None, category="NIGHT_CONSTRUCTION_NOISE")
    _, record = record_from_json({**base, "environment": block})
    assert record["environment"]["measured_value"] == 70.0
    assert isinstance(record["environment"]["measured_value"], float)
    nan = {**block, "measured_value": float("nan")}
    assert "'environment.measured_value' must be a finite number" in error(
        {**base, "environment": nan}
    )
    true = {**block, "limit_value": True}
    assert "'environment.limit_value' must be a finite number" in error(
        {**base, "environment": true}
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"agency": "HOUSING"}, "missing field 'kind' (one of referral, case_filed"),
        ({"kind": "complaint"}, 'unknown kind "complaint"; expected one of referral'),
        ({"kind": 3}, "unknown kind 3"),
        ([{"kind": "referral"}], "expected a JSON object"),
    ],
)
def test_kind_is_required_and_checked(obj: Any, message: str) -> None:
    """Lines without a known kind are refused with the list of kinds."""
    assert message in error(obj)


def test_input_error_is_a_one_line_value_error() -> None:
    """InputError is a ValueError whose message fits on one line."""
    assert issubclass(InputError, ValueError)
    assert "\n" not in error(line(DECIDED, decision_no="x" * 500, amount_fen=[1] * 100))


def test_to_json_writes_kind_first_utc_times_and_no_nulls() -> None:
    """record_to_json flattens ref, writes UTC timestamps with an offset and drops null options."""
    _, record = record_from_json(DECIDED)
    obj = record_to_json("CaseDecided", record)
    assert next(iter(obj)) == "kind"
    assert obj["agency"] == "HOUSING" and "ref" not in obj and "case_id" not in obj
    assert obj["decided_at"] == "2022-05-01T10:00:00+00:00"
    assert "major" not in obj


def test_to_json_writes_milliseconds_and_base64_bytes() -> None:
    """Sub-second times keep their milliseconds; bytes (DeadLetter.raw) become base64 text."""
    obj = record_to_json("DeadLetter", SAMPLES["DeadLetter"])
    assert "kind" not in obj
    assert obj["dead_lettered_at"] == "2022-03-01T01:30:00.123+00:00"
    assert obj["raw"] == "eyJraW5kIjogImNhc2VfZGVjaWRlZCIsICJhbW91bnRfZmVuIjogMTIuNX0="


@given(record=referrals())
def test_any_referral_survives_json(record: dict[str, Any]) -> None:
    """record_from_json inverts record_to_json, through real JSON text."""
    text = json.dumps(record_to_json("Referral", record), ensure_ascii=False)
    assert record_from_json(json.loads(text)) == ("Referral", record)
