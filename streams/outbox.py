"""What one step of an agent sends, gathered and sent together.

Internal messages are grouped into one batch record per topic and partition (see
streams/messages.py); case snapshots and dead letters go one record each, Avro-encoded, to
the output topics partners and the SQL sink read.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from schemas.jsonl import record_from_json
from streams.cases.snapshots import to_avro
from streams.deadletters.letters import DeadLetter, Refused
from streams.errors import ProcessingFailed, Rejected
from streams.logging import get_logger
from streams.messages import Admitted, encode_batch, partition_of
from streams.monitoring import metrics

if TYPE_CHECKING:
    from streams.app import Pipeline

log = get_logger(__name__)
S = TypeVar("S")
M = TypeVar("M")
# A failure's reason stays well inside the dead-letter table's reason column.
REASON_CHARS = 1_000
# A batch record stays well below the brokers' default 1 MB message limit.
BATCH_BYTES = 256 * 1024


class Outbox:
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self._batches: dict[tuple[Any, int], list[Any]] = defaultdict(list)
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._letters: list[DeadLetter] = []

    def to(self, topic: Any, key: str, message: Any) -> None:
        """Address ``message`` by its key on an internal topic."""
        partition = partition_of(key, self.p.settings.partitions)
        self._batches[(topic, partition)].append(message)

    def everywhere(self, topic: Any, message: Any) -> None:
        """``message`` to every partition of an internal topic."""
        for partition in range(self.p.settings.partitions):
            self._batches[(topic, partition)].append(message)

    def snapshot(self, snapshot: dict[str, Any]) -> None:
        # Within one step only a case's last snapshot matters: it has the highest group_seq.
        self._snapshots[snapshot["case_id"]] = snapshot

    def letter(self, letter: DeadLetter) -> None:
        metrics.dead_lettered(str(letter.code))
        self._letters.append(letter)

    def refused(self, refused: Refused) -> None:
        """An event refused after the door: its record encoded again is the letter's raw."""
        if not refused.repeat:
            metrics.dead_lettered(str(refused.code))
        name, record = record_from_json(dict(refused.record), self.p.store)
        self._letters.append(refused.letter(self.p.store.encode(name, record, check=False)))

    def isolate(
        self, step: Callable[[str, S | None, M], S | None]
    ) -> Callable[[str, S | None, M], S | None]:
        """``step`` made safe for one poison message: if it raises, the message (when it
        is an event) is dead-lettered — with the step's own reason when it refused the
        event, as failed when it broke — the key's entry is left as it was, and the rest of
        the batch goes on."""

        def guarded(key: str, entry: S | None, message: M) -> S | None:
            try:
                return step(key, entry, message)
            except Rejected as e:
                log.warning("event_refused", key=key[:12], error=str(e.code))
                error: Rejected = e
            except Exception as e:
                log.exception("event_failed", key=key[:12], message=type(message).__name__)
                error = ProcessingFailed(f"{type(e).__name__}: {e}"[:REASON_CHARS])
            if isinstance(message, Admitted):
                self.refused(Refused.of(error, message.event_id, message.source, message.record))
            return None

        return guarded

    async def flush(self, *, delivered: bool = False) -> None:
        """Hand everything to the producer; with ``delivered``, wait until the broker has
        the internal messages too (for a step whose state must not get ahead of them)."""
        pending = []
        for (topic, partition), messages in self._batches.items():
            for chunk in _chunks(messages):
                pending.append(await topic.send(value=chunk, partition=partition))
        if delivered:
            await asyncio.gather(*pending)
        for snapshot in self._snapshots.values():
            await self.p.snapshots.send(
                key=snapshot["group_key"].encode(),
                value=self.p.store.encode("CaseSnapshot", to_avro(snapshot), check=False),
            )
        now = datetime.now(UTC)
        for letter in self._letters:
            await self.p.deadletters.send(
                key=letter.key.encode(),
                value=self.p.store.encode("DeadLetter", letter.to_avro(now), check=False),
            )
        self._batches.clear()
        self._snapshots.clear()
        self._letters.clear()


def _chunks(messages: list[Any]) -> list[bytes]:
    """The messages as batch records of at most about BATCH_BYTES each, order kept."""
    encoded = encode_batch(messages)
    if len(encoded) <= BATCH_BYTES or len(messages) == 1:
        return [encoded]
    half = len(messages) // 2
    return [*_chunks(messages[:half]), *_chunks(messages[half:])]
