"""A Faust table whose entries can leave memory for the SQL archive, with the indexes its
agent needs: which keys hold waiting events, and which may leave memory.

The indexes live in memory beside the table; they are rebuilt from the table after every
rebalance (the table itself is recovered from its changelog by Faust), so they never need
a table write of their own.
"""

from __future__ import annotations

import asyncio
import heapq
import weakref
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from faust.serializers import codecs

from streams.errors import RetryableError
from streams.logging import get_logger
from streams.state.archive import Archive

log = get_logger(__name__)


class Entry(Protocol):
    @property
    def partition(self) -> int: ...


V = TypeVar("V", bound=Entry)
M = TypeVar("M")
R = TypeVar("R")


@dataclass(frozen=True)
class Tiering(Generic[V]):
    """How the agent reads its entries: what version an entry is (the archive keeps the
    newest), whether it waits, when it may leave memory, and how recent it is."""

    version: Callable[[V], int]
    waiting: Callable[[V], bool]
    retire_at: Callable[[V], datetime | None]
    event_time: Callable[[V], datetime | None]


class _Codec(codecs.Codec):
    def __init__(self, value_type: Any) -> None:
        super().__init__()
        self.encoder = msgspec.msgpack.Encoder()
        self.decoder = msgspec.msgpack.Decoder(value_type)

    def _dumps(self, obj: Any) -> bytes:
        return self.encoder.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.decoder.decode(s)


def _value_type(codec_name: str) -> type:
    """What Faust takes as a table's value type: it reads the codec of the changelog from
    ``_options.serializer`` and hands decoded values to ``from_data``, here unchanged."""

    def from_data(cls: type, data: Any, preferred_type: Any = None) -> Any:
        return data

    return type(
        codec_name,
        (),
        {"_options": SimpleNamespace(serializer=codec_name), "from_data": classmethod(from_data)},
    )


# Every tiered table of an app: a worker on the embedded broker keeps them all when it
# stops (runtime/worker.py), since their changelogs go away with the broker.
_OF_APP: weakref.WeakKeyDictionary[Any, list[TieredTable[Any]]] = weakref.WeakKeyDictionary()


def tiered_tables(app: Any) -> list[TieredTable[Any]]:
    return list(_OF_APP.get(app, ()))


class TieredTable(Generic[V]):
    def __init__(
        self,
        app: Any,
        name: str,
        value_type: Any,
        partitions: int,
        archive: Archive,
        tiering: Tiering[V],
    ) -> None:
        self.name = name
        self.codec = _Codec(value_type)
        codec_name = f"referrals-{name}"
        codecs.register(codec_name, self.codec)
        self.table = app.Table(
            name, default=None, partitions=partitions, value_type=_value_type(codec_name)
        )
        self.archive = archive
        self.tiering = tiering
        self._generation = 0
        self._built = -1
        self._waiting: dict[int, set[str]] = defaultdict(set)
        self._archived_waiting: dict[int, set[str]] = {}
        self._retiring: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        self.watermark: dict[int, datetime] = {}
        _OF_APP.setdefault(app, []).append(self)

        app.on_rebalance_complete.connect(self._reindex)

    async def _reindex(self, sender: Any, **kwargs: Any) -> None:
        self._generation += 1

    # ------------------------------------------------------------------ reading

    async def load(self, keys: Collection[str]) -> dict[str, V]:
        """The current entries of ``keys``: from memory, else from the archive. While the
        archive is unreachable this waits and retries: an entry must never be taken for
        absent because the database is down."""
        found: dict[str, V] = {}
        missing = []
        for key in keys:
            value = self.table.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        if missing:
            for key, data in (await self._fetch(missing)).items():
                found[key] = self.codec.decoder.decode(data)
        return found

    async def _fetch(self, keys: list[str]) -> dict[str, bytes]:
        return await self._retrying(lambda: self.archive.fetch(self.name, keys))

    async def _retrying(self, read: Callable[[], R]) -> R:
        delay = 0.5
        while True:
            try:
                return read()
            except RetryableError as e:
                log.warning("archive_retry", table=self.name, error=str(e), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ------------------------------------------------------------------ writing

    async def apply(
        self, keyed: Sequence[tuple[str, M]], step: Callable[[str, V | None, M], V | None]
    ) -> set[str]:
        """Apply messages to their keys' entries in order (``step`` returns the new entry,
        or None when nothing changed), then write each changed entry once: one table write
        per key and batch. Returns the keys written."""
        entries = await self.load({key for key, _ in keyed})
        written: set[str] = set()
        for key, message in keyed:
            new = step(key, entries.get(key), message)
            if new is not None:
                entries[key] = new
                written.add(key)
        for key in written:
            await self.put(key, entries[key])
        return written

    async def put(self, key: str, value: V) -> None:
        """Keep ``value`` in memory and send it to the changelog partition the entry names
        (not Faust's current event's: an agent step takes records of several partitions).

        The record is handed to the producer before the step ends, like every other send
        of the step, so Faust's flush before a commit covers it. (Faust's own table writes
        wait in a buffer whose flush gives up after 0.1 s: a commit could pass them, and a
        worker killed then had committed events whose state never reached the changelog.)
        """
        self.table.data[key] = value
        await self.table.changelog_topic.send(key=key, value=value, partition=value.partition)
        self._note(key, value)

    async def delete(self, key: str) -> None:
        """Forget ``key`` in memory (a tombstone in the changelog); the archive keeps any
        copy it has, so only delete what was never archived or is no longer read."""
        value = self.table.get(key)
        if value is not None:
            await self._forget(key, value)

    async def _forget(self, key: str, value: V) -> None:
        del self.table.data[key]
        await self.table.changelog_topic.send(
            key=key, value=None, partition=value.partition, value_serializer="raw"
        )
        self._waiting[value.partition].discard(key)

    async def retire(self, partition: int, keys: Collection[str]) -> int:
        """Move entries of ``partition`` to the archive, then out of memory (the changelog
        gets tombstones). Returns how many left; none when the archive is unreachable,
        and then the entries are due again at the partition's next step."""
        entries = {k: v for k in keys if (v := self.table.get(k)) is not None}
        if not self._save(partition, entries.items()):
            # ``due`` took them off the heap: without this they would stay in memory
            # until the next rebalance rebuilds it
            for key, value in entries.items():
                self._note(key, value)
            return 0
        for key, value in entries.items():
            await self._forget(key, value)
        return len(entries)

    def keep_all(self) -> bool:
        """Copy every entry in memory into the archive, leaving memory as it is. False when
        the archive could not take some of them."""
        by_partition: dict[int, list[tuple[str, V]]] = defaultdict(list)
        for key, value in self._entries():
            by_partition[value.partition].append((key, value))
        return all([self._save(p, entries) for p, entries in by_partition.items()])

    def _save(self, partition: int, entries: Collection[tuple[str, V]]) -> bool:
        version, waiting, encode = (
            self.tiering.version,
            self.tiering.waiting,
            self.codec.encoder.encode,
        )
        rows = [(k, partition, version(v), encode(v), waiting(v)) for k, v in entries]
        try:
            self.archive.save(self.name, rows)
        except RetryableError as e:
            log.warning("archive_save_failed", table=self.name, error=str(e))
            return False
        return True

    # ------------------------------------------------------------------ indexes

    async def waiting(self, partition: int) -> list[str]:
        """Keys of ``partition`` whose entries hold waiting events: in memory, and in the
        archive for the keys memory does not hold (an earlier batch run kept them there
        as it stopped; read once per partition, as nothing else archives a waiting entry)."""
        self._index()
        archived = self._archived_waiting.get(partition)
        if archived is None:
            archived = set(await self._retrying(lambda: self.archive.waiting(self.name, partition)))
            self._archived_waiting[partition] = archived
        archived -= {key for key in archived if key in self.table.data}  # memory decides
        return sorted(self._waiting[partition] | archived)

    def due(self, partition: int, busy: Collection[str] = (), limit: int = 10_000) -> list[str]:
        """Keys of ``partition`` that may leave memory now: their moment is past the
        latest event time the partition has seen. ``busy`` keys (written in the step now
        ending) stay for a later call."""
        self._index()
        mark = self.watermark.get(partition)
        heap = self._retiring[partition]
        keys: list[str] = []
        later: list[tuple[datetime, str]] = []
        while heap and mark is not None and heap[0][0] <= mark and len(keys) < limit:
            at, key = heapq.heappop(heap)
            value = self.table.get(key)
            if value is None or self.tiering.retire_at(value) != at:
                continue
            if key in busy:
                later.append((at, key))
            else:
                keys.append(key)
        for item in later:
            heapq.heappush(heap, item)
        return keys

    def _note(self, key: str, value: V) -> None:
        partition = value.partition
        if self.tiering.waiting(value):
            self._waiting[partition].add(key)
        else:
            self._waiting[partition].discard(key)
        at = self.tiering.retire_at(value)
        if at is not None:
            heapq.heappush(self._retiring[partition], (at, key))
        seen = self.tiering.event_time(value)
        if seen is not None and (
            partition not in self.watermark or seen > self.watermark[partition]
        ):
            self.watermark[partition] = seen

    def _index(self) -> None:
        if self._built == self._generation:
            return
        self._built = self._generation
        self._waiting.clear()
        self._retiring.clear()
        for key, value in self._entries():
            self._note(key, value)

    def _entries(self) -> Iterator[tuple[str, V]]:
        yield from list(self.table.items())
