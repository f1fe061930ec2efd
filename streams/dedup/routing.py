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
    """Apply one message for an alias to that alias's state (held events and group).

    Events released when the group is learnt stay listed: the message that taught the
    group may come again after a crash that kept this state but lost the sends, and it
    then sends them all again (the group ignores what it already has).
    """
    out = Routing()
    current = state or {"group": None, "held": [], "released": [], "p": partition}
    if message["type"] == "register":
        return _learn(current, message["group"], out)
    event = parse_event(message["record"])
    if isinstance(event, Referral):
        group = current["group"] or incident_key(event)
        out.register.append(
            {"type": "register", "alias": f"case:{case_id_for(event.key)}", "group": group}
        )
        out.forward.append({**message, "group": group})
        return _learn(current, group, out)
    if current["group"] is not None:
        out.forward.append({**message, "group": current["group"]})
        return out
    if any(held["event_id"] == message["event_id"] for held in current["held"]):
        return out
    out.state = {**current, "held": [*current["held"], message]}
    return out


def _learn(current: dict[str, Any], group: str, out: Routing) -> Routing:
    """Set the alias's group (the first one learnt stays) and release what waited."""
    group = current["group"] or group
    released = [*current.get("released", []), *current["held"]]
    out.forward += [{**held, "group": group} for held in released]
    if current["group"] is None or current["held"]:
        out.state = {**current, "group": group, "held": [], "released": released}
    return out


def release_expired(state: dict[str, Any], why: str, received_before_ms: float | None) -> Routing:
    """Dead-letter the events held for an unknown alias since before the given time (all
    of them when it is None: the input was drained).

    Letters sent before are sent again, for the same reason released events are.
    """
    out = Routing()
    keep: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    for held in state["held"]:
        due = received_before_ms is None or held["received_ms"] < received_before_ms
        (expired if due else keep).append(held)
    letters = [
        *state.get("expired", []),
        *(_unknown(held, why) for held in expired),
    ]
    if expired:
        out.state = {**state, "held": keep, "expired": letters}
    out.dead_letters = letters
    return out


def _unknown(held: dict[str, Any], why: str) -> dict[str, Any]:
    return {
        "event_id": held["event_id"],
        "error": Unmatched.code,
        "reason": f"{held['record'].get('kind')} names {held['alias'].split(':', 1)[1]}, "
        f"which is unknown: {why}",
        "source": held["source"],
        "raw": held["raw"],
    }
