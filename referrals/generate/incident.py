"""One incident of the ``zhuzhou-scaled`` profile drawn in event time: its referrals (a
party seen before now and then, a second or third referral joining the case), the case's
lifecycle, its fine and the payments."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random

from referrals.generate.drawing import Drawing, DrawnReferral, Party, PartyType, year_of
from referrals.generate.scaled_profile import REPEAT_AFTER_DAYS, TIER_RANGES, ScaledProfile
from referrals.generate.texts import REJECTION_REASONS, Agency
from streams.ledger.rules import DEFAULT_MAJOR_THRESHOLD_FEN, is_major
from streams.organisation import Organisation

_REMEMBERED = 20_000  # parties kept per kind for repeats: memory stays bounded
_FORGOTTEN = timedelta(days=365)
_REPEAT_AFTER = timedelta(days=REPEAT_AFTER_DAYS)


@dataclass
class Incident:
    """A case and everything that happens to it; ``referrals[0]`` opens it and names it
    in the lifecycle events, the others join it within the merge window."""

    referrals: list[DrawnReferral]
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    reason: str = ""
    decided_at: datetime | None = None
    decision_no: str = ""  # numbered when written
    amount: int = 0
    major_flag: bool | None = None
    legal_reviewed_at: datetime | None = None
    exemption: str | None = None
    payments: list[tuple[datetime, int]] = field(default_factory=list)
    feedback_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def opener(self) -> DrawnReferral:
        return self.referrals[0]

    @property
    def major(self) -> bool:
        return is_major(self.major_flag, self.amount, DEFAULT_MAJOR_THRESHOLD_FEN)


@dataclass
class _Seen:
    party: Party
    last: datetime  # when the party's latest incident opened


class Parties:
    """New parties, each with its own number, and parties seen before whose latest
    incident is older than the merge window (so a repeat opens a case of its own)."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.count = 0
        self.cooling: deque[tuple[datetime, _Seen]] = deque(maxlen=4 * _REMEMBERED)
        self.ready = {kind: deque[tuple[datetime, _Seen]](maxlen=_REMEMBERED) for kind in PartyType}

    def new(self, kind: PartyType) -> Party:
        self.count += 1
        n = self.count
        if kind is PartyType.ORGANIZATION:
            return Party(kind, f"91430200{n:09d}X")
        born = datetime(1960, 1, 1) + timedelta(days=n % 14_000)
        return Party(kind, f"430203{born:%Y%m%d}{n // 14_000 % 1000:03d}X")

    def seen_before(self, kind: PartyType, now: datetime) -> Party | None:
        while self.cooling and self.cooling[0][0] <= now - _REPEAT_AFTER:
            entry = self.cooling.popleft()
            self.ready[entry[1].party.kind].append(entry)
        ready = self.ready[kind]
        while ready and ready[0][0] < now - _FORGOTTEN:
            ready.popleft()
        if not ready:
            return None
        seen = ready[self.rng.randrange(len(ready))][1]
        return seen.party if seen.last <= now - _REPEAT_AFTER else None

    def used(self, party: Party, at: datetime) -> None:
        self.cooling.append((at, _Seen(party, at)))


class IncidentDrawer(Drawing):
    def __init__(self, rng: Random, org: Organisation, profile: ScaledProfile) -> None:
        super().__init__(rng, org)
        self.profile = profile
        self.known = Parties(rng)
        self.sharing = {  # category -> the agencies that refer it
            category: tuple(a for a, cats in profile.categories.items() if category in dict(cats))
            for cats in profile.categories.values()
            for category, _ in cats
        }

    def party(self, kind: PartyType) -> Party:
        return self.known.new(kind)

    def incident(self, at: datetime) -> Incident:
        p, rng = self.profile, self.rng
        agency = self.weighted(p.agencies)
        category = self.weighted(p.categories[agency])
        first = self.referral(agency, year_of(at), at, category)
        merged = rng.random() < p.merged
        if first.party is None and merged:
            first.party = self.party(PartyType.PERSON)  # the vehicle's owner, identified
        if first.party is not None:
            if rng.random() < p.repeat_party:
                first.party = self.known.seen_before(first.party.kind, at) or first.party
            self.known.used(first.party, at)
        incident = Incident([first])
        self.lifecycle(incident)
        if merged:
            self.join(incident, 2 if rng.random() < p.third_referral else 1)
        return incident

    def join(self, incident: Incident, count: int) -> None:
        """``count`` referrals of the same party, category and place 1-20 days after the
        first, while the case is still open."""
        first = incident.opener
        until = (incident.closed_at or first.referred_at + timedelta(days=21)) - first.referred_at
        days = min(20.0, until / timedelta(days=1) - 1)
        joined = []
        for _ in range(count):
            agency = self.rng.choice(self.sharing[first.category])
            at = self.after(first.referred_at, 1, days)
            joined.append(
                DrawnReferral(
                    agency,
                    year_of(at),
                    at,
                    first.district,
                    first.street,
                    first.street_name,
                    first.category,
                    first.party,
                )
            )
        incident.referrals += sorted(joined, key=lambda r: r.referred_at)

    def lifecycle(self, incident: Incident) -> None:
        p, rng = self.profile, self.rng
        referred = incident.opener.referred_at
        if rng.random() < p.rejected:
            rejected = self.after(referred, 2, 25 if rng.random() < p.late_filing else 14)
            incident.rejected_at = rejected
            incident.reason = rng.choice(REJECTION_REASONS)
            self.feedback(incident, rejected)
            last = incident.feedback_at or rejected
        else:
            late = rng.random() < p.late_filing
            filed = self.after(referred, 16, 25) if late else self.after(referred, 0.5, 15)
            incident.filed_at = filed
            late = rng.random() < p.late_decision
            decided = self.after(filed, 91, 125) if late else self.after(filed, 15, 88)
            self.decide(incident, decided)
            self.feedback(incident, decided)
            last = self.pay(incident, decided)
            if incident.feedback_at is not None:
                last = max(last, incident.feedback_at)
        if rng.random() >= p.never_closed:
            incident.closed_at = self.after(last, 3, 20)

    def decide(self, incident: Incident, decided: datetime) -> None:
        p, rng = self.profile, self.rng
        incident.decided_at = decided
        agency = incident.opener.agency
        fines = p.fines[agency]
        roll = rng.random()
        if roll < fines.minor and rng.random() < fines.exempted:
            incident.exemption = "FIRST_VIOLATION"
        else:
            tier = "MINOR" if roll < fines.minor else "GENERAL"
            if roll >= fines.minor + fines.general:
                tier = "SERIOUS"
            incident.amount = self.amount(*TIER_RANGES[tier])
        if incident.amount >= DEFAULT_MAJOR_THRESHOLD_FEN:
            if rng.random() < p.major_flagged:
                incident.major_flag = True
        elif agency is Agency.HOUSING and rng.random() < p.not_major_flagged:
            incident.major_flag = False
        if incident.major and rng.random() < p.legal_review:
            incident.legal_reviewed_at = decided - timedelta(
                days=rng.randint(1, 6), hours=rng.randint(0, 5)
            )

    def feedback(self, incident: Incident, since: datetime) -> None:
        if self.rng.random() < self.profile.feedback:
            late = self.rng.random() < self.profile.late_feedback
            incident.feedback_at = self.after(since, 11, 30) if late else self.after(since, 0.2, 10)

    def pay(self, incident: Incident, decided: datetime) -> datetime:
        """Draw the payments; the instant after which the case can be closed."""
        p, rng = self.profile, self.rng
        if incident.amount == 0:
            return decided
        roll = rng.random()
        if roll < p.unpaid:  # enforcement through the court, then the case is closed
            return self.after(decided, 180, 365)
        if roll < p.unpaid + p.late_payment:
            incident.payments = [(self.after(decided, 20, 150), incident.amount)]
        elif roll < p.unpaid + p.late_payment + p.instalments:
            count = rng.randint(2, 4)
            part = incident.amount // count // 100 * 100
            at = self.after(decided, 2, 14)
            for i in range(count):
                fen = part if i < count - 1 else incident.amount - part * (count - 1)
                incident.payments.append((at, fen))
                at = self.after(at, 20, 45)
        else:
            incident.payments = [(self.after(decided, 1, 14), incident.amount)]
        return incident.payments[-1][0]
