"""A batch run whose worker stops making progress restarts it and still finishes right."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from runtime import session
from tests.integration.harness import SAMPLE, SAMPLE_SUMMARY, run_files

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_a_frozen_worker_is_restarted_and_the_run_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is frozen (SIGSTOP) before the input is published; after the stall
    period the run restarts it and ends with the sample's hand-counted summary."""
    frozen: list[int] = []
    publish = session.BatchSession.publish

    def freeze_then_publish(self: Any, records: Any, label: str = "publishing") -> None:
        if not frozen:
            frozen.append(self.worker.process.pid)
            os.kill(self.worker.process.pid, signal.SIGSTOP)
        publish(self, records, label)

    monkeypatch.setattr(session, "STALLED_AFTER_S", 5.0)
    monkeypatch.setattr(session, "STARTING_S", 15.0)
    monkeypatch.setattr(session.BatchSession, "publish", freeze_then_publish)
    summary = run_files(f"sqlite:///{tmp_path / 'stall.db'}", [SAMPLE])
    assert frozen, "the worker was never frozen"
    assert summary == SAMPLE_SUMMARY
