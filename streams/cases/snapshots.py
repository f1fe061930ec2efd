"""What the outside sees of a case: its snapshot, a plain JSON-able dict.

The same dict goes to the ``cases.snapshots`` topic (Avro) and into SQL; its digest tells
the group whether anything a reader could see has changed since it last emitted it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from streams.cases.forming import Case
from streams.cases.state import Absorbed
from streams.dedup.rules import Version, case_id_for, counts
from streams.events import ReferralKey, content_hash
from streams.ledger.rules import ledger_for


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def case_snapshot(
    case: Case,
    *,
    group_key: str,
    squad_code: str,
    case_no: str | None,
    versions: Mapping[ReferralKey, Sequence[Version]],
    absorbed: Mapping[str, Absorbed],
) -> dict[str, Any]:
    ledger = ledger_for(case.decision, case.receipts)
    decision = case.decision
    referrals = []
    for key in case.members:
        kept = versions[key]
        tally = counts(kept)
        referrals.append(
            {
                "agency": key.agency,
                "referral_id": key.referral_id,
                "referred_at": kept[0].record["referred_at"],
                "opened_case": case_id_for(key) == case.case_id,
                "amendments": tally.versions - 1,
                "exact_duplicates": tally.exact_duplicates,
                "versions": [v.record for v in kept],
            }
        )
    history = [{"at": iso(at), "what": what, "detail": detail} for at, what, detail in case.history]
    history += [
        {"at": None, "what": "absorbed", "detail": f"case {old}: {why.why}"}
        for old, why in sorted(absorbed.items())
        if why.into == case.case_id
    ]
    return {
        "case_id": case.case_id,
        "case_no": case_no,
        "group_key": group_key,
        "state": case.state.value,
        "merged_into": None,
        "district_code": case.district_code,
        "squad_code": squad_code,
        "street_code": case.street_code,
        "agency": case.members[0].agency,
        "category": referrals[0]["versions"][0]["category"],
        "opened_at": iso(case.opened_at),
        "filed_at": iso(case.filed_at),
        "rejected_at": iso(case.rejected_at),
        "decided_at": iso(case.decided_at),
        "feedback_at": iso(case.feedback_at),
        "closed_at": iso(case.closed_at),
        "decision": None
        if decision is None
        else {
            "decision_no": decision.decision_no,
            "amount_fen": decision.amount_fen,
            "tier": decision.tier,
            "major": decision.major,
            "legal_reviewed_at": iso(decision.legal_reviewed_at),
            "exemption": decision.exemption,
        },
        "payments": [
            {"receipt_no": r.receipt_no, "paid_at": iso(r.paid_at), "amount_fen": r.amount_fen}
            for r in ledger.receipts
        ],
        "decided_fen": ledger.decided_fen,
        "collected_fen": ledger.collected_fen,
        "outstanding_fen": ledger.outstanding_fen,
        "overpaid_fen": ledger.overpaid_fen,
        "referrals": referrals,
        "history": history,
    }


def absorbed_snapshot(case_id: str, group_key: str, into: str, why: str) -> dict[str, Any]:
    """The tombstone of a case re-formed into another: findable, pointing to its heir."""
    empty: dict[str, Any] = dict.fromkeys(_FIELDS)
    empty.update(
        case_id=case_id,
        group_key=group_key,
        state="MERGED",
        merged_into=into,
        decided_fen=0,
        collected_fen=0,
        outstanding_fen=0,
        overpaid_fen=0,
        payments=[],
        referrals=[],
        history=[{"at": None, "what": "absorbed", "detail": why}],
    )
    return empty


# The moments of a case's life, in the order they happen.
INSTANTS = ("opened_at", "filed_at", "rejected_at", "decided_at", "feedback_at", "closed_at")
# Where a case is and what it is, beside its moments.
PLACE_AND_KIND = ("district_code", "squad_code", "street_code", "agency", "category")
_FIELDS = (
    "case_id",
    "case_no",
    "group_key",
    "state",
    "merged_into",
    *PLACE_AND_KIND,
    *INSTANTS,
    "decision",
)


def digest(snapshot: Mapping[str, Any]) -> str:
    """Whether a reader could see a difference between two snapshots."""
    return content_hash(snapshot)[:16]


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def to_avro(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot as a ``CaseSnapshot`` Avro record (datetimes, versions as JSON text)."""
    out = dict(snapshot)
    for key in INSTANTS:
        out[key] = _instant(out.get(key))
    decision = out.get("decision")
    if decision is not None:
        out["decision"] = {
            **decision,
            "legal_reviewed_at": _instant(decision["legal_reviewed_at"]),
        }
    out["payments"] = [{**p, "paid_at": _instant(p["paid_at"])} for p in out["payments"]]
    out["referrals"] = [
        {
            **r,
            "referred_at": _instant(r["referred_at"]),
            "versions": [json.dumps(v, ensure_ascii=False, sort_keys=True) for v in r["versions"]],
        }
        for r in out["referrals"]
    ]
    out["history"] = [{**h, "at": _instant(h["at"])} for h in out["history"]]
    return out
