"""Topics are created with the replicas and min.insync.replicas the settings ask for, and
the embedded broker's defaults stay one replica and no topic config."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import NewTopic

from consumers import cluster
from streams import topics
from streams.errors import ConfigurationError
from streams.settings import Settings
from streams.topics import Topics


class RecordingAdmin:
    """The two calls ensure_topics makes of a KafkaAdminClient, on a cluster that already
    has ``existing``."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.created: list[NewTopic] = []

    def list_topics(self) -> list[str]:
        return sorted(self.existing)

    def create_topics(self, new: list[NewTopic]) -> None:
        self.created += new

    def close(self) -> None:
        pass


def _ensure(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], existing: set[str]) -> Any:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    admin = RecordingAdmin(existing)
    monkeypatch.setattr(cluster, "_admin", lambda bootstrap: admin)
    cluster.ensure_topics("kafka-1:9092", 12, Topics("city"))
    return admin


def test_missing_topics_get_the_configured_replicas_and_min_isr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With RF 3 and min ISR 2 set, every missing topic of the pipeline is created with 12
    partitions, 3 replicas and min.insync.replicas=2; existing ones are left alone."""
    env = {"REFERRALS_REPLICATION_FACTOR": "3", "REFERRALS_MIN_INSYNC_REPLICAS": "2"}
    admin = _ensure(monkeypatch, env, {topics.SNAPSHOTS})
    created = {t.name: t for t in admin.created}
    assert set(created) == set(Topics("city").every()) - {topics.SNAPSHOTS}
    assert {"city.references", "city.groups", "city.numbering"} <= set(created)
    for topic in created.values():
        assert (topic.num_partitions, topic.replication_factor) == (12, 3)
        assert topic.topic_configs == {"min.insync.replicas": "2"}


def test_unset_the_topics_keep_one_replica_and_the_brokers_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the settings (the embedded broker, the tests) a topic has one replica and
    no topic config of its own."""
    monkeypatch.delenv("REFERRALS_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("REFERRALS_MIN_INSYNC_REPLICAS", raising=False)
    admin = _ensure(monkeypatch, {}, set())
    assert admin.created
    assert {(t.replication_factor, str(t.topic_configs)) for t in admin.created} == {(1, "{}")}


@pytest.mark.parametrize(
    ("replicas", "min_isr", "named"),
    [(3, 4, "MIN_INSYNC_REPLICAS"), (2, 0, "MIN_INSYNC_REPLICAS"), (0, None, "REPLICATION")],
)
def test_impossible_durability_is_refused_naming_the_variable(
    replicas: int, min_isr: int | None, named: str
) -> None:
    """A min ISR above the replicas (no acks=all write could succeed), below 1, or no
    replica at all is a configuration error that names the variable to fix."""
    settings = Settings(replication_factor=replicas, min_insync_replicas=min_isr)
    with pytest.raises(ConfigurationError, match=f"REFERRALS_{named}"):
        settings.topic_configs()
