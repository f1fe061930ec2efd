"""``referrals serve`` as a child process for the tests, and the HTTP and CLI calls they make."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.embedded import free_loopback_port

ROOT = Path(__file__).parents[2]


def env() -> dict[str, str]:
    """The test process's environment without any REFERRALS_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REFERRALS_")}


def referrals_json(*args: str) -> Any:
    """Run ``referrals ARGS`` and parse what it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "referrals", *args],
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def get(url: str, timeout: float = 10.0) -> tuple[int, Any]:
    """(HTTP status, JSON body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
    except (urllib.error.URLError, OSError):
        return 0, None


def wait_for_status(url: str, status: int, timeout: float) -> Any:
    """Poll ``url`` until it answers ``status``; the last body, or AssertionError."""
    deadline = time.monotonic() + timeout
    seen: tuple[int, Any] = (0, None)
    while time.monotonic() < deadline:
        seen = get(url, timeout=5)
        if seen[0] == status:
            return seen[1]
        time.sleep(0.5)
    raise AssertionError(f"{url} answered {seen} instead of {status} within {timeout:g} s")


@contextmanager
def served(db: str, log: Path, *options: str, **settings: str) -> Iterator[str]:
    """``referrals serve`` on a free port over ``db``, with REFERRALS_* ``settings``;
    yields its base URL."""
    port = free_loopback_port()
    argv = [sys.executable, "-m", "referrals", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--db", db, *options]
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env={**env(), **{f"REFERRALS_{k.upper()}": v for k, v in settings.items()}},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/health", 200, timeout=60)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
