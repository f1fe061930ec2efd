"""What the worker's Kafka consumer (streams/consumer.py) answers about topics."""

from __future__ import annotations

from types import SimpleNamespace

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
