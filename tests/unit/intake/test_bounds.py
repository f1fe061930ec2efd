"""The door's bounds: an event's size, texts, lists, numbers and amounts are limited
before any rule reads them, and a record too large is refused before it is decoded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer

from schemas.codec import CONFLUENT_MAGIC, SchemaStore
from schemas.jsonl import record_from_json
from streams.deadletters.letters import DeadLetter
from streams.errors import ImpossibleValue, Reason, Rejected, SchemaViolation
from streams.events import parse_event
from streams.intake.admission import admit
from streams.intake.rules import (
    COPY_BYTES,
    ID_LENGTHS,
    MAX_AMOUNT_FEN,
    MAX_EVENT_BYTES,
    MAX_ITEMS,
    MAX_TEXT,
    validate,
)
from streams.messages import Admitted, Source
from tests.unit.factories import ORG, decided, environment_referral, event, payment, referral

NOW = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)
WHEN = "2022-05-01T09:00:00+08:00"
STORE = SchemaStore()
SOURCE = Source(topic="referrals.housing", partition=2, offset=17)
EVIDENCE = {"uri": "https://files.example/1.jpg", "sha256": "ab" * 32}
LONG = "x" * (MAX_TEXT + 1)


def rejection(record: dict[str, Any]) -> Rejected:
    with pytest.raises(Rejected) as caught:
        validate(parse_event(record), ORG, NOW)
    return caught.value


def passes(record: dict[str, Any]) -> None:
    validate(parse_event(record), ORG, NOW)


@pytest.mark.parametrize(
    ("record", "field", "limit"),
    [
        (referral("x" * 129, WHEN), "referral_id", ID_LENGTHS["referral_id"]),
        (event("case_filed", WHEN, "ZJ-1", case_id="C" * 65), "case_id", 64),
        (payment("R" * 65, WHEN, "ZJ-1", 1), "receipt_no", 64),
        (decided(WHEN, "ZJ-1", 1, decision_no="D" * 65), "decision_no", 64),
        (referral("ZJ-1", WHEN, district_code="4" * 65), "district_code", 64),
        (referral("ZJ-1", WHEN, description="很" * (MAX_TEXT + 1)), "description", MAX_TEXT),
        (referral("ZJ-1", WHEN, housing={"project_name": LONG}), "housing.project_name", MAX_TEXT),
        (referral("ZJ-1", WHEN, evidence=[EVIDENCE] * (MAX_ITEMS + 1)), "evidence", MAX_ITEMS),
        (
            referral("ZJ-1", WHEN, evidence=[{"uri": LONG, "sha256": ""}]),
            "evidence[0].uri",
            MAX_TEXT,
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_text_or_list_over_its_bound_is_a_schema_violation(
    record: dict[str, Any], field: str, limit: int
) -> None:
    """Identifiers are kept to the store's columns, texts and lists to their bounds: one
    over is refused naming the field and the bound, without quoting the value."""
    error = rejection(record)
    assert isinstance(error, SchemaViolation)
    assert error.reason.startswith(f"{field} ") and f"over {limit}" in error.reason
    assert len(error.reason) < 100


def test_values_at_their_bounds_pass() -> None:
    """Exactly at every bound, an event is admitted."""
    passes(
        referral(
            "x" * ID_LENGTHS["referral_id"],
            WHEN,
            description="很" * MAX_TEXT,
            evidence=[EVIDENCE] * MAX_ITEMS,
        )
    )
    passes(payment("R" * 64, WHEN, "ZJ-1", MAX_AMOUNT_FEN, decision_no="D" * 64))


@pytest.mark.parametrize("amount", [MAX_AMOUNT_FEN + 1, 2**63 - 1])
def test_an_amount_over_a_trillion_yuan_is_impossible(amount: int) -> None:
    """An amount whose sum over a case's payments could overflow a long is refused."""
    for record in (decided(WHEN, "ZJ-1", amount), payment("R-1", WHEN, "ZJ-1", amount)):
        error = rejection(record)
        assert isinstance(error, ImpossibleValue) and "one trillion yuan" in error.reason


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_measurement_from_avro_is_refused(value: float) -> None:
    """JSON input cannot carry NaN, but Avro bytes can: refused at the door, since no JSON
    column downstream can hold it."""
    obj = environment_referral("HB-1", WHEN, category="CATERING_FUMES")
    _, record = record_from_json(obj, STORE)
    record["environment"]["measured_value"] = value
    letter = admit(STORE.encode("Referral", record, check=False), SOURCE, STORE, ORG, NOW)
    assert isinstance(letter, DeadLetter)
    assert (letter.code, letter.reason) == (
        Reason.SCHEMA,
        f"environment.measured_value must be a finite number, got {value}",
    )


def encoded(obj: dict[str, Any]) -> bytes:
    name, record = record_from_json(obj, STORE)
    return STORE.encode(name, record, check=False)


def test_a_record_over_the_event_limit_is_refused_before_decoding() -> None:
    """A record over MAX_EVENT_BYTES is dead-lettered oversized, whatever its bytes, with
    its first COPY_BYTES and the place the whole of it stays."""
    big = encoded(referral("ZJ-1", WHEN, evidence=[EVIDENCE] * 700))
    for raw in (b"\x00" * (MAX_EVENT_BYTES + 1), big):
        letter = admit(raw, SOURCE, STORE, ORG, NOW)
        assert isinstance(letter, DeadLetter)
        assert (letter.code, letter.raw) == (Reason.OVERSIZED, raw[:COPY_BYTES])
        assert f"the record is {len(raw)} bytes" in letter.reason
        assert "the whole record stays at referrals.housing/2/17" in letter.reason


def test_a_record_at_the_event_limit_is_decoded() -> None:
    """MAX_EVENT_BYTES itself is allowed: the bytes are decoded and judged as usual."""
    letter = admit(b"\x00" * MAX_EVENT_BYTES, SOURCE, STORE, ORG, NOW)
    assert isinstance(letter, DeadLetter) and letter.code == Reason.UNDECODABLE
    assert letter.raw == b"\x00" * MAX_EVENT_BYTES


def test_a_partners_writer_schema_is_read_into_ours() -> None:
    """A Referral a partner wrote with its own schema of that name, whose field types
    differ, is resolved into ours and refused as undecodable: the door never hands on a
    record shaped unlike our schema (it broke record_to_json with a TypeError)."""
    registry = SchemaRegistryClient.new_client({"url": "mock://bounds"})
    theirs = STORE.standalone("Referral")
    for field in theirs["fields"]:
        if field["name"] == "referred_at":
            field["type"] = "string"
    schema_id = registry.register_schema("partner", Schema(json.dumps(theirs), "AVRO"))
    store = SchemaStore(registry=registry)
    _, record = record_from_json(referral("ZJ-1", WHEN), STORE)
    body = BytesIO()
    schemaless_writer(body, parse_schema(theirs), {**record, "referred_at": "yesterday"})
    raw = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + body.getvalue()
    letter = admit(raw, SOURCE, store, ORG, NOW)
    assert isinstance(letter, DeadLetter) and letter.code == Reason.UNDECODABLE
    assert "cannot read Referral" in letter.reason
    ours = store.encode_confluent("Referral", record, "referrals.housing-value")
    assert isinstance(admit(ours, SOURCE, store, ORG, NOW), Admitted)
