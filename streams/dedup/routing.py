"""Which incident group an event belongs to, learnt from the referrals as they arrive.

Referrals carry what decides their group (party, category, place); lifecycle events and
payments only name a referral or a case id. An alias (``ref:AGENCY:ID`` or ``case:ID``)
is mapped to its group by the first version of its referral — routing stays that of the
first version — and an event naming an alias not yet known waits here for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.dedup.rules import case_id_for, incident_key
from streams.errors import Unmatched
from streams.events import Referral, parse_event


@dataclass
class Routing:
    state: dict[str, Any] | None = None  # to store; None when unchanged
    forward: list[dict[str, Any]] = field(default_factory=list)  # to the groups, "group" set
    register: list[dict[str, Any]] = field(default_factory=list)  # aliases learnt elsewhere
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


def route(state: dict[str, Any] | None, message: dict[str, Any], partition: int) -> Routing:
    """Apply one message for an alias to that alias's state (held events and group)."""
    out = Routing()
    current = state or {"group": None, "held": [], "p": partition}
    kind = message["type"]
    if kind == "register":
        if current["group"] is not None:
            return out
        return _learn(current, message["group"], out)
    if current["group"] is not None:
        out.forward.append({**message, "group": current["group"]})
        return out
    event = parse_event(message["record"])
    if isinstance(event, Referral):
        group = incident_key(event)
        out.register.append(
            {"type": "register", "alias": f"case:{case_id_for(event.key)}", "group": group}
        )
        out.forward.append({**message, "group": group})
        return _learn(current, group, out)
    if any(held["event_id"] == message["event_id"] for held in current["held"]):
        return out
    out.state = {**current, "held": [*current["held"], message]}
    return out


def _learn(current: dict[str, Any], group: str, out: Routing) -> Routing:
    out.forward += [{**held, "group": group} for held in current["held"]]
    out.state = {**current, "group": group, "held": []}
    return out


def release_expired(state: dict[str, Any], why: str, received_before_ms: float | None) -> Routing:
    """Dead-letter the events held for an unknown alias since before the given time (all
    of them when it is None: the input was drained)."""
    out = Routing()
    keep: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    for held in state["held"]:
        due = received_before_ms is None or held["received_ms"] < received_before_ms
        (expired if due else keep).append(held)
    if expired:
        out.state = {**state, "held": keep}
        out.dead_letters = [
            {
                "event_id": held["event_id"],
                "error": Unmatched.code,
                "reason": f"{held['record'].get('kind')} names {held['alias'].split(':', 1)[1]}, "
                f"which is unknown: {why}",
                "source": held["source"],
                "raw": held["raw"],
            }
            for held in expired
        ]
    return out
