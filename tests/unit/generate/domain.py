"""Generated lines through the real domain code, without Kafka."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from consumers.publisher import prepare_line
from schemas.codec import default_store
from streams import topics
from streams.intake.admission import admit
from streams.messages import Admitted, Source
from tests.unit.factories import ORG, Flow

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def through_domain(lines: Iterable[str]) -> tuple[Flow, int]:
    """The lines through publishing (JSONL to Avro), admission, routing, the incident
    groups and numbering, in order, then drained; with the count of lines turned away."""
    store = default_store()
    flow = Flow(numbering=True)
    refused = 0
    for number, line in enumerate(lines, start=1):
        outgoing = prepare_line(line, "generated.jsonl", number, store)
        if outgoing.topic == topics.DEADLETTERS:
            refused += 1
            continue
        source = Source(outgoing.topic, 0, number, "generated.jsonl", number)
        admitted = admit(outgoing.value, source, store, ORG, NOW)
        if not isinstance(admitted, Admitted):
            refused += 1
            continue
        flow.send(admitted.record, event_id=source.event_id)
    flow.drain()
    return flow, refused
