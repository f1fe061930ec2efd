"""The monthly rubric as configuration: weights, deadlines, grade bands, thresholds.

Refused at start, naming the key, when malformed or inconsistent: an unknown or missing
metric, a weight not above zero, a negative deadline, grade bands out of order.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from streams.errors import ConfigurationError

METRICS = ("filing_timeliness", "decision_timeliness", "legal_review", "collection", "feedback")


@dataclass(frozen=True)
class Metric:
    name: str
    weight: Decimal
    deadline: timedelta


@dataclass(frozen=True)
class Rubric:
    metrics: tuple[Metric, ...]
    grades: tuple[tuple[Decimal, str], ...]  # (lowest score, grade), best first
    major_threshold_fen: int
    merge_window: timedelta
    grace: timedelta

    @cached_property
    def _by_name(self) -> dict[str, Metric]:
        return {m.name: m for m in self.metrics}

    def metric(self, name: str) -> Metric:
        return self._by_name[name]

    def grade(self, score: Decimal) -> str:
        for lowest, grade in self.grades:
            if score >= lowest:
                return grade
        return self.grades[-1][1]


def default_rubric_path() -> Path:
    return Path(__file__).parents[2] / "referrals" / "data" / "rubric.toml"


def load_rubric(path: Path | None = None) -> Rubric:
    path = path or default_rubric_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"rubric {path}: cannot be read ({e.strerror})") from e
    return parse_rubric(text, str(path))


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(f"{source}: not valid TOML: {e}") from e

    def fail(key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: {key}: {problem}")

    unknown = set(data) - {
        "metrics",
        "grades",
        "major_threshold_fen",
        "merge_window_days",
        "grace_days",
    }
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key")
    metrics_table: dict[str, Any] = data.get("metrics", {})
    for name in metrics_table:
        if name not in METRICS:
            raise fail(f"metrics.{name}", f"unknown metric; known: {', '.join(METRICS)}")
    metrics = []
    for name in METRICS:
        if name not in metrics_table:
            raise fail(f"metrics.{name}", "missing")
        entry = metrics_table[name]
        weight = _number(entry.get("weight"), f"metrics.{name}.weight", fail)
        if weight <= 0:
            raise fail(f"metrics.{name}.weight", f"must be above 0, got {weight}")
        days = _whole(entry.get("days"), f"metrics.{name}.days", fail)
        metrics.append(Metric(name, weight, timedelta(days=days)))
    grades = []
    for index, band in enumerate(data.get("grades", [])):
        key = f"grades[{index}]"
        grades.append(
            (_number(band.get("min_score"), f"{key}.min_score", fail), str(band.get("grade") or ""))
        )
        if not grades[-1][1]:
            raise fail(f"{key}.grade", "missing")
    if not grades:
        raise fail("grades", "missing")
    for (higher, _), (lower, grade) in itertools.pairwise(grades):
        if lower >= higher:
            raise fail("grades", f"bands out of order: {grade} at {lower} is not below {higher}")
    return Rubric(
        metrics=tuple(metrics),
        grades=tuple(grades),
        major_threshold_fen=_whole(
            data.get("major_threshold_fen", 3_000_000), "major_threshold_fen", fail
        ),
        merge_window=timedelta(
            days=_whole(data.get("merge_window_days", 30), "merge_window_days", fail)
        ),
        grace=timedelta(days=_whole(data.get("grace_days", 5), "grace_days", fail)),
    )


def _number(value: Any, key: str, fail: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(key, f"must be a number, got {value!r}")
    return Decimal(str(value))


def _whole(value: Any, key: str, fail: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(key, f"must be a whole number not below 0, got {value!r}")
    return value
