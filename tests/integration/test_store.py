"""The SQL store on SQLite and on PostgreSQL: what the sink writes, and what it reads back.

The snapshots are real ones: events driven through the pure domain code
(``tests.unit.factories.Group``), then through ``to_avro`` and the Avro codec, so each test
stores exactly the records the SQL sink receives from ``cases.snapshots``. Each outcome of
the group is stored in a transaction of its own, as the sink stores one polled batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from consumers.models import Base, CaseRow, DeadLetterRow, LedgerEntryRow, ReferralRow
from consumers.queries import case_document, find_case
from consumers.store import Totals, apply_dead_letters, apply_snapshots, open_store, totals
from schemas.codec import default_store
from streams.cases.group import Outcome
from streams.cases.snapshots import to_avro
from streams.deadletters.letters import DeadLetter
from streams.errors import Reason
from streams.messages import Source
from tests.unit.factories import Group, decided, event, party, payment, referral

pytestmark = pytest.mark.integration

CODEC = default_store()
BIG = 3_000_000_001  # fen: above 2**31, odd so that a float on the way would show


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store with its schema created, on a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")
    engine = open_store(url)
    try:
        yield engine
    finally:
        engine.dispose()


def wire(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot as the sink decodes it from the ``cases.snapshots`` topic."""
    decoded = CODEC.decode(CODEC.encode("CaseSnapshot", to_avro(snapshot)))
    assert decoded.name.endswith("CaseSnapshot")
    return decoded.record


def batch(outcome: Outcome) -> list[dict[str, Any]]:
    return [wire(s) for s in outcome.snapshots]


def store(engine: Engine, *batches: Iterable[Mapping[str, Any]]) -> None:
    """Each batch in a transaction of its own, as the sink stores one poll."""
    for snapshots in batches:
        with Session(engine) as session, session.begin():
            apply_snapshots(session, snapshots)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with Session(engine) as session:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(select(table).order_by(*table.primary_key.columns)).all()
            ]
            for table in Base.metadata.sorted_tables
        }


def ledger(engine: Engine, case_id: str) -> dict[str, tuple[str, int]]:
    """entry id -> (kind, amount) of a case's ledger entries."""
    with Session(engine) as session:
        rows = session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.case_id == case_id))
        return {row.entry_id: (row.kind, row.amount_fen) for row in rows}


def store_totals(engine: Engine) -> Totals:
    with Session(engine) as session:
        return totals(session)


def decided_case() -> tuple[Group, list[list[dict[str, Any]]]]:
    """R1 filed, decided at BIG fen, paid by P1 (sent twice) and P2: its batches."""
    group = Group()
    outcomes = [
        group.send(referral("R1", "2022-03-01T09:00:00+08:00")),
        group.send(event("case_filed", "2022-03-02T09:00:00+08:00", "R1")),
        group.send(decided("2022-03-05T09:00:00+08:00", "R1", BIG)),
        group.send(payment("P1", "2022-03-06T09:00:00+08:00", "R1", 2**31)),
        group.send(payment("P1", "2022-03-06T09:00:00+08:00", "R1", 2**31)),
        group.send(payment("P2", "2022-03-07T09:00:00+08:00", "R1", 1_000)),
    ]
    return group, [batch(o) for o in outcomes]


def dead_letter(event_id: str, error: str = "schema") -> tuple[str, dict[str, Any]]:
    """(topic key, decoded DeadLetter record) as the sink receives them."""
    source = Source(topic="referrals.housing", partition=1, offset=7)
    letter = DeadLetter(event_id, Reason(error), f"{error}: broken", source, b"\x00\x01\x02")
    at = datetime(2022, 3, 1, 1, 0, 0, 123000, tzinfo=UTC)
    value = CODEC.encode("DeadLetter", letter.to_avro(at))
    return letter.key, CODEC.decode(value).record


def test_applying_the_same_snapshots_twice_changes_nothing(engine: Engine) -> None:
    """Storing every batch again, one by one or all at once, leaves every row, ledger entry
    and total as it was."""
    _, batches = decided_case()
    store(engine, *batches)
    before, figures = dump(engine), store_totals(engine)
    assert len(before["cases"]) == 1
    assert len(before["ledger_entries"]) == 3

    store(engine, *batches)
    assert dump(engine) == before
    store(engine, [s for b in batches for s in b])
    assert dump(engine) == before
    assert store_totals(engine) == figures


def test_an_older_snapshot_after_a_newer_one_is_ignored(engine: Engine) -> None:
    """A snapshot with a lower ``group_seq`` than the stored one changes nothing, whether it
    comes in a later batch or after the newer one in the same batch."""
    _, batches = decided_case()
    store(engine, batches[-1])
    before = dump(engine)
    (opened,) = batches[0]
    (latest,) = batches[-1]
    assert opened["group_seq"] < latest["group_seq"]

    store(engine, [opened])
    store(engine, [latest, opened])
    assert dump(engine) == before
    with Session(engine) as session:
        row = session.get(CaseRow, latest["case_id"])
        assert row is not None
        assert (row.state, row.group_seq) == ("DECIDED", latest["group_seq"])


def test_a_reformed_group_leaves_the_absorbed_case_merged_into_its_heir(engine: Engine) -> None:
    """A late, earlier referral re-forms the case around itself: the absorbed case stays as a
    MERGED row pointing to the heir, its referrals and ledger move to the heir, and both the
    old id and the referral keys lead to the heir."""
    group, batches = decided_case()
    store(engine, *batches)
    (first,) = batches[0]
    absorbed_id = first["case_id"]

    late = batch(group.send(referral("R0", "2022-02-27T09:00:00+08:00")))
    store(engine, late)

    heir = group.case_of("R1")
    heir_id = heir["case_id"]
    assert heir_id != absorbed_id
    with Session(engine) as session:
        tombstone = session.get(CaseRow, absorbed_id)
        assert tombstone is not None
        assert (tombstone.state, tombstone.merged_into) == ("MERGED", heir_id)
        owners = dict(session.execute(select(ReferralRow.referral_id, ReferralRow.case_id)).all())
        assert owners == {"R0": heir_id, "R1": heir_id}
        assert find_case(session, absorbed_id).case_id == heir_id
        assert find_case(session, "HOUSING:R1").case_id == heir_id
        document = case_document(find_case(session, "HOUSING:R0"))
    assert [r["referral_id"] for r in document["referrals"]] == ["R0", "R1"]
    assert (document["decided_fen"], document["collected_fen"]) == (BIG, 2**31 + 1_000)

    assert ledger(engine, absorbed_id) == {}
    assert ledger(engine, heir_id) == {
        f"decision:{heir_id}": ("decision", BIG),
        f"receipt:{heir_id}:P1": ("receipt", 2**31),
        f"receipt:{heir_id}:P2": ("receipt", 1_000),
    }
    assert store_totals(engine) == Totals(
        dead_lettered=0, exact_duplicates=0, amendments=0, merged=1, cases_opened=1
    )


def test_ledger_entries_follow_each_snapshot(engine: Engine) -> None:
    """A snapshot's decision and receipts replace the case's ledger entries; a receipt sent
    twice is one entry."""
    _, batches = decided_case()
    case_id = batches[0][0]["case_id"]
    decision = f"decision:{case_id}"

    store(engine, *batches[:2])
    assert ledger(engine, case_id) == {}
    store(engine, batches[2])
    assert ledger(engine, case_id) == {decision: ("decision", BIG)}
    store(engine, batches[3])
    assert ledger(engine, case_id) == {
        decision: ("decision", BIG),
        f"receipt:{case_id}:P1": ("receipt", 2**31),
    }
    store(engine, batches[4])  # P1 again
    assert ledger(engine, case_id) == {
        decision: ("decision", BIG),
        f"receipt:{case_id}:P1": ("receipt", 2**31),
    }
    store(engine, batches[5])
    assert ledger(engine, case_id) == {
        decision: ("decision", BIG),
        f"receipt:{case_id}:P1": ("receipt", 2**31),
        f"receipt:{case_id}:P2": ("receipt", 1_000),
    }
    with Session(engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        assert (row.collected_fen, row.outstanding_fen) == (2**31 + 1_000, BIG - 2**31 - 1_000)


def test_dead_letters_are_stored_once_by_key(engine: Engine) -> None:
    """A dead letter seen again, in the same batch or a later one, is kept once."""
    first, second = dead_letter("referrals.housing/1/7"), dead_letter("referrals.housing/1/8")
    with Session(engine) as session, session.begin():
        assert apply_dead_letters(session, [first, first]) == 1
    with Session(engine) as session, session.begin():
        assert apply_dead_letters(session, [first, second]) == 1
    with Session(engine) as session:
        keys = session.scalars(select(DeadLetterRow.letter_key)).all()
        assert sorted(keys) == sorted([first[0], second[0]])
        row = session.get(DeadLetterRow, first[0])
        assert row is not None
        assert (row.error, row.source_topic, row.source_offset, row.raw) == (
            "schema",
            "referrals.housing",
            7,
            b"\x00\x01\x02",
        )


def test_totals_count_what_the_store_holds(engine: Engine) -> None:
    """``totals`` counts dead letters, exact duplicates, amendments and merged referrals of
    live cases, and live cases, never a MERGED row's."""
    muck = Group()
    r1 = referral("R1", "2022-03-01T09:00:00+08:00")
    outcomes = [
        muck.send(r1),
        muck.send(r1),  # an exact duplicate
        muck.send({**r1, "description": "违法加建 已扩建"}),  # an amendment
        muck.send(referral("R2", "2022-03-06T09:00:00+08:00")),  # joins R1's case
        muck.send(referral("R0", "2022-02-27T09:00:00+08:00")),  # re-forms it around R0
    ]
    other = Group()
    outcomes.append(
        other.send(referral("R9", "2022-03-01T09:00:00+08:00", party_id_hash=party("X")))
    )
    store(engine, *(batch(o) for o in outcomes))
    with Session(engine) as session, session.begin():
        apply_dead_letters(session, [dead_letter("a/0/1"), dead_letter("a/0/2", "unmatched")])

    assert store_totals(engine) == Totals(
        dead_lettered=2, exact_duplicates=1, amendments=1, merged=2, cases_opened=2
    )
    with Session(engine) as session:
        states = sorted(session.scalars(select(CaseRow.state)).all())
    assert states == ["MERGED", "OPEN", "OPEN"]


def test_instants_come_back_timezone_aware_utc(engine: Engine) -> None:
    """Every instant the store holds is read back as the same moment, in UTC."""
    _, batches = decided_case()
    store(engine, *batches)
    key, letter = dead_letter("referrals.housing/1/7")
    with Session(engine) as session, session.begin():
        apply_dead_letters(session, [(key, letter)])

    case_id = batches[0][0]["case_id"]
    with Session(engine) as session:
        case = session.get(CaseRow, case_id)
        assert case is not None
        referral_row = session.get(ReferralRow, ("HOUSING", "R1"))
        receipt = session.get(LedgerEntryRow, f"receipt:{case_id}:P1")
        letter_row = session.get(DeadLetterRow, key)
        assert referral_row is not None and receipt is not None and letter_row is not None
        instants = {
            "opened_at": case.opened_at,
            "filed_at": case.filed_at,
            "decided_at": case.decided_at,
            "referred_at": referral_row.referred_at,
            "paid_at": receipt.at,
            "dead_lettered_at": letter_row.dead_lettered_at,
        }
    assert instants == {
        "opened_at": datetime(2022, 3, 1, 1, 0, tzinfo=UTC),
        "filed_at": datetime(2022, 3, 2, 1, 0, tzinfo=UTC),
        "decided_at": datetime(2022, 3, 5, 1, 0, tzinfo=UTC),
        "referred_at": datetime(2022, 3, 1, 1, 0, tzinfo=UTC),
        "paid_at": datetime(2022, 3, 6, 1, 0, tzinfo=UTC),
        "dead_lettered_at": datetime(2022, 3, 1, 1, 0, 0, 123000, tzinfo=UTC),
    }
    for name, value in instants.items():
        assert value is not None and value.utcoffset() is not None, name
        assert value.tzinfo == UTC, name


def test_money_above_two_to_the_31_fen_round_trips_exactly(engine: Engine) -> None:
    """Amounts beyond a 32-bit integer come back as the same Python ints, in the case row,
    its ledger and its ``case`` document."""
    _, batches = decided_case()
    store(engine, *batches)
    case_id = batches[0][0]["case_id"]
    with Session(engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        figures = (row.decided_fen, row.collected_fen, row.outstanding_fen, row.overpaid_fen)
        document = case_document(row)
        amounts = session.scalars(select(LedgerEntryRow.amount_fen)).all()
    assert figures == (BIG, 2**31 + 1_000, BIG - 2**31 - 1_000, 0)
    assert all(type(v) is int for v in figures)
    assert sorted(amounts) == [1_000, 2**31, BIG]
    assert all(type(v) is int for v in amounts)
    assert document["decision"]["amount_fen"] == BIG
    assert document["outstanding_fen"] == BIG - 2**31 - 1_000
