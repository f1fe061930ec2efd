"""What to tell a referring agency, derived from what the pipeline already emits.

A case snapshot carries, for each referral in the case, its versions and duplicate count,
and the case's state, times, number and payments; a dead letter carries the raw bytes of
what was refused. From those alone each referral's steps follow, each with an id that
names the step itself (``HOUSING:ZJ-1:filed:C1A2…``), so a snapshot seen again, or a later
snapshot of the same case, gives the same ids again and only new steps are new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.codec import CodecError, SchemaStore
from streams import topics

Step = dict[str, Any]  # a ReferralReceipt record without its emitted_at


def _step(referral: Mapping[str, Any], status: str, suffix: str, **fields: Any) -> Step:
    key = f"{referral['agency']}:{referral['referral_id']}"
    return {
        "receipt_id": f"{key}:{suffix}",
        "agency": referral["agency"],
        "referral_id": referral["referral_id"],
        "status": status,
        "case_id": None,
        "case_no": None,
        "reason": None,
        "decision_no": None,
        "amount_fen": None,
        "count": None,
        "at": None,
        **fields,
    }


def steps_from_snapshot(snapshot: Mapping[str, Any]) -> list[Step]:
    """Every step each referral of the case has reached, in the order they happen."""
    if snapshot["state"] == "MERGED":
        return []  # its referrals are told through the case that absorbed it
    case = {"case_id": snapshot["case_id"], "case_no": snapshot["case_no"]}
    steps: list[Step] = []
    for referral in snapshot["referrals"]:
        steps += _referral_steps(referral, snapshot, case)
    return steps


def _referral_steps(
    referral: Mapping[str, Any], snap: Mapping[str, Any], case: dict[str, Any]
) -> list[Step]:
    case_id = snap["case_id"]
    out = [_step(referral, "RECEIVED", "received", at=referral["referred_at"], **case)]
    for n in range(1, referral["amendments"] + 1):
        out.append(_step(referral, "AMENDED", f"amended:{n}", count=n, **case))
    for n in range(1, referral["exact_duplicates"] + 1):
        out.append(_step(referral, "DUPLICATE", f"duplicate:{n}", count=n, **case))
    if not referral["opened_case"]:
        out.append(_step(referral, "MERGED", f"merged:{case_id}", **case))
    if snap["filed_at"] is not None:
        if snap["case_no"] is None:
            # the number comes in a later snapshot of the case: filed is told with it, and
            # what follows filing after it, so no partner hears "closed" before "filed"
            return out
        out.append(_step(referral, "FILED", f"filed:{case_id}", at=snap["filed_at"], **case))
    if snap["rejected_at"] is not None:
        reason = _last_detail(snap, "case_rejected")
        out.append(
            _step(
                referral,
                "REJECTED",
                f"rejected:{case_id}",
                at=snap["rejected_at"],
                reason=reason,
                **case,
            )
        )
    decision = snap["decision"]
    if snap["decided_at"] is not None and decision is not None:
        out.append(
            _step(
                referral,
                "DECIDED",
                f"decided:{case_id}:{decision['decision_no']}",
                at=snap["decided_at"],
                decision_no=decision["decision_no"],
                amount_fen=decision["amount_fen"],
                **case,
            )
        )
    for payment in snap["payments"]:
        out.append(
            _step(
                referral,
                "PAID",
                f"paid:{payment['receipt_no']}",
                at=payment["paid_at"],
                amount_fen=payment["amount_fen"],
                decision_no=decision["decision_no"] if decision else None,
                **case,
            )
        )
    if snap["closed_at"] is not None:
        out.append(_step(referral, "CLOSED", f"closed:{case_id}", at=snap["closed_at"], **case))
    return out


def _last_detail(snapshot: Mapping[str, Any], what: str) -> str | None:
    details = [h["detail"] for h in snapshot["history"] if h["what"] == what]
    return details[-1] if details else None


def step_from_dead_letter(letter: Mapping[str, Any], store: SchemaStore) -> Step | None:
    """The dead-lettered step of the referral a dead letter holds; None when the bytes are
    not a referral anyone can be told about (garbage, a lifecycle event, a payment)."""
    referral = _referral_in(bytes(letter["raw"]), store)
    if referral is None:
        return None
    return _step(
        referral,
        "DEAD_LETTERED",
        f"dead_lettered:{letter['event_id']}",
        reason=f"{letter['error']}: {letter['reason']}",
        at=letter["dead_lettered_at"],
    )


def _referral_in(raw: bytes, store: SchemaStore) -> Mapping[str, Any] | None:
    try:
        decoded = store.decode(raw)
        if decoded.name == "Referral":
            return decoded.record
        return None
    except CodecError:
        pass
    try:  # a batch file's line, dead-lettered before it could be encoded
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict) or obj.get("kind") != "referral":
        return None
    agency, referral_id = obj.get("agency"), obj.get("referral_id")
    if agency not in topics.REFERRAL_TOPICS or not (isinstance(referral_id, str) and referral_id):
        return None
    return {"agency": agency, "referral_id": referral_id}


def to_record(step: Step, emitted_at: datetime) -> dict[str, Any]:
    """The ReferralReceipt Avro record of a step."""
    return {**step, "emitted_at": emitted_at}
