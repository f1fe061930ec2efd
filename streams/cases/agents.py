"""Agents of steps 2-4: form each incident group's cases, and number new cases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from streams.cases.group import Outcome, accept
from streams.cases.numbering import number
from streams.cases.snapshots import to_avro
from streams.logging import get_logger

if TYPE_CHECKING:
    from streams.app import Pipeline

log = get_logger(__name__)


def register(p: Pipeline) -> None:
    group_to_log = p.app.Table(
        "group_to_log",
        default=None,
        partitions=p.settings.partitions,
    )
    district_to_numbers = p.app.Table(
        "district_to_numbers",
        default=None,
        partitions=p.settings.partitions,
    )

    async def publish(outcome: Outcome) -> None:
        for snapshot in outcome.snapshots:
            await p.snapshots.send(
                key=snapshot["group_key"].encode(),
                value=p.store.encode("CaseSnapshot", to_avro(snapshot)),
            )
        for request in outcome.number_requests:
            await p.numbering.send(key=request["district_code"].encode(), value=request)
        await p.send_dead_letters(outcome.dead_letters)

    def apply(key: str, message: dict[str, Any], partition: int) -> Outcome:
        outcome = accept(group_to_log.get(key), message, p.org, p.policy)
        if outcome.log is not None:
            outcome.log["p"] = partition
            group_to_log[key] = outcome.log
        return outcome

    @p.app.agent(p.groups, name="form_groups")
    async def form_groups(stream: Any) -> None:
        async for event in stream.events():
            message, partition = event.value, event.message.partition
            if message["type"] in ("drain", "expire"):
                keys = [k for k, v in list(group_to_log.items()) if v and v["p"] == partition]
                for key in keys:
                    await publish(apply(key, message, partition))
                continue
            structlog.contextvars.bind_contextvars(group=message["group"][:10])
            outcome = apply(message["group"], message, partition)
            if outcome.arrival is not None:
                log.debug("referral_arrived", arrival=outcome.arrival.value)
            await publish(outcome)

    @p.app.agent(p.numbering, name="number_cases")
    async def number_cases(stream: Any) -> None:
        async for request in stream:
            district = request["district_code"]
            state, case_no = number(district_to_numbers.get(district), request)
            if state is not None:
                district_to_numbers[district] = state
            await p.groups.send(
                key=request["group"].encode(),
                value={
                    "type": "numbered",
                    "group": request["group"],
                    "case_id": request["case_id"],
                    "case_no": case_no,
                },
            )
