"""Figures 2, 3 and 6, and the worker start-up of 7: the whole pipeline as a user runs it.

A fresh broker, an empty SQLite store, the SQL sink and the worker(s) as `referrals sink`
and `referrals worker` processes. Warm-up referrals go first, and the clock starts only
once they are stored (and, with several workers, once the group has settled). Then the
clock runs from the first publish until every group's backlog is zero and the store holds
every referral of the input, or until the run's time budget is spent: then the rate is
that of the events processed so far, and the run is marked partial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench._pipeline import (
    RESTARTS,
    STALLED_AFTER_S,
    Broker,
    Child,
    broker,
    pipeline_settings,
    spawn,
)
from bench.inputs import Prepared, prepare, warm_up_lines
from bench.profile import Spy
from bench.rates import Point
from bench.watch import Sample, Watch, dir_bytes, group_members
from consumers.cluster import ensure_topics
from consumers.publisher import Outgoing, Publisher
from consumers.store import open_store
from streams import topics
from streams.errors import RetryableError
from streams.settings import Settings

WARM_UP = 8
READY_TIMEOUT_S = 180.0
PUBLISH_CHUNK = 5_000
# Nothing behind, yet the store short of the input this long: what is missing is not coming.
SETTLED_S = 10.0
# Eight warm-up referrals take seconds; a warm-up stalled this long is a commit stall.
WARM_UP_STALLED_S = 10.0


@dataclass
class Run:
    setup: str
    events: int
    published: int = 0
    processed: float = 0.0
    elapsed: float = 0.0
    complete: bool = False
    startup_s: float = 0.0
    expected_referrals: int = 0
    stored_referrals: int = 0
    peak_worker_rss: int = 0
    broker_bytes_per_event: float | None = None
    broker_topics: dict[str, int] = field(default_factory=dict)  # Apache Kafka: bytes by topic
    notes: list[str] = field(default_factory=list)
    series: list[Point] = field(default_factory=list)
    profile: dict[str, Any] | None = None

    @property
    def rate(self) -> float:
        return self.processed / self.elapsed if self.elapsed else 0.0


def _alive(children: list[Child]) -> None:
    for child in children:
        child.check()


def _wait_until(done: Callable[[], bool], children: list[Child], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        _alive(children)
        if time.monotonic() > deadline:
            raise RetryableError(f"{what} not within {timeout:g} s")
        time.sleep(0.25)


class _Stalls:
    """What `referrals run` does about a worker whose partitions stop moving (a Faust
    commit stall, streams/offsets.py): restart it, at most RESTARTS times. Each restart
    is noted, since its cost is part of the figure."""

    def __init__(self, workers: list[Child], notes: list[str], after: float) -> None:
        self.workers = workers
        self.after = after
        self.notes = notes
        self.restarts = 0
        self.last: tuple[int, int, int] | None = None
        self.since = time.monotonic()

    def check(self, sample: Sample) -> None:
        now = time.monotonic()
        state = (sample.behind, sample.intake, sample.stored)
        if state != self.last or not sample.behind:
            self.last, self.since = state, now
            return
        if now - self.since > self.after and self.restarts < RESTARTS:
            self.notes.append(
                f"workers restarted at {sample.t:.0f} s: {sample.behind} records behind "
                f"and nothing committed for {self.after:g} s"
            )
            for worker in self.workers:
                worker.restart()
            self.restarts += 1
            self.since = now


class _Pipeline:
    """One end-to-end run on a running broker."""

    def __init__(
        self, b: Broker, settings: Settings, engine: Engine, run: Run, workers: int, work: Path
    ) -> None:
        self.broker = b
        self.settings = settings
        self.engine = engine
        self.run = run
        self.publisher = Publisher(b.bootstrap)
        self.children = [spawn(settings, b.bootstrap, work / "sink", "sink")]
        self.spawned = time.perf_counter()
        self.workers: list[Child] = []
        for i in range(workers):
            self.workers.append(spawn(settings, b.bootstrap, work / f"worker-{i}"))
            self.children.append(self.workers[-1])
        self.stalls = _Stalls(self.workers, run.notes, WARM_UP_STALLED_S)
        self.watch = Watch(b, settings.app_id, engine, self._worker_pids, 1.0)

    def ready(self) -> None:
        """Wait until the workers consume and the warm-up referrals are stored."""
        workers, app_id = len(self.workers), self.settings.app_id
        if workers > 1:
            # every worker in before the first event: a rebalance would be timed otherwise
            _wait_until(
                lambda: group_members(self.broker.bootstrap, app_id) == workers,
                self.children,
                READY_TIMEOUT_S,
                f"{workers} workers in the group",
            )
        self._warm_up()
        self.run.startup_s = time.perf_counter() - self.spawned

    def _warm_up(self) -> None:
        self.publisher.send(prepare(warm_up_lines(WARM_UP), "warm-up").records)
        wanted = WARM_UP

        last: list[Sample] = []

        def ready() -> bool:
            sample = self.watch.try_sample()  # a fresh cluster may not answer at first
            if sample is None:
                return False
            last[:] = [sample]
            self.stalls.check(sample)
            if sample.stored < wanted:
                return False
            if sample.behind and self.stalls.restarts >= RESTARTS:
                # Restarts did not get the offsets committed: time the run anyway, for its
                # rate by stored referrals, though it can never be seen to complete.
                self.run.notes.append(
                    f"warm-up: {sample.behind} records processed but never committed "
                    "(a Faust commit stall, see streams/offsets.py)"
                )
                return True
            return sample.behind == 0

        try:
            _wait_until(ready, self.children, READY_TIMEOUT_S, "the warm-up referrals stored")
        except RetryableError as e:
            state = f"{last[0].stored} of {wanted} stored, {last[0].behind} behind" if last else ""
            raise RetryableError(f"{e} ({state}; restarts: {self.stalls.restarts})") from e

    def timed(self, prepared: Prepared, budget_s: float, every: float) -> None:
        run = self.run
        self.watch = Watch(self.broker, self.settings.app_id, self.engine, self._worker_pids, every)
        run.expected_referrals = prepared.referrals
        self.stalls = _Stalls(self.workers, run.notes, STALLED_AFTER_S)
        origin = self.watch.start()
        complete_at = None
        try:
            self._publish(prepared.records, budget_s)
            complete_at = self._wait(origin, prepared.referrals, budget_s)
        except RetryableError as e:
            # a worker or the sink died: the rate is what was processed until then
            run.notes.append(f"stopped at {time.perf_counter() - self.watch.started:.0f} s: {e}")
        self.watch.stop()
        last = self.watch.sample()
        run.complete = complete_at is not None and run.published == len(prepared.records)
        run.elapsed = complete_at if complete_at is not None else min(last.t, budget_s)
        run.stored_referrals = last.stored - origin.stored
        run.series = [self._point(s, origin, prepared) for s in self.watch.samples]
        run.processed = run.published if run.complete else run.series[-1][1] if run.series else 0
        run.peak_worker_rss = self.watch.peak_worker_rss
        run.notes += self.watch.errors[:3]
        self.final = last

    def _worker_pids(self) -> list[int]:
        return [w.process.pid for w in self.workers]

    def _point(self, sample: Sample, origin: Sample, prepared: Prepared) -> Point:
        """(seconds, events processed): the input's share of referrals stored, capped by
        what the workers have taken in; a referral is stored at the end of the chain."""
        intake = sample.intake - origin.intake
        if not prepared.referrals:
            return (sample.t, float(intake))
        share = (sample.stored - origin.stored) / prepared.referrals
        return (sample.t, min(float(intake), share * len(prepared.records)))

    def _publish(self, records: list[Outgoing], budget_s: float) -> None:
        for start in range(0, len(records), PUBLISH_CHUNK):
            if time.perf_counter() - self.watch.started > budget_s:
                self.run.notes.append(f"budget spent while publishing: {start} published")
                break
            _alive(self.children)
            chunk = records[start : start + PUBLISH_CHUNK]
            self.publisher.send(chunk)
            self.run.published += len(chunk)

    def _wait(self, origin: Sample, referrals: int, budget_s: float) -> float | None:
        """Seconds from the first publish to the first of two clear readings with the store
        complete; None when the budget ran out first."""
        seen = 0
        clear_since: float | None = None
        while time.perf_counter() - self.watch.started < budget_s:
            _alive(self.children)
            time.sleep(self.watch.every / 4)
            samples = self.watch.samples[seen:]
            seen += len(samples)
            for sample in samples:
                self.stalls.check(sample)
                if sample.behind:
                    clear_since = None
                    continue
                clear_since = sample.t if clear_since is None else clear_since
                if sample.stored - origin.stored >= referrals and sample.t > clear_since:
                    return clear_since
                if sample.t - clear_since > SETTLED_S:
                    short = referrals - (sample.stored - origin.stored)
                    self.run.notes.append(f"the store holds {short} referrals fewer than the input")
                    return clear_since
        return None

    def close(self) -> None:
        self.publisher.close()
        for child in self.children:
            child.stop()


def run_e2e(
    setup: str,
    kind: str,
    workers: int,
    prepared: Prepared,
    budget_s: float,
    work: Path,
    every: float = 1.0,
    profile: Path | None = None,
) -> Run:
    """One timed run; ``profile`` (a file) has py-spy record the first worker meanwhile."""
    run = Run(setup, len(prepared.records))
    work.mkdir(parents=True, exist_ok=True)
    with broker(kind) as b:
        settings = pipeline_settings(kind, f"sqlite:///{work / 'store.db'}")
        engine = open_store(settings.db)
        ensure_topics(b.bootstrap, settings.partitions)
        pipeline: _Pipeline | None = None
        spy: Spy | None = None
        try:
            pipeline = _Pipeline(b, settings, engine, run, workers, work)
            pipeline.ready()
            origin_bytes = pipeline.watch.broker_bytes()
            if profile is not None:
                try:
                    spy = Spy(pipeline.workers[0].process.pid, profile, budget_s)
                except FileNotFoundError as e:
                    run.profile = {"error": str(e)}
            pipeline.timed(prepared, budget_s, every)
            run.broker_bytes_per_event = broker_bytes_per_event(b, pipeline, origin_bytes)
        finally:
            if spy is not None:
                run.profile = spy.stop()
            if pipeline is not None:
                pipeline.close()
            engine.dispose()
    return run


def broker_bytes_per_event(b: Broker, pipeline: _Pipeline, origin_bytes: int) -> float | None:
    """Apache Kafka: input topics' bytes per event published plus every other topic's per
    event processed (the two agree in a complete run). Embedded: RSS growth per event."""
    run = pipeline.run
    if not run.published or not run.processed:
        return None
    if b.data_dir is None:
        run.notes.append("broker bytes: the embedded broker's RSS growth (it stores in memory)")
        return (pipeline.final.broker - origin_bytes) / run.published
    sizes = dir_bytes(b.data_dir)
    run.broker_topics = dict(sorted(sizes.items(), key=lambda kv: -kv[1]))
    inputs = sum(v for k, v in sizes.items() if k in topics.INPUTS)
    derived = sum(sizes.values()) - inputs
    return inputs / run.published + derived / run.processed
