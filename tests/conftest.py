"""Session-wide servers for the tests: Apache Kafka, the embedded Tansu broker, PostgreSQL.

Started lazily by the first test that asks for one and shared by the whole session. When a
prerequisite is missing the fixture fails with its reason instead of skipping: a silently
skipped integration suite would look green while testing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from referrals.embedded import BrokerError, EmbeddedBroker
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
