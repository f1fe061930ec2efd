"""The ``zhuzhou-scaled`` profile in figures: the mix of a city's referral traffic, any
number of incidents over any run of years.

The shares follow the zhuzhou-2022 profile and the bureau's 2022 summary: agencies in the
summary's proportions (70 housing, 12 traffic, 10 environment of 92 referrals), their
categories, major housing cases with legal review, fines in three tiers, instalments, and
the frictions of real inputs in small, known shares. Tests derive their tolerances from
these figures, so a change here is a change of what the tests expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from referrals.generate.records import GENERAL_TIER_FEN
from referrals.generate.texts import Agency
from streams.errors import ConfigurationError
from streams.ledger.rules import DEFAULT_MAJOR_THRESHOLD_FEN

SCALED_PROFILE = "zhuzhou-scaled"
DEFAULT_YEARS = (2013, 2022)  # a decade of the city, ending with the summary's year
HORIZON_DAYS = 180  # events up to half a year after the last year are generated
REPEAT_AFTER_DAYS = 45  # a party's next incident comes later than the merge window


class InvalidScale(ConfigurationError):
    """A scaled input asked for with no incidents or with years that cannot be."""


def parse_years(text: str) -> tuple[int, int]:
    """``"2013-2022"`` (or one year, ``"2022"``) as the first and last year."""
    first, _, last = text.partition("-")
    try:
        years = int(first), int(last or first)
    except ValueError:
        raise InvalidScale(f"years {text!r}: expected FIRST-LAST, e.g. 2013-2022") from None
    check_scale(1, years)
    return years


def check_scale(incidents: int, years: tuple[int, int]) -> None:
    if incidents < 1:
        raise InvalidScale(f"incidents must be at least 1, got {incidents}")
    first, last = years
    if not 2000 <= first <= last <= 9998:
        raise InvalidScale(f"years {first}-{last}: expected 2000 <= FIRST <= LAST")


@dataclass(frozen=True)
class Fines:
    """An agency's decided amounts: the share of each tier; within a tier, uniform."""

    minor: float
    general: float  # the rest is serious (major by amount)
    exempted: float  # of minor ones: first violations, exempted (amount 0)


TIER_RANGES = {  # fen, inclusive
    "MINOR": (20_000, GENERAL_TIER_FEN - 100),
    "GENERAL": (GENERAL_TIER_FEN, DEFAULT_MAJOR_THRESHOLD_FEN - 100),
    "SERIOUS": (DEFAULT_MAJOR_THRESHOLD_FEN, 11_000_000),
}


def _default_categories() -> dict[Agency, tuple[tuple[str, int], ...]]:
    return {
        Agency.HOUSING: (
            ("ILLEGAL_CONSTRUCTION", 7),
            ("CONSTRUCTION_DUST", 2),
            ("MUCK_TRANSPORT", 2),
            ("OUTDOOR_ADVERTISING", 1),
        ),
        Agency.TRAFFIC_POLICE: (
            ("SIDEWALK_PARKING", 3),
            ("MUCK_TRANSPORT", 2),
            ("STREET_VENDING", 1),
        ),
        Agency.ENVIRONMENT: (
            ("CATERING_FUMES", 3),
            ("NIGHT_CONSTRUCTION_NOISE", 2),
            ("CONSTRUCTION_DUST", 1),
            ("KITCHEN_WASTE", 1),
        ),
    }


def _default_fines() -> dict[Agency, Fines]:
    return {
        Agency.HOUSING: Fines(minor=0.25, general=0.45, exempted=0.2),
        Agency.TRAFFIC_POLICE: Fines(minor=0.7, general=0.3, exempted=0.3),
        Agency.ENVIRONMENT: Fines(minor=0.35, general=0.65, exempted=0.3),
    }


@dataclass(frozen=True)
class ScaledProfile:
    agencies: tuple[tuple[Agency, int], ...] = (
        (Agency.HOUSING, 70),
        (Agency.TRAFFIC_POLICE, 12),
        (Agency.ENVIRONMENT, 10),
    )
    categories: dict[Agency, tuple[tuple[str, int], ...]] = field(
        default_factory=_default_categories
    )
    fines: dict[Agency, Fines] = field(default_factory=_default_fines)
    growth: float = 1.06  # incidents per year against the year before
    # incidents: a party seen before (past the merge window), and same-incident referrals
    repeat_party: float = 0.10
    merged: float = 0.06  # incidents with a second referral joining the case
    third_referral: float = 0.2  # of those, a third one too
    # lifecycle
    rejected: float = 0.08
    late_filing: float = 0.12  # filed 16-25 days after the referral: past the deadline
    late_decision: float = 0.10  # decided 91-125 days after filing
    major_flagged: float = 0.3  # of serious decisions, marked major explicitly
    not_major_flagged: float = 0.25  # of other housing decisions, marked not major
    legal_review: float = 0.92  # of major decisions
    feedback: float = 0.94
    late_feedback: float = 0.12
    instalments: float = 0.2  # of fines: 2-4 instalments
    late_payment: float = 0.15  # of fines: paid once, 20-150 days after the decision
    unpaid: float = 0.05  # of fines: never paid; closed after enforcement, 180-365 days
    never_closed: float = 0.01
    # frictions of the input
    exact_duplicate: float = 0.02  # of referrals: sent again 1-72 hours later
    amendment: float = 0.02  # of referrals: a corrected version 2-10 days later
    receipt_twice: float = 0.02  # of payments: sent again 1-10 days later
    decision_before_filing: float = 0.02  # of decided cases: the filing published late
    payment_before_decision: float = 0.02  # of paid cases: the decision published late
    late_opener: float = 0.2  # of merged incidents: the first referral published last
    late_joiner: float = 0.1  # of merged incidents: a joiner published 20-90 days late
    bad_json: float = 0.001  # of referrals: a copy of the line cut short
    unknown_district: float = 0.001  # of referrals: a copy, renumbered, in district 430299
    negative_amount: float = 0.001  # of paid cases: a receipt with a negative amount


SCALED = ScaledProfile()
