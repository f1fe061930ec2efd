"""Looking at the cluster from outside, as the fault tests need: who owns which partition,
what a topic holds, and how many events reached a step more than once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError

from streams import topics
from streams.end_offsets import log_end_offsets
from streams.messages import Admitted, groups_batch, references_batch


@dataclass(frozen=True)
class Ownership:
    """A consumer group as its coordinator describes it."""

    state: str
    members: int
    # (topic, partition) -> how many members have it assigned
    owners: dict[tuple[str, int], int]

    def settled(self, members: int, wanted: Iterable[tuple[str, int]]) -> bool:
        """Stable with ``members`` members, each of ``wanted`` owned by exactly one."""
        return (
            self.state == "Stable"
            and self.members == members
            and all(self.owners.get(tp) == 1 for tp in wanted)
        )


def ownership(bootstrap: str, group: str) -> Ownership:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        described = admin.describe_groups([group])[group]
    except KafkaError as e:
        if not e.retriable:
            raise
        # a coordinator still loading, or moving: nobody is known to own anything yet
        return Ownership("Unknown", 0, {})
    finally:
        admin.close()
    owners: Counter[tuple[str, int]] = Counter()
    for member in described["members"]:
        assignment = member["member_assignment"]
        # Faust's assignor speaks the consumer protocol, so kafka-python decodes it
        for owned in assignment.get("assigned_partitions", []) if assignment else []:
            owners.update((owned["topic"], p) for p in owned["partitions"])
    return Ownership(described["group_state"], len(described["members"]), dict(owners))


def source_partitions(app_id: str, partitions: int) -> list[tuple[str, int]]:
    """The partitions a worker group consumes: the inputs and the internal topics."""
    names = [*topics.INPUTS, *topics.internal(app_id)]
    return [(name, p) for name in names for p in range(partitions)]


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic``, each partition in offset order."""
    ends = log_end_offsets(bootstrap, [topic])
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        wanted = [tp for tp, end in ends.items() if end > 0]
        consumer.assign(wanted)
        consumer.seek_to_beginning(*wanted)
        records: list[Any] = []
        remaining = {tp: ends[tp] for tp in wanted}
        while remaining:
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                records += batch
                if batch[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
        return records
    finally:
        consumer.close()


def last_values(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """A compacted topic's state: the last value of each key, deleted keys left out."""
    last: dict[bytes, bytes | None] = {}
    for record in read_topic(bootstrap, topic):
        last[record.key] = record.value
    return {key: value for key, value in last.items() if value is not None}


def redelivered(bootstrap: str, app_id: str) -> dict[str, int]:
    """Events that reached a step again: by internal topic, the messages carrying an event
    beyond the first for each event id (an input record admitted again after a crash, a
    released event routed again)."""
    references, groups, _ = topics.internal(app_id)
    found = {}
    for topic, decode in ((references, references_batch), (groups, groups_batch)):
        seen: Counter[str] = Counter()
        for record in read_topic(bootstrap, topic):
            seen.update(m.event_id for m in decode(record.value) if isinstance(m, Admitted))
        found[topic] = sum(seen.values()) - len(seen)
    return found


def changelog(app_id: str, table: str) -> str:
    """Faust's name for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"
