"""The monitoring app over a small store written directly: the API answers in the CLI's
shapes, pages render in Chinese and English, the probes answer, and a restated month
exports its latest revision."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consumers.models import DeadLetterRow, ScorecardRow
from consumers.store import open_store
from streams.settings import Settings
from web.app import create_app
from web.circular import export_month

METRICS = {
    name: {"due": 2, "on_time": 1, "rate": 0.5}
    for name in ("filing_timeliness", "decision_timeliness", "legal_review", "feedback")
} | {"collection": {"due": 100, "on_time": 50, "rate": 0.5}}


def card(
    level: str, code: str, name: str, parent: str | None, revision: int, score: str
) -> ScorecardRow:
    return ScorecardRow(
        month="2022-03",
        level=level,
        unit_code=code,
        revision=revision,
        unit_name=name,
        parent_code=parent,
        score=Decimal(score),
        grade="PASS",
        rank=1,
        metrics=METRICS,
        closed_at=datetime(2022, 4, 6, tzinfo=UTC),
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    engine = open_store(url)
    with Session(engine) as session, session.begin():
        for revision, score in ((1, "50.00"), (2, "62.50")):
            session.add(card("city", "430200", "株洲市", None, revision, score))
            session.add(card("district", "430203", "芦淞区", "430200", revision, score))
        session.add(
            DeadLetterRow(
                letter_key="in.jsonl:3#schema",
                event_id="in.jsonl:3",
                error="schema",
                reason="referral: missing field 'address'",
                source_file="in.jsonl",
                source_line=3,
                raw=json.dumps({"kind": "referral", "agency": "TRAFFIC_POLICE"}).encode(),
                dead_lettered_at=datetime(2022, 3, 2, tzinfo=UTC),
            )
        )
    engine.dispose()
    return url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=db))) as test_client:
        yield test_client


def test_scorecards_api_gives_the_latest_revision(client: TestClient) -> None:
    """/api/scorecards answers the latest revision, as `scorecard --format json` does."""
    cards = client.get("/api/scorecards", params={"month": "2022-03"}).json()
    assert [(c["unit_name"], c["score"], c["revision"]) for c in cards] == [("芦淞区", 62.5, 2)]
    assert client.get("/api/scorecards", params={"month": "2022-13"}).status_code == 422


def test_dead_letters_filter_and_open_to_their_raw_event(client: TestClient) -> None:
    """A letter's agency comes from its raw event; its page shows the raw event."""
    assert client.get("/api/deadletters", params={"agency": "HOUSING"}).json() == []
    [letter] = client.get("/api/deadletters", params={"agency": "TRAFFIC_POLICE"}).json()
    assert (letter["source"], letter["error"]) == ("in.jsonl:3", "schema")
    detail = client.get(f"/api/deadletters/{quote(letter['key'], safe='')}").json()
    assert detail["raw_event"] == {"kind": "referral", "agency": "TRAFFIC_POLICE"}
    page = client.get(f"/deadletters/{quote(letter['key'], safe='')}").text
    assert "TRAFFIC_POLICE" in page and "in.jsonl:3" in page
    assert client.get("/api/deadletters/nothing").status_code == 404


def test_pages_speak_chinese_by_default_and_english_when_asked(client: TestClient) -> None:
    """Every page renders; labels are Chinese unless ?lang=en."""
    for path in ("/", "/deadletters", "/cases", "/scorecards", "/penalties"):
        assert client.get(path).status_code == 200, path
    assert "月度考评" in client.get("/scorecards").text
    english = client.get("/scorecards", params={"lang": "en"}).text
    assert "Scorecards" in english and "月度考评" not in english


def test_probes_and_openapi(client: TestClient) -> None:
    """/health, /ready (the store answers, no broker configured) and the API description."""
    assert client.get("/health").json() == {
        "process": "serve",
        "status": "alive",
        "started": True,
    }
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["store"]["ok"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/scorecards", "/api/cases", "/api/cases/{case_id}", "/api/deadletters"} <= set(
        paths
    )
    assert client.get("/api/cases/NOPE").status_code == 404


def test_a_restated_month_exports_its_latest_revision(db: str, tmp_path: Path) -> None:
    """The CSV (UTF-8 with BOM) and JSON carry revision 2 and its scores."""
    engine = open_store(db)
    with Session(engine) as session:
        exported = export_month(session, "2022-03", tmp_path / "out")
    engine.dispose()
    assert (exported.revision, exported.restated) == (2, True)
    raw = (tmp_path / "out" / "scorecards-2022-03.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {(r["单位名称"], r["得分"], r["修订版"]) for r in rows} == {
        ("株洲市", "62.50", "2"),
        ("芦淞区", "62.50", "2"),
    }
    document = json.loads((tmp_path / "out" / "scorecards-2022-03.json").read_text("utf-8"))
    assert (document["revision"], document["restated"]) == (2, True)
    assert "第2版" in (tmp_path / "out" / "district-scores-2022-03.svg").read_text("utf-8")
