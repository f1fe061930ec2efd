"""A broker's true end offsets, and whether it answers at all.

The embedded broker (Tansu) answers ListOffsets(latest) with the last batch's base offset + 1
instead of the log end (docs/measured.md), so "has everything been processed?" must compare
against the high watermark of a real fetch response: `log_end_offsets` does that,
`probe_end_offsets` shows whether a broker has the bug.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from streams.errors import BrokerError, BrokerUnreachable
from streams.settings import kafka_security


def broker_answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """Whether the cluster at `host:port[,host:port...]` answers a Kafka metadata request
    within about `timeout` seconds (one broker of several answering is enough)."""
    # a refused connect fails at once, where a Kafka client would wait out its timeout
    if not any(_accepts(address, min(timeout, 0.5)) for address in bootstrap.split(",")):
        return False
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=max(1000, int(timeout * 1000)),
            **kafka_security(),
        )
    except (KafkaError, OSError):
        return False
    try:
        consumer.topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        consumer.close()


def _accepts(address: str, timeout: float) -> bool:
    host, port = address.strip().rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class EndOffsetProbe:
    records_written: int
    list_offsets_end: int
    fetch_high_watermark: int
    exact: bool


def _consumer(bootstrap: str, timeout: float) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            # a metadata request must not create the topic it asks about
            allow_auto_create_topics=False,
            **kafka_security(),
            fetch_max_wait_ms=50,
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as exc:
        raise BrokerUnreachable(f"broker {bootstrap} unreachable: {exc}") from exc


def _high_watermarks(
    consumer: KafkaConsumer, seek_to: dict[TopicPartition, int], timeout: float
) -> dict[TopicPartition, int]:
    consumer.assign(list(seek_to))
    for tp, offset in seek_to.items():
        consumer.seek(tp, offset)
    found: dict[TopicPartition, int] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(seek_to):
        if time.monotonic() > deadline:
            missing = sorted(set(seek_to) - set(found))
            raise BrokerError(f"no fetch response for {missing} within {timeout:g} s")
        consumer.poll(timeout_ms=100)
        for tp in seek_to.keys() - found.keys():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                found[tp] = int(highwater)
                consumer.pause(tp)  # one response is all we need; stop re-fetching it
    return found


def log_end_offsets(
    bootstrap: str, topics: Iterable[str], *, timeout: float = 10.0
) -> dict[TopicPartition, int]:
    """The true end offset of every partition of `topics`, from fetch high watermarks."""
    consumer = _consumer(bootstrap, timeout)
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise BrokerError(f"topic {topic!r} does not exist on {bootstrap}")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        return _true_ends(consumer, partitions, timeout)
    finally:
        consumer.close()


def true_end_offsets(
    bootstrap: str, partitions: Iterable[Any], *, timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """The true end offsets of the given partitions (anything with ``topic`` and
    ``partition``), by (topic, partition)."""
    consumer = _consumer(bootstrap, timeout)
    try:
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        return {
            (tp.topic, tp.partition): end
            for tp, end in _true_ends(consumer, wanted, timeout).items()
        }
    finally:
        consumer.close()


def _true_ends(
    consumer: KafkaConsumer, partitions: list[TopicPartition], timeout: float
) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    # Fetch from just below the (possibly low) ListOffsets answer: the response then holds
    # one record batch at most, instead of the whole log, and never waits for data.
    begin = consumer.beginning_offsets(partitions)
    listed = consumer.end_offsets(partitions)
    seek_to = {tp: max(int(begin[tp]), int(listed[tp]) - 1) for tp in partitions}
    return _high_watermarks(consumer, seek_to, timeout)


def probe_end_offsets(
    bootstrap: str, *, records: int = 10, timeout: float = 10.0
) -> EndOffsetProbe:
    """Write one multi-record batch to a fresh topic and compare ListOffsets with the fetch."""
    topic = f"_probe-end-offsets-{uuid.uuid4().hex[:12]}"
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **kafka_security()
        )
    except KafkaError as exc:
        raise BrokerUnreachable(f"broker {bootstrap} unreachable: {exc}") from exc
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        # linger far above the time the sends take, so all records travel in one batch
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=200, acks="all", **kafka_security()
        )
        try:
            futures = [producer.send(topic, b"probe", partition=0) for _ in range(records)]
            producer.flush(timeout=timeout)
            for future in futures:
                future.get(timeout=timeout)
        finally:
            producer.close()
        tp = TopicPartition(topic, 0)
        consumer = _consumer(bootstrap, timeout)
        try:
            listed = int(consumer.end_offsets([tp])[tp])
            fetched = _high_watermarks(consumer, {tp: 0}, timeout)[tp]
        finally:
            consumer.close()
        return EndOffsetProbe(records, listed, fetched, exact=listed == fetched)
    finally:
        with contextlib.suppress(KafkaError):  # a leftover probe topic harms nothing
            admin.delete_topics([topic])
        admin.close()
