"""One incident group's log and what each message does to it: the whole of steps 2-4.

A group holds every referral that could share a case with another (same party, category
and place) and every lifecycle event and payment naming them. Each message updates the
group's log — one table write — and the cases are formed anew from the log, so a
redelivered message changes nothing and a late one lands where its time puts it. The
function is pure: the agent stores ``Outcome.log`` and sends the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from streams.cases.forming import GroupView, form_cases
from streams.cases.machine import Verdict
from streams.cases.snapshots import absorbed_snapshot, case_snapshot, digest
from streams.dedup.rules import Arrival, add_version, case_id_for
from streams.errors import InvalidTransition, Unmatched
from streams.events import (
    Lifecycle,
    Payment,
    Referral,
    ReferralKey,
    content_hash,
    parse_event,
)
from streams.organisation import Organisation
from streams.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Outcome:
    log: dict[str, Any] | None = None  # the log to store; None when nothing changed
    arrival: Arrival | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    number_requests: list[dict[str, Any]] = field(default_factory=list)


def new_log(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "seq": 0,
        "referrals": {},  # referral key -> versions in arrival order
        "events": {},  # lifecycle content hash -> entry
        "payments": {},  # receipt number -> entry
        "numbers": {},  # case id -> case number
        "requested": [],  # case ids whose number was asked for
        "absorbed": {},  # case id -> {"into", "why"}
        "emitted": {},  # case id -> digest of the snapshot last sent
    }


def accept(
    log: dict[str, Any] | None,
    message: dict[str, Any],
    org: Organisation,
    policy: Policy,
) -> Outcome:
    """Apply one message to a group's log; see the module docstring."""
    log = copy.deepcopy(log) if log is not None else new_log(message["group"])
    outcome = Outcome()
    kind = message["type"]
    if kind == "event":
        if not _record(log, message, outcome):
            return outcome
    elif kind == "numbered":
        if message["case_id"] in log["numbers"]:
            return outcome
        log["numbers"][message["case_id"]] = message["case_no"]
    elif kind == "expire":
        deadline = message["now_ms"] - message["hold_ms"]
        _expire(log, policy, outcome, lambda e: e["received_ms"] < deadline, _HOLD_ENDED)
    elif kind == "drain":
        _expire(log, policy, outcome, lambda e: True, _DRAINED)
    view = _form(log, policy)
    _dead_letter_conflicts(log, view, outcome)
    _emit(log, view, org, outcome, message.get("event_id", kind))
    log["seq"] += 1
    outcome.log = log
    return outcome


def _record(log: dict[str, Any], message: dict[str, Any], outcome: Outcome) -> bool:
    """Add the event to the log; False when the log already had it."""
    record = message["record"]
    event = parse_event(record)
    entry = {key: message[key] for key in ("event_id", "record", "source", "raw", "received_ms")}
    entry["dead"] = None
    if isinstance(event, Referral):
        versions = log["referrals"].setdefault(str(event.key), [])
        outcome.arrival = add_version(versions, record, message["event_id"])
        return outcome.arrival is not Arrival.REDELIVERY
    if isinstance(event, Payment):
        known = log["payments"].get(event.receipt_no)
        if known is None:
            log["payments"][event.receipt_no] = entry
            return True
        if content_hash(known["record"]) != content_hash(record):
            outcome.dead_letters.append(
                _dead(
                    entry,
                    Unmatched(
                        f"receipt {event.receipt_no} already recorded with different content"
                    ),
                )
            )
        return False
    digest_ = content_hash(record)
    if digest_ in log["events"]:
        return False
    log["events"][digest_] = entry
    return True


def _live(entries: dict[str, Any]) -> dict[str, Any]:
    return {k: parse_event(e["record"]) for k, e in entries.items() if e["dead"] is None}


def _form(log: dict[str, Any], policy: Policy) -> GroupView:
    firsts: dict[ReferralKey, Referral] = {}
    for versions in log["referrals"].values():
        referral = parse_event(versions[0]["record"])
        assert isinstance(referral, Referral)
        firsts[referral.key] = referral
    lifecycle: dict[str, Lifecycle] = _live(log["events"])
    payments: dict[str, Payment] = _live(log["payments"])
    return form_cases(firsts, lifecycle, payments, policy)


def _entry(log: dict[str, Any], key: str) -> dict[str, Any]:
    entry: dict[str, Any] = log["events"].get(key) or log["payments"][key]
    return entry


def _dead(entry: dict[str, Any], error: InvalidTransition | Unmatched) -> dict[str, Any]:
    return {
        "event_id": entry["event_id"],
        "error": error.code,
        "reason": error.reason,
        "source": entry["source"],
        "raw": entry["raw"],
    }


def _dead_letter_conflicts(log: dict[str, Any], view: GroupView, outcome: Outcome) -> None:
    # A conflict can never be applied later: mark it dead so no later replay revives it.
    for key, judgement in view.conflicts.items():
        entry = _entry(log, key)
        entry["dead"] = judgement.reason
        outcome.dead_letters.append(_dead(entry, InvalidTransition(judgement.reason)))


_HOLD_ENDED = "still waiting when the hold period ended"
_DRAINED = "still waiting when the input was drained"


def _expire(
    log: dict[str, Any],
    policy: Policy,
    outcome: Outcome,
    due: Callable[[dict[str, Any]], bool],
    why: str,
) -> None:
    """Dead-letter the waiting events that ``due`` selects (judged on the current view)."""
    view = _form(log, policy)
    for key, judgement in view.pending.items():
        assert judgement.verdict is Verdict.WAIT
        entry = _entry(log, key)
        if due(entry):
            entry["dead"] = f"{judgement.reason}: {why}"
            outcome.dead_letters.append(_dead(entry, Unmatched(entry["dead"])))


def _emit(
    log: dict[str, Any], view: GroupView, org: Organisation, outcome: Outcome, cause: str
) -> None:
    versions = {ReferralKey.parse(k): v for k, v in log["referrals"].items()}
    for case in view.cases.values():
        log["absorbed"].pop(case.case_id, None)
    for case_id in list(log["emitted"]):
        if case_id in view.cases:
            continue
        heir = next(k for k in versions if case_id_for(k) == case_id)
        into = view.member_of[heir]
        known = log["absorbed"].get(case_id)
        if known is not None and known["into"] == into:
            continue
        why = f"re-formed into {into} after event {cause}"
        log["absorbed"][case_id] = {"into": into, "why": why}
        snapshot = absorbed_snapshot(case_id, log["key"], into, why)
        log["emitted"][case_id] = digest(snapshot)
        snapshot["group_seq"] = log["seq"] + 1
        outcome.snapshots.append(snapshot)
    for case in view.cases.values():
        case_no = _case_number(log, case.members)
        if case_no is None and case.case_id not in log["requested"]:
            log["requested"].append(case.case_id)
            outcome.number_requests.append(
                {
                    "case_id": case.case_id,
                    "group": log["key"],
                    "district_code": case.district_code,
                    "year": case.opened_at.astimezone(SHANGHAI).year,
                }
            )
        squad = org.route(case.district_code, case.street_code)
        snapshot = case_snapshot(
            case,
            group_key=log["key"],
            squad_code=squad.code,
            case_no=case_no,
            versions=versions,
            absorbed=log["absorbed"],
        )
        snapshot["group_seq"] = log["seq"] + 1
        mark = digest({k: v for k, v in snapshot.items() if k != "group_seq"})
        if log["emitted"].get(case.case_id) != mark:
            log["emitted"][case.case_id] = mark
            outcome.snapshots.append(snapshot)


def _case_number(log: dict[str, Any], members: list[ReferralKey]) -> str | None:
    """A re-formed case keeps the earliest number any of its referrals' cases was given."""
    numbers = [log["numbers"][cid] for cid in map(case_id_for, members) if cid in log["numbers"]]
    return min(numbers) if numbers else None
