"""What a batch run tells the person watching it; the CLI draws it as progress bars."""

from __future__ import annotations


class Reporter:
    """Told each stage of a run and how far it has gone; does nothing by default."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, done: int, total: int) -> None:
        """``done`` of ``total`` (records handed to the broker, say)."""

    def remaining(self, left: int) -> None:
        """Records still to process: a wait's progress is what is left, which may grow
        while the agents write to the internal topics."""
