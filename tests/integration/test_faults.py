"""A worker and the SQL sink killed with SIGKILL mid-stream lose nothing and count
nothing twice: at-least-once delivery plus effects keyed by the events' own keys.

The input is generated so that the right answer is known without the pipeline: each
case has one referral, a filing, a decision and two instalments, the first of them sent
twice, so every case must end DECIDED with exactly its decided amount collected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.inputs import DISTRICTS, decided_cases
from consumers.cluster import ensure_topics
from consumers.models import CaseRow, DeadLetterRow, LedgerEntryRow
from consumers.publisher import Publisher, prepare_file
from consumers.store import open_store
from runtime.children import Child
from runtime.embedded import EmbeddedBroker
from streams.settings import Settings
from tests.integration.harness import finish

pytestmark = pytest.mark.integration

CASES = 400


@pytest.fixture(params=["apache-kafka", "embedded"])
def broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """A broker of each kind: Apache Kafka, and the embedded one whose end offsets lie."""
    if request.param == "apache-kafka":
        yield request.getfixturevalue("fresh_kafka")
    else:
        with EmbeddedBroker() as embedded:
            yield embedded.bootstrap


def _stored_cases(engine: object) -> int:
    with Session(engine) as session:  # type: ignore[call-overload]
        return session.scalar(select(func.count()).select_from(CaseRow)) or 0


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
    broker: str, tmp_path: Path
) -> None:
    """Worker and sink are SIGKILLed while the stream is half done and replaced; every
    case ends exactly right, numbered without gaps, with no dead letter."""
    amounts = decided_cases(tmp_path / "input.jsonl", CASES)
    db = f"sqlite:///{tmp_path / 'faults.db'}"
    settings = replace(Settings(db=db), partitions=4, rebalance_timeout=6.0)
    engine = open_store(db)
    ensure_topics(broker, settings.partitions)
    events = list(prepare_file(tmp_path / "input.jsonl"))
    # The second half is published only after the kill, so the kill lands mid-stream
    # however fast the first worker is.
    half = len(events) // 2
    publisher = Publisher(broker)
    publisher.send(events[:half])

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Child(settings, broker, tmp_path / "a")
    sink = Child(settings, broker, tmp_path / "a", command="sink")
    deadline = time.monotonic() + 180
    while _stored_cases(engine) == 0:
        assert time.monotonic() < deadline, f"no progress; see {first.log_path}"
        first.check()
        time.sleep(0.2)
    first.kill()
    sink.kill()
    killed_at = _stored_cases(engine)
    publisher.send(events[half:])
    publisher.close()

    second = Child(settings, broker, tmp_path / "b")
    sink = Child(settings, broker, tmp_path / "b", command="sink")
    try:
        finish(broker, settings, timeout=120)
    finally:
        second.stop()
        sink.kill()

    assert 0 < killed_at < CASES, "the kill did not land mid-stream"
    with Session(engine) as session:
        cases = session.scalars(select(CaseRow)).all()
        assert len(cases) == CASES
        by_referral = {c.snapshot["referrals"][0]["referral_id"]: c for c in cases}
        assert {rid: c.state for rid, c in by_referral.items()} == dict.fromkeys(amounts, "DECIDED")
        assert {rid: c.collected_fen for rid, c in by_referral.items()} == amounts
        assert {rid: c.outstanding_fen for rid, c in by_referral.items()} == dict.fromkeys(
            amounts, 0
        )
        receipts = session.scalar(select(func.count()).where(LedgerEntryRow.kind == "receipt"))
        assert receipts == 2 * CASES
        assert session.scalar(select(func.count()).select_from(DeadLetterRow)) == 0
        for district in DISTRICTS:
            numbers = sorted(c.case_no for c in cases if c.district_code == district)
            assert numbers == [f"{district}-2022-{n:04d}" for n in range(1, CASES // 5 + 1)]
    engine.dispose()
