"""The annual report, counted by hand in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime

from streams.reports.annual import CaseFacts, ReferralFacts, annual_report, report_text


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


REFERRALS = [
    ReferralFacts("HOUSING", at("2022-01-01T00:30:00+08:00"), 1, True),  # 2021-12-31 in UTC
    ReferralFacts("HOUSING", at("2022-06-01T09:00:00+08:00"), 0, False),
    ReferralFacts("TRAFFIC_POLICE", at("2022-12-31T23:59:00+08:00"), 0, True),
    ReferralFacts("ENVIRONMENT", at("2021-12-31T23:59:00+08:00"), 2, True),  # 2021
]
CASES = [
    CaseFacts(
        "HOUSING",
        at("2022-01-01T00:30:00+08:00"),
        at("2022-01-05T09:00:00+08:00"),
        at("2022-03-01T09:00:00+08:00"),
        5_000_000,
        True,
        (
            (at("2022-03-10T09:00:00+08:00"), 2_000_000),
            (at("2023-01-01T00:10:00+08:00"), 3_000_000),
        ),
    ),
    CaseFacts("TRAFFIC_POLICE", at("2022-12-31T23:59:00+08:00"), None, None, 0, False, ()),
    CaseFacts(
        "ENVIRONMENT",
        at("2021-12-31T23:59:00+08:00"),
        at("2021-12-31T23:59:30+08:00"),
        at("2022-01-02T09:00:00+08:00"),
        100_000,
        False,
        ((at("2021-12-31T23:59:40+08:00"), 1_600_000),),
    ),
]


def test_the_report_counts_each_figure_by_its_own_date() -> None:
    """Referrals by referred_at, cases opened/filed/decided by their dates, money collected
    by paid_at, the year before for the change, all in Asia/Shanghai."""
    report = annual_report(2022, REFERRALS, CASES)
    assert report == {
        "year": 2022,
        "referrals_received": 3,
        "referrals_by_agency": {"HOUSING": 2, "TRAFFIC_POLICE": 1, "ENVIRONMENT": 0},
        "exact_duplicates": 1,
        "merged": 1,
        "cases_opened": 2,
        "cases_filed": 1,
        "major_cases_filed": 1,
        "major_cases_filed_by_agency": {"HOUSING": 1},
        "penalties_decided_fen": 5_100_000,
        "penalties_collected_fen": 2_000_000,
        "collected_change_pct": 25.0,  # 2 000 000 against 1 600 000
    }


def test_no_collection_the_year_before_means_no_change() -> None:
    """Nothing collected in 2020 gives a null change for 2021."""
    assert annual_report(2021, REFERRALS, CASES)["collected_change_pct"] is None


def test_the_sentence_reads_like_the_bureaus_summary() -> None:
    """The 2022 figures of the summary give its own sentence, in Chinese and in English."""
    report = {
        "year": 2022,
        "referrals_received": 92,
        "major_cases_filed": 58,
        "major_cases_filed_by_agency": {"HOUSING": 58},
        "penalties_collected_fen": 263_000_000,
        "collected_change_pct": 26.0,
    }
    assert report_text(report, "zh") == (
        "2022年接收相关案件线索92起，立案查处住建领域重大案件58起，执收罚没款263万元，相比去年增长26%。"
    )
    assert report_text(report, "en") == (
        "In 2022 the bureau received 92 referred leads, filed 58 major housing cases and "
        "collected 2.63 million yuan in fines and confiscations, up 26% on the year before."
    )
