"""Workers joining and leaving while the stream flows: every partition finds an owner
soon after each change, and the store ends exactly as a clean run leaves it."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from consumers.publisher import Outgoing
from consumers.store import open_store
from tests.integration.canonical import Dump
from tests.integration.live import SESSION_TIMEOUT_S, LivePipeline, finish
from tests.integration.observe import ownership, source_partitions

pytestmark = [pytest.mark.integration, pytest.mark.faults]

# The promise: a change of workers is absorbed within the session timeout (a dead
# worker's partitions are taken back only then) and 15 s more.
OWNED_WITHIN_S = SESSION_TIMEOUT_S + 15


def _settle(pipeline: LivePipeline, members: int, started: float) -> float:
    """Seconds from ``started`` until the group is stable with ``members`` members and
    every partition it consumes has exactly one owner; fails past OWNED_WITHIN_S."""
    wanted = source_partitions(pipeline.app_id, pipeline.settings.partitions)
    pipeline.until(
        lambda: ownership(pipeline.bootstrap, pipeline.app_id).settled(members, wanted),
        OWNED_WITHIN_S,
        f"the partitions were not all owned by {members} workers",
    )
    return time.monotonic() - started


@pytest.mark.timeout(900)
def test_workers_come_and_go_and_every_partition_is_owned(
    fresh_kafka: str,
    tmp_path: Path,
    zhuzhou: list[Outgoing],
    clean_dump: Dump,
    fault_report: dict[str, Any],
) -> None:
    """Workers go 1 → 2 → 3 → 1, the two leaving with SIGTERM, then 1 → 2 → 3 → 1 again,
    the two leaving with SIGKILL, each change once the workers are consuming: after each
    change every partition is owned within the session timeout + 15 s, and the final
    canonical dump equals the clean run's."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(db)
    pipeline = LivePipeline(fresh_kafka, db, tmp_path / "logs")
    pipeline.start_worker()
    pipeline.start_sink()
    publishing = pipeline.publish_paced(zhuzhou, parts=120, every_s=1.0)
    times: dict[str, float] = {}
    try:
        times["1"] = _settle(pipeline, 1, time.monotonic())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for workers in (2, 3):
                pipeline.until_progress()
                started = time.monotonic()
                pipeline.start_worker()
                times[f"{sig.name}: {workers - 1} → {workers}"] = _settle(
                    pipeline, workers, started
                )
            pipeline.until_progress()
            pipeline.until_waiting()
            started = time.monotonic()
            leaving = [pipeline.signal_worker(worker, sig) for worker in pipeline.workers[:2]]
            times[f"{sig.name}: 3 → 1"] = _settle(pipeline, 1, started)
            for worker in leaving:
                worker.process.wait(timeout=30)
        pipeline.counts.handovers = len(times) - 1
        pipeline.counts.rebalance_s = list(times.values())[1:]
        publishing.join()
        fault_report.update(
            events=len(zhuzhou), owned_after_s={k: round(v, 1) for k, v in times.items()}
        )
        finish(pipeline, engine, clean_dump, fault_report)
    finally:
        pipeline.stop()
        engine.dispose()
