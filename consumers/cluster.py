"""Talking to the cluster as a whole: creating the topics, and telling whether every
consumer group has processed everything written so far.

End offsets come from fetch high watermarks (``log_end_offsets``), never ListOffsets:
the embedded broker answers ListOffsets with the last batch's base offset + 1.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams import topics
from streams.end_offsets import log_end_offsets
from streams.errors import RetryableError, Stalled
from streams.settings import Settings, kafka_security, topic_durability

Progress = Callable[[int, int], None]


def _admin(bootstrap: str) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kafka_security()
        )
    except KafkaError as e:
        raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e


def ensure_topics(bootstrap: str, partitions: int, app_id: str = Settings.app_id) -> None:
    """Create the topics of the pipeline ``app_id`` with ``partitions`` each, leaving
    existing ones be; replicas and topic configs from REFERRALS_REPLICATION_FACTOR and
    REFERRALS_MIN_INSYNC_REPLICAS."""
    replication, configs = topic_durability()
    admin = _admin(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs=configs,
            )
            for name in pipeline_topics(app_id)
            if name not in existing
        ]
        # another process may create them first
        with contextlib.suppress(TopicAlreadyExistsError):
            if missing:
                admin.create_topics(missing)
    finally:
        admin.close()


def pipeline_topics(app_id: str) -> list[str]:
    """Every topic of the pipeline ``app_id`` but Faust's own (its changelogs)."""
    return [
        *topics.INPUTS,
        *topics.internal(app_id),
        *topics.OUTPUTS,
        topics.SCORECARDS,
        topics.PENALTIES,
        *topics.RECEIPT_TOPICS.values(),
    ]


def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = _admin(bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    except KafkaError as e:
        if not e.retriable:
            raise
        # a fresh cluster's group coordinator is still loading: nothing counts as
        # committed yet, so the wait goes on rather than ending early
        return {}
    finally:
        admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def backlog(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Records written to the groups' topics that the groups have not yet committed, by
    ``group topic/partition``, for every partition behind.

    Committed offsets are read before end offsets: a record counted as processed was
    processed before anything it caused was written, so a zero is never premature.
    """
    committed = {group: committed_offsets(bootstrap, group) for group in groups}
    every_topic = sorted({t for names in groups.values() for t in names})
    ends = log_end_offsets(bootstrap, every_topic)
    behind: dict[str, int] = {}
    for group, names in groups.items():
        for tp, end in ends.items():
            lag = end - committed[group].get(tp, 0)
            if tp.topic in names and lag > 0:
                behind[f"{group} {tp.topic}/{tp.partition}"] = lag
    return behind


def wait_until_processed(
    bootstrap: str,
    groups: Mapping[str, Iterable[str]],
    *,
    timeout: float,
    progress: Progress | None = None,
    poll_interval: float = 0.25,
    stalled_after: float | None = None,
) -> None:
    """Block until two readings in a row find no backlog; raise RetryableError on timeout,
    or Stalled when the same partitions stay behind by the same counts that long."""
    deadline = time.monotonic() + timeout
    clear_readings = 0
    peak = 0
    unchanged_since, last = time.monotonic(), None
    while clear_readings < 2:
        lags = backlog(bootstrap, groups)
        behind = sum(lags.values())
        peak = max(peak, behind)
        if progress is not None:
            progress(peak - behind, peak)
        clear_readings = clear_readings + 1 if behind == 0 else 0
        now = time.monotonic()
        if lags != last:
            unchanged_since, last = now, lags
        worst = ", ".join(f"{k}: {v}" for k, v in sorted(lags.items())[:6])
        if stalled_after is not None and lags and now - unchanged_since > stalled_after:
            raise Stalled(f"no progress for {stalled_after:g} s ({worst})")
        if now > deadline:
            raise RetryableError(
                f"the pipeline still had {behind} records to process after {timeout:g} s ({worst})"
            )
        time.sleep(poll_interval)
