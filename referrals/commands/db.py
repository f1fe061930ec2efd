"""The SQL store's schema: Alembic migrations of ``--db`` (consumers/migrations/)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from referrals.options import Context, shared

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from consumers.migrations import Migrated

app = typer.Typer()
db = typer.Typer(help="The SQL store's schema: migrate --db with Alembic.")
app.add_typer(db, name="db")


@db.command("upgrade")
@shared
def upgrade(
    ctx: Context,
    revision: Annotated[str, typer.Option(help="revision to reach")] = "head",
) -> None:
    """Migrate --db up to the code's schema, or to --revision.

    A store made before migrations is adopted: its missing tables are created, the
    existing ones checked against the first revision."""
    from consumers import migrations

    with _engine(ctx) as engine:
        moved = migrations.upgrade(engine, revision)
    _report(moved)


@db.command("downgrade")
@shared
def downgrade(
    ctx: Context,
    revision: Annotated[
        str, typer.Option(help="revision to reach: one back by default; base drops every table")
    ] = "-1",
) -> None:
    """Migrate --db down to --revision, one revision back by default."""
    from consumers import migrations

    with _engine(ctx) as engine:
        moved = migrations.downgrade(engine, revision)
    _report(moved)


@db.command("current")
@shared
def current(ctx: Context) -> None:
    """Print the revision of --db and whether it is the code's (head)."""
    from consumers import migrations

    with _engine(ctx) as engine:
        at = migrations.current(engine)
    head = migrations.head()
    if at == head:
        state = "head"
    elif at is not None and not migrations.is_known(at):
        state = f"unknown to this release, whose head is {head}"
    else:
        state = f"behind head {head}: run referrals db upgrade"
    sys.stdout.write(f"{at or 'none'} ({state})\n")


@contextmanager
def _engine(ctx: Context) -> Iterator[Engine]:
    from streams.state.database import connect

    engine = connect(ctx.settings.db)
    try:
        yield engine
    finally:
        engine.dispose()


def _report(moved: Migrated) -> None:
    line = f"database at revision {moved.after or 'base'}"
    if moved.before == moved.after:
        line += " already"
    else:
        line += f", was {moved.before or 'base'}"
    if moved.adopted:
        line += f"; adopted the {len(moved.adopted)} tables that existed"
    sys.stderr.write(line + "\n")
