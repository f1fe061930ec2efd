"""The whole inputs of oversized dead letters, kept in the store beside the letters.

A line too large to travel is dead-lettered with only its start (consumers/publisher.py);
the batch run that read it writes the whole line here, keyed by the letter's key, as it
reads the file, so no more than one such line is in memory at a time. A letter refused
again keeps its first payload, as the store keeps its first letter (consumers/store.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.models import DeadLetterPayloadRow
from consumers.publisher import Outgoing


def keep_payloads(engine: Engine, records: Iterable[Outgoing]) -> Iterator[Outgoing]:
    """``records`` as they come, each oversized letter's payload written to the store and
    dropped from the record."""
    for record in records:
        if record.payload is None or record.key is None:
            yield record
            continue
        key = record.key.decode()
        with Session(engine) as session, session.begin():
            if session.get(DeadLetterPayloadRow, key) is None:
                session.add(
                    DeadLetterPayloadRow(
                        letter_key=key,
                        size=record.payload.size,
                        payload=record.payload.data,
                        kept_at=datetime.now(UTC),
                    )
                )
        yield replace(record, payload=None)
