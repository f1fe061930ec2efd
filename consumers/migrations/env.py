"""Alembic's environment for the SQL store.

consumers/migrations/__init__.py runs it with a connection already in its transaction
(``config.attributes["connection"]``). The alembic command line, in a checkout, connects
to REFERRALS_DB itself: ``alembic revision --autogenerate -m "..."`` writes a revision
from the difference between that database and ``METADATA``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from consumers.migrations import METADATA
from streams.settings import Settings
from streams.state.database import connect


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=list(METADATA),
        # SQLite alters a table by copying it: autogenerate writes batch operations there
        render_as_batch=connection.dialect.name == "sqlite",
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    with connect(Settings.from_env().db).connect() as connection:
        run(connection)
