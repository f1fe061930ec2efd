"""The database or the broker gone for 30 s in the middle of a run: every process waits
and carries on by itself, and the store ends exactly as a clean run leaves it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from consumers.cluster import committed_offsets
from consumers.migrations import upgrade
from consumers.publisher import Outgoing
from consumers.store import open_store
from streams.state.database import connect
from tests.integration.canonical import Dump
from tests.integration.live import LivePipeline, finish
from tests.support.kafka import ApacheKafka
from tests.support.postgres import ThrowawayPostgres

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE_S = 30.0


@pytest.mark.timeout(600)
def test_a_database_outage_loses_nothing(
    fresh_kafka: str,
    tmp_path: Path,
    zhuzhou: list[Outgoing],
    clean_dump: Dump,
    fault_report: dict[str, Any],
) -> None:
    """PostgreSQL stops for 30 s while the stream flows: the sink retries its batch and
    commits no offset while the database is away, the workers' archive reads wait, and
    the final canonical dump equals the clean run's (on SQLite)."""
    with ThrowawayPostgres() as postgres:
        # A PostgreSQL store is migrated by `referrals db upgrade` before any process starts.
        engine = connect(postgres.url)
        upgrade(engine)
        engine.dispose()
        engine = open_store(postgres.url)
        pipeline = LivePipeline(fresh_kafka, postgres.url, tmp_path / "logs")
        pipeline.start_worker()
        pipeline.start_sink()
        publishing = pipeline.publish_paced(zhuzhou, parts=30, every_s=2.0)
        try:
            pipeline.until_progress()
            time.sleep(3.0)
            pipeline.until_waiting()
            engine.dispose()
            postgres.halt()
            halted = time.monotonic()
            # a transaction in flight when the server went may still commit its offsets
            time.sleep(2.0)
            sink_offsets = [committed_offsets(fresh_kafka, pipeline.topics.sink_group)]
            while time.monotonic() < halted + OUTAGE_S:
                pipeline.check()
                time.sleep(2.0)
                sink_offsets.append(committed_offsets(fresh_kafka, pipeline.topics.sink_group))
            waiting = pipeline.pending()
            postgres.resume()
            resumed = time.monotonic()
            pipeline.until_progress()
            publishing.join()
            fault_report.update(
                events=len(zhuzhou),
                outage_s=OUTAGE_S,
                waiting_at_resume=waiting,
                moving_again_after_s=round(time.monotonic() - resumed, 1),
                sink_retries=pipeline.log_count("sink_db_retry"),
                archive_retries=pipeline.log_count("archive_retry"),
                archive_saves_failed=pipeline.log_count("archive_save_failed"),
            )
            assert all(o == sink_offsets[0] for o in sink_offsets), (
                "the sink committed offsets while the database was down"
            )
            assert waiting > 0, "the outage did not land mid-stream"
            finish(pipeline, engine, clean_dump, fault_report)
            assert fault_report["sink_retries"] > 0, "the sink never met the outage"
        finally:
            pipeline.stop()
            engine.dispose()


@pytest.mark.timeout(600)
def test_a_broker_outage_is_outlived_by_every_process(
    tmp_path: Path,
    zhuzhou: list[Outgoing],
    clean_dump: Dump,
    fault_report: dict[str, Any],
) -> None:
    """The broker stops for 30 s mid-stream and returns on the same port with the same
    log dir: the sink carries on by itself; the worker, whose group session expired
    while the broker was away, may not rejoin its group (faust-streaming issue 523) and
    is then restarted once by the lag watchdog, as `referrals up` restarts it. The final
    canonical dump equals the clean run's."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(db)
    before, after = zhuzhou[: len(zhuzhou) * 2 // 3], zhuzhou[len(zhuzhou) * 2 // 3 :]
    with ApacheKafka() as kafka:
        pipeline = LivePipeline(kafka.bootstrap, db, tmp_path / "logs")
        pipeline.start_worker()
        pipeline.start_sink()
        try:
            pipeline.publish(before)
            pipeline.until_progress()
            waiting = pipeline.until_waiting()
            kafka.halt()
            halted = time.monotonic()
            while time.monotonic() < halted + OUTAGE_S:
                pipeline.check()
                time.sleep(1.0)
            kafka.resume()
            resumed = time.monotonic()
            pipeline.until_progress(timeout=120)
            moving_after = time.monotonic() - resumed
            # the partners publish again once their broker is back
            pipeline.publish(after)
            fault_report.update(
                events=len(zhuzhou),
                outage_s=OUTAGE_S,
                waiting_at_outage=waiting,
                moving_again_after_s=round(moving_after, 1),
            )
            finish(pipeline, engine, clean_dump, fault_report, restarts=1)
        finally:
            pipeline.stop()
            engine.dispose()
