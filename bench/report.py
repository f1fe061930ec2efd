"""The results: a table on the terminal, every figure beside its baseline and target, and
a JSON file with the same figures, the progress series of the runs and the machine."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from bench.figures import Figure

SCHEMA = 1


def _number(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if value >= 100:
        return f"{value:,.0f} {unit}".replace(",", " ")
    return f"{value:.3g} {unit}"


def _met(figure: Figure) -> str:
    if figure.target is None:
        return ""
    met = figure.met
    if met is None:
        return "[dim]n/a[/]"
    # a partial run's verdict is on the events it got through, not on the whole input
    verdict = "[green]met[/]" if met else "[red]not met[/]"
    return f"{verdict} [yellow](partial)[/]" if figure.partial else verdict


def table(figures: dict[str, Figure]) -> Table:
    out = Table(title="referral-pipeline benchmarks: figures, same-run baselines, targets")
    for column, justify in (
        ("figure", "left"),
        ("value", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "right"),
        ("", "left"),
    ):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for figure in figures.values():
        label = f"{figure.key.split('.', 1)[0]}. {figure.label}"
        if figure.value is None:
            out.add_row(
                label, f"[dim]missing: {figure.missing}[/]", "", "", str(figure.target or ""), ""
            )
            continue
        value = _number(figure.value, figure.unit)
        if figure.partial:
            value += " [yellow](partial)[/]"
        baseline = ""
        if figure.baseline is not None:
            baseline = f"{_number(figure.baseline, figure.unit)} ({figure.baseline_label})"
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else ""
        out.add_row(label, value, baseline, ratio, str(figure.target or ""), _met(figure))
    return out


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write(
    path: Path,
    figures: dict[str, Figure],
    series: dict[str, list[tuple[float, float]]],
    options: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    document = {
        "schema": SCHEMA,
        **meta,
        "machine": machine(),
        "options": options,
        "figures": {key: figure.as_json() for key, figure in figures.items()},
        # (seconds since the first publish, events processed) per end-to-end run: a chart
        "series": {
            key: [[round(t, 2), round(n, 1)] for t, n in points] for key, points in series.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str) + "\n")


def show(console: Console, figures: dict[str, Figure]) -> None:
    console.print(table(figures))
    judged = [f for f in figures.values() if f.met is not None]
    whole = [f for f in judged if not f.partial]
    console.print(
        f"targets met: {sum(bool(f.met) for f in judged)} of {len(judged)} judged, "
        f"{sum(bool(f.met) for f in whole)} of {len(whole)} on complete runs "
        f"({sum(f.target is not None for f in figures.values())} figures have a target). "
        "(partial): a run stopped by its time budget, or by a worker that died; its rate "
        "is that of the events it got through"
    )
