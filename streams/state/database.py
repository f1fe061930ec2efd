"""Connecting to the SQL store, the same way for the worker's archive and the sink."""

from __future__ import annotations

import sqlite3
import time
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
            cursor.execute("PRAGMA busy_timeout=10000")
            _wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


# Tries of the switch to WAL, WAL_WAIT_S apart.
WAL_TRIES = 200
WAL_WAIT_S = 0.05


def _wal(cursor: Any) -> None:
    """Switch the file to WAL. A new file's switch takes its write lock, and SQLite answers
    a second connection switching at that moment "database is locked" at once, without
    its busy timeout (two migrations started together failed so, one time in four): it
    tries again. Once a file is in WAL the switch is a no-op."""
    for attempt in range(WAL_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == WAL_TRIES - 1:
                raise
            time.sleep(WAL_WAIT_S)
