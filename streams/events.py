"""The events the domain rules work on, parsed from their JSON form.

Agents carry records between topics in the JSONL shape of docs/contract.md (``kind`` plus the
event's fields, ISO timestamps); the rules parse them here into frozen dataclasses so
that no rule touches Kafka, Avro or raw dicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from streams.errors import SchemaViolation

# Months, days and years are counted here (docs/rules.md: "Time, money, identity").
SHANGHAI = ZoneInfo("Asia/Shanghai")

LifecycleKind = Literal[
    "case_filed", "case_rejected", "case_decided", "feedback_sent", "case_closed"
]
LIFECYCLE_KINDS: tuple[LifecycleKind, ...] = (
    "case_filed",
    "case_rejected",
    "case_decided",
    "feedback_sent",
    "case_closed",
)
# The field that carries each lifecycle event's instant.
TIME_FIELD: dict[str, str] = {
    "referral": "referred_at",
    "case_filed": "filed_at",
    "case_rejected": "rejected_at",
    "case_decided": "decided_at",
    "feedback_sent": "sent_at",
    "case_closed": "closed_at",
    "payment": "paid_at",
}


@dataclass(frozen=True, order=True)
class ReferralKey:
    """A referral's identity: the referring agency and its own document number."""

    agency: str
    referral_id: str

    def __str__(self) -> str:
        return f"{self.agency}:{self.referral_id}"

    @classmethod
    def parse(cls, text: str) -> ReferralKey:
        agency, sep, referral_id = text.partition(":")
        if not sep or not agency or not referral_id:
            raise ValueError(f"expected AGENCY:REFERRAL_ID, got {text!r}")
        return cls(agency.upper(), referral_id)


@dataclass(frozen=True)
class CaseRef:
    """How a lifecycle event or payment names its case: a case id or a referral key."""

    case_id: str | None = None
    referral: ReferralKey | None = None

    def __str__(self) -> str:
        return self.case_id if self.case_id else str(self.referral)


@dataclass(frozen=True)
class Referral:
    key: ReferralKey
    referred_at: datetime
    district_code: str
    street_code: str | None
    category: str
    party_id_hash: str | None
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Lifecycle:
    kind: LifecycleKind
    ref: CaseRef
    at: datetime
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Payment:
    receipt_no: str
    ref: CaseRef
    decision_no: str
    paid_at: datetime
    amount_fen: int
    record: Mapping[str, Any]


Event = Referral | Lifecycle | Payment


def content_hash(record: Mapping[str, Any]) -> str:
    """A digest of a record's content, the same whatever the key order."""
    return hashlib.sha256(_canonical.encode(record)).hexdigest()


# Sorted keys, no spaces, UTF-8: the same bytes for the same content in every process.
_canonical = msgspec.json.Encoder(order="sorted")


def parse_instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise SchemaViolation(f"field {field!r} must be an ISO 8601 timestamp, got {value!r}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as e:
        raise SchemaViolation(f"field {field!r}: {e}") from e
    if at.tzinfo is None:
        raise SchemaViolation(f"field {field!r} must carry a UTC offset, got {value!r}")
    return at


def parse_ref(record: Mapping[str, Any]) -> CaseRef:
    case_id = record.get("case_id")
    agency, referral_id = record.get("agency"), record.get("referral_id")
    if case_id:
        return CaseRef(case_id=str(case_id))
    if agency and referral_id:
        return CaseRef(referral=ReferralKey(str(agency), str(referral_id)))
    raise SchemaViolation(
        f"{record.get('kind')}: name the case by 'case_id' or by 'agency' and 'referral_id'"
    )


def parse_event(record: Mapping[str, Any]) -> Event:
    """Parse one JSON-form event; raises SchemaViolation naming what is wrong."""
    kind = record.get("kind")
    try:
        if kind == "referral":
            return Referral(
                key=ReferralKey(str(record["agency"]), str(record["referral_id"])),
                referred_at=parse_instant(record["referred_at"], "referred_at"),
                district_code=str(record["district_code"]),
                street_code=record.get("street_code") or None,
                category=str(record["category"]),
                party_id_hash=record.get("party_id_hash") or None,
                record=record,
            )
        if kind in LIFECYCLE_KINDS:
            field = TIME_FIELD[kind]
            return Lifecycle(kind, parse_ref(record), parse_instant(record[field], field), record)
        if kind == "payment":
            return Payment(
                receipt_no=str(record["receipt_no"]),
                ref=parse_ref(record),
                decision_no=str(record["decision_no"]),
                paid_at=parse_instant(record["paid_at"], "paid_at"),
                amount_fen=int(record["amount_fen"]),
                record=record,
            )
    except KeyError as e:
        raise SchemaViolation(f"{kind}: missing field {e.args[0]!r}") from e
    raise SchemaViolation(f"unknown kind {kind!r}")


def event_time(event: Event) -> datetime:
    if isinstance(event, Referral):
        return event.referred_at
    if isinstance(event, Payment):
        return event.paid_at
    return event.at
