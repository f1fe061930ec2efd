"""Where a worker's time goes during a timed run: py-spy, attached from outside, summarised.

py-spy is not a dependency (`pip install py-spy`); without it `--profile` notes why there
is no profile. The raw samples (one ``frame;frame;... count`` line per stack) are kept
beside the results, for a flame graph.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

TOP = 12
# The project's own code, for the inclusive view: library frames (the event loop, Faust's
# runner) are on every stack and would fill it.
PROJECT = ("streams/", "schemas/", "consumers/")
ENTRY = "streams/worker.py"  # the worker's entry point: on every stack, says nothing


def py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


class Spy:
    """py-spy recording one process until ``stop``."""

    def __init__(self, pid: int, out: Path, max_seconds: float) -> None:
        binary = py_spy()
        if binary is None:
            raise FileNotFoundError("py-spy is not installed (pip install py-spy)")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        # --nonblocking: reading the stacks without pausing the worker, so that profiling
        # does not slow down what it measures
        argv = [binary, "record", "--pid", str(pid), "--format", "raw", "--output", str(out)]
        argv += ["--rate", "20", "--nonblocking", "--duration", str(int(max_seconds) + 1)]
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> dict[str, Any]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.out.is_file():
            return {"error": f"py-spy wrote nothing (exit status {self.process.returncode})"}
        return summarise(self.out.read_text(encoding="utf-8"), str(self.out))


def _in_project(frame: str) -> bool:
    """Whether a frame (``name (path:line)``, the path relative to sys.path) is ours."""
    path = frame.partition(" (")[2]
    ours = path.startswith(PROJECT) or any(f"/{p}" in path for p in PROJECT)
    return ours and ENTRY not in path


def _function(frame: str) -> str:
    """``name (path/to/module.py:12)`` -> ``name (to/module.py)``: lines merged per
    function, and enough of the path to tell intake/agents.py from cases/agents.py."""
    name, _, where = frame.partition(" (")
    file = "/".join(where.rsplit(":", 1)[0].split("/")[-2:])
    return f"{name} ({file})" if file else name


def summarise(raw: str, source: str = "") -> dict[str, Any]:
    """Share of samples by function, the largest first: where it was running (self), and
    which of the project's functions were on the stack (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[_function(frames[-1])] += count
        for function in {_function(f) for f in frames if _in_project(f)}:
            inclusive[function] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * n / total, 1)) for f, n in counter.most_common(TOP)]

    if not total:
        return {"samples": 0, "raw": source}
    return {
        "samples": total,
        "raw": source,
        "self_pct": shares(own),
        "inclusive_pct": shares(inclusive),
    }
