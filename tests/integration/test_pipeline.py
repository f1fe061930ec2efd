"""The whole pipeline on real brokers and databases: the bundled sample end to end.

The sample (referrals/data/sample.jsonl, 31 lines) was written to exercise every rule of
steps 1-4; counted by hand it gives:
- dead letters (7): a line that is not JSON, a referral without `address` (schema), a
  referral dated 1999 and a decision of -100 fen (impossible values), district 430299
  (unknown place), a filing of a REJECTED case (invalid transition), and a payment naming
  referral ZJ-2099-9999 that never arrives (unmatched, when the input is drained);
- one exact duplicate (line 3 repeats line 1) and one amendment (line 5 amends line 4);
- cases: the muck-transport incident of party P1 in 建设街道 (ZJ-2022-0001, the traffic
  police's JJ-2022-0001 nine days later, and ZJ-2022-0000 dated 25 Feb but published last,
  which re-forms the case around itself: 2 merged), ZJ-2022-0002, HB-2022-0003,
  HB-2022-0004 (44 days after HB-0003: outside the 30-day window, a case of its own) and
  JJ-2022-0002: 5 cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import KafkaProducer

from consumers.cluster import ensure_topics
from streams import topics
from tests.integration.harness import (
    SAMPLE,
    SAMPLE_SUMMARY,
    case_of,
    comparable,
    dead_letter_codes,
    live_cases,
    report,
    run_files,
    write_jsonl,
)

pytestmark = pytest.mark.integration

EXPECTED_CODES = sorted(
    [
        "undecodable",
        "schema",
        "impossible_value",
        "impossible_value",
        "unknown_place",
        "invalid_transition",
        "unmatched",
    ]
)


def test_sample_on_apache_kafka_and_postgresql(fresh_kafka: str, fresh_postgres: str) -> None:
    """The sample plus raw garbage on a topic gives the hand-counted summary, ledger and
    dead letters on Apache Kafka with PostgreSQL, and the garbage does not stop anything."""
    ensure_topics(fresh_kafka, 2)
    producer = KafkaProducer(bootstrap_servers=fresh_kafka)
    producer.send(topics.REFERRAL_TOPICS["HOUSING"], key=b"junk", value=b"\x00\x01not avro")
    producer.flush()
    producer.close()

    summary = run_files(fresh_postgres, [SAMPLE], broker=fresh_kafka)

    assert summary.published == 31
    assert summary.dead_lettered == SAMPLE_SUMMARY.dead_lettered + 1
    assert (summary.exact_duplicates, summary.amendments) == (1, 1)
    assert (summary.merged, summary.cases_opened) == (2, 5)
    assert dead_letter_codes(fresh_postgres) == sorted([*EXPECTED_CODES, "undecodable"])

    muck = case_of(fresh_postgres, "TRAFFIC_POLICE:JJ-2022-0001")
    assert muck["state"] == "CLOSED"
    assert [f"{r['agency']}:{r['referral_id']}" for r in muck["referrals"]] == [
        "HOUSING:ZJ-2022-0000",
        "HOUSING:ZJ-2022-0001",
        "TRAFFIC_POLICE:JJ-2022-0001",
    ]
    # 20 000 yuan paid before the decision was published, 30 000 after, once though sent twice
    assert (muck["decided_fen"], muck["collected_fen"], muck["outstanding_fen"]) == (
        5_000_000,
        5_000_000,
        0,
    )
    assert muck["decision"]["major"] is True  # 50 000 yuan >= the 30 000 yuan threshold
    assert muck["squad_code"] == "430203-01"

    amended = case_of(fresh_postgres, "HOUSING:ZJ-2022-0002")
    # decided (published first) then filed: applied in event order all the same
    assert amended["state"] == "DECIDED"
    assert amended["referrals"][0]["amendments"] == 1
    assert (amended["decided_fen"], amended["outstanding_fen"]) == (800_000, 800_000)
    assert amended["decision"]["major"] is False

    rejected = case_of(fresh_postgres, "ENVIRONMENT:HB-2022-0003")
    assert (rejected["state"], rejected["filed_at"]) == ("CLOSED", None)
    assert case_of(fresh_postgres, "ENVIRONMENT:HB-2022-0004")["state"] == "OPEN"
    direct = case_of(fresh_postgres, "TRAFFIC_POLICE:JJ-2022-0002")
    assert direct["squad_code"] == "430204-00"  # no street: the district's direct squad

    # the sample's 2022, counted by hand: 7 distinct referrals (the 1999 one and the two
    # broken ones never entered), 3 filed (ZJ-2022-0000's case, ZJ-2022-0002, JJ-2022-0002),
    # one of them major (50 000 yuan), 58 000 yuan decided and 50 000 collected
    assert report(fresh_postgres, 2022) == {
        "year": 2022,
        "referrals_received": 7,
        "referrals_by_agency": {"HOUSING": 3, "TRAFFIC_POLICE": 2, "ENVIRONMENT": 2},
        "exact_duplicates": 1,
        "merged": 2,
        "cases_opened": 5,
        "cases_filed": 3,
        "major_cases_filed": 1,
        "major_cases_filed_by_agency": {"HOUSING": 1},
        "penalties_decided_fen": 5_800_000,
        "penalties_collected_fen": 5_000_000,
        "collected_change_pct": None,
    }


def test_outcome_does_not_depend_on_publishing_order(tmp_path: Path) -> None:
    """Lifecycle events and payments published before every referral give the same cases
    as the sample in its own order (embedded broker, SQLite)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    referrals = [line for line in lines if '"kind": "referral"' in line]
    others = [line for line in lines if line not in referrals]
    reordered = write_jsonl(tmp_path / "reordered.jsonl", others + referrals)

    in_order = f"sqlite:///{tmp_path / 'in-order.db'}"
    events_first = f"sqlite:///{tmp_path / 'events-first.db'}"
    assert run_files(in_order, [SAMPLE]) == SAMPLE_SUMMARY
    summary = run_files(events_first, [reordered])

    assert summary == SAMPLE_SUMMARY
    expected = {k: comparable(v) for k, v in live_cases(in_order).items()}
    assert {k: comparable(v) for k, v in live_cases(events_first).items()} == expected


def test_successive_runs_build_on_each_other(tmp_path: Path) -> None:
    """A second run on the embedded broker applies lifecycle events and payments to the
    referrals of the first, giving what one run of both files gives."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    referrals = write_jsonl(tmp_path / "a.jsonl", [x for x in lines if '"referral"' in x])
    events = write_jsonl(tmp_path / "b.jsonl", [x for x in lines if '"referral"' not in x])
    db = f"sqlite:///{tmp_path / 'two-runs.db'}"

    first = run_files(db, [referrals])
    second = run_files(db, [events])

    assert first.cases_opened == 5 and second.cases_opened == 0
    assert first.published + second.published == 31
    assert first.dead_lettered + second.dead_lettered == 7
    assert case_of(db, "HOUSING:ZJ-2022-0001")["collected_fen"] == 5_000_000
    one_run = f"sqlite:///{tmp_path / 'one-run.db'}"
    run_files(one_run, [referrals, events])
    expected = {k: comparable(v) for k, v in live_cases(one_run).items()}
    assert {k: comparable(v) for k, v in live_cases(db).items()} == expected
