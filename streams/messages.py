"""The messages the agents send each other over the internal topics, typed.

    admit_events ──Admitted──▶ <app>.references ──route_references──Admitted──▶ <app>.groups
                                    ▲   │ Register (case-id alias)                   │
                                    └───┘                                            ▼
    <app>.groups ◀──Numbered── number_cases ◀──NumberRequest, Withdraw── <app>.numbering ◀──
                                                                          form_groups

A Kafka record on an internal topic is a *batch*: the messages one step produced for one
partition, msgpack-encoded. Faust's cost per record (fetch, event, acks) is paid once per
batch instead of once per event, which is what lets four hops keep up with one trivial
stage (docs/measured.md). An agent also takes several batch records at a time (Faust's
``take_events``), so what it sends in one step is gathered from all of them. Each message
is addressed by its key (``partition_of``), so a key always lands on the same partition,
and an agent writes a key's table entry to the changelog partition of the batch that
carried it. ``Tick`` is broadcast to every partition.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec


class Source(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where an input event came from: a topic offset, and the file line it was read from."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    file: str | None = None
    line: int | None = None

    @property
    def event_id(self) -> str:
        """The identity of the Kafka record (or file line) that carried the event."""
        if self.topic is not None:
            return f"{self.topic}/{self.partition}/{self.offset}"
        return f"{self.file}:{self.line}"


class Admitted(msgspec.Struct, frozen=True, tag="event"):
    """An input event that passed the door, on its way to its incident group.

    ``record`` is the event in its JSONL form (``kind`` plus its fields); ``group`` is set
    by the routing step. The raw bytes stay behind: a dead letter decided later carries
    the record re-encoded, and its source names the original.
    """

    alias: str  # "ref:AGENCY:ID" or "case:CASE_ID": the key the event is routed by
    event_id: str
    record: dict[str, Any]
    source: Source
    received_ms: int  # wall clock at the door, for the hold period
    group: str | None = None


class Register(msgspec.Struct, frozen=True, tag="register"):
    """A referral's case-id alias learns the group the referral belongs to."""

    alias: str
    group: str
    at: datetime  # the referral's time: how recent the alias is


class NumberRequest(msgspec.Struct, frozen=True, tag="number"):
    """A group asks for its new case's number."""

    case_id: str
    group: str
    district_code: str
    year: int
    opened_at: datetime


class Withdraw(msgspec.Struct, frozen=True, tag="withdraw"):
    """A group no longer needs a number for a case it asked one for."""

    case_id: str
    district_code: str


class Numbered(msgspec.Struct, frozen=True, tag="numbered"):
    """The number a case was given, back to its group."""

    group: str
    case_id: str
    case_no: str


TickKind = Literal["expire", "drain"]


class Tick(msgspec.Struct, frozen=True, tag="tick"):
    """Housekeeping for every partition: ``expire`` what waited longer than the hold
    period, ``drain`` everything still waiting (a batch input ended)."""

    kind: TickKind
    now_ms: int = 0
    hold_ms: int = 0


ToReferences = Admitted | Register | Tick
ToGroups = Admitted | Numbered | Tick
ToNumbering = NumberRequest | Withdraw | Tick

# An agent takes up to this many records at a time, waiting at most this long for them.
TAKE = 500
WITHIN_S = 0.05

_encoder = msgspec.msgpack.Encoder()
_to_references = msgspec.msgpack.Decoder(list[ToReferences])
_to_groups = msgspec.msgpack.Decoder(list[ToGroups])
_to_numbering = msgspec.msgpack.Decoder(list[ToNumbering])


def encode_batch(messages: list[Any]) -> bytes:
    return _encoder.encode(messages)


def references_batch(data: bytes) -> list[ToReferences]:
    return _to_references.decode(data)


def groups_batch(data: bytes) -> list[ToGroups]:
    return _to_groups.decode(data)


def numbering_batch(data: bytes) -> list[ToNumbering]:
    return _to_numbering.decode(data)


def by_partition(events: Sequence[Any]) -> dict[int, list[bytes]]:
    """The values of Faust events taken together, by the partition they came from, each
    partition's in the order they arrived."""
    found: dict[int, list[bytes]] = {}
    for event in events:
        found.setdefault(event.message.partition, []).append(event.value)
    return found


def partition_of(key: str, partitions: int) -> int:
    """The partition a message key lives on; the same in every process and run."""
    return zlib.crc32(key.encode()) % partitions
