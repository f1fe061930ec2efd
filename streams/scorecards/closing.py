"""Closing months: which months are closed, and whether a month's cards are a new revision.

A month is closed once the event-time watermark (the latest instant of any stored event)
passes its end plus the rubric's grace period, or, when the input is drained, once the
watermark is in it or after it. A closed month's cards whose items change come out as
revision n+1, the earlier revisions kept: never a silent change. Pure: the watermark, the
month's pooled items, the latest revision and the clock are passed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from streams.events import SHANGHAI
from streams.organisation import Organisation
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import (
    Scorecard,
    Tally,
    TallyKey,
    month_of,
    scorecards_of_tallies,
)

Units = dict[str, list[tuple[str, str | None]]]


@dataclass(frozen=True)
class Card:
    """One unit's scorecard of a month, named; metrics map to (due, on time)."""

    level: str
    unit_code: str
    unit_name: str
    parent_code: str | None
    score: Decimal | None
    grade: str | None
    rank: int | None
    metrics: Mapping[str, tuple[int, int]]

    def rate(self, metric: str) -> Decimal | None:
        return Tally(*self.metrics[metric]).rate


@dataclass(frozen=True)
class Revision:
    """A month's cards as published once, ordered by level and unit code."""

    month: str
    number: int
    closed_at: datetime
    cards: tuple[Card, ...]


def units(org: Organisation) -> Units:
    """Each level's (unit, parent) pairs."""
    return {
        "city": [(org.city.code, None)],
        "district": [(code, org.city.code) for code in org.districts],
        "squad": [(s.code, s.district_code) for s in org.squads.values()],
    }


def unit_name(org: Organisation, level: str, code: str) -> str:
    if level == "city":
        return org.city.name
    if level == "district":
        return org.districts[code].name
    return org.squads[code].name


def _card(card: Scorecard, org: Organisation) -> Card:
    return Card(
        level=card.level,
        unit_code=card.unit_code,
        unit_name=unit_name(org, card.level, card.unit_code),
        parent_code=card.parent_code,
        score=card.score,
        grade=card.grade,
        rank=card.rank,
        metrics={name: (t.due, t.on_time) for name, t in card.metrics.items()},
    )


def ordered(cards: list[Card]) -> tuple[Card, ...]:
    return tuple(sorted(cards, key=lambda c: (c.level, c.unit_code)))


def month_cards(
    month: str, tallies: Mapping[TallyKey, Tally], rubric: Rubric, org: Organisation
) -> tuple[Card, ...]:
    """Every unit's card of the month, from the month's items pooled by squad."""
    scored = scorecards_of_tallies(tallies, month, rubric, units(org))
    return ordered([_card(card, org) for card in scored])


def close_month(
    month: str,
    tallies: Mapping[TallyKey, Tally],
    latest: Revision | None,
    *,
    rubric: Rubric,
    org: Organisation,
    now: datetime,
) -> Revision | None:
    """The month's next revision, or None when its cards are those of ``latest``."""
    cards = month_cards(month, tallies, rubric, org)
    if latest is not None and latest.cards == cards:
        return None
    return Revision(month, (latest.number if latest is not None else 0) + 1, now, cards)


def _months(first: datetime, last: datetime) -> Iterator[str]:
    year, month = (int(x) for x in month_of(first).split("-"))
    end = month_of(last)
    while True:
        current = f"{year:04d}-{month:02d}"
        yield current
        if current >= end:
            return
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def month_end(month: str) -> datetime:
    year, number = (int(x) for x in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=SHANGHAI)


def closed_months(
    first: datetime | None, watermark: datetime | None, grace: timedelta, *, drained: bool
) -> list[str]:
    """The closed months from the first referral's on, oldest first."""
    if first is None or watermark is None:
        return []
    last = month_of(watermark)
    return [
        month
        for month in _months(first, watermark)
        if (drained and month <= last) or month_end(month) + grace <= watermark
    ]
