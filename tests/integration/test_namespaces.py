"""Two pipelines on one cluster — two cities — each with its app id and topic prefix,
read and write only their own topics and groups."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from bench.inputs import decided_cases
from consumers.store import open_store
from runtime.batch import Summary
from streams.topics import Topics
from tests.integration.harness import SAMPLE, SAMPLE_SUMMARY, live_cases, run_files

pytestmark = pytest.mark.integration


def test_two_pipelines_on_one_cluster_do_not_mix(fresh_kafka: str, tmp_path: Path) -> None:
    """Zhuzhou runs the sample while Xiangtan runs twenty other cases, at the same time on
    the same Apache Kafka: each store holds exactly its own cases and summary, and each
    pipeline has its own topics and consumer groups."""
    zhuzhou, xiangtan = Topics("zhuzhou", "zhuzhou."), Topics("xiangtan", "xiangtan.")
    amounts = decided_cases(tmp_path / "xiangtan.jsonl", 20)
    runs = {
        "zhuzhou": (f"sqlite:///{tmp_path / 'zhuzhou.db'}", SAMPLE, zhuzhou),
        "xiangtan": (
            f"sqlite:///{tmp_path / 'xiangtan.db'}",
            tmp_path / "xiangtan.jsonl",
            xiangtan,
        ),
    }
    for db, _, _ in runs.values():  # migrated here: Alembic is not for two threads at once
        open_store(db).dispose()
    summaries: dict[str, Summary] = {}
    failures: list[BaseException] = []

    def run(city: str) -> None:
        db, path, names = runs[city]
        try:
            summaries[city] = run_files(
                db, [path], broker=fresh_kafka, app_id=names.app_id, topic_prefix=names.prefix
            )
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=run, args=(city,)) for city in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert failures == []

    assert summaries["zhuzhou"] == SAMPLE_SUMMARY
    assert summaries["xiangtan"].cases_opened == 20 and summaries["xiangtan"].dead_lettered == 0
    referrals = {
        city: {r["referral_id"] for case in live_cases(db).values() for r in case["referrals"]}
        for city, (db, _, _) in runs.items()
    }
    assert referrals["xiangtan"] == set(amounts)
    assert referrals["zhuzhou"].isdisjoint(amounts)
    admin = KafkaAdminClient(bootstrap_servers=fresh_kafka)
    try:
        existing = set(admin.list_topics())
        groups = {group["group_id"] for group in admin.list_groups()}
    finally:
        admin.close()
    for names in (zhuzhou, xiangtan):
        assert set(names.every()) <= existing
        assert {names.app_id, names.sink_group} <= groups
    assert set(zhuzhou.every()).isdisjoint(xiangtan.every())
