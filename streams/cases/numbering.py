"""Case numbers: ``DISTRICT-YEAR-NNNN``, per district and per year, without gaps, in the
order the cases were opened (event time), and never changed once given.

A request waits until the numbering partition's event time has passed the case's
opening by ``number_after`` (so that cases opened a little earlier, whose requests are
still on their way, come first), or until the input is drained; the waiting requests are
then numbered in (opened at, case id) order. So a batch input gives the same numbers
whatever order its lines are in, and a service numbers its cases in the order they were
opened unless one arrives later than that. A number once given is kept as a fact (the
entry ``case:ID``, which leaves memory for the SQL archive like any other), so a repeated
request, a replay or a later run gets the same number again.

State is one small entry per key: a counter per district and year, the number given to
each case, and each waiting request. An entry is written before the counter that counts
it and before its request stops waiting, on the same changelog partition, so after a
crash between those writes the repeated step finds the number and moves the counter
past it: no gap, no number given twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from streams.messages import NumberRequest


class Counter(msgspec.Struct, frozen=True, tag="counter"):
    partition: int
    next: int = 1


class Assigned(msgspec.Struct, frozen=True, tag="assigned"):
    partition: int
    case_no: str
    seq: int  # the number within its district and year
    opened_at: datetime


class Waiting(msgspec.Struct, frozen=True, tag="waiting"):
    partition: int
    request: NumberRequest
    received_ms: int  # wall clock, for the hold period


Entry = Counter | Assigned | Waiting


def counter_key(request: NumberRequest) -> str:
    return f"{request.district_code}|{request.year}"


def case_key(request: NumberRequest) -> str:
    return f"case:{request.case_id}"


def waiting_key(request: NumberRequest) -> str:
    return f"wait:{request.case_id}"


def keys_of(request: NumberRequest) -> tuple[str, str, str]:
    return case_key(request), counter_key(request), waiting_key(request)


@dataclass
class Numbering:
    """What a step of the numbering agent does: entries to write (in this order), keys to
    delete after them, and the numbers to send back to the groups."""

    writes: dict[str, Entry] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    given: list[tuple[NumberRequest, str]] = field(default_factory=list)

    def ordered(self) -> list[tuple[str, Entry]]:
        """Numbers before the counters that count them."""
        return sorted(self.writes.items(), key=lambda kv: isinstance(kv[1], Counter))

    def merge(self, later: Numbering) -> None:
        """Take in a step that came after this one, so a batch is settled once: each key
        ends as the later step left it, and the answers keep their order."""
        for key, entry in later.writes.items():
            self.writes[key] = entry
            if key in self.deletes:
                self.deletes.remove(key)
        for key in later.deletes:
            self.writes.pop(key, None)
            if key not in self.deletes:
                self.deletes.append(key)
        self.given.extend(later.given)


def ask(
    known: Mapping[str, Entry], request: NumberRequest, partition: int, received_ms: int
) -> Numbering:
    """A request: answered at once if its case has a number, else it waits."""
    step = Numbering()
    assigned = known.get(case_key(request))
    if isinstance(assigned, Assigned):
        step.writes.update(_repair(known, request, assigned, partition))
        step.given.append((request, assigned.case_no))
    elif not isinstance(known.get(waiting_key(request)), Waiting):
        step.writes[waiting_key(request)] = Waiting(partition, request, received_ms)
    return step


def give(known: Mapping[str, Entry], waiting: Iterable[Waiting], partition: int) -> Numbering:
    """Number the waiting requests in the order their cases were opened."""
    step = Numbering()
    current = dict(known)
    for entry in sorted(waiting, key=lambda w: (w.request.opened_at, w.request.case_id)):
        request = entry.request
        writes, case_no = number(current, request, partition)
        current.update(writes)
        step.writes.update(writes)
        step.deletes.append(waiting_key(request))
        step.given.append((request, case_no))
    return step


def number(
    known: Mapping[str, Entry], request: NumberRequest, partition: int
) -> tuple[dict[str, Entry], str]:
    """(entries to write, in order; the case number) for one request, given its entries
    as stored (``case_key`` and ``counter_key``)."""
    assigned = known.get(case_key(request))
    if isinstance(assigned, Assigned):
        return _repair(known, request, assigned, partition), assigned.case_no
    counter = known.get(counter_key(request))
    next_seq = counter.next if isinstance(counter, Counter) else 1
    case_no = f"{request.district_code}-{request.year}-{next_seq:04d}"
    return {
        case_key(request): Assigned(partition, case_no, next_seq, request.opened_at),
        counter_key(request): Counter(partition, next_seq + 1),
    }, case_no


def _repair(
    known: Mapping[str, Entry], request: NumberRequest, assigned: Assigned, partition: int
) -> dict[str, Entry]:
    """The counter moved past a number whose own write outlived the counter's."""
    counter = known.get(counter_key(request))
    next_seq = counter.next if isinstance(counter, Counter) else 1
    if assigned.seq < next_seq:
        return {}
    return {counter_key(request): Counter(partition, assigned.seq + 1)}
