"""One incident group's cases do not depend on the order its events arrive in: a worked
scenario in every order hypothesis tries, every order of a small one, and generated
incidents checked against the merging rule."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.dedup.rules import case_id_for
from streams.events import ReferralKey
from tests.unit.factories import (
    Flow,
    at,
    by_case_id,
    decided,
    environment_referral,
    event,
    payment,
    referral,
    traffic_referral,
)

# case ids, C + the first 12 hex digits of SHA-256("HOUSING:ZJ-n"), upper case
ZJ0, ZJ1, ZJ2, ZJ3 = "C4C43659B34CF", "C0317E7DCDF63", "C5354A5F8BFAB", "CCE623C5D1472"


def _scenario() -> list[tuple[str, dict[str, Any]]]:
    """One incident as (event id, record), in publication order: ZJ-0 (day -10) opens
    the case; ZJ-1 (day 0, amended, and once published twice) and traffic JJ-2 (day 3)
    join it; filed by ZJ-1's case id, decided naming JJ-2, two instalments naming ZJ-0,
    feedback, closed."""
    muck = {"category": "MUCK_TRANSPORT"}
    return [
        ("ref/0", referral("ZJ-0", at(-10), **muck)),
        ("ref/1", referral("ZJ-1", at(0), **muck)),
        ("ref/2", referral("ZJ-1", at(0), description="已扩建至三层", **muck)),
        ("ref/3", referral("ZJ-1", at(0), **muck)),
        ("ref/4", traffic_referral("JJ-2", at(3), **muck)),
        ("case/1", by_case_id(event("case_filed", at(5), "ZJ-1"), "ZJ-1")),
        (
            "case/2",
            decided(at(20), "JJ-2", 400_000, agency="TRAFFIC_POLICE", tier="SERIOUS"),
        ),
        ("case/3", event("feedback_sent", at(21), "ZJ-1")),
        ("case/4", event("case_closed", at(35), "ZJ-0")),
        ("pay/1", payment("R-1", at(25), "ZJ-0", 150_000)),
        ("pay/2", payment("R-2", at(30), "ZJ-0", 250_000)),
    ]


# what the scenario must give, whatever the order (days -10, 5, 20, 21, 35 from 2022-03-01)
EXPECTED = {
    "case_id": ZJ0,
    "case_no": "430203-2022-0001",
    "state": "CLOSED",
    "agency": "HOUSING",
    "category": "MUCK_TRANSPORT",
    "squad_code": "430203-01",
    "opened_at": "2022-02-19T01:00:00+00:00",
    "filed_at": "2022-03-06T01:00:00+00:00",
    "decided_at": "2022-03-21T01:00:00+00:00",
    "feedback_at": "2022-03-22T01:00:00+00:00",
    "closed_at": "2022-04-05T01:00:00+00:00",
    "decided_fen": 400_000,
    "collected_fen": 400_000,
    "outstanding_fen": 0,
    "overpaid_fen": 0,
}


def _run(order: list[tuple[str, dict[str, Any]]]) -> Flow:
    flow = Flow(numbering=True)
    for event_id, record in order:
        flow.send(record, event_id)
    flow.drain()
    return flow


def _comparable(flow: Flow) -> list[dict[str, Any]]:
    """The live snapshots without `group_seq` and without the `absorbed` history entries:
    those say which case an arrival absorbed, and which cases ever existed on the way
    depends on the arrival order."""
    out = []
    for snap in flow.live():
        kept = {k: v for k, v in snap.items() if k != "group_seq"}
        kept["history"] = [h for h in snap["history"] if h["what"] != "absorbed"]
        out.append(kept)
    return out


def _check(flow: Flow) -> None:
    [case] = flow.live()
    assert {k: case[k] for k in EXPECTED} == EXPECTED
    assert [(r["agency"], r["referral_id"], r["opened_case"]) for r in case["referrals"]] == [
        ("HOUSING", "ZJ-0", True),
        ("HOUSING", "ZJ-1", False),
        ("TRAFFIC_POLICE", "JJ-2", False),
    ]
    zj1 = case["referrals"][1]
    assert (zj1["amendments"], zj1["exact_duplicates"]) == (1, 1)
    assert zj1["versions"][-1]["description"] == "已扩建至三层"
    assert [p["receipt_no"] for p in case["payments"]] == ["R-1", "R-2"]
    assert flow.dead == {}


def test_scenario_in_publication_order() -> None:
    """Published in order, the scenario ends in the one closed, fully paid case expected."""
    _check(_run(_scenario()))


def _keep_version_order(
    order: list[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    """The versions of ZJ-1 travel on one partition: put them back in publication order
    (every reader sees one referral's versions in the same order)."""
    versions = iter(sorted(e for e in order if e[0] in ("ref/1", "ref/2", "ref/3")))
    return [next(versions) if e[0] in ("ref/1", "ref/2", "ref/3") else e for e in order]


@settings(max_examples=150, deadline=None)
@given(st.permutations(_scenario()))
def test_any_arrival_order_gives_the_same_cases(order: list[tuple[str, dict[str, Any]]]) -> None:
    """Lifecycle events and payments before their referral or decision, the opening
    referral last, anything in any order: the live snapshots are those of publication
    order (ignoring `group_seq` and `absorbed` history entries), with no dead letter."""
    flow = _run(_keep_version_order(order))
    _check(flow)
    assert _comparable(flow) == _comparable(_run(_scenario()))


def test_every_order_of_a_small_scenario_gives_the_same_cases() -> None:
    """All 720 orders of referral, merged referral, filing, decision and two payments,
    the decision and payments naming the merged referral, end in the same snapshot."""
    muck = {"category": "MUCK_TRANSPORT"}
    records = [
        ("ref/1", referral("ZJ-1", at(0), **muck)),
        ("ref/2", traffic_referral("JJ-2", at(3), **muck)),
        ("case/1", event("case_filed", at(5), "ZJ-1")),
        ("case/2", decided(at(20), "JJ-2", 90_000, agency="TRAFFIC_POLICE")),
        ("pay/1", payment("R-1", at(25), "JJ-2", 40_000, agency="TRAFFIC_POLICE")),
        ("pay/2", payment("R-2", at(30), "ZJ-1", 60_000)),
    ]
    reference = _comparable(_run(records))
    [case] = reference
    assert (case["case_id"], case["state"], case["case_no"]) == (ZJ1, "DECIDED", "430203-2022-0001")
    assert (case["decided_fen"], case["collected_fen"], case["overpaid_fen"]) == (
        90_000,
        100_000,
        10_000,
    )
    for order in itertools.permutations(records):
        flow = _run(list(order))
        assert flow.dead == {}, order
        assert _comparable(flow) == reference, [e for e, _ in order]


_BUILDERS = {
    "HOUSING": referral,
    "TRAFFIC_POLICE": traffic_referral,
    "ENVIRONMENT": environment_referral,
}


Ref = tuple[int, str, str]  # day, agency, referral id


@st.composite
def _incidents(draw: st.DrawFn) -> tuple[list[list[Ref]], list[str], list[Any]]:
    """Referrals of one incident on random days (0-100) from random agencies; each case
    either filed, or rejected the day it opens and maybe closed 1-40 days later, the
    events naming a random referral of the case; in a random arrival order. Returns the
    cases and states the rule of docs/rules.md gives, and the arrival order."""
    days = draw(st.lists(st.integers(0, 100), min_size=1, max_size=7))
    agencies = draw(st.lists(st.sampled_from(sorted(_BUILDERS)), min_size=7, max_size=7))
    refs = [(day, agencies[n], f"X{n}") for n, day in enumerate(days)]
    # The rule written out: in (time, agency, id) order, join the most recent case opened
    # at most 30 days earlier and not closed by then, else open one.
    cases: list[list[Ref]] = []
    states: list[str] = []
    closes: list[int | None] = []  # the day each case closes on, if it does
    for ref in sorted(refs):
        joinable = [
            n
            for n, case in enumerate(cases)
            if ref[0] - 30 <= case[0][0] <= ref[0] and (closes[n] is None or ref[0] < closes[n])
        ]
        if joinable:
            cases[max(joinable, key=lambda n: cases[n][0][0])].append(ref)
            continue
        cases.append([ref])
        states.append(draw(st.sampled_from(["FILED", "REJECTED", "CLOSED"])))
        closes.append(ref[0] + draw(st.integers(1, 40)) if states[-1] == "CLOSED" else None)
    records: list[Any] = [
        (f"ref/{rid}", _BUILDERS[agency](rid, at(day), category="MUCK_TRANSPORT"))
        for day, agency, rid in refs
    ]
    for n, (case, state, close) in enumerate(zip(cases, states, closes, strict=True)):
        if state == "FILED":
            day, agency, rid = draw(st.sampled_from(case))
            records.append((f"case/{n}/f", event("case_filed", at(day + 0.25), rid, agency)))
            continue
        day, agency, rid = case[0]
        reject = event("case_rejected", at(day + 0.25), rid, agency, reason="重复移送")
        records.append((f"case/{n}/r", reject))
        if close is not None:
            day, agency, rid = draw(st.sampled_from([r for r in case if r[0] < close]))
            records.append((f"case/{n}/c", event("case_closed", at(close), rid, agency)))
    return cases, states, draw(st.permutations(records))


@settings(max_examples=400, deadline=None)
@given(_incidents())
def test_cases_follow_the_rule_whatever_the_arrival_order(
    incident: tuple[list[list[Ref]], list[str], list[Any]],
) -> None:
    """Any referrals of one incident, arriving in any order with each case's lifecycle:
    the live cases are those of the rule of docs/rules.md taken in event time, in the expected
    state, numbered once, nothing dead-lettered, and every case id ever sent that is not
    live is a tombstone pointing to the live case holding its opening referral."""
    expected, states, order = incident
    flow = _run(order)
    live = flow.live()
    assert [
        [(r["agency"], r["referral_id"], r["opened_case"]) for r in s["referrals"]] for s in live
    ] == [[(a, rid, n == 0) for n, (_, a, rid) in enumerate(case)] for case in expected]
    assert [s["state"] for s in live] == states
    numbers = [s["case_no"] for s in live]
    assert None not in numbers and len(set(numbers)) == len(numbers)
    assert flow.dead == {}
    holder = {
        case_id_for(ReferralKey(r["agency"], r["referral_id"])): s["case_id"]
        for s in live
        for r in s["referrals"]
    }
    for case_id, snap in flow.snapshots.items():
        if snap["state"] == "MERGED":
            assert snap["merged_into"] == holder[case_id]
