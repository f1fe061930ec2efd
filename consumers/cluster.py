"""Talking to the cluster as a whole: creating the topics, and telling whether every
consumer group has processed everything written so far.

End offsets come from fetch high watermarks (``log_end_offsets``), never ListOffsets:
the embedded broker answers ListOffsets with the last batch's base offset + 1.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.end_offsets import log_end_offsets
from streams.errors import RetryableError, Stalled
from streams.settings import kafka_security, topic_durability
from streams.topics import DEFAULT, Topics

# Told the records still to process after each reading.
Progress = Callable[[int], None]


def _admin(bootstrap: str) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kafka_security()
        )
    except KafkaError as e:
        raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e


def ensure_topics(bootstrap: str, partitions: int, names: Topics = DEFAULT) -> None:
    """Create the topics of the pipeline ``names`` with ``partitions`` each, leaving
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
            for name in names.every()
            if name not in existing
        ]
        # another process may create them first
        with contextlib.suppress(TopicAlreadyExistsError):
            if missing:
                admin.create_topics(missing)
    finally:
        admin.close()


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


@dataclass(frozen=True)
class Position:
    """Where a consumer group stands on one partition: its committed offset, the log end."""

    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


Positions = dict[tuple[str, TopicPartition], Position]


def positions(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> Positions:
    """Every partition of every group's topics, by ``(group, partition)``.

    Committed offsets are read before end offsets: a record counted as processed was
    processed before anything it caused was written, so a zero lag is never premature.
    """
    committed = {group: committed_offsets(bootstrap, group) for group in groups}
    every_topic = sorted({t for names in groups.values() for t in names})
    ends = log_end_offsets(bootstrap, every_topic)
    return {
        (group, tp): Position(committed[group].get(tp, 0), end)
        for group, names in groups.items()
        for tp, end in ends.items()
        if tp.topic in names
    }


def place(group: str, tp: TopicPartition) -> str:
    return f"{group} {tp.topic}/{tp.partition}"


def backlog(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Records written to the groups' topics that the groups have not yet committed, by
    ``group topic/partition``, for every partition behind."""
    return {
        place(group, tp): at.lag
        for (group, tp), at in positions(bootstrap, groups).items()
        if at.lag > 0
    }


class PartitionsStalled(Stalled):
    """Consumer groups with records waiting that committed nothing for a while;
    ``groups`` names their partitions behind, by group."""

    def __init__(self, message: str, groups: Mapping[str, list[str]]) -> None:
        super().__init__(message)
        self.groups = dict(groups)


class StallWatch:
    """Successive readings of the groups' positions: how many records are left, and which
    groups stalled — records waiting, and not one of the group's committed offsets moved
    for ``after`` seconds. Only a commit counts as progress (a growing log end is new work,
    not work done), and any commit of the group does: one of its agents may rightly wait a
    while (on the SQL archive, say) while the others go on."""

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self.last: Positions = {}
        self._since: dict[str, float] = {}

    def observe(self, reading: Positions) -> None:
        now = self.clock()
        for group in {g for g, _ in reading}:
            mine = {key: at for key, at in reading.items() if key[0] == group}
            moved = any(
                key not in self.last or at.committed != self.last[key].committed
                for key, at in mine.items()
            )
            if moved or not any(at.lag for at in mine.values()):
                self._since[group] = now
            self._since.setdefault(group, now)
        self.last = dict(reading)

    def left(self, group: str | None = None) -> int:
        """Records still to process, by every group or by one."""
        return sum(at.lag for (g, _), at in self.last.items() if group in (None, g))

    def stalled(self) -> dict[str, list[str]]:
        """The partitions of each stalled group that have records waiting, as
        ``topic/partition: records``."""
        now = self.clock()
        return {
            group: [
                f"{tp.topic}/{tp.partition}: {at.lag}"
                for (g, tp), at in sorted(self.last.items(), key=lambda item: place(*item[0]))
                if g == group and at.lag
            ]
            for group, since in sorted(self._since.items())
            if now - since >= self.after and self.left(group)
        }

    def forgive(self, group: str) -> None:
        """Start the group's clock again: one of its consumers was just (re)started."""
        self._since[group] = self.clock()


def wait_until_processed(
    bootstrap: str,
    groups: Mapping[str, Iterable[str]],
    *,
    progress: Progress | None = None,
    poll_interval: float = 0.25,
    stalled_after: float = 60.0,
    timeout: float | None = None,
) -> None:
    """Block until two readings in a row find no backlog. Never give up while records
    move; raise PartitionsStalled when a group has records waiting and has committed
    nothing for ``stalled_after`` seconds. ``progress`` is told the records left after each
    reading. ``timeout`` (tests) bounds the whole wait."""
    watch = StallWatch(stalled_after)
    deadline = None if timeout is None else time.monotonic() + timeout
    clear_readings = 0
    while clear_readings < 2:
        watch.observe(positions(bootstrap, groups))
        left = watch.left()
        if progress is not None:
            progress(left)
        clear_readings = clear_readings + 1 if left == 0 else 0
        stalled = watch.stalled()
        if stalled:
            where = "; ".join(f"{g} {', '.join(parts[:6])}" for g, parts in stalled.items())
            raise PartitionsStalled(
                f"no progress for {stalled_after:g} s with {left} records to process ({where})",
                stalled,
            )
        if deadline is not None and time.monotonic() > deadline and left:
            raise RetryableError(
                f"the pipeline still had {left} records to process after {timeout:g} s"
            )
        time.sleep(poll_interval)
