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
from streams.cases.numbering import number
from streams.dedup.routing import Routing, release_expired, route
from streams.dedup.rules import case_id_for, incident_key
from streams.events import TIME_FIELD, Referral, ReferralKey, parse_event
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
) -> dict[str, Any]:
    """An admitted event as the group agent receives it (``group`` set by routing)."""
    msg: dict[str, Any] = {
        "type": "event",
        "event_id": event_id or f"t/0/{next(_offsets)}",
        "record": record,
        "source": {"topic": "t", "partition": 0, "offset": 0, "file": None, "line": None},
        "raw": "",
        "received_ms": received_ms,
    }
    if group is not None:
        msg["group"] = group
    return msg


def group_of(record: dict[str, Any]) -> str:
    parsed = parse_event(record)
    assert isinstance(parsed, Referral)
    return incident_key(parsed)


class Group:
    """One incident group driven through ``accept`` as the agent would."""

    def __init__(self, key: str | None = None, policy: Policy | None = None) -> None:
        self.key = key
        self.log: dict[str, Any] | None = None
        self.policy = policy or Policy()
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, dict[str, Any]] = {}  # event id -> letter
        self.requests: list[dict[str, Any]] = []

    def send(self, record: dict[str, Any], event_id: str | None = None, **kw: Any) -> Outcome:
        if self.key is None:
            self.key = group_of(record)
        return self.apply(message(record, self.key, event_id, **kw))

    def apply(self, msg: dict[str, Any]) -> Outcome:
        msg.setdefault("group", self.key)
        outcome = accept(self.log, msg, ORG, self.policy)
        if outcome.log is not None:
            self.log = outcome.log
        for snap in outcome.snapshots:
            self.snapshots[snap["case_id"]] = snap
        for letter in outcome.dead_letters:
            self.dead.setdefault(letter["event_id"], letter)
        self.requests += outcome.number_requests
        return outcome

    def numbered(self, case_id: str, case_no: str) -> Outcome:
        return self.apply({"type": "numbered", "case_id": case_id, "case_no": case_no})

    def drain(self) -> Outcome:
        return self.apply({"type": "drain"})

    def expire(self, now_ms: int, hold_ms: int) -> Outcome:
        return self.apply({"type": "expire", "now_ms": now_ms, "hold_ms": hold_ms})

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
        self.aliases: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, dict[str, Any]] = {}
        self.districts: dict[str, dict[str, Any]] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()

    def send(self, record: dict[str, Any], event_id: str | None = None, **kw: Any) -> None:
        msg = message(record, None, event_id, **kw)
        msg["alias"] = alias_of(record)
        self._queue.append(("route", msg))
        self._run()

    def drain(self) -> None:
        """The end of a batch input: everything still held or waiting is dead-lettered."""
        for alias, state in list(self.aliases.items()):
            self._routed(alias, release_expired(state, "the input was drained", None))
        for key in list(self.logs):
            self._queue.append(("group", {"type": "drain", "group": key}))
        self._run()

    def number_all(self) -> None:
        """Answer the number requests not answered yet, in the order they were made."""
        for request in self.requests:
            self._number(request)
        self._run()

    def _run(self) -> None:
        while self._queue:
            where, msg = self._queue.popleft()
            if where == "route":
                alias = msg["alias"]
                self._routed(alias, route(self.aliases.get(alias), msg, 0))
            else:
                self._group(msg)

    def _routed(self, alias: str, routing: Routing) -> None:
        if routing.state is not None:
            self.aliases[alias] = routing.state
        self._queue += [("group", m) for m in routing.forward]
        self._queue += [("route", m) for m in routing.register]
        self._letters(routing.dead_letters)

    def _group(self, msg: dict[str, Any]) -> None:
        key = msg["group"]
        outcome = accept(self.logs.get(key), msg, ORG, self.policy)
        if outcome.log is not None:
            self.logs[key] = outcome.log
        for snap in outcome.snapshots:
            self.snapshots[snap["case_id"]] = snap
        self._letters(outcome.dead_letters)
        self.requests += outcome.number_requests
        if self.numbering:
            for request in outcome.number_requests:
                self._number(request)

    def _number(self, request: dict[str, Any]) -> None:
        district = request["district_code"]
        state, case_no = number(self.districts.get(district), request)
        if state is not None:
            self.districts[district] = state
        reply = {"case_id": request["case_id"], "case_no": case_no}
        self._queue.append(("group", {"type": "numbered", "group": request["group"], **reply}))

    def _letters(self, letters: list[dict[str, Any]]) -> None:
        for letter in letters:
            self.dead.setdefault(letter["event_id"], letter)

    def live(self) -> list[dict[str, Any]]:
        return live(self.snapshots)

    def case_of(self, referral_id: str) -> dict[str, Any]:
        return case_of(self.snapshots, referral_id)

    def errors(self) -> dict[str, str]:
        return {event_id: letter["error"] for event_id, letter in self.dead.items()}
