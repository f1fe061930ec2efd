"""Exact collections: the balancing cases take what a year still needs, or the generator
says it cannot."""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

import pytest

from referrals.generate.balancing import collected, share_out
from referrals.generate.builder import Case
from referrals.generate.drawing import DrawnReferral
from referrals.generate.profile import BALANCE_AMOUNTS, ProfileBroken, Role
from referrals.generate.texts import Agency
from streams.events import SHANGHAI

JAN = datetime(2022, 1, 10, 9, 0, tzinfo=SHANGHAI)


def balancing_cases(count: int, instalments: int) -> list[Case]:
    """``count`` balancing cases of 2022, each paying in ``instalments`` parts in 2022."""
    cases = []
    for i in range(count):
        first = DrawnReferral(Agency.HOUSING, 2022, JAN, "430203", None, None, "X", None)
        case = Case(Role.BALANCE, first)
        case.payment_times = [JAN + timedelta(days=30 * k + i) for k in range(instalments)]
        cases.append(case)
    return cases


@pytest.mark.parametrize("need", [5 * 3_000_000, 5 * 3_000_000 + 1_234_567, 5 * 11_000_000])
def test_share_out_collects_exactly_what_is_needed(need: int) -> None:
    """Shared out, the balancing cases collect exactly the need, each within its range
    and every instalment more than nothing."""
    cases = balancing_cases(5, 3)
    share_out(Random(1), cases, need, 2022)
    assert collected(cases, 2022) == need
    for case in cases:
        assert BALANCE_AMOUNTS.low <= case.amount <= BALANCE_AMOUNTS.high
        assert sum(case.payment_amounts) == case.amount
        assert all(fen > 0 for fen in case.payment_amounts)


@pytest.mark.parametrize("need", [5 * 3_000_000 - 100, 5 * 11_000_000 + 100])
def test_share_out_refuses_what_it_cannot_balance(need: int) -> None:
    """A need outside what the balancing cases' ranges allow raises ProfileBroken."""
    with pytest.raises(ProfileBroken, match="cannot balance"):
        share_out(Random(1), balancing_cases(5, 1), need, 2022)
