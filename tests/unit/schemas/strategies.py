"""Hypothesis strategies for records that survive an Avro round trip unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

# timestamp-millis keeps milliseconds only, and decodes to UTC
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
text = st.text(max_size=20)
numbers = st.floats(allow_nan=False, allow_infinity=False)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


housing = st.fixed_dictionaries({"project_name": text, "permit_no": optional(text)})
traffic = st.fixed_dictionaries({"plate_no": text, "vehicle_type": text})
environment = st.fixed_dictionaries(
    {"pollutant": text, "measured_value": numbers, "limit_value": numbers, "unit": text}
)
_BLOCKS = {"HOUSING": housing, "TRAFFIC_POLICE": traffic, "ENVIRONMENT": environment}
_BLOCK_FIELD = {"HOUSING": "housing", "TRAFFIC_POLICE": "traffic", "ENVIRONMENT": "environment"}
CATEGORIES = [
    "ILLEGAL_CONSTRUCTION",
    "CONSTRUCTION_DUST",
    "MUCK_TRANSPORT",
    "SIDEWALK_PARKING",
    "CATERING_FUMES",
    "NIGHT_CONSTRUCTION_NOISE",
    "OUTDOOR_ADVERTISING",
    "KITCHEN_WASTE",
    "STREET_VENDING",
]


@st.composite
def referrals(draw: st.DrawFn) -> dict[str, Any]:
    """A Referral with every field present; at most the agency's own block is set."""
    agency = draw(st.sampled_from(sorted(_BLOCKS)))
    record: dict[str, Any] = {
        "agency": agency,
        "referral_id": draw(text),
        "referred_at": draw(instants),
        "district_code": draw(text),
        "street_code": draw(optional(text)),
        "address": draw(text),
        "category": draw(st.sampled_from(CATEGORIES)),
        "party_type": draw(optional(st.sampled_from(["PERSON", "ORGANIZATION"]))),
        "party_id_hash": draw(optional(text)),
        "description": draw(text),
        "evidence": draw(
            st.lists(st.fixed_dictionaries({"uri": text, "sha256": text}), max_size=3)
        ),
        "housing": None,
        "traffic": None,
        "environment": None,
    }
    record[_BLOCK_FIELD[agency]] = draw(optional(_BLOCKS[agency]))
    return record


case_refs = st.fixed_dictionaries(
    {
        "case_id": optional(text),
        "agency": st.sampled_from(sorted(_BLOCKS)),
        "referral_id": text,
    }
)
decisions = st.fixed_dictionaries(
    {
        "ref": case_refs,
        "decided_at": instants,
        "decision_no": text,
        "amount_fen": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "tier": st.sampled_from(["MINOR", "GENERAL", "SERIOUS"]),
        "major": optional(st.booleans()),
        "legal_reviewed_at": optional(instants),
        "exemption": optional(st.sampled_from(["FIRST_VIOLATION", "NO_PENALTY"])),
    }
)
