"""The intake on its own: the objects it needs, made from the settings, and a minimal app
for tests and for running it before the monitoring app includes it (``create_app`` of
web/ calls ``include_intake`` with ``build_intake(settings)``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from consumers.publisher import Publisher
from consumers.store import open_store
from streams.errors import ConfigurationError
from streams.organisation import load_organisation
from streams.settings import Settings
from streams.topics import Topics
from web.intake import Intake, Sender, include_intake
from web.intake_keys import load_api_keys
from web.intake_limits import RateLimit


def kafka_sender(settings: Settings) -> Sender:
    """Send through a durable producer to the configured cluster, one report per record."""
    if settings.broker is None:
        raise ConfigurationError(
            "the HTTP intake needs a running cluster (the embedded broker lives only as long "
            "as one command): set REFERRALS_BROKER=kafka://HOST:PORT"
        )
    publisher = Publisher(
        settings.bootstrap_servers,
        security=settings.kafka_client_config(),
        names=Topics.of(settings),
    )
    return lambda record: publisher.deliver([record])[0]


def build_intake(
    settings: Settings,
    *,
    send: Sender | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] | None = None,
) -> Intake:
    engine = engine or open_store(settings.db)
    limit = RateLimit(settings.intake_rate_per_minute)
    if monotonic is not None:
        limit.clock = monotonic
    return Intake(
        keys=load_api_keys(settings.api_keys),
        org=load_organisation(settings.org),
        engine=engine,
        send=send or kafka_sender(settings),
        max_bytes=settings.intake_max_bytes,
        limit=limit,
        clock=clock,
    )


def create_intake_app(settings: Settings, intake: Intake | None = None) -> FastAPI:
    app = FastAPI(title="Referral intake", version="1")
    include_intake(app, intake or build_intake(settings))
    return app
