"""The scorecard feed: closes months and publishes their scorecards and penalty totals,
from the store.

Each close first brings the read model (``consumers.scorecards.read_model``) up to date
with the cases written since the last one, so its cost follows what changed, not the
history. A month is closed once the event-time watermark passes its end plus the rubric's
grace period, or, in a batch run, once the input is drained (every month up to the
watermark's). A closed month whose items changed since it was last checked is scored again
from its sums (``streams.scorecards.closing.close_month``); cards that come out different
from its latest revision become revision n+1, stored beside the old ones and sent to
``scorecards.monthly`` (``consumers.scorecards.writer``); never a silent change. Penalty
totals are checked likewise from the month's flows on.

A close is one transaction of the caller's. Two closes of one store at once cannot both
keep what they did: the second to finish raises ``ConcurrentClose`` (run it again), and
messages are sent only once a close is sure to be kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consumers.models import MonthCheckRow
from consumers.scorecards import read_model, state, sums
from consumers.scorecards.state import watermark
from consumers.scorecards.writer import (
    Producer,
    card_document,
    latest_revision,
    latest_scorecards,
    replace_totals,
    row_document,
    send,
    store_revision,
)
from streams.ledger.totals import totals_of_flows
from streams.logging import get_logger
from streams.organisation import Organisation
from streams.scorecards import closing
from streams.scorecards.closing import close_month, unit_name, units
from streams.scorecards.rubric import Rubric
from streams.topics import DEFAULT, Topics

__all__ = [
    "Closed",
    "card_document",
    "close_months",
    "closed_months",
    "latest_scorecards",
    "row_document",
    "unit_name",
    "units",
    "watermark",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class Closed:
    month: str
    revision: int


def closed_months(session: Session, rubric: Rubric, *, drained: bool) -> list[str]:
    """The closed months, oldest first, by the store's watermark."""
    first, mark = state.first_referral(session), state.watermark(session)
    return closing.closed_months(first, mark, rubric.grace, drained=drained)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _follow_configuration(
    session: Session, org: Organisation, rubric: Rubric, *, rebuild: bool
) -> None:
    """A new rubric scores every case's items again; a new organisation (units, names)
    has every closed month's cards checked again. The first close, or ``rebuild``, builds
    the whole read model from every case."""
    built_with = state.get(session, state.RUBRIC)
    if rebuild or built_with is None:
        read_model.rebuild(session, rubric)
    elif built_with != state.digest(rubric):
        read_model.rescore(session, rubric)
    state.put(session, state.RUBRIC, state.digest(rubric))
    if state.get(session, state.ORGANISATION) != state.digest(org):
        session.execute(delete(MonthCheckRow))
        state.put(session, state.ORGANISATION, state.digest(org))


def close_months(
    session: Session,
    org: Organisation,
    rubric: Rubric,
    *,
    drained: bool,
    producer: Producer | None = None,
    clock: Callable[[], datetime] = _utc_now,
    rebuild: bool = False,
    names: Topics = DEFAULT,
) -> list[Closed]:
    """Take in what changed, then store and send a new revision of every closed month
    whose cards changed, and the penalty totals of every closed month whose totals did;
    the months that got a revision. ``clock`` stamps the revisions; ``rebuild`` builds
    the read model again from every case first."""
    generation = state.get(session, state.GENERATION)
    _follow_configuration(session, org, rubric, rebuild=rebuild)
    changes = read_model.take_in(session, rubric)
    months = closed_months(session, rubric, drained=drained)
    checks = {row.month: row for row in session.scalars(select(MonthCheckRow))}
    now = clock()
    closed, messages = [], []
    for month in months:
        check = checks.get(month)
        if check is not None and check.cards_checked:
            continue
        tallies = sums.month_tallies(session, month)
        latest = latest_revision(session, month)
        revision = close_month(month, tallies, latest, rubric=rubric, org=org, now=now)
        if revision is not None:
            messages += store_revision(session, revision)
            closed.append(Closed(month, revision.number))
    unchecked = [m for m in months if m not in checks or not checks[m].penalties_checked]
    if unchecked:
        totals = totals_of_flows(sums.flows_through(session, unchecked[-1]), unchecked)
        for month in unchecked:
            mine = {key[1:]: row for key, row in totals.items() if key[0] == month}
            messages += replace_totals(session, month, mine)
    for month in months:
        if month in checks:
            checks[month].cards_checked = checks[month].penalties_checked = True
        else:
            session.add(MonthCheckRow(month=month, cards_checked=True, penalties_checked=True))
    state.advance(session, generation)
    send(producer, messages, names.prefix)
    log.debug("months_closed", cases=changes.cases, months=len(months), revisions=len(closed))
    return closed
