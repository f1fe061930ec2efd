"""Monthly scorecards on the real pipeline: months close when the input is drained, and
a late event that changes a closed month gives it a new revision, the old one kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.models import PenaltyTotalsRow, ScorecardRow
from consumers.scorecard_feed import latest_scorecards
from consumers.store import open_store
from schemas.codec import default_store
from streams import topics
from tests.integration.harness import SAMPLE, run_files, write_jsonl

pytestmark = pytest.mark.integration

LATE = {
    # a referral of 1 March published after March was closed: its filing is due 16 March
    # and never comes, so 芦淞区's March filing goes from 0 of 1 on time to 0 of 2 and
    # 荷塘区's stays 1 of 1; the city's from 1 of 2 to 1 of 3
    "kind": "referral",
    "agency": "HOUSING",
    "referral_id": "ZJ-2022-0100",
    "referred_at": "2022-03-01T09:00:00+08:00",
    "district_code": "430203",
    "street_code": "430203002",
    "address": "建宁路 5 号",
    "category": "STREET_VENDING",
    "description": "占道经营",
    "housing": {"project_name": "建宁路"},
}


def _march(db: str, level: str) -> list[dict[str, object]]:
    engine = open_store(db)
    try:
        with Session(engine) as session:
            return latest_scorecards(session, "2022-03", level)
    finally:
        engine.dispose()


def test_a_late_event_gives_a_closed_month_revision_2(fresh_kafka: str, tmp_path: Path) -> None:
    """Revision 1 of March after the sample; revision 2 after a late March referral, on
    the topic and in SQL, with revision 1 kept in both."""
    db = f"sqlite:///{tmp_path / 'cards.db'}"
    run_files(db, [SAMPLE], broker=fresh_kafka)
    city = _march(db, "city")[0]
    assert (city["revision"], city["metrics"]["filing_timeliness"]) == (
        1,
        {"due": 2, "on_time": 1, "rate": 0.5},
    )

    late = write_jsonl(tmp_path / "late.jsonl", [json.dumps(LATE, ensure_ascii=False)])
    run_files(db, [late], broker=fresh_kafka)

    city = _march(db, "city")[0]
    assert city["revision"] == 2
    assert city["metrics"]["filing_timeliness"]["due"] == 3
    assert city["score"] == pytest.approx(33.33)
    districts = {c["unit_code"]: c for c in _march(db, "district")}
    assert districts["430203"]["metrics"]["filing_timeliness"]["due"] == 2
    assert (districts["430202"]["rank"], districts["430203"]["rank"]) == (1, 2)

    engine = open_store(db)
    with Session(engine) as session:
        revisions = set(
            session.scalars(select(ScorecardRow.revision).where(ScorecardRow.month == "2022-03"))
        )
        # an untouched month keeps its single revision
        april = set(
            session.scalars(select(ScorecardRow.revision).where(ScorecardRow.month == "2022-04"))
        )
    engine.dispose()
    assert (revisions, april) == ({1, 2}, {1})

    consumer = KafkaConsumer(
        topics.SCORECARDS,
        bootstrap_servers=fresh_kafka,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    store = default_store()
    on_topic = {}
    for record in consumer:
        card = store.decode(record.value).record
        if card["month"] == "2022-03" and card["level"] == "city":
            on_topic[card["revision"]] = card
    consumer.close()
    assert set(on_topic) == {1, 2}
    assert (on_topic[1]["score"], on_topic[2]["score"]) == ("50.00", "33.33")


def test_penalty_totals_by_unit_and_month(fresh_kafka: str, tmp_path: Path) -> None:
    """The sample's muck-transport case (建设街道 squad, housing): 50 000 yuan decided in
    April, 20 000 paid in April, 30 000 in May; in SQL and on penalties.monthly."""
    db = f"sqlite:///{tmp_path / 'penalties.db'}"
    run_files(db, [SAMPLE], broker=fresh_kafka)
    engine = open_store(db)
    with Session(engine) as session:
        rows = {
            (r.month, r.squad_code, r.agency): (
                r.decided_fen,
                r.collected_fen,
                r.outstanding_fen,
                r.overpaid_fen,
            )
            for r in session.scalars(select(PenaltyTotalsRow))
        }
    engine.dispose()
    assert rows[("2022-04", "430203-01", "HOUSING")] == (5_000_000, 2_000_000, 3_000_000, 0)
    assert rows[("2022-05", "430203-01", "HOUSING")] == (0, 3_000_000, 0, 0)
    assert rows[("2022-05", "430202-01", "HOUSING")] == (800_000, 0, 800_000, 0)
    consumer = KafkaConsumer(
        topics.PENALTIES,
        bootstrap_servers=fresh_kafka,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    keys = {record.key.decode() for record in consumer}
    consumer.close()
    assert "2022-04|430203|430203-01|HOUSING" in keys
