"""Agent of step 1: admit input records or dead-letter them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from streams.batches import Events, each_batch
from streams.deadletters.letters import DeadLetter
from streams.errors import ProcessingFailed
from streams.intake.admission import admit
from streams.logging import get_logger
from streams.messages import Admitted, Source
from streams.monitoring import metrics
from streams.outbox import Outbox

if TYPE_CHECKING:
    from streams.app import Pipeline

log = get_logger(__name__)
# Input records are admitted in groups: the admitted events of a group leave as one batch
# record per partition of the references topic (streams/messages.py).
TAKE = 1_000
WITHIN_S = 0.05


# Headers are whatever the publisher sent: the file name is cut to the store's column,
# and a line number that is not one (or does not fit Avro's int) is dropped.
MAX_FILE = 500


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers.items() if isinstance(headers, dict) else headers or ():
        if key == name and value is not None:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return text[:MAX_FILE]
    return None


def source_of(message: Any) -> Source:
    line = _header(message.headers, "source-line")
    number = int(line) if line and line.isascii() and line.isdigit() and len(line) < 10 else None
    return Source(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        file=_header(message.headers, "source-file"),
        line=number,
    )


def register(p: Pipeline) -> None:
    inputs = p.app.topic(
        *p.names.inputs,
        key_serializer="raw",
        value_serializer="raw",
        partitions=p.settings.partitions,
    )

    @p.app.agent(inputs, name="admit_events")
    async def admit_events(stream: Any) -> None:
        await each_batch(stream, TAKE, WITHIN_S, admit_batch)

    async def admit_batch(events: Events) -> None:
        out = Outbox(p)
        now = datetime.now(UTC)
        for event in events:
            source = source_of(event.message)
            raw = event.message.value or b""
            try:
                result = admit(raw, source, p.store, p.org, now)
            except Exception as e:
                log.exception("event_failed", event_id=source.event_id)
                result = DeadLetter.of(ProcessingFailed(f"{type(e).__name__}: {e}"), source, raw)
            agency = result.record.get("agency") if isinstance(result, Admitted) else None
            metrics.events_consumed(source.topic or "", str(agency) if agency else None)
            if isinstance(result, Admitted):
                out.to(p.references, result.alias, result)
            else:
                log.info("dead_lettered", event_id=source.event_id, error=str(result.code))
                out.letter(result)
        await out.flush()
