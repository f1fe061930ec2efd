"""The Faust application: configuration, topics, tables, and the agents of each step.

``build_app`` is a factory rather than a module-level app so that settings are read once
by the caller (CLI, tests) and several apps can live in one test process.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust

from schemas.codec import SchemaStore, default_store
from streams import offsets, topics
from streams.deadletters.letters import letter_key, to_avro
from streams.organisation import Organisation, load_organisation
from streams.policy import Policy
from streams.scorecards.rubric import load_rubric
from streams.security import faust_broker_config
from streams.settings import Settings

# Changelog records in batches of their own: the embedded broker's ListOffsets answers
# the last batch's base offset + 1, which is the true end only when batches hold one record.
SINGLE_RECORD_BATCH_BYTES = 1


@dataclass
class Pipeline:
    """What every agent needs: settings, the organisation, the codec and the topics."""

    app: faust.App
    settings: Settings
    org: Organisation
    policy: Policy
    store: SchemaStore
    references: Any
    groups: Any
    numbering: Any
    snapshots: Any
    deadletters: Any

    async def send_dead_letters(self, letters: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        for letter in letters:
            await self.deadletters.send(
                key=letter_key(letter),
                value=self.store.encode("DeadLetter", to_avro(letter, now)),
            )

    async def broadcast(self, topic: Any, message: dict[str, Any]) -> None:
        """Send a control message to every partition of ``topic``."""
        for partition in range(self.settings.partitions):
            await topic.send(key=b"control", value=message, partition=partition)


def build_app(
    settings: Settings, bootstrap: str, *, single_record_batches: bool = False
) -> Pipeline:
    """The configured app with every agent registered; nothing connects until it starts."""
    conf: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "store": "memory://",
        # Faust creates its data folder even for memory tables; keep it out of the cwd.
        "datadir": Path(tempfile.gettempdir()) / f"referrals-faust-{settings.app_id}",
        # tables keep str keys and dict values, through their changelogs too
        "key_serializer": "json",
        "value_serializer": "json",
        "topic_partitions": settings.partitions,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        # Faust's first rebalance waits half of this; its 60 s default kept a worker on the
        # embedded broker idle for ~31 s before its first event (MEASURED.md).
        "broker_rebalance_timeout": settings.rebalance_timeout,
        "broker_session_timeout": settings.rebalance_timeout,
        "broker_heartbeat_interval": 1.0,
        "broker_commit_interval": 0.5,
        "web_enabled": False,
        "producer_acks": -1,
    }
    if single_record_batches:
        conf["producer_max_batch_size"] = SINGLE_RECORD_BATCH_BYTES
    conf.update(faust_broker_config(settings))
    app = faust.App(settings.app_id, **conf)

    def internal(name: str) -> Any:
        return app.topic(
            name,
            key_serializer="raw",
            value_serializer="json",
            partitions=settings.partitions,
        )

    def output(name: str) -> Any:
        return app.topic(
            name, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
        )

    rubric = load_rubric(settings.rubric)
    pipeline = Pipeline(
        app=app,
        settings=settings,
        org=load_organisation(settings.org),
        policy=Policy(
            merge_window=rubric.merge_window, major_threshold_fen=rubric.major_threshold_fen
        ),
        store=default_store(),
        references=internal(topics.REFERENCES),
        groups=internal(topics.GROUPS),
        numbering=internal(topics.NUMBERING),
        snapshots=output(topics.SNAPSHOTS),
        deadletters=output(topics.DEADLETTERS),
    )
    from streams.cases import agents as case_agents
    from streams.dedup import agents as dedup_agents
    from streams.intake import agents as intake_agents

    offsets.install()
    offsets.guard(app)
    intake_agents.register(pipeline)
    dedup_agents.register(pipeline)
    case_agents.register(pipeline)
    return pipeline
