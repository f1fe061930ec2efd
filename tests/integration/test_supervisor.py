"""The supervisor of ``referrals up`` keeps the services running: a worker, the sink and the
feed, each SIGKILLed and then frozen with SIGSTOP while input keeps arriving, are each
restarted, and everything published meanwhile ends processed exactly right.

The input is ``bench.inputs.decided_cases``: every case must end DECIDED with its decided
amount collected, once, whatever was killed; and the feed, restarted twice, must still
close January with every case's filing counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.inputs import decided_cases
from consumers.cluster import ensure_topics
from consumers.models import CaseRow, DeadLetterRow, LedgerEntryRow
from consumers.publisher import Publisher, prepare_file
from consumers.store import open_store
from runtime.embedded import EmbeddedBroker
from runtime.supervisor import Policy, Supervisor
from streams.settings import Settings
from tests.integration.harness import finish
from tests.support.processes import alive

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REFERRALS = str(Path(sys.executable).with_name("referrals"))
CASES = 240  # six lines each, referred 2022-01-03 to 01-09: all due for filing in January
POLICY = Policy(
    stalled_after=60,
    unanswered_after=3,
    start_grace=90,
    backoff_first=0.5,
    backoff_max=4,
    look_every=0.5,
    lag_every=2,
    hung_grace=5,
)
# In this order, each on a child that has answered its probe at least once.
DISRUPTIONS = [
    ("worker-0", signal.SIGKILL, "exited"),
    ("sink", signal.SIGKILL, "exited"),
    ("feed", signal.SIGKILL, "exited"),
    ("worker-0", signal.SIGSTOP, "unresponsive"),
    ("sink", signal.SIGSTOP, "unresponsive"),
    ("feed", signal.SIGSTOP, "unresponsive"),
]


@pytest.fixture(params=["embedded", "apache-kafka"])
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """(bootstrap, workers): the embedded broker with one worker, Apache Kafka with two."""
    if request.param == "apache-kafka":
        yield request.getfixturevalue("fresh_kafka"), 2
    else:
        with EmbeddedBroker() as embedded:
            yield embedded.bootstrap, 1


def _until(what: str, done: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.2)


def _january_city_card(db: str) -> dict[str, object] | None:
    shown = subprocess.run(
        [
            *(REFERRALS, "scorecard", "--month", "2022-01", "--level", "city"),
            *("--format", "json", "--db", db),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cards = json.loads(shown.stdout)
    return cards[0] if cards else None


@dataclass
class Supervised:
    """What a supervised stretch of the pipeline went through, and where it stored it."""

    supervisor: Supervisor
    amounts: dict[str, int]
    db: str
    started: set[int] = field(default_factory=set)  # every child's PID seen


def _supervise(
    tmp_path: Path,
    bootstrap: str,
    workers: int,
    policy: Policy,
    disruptions: list[tuple[str, int]],
) -> Supervised:
    """Run the supervisor on the decided cases, published in chunks: before each chunk
    but the first, send one signal to one child (once it has answered its probe) and wait
    for the supervisor to restart it. Returns once everything is processed and drained,
    every child stopped."""
    amounts = decided_cases(tmp_path / "input.jsonl", CASES)
    records = list(prepare_file(tmp_path / "input.jsonl"))
    size = -(-len(records) // (len(disruptions) + 1))
    chunks = [records[i : i + size] for i in range(0, len(records), size)]
    db = f"sqlite:///{tmp_path / 'store.db'}"
    settings = replace(
        Settings(db=db, broker=f"kafka://{bootstrap}"), partitions=4, rebalance_timeout=6.0
    )
    ensure_topics(bootstrap, settings.partitions)
    open_store(db).dispose()  # the tables, made before three children race to create them
    supervisor = Supervisor(
        settings, bootstrap, workers=workers, every=1.0, logs=tmp_path / "logs", policy=policy
    )
    run = Supervised(supervisor, amounts, db)
    stop = threading.Event()
    supervising = threading.Thread(target=supervisor.run, args=(stop,))
    supervising.start()
    publisher = Publisher(bootstrap)
    try:
        publisher.send(chunks[0])
        for n, (name, sig) in enumerate(disruptions, start=1):
            slot = supervisor.slot(name)
            _until(f"{name} answers", lambda s=slot: s.answered_at is not None)
            assert slot.child is not None
            run.started |= {s.child.pid for s in supervisor.slots if s.child is not None}
            os.kill(slot.child.pid, sig)
            publisher.send(chunks[n] if n < len(chunks) else [])
            _until(f"{name} restarted", lambda n=n: len(supervisor.restarts) >= n)
        finish(bootstrap, settings)
        _until("the feed closes January with every case", lambda: _january_filings(db) == CASES)
        run.started |= {s.child.pid for s in supervisor.slots if s.child is not None}
    finally:
        publisher.close()
        stop.set()
        supervising.join(timeout=90)
    assert not supervising.is_alive()
    return run


def _january_filings(db: str) -> int | None:
    card = _january_city_card(db)
    return None if card is None else int(card["metrics"]["filing_timeliness"]["due"])


def _assert_processed_right(run: Supervised) -> None:
    """Every case DECIDED with its amount collected once, numbered once, nothing refused;
    the feed's January card counts every filing on time; no child outlived the supervisor."""
    assert not [pid for pid in run.started if alive(pid)], "a child outlived its supervisor"
    card = _january_city_card(run.db)
    assert card is not None
    assert card["metrics"]["filing_timeliness"] == {"due": CASES, "on_time": CASES, "rate": 1.0}
    engine = open_store(run.db)
    try:
        with Session(engine) as session:
            cases = session.scalars(select(CaseRow)).all()
            by_referral = {c.snapshot["referrals"][0]["referral_id"]: c for c in cases}
            states = {rid: c.state for rid, c in by_referral.items()}
            assert states == dict.fromkeys(run.amounts, "DECIDED")
            assert {rid: c.collected_fen for rid, c in by_referral.items()} == run.amounts
            receipts = session.scalar(select(func.count()).where(LedgerEntryRow.kind == "receipt"))
            assert receipts == 2 * CASES
            assert session.scalar(select(func.count()).select_from(DeadLetterRow)) == 0
            numbers = [c.case_no for c in cases]
            assert None not in numbers and len(set(numbers)) == CASES
    finally:
        engine.dispose()


def test_each_child_killed_or_frozen_is_restarted_and_nothing_is_lost(
    cluster: tuple[str, int], tmp_path: Path
) -> None:
    """Six disruptions — SIGKILL, then SIGSTOP, of a worker, the sink and the feed — each
    answered by exactly one restart, for the child's exit or its silence; everything
    published meanwhile ends processed right."""
    bootstrap, workers = cluster
    run = _supervise(tmp_path, bootstrap, workers, POLICY, [(n, s) for n, s, _ in DISRUPTIONS])
    assert run.supervisor.restarts == [(name, reason) for name, _, reason in DISRUPTIONS]
    _assert_processed_right(run)


def test_a_consumer_whose_lag_stops_moving_is_restarted(tmp_path: Path) -> None:
    """With silence tolerated, a frozen sink and then a frozen worker are restarted for
    their consumer groups' lag alone — records waiting, nothing committed — and
    everything published meanwhile ends processed right (embedded broker)."""
    # A killed child's membership lasts its session (6 s), and its replacement may say it
    # has started before that ends: the partitions the group still gave the dead member
    # move only then, with one more rebalance. A stall shorter than that was judged in it
    # once on a slower machine (a second restart of the worker); 20 s is past it.
    patient = replace(POLICY, unanswered_after=3600, stalled_after=20)
    with EmbeddedBroker() as embedded:
        run = _supervise(
            tmp_path,
            embedded.bootstrap,
            1,
            patient,
            [("sink", signal.SIGSTOP), ("worker-0", signal.SIGSTOP)],
        )
    # Each frozen child is restarted for its lag, once: a replacement slower to start than
    # the test's 20 s is not judged before its /health says it has started.
    assert run.supervisor.restarts == [("sink", "stalled"), ("worker-0", "stalled")]
    _assert_processed_right(run)
