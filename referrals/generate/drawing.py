"""Drawing the parts of an input from a seeded ``Random``: instants in office hours,
amounts, parties and places from the organisation, and the referrals made of them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from random import Random
from typing import Any, TypeVar

from referrals.generate.texts import CATEGORIES, Agency
from streams.events import SHANGHAI
from streams.organisation import Organisation

T = TypeVar("T")


class PartyType(Enum):
    PERSON = "PERSON"
    ORGANIZATION = "ORGANIZATION"


@dataclass(frozen=True)
class Party:
    kind: PartyType
    number: str  # an ID number or a unified social credit code: hashed when written


@dataclass
class DrawnReferral:
    agency: Agency
    year: int
    referred_at: datetime
    district: str
    street: str | None
    street_name: str | None
    category: str
    party: Party | None
    referral_id: str = ""
    record: dict[str, Any] = field(default_factory=dict)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def party_hash(number: str) -> str:
    """``party_id_hash`` of an ID number or credit code, as producers send it."""
    return sha256_hex(number.upper())


def year_of(at: datetime) -> int:
    return at.astimezone(SHANGHAI).year


def streets_by_district(org: Organisation) -> dict[str, list[tuple[str, str]]]:
    """Each district's (street code, street name) pairs, in the squads' code order."""
    streets: dict[str, list[tuple[str, str]]] = {d: [] for d in org.districts}
    for squad in sorted(org.squads.values(), key=lambda s: s.code):
        for code, name in sorted(squad.streets.items()):
            streets[squad.district_code].append((code, name))
    return streets


class Drawing:
    """The draws both profiles make; every one from ``rng``, none from a clock."""

    def __init__(self, rng: Random, org: Organisation) -> None:
        self.rng = rng
        self.org = org
        self.streets = streets_by_district(org)
        self.districts = sorted(self.streets)
        self.parties = 0

    def day(self, start: date, end: date) -> datetime:
        """A working-hours instant on a day between ``start`` and ``end`` inclusive."""
        d = start + timedelta(days=self.rng.randint(0, (end - start).days))
        return datetime.combine(
            d, time(self.rng.randint(8, 17), self.rng.choice((0, 15, 30, 45))), SHANGHAI
        )

    def after(self, at: datetime, low: float, high: float) -> datetime:
        """An instant ``low``..``high`` days after ``at`` (an hour at least), at whole
        minutes, moved into office hours."""
        minutes = self.rng.randint(int(low * 1440), int(high * 1440))
        out = at + timedelta(minutes=max(minutes, 60))
        if out.hour < 8:  # office hours: the next morning instead
            out = out.replace(hour=8) + timedelta(minutes=self.rng.randint(0, 90))
        elif out.hour >= 18:
            out = (out + timedelta(days=1)).replace(hour=8) + timedelta(
                minutes=self.rng.randint(0, 90)
            )
        return out

    def weighted(self, choices: Sequence[tuple[T, int]]) -> T:
        return self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]

    def amount(self, low: int, high: int, step: int = 100) -> int:
        """Fen between ``low`` and ``high``, in multiples of ``step`` (whole yuan)."""
        return self.rng.randint(low // step, high // step) * step

    def party(self, kind: PartyType) -> Party:
        self.parties += 1
        if kind is PartyType.ORGANIZATION:
            tail = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(5))
            return Party(kind, f"91430200MA{tail}{self.parties:03d}"[:18])
        born = date(1960, 1, 1) + timedelta(days=self.rng.randint(0, 14000))
        number = f"430203{born:%Y%m%d}{self.parties:03d}{self.rng.choice('0123456789X')}"
        return Party(kind, number)

    def place(self) -> tuple[str, tuple[str, str] | None]:
        """A district and one of its streets, or no street (about one in eight: the
        district's direct squad takes those)."""
        district = self.rng.choice(self.districts)
        if self.rng.random() >= 0.12:
            return district, self.rng.choice(self.streets[district])
        return district, None

    def party_for(self, category: str) -> Party | None:
        """Who a referral of ``category`` names: a plate number only (no party) for most
        sidewalk parking, a person for vending and some illegal building, else a firm."""
        if category == "SIDEWALK_PARKING" and self.rng.random() < 0.6:
            return None
        if category in ("SIDEWALK_PARKING", "STREET_VENDING") or (
            category == "ILLEGAL_CONSTRUCTION" and self.rng.random() < 0.4
        ):
            return self.party(PartyType.PERSON)
        return self.party(PartyType.ORGANIZATION)

    def referral(
        self, agency: Agency, year: int, at: datetime, category: str | None = None
    ) -> DrawnReferral:
        district, street = self.place()
        category = category or self.weighted(CATEGORIES[agency])
        return DrawnReferral(
            agency,
            year,
            at,
            district,
            street[0] if street else None,
            street[1] if street else None,
            category,
            self.party_for(category),
        )
