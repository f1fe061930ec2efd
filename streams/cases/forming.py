"""Step 3, open cases: form a group's cases from everything it has received.

The cases are a pure function of the group's events, replayed in event time, so the
outcome does not depend on the order in which topics were consumed: an event that arrives
late is simply placed where its time puts it and the group is formed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from streams.cases.machine import State, Verdict, judge, next_state
from streams.dedup.rules import case_id_for, joins
from streams.events import SHANGHAI, Lifecycle, Payment, Referral, ReferralKey
from streams.ledger.rules import Decision, Receipt, decision_from
from streams.policy import Policy

# At one instant the lifecycle of the cases that already exist comes first (a case closed
# at T is closed for a referral at T), then the referrals, then the lifecycle of the cases
# they open or join; lifecycle events in their natural order, so that a case decided (or
# rejected) and closed at the same instant ends closed.
_EXISTING, _REFERRALS, _NEW = 0, 1, 2
_RANK = {
    "case_filed": 0,
    "case_rejected": 0,
    "case_decided": 1,
    "feedback_sent": 2,
    "case_closed": 3,
}


@dataclass
class Case:
    case_id: str
    opened_at: datetime
    district_code: str
    street_code: str | None
    members: list[ReferralKey]
    state: State = State.OPEN
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    decided_at: datetime | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    decision: Decision | None = None
    receipts: list[Receipt] = field(default_factory=list)
    history: list[tuple[datetime, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


@dataclass
class GroupView:
    cases: dict[str, Case]
    member_of: dict[ReferralKey, str]
    # event key (lifecycle content hash or receipt number) -> judgement when not applied
    pending: dict[str, Judgement]
    conflicts: dict[str, Judgement]


def form_cases(
    referrals: Mapping[ReferralKey, Referral],
    lifecycle: Mapping[str, Lifecycle],
    payments: Mapping[str, Payment],
    policy: Policy,
) -> GroupView:
    """Form the cases of one group; ``referrals`` holds each referral's first version."""
    view = GroupView(cases={}, member_of={}, pending={}, conflicts={})
    opener = {case_id_for(key): key for key in referrals}
    timeline: list[tuple[datetime, int, int, str, str]] = [
        (r.referred_at, _REFERRALS, 0, str(k), "") for k, r in referrals.items()
    ]
    timeline += [
        (e.at, _phase(e, referrals, opener), _RANK[e.kind], h, h) for h, e in lifecycle.items()
    ]
    for _, _, _, name, event_key in sorted(timeline):
        if event_key:
            _apply(view, event_key, lifecycle[event_key], opener, policy)
        else:
            key = ReferralKey.parse(name)
            _place(view, referrals[key], policy)
    for receipt_no, payment in sorted(payments.items()):
        _pay(view, receipt_no, payment, opener)
    return view


def _phase(
    event: Lifecycle, referrals: Mapping[ReferralKey, Referral], opener: Mapping[str, ReferralKey]
) -> int:
    """Whether, at its instant, the event comes before the referrals (the referral it
    names is older) or after them."""
    key = _named(event, opener)
    named = referrals.get(key) if key is not None else None
    return _EXISTING if named is not None and named.referred_at < event.at else _NEW


def _place(view: GroupView, referral: Referral, policy: Policy) -> None:
    at = referral.referred_at
    if referral.party_id_hash is not None:
        candidates = [
            c
            for c in view.cases.values()
            if joins(c.opened_at, c.closed_at, at, policy.merge_window)
        ]
        if candidates:
            case = max(candidates, key=lambda c: (c.opened_at, c.case_id))
            case.members.append(referral.key)
            case.history.append((at, "merged", f"referral {referral.key} joined"))
            view.member_of[referral.key] = case.case_id
            return
    case_id = case_id_for(referral.key)
    view.cases[case_id] = Case(
        case_id=case_id,
        opened_at=at,
        district_code=referral.district_code,
        street_code=referral.street_code,
        members=[referral.key],
        history=[(at, "opened", f"referral {referral.key}")],
    )
    view.member_of[referral.key] = case_id


def _named(event: Lifecycle | Payment, opener: Mapping[str, ReferralKey]) -> ReferralKey | None:
    """The referral the event names, directly or by the case id it opened."""
    ref = event.ref
    return ref.referral if ref.referral is not None else opener.get(ref.case_id or "")


def _case_of(
    view: GroupView, event: Lifecycle | Payment, opener: Mapping[str, ReferralKey]
) -> Case | str:
    """The case the event names, or the reason none can be found."""
    ref = event.ref
    key = _named(event, opener)
    if key is None or case_id_for(key) not in opener:
        return f"no referral or case {ref} is known"
    case_id = view.member_of.get(key)
    if case_id is None:
        return f"names {ref}, whose referral is dated after the event"
    return view.cases[case_id]


def _apply(
    view: GroupView,
    event_key: str,
    event: Lifecycle,
    opener: Mapping[str, ReferralKey],
    policy: Policy,
) -> None:
    case = _case_of(view, event, opener)
    if isinstance(case, str):
        view.conflicts[event_key] = Judgement(Verdict.CONFLICT, f"{event.kind}: {case}")
        return
    verdict = judge(case.state, event.kind)
    if verdict is not Verdict.APPLY:
        when = event.at.astimezone(SHANGHAI).isoformat()
        reason = f"{event.kind} at {when} on a case {case.state.value}"
        target = view.pending if verdict is Verdict.WAIT else view.conflicts
        target[event_key] = Judgement(verdict, reason)
        return
    case.state = next_state(case.state, event.kind)
    record, at = event.record, event.at
    if event.kind == "case_filed":
        case.filed_at = at
    elif event.kind == "case_rejected":
        case.rejected_at = at
    elif event.kind == "case_decided":
        case.decided_at = at
        case.decision = decision_from(record, policy.major_threshold_fen)
    elif event.kind == "feedback_sent":
        case.feedback_at = at if case.feedback_at is None else min(case.feedback_at, at)
    elif event.kind == "case_closed":
        case.closed_at = at
    case.history.append((at, event.kind, str(record.get("reason") or "")))


def _pay(
    view: GroupView, receipt_no: str, payment: Payment, opener: Mapping[str, ReferralKey]
) -> None:
    case = _case_of(view, payment, opener)
    if isinstance(case, str):
        view.conflicts[receipt_no] = Judgement(Verdict.CONFLICT, f"payment: {case}")
        return
    decision = case.decision
    if decision is None:
        if case.state in (State.OPEN, State.FILED):
            view.pending[receipt_no] = Judgement(
                Verdict.WAIT, f"payment {receipt_no} waits for decision {payment.decision_no}"
            )
        else:
            view.conflicts[receipt_no] = Judgement(
                Verdict.CONFLICT,
                f"payment {receipt_no} for a case {case.state.value} without a decision",
            )
        return
    if decision.decision_no != payment.decision_no:
        view.conflicts[receipt_no] = Judgement(
            Verdict.CONFLICT,
            f"payment {receipt_no} names decision {payment.decision_no}, "
            f"the case was decided as {decision.decision_no}",
        )
        return
    case.receipts.append(Receipt(receipt_no, payment.paid_at, payment.amount_fen))
