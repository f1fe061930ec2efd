"""Agents of steps 2-4: form each incident group's cases, and number new cases."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from streams.batches import each_batch, per_partition
from streams.cases.group import Outcome, accept
from streams.cases.numbering import (
    Assigned,
    Counter,
    Entry,
    Numbering,
    Waiting,
    ask,
    give,
    keys_of,
)
from streams.cases.state import GroupState
from streams.cases.tally import (
    AMENDMENTS,
    CASES,
    COLLECTED,
    DECIDED,
    DUPLICATES,
    MERGED,
    changes,
)
from streams.errors import Oversized
from streams.messages import (
    TAKE,
    WITHIN_S,
    Numbered,
    NumberRequest,
    Tick,
    Withdraw,
    groups_batch,
    numbering_batch,
)
from streams.monitoring import metrics
from streams.outbox import Outbox
from streams.state.tables import TieredTable, Tiering

if TYPE_CHECKING:
    from streams.app import Pipeline


def groups_table(p: Pipeline) -> TieredTable[GroupState]:
    return TieredTable(
        p.app,
        "group_to_state",
        GroupState,
        p.settings.partitions,
        p.archive,
        Tiering(
            version=lambda s: s.seq,
            waiting=lambda s: s.waiting_since_ms is not None or s.refusals > 0,
            retire_at=lambda s: s.retire_after,
            event_time=lambda s: s.newest,
        ),
    )


def numbers_table(p: Pipeline) -> TieredTable[Entry]:
    hot_for = timedelta(days=p.settings.hot_days)

    def retire_at(entry: Entry) -> datetime | None:
        return entry.opened_at + hot_for if isinstance(entry, Assigned) else None

    def event_time(entry: Entry) -> datetime | None:
        if isinstance(entry, Waiting):
            return entry.request.opened_at
        return entry.opened_at if isinstance(entry, Assigned) else None

    return TieredTable(
        p.app,
        "numbers",
        Entry,
        p.settings.partitions,
        p.archive,
        Tiering(
            version=lambda e: e.next if isinstance(e, Counter) else 0,
            waiting=lambda e: isinstance(e, Waiting),
            retire_at=retire_at,
            event_time=event_time,
        ),
    )


_COUNTERS = {
    MERGED: metrics.merged,
    DUPLICATES: metrics.exact_duplicate,
    AMENDMENTS: metrics.amendment,
}


def count(moved: list[tuple[str, str | None, int]]) -> None:
    """Move the bureau's counters by what a group's change changed."""
    for measure, district, delta in moved:
        if measure == CASES:
            if delta > 0:
                metrics.case_opened(district or "", delta)
            else:
                metrics.case_absorbed(district or "", -delta)
        elif delta > 0 and measure == DECIDED:
            metrics.penalty_decided(district or "", delta)
        elif delta > 0 and measure == COLLECTED:
            metrics.penalty_collected(district or "", delta)
        elif delta > 0 and measure in _COUNTERS:
            _COUNTERS[measure](delta)


# A group's state travels as one changelog record and its cases' snapshots carry their
# referrals' versions: a group past this size could no longer be written (brokers refuse
# records over 1 MB by default), so the event that would grow it further is refused.
GROUP_BYTES = 512 * 1024
_size = msgspec.msgpack.Encoder()


def check_size(state: GroupState) -> None:
    size = len(_size.encode(state))
    if size > GROUP_BYTES:
        raise Oversized(
            f"incident group {state.key[:12]}… would hold {size} bytes with this event, "
            f"over the {GROUP_BYTES}-byte limit of one group"
        )


def register(p: Pipeline) -> None:
    groups = groups_table(p)
    numbers = numbers_table(p)

    def publish(outcome: Outcome, out: Outbox) -> None:
        for snapshot in outcome.snapshots:
            out.snapshot(snapshot)
        for request in outcome.number_requests:
            out.to(p.numbering, request.district_code, request)
        for withdrawal in outcome.withdrawals:
            out.to(p.numbering, withdrawal.district_code, withdrawal)
        for refused in outcome.refused:
            out.refused(refused)

    def step(partition: int, out: Outbox) -> Callable[[str, GroupState | None, Any], Any]:
        def apply(key: str, state: GroupState | None, message: Any) -> GroupState | None:
            outcome = accept(state, message, key, partition, p.org, p.policy)
            if outcome.state is not None:
                check_size(outcome.state)
            publish(outcome, out)
            if outcome.state is not None:
                count(changes(state.tally if state else {}, outcome.state.tally))
            return outcome.state

        return apply

    async def form(partition: int, records: list[bytes], out: Outbox) -> None:
        batch = [m for record in records for m in groups_batch(record)]
        messages = [m for m in batch if not isinstance(m, Tick)]
        ticks = [m for m in batch if isinstance(m, Tick)]
        apply = out.isolate(step(partition, out))
        written = await groups.apply([(m.group or "", m) for m in messages], apply)
        for tick in ticks:
            keyed = [(key, tick) for key in await groups.waiting(partition)]
            written |= await groups.apply(keyed, apply)
        if not ticks:
            await groups.retire(partition, groups.due(partition, busy=written))

    @p.app.agent(p.groups, name="form_groups")
    async def form_groups(stream: Any) -> None:
        await each_batch(stream, TAKE, WITHIN_S, per_partition(p, form))

    days = p.settings.number_after_days
    after = None if math.isinf(days) else timedelta(days=days)

    def ready(entry: Entry, tick: Tick | None, mark: datetime | None) -> bool:
        """Whether a waiting request is numbered now: the input was drained, it waited
        longer than the hold period, or its partition's event time is past its case's
        opening by ``number_after_days``."""
        if not isinstance(entry, Waiting):
            return False
        if tick is not None and tick.kind == "drain":
            return True
        if tick is not None and tick.kind == "expire":
            return entry.received_ms < tick.now_ms - tick.hold_ms
        return after is not None and mark is not None and entry.request.opened_at + after <= mark

    async def settle(step: Numbering, out: Outbox) -> None:
        for request, case_no in step.given:
            out.to(p.groups, request.group, Numbered(request.group, request.case_id, case_no))
        if step.given:
            # Answers reach the broker before the entries that record them: a worker
            # killed between the two answers again when its records come back. The other
            # way round, a request released by another record's event time would have
            # left the table answered and its group never told.
            await out.flush(delivered=True)
        for key, entry in step.ordered():
            await numbers.put(key, entry)
        for key in step.deletes:
            await numbers.delete(key)

    async def release(partition: int, tick: Tick | None, out: Outbox) -> set[str]:
        mark = numbers.watermark.get(partition)
        waiting = await numbers.load(await numbers.waiting(partition))
        due = [w for w in waiting.values() if isinstance(w, Waiting) and ready(w, tick, mark)]
        if not due:
            return set()
        known = await numbers.load({k for w in due for k in keys_of(w.request)})
        step = give(known, due, partition)
        await settle(step, out)
        return set(step.writes)

    async def give_numbers(partition: int, records: list[bytes], out: Outbox) -> None:
        batch = [m for record in records for m in numbering_batch(record)]
        requests = [m for m in batch if isinstance(m, NumberRequest)]
        withdrawn = [m for m in batch if isinstance(m, Withdraw)]
        ticks = [m for m in batch if isinstance(m, Tick)]
        received_ms = int(time.time() * 1000)
        known: dict[str, Entry] = dict(
            await numbers.load({k for r in requests for k in keys_of(r)})
        )
        # One settlement for the batch: answers to requests whose cases have their
        # numbers (redeliveries) flushed once, not once each.
        asked = Numbering()
        for request in requests:
            step = ask(known, request, partition, received_ms)
            known.update(step.writes)
            asked.merge(step)
        written = set(asked.writes)
        await settle(asked, out)
        for withdrawal in withdrawn:
            await numbers.delete(f"wait:{withdrawal.case_id}")
        for tick in ticks:
            written |= await release(partition, tick, out)
        if not ticks:
            written |= await release(partition, None, out)
            await numbers.retire(partition, numbers.due(partition, busy=written))

    @p.app.agent(p.numbering, name="number_cases")
    async def number_cases(stream: Any) -> None:
        await each_batch(stream, TAKE, WITHIN_S, per_partition(p, give_numbers))
