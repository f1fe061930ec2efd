"""An incident of the ``zhuzhou-scaled`` profile as JSONL lines, each with the instant it
is published: its event time plus a realistic delay, and now and then the frictions of
real inputs (exact duplicates, amendments, receipts sent twice, events published before
what they follow, late referrals, invalid lines)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from random import Random
from typing import Any

from referrals.generate.drawing import DrawnReferral, year_of
from referrals.generate.incident import Incident
from referrals.generate.records import decision_record, iso, referral_record
from referrals.generate.scaled_profile import ScaledProfile
from referrals.generate.texts import AMENDMENT_NOTES, Agency
from streams.organisation import Organisation

Published = tuple[datetime, str]
UNKNOWN_DISTRICT = "430299"  # no district of Zhuzhou has this code


class Numbers:
    """Document numbers: referrals per agency and year, decisions per year, receipts."""

    def __init__(self) -> None:
        self.referrals: dict[tuple[Agency, int], int] = {}
        self.decisions: dict[int, int] = {}
        self.receipts = 0

    def referral(self, agency: Agency, year: int) -> str:
        n = self.referrals[(agency, year)] = self.referrals.get((agency, year), 0) + 1
        return f"{agency.prefix}-{year}-{n:06d}"

    def decision(self, at: datetime) -> str:
        year = year_of(at)
        n = self.decisions[year] = self.decisions.get(year, 0) + 1
        return f"株城执罚〔{year}〕{n:06d}号"  # noqa: RUF001

    def receipt(self) -> str:
        self.receipts += 1
        return f"FS-430200-{self.receipts:09d}"


def _text(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


class IncidentLines:
    """Turns incidents into published lines; events after ``horizon`` are not written
    (the input ends there, with some cases still open)."""

    def __init__(
        self, rng: Random, org: Organisation, seed: int, profile: ScaledProfile, horizon: datetime
    ) -> None:
        self.rng = rng
        self.org = org
        self.seed = seed
        self.profile = profile
        self.horizon = horizon
        self.numbers = Numbers()

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.rng.randint(int(low * 60), int(high * 60)))

    def lines(self, incident: Incident) -> list[Published]:
        out = self.referrals(incident)
        ref = {"agency": incident.opener.agency, "referral_id": incident.opener.referral_id}
        return out + self.lifecycle(incident, ref)

    def referrals(self, incident: Incident) -> list[Published]:
        p, rng = self.profile, self.rng
        published: list[datetime] = []
        for r in incident.referrals:
            r.referral_id = self.numbers.referral(r.agency, r.year)
            r.record = referral_record(rng, self.org, self.seed, r)
            published.append(r.referred_at + self.hours(0, 2))
        if len(incident.referrals) > 1:
            roll = rng.random()
            if roll < p.late_opener:  # the first referral arrives after a later one
                published[0] = published[1] + self.hours(1, 48)
            elif roll < p.late_opener + p.late_joiner:
                published[-1] = incident.referrals[-1].referred_at + timedelta(
                    days=rng.uniform(20, 90)
                )
        out: list[Published] = []
        for r, at in zip(incident.referrals, published, strict=True):
            if r.referred_at > self.horizon:
                continue
            text = _text(r.record)
            out.append((at, text))
            out += self.frictions(r, at, text)
        return out

    def frictions(self, r: DrawnReferral, at: datetime, text: str) -> list[Published]:
        """A referral sent twice, amended, cut short, or copied into an unknown district."""
        p, rng = self.profile, self.rng
        out: list[Published] = []
        if rng.random() < p.exact_duplicate:
            out.append((at + self.hours(1, 72), text))
        if rng.random() < p.amendment:
            note = "（补充：" + rng.choice(AMENDMENT_NOTES) + "）"
            amended = {**r.record, "description": r.record["description"] + note}
            out.append((at + timedelta(days=rng.uniform(2, 10)), _text(amended)))
        if rng.random() < p.bad_json:
            out.append((at + self.hours(0, 1), text[: len(text) // 2]))
        if rng.random() < p.unknown_district:
            stray = {**r.record, "referral_id": self.numbers.referral(r.agency, r.year)}
            stray["district_code"] = UNKNOWN_DISTRICT
            stray.pop("street_code", None)
            out.append((at + self.hours(0, 2), _text(stray)))
        return out

    def lifecycle(self, incident: Incident, ref: dict[str, Any]) -> list[Published]:
        """The case's events; a filing published after its decision, a decision after
        its first payment, now and then."""
        p, rng = self.profile, self.rng
        decided = self.decision(incident, ref)
        payments = self.payments(incident, ref)
        if decided is not None and payments and rng.random() < p.payment_before_decision:
            decided = (payments[0][0] + self.hours(1, 48), decided[1])
        filed = self.event(ref, "case_filed", "filed_at", incident.filed_at)
        if filed is not None and decided is not None and rng.random() < p.decision_before_filing:
            filed = (decided[0] + self.hours(1, 48), filed[1])
        rejected = self.event(
            ref, "case_rejected", "rejected_at", incident.rejected_at, reason=incident.reason
        )
        sent = self.event(ref, "feedback_sent", "sent_at", incident.feedback_at)
        closed = self.event(ref, "case_closed", "closed_at", incident.closed_at)
        events = [filed, rejected, decided, *payments, sent, closed]
        return [line for line in events if line is not None]

    def event(
        self, ref: dict[str, Any], kind: str, name: str, at: datetime | None, **fields: Any
    ) -> Published | None:
        """The line of a lifecycle event at ``at``, published within six hours; None when
        there is no such event before the horizon."""
        if at is None or at > self.horizon:
            return None
        return at + self.hours(0, 6), _text({"kind": kind, **ref, name: iso(at), **fields})

    def decision(self, incident: Incident, ref: dict[str, Any]) -> Published | None:
        at = incident.decided_at
        if at is None or at > self.horizon:
            return None
        incident.decision_no = self.numbers.decision(at)
        record = decision_record(
            ref,
            at,
            incident.decision_no,
            incident.amount,
            incident.major_flag,
            incident.legal_reviewed_at,
            incident.exemption,
        )
        return at + self.hours(0, 6), _text(record)

    def payments(self, incident: Incident, ref: dict[str, Any]) -> list[Published]:
        """Each receipt published within a day, some twice; now and then a receipt with
        a negative amount beside the first."""
        p, rng = self.profile, self.rng
        out: list[Published] = []
        for at, fen in incident.payments:
            if at > self.horizon:
                break
            published, text = at + self.hours(0, 24), _text(self.receipt(incident, ref, at, fen))
            out.append((published, text))
            if rng.random() < p.receipt_twice:
                out.append((published + timedelta(days=rng.uniform(1, 10)), text))
        if out and rng.random() < p.negative_amount:
            at, fen = incident.payments[0]
            wrong = self.receipt(incident, ref, at, -fen)
            out.append((out[0][0] + self.hours(0, 2), _text(wrong)))
        return out

    def receipt(
        self, incident: Incident, ref: dict[str, Any], at: datetime, fen: int
    ) -> dict[str, Any]:
        return {
            "kind": "payment",
            **ref,
            "receipt_no": self.numbers.receipt(),
            "decision_no": incident.decision_no,
            "paid_at": iso(at),
            "amount_fen": fen,
        }
