"""A flood of garbage into every input topic of a running pipeline: every garbage record
is dead-lettered with its reason, the few valid records among it are processed, the
worker and the sink stay up, and processed + dead-lettered = published, counted in SQL.

The garbage is random bytes, valid records cut short, bodies of garbage behind a known
fingerprint, Confluent framing with no registry, empty and null values, records over the
door's 64 KiB, and records that decode but break a rule; half of it has a null key, and
one record in ten has source headers that are garbage too.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.cluster import ensure_topics, wait_until_processed
from consumers.models import CaseRow, DeadLetterRow, ReferralRow
from consumers.store import open_store
from runtime.children import Child
from runtime.embedded import EmbeddedBroker
from schemas.codec import CONFLUENT_MAGIC, MARKER, SchemaStore
from schemas.jsonl import record_from_json
from streams import topics
from streams.deadletters.letters import DeadLetter
from streams.errors import Oversized
from streams.intake.admission import admit
from streams.intake.rules import COPY_BYTES, MAX_EVENT_BYTES
from streams.messages import Source
from streams.settings import Settings
from tests.unit.factories import ORG

pytestmark = pytest.mark.integration

GARBAGE = 10_000
VALID = 12
IMPOSSIBLE = "impossible_value"
STORE = SchemaStore()


def valid_referral(number: int, **changes: object) -> tuple[str, bytes]:
    """A referral of its own case (no party hash), on its agency's topic."""
    agency = sorted(topics.REFERRAL_TOPICS)[number % 3]
    block = {
        "HOUSING": ("housing", {"project_name": "p"}),
        "TRAFFIC_POLICE": ("traffic", {"plate_no": "湘B·1", "vehicle_type": "car"}),
        "ENVIRONMENT": (
            "environment",
            {"pollutant": "PM10", "measured_value": 2.0, "limit_value": 1.0, "unit": "mg"},
        ),
    }[agency]
    name, record = record_from_json(
        {
            "kind": "referral",
            "agency": agency,
            "referral_id": f"FLOOD-{number}",
            "referred_at": "2022-03-01T09:30:00+08:00",
            "district_code": "430203",
            "address": "建设南路 1 号",
            "category": "ILLEGAL_CONSTRUCTION",
            "description": "valid among garbage",
            block[0]: block[1],
            **changes,
        },
        STORE,
    )
    return topics.REFERRAL_TOPICS[agency], STORE.encode(name, record)


def refused_records() -> list[bytes]:
    """Records that decode but break a rule of the door, one of each code it gives."""
    payment = {
        "kind": "payment",
        "receipt_no": "R-1",
        "case_id": "C1",
        "decision_no": "D1",
        "paid_at": "2022-03-01T09:30:00+08:00",
        "amount_fen": -1,
    }
    letter = DeadLetter.of(Oversized("x"), Source(file="f", line=1), b"")
    return [
        valid_referral(0, district_code="430299")[1],
        valid_referral(0, referred_at="1999-12-31T09:30:00+08:00")[1],
        valid_referral(0, referral_id="x" * 200)[1],
        valid_referral(0, evidence=[{"uri": "", "sha256": ""}] * 101)[1],
        STORE.encode(*record_from_json(payment, STORE)),
        STORE.encode("DeadLetter", letter.to_avro(datetime.now(UTC))),
    ]


def garbage(rng: random.Random) -> Iterator[bytes | None]:
    """GARBAGE values no reader could take, of every kind the door must refuse."""
    valid = [valid_referral(n)[1] for n in range(3)]
    refused = refused_records()
    headers = [MARKER + STORE.fingerprint(name) for name in STORE.names()]
    for n in range(GARBAGE):
        kind = n % 8
        if kind == 0:
            yield rng.randbytes(rng.randrange(300))
        elif kind == 1:
            record = rng.choice(valid)
            yield record[: rng.randrange(len(record))]
        elif kind == 2:
            yield rng.choice(headers) + rng.randbytes(rng.randrange(200))
        elif kind == 3:
            yield CONFLUENT_MAGIC + rng.randbytes(4 + rng.randrange(100))
        elif kind == 4:
            yield rng.choice([b"", None])
        elif kind == 5 and n % 400 == 5:
            # over the door's limit and under the broker's: 25 of them, up to 900 KB
            yield rng.choice(headers) + rng.randbytes(rng.randrange(MAX_EVENT_BYTES, 900_000))
        elif kind == 6:
            yield rng.choice(refused)
        else:
            yield rng.randbytes(rng.randrange(2000))


@pytest.fixture
def broker() -> Iterator[str]:
    """The embedded broker, empty."""
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap


def test_a_flood_of_garbage_is_dead_lettered_and_the_pipeline_goes_on(
    broker: str, tmp_path: Path
) -> None:
    """Ten thousand garbage records and a dozen valid ones into every input topic: each
    garbage record is one dead letter with the code the door gives it, each valid one a
    case, and worker and sink are still running at the end."""
    rng = random.Random(10)
    now = datetime.now(UTC)
    sent: list[tuple[str, bytes | None, bytes | None]] = []
    for n, value in enumerate(garbage(rng)):
        key = None if n % 2 else rng.randbytes(8)
        sent.append((topics.INPUTS[n % len(topics.INPUTS)], key, value))
    expected: Counter[str] = Counter()
    for _, _, value in sent:
        letter = admit(value or b"", Source(topic="t", partition=0, offset=0), STORE, ORG, now)
        assert isinstance(letter, DeadLetter), "a garbage record would be admitted"
        expected[str(letter.code)] += 1
    for n in range(VALID):
        topic, value = valid_referral(n)
        sent.insert(rng.randrange(len(sent)), (topic, None, value))

    db = f"sqlite:///{tmp_path / 'flood.db'}"
    settings = replace(Settings(db=db), partitions=4, rebalance_timeout=3.0)
    engine = open_store(db)
    ensure_topics(broker, settings.partitions)
    worker = Child(settings, broker, tmp_path)
    sink = Child(settings, broker, tmp_path, command="sink")
    try:
        producer = KafkaProducer(bootstrap_servers=broker, linger_ms=20)
        for n, (topic, key, value) in enumerate(sent):
            # headers are the publisher's too: a file name of 2 000 bytes, a line "x"
            headers = [("source-file", rng.randbytes(2000)), ("source-line", b"x")]
            producer.send(topic, key=key, value=value, headers=headers if n % 10 == 0 else [])
        producer.flush()
        producer.close()
        groups = {
            settings.app_id: [*topics.INPUTS, *topics.internal(settings.app_id)],
            topics.DEFAULT.sink_group: list(topics.OUTPUTS),
        }
        wait_until_processed(broker, groups, timeout=150)
        worker.check()
        sink.check()
    finally:
        worker.stop()
        sink.stop()

    with Session(engine) as session:
        from_inputs = DeadLetterRow.source_topic.in_(topics.INPUTS)
        by_code = select(DeadLetterRow.error, func.count()).group_by(DeadLetterRow.error)
        dead_lettered = Counter(dict(session.execute(by_code.where(from_inputs)).all()))
        raw_size = func.length(DeadLetterRow.raw)
        oversized = DeadLetterRow.error == "oversized"
        longest = session.scalar(select(func.max(raw_size)).where(from_inputs))
        copies = set(session.scalars(select(raw_size).where(from_inputs, oversized)))
        processed = session.scalar(select(func.count()).select_from(ReferralRow))
        cases = session.scalar(select(func.count()).select_from(CaseRow))
    engine.dispose()
    assert dead_lettered == expected
    assert expected["oversized"] == 25 and copies == {COPY_BYTES}
    assert set(expected) == {
        "undecodable",
        "oversized",
        "schema",
        "unknown_place",
        "impossible_value",
    }
    assert longest is not None and longest <= MAX_EVENT_BYTES
    assert (processed, cases) == (VALID, VALID)
    assert processed + dead_lettered.total() == len(sent)
