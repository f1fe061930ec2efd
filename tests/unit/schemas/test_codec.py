"""schemas.codec: single-object encoding, the schema store and its errors."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import (
    HEADER_SIZE,
    CodecError,
    Decoded,
    IncompatibleSchemas,
    InvalidRecord,
    NotSingleObjectEncoded,
    SchemaFileError,
    SchemaStore,
    TruncatedBody,
    UndecodableBody,
    UnknownSchema,
    default_store,
)

from .conftest import SAMPLES, sample
from .strategies import decisions, referrals

EVENTS = ["Referral", "CaseFiled", "CaseRejected", "CaseDecided", "FeedbackSent", "CaseClosed"]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_record_type_round_trips(store: SchemaStore, name: str) -> None:
    """Decoding what encode() wrote gives back the record, its schema name and fingerprint."""
    data = store.encode(name, SAMPLES[name])
    assert store.decode(data) == Decoded(name, SAMPLES[name], store.fingerprint(name))


@given(record=referrals())
def test_any_referral_round_trips(record: dict[str, Any]) -> None:
    """Every valid Referral, whatever its text, numbers and optional fields, round trips."""
    store = default_store()
    assert store.decode(store.encode("Referral", record)).record == record


@given(record=decisions)
def test_any_decision_round_trips(record: dict[str, Any]) -> None:
    """Every valid CaseDecided, including the extreme amounts a long holds, round trips."""
    store = default_store()
    assert store.decode(store.encode("CaseDecided", record)).record == record


def test_missing_optional_fields_decode_as_their_defaults(store: SchemaStore) -> None:
    """Fields with a default may be left out on encode and come back as the default."""
    record = {k: v for k, v in SAMPLES["Referral"].items() if k not in ("evidence", "housing")}
    decoded = store.decode(store.encode("Referral", record)).record
    assert decoded["evidence"] == []
    assert decoded["housing"] is None


def test_header_is_marker_then_little_endian_rabin_fingerprint(store: SchemaStore) -> None:
    """The first 10 bytes are C3 01 and the schema's CRC-64-AVRO fingerprint as fastavro sees it."""
    data = store.encode("Payment", SAMPLES["Payment"])
    canonical = to_parsing_canonical_form(store.schema("Payment"))
    assert data[:2] == b"\xc3\x01"
    assert data[2:HEADER_SIZE] == store.fingerprint("Payment")
    assert data[2:HEADER_SIZE].hex() == fingerprint(canonical, "CRC-64-AVRO")


def test_every_schema_has_its_own_fingerprint(store: SchemaStore) -> None:
    """No two shipped schemas share a fingerprint, so the header always names one writer."""
    fingerprints = {store.fingerprint(n) for n in store.names()}
    assert len(fingerprints) == len(store.names())


def test_short_and_full_names_are_interchangeable(store: SchemaStore) -> None:
    """'Referral' and 'zhuzhou.referrals.Referral' name the same schema."""
    assert store.schema("Referral") is store.schema("zhuzhou.referrals.Referral")
    assert store.fingerprint("Referral") == store.fingerprint("zhuzhou.referrals.Referral")


def test_names_lists_every_shipped_type(store: SchemaStore) -> None:
    """names() gives the short name of every .avsc in the schemas folder."""
    assert set(store.names()) >= {*SAMPLES, "Agency", "Category", "PartyType", "Tier", "Exemption"}


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\xc3\x01\x00", b'{"kind": "referral"}'])
def test_bytes_without_the_header_are_rejected(store: SchemaStore, data: bytes) -> None:
    """Empty, short or JSON input raises NotSingleObjectEncoded, showing what it starts with."""
    with pytest.raises(NotSingleObjectEncoded, match=r"c3 01"):
        store.decode(data)


def test_unknown_fingerprint_is_named_in_hex(store: SchemaStore) -> None:
    """A header whose fingerprint no schema has raises UnknownSchema showing that fingerprint."""
    data = b"\xc3\x01" + bytes.fromhex("0011223344556677") + b"\x00"
    with pytest.raises(UnknownSchema, match="0011223344556677"):
        store.decode(data)


@pytest.mark.parametrize("name", EVENTS)
def test_every_truncation_raises_a_codec_error(store: SchemaStore, name: str) -> None:
    """Cutting an event anywhere inside its body raises TruncatedBody or UndecodableBody."""
    data = store.encode(name, SAMPLES[name])
    for end in range(HEADER_SIZE, len(data)):
        with pytest.raises(UndecodableBody):
            store.decode(data[:end])


def test_truncated_body_is_reported_as_such(store: SchemaStore) -> None:
    """A body cut inside a string raises TruncatedBody, which wraps the library's EOFError."""
    data = store.encode("CaseRejected", SAMPLES["CaseRejected"])
    with pytest.raises(TruncatedBody) as caught:
        store.decode(data[:-3])
    assert isinstance(caught.value.__cause__, EOFError)


def test_trailing_bytes_are_rejected(store: SchemaStore) -> None:
    """Bytes after the record mean the body is not what its header says."""
    data = store.encode("CaseClosed", SAMPLES["CaseClosed"])
    with pytest.raises(UndecodableBody, match="1 bytes left over"):
        store.decode(data + b"\x00")


@given(body=st.binary(max_size=200))
def test_garbage_body_raises_only_codec_errors(body: bytes) -> None:
    """Whatever follows a known header, decode returns a record or raises a CodecError."""
    store = default_store()
    with contextlib.suppress(CodecError):
        store.decode(b"\xc3\x01" + store.fingerprint("Referral") + body)


def test_garbage_bytes_are_rejected_before_decoding(store: SchemaStore) -> None:
    """Bytes that do not start with the marker are rejected without reading further."""
    with pytest.raises(NotSingleObjectEncoded):
        store.decode(b"\x00" + os.urandom(40))


def test_decoding_never_loads_or_parses_schemas(
    store: SchemaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a store is built, encode and decode work from its cache alone."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("schema loaded or fingerprinted per call")

    for attr in ("load_schema", "to_parsing_canonical_form", "fingerprint"):
        monkeypatch.setattr(f"schemas.codec.{attr}", forbidden)
    data = store.encode("Referral", SAMPLES["Referral"])
    assert store.decode(data, reader="Referral").record == SAMPLES["Referral"]


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        ("CaseDecided", {"amount_fen": 12.5}, "amount_fen"),
        ("CaseDecided", {"amount_fen": True}, "amount_fen"),
        ("CaseDecided", {"tier": "HUGE"}, "tier"),
        ("Referral", {"address": None}, "address"),
        ("Referral", {"housing": {"project_name": 1}}, "HousingBlock.project_name"),
        ("Referral", {"evidence": [{"uri": "u"}]}, "Evidence.sha256"),
        ("Referral", {"referred_at": "2022-03-01"}, "referred_at"),
        ("Referral", {"referred_at": datetime(2022, 3, 1, 9, 30)}, "referred_at"),
        ("Referral", {"priority": "high"}, "priority"),
    ],
)
def test_invalid_record_names_the_field(
    store: SchemaStore, name: str, changes: dict[str, Any], field: str
) -> None:
    """A record that does not fit its schema raises InvalidRecord naming the field, on one line."""
    with pytest.raises(InvalidRecord, match=rf"field {field}\b") as caught:
        store.encode(name, sample(name, **changes))
    assert "\n" not in str(caught.value)


def test_missing_required_field_is_named(store: SchemaStore) -> None:
    """A required field left out is reported as missing, by name."""
    record = sample("Payment")
    del record["receipt_no"]
    with pytest.raises(InvalidRecord, match="field receipt_no is missing"):
        store.encode("Payment", record)


def test_unknown_schema_name_lists_the_known_ones(store: SchemaStore) -> None:
    """Asking for a schema that does not exist raises UnknownSchema listing what exists."""
    with pytest.raises(UnknownSchema, match="Referral"):
        store.encode("Referal", SAMPLES["Referral"])


def test_reading_into_an_unrelated_schema_is_incompatible(store: SchemaStore) -> None:
    """Reading a Referral as a Payment raises IncompatibleSchemas on one line."""
    data = store.encode("Referral", SAMPLES["Referral"])
    with pytest.raises(IncompatibleSchemas, match="cannot read Referral") as caught:
        store.decode(data, reader="Payment")
    assert "\n" not in str(caught.value)


def test_reading_into_the_writer_schema_is_a_plain_read(store: SchemaStore) -> None:
    """Naming the writer's own schema as reader gives the same result as no reader."""
    data = store.encode("CaseDecided", SAMPLES["CaseDecided"])
    assert store.decode(data, reader="CaseDecided") == store.decode(data)


def test_a_file_named_after_another_type_is_refused(tmp_path: Path) -> None:
    """An .avsc whose file name is not its type's full name fails loading with the path."""
    (tmp_path / "zhuzhou.referrals.Wrong.avsc").write_text(
        '{"type": "enum", "name": "Right", "namespace": "zhuzhou.referrals", "symbols": ["A"]}'
    )
    with pytest.raises(SchemaFileError, match=r"zhuzhou\.referrals\.Wrong\.avsc"):
        SchemaStore(tmp_path)


def test_a_broken_file_is_refused(tmp_path: Path) -> None:
    """An .avsc that is not valid JSON fails loading with a SchemaFileError naming it."""
    (tmp_path / "zhuzhou.referrals.Broken.avsc").write_text("{not json")
    with pytest.raises(SchemaFileError, match="Broken"):
        SchemaStore(tmp_path)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    """A store needs at least one schema."""
    with pytest.raises(SchemaFileError, match=r"no \.avsc files"):
        SchemaStore(tmp_path)
