"""Writing pipeline outputs into SQL, idempotently, and reading them back.

The caller owns the transaction (a Session or a Connection in ``begin()``); these
functions only stage work in it. ``store_batch`` is the sink's: one polled batch, one
transaction. Writes are set-based Core statements, a few per batch whatever its size:
an upsert guarded by ``group_seq`` (an older snapshot never overwrites a newer one)
where a row is replaced, ON CONFLICT DO NOTHING where it never changes once written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, case, delete, func, select
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from consumers.migrations import ensure_schema
from consumers.models import Base, CaseRow, DeadLetterRow, ReferralRow
from streams.cases.snapshots import INSTANTS, PLACE_AND_KIND
from streams.errors import ConfigurationError, RetryableError
from streams.state.database import connect


def open_store(url: str) -> Engine:
    """An engine on ``url`` with its schema at the code's revision (consumers/migrations/:
    SQLite is migrated, PostgreSQL refused when behind); JSON columns written by orjson."""
    engine = connect(url, json_serializer=_json_text)
    try:
        ensure_schema(engine)
    except SQLAlchemyError as e:
        raise RetryableError(
            f"database {engine.url!r} unreachable: {e.__class__.__name__}: {str(e).splitlines()[0]}"
        ) from e
    return engine


_CASE_COLUMNS = (
    "case_no",
    "group_key",
    "group_seq",
    "state",
    "merged_into",
    *PLACE_AND_KIND,
    *INSTANTS,
    "decided_fen",
    "collected_fen",
    "outstanding_fen",
    "overpaid_fen",
)
_CASES = Base.metadata.tables["cases"]
_LEDGER = Base.metadata.tables["ledger_entries"]
_REFERRALS = Base.metadata.tables["referrals"]
_VERSIONS = Base.metadata.tables["referral_versions"]
# Columns an upsert of a case never overwrites: its key, and the scorecard feed's mark of
# the version it took in (a redelivered snapshot must not make the case unscored again).
_KEPT = frozenset({"case_id", "scored_version"})
_LETTERS = Base.metadata.tables["dead_letters"]

_REFERRAL_KEY = (_REFERRALS.c.agency, _REFERRALS.c.referral_id)

Snapshot = Mapping[str, Any]
Letter = tuple[str, Mapping[str, Any]]
Key = tuple[str, str]
# A session in a transaction (tests, the CLI) or a connection in one (the sink).
Db = Session | Connection


def store_batch(engine: Engine, snapshots: Sequence[Snapshot], letters: Sequence[Letter]) -> int:
    """Store one polled batch in one transaction: the rows of cases and dead letters written."""
    with engine.begin() as db:
        return apply_snapshots(db, snapshots) + apply_dead_letters(db, letters)


def apply_snapshots(db: Db, snapshots: Iterable[Snapshot]) -> int:
    """Store case snapshots (decoded CaseSnapshot records); older ones than stored are
    ignored. Returns how many changed the store."""
    latest: dict[str, Snapshot] = {}
    for snap in snapshots:  # of equal group_seqs, the last
        known = latest.get(snap["case_id"])
        if known is None or known["group_seq"] <= snap["group_seq"]:
            latest[snap["case_id"]] = snap
    if not latest:
        return 0
    # One read for both: the stored group_seqs, and how many versions each referral of
    # these cases has stored (its amendments + 1), so that only new ones are written.
    query = (
        select(_CASES.c.case_id, _CASES.c.group_seq, *_REFERRAL_KEY, _REFERRALS.c.amendments)
        .outerjoin(_REFERRALS, _REFERRALS.c.case_id == _CASES.c.case_id)
        .where(_CASES.c.case_id.in_(latest))
    )
    stored: dict[str, int] = {}
    versions: dict[Key, int] = {}
    for case_id, group_seq, agency, referral_id, amendments in db.execute(query).all():
        stored[case_id] = group_seq
        if agency is not None:
            versions[agency, referral_id] = amendments + 1
    fresh = [s for case_id, s in latest.items() if stored.get(case_id, -1) <= s["group_seq"]]
    if not fresh:
        return 0
    insert = _insert(db, _CASES)
    excluded = insert.excluded
    # Only a newer group_seq is new content: a snapshot stored again leaves `version` alone.
    newer = case((excluded.group_seq > _CASES.c.group_seq, 1), else_=0)
    upsert = insert.on_conflict_do_update(
        index_elements=[_CASES.c.case_id],
        set_={
            **{c.name: excluded[c.name] for c in _CASES.columns if c.name not in _KEPT},
            "version": _CASES.c.version + newer,
        },
        # The stored row may have changed since it was read: the database decides.
        where=_CASES.c.group_seq <= excluded.group_seq,
    ).returning(_CASES.c.case_id)
    written = set(db.scalars(upsert, [case_row(s) for s in fresh]))
    fresh = [s for s in fresh if s["case_id"] in written]
    _replace_ledgers(db, fresh)
    _write_referrals(db, fresh, versions)
    return len(fresh)


def case_row(snap: Snapshot) -> dict[str, Any]:
    """The ``cases`` row of a snapshot, every column given, as a first write."""
    decision = snap.get("decision")
    row = dict(zip(_CASE_COLUMNS, map(snap.get, _CASE_COLUMNS), strict=True))
    row.update(
        case_id=snap["case_id"],
        decision_no=decision["decision_no"] if decision else None,
        major=decision["major"] if decision else None,
        tier=decision["tier"] if decision else None,
        legal_reviewed_at=decision["legal_reviewed_at"] if decision else None,
        snapshot=snap,  # datetimes and all: the engine's JSON serializer writes them
        version=1,
    )
    return row


def _replace_ledgers(db: Db, snapshots: Sequence[Snapshot]) -> None:
    if not snapshots:
        return
    db.execute(delete(_LEDGER).where(_LEDGER.c.case_id.in_(s["case_id"] for s in snapshots)))
    rows = [row for snap in snapshots for row in _ledger_rows(snap)]
    if rows:
        db.execute(sa_insert(_LEDGER), rows)


def _ledger_rows(snap: Snapshot) -> Iterator[dict[str, Any]]:
    case_id, decision = snap["case_id"], snap.get("decision")
    decision_no = decision["decision_no"] if decision else None
    if decision is not None:
        yield {
            "entry_id": f"decision:{case_id}",
            "case_id": case_id,
            "kind": "decision",
            "decision_no": decision_no,
            "receipt_no": None,
            "at": snap["decided_at"],
            "amount_fen": decision["amount_fen"],
        }
    for receipt in snap.get("payments") or ():
        yield {
            # Scoped to the case: a receipt number reused in another incident group
            # (which that group cannot see) must not break this case's ledger.
            "entry_id": f"receipt:{case_id}:{receipt['receipt_no']}",
            "case_id": case_id,
            "kind": "receipt",
            "decision_no": decision_no,
            "receipt_no": receipt["receipt_no"],
            "at": receipt["paid_at"],
            "amount_fen": receipt["amount_fen"],
        }


def _write_referrals(db: Db, snapshots: Sequence[Snapshot], stored: Mapping[Key, int]) -> None:
    """Referral rows by key, never an older group_seq over a newer one, and the versions
    beyond the ``stored`` count: a referral's n-th version never changes once numbered."""
    rows: dict[Key, dict[str, Any]] = {}
    versions: dict[Key, list[Any]] = {}
    for snap in snapshots:
        for referral in snap.get("referrals") or ():
            key = (referral["agency"], referral["referral_id"])
            known = rows.get(key)
            if known is None or known["group_seq"] <= snap["group_seq"]:
                rows[key] = {
                    "agency": key[0],
                    "referral_id": key[1],
                    "case_id": snap["case_id"],
                    "group_seq": snap["group_seq"],
                    "referred_at": referral["referred_at"],
                    "opened_case": referral["opened_case"],
                    "amendments": referral["amendments"],
                    "exact_duplicates": referral["exact_duplicates"],
                }
                versions[key] = referral["versions"]
    if not rows:
        return
    insert = _insert(db, _REFERRALS)
    db.execute(
        insert.on_conflict_do_update(
            index_elements=[_REFERRALS.c.agency, _REFERRALS.c.referral_id],
            set_={c.name: insert.excluded[c.name] for c in _REFERRALS.columns if not c.primary_key},
            where=_REFERRALS.c.group_seq <= insert.excluded.group_seq,
        ),
        list(rows.values()),
    )
    new = [
        {
            "agency": agency,
            "referral_id": referral_id,
            "version_no": number,
            "record": orjson.loads(version) if isinstance(version, str) else version,
        }
        for (agency, referral_id), texts in versions.items()
        for number, version in enumerate(texts, start=1)
        if number > stored.get((agency, referral_id), 0)
    ]
    if new:
        db.execute(_insert(db, _VERSIONS).on_conflict_do_nothing(), new)


def apply_dead_letters(db: Db, letters: Iterable[Letter]) -> int:
    """Store dead letters (key, decoded DeadLetter record); a letter seen again is kept once."""
    rows: dict[str, dict[str, Any]] = {}
    for key, letter in letters:
        rows.setdefault(key, {**letter, "letter_key": key})
    if not rows:
        return 0
    insert = _insert(db, _LETTERS).on_conflict_do_nothing().returning(_LETTERS.c.letter_key)
    return len(db.scalars(insert, list(rows.values())).all())


def _insert(db: Db, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say ON CONFLICT, in the database's dialect."""
    dialect = (db.get_bind() if isinstance(db, Session) else db).dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ConfigurationError(f"the SQL store runs on SQLite or PostgreSQL, not {dialect}")


def _json_text(value: Any) -> str:
    """JSON columns' text: orjson writes datetimes as ``isoformat`` does, in one pass."""
    return orjson.dumps(value, default=_jsonable, option=orjson.OPT_NON_STR_KEYS).decode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@dataclass(frozen=True)
class Totals:
    """What the store holds, in the figures of a run's summary."""

    dead_lettered: int
    exact_duplicates: int
    amendments: int
    merged: int
    cases_opened: int


def totals(session: Session) -> Totals:
    live = select(CaseRow.case_id).where(CaseRow.state != "MERGED")
    referrals = select(
        func.coalesce(func.sum(ReferralRow.exact_duplicates), 0),
        func.coalesce(func.sum(ReferralRow.amendments), 0),
        func.count().filter(ReferralRow.opened_case.is_(False)),
    ).where(ReferralRow.case_id.in_(live))
    duplicates, amendments, merged = session.execute(referrals).one()
    return Totals(
        dead_lettered=session.scalar(select(func.count()).select_from(DeadLetterRow)) or 0,
        exact_duplicates=int(duplicates),
        amendments=int(amendments),
        merged=int(merged),
        cases_opened=session.scalar(select(func.count()).select_from(live.subquery())) or 0,
    )
