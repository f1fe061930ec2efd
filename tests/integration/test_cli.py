"""The ``referrals`` command as users and scripts see it (docs/contract.md), through the installed
console script in child processes: outputs, exit codes, defaults and the one-line errors.

Each embedded ``run`` takes about ten seconds, so the file runs the sample twice: once into
a named SQLite file shared by the read-only tests, once on the default ``--db``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import SAMPLE, SAMPLE_SUMMARY

pytestmark = pytest.mark.integration

REFERRALS = Path(sys.executable).with_name("referrals")
CONTRACT_CASE_KEYS = {
    "case_id",
    "case_no",
    "state",
    "district_code",
    "squad_code",
    "referrals",
    "opened_at",
    "filed_at",
    "rejected_at",
    "decided_at",
    "closed_at",
    "decided_fen",
    "collected_fen",
    "outstanding_fen",
}
SUMMARY_KEYS = {
    "published",
    "dead_lettered",
    "exact_duplicates",
    "amendments",
    "merged",
    "cases_opened",
}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any REFERRALS_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFERRALS_")}
    env.update(extra)
    return env


def referrals(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> Result:
    started = time.monotonic()
    done = subprocess.run(
        [str(REFERRALS), *map(str, args)],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_one_line_error(result: Result, code: int = 2) -> str:
    """The command failed with ``code`` and said why in one line on stderr; returns it."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("referrals: "), result.stderr
    assert result.code == code, result
    return lines[0]


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


@dataclass(frozen=True)
class SampleRun:
    """The sample run once into ``db`` (a SQLite URL); ``folder`` holds the file."""

    folder: Path
    db: str
    result: Result


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    folder = tmp_path_factory.mktemp("sample-run")
    db = f"sqlite:///{folder / 'x.db'}"
    result = referrals("run", SAMPLE, "--format", "json", "--db", db, cwd=folder)
    return SampleRun(folder, db, result)


def case_json(run: SampleRun, reference: str, tmp_path: Path) -> dict[str, Any]:
    result = referrals("case", reference, "--format", "json", "--db", run.db, cwd=tmp_path)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


# --- run ------------------------------------------------------------------------------


def test_run_prints_the_sample_summary_as_one_json_object(sample_run: SampleRun) -> None:
    """``run SAMPLE --format json`` exits 0 and prints exactly one JSON object with the six
    integer figures of the hand-counted sample."""
    result = sample_run.result
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)  # refuses anything after the object
    assert isinstance(summary, dict)
    assert set(summary) == SUMMARY_KEYS
    assert all(type(value) is int for value in summary.values())
    assert summary == {
        "published": SAMPLE_SUMMARY.published,
        "dead_lettered": SAMPLE_SUMMARY.dead_lettered,
        "exact_duplicates": SAMPLE_SUMMARY.exact_duplicates,
        "amendments": SAMPLE_SUMMARY.amendments,
        "merged": SAMPLE_SUMMARY.merged,
        "cases_opened": SAMPLE_SUMMARY.cases_opened,
    }
    assert (sample_run.folder / "x.db").is_file()
    assert not (sample_run.folder / "referrals.db").exists()


def test_run_without_db_writes_referrals_db_in_the_working_folder(tmp_path: Path) -> None:
    """Without ``--db`` (and no REFERRALS_DB) a text-format run stores into
    ``referrals.db`` in the working folder, prints a readable summary, and later commands
    there read the same file."""
    result = referrals("run", SAMPLE, cwd=tmp_path)

    assert result.code == 0, result.stderr
    assert (tmp_path / "referrals.db").is_file()
    assert "Traceback" not in result.stderr
    assert "cases opened" in result.stdout
    assert re.search(r"lines published\D+31\b", result.stdout), result.stdout
    letters = referrals("deadletters", "--format", "json", cwd=tmp_path)
    assert letters.code == 0, letters.stderr
    assert len(json.loads(letters.stdout)) == SAMPLE_SUMMARY.dead_lettered


def test_referrals_db_is_read_when_db_is_not_given(sample_run: SampleRun, tmp_path: Path) -> None:
    """REFERRALS_DB names the store when ``--db`` is absent, and ``--db`` wins over it."""
    env = clean_env(REFERRALS_DB=sample_run.db)
    from_env = referrals("deadletters", "--format", "json", cwd=tmp_path, env=env)
    assert from_env.code == 0, from_env.stderr
    assert len(json.loads(from_env.stdout)) == SAMPLE_SUMMARY.dead_lettered
    assert not (tmp_path / "referrals.db").exists()

    env = clean_env(REFERRALS_DB=f"sqlite:///{tmp_path / 'empty.db'}")
    overridden = referrals(
        "deadletters", "--format", "json", "--db", sample_run.db, cwd=tmp_path, env=env
    )
    assert overridden.code == 0, overridden.stderr
    assert len(json.loads(overridden.stdout)) == SAMPLE_SUMMARY.dead_lettered


# --- case -----------------------------------------------------------------------------


def test_case_json_has_the_contract_fields_and_values(
    sample_run: SampleRun, tmp_path: Path
) -> None:
    """``case HOUSING:ZJ-2022-0001 --format json`` shows the closed muck-transport case with
    its three referrals, times and a fully collected 50 000-yuan penalty."""
    case = case_json(sample_run, "HOUSING:ZJ-2022-0001", tmp_path)

    assert set(case) >= CONTRACT_CASE_KEYS
    assert case["state"] == "CLOSED"
    assert re.fullmatch(r"430203-2022-\d{4}", case["case_no"]), case["case_no"]
    assert (case["district_code"], case["squad_code"]) == ("430203", "430203-01")
    assert [{k: r[k] for k in ("agency", "referral_id")} for r in case["referrals"]] == [
        {"agency": "HOUSING", "referral_id": "ZJ-2022-0000"},
        {"agency": "HOUSING", "referral_id": "ZJ-2022-0001"},
        {"agency": "TRAFFIC_POLICE", "referral_id": "JJ-2022-0001"},
    ]
    times = {k: instant(case[k]) for k in CONTRACT_CASE_KEYS if k.endswith("_at")}
    assert times == {
        "opened_at": datetime(2022, 2, 25, 1, 0, tzinfo=UTC),
        "filed_at": datetime(2022, 3, 12, 2, 0, tzinfo=UTC),
        "rejected_at": None,
        "decided_at": datetime(2022, 4, 10, 8, 0, tzinfo=UTC),
        "closed_at": datetime(2022, 5, 10, 9, 0, tzinfo=UTC),
    }
    money = (case["decided_fen"], case["collected_fen"], case["outstanding_fen"])
    assert money == (5_000_000, 5_000_000, 0)
    assert all(type(v) is int for v in money)


def test_case_is_found_by_any_of_its_keys(sample_run: SampleRun, tmp_path: Path) -> None:
    """The case id, the id of a case it absorbed and each of its referral keys all lead to
    the same case."""
    case_id = case_json(sample_run, "HOUSING:ZJ-2022-0001", tmp_path)["case_id"]
    with sqlite3.connect(sample_run.folder / "x.db") as db:
        absorbed = [
            row[0]
            for row in db.execute(
                "SELECT case_id FROM cases WHERE state = 'MERGED' AND merged_into = ?", (case_id,)
            )
        ]
    assert absorbed, "the late ZJ-2022-0000 re-formed the case, absorbing the first one"

    for reference in [case_id, *absorbed, "TRAFFIC_POLICE:JJ-2022-0001", "HOUSING:ZJ-2022-0000"]:
        assert case_json(sample_run, reference, tmp_path)["case_id"] == case_id, reference


def test_case_text_is_readable(sample_run: SampleRun, tmp_path: Path) -> None:
    """``case`` without ``--format`` prints the case for people: its id, state and referrals."""
    case_id = case_json(sample_run, "HOUSING:ZJ-2022-0001", tmp_path)["case_id"]
    result = referrals("case", "HOUSING:ZJ-2022-0001", "--db", sample_run.db, cwd=tmp_path)
    assert result.code == 0, result.stderr
    for text in (case_id, "CLOSED", "TRAFFIC_POLICE:JJ-2022-0001", "50,000.00"):
        assert text in result.stdout, text


def test_a_case_that_does_not_exist_exits_1_with_one_line(
    sample_run: SampleRun, tmp_path: Path
) -> None:
    """A referral key or case id that no case holds exits 1 with one line naming it as
    given (``:x:`` is not turned into an emoji)."""
    for reference in ("HOUSING:ZJ-2099-0001", "CNOSUCHCASE", "HOUSING:x:1"):
        result = referrals("case", reference, "--db", sample_run.db, cwd=tmp_path)
        line = assert_one_line_error(result, code=1)
        assert reference in line, line
        assert result.stdout == ""


# --- deadletters ----------------------------------------------------------------------


def test_deadletters_json_lists_reason_source_and_time(
    sample_run: SampleRun, tmp_path: Path
) -> None:
    """``deadletters --format json`` lists the sample's 7 dead letters, each with a reason,
    a source and a time; the non-JSON line is named by file and line number."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    not_json = []
    for number, line in enumerate(lines, start=1):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            not_json.append(number)
    assert not_json == [21]

    result = referrals("deadletters", "--format", "json", "--db", sample_run.db, cwd=tmp_path)
    assert result.code == 0, result.stderr
    letters = json.loads(result.stdout)
    assert len(letters) == SAMPLE_SUMMARY.dead_lettered
    for letter in letters:
        assert isinstance(letter["reason"], str) and letter["reason"].strip(), letter
        assert letter["source_topic"] or letter["source_file"], letter
        at = datetime.fromisoformat(letter["dead_lettered_at"])
        assert at.utcoffset() is not None, letter
    from_line = [
        x
        for x in letters
        if (x["source_file"] or "").endswith("sample.jsonl") and x["source_line"] == 21
    ]
    assert len(from_line) == 1, letters
    assert "JSON" in from_line[0]["reason"]


def test_deadletters_text_is_readable(sample_run: SampleRun, tmp_path: Path) -> None:
    """``deadletters`` without ``--format`` prints a table for people with each error."""
    result = referrals("deadletters", "--db", sample_run.db, cwd=tmp_path)
    assert result.code == 0, result.stderr
    for code in ("undecodable", "schema", "unknown_place", "unmatched"):
        assert code in result.stdout, code


# --- errors ---------------------------------------------------------------------------

BAD_TOML = '[city]\ncode = "430200"\nname = \n'
NO_DIRECT_SQUAD = """\
[city]
code = "430200"
name = "株洲市"

[[district]]
code = "430203"
name = "芦淞区"

[[squad]]
code = "430203-01"
name = "建设街道中队"
district = "430203"
streets = { "430203001" = "建设街道" }
"""


@pytest.mark.parametrize(
    ("what", "args"),
    [
        ("a missing input file", ["run", "nothere.jsonl", "--format", "json"]),
        ("a directory as input", ["run", "inbox", "--format", "json"]),
        ("a broker URL of another scheme", ["run", SAMPLE, "--broker", "nonsense://x"]),
        (
            "an unreachable database",
            ["deadletters", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
        ),
        ("an unknown option", ["deadletters", "--no-such-option"]),
    ],
)
def test_user_errors_print_one_line_and_exit_2(what: str, args: list[str], tmp_path: Path) -> None:
    """A usage error, an unreadable input or an unreachable database prints one
    ``referrals:`` line on stderr, no traceback, and exits 2."""
    (tmp_path / "inbox").mkdir()
    result = referrals(*args, cwd=tmp_path)
    assert_one_line_error(result)
    assert result.stdout == "", what


@pytest.mark.parametrize(
    ("toml", "problem"),
    [(BAD_TOML, "TOML"), (NO_DIRECT_SQUAD, "direct")],
    ids=["malformed", "no-direct-squad"],
)
def test_a_bad_organisation_file_is_refused_naming_the_problem(
    toml: str, problem: str, tmp_path: Path
) -> None:
    """``--org`` naming a malformed or rule-breaking TOML exits 2 with one line that names
    the file and the problem."""
    (tmp_path / "org.toml").write_text(toml, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = referrals("deadletters", "--org", "org.toml", "--db", db, cwd=tmp_path)
    line = assert_one_line_error(result)
    assert "org.toml" in line and problem in line, line


def test_an_unreachable_broker_fails_fast_with_one_line(tmp_path: Path) -> None:
    """``--broker kafka://127.0.0.1:1`` (nothing listens) exits 2 with one line within
    about 30 seconds, without publishing or writing anything."""
    db = tmp_path / "x.db"
    result = referrals(
        "run",
        SAMPLE,
        "--format",
        "json",
        "--broker",
        "kafka://127.0.0.1:1",
        "--db",
        f"sqlite:///{db}",
        cwd=tmp_path,
        timeout=120,
    )
    line = assert_one_line_error(result)
    assert "127.0.0.1:1" in line
    assert result.seconds < 45, f"took {result.seconds:.0f} s"
    assert result.stdout == ""
