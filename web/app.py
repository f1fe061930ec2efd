"""The bureau's monitoring page as an ASGI app: ``create_app(settings)`` for ``referrals
serve``.

It reads the SQL store (what the pipeline decided: cases, dead letters, scorecards,
penalties) and asks the broker only what the store cannot know: consumer lag and how fast
events arrive. Everything here is synchronous, so FastAPI runs it in its thread pool and a
slow broker never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from consumers.store import open_store
from streams.monitoring.metrics import registry
from streams.monitoring.probes import Check, Outcome, health, readiness
from streams.organisation import Organisation, load_organisation
from streams.scorecards.rubric import Rubric, load_rubric
from streams.settings import Settings
from web.status import Sampler

STATIC = __file__.rsplit("/", 1)[0] + "/static"


@dataclass
class Services:
    """What every request works with, built once per app."""

    settings: Settings
    engine: Engine
    org: Organisation
    rubric: Rubric
    bootstrap: str | None
    sampler: Sampler | None = None

    def checks(self) -> dict[str, Check]:
        checks: dict[str, Check] = {"store": store_check(self.engine)}
        if self.bootstrap is not None:
            from consumers.health import broker_check, lag_check, pipeline_groups

            checks["broker"] = broker_check(self.bootstrap)
            groups = pipeline_groups(self.settings)
            checks["lag"] = lag_check(self.bootstrap, groups, self.settings.ready_max_lag)
        return checks


def store_check(engine: Engine) -> Check:
    def answers() -> Outcome:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as e:
            return Outcome(False, f"store unreachable: {str(e).splitlines()[0]}")
        return Outcome(True, f"{engine.url.render_as_string(hide_password=True)} answers")

    return answers


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def session(request: Request) -> Iterator[Session]:
    with Session(services(request).engine) as opened:
        yield opened


ServicesDep = Annotated[Services, Depends(services)]
SessionDep = Annotated[Session, Depends(session)]


def _sampler(bootstrap: str, settings: Settings) -> Sampler:
    from streams import topics
    from streams.end_offsets import log_end_offsets

    inputs = topics.Topics.of(settings).inputs
    return Sampler(lambda: sum(log_end_offsets(bootstrap, inputs).values()))


def create_app(settings: Settings, extra_routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The page, its JSON API and the probes; ``extra_routers`` are mounted beside them
    (a partner agencies' HTTP intake, for one)."""
    from web import api, pages

    bootstrap = settings.bootstrap_servers if settings.broker is not None else None
    state = Services(
        settings=settings,
        engine=open_store(settings.db),
        org=load_organisation(settings.org),
        rubric=load_rubric(settings.rubric),
        bootstrap=bootstrap,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        if bootstrap is not None:
            state.sampler = _sampler(bootstrap, settings).start()
        yield
        if state.sampler is not None:
            state.sampler.stop()
        state.engine.dispose()

    app = FastAPI(
        title="referral-pipeline: the bureau's monitoring API",
        description="Scorecards, cases, dead letters and penalties from the SQL store; "
        "lag from the broker. Chinese labels by default, English with ?lang=en.",
        version="1",
        lifespan=lifespan,
    )
    app.state.services = state
    app.include_router(probes_router())
    app.include_router(api.router)
    app.include_router(pages.router)
    for router in extra_routers:
        app.include_router(router)
    if settings.api_keys is not None:
        # Partner agencies post their referrals here once keys are configured.
        from web.intake import include_intake
        from web.intake_app import build_intake

        include_intake(app, build_intake(settings))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def probes_router() -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/health")
    def alive() -> dict[str, Any]:
        """Alive: the process answers."""
        return health("serve")

    @router.get("/ready")
    def ready(found: ServicesDep) -> JSONResponse:
        """Ready: the store answers, and with a broker configured, the broker answers and
        the pipeline's consumer lag is below REFERRALS_READY_MAX_LAG. 200 or 503."""
        ok, document = readiness("serve", found.checks())
        return JSONResponse(document, status_code=200 if ok else 503)

    @router.get("/metrics")
    def exposition() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
