"""The agents' batches of events, acked only once the agent has done with them.

Faust's ``Stream.take_events`` acks a batch in a ``finally`` around its ``yield``: an
agent that crashes on a batch, or is cancelled in the middle of one (a worker stopping,
a rebalance), has the whole batch acked all the same, the next commit covers it, and no
worker ever processes it (tests/integration/test_abandoned_batches.py shows it with
Faust's own). Here a batch is acked once its handler returned, and only then. A batch
left unfinished stays unacked, so the worker's commits stop short of it, and the
consumer is told to fetch it again (streams/consumer.py, repair 5): the agent Faust
restarts, or the partition's next owner, processes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from faust.types import EventT

from streams.messages import by_partition
from streams.outbox import Outbox

if TYPE_CHECKING:
    from streams.app import Pipeline

Events = Sequence[EventT[Any]]


async def each_batch(
    stream: Any, most: int, within: float, handle: Callable[[Events], Awaitable[None]]
) -> None:
    """Hand ``handle`` up to ``most`` events at a time, or what came within ``within``
    seconds, for as long as the stream runs."""
    async for events in stream.noack_take(most, within):
        try:
            await handle(events)
        except BaseException:  # a crash or a cancellation: the batch is not done
            stream.app.consumer.abandon([event.message for event in events])
            raise
        for event in events:
            await stream.ack(event)


PartitionStep = Callable[[int, list[bytes], Outbox], Awaitable[None]]


def per_partition(pipeline: Pipeline, step: PartitionStep) -> Callable[[Events], Awaitable[None]]:
    """A batch handler that gives ``step`` each partition's records in turn, then sends
    what they produced together."""

    async def handle(events: Events) -> None:
        out = Outbox(pipeline)
        for partition, records in by_partition(events).items():
            await step(partition, records, out)
        await out.flush()

    return handle
