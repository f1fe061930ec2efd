"""How the suite turns another module's ``measure`` into figures, and a failure into a
reason, without running a broker."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.figures import catalogue
from bench.suite import GROUPS, Options, Suite


def _suite(tmp_path: Path) -> Suite:
    options = Options(
        sizes=[300, 1_000],
        setups=["embedded_1w"],
        e2e_budget_s=10,
        baseline_events=100,
        faust_defaults=False,
        rows=500,
        cases=200,
        successive=2,
        successive_lines=10,
        successive_budget_s=10,
        deadline_s=60,
        seed=1,
        only=set(GROUPS),
        profile_dir=None,
    )
    figures = catalogue(options.sizes, options.setups)
    return Suite(options, figures, Console(file=io.StringIO()), tmp_path)


def _module(monkeypatch: pytest.MonkeyPatch, name: str, measure: Any) -> None:
    module = types.ModuleType(name)
    module.measure = measure  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)


def test_sink_figures_come_from_the_sink_modules_measure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """bench/sink.py's rows/s become the executemany baseline and the sink figure, judged
    against half the baseline, and the rows asked for are passed on."""
    asked: list[int] = []

    def measure(rows: int) -> dict[str, float]:
        asked.append(rows)
        return {"executemany_rows_s": 40_000.0, "sink_rows_s": 30_000.0, "ratio": 0.75}

    _module(monkeypatch, "bench.sink", measure)
    suite = _suite(tmp_path)
    suite.sink()
    sink = suite.figures["4.sink"]
    assert asked == [500]
    assert suite.figures["1.executemany"].value == 40_000.0
    assert (sink.value, sink.baseline, sink.ratio, sink.met) == (30_000.0, 40_000.0, 0.75, True)


def test_a_failing_measure_leaves_its_figures_missing_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A scorecards module that raises costs its two figures, which say why, and nothing else."""

    def measure(cases: int) -> dict[str, float]:
        raise RuntimeError("no such table: cases")

    _module(monkeypatch, "bench.scorecards", measure)
    suite = _suite(tmp_path)
    suite.scorecards()
    for key in ("5.close_month", "5.rescore_year"):
        assert suite.figures[key].value is None
        assert "no such table: cases" in (suite.figures[key].missing or "")
    assert suite.figures["4.sink"].missing is None
