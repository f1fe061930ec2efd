"""What deploy/ relies on, against real brokers: compose's three brokers keeping every
acknowledged write with one of them down, topic configs reaching the cluster, a bootstrap
list of several brokers, and the dead-letter replay landing where letters came from."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import InvalidReplicationFactorError, NotEnoughReplicasError

from consumers.cluster import ensure_topics
from runtime.embedded import free_loopback_port
from streams import topics
from streams.end_offsets import broker_answers
from streams.topics import Topics
from tests.support.deploy import brokers, compose, replay_script
from tests.support.kafka_cluster import KafkaCluster

pytestmark = pytest.mark.integration
replay = replay_script()


def _topic_configs(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """The configs a topic sets itself (Kafka's filter Modified: no broker defaults)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return dict(described["topic"][topic])


def _copies(bootstrap: str, names: list[str], within: float = 30.0) -> set[tuple[int, int]]:
    """(replicas, in sync) of every partition of ``names``, once the cluster describes
    them all: just after their creation a broker may answer before it knows them (CI once
    saw no partition at all), and a follower may not have joined the ISR yet."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + within
    try:
        while True:
            described = admin.describe_topics(names)
            copies = {
                (len(p["replica_nodes"]), len(p["isr_nodes"]))
                for t in described
                for p in t["partitions"]
            }
            listed = all(t["partitions"] for t in described) and len(described) == len(names)
            if (listed and copies == {(3, 3)}) or time.monotonic() > deadline:
                return copies
            time.sleep(0.5)
    finally:
        admin.close()


def _write_everywhere(bootstrap: str, topic: str, partitions: int, retries: int = 60) -> None:
    """One record with acks=all to each partition; raises what the brokers answer last
    (retries ride out a leader moving, as the project's producers do: on a loaded 2-core
    machine a new leader can take seconds, more than five retries 100 ms apart)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", retries=retries, retry_backoff_ms=250
    )
    try:
        for partition in range(partitions):
            producer.send(topic, b"x", partition=partition).get(timeout=30)
    finally:
        producer.close(timeout=5)


def test_compose_brokers_keep_every_write_with_one_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three nodes set up as compose.yaml's brokers, topics created with its workers'
    settings: every partition has 3 replicas in sync and min ISR 2; acks=all writes go
    on with one broker stopped and are refused, not kept on one copy, with two stopped."""
    services = compose()["services"]
    env = services["worker"]["environment"]
    for name in ("REFERRALS_REPLICATION_FACTOR", "REFERRALS_MIN_INSYNC_REPLICAS"):
        monkeypatch.setenv(name, env[name])
    partitions = int(env["REFERRALS_PARTITIONS"])
    with KafkaCluster(services["kafka-1"]["environment"], nodes=len(brokers(services))) as cluster:
        ensure_topics(cluster.bootstrap, partitions, Topics("referrals"))
        assert _copies(cluster.bootstrap, Topics("referrals").every()) == {(3, 3)}
        assert (
            _topic_configs(cluster.bootstrap, topics.SNAPSHOTS)["min.insync.replicas"]["value"]
            == "2"
        )
        housing = topics.REFERRAL_TOPICS["HOUSING"]
        _write_everywhere(cluster.bootstrap, housing, partitions)
        cluster.stop_node(3)
        _write_everywhere(cluster.bootstrap, housing, partitions)
        cluster.stop_node(2)
        with pytest.raises(NotEnoughReplicasError):
            _write_everywhere(cluster.bootstrap, housing, partitions, retries=0)


def test_ensure_topics_sets_min_isr_on_the_cluster(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The min.insync.replicas a process is set to reaches Apache Kafka as the topics' own
    config; unset, a topic sets none and takes the broker's."""
    app_id = f"durable-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("REFERRALS_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("REFERRALS_MIN_INSYNC_REPLICAS", "1")
    ensure_topics(kafka_bootstrap, 2, Topics(app_id))
    own = _topic_configs(kafka_bootstrap, f"{app_id}.groups")
    assert own["min.insync.replicas"]["value"] == "1"
    monkeypatch.delenv("REFERRALS_MIN_INSYNC_REPLICAS")
    ensure_topics(kafka_bootstrap, 2, Topics(f"{app_id}-default"))
    assert "min.insync.replicas" not in _topic_configs(kafka_bootstrap, f"{app_id}-default.groups")


def test_more_replicas_than_brokers_are_refused(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three replicas asked of a one-broker cluster are refused by Kafka rather than
    created short of replicas."""
    app_id = f"short-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("REFERRALS_REPLICATION_FACTOR", "3")
    with pytest.raises(InvalidReplicationFactorError):
        ensure_topics(kafka_bootstrap, 2, Topics(app_id))


def test_a_bootstrap_list_answers_when_one_broker_does(tansu_bootstrap: str) -> None:
    """kafka://down:port,up:port counts as reachable; a list of dead brokers does not."""
    dead = f"127.0.0.1:{free_loopback_port()}"
    assert broker_answers(f"{dead},{tansu_bootstrap}")
    assert not broker_answers(f"{dead},127.0.0.1:{free_loopback_port()}")


def _letter(
    event_id: str, code: str, topic: str | None, partition: int | None
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "error": code,
        "source_topic": topic,
        "source_partition": partition,
        "raw_base64": base64.b64encode(f"raw of {event_id}".encode()).decode(),
    }


def test_replay_sends_each_chosen_letter_to_its_partition(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The letters of the chosen code go back, byte for byte, to the partition they came
    from; others, and letters of batch files, stay where they are."""
    topic = f"replay-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    letters = [
        _letter("a", "unmatched", topic, 2),
        _letter("b", "schema", topic, 1),
        _letter("c", "unmatched", topic, 0),
        _letter("d", "unmatched", None, None),
    ]
    monkeypatch.setenv("REFERRALS_BROKER", f"kafka://{kafka_bootstrap}")
    stdin = io.StringIO(json.dumps(letters))
    assert replay.main(["--code", "unmatched"], stdin=stdin) == 0
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=5_000)
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    consumer.seek_to_beginning()
    landed = {(m.partition, m.value) for m in consumer}
    consumer.close()
    assert landed == {(2, b"raw of a"), (0, b"raw of c")}
