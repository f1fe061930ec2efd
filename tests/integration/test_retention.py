"""State that leaves memory: a group whose cases are all closed moves to the SQL archive,
and a late event still finds it; successive runs on the embedded broker carry their
state through the archive instead of replaying history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from consumers.store import open_store
from runtime.batch import Reporter
from streams.state.archive import archive
from tests.integration.harness import case_of, comparable, live_cases, run_files, write_jsonl
from tests.unit.factories import at, decided, event, party, payment, referral

pytestmark = pytest.mark.integration


def _closed_case(rid: str, day: float, who: str, amount: int = 10_000) -> list[dict[str, object]]:
    """A case decided and closed within three weeks, paid in part."""
    return [
        referral(rid, at(day), party_id_hash=party(who)),
        event("case_filed", at(day + 2), rid),
        decided(at(day + 10), rid, amount, decision_no=f"D-{rid}"),
        payment(f"R-{rid}-1", at(day + 12), rid, amount // 2, decision_no=f"D-{rid}"),
        event("case_closed", at(day + 20), rid),
    ]


def _lines(records: list[dict[str, object]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in records]


def test_a_late_event_for_a_retired_group_is_applied(fresh_kafka: str, tmp_path: Path) -> None:
    """Incident X closes in March; months of other incidents push event time far past its
    merge window, so its group leaves memory for the archive; then a payment for X, made
    in March, and an earlier referral of the same incident arrive late. Both land as if
    they had come in time: the outcome equals one run of the same events in time order."""
    x = _closed_case("X", 0, "party-x")
    filler = [r for i in range(60) for r in _closed_case(f"F{i}", 3 + 3 * i, f"party-{i}")]
    late = [
        payment("R-X-2", at(15), "X", 5_000, decision_no="D-X"),
        referral("X0", at(-5), party_id_hash=party("party-x")),
    ]
    more = _closed_case("G", 200, "party-g")
    db = f"sqlite:///{tmp_path / 'late.db'}"
    # Three runs on one partition, so that each step sees every group: X and the filler
    # (one batch may hold them all, and a group written in a step stays for a later
    # one), then a later incident, whose step retires X, then the late events.
    for name, records in (("early", x + filler), ("more", more), ("late", late)):
        path = write_jsonl(tmp_path / f"{name}.jsonl", _lines(records))
        run_files(db, [path], broker=fresh_kafka, hot_days=10, partitions=1)

    engine = open_store(db)
    with engine.connect() as connection:
        archived = connection.execute(
            select(archive.c.key).where(archive.c.store == "group_to_state")
        ).all()
    engine.dispose()
    heir = case_of(db, "HOUSING:X")
    assert len(archived) > 0, "no group left memory: the test proves nothing"
    assert heir["collected_fen"] == 10_000 and heir["outstanding_fen"] == 0
    assert [r["referral_id"] for r in heir["referrals"]] == ["X0", "X"]

    in_time = sorted(
        x + filler + more + late,
        key=lambda r: str(next(v for k, v in r.items() if k.endswith("_at"))),
    )
    in_order = f"sqlite:///{tmp_path / 'in-order.db'}"
    run_files(in_order, [write_jsonl(tmp_path / "in-order.jsonl", _lines(in_time))])
    expected = {k: comparable(v) for k, v in live_cases(in_order).items()}
    assert {k: comparable(v) for k, v in live_cases(db).items()} == expected


class _Stages(Reporter):
    """The stages a run goes through, with the largest total each announced."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def stage(self, name: str, total: int | None = None) -> None:
        self.totals[name] = max(self.totals.get(name, 0), total or 0)


def test_successive_runs_publish_only_their_own_input(tmp_path: Path) -> None:
    """The second of two runs on the embedded broker publishes its own three lines, not
    the first run's history, and still applies them to the first run's cases: the
    payment to X's ledger, the referral merged into X's case."""
    from runtime.batch import run_batch
    from streams.settings import Settings

    first = _lines([r for i in range(40) for r in _closed_case(f"F{i}", 2 * i, f"p{i}")])
    second = _lines(
        [
            payment("R-F3-2", at(18), "F3", 5_000, decision_no="D-F3"),
            referral("J", at(7), party_id_hash=party("p3")),
            event("feedback_sent", at(30), "F3"),
        ]
    )
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    settings = Settings(db=db, partitions=2)
    run_batch(settings, [write_jsonl(tmp_path / "first.jsonl", first)], Reporter())
    stages = _Stages()
    summary = run_batch(settings, [write_jsonl(tmp_path / "second.jsonl", second)], stages)

    assert summary.published == 3 and summary.merged == 1 and summary.cases_opened == 0
    assert stages.totals["publishing"] == 3
    case = case_of(db, "HOUSING:J")
    assert case["case_id"] == case_of(db, "HOUSING:F3")["case_id"]
    assert (case["collected_fen"], case["outstanding_fen"]) == (10_000, 0)
