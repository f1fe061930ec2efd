"""Schema evolution: v1 and v2 of Referral (v2 adds an optional `priority`) read each other."""

from __future__ import annotations

import pytest

from schemas.codec import SchemaStore, UnknownSchema

from .conftest import SAMPLES, V2_DIR, sample


def test_adding_a_field_changes_the_fingerprint(store: SchemaStore, store_v2: SchemaStore) -> None:
    """v2 is a different writer schema, so its header names a different fingerprint."""
    assert store.fingerprint("Referral") != store_v2.fingerprint("Referral")
    assert store.fingerprint("Agency") == store_v2.fingerprint("Agency")


def test_a_store_without_v2_cannot_read_v2(store: SchemaStore, store_v2: SchemaStore) -> None:
    """Data from an unregistered schema version is refused with its fingerprint."""
    data = store_v2.encode("Referral", sample("Referral", priority="high"))
    with pytest.raises(UnknownSchema, match=store_v2.fingerprint("Referral").hex()):
        store.decode(data)


def test_old_reader_reads_new_records(store: SchemaStore, store_v2: SchemaStore) -> None:
    """A v1 reader that knows the v2 writer reads v2 data and drops the new field."""
    data = store_v2.encode("Referral", sample("Referral", priority="high"))
    old = store.with_extra(V2_DIR)
    decoded = old.decode(data, reader="Referral")
    assert decoded.record == SAMPLES["Referral"]
    assert decoded.fingerprint == store_v2.fingerprint("Referral")


def test_new_reader_reads_old_records(store: SchemaStore, store_v2: SchemaStore) -> None:
    """A v2 reader reads v1 data and fills the new field with its default."""
    data = store.encode("Referral", SAMPLES["Referral"])
    new = store_v2.with_extra(store.directory)
    decoded = new.decode(data, reader="Referral")
    assert decoded.record == sample("Referral", priority=None)


def test_without_a_reader_the_writer_schema_shapes_the_record(
    store: SchemaStore, store_v2: SchemaStore
) -> None:
    """Decoding v2 data with no reader keeps `priority`, as the writer wrote it."""
    data = store_v2.encode("Referral", sample("Referral", priority="high"))
    assert store.with_extra(V2_DIR).decode(data).record["priority"] == "high"


def test_with_extra_leaves_the_original_store_unchanged(store: SchemaStore) -> None:
    """with_extra returns a new store; the original still encodes v1 and knows no v2."""
    bigger = store.with_extra(V2_DIR / "zhuzhou.referrals.Referral.avsc")
    assert bigger.fingerprint("Referral") == store.fingerprint("Referral")
    assert "priority" not in {f["name"] for f in bigger.schema("Referral")["fields"]}
