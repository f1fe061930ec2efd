"""`referrals publish` on hostile lines: each is refused with its line, field and rule,
and the valid lines around it still pass."""

from __future__ import annotations

import json
from pathlib import Path

from consumers.publisher import vet_agency_file
from schemas.codec import default_store
from tests.unit.factories import ORG

from .referrals import NOW, housing, write_lines


def test_deep_oversized_and_unencodable_lines_are_refused_and_the_rest_pass(
    tmp_path: Path,
) -> None:
    """200 000 '[' is not JSON, a 2 MB line is oversized, a 100 KB record is over the
    door's limit, 101 evidence items break a bound, a lone surrogate is not text; the
    first and last lines pass."""
    path = write_lines(
        tmp_path / "housing.jsonl",
        [
            housing(referral_id="ZJ-1"),
            "[" * 200_000,
            housing(referral_id="ZJ-3", description="很" * 700_000),
            housing(referral_id="ZJ-4", evidence=[{"uri": "u" * 9000, "sha256": ""}] * 11),
            housing(referral_id="ZJ-5", evidence=[{"uri": "", "sha256": ""}] * 101),
            json.dumps(housing(referral_id="ZJ-6", description="\ud800")),  # escaped: ASCII
            housing(referral_id="ZJ-7"),
        ],
    )
    passed, refused = vet_agency_file(path, "HOUSING", ORG, NOW, default_store())
    assert [r.source_line for r in passed] == [1, 7]
    assert [(r.line, r.field, r.rule) for r in refused] == [
        (2, "", "json"),
        (3, "", "oversized"),
        (4, "", "oversized"),
        (5, "evidence", "schema"),
        (6, "description", "type"),
    ]
