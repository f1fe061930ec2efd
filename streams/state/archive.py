"""The archive: table entries that left a worker's memory, kept in the SQL store.

An entry leaves memory when nothing but a late event can change it any more (a group whose
cases are all closed, an alias or a case number not touched for months of event time), or
when a batch run on the embedded broker ends and the broker, with the tables' changelogs,
goes away. A key missed in memory is looked up here, so the outcome never depends on
where an entry lives, only the cost does. Writes are idempotent upserts that never replace
a newer copy of an entry by an older one (``version``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    false,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from streams.errors import RetryableError

# The table is created and migrated with the rest of the store (consumers/migrations/),
# which the worker opens before it starts (runtime/worker.py).
metadata = MetaData()

archive = Table(
    "state_archive",
    metadata,
    Column("store", String(40), primary_key=True),  # the Faust table's name
    Column("key", String(200), primary_key=True),
    Column("partition", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("value", LargeBinary, nullable=False),
    # Holds waiting events: found by a worker starting on the archive (``waiting``).
    Column("waiting", Boolean, nullable=False, server_default=false()),
    Index("ix_state_archive_waiting", "store", "partition", "waiting"),
)

# Keys per SELECT ... IN: well under SQLite's limit of bound parameters.
_CHUNK = 500


class Archive:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def fetch(self, store: str, keys: Collection[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted = list(keys)
        try:
            with self.engine.connect() as connection:
                for start in range(0, len(wanted), _CHUNK):
                    query = select(archive.c.key, archive.c.value).where(
                        archive.c.store == store,
                        archive.c.key.in_(wanted[start : start + _CHUNK]),
                    )
                    found.update((key, value) for key, value in connection.execute(query))
        except SQLAlchemyError as e:
            raise RetryableError(f"archive unreachable: {_first_line(e)}") from e
        return found

    def waiting(self, store: str, partition: int) -> list[str]:
        """Keys of ``partition`` whose archived entries hold waiting events."""
        query = select(archive.c.key).where(
            archive.c.store == store, archive.c.partition == partition, archive.c.waiting
        )
        try:
            with self.engine.connect() as connection:
                return list(connection.scalars(query))
        except SQLAlchemyError as e:
            raise RetryableError(f"archive unreachable: {_first_line(e)}") from e

    def save(self, store: str, rows: Iterable[tuple[str, int, int, bytes, bool]]) -> int:
        """Upsert (key, partition, version, value, waiting) rows; returns how many were
        given."""
        values = [
            {"store": store, "key": k, "partition": p, "version": v, "value": b, "waiting": w}
            for k, p, v, b, w in rows
        ]
        if not values:
            return 0
        insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
        statement = insert(archive)
        statement = statement.on_conflict_do_update(
            index_elements=[archive.c.store, archive.c.key],
            set_=_newer(statement.excluded),
            where=archive.c.version <= statement.excluded.version,
        )
        try:
            with self.engine.begin() as connection:
                connection.execute(statement, values)
        except SQLAlchemyError as e:
            raise RetryableError(f"archive unreachable: {_first_line(e)}") from e
        return len(values)


def _newer(excluded: Any) -> Mapping[str, Any]:
    return {
        "partition": excluded.partition,
        "version": excluded.version,
        "value": excluded.value,
        "waiting": excluded.waiting,
    }


def _first_line(error: Exception) -> str:
    return f"{error.__class__.__name__}: {str(error).splitlines()[0]}"
