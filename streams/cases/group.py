"""One incident group and what each message does to it: the whole of steps 2-4.

A group holds every referral that could share a case with another (same party, category
and place) and every lifecycle event and payment naming them. Each message adds to the
group's entries and the cases are formed anew from them, so a redelivered message changes
nothing and a late one lands where its time puts it. The function is pure: the agent
stores ``Outcome.state`` and sends the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from streams.cases.forming import GroupView, form_cases
from streams.cases.machine import State, Verdict
from streams.cases.snapshots import absorbed_snapshot, case_snapshot, digest
from streams.cases.state import (
    Absorbed,
    GroupState,
    Held,
    LifecycleEntry,
    PaymentEntry,
    ReferralEntry,
    Refusal,
)
from streams.cases.tally import tally
from streams.deadletters.letters import Refused, WaitEnded
from streams.dedup.rules import Arrival, add_version, case_id_for
from streams.errors import InvalidTransition, Reason, Unmatched
from streams.events import (
    SHANGHAI,
    Payment,
    Referral,
    ReferralKey,
    content_hash,
    event_time,
    parse_event,
)
from streams.messages import Admitted, Numbered, NumberRequest, Tick, ToGroups, Withdraw
from streams.organisation import Organisation
from streams.policy import Policy


@dataclass
class Outcome:
    state: GroupState | None = None  # the state to store; None when nothing changed
    arrival: Arrival | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    number_requests: list[NumberRequest] = field(default_factory=list)
    withdrawals: list[Withdraw] = field(default_factory=list)


def accept(
    state: GroupState | None,
    message: ToGroups,
    key: str,
    partition: int,
    org: Organisation,
    policy: Policy,
) -> Outcome:
    """Apply one message to a group's state; see the module docstring.

    A message that changes nothing re-sends what the state implies instead: it may be the
    redelivery of one whose table write reached the changelog while its sends were lost to
    a crash, and every receiver takes a repeat as a no-op.
    """
    new = (state or GroupState(key=key, partition=partition)).evolve()
    outcome = Outcome()
    view: GroupView | None = None
    cause = "drain"
    if isinstance(message, Admitted):
        changed, cause = _record(new, message, outcome), message.event_id
    elif isinstance(message, Numbered):
        changed, cause = message.case_id not in new.numbers, "numbered"
        new.numbers.setdefault(message.case_id, message.case_no)
    elif message.kind == "expire":
        deadline = message.now_ms - message.hold_ms
        view = _expire(new, policy, outcome, lambda h: h.received_ms < deadline, WaitEnded.HOLD)
        changed, cause = view is not None, "expire"
    elif message.kind == "drain":
        view = _expire(new, policy, outcome, lambda h: True, WaitEnded.DRAINED)
        changed = view is not None
    else:
        raise ValueError(f"a {message.kind!r} tick is the agent's, not the group's")
    if not changed:
        _resend(new, outcome, org, policy, everything=not isinstance(message, Tick))
        return outcome
    # Expiring only marks unapplied events refused, so the cases formed before it stand.
    view = view or _form(new, policy)
    new.seq += 1
    _emit(new, view, org, outcome, cause)
    _derive(new, view, policy)
    outcome.state = new
    return outcome


def _resend(
    state: GroupState, outcome: Outcome, org: Organisation, policy: Policy, *, everything: bool
) -> None:
    outcome.refused += [
        Refused(held.event_id, Reason(refusal.code), refusal.reason, held.source, record, True)
        for held, record in _held(state)
        if (refusal := held.refused) is not None
    ]
    if not everything or state.seq == 0:
        return
    _emit(state, _form(state, policy), org, outcome, "resend", resend=True)


def _record(state: GroupState, message: Admitted, outcome: Outcome) -> bool:
    """Add the event to the state; False when the state already had it."""
    event = parse_event(message.record)
    state.newest = max(state.newest or event_time(event), event_time(event))
    held = Held(message.event_id, message.source, message.received_ms)
    if isinstance(event, Referral):
        name = str(event.key)
        known = state.referrals.get(name)
        arrival, versions = add_version(
            known.versions if known else (), message.record, message.event_id
        )
        outcome.arrival = arrival
        if arrival is Arrival.REDELIVERY:
            return False
        state.referrals[name] = ReferralEntry(known.first if known else event, versions)
        return True
    if isinstance(event, Payment):
        paid = state.payments.get(event.receipt_no)
        if paid is None:
            state.payments[event.receipt_no] = PaymentEntry(event, held)
            return True
        if content_hash(paid.event.record) != content_hash(message.record):
            reason = f"receipt {event.receipt_no} already recorded with different content"
            outcome.refused.append(
                Refused.of(Unmatched(reason), message.event_id, message.source, message.record)
            )
        return False
    digest_ = content_hash(message.record)
    if digest_ in state.lifecycle:
        return False
    state.lifecycle[digest_] = LifecycleEntry(event, held)
    return True


def _form(state: GroupState, policy: Policy) -> GroupView:
    return form_cases(
        {entry.first.key: entry.first for entry in state.referrals.values()},
        {k: e.event for k, e in state.lifecycle.items() if e.held.refused is None},
        {k: e.event for k, e in state.payments.items() if e.held.refused is None},
        policy,
    )


def _expire(
    state: GroupState,
    policy: Policy,
    outcome: Outcome,
    due: Callable[[Held], bool],
    why: WaitEnded,
) -> GroupView | None:
    """Refuse the waiting and the conflicting events that ``due`` selects (judged on the
    current view); the view when there were any, else None.

    A conflict waits like a missing predecessor: until then a referral arriving late may
    re-form the cases so that the event's case is another one, where it applies, and the
    outcome must not depend on which of the two arrived first.
    """
    view = _form(state, policy)
    expired = False
    for key, judgement in {**view.pending, **view.conflicts}.items():
        entry: LifecycleEntry | PaymentEntry = state.lifecycle.get(key) or state.payments[key]
        if not due(entry.held):
            continue
        error: InvalidTransition | Unmatched = (
            Unmatched(f"{judgement.reason}: still waiting when {why}")
            if judgement.verdict is Verdict.WAIT
            else InvalidTransition(judgement.reason)
        )
        refused = msgspec.structs.replace(entry.held, refused=Refusal(error.code, error.reason))
        if isinstance(entry, LifecycleEntry):
            state.lifecycle[key] = LifecycleEntry(entry.event, refused)
        else:
            state.payments[key] = PaymentEntry(entry.event, refused)
        outcome.refused.append(
            Refused.of(error, entry.held.event_id, entry.held.source, entry.event.record)
        )
        expired = True
    return view if expired else None


def _emit(
    state: GroupState,
    view: GroupView,
    org: Organisation,
    outcome: Outcome,
    cause: str,
    *,
    resend: bool = False,
) -> None:
    """Snapshots of the cases that changed (all of them when resending), tombstones of
    the absorbed, and number requests for the unnumbered."""
    versions = {entry.first.key: entry.versions for entry in state.referrals.values()}
    for case in view.cases.values():
        state.absorbed.pop(case.case_id, None)
    for case_id in list(state.emitted):
        if case_id in view.cases:
            continue
        heir = next(k for k in versions if case_id_for(k) == case_id)
        into = view.member_of[heir]
        known = state.absorbed.get(case_id)
        if known is not None and known.into == into and not resend:
            continue
        if known is None or known.into != into:
            state.absorbed[case_id] = Absorbed(into, f"re-formed into {into} after event {cause}")
        snapshot = absorbed_snapshot(case_id, state.key, into, state.absorbed[case_id].why)
        state.emitted[case_id] = digest(snapshot)
        snapshot["group_seq"] = state.seq
        outcome.snapshots.append(snapshot)
    needed = {c.case_id for c in view.cases.values() if _case_number(state, c.members) is None}
    _withdraw(state, needed, outcome, resend=resend)
    for case in view.cases.values():
        case_no = _case_number(state, case.members)
        if case_no is None and (resend or case.case_id not in state.requested):
            state.requested[case.case_id] = case.district_code
            state.withdrawn.pop(case.case_id, None)
            outcome.number_requests.append(
                NumberRequest(
                    case_id=case.case_id,
                    group=state.key,
                    district_code=case.district_code,
                    year=case.opened_at.astimezone(SHANGHAI).year,
                    opened_at=case.opened_at,
                )
            )
        squad = org.route(case.district_code, case.street_code)
        snapshot = case_snapshot(
            case,
            group_key=state.key,
            squad_code=squad.code,
            case_no=case_no,
            versions=versions,
            absorbed=state.absorbed,
        )
        mark = digest(snapshot)
        snapshot["group_seq"] = state.seq
        if resend or state.emitted.get(case.case_id) != mark:
            state.emitted[case.case_id] = mark
            outcome.snapshots.append(snapshot)


def _withdraw(state: GroupState, needed: set[str], outcome: Outcome, *, resend: bool) -> None:
    """Requests no case needs any more — their case was absorbed, or got the number of
    another case it absorbed — are withdrawn before they are answered, so they do not
    take a number; a withdrawal is sent again with everything else on a resend."""
    for case_id, district in list(state.requested.items()):
        if case_id not in state.numbers and case_id not in needed:
            del state.requested[case_id]
            state.withdrawn[case_id] = district
            outcome.withdrawals.append(Withdraw(case_id, district))
    if resend:
        outcome.withdrawals += [
            Withdraw(case_id, district)
            for case_id, district in state.withdrawn.items()
            if case_id not in state.numbers
        ]


def _derive(state: GroupState, view: GroupView, policy: Policy) -> None:
    """What the agent's indexes read without forming: since when something waits, and
    from when the group can leave memory (all its cases closed, and no referral within
    the merge window of its last can join them any more)."""
    waiting = [
        entry.held.received_ms
        for key in (*view.pending, *view.conflicts)
        if (entry := state.lifecycle.get(key) or state.payments.get(key)) is not None
        and entry.held.refused is None
    ]
    state.waiting_since_ms = min(waiting) if waiting else None
    state.refusals = sum(held.refused is not None for held, _ in _held(state))
    state.tally = tally(view, (entry.versions for entry in state.referrals.values()))
    closed = bool(view.cases) and all(c.state is State.CLOSED for c in view.cases.values())
    if waiting or not closed:
        state.retire_after = None
        return
    last = max(entry.first.referred_at for entry in state.referrals.values())
    state.retire_after = last + policy.merge_window


def _held(state: GroupState) -> list[tuple[Held, Mapping[str, Any]]]:
    """How each lifecycle event and payment arrived, with its record."""
    return [(e.held, e.event.record) for e in state.lifecycle.values()] + [
        (e.held, e.event.record) for e in state.payments.values()
    ]


def _case_number(state: GroupState, members: list[ReferralKey]) -> str | None:
    """A re-formed case keeps the earliest number any of its referrals' cases was given."""
    numbers = [state.numbers[cid] for cid in map(case_id_for, members) if cid in state.numbers]
    return min(numbers) if numbers else None
