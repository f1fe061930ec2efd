"""Figure 7's command runs: `referrals run` as a user types it, timed from outside.

The 31-line sample against `referrals --help` (the interpreter and imports alone); and
successive runs of fresh 1 000-line inputs against one --db, the last against the first,
to show whether a run costs its own input or the whole history before it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from bench.inputs import event_lines

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "referrals" / "data" / "sample.jsonl"
REFERRALS = str(Path(sys.executable).with_name("referrals"))


class RunFailed(RuntimeError):
    """`referrals run` exited with an error or outlived its time; the message says which."""


def timed(args: list[str], cwd: Path, timeout: float) -> float:
    """Wall seconds of ``referrals args``. On timeout it gets SIGINT, as from Ctrl-C, so it
    stops its worker and its broker on the way out instead of orphaning them."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [REFERRALS, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise RunFailed(
            f"`referrals {' '.join(args[:1])}` still running after {timeout:g} s"
        ) from None
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise RunFailed(f"`referrals {args[0]}` exited {process.returncode}: {tail[0]}")
    return time.perf_counter() - started


def sample_run(work: Path) -> tuple[float, float]:
    """(seconds of `referrals --help`, seconds of `referrals run` on the sample)."""
    work.mkdir(parents=True, exist_ok=True)
    help_s = timed(["--help"], work, 60)
    db = f"sqlite:///{work / 'sample.db'}"
    return help_s, timed(["run", str(SAMPLE), "--db", db, "--format", "json"], work, 600)


@dataclass
class Successive:
    seconds: list[float] = field(default_factory=list)
    stopped: str | None = None  # why fewer runs than asked were timed


def successive_runs(work: Path, runs: int, lines: int, budget_s: float, seed: int) -> Successive:
    """``runs`` consecutive stretches of one generated stream, ``lines`` each, each run
    against the same database; no new run starts once ``budget_s`` is spent."""
    work.mkdir(parents=True, exist_ok=True)
    stream = event_lines(seed, runs * lines)
    files = []
    for number in range(1, runs + 1):
        path = work / f"day-{number:02d}.jsonl"
        path.write_text("".join(line + "\n" for line in islice(stream, lines)), encoding="utf-8")
        files.append(path)
    db = f"sqlite:///{work / 'successive.db'}"
    result = Successive()
    started = time.perf_counter()
    for number, path in enumerate(files, start=1):
        left = budget_s - (time.perf_counter() - started)
        # a run cut short by the budget measures nothing: start one only if it should fit,
        # taking it to last at least as long as the one before
        if left <= (result.seconds[-1] if result.seconds else 0):
            result.stopped = f"run {number} would not fit in the budget of {budget_s:g} s"
            break
        try:
            result.seconds.append(
                timed(["run", str(path), "--db", db, "--format", "json"], work, left)
            )
        except RunFailed as e:
            result.stopped = f"run {number}: {e}"
            break
    return result
