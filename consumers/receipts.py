"""The receipts consumer: status receipts to each referring agency, on ``receipts.<agency>``.

It reads what the pipeline already emits (case snapshots and dead letters), outside the
Faust worker in a consumer group of its own, and sends each referral's new steps
(consumers/receipt_rules.py). For each polled batch it sends the receipts not sent before,
waits for every acknowledgement, records them in SQL, and only then commits its offsets:
a crash before the SQL commit sends the same receipts again under the same receipt ids,
a crash after it re-reads snapshots that give nothing new.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.receipt_rules import Step, step_from_dead_letter, steps_from_snapshot, to_record
from consumers.receipt_store import record_sent, unsent
from schemas.codec import CodecError, SchemaStore, default_store
from schemas.registry import value_subject
from streams.errors import RetryableError
from streams.logging import get_logger
from streams.settings import kafka_security
from streams.topics import DEFAULT, Topics

log = get_logger(__name__)


class ReceiptsConsumer:
    def __init__(
        self,
        bootstrap: str,
        engine: Engine,
        *,
        store: SchemaStore | None = None,
        security: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        group: str | None = None,
        names: Topics = DEFAULT,
    ) -> None:
        self.engine = engine
        self.names = names
        self.store = store or default_store()
        self.clock = clock
        security = kafka_security() if security is None else security
        try:
            self.consumer = KafkaConsumer(
                *names.outputs,
                bootstrap_servers=bootstrap,
                group_id=group or names.receipts_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
                max_poll_records=500,
                **security,
            )
            self.producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", linger_ms=5, **security
            )
        except KafkaError as e:
            raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e
        self._stop = threading.Event()
        self.sent = 0

    def poll_once(self, timeout_ms: int = 200) -> int:
        """Send the receipts one polled batch gives and commit; returns the records seen."""
        seen = 0
        steps: list[Step] = []
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                seen += 1
                steps += self._steps(record)
        if not seen:
            return 0
        with Session(self.engine) as session, session.begin():
            new = unsent(session, steps)
            now = self.clock()
            self._send(new, now)
            record_sent(session, new, now)
        self.consumer.commit()
        self.sent += len(new)
        return seen

    def _steps(self, record: Any) -> list[Step]:
        try:
            decoded = self.store.decode(record.value)
        except CodecError as e:
            log.error("output_undecodable", topic=record.topic, offset=record.offset, error=str(e))
            return []
        if decoded.name == "CaseSnapshot":
            return steps_from_snapshot(decoded.record)
        if decoded.name == "DeadLetter":
            step = step_from_dead_letter(decoded.record, self.store)
            return [] if step is None else [step]
        return []

    def _send(self, steps: list[Step], now: datetime) -> None:
        futures = []
        for step in steps:
            topic = self.names.receipts[step["agency"]]
            futures.append(
                self.producer.send(
                    topic, key=step["referral_id"].encode(), value=self._encode(topic, step, now)
                )
            )
        self.producer.flush()
        for future in futures:
            future.get(timeout=60)  # a failure rolls the SQL back; the batch is read again

    def _encode(self, topic: str, step: Step, now: datetime) -> bytes:
        record = to_record(step, now)
        if self.store.registry is not None:
            # partners on Confluent tooling read receipts with AvroDeserializer
            return self.store.encode_confluent(
                "ReferralReceipt", record, value_subject(topic), check=False
            )
        return self.store.encode("ReferralReceipt", record, check=False)

    def run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
        self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()
