"""The ``zhuzhou-2022`` profile through the real pipeline on the embedded broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from referrals.generate import generate_zhuzhou_2022
from streams.organisation import default_organisation_path, load_organisation
from tests.integration.harness import report, run_files, write_jsonl

pytestmark = pytest.mark.integration

BAD_LINES = 4  # not JSON, no address, district 430299, a street the district lacks


def test_generated_profile_gives_the_summary_figures(tmp_path: Path) -> None:
    """Seed 0 run end to end gives the 2022 summary's figures and dead-letters only the
    bad lines."""
    lines = generate_zhuzhou_2022(0, load_organisation(default_organisation_path()))
    path = write_jsonl(tmp_path / "zhuzhou-2022.jsonl", lines)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    summary = run_files(db, [path])
    assert summary.published == len(lines)
    assert summary.dead_lettered == BAD_LINES
    figures = report(db, 2022)
    assert figures["referrals_received"] == 92
    assert figures["major_cases_filed"] == 58
    assert figures["major_cases_filed_by_agency"] == {"HOUSING": 58}
    assert figures["penalties_collected_fen"] == 263_000_000
    assert figures["collected_change_pct"] == 26.0
