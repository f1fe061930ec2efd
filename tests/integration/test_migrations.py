"""The store's schema under Alembic (consumers/migrations/), on SQLite and on PostgreSQL:
an empty database to head, to base and back; the models and the migrations agreeing; a
store made by create_all before migrations adopted; what a process does at start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text

from consumers import migrations
from consumers.migrations import METADATA, SchemaMismatch
from consumers.models import Base
from consumers.store import apply_dead_letters, open_store
from streams.state.archive import metadata as archive_metadata
from streams.state.database import connect

pytestmark = pytest.mark.integration

TABLES = {name for metadata in METADATA for name in metadata.tables}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no table at all: a new SQLite file or PostgreSQL
    database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("empty_postgres")
    engine = connect(url)
    yield engine
    engine.dispose()


@pytest.fixture
def made_by_create_all(empty: Engine) -> Engine:
    """The same database as every process left it before migrations: create_all of the
    models and of the archive, without alembic_version."""
    Base.metadata.create_all(empty)
    archive_metadata.create_all(empty)
    # What revision 0002 added was not there yet.
    with empty.begin() as connection:
        connection.execute(text("DROP INDEX ix_state_archive_waiting"))
        connection.execute(text("ALTER TABLE state_archive DROP COLUMN waiting"))
    return empty


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def differences(engine: Engine, metadata: MetaData | list[MetaData]) -> list[object]:
    """What autogenerate would change to make the database match ``metadata``: columns,
    types, nullability, server defaults, keys, unique constraints and indexed columns."""
    with engine.connect() as connection:
        options = {"compare_type": True, "compare_server_default": True}
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, metadata))


def index_definitions(engine: Engine) -> dict[str, str]:
    """Each index's definition as the database keeps it, where clause included (which
    compare_metadata does not look at: ix_cases_unscored is partial)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        else:
            query = (
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = 'public' AND tablename != 'alembic_version'"
            )
        return {name: sql for name, sql in connection.execute(text(query))}


def test_an_empty_database_goes_to_head_then_to_base_then_to_head_again(empty: Engine) -> None:
    """Upgrade creates every table the code uses, downgrade to base drops them all, and a
    second upgrade creates them again, the revision recorded each time."""
    assert migrations.upgrade(empty) == migrations.Migrated(None, migrations.head())
    assert tables(empty) == TABLES | {"alembic_version"}
    assert migrations.current(empty) == migrations.head()

    assert migrations.downgrade(empty, "base") == migrations.Migrated(migrations.head(), None)
    assert tables(empty) == {"alembic_version"}
    assert migrations.current(empty) is None

    migrations.upgrade(empty)
    assert tables(empty) == TABLES | {"alembic_version"}
    assert differences(empty, list(METADATA)) == []


def test_the_migrations_make_what_the_models_say(empty: Engine, tmp_path: Path) -> None:
    """The migrated database differs from the models in nothing, indexes' where clauses
    included: a model changed without a revision fails here."""
    migrations.upgrade(empty)
    assert differences(empty, list(METADATA)) == []
    if empty.dialect.name == "sqlite":
        reference = connect(f"sqlite:///{tmp_path / 'models.db'}")
    else:
        name = f"{empty.url.database}_models"
        with empty.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        reference = connect(empty.url.set(database=name).render_as_string(hide_password=False))
    for metadata in METADATA:
        metadata.create_all(reference)
    assert index_definitions(empty) == index_definitions(reference)
    assert "WHERE" in index_definitions(empty)["ix_cases_unscored"]
    reference.dispose()


def test_one_step_back_from_the_first_revision_is_refused_and_changes_nothing(
    empty: Engine,
) -> None:
    """The default downgrade would drop every table below the first revision: refused,
    naming --revision base, with the tables and their rows still there."""
    migrations.upgrade(empty, "0001")
    with empty.begin() as connection:
        apply_dead_letters(connection, [("e#schema", letter("e"))])
    with pytest.raises(SchemaMismatch, match="--revision base"):
        migrations.downgrade(empty)
    assert migrations.current(empty) == "0001"
    with empty.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM dead_letters")) == 1


def test_a_store_made_by_create_all_is_adopted_with_its_rows(made_by_create_all: Engine) -> None:
    """Upgrading a pre-migration store records the revision, creates the table and the
    index it lacked, and keeps the rows it holds."""
    engine = made_by_create_all
    with engine.begin() as connection:
        apply_dead_letters(connection, [("e#schema", letter("e"))])
        connection.execute(text("DROP INDEX ix_cases_unscored"))
        connection.execute(text("DROP TABLE feed_state"))

    moved = migrations.upgrade(engine)

    assert moved.before is None and moved.after == migrations.head()
    assert "cases" in moved.adopted and "feed_state" not in moved.adopted
    assert differences(engine, list(METADATA)) == []
    assert "ix_cases_unscored" in index_definitions(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM dead_letters")) == 1


def test_a_store_that_differs_from_the_first_revision_is_not_adopted(
    made_by_create_all: Engine,
) -> None:
    """A pre-migration table with a column the first revision lacks is named in the
    refusal, and nothing is recorded or created."""
    engine = made_by_create_all
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE referrals ADD COLUMN remark VARCHAR(10)"))
        connection.execute(text("DROP TABLE feed_state"))
    with pytest.raises(SchemaMismatch, match=r"remove_column referrals\.remark"):
        migrations.upgrade(engine)
    assert migrations.current(engine) is None
    assert "feed_state" not in tables(engine)


def test_at_start_sqlite_is_brought_to_head_and_postgresql_behind_is_refused(
    empty: Engine,
) -> None:
    """open_store migrates a new SQLite file itself; on PostgreSQL it refuses an empty
    database naming `referrals db upgrade`, and opens one at head."""
    url = empty.url.render_as_string(hide_password=False)
    if empty.dialect.name == "sqlite":
        open_store(url).dispose()
        assert migrations.current(empty) == migrations.head()
        return
    with pytest.raises(SchemaMismatch, match=r"revision none .* run 'referrals db upgrade'"):
        open_store(url)
    assert tables(empty) == set()
    migrations.upgrade(empty)
    open_store(url).dispose()


def test_a_database_migrated_by_a_newer_release_is_refused_at_start(empty: Engine) -> None:
    """A revision this release does not know is refused on SQLite too: it cannot be
    migrated from here, and the tables may not be what the code expects."""
    migrations.upgrade(empty)
    with empty.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(SchemaMismatch, match="revision f00d, which this release"):
        open_store(empty.url.render_as_string(hide_password=False))


def test_two_upgrades_at_once_run_one_after_the_other(empty: Engine) -> None:
    """Two processes' migrations started together both end at head, without an error:
    the second waits for the first's lock and then finds nothing to do."""
    url = empty.url.render_as_string(hide_password=False)
    results: list[migrations.Migrated] = []
    failures: list[BaseException] = []

    def migrate() -> None:
        engine = connect(url)
        try:
            results.append(migrations.upgrade(engine))
        except BaseException as e:  # reported below, not lost in the thread
            failures.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted((r.before or "", r.after) for r in results) == [
        ("", migrations.head()),
        (migrations.head(), migrations.head()),
    ]


def letter(event_id: str) -> dict[str, object]:
    """A dead letter's row, as the sink stores one."""
    return {
        "event_id": event_id,
        "error": "schema",
        "reason": "missing field",
        "source_topic": "referrals.housing",
        "source_partition": 0,
        "source_offset": 1,
        "source_file": None,
        "source_line": None,
        "raw": b"{}",
        "dead_lettered_at": datetime(2022, 1, 1, tzinfo=UTC),
    }
