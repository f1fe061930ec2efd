"""The SQL sink's retry policy: a batch whose transaction fails is stored again, whole,
and its offsets are committed only after a transaction that succeeded.

The database is a real SQLite file; an outage is a listener that fails chosen statements
with the error SQLite raises for a failing disk, so a transaction breaks half done. The
consumer is an in-memory stand-in handing out records encoded by the project's codec.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kafka import TopicPartition
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from consumers.cluster import Position, Positions
from consumers.models import Base
from consumers.sink import IDLE_CHECK_S, JOIN_PATIENCE_S, Backoff, SqlSink, store_with_retry
from consumers.store import open_store
from schemas.codec import default_store
from streams import topics
from streams.cases.snapshots import to_avro
from streams.deadletters.letters import DeadLetter
from streams.errors import Reason, RetryableError
from streams.messages import Source
from tests.unit.factories import Group, decided, payment, referral
from tests.unit.factories import event as lifecycle

CODEC = default_store()
FAST = Backoff(first_s=0.001, max_s=0.004, give_up_after_s=5.0)


@dataclass
class Record:
    topic: str
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class FakeConsumer:
    """Hands out one batch, then nothing; ``on_commit`` sees the store at each commit."""

    batch: list[Record]
    on_commit: Callable[[], None] = lambda: None
    commits: int = 0
    polled: bool = False
    closed: bool = False

    def poll(self, timeout_ms: int) -> dict[str, list[Record]]:
        if self.polled:
            return {}
        self.polled = True
        return {"partition-0": self.batch}

    def commit(self) -> None:
        self.on_commit()
        self.commits += 1

    def close(self) -> None:
        self.closed = True


@dataclass
class Outage:
    """Fails every statement starting with ``prefix`` for the next ``times`` attempts."""

    prefix: str
    times: int
    failed: list[str] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._maybe_fail)

    def _maybe_fail(self, *args: Any) -> None:
        statement = args[2]
        if self.times > 0 and statement.startswith(self.prefix):
            self.times -= 1
            self.failed.append(statement.split("(")[0].strip())
            raise disk_error()


def batch() -> list[Record]:
    """A case referred, filed, decided and paid, and two dead letters, as on the topics."""
    group = Group()
    outcomes = [
        group.send(referral("R1", "2022-03-01T09:00:00+08:00")),
        group.send(lifecycle("case_filed", "2022-03-02T09:00:00+08:00", "R1")),
        group.send(decided("2022-03-05T09:00:00+08:00", "R1", 500_000)),
        group.send(payment("P1", "2022-03-06T09:00:00+08:00", "R1", 200_000)),
    ]
    records = [
        Record(topics.SNAPSHOTS, 0, None, CODEC.encode("CaseSnapshot", to_avro(snapshot)))
        for outcome in outcomes
        for snapshot in outcome.snapshots
    ]
    at = datetime(2022, 3, 1, 1, 0, tzinfo=UTC)
    for offset in (7, 8):
        source = Source(topic="referrals.housing", partition=1, offset=offset)
        letter = DeadLetter(source.event_id, Reason.SCHEMA, "schema: broken", source, b"\x00\x01")
        value = CODEC.encode("DeadLetter", letter.to_avro(at))
        records.append(Record(topics.DEADLETTERS, 0, letter.key.encode(), value))
    return [Record(r.topic, offset, r.key, r.value) for offset, r in enumerate(records)]


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with Session(engine) as session:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """Opens SQLite stores in the test's folder, disposed of at the end."""
    engines: list[Engine] = []

    def open_one(name: str) -> Engine:
        engines.append(open_store(f"sqlite:///{tmp_path / name}"))
        return engines[-1]

    yield open_one
    for engine in engines:
        engine.dispose()


class Stop:
    """A stand-in for the sink's stop event that records the waits it is asked for."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.waits: list[float] = []
        self.stop_after = stop_after

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.stop_after is not None and len(self.waits) >= self.stop_after


def failing(times: int, error: Exception) -> Callable[[], int]:
    calls = iter(range(times + 1))

    def store() -> int:
        if next(calls) < times:
            raise error
        return 42

    return store


def disk_error() -> sqlite3.OperationalError:
    """What SQLite raises when its disk fails under it (SQLITE_IOERR)."""
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 10
    return error


def outage() -> OperationalError:
    return OperationalError("INSERT ...", {}, disk_error())


def test_a_failing_transaction_is_retried_with_doubling_waits_up_to_the_cap() -> None:
    """Each retryable failure waits twice as long as the one before, never longer than the
    cap, and the store's result comes back once it succeeds."""
    stop = Stop()
    with capture_logs() as logs:
        stored = store_with_retry(failing(6, outage()), stop, Backoff(first_s=0.5, max_s=4.0))
    assert stored == 42
    assert stop.waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    retries = [e for e in logs if e["event"] == "sink_db_retry"]
    assert [e["attempt"] for e in retries] == [1, 2, 3, 4, 5, 6]
    assert retries[0]["error"] == "OperationalError: disk I/O error"
    assert logs[-1]["event"] == "sink_db_recovered"


def test_an_error_in_the_data_is_not_retried() -> None:
    """A constraint violation is a bug, not an outage: it is raised at once, unretried."""
    error = IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    stop = Stop()
    with pytest.raises(IntegrityError):
        store_with_retry(failing(1, error), stop)
    assert stop.waits == []


def test_a_statement_the_schema_does_not_fit_is_not_retried(
    store: Callable[[str], Engine],
) -> None:
    """SQLite raises a schema mismatch as OperationalError too; it is raised at once, with
    nothing committed, since waiting cannot cure it."""
    engine = store("old.db")
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_cases_unscored"))
        connection.execute(text("ALTER TABLE cases DROP COLUMN version"))
    consumer = FakeConsumer(batch())
    sink = SqlSink("unused", engine, consumer=consumer, backoff=FAST)
    with capture_logs() as logs, pytest.raises(OperationalError, match="no column named version"):
        sink.poll_once()
    assert [e for e in logs if e["event"] == "sink_db_retry"] == []
    assert consumer.commits == 0


def test_retrying_gives_up_after_the_bound_with_a_retryable_error() -> None:
    """Past ``give_up_after_s`` the failure is raised as RetryableError naming the cause."""
    now = [0.0]

    def store() -> int:
        now[0] += 10.0
        raise outage()

    with pytest.raises(RetryableError, match="disk I/O error"):
        store_with_retry(
            store,
            Stop(),
            Backoff(first_s=1.0, max_s=1.0, give_up_after_s=30.0),
            clock=lambda: now[0],
        )
    assert now[0] == 30.0  # three attempts, the third at the bound


def test_a_batch_failing_half_done_is_stored_once_and_then_committed(
    store: Callable[[str], Engine],
) -> None:
    """Transactions that fail after the case rows were written leave nothing behind: the
    retried batch ends exactly as one clean store of it, and the offsets are committed
    once, after the rows are in the database."""
    records = batch()
    reference = store("reference.db")
    SqlSink("unused", reference, consumer=FakeConsumer(records)).poll_once()

    engine = store("flaky.db")
    flaky = Outage("INSERT INTO ledger_entries", times=2)
    flaky.attach(engine)
    seen_at_commit: list[dict[str, list[tuple[Any, ...]]]] = []
    consumer = FakeConsumer(records, on_commit=lambda: seen_at_commit.append(dump(engine)))
    sink = SqlSink("unused", engine, consumer=consumer, backoff=FAST)
    with capture_logs() as logs:
        assert sink.poll_once() == len(records)

    assert [e["attempt"] for e in logs if e["event"] == "sink_db_retry"] == [1, 2]
    assert flaky.failed == ["INSERT INTO ledger_entries"] * 2  # after the case rows
    assert consumer.commits == 1
    assert seen_at_commit == [dump(reference)]
    assert dump(engine) == dump(reference)
    assert len(dump(engine)["ledger_entries"]) == 2
    assert len(dump(engine)["dead_letters"]) == 2


def test_a_sink_stopped_during_an_outage_commits_nothing(
    store: Callable[[str], Engine],
) -> None:
    """Stopping the sink while it waits to retry leaves the batch uncommitted and unstored,
    for the next sink to store."""
    engine = store("down.db")
    Outage("INSERT INTO cases", times=1_000).attach(engine)
    consumer = FakeConsumer(batch())
    sink = SqlSink("unused", engine, consumer=consumer, backoff=Backoff(first_s=0.05))
    threading.Timer(0.2, sink.stop).start()
    sink.run()

    assert consumer.commits == 0
    assert consumer.closed
    assert all(rows == [] for rows in dump(engine).values())


def test_a_sink_whose_retries_give_up_raises_and_commits_nothing(
    store: Callable[[str], Engine],
) -> None:
    """When the database stays down past the bound, the sink stops with a RetryableError,
    has committed no offset and has left the group."""
    engine = store("gone.db")
    Outage("INSERT INTO", times=1_000).attach(engine)
    consumer = FakeConsumer(batch())
    backoff = Backoff(first_s=0.01, max_s=0.02, give_up_after_s=0.1)
    sink = SqlSink("unused", engine, consumer=consumer, backoff=backoff)
    with pytest.raises(RetryableError, match="not committed"):
        sink.run()
    assert consumer.commits == 0
    assert consumer.closed


SNAPSHOTS_0 = TopicPartition(topics.DEFAULT.outputs[0], 0)


@dataclass
class StuckConsumer:
    """Assigned ``assigned``; polls bring nothing."""

    assigned: set[Any]
    at: int = 4
    sought: list[tuple[Any, int]] = field(default_factory=list)
    closed: bool = False
    # kafka-python's coordinator, as far as the sink reads it: absent, or always joining
    _coordinator: Any = None

    def poll(self, timeout_ms: int) -> dict[str, list[Record]]:
        return {}

    def commit(self) -> None:
        raise AssertionError("nothing was stored, nothing to commit")

    def close(self) -> None:
        self.closed = True

    def assignment(self) -> set[Any]:
        return self.assigned

    def position(self, partition: Any) -> int:
        return self.at

    def seek(self, partition: Any, offset: int) -> None:
        self.sought.append((partition, offset))


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


SNAPSHOTS_1 = TopicPartition(topics.DEFAULT.outputs[0], 1)


@dataclass
class GroupLag:
    """The sink group's positions as the broker tells them: ``committed`` moves by
    ``moving`` at each reading, the log ends at 10."""

    committed: int
    moving: int = 0

    def __call__(self) -> Positions:
        self.committed += self.moving
        group = topics.DEFAULT.sink_group
        return {(group, tp): Position(self.committed, 10) for tp in (SNAPSHOTS_0, SNAPSHOTS_1)}


@pytest.mark.parametrize(
    ("assigned", "lag", "stuck"),
    [
        ({SNAPSHOTS_0}, GroupLag(4), True),  # its own partition waits, nothing commits
        (set(), GroupLag(4), True),  # owns nothing while the group's records wait
        ({SNAPSHOTS_0}, GroupLag(10), False),  # nothing waits
        ({SNAPSHOTS_0}, GroupLag(0, moving=1), False),  # the group commits: slow, not stuck
    ],
)
def test_a_sink_idle_while_its_group_stalls_restarts_its_fetch_then_its_consumer(
    store: Callable[[str], Engine], assigned: set[Any], lag: GroupLag, stuck: bool
) -> None:
    """Empty polls while the sink group has records waiting and commits nothing: at the
    first look that sees it, the sink's own partitions are sought to their positions (their
    fetching starts over), and said so; at the next, the consumer is closed and replaced by
    a new one, which gets the same treatment. A group with nothing waiting, or whose
    commits move, is left alone."""
    first = StuckConsumer(set(assigned))
    replacements: list[StuckConsumer] = []

    def connect() -> StuckConsumer:
        replacements.append(StuckConsumer(set(assigned)))
        return replacements[-1]

    clock = Ticks()
    sink = SqlSink(
        "unused", store("sink.db"), consumer=first, connect=connect, lag=lag, clock=clock
    )
    with capture_logs() as logs:
        # looks at 5, 10, 15, 20 s: the first only learns the group's commits
        for second in range(int(4 * IDLE_CHECK_S) + 1):
            clock.now = float(second)
            sink.poll_once()
    sought = [(tp, 4) for tp in assigned]
    assert first.sought == (sought if stuck else [])
    assert first.closed == stuck
    assert [r.sought for r in replacements] == ([sought] if stuck else [])
    assert sink.consumer is (replacements[0] if stuck else first)
    assert (sink.fetch_restarts, sink.replacements) == ((2, 1) if stuck else (0, 0))
    waiting = (
        {"cases.snapshots/0": 6} if assigned else {"cases.snapshots/0": 6, "cases.snapshots/1": 6}
    )
    told = [(e["event"], e["behind"]) for e in logs if e["event"].startswith("sink_")]
    expected = [
        ("sink_fetch_restarted", waiting),
        ("sink_consumer_replaced", waiting),
        ("sink_fetch_restarted", waiting),
    ]
    assert told == (expected if stuck else [])


def test_a_sink_still_joining_its_group_is_given_time_before_it_is_replaced(
    store: Callable[[str], Engine],
) -> None:
    """A consumer that has not settled in its group (a killed sink's membership holds the
    join up until its session ends) is not sought, and is replaced only once it has been
    joining for JOIN_PATIENCE_S: replacing it sooner would start the join over."""
    joining = SimpleNamespace(stable=lambda: False, state="<rebalancing>")
    first = StuckConsumer(set(), _coordinator=joining)
    replacements: list[StuckConsumer] = []

    def connect() -> StuckConsumer:
        replacements.append(StuckConsumer(set(), _coordinator=joining))
        return replacements[-1]

    clock = Ticks()
    sink = SqlSink(
        "unused", store("sink.db"), consumer=first, connect=connect, lag=GroupLag(4), clock=clock
    )
    replaced_at = []
    with capture_logs() as logs:
        for second in range(int(IDLE_CHECK_S + JOIN_PATIENCE_S + 3 * IDLE_CHECK_S) + 1):
            clock.now = float(second)
            before = len(replacements)
            sink.poll_once()
            if len(replacements) > before:
                replaced_at.append(second)
    # the first look learns the commits, the second sees the stall and starts the clock
    stalled_at = 2 * IDLE_CHECK_S
    assert replaced_at == [int(stalled_at + JOIN_PATIENCE_S)]
    assert first.sought == [] and first.closed
    assert sink.fetch_restarts == 0
    events = [e["event"] for e in logs if e["event"].startswith("sink_")]
    assert events == ["sink_group_unsettled", "sink_consumer_replaced", "sink_group_unsettled"]
