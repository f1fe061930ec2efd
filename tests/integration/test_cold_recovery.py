"""A worker starting with nothing in memory rebuilds its tables from their changelogs:
what it holds after recovery is, key for key, the last value each changelog has."""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from faust.serializers import codecs
from sqlalchemy import Engine, delete, select

from consumers.publisher import Outgoing
from consumers.store import open_store
from streams.app import build_app
from streams.state.archive import Archive, archive
from tests.integration.canonical import Dump
from tests.integration.live import LivePipeline, finish
from tests.integration.observe import changelog, last_values, ownership, source_partitions

pytestmark = [pytest.mark.integration, pytest.mark.faults]

TABLES = ("alias_to_group", "group_to_state", "numbers")
Rows = list[tuple[str, str, int, int, bytes, bool]]


def _decode(table: str, value: bytes) -> Any:
    """A table value as the worker reads it, through the codec its table registered."""
    return codecs.loads(f"referrals-{table}", value)


def _changelog_state(bootstrap: str, app_id: str) -> dict[str, dict[str, Any]]:
    """Each table as its changelog says it is: the last value of every key."""
    return {
        table: {
            json.loads(key): _decode(table, value)
            for key, value in last_values(bootstrap, changelog(app_id, table)).items()
        }
        for table in TABLES
    }


def _take_archive(engine: Engine) -> Rows:
    """Empty the SQL archive, returning what it held."""
    with engine.begin() as connection:
        rows = [tuple(row) for row in connection.execute(select(archive))]
        connection.execute(delete(archive))
    return rows  # type: ignore[return-value]


def _archived_state(engine: Engine) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {table: {} for table in TABLES}
    with engine.connect() as connection:
        for store, key, _, _, value, _ in connection.execute(select(archive)):
            state[store][key] = _decode(store, value)
    return state


def _put_back(engine: Engine, rows: Rows) -> None:
    """Return rows taken from the archive; a newer copy of an entry stays."""
    by_store: dict[str, list[tuple[str, int, int, bytes, bool]]] = defaultdict(list)
    for store, key, partition, version, value, waiting in rows:
        by_store[store].append((key, partition, version, value, waiting))
    saving = Archive(engine)
    for store, entries in by_store.items():
        saving.save(store, entries)


@pytest.mark.timeout(600)
def test_a_worker_with_an_empty_store_rebuilds_its_tables_from_the_changelogs(
    fresh_kafka: str,
    tmp_path: Path,
    zhuzhou: list[Outgoing],
    clean_dump: Dump,
    fault_report: dict[str, Any],
) -> None:
    """The first half of the input processed, its worker SIGKILLed, a fresh worker
    started: once it owns every partition, the entries it copies to the SQL archive as
    it stops are exactly each changelog's last value per key; then another worker takes
    the rest of the input, which ends as in a clean run."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(db)
    pipeline = LivePipeline(fresh_kafka, db, tmp_path / "logs")
    # registers the tables' codecs in this process, as a worker does
    build_app(pipeline.settings, fresh_kafka)
    half = len(zhuzhou) // 2
    first = pipeline.start_worker()
    pipeline.start_sink()
    try:
        pipeline.publish(zhuzhou[:half])
        pipeline.wait()
        pipeline.kill_worker(first)
        expected = _changelog_state(fresh_kafka, pipeline.app_id)
        # The archive holds what left memory; emptied, it will hold only what the fresh
        # worker copies into it.
        retired = _take_archive(engine)

        # The killed worker stays a member until its session ends: until then the group
        # looks settled without the fresh worker in it.
        pipeline.until(
            lambda: ownership(fresh_kafka, pipeline.app_id).members == 0,
            60,
            "the killed worker's session did not end",
        )
        # It copies its tables into the archive as it stops (as a batch run's worker does).
        fresh = pipeline.start_worker("--keep-state")
        wanted = source_partitions(pipeline.app_id, pipeline.settings.partitions)
        pipeline.until(
            lambda: ownership(fresh_kafka, pipeline.app_id).settled(1, wanted),
            60,
            "the fresh worker did not take every partition",
        )
        pipeline.wait()
        pipeline.signal_worker(fresh, signal.SIGTERM).process.wait(timeout=60)
        recovered = _archived_state(engine)
        _put_back(engine, retired)
        pipeline.start_worker()
        fault_report.update(
            events=len(zhuzhou),
            changelog_keys={table: len(expected[table]) for table in TABLES},
            recovered_keys={table: len(recovered[table]) for table in TABLES},
            retired_before=len(retired),
        )
        for table in TABLES:
            assert recovered[table] == expected[table], f"{table} recovered differently"
        assert all(expected[table] for table in TABLES), "a table was empty: nothing was shown"

        pipeline.publish(zhuzhou[half:])
        finish(pipeline, engine, clean_dump, fault_report)
    finally:
        pipeline.stop()
        engine.dispose()
