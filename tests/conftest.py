"""Session-wide servers for the tests: Apache Kafka, the embedded Tansu broker, PostgreSQL.

Started lazily by the first test that asks for one and shared by the whole session. When a
prerequisite is missing the fixture fails with its reason instead of skipping: a silently
skipped integration suite would look green while testing nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from runtime.embedded import EmbeddedBroker
from streams.errors import BrokerError
from tests.support.kafka import ApacheKafka, KafkaSetupError
from tests.support.postgres import PostgresUnavailable, ThrowawayPostgres

T = TypeVar("T")


def _start_or_fail(what: str, start: Callable[[], T]) -> T:
    try:
        return start()
    except (BrokerError, KafkaSetupError, PostgresUnavailable) as exc:
        reason = f"{what}: {exc}"
    # outside the except block, so the report is the reason alone, not a chained traceback
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of a single-node Apache Kafka (KRaft) cluster."""
    kafka = _start_or_fail("kafka_bootstrap", ApacheKafka().start)
    try:
        yield kafka.bootstrap
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def tansu_bootstrap() -> Iterator[str]:
    """host:port of the embedded broker the `referrals` command starts by default."""
    broker = _start_or_fail("tansu_bootstrap", EmbeddedBroker().start)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg) of an empty database on a throwaway server."""
    postgres = _start_or_fail("postgres_url", ThrowawayPostgres().start)
    try:
        yield postgres.url
    finally:
        postgres.stop()


@pytest.fixture
def fresh_kafka() -> Iterator[str]:
    """host:port of an Apache Kafka of the test's own: pipeline topics and groups have
    fixed names, so tests that run the pipeline must not share a cluster."""
    kafka = _start_or_fail("fresh_kafka", ApacheKafka().start)
    try:
        yield kafka.bootstrap
    finally:
        kafka.stop()


@pytest.fixture
def empty_postgres(postgres_url: str) -> str:
    """SQLAlchemy URL of a new, empty database on the session's PostgreSQL server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def fresh_postgres(empty_postgres: str) -> str:
    """SQLAlchemy URL of a new database migrated to head, as `referrals db upgrade` leaves
    it: the pipeline's processes refuse a PostgreSQL store that is behind."""
    from consumers.migrations import upgrade
    from streams.state.database import connect

    engine = connect(empty_postgres)
    upgrade(engine)
    engine.dispose()
    return empty_postgres
