"""Builders of JSON-form events and group messages for the domain-rule tests.

``Group`` drives one incident group's log through ``accept`` as the ``form_groups`` agent
would. ``Flow`` adds what sits in front of and beside it: the routing step (``route``:
events naming a referral or case not seen yet are held until it arrives) and the case
numbering agent, for any number of groups, in one process and first-in first-out. Both
keep what a reader downstream keeps: the latest snapshot per case, the dead letters by
event id (a repeated letter is a no-op there) and every number request as sent.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.cases.group import Outcome, accept
from streams.cases.numbering import Assigned, Counter, number
from streams.cases.state import GroupState
from streams.deadletters.letters import Refused, WaitEnded
from streams.dedup.routing import AliasState, Routing, release_expired, route
from streams.dedup.rules import case_id_for, incident_key
from streams.events import TIME_FIELD, Referral, ReferralKey, parse_event
from streams.messages import Admitted, Numbered, NumberRequest, Register, Source, Tick, ToGroups
from streams.organisation import Organisation, default_organisation_path, load_organisation
from streams.policy import Policy

ORG: Organisation = load_organisation(default_organisation_path())
CST = timezone(timedelta(hours=8))
# 2022-03-01 09:00 in Zhuzhou, 01:00 UTC: day 0 of most scenarios
T0 = datetime(2022, 3, 1, 9, 0, tzinfo=CST)
_offsets = itertools.count()


def at(days: float = 0, seconds: int = 0) -> str:
    """The ISO text of T0 plus ``days`` and ``seconds``, in +08:00 as producers send it."""
    return (T0 + timedelta(days=days, seconds=seconds)).isoformat()


def party(number: str) -> str:
    return hashlib.sha256(number.upper().encode()).hexdigest()


ACME = party("91430200MA4L000001")  # the party of most scenarios


def referral(referral_id: str, referred_at: str, **fields: Any) -> dict[str, Any]:
    """A HOUSING referral on street 430203001 (建设街道, 芦淞区) against ACME."""
    record: dict[str, Any] = {
        "kind": "referral",
        "agency": "HOUSING",
        "referral_id": referral_id,
        "referred_at": referred_at,
        "district_code": "430203",
        "street_code": "430203001",
        "address": "建设南路 1 号",
        "category": "ILLEGAL_CONSTRUCTION",
        "party_type": "ORGANIZATION",
        "party_id_hash": ACME,
        "description": "违法加建",
        "evidence": [],
        "housing": {"project_name": "某小区", "permit_no": None},
    }
    record.update(fields)
    return record


def traffic_referral(referral_id: str, referred_at: str, **fields: Any) -> dict[str, Any]:
    """A TRAFFIC_POLICE referral, otherwise as ``referral``."""
    return referral(
        referral_id,
        referred_at,
        agency="TRAFFIC_POLICE",
        housing=None,
        traffic={"plate_no": "湘B·12345", "vehicle_type": "heavy truck"},
        **fields,
    )


def environment_referral(referral_id: str, referred_at: str, **fields: Any) -> dict[str, Any]:
    """An ENVIRONMENT referral, otherwise as ``referral``."""
    block = {"pollutant": "PM10", "measured_value": 512.5, "limit_value": 150.0, "unit": "µg/m³"}
    return referral(
        referral_id, referred_at, agency="ENVIRONMENT", housing=None, environment=block, **fields
    )


def event(
    kind: str, at: str, referral_id: str, agency: str = "HOUSING", **fields: Any
) -> dict[str, Any]:
    """A lifecycle event or payment naming its case by the referral key (agency, id)."""
    record = {"kind": kind, "agency": agency, "referral_id": referral_id, TIME_FIELD[kind]: at}
    record.update(fields)
    return record


def by_case_id(record: dict[str, Any], opener: str, agency: str = "HOUSING") -> dict[str, Any]:
    """The same event naming its case by the case id the referral ``opener`` gives it."""
    out = {k: v for k, v in record.items() if k not in ("agency", "referral_id")}
    out["case_id"] = case_id_for(ReferralKey(agency, opener))
    return out


def decided(
    at: str,
    referral_id: str,
    amount_fen: int,
    decision_no: str = "D1",
    tier: str = "GENERAL",
    **f: Any,
) -> dict[str, Any]:
    """A decision naming its case by referral key (pass ``agency=`` for another agency's)."""
    return event(
        "case_decided",
        at,
        referral_id,
        decision_no=decision_no,
        amount_fen=amount_fen,
        tier=tier,
        **f,
    )


def payment(
    receipt_no: str,
    at: str,
    referral_id: str,
    amount_fen: int,
    decision_no: str = "D1",
    agency: str = "HOUSING",
) -> dict[str, Any]:
    return event(
        "payment",
        at,
        referral_id,
        agency,
        receipt_no=receipt_no,
        decision_no=decision_no,
        amount_fen=amount_fen,
    )


def message(
    record: dict[str, Any],
    group: str | None,
    event_id: str | None = None,
    received_ms: int = 0,
) -> Admitted:
    """An admitted event as the group agent receives it (``group`` set by routing)."""
    return Admitted(
        alias=alias_of(record),
        event_id=event_id or f"t/0/{next(_offsets)}",
        record=record,
        source=Source(topic="t", partition=0, offset=0),
        received_ms=received_ms,
        group=group,
    )


def letter(refused: Refused) -> dict[str, Any]:
    """A refused event as the dead-letter reader sees it."""
    return {"event_id": refused.event_id, "error": str(refused.code), "reason": refused.reason}


def group_of(record: dict[str, Any]) -> str:
    parsed = parse_event(record)
    assert isinstance(parsed, Referral)
    return incident_key(parsed)


class Group:
    """One incident group driven through ``accept`` as the agent would."""

    def __init__(self, key: str | None = None, policy: Policy | None = None) -> None:
        self.key = key
        self.state: GroupState | None = None
        self.policy = policy or Policy()
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, dict[str, Any]] = {}  # event id -> letter
        self.requests: list[NumberRequest] = []

    def send(self, record: dict[str, Any], event_id: str | None = None, **kw: Any) -> Outcome:
        if self.key is None:
            self.key = group_of(record)
        return self.apply(message(record, self.key, event_id, **kw))

    def apply(self, msg: ToGroups) -> Outcome:
        assert self.key is not None
        outcome = accept(self.state, msg, self.key, 0, ORG, self.policy)
        if outcome.state is not None:
            self.state = outcome.state
        for snap in outcome.snapshots:
            self.snapshots[snap["case_id"]] = snap
        for refused in outcome.refused:
            self.dead.setdefault(refused.event_id, letter(refused))
        self.requests += outcome.number_requests
        return outcome

    def numbered(self, case_id: str, case_no: str) -> Outcome:
        return self.apply(Numbered(self.key or "", case_id, case_no))

    def drain(self) -> Outcome:
        return self.apply(Tick("drain"))

    def expire(self, now_ms: int, hold_ms: int) -> Outcome:
        return self.apply(Tick("expire", now_ms=now_ms, hold_ms=hold_ms))

    def live(self) -> list[dict[str, Any]]:
        return live(self.snapshots)

    def case_of(self, referral_id: str) -> dict[str, Any]:
        return case_of(self.snapshots, referral_id)

    def errors(self) -> dict[str, str]:
        """Event id -> error code of every dead letter."""
        return {event_id: letter["error"] for event_id, letter in self.dead.items()}


def live(snapshots: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (s for s in snapshots.values() if s["state"] != "MERGED"),
        key=lambda s: (s["opened_at"], s["case_id"]),
    )


def case_of(snapshots: dict[str, dict[str, Any]], referral_id: str) -> dict[str, Any]:
    for snap in live(snapshots):
        if any(r["referral_id"] == referral_id for r in snap["referrals"]):
            return snap
    raise KeyError(referral_id)


def alias_of(record: dict[str, Any]) -> str:
    """The routing key the admission step gives an event."""
    if record["kind"] == "referral" or not record.get("case_id"):
        return f"ref:{record['agency']}:{record['referral_id']}"
    return f"case:{record['case_id']}"


class Flow:
    """Routing, every incident group and case numbering, as the agents run them.

    Messages are processed first in, first out, to the end, before ``send`` returns.
    Number requests are answered at once when ``numbering`` is true, else kept in
    ``requests`` for ``number_all``.
    """

    def __init__(self, policy: Policy | None = None, *, numbering: bool = False) -> None:
        self.policy = policy or Policy()
        self.numbering = numbering
        self.aliases: dict[str, AliasState] = {}
        self.states: dict[str, GroupState] = {}
        self.numbers: dict[str, Counter | Assigned] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, dict[str, Any]] = {}
        self.requests: list[NumberRequest] = []
        self._queue: deque[Admitted | Register | Numbered | Tick] = deque()

    def send(self, record: dict[str, Any], event_id: str | None = None, **kw: Any) -> None:
        self._queue.append(message(record, None, event_id, **kw))
        self._run()

    def drain(self) -> None:
        """The end of a batch input: everything still held or waiting is dead-lettered."""
        for alias, state in list(self.aliases.items()):
            self._routed(alias, release_expired(state, WaitEnded.DRAINED, None))
        self._run()
        for key in list(self.states):
            self._group(key, Tick("drain"))
        self._run()

    def number_all(self) -> None:
        """Answer the number requests not answered yet, in the order they were made."""
        for request in self.requests:
            self._number(request)
        self._run()

    def _run(self) -> None:
        while self._queue:
            msg = self._queue.popleft()
            if (isinstance(msg, Admitted) and msg.group is None) or isinstance(msg, Register):
                self._routed(msg.alias, route(self.aliases.get(msg.alias), msg, 0))
            elif isinstance(msg, Admitted | Numbered):
                self._group(msg.group or "", msg)

    def _routed(self, alias: str, routing: Routing) -> None:
        if routing.state is not None:
            self.aliases[alias] = routing.state
        self._queue += routing.forward
        self._queue += routing.register
        self._letters(routing.refused)

    def _group(self, key: str, msg: ToGroups) -> None:
        outcome = accept(self.states.get(key), msg, key, 0, ORG, self.policy)
        if outcome.state is not None:
            self.states[key] = outcome.state
        for snap in outcome.snapshots:
            self.snapshots[snap["case_id"]] = snap
        self._letters(outcome.refused)
        self.requests += outcome.number_requests
        if self.numbering:
            for request in outcome.number_requests:
                self._number(request)

    def _number(self, request: NumberRequest) -> None:
        writes, case_no = number(self.numbers, request, 0)
        self.numbers.update(writes)
        self._queue.append(Numbered(request.group, request.case_id, case_no))

    def _letters(self, refused: list[Refused]) -> None:
        for one in refused:
            self.dead.setdefault(one.event_id, letter(one))

    def live(self) -> list[dict[str, Any]]:
        return live(self.snapshots)

    def case_of(self, referral_id: str) -> dict[str, Any]:
        return case_of(self.snapshots, referral_id)

    def errors(self) -> dict[str, str]:
        return {event_id: letter["error"] for event_id, letter in self.dead.items()}
