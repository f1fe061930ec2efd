"""Rates from a run's progress series: (seconds since the first publish, events processed)."""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def time_at(points: Sequence[Point], events: float) -> float:
    """When the series first reached ``events``, interpolated between two samples."""
    previous: Point = (0.0, 0.0)
    for t, done in points:
        if done >= events:
            t0, done0 = previous
            if done == done0:
                return t
            return t0 + (t - t0) * (events - done0) / (done - done0)
        previous = (t, done)
    raise ValueError(f"the series never reaches {events:g} events")


def tenths(points: Sequence[Point], end: Point | None = None) -> tuple[float, float]:
    """Events/s over the first tenth of the events processed and over the last tenth.

    ``end`` is the run's end (its completion, or its budget) when that falls after the
    last sample; the last tenth then runs up to it.
    """
    series = [*points, end] if end is not None else list(points)
    if not series or series[-1][1] <= 0:
        raise ValueError("nothing was processed")
    t_end, total = series[-1]
    tenth = total / 10
    first = time_at(series, tenth)
    last_start = time_at(series, total - tenth)
    if first <= 0 or t_end <= last_start:
        raise ValueError("the series is too coarse to split into tenths")
    return tenth / first, tenth / (t_end - last_start)
