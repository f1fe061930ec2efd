"""A batch run: publish JSONL files through the whole pipeline and wait until it is done.

With the embedded broker every run starts from an empty broker. What the agents know is
carried from one run to the next by the SQL archive instead (streams/state/archive.py):
at the end of a run every agent copies its state there, and the next run's agents read
from it whatever they do not find in memory. So a run costs its own input and what it
touches of the past, not the whole history.

On the embedded broker the run's worker copies its tables into the archive as it stops
(``--keep-state``), after the sink has stopped: nothing moves any more, so the archive and
the store agree. A run stopped by SIGINT or SIGTERM stops the same way, so the same files
run again on the same store complete the input; it ends with one line saying so
(runtime/resume.py).
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

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.cluster import ensure_topics
from consumers.payloads import keep_payloads
from consumers.publisher import Outgoing, prepare_file
from consumers.scorecard_feed import close_months
from consumers.sink import SqlSink
from consumers.store import Totals, open_store, totals
from runtime import signals
from runtime.children import Child
from runtime.embedded import broker_for
from runtime.reporting import Reporter
from runtime.resume import Interruption, advice
from runtime.session import BatchSession
from streams.errors import RetryableError
from streams.organisation import load_organisation
from streams.scorecards.rubric import load_rubric
from streams.settings import Settings
from streams.topics import Topics

__all__ = ["Reporter", "Run", "Summary", "run_batch"]

# A worker on the embedded broker is alone in its group: a short rebalance gets it
# consuming in about a second and a half instead of five.
EMBEDDED_REBALANCE_TIMEOUT = 3.0


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


@contextlib.contextmanager
def _logs() -> Iterator[Path]:
    """A folder for the children's logs: removed after a run that succeeded or was
    interrupted, kept after one that failed, since the error names a file in it."""
    folder = Path(tempfile.mkdtemp(prefix="referrals-run-"))
    try:
        yield folder
    except signals.Interrupted:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)


class Run:
    """One batch run: a broker, a worker, the SQL sink, and the waits between them."""

    def __init__(self, settings: Settings, engine: Engine, reporter: Reporter) -> None:
        self.settings = settings
        self.engine = engine
        self.reporter = reporter

    def execute(self, files: list[Path]) -> Summary:
        self.done = False
        with signals.resume_hint(self._early):
            prepared = self._prepare(files)
            before = self._totals()
            with broker_for(self.settings) as (bootstrap, embedded), _logs() as log_dir:
                self._run(bootstrap, embedded, log_dir, prepared, before)
        after = self._totals()
        return Summary(
            published=len(prepared),
            dead_lettered=after.dead_lettered - before.dead_lettered,
            exact_duplicates=after.exact_duplicates - before.exact_duplicates,
            amendments=after.amendments - before.amendments,
            merged=after.merged - before.merged,
            cases_opened=after.cases_opened - before.cases_opened,
        )

    def _run(
        self,
        bootstrap: str,
        embedded: bool,
        log_dir: Path,
        prepared: list[Outgoing],
        before: Totals,
    ) -> None:
        # Numbers are given when the input is drained, in event-time order, so the same
        # input gives the same numbers whatever the order of its lines.
        settings = replace(self.settings, number_after_days=float("inf"))
        if embedded:
            settings = replace(settings, rebalance_timeout=EMBEDDED_REBALANCE_TIMEOUT)
            if settings.end_offsets == "auto":
                # Known to answer ListOffsets short of the end: the worker need not probe.
                settings = replace(settings, end_offsets="fetch")
        ensure_topics(bootstrap, settings.partitions, Topics.of(settings))
        with contextlib.ExitStack() as stopping:  # on the way out, whatever happens
            with signals.deferred():
                keep = ("--keep-state",) if embedded else ()
                worker = Child(settings, bootstrap, log_dir, args=keep)
                stopping.callback(worker.stop)
            sink = SqlSink(bootstrap, self.engine, names=Topics.of(settings))
            sink_thread = threading.Thread(target=sink.run, name="sql-sink", daemon=True)
            with signals.deferred():
                sink_thread.start()
                stopping.callback(_stop_sink, sink, sink_thread)
            batch = BatchSession(bootstrap, settings, worker, sink_thread, self.reporter)
            stopping.callback(batch.close)
            try:
                self._complete(batch, settings, prepared)
                if embedded:
                    # The broker and the tables' changelogs go away with this command: the
                    # state the next run builds on moves to the SQL archive.
                    _stop_sink(sink, sink_thread)
                    if not batch.keep_state():
                        raise RetryableError(
                            f"the state for the next run could not be kept; see {worker.log_path}"
                        )
                self.done = True
            except signals.Interrupted as stop:
                # The sink stops first: the state the worker keeps as it stops covers what
                # the store then holds.
                _stop_sink(sink, sink_thread)
                saved = batch.keep_state() if embedded and batch.handed else None
                line = self._stopped(stop, prepared, batch, embedded, saved, before)
                raise signals.Interrupted(stop.signum, line) from None

    def _complete(self, batch: BatchSession, settings: Settings, prepared: list[Outgoing]) -> None:
        batch.publish(prepared)
        batch.drain()
        self.reporter.stage("closing months")
        with Session(self.engine) as session, session.begin():
            close_months(
                session,
                load_organisation(settings.org),
                load_rubric(settings.rubric),
                drained=True,
                producer=batch.control,
                names=Topics.of(settings),
            )

    def _early(self, stop: signals.Interrupted) -> str:
        """The line of a signal that came before the run published or after it was done."""
        name = signals.signal_name(stop.signum)
        if self.done:
            return f"interrupted by {name} as the run ended: its input was processed"
        return f"interrupted by {name} before anything was published; run the same command again"

    def _prepare(self, files: list[Path]) -> list[Outgoing]:
        self.reporter.stage("reading input")
        records: list[Outgoing] = []
        for path in files:
            records += keep_payloads(self.engine, prepare_file(path))
        return records

    def _totals(self) -> Totals:
        with Session(self.engine) as session:
            return totals(session)

    def _stopped(
        self,
        stop: signals.Interrupted,
        prepared: list[Outgoing],
        batch: BatchSession,
        embedded: bool,
        saved: bool | None,
        before: Totals,
    ) -> str:
        """The line that ends an interrupted run. The publisher is flushed first, so what
        it was handed counts as published."""
        published = batch.handed
        if published and not embedded:
            batch.publisher.producer.flush(timeout=30)
        after = self._totals()
        following = prepared[published] if published < len(prepared) else None
        return advice(
            Interruption(
                signum=stop.signum,
                total=len(prepared),
                published=published,
                next_record=(
                    (following.source_file or "?", following.source_line or 0)
                    if following is not None
                    else None
                ),
                embedded=embedded,
                state_saved=saved,
                cases=after.cases_opened - before.cases_opened,
                dead_letters=after.dead_lettered - before.dead_lettered,
            )
        )


def run_batch(settings: Settings, files: list[Path], reporter: Reporter) -> Summary:
    engine = open_store(settings.db)
    try:
        return Run(settings, engine, reporter).execute(files)
    finally:
        engine.dispose()


def _stop_sink(sink: SqlSink, thread: threading.Thread) -> None:
    """The batch in hand is stored and committed before the sink stops."""
    with signals.deferred():
        sink.stop()
        thread.join(timeout=30)
