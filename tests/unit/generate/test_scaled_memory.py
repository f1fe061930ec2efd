"""The scaled generator is a stream: consumed lazily, it holds only the lines still
waiting for their publication time, so its memory follows the rate of incidents and not
their number."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

from referrals.generate.scaled import generate_scaled
from referrals.generate.scaled_profile import SCALED
from tests.unit.factories import ORG

PER_YEAR = 1_650  # incidents a year: about 10 000 lines
STEADY = replace(SCALED, growth=1.0)  # the same rate every year


def peak_and_size(years: tuple[int, int]) -> tuple[int, int, int]:
    """Peak traced memory while consuming the stream line by line, the bytes of all the
    lines it gave, and their count."""
    incidents = PER_YEAR * (years[1] - years[0] + 1)
    size = count = 0
    tracemalloc.start()
    try:
        for line in generate_scaled(2, ORG, incidents, years, STEADY):
            size += len(line.encode())
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size, count


def test_memory_is_far_below_the_output_and_does_not_grow_with_it() -> None:
    """Ten years (about 10^5 lines) at their peak hold well under a tenth of what they
    write, and not much more than two years at the same rate hold."""
    decade_peak, decade_size, decade_lines = peak_and_size((2013, 2022))
    short_peak, _, _ = peak_and_size((2021, 2022))
    assert decade_lines >= 90_000
    assert decade_peak < decade_size / 10
    assert decade_peak < 1.5 * short_peak
