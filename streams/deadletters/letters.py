"""Dead letters: what could not be applied, why, where it came from, and its bytes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def to_avro(letter: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A dead letter as the ``DeadLetter`` Avro record."""
    source = letter["source"]
    return {
        "event_id": letter["event_id"],
        "reason": letter["reason"],
        "error": letter["error"],
        "source_topic": source.get("topic"),
        "source_partition": source.get("partition"),
        "source_offset": source.get("offset"),
        "source_file": source.get("file"),
        "source_line": source.get("line"),
        "raw": base64.b64decode(letter["raw"]),
        "dead_lettered_at": at,
    }


def letter_key(letter: Mapping[str, Any]) -> str:
    """The dead-letter topic's key: the event's identity, so a repeat overwrites itself."""
    return f"{letter['event_id']}#{letter['error']}"
