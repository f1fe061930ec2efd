"""The monthly rubric as configuration: weights, deadlines, grade bands, thresholds.

Refused at start, naming the key, when malformed or inconsistent: an unknown or missing
metric, a weight not above zero, a negative deadline, grade bands out of order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from streams.errors import ConfigurationError
from streams.organisation import load_toml, read_config

# Ten years: a deadline, window or grace period longer than that is a typing mistake, and
# one past about 2.9 million days overflows the dates it is added to.
MAX_DAYS = 3660
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
    return parse_rubric(read_config(path, "rubric", ConfigurationError), str(path))


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    data = load_toml(text, source, ConfigurationError)

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
        raise fail(_brief(sorted(unknown)[0]), "unknown key")
    metrics_table = _table(data.get("metrics", {}), "metrics", fail)
    for name in metrics_table:
        if name not in METRICS:
            raise fail(f"metrics.{_brief(name)}", f"unknown metric; known: {', '.join(METRICS)}")
    metrics = []
    for name in METRICS:
        if name not in metrics_table:
            raise fail(f"metrics.{name}", "missing")
        entry = _table(metrics_table[name], f"metrics.{name}", fail)
        weight = _number(entry.get("weight"), f"metrics.{name}.weight", fail)
        if weight <= 0:
            raise fail(f"metrics.{name}.weight", f"must be above 0, got {weight}")
        days = _whole(entry.get("days"), f"metrics.{name}.days", fail, MAX_DAYS)
        metrics.append(Metric(name, weight, timedelta(days=days)))
    bands = data.get("grades", [])
    if not isinstance(bands, list):
        raise fail("grades", "must be a list of [[grades]] tables")
    grades = []
    for index, band in enumerate(bands):
        key = f"grades[{index}]"
        band = _table(band, key, fail)
        grade = band.get("grade")
        if not isinstance(grade, str) or not grade:
            raise fail(f"{key}.grade", f"missing, or not a string: {_brief(grade)}")
        grades.append((_number(band.get("min_score"), f"{key}.min_score", fail), grade))
    if not grades:
        raise fail("grades", "missing")
    for (higher, _), (lower, grade) in itertools.pairwise(grades):
        if lower >= higher:
            raise fail("grades", f"bands out of order: {grade} at {lower} is not below {higher}")
    return Rubric(
        metrics=tuple(metrics),
        grades=tuple(grades),
        major_threshold_fen=_whole(
            data.get("major_threshold_fen", 3_000_000), "major_threshold_fen", fail, 2**63 - 1
        ),
        merge_window=timedelta(
            days=_whole(data.get("merge_window_days", 30), "merge_window_days", fail, MAX_DAYS)
        ),
        grace=timedelta(days=_whole(data.get("grace_days", 5), "grace_days", fail, MAX_DAYS)),
    )


def _table(value: Any, key: str, fail: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(key, f"must be a table, got {_brief(value)}")
    return value


def _number(value: Any, key: str, fail: Any) -> Decimal:
    # TOML has inf and nan; a NaN Decimal raises on every comparison the scoring makes
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(key, f"must be a finite number, got {_brief(value)}")
    return Decimal(str(value))


def _whole(value: Any, key: str, fail: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise fail(key, f"must be a whole number from 0 to {most}, got {_brief(value)}")
    return value


def _brief(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
