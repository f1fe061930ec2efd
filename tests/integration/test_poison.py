"""Poison events: an event that passes the door but makes a later step raise is
dead-lettered, and the pipeline goes on with the events after it.

The poison found: referrals of one incident (same party, category and street) within
the door's bounds each, which together make the incident group's state and its case
snapshot larger than the broker takes. A group holds every referral of the incident
whole, twice in its state: twelve referrals of about 54 KB (9 000 Chinese characters of
description and of address) pass 1 MiB. Sending that record fails in Faust's producer,
which stops the whole worker: nothing after it is processed. The step itself does not
raise, so wrapping it (a step that raises is dead-lettered as ``failed``) does not help:
the group's size has to be bounded before its state is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.cluster import ensure_topics, wait_until_processed
from consumers.models import DeadLetterRow, ReferralRow
from consumers.publisher import Publisher, prepare_file
from consumers.store import open_store
from runtime.children import Child
from runtime.embedded import EmbeddedBroker
from streams import topics
from streams.settings import Settings
from tests.integration.harness import write_jsonl

pytestmark = pytest.mark.integration

BIG = 12
AFTER = 6
PARTY = "cd34947e7bf7992da54e2e6a50a7f360816c12933aeaf6f508f131024046d3d1"


def referral(referral_id: str, day: int, **changes: object) -> str:
    return json.dumps(
        {
            "kind": "referral",
            "agency": "HOUSING",
            "referral_id": referral_id,
            "referred_at": f"2022-03-{day:02d}T09:30:00+08:00",
            "district_code": "430203",
            "street_code": "430203001",
            "address": "建设南路18号",
            "category": "MUCK_TRANSPORT",
            "party_type": "ORGANIZATION",
            "party_id_hash": PARTY,
            "description": "渣土车未密闭运输",
            "housing": {"project_name": "建设南路安置房项目"},
            **changes,
        },
        ensure_ascii=False,
    )


@pytest.fixture
def broker() -> Iterator[str]:
    """The embedded broker, empty."""
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap


def test_an_incident_grown_past_the_broker_limit_is_dead_lettered_and_the_rest_goes_on(
    broker: str, tmp_path: Path
) -> None:
    """Twelve 54 KB referrals of one incident, then six ordinary referrals of their own
    cases: the worker stays up, the six are cases, and every referral is a referral row
    or a dead letter."""
    large = {"description": "很" * 9000, "address": "路" * 9000}
    lines = [referral(f"ZJ-BIG-{n:02d}", 1 + n, **large) for n in range(BIG)]
    lines += [referral(f"ZJ-AFTER-{n}", 1, party_id_hash=None) for n in range(AFTER)]
    records = list(prepare_file(write_jsonl(tmp_path / "poison.jsonl", lines)))
    assert {record.topic for record in records} == {topics.REFERRAL_TOPICS["HOUSING"]}

    db = f"sqlite:///{tmp_path / 'poison.db'}"
    settings = replace(Settings(db=db), partitions=2, rebalance_timeout=3.0)
    engine = open_store(db)
    ensure_topics(broker, settings.partitions)
    worker = Child(settings, broker, tmp_path)
    sink = Child(settings, broker, tmp_path, command="sink")
    try:
        publisher = Publisher(broker)
        publisher.send(records)
        publisher.close()
        groups = {
            settings.app_id: [*topics.INPUTS, *topics.internal(settings.app_id)],
            topics.DEFAULT.sink_group: list(topics.OUTPUTS),
        }
        wait_until_processed(broker, groups, timeout=150, progress=lambda left: worker.check())
        worker.check()
    finally:
        worker.stop()
        sink.stop()

    with Session(engine) as session:
        processed = set(session.scalars(select(ReferralRow.referral_id)))
        dead = session.scalar(select(func.count()).select_from(DeadLetterRow)) or 0
    engine.dispose()
    assert {f"ZJ-AFTER-{n}" for n in range(AFTER)} <= processed
    assert dead > 0
    assert len(processed) + dead == BIG + AFTER
