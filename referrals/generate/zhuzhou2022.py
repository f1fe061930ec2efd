"""``generate_zhuzhou_2022``: two years (2021 and 2022) of referrals, case lifecycles and
payments for the shipped Zhuzhou organisation whose 2022 annual report gives the figures
of the bureau's summary: 92 referrals received, 58 major housing cases filed, 263万元
collected, +26 % on 2021.

The figures hold for every seed by construction, not by luck: the counts are fixed per
role (``profile``), only times, places, texts and amounts are drawn from
``random.Random(seed)``, and each year's collection is made exact by its balancing cases
(``balancing``). Pure and deterministic: no clock, no global random state.
"""

from __future__ import annotations

from referrals.generate.balancing import balance, check_figures
from referrals.generate.builder import Builder, Case
from referrals.generate.drawing import DrawnReferral, PartyType
from referrals.generate.profile import (
    HOUSING_ROLES,
    PARTNER_COUNTS,
    TARGET_2021_RANGE,
    YEARS,
    Role,
)
from referrals.generate.texts import MERGE_CATEGORY, Agency
from referrals.generate.writer import Writer, number_documents
from streams.organisation import Organisation


def generate_zhuzhou_2022(seed: int, org: Organisation) -> list[str]:
    """The ``zhuzhou-2022`` profile for ``org``: JSONL lines in publishing order."""
    b = Builder(seed, org)
    target_2021 = b.rng.randint(*TARGET_2021_RANGE)
    cases, merges = _draw_cases(b)
    _merge(b, cases, merges)
    balance(b.rng, cases, target_2021)
    for case in cases:
        b.close(case)
    check_figures(cases)
    serials, receipts = number_documents(cases)
    writer = Writer(b)
    for case in cases:
        writer.case(case, receipts)
    writer.duplicates_and_amendments()
    writer.bad_lines(serials)
    return writer.lines()


def _draw_cases(b: Builder) -> tuple[list[Case], list[tuple[Agency, int]]]:
    """Every year's cases by role, and the (agency, year) of each partner referral that
    is to join a housing case."""
    cases: list[Case] = []
    merges: list[tuple[Agency, int]] = []
    for year in YEARS:
        for role, count in HOUSING_ROLES[year].items():
            cases += [b.housing_case(role, year) for _ in range(count)]
        for agency, counts in PARTNER_COUNTS[year].items():
            for role, count in counts.cases():
                cases += [b.partner_case(agency, role, year) for _ in range(count)]
            merges += [(agency, year)] * counts.merged
    return cases, merges


def _merge(b: Builder, cases: list[Case], merges: list[tuple[Agency, int]]) -> None:
    """Each merge: a partner's referral 2-20 days after a housing case of the same party,
    category and place, before the case can be closed (decisions come 15 or more days
    after filing, closure after the decision)."""
    hosts = [
        c
        for c in cases
        if c.role in (Role.MAJOR, Role.GENERAL)
        and c.first.agency is Agency.HOUSING
        and c.first.referred_at.month <= 10
    ]
    taken: set[int] = set()
    for agency, year in merges:
        host = b.rng.choice([c for c in hosts if c.first.year == year and id(c) not in taken])
        taken.add(id(host))
        first = host.first
        first.category = MERGE_CATEGORY[agency]
        if first.party is None or first.party.kind is not PartyType.ORGANIZATION:
            first.party = b.party(PartyType.ORGANIZATION)
        joined = DrawnReferral(
            agency,
            year,
            b.after(first.referred_at, 2, 20),
            first.district,
            first.street,
            first.street_name,
            first.category,
            first.party,
        )
        host.merged.append(joined)
