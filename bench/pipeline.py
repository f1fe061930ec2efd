"""How long the pipeline takes, as ratios to a baseline measured in the same run.

1. `referrals run` on the bundled 31-line sample (embedded broker, SQLite), wall time of
   the whole command, against `referrals --help` (interpreter and import start-up).
2. What the embedded broker's remedy costs: the same generated input (400 cases, 2 400
   events) through the pipeline with Faust producer batches of one record ("on", what a
   worker does on the embedded broker) against ordinary batches ("off").
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.inputs import decided_cases
from runtime.batch import Reporter, run_batch
from streams.settings import Settings

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "referrals" / "data" / "sample.jsonl"
REFERRALS = str(Path(sys.executable).with_name("referrals"))


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def cli_times(repeats: int = 3) -> tuple[float, float]:
    """Median seconds of `referrals --help` and of `referrals run SAMPLE`."""
    helps, runs = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as work:
            helps.append(_timed([REFERRALS, "--help"], Path(work)))
            runs.append(_timed([REFERRALS, "run", str(SAMPLE), "--format", "json"], Path(work)))
    return statistics.median(helps), statistics.median(runs)


class _Stopwatch(Reporter):
    """Seconds spent in the 'processing' stage of a run (publishing excluded)."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.processing = 0.0

    def stage(self, name: str, total: int | None = None) -> None:
        now = time.perf_counter()
        if self.started is not None:
            self.processing += now - self.started
        self.started = now if name == "processing" else None


def processing_seconds(end_offsets: str, cases: int = 400) -> float:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "input.jsonl"
        decided_cases(path, cases)
        settings = replace(
            Settings(db=f"sqlite:///{Path(work) / 'bench.db'}"), end_offsets=end_offsets
        )
        watch = _Stopwatch()
        run_batch(settings, [path], watch)
        watch.stage("done")
        return watch.processing


def main() -> None:
    console = Console()
    table = Table(title="referral-pipeline benchmarks (ratios to the baseline of this run)")
    for column in ("what", "baseline", "measured", "ratio"):
        table.add_column(column, justify="right" if column != "what" else "left")
    console.print("timing `referrals run` on the 31-line sample (3 runs each)…")
    help_s, run_s = cli_times()
    table.add_row(
        "referrals run, 31 lines (s) vs --help",
        f"{help_s:.2f}",
        f"{run_s:.2f}",
        f"{run_s / help_s:.1f}x",
    )
    console.print("timing 2 400 events, end offsets probed and from fetch responses…")
    off = processing_seconds("auto")
    on = processing_seconds("fetch")
    table.add_row(
        "2 400 events, end offsets from fetches (s) vs probed",
        f"{off:.2f}",
        f"{on:.2f}",
        f"{on / off:.2f}x",
    )
    console.print(table)
