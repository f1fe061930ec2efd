"""Step 3, the case state machine: which lifecycle event a state allows.

    OPEN ──filed──▶ FILED ──decided──▶ DECIDED ──closed──▶ CLOSED
      └──rejected──▶ REJECTED ─────────────closed─────────────┘

Partner systems are not synchronised, so an event the state does not allow *yet* (a
decision for a case still OPEN: the filing may be late) waits; one the state can never
allow again (filing a REJECTED case) is a conflict and is dead-lettered.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class State(StrEnum):
    OPEN = "OPEN"
    FILED = "FILED"
    REJECTED = "REJECTED"
    DECIDED = "DECIDED"
    CLOSED = "CLOSED"


class Verdict(Enum):
    APPLY = "apply"
    WAIT = "wait"
    CONFLICT = "conflict"


# kind -> (states it applies in, states where it must wait, resulting state or None)
_RULES: dict[str, tuple[frozenset[State], frozenset[State], State | None]] = {
    "case_filed": (frozenset({State.OPEN}), frozenset(), State.FILED),
    "case_rejected": (frozenset({State.OPEN}), frozenset(), State.REJECTED),
    "case_decided": (frozenset({State.FILED}), frozenset({State.OPEN}), State.DECIDED),
    "feedback_sent": (
        frozenset({State.DECIDED, State.REJECTED, State.CLOSED}),
        frozenset({State.OPEN, State.FILED}),
        None,
    ),
    "case_closed": (
        frozenset({State.DECIDED, State.REJECTED}),
        frozenset({State.OPEN, State.FILED}),
        State.CLOSED,
    ),
}


def judge(state: State, kind: str) -> Verdict:
    """Whether an event of ``kind`` applies to a case in ``state``, must wait, or conflicts."""
    applies, waits, _ = _RULES[kind]
    if state in applies:
        return Verdict.APPLY
    if state in waits:
        return Verdict.WAIT
    return Verdict.CONFLICT


def next_state(state: State, kind: str) -> State:
    """The state after applying an event ``judge`` said applies."""
    target = _RULES[kind][2]
    return state if target is None else target
