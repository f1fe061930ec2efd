"""``referrals run`` stopped by SIGINT or SIGTERM in the middle of a generated input: it
exits 130 or 143 with one line saying what was kept, leaves no worker or embedded broker
running, and the same file run again on the same store gives what one uninterrupted run
gives — the same totals, the same cases, every case numbered once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from consumers.store import open_store, totals
from runtime.embedded import free_loopback_port
from tests.integration.harness import comparable, live_cases
from tests.support.processes import alive, children_of, command_line

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REFERRALS = str(Path(sys.executable).with_name("referrals"))
# Enough for the run to be well inside its processing when the signal comes, and little
# enough to keep the three runs of each test short.
INCIDENTS = 2500


@dataclass(frozen=True)
class Reference:
    """The input, and what one uninterrupted run of it stored."""

    path: Path
    totals: dict[str, int]
    cases: dict[str, dict[str, Any]]


def _run(path: Path, db: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [REFERRALS, "run", str(path), "--db", db, "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _store(db: str) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    engine = open_store(db)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            figures = asdict(totals(session))
    finally:
        engine.dispose()
    cases = {k: comparable(v) for k, v in live_cases(db).items()}
    return figures, cases


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("signals")
    path = folder / "scaled.jsonl"
    subprocess.run(
        [
            *(REFERRALS, "generate", "--profile", "zhuzhou-scaled"),
            *("--incidents", str(INCIDENTS), "--years", "2021-2022", "--out", str(path)),
        ],
        check=True,
        capture_output=True,
    )
    db = f"sqlite:///{folder / 'clean.db'}"
    clean = _run(path, db)
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err
    figures, cases = _store(db)
    return Reference(path, figures, cases)


def _stored_cases(path: Path) -> int:
    try:
        with sqlite3.connect(path) as connection:
            return int(connection.execute("SELECT count(*) FROM cases").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_cleanly_and_the_same_file_completes_it(
    reference: Reference, tmp_path: Path, sig: int, status: int
) -> None:
    """Signalled once its first cases are stored, the run exits 128 + the signal with one
    line naming what was kept, its worker and Tansu are gone, and a second run of the file
    on the same store ends equal to the uninterrupted run."""
    db_path = tmp_path / "store.db"
    db = f"sqlite:///{db_path}"
    run = _run(reference.path, db)
    deadline = time.monotonic() + 180
    while _stored_cases(db_path) == 0:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "no case stored in 180 s"
        time.sleep(0.05)
    started = children_of(run.pid)
    kinds = {"tansu" if "tansu" in command_line(pid) else "worker" for pid in started}
    run.send_signal(sig)
    out, err = run.communicate(timeout=120)

    assert run.returncode == status, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    name = signal.Signals(sig).name
    assert last.startswith(f"referrals: interrupted by {name}: "), err
    assert last.endswith("run the same files again on this --db to complete them"), err
    assert out == ""
    assert kinds == {"tansu", "worker"}
    assert not [pid for pid in started if alive(pid)], "a child of the run survived it"
    kept = _store(db)[0]["cases_opened"]
    assert 0 < kept < INCIDENTS, "the signal did not land in the middle of the input"

    again = _run(reference.path, db)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert json.loads(out)["published"] == sum(
        1 for line in reference.path.read_text(encoding="utf-8").splitlines() if line.strip()
    )
    figures, cases = _store(db)
    assert figures == reference.totals
    assert cases == reference.cases
    numbers = [case["case_no"] for case in live_cases(db).values()]
    assert None not in numbers
    assert len(set(numbers)) == len(numbers) == INCIDENTS


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        ("worker", signal.SIGTERM),
        ("worker", signal.SIGINT),
        ("sink", signal.SIGTERM),
        ("feed", signal.SIGINT),
        ("serve", signal.SIGTERM),
        ("up", signal.SIGTERM),
    ],
)
def test_a_signal_stops_a_service_and_everything_it_started(
    tmp_path: Path, command: str, sig: int
) -> None:
    """A long-running command on the embedded broker, once ready (a worker's Faust loop
    running, the supervisor's children started), exits 128 + the signal with its one
    line, and neither Tansu nor any child outlives it."""
    port = free_loopback_port()
    argv = [REFERRALS, command, "--db", f"sqlite:///{tmp_path / 'store.db'}", "--port", str(port)]
    if command == "up":
        argv += ["--logs", str(tmp_path / "logs")]
    service = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    expected = {"up": 4, "serve": 0}.get(command, 1)  # Tansu, and for up three children
    while not (_ready(port) and len(children_of(service.pid)) >= expected):
        assert service.poll() is None, service.communicate()
        assert time.monotonic() < deadline, f"{command} did not answer on {port}"
        time.sleep(0.2)
    started = children_of(service.pid)
    started |= {pid for child in started for pid in children_of(child)}
    service.send_signal(sig)
    _, err = service.communicate(timeout=60)

    assert service.returncode == 128 + sig, err
    last = err.strip().splitlines()[-1]  # stderr is the service's log: the line ends it
    assert last.startswith(f"referrals: {command} stopped by {signal.Signals(sig).name}: "), err
    assert not [pid for pid in started if alive(pid)], "a child outlived the command"
