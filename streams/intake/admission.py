"""Step 1 at the door: raw Kafka bytes in, an admitted event or a dead letter out.

This is the one function that decides whether an incoming record is dead-lettered; the
agent only moves bytes in and messages out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.codec import CodecError, SchemaStore
from schemas.jsonl import SCHEMA_TO_KIND, record_to_json
from streams.errors import Rejected, SchemaViolation, Undecodable
from streams.events import Referral, parse_event
from streams.intake.rules import validate
from streams.organisation import Organisation


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int
    file: str | None = None
    line: int | None = None

    @property
    def event_id(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class Admitted:
    alias: str  # the key the event is routed by: "ref:AGENCY:ID" or "case:CASE_ID"
    message: dict[str, Any]


def dead_letter(source: Source, raw: bytes, error: Rejected) -> dict[str, Any]:
    return {
        "event_id": source.event_id,
        "error": error.code,
        "reason": error.reason,
        "source": source.as_dict(),
        "raw": base64.b64encode(raw).decode("ascii"),
    }


def admit(
    raw: bytes, source: Source, store: SchemaStore, org: Organisation, now: datetime
) -> Admitted | dict[str, Any]:
    """Decode, check and address one incoming record, or say why it is dead-lettered."""
    try:
        decoded = store.decode(raw)
        if decoded.name not in SCHEMA_TO_KIND:
            raise SchemaViolation(f"a {decoded.name} record is not an input event")
        record = record_to_json(decoded.name, decoded.record, store)
        event = parse_event(record)
        validate(event, org, now)
    except CodecError as e:
        return dead_letter(source, raw, Undecodable(str(e)))
    except Rejected as e:
        return dead_letter(source, raw, e)
    if isinstance(event, Referral):
        alias = f"ref:{event.key}"
    else:
        ref = event.ref
        alias = f"case:{ref.case_id}" if ref.case_id else f"ref:{ref.referral}"
    return Admitted(
        alias=alias,
        message={
            "type": "event",
            "alias": alias,
            "event_id": source.event_id,
            "record": record,
            "source": source.as_dict(),
            "raw": base64.b64encode(raw).decode("ascii"),
            "received_ms": int(now.timestamp() * 1000),
        },
    )
