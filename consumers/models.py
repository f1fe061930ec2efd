"""The SQL store's tables (SQLAlchemy 2 declarative mapping).

Rows are keyed by the events' natural keys, so writing the same output twice leaves one
row; case rows carry ``group_seq`` so an older snapshot never overwrites a newer one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Instants stored as UTC and read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


Instant = Annotated[datetime, mapped_column(UTCDateTime)]
MaybeInstant = Annotated[datetime | None, mapped_column(UTCDateTime, nullable=True)]
Fen = Annotated[int, mapped_column(BigInteger, default=0)]
Code = Annotated[str, mapped_column(String(64))]
MaybeCode = Annotated[str | None, mapped_column(String(64), nullable=True)]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, bytes: LargeBinary}


class CaseRow(Base):
    __tablename__ = "cases"

    case_id: Mapped[Code] = mapped_column(primary_key=True)
    case_no: Mapped[MaybeCode]
    group_key: Mapped[Code] = mapped_column(index=True)
    group_seq: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[Code]
    merged_into: Mapped[MaybeCode]
    district_code: Mapped[MaybeCode]
    squad_code: Mapped[MaybeCode]
    street_code: Mapped[MaybeCode]
    agency: Mapped[MaybeCode]
    category: Mapped[MaybeCode]
    opened_at: Mapped[MaybeInstant]
    filed_at: Mapped[MaybeInstant]
    rejected_at: Mapped[MaybeInstant]
    decided_at: Mapped[MaybeInstant]
    feedback_at: Mapped[MaybeInstant]
    closed_at: Mapped[MaybeInstant]
    decision_no: Mapped[MaybeCode]
    major: Mapped[bool | None]
    tier: Mapped[MaybeCode]
    legal_reviewed_at: Mapped[MaybeInstant]
    decided_fen: Mapped[Fen]
    collected_fen: Mapped[Fen]
    outstanding_fen: Mapped[Fen]
    overpaid_fen: Mapped[Fen]
    snapshot: Mapped[dict[str, Any]]
    # The sink adds 1 whenever a write brings the row newer content (a higher group_seq);
    # the scorecard feed sets scored_version to the version it took in, so the rows where
    # the two differ (ix_cases_unscored) are the cases that changed since it last looked.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    scored_version: Mapped[int] = mapped_column(BigInteger, default=-1, server_default=text("-1"))


class ReferralRow(Base):
    __tablename__ = "referrals"

    agency: Mapped[Code] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    case_id: Mapped[Code] = mapped_column(index=True)
    group_seq: Mapped[int] = mapped_column(BigInteger)
    referred_at: Mapped[Instant]
    opened_case: Mapped[bool]
    amendments: Mapped[int]
    exact_duplicates: Mapped[int]


class ReferralVersionRow(Base):
    __tablename__ = "referral_versions"

    agency: Mapped[Code] = mapped_column(primary_key=True)
    referral_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_no: Mapped[int] = mapped_column(primary_key=True)
    record: Mapped[dict[str, Any]]


class LedgerEntryRow(Base):
    """A decision (what is owed) or a receipt (what was paid) of a case."""

    __tablename__ = "ledger_entries"

    entry_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    case_id: Mapped[Code] = mapped_column(index=True)
    kind: Mapped[Code]  # "decision" | "receipt"
    decision_no: Mapped[MaybeCode]
    receipt_no: Mapped[MaybeCode]
    at: Mapped[Instant]
    amount_fen: Mapped[Fen]


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    letter_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200))
    error: Mapped[Code]
    reason: Mapped[str] = mapped_column(String(2000))
    source_topic: Mapped[str | None] = mapped_column(String(200))
    source_partition: Mapped[int | None]
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    source_file: Mapped[str | None] = mapped_column(String(500))
    source_line: Mapped[int | None]
    raw: Mapped[bytes]
    dead_lettered_at: Mapped[Instant]


class DeadLetterPayloadRow(Base):
    """The whole input of an oversized dead letter, whose own ``raw`` is only its start:
    written by the batch run that refused the line (consumers/payloads.py)."""

    __tablename__ = "dead_letter_payloads"

    letter_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)  # the input's length in bytes
    payload: Mapped[bytes]  # all of it, or its first KEPT_BYTES (consumers/publisher.py)
    kept_at: Mapped[Instant]


class ScorecardRow(Base):
    """Every revision of every unit's monthly scorecard; the highest revision is current."""

    __tablename__ = "scorecards"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    level: Mapped[Code] = mapped_column(primary_key=True)
    unit_code: Mapped[Code] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True)
    unit_name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[MaybeCode]
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    grade: Mapped[MaybeCode]
    rank: Mapped[int | None]
    metrics: Mapped[dict[str, Any]]
    closed_at: Mapped[Instant]


class PenaltyTotalsRow(Base):
    """A closed month's penalties for one district, squad and source agency."""

    __tablename__ = "penalty_totals"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    district_code: Mapped[Code] = mapped_column(primary_key=True)
    squad_code: Mapped[Code] = mapped_column(primary_key=True)
    agency: Mapped[Code] = mapped_column(primary_key=True)
    decided_fen: Mapped[Fen]
    collected_fen: Mapped[Fen]
    outstanding_fen: Mapped[Fen]
    overpaid_fen: Mapped[Fen]


MaybeMicros = Annotated[int | None, mapped_column(BigInteger, nullable=True)]


class ScoredCaseRow(Base):
    """A live case's facts as the scorecard feed last took it in: what it adds to the sums
    below under the rubric of the day, and what a change of the case takes out of them.
    Instants are microseconds since 1970-01-01 UTC: written and read in bulk, unparsed."""

    __tablename__ = "scored_cases"

    case_id: Mapped[Code] = mapped_column(primary_key=True)
    district_code: Mapped[Code]
    squad_code: Mapped[Code]
    agency: Mapped[Code]
    opened_us: Mapped[int] = mapped_column(BigInteger)
    filed_us: Mapped[MaybeMicros]
    rejected_us: Mapped[MaybeMicros]
    decided_us: Mapped[MaybeMicros]
    feedback_us: Mapped[MaybeMicros]
    legal_reviewed_us: Mapped[MaybeMicros]
    decided_fen: Mapped[Fen]
    major: Mapped[bool]
    # JSON [[receipt_no, paid_us, amount_fen], ...], or "" when there is none
    receipts: Mapped[str] = mapped_column(Text)


class ScoringTallyRow(Base):
    """The sum of the scored cases' items due in a month, by district, squad and metric
    (collection counts fen)."""

    __tablename__ = "scoring_tallies"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    district_code: Mapped[Code] = mapped_column(primary_key=True)
    squad_code: Mapped[Code] = mapped_column(primary_key=True)
    metric: Mapped[Code] = mapped_column(primary_key=True)
    due: Mapped[Fen]
    on_time: Mapped[Fen]


class PenaltyFlowRow(Base):
    """The sum of the scored cases' flows in a month, by district, squad and source agency
    (streams.ledger.totals.Flow)."""

    __tablename__ = "penalty_flows"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    district_code: Mapped[Code] = mapped_column(primary_key=True)
    squad_code: Mapped[Code] = mapped_column(primary_key=True)
    agency: Mapped[Code] = mapped_column(primary_key=True)
    decided_fen: Mapped[Fen]
    collected_fen: Mapped[Fen]
    outstanding_change_fen: Mapped[Fen]
    overpaid_change_fen: Mapped[Fen]
    decisions: Mapped[int] = mapped_column(BigInteger, default=0)
    receipts: Mapped[int] = mapped_column(BigInteger, default=0)


class MonthCheckRow(Base):
    """Whether a month's cards and penalty totals are up to date with the tallies and
    flows; a month without a row has never been checked."""

    __tablename__ = "month_checks"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    cards_checked: Mapped[bool]
    penalties_checked: Mapped[bool]


class FeedStateRow(Base):
    """The scorecard feed's running values: watermark, first referral, rubric and
    organisation digests."""

    __tablename__ = "feed_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


Index("ix_cases_district_opened", CaseRow.district_code, CaseRow.opened_at)
Index(
    "ix_cases_unscored",
    CaseRow.case_id,
    sqlite_where=CaseRow.version != CaseRow.scored_version,
    postgresql_where=CaseRow.version != CaseRow.scored_version,
)
