"""`referrals publish` before anything is sent: each line vetted, refusals reported, and
no success claimed for records the embedded broker would lose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from consumers.publisher import vet_agency_file
from schemas.codec import default_store
from tests.unit.factories import ORG

from .referrals import NOW, TRAFFIC, housing, write_lines

REFERRALS = Path(sys.executable).with_name("referrals")


def mixed_file(tmp_path: Path) -> Path:
    """Five lines: valid, bad time, not JSON, another agency's, valid without kind/agency."""
    return write_lines(
        tmp_path / "housing.jsonl",
        [
            housing(referral_id="ZJ-1"),
            housing(referral_id="ZJ-2", referred_at="not a time"),
            "{not json",
            TRAFFIC,
            housing(referral_id="ZJ-5", kind=..., agency=...),
        ],
    )


def test_valid_lines_pass_and_each_other_line_is_refused_with_its_number(tmp_path: Path) -> None:
    """Lines 1 and 5 pass with their file and line; 2, 3 and 4 are refused with field and
    rule; the foreign line is refused, not turned into a dead letter."""
    passed, refused = vet_agency_file(mixed_file(tmp_path), "HOUSING", ORG, NOW, default_store())
    assert [(r.source_line, r.key) for r in passed] == [(1, b"HOUSING:ZJ-1"), (5, b"HOUSING:ZJ-5")]
    assert {r.topic for r in passed} == {"referrals.housing"}
    assert [(r.line, r.field, r.rule) for r in refused] == [
        (2, "referred_at", "timestamp"),
        (3, "", "json"),
        (4, "agency", "own_agency"),
    ]


def publish(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFERRALS, "publish", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_without_a_broker_publish_refuses_and_says_how_to_point_it(tmp_path: Path) -> None:
    """With the embedded default, publish sends nothing, exits 2 and names --broker."""
    result = publish("--agency", "HOUSING", mixed_file(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "--broker kafka://HOST:PORT" in result.stderr
    assert "published" not in result.stderr


def test_check_reports_each_refused_line_and_exits_3(tmp_path: Path) -> None:
    """--check needs no broker: each refused line is printed as file:line: field, and the
    JSON report lists them; the exit status is 3."""
    path = mixed_file(tmp_path)
    text = publish("--agency", "HOUSING", "--check", path, cwd=tmp_path)
    assert text.returncode == 3, text.stderr
    assert f"{path}:2: referred_at:" in text.stderr
    assert f"{path}:4: agency:" in text.stderr
    assert "2 referrals from" in text.stderr
    as_json = publish("--agency", "HOUSING", "--check", "--format", "json", path, cwd=tmp_path)
    report = json.loads(as_json.stdout)
    assert (report["published"], report["passed_check"]) == (0, 2)
    assert [(r["line"], r["field"], r["rule"]) for r in report["refused"]] == [
        (2, "referred_at", "timestamp"),
        (3, "", "json"),
        (4, "agency", "own_agency"),
    ]


def test_check_on_a_clean_file_exits_0(tmp_path: Path) -> None:
    """A file whose every line passes gives exit status 0."""
    path = write_lines(tmp_path / "ok.jsonl", [housing(referral_id="ZJ-1")])
    assert publish("--agency", "HOUSING", "--check", path, cwd=tmp_path).returncode == 0
