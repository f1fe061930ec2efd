"""The JSON objects of the batch-input format (docs/contract.md, "Batch input: JSONL")
for drawn events: a referral with its address, description, evidence and agency block;
instants in Asia/Shanghai as the partner systems write them."""

from __future__ import annotations

from datetime import datetime
from random import Random
from typing import Any

from referrals.generate.drawing import DrawnReferral, PartyType, party_hash, sha256_hex
from referrals.generate.texts import (
    DESCRIPTIONS,
    ENV_BLOCK,
    ESTATES,
    PROJECTS,
    ROADS,
    SHOPS,
    VEHICLE,
    Agency,
)
from streams.events import SHANGHAI
from streams.ledger.rules import DEFAULT_MAJOR_THRESHOLD_FEN
from streams.organisation import Organisation

GENERAL_TIER_FEN = 300_000  # 3 000 yuan: below it a fine is minor


def iso(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat()


def tier(amount_fen: int) -> str:
    """The discretion tier (轻微 / 一般 / 严重) a decided amount falls in."""
    if amount_fen >= DEFAULT_MAJOR_THRESHOLD_FEN:
        return "SERIOUS"
    return "GENERAL" if amount_fen >= GENERAL_TIER_FEN else "MINOR"


def _address(rng: Random, org: Organisation, r: DrawnReferral) -> tuple[str, str]:
    """The road drawn and the whole address on it."""
    road = rng.choice(ROADS)
    number = rng.randint(1, 388)
    category = r.category
    if category in ("CATERING_FUMES", "STREET_VENDING", "KITCHEN_WASTE"):
        address = f"{road}{number}号{rng.choice(SHOPS)}"
    elif category in ("SIDEWALK_PARKING", "MUCK_TRANSPORT") and r.agency is Agency.TRAFFIC_POLICE:
        address = f"{road}与{rng.choice(ROADS)}交叉口"
    elif category == "ILLEGAL_CONSTRUCTION" and r.party and r.party.kind is PartyType.PERSON:
        address = f"{road}{number}号{rng.choice(ESTATES)}{rng.randint(1, 30)}栋"
    else:
        address = f"{road}{number}号工地"
    place = r.street_name or org.districts[r.district].name
    return road, f"{place}{address}"


def _block(rng: Random, r: DrawnReferral, road: str) -> tuple[str, dict[str, Any]]:
    """The referring agency's own block: its name in the record and its fields."""
    if r.agency is Agency.HOUSING:
        permit = None
        if r.category != "ILLEGAL_CONSTRUCTION" or rng.random() < 0.3:
            permit = f"{r.district}{r.referred_at:%Y%m%d}{rng.randint(0, 9999):04d}"
        return "housing", {"project_name": f"{road}{rng.choice(PROJECTS)}", "permit_no": permit}
    if r.agency is Agency.TRAFFIC_POLICE:
        plate = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
        return "traffic", {"plate_no": f"湘B·{plate}", "vehicle_type": VEHICLE[r.category]}
    pollutant, limit, unit = ENV_BLOCK[r.category]
    measured = round(limit * rng.uniform(1.2, 3.5), 1)
    block = {"pollutant": pollutant, "measured_value": measured, "limit_value": limit, "unit": unit}
    return "environment", block


def referral_record(rng: Random, org: Organisation, seed: int, r: DrawnReferral) -> dict[str, Any]:
    """The ``referral`` object of ``r``; its texts drawn from ``rng``, its evidence
    digests from ``seed`` and the referral id."""
    road, address = _address(rng, org, r)
    template = rng.choice(DESCRIPTIONS[r.category])
    record: dict[str, Any] = {
        "kind": "referral",
        "agency": r.agency,
        "referral_id": r.referral_id,
        "referred_at": iso(r.referred_at),
        "district_code": r.district,
    }
    if r.street:
        record["street_code"] = r.street
    record["address"] = address
    record["category"] = r.category
    if r.party is not None:
        record["party_type"] = r.party.kind.value
        record["party_id_hash"] = party_hash(r.party.number)
    record["description"] = template.format(n=rng.randint(20, 600))
    record["evidence"] = [
        {
            "uri": f"https://evidence.example/{r.referral_id}-{i}.jpg",
            "sha256": sha256_hex(f"{seed}:{r.referral_id}:{i}"),
        }
        for i in range(1, rng.randint(1, 3) + 1)
    ]
    name, block = _block(rng, r, road)
    record[name] = block
    return record


def decision_record(
    ref: dict[str, Any],
    decided_at: datetime,
    decision_no: str,
    amount_fen: int,
    major: bool | None,
    legal_reviewed_at: datetime | None,
    exemption: str | None,
) -> dict[str, Any]:
    """The ``case_decided`` object; ``ref`` names the case (agency and referral id)."""
    decision: dict[str, Any] = {
        "kind": "case_decided",
        **ref,
        "decided_at": iso(decided_at),
        "decision_no": decision_no,
        "amount_fen": amount_fen,
        "tier": tier(amount_fen),
    }
    if major is not None:
        decision["major"] = major
    if legal_reviewed_at is not None:
        decision["legal_reviewed_at"] = iso(legal_reviewed_at)
    if exemption is not None:
        decision["exemption"] = exemption
    return decision
