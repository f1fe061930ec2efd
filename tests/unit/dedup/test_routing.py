"""Routing events to incident groups, and holding the ones that arrive too early."""

from __future__ import annotations

from typing import Any

import msgspec

from streams.deadletters.letters import WaitEnded
from streams.dedup.routing import release_expired, route
from streams.dedup.rules import case_id_for, incident_key
from streams.events import ReferralKey, parse_event
from streams.messages import Admitted
from tests.unit.factories import event, message, referral


def _msg(record: dict[str, Any], alias: str, event_id: str, received_ms: int = 0) -> Admitted:
    m = message(record, group=None, event_id=event_id, received_ms=received_ms)
    return msgspec.structs.replace(m, alias=alias)


REF = referral("ZJ-1", "2022-03-01T09:00:00+08:00")
GROUP = incident_key(parse_event(REF))  # type: ignore[arg-type]
FILED = event("case_filed", "2022-03-05T09:00:00+08:00", "ZJ-1")


def test_first_referral_sets_the_group_and_registers_its_case_id() -> None:
    """A referral teaches its alias the group and tells the case-id alias the same."""
    out = route(None, _msg(REF, "ref:HOUSING:ZJ-1", "t/0/1"), partition=3)
    assert out.state is not None and out.state.group == GROUP and out.state.partition == 3
    assert [m.group for m in out.forward] == [GROUP]
    case_alias = f"case:{case_id_for(ReferralKey('HOUSING', 'ZJ-1'))}"
    assert [(r.alias, r.group) for r in out.register] == [(case_alias, GROUP)]


def test_an_amendment_keeps_the_group_of_the_first_version() -> None:
    """A later version that moves the referral elsewhere is still routed to the first
    version's group (routing stays that of the first version)."""
    first = route(None, _msg(REF, "ref:HOUSING:ZJ-1", "t/0/1"), 0).state
    moved = {**REF, "street_code": "430203002"}
    out = route(first, _msg(moved, "ref:HOUSING:ZJ-1", "t/0/2"), 0)
    assert [m.group for m in out.forward] == [GROUP]
    assert incident_key(parse_event(moved)) != GROUP  # type: ignore[arg-type]


def test_an_event_before_its_referral_waits_then_goes_to_the_group() -> None:
    """A filing naming an unknown referral is held, once even if redelivered, and is
    forwarded when the referral arrives."""
    held = route(None, _msg(FILED, "ref:HOUSING:ZJ-1", "t/1/7"), 0)
    assert held.forward == [] and held.state is not None and len(held.state.held) == 1
    again = route(held.state, _msg(FILED, "ref:HOUSING:ZJ-1", "t/1/7"), 0)
    assert again.state is None and again.forward == []
    out = route(held.state, _msg(REF, "ref:HOUSING:ZJ-1", "t/0/1"), 0)
    assert [(m.event_id, m.group) for m in out.forward] == [
        ("t/0/1", GROUP),
        ("t/1/7", GROUP),
    ]


def test_a_redelivered_referral_sends_again_what_its_first_delivery_released() -> None:
    """After a crash that kept the state but lost the sends, the referral's redelivery
    forwards the released events again (the group ignores repeats)."""
    held = route(None, _msg(FILED, "ref:HOUSING:ZJ-1", "t/1/7"), 0).state
    learnt = route(held, _msg(REF, "ref:HOUSING:ZJ-1", "t/0/1"), 0).state
    out = route(learnt, _msg(REF, "ref:HOUSING:ZJ-1", "t/0/1"), 0)
    assert {m.event_id for m in out.forward} == {"t/0/1", "t/1/7"}


def test_drain_dead_letters_what_still_waits_and_repeats_earlier_letters() -> None:
    """Draining turns every held event into an `unmatched` dead letter; a later drain
    sends the same letters again and holds nothing."""
    held = route(None, _msg(FILED, "ref:HOUSING:ZJ-9", "t/1/8"), 0).state
    assert held is not None
    out = release_expired(held, WaitEnded.DRAINED, None)
    assert [(d.event_id, d.code) for d in out.refused] == [("t/1/8", "unmatched")]
    assert "HOUSING:ZJ-9" in out.refused[0].reason
    assert out.state is not None and out.state.held == ()
    repeat = release_expired(out.state, WaitEnded.DRAINED, None)
    assert repeat.state is None
    assert [r.letter(b"") for r in repeat.refused] == [r.letter(b"") for r in out.refused]
    assert [r.repeat for r in repeat.refused] == [True]


def test_hold_period_expires_only_the_old() -> None:
    """Only events received before the cut-off are dead-lettered when the hold ends."""
    state = route(None, _msg(FILED, "ref:HOUSING:ZJ-9", "t/1/8", received_ms=1_000), 0).state
    later = {**FILED, "filed_at": "2022-03-06T09:00:00+08:00"}
    state = route(state, _msg(later, "ref:HOUSING:ZJ-9", "t/1/9", received_ms=5_000), 0).state
    assert state is not None
    out = release_expired(state, WaitEnded.HOLD, received_before_ms=3_000)
    assert [d.event_id for d in out.refused] == ["t/1/8"]
    assert out.state is not None and [h.event_id for h in out.state.held] == ["t/1/9"]
