"""Step 3, forming a group's cases from its referrals, lifecycle events and payments,
replayed in event time (``form_cases`` directly, without the group's log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streams.cases.forming import Case, GroupView, _place, form_cases
from streams.cases.machine import State, Verdict
from streams.dedup.rules import case_id_for
from streams.events import Lifecycle, Payment, Referral, ReferralKey, content_hash, parse_event
from streams.policy import Policy
from tests.unit.factories import (
    at,
    by_case_id,
    decided,
    event,
    payment,
    referral,
    traffic_referral,
)

ZJ1, ZJ2, ZJ0 = (ReferralKey("HOUSING", f"ZJ-{n}") for n in (1, 2, 0))
A = case_id_for(ZJ1)  # C0317E7DCDF63
C = case_id_for(ZJ0)  # C4C43659B34CF
DECISION_NO = "株城执罚决字〔2022〕7号"  # noqa: RUF001 (decision numbers use these brackets)


def form(*records: dict[str, Any], policy: Policy | None = None) -> GroupView:
    """Form the cases of the given records, in whatever order they are given."""
    referrals: dict[ReferralKey, Referral] = {}
    lifecycle: dict[str, Lifecycle] = {}
    payments: dict[str, Payment] = {}
    for record in records:
        parsed = parse_event(record)
        if isinstance(parsed, Referral):
            referrals.setdefault(parsed.key, parsed)
        elif isinstance(parsed, Payment):
            payments[parsed.receipt_no] = parsed
        else:
            lifecycle[content_hash(record)] = parsed
    return form_cases(referrals, lifecycle, payments, policy or Policy())


def utc(day: int, hour: int = 1) -> datetime:
    """Day ``day`` of the scenarios (day 0 = 2022-03-01) at ``hour`` UTC."""
    return datetime(2022, 3, 1, hour, tzinfo=UTC) + timedelta(days=day)


def reasons(judgements: dict[str, Any]) -> list[str]:
    return sorted(j.reason for j in judgements.values())


def test_lifecycle_is_applied_in_event_time() -> None:
    """Given closing, feedback, decision and filing in reverse order, the case is CLOSED
    with each transition at its own time and the history in time order."""
    view = form(
        event("case_closed", at(40), "ZJ-1"),
        event("feedback_sent", at(25), "ZJ-1"),
        decided(at(20), "ZJ-1", 50_000),
        event("case_filed", at(5), "ZJ-1"),
        referral("ZJ-1", at(0)),
    )
    case = view.cases[A]
    assert case.state is State.CLOSED
    assert (case.opened_at, case.filed_at, case.decided_at, case.feedback_at, case.closed_at) == (
        utc(0),
        utc(5),
        utc(20),
        utc(25),
        utc(40),
    )
    assert [what for _, what, _ in case.history] == [
        "opened",
        "case_filed",
        "case_decided",
        "feedback_sent",
        "case_closed",
    ]
    assert view.pending == {} and view.conflicts == {}


def test_decision_dated_before_its_filing_waits() -> None:
    """A decision on day 3 for a case filed on day 5 finds the case OPEN at its time: it
    waits (an earlier filing may still come) and the case stays FILED."""
    view = form(
        referral("ZJ-1", at(0)), event("case_filed", at(5), "ZJ-1"), decided(at(3), "ZJ-1", 1)
    )
    assert view.cases[A].state is State.FILED
    [judgement] = view.pending.values()
    assert judgement.verdict is Verdict.WAIT
    assert "case_decided" in judgement.reason and "OPEN" in judgement.reason


def test_event_dated_before_its_referral_conflicts() -> None:
    """A filing on day 0 naming a referral of day 1 names a case that did not exist yet."""
    view = form(referral("ZJ-1", at(1)), event("case_filed", at(0), "ZJ-1"))
    assert view.cases[A].state is State.OPEN
    assert len(view.conflicts) == 1
    assert "HOUSING:ZJ-1" in reasons(view.conflicts)[0]


def test_event_naming_an_unknown_referral_conflicts() -> None:
    """A filing naming a referral the group does not hold is a conflict naming it."""
    view = form(referral("ZJ-1", at(0)), event("case_filed", at(1), "ZJ-9"))
    assert reasons(view.conflicts) == ["case_filed: no referral or case HOUSING:ZJ-9 is known"]


def test_filing_at_the_referral_instant_applies() -> None:
    """At one instant a referral comes before its filing, so filing at once works."""
    view = form(event("case_filed", at(0), "ZJ-1"), referral("ZJ-1", at(0)))
    assert view.cases[A].state is State.FILED and view.cases[A].filed_at == utc(0)


def test_closure_at_a_referral_instant_comes_first() -> None:
    """A closure and a referral at the same instant: the case is closed for the referral,
    which opens a case of its own."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_rejected", at(1), "ZJ-1", reason="重复移送"),
        event("case_closed", at(3), "ZJ-1"),
        referral("ZJ-2", at(3)),
    )
    assert view.member_of == {ZJ1: A, ZJ2: case_id_for(ZJ2)}


def test_decided_and_closed_at_one_instant_ends_closed() -> None:
    """A first violation exempted and the case closed at the same instant (systems that
    record the day only): the decision applies first, then the closure."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_filed", at(1), "ZJ-1"),
        event("case_closed", at(10), "ZJ-1"),
        decided(at(10), "ZJ-1", 0, tier="MINOR", exemption="FIRST_VIOLATION"),
        event("feedback_sent", at(10), "ZJ-1"),
    )
    case = view.cases[A]
    assert (case.state, case.decided_at, case.closed_at, case.feedback_at) == (
        State.CLOSED,
        utc(10),
        utc(10),
        utc(10),
    )
    assert view.pending == {} and view.conflicts == {}


def test_rejected_and_closed_at_one_instant_ends_closed() -> None:
    """Rejected and closed at the same instant: the case ends CLOSED, nothing waits."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_closed", at(1), "ZJ-1"),
        event("case_rejected", at(1), "ZJ-1", reason="不属于管辖范围"),
    )
    assert view.cases[A].state is State.CLOSED
    assert view.pending == {} and view.conflicts == {}


def test_filed_at_the_instant_a_referral_joins_applies_to_the_case() -> None:
    """ZJ-2 joins ZJ-1's case on day 3 at the instant a filing naming ZJ-2 is made: the
    referral is placed first, so the filing finds the case."""
    view = form(
        referral("ZJ-1", at(0)),
        referral("ZJ-2", at(3)),
        event("case_filed", at(3), "ZJ-2"),
    )
    assert view.cases[A].members == [ZJ1, ZJ2]
    assert view.cases[A].state is State.FILED and view.conflicts == {}


def test_earliest_feedback_counts() -> None:
    """Two feedbacks to the referring agency: the case keeps the earliest."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_rejected", at(2), "ZJ-1", reason="不属于管辖范围"),
        event("feedback_sent", at(9), "ZJ-1"),
        event("feedback_sent", at(4), "ZJ-1"),
    )
    assert view.cases[A].feedback_at == utc(4)
    assert view.conflicts == {} and view.pending == {}


def test_a_referral_earlier_than_a_case_re_forms_it() -> None:
    """ZJ-1 (day 40) and ZJ-2 (day 45) with ZJ-0 (day 15): ZJ-0 opens the case, ZJ-1
    joins at 25 days and ZJ-2 at exactly 30; a filing naming ZJ-1's case id applies to
    ZJ-0's case."""
    view = form(
        referral("ZJ-1", at(40)),
        referral("ZJ-2", at(45)),
        by_case_id(event("case_filed", at(41), "ZJ-1"), "ZJ-1"),
        referral("ZJ-0", at(15)),
    )
    assert list(view.cases) == [C]
    assert view.cases[C].members == [ZJ0, ZJ1, ZJ2]
    assert view.member_of == {ZJ0: C, ZJ1: C, ZJ2: C}
    assert view.cases[C].state is State.FILED and view.cases[C].filed_at == utc(41)


def test_payment_attaches_to_its_decision() -> None:
    """Payments naming the case's decision number are its receipts, whatever their
    order and even if one names the case through another referral of it."""
    view = form(
        referral("ZJ-1", at(0), category="MUCK_TRANSPORT"),
        traffic_referral("JJ-1", at(1), category="MUCK_TRANSPORT"),
        event("case_filed", at(2), "ZJ-1"),
        decided(at(10), "ZJ-1", 90_000, decision_no=DECISION_NO),
        payment("R-2", at(20), "JJ-1", 30_000, DECISION_NO, agency="TRAFFIC_POLICE"),
        payment("R-1", at(12), "ZJ-1", 60_000, DECISION_NO),
    )
    receipts = view.cases[A].receipts
    assert sorted((r.receipt_no, r.amount_fen, r.paid_at) for r in receipts) == [
        ("R-1", 60_000, utc(12)),
        ("R-2", 30_000, utc(20)),
    ]
    assert view.pending == {} and view.conflicts == {}


def test_payment_naming_another_decision_conflicts() -> None:
    """A payment naming decision D2 for a case decided as D1 is a conflict naming both."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_filed", at(2), "ZJ-1"),
        decided(at(10), "ZJ-1", 90_000, decision_no="D1"),
        payment("R-1", at(12), "ZJ-1", 90_000, decision_no="D2"),
    )
    assert view.cases[A].receipts == []
    assert reasons(view.conflicts) == ["payment R-1 names decision D2, the case was decided as D1"]


def test_payment_before_the_decision_waits() -> None:
    """A payment for a case still FILED waits for its decision."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_filed", at(2), "ZJ-1"),
        payment("R-1", at(12), "ZJ-1", 90_000),
    )
    assert reasons(view.pending) == ["payment R-1 waits for decision D1"]


def test_payment_for_a_rejected_case_conflicts() -> None:
    """A rejected case will never have a decision: a payment for it is a conflict."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_rejected", at(2), "ZJ-1", reason="不属于管辖范围"),
        payment("R-1", at(12), "ZJ-1", 90_000),
    )
    assert reasons(view.conflicts) == ["payment R-1 for a case REJECTED without a decision"]


def test_decision_major_follows_the_policy_threshold() -> None:
    """With a 1 000 yuan threshold, an unflagged 1 000 yuan decision is major."""
    view = form(
        referral("ZJ-1", at(0)),
        event("case_filed", at(2), "ZJ-1"),
        decided(at(10), "ZJ-1", 100_000),
        policy=Policy(major_threshold_fen=100_000),
    )
    decision = view.cases[A].decision
    assert decision is not None and decision.major is True and decision.amount_fen == 100_000


def test_the_most_recent_of_several_qualifying_cases_is_joined() -> None:
    """If two open cases of a group were both within the window, a referral would join the
    one whose first referral is the most recent (in a replay at most one case ever
    qualifies, so this is checked on a hand-built view)."""
    older = Case(
        case_id="CA", opened_at=utc(0), district_code="430203", street_code=None, members=[]
    )
    newer = Case(
        case_id="CB", opened_at=utc(5), district_code="430203", street_code=None, members=[]
    )
    view = GroupView(cases={"CA": older, "CB": newer}, member_of={}, pending={}, conflicts={})
    parsed = parse_event(referral("ZJ-9", at(10)))
    assert isinstance(parsed, Referral)
    _place(view, parsed, Policy())
    assert view.member_of[parsed.key] == "CB"
    assert older.members == [] and newer.members == [parsed.key]
