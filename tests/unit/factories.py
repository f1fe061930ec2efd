"""Builders of JSON-form events and group messages for the domain-rule tests."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from streams.cases.group import Outcome, accept
from streams.dedup.rules import incident_key
from streams.events import Referral, parse_event
from streams.organisation import Organisation, default_organisation_path, load_organisation
from streams.policy import Policy

ORG: Organisation = load_organisation(default_organisation_path())
_offsets = itertools.count()


def party(number: str) -> str:
    return hashlib.sha256(number.upper().encode()).hexdigest()


def referral(referral_id: str, referred_at: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "referral",
        "agency": "HOUSING",
        "referral_id": referral_id,
        "referred_at": referred_at,
        "district_code": "430203",
        "street_code": "430203001",
        "address": "建设南路 1 号",
        "category": "ILLEGAL_CONSTRUCTION",
        "party_type": "ORGANIZATION",
        "party_id_hash": party("91430200MA4L000001"),
        "description": "违法加建",
        "evidence": [],
        "housing": {"project_name": "某小区", "permit_no": None},
    }
    record.update(fields)
    return record


def event(
    kind: str, at: str, referral_id: str, agency: str = "HOUSING", **fields: Any
) -> dict[str, Any]:
    from streams.events import TIME_FIELD

    record = {"kind": kind, "agency": agency, "referral_id": referral_id, TIME_FIELD[kind]: at}
    record.update(fields)
    return record


def decided(
    at: str, referral_id: str, amount_fen: int, decision_no: str = "D1", **f: Any
) -> dict[str, Any]:
    return event(
        "case_decided",
        at,
        referral_id,
        decision_no=decision_no,
        amount_fen=amount_fen,
        tier="GENERAL",
        **f,
    )


def payment(
    receipt_no: str, at: str, referral_id: str, amount_fen: int, decision_no: str = "D1"
) -> dict[str, Any]:
    return event(
        "payment",
        at,
        referral_id,
        receipt_no=receipt_no,
        decision_no=decision_no,
        amount_fen=amount_fen,
    )


def message(record: dict[str, Any], group: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "event",
        "group": group,
        "event_id": event_id or f"t/0/{next(_offsets)}",
        "record": record,
        "source": {"topic": "t", "partition": 0, "offset": 0, "file": None, "line": None},
        "raw": "",
        "received_ms": 0,
    }


class Group:
    """One incident group driven through ``accept`` as the agent would."""

    def __init__(self, key: str | None = None, policy: Policy | None = None) -> None:
        self.key = key
        self.log: dict[str, Any] | None = None
        self.policy = policy or Policy()
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.dead: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def send(self, record: dict[str, Any], event_id: str | None = None) -> Outcome:
        if self.key is None:
            parsed = parse_event(record)
            assert isinstance(parsed, Referral)
            self.key = incident_key(parsed)
        return self.apply(message(record, self.key, event_id))

    def apply(self, msg: dict[str, Any]) -> Outcome:
        msg.setdefault("group", self.key)
        outcome = accept(self.log, msg, ORG, self.policy)
        if outcome.log is not None:
            self.log = outcome.log
        for snap in outcome.snapshots:
            self.snapshots[snap["case_id"]] = snap
        self.dead += outcome.dead_letters
        self.requests += outcome.number_requests
        return outcome

    def drain(self) -> Outcome:
        return self.apply({"type": "drain"})

    def live(self) -> list[dict[str, Any]]:
        return sorted(
            (s for s in self.snapshots.values() if s["state"] != "MERGED"),
            key=lambda s: s["opened_at"],
        )

    def case_of(self, referral_id: str) -> dict[str, Any]:
        for snap in self.live():
            if any(r["referral_id"] == referral_id for r in snap["referrals"]):
                return snap
        raise KeyError(referral_id)
