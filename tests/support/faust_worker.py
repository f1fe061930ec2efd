"""A Faust worker of a test's own: its app module written to a folder and run as
``python -m faust -A <module> worker``, its output in ``worker.log`` there, stopped with
SIGTERM (SIGKILL after 30 s) however the test ends."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def faust_worker(
    folder: Path, module: str, source: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    argv = [sys.executable, "-m", "faust", "-A", module, "worker", "-l", "info", "--without-web"]
    with (folder / "worker.log").open("wb") as log:
        worker = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
