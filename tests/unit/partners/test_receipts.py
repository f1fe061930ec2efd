"""Receipts derived from case snapshots and dead letters, and kept so none is sent twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from consumers.receipt_rules import step_from_dead_letter, steps_from_snapshot
from consumers.receipt_store import record_sent, status_of, unsent
from consumers.store import open_store
from schemas.codec import default_store
from schemas.jsonl import record_from_json

from .referrals import HOUSING

T = datetime(2022, 3, 1, 1, 30, tzinfo=UTC)


def day(n: int) -> datetime:
    return T + timedelta(days=n)


def referral(
    rid: str, *, opened: bool = True, amendments: int = 0, dups: int = 0
) -> dict[str, Any]:
    return {
        "agency": "HOUSING",
        "referral_id": rid,
        "referred_at": T,
        "opened_case": opened,
        "amendments": amendments,
        "exact_duplicates": dups,
        "versions": ["{}"] * (amendments + 1),
    }


def snapshot(**changes: Any) -> dict[str, Any]:
    """A CaseSnapshot record of an open case holding ZJ-1, with ``changes``."""
    base: dict[str, Any] = {
        "case_id": "C1",
        "case_no": None,
        "group_key": "g",
        "group_seq": 1,
        "state": "OPEN",
        "merged_into": None,
        "filed_at": None,
        "rejected_at": None,
        "decided_at": None,
        "closed_at": None,
        "decision": None,
        "payments": [],
        "referrals": [referral("ZJ-1")],
        "history": [],
    }
    return {**base, **changes}


def statuses(snap: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["referral_id"], s["status"]) for s in steps_from_snapshot(snap)]


CLOSED = snapshot(
    state="CLOSED",
    case_no="430203-2022-0001",
    filed_at=day(2),
    decided_at=day(20),
    closed_at=day(40),
    decision={"decision_no": "D-1", "amount_fen": 500_000},
    payments=[
        {"receipt_no": "R-1", "paid_at": day(25), "amount_fen": 200_000},
        {"receipt_no": "R-2", "paid_at": day(30), "amount_fen": 300_000},
    ],
    referrals=[referral("ZJ-1", amendments=1, dups=1), referral("ZJ-2", opened=False)],
)


def test_a_closed_case_tells_each_referral_its_whole_flow_in_order() -> None:
    """Received, amended, duplicate, merged (for the one that joined), filed with the
    case number, decided, each payment, closed."""
    flow = ["RECEIVED", "FILED", "DECIDED", "PAID", "PAID", "CLOSED"]
    assert statuses(CLOSED) == [
        *[("ZJ-1", s) for s in ["RECEIVED", "AMENDED", "DUPLICATE", *flow[1:]]],
        *[("ZJ-2", s) for s in ["RECEIVED", "MERGED", *flow[1:]]],
    ]
    filed = next(s for s in steps_from_snapshot(CLOSED) if s["status"] == "FILED")
    assert (filed["case_no"], filed["at"]) == ("430203-2022-0001", day(2))


def test_filed_and_what_follows_wait_for_the_case_number() -> None:
    """A filed case without its number yet tells nothing of the filing nor of anything
    after it, so no agency hears of a decision before the filing."""
    assert statuses(snapshot(state="FILED", filed_at=day(2))) == [("ZJ-1", "RECEIVED")]
    unnumbered = {**CLOSED, "case_no": None, "referrals": [referral("ZJ-1")]}
    assert statuses(unnumbered) == [("ZJ-1", "RECEIVED")]


def test_a_rejection_carries_its_reason_and_a_merged_tombstone_tells_nothing() -> None:
    """The rejection's reason comes from the case history; an absorbed case's tombstone
    gives no steps (its referrals are told through the heir)."""
    rejected = snapshot(
        state="REJECTED",
        rejected_at=day(3),
        history=[{"at": day(3), "what": "case_rejected", "detail": "不属于本部门职责"}],
    )
    step = steps_from_snapshot(rejected)[-1]
    assert (step["status"], step["reason"]) == ("REJECTED", "不属于本部门职责")
    assert steps_from_snapshot(snapshot(state="MERGED", referrals=[])) == []


def test_the_same_step_has_the_same_id_in_every_later_snapshot() -> None:
    """Receipt ids name the step, so a later snapshot repeats the ids of earlier steps."""
    early = {s["receipt_id"] for s in steps_from_snapshot(snapshot())}
    assert early <= {s["receipt_id"] for s in steps_from_snapshot(CLOSED)}


def test_a_dead_lettered_referral_is_told_with_the_reason() -> None:
    """A dead letter whose raw bytes are a referral (Avro, or a batch file's JSON line)
    tells that referral; garbage tells no one."""
    store = default_store()
    avro = store.encode(*record_from_json(HOUSING))
    letter = {
        "event_id": "referrals.housing/0/7",
        "error": "unknown_place",
        "reason": "unknown district '430299'",
        "raw": avro,
        "dead_lettered_at": T,
    }
    step = step_from_dead_letter(letter, store)
    assert step is not None
    assert (step["referral_id"], step["status"]) == ("ZJ-2022-0001", "DEAD_LETTERED")
    assert step["reason"] == "unknown_place: unknown district '430299'"
    line = json.dumps({"kind": "referral", "agency": "TRAFFIC_POLICE", "referral_id": "JJ-9"})
    from_file = step_from_dead_letter({**letter, "raw": line.encode()}, store)
    assert from_file is not None and from_file["agency"] == "TRAFFIC_POLICE"
    assert step_from_dead_letter({**letter, "raw": b"\x00\x01junk"}, store) is None


def test_the_store_sends_each_receipt_once_and_keeps_the_latest_status(tmp_path: Path) -> None:
    """Steps already recorded are not unsent again; the status is the latest state, not a
    later duplicate; another referral's status is absent."""
    engine = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    with Session(engine) as session, session.begin():
        first = unsent(session, steps_from_snapshot(snapshot()))
        record_sent(session, first, day(1))
    with Session(engine) as session, session.begin():
        again = unsent(session, steps_from_snapshot(CLOSED) + steps_from_snapshot(snapshot()))
        assert "HOUSING:ZJ-1:received" not in {s["receipt_id"] for s in again}
        record_sent(session, again, day(41))
        assert unsent(session, steps_from_snapshot(CLOSED)) == []
    with Session(engine) as session:
        status = status_of(session, "HOUSING", "ZJ-1")
        assert status is not None
        assert (status["status"], status["case_no"]) == ("CLOSED", "430203-2022-0001")
        assert [r["status"] for r in status["receipts"]][:3] == ["RECEIVED", "AMENDED", "DUPLICATE"]
        assert status_of(session, "TRAFFIC_POLICE", "ZJ-1") is None
    engine.dispose()
