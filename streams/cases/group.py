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

from streams.cases.forming import GroupView, form_cases
from streams.cases.machine import Verdict
from streams.cases.snapshots import absorbed_snapshot, case_snapshot, digest
from streams.dedup.rules import Arrival, add_version, case_id_for
from streams.errors import InvalidTransition, Unmatched
from streams.events import (
    SHANGHAI,
    Lifecycle,
    Payment,
    Referral,
    ReferralKey,
    content_hash,
    parse_event,
)
from streams.organisation import Organisation
from streams.policy import Policy


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
    """Apply one message to a group's log; see the module docstring.

    A message that changes nothing re-sends what the log implies instead: it may be the
    redelivery of one whose table write reached the changelog while its sends were lost
    to a crash, and every receiver takes a repeat as a no-op.
    """
    log = copy.deepcopy(log) if log is not None else new_log(message["group"])
    outcome = Outcome()
    kind = message["type"]
    view: GroupView | None = None
    if kind == "event":
        changed = _record(log, message, outcome)
    elif kind == "numbered":
        changed = message["case_id"] not in log["numbers"]
        log["numbers"].setdefault(message["case_id"], message["case_no"])
    elif kind == "expire":
        deadline = message["now_ms"] - message["hold_ms"]
        view = _expire(log, policy, outcome, lambda e: e["received_ms"] < deadline, _HOLD_ENDED)
        changed = view is not None
    elif kind == "drain":
        view = _expire(log, policy, outcome, lambda e: True, _DRAINED)
        changed = view is not None
    else:
        raise ValueError(f"unknown group message type {kind!r}")
    if not changed:
        _resend(log, outcome, org, policy, everything=kind in ("event", "numbered"))
        return outcome
    # Expiring only marks unapplied events dead, so the cases formed before it stand.
    view = view or _form(log, policy)
    log["seq"] += 1
    _emit(log, view, org, outcome, message.get("event_id", kind))
    outcome.log = log
    return outcome


def _resend(
    log: dict[str, Any], outcome: Outcome, org: Organisation, policy: Policy, *, everything: bool
) -> None:
    outcome.dead_letters += [
        _dead(entry, _DEAD_CODES[entry.get("dead_code", InvalidTransition.code)](entry["dead"]))
        for entries in (log["events"], log["payments"])
        for entry in entries.values()
        if entry["dead"] is not None
    ]
    if not everything or log["seq"] == 0:
        return
    view = _form(log, policy)
    _emit(log, view, org, outcome, "resend", resend=True)


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


_DEAD_CODES = {error.code: error for error in (InvalidTransition, Unmatched)}
_HOLD_ENDED = "still waiting when the hold period ended"
_DRAINED = "still waiting when the input was drained"


def _expire(
    log: dict[str, Any],
    policy: Policy,
    outcome: Outcome,
    due: Callable[[dict[str, Any]], bool],
    why: str,
) -> GroupView | None:
    """Dead-letter the waiting and the conflicting events that ``due`` selects (judged on
    the current view); the view when there were any, else None.

    A conflict waits like a missing predecessor: until then a referral arriving late may
    re-form the cases so that the event's case is another one, where it applies, and the
    outcome must not depend on which of the two arrived first.
    """
    view = _form(log, policy)
    expired = False
    for key, judgement in {**view.pending, **view.conflicts}.items():
        entry = _entry(log, key)
        if not due(entry):
            continue
        error: InvalidTransition | Unmatched = (
            Unmatched(f"{judgement.reason}: {why}")
            if judgement.verdict is Verdict.WAIT
            else InvalidTransition(judgement.reason)
        )
        entry["dead"], entry["dead_code"] = error.reason, error.code
        outcome.dead_letters.append(_dead(entry, error))
        expired = True
    return view if expired else None


def _emit(
    log: dict[str, Any],
    view: GroupView,
    org: Organisation,
    outcome: Outcome,
    cause: str,
    *,
    resend: bool = False,
) -> None:
    """Snapshots of the cases that changed (all of them when resending), tombstones of
    the absorbed, and number requests for the unnumbered."""
    versions = {ReferralKey.parse(k): v for k, v in log["referrals"].items()}
    for case in view.cases.values():
        log["absorbed"].pop(case.case_id, None)
    for case_id in list(log["emitted"]):
        if case_id in view.cases:
            continue
        heir = next(k for k in versions if case_id_for(k) == case_id)
        into = view.member_of[heir]
        known = log["absorbed"].get(case_id)
        if known is not None and known["into"] == into and not resend:
            continue
        if known is None or known["into"] != into:
            why = f"re-formed into {into} after event {cause}"
            log["absorbed"][case_id] = {"into": into, "why": why}
        snapshot = absorbed_snapshot(case_id, log["key"], into, log["absorbed"][case_id]["why"])
        log["emitted"][case_id] = digest(snapshot)
        snapshot["group_seq"] = log["seq"]
        outcome.snapshots.append(snapshot)
    for case in view.cases.values():
        case_no = _case_number(log, case.members)
        if case_no is None and (resend or case.case_id not in log["requested"]):
            if case.case_id not in log["requested"]:
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
        snapshot["group_seq"] = log["seq"]
        mark = digest({k: v for k, v in snapshot.items() if k != "group_seq"})
        if resend or log["emitted"].get(case.case_id) != mark:
            log["emitted"][case.case_id] = mark
            outcome.snapshots.append(snapshot)


def _case_number(log: dict[str, Any], members: list[ReferralKey]) -> str | None:
    """A re-formed case keeps the earliest number any of its referrals' cases was given."""
    numbers = [log["numbers"][cid] for cid in map(case_id_for, members) if cid in log["numbers"]]
    return min(numbers) if numbers else None
