"""The SQL store's schema under Alembic: the one list of every table the code uses, the
revisions (versions/), and what a process does with its database at start.

A process opening the store (``consumers.store.open_store``, the worker's archive too)
calls ``ensure_schema``, which differs by database (docs/operations.md, "The SQL
schema"):

- SQLite, the embedded default, is brought to head: created when new, adopted when
  create_all made it before migrations, migrated when older. It is one user's file, and
  ``make demo`` or ``referrals run`` on a fresh folder need no extra command.
- PostgreSQL must already be at head, or the process refuses to start with one line naming
  ``referrals db upgrade``: many replicas start at once while older ones may still run,
  a migration comes after a backup, and the processes need no right to alter tables.

Migrations hold a lock for their whole transaction (PostgreSQL's advisory lock, SQLite's
write lock), so two started at once run one after the other; the second finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, inspect, text

import consumers.receipt_store  # noqa: F401 - its tables join Base.metadata
from consumers.models import Base
from streams.errors import ConfigurationError
from streams.logging import get_logger
from streams.state.archive import metadata as archive_metadata

log = get_logger(__name__)

# Every table of the store: the models' and the workers' archive. A model changed without
# a revision fails tests/integration/test_migrations.py, which compares these with the
# migrated database; `alembic revision --autogenerate` (env.py) writes the revision.
METADATA: tuple[MetaData, ...] = (Base.metadata, archive_metadata)

_SCRIPTS = Path(__file__).parent
# Any constant: the key of the advisory lock that migrations of one database share.
_LOCK_KEY = 0x5EF2_0001


class SchemaMismatch(ConfigurationError):
    """The database's schema is not the one this release works with, or a migration was
    refused; the message says which command to run."""


@dataclass(frozen=True)
class Migrated:
    """What a migration did: the revision before and after, and the tables that existed
    before any revision was recorded (a store create_all made, now adopted)."""

    before: str | None
    after: str | None
    adopted: tuple[str, ...] = ()


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(_SCRIPTS))


def head() -> str:
    """The revision this release works with (the history is one line)."""
    found = scripts().get_current_head()
    assert found is not None, "consumers/migrations/versions/ holds no revision"
    return found


def revision_of(connection: Connection) -> str | None:
    """The database's revision; None before the first migration."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return revision_of(connection)


def is_known(revision: str) -> bool:
    return any(script.revision == revision for script in scripts().walk_revisions())


def ensure_schema(engine: Engine) -> None:
    """At a process's start: nothing when the database is at head; on SQLite, an upgrade
    to head; otherwise SchemaMismatch naming the command that fixes it."""
    at = current(engine)
    if at == head():
        return
    if at is not None and not is_known(at):
        raise SchemaMismatch(
            f"database {_shown(engine)} is at revision {at}, which this release of referrals "
            f"does not know (its head is {head()}): run the release that migrated it, or "
            f"migrate back with that release's 'referrals db downgrade --revision {head()}'"
        )
    if engine.dialect.name == "sqlite":
        moved = upgrade(engine)
        log.info(
            "store_migrated", before=moved.before, after=moved.after, adopted=len(moved.adopted)
        )
        return
    raise SchemaMismatch(
        f"database {_shown(engine)} is at revision {at or 'none'} and this release needs "
        f"{head()}: run 'referrals db upgrade' (docs/operations.md)"
    )


def upgrade(engine: Engine, revision: str = "head") -> Migrated:
    """Migrate up to ``revision``; tables that exist without a recorded revision are
    adopted by the first revision (checked against it, never overwritten)."""
    return _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str = "-1") -> Migrated:
    """Migrate down to ``revision`` (default: one revision back). Below the first revision
    every table is dropped with its rows: only ``revision="base"`` says so."""
    return _migrate(
        engine, lambda config: command.downgrade(config, revision), to_base=revision == "base"
    )


def _migrate(engine: Engine, run: Callable[[Config], None], *, to_base: bool = False) -> Migrated:
    with engine.begin() as connection:
        _lock(connection)
        before = revision_of(connection)
        adopted: tuple[str, ...] = ()
        if before is None:
            ours = {table for metadata in METADATA for table in metadata.tables}
            adopted = tuple(sorted(ours & set(inspect(connection).get_table_names())))
        config = Config()
        config.set_main_option("script_location", str(_SCRIPTS))
        config.attributes["connection"] = connection
        try:
            run(config)
        except CommandError as e:
            raise SchemaMismatch(f"cannot migrate {_shown(engine)}: {e}") from e
        after = revision_of(connection)
        if after is None and before is not None and not to_base:
            # raised inside the transaction: the tables just dropped are rolled back
            raise SchemaMismatch(
                f"downgrading {_shown(engine)} below revision {before} would drop every table "
                "of the store with its rows: say --revision base to mean it"
            )
    return Migrated(before, after, adopted if after is not None else ())


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # DDL and the version row in one transaction that holds the write lock from its
        # start; a second process waits on busy_timeout (streams/state/database.py).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
