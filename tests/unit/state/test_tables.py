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

from streams.errors import RetryableError
from streams.state.archive import Archive
from streams.state.database import connect
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


class FakeApp:
    """What TieredTable asks of a Faust app: a table (here a dict, its changelog left
    out) and the rebalance signal."""

    def __init__(self) -> None:
        self.on_rebalance_complete = _Signal()
        self.tables: dict[str, dict[str, Any]] = {}

    def Table(self, name: str, **_: Any) -> dict[str, Any]:
        return self.tables.setdefault(name, {})


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    engine = connect(f"sqlite:///{tmp_path / 'archive.db'}")
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
    table.put("k", entry)
    assert table.retire(1, ["k"]) == 1
    assert "k" not in app.tables["things"]
    assert asyncio.run(table.load(["k", "never"])) == {"k": entry}


def test_the_archive_never_takes_an_older_copy_over_a_newer(archive: Archive) -> None:
    """A stale copy saved after a newer one (a zombie worker, a replayed checkpoint)
    leaves the newer one in the archive."""
    app = FakeApp()
    table = tiered(app, archive)
    table.put("k", Entry(partition=0, version=5))
    table.checkpoint(0)
    app.tables["things"]["k"] = Entry(partition=0, version=4)
    table.checkpoint(0)
    del app.tables["things"]["k"]
    assert asyncio.run(table.load(["k"])) == {"k": Entry(partition=0, version=5)}


def test_due_keys_are_those_the_partitions_event_time_has_passed(archive: Archive) -> None:
    """An entry may leave memory once the latest event time its partition has seen is at
    or past its moment; other partitions' time does not count."""
    table = tiered(FakeApp(), archive)
    table.put("old", Entry(partition=0, version=1, retire_at=T0, seen=T0 - timedelta(days=40)))
    table.put("new", Entry(partition=0, version=1, retire_at=T0 + timedelta(days=9), seen=T0))
    table.put("far", Entry(partition=1, version=1, seen=T0 + timedelta(days=99)))
    assert table.due(0) == ["old"]
    table.put("later", Entry(partition=0, version=1, seen=T0 + timedelta(days=10)))
    assert table.due(0) == ["new"]


def test_a_rewritten_entry_is_due_at_its_new_moment_only(archive: Archive) -> None:
    """An entry written again with another moment (or none) is not retired on its old one."""
    table = tiered(FakeApp(), archive)
    table.put("k", Entry(partition=0, version=1, retire_at=T0, seen=T0))
    table.put("k", Entry(partition=0, version=2, retire_at=None, seen=T0))
    assert table.due(0) == []


def test_waiting_index_follows_writes_and_is_rebuilt_after_a_rebalance(
    archive: Archive,
) -> None:
    """Keys whose entries wait are listed per partition; after a rebalance the index is
    rebuilt from what the table holds (entries recovered from the changelog included)."""
    app = FakeApp()
    table = tiered(app, archive)
    table.put("a", Entry(partition=2, version=1, waiting=True))
    table.put("b", Entry(partition=2, version=1))
    assert table.waiting(2) == ["a"]
    table.put("a", Entry(partition=2, version=2))
    assert table.waiting(2) == []
    app.tables["things"]["c"] = Entry(partition=2, version=1, waiting=True)  # recovered
    app.on_rebalance_complete.send()
    assert table.waiting(2) == ["c"]


def test_apply_writes_each_changed_key_once(archive: Archive) -> None:
    """Several messages for one key in a batch are applied in order and the key written
    once, with the last entry; a step that changes nothing writes nothing."""
    app = FakeApp()
    table = tiered(app, archive)
    writes: list[str] = []
    original_put = table.put

    def put(key: str, value: Entry) -> None:
        writes.append(key)
        original_put(key, value)

    table.put = put  # type: ignore[method-assign]

    def step(key: str, entry: Entry | None, bump: int) -> Entry | None:
        if bump == 0:
            return None
        return Entry(partition=0, version=(entry.version if entry else 0) + bump)

    written = asyncio.run(table.apply([("k", 1), ("k", 2), ("j", 0)], step))
    assert written == {"k"} and writes == ["k"]
    assert app.tables["things"]["k"] == Entry(partition=0, version=3)


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
    engine = connect(f"sqlite:///{tmp_path / 'archive.db'}")
    archive = _Down(engine)
    table = tiered(FakeApp(), archive)
    table.put("k", Entry(partition=0, version=1, retire_at=T0, seen=T0))
    assert table.retire(0, table.due(0)) == 0
    due = table.due(0)
    assert due == ["k"]
    archive.up = True
    assert table.retire(0, due) == 1
    assert table.due(0) == []
    engine.dispose()
