"""A guard over Faust's offset commits after a rebalance.

Measured here (tests/integration/test_faults.py, about one handover in four, on Apache
Kafka and on the embedded broker alike): when a rebalance lands while Faust's fetch loop
still holds a batch fetched before it, Faust seeks back to the committed offset but the
loop goes on with the old batch, moving its read offset past the records it re-fetches,
which it then drops as already read. They are never acked, so the committed offset stops
at the first of them for good (Faust will not commit across a gap at the head of its
acks), or, when exactly one record was dropped, Faust's own check lets the commit step
over it unprocessed.

The guard closes both holes: a commit never passes an offset that was not acked, and a
partition whose head gap holds no record in flight is sought back to its committed
offset, so the dropped records are fetched and processed again — harmless, since every
effect is keyed by the event (DOMAIN.md's at-least-once rule).
"""

from __future__ import annotations

from typing import Any

from faust.transport import consumer as faust_consumer

from streams.logging import get_logger

log = get_logger(__name__)
_original_new_offset = faust_consumer.Consumer._new_offset
# Where a partition's log starts, for partitions this group never committed: there the
# first record to ack is the first record of the log. Filled by ``guard``.
_log_starts: dict[Any, int] = {}


def _start(consumer: Any, tp: Any) -> int | None:
    committed: int | None = consumer._committed_offset.get(tp)
    return committed if committed is not None else _log_starts.get(tp)


def _new_offset(self: Any, tp: Any) -> int | None:
    acked = self._acked[tp]
    if acked and not self._gap[tp]:
        start = _start(self, tp)
        if start is None or min(acked) > start:
            return None  # the first record to ack was not acked (or is not known yet)
    result: int | None = _original_new_offset(self, tp)
    return result


def install() -> None:
    """Make Faust's consumer refuse to commit across an unacked head gap."""
    faust_consumer.Consumer._new_offset = _new_offset  # type: ignore[method-assign]


def stalled_partitions(consumer: Any) -> dict[Any, tuple[int, int]]:
    """Partitions whose acks start past the first record to ack with nothing in flight
    below them: (offset to re-fetch from, first acked offset) by partition."""
    in_flight: dict[Any, int] = {}
    for message in list(consumer._unacked_messages):
        low = in_flight.get(message.tp)
        in_flight[message.tp] = message.offset if low is None else min(low, message.offset)
    stalled = {}
    for tp, acked in list(consumer._acked.items()):
        start = _start(consumer, tp)
        if not acked or start is None or consumer._gap.get(tp):
            continue
        head = min(acked)
        if head > start and in_flight.get(tp, head) >= head:
            stalled[tp] = (start, head)
    return stalled


def guard(app: Any, interval: float = 2.0) -> None:
    """Re-fetch from the first unacked record any partition stalled for two checks."""
    seen: dict[Any, tuple[int, int]] = {}
    # A re-seek that did not heal must not be repeated: each one reprocesses everything
    # after the committed offset, and repeating it only multiplies the output.
    sought: set[tuple[Any, int]] = set()

    @app.timer(interval=interval)
    async def refetch_dropped_records() -> None:
        nonlocal seen
        consumer = app.consumer
        unknown = [
            tp
            for tp in consumer.assignment()
            if consumer._committed_offset.get(tp) is None and tp not in _log_starts
        ]
        if unknown:
            _log_starts.update(await consumer.earliest_offsets(*unknown))
        stalled = stalled_partitions(consumer)
        for tp, (start, head) in stalled.items():
            if seen.get(tp) == (start, head) and (tp, start) not in sought:
                sought.add((tp, start))
                log.warning(
                    "offsets_refetched",
                    topic=tp.topic,
                    partition=tp.partition,
                    start=start,
                    first_acked=head,
                )
                await consumer.seek(tp, start)
        seen = stalled
