"""How the bureau reads instants and money, for every screen (terminal, page, circular)."""

from __future__ import annotations

from datetime import datetime

from streams.events import SHANGHAI


def local_time(instant: str) -> str:
    """An instant as the bureau reads it: Asia/Shanghai wall time."""
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def yuan(fen: int | None) -> str:
    """Fen as yuan for print: integer arithmetic, never a float."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"
