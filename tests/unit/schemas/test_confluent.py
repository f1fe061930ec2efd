"""Confluent interoperability, against confluent-kafka's own AvroSerializer and
AvroDeserializer and its in-process ``mock://`` registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas.codec import NoRegistry, SchemaStore, UnknownSchema
from schemas.registry import register_all, subjects

from .conftest import SAMPLES, V2_DIR, sample

TOPIC = "referrals.housing"
CONTEXT = SerializationContext(TOPIC, MessageField.VALUE)


@pytest.fixture
def registry() -> Any:
    """A fresh in-process mock registry."""
    return SchemaRegistryClient.new_client({"url": "mock://unit"})


def serialized(registry: Any, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    serializer = AvroSerializer(registry, json.dumps(schema))
    data: bytes = serializer(record, CONTEXT)
    return data


def test_a_record_from_avro_serializer_decodes_like_our_own(registry: Any) -> None:
    """Confluent's framing of our Referral decodes to the record our own encoding gives,
    under our schema's name and fingerprint."""
    store = SchemaStore(registry=registry)
    data = serialized(registry, store.standalone("Referral"), SAMPLES["Referral"])
    assert data[:1] == b"\x00"
    decoded = store.decode(data)
    assert decoded == store.decode(store.encode("Referral", SAMPLES["Referral"]))


def test_a_partners_newer_schema_resolves_into_ours(registry: Any) -> None:
    """A partner writing Referral v2 (an extra optional field) is read as our v1: the
    registry's text is the writer schema, ours the reader."""
    v2 = SchemaStore(V2_DIR)
    data = serialized(registry, v2.standalone("Referral"), sample("Referral", priority="high"))
    decoded = SchemaStore(registry=registry).decode(data, reader="Referral")
    assert decoded.record == SAMPLES["Referral"]


def test_single_object_encoding_is_still_read_beside_it(registry: Any) -> None:
    """A store with a registry reads the project's own encoding as before."""
    store = SchemaStore(registry=registry)
    assert store.decode(store.encode("Payment", SAMPLES["Payment"])).record == SAMPLES["Payment"]


def test_without_a_registry_confluent_bytes_are_refused_with_the_setting(registry: Any) -> None:
    """Confluent framing without REFERRALS_SCHEMA_REGISTRY is a codec error naming it."""
    data = serialized(registry, SchemaStore().standalone("Referral"), SAMPLES["Referral"])
    with pytest.raises(NoRegistry, match="REFERRALS_SCHEMA_REGISTRY"):
        SchemaStore().decode(data)


def test_an_unknown_schema_id_is_a_codec_error(registry: Any) -> None:
    """An id the registry does not have is UnknownSchema, so the intake dead-letters it."""
    with pytest.raises(UnknownSchema, match="4242"):
        SchemaStore(registry=registry).decode(b"\x00" + (4242).to_bytes(4, "big") + b"\x02")


@pytest.mark.parametrize("name", ["ReferralReceipt", "CaseSnapshot"])
def test_what_we_write_in_confluent_framing_avro_deserializer_reads(
    registry: Any, name: str
) -> None:
    """A receipt and a case snapshot framed by us read back through AvroDeserializer."""
    record = RECORDS[name]
    store = SchemaStore(registry=registry)
    data = store.encode_confluent(name, record, subject=f"{TOPIC}-value")
    assert AvroDeserializer(registry)(data, CONTEXT) == record


def test_register_all_is_repeatable(registry: Any) -> None:
    """Every subject is registered; registering again gives the same ids."""
    store = SchemaStore()
    ids = register_all(store, registry)
    assert set(ids) == set(subjects())
    assert register_all(store, registry) == ids


T = datetime(2022, 3, 1, 1, 30, tzinfo=UTC)
RECORDS: dict[str, dict[str, Any]] = {
    "ReferralReceipt": {
        "receipt_id": "HOUSING:ZJ-2022-0042:filed:430203-2022-0001",
        "agency": "HOUSING",
        "referral_id": "ZJ-2022-0042",
        "status": "FILED",
        "case_id": "c-1",
        "case_no": "430203-2022-0001",
        "reason": None,
        "decision_no": None,
        "amount_fen": None,
        "count": None,
        "at": T,
        "emitted_at": T,
    },
    "CaseSnapshot": {
        "case_id": "c-1",
        "case_no": None,
        "group_key": "g",
        "group_seq": 3,
        "state": "OPEN",
        "merged_into": None,
        "district_code": "430203",
        "squad_code": "430203-01",
        "street_code": None,
        "agency": "HOUSING",
        "category": "MUCK_TRANSPORT",
        "opened_at": T,
        "filed_at": None,
        "rejected_at": None,
        "decided_at": None,
        "feedback_at": None,
        "closed_at": None,
        "decision": None,
        "payments": [],
        "decided_fen": 0,
        "collected_fen": 0,
        "outstanding_fen": 0,
        "overpaid_fen": 0,
        "referrals": [
            {
                "agency": "HOUSING",
                "referral_id": "ZJ-1",
                "referred_at": T,
                "opened_case": True,
                "amendments": 0,
                "exact_duplicates": 1,
                "versions": ["{}"],
            }
        ],
        "history": [{"at": T, "what": "opened", "detail": "by HOUSING:ZJ-1"}],
    },
}
