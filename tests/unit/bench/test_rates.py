"""Rates read off a run's progress series: interpolation and the first and last tenths."""

from __future__ import annotations

import pytest

from bench.rates import tenths, time_at


def test_time_at_interpolates_between_samples() -> None:
    """The instant a count is reached lies between the samples around it, in proportion."""
    points = [(1.0, 0.0), (3.0, 100.0), (5.0, 300.0)]
    assert time_at(points, 50) == pytest.approx(2.0)
    assert time_at(points, 200) == pytest.approx(4.0)
    assert time_at(points, 300) == pytest.approx(5.0)


def test_time_at_refuses_a_count_never_reached() -> None:
    """Asking for more events than the series holds is an error, not an extrapolation."""
    with pytest.raises(ValueError, match="never reaches"):
        time_at([(1.0, 10.0)], 11)


def test_a_steady_run_has_equal_tenths() -> None:
    """At a constant rate the first and the last tenth run at that rate."""
    points = [(float(t), 100.0 * t) for t in range(1, 101)]
    first, last = tenths(points)
    assert first == pytest.approx(100.0)
    assert last == pytest.approx(100.0)


def test_a_run_that_slows_down_has_a_slower_last_tenth() -> None:
    """A run whose rate halves in its second half shows a last tenth at half the first's."""
    points = [(float(t), 100.0 * t) for t in range(1, 51)]
    points += [(50.0 + t, 5_000.0 + 50.0 * t) for t in range(1, 101)]
    first, last = tenths(points)
    assert first == pytest.approx(100.0)
    assert last == pytest.approx(50.0)


def test_the_end_of_a_run_counts_after_its_last_sample() -> None:
    """A completion after the last sample closes the last tenth there."""
    first, last = tenths([(1.0, 0.0), (9.0, 900.0)], end=(10.0, 1_000.0))
    assert first == pytest.approx(100 / (1 + 8 * 100 / 900))  # the 100th event at t = 1.89
    assert last == pytest.approx(100.0)


def test_nothing_processed_has_no_tenths() -> None:
    """A run that processed nothing has no rate to split."""
    with pytest.raises(ValueError, match="nothing"):
        tenths([(1.0, 0.0), (2.0, 0.0)])
