"""The Avro decoder on bytes from outside: whatever comes in, a Decoded record or a
CodecError, quickly, in bounded memory, and never a crash of the process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import CONFLUENT_MAGIC, MARKER, CodecError, Decoded, SchemaStore, UnknownSchema
from schemas.registered import MAX_DEPTH

from .conftest import SAMPLES
from .strategies import decisions, referrals

STORE = SchemaStore()
# Names of every shipped schema: a fingerprint of each is a header the decoder reads on.
NAMES = STORE.names()
HOSTILE = settings(max_examples=300, deadline=None)


def decodes_or_refuses(store: SchemaStore, data: bytes) -> Decoded | CodecError:
    """What decoding ``data`` gives; any exception but CodecError fails the test."""
    try:
        return store.decode(data)
    except CodecError as e:
        return e


valid_records = st.one_of(
    referrals().map(lambda r: STORE.encode("Referral", r)),
    decisions.map(lambda r: STORE.encode("CaseDecided", r)),
    st.sampled_from(sorted(SAMPLES)).map(lambda name: STORE.encode(name, SAMPLES[name])),
)


@HOSTILE
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_decode_or_raise_a_codec_error(data: bytes) -> None:
    """Any bytes at all give a record or a CodecError."""
    decodes_or_refuses(STORE, data)


@HOSTILE
@given(name=st.sampled_from(NAMES), body=st.binary(max_size=4000))
def test_any_body_behind_a_known_header_decodes_or_raises_a_codec_error(
    name: str, body: bytes
) -> None:
    """A known fingerprint followed by garbage is read under that schema, or refused."""
    decodes_or_refuses(STORE, MARKER + STORE.fingerprint(name) + body)


@HOSTILE
@given(data=valid_records, cut=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_a_truncated_record_is_refused(data: bytes, cut: float) -> None:
    """Every proper prefix of a valid record is refused: no record is a prefix of another."""
    with pytest.raises(CodecError):
        STORE.decode(data[: int(len(data) * cut)])


@HOSTILE
@given(data=valid_records, flips=st.lists(st.integers(min_value=0), min_size=1, max_size=8))
def test_a_bit_flipped_record_decodes_or_is_refused(data: bytes, flips: list[int]) -> None:
    """Flipping bits anywhere in a valid record gives a record or a CodecError."""
    flipped = bytearray(data)
    for flip in flips:
        flipped[flip // 8 % len(data)] ^= 1 << flip % 8
    decodes_or_refuses(STORE, bytes(flipped))


def varint(n: int) -> bytes:
    """Avro's zigzag variable-length encoding of ``n``."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    return bytes([*out, z])


@HOSTILE
@given(name=st.sampled_from(NAMES), length=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_huge_or_negative_lengths_are_refused_without_allocating_them(
    name: str, length: int
) -> None:
    """Any length prefix (a string's, an array block's) in front of a few bytes is a
    record or a CodecError at once, never an allocation of that length."""
    decodes_or_refuses(STORE, MARKER + STORE.fingerprint(name) + varint(length) * 3 + b"\x02")


@pytest.fixture(scope="module")
def registry() -> Any:
    """An in-process mock schema registry holding our schemas and hostile ones."""
    return SchemaRegistryClient.new_client({"url": "mock://hostile"})


def registered(registry: Any, schema: dict[str, Any]) -> int:
    return int(
        registry.register_schema(f"s{hash(json.dumps(schema))}", Schema(json.dumps(schema), "AVRO"))
    )


def confluent(schema_id: int, body: bytes) -> bytes:
    return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + body


@HOSTILE
@given(name=st.sampled_from(NAMES), body=st.binary(max_size=2000), other=st.integers(0, 2**32 - 1))
def test_confluent_framing_decodes_or_raises_a_codec_error(
    registry: Any, name: str, body: bytes, other: int
) -> None:
    """With a registry, any body behind a registered id, and any id at all, give a record
    or a CodecError."""
    store = SchemaStore(registry=registry)
    decodes_or_refuses(store, confluent(registered(registry, store.standalone(name)), body))
    decodes_or_refuses(store, confluent(other, body))


NODE = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}
EMPTY_ITEMS = {
    "type": "record",
    "name": "Empty",
    "fields": [
        {"name": "nulls", "type": {"type": "array", "items": "null"}},
    ],
}


def nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "record", "name": "L0", "fields": []}
    for level in range(1, depth + 1):
        schema = {"type": "record", "name": f"L{level}", "fields": [{"name": "x", "type": schema}]}
    return schema


@pytest.mark.parametrize(
    ("schema", "body", "why"),
    [
        # 5 000 levels of this crashed the worker with a segmentation fault in fastavro
        (NODE, b"\x02" * 60_000 + b"\x00", "Node contains itself"),
        # two billion nulls declared in five bytes
        (EMPTY_ITEMS, varint(2**31) + b"\x00", "array of items that take no bytes"),
        (nested(MAX_DEPTH + 1), b"", f"over {MAX_DEPTH}"),
    ],
    ids=["recursive", "empty-items", "deep"],
)
def test_a_registry_schema_unbounded_to_decode_is_refused(
    registry: Any, schema: dict[str, Any], body: bytes, why: str
) -> None:
    """Writer schemas whose records could nest or repeat without bound are refused before
    a byte of the body is read."""
    with pytest.raises(UnknownSchema, match=why):
        SchemaStore(registry=registry).decode(confluent(registered(registry, schema), body))


def test_a_deep_but_bounded_registry_schema_is_read(registry: Any) -> None:
    """A writer schema nested just within the bound decodes as usual."""
    data = confluent(registered(registry, nested(MAX_DEPTH - 1)), b"")
    assert SchemaStore(registry=registry).decode(data).name == f"L{MAX_DEPTH - 1}"
