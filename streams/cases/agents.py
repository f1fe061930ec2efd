"""Agents of steps 2-4: form each incident group's cases, and number new cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from streams.cases.group import Outcome, accept
from streams.cases.numbering import Assigned, Counter, case_key, counter_key, number
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
from streams.messages import Numbered, Tick, groups_batch, numbering_batch
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


def numbers_table(p: Pipeline) -> TieredTable[Counter | Assigned]:
    hot_for = timedelta(days=p.settings.hot_days)

    def retire_at(entry: Counter | Assigned) -> datetime | None:
        return entry.opened_at + hot_for if isinstance(entry, Assigned) else None

    return TieredTable(
        p.app,
        "numbers",
        Counter | Assigned,
        p.settings.partitions,
        p.archive,
        Tiering(
            version=lambda e: e.next if isinstance(e, Counter) else 0,
            waiting=lambda e: False,
            retire_at=retire_at,
            event_time=lambda e: e.opened_at if isinstance(e, Assigned) else None,
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


def register(p: Pipeline) -> None:
    groups = groups_table(p)
    numbers = numbers_table(p)

    def publish(outcome: Outcome, out: Outbox) -> None:
        for snapshot in outcome.snapshots:
            out.snapshot(snapshot)
        for request in outcome.number_requests:
            out.to(p.numbering, request.district_code, request)
        for refused in outcome.refused:
            out.refused(refused)

    def step(partition: int, out: Outbox) -> Callable[[str, GroupState | None, Any], Any]:
        def apply(key: str, state: GroupState | None, message: Any) -> GroupState | None:
            outcome = accept(state, message, key, partition, p.org, p.policy)
            publish(outcome, out)
            if outcome.state is not None:
                count(changes(state.tally if state else {}, outcome.state.tally))
            return outcome.state

        return apply

    @p.app.agent(p.groups, name="form_groups")
    async def form_groups(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            batch = groups_batch(event.value)
            messages = [m for m in batch if not isinstance(m, Tick)]
            ticks = [m for m in batch if isinstance(m, Tick)]
            out = Outbox(p)
            apply = out.isolate(step(partition, out))
            written = await groups.apply([(m.group or "", m) for m in messages], apply)
            for tick in ticks:
                if tick.kind == "checkpoint":
                    groups.checkpoint(partition)
                else:
                    keyed = [(key, tick) for key in groups.waiting(partition)]
                    written |= await groups.apply(keyed, apply)
            if not ticks:
                groups.retire(partition, groups.due(partition, busy=written))
            await out.flush()

    @p.app.agent(p.numbering, name="number_cases")
    async def number_cases(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            messages = numbering_batch(event.value)
            out = Outbox(p)
            requests = [m for m in messages if not isinstance(m, Tick)]
            if any(isinstance(m, Tick) and m.kind == "checkpoint" for m in messages):
                numbers.checkpoint(partition)
            known: dict[str, Counter | Assigned] = dict(
                await numbers.load({k for r in requests for k in (case_key(r), counter_key(r))})
            )
            written: dict[str, Counter | Assigned] = {}
            for request in requests:
                writes, case_no = number(known, request, partition)
                known.update(writes)
                written.update(writes)
                out.to(p.groups, request.group, Numbered(request.group, request.case_id, case_no))
            # A case's entry reaches the changelog before the counter that counts it.
            for key, entry in sorted(written.items(), key=lambda kv: isinstance(kv[1], Counter)):
                numbers.put(key, entry)
            if requests:
                numbers.retire(partition, numbers.due(partition, busy=written))
            await out.flush()
