"""A worker SIGKILLed again and again while the stream flows loses nothing and counts
nothing twice: the store ends exactly as a clean run of the same input leaves it."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from consumers.publisher import Outgoing
from consumers.store import open_store
from tests.integration.canonical import Dump
from tests.integration.live import LivePipeline, finish

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILLS = 5


@pytest.mark.timeout(600)
def test_a_worker_killed_five_times_at_random_changes_nothing(
    fresh_kafka: str,
    tmp_path: Path,
    zhuzhou: list[Outgoing],
    clean_dump: Dump,
    fault_report: dict[str, Any],
) -> None:
    """SIGKILL the worker at five random moments of a run on Apache Kafka, each time once
    it is consuming and with records waiting, and start another: the canonical dump equals
    the clean run's and every case's ledger adds up once."""
    rng = random.Random(KILLS)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(db)
    pipeline = LivePipeline(fresh_kafka, db, tmp_path / "logs")
    worker = pipeline.start_worker()
    pipeline.start_sink()
    # two minutes of input: the kills land while it flows
    publishing = pipeline.publish_paced(zhuzhou, parts=120, every_s=1.0)
    waiting_at_kill = []
    try:
        for _ in range(KILLS):
            pipeline.until_progress()
            time.sleep(rng.uniform(0.5, 5.0))
            waiting_at_kill.append(pipeline.until_waiting())
            pipeline.kill_worker(worker)
            worker = pipeline.start_worker()
            pipeline.counts.handovers += 1
        publishing.join()
        fault_report.update(events=len(zhuzhou), waiting_at_kill=waiting_at_kill)
        finish(pipeline, engine, clean_dump, fault_report)
    finally:
        pipeline.stop()
        engine.dispose()
