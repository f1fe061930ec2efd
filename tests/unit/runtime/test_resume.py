"""The line an interrupted command leaves says what was kept and what to run next."""

from __future__ import annotations

import signal
from dataclasses import replace

from runtime.resume import Interruption, advice, service_advice

STOPPED = Interruption(
    signum=signal.SIGINT,
    total=12_157,
    published=5_000,
    next_record=("in.jsonl", 5_001),
    embedded=True,
    state_saved=True,
    cases=812,
    dead_letters=3,
)


def test_nothing_published_means_run_the_same_command_again() -> None:
    """Stopped before publishing: nothing to keep, the same command again."""
    line = advice(replace(STOPPED, published=0, state_saved=None))
    assert line == "interrupted by SIGINT before anything was published; run the same command again"


def test_embedded_with_the_state_kept_resumes_on_the_same_store() -> None:
    """On the embedded broker with the state saved: the same files on the same --db."""
    line = advice(STOPPED)
    assert line.startswith("interrupted by SIGINT: 5,000 of 12,157 records published")
    assert "812 cases and 3 dead letters stored" in line
    assert line.endswith("run the same files again on this --db to complete them")


def test_embedded_without_the_state_asks_for_a_new_store() -> None:
    """Without the state, the same --db cannot be resumed from: a new one."""
    line = advice(replace(STOPPED, signum=signal.SIGTERM, state_saved=False))
    assert line.startswith("interrupted by SIGTERM:")
    assert "was not saved" in line and line.endswith("on a new --db")


def test_a_cluster_keeps_what_was_published_and_the_rest_is_named() -> None:
    """With --broker the rest of the input is named by file and line."""
    line = advice(replace(STOPPED, embedded=False, state_saved=None))
    assert "publish the rest, from in.jsonl line 5001 on" in line
    everything = advice(replace(STOPPED, embedded=False, published=12_157, next_record=None))
    assert "all 12,157 records published" in everything and "referrals feed" in everything


def test_each_service_says_how_it_resumes() -> None:
    """Every long-running command has its line; the embedded broker's loss is said."""
    for command in ("worker", "sink", "feed", "serve", "up"):
        line = service_advice(command, signal.SIGTERM)
        assert line.startswith(f"{command} stopped by SIGTERM: ")
        assert "embedded" not in line
    assert "embedded broker's records" in service_advice("sink", signal.SIGINT, embedded=True)
