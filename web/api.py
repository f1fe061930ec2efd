"""The JSON API behind the page; its OpenAPI description is at /openapi.json and /docs.

Scorecards and cases come in the shapes of ``referrals scorecard --format json`` and
``referrals case --format json`` (docs/contract.md), so a script can use either.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from consumers import letter_views, views
from consumers.queries import annual_report_of, case_document, find_case, penalties_by_district
from consumers.scorecard_feed import latest_scorecards, watermark
from streams.errors import NotFound, ReferralsError
from web.app import ServicesDep, SessionDep
from web.status import parse_probes, probe

router = APIRouter(prefix="/api", tags=["api"])

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
LEVEL = r"^(squad|district|city)$"
Month = Annotated[str, Query(pattern=MONTH, description="YYYY-MM, Asia/Shanghai")]
Level = Annotated[str, Query(pattern=LEVEL)]


@router.get("/scorecards")
def scorecards(session: SessionDep, month: Month, level: Level = "district") -> list[Any]:
    """The latest revision of a month's scorecards at one level, best first (empty while
    the month is not closed)."""
    return latest_scorecards(session, month, level)


@router.get("/scorecards/months")
def scorecard_months(session: SessionDep) -> list[str]:
    """Months with scorecards, newest first."""
    return views.scorecard_months(session)


@router.get("/scorecards/trend")
def scorecard_trend(session: SessionDep, month: Month, level: Level = "district") -> Any:
    """Each unit's score in the 12 months up to ``month``."""
    return views.score_trend(session, month, level)


@router.get("/scorecards/{month}/{level}/{code}/shortfalls")
def shortfalls(
    session: SessionDep, found: ServicesDep, month: str, level: str, code: str
) -> list[Any]:
    """The unit's items due in the month that were late, missing or partly paid, with
    their cases."""
    return [s.document() for s in views.shortfalls(session, found.rubric, month, level, code)]


@router.get("/cases")
def cases(
    session: SessionDep,
    found: ServicesDep,
    district: str | None = None,
    state: str | None = None,
    overdue: bool = False,
) -> list[Any]:
    """Live cases, filtered by district code and state; ``overdue`` keeps those with an
    item past its deadline at the event-time watermark and still not done."""
    return views.case_rows(
        session, found.rubric, watermark(session), district=district, state=state, overdue=overdue
    )


@router.get("/cases/{case_id}")
def case(session: SessionDep, case_id: str) -> Any:
    """A case by its id or ``AGENCY:REFERRAL_ID`` (an absorbed id leads to its heir)."""
    try:
        return case_document(find_case(session, case_id))
    except (NotFound, ReferralsError) as e:
        raise HTTPException(404, str(e)) from e


@router.get("/deadletters")
def deadletters(
    session: SessionDep,
    reason: str | None = None,
    agency: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:
    """The latest dead letters, newest first, by reason code and agency."""
    return letter_views.latest_dead_letters(session, reason=reason, agency=agency, limit=limit)


@router.get("/deadletters/{key:path}")
def deadletter(session: SessionDep, key: str) -> Any:
    """One dead letter with its raw event (base64, and decoded where it can be)."""
    try:
        return letter_views.dead_letter(session, key)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e


@router.get("/penalties")
def penalties(session: SessionDep, found: ServicesDep, year: int) -> Any:
    """Decided, collected and outstanding by district for the year (with the year before)
    and by district and month."""
    return {
        "by_district": penalties_by_district(session, year, found.org),
        "by_month": views.penalties_by_month(session, year),
    }


@router.get("/report")
def report(session: SessionDep, year: int) -> Any:
    """The annual report, as ``referrals report --format json``."""
    return annual_report_of(session, year)


@router.get("/pipeline")
def pipeline(found: ServicesDep) -> Any:
    """Each process's readiness, lag per topic, and events per minute over the last hour."""
    from streams.monitoring.probes import readiness

    _, own = readiness("serve", found.checks())
    processes = {"serve": own}
    processes.update(
        {name: probe(url) for name, url in parse_probes(found.settings.probes).items()}
    )
    lag: dict[str, int] | None = None
    lag_error = None
    if found.bootstrap is not None:
        from consumers.health import lag_by_topic, pipeline_groups

        try:
            lag = lag_by_topic(found.bootstrap, pipeline_groups(found.settings))
        except Exception as e:  # the broker may be away: show why, keep the page
            lag_error = str(e).splitlines()[0] if str(e) else e.__class__.__name__
    return {
        "broker": found.bootstrap,
        "processes": processes,
        "lag": lag,
        "lag_error": lag_error,
        "events_per_minute": found.sampler.per_minute() if found.sampler else None,
    }
