"""The ``zhuzhou-2022`` cases as JSONL lines in publication order: document numbers, each
event's line published after a delay, exact duplicates, amendments and the bad lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from referrals.generate.builder import Builder, Case
from referrals.generate.drawing import DrawnReferral, year_of
from referrals.generate.records import decision_record, iso, referral_record
from referrals.generate.texts import AMENDMENT_NOTES, Agency

Delay = Callable[[], timedelta]
Serials = dict[tuple[Agency, int], int]


@dataclass(order=True)
class Line:
    published: datetime
    order: int
    text: str = field(compare=False)


def number_documents(cases: list[Case]) -> tuple[Serials, dict[tuple[str, int], str]]:
    """Referral and decision numbers follow event time, per agency and year (per year for
    decisions), and receipt numbers the payments' time. Returns the referral serials (the
    bad lines take the next ones) and each (referral id, instalment)'s receipt number."""
    referrals = sorted((r for c in cases for r in c.referrals), key=lambda r: r.referred_at)
    serials: Serials = {}
    for r in referrals:
        n = serials[(r.agency, r.year)] = serials.get((r.agency, r.year), 0) + 1
        r.referral_id = f"{r.agency.prefix}-{r.year}-{n:04d}"
    decided = sorted(
        ((c.decided_at, c) for c in cases if c.decided_at is not None), key=lambda p: p[0]
    )
    decisions: dict[int, int] = {}
    for at, case in decided:
        year = year_of(at)
        decisions[year] = decisions.get(year, 0) + 1
        case.decision_no = f"株城执罚〔{year}〕{decisions[year]:04d}号"  # noqa: RUF001
    payments = sorted(
        (at, case.first.referral_id, i) for case in cases for i, at in enumerate(case.payment_times)
    )
    receipts = {(rid, i): f"FS-430200-{n:06d}" for n, (_, rid, i) in enumerate(payments, 1)}
    return serials, receipts


class Writer:
    """Lines with their publication time; ``lines()`` gives them in publication order."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.rng: Random = builder.rng
        self.all: list[Line] = []
        self.referrals: list[tuple[DrawnReferral, Line]] = []
        self.payments: list[Line] = []

    def emit(self, record: dict[str, Any], at: datetime, delay: Delay) -> Line:
        line = Line(at + delay(), len(self.all), json.dumps(record, ensure_ascii=False))
        self.all.append(line)
        return line

    def again(self, line: Line, later: timedelta) -> Line:
        """The very same line published again ``later``."""
        copy = Line(line.published + later, len(self.all), line.text)
        self.all.append(copy)
        return copy

    def usual(self, hours: float = 6) -> Delay:
        """Publication within ``hours``; now and then days late, or early by a clock
        that disagrees."""

        def draw() -> timedelta:
            roll = self.rng.random()
            if roll < 0.05:  # published late by the partner's system
                return timedelta(days=self.rng.uniform(2, 20))
            if roll < 0.08:  # published early: the clocks of partner systems disagree
                return -timedelta(days=self.rng.uniform(0.5, 4))
            return timedelta(hours=self.rng.uniform(0, hours))

        return draw

    def case(self, case: Case, receipts: dict[tuple[str, int], str]) -> None:
        for r in case.referrals:
            r.record = referral_record(self.rng, self.builder.org, self.builder.seed, r)
            self.referrals.append((r, self.emit(r.record, r.referred_at, self.usual(2))))
        ref = {"agency": case.first.agency, "referral_id": case.first.referral_id}
        if case.filed_at is not None:
            filed = {"kind": "case_filed", **ref, "filed_at": iso(case.filed_at)}
            self.emit(filed, case.filed_at, self.usual())
        if case.rejected_at is not None:
            rejected = {"kind": "case_rejected", **ref, "rejected_at": iso(case.rejected_at)}
            self.emit({**rejected, "reason": case.reason}, case.rejected_at, self.usual())
        if case.decided_at is not None:
            decision = decision_record(
                ref,
                case.decided_at,
                case.decision_no,
                case.amount,
                case.major_flag,
                case.legal_reviewed_at,
                case.exemption,
            )
            self.emit(decision, case.decided_at, self.usual())
        for i, (at, fen) in enumerate(zip(case.payment_times, case.payment_amounts, strict=True)):
            payment = {
                "kind": "payment",
                **ref,
                "receipt_no": receipts[(case.first.referral_id, i)],
                "decision_no": case.decision_no,
                "paid_at": iso(at),
                "amount_fen": fen,
            }
            self.payments.append(self.emit(payment, at, self.usual(48)))
        if case.feedback_at is not None:
            sent = {"kind": "feedback_sent", **ref, "sent_at": iso(case.feedback_at)}
            self.emit(sent, case.feedback_at, self.usual())
        if case.closed_at is not None:
            closed = {"kind": "case_closed", **ref, "closed_at": iso(case.closed_at)}
            self.emit(closed, case.closed_at, self.usual())

    def duplicates_and_amendments(self) -> None:
        """Four referrals and two receipts sent twice; three other referrals amended."""
        rng = self.rng
        sent_twice = rng.sample(self.referrals, 4)
        for _, line in sent_twice:
            self.again(line, timedelta(hours=rng.uniform(1, 72)))
        for line in rng.sample(self.payments, 2):
            self.again(line, timedelta(days=rng.uniform(1, 10)))
        twice = {id(line) for _, line in sent_twice}
        for r, line in rng.sample([p for p in self.referrals if id(p[1]) not in twice], 3):
            note = "（补充：" + rng.choice(AMENDMENT_NOTES) + "）"
            amended = {**r.record, "description": r.record["description"] + note}
            self.emit(amended, line.published, lambda: timedelta(days=rng.uniform(2, 10)))

    def bad_lines(self, serials: Serials) -> None:
        """Four lines admission turns away: a referral without its address, one in an
        unknown district, one on an unknown street, and a line cut short."""
        b, out = self.builder, []
        for agency, year, broken in (
            (Agency.HOUSING, 2022, "address"),
            (Agency.HOUSING, 2021, "district"),
            (Agency.ENVIRONMENT, 2022, "street"),
        ):
            at = b.day(date(year, 2, 1), date(year, 11, 30))
            r = b.referral(agency, year, at)
            n = serials[(agency, year)] = serials[(agency, year)] + 1
            r.referral_id = f"{agency.prefix}-{year}-{n:04d}"
            record = referral_record(self.rng, b.org, b.seed, r)
            if broken == "address":
                del record["address"]
            elif broken == "district":
                record["district_code"] = "430299"
                record.pop("street_code", None)
            else:
                record["street_code"] = record["district_code"] + "999"
            out.append((json.dumps(record, ensure_ascii=False), at + timedelta(hours=1)))
        at = b.day(date(2022, 3, 1), date(2022, 9, 30))
        out.append(('{"kind": "case_filed", "agency": "HOUSING", "referral_id": "ZJ-2022-00', at))
        self.rng.shuffle(out)
        for text, published in out:
            self.all.append(Line(published, len(self.all), text))

    def lines(self) -> list[str]:
        return [line.text for line in sorted(self.all)]
