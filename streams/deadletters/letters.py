"""Dead letters: what could not be applied, why, where it came from, and its bytes.

One type, built in one way (``DeadLetter.of``) wherever the pipeline refuses an event: at
the door (the bytes as received), in the routing step or in its group (the event as it
was admitted, re-encoded; ``source`` names the original record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from streams.errors import Reason, Rejected
from streams.messages import Source


class WaitEnded(StrEnum):
    """Why an event that waited for what it names stopped waiting."""

    HOLD = "the hold period ended"
    DRAINED = "the input was drained"


@dataclass(frozen=True)
class DeadLetter:
    event_id: str
    code: Reason
    reason: str
    source: Source
    raw: bytes

    @classmethod
    def of(cls, error: Rejected, source: Source, raw: bytes) -> DeadLetter:
        return cls(source.event_id, error.code, error.reason, source, raw)

    @property
    def key(self) -> str:
        """The dead-letter topic's key: the event and the reason, so a repeat of the same
        letter overwrites itself downstream."""
        return f"{self.event_id}#{self.code}"

    def to_avro(self, at: datetime) -> dict[str, Any]:
        """The letter as the ``DeadLetter`` Avro record."""
        return {
            "event_id": self.event_id,
            "reason": self.reason,
            "error": str(self.code),
            "source_topic": self.source.topic,
            "source_partition": self.source.partition,
            "source_offset": self.source.offset,
            "source_file": self.source.file,
            "source_line": self.source.line,
            "raw": self.raw,
            "dead_lettered_at": at,
        }


@dataclass(frozen=True)
class Refused:
    """An admitted event refused after the door, by the routing step or its group: the
    dead letter it becomes once its record is encoded again (``letter``)."""

    event_id: str
    code: Reason
    reason: str
    source: Source
    record: Mapping[str, Any]
    # A letter sent before, sent again in case the first sending was lost to a crash.
    repeat: bool = False

    @classmethod
    def of(
        cls, error: Rejected, event_id: str, source: Source, record: Mapping[str, Any]
    ) -> Refused:
        return cls(event_id, error.code, error.reason, source, record)

    def letter(self, raw: bytes) -> DeadLetter:
        return DeadLetter(self.event_id, self.code, self.reason, self.source, raw)
