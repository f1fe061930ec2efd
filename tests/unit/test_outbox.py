"""What an agent step sends, and how one poison message is isolated from its batch."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from schemas.codec import default_store
from streams.errors import Reason
from streams.messages import Admitted, Register, Source, groups_batch
from streams.outbox import Outbox, _chunks
from streams.settings import Settings
from tests.unit.factories import at, referral

STORE = default_store()


def _outbox() -> Outbox:
    pipeline: Any = SimpleNamespace(settings=Settings(partitions=4), store=STORE)
    return Outbox(pipeline)


def _admitted(event_id: str) -> Admitted:
    record = referral("ZJ-1", at(0))
    return Admitted("ref:HOUSING:ZJ-1", event_id, record, Source("referrals.housing", 0, 7), 0)


def test_a_step_that_raises_dead_letters_its_event_and_keeps_the_entry() -> None:
    """A step raising on one event gives a `failed` dead letter carrying the event
    re-encoded, leaves the key's entry unchanged (None: nothing to write), and lets the
    next message of the batch through."""
    out = _outbox()

    def step(key: str, entry: int | None, message: Admitted) -> int | None:
        if message.event_id == "poison":
            raise ZeroDivisionError("a bug")
        return (entry or 0) + 1

    guarded = out.isolate(step)
    assert guarded("k", 1, _admitted("poison")) is None
    assert guarded("k", 1, _admitted("fine")) == 2
    [letter] = out._letters
    assert (letter.event_id, letter.code) == ("poison", Reason.FAILED)
    assert "ZeroDivisionError: a bug" in letter.reason
    assert STORE.decode(letter.raw).record["referral_id"] == "ZJ-1"


def test_a_failing_control_message_sends_no_letter() -> None:
    """A message that is not an input event (a register, a tick) has nothing to
    dead-letter: it is logged and skipped."""
    out = _outbox()

    def step(key: str, entry: int | None, message: Register) -> int | None:
        raise KeyError(key)

    registered = Register("case:C1", "g", datetime(2022, 3, 1, tzinfo=UTC))
    assert out.isolate(step)("k", None, registered) is None
    assert out._letters == []


def test_big_batches_are_split_and_keep_their_order() -> None:
    """Messages addressed to one partition travel as records of at most about 256 KiB,
    in the order they were added."""
    messages = [_admitted(f"t/0/{i}") for i in range(2_000)]
    chunks = _chunks(messages)
    assert len(chunks) > 1 and max(map(len, chunks)) <= 256 * 1024
    assert [m.event_id for c in chunks for m in groups_batch(c)] == [m.event_id for m in messages]
