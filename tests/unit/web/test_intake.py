"""The HTTP intake: every refusal has its status and leaves nothing sent or stored; an
accepted referral is sent once and answered with a receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.publisher import Delivery, Outgoing
from consumers.receipt_rules import steps_from_snapshot
from consumers.receipt_store import record_sent
from consumers.store import open_store
from schemas.codec import default_store
from schemas.jsonl import record_from_json
from streams.settings import Settings
from tests.unit.partners.referrals import HOUSING, NOW, TRAFFIC, housing
from tests.unit.partners.test_receipts import snapshot
from web.intake_app import build_intake, create_intake_app
from web.intake_keys import hash_key
from web.intake_store import IntakeRow

OLD, NEW, TRAFFIC_KEY = "rk_housing_old", "rk_housing_new", "rk_traffic"
URL = "/api/v1/referrals"


class Broker:
    """Stands in for the producer: keeps what was sent, acknowledges unless told not to."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.down = False

    def __call__(self, record: Outgoing) -> Delivery:
        if self.down:
            return Delivery(record, record.topic, error="KafkaTimeoutError")
        self.sent.append(record)
        return Delivery(record, record.topic, 0, len(self.sent) - 1)


def keys_file(path: Path, housing_keys: list[str]) -> Path:
    lines = [
        "[agencies.HOUSING]",
        f"keys = {json.dumps([hash_key(k) for k in housing_keys])}",
        "[agencies.TRAFFIC_POLICE]",
        f'keys = ["{hash_key(TRAFFIC_KEY)}"]',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'intake.db'}",
        api_keys=keys_file(tmp_path / "keys.toml", [OLD, NEW]),
        intake_max_bytes=4096,
        intake_rate_per_minute=60,
    )


@pytest.fixture
def broker() -> Broker:
    return Broker()


def client_for(settings: Settings, broker: Broker) -> TestClient:
    intake = build_intake(settings, send=broker, clock=lambda: NOW)
    return TestClient(create_intake_app(settings, intake))


@pytest.fixture
def client(settings: Settings, broker: Broker) -> Iterator[TestClient]:
    with client_for(settings, broker) as client:
        yield client


def kept(settings: Settings) -> int:
    engine = open_store(settings.db)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(IntakeRow)) or 0
    engine.dispose()
    return count


def post(client: TestClient, body: Any, key: str | None = NEW, **kw: Any) -> Any:
    headers = {"X-API-Key": key} if key else {}
    if isinstance(body, bytes):
        return client.post(URL, content=body, headers={**headers, **kw.pop("headers", {})}, **kw)
    return client.post(URL, json=body, headers=headers, **kw)


def assert_refused(settings: Settings, broker: Broker) -> None:
    assert broker.sent == []
    assert kept(settings) == 0


@pytest.mark.parametrize("key", [None, "rk_wrong"])
def test_a_missing_or_wrong_key_is_401(
    client: TestClient, settings: Settings, broker: Broker, key: str | None
) -> None:
    """No key, or one not in the file, is refused before the body is read."""
    assert post(client, HOUSING, key=key).status_code == 401
    assert client.get(f"{URL}/ZJ-2022-0001", headers={"X-API-Key": key or ""}).status_code == 401
    assert_refused(settings, broker)


def test_another_agencys_referral_is_403(
    client: TestClient, settings: Settings, broker: Broker
) -> None:
    """The housing key cannot post a traffic-police referral, as JSON or as Avro."""
    assert post(client, TRAFFIC).status_code == 403
    avro = default_store().encode(*record_from_json(TRAFFIC))
    answer = post(client, avro, headers={"Content-Type": "application/vnd.apache.avro+binary"})
    assert answer.status_code == 403
    assert_refused(settings, broker)


def test_an_oversized_body_is_413(client: TestClient, settings: Settings, broker: Broker) -> None:
    """A body over the limit is refused, whether announced by Content-Length or streamed."""
    big = housing(description="长" * 4096)
    assert post(client, big).status_code == 413
    chunks = iter(
        [json.dumps(big, ensure_ascii=False).encode()[i : i + 1000] for i in range(0, 13000, 1000)]
    )
    answer = client.post(
        URL, content=chunks, headers={"X-API-Key": NEW, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert_refused(settings, broker)


def test_malformed_json_is_400(client: TestClient, settings: Settings, broker: Broker) -> None:
    """A body that is not JSON is refused as malformed."""
    answer = post(client, b'{"referral_id": ', headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "not JSON" in answer.json()["detail"]
    assert_refused(settings, broker)


@pytest.mark.parametrize(
    ("body", "loc", "rule"),
    [
        (housing(referred_at="not a time"), ["body", "referred_at"], "timestamp"),
        (
            housing(housing={"project_name": "x", "permit_no": 7}),
            ["body", "housing", "permit_no"],
            "type",
        ),
        (housing(evidence=[{"uri": "u"}]), ["body", "evidence", 0, "sha256"], "required"),
        (housing(district_code="430299"), ["body", "district_code"], "unknown_place"),
    ],
)
def test_schema_and_rule_errors_are_422_with_the_field_path(
    client: TestClient, settings: Settings, broker: Broker, body: Any, loc: list[Any], rule: str
) -> None:
    """Each error names its field path (FastAPI's ``loc``) and the rule it breaks."""
    answer = post(client, body)
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["loc"], error["rule"]) == (loc, rule)
    assert_refused(settings, broker)


def test_a_replayed_request_gets_the_original_receipt_and_sends_nothing(
    client: TestClient, settings: Settings, broker: Broker
) -> None:
    """202 with a receipt naming the referral key and status URL; the same request again
    is 200 with that receipt, unsent; an amended version is a new 202."""
    first = post(client, HOUSING)
    assert first.status_code == 202
    receipt = first.json()
    assert receipt["referral_key"] == "HOUSING:ZJ-2022-0001"
    assert receipt["status_url"] == f"{URL}/ZJ-2022-0001"
    assert first.headers["Location"] == receipt["status_url"]
    again = post(client, {k: v for k, v in HOUSING.items() if k not in ("kind", "agency")})
    assert (again.status_code, again.json()) == (200, receipt)
    assert len(broker.sent) == 1
    assert (
        broker.sent[0].topic == "referrals.housing"
        and broker.sent[0].key == b"HOUSING:ZJ-2022-0001"
    )
    amended = post(client, housing(description="改"))
    assert amended.status_code == 202 and amended.json()["receipt_id"] != receipt["receipt_id"]
    assert len(broker.sent) == 2


def test_an_unacknowledged_send_is_503_and_keeps_nothing(
    client: TestClient, settings: Settings, broker: Broker
) -> None:
    """When the broker does not acknowledge, no receipt is kept, so a retry is sent."""
    broker.down = True
    assert post(client, HOUSING).status_code == 503
    assert kept(settings) == 0
    broker.down = False
    assert post(client, HOUSING).status_code == 202


def test_avro_bytes_are_accepted_as_sent(client: TestClient, broker: Broker) -> None:
    """A single-object encoded referral is sent unchanged; bytes that are not Avro are 400."""
    avro = default_store().encode(*record_from_json(HOUSING))
    headers = {"Content-Type": "application/vnd.apache.avro+binary"}
    assert post(client, avro, headers=headers).status_code == 202
    assert broker.sent[0].value == avro
    assert post(client, b"\x01\x02junk", headers=headers).status_code == 400


def test_a_rotated_key_works_beside_the_old_one_until_the_old_is_removed(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    """Both keys of an agency are valid at once; once the file lists only the new one,
    the old one is 401."""
    with client_for(settings, broker) as client:
        assert post(client, housing(referral_id="R-1"), key=OLD).status_code == 202
        assert post(client, housing(referral_id="R-2"), key=NEW).status_code == 202
    rotated = replace(settings, api_keys=keys_file(tmp_path / "rotated.toml", [NEW]))
    with client_for(rotated, broker) as client:
        assert post(client, housing(referral_id="R-3"), key=OLD).status_code == 401
        assert post(client, housing(referral_id="R-3"), key=NEW).status_code == 202


def test_the_rate_limit_is_per_key(settings: Settings, broker: Broker) -> None:
    """Past its allowance a key gets 429 with Retry-After; another key is not affected."""
    with client_for(replace(settings, intake_rate_per_minute=2), broker) as client:
        assert [post(client, HOUSING).status_code for _ in range(2)] == [202, 200]
        limited = post(client, HOUSING)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert post(client, TRAFFIC, key=TRAFFIC_KEY).status_code == 202


def test_status_answers_its_own_agency_only(client: TestClient, settings: Settings) -> None:
    """An accepted referral is ACCEPTED until receipts arrive, then shows them; another
    agency's referral is 404 exactly like one that does not exist."""
    post(client, HOUSING)
    mine = client.get(f"{URL}/ZJ-2022-0001", headers={"X-API-Key": OLD})
    assert (mine.status_code, mine.json()["status"]) == (200, "ACCEPTED")
    engine = open_store(settings.db)
    with Session(engine) as session, session.begin():
        steps = steps_from_snapshot(
            snapshot(referrals=[{**snapshot()["referrals"][0], "referral_id": "ZJ-2022-0001"}])
        )
        record_sent(session, steps, NOW)
    engine.dispose()
    told = client.get(f"{URL}/ZJ-2022-0001", headers={"X-API-Key": NEW}).json()
    assert [r["status"] for r in told["receipts"]] == ["RECEIVED"]
    theirs = client.get(f"{URL}/ZJ-2022-0001", headers={"X-API-Key": TRAFFIC_KEY})
    nobodys = client.get(f"{URL}/NO-SUCH", headers={"X-API-Key": TRAFFIC_KEY})
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json()["detail"].replace("ZJ-2022-0001", "X") == nobodys.json()["detail"].replace(
        "NO-SUCH", "X"
    )


def test_the_openapi_description_is_served(client: TestClient) -> None:
    """/openapi.json describes both routes, their refusals and the API-key header."""
    spec = client.get("/openapi.json").json()
    post_op = spec["paths"][URL]["post"]
    assert {"202", "400", "401", "403", "413", "422", "429"} <= set(post_op["responses"])
    assert "application/vnd.apache.avro+binary" in post_op["requestBody"]["content"]
    assert f"{URL}/{{referral_id}}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
