"""What the worker's Kafka consumer (streams/consumer.py) answers about topics, and how
it finds records Faust dropped after they were handed over."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from types import SimpleNamespace

from faust.types import TP, Message

from streams.consumer import Consumer


def _consumer(known: dict[str, int]) -> Consumer:
    """The consumer over a stand-in for its aiokafka thread, which answers from the
    metadata snapshot: 0 for a subscribed topic it has not seen yet."""
    consumer: Consumer = object.__new__(Consumer)
    consumer._thread = SimpleNamespace(topic_partitions=lambda topic: known.get(topic, 0))  # type: ignore[assignment]
    return consumer


def test_a_topic_the_metadata_has_not_listed_yet_is_of_unknown_size() -> None:
    """A changelog just created reads as unknown, not as 0 partitions, so Faust's table
    skips its partition check instead of raising PartitionsMismatch mid-event."""
    consumer = _consumer({"referrals.numbering": 4})
    assert consumer.topic_partitions("referrals.numbering") == 4
    assert consumer.topic_partitions("referrals-numbers-changelog") is None


class _Watched:
    """The consumer's view of one partition: what it handed over, what the app says."""

    TP = TP("referrals.housing", 0)

    def __init__(self, *, committed: int | None = None) -> None:
        self.app = SimpleNamespace(
            consumer_generation_id=3,
            rebalancing=False,
            flow_control=SimpleNamespace(is_active=lambda: True),
        )
        consumer: Consumer = object.__new__(Consumer)
        consumer.app = self.app  # type: ignore[misc]
        consumer._handed = defaultdict(deque)
        consumer._suspect = {}
        consumer._acked_index = defaultdict(set)
        consumer._acked = defaultdict(list)
        consumer._gap = defaultdict(list)
        consumer._committed_offset = defaultdict(lambda: None, {self.TP: committed})
        consumer.seeks = 0
        self.sought: list[dict[TP, int]] = []

        async def seek_wait(partitions: dict[TP, int]) -> None:
            self.sought.append(dict(partitions))

        consumer.seek_wait = seek_wait  # type: ignore[method-assign]
        self.consumer = consumer

    def hand(
        self, offset: int, *, taken: bool = False, acked: bool = False, generation: int = 3
    ) -> Message:
        message = Message(
            self.TP.topic,
            self.TP.partition,
            offset,
            0.0,
            0,
            None,
            b"k",
            b"v",
            None,
            tp=self.TP,
            generation_id=generation,
        )
        message.tracked = taken
        message.acked = acked
        self.consumer._handed[self.TP].append(message)
        return message

    def check(self) -> int | None:
        return self.consumer._dropped(self.TP, self.consumer._handed[self.TP])


def test_a_record_skipped_before_a_record_taken_is_dropped() -> None:
    """Queues are first in, first out: a record not taken while a later one of its
    partition was has been skipped by its stream."""
    watched = _Watched()
    watched.hand(10, acked=True)
    skipped = watched.hand(11)
    watched.hand(12, taken=True)
    watched.hand(13)
    assert watched.check() == skipped.offset


def test_records_not_yet_taken_are_not_dropped() -> None:
    """Records waiting behind a busy stream, or on their way to it, with nothing taken
    after them, are not taken for dropped."""
    watched = _Watched()
    watched.hand(11, taken=True)
    watched.hand(12)
    watched.hand(13)
    assert watched.check() is None


def test_records_done_another_way_are_not_dropped() -> None:
    """A copy of a record handed over twice that the other copy covers, a record below
    the committed offset, records of an older generation: none needs fetching again."""
    watched = _Watched(committed=20)
    watched.hand(15, generation=2)
    watched.hand(21)
    watched.hand(21, taken=True)
    watched.hand(19)
    watched.consumer._acked_index[_Watched.TP].add(22)
    watched.hand(22)
    watched.hand(23, taken=True)
    assert watched.check() is None
    assert [m.offset for m in watched.consumer._handed[_Watched.TP]] == [21, 21, 19, 22, 23]


def test_a_partition_is_sought_back_only_when_two_checks_agree() -> None:
    """A record seen dropped once may be one a stream is taking right now; seen dropped
    at the next check too, its partition is sought back to it, once."""
    watched = _Watched()
    watched.hand(11, taken=True)
    watched.hand(12)
    watched.hand(13, taken=True)
    assert asyncio.run(watched.consumer.refetch_dropped()) == 0
    assert watched.sought == []
    assert asyncio.run(watched.consumer.refetch_dropped()) == 1
    assert watched.sought == [{_Watched.TP: 12}]
    assert asyncio.run(watched.consumer.refetch_dropped()) == 0


def test_nothing_is_sought_back_during_a_rebalance() -> None:
    """A rebalance seeks every partition to its committed offset itself."""
    watched = _Watched()
    watched.hand(12)
    watched.hand(13, taken=True)
    watched.app.rebalancing = True
    for _ in range(3):
        assert asyncio.run(watched.consumer.refetch_dropped()) == 0
    assert watched.sought == []


def _acked(watched: _Watched, *offsets: int) -> None:
    for offset in offsets:
        watched.consumer._acked[_Watched.TP].append(offset)
        watched.consumer._acked_index[_Watched.TP].add(offset)


def test_a_commit_never_passes_the_record_at_the_committed_offset_unacked() -> None:
    """The committed offset is the next record to process. Records acked after it while it
    is not hold the commit back (Faust's own check let exactly this one pass: a record
    lost in cold recovery); acked too, the commit moves past all of them."""
    watched = _Watched(committed=52)
    _acked(watched, 53, 54)
    assert watched.consumer._new_offset(_Watched.TP) is None
    _acked(watched, 52)
    watched.consumer._acked[_Watched.TP].sort()
    assert watched.consumer._new_offset(_Watched.TP) == 55


def test_a_head_record_never_handed_over_is_fetched_again() -> None:
    """The record at the committed offset never reached a stream while later ones were
    acked: after two checks that agree, its partition is sought back to it."""
    watched = _Watched(committed=52)
    _acked(watched, 53)
    watched.hand(53, acked=True)
    assert watched.check() == 52
    assert asyncio.run(watched.consumer.refetch_dropped()) == 0
    assert asyncio.run(watched.consumer.refetch_dropped()) == 1
    assert watched.sought == [{_Watched.TP: 52}]


def test_a_head_record_in_hand_is_not_fetched_again() -> None:
    """The record at the committed offset handed over and still in work (taken, not yet
    acked) is not dropped, nor is a partition whose acks start at the committed offset."""
    watched = _Watched(committed=52)
    watched.hand(52, taken=True)
    _acked(watched, 53)
    assert watched.check() is None
    done = _Watched(committed=52)
    _acked(done, 52, 53)
    assert done.check() is None
