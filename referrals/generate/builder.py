"""The ``zhuzhou-2022`` cases drawn: each role's referral, lifecycle in event time and
payment plan. Amounts of the balancing cases are left to ``balancing``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from random import Random

from referrals.generate.drawing import Drawing, DrawnReferral, year_of
from referrals.generate.profile import LAST_DATE, MAJOR_FEN, ProfileBroken, Role, amounts_for
from referrals.generate.texts import REJECTION_REASONS, Agency
from streams.events import SHANGHAI
from streams.organisation import Organisation


class Plan(Enum):
    """How a decided fine is paid."""

    FULL = "full"
    INSTALMENTS = "instal"
    PARTIAL = "partial"  # some instalments, then nothing
    UNPAID = "unpaid"
    LATE = "late"  # in full, 20 to 150 days after the decision


_PLANS = {
    Role.MAJOR: (
        (Plan.FULL, 3),
        (Plan.INSTALMENTS, 3),
        (Plan.PARTIAL, 2),
        (Plan.UNPAID, 1),
        (Plan.LATE, 2),
    ),
    Role.GENERAL: (
        (Plan.FULL, 5),
        (Plan.INSTALMENTS, 2),
        (Plan.PARTIAL, 1),
        (Plan.UNPAID, 1),
        (Plan.LATE, 2),
    ),
}
_OTHER_PLANS = ((Plan.FULL, 7), (Plan.UNPAID, 1), (Plan.LATE, 2))
_BALANCE_INSTALMENTS = ((1, 5), (2, 3), (3, 2))


@dataclass
class Case:
    role: Role
    first: DrawnReferral
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    reason: str = ""
    decided_at: datetime | None = None
    legal_reviewed_at: datetime | None = None
    amount: int = 0
    exemption: str | None = None
    major_flag: bool | None = None
    decision_no: str = ""
    payment_times: list[datetime] = field(default_factory=list)
    payment_amounts: list[int] = field(default_factory=list)
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    merged: list[DrawnReferral] = field(default_factory=list)

    @property
    def major(self) -> bool:
        return self.major_flag if self.major_flag is not None else self.amount >= MAJOR_FEN

    @property
    def referrals(self) -> tuple[DrawnReferral, ...]:
        return (self.first, *self.merged)


def split(total: int, shares: list[float]) -> list[int]:
    """``total`` fen in parts proportional to ``shares`` (whole yuan but for the last part
    when the shares sum to 1, which then takes the rest exactly)."""
    if not shares:
        return []
    parts = [int(total * s) // 100 * 100 for s in shares]
    if abs(sum(shares) - 1.0) < 1e-9:
        parts[-1] = total - sum(parts[:-1])
    return parts


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


class Builder(Drawing):
    def __init__(self, seed: int, org: Organisation) -> None:
        super().__init__(Random(seed), org)
        self.seed = seed

    def housing_case(self, role: Role, year: int) -> Case:
        at = self.day(*self._referral_days(role, year))
        case = Case(role, self.referral(Agency.HOUSING, year, at))
        if role.major and case.first.category == "OUTDOOR_ADVERTISING":
            case.first.category = "ILLEGAL_CONSTRUCTION"
        self.lifecycle(case)
        return case

    @staticmethod
    def _referral_days(role: Role, y: int) -> tuple[date, date]:
        """The days a housing case of ``role`` is referred on in year ``y``."""
        if role is Role.BALANCE:
            return date(y, 1, 4), date(y, 7, 31)
        if role is Role.DEC_FILE:
            return date(y, 12, 16), date(y, 12, 28)
        if role is Role.OPEN:
            return date(y, 12, 10), date(y, 12, 28)
        if role is Role.SPILL:
            return date(y, 9, 1), date(y, 11, 30)
        if y == 2021:
            return date(y, 1, 4), date(y, 10, 31)
        return date(y, 1, 4), date(y, 12, 5) if role is Role.MAJOR else date(y, 11, 30)

    def partner_case(self, agency: Agency, role: Role, year: int) -> Case:
        end = date(year, 10, 31) if year == 2021 else date(year, 12, 20)
        case = Case(role, self.referral(agency, year, self.day(date(year, 1, 4), end)))
        self.lifecycle(case)
        return case

    def lifecycle(self, case: Case) -> None:
        """Filing or rejection, decision, feedback (not payments) in event time."""
        if case.role is Role.OPEN:
            if self.rng.random() < 0.5:
                case.filed_at = self.after(_at(date(case.first.year + 1, 1, 4), 9), 0, 14)
        elif case.role is Role.REJECTED:
            self.reject(case)
        else:
            self.decide(case, self.file(case))

    def reject(self, case: Case) -> None:
        rejected = self.after(case.first.referred_at, 2, 14 if self.rng.random() < 0.8 else 25)
        case.rejected_at = rejected
        case.reason = self.rng.choice(REJECTION_REASONS)
        self.feedback(case, rejected)
        if self.rng.random() < 0.8:
            case.closed_at = self.after(case.feedback_at or rejected, 3, 20)

    def file(self, case: Case) -> datetime:
        role, ref = case.role, case.first
        if role is Role.DEC_FILE:
            filed = self.after(_at(date(ref.year + 1, 1, 4), 9), 0, 14)
        else:
            late = role is not Role.BALANCE and self.rng.random() < 0.12
            filed = (
                self.after(ref.referred_at, 16, 25)
                if late
                else self.after(ref.referred_at, 0.5, 15)
            )
        if ref.year == 2022 and role is Role.MAJOR:
            filed = min(filed, datetime(2022, 12, 30, 16, 0, tzinfo=SHANGHAI))
        case.filed_at = filed
        return filed

    def decide(self, case: Case, filed: datetime) -> None:
        role, ref = case.role, case.first
        late = role in (Role.MAJOR, Role.SPILL, Role.GENERAL) and self.rng.random() < 0.12
        decided = (
            self.after(filed, 91, 125)
            if late
            else self.after(filed, 15, 60 if role is Role.BALANCE else 88)
        )
        if ref.year == 2021 and role not in (Role.SPILL, Role.DEC_FILE):
            decided = min(decided, datetime(2021, 12, 20, 15, 0, tzinfo=SHANGHAI))
        case.decided_at = decided
        if role is Role.EXEMPTED:
            case.amount, case.exemption = 0, "FIRST_VIOLATION"
        elif role is not Role.BALANCE:
            amounts = amounts_for(role, ref.agency)
            case.amount = self.amount(amounts.low, amounts.high)
        if role.major:
            if self.rng.random() < 0.92:
                case.legal_reviewed_at = decided - timedelta(
                    days=self.rng.randint(1, 6), hours=self.rng.randint(0, 5)
                )
            if self.rng.random() < 0.3:
                case.major_flag = True
        elif ref.agency is Agency.HOUSING and self.rng.random() < 0.25:
            case.major_flag = False
        self.feedback(case, decided)
        self.plan_payments(case, decided)

    def feedback(self, case: Case, since: datetime) -> None:
        draw = self.rng.random()
        if draw < 0.06:
            return  # never sent
        case.feedback_at = self.after(since, 11, 30) if draw < 0.18 else self.after(since, 0.2, 10)

    def plan_payments(self, case: Case, decided: datetime) -> None:
        """Instalment times (amounts later for balancing cases, now for the others)."""
        if case.role is Role.EXEMPTED:
            return
        if case.role is Role.BALANCE:
            self.plan_balance(case, decided)
            return
        plan = self.weighted(_PLANS.get(case.role, _OTHER_PLANS))
        times: list[datetime] = []
        shares: list[float] = []
        if plan is Plan.FULL:
            times, shares = [self.after(decided, 1, 14)], [1.0]
        elif plan is Plan.LATE:
            times, shares = [self.after(decided, 20, 150)], [1.0]
        elif plan in (Plan.INSTALMENTS, Plan.PARTIAL):
            count = self.rng.randint(2, 4) if plan is Plan.INSTALMENTS else self.rng.randint(1, 2)
            at = self.after(decided, 2, 14)
            for _ in range(count):
                times.append(at)
                at = self.after(at, 20, 45)
            raw = [self.rng.uniform(1, 2) for _ in times]
            paid = 1.0 if plan is Plan.INSTALMENTS else self.rng.uniform(0.3, 0.7)
            shares = [paid * r / sum(raw) for r in raw]
        cutoff = LAST_DATE
        if case.first.year == 2021 and case.role not in (Role.SPILL, Role.DEC_FILE):
            cutoff = datetime(2021, 12, 30, 18, 0, tzinfo=SHANGHAI)  # never paid in 2022
        for at, fen in zip(times, split(case.amount, shares), strict=True):
            if at <= cutoff and fen > 0:
                case.payment_times.append(at)
                case.payment_amounts.append(fen)

    def plan_balance(self, case: Case, decided: datetime) -> None:
        """A balancing case's instalment times, all in its own year."""
        instalments = self.weighted(_BALANCE_INSTALMENTS)
        at = self.after(decided, 1, 20 if self.rng.random() < 0.8 else 28)
        case.payment_times = [at]
        for _ in range(instalments - 1):
            at = self.after(at, 10, 20)
            case.payment_times.append(at)
        if year_of(at) != case.first.year:
            raise ProfileBroken(f"a {case.first.year} balancing case pays in {year_of(at)}")

    def close(self, case: Case) -> None:
        """Close a case paid in full, 3 to 20 days after its last event (nine in ten)."""
        if case.decided_at is None or sum(case.payment_amounts) < case.amount:
            return  # undecided, or outstanding: stays DECIDED
        last = max([case.decided_at, *case.payment_times])
        if case.feedback_at is not None:
            last = max(last, case.feedback_at)
        closed = self.after(last, 3, 20)
        if closed <= LAST_DATE and self.rng.random() < 0.9:
            case.closed_at = closed
