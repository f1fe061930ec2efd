"""Which incident group an event belongs to, learnt from the referrals as they arrive.

Referrals carry what decides their group (party, category, place); lifecycle events and
payments only name a referral or a case id. An alias (``ref:AGENCY:ID`` or ``case:ID``)
is mapped to its group by the first version of its referral — routing stays that of the
first version — and an event naming an alias not yet known waits here for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from streams.deadletters.letters import Refused, WaitEnded
from streams.dedup.rules import case_id_for, incident_key
from streams.errors import Unmatched
from streams.events import Referral, event_time, parse_event
from streams.messages import Admitted, Register


class Expired(msgspec.Struct, frozen=True):
    """A held event dead-lettered when its wait ended, kept to send the letter again."""

    event: Admitted
    why: WaitEnded


class AliasState(msgspec.Struct, frozen=True, tag="alias"):
    partition: int
    group: str | None = None
    held: tuple[Admitted, ...] = ()
    # Events released when the group was learnt, and letters sent, stay listed: the
    # message that caused them may come again after a crash that kept this state but
    # lost the sends, and then sends them all again (receivers ignore repeats).
    released: tuple[Admitted, ...] = ()
    expired: tuple[Expired, ...] = ()
    version: int = 0  # counts changes: the archive never takes an older copy over a newer
    touched: datetime | None = None  # the latest event time seen for this alias

    @property
    def waiting(self) -> bool:
        return bool(self.held)


@dataclass
class Routing:
    state: AliasState | None = None  # to store; None when unchanged
    forward: list[Admitted] = field(default_factory=list)  # to the groups, ``group`` set
    register: list[Register] = field(default_factory=list)  # aliases learnt elsewhere
    refused: list[Refused] = field(default_factory=list)


def route(state: AliasState | None, message: Admitted | Register, partition: int) -> Routing:
    """Apply one message for an alias to that alias's state (held events and group)."""
    out = Routing()
    current = state or AliasState(partition=partition)
    if isinstance(message, Register):
        return _learn(current, message.group, message.at, out)
    event = parse_event(message.record)
    at = event_time(event)
    if isinstance(event, Referral):
        group = current.group or incident_key(event)
        case_alias = f"case:{case_id_for(event.key)}"
        out.register.append(Register(alias=case_alias, group=group, at=at))
        out.forward.append(msgspec.structs.replace(message, group=group))
        return _learn(current, group, at, out)
    if current.group is not None:
        out.forward.append(msgspec.structs.replace(message, group=current.group))
        return out
    if any(held.event_id == message.event_id for held in current.held):
        return out
    out.state = _changed(current, at, held=(*current.held, message))
    return out


def _changed(current: AliasState, at: datetime, **changes: object) -> AliasState:
    touched = at if current.touched is None else max(current.touched, at)
    return msgspec.structs.replace(current, version=current.version + 1, touched=touched, **changes)


def _learn(current: AliasState, group: str, at: datetime, out: Routing) -> Routing:
    """Set the alias's group (the first one learnt stays) and release what waited."""
    group = current.group or group
    released = (*current.released, *current.held)
    out.forward += [msgspec.structs.replace(held, group=group) for held in released]
    if current.group is None or current.held:
        out.state = _changed(current, at, group=group, held=(), released=released)
    return out


def release_expired(state: AliasState, why: WaitEnded, received_before_ms: int | None) -> Routing:
    """Dead-letter the events held for an unknown alias since before the given time (all
    of them when it is None: the input was drained).

    Letters sent before are sent again, for the same reason released events are.
    """
    out = Routing()
    due = [
        h for h in state.held if received_before_ms is None or h.received_ms < received_before_ms
    ]
    new = tuple(Expired(held, why) for held in due)
    if due:
        keep = tuple(h for h in state.held if h not in due)
        out.state = msgspec.structs.replace(
            state, held=keep, expired=(*state.expired, *new), version=state.version + 1
        )
    out.refused = [_unknown(e, repeat=True) for e in state.expired]
    out.refused += [_unknown(e, repeat=False) for e in new]
    return out


def _unknown(expired: Expired, *, repeat: bool) -> Refused:
    held = expired.event
    named = held.alias.split(":", 1)[1]
    reason = f"{held.record.get('kind')} names {named}, which is unknown: {expired.why}"
    letter = Refused.of(Unmatched(reason), held.event_id, held.source, held.record)
    return dataclasses.replace(letter, repeat=repeat)
