"""Events per minute from samples of a growing total, and the probe list setting."""

from __future__ import annotations

from web.status import parse_probes, per_minute

NOW = 1_000_000_020.0  # 20 s into a minute


def test_events_per_minute_are_differences_at_minute_boundaries() -> None:
    """A total sampled every 15 s gives each whole minute's growth; minutes before the
    first sample are unknown."""
    start = NOW - NOW % 60 - 180
    samples = [(start + 15 * i, 10 * i) for i in range(14)]
    assert per_minute(samples, NOW, minutes=4) == [None, 40, 40, 40]


def test_no_samples_no_figures() -> None:
    """With nothing sampled every minute is unknown, never zero."""
    assert per_minute([], NOW, minutes=3) == [None, None, None]


def test_probe_list_parses_names_and_urls() -> None:
    """Pairs are split on commas and '='; spaces and a trailing slash are dropped."""
    assert parse_probes(" worker=http://w:9101/ , sink=http://s:9102,") == {
        "worker": "http://w:9101",
        "sink": "http://s:9102",
    }
