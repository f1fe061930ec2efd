"""Agent of step 1: admit input records or dead-letter them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from streams import topics
from streams.intake.admission import Admitted, Source, admit
from streams.logging import get_logger

if TYPE_CHECKING:
    from streams.app import Pipeline

log = get_logger(__name__)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers.items() if isinstance(headers, dict) else headers or ():
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def register(p: Pipeline) -> None:
    inputs = p.app.topic(
        *topics.INPUTS,
        key_serializer="raw",
        value_serializer="raw",
        partitions=p.settings.partitions,
    )

    @p.app.agent(inputs, name="admit_events")
    async def admit_events(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            line = _header(message.headers, "source-line")
            source = Source(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                file=_header(message.headers, "source-file"),
                line=int(line) if line else None,
            )
            result = admit(message.value or b"", source, p.store, p.org, datetime.now(UTC))
            if isinstance(result, Admitted):
                await p.references.send(key=result.alias.encode(), value=result.message)
            else:
                log.info("dead_lettered", event_id=source.event_id, error=result["error"])
                await p.send_dead_letters([result])
