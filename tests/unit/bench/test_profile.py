"""py-spy's raw samples summarised by function."""

from __future__ import annotations

from bench.profile import summarise

LOOP = "run (asyncio/base_events.py:600);_run_once (asyncio/base_events.py:1900)"
RAW = "\n".join(
    (
        f"{LOOP};form (streams/cases/group.py:40);dumps (json/__init__.py:231) 6",
        f"{LOOP};form (/repo/streams/cases/group.py:41) 3",
        "run (asyncio/base_events.py:600);select (selectors.py:468) 1",
    )
)


def test_self_time_is_the_innermost_frame_and_inclusive_keeps_project_frames() -> None:
    """Self shares go to the running function; inclusive shares to the project's functions
    on the stack, lines of one function merged."""
    summary = summarise(RAW, "raw.txt")
    assert summary["samples"] == 10
    assert summary["self_pct"][0] == ("dumps (json/__init__.py)", 60.0)
    assert ("form (cases/group.py)", 30.0) in summary["self_pct"]
    assert summary["inclusive_pct"] == [("form (cases/group.py)", 90.0)]


def test_no_samples_is_said_plainly() -> None:
    """An empty recording gives a count of zero, not a division by zero."""
    assert summarise("", "raw.txt") == {"samples": 0, "raw": "raw.txt"}
