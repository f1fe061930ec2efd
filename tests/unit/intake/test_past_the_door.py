"""Events that pass the door never break a later step: whatever mix of admitted events
arrives, routing, the incident groups and numbering take them without raising, and what
the agents would send (snapshots, dead letters re-encoded) encodes.

A later step raising on an event would stop its agent on that event (a poison event); the
bounds at the door (streams/intake/rules.py) are what keeps extreme values out of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import SchemaStore
from schemas.jsonl import record_from_json
from streams.cases.snapshots import to_avro
from streams.deadletters.letters import Refused
from streams.dedup.rules import case_id_for
from streams.events import TIME_FIELD, ReferralKey
from streams.intake.admission import admit
from streams.intake.rules import MAX_AMOUNT_FEN, MAX_TEXT
from streams.messages import Admitted, Source
from tests.unit.factories import ORG, Flow, party

STORE = SchemaStore()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
STREETS = sorted((code, s.district_code) for s in ORG.squads.values() for code in s.streets)
# Few referral ids, each of one agency, so that events find their cases and collide.
AGENCY_OF = {"A": "HOUSING", "B": "HOUSING", "C": "TRAFFIC_POLICE", "D": "ENVIRONMENT"}
IDS = sorted(AGENCY_OF)
AGENCIES = {"HOUSING": "housing", "TRAFFIC_POLICE": "traffic", "ENVIRONMENT": "environment"}
BLOCKS = {
    "housing": {"project_name": "p", "permit_no": None},
    "traffic": {"plate_no": "湘B", "vehicle_type": "car"},
    "environment": {"pollutant": "PM10", "measured_value": 1e308, "limit_value": -0.0, "unit": ""},
}
amounts = st.sampled_from([0, 1, MAX_AMOUNT_FEN - 1, MAX_AMOUNT_FEN]) | st.integers(
    0, MAX_AMOUNT_FEN
)
# Days from 2000-01-01 in Zhuzhou to a day after NOW: the whole range the door lets in,
# most of them in one month so that windows, orders and merges come into play.
EPOCH = datetime(1999, 12, 31, 16, tzinfo=UTC)
days = st.integers(8000, 8040) | st.integers(0, (NOW + timedelta(days=1) - EPOCH).days)


def instant(day: int) -> str:
    return (EPOCH + timedelta(days=day)).isoformat()


instants = days.map(instant)
texts = st.sampled_from(["", "x", "很" * MAX_TEXT, "\x00", "ref:HOUSING:A", "case:C1"])


@st.composite
def referrals(draw: st.DrawFn, referral_id: str | None = None, at: str | None = None) -> Any:
    referral_id = referral_id or draw(st.sampled_from(IDS) | texts.filter(bool))
    agency = AGENCY_OF.get(referral_id) or draw(st.sampled_from(sorted(AGENCIES)))
    street, district = draw(st.sampled_from(STREETS[:3]) | st.sampled_from(STREETS))
    return {
        "kind": "referral",
        "agency": agency,
        "referral_id": referral_id,
        "referred_at": at or draw(instants),
        "district_code": district,
        "street_code": draw(st.sampled_from([street, None])),
        "address": draw(texts),
        "category": draw(st.sampled_from(["ILLEGAL_CONSTRUCTION", "MUCK_TRANSPORT"])),
        "party_id_hash": draw(st.sampled_from([None, party("P1"), party("P2")])),
        "description": draw(texts),
        AGENCIES[agency]: BLOCKS[AGENCIES[agency]],
    }


@st.composite
def lifecycle(
    draw: st.DrawFn, kind: str | None = None, referral_id: str | None = None, at: str | None = None
) -> Any:
    kind = kind or draw(
        st.sampled_from(["case_filed", "case_rejected", "case_decided", "feedback_sent"])
        | st.sampled_from(["case_closed", "payment"])
    )
    time_field = TIME_FIELD[kind]
    record: dict[str, Any] = {"kind": kind, time_field: at or draw(instants)}
    if referral_id is None and draw(st.booleans()):
        record["case_id"] = draw(st.sampled_from(CASE_IDS) | texts.filter(bool))
    else:
        record["referral_id"] = referral_id or draw(st.sampled_from(IDS))
        record["agency"] = AGENCY_OF[record["referral_id"]]
    if kind == "case_rejected":
        record["reason"] = draw(texts)
    if kind in ("case_decided", "payment"):
        record["decision_no"] = draw(st.sampled_from(["D1", "D2"]))
        record["amount_fen"] = draw(amounts)
    if kind == "case_decided":
        record["tier"] = draw(st.sampled_from(["MINOR", "GENERAL", "SERIOUS"]))
        record["legal_reviewed_at"] = draw(st.none() | instants)
    if kind == "payment":
        record["receipt_no"] = draw(st.sampled_from(["R1", "R2", "R3"]))
    return record


CASE_IDS = [case_id_for(ReferralKey(AGENCY_OF[i], i)) for i in IDS]
STEPS = ["case_filed", "case_decided", "payment", "payment", "feedback_sent", "case_closed"]


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A referral and its lifecycle in event-time order, cut short anywhere."""
    referral_id = draw(st.sampled_from(IDS))
    day = draw(days)
    steps = STEPS[: draw(st.integers(0, len(STEPS)))]
    return [
        draw(referrals(referral_id, instant(day))),
        *(draw(lifecycle(kind, referral_id, instant(day + n))) for n, kind in enumerate(steps, 1)),
    ]


class Agents(Flow):
    """The domain steps as the agents run them, encoding what they would send."""

    def _letters(self, refused: list[Refused]) -> None:
        for one in refused:
            name, record = record_from_json(dict(one.record), STORE)
            STORE.encode(name, record, check=False)
        super()._letters(refused)


arrivals = st.tuples(
    st.lists(histories(), max_size=4), st.lists(referrals() | lifecycle(), max_size=8)
).flatmap(lambda parts: st.permutations([e for h in parts[0] for e in h] + parts[1]))


@settings(max_examples=300, deadline=None)
@given(events=arrivals)
def test_whatever_passes_the_door_the_later_steps_take(events: list[dict[str, Any]]) -> None:
    """Admitted events of every kind, with values at the door's bounds, go through routing,
    the groups and numbering to the drain without an exception; every snapshot and every
    re-encoded dead letter encodes."""
    agents = Agents(numbering=True)
    for offset, obj in enumerate(events):
        name, record = record_from_json(obj, STORE)
        source = Source(topic="t", partition=0, offset=offset)
        result = admit(STORE.encode(name, record), source, STORE, ORG, NOW)
        if isinstance(result, Admitted):
            agents.send(result.record, event_id=source.event_id)
    agents.drain()
    for snapshot in agents.snapshots.values():
        STORE.encode("CaseSnapshot", to_avro(snapshot), check=False)
