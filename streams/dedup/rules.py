"""Step 2, deduplicate: exact duplicates, amendments and same-incident merging.

Every rule is judged on what the events carry, never on when the pipeline saw them. The
only order that matters is that of one referral's versions, which an agency publishes on
one partition (keyed by the referral), so every reader sees them in the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import msgspec

from streams.events import Referral, ReferralKey, content_hash

DEFAULT_MERGE_WINDOW = timedelta(days=30)


class Arrival(Enum):
    NEW = "new"
    REDELIVERY = "redelivery"  # the same Kafka record again: at-least-once, not a duplicate
    EXACT_DUPLICATE = "exact_duplicate"
    AMENDMENT = "amendment"


def incident_key(referral: Referral) -> str:
    """The key under which every referral that could ever share a case is kept together.

    Referrals merge only with the same party, category and street (district when no
    street); without a party hash a referral never merges and is a group of its own.
    The party hash is digested again so the key can be logged and used as a Kafka key.
    """
    if referral.party_id_hash is None:
        return f"r:{referral.key}"
    place = referral.street_code or referral.district_code
    basis = f"{referral.party_id_hash}|{referral.category}|{place}"
    return "i:" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def case_id_for(key: ReferralKey) -> str:
    """The case id a referral gives the case it opens; stable and computable anywhere."""
    return "C" + hashlib.sha256(str(key).encode()).hexdigest()[:12].upper()


class Version(msgspec.Struct, frozen=True):
    """One content of a referral, and the ids of the Kafka records that carried it."""

    digest: str
    record: dict[str, Any]
    event_ids: tuple[str, ...]


def add_version(
    versions: tuple[Version, ...], record: dict[str, Any], event_id: str
) -> tuple[Arrival, tuple[Version, ...]]:
    """Classify one arrival of a referral against its versions (in arrival order), and
    the versions after it."""
    if any(event_id in version.event_ids for version in versions):
        return Arrival.REDELIVERY, versions
    digest = content_hash(record)
    for i, version in enumerate(versions):
        if version.digest == digest:
            seen = Version(digest, version.record, (*version.event_ids, event_id))
            return Arrival.EXACT_DUPLICATE, (*versions[:i], seen, *versions[i + 1 :])
    added = (*versions, Version(digest, record, (event_id,)))
    return (Arrival.NEW if not versions else Arrival.AMENDMENT), added


def joins(
    case_opened_at: datetime,
    case_closed_at: datetime | None,
    referred_at: datetime,
    window: timedelta = DEFAULT_MERGE_WINDOW,
) -> bool:
    """Whether a referral of the same incident joins a case rather than opening one."""
    within_window = referred_at - window <= case_opened_at <= referred_at
    still_open = case_closed_at is None or case_closed_at > referred_at
    return within_window and still_open


@dataclass(frozen=True)
class VersionCounts:
    versions: int
    exact_duplicates: int


def counts(versions: Sequence[Version]) -> VersionCounts:
    """Amendments are versions after the first; exact duplicates, the extra deliveries."""
    extra = sum(len(v.event_ids) - 1 for v in versions)
    return VersionCounts(versions=len(versions), exact_duplicates=extra)
