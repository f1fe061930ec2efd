"""The Faust application: configuration, topics, tables, and the agents of each step.

``build_app`` is a factory rather than a module-level app so that settings are read once
by the caller (CLI, tests) and several apps can live in one test process.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from schemas.codec import SchemaStore, default_store
from streams import consumer, topics
from streams.organisation import Organisation, load_organisation
from streams.policy import Policy
from streams.scorecards.rubric import load_rubric
from streams.security import faust_broker_config
from streams.settings import Settings
from streams.state.archive import Archive
from streams.state.database import connect


@dataclass
class Pipeline:
    """What every agent needs: settings, the organisation, the codec, the topics and the
    archive of the state that left memory."""

    app: faust.App
    settings: Settings
    org: Organisation
    policy: Policy
    store: SchemaStore
    archive: Archive
    names: topics.Topics
    references: Any
    groups: Any
    numbering: Any
    snapshots: Any
    deadletters: Any


def build_app(settings: Settings, bootstrap: str, *, exact_end_offsets: bool = True) -> Pipeline:
    """The configured app with every agent registered; nothing connects until it starts."""
    conf: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "store": "memory://",
        # Faust creates its data folder even for memory tables; keep it out of the cwd.
        "datadir": Path(tempfile.gettempdir()) / f"referrals-faust-{settings.app_id}",
        "key_serializer": "json",
        "value_serializer": "json",
        "topic_partitions": settings.partitions,
        # the changelogs Faust creates; their min.insync.replicas is the broker's default
        "topic_replication_factor": settings.replication_factor,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        # Faust's first rebalance waits half of this; its 60 s default kept a worker on the
        # embedded broker idle for ~31 s before its first event (docs/measured.md).
        "broker_rebalance_timeout": settings.rebalance_timeout,
        "broker_session_timeout": settings.rebalance_timeout,
        "broker_heartbeat_interval": 1.0,
        "broker_commit_interval": 0.5,
        "web_enabled": False,
        "producer_acks": -1,
        # Batches of events arrive as one record each (streams/messages.py); a deeper
        # buffer and bigger polls keep the agents fed from the inputs.
        "stream_buffer_maxsize": 16_384,
        "broker_max_poll_records": 2_000,
        "producer_linger": 0.005,
    }
    conf.update(faust_broker_config(settings))
    app = faust.App(settings.app_id, **conf)
    consumer.install(app, exact_end_offsets=exact_end_offsets)

    def internal(name: str) -> Any:
        return app.topic(
            name, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
        )

    names = topics.Topics.of(settings)
    references, groups, numbering = names.internal
    rubric = load_rubric(settings.rubric)
    pipeline = Pipeline(
        app=app,
        settings=settings,
        org=load_organisation(settings.org),
        policy=Policy(
            merge_window=rubric.merge_window, major_threshold_fen=rubric.major_threshold_fen
        ),
        store=default_store(),
        archive=Archive(connect(settings.db)),
        references=internal(references),
        groups=internal(groups),
        numbering=internal(numbering),
        snapshots=internal(names.snapshots),
        deadletters=internal(names.deadletters),
        names=names,
    )
    from streams.cases import agents as case_agents
    from streams.dedup import agents as dedup_agents
    from streams.intake import agents as intake_agents

    intake_agents.register(pipeline)
    dedup_agents.register(pipeline)
    case_agents.register(pipeline)
    return pipeline
