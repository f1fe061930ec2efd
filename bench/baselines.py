"""Figure 1's stream baselines, on a broker of the same kind as the figures compared with
them: raw aiokafka consume + Avro decode, and the minimal Faust agent (bench.faust_agent).

Both read the same records, the Avro values of the end-to-end input. The agent is timed
the way the pipeline is: started and fed one record until it answers, then from the first
publish until its output topic holds every answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from bench import faust_agent
from bench._pipeline import Broker, log_end_offsets, pipeline_settings, python_child
from consumers.publisher import Outgoing, Publisher
from schemas.codec import default_store
from streams.errors import RetryableError

STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class AgentRun:
    rate: float
    startup_s: float
    processed: int
    partial: bool


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        admin.close()


def _answered(bootstrap: str, profile: str) -> int:
    return sum(log_end_offsets(bootstrap, [faust_agent.sink_topic(profile)]).values())


def wait_for(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RetryableError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.2)


def faust_agent_rate(
    broker: Broker, records: list[Outgoing], profile: str, log_dir: Path, budget_s: float
) -> AgentRun:
    """Events/s of the minimal agent over ``records``, ``profile`` "project" or "defaults".
    Leaves the records on the agent's input topic for the aiokafka baseline."""
    settings = pipeline_settings(broker.kind, db="sqlite://")
    source = faust_agent.source_topic(profile)
    create_topics(broker.bootstrap, [source, faust_agent.sink_topic(profile)], settings.partitions)
    log_dir.mkdir(parents=True, exist_ok=True)
    agent = python_child(
        "bench.faust_agent", [broker.bootstrap, profile], settings, log_dir / f"faust-{profile}.log"
    )
    try:
        started = time.perf_counter()
        publisher = Publisher(broker.bootstrap)
        before = _answered(broker.bootstrap, profile)
        publisher.send([replace(records[0], topic=source)])
        wait_for(
            lambda: agent.poll() is None and _answered(broker.bootstrap, profile) > before,
            STARTUP_TIMEOUT_S,
            "the agent's first answer",
        )
        startup = time.perf_counter() - started
        first = time.perf_counter()
        publisher.send([replace(r, topic=source) for r in records])
        target = before + 1 + len(records)
        answered = _answered(broker.bootstrap, profile)
        while answered < target and time.perf_counter() - first < budget_s:
            time.sleep(0.2)
            answered = _answered(broker.bootstrap, profile)
        elapsed = time.perf_counter() - first
        processed = answered - before - 1
        publisher.close()
        return AgentRun(processed / elapsed, startup, processed, answered < target)
    finally:
        agent.terminate()
        agent.wait(timeout=30)


async def _consume_and_decode(bootstrap: str, topic: str, count: int, partitions: int) -> float:
    codec = default_store()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        decoded = 0
        started = time.perf_counter()
        while decoded < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for batch in batches.values():
                for record in batch:
                    codec.decode(record.value)
                    decoded += 1
        return decoded / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def aiokafka_rate(broker: Broker, count: int) -> float:
    """Records/s of a bare aiokafka consumer decoding the project agent's input topic (the
    records ``faust_agent_rate`` published) from its start."""
    partitions = pipeline_settings(broker.kind, db="sqlite://").partitions
    topic = faust_agent.source_topic("project")
    return asyncio.run(_consume_and_decode(broker.bootstrap, topic, count, partitions))
