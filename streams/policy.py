"""The knobs of the domain rules, with the defaults of docs/rules.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from streams.dedup.rules import DEFAULT_MERGE_WINDOW
from streams.ledger.rules import DEFAULT_MAJOR_THRESHOLD_FEN


@dataclass(frozen=True)
class Policy:
    merge_window: timedelta = DEFAULT_MERGE_WINDOW
    major_threshold_fen: int = DEFAULT_MAJOR_THRESHOLD_FEN
