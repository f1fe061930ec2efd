"""Connecting to the SQL store, the same way for the worker's archive and the sink."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from streams.errors import ConfigurationError


def connect(url: str, **options: Any) -> Engine:
    """An engine on ``url``; SQLite gets WAL so that readers never block the writers, and
    waits for a lock instead of failing, since the worker and the sink share the file."""
    try:
        engine = create_engine(url, **options)
    except (SQLAlchemyError, ImportError, ValueError) as e:
        raise ConfigurationError(f"database URL {url!r} is not usable: {e}") from e
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine
