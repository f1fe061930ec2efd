"""Step 3, the case state machine: OPEN → FILED | REJECTED, FILED → DECIDED,
DECIDED/REJECTED → CLOSED; what may wait for a missing step, and what never applies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.cases.machine import State, Verdict, judge, next_state
from streams.events import LIFECYCLE_KINDS

A, W, X = Verdict.APPLY, Verdict.WAIT, Verdict.CONFLICT
OP, FI, RE, DE, CL = State.OPEN, State.FILED, State.REJECTED, State.DECIDED, State.CLOSED

# kind -> verdict in OPEN, FILED, REJECTED, DECIDED, CLOSED (written out from docs/rules.md)
TABLE = {
    "case_filed": (A, X, X, X, X),
    "case_rejected": (A, X, X, X, X),
    "case_decided": (W, A, X, X, X),  # OPEN: the filing may still come
    "feedback_sent": (W, W, A, A, A),  # after a decision or rejection, even once closed
    "case_closed": (W, W, A, A, X),  # OPEN/FILED: the decision may still come
}
STATES = (OP, FI, RE, DE, CL)
AFTER = {"case_filed": FI, "case_rejected": RE, "case_decided": DE, "case_closed": CL}
ALLOWED_MOVES = {(OP, FI), (OP, RE), (FI, DE), (DE, CL), (RE, CL)}


@pytest.mark.parametrize("kind", LIFECYCLE_KINDS)
@pytest.mark.parametrize("state", STATES)
def test_verdict_table(state: State, kind: str) -> None:
    """Each (state, event) pair gets the verdict of the table written out from docs/rules.md."""
    assert judge(state, kind) is TABLE[kind][STATES.index(state)]


def test_invalid_transitions_of_the_brief_conflict() -> None:
    """Filing a REJECTED case, deciding a DECIDED case and closing a CLOSED one are
    conflicts, not waits: no later event can make them valid."""
    assert judge(RE, "case_filed") is X
    assert judge(DE, "case_decided") is X
    assert judge(CL, "case_closed") is X
    assert judge(RE, "case_decided") is X


@pytest.mark.parametrize("kind", sorted(AFTER))
def test_next_state(kind: str) -> None:
    """Filing, rejecting, deciding and closing lead to FILED, REJECTED, DECIDED, CLOSED."""
    source = next(s for s in STATES if judge(s, kind) is A)
    assert next_state(source, kind) is AFTER[kind]


@pytest.mark.parametrize("state", [RE, DE, CL])
def test_feedback_keeps_the_state(state: State) -> None:
    """Feedback to the referring agency is recorded without moving the case."""
    assert next_state(state, "feedback_sent") is state


@given(st.lists(st.sampled_from(LIFECYCLE_KINDS), max_size=12))
def test_applied_events_only_take_allowed_steps(kinds: list[str]) -> None:
    """Applying whatever the machine allows, from OPEN, only ever takes the five steps of
    docs/rules.md (or stays put on feedback), so CLOSED is never left."""
    state = OP
    for kind in kinds:
        if judge(state, kind) is A:
            after = next_state(state, kind)
            if kind == "feedback_sent":
                assert after is state
            else:
                assert (state, after) in ALLOWED_MOVES
            state = after
