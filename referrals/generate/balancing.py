"""Exact collections: each year's balancing cases take what the year still needs.

Every other case's amount is drawn first; what the year's target still lacks is then
shared out among its balancing cases (major housing cases decided early in the year and
paid in full within it), each within ``BALANCE_AMOUNTS``. ``profile.CAPS`` keeps what the
other cases can pay in a year under the target minus the balancing cases' minimum, so the
share-out is always feasible; it is checked anyway, and so is the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from random import Random

from referrals.generate.builder import Case, split
from referrals.generate.drawing import year_of
from referrals.generate.profile import (
    BALANCE_AMOUNTS,
    CAPS,
    TARGET_2022_FEN,
    TARGET_CHANGE_PCT,
    YEARS,
    ProfileBroken,
    Role,
)
from streams.ledger.totals import change_pct


def collected(cases: Iterable[Case], year: int) -> int:
    """Fen paid in ``year`` (Asia/Shanghai) over ``cases``."""
    return sum(
        fen
        for case in cases
        for at, fen in zip(case.payment_times, case.payment_amounts, strict=True)
        if year_of(at) == year
    )


def share_out(rng: Random, cases: list[Case], need: int, year: int) -> None:
    """Share ``need`` fen among the balancing ``cases`` (each in its amount range) and
    split each one's amount over its instalments."""
    low, high = BALANCE_AMOUNTS.low, BALANCE_AMOUNTS.high
    if not len(cases) * low <= need <= len(cases) * high:
        raise ProfileBroken(f"{year}: cannot balance {need} fen over {len(cases)} cases")
    amounts = [low] * len(cases)
    rest = need - low * len(cases)
    weights = [rng.uniform(0.5, 1.5) for _ in cases]
    for i, w in enumerate(weights):
        extra = min(high - low, int(rest * w / sum(weights[i:])) // 10_000 * 10_000)
        amounts[i] += extra
        rest -= extra
    for i in range(len(amounts)):  # what rounding left over, into whoever has room
        extra = min(high - amounts[i], rest)
        amounts[i] += extra
        rest -= extra
    if rest:
        raise ProfileBroken(f"{year}: {rest} fen left over after balancing")
    for case, amount in zip(cases, amounts, strict=True):
        case.amount = amount
        raw = [rng.uniform(1, 2) for _ in case.payment_times]
        case.payment_amounts = split(amount, [r / sum(raw) for r in raw])
        if not all(fen > 0 for fen in case.payment_amounts):
            raise ProfileBroken(f"{year}: an instalment of {amount} fen came out empty")


def balance(rng: Random, cases: list[Case], target_2021: int) -> None:
    """Make 2021 collect ``target_2021`` and 2022 the summary's 263万元."""
    others = [c for c in cases if c.role is not Role.BALANCE]
    for year, target in zip(YEARS, (target_2021, TARGET_2022_FEN), strict=True):
        paid = collected(others, year)
        if paid > CAPS[year]:
            raise ProfileBroken(f"{year}: other cases collect {paid} fen, over {CAPS[year]}")
        balancing = [c for c in cases if c.role is Role.BALANCE and c.first.year == year]
        share_out(rng, balancing, target - paid, year)


def check_figures(cases: list[Case]) -> None:
    """The summary's collections, exactly: 263万元 in 2022, +26 % on 2021."""
    this, last = collected(cases, 2022), collected(cases, 2021)
    if this != TARGET_2022_FEN or change_pct(this, last) != TARGET_CHANGE_PCT:
        raise ProfileBroken(f"collected {this} fen in 2022 against {last} in 2021")
