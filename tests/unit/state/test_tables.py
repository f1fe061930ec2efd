"""The tiered table: entries in memory, the SQL archive behind them, and the indexes that
say which keys wait and which may leave memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from consumers.store import open_store
from streams.errors import RetryableError
from streams.state.archive import Archive
from streams.state.tables import TieredTable, Tiering

T0 = datetime(2022, 3, 1, tzinfo=UTC)


class Entry(msgspec.Struct, frozen=True):
    partition: int
    version: int
    waiting: bool = False
    retire_at: datetime | None = None
    seen: datetime | None = None


class _Signal:
    def __init__(self) -> None:
        self.receivers: list[Any] = []

    def connect(self, receiver: Any) -> None:
        self.receivers.append(receiver)

    def send(self) -> None:
        for receiver in self.receivers:
            asyncio.run(receiver(self))


class FakeChangelog:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    async def send(self, *, key: str, value: Any, partition: int, **_: Any) -> None:
        self.sent.append((partition, key, value))


class FakeTable(dict[str, Any]):
    """A Faust table as TieredTable uses it: its store (here the dict itself) and its
    changelog topic (the records sent, with their partitions)."""

    def __init__(self) -> None:
        super().__init__()
        self.changelog_topic = FakeChangelog()

    @property
    def data(self) -> dict[str, Any]:
        return self


class FakeApp:
    """What TieredTable asks of a Faust app: a table and the rebalance signal."""

    def __init__(self) -> None:
        self.on_rebalance_complete = _Signal()
        self.tables: dict[str, FakeTable] = {}

    def Table(self, name: str, **_: Any) -> FakeTable:
        return self.tables.setdefault(name, FakeTable())


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    engine = open_store(f"sqlite:///{tmp_path / 'archive.db'}")  # the table is the store's
    yield Archive(engine)
    engine.dispose()


def tiered(app: FakeApp, archive: Archive) -> TieredTable[Entry]:
    return TieredTable(
        app,
        "things",
        Entry,
        4,
        archive,
        Tiering(
            version=lambda e: e.version,
            waiting=lambda e: e.waiting,
            retire_at=lambda e: e.retire_at,
            event_time=lambda e: e.seen,
        ),
    )


def test_a_retired_entry_is_read_back_from_the_archive(archive: Archive) -> None:
    """After ``retire`` an entry is gone from memory but ``load`` still finds it, equal to
    what it was; a key never written is simply absent."""
    app = FakeApp()
    table = tiered(app, archive)
    entry = Entry(partition=1, version=3)
    asyncio.run(table.put("k", entry))
    assert asyncio.run(table.retire(1, ["k"])) == 1
    assert "k" not in app.tables["things"]
    assert asyncio.run(table.load(["k", "never"])) == {"k": entry}


def test_the_archive_never_takes_an_older_copy_over_a_newer(archive: Archive) -> None:
    """A stale copy saved after a newer one (a zombie worker, a state kept twice)
    leaves the newer one in the archive."""
    app = FakeApp()
    table = tiered(app, archive)
    asyncio.run(table.put("k", Entry(partition=0, version=5)))
    table.keep_all()
    app.tables["things"]["k"] = Entry(partition=0, version=4)
    table.keep_all()
    del app.tables["things"]["k"]
    assert asyncio.run(table.load(["k"])) == {"k": Entry(partition=0, version=5)}


def test_due_keys_are_those_the_partitions_event_time_has_passed(archive: Archive) -> None:
    """An entry may leave memory once the latest event time its partition has seen is at
    or past its moment; other partitions' time does not count."""
    table = tiered(FakeApp(), archive)
    asyncio.run(
        table.put("old", Entry(partition=0, version=1, retire_at=T0, seen=T0 - timedelta(days=40)))
    )
    asyncio.run(
        table.put("new", Entry(partition=0, version=1, retire_at=T0 + timedelta(days=9), seen=T0))
    )
    asyncio.run(table.put("far", Entry(partition=1, version=1, seen=T0 + timedelta(days=99))))
    assert table.due(0) == ["old"]
    asyncio.run(table.put("later", Entry(partition=0, version=1, seen=T0 + timedelta(days=10))))
    assert table.due(0) == ["new"]


def test_a_rewritten_entry_is_due_at_its_new_moment_only(archive: Archive) -> None:
    """An entry written again with another moment (or none) is not retired on its old one."""
    table = tiered(FakeApp(), archive)
    asyncio.run(table.put("k", Entry(partition=0, version=1, retire_at=T0, seen=T0)))
    asyncio.run(table.put("k", Entry(partition=0, version=2, retire_at=None, seen=T0)))
    assert table.due(0) == []


def test_waiting_index_follows_writes_and_is_rebuilt_after_a_rebalance(
    archive: Archive,
) -> None:
    """Keys whose entries wait are listed per partition; after a rebalance the index is
    rebuilt from what the table holds (entries recovered from the changelog included)."""
    app = FakeApp()
    table = tiered(app, archive)
    asyncio.run(table.put("a", Entry(partition=2, version=1, waiting=True)))
    asyncio.run(table.put("b", Entry(partition=2, version=1)))
    assert asyncio.run(table.waiting(2)) == ["a"]
    asyncio.run(table.put("a", Entry(partition=2, version=2)))
    assert asyncio.run(table.waiting(2)) == []
    app.tables["things"]["c"] = Entry(partition=2, version=1, waiting=True)  # recovered
    app.on_rebalance_complete.send()
    assert asyncio.run(table.waiting(2)) == ["c"]


def test_waiting_entries_kept_in_the_archive_are_found_by_the_next_worker(
    archive: Archive,
) -> None:
    """A worker that kept its state in the archive as it stopped (a batch run on the
    embedded broker) leaves waiting entries there; a new worker, its memory empty, lists
    them with its own until it holds a newer copy of one."""
    first = tiered(FakeApp(), archive)
    asyncio.run(first.put("a", Entry(partition=2, version=1, waiting=True)))
    asyncio.run(first.put("b", Entry(partition=2, version=1)))
    asyncio.run(first.put("c", Entry(partition=3, version=1, waiting=True)))
    assert first.keep_all()

    second = tiered(FakeApp(), archive)
    asyncio.run(second.put("d", Entry(partition=2, version=1, waiting=True)))
    assert asyncio.run(second.waiting(2)) == ["a", "d"]
    assert asyncio.run(second.waiting(3)) == ["c"]
    asyncio.run(second.put("a", Entry(partition=2, version=2)))
    assert asyncio.run(second.waiting(2)) == ["d"]


def test_apply_writes_each_changed_key_once(archive: Archive) -> None:
    """Several messages for one key in a batch are applied in order and the key written
    once, with the last entry; a step that changes nothing writes nothing."""
    app = FakeApp()
    table = tiered(app, archive)
    writes: list[str] = []
    original_put = table.put

    async def put(key: str, value: Entry) -> None:
        writes.append(key)
        await original_put(key, value)

    table.put = put  # type: ignore[method-assign]

    def step(key: str, entry: Entry | None, bump: int) -> Entry | None:
        if bump == 0:
            return None
        return Entry(partition=0, version=(entry.version if entry else 0) + bump)

    written = asyncio.run(table.apply([("k", 1), ("k", 2), ("j", 0)], step))
    assert written == {"k"} and writes == ["k"]
    assert app.tables["things"]["k"] == Entry(partition=0, version=3)


def test_writes_go_to_the_changelog_partition_the_entry_names(archive: Archive) -> None:
    """An entry is written to its own partition's changelog, whatever record is being
    processed, and leaving memory sends a tombstone there."""
    app = FakeApp()
    table = tiered(app, archive)
    asyncio.run(table.put("a", Entry(partition=3, version=1)))
    asyncio.run(table.put("b", Entry(partition=1, version=1)))
    asyncio.run(table.retire(3, ["a"]))
    assert app.tables["things"].changelog_topic.sent == [
        (3, "a", Entry(partition=3, version=1)),
        (1, "b", Entry(partition=1, version=1)),
        (3, "a", None),
    ]


class _Down(Archive):
    """An archive whose database is unreachable until ``up`` is set."""

    up = False

    def save(self, store: str, rows: Any) -> int:
        if not self.up:
            raise RetryableError("archive unreachable: the database is down")
        return super().save(store, rows)


def test_entries_the_archive_could_not_take_are_due_again(tmp_path: Path) -> None:
    """While the database is down nothing leaves memory, and the entries stay due: the
    step after it is back retires them, with no rebalance in between."""
    engine = open_store(f"sqlite:///{tmp_path / 'archive.db'}")
    archive = _Down(engine)
    table = tiered(FakeApp(), archive)
    asyncio.run(table.put("k", Entry(partition=0, version=1, retire_at=T0, seen=T0)))
    assert asyncio.run(table.retire(0, table.due(0))) == 0
    due = table.due(0)
    assert due == ["k"]
    archive.up = True
    assert asyncio.run(table.retire(0, due)) == 1
    assert table.due(0) == []
    engine.dispose()
