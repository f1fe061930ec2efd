"""Agent routing events to their incident group, holding those that arrive too early."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from streams.batches import each_batch, per_partition
from streams.deadletters.letters import WaitEnded
from streams.dedup.routing import AliasState, Routing, release_expired, route
from streams.messages import TAKE, WITHIN_S, Tick, references_batch
from streams.outbox import Outbox
from streams.state.tables import TieredTable, Tiering

if TYPE_CHECKING:
    from streams.app import Pipeline


def aliases_table(p: Pipeline) -> TieredTable[AliasState]:
    hot_for = timedelta(days=p.settings.hot_days)

    def retire_at(state: AliasState) -> datetime | None:
        if state.held or state.touched is None:
            return None
        return state.touched + hot_for

    return TieredTable(
        p.app,
        "alias_to_group",
        AliasState,
        p.settings.partitions,
        p.archive,
        Tiering(
            version=lambda s: s.version,
            waiting=lambda s: bool(s.held or s.expired),
            retire_at=retire_at,
            event_time=lambda s: s.touched,
        ),
    )


def register(p: Pipeline) -> None:
    aliases = aliases_table(p)

    def publish(routing: Routing, out: Outbox) -> AliasState | None:
        for message in routing.forward:
            out.to(p.groups, message.group or "", message)
        for register in routing.register:
            out.to(p.references, register.alias, register)
        for refused in routing.refused:
            out.refused(refused)
        return routing.state

    def routed(partition: int, out: Outbox) -> Callable[[str, AliasState | None, Any], Any]:
        return lambda _, state, message: publish(route(state, message, partition), out)

    def expired(tick: Tick, out: Outbox) -> Callable[[str, AliasState | None, Any], Any]:
        why, before = expiry(tick)
        return lambda _, state, __: state and publish(release_expired(state, why, before), out)

    async def step(partition: int, records: list[bytes], out: Outbox) -> None:
        batch = [m for record in records for m in references_batch(record)]
        messages = [m for m in batch if not isinstance(m, Tick)]
        ticks = [m for m in batch if isinstance(m, Tick)]
        written = await aliases.apply(
            [(m.alias, m) for m in messages], out.isolate(routed(partition, out))
        )
        for tick in ticks:
            keyed = [(alias, tick) for alias in await aliases.waiting(partition)]
            written |= await aliases.apply(keyed, expired(tick, out))
        if not ticks:
            await aliases.retire(partition, aliases.due(partition, busy=written))

    @p.app.agent(p.references, name="route_references")
    async def route_references(stream: Any) -> None:
        await each_batch(stream, TAKE, WITHIN_S, per_partition(p, step))

    @p.app.timer(interval=max(p.settings.hold_seconds / 10, 1.0), on_leader=True)
    async def expire_held() -> None:
        now_ms = int(time.time() * 1000)
        tick = Tick("expire", now_ms=now_ms, hold_ms=int(p.settings.hold_seconds * 1000))
        out = Outbox(p)
        out.everywhere(p.references, tick)
        out.everywhere(p.groups, tick)
        await out.flush()


def expiry(tick: Tick) -> tuple[WaitEnded, int | None]:
    """Why waiting ends at this tick, and for the events received before when (None:
    for all of them)."""
    if tick.kind == "drain":
        return WaitEnded.DRAINED, None
    return WaitEnded.HOLD, tick.now_ms - tick.hold_ms
