"""When the incidents of a scaled input happen: spread over the years with the city's
growth, fewer around the Spring Festival, fewer at weekends, in office hours; in order."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from random import Random

from streams.events import SHANGHAI

# January to December: February holds the Spring Festival holidays.
MONTH_WEIGHTS = (0.95, 0.6, 1.05, 1.05, 1.1, 1.1, 1.0, 1.0, 1.1, 0.95, 1.1, 1.0)
WEEKEND_WEIGHT = 0.35
_OFFICE_MINUTES = (8 * 60 + 30, 17 * 60 + 30)


def month_counts(incidents: int, years: tuple[int, int], growth: float) -> list[int]:
    """How many of ``incidents`` each month of ``years`` gets, in order; they sum to
    ``incidents`` exactly (largest remainders)."""
    first, last = years
    weights = [
        growth ** (year - first) * MONTH_WEIGHTS[month - 1] * calendar.monthrange(year, month)[1]
        for year in range(first, last + 1)
        for month in range(1, 13)
    ]
    total = sum(weights)
    shares = [incidents * w / total for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: incidents - sum(counts)]:
        counts[i] += 1
    return counts


def incident_times(
    rng: Random, incidents: int, years: tuple[int, int], growth: float
) -> Iterator[datetime]:
    """The instants the incidents are first referred at, in order; one month's drawn at a
    time, so memory follows the monthly rate, not the total."""
    counts = month_counts(incidents, years, growth)
    for index, count in enumerate(counts):
        year, month = years[0] + index // 12, index % 12 + 1
        start = date(year, month, 1)
        days = [start + timedelta(days=d) for d in range(calendar.monthrange(year, month)[1])]
        weights = [WEEKEND_WEIGHT if d.weekday() >= 5 else 1.0 for d in days]
        drawn = [
            datetime.combine(day, time(), SHANGHAI)
            + timedelta(minutes=rng.randint(*_OFFICE_MINUTES))
            for day in rng.choices(days, weights, k=count)
        ]
        yield from sorted(drawn)
