"""The SQL sink: case snapshots and dead letters from Kafka into the SQL store.

Offsets are committed only after the database transaction that stored the batch, so a
crash replays the batch, and the store's upserts make the replay change nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.store import apply_dead_letters, apply_snapshots
from schemas.codec import CodecError, SchemaStore, default_store, short_name
from streams import topics
from streams.errors import RetryableError
from streams.logging import get_logger
from streams.settings import kafka_security

GROUP = "referrals-sql-sink"
log = get_logger(__name__)


class SqlSink:
    def __init__(self, bootstrap: str, engine: Engine, store: SchemaStore | None = None) -> None:
        self.engine = engine
        self.store = store or default_store()
        try:
            self.consumer = KafkaConsumer(
                topics.SNAPSHOTS,
                topics.DEADLETTERS,
                bootstrap_servers=bootstrap,
                group_id=GROUP,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
                max_poll_records=1000,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
                **kafka_security(),
            )
        except KafkaError as e:
            raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e
        self._stop = threading.Event()
        self.stored = 0

    def poll_once(self, timeout_ms: int = 200) -> int:
        """Store one polled batch and commit its offsets; returns the records seen."""
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        snapshots: list[dict[str, Any]] = []
        letters: list[tuple[str, dict[str, Any]]] = []
        seen = 0
        for records in batches.values():
            for record in records:
                seen += 1
                try:
                    decoded = self.store.decode(record.value)
                except CodecError as e:
                    # Our own outputs: unreadable means a bug upstream, not bad input.
                    log.error(
                        "output_undecodable", topic=record.topic, offset=record.offset, error=str(e)
                    )
                    continue
                if short_name(decoded.name) == "CaseSnapshot":
                    snapshots.append(decoded.record)
                elif short_name(decoded.name) == "DeadLetter":
                    key = record.key.decode() if record.key else decoded.record["event_id"]
                    letters.append((key, decoded.record))
        if seen:
            with Session(self.engine) as session, session.begin():
                self.stored += apply_snapshots(session, snapshots)
                self.stored += apply_dead_letters(session, letters)
            self.consumer.commit()
        return seen

    def run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
        self.consumer.close()

    def stop(self) -> None:
        self._stop.set()
