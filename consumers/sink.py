"""The SQL sink: case snapshots and dead letters from Kafka into the SQL store.

Offsets are committed only after the database transaction that stored the batch, so a
crash replays the batch, and the store's upserts make the replay change nothing. When the
database is unreachable the batch is retried, with backoff, in a new transaction each
time; its offsets are committed after the first that succeeds.
"""

from __future__ import annotations

import faulthandler
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from consumers.cluster import Positions, positions
from consumers.store import Letter, store_batch
from schemas.codec import CodecError, SchemaStore, default_store, short_name
from streams import topics
from streams.errors import ReferralsError, RetryableError
from streams.logging import get_logger
from streams.settings import kafka_security

# Records per polled batch, stored in one transaction (bench/sink.py measures this size).
MAX_POLL_RECORDS = 1000
# kafka-python 3 has been seen to stop consuming while polls go on returning nothing
# (dpkp/kafka-python issues 3106 and 3131; here three times, every snapshot partition
# waiting and nothing logged). After this long without a record the sink looks at its
# group's lag (client_state says what the client thought, in the log).
IDLE_CHECK_S = 5.0
# How long a stalled sink lets its consumer join or rebalance before replacing it: past
# the session of a member killed a moment ago (SESSION_TIMEOUT_MS), which holds the
# group's join up until it ends.
SESSION_TIMEOUT_MS = 10_000
JOIN_PATIENCE_S = 2 * SESSION_TIMEOUT_MS / 1000
# A poll or a commit that has not returned after this long dumps every thread's stack to
# stderr (the sink's log): a client call that hangs says where, instead of nothing.
HUNG_CALL_S = 60.0
# Without a poll for this long the group drops the sink; retries give up well before.
MAX_POLL_INTERVAL_MS = 300_000
log = get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """How a batch whose transaction failed is retried: waits doubling from ``first_s``
    up to ``max_s``, for ``give_up_after_s`` in all."""

    first_s: float = 0.5
    max_s: float = 8.0
    give_up_after_s: float = 240.0

    def delays(self) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


# SQLite's primary result codes for a database that is busy, locked, read-only, failing,
# full or cannot be opened. SQLITE_ERROR (1), a statement the schema does not fit, is
# raised as OperationalError too, but no retry cures it.
_SQLITE_OUTAGES = frozenset({5, 6, 8, 10, 13, 14, 15})


def retryable(error: Exception) -> bool:
    """Whether a failed transaction may succeed when tried again: the database or the
    connection to it failed, not the statement or the data."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is None or code & 0xFF in _SQLITE_OUTAGES


class Stop(Protocol):
    """What the retry loop needs of the sink's stop event: a wait that says if it is set."""

    def wait(self, timeout: float) -> bool: ...


def store_with_retry(
    store: Callable[[], int],
    stop: Stop,
    backoff: Backoff = Backoff(),
    clock: Callable[[], float] = time.monotonic,
) -> int | None:
    """``store()``, called again after each retryable failure until it succeeds; None if
    ``stop`` is set while waiting. Each call must be one whole transaction, so a failed
    one leaves nothing behind. Raises RetryableError once ``backoff`` gives up."""
    started = clock()
    for attempt, delay in enumerate(backoff.delays(), start=1):
        try:
            stored = store()
        except Exception as e:
            if not retryable(e):
                raise
            error = _describe(e)
            if clock() - started + delay > backoff.give_up_after_s:
                raise RetryableError(
                    f"the database failed for {backoff.give_up_after_s:.0f} s, last with "
                    f"{error}; the batch is not committed and will be stored after a restart"
                ) from e
            log.warning("sink_db_retry", attempt=attempt, retry_in_s=delay, error=error)
            if stop.wait(delay):
                return None
            continue
        if attempt > 1:
            log.info("sink_db_recovered", attempts=attempt)
        return stored
    raise AssertionError("Backoff.delays never ends")


def _describe(error: Exception) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


class Consumer(Protocol):
    """What the sink needs of kafka-python's KafkaConsumer."""

    def poll(self, timeout_ms: int) -> Mapping[Any, Sequence[Any]]: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...
    def assignment(self) -> set[Any]: ...
    def position(self, partition: Any) -> int | None: ...
    def seek(self, partition: Any, offset: int) -> None: ...


class SqlSink:
    def __init__(
        self,
        bootstrap: str,
        engine: Engine,
        store: SchemaStore | None = None,
        *,
        consumer: Consumer | None = None,
        connect: Callable[[], Consumer] | None = None,
        lag: Callable[[], Positions] | None = None,
        backoff: Backoff = Backoff(),
        names: topics.Topics = topics.DEFAULT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.store = store or default_store()
        self.backoff = backoff
        self._connect = connect or (lambda: _connect(bootstrap, names))
        self.consumer = consumer or self._connect()
        self._stop = threading.Event()
        self.stored = 0
        self.clock = clock
        self._lag = lag or (lambda: positions(bootstrap, {names.sink_group: list(names.outputs)}))
        self._idle_since: float | None = None
        self._committed: dict[Any, int] | None = None  # the group's, at the last idle look
        self._sought = False  # the stall the last look found was answered with a seek
        self._unsettled_since: float | None = None  # stalled while joining its group, since
        self.fetch_restarts = 0
        self.replacements = 0

    def poll_once(self, timeout_ms: int = 200) -> int:
        """Store one polled batch and commit its offsets; returns the records seen."""
        with _watched():
            batches = self.consumer.poll(timeout_ms=timeout_ms)
        snapshots: list[dict[str, Any]] = []
        letters: list[Letter] = []
        seen = 0
        for records in batches.values():
            for record in records:
                seen += 1
                try:
                    decoded = self.store.decode(record.value)
                except CodecError as e:
                    # Our own outputs: unreadable means a bug upstream, not bad input.
                    log.error(
                        "output_undecodable", topic=record.topic, offset=record.offset, error=str(e)
                    )
                    continue
                if short_name(decoded.name) == "CaseSnapshot":
                    snapshots.append(decoded.record)
                elif short_name(decoded.name) == "DeadLetter":
                    key = record.key.decode() if record.key else decoded.record["event_id"]
                    letters.append((key, decoded.record))
        if not seen:
            self._check_idle()
            return 0
        self._idle_since = None
        self._sought = False
        stored = store_with_retry(
            lambda: store_batch(self.engine, snapshots, letters), self._stop, self.backoff
        )
        if stored is None:
            return seen  # stopped during an outage: the next sink stores the batch again
        self.stored += stored
        try:
            with _watched():
                self.consumer.commit()
        except CommitFailedError as e:
            # The group moved the partitions on; their new owner stores the batch again.
            log.warning("sink_commit_failed", error=str(e))
        return seen

    def _check_idle(self) -> None:
        """Every IDLE_CHECK_S of empty polls, a look at the sink group's lag: records
        waiting and no commit of the group since the last look is a stall. The first
        look that finds one seeks this consumer's partitions to their positions (which
        restarts their fetching); the next replaces the consumer (nothing polled is
        uncommitted here, so its successor loses nothing). A consumer still joining its
        group is given JOIN_PATIENCE_S before it is replaced, and is not sought. Partitions
        another sink owns are left to it, unless this one owns nothing: then it may not be
        in the group."""
        now = self.clock()
        if self._idle_since is None:
            self._idle_since = now
            return
        if now - self._idle_since < IDLE_CHECK_S:
            return
        self._idle_since = now
        try:
            reading = self._lag()
            mine = set(self.consumer.assignment())
        except (KafkaError, ReferralsError) as e:
            log.warning("sink_idle_check_failed", error=str(e))
            return
        committed = {tp: at.committed for (_, tp), at in reading.items()}
        moved, self._committed = committed != self._committed, committed
        waiting = {
            tp: at.lag for (_, tp), at in reading.items() if at.lag and (tp in mine or not mine)
        }
        if moved or not waiting:
            self._sought = False
            self._unsettled_since = None
            return
        behind = {f"{tp.topic}/{tp.partition}": lag for tp, lag in sorted(waiting.items())}
        client = client_state(self.consumer, sorted(waiting))
        if in_group(self.consumer) is False:
            # Joining or rebalancing. A member killed a moment ago (a sink SIGKILLed and
            # replaced) holds the group up until its session ends, and a new consumer
            # would only start the join over (seen on the embedded broker: replaced every
            # 10 s, the group never settled). Only a join that outlasts that is stuck.
            if self._unsettled_since is None:
                self._unsettled_since = now
                log.warning("sink_group_unsettled", behind=behind, client=client)
            if now - self._unsettled_since < JOIN_PATIENCE_S:
                return
        elif not self._sought:
            self._sought = True
            self.fetch_restarts += 1
            log.warning("sink_fetch_restarted", idle_s=IDLE_CHECK_S, behind=behind, client=client)
            for tp in waiting.keys() & mine:
                at = self.consumer.position(tp)
                if at is not None:
                    self.consumer.seek(tp, at)
            return
        self.replacements += 1
        log.warning("sink_consumer_replaced", idle_s=IDLE_CHECK_S, behind=behind, client=client)
        self._sought = False
        self._unsettled_since = None
        self.consumer.close()
        self.consumer = self._connect()

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                self.poll_once()
        finally:
            # On an error too: leaving the group at once hands the partitions on.
            self.consumer.close()

    def stop(self) -> None:
        self._stop.set()


def in_group(consumer: object) -> bool | None:
    """Whether kafka-python's consumer is a settled member of its group (neither joining
    nor rebalancing); None when it does not say (another client, a test's)."""
    stable = getattr(getattr(consumer, "_coordinator", None), "stable", None)
    return bool(stable()) if callable(stable) else None


@contextmanager
def _watched() -> Iterator[None]:
    faulthandler.dump_traceback_later(HUNG_CALL_S)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def client_state(consumer: object, partitions: list[Any]) -> dict[str, str]:
    """What kafka-python's consumer thinks of its group and of each partition's fetching,
    for the log of a stall: its private state, read defensively, since no public call
    tells it."""
    states: dict[str, str] = {}
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is not None:
        states["group"] = (
            f"{getattr(coordinator, 'state', '?')}, coordinator "
            f"{getattr(coordinator, 'coordinator_id', '?')}, generation "
            f"{getattr(getattr(coordinator, '_generation', None), 'generation_id', '?')}"
        )
    assignment = getattr(getattr(consumer, "_subscription", None), "assignment", None)
    if not isinstance(assignment, dict):
        return states
    pending = getattr(getattr(consumer, "_fetcher", None), "_nodes_with_pending_fetch_requests", ())
    for tp in partitions:
        state = assignment.get(tp)
        if state is None:
            why = "not assigned"
        else:
            flags = {
                "paused": getattr(state, "paused", False),
                "pending revocation": getattr(state, "_pending_revocation", False),
                "no position": not getattr(state, "has_valid_position", True),
                "awaiting validation": getattr(state, "_awaiting_validation", False),
                "awaiting reset": getattr(state, "awaiting_reset", False),
            }
            why = ", ".join(flag for flag, on in flags.items() if on) or "fetchable"
        states[f"{tp.topic}/{tp.partition}"] = why
    if pending:
        states["fetch in flight to nodes"] = ", ".join(map(str, sorted(pending)))
    return states


def _connect(bootstrap: str, names: topics.Topics) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            *names.outputs,
            bootstrap_servers=bootstrap,
            group_id=names.sink_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            max_poll_records=MAX_POLL_RECORDS,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=1_000,
            **kafka_security(),
        )
    except KafkaError as e:
        raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e
