"""What a partner agency's referral must pass before anything of it is sent.

The same checks the pipeline's intake makes (schemas/jsonl.py turns JSON into the Avro
record, streams/intake/rules.py ``validate`` applies the intake rules), made at the
sender's side, so a partner learns at once which line, field and rule were wrong instead
of finding a dead letter later. Used by ``referrals publish``, the Python library
(``consumers.publisher.AgencyPublisher``) and the HTTP intake (web/intake.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.codec import CodecError, SchemaStore
from schemas.jsonl import InputError, record_from_json, record_to_json
from streams import topics
from streams.errors import RecordRefused, Rejected, UnknownPlace
from streams.events import ReferralKey, content_hash, parse_event
from streams.intake.rules import validate
from streams.organisation import Organisation, StreetNotInDistrict, UnknownStreet

AGENCIES = tuple(topics.REFERRAL_TOPICS)


@dataclass(frozen=True)
class Vetted:
    """A referral that passed every check, ready for its agency's topic."""

    key: ReferralKey
    topic: str
    value: bytes
    # the JSONL form, as the pipeline will see it; its hash tells exact duplicates apart
    record: Mapping[str, Any]

    @property
    def content_hash(self) -> str:
        return content_hash(self.record)


def check_agency(agency: str) -> str:
    if agency not in topics.REFERRAL_TOPICS:
        raise RecordRefused(
            f"unknown agency {agency!r}; one of {', '.join(AGENCIES)}", field="agency", rule="enum"
        )
    return agency


def check_referral(
    obj: Any, agency: str, org: Organisation, now: datetime, store: SchemaStore
) -> Vetted:
    """Vet one JSON object published by ``agency``: ``kind`` and ``agency`` may be left
    out; raises RecordRefused naming the field and the rule."""
    if not isinstance(obj, Mapping):
        raise RecordRefused("a referral is a JSON object", field="", rule="type")
    obj = {"kind": "referral", "agency": agency, **obj}
    _check_own(obj["kind"], obj["agency"], agency)
    try:
        name, record = record_from_json(obj, store)
        value = store.encode(name, record)
    except InputError as e:
        raise RecordRefused(str(e), field=e.field, rule=e.rule) from e
    except CodecError as e:
        raise RecordRefused(str(e), field="", rule="schema") from e
    return _vet_rules(record_to_json(name, record, store), value, org, now, store)


def check_referral_bytes(
    raw: bytes, agency: str, org: Organisation, now: datetime, store: SchemaStore
) -> Vetted:
    """Vet one Avro record (single-object encoded, or Confluent framed when a registry is
    configured); the bytes are sent as they came."""
    try:
        decoded = store.decode(raw)
        if decoded.name != "Referral":
            raise RecordRefused(
                f"{agency} publishes referrals only, not a {decoded.name} record",
                field="kind",
                rule="own_referrals",
            )
        if decoded.fingerprint != store.fingerprint("Referral"):
            decoded = store.decode(raw, reader="Referral")
    except CodecError as e:
        raise RecordRefused(str(e), field="", rule="undecodable") from e
    record = record_to_json(decoded.name, decoded.record, store)
    _check_own(record["kind"], record["agency"], agency)
    return _vet_rules(record, raw, org, now, store)


def _check_own(kind: Any, sender: Any, agency: str) -> None:
    if kind != "referral":
        raise RecordRefused(
            f"{agency} publishes referrals only, not {kind!r}", field="kind", rule="own_referrals"
        )
    if sender != agency:
        raise RecordRefused(
            f"{agency} publishes its own referrals only; this one is from {sender!r}",
            field="agency",
            rule="own_agency",
        )


def _vet_rules(
    record: Mapping[str, Any], value: bytes, org: Organisation, now: datetime, store: SchemaStore
) -> Vetted:
    try:
        validate(parse_event(record), org, now)
    except Rejected as e:
        names = [f["name"] for f in store.schema("Referral")["fields"]]
        raise RecordRefused(e.reason, field=rule_field(e, names), rule=e.code) from e
    key = ReferralKey(str(record["agency"]), str(record["referral_id"]))
    return Vetted(key, topics.input_topic("referral", key.agency), value, record)


def rule_field(error: Rejected, names: Collection[str]) -> str:
    """The field an intake rule refused: for a place, which code was unknown; otherwise the
    first of the field ``names`` the reason mentions ("" when it names none)."""
    if isinstance(error, UnknownPlace):
        street = isinstance(error.__cause__, UnknownStreet | StreetNotInDistrict)
        return "street_code" if street else "district_code"
    found = [
        (m.start(), name)
        for name in names
        if (m := re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", error.reason))
    ]
    return min(found)[1] if found else ""
