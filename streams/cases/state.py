"""What an incident group keeps: typed entries, parsed once, stored as they are.

The group's cases are not stored: they are formed again from these entries on every
change (``forming.form_cases``), which is cheap because the entries are already parsed and
a group's live state is small — closed groups leave for the archive (``retire_after``).
A new state shares the entries of the old one it does not change; entries are never
mutated, so the old state stays valid if a message fails half-way.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from streams.dedup.rules import Version
from streams.events import Lifecycle, Payment, Referral
from streams.messages import Source


class ReferralEntry(msgspec.Struct, frozen=True):
    first: Referral  # the first version, parsed: routing and deadlines stay its own
    versions: tuple[Version, ...]


class Refusal(msgspec.Struct, frozen=True):
    code: str
    reason: str


class Held(msgspec.Struct, frozen=True):
    """How a lifecycle event or payment reached the group, and whether it was refused."""

    event_id: str
    source: Source
    received_ms: int
    refused: Refusal | None = None


class LifecycleEntry(msgspec.Struct, frozen=True):
    event: Lifecycle
    held: Held


class PaymentEntry(msgspec.Struct, frozen=True):
    event: Payment
    held: Held


class Absorbed(msgspec.Struct, frozen=True):
    into: str
    why: str


class GroupState(msgspec.Struct, tag="group"):
    key: str
    partition: int
    seq: int = 0
    referrals: dict[str, ReferralEntry] = msgspec.field(default_factory=dict)
    lifecycle: dict[str, LifecycleEntry] = msgspec.field(default_factory=dict)  # by digest
    payments: dict[str, PaymentEntry] = msgspec.field(default_factory=dict)  # by receipt no
    numbers: dict[str, str] = msgspec.field(default_factory=dict)  # case id -> case number
    # case id -> district of the cases asked a number for, and of those whose request was
    # withdrawn (absorbed, or numbered through another case) before it was answered
    requested: dict[str, str] = msgspec.field(default_factory=dict)
    withdrawn: dict[str, str] = msgspec.field(default_factory=dict)
    absorbed: dict[str, Absorbed] = msgspec.field(default_factory=dict)
    emitted: dict[str, str] = msgspec.field(default_factory=dict)  # case id -> digest sent
    # Derived on every change, so the agent's indexes need no forming:
    waiting_since_ms: int | None = None  # the oldest event still waiting, by wall clock
    refusals: int = 0  # events refused: their letters are sent again on every tick
    retire_after: datetime | None = None  # when all is closed: last referral + merge window
    newest: datetime | None = None  # the latest event time the group has seen
    tally: dict[str, int] = msgspec.field(default_factory=dict)  # streams/cases/tally.py

    def evolve(self) -> GroupState:
        """A copy whose containers can be changed without touching this state."""
        return msgspec.structs.replace(
            self,
            referrals=dict(self.referrals),
            lifecycle=dict(self.lifecycle),
            payments=dict(self.payments),
            numbers=dict(self.numbers),
            requested=dict(self.requested),
            withdrawn=dict(self.withdrawn),
            absorbed=dict(self.absorbed),
            emitted=dict(self.emitted),
        )
