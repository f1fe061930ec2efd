"""Partner agencies on real brokers: publishing only valid lines, receipts back through
the whole pipeline, and records from Confluent's own serializer processed end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.cluster import ensure_topics
from consumers.receipts import ReceiptsConsumer
from consumers.store import open_store
from schemas.codec import SchemaStore, default_store, short_name
from schemas.jsonl import record_from_json
from streams import topics
from tests.integration.harness import SAMPLE, case_of, run_files, write_jsonl
from tests.support.registry import ServedRegistry

pytestmark = pytest.mark.integration

REFERRALS = Path(sys.executable).with_name("referrals")
BASE: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])
TRAFFIC: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[1])
LIFECYCLE = ["RECEIVED", "FILED", "DECIDED", "PAID", "CLOSED"]
DECISION = "株城执罚〔2022〕0099号"  # noqa: RUF001 - the bureau writes them so


def raw_records(bootstrap: str, topic: str) -> list[bytes]:
    """Every value on ``topic``, read from the beginning until two empty polls."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        empty = 0
        while empty < 2:
            batch = consumer.poll(timeout_ms=1000)
            empty = 0 if batch else empty + 1
            values += [r.value for records in batch.values() for r in records]
        return values
    finally:
        consumer.close()


def decoded(bootstrap: str, topic: str, store: SchemaStore | None = None) -> list[dict[str, Any]]:
    store = store or default_store()
    out = []
    for value in raw_records(bootstrap, topic):
        d = store.decode(value)
        out.append({"schema": short_name(d.name), **d.record})
    return out


def drain_receipts(consumer: ReceiptsConsumer, quiet_polls: int = 6) -> None:
    """Poll until the consumer has seen nothing for ``quiet_polls`` polls in a row."""
    quiet, deadline = 0, time.monotonic() + 120
    while quiet < quiet_polls and time.monotonic() < deadline:
        quiet = 0 if consumer.poll_once(timeout_ms=500) else quiet + 1


def test_publish_sends_exactly_the_valid_lines_and_reports_the_others(
    tansu_bootstrap: str, tmp_path: Path
) -> None:
    """Of five lines (two valid, a bad time, not JSON, a traffic-police referral), exactly
    the two valid ones reach the housing topic; each other is reported with line and
    field, none becomes a dead letter, and the exit status is 3."""
    ensure_topics(tansu_bootstrap, 2)
    tag = uuid.uuid4().hex[:8].upper()
    bare = {k: v for k, v in BASE.items() if k not in ("kind", "agency")}
    lines = [
        json.dumps({**BASE, "referral_id": f"P-{tag}-1"}, ensure_ascii=False),
        json.dumps({**BASE, "referral_id": f"P-{tag}-2", "referred_at": "not a time"}),
        "{not json",
        json.dumps({**TRAFFIC, "referral_id": f"P-{tag}-4"}, ensure_ascii=False),
        json.dumps({**bare, "referral_id": f"P-{tag}-5"}, ensure_ascii=False),
    ]
    path = write_jsonl(tmp_path / "housing.jsonl", lines)
    letters_before = len(raw_records(tansu_bootstrap, topics.DEADLETTERS))

    result = subprocess.run(
        [
            REFERRALS,
            "publish",
            "--agency",
            "HOUSING",
            path,
            "--broker",
            f"kafka://{tansu_bootstrap}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )

    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    for line, field in ((2, "referred_at"), (3, "(record)"), (4, "agency")):
        assert f"{path}:{line}: {field}:" in result.stderr
    assert "published 2 referrals" in result.stderr
    sent = [
        r["referral_id"]
        for r in decoded(tansu_bootstrap, topics.REFERRAL_TOPICS["HOUSING"])
        if r["referral_id"].startswith(f"P-{tag}-")
    ]
    assert sorted(sent) == [f"P-{tag}-1", f"P-{tag}-5"]
    assert len(raw_records(tansu_bootstrap, topics.DEADLETTERS)) == letters_before


def flow_lines() -> list[dict[str, Any]]:
    """ZJ-R-1 sent, repeated and amended; a traffic referral of the same incident; the
    case filed, decided, paid and closed; and a housing referral from no known district."""
    ref = {"agency": "HOUSING", "referral_id": "ZJ-R-1"}
    first = {**BASE, **ref}
    return [
        first,
        first,
        {**first, "description": "渣土车未密闭运输（补充：夜间作业）"},
        {**TRAFFIC, "referral_id": "JJ-R-1", "referred_at": "2022-03-05T10:00:00+08:00"},
        {"kind": "case_filed", **ref, "filed_at": "2022-03-03T10:00:00+08:00"},
        {
            "kind": "case_decided",
            **ref,
            "decided_at": "2022-03-20T16:00:00+08:00",
            "decision_no": DECISION,
            "amount_fen": 5_000_000,
            "tier": "SERIOUS",
            "legal_reviewed_at": "2022-03-18T10:00:00+08:00",
        },
        {
            "kind": "payment",
            **ref,
            "receipt_no": "FS-R-1",
            "decision_no": DECISION,
            "paid_at": "2022-03-25T11:00:00+08:00",
            "amount_fen": 5_000_000,
        },
        {"kind": "case_closed", **ref, "closed_at": "2022-04-01T09:00:00+08:00"},
        {**BASE, "referral_id": "ZJ-R-9", "district_code": "430299"},
    ]


def test_receipts_carry_a_referrals_whole_flow_to_closure(fresh_kafka: str, tmp_path: Path) -> None:
    """Through the real pipeline, receipts.housing tells ZJ-R-1 received, amended,
    duplicate, filed with its number, decided, paid and closed, and ZJ-R-9 dead-lettered
    with the reason; receipts.traffic tells JJ-R-1 it merged into that case. Read again by
    another group, the snapshots send nothing new."""
    db = f"sqlite:///{tmp_path / 'flow.db'}"
    lines = [json.dumps(x, ensure_ascii=False) for x in flow_lines()]
    run_files(db, [write_jsonl(tmp_path / "flow.jsonl", lines)], broker=fresh_kafka)
    engine = open_store(db)
    consumer = ReceiptsConsumer(fresh_kafka, engine)
    try:
        drain_receipts(consumer)
    finally:
        consumer.close()

    housing = decoded(fresh_kafka, topics.RECEIPT_TOPICS["HOUSING"])
    told = [r["status"] for r in housing if r["referral_id"] == "ZJ-R-1"]
    # the amendment and the repeat may be seen before or after the lifecycle events (other
    # topics); the lifecycle is told in its own order
    assert sorted(told) == sorted(["AMENDED", "DUPLICATE", *LIFECYCLE])
    assert [s for s in told if s in LIFECYCLE] == LIFECYCLE
    case = case_of(db, "HOUSING:ZJ-R-1")
    filed = next(r for r in housing if r["status"] == "FILED")
    assert (filed["case_id"], filed["case_no"]) == (case["case_id"], case["case_no"])
    [dead] = [r for r in housing if r["referral_id"] == "ZJ-R-9"]
    assert dead["status"] == "DEAD_LETTERED" and "430299" in dead["reason"]
    traffic = decoded(fresh_kafka, topics.RECEIPT_TOPICS["TRAFFIC_POLICE"])
    merged = [r for r in traffic if r["status"] == "MERGED"]
    assert [(r["referral_id"], r["case_id"]) for r in merged] == [("JJ-R-1", case["case_id"])]
    assert len({r["receipt_id"] for r in housing}) == len(housing)

    again = ReceiptsConsumer(fresh_kafka, engine, group="receipts-replay")
    try:
        drain_receipts(again)
        assert again.sent == 0
    finally:
        again.close()
        engine.dispose()


def test_records_from_confluents_avro_serializer_are_processed_end_to_end(
    fresh_kafka: str, tmp_path: Path
) -> None:
    """A referral written by AvroSerializer (Confluent framing, mock registry) opens a
    case that a JSONL filing then files; the receipt we write for it in Confluent framing
    reads back through AvroDeserializer."""
    registry = SchemaRegistryClient.new_client({"url": "mock://e2e"})
    ours = SchemaStore(registry=registry)
    ensure_topics(fresh_kafka, 2)
    topic = topics.REFERRAL_TOPICS["HOUSING"]
    context = SerializationContext(topic, MessageField.VALUE)
    _, record = record_from_json({**BASE, "referral_id": "CF-1"})
    value = AvroSerializer(registry, json.dumps(ours.standalone("Referral")))(record, context)
    assert value[:1] == b"\x00"
    producer = KafkaProducer(bootstrap_servers=fresh_kafka)
    producer.send(topic, key=b"HOUSING:CF-1", value=value).get(timeout=30)
    producer.close()
    filing = {"kind": "case_filed", "agency": "HOUSING", "referral_id": "CF-1"}
    path = write_jsonl(
        tmp_path / "filing.jsonl",
        [json.dumps({**filing, "filed_at": "2022-03-03T10:00:00+08:00"})],
    )
    db = f"sqlite:///{tmp_path / 'cf.db'}"

    with ServedRegistry(registry) as served:
        run_files(db, [path], broker=fresh_kafka, schema_registry=served.url)

    case = case_of(db, "HOUSING:CF-1")
    assert case["state"] == "FILED" and case["case_no"]
    engine = open_store(db)
    consumer = ReceiptsConsumer(fresh_kafka, engine, store=ours)
    try:
        drain_receipts(consumer)
    finally:
        consumer.close()
        engine.dispose()
    receipts_topic = topics.RECEIPT_TOPICS["HOUSING"]
    reader = AvroDeserializer(registry)
    read = [
        reader(v, SerializationContext(receipts_topic, MessageField.VALUE))
        for v in raw_records(fresh_kafka, receipts_topic)
    ]
    assert [(r["referral_id"], r["status"]) for r in read] == [
        ("CF-1", "RECEIVED"),
        ("CF-1", "FILED"),
    ]
    assert read[1]["case_no"] == case["case_no"]
