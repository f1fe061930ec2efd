"""A pipeline of separate processes on a real broker, driven as an operator would drive
it: stream workers and the SQL sink as child processes (runtime/children.py), input
published by the test, the input drained at the end as a batch run drains it.

Faults are the test's: it kills, stops and starts the children, the broker or the
database, and asks this harness to wait until everything is processed. The wait tells a
stall (no progress for STALLED_AFTER_S with records waiting) from slowness and restarts
the workers on one, as a batch run would, but counts it: the fault tests expect none.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import Engine

from consumers.cluster import backlog, committed_offsets, ensure_topics, wait_until_processed
from consumers.health import pipeline_groups
from consumers.publisher import Outgoing, Publisher, prepare_line
from referrals.generate import generate_scaled
from runtime.children import Child
from schemas.codec import default_store
from streams import topics
from streams.errors import Stalled
from streams.messages import Tick, encode_batch
from streams.organisation import default_organisation_path, load_organisation
from streams.settings import Settings
from tests.integration.canonical import (
    Dump,
    absorbed_point_to_live,
    canonical_dump,
    differences,
    ledger_mismatches,
)
from tests.integration.observe import redelivered

# Lines of a child's log worth showing in a failure message.
NOTABLE = re.compile(r"warn|error|exception|Traceback|Thread 0x|File \"", re.IGNORECASE)
# A backlog unchanged this long, records waiting, is a stall (runtime/batch.py's figure).
STALLED_AFTER_S = 30.0
# A stall of the sink's group alone is waited on this many times more (the sink mends
# its own consumer within 30 s) before it counts as one the workers' restart must answer.
SINK_WAITS = 2
# The workers' session and rebalance timeout: short, as in test_faults.py, so that a
# killed worker's partitions move on within seconds.
SESSION_TIMEOUT_S = 6.0


def zhuzhou_input(
    seed: int, incidents: int, years: tuple[int, int] = (2021, 2022)
) -> list[Outgoing]:
    """The generated Zhuzhou profile as the records a batch run publishes, its bad lines
    as dead letters naming their file and line."""
    org = load_organisation(default_organisation_path())
    store = default_store()
    name = f"zhuzhou-{seed}-{incidents}.jsonl"
    lines = generate_scaled(seed, org, incidents, years)
    return [prepare_line(line, name, number, store) for number, line in enumerate(lines, 1)]


@dataclass
class Counts:
    """What a fault test reports beside its final difference."""

    kills: int = 0
    handovers: int = 0
    restarts: int = 0
    rebalance_s: list[float] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)  # what each restart answered
    sink_waits: int = 0  # stalls of the sink's group alone, left to the sink to mend


class LivePipeline:
    """Workers and a sink on ``bootstrap``, storing into ``db``, logs under ``log_dir``."""

    def __init__(
        self,
        bootstrap: str,
        db: str,
        log_dir: Path,
        *,
        partitions: int = 4,
        session_timeout: float = SESSION_TIMEOUT_S,
        number_at_drain: bool = True,
    ) -> None:
        self.bootstrap = bootstrap
        self.log_dir = log_dir
        settings = replace(
            Settings(db=db), partitions=partitions, rebalance_timeout=session_timeout
        )
        if number_at_drain:
            # As in a batch run: numbers are given at the drain, in event-time order, so the
            # same input gets the same numbers whatever the processing order.
            settings = replace(settings, number_after_days=float("inf"))
        self.settings = settings
        self.workers: list[Child] = []
        self.sink: Child | None = None
        self.counts = Counts()
        self._spawned = 0
        ensure_topics(bootstrap, partitions, topics.Topics.of(settings))

    @property
    def topics(self) -> topics.Topics:
        return topics.Topics.of(self.settings)

    @property
    def app_id(self) -> str:
        return self.settings.app_id

    @property
    def groups(self) -> dict[str, list[str]]:
        return pipeline_groups(self.settings)

    def start_worker(self, *args: str) -> Child:
        self._spawned += 1
        folder = self.log_dir / f"worker-{self._spawned}"
        folder.mkdir(parents=True)
        worker = Child(self.settings, self.bootstrap, folder, args=args)
        self.workers.append(worker)
        return worker

    def start_sink(self) -> Child:
        folder = self.log_dir / "sink"
        folder.mkdir(parents=True, exist_ok=True)
        self.sink = Child(self.settings, self.bootstrap, folder, command="sink")
        return self.sink

    def kill_worker(self, worker: Child) -> None:
        """SIGKILL ``worker`` and reap it."""
        self.signal_worker(worker, signal.SIGKILL).process.wait()

    def signal_worker(self, worker: Child, sig: signal.Signals) -> Child:
        """Send ``sig`` to ``worker``, which is no longer counted among the running."""
        self.workers.remove(worker)
        worker.process.send_signal(sig)
        if sig == signal.SIGKILL:
            self.counts.kills += 1
        return worker

    def publish(self, records: list[Outgoing]) -> None:
        publisher = Publisher(self.bootstrap)
        try:
            publisher.send(records)
        finally:
            publisher.close()

    def publish_paced(
        self, records: list[Outgoing], parts: int, every_s: float
    ) -> threading.Thread:
        """Publish ``records`` in ``parts`` slices, one every ``every_s`` seconds, from a
        thread of its own: a stream that keeps flowing while the test makes its faults."""

        def paced() -> None:
            publisher = Publisher(self.bootstrap)
            try:
                for part in slices(records, parts):
                    publisher.send(part)
                    time.sleep(every_s)
            finally:
                publisher.close()

        thread = threading.Thread(target=paced, name="paced-publisher", daemon=True)
        thread.start()
        return thread

    def pending(self) -> int:
        """Records written that the worker group or the sink has not yet committed."""
        return sum(backlog(self.bootstrap, self.groups).values())

    def progress(self) -> int:
        """The worker group's committed offsets, summed: grows as it processes."""
        return sum(committed_offsets(self.bootstrap, self.app_id).values())

    def until_progress(self, timeout: float = 90.0) -> None:
        """Wait until the worker group commits something new: its workers are consuming.
        A group left nothing to process (the worker killed last may have finished it all
        before it died) counts once its newest worker is ready."""
        start = self.progress()

        def consuming() -> bool:
            return self.progress() > start or (self.caught_up() and self.newest_worker_ready())

        self.until(consuming, timeout, "the workers made no progress")

    def caught_up(self) -> bool:
        """The worker group has committed every record written to its topics."""
        return not backlog(self.bootstrap, {self.app_id: self.groups[self.app_id]})

    def newest_worker_ready(self) -> bool:
        """The worker started last has its partitions and has recovered its tables."""
        if not self.workers or self.workers[-1].log_path is None:
            return False
        log = self.workers[-1].log_path
        return log.exists() and "Worker ready" in log.read_text(errors="replace")

    def until_waiting(self, timeout: float = 60.0) -> int:
        """Wait until records are written that the group has not processed; how many."""
        waiting = 0

        def records_waiting() -> bool:
            nonlocal waiting
            waiting = self.pending()
            return waiting > 0

        self.until(records_waiting, timeout, "no record came to process")
        return waiting

    def until(self, condition: Callable[[], bool], timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.check()
            assert time.monotonic() < deadline, (
                f"{failure} within {timeout:g} s; logs: {self.log_dir}"
            )
            time.sleep(0.25)

    def check(self) -> None:
        """Raise if a child died that the test did not kill."""
        for child in [*self.workers, *([self.sink] if self.sink else [])]:
            child.check()

    def wait(self, timeout: float = 300.0) -> None:
        """Until everything written so far is processed and committed. A stall restarts
        the workers and is counted in ``counts.restarts``."""
        while True:
            try:
                wait_until_processed(
                    self.bootstrap,
                    self.groups,
                    timeout=timeout,
                    progress=lambda left: self.check(),
                    stalled_after=STALLED_AFTER_S,
                )
                return
            except Stalled as e:
                stalled = set(getattr(e, "groups", ()))
                if stalled == {self.topics.sink_group} and self.counts.sink_waits < SINK_WAITS:
                    # The sink watches its own group and replaces a stuck consumer itself
                    # (consumers/sink.py); restarting the workers would not help it.
                    self.counts.sink_waits += 1
                    self.counts.stalls.append(f"(the sink's, waited on) {e}")
                    continue
                self.counts.restarts += 1
                self.counts.stalls.append(f"{e}\n{self.notable()}")
                if self.counts.restarts > 3:
                    raise Stalled(self.counts.stalls[-1]) from e
                for worker in self.workers:
                    worker.restart()

    def drain(self) -> None:
        """The input has ended: everything still waiting is decided, as a batch run does,
        first where events wait for an unknown referral, then inside their group, then
        for their case numbers."""
        for topic in topics.internal(self.app_id):
            self.tick(topic, Tick("drain"))
            self.wait()

    def tick(self, topic: str, tick: Tick) -> None:
        """``tick`` to every partition of an internal topic."""
        control = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            for partition in range(self.settings.partitions):
                control.send(topic, value=encode_batch([tick]), partition=partition)
            control.flush()
        finally:
            control.close()

    def stop(self) -> None:
        for child in [*self.workers, *([self.sink] if self.sink else [])]:
            child.stop()

    def notable(self, last: int = 6) -> str:
        """The last warnings, errors and stack dumps of each child's log, for a failure
        message: CI shows a failed test's message, not the logs it names."""
        shown = []
        for path in sorted(self.log_dir.rglob("*.log")):
            lines = path.read_text(errors="replace").splitlines()
            picked = [line[:300] for line in lines if NOTABLE.search(line)][-last:]
            shown.append(f"{path.relative_to(self.log_dir)}: {len(lines)} lines")
            shown.extend(f"  {line}" for line in picked)
        return "\n".join(shown)

    def log_count(self, event: str) -> int:
        """How often the children's logs name ``event``."""
        return sum(
            path.read_text(errors="replace").count(event) for path in self.log_dir.rglob("*.log")
        )


def finish(
    pipeline: LivePipeline,
    engine: Engine,
    expected: Dump,
    report: dict[str, Any],
    *,
    restarts: int = 0,
) -> None:
    """Let the pipeline process everything and drain, then compare the store with the
    clean run's and fill in the figures every fault test reports. At most ``restarts``
    workers may have been restarted on a stall, as `referrals up` restarts them."""
    pipeline.wait()
    pipeline.drain()
    found = canonical_dump(engine)
    pipeline.stop()
    difference, shown = differences(found, expected)
    counts = pipeline.counts
    report.update(
        kills=counts.kills,
        handovers=counts.handovers,
        rebalance_s=[round(s, 1) for s in counts.rebalance_s],
        redelivered=redelivered(pipeline.bootstrap, pipeline.app_id),
        restarts=counts.restarts,
        sink_waits=counts.sink_waits,
        commits_refused=pipeline.log_count("commit_refused"),
        refetched=pipeline.log_count("refetch_dropped"),
        difference=difference,
    )
    assert difference == 0, "\n".join(shown)
    assert absorbed_point_to_live(engine) == []
    assert ledger_mismatches(engine) == []
    assert counts.restarts <= restarts, "workers restarted on a stall:\n" + "\n".join(counts.stalls)


def slices(records: list[Outgoing], parts: int) -> Iterator[list[Outgoing]]:
    """``records`` in ``parts`` consecutive slices (the last may be shorter), in order."""
    size = -(-len(records) // parts)
    for start in range(0, len(records), size):
        yield records[start : start + size]
