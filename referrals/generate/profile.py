"""The ``zhuzhou-2022`` profile in figures: how many cases of each role each year, the
amount range of each role, and what makes the year's collections exactly the summary's.

The counts are fixed per *role*; only times, places, texts and amounts are drawn. 2022
referrals: 70 housing + 12 traffic + 10 environment = 92. Major cases filed in 2022: 24
balancing + 32 others + the 2 referred in late December 2021 and filed in January 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from referrals.generate.texts import Agency
from streams.errors import ReferralsError
from streams.events import SHANGHAI
from streams.ledger.rules import DEFAULT_MAJOR_THRESHOLD_FEN

MAJOR_FEN = DEFAULT_MAJOR_THRESHOLD_FEN
TARGET_2022_FEN = 263_000_000
TARGET_CHANGE_PCT = 26.0
# 2021 collected X must give change_pct(T, X) == 26.0; X is drawn from well inside the
# interval that does, (208 647 362.1, 208 812 227.07].
TARGET_2021_RANGE = (208_660_000, 208_800_000)
LAST_DATE = datetime(2023, 6, 20, 18, 0, tzinfo=SHANGHAI)  # nothing later is generated
YEARS = (2021, 2022)


class ProfileBroken(ReferralsError):
    """A generated input breaks one of its profile's own invariants: a generator bug."""


class Role(Enum):
    """What a case is for in the profile; housing cases have every role but the last two."""

    BALANCE = "balance"  # major, decided early, paid within the year: takes what it needs
    MAJOR = "major"
    SPILL = "spill"  # major, referred in autumn 2021, paid on into 2022
    DEC_FILE = "dec_file"  # major, referred in late December, filed in January
    GENERAL = "general"
    REJECTED = "rejected"
    OPEN = "open"  # referred in December 2022, filed or not, never decided
    FINED = "fined"  # a partner agency's own case
    EXEMPTED = "exempted"  # a partner agency's first violation, exempted

    @property
    def major(self) -> bool:
        return self in _MAJOR_ROLES


_MAJOR_ROLES = frozenset({Role.BALANCE, Role.MAJOR, Role.SPILL, Role.DEC_FILE})

HOUSING_ROLES: dict[int, dict[Role, int]] = {
    2021: {
        Role.BALANCE: 22,
        Role.MAJOR: 14,
        Role.SPILL: 4,
        Role.DEC_FILE: 2,
        Role.GENERAL: 12,
        Role.REJECTED: 4,
    },
    2022: {
        Role.BALANCE: 24,
        Role.MAJOR: 32,
        Role.DEC_FILE: 1,
        Role.GENERAL: 8,
        Role.REJECTED: 3,
        Role.OPEN: 2,
    },
}


@dataclass(frozen=True)
class PartnerCounts:
    """A partner agency's cases in a year, and its referrals that join housing cases."""

    fined: int
    exempted: int
    rejected: int
    merged: int

    def cases(self) -> tuple[tuple[Role, int], ...]:
        """Each role of the agency's own cases with its count."""
        return (
            (Role.FINED, self.fined),
            (Role.EXEMPTED, self.exempted),
            (Role.REJECTED, self.rejected),
        )


PARTNER_COUNTS: dict[int, dict[Agency, PartnerCounts]] = {
    2021: {
        Agency.TRAFFIC_POLICE: PartnerCounts(7, 1, 1, 1),
        Agency.ENVIRONMENT: PartnerCounts(5, 1, 1, 1),
    },
    2022: {
        Agency.TRAFFIC_POLICE: PartnerCounts(7, 2, 1, 2),
        Agency.ENVIRONMENT: PartnerCounts(6, 1, 1, 2),
    },
}


@dataclass(frozen=True)
class Amounts:
    """An inclusive range of fen."""

    low: int
    high: int


BALANCE_AMOUNTS = Amounts(MAJOR_FEN, 11_000_000)
_ROLE_AMOUNTS = {
    Role.BALANCE: BALANCE_AMOUNTS,
    Role.MAJOR: Amounts(MAJOR_FEN, 3_800_000),
    Role.SPILL: Amounts(MAJOR_FEN, 3_800_000),
    Role.DEC_FILE: Amounts(MAJOR_FEN, 3_800_000),
    Role.GENERAL: Amounts(300_000, 2_500_000),
}
_AGENCY_AMOUNTS = {
    Agency.TRAFFIC_POLICE: Amounts(20_000, 1_000_000),
    Agency.ENVIRONMENT: Amounts(100_000, 2_000_000),
}


def amounts_for(role: Role, agency: Agency) -> Amounts:
    """The range a case's decided amount is drawn from: by role for housing's, by agency
    for a partner's own fines."""
    return _ROLE_AMOUNTS.get(role) or _AGENCY_AMOUNTS[agency]


# What non-balancing cases can pay in a year at most (count x the top of their range):
# 2021: major 14x3.8M + spill 4x3.8M + general 12x2.5M + traffic 7x1M + env 5x2M = 115.4M
#       <= X - 22x3M >= 142.66M;  22 x 11M = 242M >= X.
# 2022: major 32x3.8M + spill(2021) 4x3.8M + dec_file(2021) 2x3.8M + general 8x2.5M
#       + traffic 7x1M + env 6x2M = 183.4M <= 263M - 24x3M = 191M;  24 x 11M = 264M >= 263M.
CAPS = {2021: 115_400_000, 2022: 183_400_000}
