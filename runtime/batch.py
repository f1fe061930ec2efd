"""A batch run: publish JSONL files through the whole pipeline and wait until it is done.

With the embedded broker every run starts from an empty broker. What the agents know is
carried from one run to the next by the SQL archive instead (streams/state/archive.py):
at the end of a run every agent copies its state there, and the next run's agents read
from it whatever they do not find in memory. So a run costs its own input and what it
touches of the past, not the whole history.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kafka import KafkaProducer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.cluster import ensure_topics, wait_until_processed
from consumers.payloads import keep_payloads
from consumers.publisher import Outgoing, Publisher, prepare_file
from consumers.scorecard_feed import close_months
from consumers.sink import GROUP as SINK_GROUP
from consumers.sink import SqlSink
from consumers.store import open_store, totals
from runtime.children import Child
from runtime.embedded import broker_for
from streams import topics
from streams.errors import RetryableError, Stalled
from streams.logging import get_logger
from streams.messages import Tick, encode_batch
from streams.organisation import load_organisation
from streams.scorecards.rubric import load_rubric
from streams.settings import Settings, kafka_security

log = get_logger(__name__)

# A worker on the embedded broker is alone in its group: a short rebalance gets it
# consuming in about a second and a half instead of five.
EMBEDDED_REBALANCE_TIMEOUT = 3.0
# A backlog unchanged this long, records waiting, means a stalled worker: restart it.
STALLED_AFTER_S = 30.0
RESTARTS = 2


@dataclass(frozen=True)
class Summary:
    published: int
    dead_lettered: int
    exact_duplicates: int
    amendments: int
    merged: int
    cases_opened: int

    def as_json(self) -> str:
        return json.dumps(asdict(self))


class Reporter:
    """What a run tells the person watching it; the CLI draws it as progress bars."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, done: int, total: int) -> None: ...


@contextlib.contextmanager
def _logs() -> Iterator[Path]:
    """A folder for the children's logs: removed after a run that succeeded, kept after
    one that failed, since the error names a file in it."""
    folder = Path(tempfile.mkdtemp(prefix="referrals-run-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class Run:
    """One batch run: a broker, a worker, the SQL sink, and the waits between them."""

    def __init__(self, settings: Settings, engine: Engine, reporter: Reporter) -> None:
        self.settings = settings
        self.engine = engine
        self.reporter = reporter

    def execute(self, files: list[Path]) -> Summary:
        prepared = self._prepare(files)
        with Session(self.engine) as session:
            before = totals(session)
        with broker_for(self.settings) as (bootstrap, embedded), _logs() as log_dir:
            # Numbers are given when the input is drained, in event-time order, so the same
            # input gives the same numbers whatever the order of its lines.
            settings = replace(self.settings, number_after_days=float("inf"))
            if embedded:
                # Known to answer ListOffsets short of the end: the worker need not probe.
                settings = replace(
                    settings, rebalance_timeout=EMBEDDED_REBALANCE_TIMEOUT, end_offsets="fetch"
                )
            ensure_topics(bootstrap, settings.partitions, settings.app_id)
            worker = Child(settings, bootstrap, log_dir)
            sink = SqlSink(bootstrap, self.engine)
            sink_thread = threading.Thread(target=sink.run, name="sql-sink", daemon=True)
            sink_thread.start()
            try:
                session_run = _Session(
                    bootstrap, settings, worker, sink, sink_thread, self.reporter
                )
                session_run.publish(prepared)
                session_run.drain()
                if embedded:
                    # The broker and the tables' changelogs go away with this command: the
                    # state the next run builds on moves to the SQL archive.
                    session_run.checkpoint()
                self.reporter.stage("closing months")
                with Session(self.engine) as session, session.begin():
                    close_months(
                        session,
                        load_organisation(settings.org),
                        load_rubric(settings.rubric),
                        drained=True,
                        producer=session_run.control,
                    )
            finally:
                sink.stop()
                sink_thread.join(timeout=30)
                worker.stop()
        with Session(self.engine) as session:
            after = totals(session)
        return Summary(
            published=len(prepared),
            dead_lettered=after.dead_lettered - before.dead_lettered,
            exact_duplicates=after.exact_duplicates - before.exact_duplicates,
            amendments=after.amendments - before.amendments,
            merged=after.merged - before.merged,
            cases_opened=after.cases_opened - before.cases_opened,
        )

    def _prepare(self, files: list[Path]) -> list[Outgoing]:
        self.reporter.stage("reading input")
        records: list[Outgoing] = []
        for path in files:
            records += keep_payloads(self.engine, prepare_file(path))
        return records


class _Session:
    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        worker: Child,
        sink: SqlSink,
        sink_thread: threading.Thread,
        reporter: Reporter,
    ) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.worker = worker
        self.sink_thread = sink_thread
        self.reporter = reporter
        self.publisher = Publisher(bootstrap)
        self.control = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_security())

    def _check(self) -> None:
        self.worker.check()
        if not self.sink_thread.is_alive():
            raise RetryableError("the SQL sink stopped; see the error above")

    def publish(self, records: list[Outgoing], label: str = "publishing") -> None:
        self.reporter.stage(label, len(records))
        self.publisher.send(records, progress=lambda n: self.reporter.advance(n, len(records)))
        self.wait("processing")

    def drain(self) -> None:
        """Tell every partition that the input has ended: events still waiting for an
        unknown referral or inside their group are dead-lettered, and new cases get their
        numbers, in the order they were opened. The three need not wait for each other:
        draining a group opens no case and asks no number."""
        for topic in topics.internal(self.settings.app_id):
            self._tick(topic, Tick("drain"))
        self.wait("draining")

    def checkpoint(self) -> None:
        """Have every stateful agent copy its partitions' state into the SQL archive."""
        for topic in topics.internal(self.settings.app_id):
            self._tick(topic, Tick("checkpoint"))
        self.wait("keeping the state for the next run")

    def _tick(self, topic: str, tick: Tick) -> None:
        for partition in range(self.settings.partitions):
            self.control.send(topic, value=encode_batch([tick]), partition=partition)
        self.control.flush()

    def wait(self, label: str) -> None:
        """Wait until everything written so far is processed. A worker whose partitions
        stop moving is restarted: it resumes from its committed offsets, and reprocessing
        is harmless (streams/offsets.py tells of the Faust bug that can stall one)."""
        self.reporter.stage(label)
        groups = {
            self.settings.app_id: [*topics.INPUTS, *topics.internal(self.settings.app_id)],
            SINK_GROUP: list(topics.OUTPUTS),
        }

        def progress(done: int, total: int) -> None:
            self._check()
            self.reporter.advance(done, total)

        for _ in range(RESTARTS):
            try:
                wait_until_processed(
                    self.bootstrap,
                    groups,
                    timeout=600,
                    progress=progress,
                    stalled_after=STALLED_AFTER_S,
                )
                return
            except Stalled as stalled:
                log.warning("worker_restarted", reason=str(stalled))
                self.worker.restart()
        wait_until_processed(self.bootstrap, groups, timeout=600, progress=progress)


def run_batch(settings: Settings, files: list[Path], reporter: Reporter) -> Summary:
    engine = open_store(settings.db)
    try:
        return Run(settings, engine, reporter).execute(files)
    finally:
        engine.dispose()
