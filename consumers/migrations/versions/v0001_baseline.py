"""The store as create_all made it before migrations: every table, written out here so
that later model changes cannot alter what this revision creates.

Upgrading an empty database creates all of it. Upgrading a database that create_all made
(no alembic_version yet) adopts it: the missing tables are created, the indexes missing
from existing tables are added, and anything else that differs from this revision is
refused by name rather than stamped over.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from alembic.autogenerate import compare_metadata

from consumers.migrations import SchemaMismatch

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _code(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), nullable=nullable)


def _instant(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    # consumers.models.UTCDateTime: naive UTC in a DateTime column
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _fen(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _month_district_squad() -> list[sa.Column[str]]:
    return [
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("district_code", sa.String(64), primary_key=True),
        sa.Column("squad_code", sa.String(64), primary_key=True),
    ]


def baseline() -> sa.MetaData:
    """Every table and index of revision 0001."""
    m = sa.MetaData()
    cases = sa.Table(
        "cases",
        m,
        sa.Column("case_id", sa.String(64), primary_key=True),
        _code("case_no", nullable=True),
        _code("group_key"),
        sa.Column("group_seq", sa.BigInteger(), nullable=False),
        _code("state"),
        *(_code(c, nullable=True) for c in ("merged_into", "district_code", "squad_code")),
        *(_code(c, nullable=True) for c in ("street_code", "agency", "category")),
        *(_instant(f"{c}_at", nullable=True) for c in ("opened", "filed", "rejected")),
        *(_instant(f"{c}_at", nullable=True) for c in ("decided", "feedback", "closed")),
        _code("decision_no", nullable=True),
        sa.Column("major", sa.Boolean(), nullable=True),
        _code("tier", nullable=True),
        _instant("legal_reviewed_at", nullable=True),
        *(_fen(f"{c}_fen") for c in ("decided", "collected", "outstanding", "overpaid")),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("scored_version", sa.BigInteger(), server_default=sa.text("-1"), nullable=False),
    )
    sa.Index("ix_cases_group_key", cases.c.group_key)
    sa.Index("ix_cases_district_opened", cases.c.district_code, cases.c.opened_at)
    unscored = sa.text("version != scored_version")
    sa.Index("ix_cases_unscored", cases.c.case_id, sqlite_where=unscored, postgresql_where=unscored)
    referrals = sa.Table(
        "referrals",
        m,
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("referral_id", sa.String(128), primary_key=True),
        _code("case_id"),
        sa.Column("group_seq", sa.BigInteger(), nullable=False),
        _instant("referred_at"),
        sa.Column("opened_case", sa.Boolean(), nullable=False),
        sa.Column("amendments", sa.Integer(), nullable=False),
        sa.Column("exact_duplicates", sa.Integer(), nullable=False),
    )
    sa.Index("ix_referrals_case_id", referrals.c.case_id)
    sa.Table(
        "referral_versions",
        m,
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("referral_id", sa.String(128), primary_key=True),
        sa.Column("version_no", sa.Integer(), primary_key=True),
        sa.Column("record", sa.JSON(), nullable=False),
    )
    ledger = sa.Table(
        "ledger_entries",
        m,
        sa.Column("entry_id", sa.String(160), primary_key=True),
        _code("case_id"),
        _code("kind"),
        _code("decision_no", nullable=True),
        _code("receipt_no", nullable=True),
        _instant("at"),
        _fen("amount_fen"),
    )
    sa.Index("ix_ledger_entries_case_id", ledger.c.case_id)
    sa.Table(
        "dead_letters",
        m,
        sa.Column("letter_key", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(200), nullable=False),
        _code("error"),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("source_topic", sa.String(200), nullable=True),
        sa.Column("source_partition", sa.Integer(), nullable=True),
        sa.Column("source_offset", sa.BigInteger(), nullable=True),
        sa.Column("source_file", sa.String(500), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        _instant("dead_lettered_at"),
    )
    sa.Table(
        "dead_letter_payloads",
        m,
        sa.Column("letter_key", sa.String(200), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        _instant("kept_at"),
    )
    _scorecards(m)
    _read_model(m)
    _receipts(m)
    sa.Table(
        "state_archive",
        m,
        sa.Column("store", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
    )
    return m


def _scorecards(m: sa.MetaData) -> None:
    """What the feed keeps of closed months: every revision of every card, penalties."""
    sa.Table(
        "scorecards",
        m,
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("level", sa.String(64), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("unit_name", sa.String(100), nullable=False),
        _code("parent_code", nullable=True),
        sa.Column("score", sa.Numeric(5, 2), nullable=True),
        _code("grade", nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        _instant("closed_at"),
    )
    sa.Table(
        "penalty_totals",
        m,
        *_month_district_squad(),
        sa.Column("agency", sa.String(64), primary_key=True),
        *(_fen(f"{c}_fen") for c in ("decided", "collected", "outstanding", "overpaid")),
    )


def _read_model(m: sa.MetaData) -> None:
    """The scorecard feed's read model."""
    sa.Table(
        "scored_cases",
        m,
        sa.Column("case_id", sa.String(64), primary_key=True),
        *(_code(c) for c in ("district_code", "squad_code", "agency")),
        sa.Column("opened_us", sa.BigInteger(), nullable=False),
        *(
            sa.Column(f"{c}_us", sa.BigInteger(), nullable=True)
            for c in ("filed", "rejected", "decided", "feedback", "legal_reviewed")
        ),
        _fen("decided_fen"),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("receipts", sa.Text(), nullable=False),
    )
    sa.Table(
        "scoring_tallies",
        m,
        *_month_district_squad(),
        sa.Column("metric", sa.String(64), primary_key=True),
        _fen("due"),
        _fen("on_time"),
    )
    sa.Table(
        "penalty_flows",
        m,
        *_month_district_squad(),
        sa.Column("agency", sa.String(64), primary_key=True),
        _fen("decided_fen"),
        _fen("collected_fen"),
        _fen("outstanding_change_fen"),
        _fen("overpaid_change_fen"),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("receipts", sa.BigInteger(), nullable=False),
    )
    sa.Table(
        "month_checks",
        m,
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("cards_checked", sa.Boolean(), nullable=False),
        sa.Column("penalties_checked", sa.Boolean(), nullable=False),
    )
    sa.Table(
        "feed_state",
        m,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def _receipts(m: sa.MetaData) -> None:
    """What the agencies were told: receipts sent, statuses, the intake's receipts."""
    sa.Table(
        "referral_receipts",
        m,
        # INTEGER PRIMARY KEY: SQLite's rowid; SERIAL on PostgreSQL
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("receipt_id", sa.String(320), nullable=False, unique=True),
        _code("agency"),
        sa.Column("referral_id", sa.String(128), nullable=False),
        _code("status"),
        *(_code(c, nullable=True) for c in ("case_id", "case_no")),
        sa.Column("reason", sa.Text(), nullable=True),
        _code("decision_no", nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        _instant("at", nullable=True),
        _instant("emitted_at"),
    )
    sa.Table(
        "referral_status",
        m,
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("referral_id", sa.String(128), primary_key=True),
        _code("status"),
        *(_code(c, nullable=True) for c in ("case_id", "case_no")),
        sa.Column("receipt_id", sa.String(320), nullable=False),
        _instant("updated_at"),
    )
    sa.Table(
        "intake_receipts",
        m,
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("referral_id", sa.String(128), primary_key=True),
        sa.Column("content_hash", sa.String(64), primary_key=True),
        _instant("accepted_at"),
        sa.Column("receipt", sa.JSON(), nullable=False),
    )


def upgrade() -> None:
    bind = op.get_bind()
    schema = baseline()
    adopting = set(schema.tables) & set(sa.inspect(bind).get_table_names())
    missing = _indexes_to_add(schema, adopting) if adopting else []
    schema.create_all(bind, checkfirst=True)  # leaves an existing table's indexes alone
    for index in missing:
        index.create(bind)


def _indexes_to_add(schema: sa.MetaData, adopting: set[str]) -> list[sa.Index]:
    """The indexes the existing tables lack; SchemaMismatch, before anything is created,
    when they differ from this revision in any other way."""
    missing: list[sa.Index] = []
    differences: list[str] = []
    for difference in compare_metadata(op.get_context(), schema):
        kind = difference[0][0] if isinstance(difference, list) else difference[0]
        if kind == "add_index" and difference[1].table.name in adopting:
            missing.append(difference[1])
        # add_table (and its indexes): created below; remove_table: another's table
        elif kind not in ("add_table", "add_index", "remove_table"):
            differences.append(_describe(difference))
    if differences:
        raise SchemaMismatch(
            "the existing tables differ from revision 0001 and were left as they were; "
            "matching it would take: " + "; ".join(differences[:5])
        )
    return missing


def downgrade() -> None:
    baseline().drop_all(op.get_bind(), checkfirst=True)


def _describe(difference: tuple[Any, ...] | list[tuple[Any, ...]]) -> str:
    """e.g. ``add_column cases.version`` or ``modify_nullable cases.state``."""
    change = difference[0] if isinstance(difference, list) else difference
    kind, rest = change[0], change[1:]
    if kind.startswith("modify_"):
        return f"{kind} {rest[1]}.{rest[2]}"
    if kind.endswith("_column"):
        return f"{kind} {rest[1]}.{rest[2].name}"
    return f"{kind} {getattr(rest[0], 'name', rest[0])}"
