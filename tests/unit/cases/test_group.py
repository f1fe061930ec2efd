"""Steps 2-4 through one incident group's log (``accept``): re-forming when a referral is
late, events waiting for what they need, dead letters. Case numbers are in
test_group_numbers.py, the independence from arrival order in test_group_order.py."""

from __future__ import annotations

import itertools
from typing import Any

from tests.unit.factories import (
    Flow,
    Group,
    at,
    by_case_id,
    decided,
    event,
    payment,
    referral,
)

# case ids, C + the first 12 hex digits of SHA-256("HOUSING:ZJ-n"), upper case
ZJ0, ZJ1, ZJ2, ZJ3 = "C4C43659B34CF", "C0317E7DCDF63", "C5354A5F8BFAB", "CCE623C5D1472"


def members(snapshot: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(r["referral_id"], r["opened_case"]) for r in snapshot["referrals"]]


# ------------------------------------------------------------------ a late referral


def test_late_referral_re_forms_the_case_and_leaves_a_tombstone() -> None:
    """ZJ-1 (day 40) and ZJ-2 (day 45) form case ZJ1, filed by its case id; ZJ-0 (day
    15) then arrives: ZJ0 becomes the case of all three (ZJ-2 at exactly 30 days), ZJ1
    becomes a MERGED tombstone pointing to it, and the filing follows to ZJ0."""
    g = Group()
    g.send(referral("ZJ-1", at(40)))
    g.send(referral("ZJ-2", at(45)))
    g.send(by_case_id(event("case_filed", at(41), "ZJ-1"), "ZJ-1"))
    assert members(g.snapshots[ZJ1]) == [("ZJ-1", True), ("ZJ-2", False)]
    g.send(referral("ZJ-0", at(15)), "t/0/99")

    tombstone = {k: v for k, v in g.snapshots[ZJ1].items() if k != "group_seq"}
    assert tombstone == {
        "case_id": ZJ1,
        "case_no": None,
        "group_key": g.key,
        "state": "MERGED",
        "merged_into": ZJ0,
        "district_code": None,
        "squad_code": None,
        "street_code": None,
        "agency": None,
        "category": None,
        "opened_at": None,
        "filed_at": None,
        "rejected_at": None,
        "decided_at": None,
        "feedback_at": None,
        "closed_at": None,
        "decision": None,
        "payments": [],
        "decided_fen": 0,
        "collected_fen": 0,
        "outstanding_fen": 0,
        "overpaid_fen": 0,
        "referrals": [],
        "history": [
            {"at": None, "what": "absorbed", "detail": f"re-formed into {ZJ0} after event t/0/99"}
        ],
    }
    [heir] = g.live()
    assert heir["case_id"] == ZJ0
    assert members(heir) == [("ZJ-0", True), ("ZJ-1", False), ("ZJ-2", False)]
    assert (heir["state"], heir["opened_at"], heir["filed_at"]) == (
        "FILED",
        "2022-03-16T01:00:00+00:00",
        "2022-04-11T01:00:00+00:00",
    )
    assert heir["history"][-1] == {
        "at": None,
        "what": "absorbed",
        "detail": f"case {ZJ1}: re-formed into {ZJ0} after event t/0/99",
    }
    assert g.dead == {}


def test_events_naming_the_absorbed_case_apply_to_its_heir() -> None:
    """After the re-forming, a decision naming the old case id and a payment naming ZJ-2
    both land on the heir; the tombstone is not sent again."""
    g = Group()
    g.send(referral("ZJ-1", at(40)))
    g.send(referral("ZJ-2", at(45)))
    g.send(event("case_filed", at(41), "ZJ-1"))
    g.send(referral("ZJ-0", at(15)))
    outcome = g.send(by_case_id(decided(at(50), "ZJ-1", 80_000), "ZJ-1"))
    assert [s["case_id"] for s in outcome.snapshots] == [ZJ0]
    g.send(payment("R-1", at(55), "ZJ-2", 80_000))
    heir = g.snapshots[ZJ0]
    assert heir["state"] == "DECIDED" and heir["decided_at"] == "2022-04-20T01:00:00+00:00"
    assert (heir["decided_fen"], heir["collected_fen"], heir["outstanding_fen"]) == (
        80_000,
        80_000,
        0,
    )
    assert g.snapshots[ZJ1]["state"] == "MERGED"
    assert g.dead == {}


def test_late_referral_can_split_a_case() -> None:
    """O (day 10) with X (day 35), and Y (day 50) alone; V (day 0) then arrives: O joins
    V, X is now 35 days after V and opens a case that Y (15 days later) joins, so O's
    case is absorbed into V's and Y's into X's."""
    v, o, x, y = "CCAB47E73887B", "C3BC3DF0D1167", "C7BF78DC44398", "CBEE2C365915E"
    g = Group()
    for referral_id, day in (("O", 10), ("X", 35), ("Y", 50)):
        g.send(referral(referral_id, at(day)))
    assert [members(s) for s in g.live()] == [[("O", True), ("X", False)], [("Y", True)]]
    g.send(referral("V", at(0)))
    assert [(s["case_id"], members(s)) for s in g.live()] == [
        (v, [("V", True), ("O", False)]),
        (x, [("X", True), ("Y", False)]),
    ]
    assert (g.snapshots[o]["state"], g.snapshots[o]["merged_into"]) == ("MERGED", v)
    assert (g.snapshots[y]["state"], g.snapshots[y]["merged_into"]) == ("MERGED", x)


# ------------------------------------------------------------------ waiting


def test_decision_arriving_before_the_filing_waits_for_it() -> None:
    """A decision that arrives while its case is OPEN is neither applied nor dead-lettered;
    when the (earlier) filing arrives, both apply."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(decided(at(20), "ZJ-1", 10_000))
    assert g.case_of("ZJ-1")["state"] == "OPEN" and g.dead == {}
    g.send(event("case_filed", at(5), "ZJ-1"))
    case = g.case_of("ZJ-1")
    assert case["state"] == "DECIDED" and case["decided_fen"] == 10_000
    assert g.dead == {}


def test_payment_arriving_before_its_decision_waits_for_it() -> None:
    """A payment for a case not yet decided is applied once the decision arrives."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(5), "ZJ-1"))
    g.send(payment("R-1", at(25), "ZJ-1", 10_000))
    assert g.case_of("ZJ-1")["collected_fen"] == 0
    g.send(decided(at(20), "ZJ-1", 10_000))
    case = g.case_of("ZJ-1")
    assert (case["collected_fen"], case["outstanding_fen"]) == (10_000, 0)
    assert g.drain().refused == [] and g.dead == {}


def test_payment_whose_decision_never_comes_is_unmatched_at_drain() -> None:
    """A payment still waiting for its decision when the input is drained is dead-lettered
    `unmatched`, naming the receipt and the decision it waited for; the case is unchanged."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(5), "ZJ-1"))
    g.send(payment("R-1", at(25), "ZJ-1", 10_000), "t/6/1")
    assert g.dead == {}
    g.drain()
    assert g.errors() == {"t/6/1": "unmatched"}
    reason = g.dead["t/6/1"]["reason"]
    assert "R-1" in reason and "D1" in reason and "drained" in reason
    assert g.case_of("ZJ-1")["collected_fen"] == 0
    # a dead letter is final: the decision arriving afterwards does not revive it
    g.send(decided(at(20), "ZJ-1", 10_000))
    assert g.case_of("ZJ-1")["collected_fen"] == 0


def test_lifecycle_event_still_waiting_at_drain_is_unmatched() -> None:
    """A closing for a case that was never decided waits, then is `unmatched` at drain."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_closed", at(30), "ZJ-1"), "t/4/1")
    g.drain()
    assert g.errors() == {"t/4/1": "unmatched"}
    assert g.case_of("ZJ-1")["state"] == "OPEN"


def test_the_hold_period_ends_only_for_what_waited_long_enough() -> None:
    """With a 3 s hold at 5 s, a payment received at 1 s is dead-lettered and one received
    at 4 s keeps waiting and applies when its decision comes."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(5), "ZJ-1"))
    g.send(payment("R-1", at(25), "ZJ-1", 4_000), "t/6/1", received_ms=1_000)
    g.send(payment("R-2", at(26), "ZJ-1", 6_000), "t/6/2", received_ms=4_000)
    g.expire(now_ms=5_000, hold_ms=3_000)
    assert g.errors() == {"t/6/1": "unmatched"}
    assert "hold period" in g.dead["t/6/1"]["reason"]
    g.send(decided(at(20), "ZJ-1", 10_000))
    assert [p["receipt_no"] for p in g.case_of("ZJ-1")["payments"]] == ["R-2"]


# ------------------------------------------------------------------ invalid transitions


def test_filing_a_rejected_case_is_an_invalid_transition() -> None:
    """A filing after the case was rejected is never applied (the case stays REJECTED,
    with no filing time) and is dead-lettered `invalid_transition` when the wait ends."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(2), "ZJ-1", reason="不属于管辖范围"))
    before = g.case_of("ZJ-1")
    g.send(event("case_filed", at(3), "ZJ-1"), "t/4/9")
    outcome = g.drain()
    assert [(d.event_id, d.code) for d in outcome.refused] == [("t/4/9", "invalid_transition")]
    assert "case_filed" in g.dead["t/4/9"]["reason"] and "REJECTED" in g.dead["t/4/9"]["reason"]
    after = g.case_of("ZJ-1")
    assert (after["state"], after["filed_at"]) == ("REJECTED", None)
    assert {k: v for k, v in after.items() if k != "group_seq"} == {
        k: v for k, v in before.items() if k != "group_seq"
    }


def test_deciding_twice_is_an_invalid_transition() -> None:
    """A second decision is dead-lettered; the first stays, with its number and amount."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(2), "ZJ-1"))
    g.send(decided(at(10), "ZJ-1", 50_000, "D1"))
    g.send(decided(at(12), "ZJ-1", 70_000, "D2"), "t/3/2")
    g.drain()
    assert g.errors() == {"t/3/2": "invalid_transition"}
    case = g.case_of("ZJ-1")
    assert case["decision"]["decision_no"] == "D1" and case["decided_fen"] == 50_000
    assert case["decided_at"] == "2022-03-11T01:00:00+00:00"


def test_the_earlier_of_two_decisions_wins_whatever_arrives_first() -> None:
    """Deciding twice, the later-dated decision is the invalid one even when it arrived
    first (and was applied until the earlier one came)."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(2), "ZJ-1"))
    g.send(decided(at(12), "ZJ-1", 70_000, "D2"), "t/3/2")
    assert g.case_of("ZJ-1")["decided_fen"] == 70_000
    g.send(decided(at(10), "ZJ-1", 50_000, "D1"), "t/3/1")
    assert g.case_of("ZJ-1")["decision"]["decision_no"] == "D1"
    g.drain()
    assert g.errors() == {"t/3/2": "invalid_transition"}


def test_closing_a_closed_case_and_deciding_a_rejected_one_are_invalid() -> None:
    """Deciding a REJECTED case and closing it a second time are both dead-lettered."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(2), "ZJ-1", reason="证据不足"))
    g.send(event("case_closed", at(3), "ZJ-1"))
    g.send(decided(at(4), "ZJ-1", 1_000), "t/3/1")
    g.send(event("case_closed", at(5), "ZJ-1"), "t/5/2")
    g.drain()
    assert g.errors() == {"t/3/1": "invalid_transition", "t/5/2": "invalid_transition"}
    case = g.case_of("ZJ-1")
    assert (case["state"], case["closed_at"], case["decision"]) == (
        "CLOSED",
        "2022-03-04T01:00:00+00:00",
        None,
    )


def test_an_invalid_transition_is_dead_lettered_when_its_hold_ends() -> None:
    """With a 3 s hold at 5 s, a conflicting filing received at 1 s is dead-lettered and
    one received at 4 s is not yet; neither is applied, and a dead letter is final."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(2), "ZJ-1", reason="证据不足"))
    g.send(event("case_filed", at(3), "ZJ-1"), "t/4/1", received_ms=1_000)
    g.send(event("case_filed", at(4), "ZJ-1"), "t/4/2", received_ms=4_000)
    assert g.dead == {}
    g.expire(now_ms=5_000, hold_ms=3_000)
    assert g.errors() == {"t/4/1": "invalid_transition"}
    g.expire(now_ms=8_000, hold_ms=3_000)
    assert g.errors() == {"t/4/1": "invalid_transition", "t/4/2": "invalid_transition"}
    g.send(event("case_filed", at(3), "ZJ-1"), "t/4/3")  # the same filing again
    assert g.case_of("ZJ-1")["state"] == "REJECTED"


def test_a_late_referral_can_make_a_conflicting_event_valid() -> None:
    """O (day 10) and R (day 35) are one case until V (day 0) arrives and takes O, leaving
    R alone: R's own filing (day 36) conflicted meanwhile with O's (day 12), and ends
    applied to R's case, as if V had come first."""
    records = [
        ("ref/V", referral("V", at(0))),
        ("ref/O", referral("O", at(10))),
        ("ref/R", referral("R", at(35))),
        ("case/O", event("case_filed", at(12), "O")),
        ("case/R", event("case_filed", at(36), "R")),
    ]
    for order in (records, records[1:] + records[:1]):
        flow = Flow()
        for event_id, record in order:
            flow.send(record, event_id)
        flow.drain()
        assert [(members(s), s["state"]) for s in flow.live()] == [
            ([("V", True), ("O", False)], "FILED"),
            ([("R", True)], "FILED"),
        ]
        assert flow.dead == {}


def test_contradictory_events_end_the_same_in_any_order() -> None:
    """Filed on day 1, rejected on day 3, decided on day 5: in event time the filing wins,
    so the rejection is the invalid one and the case ends DECIDED, whatever the order the
    three arrive in."""
    records = [
        ("case/f", event("case_filed", at(1), "ZJ-1")),
        ("case/r", event("case_rejected", at(3), "ZJ-1", reason="证据不足")),
        ("case/d", decided(at(5), "ZJ-1", 9_000)),
    ]
    for order in itertools.permutations(records):
        g = Group()
        g.send(referral("ZJ-1", at(0)))
        for event_id, record in order:
            g.send(record, event_id)
        g.drain()
        assert g.case_of("ZJ-1")["state"] == "DECIDED", order
        assert g.errors() == {"case/r": "invalid_transition"}, order


def test_decided_and_closed_at_one_instant_closes_in_any_arrival_order() -> None:
    """A case decided and closed at the same instant ends CLOSED with no dead letter,
    whichever of the two arrives first."""
    for first, second in itertools.permutations(
        [decided(at(10), "ZJ-1", 20_000), event("case_closed", at(10), "ZJ-1")]
    ):
        g = Group()
        g.send(referral("ZJ-1", at(0)))
        g.send(event("case_filed", at(1), "ZJ-1"))
        g.send(first)
        g.send(second)
        g.drain()
        case = g.case_of("ZJ-1")
        assert (case["state"], case["decided_at"], case["closed_at"]) == (
            "CLOSED",
            "2022-03-11T01:00:00+00:00",
            "2022-03-11T01:00:00+00:00",
        )
        assert g.dead == {}


def test_a_lifecycle_event_seen_twice_is_one() -> None:
    """The same filing published again (another Kafka record) changes nothing and is not
    a second filing."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_filed", at(2), "ZJ-1"), "t/4/1")
    outcome = g.send(event("case_filed", at(2), "ZJ-1"), "t/4/2")
    assert outcome.state is None and g.dead == {}
    assert g.case_of("ZJ-1")["state"] == "FILED"


# ------------------------------------------------------------------ case numbers
