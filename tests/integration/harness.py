"""Running the real pipeline from tests: batch runs, stored cases, generated inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.cluster import wait_until_processed
from consumers.health import pipeline_groups
from consumers.models import CaseRow, DeadLetterRow
from consumers.queries import annual_report_of, case_document, find_case
from consumers.store import open_store
from runtime.batch import Reporter, Summary, run_batch
from streams import topics
from streams.messages import Tick, encode_batch
from streams.settings import Settings

SAMPLE = Path(__file__).parents[2] / "referrals" / "data" / "sample.jsonl"
# What the bundled sample must give, counted by hand from its 31 lines (see its comments
# in tests/integration/test_pipeline.py).
SAMPLE_SUMMARY = Summary(
    published=31, dead_lettered=7, exact_duplicates=1, amendments=1, merged=2, cases_opened=5
)


def run_files(db: str, files: list[Path], broker: str | None = None, **settings: Any) -> Summary:
    config = replace(
        Settings(db=db, broker=f"kafka://{broker}" if broker else None, partitions=2),
        **settings,
    )
    return run_batch(config, files, Reporter())


def finish(bootstrap: str, settings: Settings, timeout: float = 240) -> None:
    """Wait until the running workers and sink have processed everything, then drain what
    still waits, as the end of a batch run does (runtime/session.py)."""
    groups = pipeline_groups(settings)
    wait_until_processed(bootstrap, groups, timeout=timeout)
    control = KafkaProducer(bootstrap_servers=bootstrap)
    for topic in topics.internal(settings.app_id):
        for partition in range(settings.partitions):
            control.send(topic, value=encode_batch([Tick("drain")]), partition=partition)
        control.flush()
        wait_until_processed(bootstrap, groups, timeout=timeout)
    control.close()


def live_cases(db: str) -> dict[str, dict[str, Any]]:
    """Every live case as the ``case --format json`` document, by case id."""
    engine = open_store(db)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(CaseRow).where(CaseRow.state != "MERGED")).all()
            return {row.case_id: case_document(row) for row in rows}
    finally:
        engine.dispose()


def case_of(db: str, reference: str) -> dict[str, Any]:
    engine = open_store(db)
    try:
        with Session(engine) as session:
            return case_document(find_case(session, reference))
    finally:
        engine.dispose()


def dead_letter_codes(db: str) -> list[str]:
    engine = open_store(db)
    try:
        with Session(engine) as session:
            return sorted(session.scalars(select(DeadLetterRow.error)).all())
    finally:
        engine.dispose()


def comparable(case: dict[str, Any]) -> dict[str, Any]:
    """A case without what legitimately depends on arrival order: the number it was
    given, and which provisional cases it absorbed on the way (a referral that arrives
    before an earlier one of the same incident opens a case that is absorbed later)."""
    return {
        **{k: v for k, v in case.items() if k not in ("case_no", "history")},
        "history": [h for h in case["history"] if h["what"] != "absorbed"],
    }


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text(
        "".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="utf-8"
    )
    return path


def report(db: str, year: int) -> dict[str, Any]:
    engine = open_store(db)
    try:
        with Session(engine) as session:
            return annual_report_of(session, year)
    finally:
        engine.dispose()
