"""``generate_scaled``: the ``zhuzhou-scaled`` profile, any number of incidents over any
run of years, as a stream of JSONL lines in publication order.

Incidents are drawn in the order they begin; each one's lines, published at their event
time plus a delay, wait in a heap until no later incident can publish anything earlier
(no line is published before the incident it belongs to begins). So memory follows the
rate of incidents and how long their cases last, not how many there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from heapq import heappop, heappush
from random import Random

from referrals.generate.incident import IncidentDrawer
from referrals.generate.incident_lines import IncidentLines
from referrals.generate.scaled_profile import (
    DEFAULT_YEARS,
    HORIZON_DAYS,
    SCALED,
    ScaledProfile,
    check_scale,
)
from referrals.generate.timeline import incident_times
from streams.events import SHANGHAI
from streams.organisation import Organisation


def horizon_of(years: tuple[int, int]) -> datetime:
    """The last instant a scaled input for ``years`` has events at."""
    return datetime(years[1] + 1, 1, 1, tzinfo=SHANGHAI) + timedelta(days=HORIZON_DAYS)


def generate_scaled(
    seed: int,
    org: Organisation,
    incidents: int,
    years: tuple[int, int] = DEFAULT_YEARS,
    profile: ScaledProfile = SCALED,
) -> Iterator[str]:
    """JSONL lines (without newlines) of ``incidents`` incidents first referred in
    ``years`` (first and last, inclusive), in publication order; the same for the same
    arguments. Raises InvalidScale at once for no incidents or impossible years."""
    check_scale(incidents, years)
    return _stream(seed, org, incidents, years, profile)


def _stream(
    seed: int, org: Organisation, incidents: int, years: tuple[int, int], profile: ScaledProfile
) -> Iterator[str]:
    rng = Random(seed)
    drawer = IncidentDrawer(rng, org, profile)
    writer = IncidentLines(rng, org, seed, profile, horizon_of(years))
    waiting: list[tuple[datetime, int, str]] = []
    order = 0
    for begins in incident_times(rng, incidents, years, profile.growth):
        while waiting and waiting[0][0] <= begins:
            yield heappop(waiting)[2]
        for published, text in writer.lines(drawer.incident(begins)):
            heappush(waiting, (published, order, text))
            order += 1
    while waiting:
        yield heappop(waiting)[2]
