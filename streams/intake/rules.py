"""Step 1, validate: what makes a decoded event unfit to enter the pipeline.

Input comes from outside, so everything an event carries is bounded before a rule reads
it: its size in bytes, each text and list, each amount. Past the door an event travels
inside batches, group state, snapshots and SQL columns, each with a limit of its own; the
bounds here keep one event far inside all of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from streams.errors import ImpossibleValue, Oversized, SchemaViolation, UnknownPlace
from streams.events import SHANGHAI, Event, Lifecycle, Payment, Referral, parse_instant
from streams.organisation import Organisation, OrganisationError

# Years, like months and days, are counted in Asia/Shanghai.
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)
FUTURE_TOLERANCE = timedelta(days=1)
AGENCY_BLOCK = {"HOUSING": "housing", "TRAFFIC_POLICE": "traffic", "ENVIRONMENT": "environment"}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# An input event is at most this many bytes as Avro (a referral is about 400). Batches,
# group state and snapshots carry events whole, under the broker's 1 MiB message limit.
MAX_EVENT_BYTES = 64 * 1024
# What the dead letter of an oversized record carries of it; the letter says where the
# whole record is.
COPY_BYTES = 4 * 1024
# Texts and lists; identifiers are kept to the SQL store's columns (consumers/models.py).
MAX_TEXT = 10_000
MAX_ITEMS = 100
ID_LENGTHS = {
    "referral_id": 128,
    "case_id": 64,
    "receipt_no": 64,
    "decision_no": 64,
    "district_code": 64,
    "street_code": 64,
}
# One trillion yuan: above any fine ever imposed, and a case would need 92 000 payments
# of it to overflow the Avro long its totals are written as.
MAX_AMOUNT_FEN = 10**14
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
    _check_bounds(event.record, "")
    _check_times(event.record, now)
    if isinstance(event, Referral):
        _check_referral(event, org)
    elif isinstance(event, Payment | Lifecycle):
        amount = event.record.get("amount_fen")
        if amount is not None and int(amount) < 0:
            raise ImpossibleValue(f"{event.record['kind']}: negative amount_fen {amount}")
        if amount is not None and int(amount) > MAX_AMOUNT_FEN:
            raise ImpossibleValue(
                f"{event.record['kind']}: amount_fen {amount} is over {MAX_AMOUNT_FEN} "
                "(one trillion yuan)"
            )


def check_size(size: int, then: str = "") -> None:
    """Raise Oversized when a record of ``size`` bytes is over MAX_EVENT_BYTES; ``then``
    ends the reason (what becomes of the record)."""
    if size > MAX_EVENT_BYTES:
        reason = f"the record is {size} bytes, over the {MAX_EVENT_BYTES} an input event may have"
        raise Oversized(f"{reason}; {then}" if then else reason)


def copy_kept(whole: str) -> str:
    """How an oversized record's dead letter ends its reason: what it carries, and where
    the whole record is."""
    return f"its dead letter carries the first {COPY_BYTES} bytes, {whole}"


def _check_bounds(value: Any, path: str) -> None:
    if isinstance(value, str):
        limit = ID_LENGTHS.get(path, MAX_TEXT)
        if len(value) > limit:
            raise SchemaViolation(f"{path} is {len(value)} characters long, over {limit}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise SchemaViolation(f"{path} must be a finite number, got {value}")
    elif isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise SchemaViolation(f"{path} has {len(value)} items, over {MAX_ITEMS}")
        for index, item in enumerate(value):
            _check_bounds(item, f"{path}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_bounds(item, f"{path}.{key}" if path else str(key))


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
