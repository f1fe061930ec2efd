"""Bad input never stops a run: a batch run of the sample with hostile lines among it
processes the sample as alone, dead-letters each hostile line with its reason, and keeps
the whole of every line too large for its letter; a run that fails keeps its logs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.models import DeadLetterPayloadRow
from consumers.queries import dead_letters, full_payload
from consumers.store import open_store
from streams.errors import RetryableError
from tests.integration.harness import SAMPLE, SAMPLE_SUMMARY, run_files, write_jsonl

pytestmark = pytest.mark.integration

REFERRAL = {
    "kind": "referral",
    "agency": "HOUSING",
    "referral_id": "ZJ-2022-9001",
    "referred_at": "2022-03-01T09:30:00+08:00",
    "district_code": "430203",
    "street_code": "430203001",
    "address": "建设南路18号",
    "category": "MUCK_TRANSPORT",
    "description": "渣土车未密闭运输",
    "housing": {"project_name": "建设南路安置房项目"},
}
EVIDENCE = {"uri": "https://evidence.example/1.jpg", "sha256": "ab" * 32}
OVERSIZED = "oversized"
# Each hostile line, the code it is dead-lettered with, and whether the store keeps it
# whole beside a truncated letter.
HOSTILE = [
    ("[" * 200_000, "undecodable", True),
    (
        json.dumps({**REFERRAL, "description": "很" * 700_000}, ensure_ascii=False),
        "oversized",
        True,
    ),
    (json.dumps({**REFERRAL, "evidence": [EVIDENCE] * 20_000}), OVERSIZED, True),
    (json.dumps({**REFERRAL, "evidence": [{"uri": "", "sha256": ""}] * 20_000}), "schema", False),
    (json.dumps({**REFERRAL, "referral_id": "x" * 200}), "schema", False),
    (json.dumps({**REFERRAL, "description": "\ud800"}), "schema", False),
]


def test_hostile_lines_among_the_sample_are_dead_lettered_and_the_rest_runs(
    tmp_path: Path, fresh_postgres: str
) -> None:
    """On the embedded broker and PostgreSQL, the sample with six hostile lines gives the
    sample's own summary plus six dead letters, each with its code, and the store keeps
    the whole of each line whose letter carries only its start."""
    sample = SAMPLE.read_text(encoding="utf-8").splitlines()
    path = write_jsonl(tmp_path / "hostile.jsonl", [*sample, *(line for line, _, _ in HOSTILE)])
    summary = run_files(fresh_postgres, [path])
    assert summary == replace(
        SAMPLE_SUMMARY,
        published=SAMPLE_SUMMARY.published + len(HOSTILE),
        dead_lettered=SAMPLE_SUMMARY.dead_lettered + len(HOSTILE),
    )
    engine = open_store(fresh_postgres)
    with Session(engine) as session:
        # a line refused at publication has event id FILE:LINE, one refused by the worker
        # TOPIC/PARTITION/OFFSET; both name the line they came from
        letters = {letter["source_line"]: letter for letter in dead_letters(session)}
        kept = set(session.scalars(select(DeadLetterPayloadRow.letter_key)))
        for number, (line, code, whole) in enumerate(HOSTILE, start=len(sample) + 1):
            letter = letters[number]
            assert letter["error"] == code, letter["reason"]
            key = f"{letter['event_id']}#{code}"
            assert (key in kept, letter["raw_truncated"]) == (whole, whole)
            if whole:
                assert full_payload(session, key) == line.encode() + b"\n"
                assert letter["full_raw_size"] == len(line.encode()) + 1
    engine.dispose()


def test_a_failing_run_keeps_the_log_it_points_to(tmp_path: Path) -> None:
    """A worker that cannot start fails the run with an error naming its log file, and
    that file is still there, holding the worker's own error."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(RetryableError, match="worker process exited") as caught:
        run_files(db, [SAMPLE], end_offsets="neither")
    found = re.search(r"see (\S+worker\.log)", str(caught.value))
    assert found is not None, str(caught.value)
    log = Path(found.group(1))
    assert "REFERRALS_END_OFFSETS must be auto, listoffsets or fetch" in log.read_text()
