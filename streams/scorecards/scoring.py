"""Step 5, the monthly scorecards: a pure function of case histories.

For a month M every metric counts the items whose deadline falls in M (Asia/Shanghai)
among a unit's cases; a parent is scored on the pooled items of all its cases, never on
its children's scores. Money is integer fen; scores are Decimals rounded half-up.

A case turns into its items (``case_items``) independently of every other case, and a
month's cards depend only on the sums of its items by district, squad and metric
(``pool``); so a store can keep those sums up to date as cases change and score a month
from them (``scorecards_of_tallies``) without reading the cases again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from streams.events import SHANGHAI
from streams.ledger.rules import Receipt, collected_by
from streams.scorecards.rubric import Rubric

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CaseFacts:
    """What scoring needs of one case."""

    district_code: str
    squad_code: str
    opened_at: datetime
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    decided_at: datetime | None = None
    decided_fen: int = 0
    major: bool = False
    legal_reviewed_at: datetime | None = None
    feedback_at: datetime | None = None
    receipts: tuple[Receipt, ...] = ()


@dataclass
class Tally:
    due: int = 0
    on_time: int = 0

    @property
    def rate(self) -> Decimal | None:
        return None if self.due == 0 else Decimal(self.on_time) / Decimal(self.due)


@dataclass
class Scorecard:
    month: str
    level: str
    unit_code: str
    parent_code: str | None
    metrics: dict[str, Tally] = field(default_factory=dict)
    score: Decimal | None = None
    grade: str | None = None
    rank: int | None = None


def month_of(instant: datetime) -> str:
    local = instant.astimezone(SHANGHAI)
    return f"{local.year:04d}-{local.month:02d}"  # twice as fast as strftime


def _on_time(done: datetime | None, deadline: datetime) -> bool:
    return done is not None and done <= deadline


class Item(NamedTuple):
    """One thing a case owes in the month its deadline falls in; collection counts fen,
    the other metrics count items. A named tuple: a year's cases make hundreds of
    thousands, built and stored in bulk."""

    month: str
    district_code: str
    squad_code: str
    metric: str
    due: int
    on_time: int


def deadlines(case: CaseFacts, rubric: Rubric) -> Iterator[tuple[str, datetime, int, int]]:
    """(metric, deadline, due, on time) for every item the case has."""
    deadline = case.opened_at + rubric.metric("filing_timeliness").deadline
    yield (
        "filing_timeliness",
        deadline,
        1,
        int(_on_time(case.filed_at or case.rejected_at, deadline)),
    )
    if case.filed_at is not None:
        deadline = case.filed_at + rubric.metric("decision_timeliness").deadline
        yield "decision_timeliness", deadline, 1, int(_on_time(case.decided_at, deadline))
    if case.decided_at is not None and case.major:
        reviewed = case.legal_reviewed_at
        yield "legal_review", case.decided_at, 1, int(_on_time(reviewed, case.decided_at))
    if case.decided_at is not None and case.decided_fen > 0:
        deadline = case.decided_at + rubric.metric("collection").deadline
        paid = min(collected_by(case.receipts, deadline), case.decided_fen)
        yield "collection", deadline, case.decided_fen, paid
    answered = case.decided_at or case.rejected_at
    if answered is not None:
        deadline = answered + rubric.metric("feedback").deadline
        yield "feedback", deadline, 1, int(_on_time(case.feedback_at, deadline))


def case_items(case: CaseFacts, rubric: Rubric) -> list[Item]:
    """Every item the case has, at most one per metric, in its deadline's month."""
    return [
        Item(month_of(deadline), case.district_code, case.squad_code, metric, due, on_time)
        for metric, deadline, due, on_time in deadlines(case, rubric)
    ]


def score(tallies: dict[str, Tally], rubric: Rubric) -> Decimal | None:
    """100 x sum(w x rate) / sum(w) over the metrics with something due, half-up to 0.01."""
    weighted = [(m.weight, tallies[m.name].rate) for m in rubric.metrics]
    present = [(w, r) for w, r in weighted if r is not None]
    if not present:
        return None
    total = sum((w * r for w, r in present), Decimal(0))
    weights = sum((w for w, _ in present), Decimal(0))
    return (100 * total / weights).quantize(CENT, rounding=ROUND_HALF_UP)


def rank(cards: list[Scorecard]) -> None:
    """1 = best within each parent; equal scores share a rank; unscored units get none."""
    by_parent: dict[str | None, list[Scorecard]] = {}
    for card in cards:
        if card.score is not None:
            by_parent.setdefault(card.parent_code, []).append(card)
    for siblings in by_parent.values():
        scores = [card.score for card in siblings if card.score is not None]
        for card in siblings:
            assert card.score is not None
            card.rank = 1 + sum(1 for other in scores if other > card.score)


# (district, squad, metric): a month's items pooled by the smallest unit that owns them
TallyKey = tuple[str, str, str]


def pool(items: Iterable[Item]) -> dict[TallyKey, Tally]:
    """Items summed by district, squad and metric."""
    tallies: dict[TallyKey, Tally] = {}
    for item in items:
        tally = tallies.setdefault((item.district_code, item.squad_code, item.metric), Tally())
        tally.due += item.due
        tally.on_time += item.on_time
    return tallies


def scorecards_of_tallies(
    tallies: Mapping[TallyKey, Tally],
    month: str,
    rubric: Rubric,
    units: dict[str, list[tuple[str, str | None]]],
) -> list[Scorecard]:
    """Every unit's scorecard for ``month`` from the month's pooled items. ``units`` maps a
    level to its (unit, parent) pairs; items count for their squad, their district and the
    city."""
    cards = {
        (level, code): Scorecard(
            month, level, code, parent, {m.name: Tally() for m in rubric.metrics}
        )
        for level, pairs in units.items()
        for code, parent in pairs
    }
    cities = [("city", code) for code, _ in units.get("city", [])]
    for (district, squad, metric), tally in tallies.items():
        for owner in [("squad", squad), ("district", district), *cities]:
            card = cards.get(owner)
            if card is not None:
                card.metrics[metric].due += tally.due
                card.metrics[metric].on_time += tally.on_time
    result = list(cards.values())
    for card in result:
        card.score = score(card.metrics, rubric)
        card.grade = rubric.grade(card.score) if card.score is not None else None
    for level in units:
        rank([c for c in result if c.level == level])
    return result


def scorecards(
    cases: Iterable[CaseFacts],
    month: str,
    rubric: Rubric,
    units: dict[str, list[tuple[str, str | None]]],
) -> list[Scorecard]:
    """Every unit's scorecard for ``month`` from the cases themselves."""
    due = (item for case in cases for item in case_items(case, rubric) if item.month == month)
    return scorecards_of_tallies(pool(due), month, rubric, units)
