"""The stages of one batch run on a running broker: publish, wait, drain, and on the
embedded broker keep the state for the next run."""

from __future__ import annotations

import signal
import threading
import time

from kafka import KafkaProducer

from consumers.cluster import PartitionsStalled, wait_until_processed
from consumers.health import pipeline_groups
from consumers.publisher import Outgoing, Publisher
from runtime import signals
from runtime.children import Child
from runtime.reporting import Reporter
from streams.errors import RetryableError
from streams.logging import get_logger
from streams.messages import Tick, encode_batch
from streams.settings import Settings, kafka_security
from streams.topics import Topics

log = get_logger(__name__)

# A consumer group whose records wait with none of its commits moving this long has
# stalled: the worker is restarted (twice at most), or the run fails.
STALLED_AFTER_S = 30.0
RESTARTS = 2
# A worker younger than this is still starting (imports, joining, recovering its tables):
# what it has left of it is added to the wait before its group counts as stalled.
STARTING_S = 30.0
# For a worker to stop and copy its tables into the archive.
KEEP_STATE_GRACE_S = 300.0


class BatchSession:
    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        worker: Child,
        sink_thread: threading.Thread,
        reporter: Reporter,
    ) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.worker = worker
        self.sink_thread = sink_thread
        self.reporter = reporter
        self.publisher = Publisher(bootstrap, names=Topics.of(settings))
        self.control = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_security())
        self.handed = 0  # records given to the publisher so far

    def _check(self) -> None:
        self.worker.check()
        if not self.sink_thread.is_alive():
            raise RetryableError("the SQL sink stopped; see the error above")

    def publish(self, records: list[Outgoing], label: str = "publishing") -> None:
        self.reporter.stage(label, len(records))

        def sent(n: int) -> None:
            self.handed = n
            self.reporter.advance(n, len(records))

        self.publisher.send(records, progress=sent)
        self.wait("processing")

    def drain(self) -> None:
        """Tell every partition that the input has ended: events still waiting for an
        unknown referral or inside their group are dead-lettered, and new cases get their
        numbers, in the order they were opened. The three need not wait for each other:
        draining a group opens no case and asks no number."""
        for topic in Topics.of(self.settings).internal:
            self._tick(topic, Tick("drain"))
        self.wait("draining")

    def _tick(self, topic: str, tick: Tick) -> None:
        for partition in range(self.settings.partitions):
            self.control.send(topic, value=encode_batch([tick]), partition=partition)
        self.control.flush()

    def wait(self, label: str) -> None:
        """Wait until everything written so far is processed, however long it takes while
        records move. A worker whose group stalls is restarted: it resumes from its
        committed offsets, and reprocessing is harmless (streams/consumer.py tells of the
        Faust race that could stall one). A stalled sink fails the run."""
        self.reporter.stage(label)
        groups = pipeline_groups(self.settings)

        def progress(left: int) -> None:
            self._check()
            self.reporter.remaining(left)

        for restart in range(RESTARTS + 1):
            starting = max(STARTING_S - (time.monotonic() - self.worker.started_at), 0.0)
            try:
                wait_until_processed(
                    self.bootstrap,
                    groups,
                    progress=progress,
                    stalled_after=STALLED_AFTER_S + starting,
                )
                return
            except PartitionsStalled as stalled:
                if restart == RESTARTS or self.settings.app_id not in stalled.groups:
                    raise
                log.warning("worker_restarted", reason=str(stalled))
                self.worker.restart()

    def keep_state(self) -> bool:
        """Stop the worker, the sink already stopped: it runs with ``--keep-state`` and,
        once it has stopped taking messages, copies its tables into the SQL archive. That
        is the state the next run on the same store builds on, and it covers everything
        the store holds. False when it could not be kept: the worker failed, or another
        signal asked to hurry."""
        self.reporter.stage("keeping the state for the next run")
        self.worker.stop(KEEP_STATE_GRACE_S, give_up=signals.hurry)
        kept = self.worker.exited() == 128 + signal.SIGTERM
        if not kept:
            log.warning("state_not_kept", status=self.worker.exited(), hurried=signals.hurry())
        return kept

    def close(self) -> None:
        self.publisher.producer.close(timeout=0)
        self.control.close(timeout=5)
