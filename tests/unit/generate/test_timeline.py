"""When scaled incidents begin: exactly as many as asked, in order, in the years asked,
in office hours, following the city's growth and its calendar."""

from __future__ import annotations

from random import Random

from referrals.generate.timeline import WEEKEND_WEIGHT, incident_times, month_counts
from streams.events import SHANGHAI


def test_month_counts_share_out_every_incident() -> None:
    """The months' counts add up to the incidents asked for, the Spring Festival month
    has fewer than the next, and each year more than the year before."""
    counts = month_counts(120_001, (2013, 2022), 1.06)
    assert sum(counts) == 120_001
    assert len(counts) == 120
    assert counts[1] < counts[2]  # February 2013 against March
    yearly = [sum(counts[i : i + 12]) for i in range(0, 120, 12)]
    assert yearly == sorted(yearly)
    assert 1.05 < yearly[1] / yearly[0] < 1.07


def test_incident_times_are_ordered_within_the_years_in_office_hours() -> None:
    """Every instant is in order, inside the years, between 8:30 and 17:30 in Zhuzhou,
    and weekends get about their weight against weekdays."""
    times = list(incident_times(Random(1), 20_000, (2021, 2022), 1.06))
    assert len(times) == 20_000
    assert times == sorted(times)
    local = [t.astimezone(SHANGHAI) for t in times]
    assert {t.year for t in local} == {2021, 2022}
    assert all(8 * 60 + 30 <= t.hour * 60 + t.minute <= 17 * 60 + 30 for t in local)
    weekend = sum(1 for t in local if t.weekday() >= 5) / len(local)
    expected = 2 * WEEKEND_WEIGHT / (5 + 2 * WEEKEND_WEIGHT)
    assert abs(weekend - expected) < 0.02
