"""Step 2, deduplicate: exact duplicates, amendments, redeliveries and same-incident merging.

The pure rules first, then each rule through one incident group (``Group``), where the
snapshots show what the outside sees.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.dedup.rules import (
    Arrival,
    add_version,
    case_id_for,
    counts,
    incident_key,
    joins,
)
from streams.events import Referral, ReferralKey, parse_event
from tests.unit.factories import (
    Group,
    at,
    decided,
    environment_referral,
    event,
    group_of,
    party,
    referral,
    traffic_referral,
)

DAY0 = datetime(2022, 3, 1, 1, 0, tzinfo=UTC)


def _referral(record: dict[str, Any]) -> Referral:
    parsed = parse_event(record)
    assert isinstance(parsed, Referral)
    return parsed


def _unsequenced(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "group_seq"}


# ------------------------------------------------------------------ versions


def test_first_arrival_is_new() -> None:
    """The first version of a referral is NEW: one version, no duplicate, no amendment."""
    arrival, versions = add_version((), referral("ZJ-1", at(0)), "t/0/1")
    assert arrival is Arrival.NEW
    assert len(versions) == 1 and versions[0].event_ids == ("t/0/1",)
    assert counts(versions).versions == 1 and counts(versions).exact_duplicates == 0


def test_same_content_under_another_record_is_an_exact_duplicate() -> None:
    """The same content published again (another Kafka record, keys in another order) is
    an EXACT_DUPLICATE of the version it repeats and adds no version."""
    first = referral("ZJ-1", at(0))
    again = dict(reversed(list(copy.deepcopy(first).items())))
    _, versions = add_version((), first, "t/0/1")
    arrival, versions = add_version(versions, again, "t/0/2")
    assert arrival is Arrival.EXACT_DUPLICATE
    assert len(versions) == 1 and versions[0].event_ids == ("t/0/1", "t/0/2")
    assert counts(versions).exact_duplicates == 1


def test_same_record_again_is_a_redelivery() -> None:
    """The same Kafka record delivered again (same event id) is a REDELIVERY and leaves
    the versions exactly as they were, whether it carried a first version or a duplicate."""
    _, versions = add_version((), referral("ZJ-1", at(0)), "t/0/1")
    _, versions = add_version(versions, referral("ZJ-1", at(0)), "t/0/2")
    for event_id in ("t/0/1", "t/0/2"):
        arrival, after = add_version(versions, referral("ZJ-1", at(0)), event_id)
        assert arrival is Arrival.REDELIVERY
        assert after == versions


def test_different_content_is_an_amendment() -> None:
    """Same key, different content is an AMENDMENT: a second version, kept after the first."""
    first = referral("ZJ-1", at(0))
    second = referral("ZJ-1", at(0), description="违法加建已扩建至三层")
    _, versions = add_version((), first, "t/0/1")
    arrival, versions = add_version(versions, second, "t/0/2")
    assert arrival is Arrival.AMENDMENT
    assert [v.record for v in versions] == [first, second]
    assert counts(versions).versions == 2 and counts(versions).exact_duplicates == 0


# ------------------------------------------------------------------ incident groups


def test_same_party_category_and_street_share_a_group_across_agencies() -> None:
    """Housing and traffic police referrals of one party, category and street are one
    incident group, whatever their times and ids."""
    housing = referral("ZJ-1", at(0), category="MUCK_TRANSPORT")
    traffic = traffic_referral("JJ-7", at(20), category="MUCK_TRANSPORT")
    assert incident_key(_referral(housing)) == incident_key(_referral(traffic))
    assert incident_key(_referral(housing)).startswith("i:")


def test_party_category_or_place_apart_are_other_groups() -> None:
    """Another party, category, street, or a street against none, is another group."""
    base = incident_key(_referral(referral("ZJ-1", at(0))))
    others = [
        referral("ZJ-2", at(0), party_id_hash=party("91430200MA4L000002")),
        referral("ZJ-3", at(0), category="CONSTRUCTION_DUST"),
        referral("ZJ-4", at(0), street_code="430203002"),
        referral("ZJ-5", at(0), street_code=None),
    ]
    keys = {incident_key(_referral(r)) for r in others}
    assert len(keys) == 4 and base not in keys


def test_no_street_groups_by_district() -> None:
    """Without a street, the district is the place: two street-less referrals of one party
    and category in 芦淞区 share a group."""
    a = referral("ZJ-1", at(0), street_code=None)
    b = environment_referral("HB-1", at(3), street_code=None)
    assert incident_key(_referral(a)) == incident_key(_referral(b))


def test_no_party_hash_is_a_group_of_its_own() -> None:
    """A referral without a party hash is alone in its group, keyed by its referral key."""
    a = referral("ZJ-1", at(0), party_id_hash=None)
    b = referral("ZJ-2", at(0), party_id_hash=None)
    assert incident_key(_referral(a)) == "r:HOUSING:ZJ-1"
    assert incident_key(_referral(b)) == "r:HOUSING:ZJ-2"


def test_case_id_is_stable_and_derived_from_the_opening_referral() -> None:
    """The case id is 'C' and the first 12 hex digits (upper case) of SHA-256 of
    'AGENCY:REFERRAL_ID': HOUSING:ZJ-1 gives C0317E7DCDF63."""
    assert case_id_for(ReferralKey("HOUSING", "ZJ-1")) == "C0317E7DCDF63"
    assert case_id_for(ReferralKey("HOUSING", "R1")) == "C919A81BDE053"


# ------------------------------------------------------------------ the join rule


def test_joins_within_30_days_inclusive() -> None:
    """A referral joins an open case whose first referral is at most 30 days earlier,
    the bound included, and at the same instant."""
    assert joins(DAY0, None, DAY0)
    assert joins(DAY0, None, DAY0 + timedelta(days=30))
    assert not joins(DAY0, None, DAY0 + timedelta(days=30, seconds=1))


def test_joins_only_if_not_closed_at_the_referral() -> None:
    """A case closed before or at the referral's time is closed for it; closed later, not."""
    referred = DAY0 + timedelta(days=10)
    assert not joins(DAY0, referred - timedelta(seconds=1), referred)
    assert not joins(DAY0, referred, referred)
    assert joins(DAY0, referred + timedelta(seconds=1), referred)


def test_join_window_is_configurable() -> None:
    """With a 7-day window, 7 days joins and 7 days and 1 second does not."""
    week = timedelta(days=7)
    assert joins(DAY0, None, DAY0 + week, week)
    assert not joins(DAY0, None, DAY0 + week + timedelta(seconds=1), week)


# ------------------------------------------------------------------ through a group


def test_exact_duplicate_is_counted_and_changes_nothing_else() -> None:
    """An exact duplicate adds 1 to the referral's `exact_duplicates` and leaves every
    other field of the case as it was."""
    g = Group()
    g.send(referral("ZJ-1", at(0)), "t/0/1")
    before = copy.deepcopy(g.case_of("ZJ-1"))
    outcome = g.send(referral("ZJ-1", at(0)), "t/0/2")
    assert outcome.arrival is Arrival.EXACT_DUPLICATE
    after = g.case_of("ZJ-1")
    assert after["referrals"][0]["exact_duplicates"] == 1
    assert after["referrals"][0]["amendments"] == 0
    assert len(after["referrals"][0]["versions"]) == 1
    unchanged = ("group_seq", "referrals")
    assert {k: v for k, v in after.items() if k not in unchanged} == {
        k: v for k, v in before.items() if k not in unchanged
    }
    assert len(g.live()) == 1


def test_redelivery_changes_nothing() -> None:
    """The same Kafka record again (same event id), a referral or a decision, leaves the
    state as it was (`state` is None); what is sent again is what was sent before (its
    `group_seq` may be the state's latest: a waiting decision advanced it unseen)."""
    g = Group()
    g.send(referral("ZJ-1", at(0)), "t/0/1")
    g.send(decided(at(9), "ZJ-1", 100), "t/3/1")
    sent, state = copy.deepcopy(g.snapshots), copy.deepcopy(g.state)
    for record, event_id in (
        (referral("ZJ-1", at(0)), "t/0/1"),
        (decided(at(9), "ZJ-1", 100), "t/3/1"),
    ):
        outcome = g.send(record, event_id)
        assert outcome.state is None
        assert [_unsequenced(s) for s in outcome.snapshots] == [
            _unsequenced(sent[s["case_id"]]) for s in outcome.snapshots
        ]
    assert g.state == state
    assert g.case_of("ZJ-1")["referrals"][0]["exact_duplicates"] == 0


def test_amendment_replaces_content_and_keeps_the_first_routing() -> None:
    """An amendment that moves the referral to 贺家土街道 and two days later adds a version
    (the newest is the content) but the case keeps the first version's time, street and
    squad, and counts one amendment."""
    g = Group()
    first = referral("ZJ-1", at(0))
    second = referral("ZJ-1", at(2), street_code="430203003", description="违法加建已扩建至三层")
    g.send(first, "t/0/1")
    outcome = g.send(second, "t/0/2")
    assert outcome.arrival is Arrival.AMENDMENT
    case = g.case_of("ZJ-1")
    assert case["referrals"][0]["versions"] == [first, second]
    assert case["referrals"][0]["amendments"] == 1
    assert case["referrals"][0]["exact_duplicates"] == 0
    assert case["referrals"][0]["referred_at"] == "2022-03-01T09:00:00+08:00"
    assert case["opened_at"] == "2022-03-01T01:00:00+00:00"
    assert (case["street_code"], case["squad_code"]) == ("430203001", "430203-01")
    assert len(g.live()) == 1


def test_a_duplicate_of_an_amended_referral_counts_against_the_version_it_repeats() -> None:
    """After an amendment, the second version published again is an exact duplicate:
    still two versions, one amendment, one duplicate."""
    g = Group()
    first, second = referral("ZJ-1", at(0)), referral("ZJ-1", at(0), description="更正")
    g.send(first, "t/0/1")
    g.send(second, "t/0/2")
    assert g.send(second, "t/0/3").arrival is Arrival.EXACT_DUPLICATE
    r = g.case_of("ZJ-1")["referrals"][0]
    assert (len(r["versions"]), r["amendments"], r["exact_duplicates"]) == (2, 1, 1)


def test_same_incident_merges_across_agencies() -> None:
    """A traffic-police referral 10 days after a housing one, same party, category and
    street, joins the housing case: one case, the traffic referral not its opener."""
    g = Group()
    g.send(referral("ZJ-1", at(0), category="MUCK_TRANSPORT"))
    g.send(traffic_referral("JJ-1", at(10), category="MUCK_TRANSPORT"))
    [case] = g.live()
    assert case["case_id"] == case_id_for(ReferralKey("HOUSING", "ZJ-1"))
    assert case["agency"] == "HOUSING"
    assert [(r["agency"], r["referral_id"], r["opened_case"]) for r in case["referrals"]] == [
        ("HOUSING", "ZJ-1", True),
        ("TRAFFIC_POLICE", "JJ-1", False),
    ]
    assert case["opened_at"] == "2022-03-01T01:00:00+00:00"
    assert [h["what"] for h in case["history"]] == ["opened", "merged"]


def test_referral_at_exactly_30_days_joins() -> None:
    """A referral 30 days to the second after the case's first referral joins it."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(referral("ZJ-2", at(30)))
    [case] = g.live()
    assert [r["referral_id"] for r in case["referrals"]] == ["ZJ-1", "ZJ-2"]


def test_referral_30_days_and_1_second_later_opens_a_case() -> None:
    """One second past the 30 days, the referral opens a case of its own."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(referral("ZJ-2", at(30, seconds=1)))
    first, second = g.live()
    assert [r["referral_id"] for r in first["referrals"]] == ["ZJ-1"]
    assert [r["referral_id"] for r in second["referrals"]] == ["ZJ-2"]
    assert second["referrals"][0]["opened_case"] is True
    assert second["opened_at"] == "2022-03-31T01:00:01+00:00"


def test_the_window_counts_from_the_first_referral_not_the_last() -> None:
    """Referrals on days 0, 20 and 40: the third is 40 days after the case's first
    referral, so it opens a new case although it is 20 days after the second."""
    g = Group()
    for n, day in enumerate((0, 20, 40)):
        g.send(referral(f"ZJ-{n}", at(day)))
    first, second = g.live()
    assert [r["referral_id"] for r in first["referrals"]] == ["ZJ-0", "ZJ-1"]
    assert [r["referral_id"] for r in second["referrals"]] == ["ZJ-2"]


def test_referral_after_the_case_was_closed_opens_a_case() -> None:
    """A case rejected on day 1 and closed on day 2 takes no referral of day 5: that one
    opens a new case; the closed case is unchanged."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(1), "ZJ-1", reason="不属于管辖范围"))
    g.send(event("case_closed", at(2), "ZJ-1"))
    g.send(referral("ZJ-2", at(5)))
    closed, new = g.live()
    assert closed["state"] == "CLOSED" and new["state"] == "OPEN"
    assert [r["referral_id"] for r in closed["referrals"]] == ["ZJ-1"]
    assert [r["referral_id"] for r in new["referrals"]] == ["ZJ-2"]


def test_referral_at_the_closing_instant_opens_a_case() -> None:
    """A case closed at the very instant of a referral is closed for it."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(1), "ZJ-1", reason="重复移送"))
    g.send(event("case_closed", at(5), "ZJ-1"))
    g.send(referral("ZJ-2", at(5)))
    assert len(g.live()) == 2


def test_referral_before_a_later_closure_still_joins() -> None:
    """A referral on day 3 joins a case that closes on day 5, even when the closure
    arrived first: the rule is judged at the referral's time."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(event("case_rejected", at(1), "ZJ-1", reason="重复移送"))
    g.send(event("case_closed", at(5), "ZJ-1"))
    g.send(referral("ZJ-2", at(3)))
    [case] = g.live()
    assert [r["referral_id"] for r in case["referrals"]] == ["ZJ-1", "ZJ-2"]
    assert case["state"] == "CLOSED"


def test_a_referral_joins_the_case_whose_window_it_is_in() -> None:
    """Day 0 opens A, day 31 opens B (A is past its window); a referral on day 45 joins
    B, the most recent case, and one on day 62 (B past its window too) opens C."""
    g = Group()
    for n, day in enumerate((0, 31, 45, 62)):
        g.send(referral(f"ZJ-{n}", at(day)))
    a, b, c = g.live()
    assert [r["referral_id"] for r in a["referrals"]] == ["ZJ-0"]
    assert [r["referral_id"] for r in b["referrals"]] == ["ZJ-1", "ZJ-2"]
    assert [r["referral_id"] for r in c["referrals"]] == ["ZJ-3"]


def test_no_party_hash_never_merges() -> None:
    """Two referrals on the same street and day without a party hash are two cases, each
    in a group of its own."""
    a = referral("ZJ-1", at(0), party_id_hash=None, party_type=None)
    b = referral("ZJ-2", at(0), party_id_hash=None, party_type=None)
    ga, gb = Group(), Group()
    ga.send(a)
    gb.send(b)
    assert ga.key != gb.key
    assert [r["referral_id"] for r in ga.case_of("ZJ-1")["referrals"]] == ["ZJ-1"]
    assert [r["referral_id"] for r in gb.case_of("ZJ-2")["referrals"]] == ["ZJ-2"]


def test_no_party_hash_does_not_join_even_within_one_group() -> None:
    """Even if a party-less referral reached a group of same-incident referrals, it opens
    its own case rather than joining one."""
    g = Group(group_of(referral("ZJ-1", at(0))))
    g.send(referral("ZJ-1", at(0)))
    g.send(referral("ZJ-2", at(1), party_id_hash=None, party_type=None))
    assert len(g.live()) == 2


def test_equal_referred_at_breaks_ties_by_agency() -> None:
    """At the same instant, HOUSING:Z-9 comes before TRAFFIC_POLICE:A-1 (agency first), so
    the housing referral opens the case although its id sorts last."""
    g = Group()
    g.send(traffic_referral("A-1", at(0), category="MUCK_TRANSPORT"))
    g.send(referral("Z-9", at(0), category="MUCK_TRANSPORT"))
    [case] = g.live()
    assert case["case_id"] == case_id_for(ReferralKey("HOUSING", "Z-9"))
    assert [(r["agency"], r["opened_case"]) for r in case["referrals"]] == [
        ("HOUSING", True),
        ("TRAFFIC_POLICE", False),
    ]


def test_equal_referred_at_and_agency_breaks_ties_by_referral_id() -> None:
    """At the same instant and agency, ZJ-A opens the case and ZJ-B joins it, whichever
    arrived first."""
    g = Group()
    g.send(referral("ZJ-B", at(0)))
    g.send(referral("ZJ-A", at(0)))
    [case] = g.live()
    assert case["case_id"] == case_id_for(ReferralKey("HOUSING", "ZJ-A"))
    assert [r["referral_id"] for r in case["referrals"]] == ["ZJ-A", "ZJ-B"]


def test_equal_instants_in_other_offsets_are_ties() -> None:
    """09:00 +08:00 and 01:00 UTC are one instant: the tie goes to the referral id."""
    g = Group()
    g.send(referral("ZJ-B", "2022-03-01T09:00:00+08:00"))
    g.send(referral("ZJ-A", "2022-03-01T01:00:00Z"))
    [case] = g.live()
    assert case["case_id"] == case_id_for(ReferralKey("HOUSING", "ZJ-A"))
