"""A batch an agent does not finish is processed again, not committed unprocessed
(streams/batches.py), shown on a real Faust worker and Apache Kafka.

Faust's ``Stream.take_events`` acks a batch in a ``finally`` around its ``yield``: when the
agent crashes on a batch (or is cancelled in the middle of one), the batch is acked all the
same and the next commit covers it. Here the agent crashes on the first batch it takes;
Faust restarts it.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from consumers.cluster import committed_offsets
from tests.support.faust_worker import faust_worker

pytestmark = pytest.mark.integration

RECORDS = 50
LATER = 5  # published once the agent has crashed: the record after the abandoned batch

APP = """
    import os
    import faust

    app = faust.App(
        os.environ["APP_ID"], broker="kafka://" + os.environ["BOOTSTRAP"], store="memory://",
        topic_partitions=1, web_enabled=False, broker_commit_interval=0.5,
        datadir=os.environ["OUT"] + ".data",
    )
    records = app.topic(os.environ["TOPIC"], value_type=bytes, value_serializer="raw")
    crashed = os.environ["OUT"] + ".crashed"

    async def handle(events):
        if not os.path.exists(crashed):
            open(crashed, "w").close()
            raise RuntimeError("the agent crashes on its first batch")
        with open(os.environ["OUT"], "a") as out:
            out.writelines(event.value.decode() + "\\n" for event in events)

    if os.environ["TAKE"] == "project":
        from streams import consumer
        from streams.batches import each_batch
        consumer.install(app, exact_end_offsets=True)

        @app.agent(records)
        async def note(stream):
            await each_batch(stream, 1000, 0.5, handle)
    else:
        @app.agent(records)
        async def note(stream):
            async for events in stream.take_events(1000, within=0.5):
                await handle(events)
"""


def _crash_on_first_batch(bootstrap: str, tmp_path: Path, take: str) -> tuple[set[str], int]:
    """Publish RECORDS, let the agent crash on them, publish LATER more; what the worker
    processed within a while, and the group's committed offset."""
    app_id, topic = f"abandon-{uuid.uuid4().hex[:8]}", f"abandon-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for value in range(RECORDS):
        producer.send(topic, str(value).encode())
    producer.flush()

    out = tmp_path / "processed.txt"
    env = {**os.environ, "APP_ID": app_id, "BOOTSTRAP": bootstrap, "TOPIC": topic}
    env.update(OUT=str(out), TAKE=take, PYTHONPATH=os.getcwd())
    log = tmp_path / "worker.log"
    every = {str(v) for v in range(RECORDS + LATER)}
    with faust_worker(tmp_path, "abandonapp", APP, env) as worker:
        deadline = time.monotonic() + 60
        while not Path(f"{out}.crashed").exists():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        time.sleep(2.0)  # the agent restarted, commits went on
        for value in range(RECORDS, RECORDS + LATER):
            producer.send(topic, str(value).encode())
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 20
        processed: set[str] = set()
        while not every <= processed and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
            processed = set(out.read_text().split()) if out.exists() else set()
        time.sleep(1.5)  # a commit interval or two
        committed = committed_offsets(bootstrap, app_id).get(TopicPartition(topic, 0), 0)
    return processed, committed


def test_a_batch_an_agent_crashed_on_is_processed(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The worker's batches: the crashed-on batch stays unacked, is fetched again, and
    every record is processed before the group commits past it."""
    processed, committed = _crash_on_first_batch(kafka_bootstrap, tmp_path, "project")
    assert processed == {str(v) for v in range(RECORDS + LATER)}
    assert committed == RECORDS + LATER


def test_faust_take_events_commits_it_unprocessed(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The same crash with Faust's own ``take_events``: the later records are processed,
    the crashed-on batch never is, and it is committed (the fault streams/batches.py
    exists for; if this starts failing, faust-streaming fixed it)."""
    processed, committed = _crash_on_first_batch(kafka_bootstrap, tmp_path, "faust")
    assert {str(v) for v in range(RECORDS, RECORDS + LATER)} <= processed
    assert not processed & {str(v) for v in range(RECORDS)}
    assert committed == RECORDS + LATER
