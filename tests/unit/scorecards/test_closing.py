"""Which months are closed, and when a month's cards make a new revision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from streams.organisation import District, default_organisation_path, load_organisation
from streams.scorecards.closing import close_month, closed_months
from streams.scorecards.rubric import load_rubric
from streams.scorecards.scoring import Tally

RUBRIC = load_rubric()
ORG = load_organisation(default_organisation_path())
GRACE = RUBRIC.grace
NOW = datetime(2022, 4, 7, 2, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_month_closes_when_the_watermark_passes_its_end_plus_the_grace() -> None:
    """March ends 1 April 00:00 in Zhuzhou: with 5 days' grace it is closed at 6 April
    00:00 +08:00, not a second before."""
    first = at("2022-01-15T10:00:00+08:00")
    closing = at("2022-04-06T00:00:00+08:00")
    assert closed_months(first, closing, GRACE, drained=False) == ["2022-01", "2022-02", "2022-03"]
    before = closing - timedelta(seconds=1)
    assert closed_months(first, before, GRACE, drained=False) == ["2022-01", "2022-02"]


def test_a_drained_input_closes_every_month_up_to_the_watermarks() -> None:
    """Drained, the months from the first referral's to the watermark's are all closed,
    across a year's end; not drained, January (until 6 February) and February are not."""
    first, mark = at("2021-11-20T09:00:00+08:00"), at("2022-02-01T00:00:00+08:00")
    assert closed_months(first, mark, GRACE, drained=True) == [
        "2021-11",
        "2021-12",
        "2022-01",
        "2022-02",
    ]
    assert closed_months(first, mark, GRACE, drained=False) == ["2021-11", "2021-12"]


def test_nothing_is_closed_before_anything_is_stored() -> None:
    """No referral or no watermark: no closed month, drained or not."""
    assert closed_months(None, None, GRACE, drained=True) == []
    assert closed_months(at("2022-01-01T00:00:00+08:00"), None, GRACE, drained=True) == []


TALLIES = {
    ("430203", "430203-01", "filing_timeliness"): Tally(3, 1),
    ("430202", "430202-00", "filing_timeliness"): Tally(2, 2),
}


def test_the_first_close_is_revision_1_stamped_with_the_clock_given() -> None:
    """No earlier revision: revision 1, closed at the instant passed in, every unit of
    the organisation carded, scores Decimal to the cent (1 of 3 is 33.33)."""
    revision = close_month("2022-03", TALLIES, None, rubric=RUBRIC, org=ORG, now=NOW)
    assert revision is not None
    assert (revision.month, revision.number, revision.closed_at) == ("2022-03", 1, NOW)
    assert len(revision.cards) == 1 + len(ORG.districts) + len(ORG.squads)
    squad = next(c for c in revision.cards if c.unit_code == "430203-01")
    assert (squad.score, squad.metrics["filing_timeliness"]) == (Decimal("33.33"), (3, 1))
    city = next(c for c in revision.cards if c.level == "city")
    assert (city.score, city.unit_name) == (Decimal("60.00"), "株洲市")


def test_unchanged_items_make_no_revision_and_changed_ones_make_the_next() -> None:
    """Closing revision 2's items again gives nothing; one more item on time gives 3."""
    first = close_month("2022-03", TALLIES, None, rubric=RUBRIC, org=ORG, now=NOW)
    assert first is not None
    second = replace(first, number=2)
    assert close_month("2022-03", dict(TALLIES), second, rubric=RUBRIC, org=ORG, now=NOW) is None
    more = {**TALLIES, ("430203", "430203-00", "feedback"): Tally(1, 1)}
    later = NOW + timedelta(days=30)
    third = close_month("2022-03", more, second, rubric=RUBRIC, org=ORG, now=later)
    assert third is not None and (third.number, third.closed_at) == (3, later)


def test_a_renamed_unit_is_a_new_revision() -> None:
    """The cards carry the units' names, so renaming a district in the organisation
    makes the month's next revision even with the same items."""
    first = close_month("2022-03", TALLIES, None, rubric=RUBRIC, org=ORG, now=NOW)
    renamed = replace(ORG, districts={**ORG.districts, "430203": District("430203", "芦淞新区")})
    again = close_month("2022-03", TALLIES, first, rubric=RUBRIC, org=renamed, now=NOW)
    assert again is not None and again.number == 2
    assert next(c for c in again.cards if c.unit_code == "430203").unit_name == "芦淞新区"
