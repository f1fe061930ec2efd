"""A worker and the SQL sink killed with SIGKILL mid-stream lose nothing and count
nothing twice: at-least-once delivery plus effects keyed by the events' own keys.

The input is generated so that the right answer is known without the pipeline: each
case has one referral, a filing, a decision and two instalments, the first of them sent
twice, so every case must end DECIDED with exactly its decided amount collected.

The input is published in slices; each time the worker is seen consuming, the next slice
is published and worker and sink are SIGKILLed and replaced: a handover. The main suite
makes one; the fault suite (``make faults``) twenty on each broker, and expects no stall
(a stalled worker would be restarted, and counted).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.inputs import DISTRICTS, decided_cases
from consumers.models import CaseRow, DeadLetterRow, LedgerEntryRow
from consumers.publisher import prepare_file
from consumers.store import open_store
from runtime.embedded import EmbeddedBroker
from tests.integration.live import LivePipeline, slices
from tests.integration.observe import redelivered

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


def _handovers(broker: str, tmp_path: Path, handovers: int, report: dict[str, Any]) -> None:
    """Run the input through ``handovers`` SIGKILL handovers, put the figures in
    ``report``, and check every case."""
    amounts = decided_cases(tmp_path / "input.jsonl", CASES)
    records = list(prepare_file(tmp_path / "input.jsonl"))
    db = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = open_store(db)
    pipeline = LivePipeline(broker, db, tmp_path / "logs", number_at_drain=False)
    rng = random.Random(handovers)
    worker, sink = pipeline.start_worker(), pipeline.start_sink()
    first, *parts = slices(records, handovers + 1)
    waiting_at_kill = []
    try:
        pipeline.publish(first)
        for part in parts:
            pipeline.until_progress()
            # more input on its way as the kill lands
            pipeline.publish(part)
            time.sleep(rng.uniform(0.0, 0.3))
            # usually records wait; a hot pipeline may have taken the whole slice already
            waiting_at_kill.append(pipeline.pending())
            pipeline.kill_worker(worker)
            sink.kill()
            worker, sink = pipeline.start_worker(), pipeline.start_sink()
            pipeline.counts.handovers += 1
        pipeline.wait()
        pipeline.drain()
    finally:
        pipeline.stop()

    with Session(engine) as session:
        cases = session.scalars(select(CaseRow)).all()
        by_referral = {c.snapshot["referrals"][0]["referral_id"]: c for c in cases}
        wrong = {
            rid: None if case is None else (case.state, case.collected_fen, case.outstanding_fen)
            for rid, amount in amounts.items()
            if (case := by_referral.get(rid)) is None
            or (case.state, case.collected_fen, case.outstanding_fen) != ("DECIDED", amount, 0)
        }
        receipts = session.scalar(select(func.count()).where(LedgerEntryRow.kind == "receipt"))
        letters = session.scalar(select(func.count()).select_from(DeadLetterRow))
        numbers = {
            district: sorted(str(c.case_no) for c in cases if c.district_code == district)
            for district in DISTRICTS
        }
    engine.dispose()
    report.update(
        {
            "events": len(records),
            "waiting_at_kill": waiting_at_kill,
            "kills": pipeline.counts.kills,
            "handovers": pipeline.counts.handovers,
            "redelivered": redelivered(broker, pipeline.app_id),
            "restarts": pipeline.counts.restarts,
            "sink_waits": pipeline.counts.sink_waits,
            "commits_refused": pipeline.log_count("commit_refused"),
            "refetched": pipeline.log_count("refetch_dropped"),
            "difference": len(wrong)
            + abs(len(cases) - CASES)
            + abs(receipts - 2 * CASES)
            + letters,
        }
    )
    assert len(cases) == CASES
    assert not wrong, (
        f"{len(wrong)} cases wrong (referral: state, collected, outstanding), expected "
        f"DECIDED with {[amounts[rid] for rid in list(wrong)[:5]]} collected: "
        f"{dict(list(wrong.items())[:5])}; batches abandoned "
        f"{pipeline.log_count('batch_abandoned')}, commits refused "
        f"{pipeline.log_count('commit_refused')}\n{pipeline.notable()}"
    )
    assert receipts == 2 * CASES
    assert letters == 0
    for district, given in numbers.items():
        assert given == [f"{district}-2022-{n:04d}" for n in range(1, CASES // 5 + 1)]
    assert pipeline.counts.restarts == 0, "workers restarted on a stall:\n" + "\n".join(
        pipeline.counts.stalls
    )


@pytest.mark.faults
def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
    broker: str, tmp_path: Path
) -> None:
    """Worker and sink are SIGKILLed while the stream is half done and replaced; every
    case ends exactly right, numbered without gaps, with no dead letter."""
    _handovers(broker, tmp_path, 1, {})


@pytest.mark.faults
@pytest.mark.timeout(900)
def test_twenty_handovers_in_a_row_neither_stall_nor_lose(
    broker: str, tmp_path: Path, fault_report: dict[str, Any]
) -> None:
    """Twenty SIGKILL handovers of worker and sink in one stream: no stall (no worker
    restarted), every case exactly right, numbered without gaps, no dead letter."""
    _handovers(broker, tmp_path, 20, fault_report)
