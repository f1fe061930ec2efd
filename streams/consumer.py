"""Faust's Kafka consumer with five repairs, plugged in through the app's transport.

1. **Records fetched before a rebalance.** faust-streaming 0.15's fetch loop hands a
   record to the streams, awaits, then notes it as read. When a rebalance lands during
   that await, the partition is sought back to its committed offset, the streams skip the
   record (its generation is old, so it is never acked), and the loop still notes it as
   read: the records re-fetched after the seek sit below the read offset and are dropped
   too. Nothing is ever acked past the gap, so the partition stops committing for good
   (seen about one handover in four; docs/measured.md). Here a record whose generation
   is no longer current ends its batch without moving the read offset, so the re-fetched
   records are processed. The same race comes without a rebalance (faust-streaming issue
   596): recovery resumes the stream partitions, then seeks them to their committed
   offsets, so records fetched before that seek can be handed over after it, and Faust
   then takes the distance to them for a gap (committed as if read) or skips the
   re-fetched records below them. Here a record of a batch fetched across a seek is
   processed but moves neither the read offset nor any gap, and no record is skipped:
   one handed over twice is processed twice, which every agent takes as a redelivery,
   and acked once (Faust's ack keeps an index of acked offsets).
2. **Fetch wait.** Faust hard-codes a 1.5 s fetch wait; the consumer waits at most 100 ms.
3. **End offsets from the embedded broker.** Tansu answers ListOffsets with the last
   batch's base offset + 1, and Faust's table recovery stops there, losing each
   changelog's tail. When the worker's probe found the broker inexact, ``highwaters``
   asks for the true ends (fetch high watermarks) instead.
4. **A topic the metadata does not know yet.** A worker starting on a fresh cluster
   creates the tables' changelog topics itself, and its consumer's metadata may not
   list them for a few seconds; meanwhile Faust counted such a topic as having 0
   partitions, and the first table write raised PartitionsMismatch ("the changelog has
   0 partitions"). That crashed the agent, and Faust acks the event an agent crashes on:
   the event was lost (a case never numbered, found by tests/integration/
   test_crash_loop.py). A topic no metadata lists is now of unknown size, which skips
   the check, as Faust does for a source topic it does not know.

5. **Records Faust drops after handing them over.** A record handed to the streams can
   still vanish without an ack: a stream skips it when it dequeues it while the app's
   flow is paused or its generation is old, a rebalance clears the queues, a paused flow
   cancels its hand-over. Faust counts on its seek to the committed offsets after the
   rebalance to fetch such records again; when the drop comes after that seek, nothing
   fetches them and the partition stops committing at them (docs/measured.md, "Records
   Faust drops after handing them over"). Here the consumer watches what it handed
   over: a record neither acked nor taken by a stream while a later record of its
   partition was taken, seen so at two checks in a row while the flow runs, was
   dropped, and its partition is sought back to it; the records after it come again,
   as redeliveries.

The check Faust's commits never cross an unacked record at the head of a partition is
kept, as a check: a commit that would is refused, logged and counted (metrics). The head
is the committed offset itself: Faust's check is one off and let a single record there
pass unacked, so a worker that dropped exactly that record committed past it and lost it
(a referral, a payment: about one cold-recovery run in ten under load). A head record
never handed over while later ones were acked is fetched again like a dropped one.
Before a partition's first commit the head is its first record handed over and not acked
(Faust had none, and committed across a batch an agent abandoned: streams/batches.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message
from mode import Service

from streams.end_offsets import true_end_offsets
from streams.logging import get_logger
from streams.monitoring import metrics

log = get_logger(__name__)


# How often the records handed over are checked for ones Faust dropped; a record must be
# seen dropped at two checks in a row, so that one a stream is taking right now is not.
DROP_CHECK_S = 1.0

# Faust hard-codes a 1.5 s fetch wait, so an agent whose partitions run dry waits that long
# for the next batch: at every hop of the pipeline (docs/measured.md, Faust's fetch wait).
FETCH_MAX_WAIT_MS = 100


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class Consumer(driver.Consumer):
    # Set by the worker from its probe of the broker (runtime/worker.py).
    exact_end_offsets = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Per partition, the records handed over in this generation and not yet acked,
        # in hand-over order; and the record found dropped at the last check.
        self._handed: dict[TP, deque[Message]] = defaultdict(deque)
        self._suspect: dict[TP, int] = {}
        super().__init__(*args, **kwargs)

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        if self.exact_end_offsets:
            return await super().highwaters(*partitions)
        bootstrap = ",".join(f"{url.host}:{url.port}" for url in self.app.conf.broker)
        ends = await asyncio.to_thread(true_end_offsets, bootstrap, partitions)
        return {tp: ends[(tp.topic, tp.partition)] for tp in partitions}

    # Bumped as a seek of every partition starts and as it ends; ``fetch_seeks`` is its
    # value when the current batch was asked for, so they differ for a batch fetched
    # across a seek.
    seeks = 0
    fetch_seeks = 0

    async def perform_seek(self) -> None:
        self.seeks += 1
        try:
            await super().perform_seek()
        finally:
            self.seeks += 1

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        self.fetch_seeks = self.seeks
        return await super()._getmany(active_partitions=active_partitions, timeout=timeout)

    def topic_partitions(self, topic: str) -> int | None:
        # aiokafka's metadata snapshot says 0 for a subscribed topic it has not seen yet
        return super().topic_partitions(topic) or None

    def _new_offset(self, tp: TP) -> int | None:
        # The committed offset is Kafka's: the next record to process, which Faust acks
        # like any other (its ack takes offset >= committed). Faust's own check of the
        # head lets one record there pass unacked (it refuses only a first acked record
        # past committed + 1), and a worker that dropped just that record committed
        # past it and lost it: a referral, a payment, once in about ten cold-recovery
        # runs under load. Here any record between the committed offset and the first
        # acked one holds the commit back, and the watch below fetches it again.
        committed = self._committed_offset.get(tp)
        gap = self._head_gap(tp, committed if committed else self._first_unacked(tp))
        if gap is not None:
            metrics.commit_refused(tp.topic)
            # What the watch for dropped records knows of the gap, so that a gap it does
            # not repair can be told apart: handed over and taken (still in work), handed
            # over and not taken (dropped: refetched after two checks), or never seen.
            seen = [m for m in self._handed[tp] if m.offset in gap]
            log.warning(
                "commit_refused",
                topic=tp.topic,
                partition=tp.partition,
                committed=committed,
                first_acked=gap.stop,
                gap_taken=len({m.offset for m in seen if m.tracked}),
                gap_not_taken=len({m.offset for m in seen if not m.tracked}),
                gap_unseen=len(gap) - len({m.offset for m in seen}),
            )
            return None
        return super()._new_offset(tp)

    def _head_gap(self, tp: TP, head: int | None) -> range | None:
        """The offsets from ``head`` to the first acked record, when records were acked
        past an unacked head (and no gap Faust read marks them as not to be had)."""
        acked = self._acked[tp]
        if head is None or not acked or self._gap[tp] or min(acked) <= head:
            return None
        return range(head, min(acked))

    def _first_unacked(self, tp: TP) -> int | None:
        """Before a partition's first commit Faust has no head to hold its commits to, and
        commits from its first acked record on: across a record handed over earlier and
        not done (an abandoned batch, streams/batches.py). That record is the head."""
        generation = self.app.consumer_generation_id
        done = self._acked_index[tp]
        unacked = [
            m.offset
            for m in self._handed[tp]
            if m.generation_id == generation and not m.acked and m.offset not in done
        ]
        return min(unacked) if unacked else None

    def _dropped(self, tp: TP, handed: deque[Message]) -> int | None:
        """The offset of the first record of ``tp`` that Faust surely dropped: one no
        stream took while a later record of its partition was taken (queues are first in,
        first out), or the record at the committed offset when later ones were acked and it
        was never handed over. A record with nothing taken after it may still be on its
        way to its stream; if it was dropped, the next record of its partition shows it
        (internal topics get one at every drain), and a partition with nothing after it
        at all stalls and is restarted (runtime/supervisor.py, runtime/batch.py)."""
        generation = self.app.consumer_generation_id
        committed = self._committed_offset[tp]
        while handed and (
            handed[0].acked
            or handed[0].generation_id != generation
            or (committed is not None and handed[0].offset < committed)
        ):
            handed.popleft()
        # A record handed over twice (fetched across a seek) is done when either copy is.
        taken = {m.offset for m in handed if m.tracked or m.acked}
        taken.update(self._acked_index[tp])
        waiting = None
        for message in handed:
            if message.tracked or message.acked:
                if waiting is not None:
                    return waiting.offset
            elif (
                waiting is None
                and message.offset not in taken
                and (committed is None or message.offset >= committed)
            ):
                waiting = message
        if self._head_gap(tp, committed) is not None and all(m.offset != committed for m in handed):
            return committed
        return None

    def abandon(self, messages: list[Message]) -> None:
        """Records an agent took and will not finish (it crashed or was cancelled on
        their batch, streams/batches.py): unacked, they hold the partition's commits
        back; counted as never taken, the watch for dropped records fetches them again."""
        for message in messages:
            if not message.acked:
                message.tracked = False
        log.warning("batch_abandoned", records=len(messages))

    @Service.timer(DROP_CHECK_S)
    async def _check_dropped(self) -> None:
        await self.refetch_dropped()

    async def refetch_dropped(self) -> int:
        """Seek each partition back to a record found dropped at this check and at the
        one before; how many partitions were sought back."""
        if self.app.rebalancing or not self.app.flow_control.is_active():
            self._suspect.clear()  # the rebalance's own seek fetches them again
            return 0
        suspects = {}
        sought = 0
        for tp, handed in list(self._handed.items()):
            dropped = self._dropped(tp, handed)
            if dropped is None:
                continue
            if self._suspect.get(tp) != dropped:
                suspects[tp] = dropped
                continue
            handed.clear()
            metrics.record_fetched_again(tp.topic)
            sought += 1
            log.warning(
                "refetch_dropped",
                topic=tp.topic,
                partition=tp.partition,
                offset=dropped,
                committed=self._committed_offset[tp],
            )
            # Counted as a seek, so that the batch being handed over goes on without
            # moving the read offset past the records to come again.
            self.seeks += 1
            try:
                await self.seek_wait({tp: dropped})
            finally:
                self.seeks += 1
        self._suspect = suspects
        return sought

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch = self.getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in batch:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        if message.generation_id != self.app.consumer_generation_id:
                            break  # fetched before a rebalance: re-fetched after its seek
                        offset = message.offset
                        # A record of a batch fetched across a seek may come from before
                        # or after it: it is processed, but says nothing of gaps or of
                        # how far the partition was read.
                        across_a_seek = self.seeks != self.fetch_seeks
                        read = get_read_offset(tp)
                        if (
                            read
                            and offset - read > 1
                            and not across_a_seek
                            and acks_enabled_for(message.topic)
                        ):
                            await self._add_gap(tp, read + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        if message.generation_id != self.app.consumer_generation_id:
                            break  # a rebalance came while the record was handed over
                        if acks_enabled_for(message.topic):
                            self._handed[tp].append(message)
                        if not (across_a_seek or self.seeks != self.fetch_seeks):
                            set_read_offset(tp, offset)
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class Transport(driver.Transport):
    Consumer = Consumer


def install(app: Any, *, exact_end_offsets: bool) -> None:
    """Give ``app`` this consumer; before the app starts."""
    Consumer.exact_end_offsets = exact_end_offsets
    app.transport = Transport(app.conf.broker_consumer, app)
