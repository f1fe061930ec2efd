"""Step 1, validate: what makes a decoded event unfit to enter the pipeline."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from streams.errors import ImpossibleValue, SchemaViolation, UnknownPlace
from streams.events import SHANGHAI, Event, Lifecycle, Payment, Referral, parse_instant
from streams.organisation import Organisation, OrganisationError

# Years, like months and days, are counted in Asia/Shanghai.
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)
FUTURE_TOLERANCE = timedelta(days=1)
AGENCY_BLOCK = {"HOUSING": "housing", "TRAFFIC_POLICE": "traffic", "ENVIRONMENT": "environment"}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_FIELDS = (
    "referred_at",
    "filed_at",
    "rejected_at",
    "decided_at",
    "legal_reviewed_at",
    "sent_at",
    "closed_at",
    "paid_at",
)


def validate(event: Event, org: Organisation, now: datetime) -> None:
    """Raise the Rejected subclass that says why ``event`` cannot enter, or return."""
    _check_times(event.record, now)
    if isinstance(event, Referral):
        _check_referral(event, org)
    elif isinstance(event, Payment | Lifecycle):
        amount = event.record.get("amount_fen")
        if amount is not None and int(amount) < 0:
            raise ImpossibleValue(f"{event.record['kind']}: negative amount_fen {amount}")


def _check_times(record: Mapping[str, Any], now: datetime) -> None:
    for field in _TIMESTAMP_FIELDS:
        value = record.get(field)
        if value is None:
            continue
        at = parse_instant(value, field)
        if at < EARLIEST:
            raise ImpossibleValue(f"{field} {value} is before 2000")
        if at > now + FUTURE_TOLERANCE:
            raise ImpossibleValue(f"{field} {value} is more than a day in the future")


def _check_referral(referral: Referral, org: Organisation) -> None:
    try:
        org.route(referral.district_code, referral.street_code)
    except OrganisationError as e:
        raise UnknownPlace(str(e)) from e
    record = referral.record
    own = AGENCY_BLOCK.get(referral.key.agency)
    if own is None:
        raise SchemaViolation(f"referral: unknown agency {referral.key.agency!r}")
    present = [block for block in AGENCY_BLOCK.values() if record.get(block) is not None]
    if present != [own]:
        raise SchemaViolation(
            f"referral from {referral.key.agency} must carry exactly its '{own}' block, "
            f"carries {present or 'none'}"
        )
    party_hash = referral.party_id_hash
    # A clear ID number here would leak personal data into every topic and table downstream.
    if party_hash is not None and not _SHA256_HEX.fullmatch(party_hash):
        raise SchemaViolation(
            "party_id_hash must be the lowercase hex SHA-256 of the upper-cased ID number"
        )
