"""The broker-backed readiness checks of streams/monitoring/probes.py, and lag per topic.

Lag is ``consumers.cluster.backlog``: committed offsets against fetch high watermarks,
never ListOffsets (the embedded broker's answer is short of the log end). Every reading
also sets the ``referrals_consumer_lag`` gauge of the process that took it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from kafka.errors import KafkaError

from consumers.cluster import backlog
from streams import topics
from streams.end_offsets import broker_answers
from streams.errors import ReferralsError
from streams.monitoring import metrics
from streams.monitoring.probes import Check, Outcome, loop_responsive
from streams.settings import Settings


def pipeline_groups(settings: Settings) -> dict[str, list[str]]:
    """The consumer groups of the pipeline (the workers', the sink's) and what each reads."""
    names = topics.Topics.of(settings)
    return {
        names.app_id: [*names.inputs, *names.internal],
        names.sink_group: list(names.outputs),
    }


def lag_by_partition(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Records not yet committed by ``group topic/partition`` (partitions behind only),
    recorded in the lag gauge."""
    lags = backlog(bootstrap, groups)
    readings = {}
    for key, records in lags.items():
        group, place = key.split(" ", 1)
        topic, partition = place.rsplit("/", 1)
        readings[(group, topic, int(partition))] = records
    metrics.consumer_lags(readings)
    return lags


def lag_by_topic(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Every topic the groups read, with the records its groups have still to process."""
    totals = {topic: 0 for names in groups.values() for topic in names}
    for key, records in lag_by_partition(bootstrap, groups).items():
        topic = key.split(" ", 1)[1].rsplit("/", 1)[0]
        totals[topic] += records
    return totals


def broker_check(bootstrap: str, timeout: float = 1.0) -> Check:
    def reachable() -> Outcome:
        if broker_answers(bootstrap, timeout=timeout):
            return Outcome(True, f"{bootstrap} answers")
        return Outcome(False, f"{bootstrap} does not answer")

    return reachable


def lag_check(bootstrap: str, groups: Mapping[str, Iterable[str]], bound: int) -> Check:
    def below() -> Outcome:
        if not broker_answers(bootstrap):
            return Outcome(False, "lag unknown: the broker does not answer")
        try:
            behind = sum(lag_by_partition(bootstrap, groups).values())
        except (ReferralsError, KafkaError) as e:
            return Outcome(False, f"lag unknown: {e}")
        return Outcome(behind <= bound, f"{behind} records behind (bound {bound})")

    return below


def worker_checks(settings: Settings, bootstrap: str) -> dict[str, Check]:
    """A Faust worker's: broker, its event loop, its group's lag. The loop is created here
    and made the thread's current one, which Faust (through mode) then runs on."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    groups = {settings.app_id: pipeline_groups(settings)[settings.app_id]}
    return {
        "broker": broker_check(bootstrap),
        "loop": loop_responsive(loop),
        "lag": lag_check(bootstrap, groups, settings.ready_max_lag),
    }


def sink_checks(settings: Settings, bootstrap: str) -> dict[str, Check]:
    """The SQL sink's: broker, and its group's lag (a stuck poll loop shows as growing lag)."""
    names = topics.Topics.of(settings)
    groups = {names.sink_group: list(names.outputs)}
    return {
        "broker": broker_check(bootstrap),
        "lag": lag_check(bootstrap, groups, settings.ready_max_lag),
    }
