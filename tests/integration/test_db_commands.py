"""`referrals db upgrade`, `downgrade` and `current` as users and scripts see them, through
the installed console script: outputs, exit statuses and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from consumers.migrations import METADATA, head
from tests.integration.test_cli import assert_one_line_error, referrals

pytestmark = pytest.mark.integration


def test_a_new_sqlite_store_up_down_and_up_again(tmp_path: Path) -> None:
    """current says none then head; upgrade and downgrade --revision base say where the
    store went, on one line of stderr, and exit 0."""
    db = f"sqlite:///{tmp_path / 'store.db'}"

    before = referrals("db", "current", "--db", db, cwd=tmp_path)
    assert (before.code, before.stdout) == (
        0,
        f"none (behind head {head()}: run referrals db upgrade)\n",
    )

    up = referrals("db", "upgrade", "--db", db, cwd=tmp_path)
    assert (up.code, up.stderr) == (0, f"database at revision {head()}, was base\n")
    again = referrals("--db", db, "db", "upgrade", cwd=tmp_path)
    assert (again.code, again.stderr) == (0, f"database at revision {head()} already\n")
    assert referrals("db", "current", "--db", db, cwd=tmp_path).stdout == f"{head()} (head)\n"

    down = referrals("db", "downgrade", "--revision", "base", "--db", db, cwd=tmp_path)
    assert (down.code, down.stderr) == (0, f"database at revision base, was {head()}\n")
    assert referrals("db", "upgrade", "--db", db, cwd=tmp_path).code == 0


def test_refusals_are_one_line_and_exit_2(tmp_path: Path) -> None:
    """A downgrade that would drop every table without --revision base, and a revision
    that does not exist, are refused in one line naming what to do."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert referrals("db", "upgrade", "--db", db, cwd=tmp_path).code == 0
    # one step back from head is allowed; from the first revision it is refused
    down = referrals("db", "downgrade", "--db", db, cwd=tmp_path)
    assert (down.code, down.stderr) == (0, f"database at revision 0001, was {head()}\n")

    line = assert_one_line_error(referrals("db", "downgrade", "--db", db, cwd=tmp_path))
    assert "would drop every table" in line and "--revision base" in line
    assert referrals("db", "current", "--db", db, cwd=tmp_path).stdout.startswith("0001 ")

    nosuch = referrals("db", "upgrade", "--revision", "nosuch", "--db", db, cwd=tmp_path)
    assert "Can't locate revision identified by 'nosuch'" in assert_one_line_error(nosuch)


def test_upgrade_adopts_a_store_made_before_migrations(tmp_path: Path) -> None:
    """A store every process made with create_all is taken under migrations by upgrade,
    which says how many tables it adopted."""
    db = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(db)
    for metadata in METADATA:
        metadata.create_all(engine)
    with engine.begin() as connection:  # what revision 0002 added was not there yet
        connection.execute(text("DROP INDEX ix_state_archive_waiting"))
        connection.execute(text("ALTER TABLE state_archive DROP COLUMN waiting"))
    engine.dispose()
    count = sum(len(metadata.tables) for metadata in METADATA)

    up = referrals("db", "upgrade", "--db", db, cwd=tmp_path)

    assert (up.code, up.stderr) == (
        0,
        f"database at revision {head()}, was base; adopted the {count} tables that existed\n",
    )


def test_postgresql_behind_is_refused_until_db_upgrade(tmp_path: Path, empty_postgres: str) -> None:
    """A command on an empty PostgreSQL store exits 2 naming `referrals db upgrade`; after
    it, the same command works."""
    refused = referrals("deadletters", "--db", empty_postgres, cwd=tmp_path)
    line = assert_one_line_error(refused)
    assert f"is at revision none and this release needs {head()}" in line
    assert "run 'referrals db upgrade'" in line

    assert referrals("db", "upgrade", "--db", empty_postgres, cwd=tmp_path).code == 0
    done = referrals("deadletters", "--db", empty_postgres, cwd=tmp_path)
    assert done.code == 0, done.stderr
