"""Agent routing events to their incident group, holding those that arrive too early."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from streams.dedup.routing import Routing, release_expired, route

if TYPE_CHECKING:
    from streams.app import Pipeline

HOLD_ENDED = "the hold period ended"
DRAINED = "the input was drained"


def register(p: Pipeline) -> None:
    alias_to_group = p.app.Table(
        "alias_to_group",
        default=None,
        partitions=p.settings.partitions,
    )

    async def publish(routing: Routing) -> None:
        for message in routing.forward:
            await p.groups.send(key=message["group"].encode(), value=message)
        for message in routing.register:
            await p.references.send(key=message["alias"].encode(), value=message)
        await p.send_dead_letters(routing.dead_letters)

    @p.app.agent(p.references, name="route_references")
    async def route_references(stream: Any) -> None:
        async for event in stream.events():
            message, partition = event.value, event.message.partition
            if message["type"] in ("drain", "expire"):
                drain = message["type"] == "drain"
                before = None if drain else message["now_ms"] - message["hold_ms"]
                why = DRAINED if drain else HOLD_ENDED
                for alias, state in list(alias_to_group.items()):
                    if state is None or state["p"] != partition:
                        continue
                    if not state["held"] and not state.get("expired"):
                        continue
                    routing = release_expired(state, why, before)
                    if routing.state is not None:
                        alias_to_group[alias] = routing.state
                    await publish(routing)
                continue
            alias = message["alias"]
            routing = route(alias_to_group.get(alias), message, partition)
            if routing.state is not None:
                alias_to_group[alias] = routing.state
            await publish(routing)

    @p.app.timer(interval=max(p.settings.hold_seconds / 10, 1.0), on_leader=True)
    async def expire_held() -> None:
        tick = {
            "type": "expire",
            "now_ms": int(time.time() * 1000),
            "hold_ms": p.settings.hold_seconds * 1000,
        }
        await p.broadcast(p.references, tick)
        await p.broadcast(p.groups, tick)
