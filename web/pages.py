"""The HTML pages, rendered on the server from the same queries as the JSON API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from consumers import letter_views, views
from consumers.presentation import local_time, yuan
from consumers.queries import case_document, find_case, penalties_by_district
from consumers.scorecard_feed import latest_scorecards, unit_name, watermark
from streams.errors import NotFound
from web import api, charts
from web.app import ServicesDep, SessionDep
from web.labels import language, translator

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=__file__.rsplit("/", 1)[0] + "/templates")
LEVEL_BELOW = {"city": "district", "district": "squad"}


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    lang = language(request.query_params.get("lang"))

    def url(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "", False)}
        if lang != "zh":
            query["lang"] = lang
        return path + ("?" + urlencode(query) if query else "")

    others = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    switch = others + ([] if lang == "en" else [("lang", "en")])
    return templates.TemplateResponse(
        request,
        template,
        {
            "t": translator(lang),
            "lang": lang,
            "url": url,
            "switch_url": request.url.path + ("?" + urlencode(switch) if switch else ""),
            "quote": lambda text: quote(text, safe=""),
            "yuan": yuan,
            "local": lambda instant: local_time(instant) if instant else "—",
            "squads": request.app.state.services.org.squads,
            **context,
        },
    )


@router.get("/", response_class=HTMLResponse)
def pipeline_page(request: Request, found: ServicesDep) -> HTMLResponse:
    status = api.pipeline(found)
    chart = None
    if status["events_per_minute"] is not None:
        t = translator(language(request.query_params.get("lang")))
        labels = [f"-{m}" for m in range(60, 0, -1)]
        chart = charts.line_chart(
            t("events per minute"), labels, [("", status["events_per_minute"])]
        )
    return render(request, "pipeline.html", status=status, chart=chart)


@router.get("/deadletters", response_class=HTMLResponse)
def deadletters_page(
    request: Request, session: SessionDep, reason: str | None = None, agency: str | None = None
) -> HTMLResponse:
    letters = letter_views.latest_dead_letters(session, reason=reason, agency=agency)
    reasons = letter_views.dead_letter_reasons(session)
    return render(
        request, "deadletters.html", letters=letters, reasons=reasons, reason=reason, agency=agency
    )


@router.get("/deadletters/{key:path}", response_class=HTMLResponse)
def deadletter_page(request: Request, session: SessionDep, key: str) -> HTMLResponse:
    try:
        letter = letter_views.dead_letter(session, key)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    event = letter["raw_event"]
    raw = (
        event
        if letter["raw_kind"] in ("text", "hex")
        else json.dumps(event, ensure_ascii=False, indent=2)
    )
    return render(request, "deadletter.html", letter=letter, raw=raw)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(
    request: Request,
    session: SessionDep,
    found: ServicesDep,
    district: str | None = None,
    state: str | None = None,
    overdue: bool = False,
) -> HTMLResponse:
    as_of = watermark(session)
    every = views.case_rows(session, found.rubric, as_of)
    chosen = [
        row
        for row in every
        if (not district or row["district_code"] == district)
        and (not state or row["state"] == state)
        and (not overdue or row["overdue"])
    ]
    return render(
        request,
        "cases.html",
        counts=views.case_counts(every),
        states=("OPEN", "FILED", "REJECTED", "DECIDED", "CLOSED"),
        districts=found.org.districts,
        cases=chosen[:300],
        shown=len(chosen),
        as_of=as_of.isoformat() if as_of else None,
        district=district,
        state=state,
        overdue=overdue,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: SessionDep, found: ServicesDep, case_id: str
) -> HTMLResponse:
    try:
        case = case_document(find_case(session, case_id))
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    district = found.org.districts.get(case["district_code"] or "")
    squad = found.org.squads.get(case["squad_code"] or "")
    return render(
        request,
        "case.html",
        case=case,
        district_name=district.name if district else case["district_code"],
        squad_name=squad.name if squad else case["squad_code"],
    )


def _month(session: Any, month: str | None) -> str | None:
    months = views.scorecard_months(session)
    if month and month in months:
        return month
    return months[0] if months else month


@router.get("/scorecards", response_class=HTMLResponse)
def scorecards_page(
    request: Request, session: SessionDep, month: str | None = None, level: str = "district"
) -> HTMLResponse:
    t = translator(language(request.query_params.get("lang")))
    level = level if level in ("squad", "district", "city") else "district"
    month = _month(session, month)
    cards = latest_scorecards(session, month, level) if month else []
    bars = charts.bar_chart(
        f"{month} {t('district scores') if level == 'district' else t(level)}",
        [(c["unit_name"], c["score"], c["grade"]) for c in cards],
    )
    trend = views.score_trend(session, month, level) if month and level != "squad" else None
    trend_chart = None
    if trend:
        series = [(u["unit_name"], u["scores"]) for u in trend["units"]]
        trend_chart = charts.line_chart(t("trend"), trend["months"], series, maximum=100)
    return render(
        request,
        "scorecards.html",
        months=views.scorecard_months(session),
        month=month,
        level=level,
        cards=cards,
        bars=bars if cards else None,
        trend_chart=trend_chart,
        metrics=[m.name for m in request.app.state.services.rubric.metrics],
    )


@router.get("/scorecards/{month}/{level}/{code}", response_class=HTMLResponse)
def unit_page(
    request: Request, session: SessionDep, found: ServicesDep, month: str, level: str, code: str
) -> HTMLResponse:
    try:
        name = unit_name(found.org, level, code)
    except KeyError as e:
        raise HTTPException(404, f"no {level} {code}") from e
    card = next(
        (c for c in latest_scorecards(session, month, level) if c["unit_code"] == code), None
    )
    below = LEVEL_BELOW.get(level)
    children = (
        [c for c in latest_scorecards(session, month, below) if c["parent_code"] == code]
        if below
        else []
    )
    found_shortfalls = views.shortfalls(session, found.rubric, month, level, code)
    return render(
        request,
        "unit.html",
        month=month,
        level=level,
        code=code,
        name=name,
        card=card,
        below=below,
        children=children,
        shortfalls=[s.document() for s in found_shortfalls],
        metrics=[m.name for m in found.rubric.metrics],
    )


@router.get("/penalties", response_class=HTMLResponse)
def penalties_page(
    request: Request, session: SessionDep, found: ServicesDep, year: int | None = None
) -> HTMLResponse:
    mark = watermark(session)
    year = year or (mark.year if mark else datetime.now().year)
    by_month = views.penalties_by_month(session, year)
    return render(
        request,
        "penalties.html",
        year=year,
        by_district=penalties_by_district(session, year, found.org),
        by_month=by_month,
        months=sorted({row["month"] for row in by_month}),
        districts=found.org.districts,
    )
