"""Dead letters as the monitoring page shows them: the latest first, filterable by reason
and agency, each openable to its raw event.

A letter's agency is not stored: it is the agency whose referral topic the event came
from, or the ``agency`` the raw event itself names (JSONL line or Avro record).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.models import DeadLetterRow
from schemas.codec import CodecError, default_store
from streams import topics
from streams.errors import NotFound

# By the end of the name: a pipeline with a topic prefix reads its agencies' topics under it.
AGENCY_OF_TOPIC = {topic: agency for agency, topic in topics.REFERRAL_TOPICS.items()}


def raw_event(raw: bytes) -> tuple[str, Any]:
    """The raw bytes as a person can read them: ("avro", record), ("json", value),
    ("text", str) or ("hex", str)."""
    try:
        decoded = default_store().decode(raw)
        return "avro", json.loads(json.dumps(decoded.record, default=_jsonable))
    except (CodecError, ValueError, TypeError):
        pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "hex", raw.hex(" ")
    try:
        return "json", json.loads(text)
    except ValueError:
        return "text", text


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def agency_of(row: DeadLetterRow) -> str | None:
    for topic, by_topic in AGENCY_OF_TOPIC.items():
        if row.source_topic and row.source_topic.endswith(topic):
            return by_topic
    _, event = raw_event(row.raw)
    agency = event.get("agency") if isinstance(event, dict) else None
    return agency if isinstance(agency, str) else None


def source_of(row: DeadLetterRow) -> str:
    """file:line for batch input, topic/partition/offset for a broker's."""
    if row.source_file:
        return f"{row.source_file}:{row.source_line}"
    return f"{row.source_topic}/{row.source_partition}/{row.source_offset}"


def letter_document(row: DeadLetterRow, *, with_raw: bool = False) -> dict[str, Any]:
    """The ``deadletters --format json`` object, with the letter's key, agency and source;
    with the raw event decoded when asked."""
    document: dict[str, Any] = {
        "key": row.letter_key,
        "event_id": row.event_id,
        "error": row.error,
        "reason": row.reason,
        "agency": agency_of(row),
        "source": source_of(row),
        "source_topic": row.source_topic,
        "source_partition": row.source_partition,
        "source_offset": row.source_offset,
        "source_file": row.source_file,
        "source_line": row.source_line,
        "dead_lettered_at": row.dead_lettered_at.isoformat(),
    }
    if with_raw:
        kind, event = raw_event(row.raw)
        document.update(
            raw_base64=base64.b64encode(row.raw).decode(), raw_kind=kind, raw_event=event
        )
    return document


def latest_dead_letters(
    session: Session, *, reason: str | None = None, agency: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The latest ``limit`` dead letters with that reason code and agency, newest first."""
    query = select(DeadLetterRow).order_by(
        DeadLetterRow.dead_lettered_at.desc(), DeadLetterRow.letter_key
    )
    if reason:
        query = query.where(DeadLetterRow.error == reason)
    found = []
    for row in session.scalars(query.execution_options(yield_per=500)):
        document = letter_document(row)
        if agency and document["agency"] != agency:
            continue
        found.append(document)
        if len(found) >= limit:
            break
    return found


def dead_letter(session: Session, key: str) -> dict[str, Any]:
    row = session.get(DeadLetterRow, key)
    if row is None:
        raise NotFound(f"no dead letter {key}")
    return letter_document(row, with_raw=True)


def dead_letter_reasons(session: Session) -> list[str]:
    return sorted(session.scalars(select(DeadLetterRow.error).distinct()))
