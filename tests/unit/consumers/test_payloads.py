"""The whole lines of oversized dead letters, kept in the store beside their truncated
letters, and what ``referrals deadletters`` says of each (on SQLite, without a broker)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from consumers.models import DeadLetterPayloadRow
from consumers.payloads import keep_payloads
from consumers.publisher import Outgoing, prepare_file
from consumers.queries import dead_letters, full_payload
from consumers.store import apply_dead_letters, open_store
from schemas.codec import SchemaStore
from streams.deadletters.letters import DeadLetter
from streams.errors import NotFound, Oversized
from streams.intake.rules import COPY_BYTES
from streams.messages import Source

STORE = SchemaStore()
REFERRAL = {
    "kind": "referral",
    "agency": "HOUSING",
    "referral_id": "ZJ-1",
    "referred_at": "2022-03-01T09:30:00+08:00",
    "district_code": "430203",
    "address": "建设南路 1 号",
    "category": "ILLEGAL_CONSTRUCTION",
    "description": "违法加建",
    "housing": {"project_name": "某小区"},
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """An empty store on SQLite."""
    return open_store(f"sqlite:///{tmp_path / 'store.db'}")


def sink(engine: Engine, records: list[Outgoing]) -> None:
    """The dead letters among ``records`` stored as the SQL sink stores them."""
    letters = []
    for record in records:
        decoded = STORE.decode(record.value)
        if decoded.name == "DeadLetter" and record.key is not None:
            letters.append((record.key.decode(), decoded.record))
    with Session(engine) as session, session.begin():
        apply_dead_letters(session, letters)


def lines(tmp_path: Path, *texts: str) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    return path


def test_an_oversized_line_is_kept_whole_and_its_letter_says_where(
    engine: Engine, tmp_path: Path
) -> None:
    """The letter carries the line's first COPY_BYTES; the store keeps the whole line, and
    the dead letters' listing marks the copy truncated and names the row that has it."""
    big = json.dumps({**REFERRAL, "description": "很" * 700_000}, ensure_ascii=False)
    path = lines(tmp_path, json.dumps(REFERRAL), big, "not json")
    records = list(keep_payloads(engine, prepare_file(path, STORE)))
    assert [r.payload for r in records] == [None, None, None]
    sink(engine, records)
    with Session(engine) as session:
        listed = {letter["event_id"]: letter for letter in dead_letters(session)}
        key = f"{path}:2#oversized"
        assert full_payload(session, key) == big.encode() + b"\n"
        with pytest.raises(NotFound):
            full_payload(session, f"{path}:3#undecodable")
    oversized, not_json = listed[f"{path}:2"], listed[f"{path}:3"]
    assert oversized["error"] == "oversized" and oversized["raw_truncated"] is True
    assert (oversized["full_raw"], oversized["full_raw_size"]) == (
        f"sql:dead_letter_payloads/{key}",
        len(big.encode()) + 1,
    )
    assert base64.b64decode(oversized["raw_base64"]) == big.encode()[:COPY_BYTES]
    assert (not_json["raw_truncated"], not_json["full_raw"], not_json["full_raw_size"]) == (
        False,
        None,
        None,
    )


def test_a_letter_refused_again_keeps_its_first_payload(engine: Engine, tmp_path: Path) -> None:
    """Reading the same file twice keeps one payload per letter, the first, as the store
    keeps the first letter."""
    first = "[" * 100_000
    path = lines(tmp_path, first)
    list(keep_payloads(engine, prepare_file(path, STORE)))
    lines(tmp_path, "{" * 100_001)
    list(keep_payloads(engine, prepare_file(path, STORE)))
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(DeadLetterPayloadRow)) == 1
        assert full_payload(session, f"{path}:1#undecodable") == first.encode() + b"\n"


def test_a_letter_refused_at_the_door_points_to_its_topic_record(engine: Engine) -> None:
    """An oversized record dead-lettered by the worker has no payload row: the listing
    points to the input topic's record, which holds it whole."""
    source = Source(topic="referrals.housing", partition=1, offset=9)
    letter = DeadLetter.of(Oversized("the record is 70000 bytes"), source, b"\x00" * COPY_BYTES)
    with Session(engine) as session, session.begin():
        apply_dead_letters(session, [(letter.key, letter.to_avro(datetime.now(UTC)))])
    with Session(engine) as session:
        [listed] = dead_letters(session)
    assert (listed["raw_truncated"], listed["full_raw"], listed["full_raw_size"]) == (
        True,
        "kafka:referrals.housing/1/9",
        None,
    )
