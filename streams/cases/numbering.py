"""Case numbers: ``DISTRICT-YEAR-NNNN``, per district and per year, without gaps.

State is one small entry per key: a counter per district and year, and the number given
to each case. A request seen twice (at-least-once) gets the same number again. The entry
is written before the counter, on the same changelog partition, so after a crash between
the two writes the repeated request finds its number and moves the counter past it.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    @property
    def version(self) -> int:
        return 0  # a number once given never changes


def counter_key(request: NumberRequest) -> str:
    return f"{request.district_code}|{request.year}"


def case_key(request: NumberRequest) -> str:
    return f"case:{request.case_id}"


def number(
    known: Mapping[str, Counter | Assigned], request: NumberRequest, partition: int
) -> tuple[dict[str, Counter | Assigned], str]:
    """(entries to write, in order; the case number) for one request, given the request's
    entries as stored (``case_key`` and ``counter_key``)."""
    counter = known.get(counter_key(request))
    next_seq = counter.next if isinstance(counter, Counter) else 1
    assigned = known.get(case_key(request))
    if isinstance(assigned, Assigned):
        if assigned.seq < next_seq:
            return {}, assigned.case_no
        return {counter_key(request): Counter(partition, assigned.seq + 1)}, assigned.case_no
    case_no = f"{request.district_code}-{request.year}-{next_seq:04d}"
    return {
        case_key(request): Assigned(partition, case_no, next_seq, request.opened_at),
        counter_key(request): Counter(partition, next_seq + 1),
    }, case_no
