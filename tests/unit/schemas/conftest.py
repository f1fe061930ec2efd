"""Shared fixtures: the store of the shipped schemas and one full sample of every record type."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import SchemaStore

V2_DIR = Path(__file__).parent / "v2"
# decision numbers really use these brackets, which makes them a good non-ASCII test
DECISION_NO = "株城执罚决字〔2022〕42号"  # noqa: RUF001
T0 = datetime(2022, 3, 1, 1, 30, 0, 123000, tzinfo=UTC)

_REF = {"case_id": "430203-2022-0001", "agency": "HOUSING", "referral_id": "ZJ-2022-0042"}
_EVIDENCE = {"uri": "https://files.example/zj/0042.jpg", "sha256": "ab" * 32}
_HOUSING = {"project_name": "芦淞区建设路地块", "permit_no": "430203202201"}
_TRAFFIC = {"plate_no": "湘B·12345", "vehicle_type": "heavy truck"}
_ENVIRONMENT = {
    "pollutant": "PM10",
    "measured_value": 512.5,
    "limit_value": 150.0,
    "unit": "µg/m³",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "Evidence": _EVIDENCE,
    "HousingBlock": _HOUSING,
    "TrafficBlock": _TRAFFIC,
    "EnvironmentBlock": _ENVIRONMENT,
    "CaseRef": _REF,
    "Referral": {
        "agency": "HOUSING",
        "referral_id": "ZJ-2022-0042",
        "referred_at": T0,
        "district_code": "430203",
        "street_code": "430203001",
        "address": "芦淞区建设路 88 号",
        "category": "ILLEGAL_CONSTRUCTION",
        "party_type": "ORGANIZATION",
        "party_id_hash": "0f" * 32,
        "description": "未取得规划许可加建两层",
        "evidence": [_EVIDENCE, {"uri": "https://files.example/zj/0042b.jpg", "sha256": "cd" * 32}],
        "housing": _HOUSING,
        "traffic": None,
        "environment": None,
    },
    "CaseFiled": {"ref": _REF, "filed_at": T0},
    "CaseRejected": {"ref": _REF, "rejected_at": T0, "reason": "不属于本部门职责"},
    "CaseDecided": {
        "ref": _REF,
        "decided_at": T0,
        "decision_no": DECISION_NO,
        "amount_fen": 30_000 * 100,
        "tier": "SERIOUS",
        "major": True,
        "legal_reviewed_at": datetime(2022, 2, 27, 8, 0, tzinfo=UTC),
        "exemption": None,
    },
    "FeedbackSent": {"ref": _REF, "sent_at": T0},
    "CaseClosed": {"ref": _REF, "closed_at": T0},
    "Payment": {
        "receipt_no": "FS-2022-000123",
        "ref": {"case_id": None, "agency": "HOUSING", "referral_id": "ZJ-2022-0042"},
        "decision_no": DECISION_NO,
        "paid_at": T0,
        "amount_fen": 15_000 * 100,
    },
    "DeadLetter": {
        "event_id": "file:input.jsonl:7",
        "reason": "case_decided: field 'amount_fen' must be an integer number of fen, got 12.5",
        "error": "schema",
        "source_topic": None,
        "source_partition": None,
        "source_offset": None,
        "source_file": "input.jsonl",
        "source_line": 7,
        "raw": b'{"kind": "case_decided", "amount_fen": 12.5}',
        "dead_lettered_at": T0,
    },
}


def sample(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of the sample record `name` with `changes` applied."""
    record = copy.deepcopy(SAMPLES[name])
    record.update(changes)
    return record


@pytest.fixture(scope="session")
def store() -> SchemaStore:
    """The shipped schemas."""
    return SchemaStore()


@pytest.fixture(scope="session")
def store_v2() -> SchemaStore:
    """Referral v2 (one added optional field) as the current version."""
    return SchemaStore(V2_DIR)
