"""Reading the SQL store for the CLI: a case by any of its keys, the dead letters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.models import (
    CaseRow,
    DeadLetterPayloadRow,
    DeadLetterRow,
    LedgerEntryRow,
    PenaltyTotalsRow,
    ReferralRow,
)
from streams.errors import CaseNotFound, NotFound, Reason
from streams.events import ReferralKey
from streams.ledger.totals import Totals, year_on_year
from streams.organisation import Organisation
from streams.reports.annual import CaseFacts, ReferralFacts, annual_report


def find_case(session: Session, reference: str) -> CaseRow:
    """The current case for ``AGENCY:REFERRAL_ID`` or a case id (absorbed ids followed)."""
    case_id = reference
    if ":" in reference:
        key = ReferralKey.parse(reference)
        referral = session.get(ReferralRow, (key.agency, key.referral_id))
        if referral is None:
            raise CaseNotFound(f"no case holds referral {key}")
        case_id = referral.case_id
    for _ in range(100):  # an absorbed case points to its heir; never loop forever
        case = session.get(CaseRow, case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id}")
        if case.merged_into is None:
            return case
        case_id = case.merged_into
    raise CaseNotFound(f"case {reference} is absorbed in a cycle of merges")


def case_document(case: CaseRow) -> dict[str, Any]:
    """The case as ``case --format json`` object of docs/contract.md."""
    snapshot = case.snapshot
    return {
        "case_id": case.case_id,
        "case_no": case.case_no,
        "state": case.state,
        "district_code": case.district_code,
        "squad_code": case.squad_code,
        "street_code": case.street_code,
        "category": case.category,
        "referrals": [
            {
                "agency": r["agency"],
                "referral_id": r["referral_id"],
                "referred_at": r["referred_at"],
                "opened_case": r["opened_case"],
                "amendments": r["amendments"],
                "exact_duplicates": r["exact_duplicates"],
            }
            for r in snapshot["referrals"]
        ],
        "opened_at": snapshot["opened_at"],
        "filed_at": snapshot["filed_at"],
        "rejected_at": snapshot["rejected_at"],
        "decided_at": snapshot["decided_at"],
        "feedback_at": snapshot["feedback_at"],
        "closed_at": snapshot["closed_at"],
        "decision": snapshot["decision"],
        "payments": snapshot["payments"],
        "decided_fen": case.decided_fen,
        "collected_fen": case.collected_fen,
        "outstanding_fen": case.outstanding_fen,
        "overpaid_fen": case.overpaid_fen,
        "history": snapshot["history"],
    }


def dead_letters(session: Session) -> list[dict[str, Any]]:
    """Every dead letter, oldest first. The letter of an oversized input carries only its
    start (``raw_truncated``); ``full_raw`` says where the whole of it is: a row of
    ``dead_letter_payloads`` (``full_payload``) or the input topic's record."""
    kept = DeadLetterPayloadRow
    rows = session.execute(
        select(DeadLetterRow, kept.size)  # the size only: payloads may be megabytes each
        .outerjoin(kept, kept.letter_key == DeadLetterRow.letter_key)
        .order_by(DeadLetterRow.dead_lettered_at, DeadLetterRow.letter_key)
    )
    return [_letter(row, size) for row, size in rows]


_LETTER_COLUMNS = (
    *("event_id", "error", "reason"),
    *("source_topic", "source_partition", "source_offset", "source_file", "source_line"),
)


def _letter(row: DeadLetterRow, kept_size: int | None) -> dict[str, Any]:
    truncated = kept_size is not None or row.error == Reason.OVERSIZED
    full = None
    if kept_size is not None:
        full = f"sql:dead_letter_payloads/{row.letter_key}"
    elif truncated and row.source_topic is not None:
        full = f"kafka:{row.source_topic}/{row.source_partition}/{row.source_offset}"
    return {
        **{column: getattr(row, column) for column in _LETTER_COLUMNS},
        "dead_lettered_at": row.dead_lettered_at.isoformat(),
        "raw_base64": base64.b64encode(row.raw).decode(),
        "raw_truncated": truncated,
        "full_raw": full,
        "full_raw_size": kept_size,
    }


def full_payload(session: Session, letter_key: str) -> bytes:
    """The whole input of the oversized dead letter ``letter_key`` (``EVENT_ID#CODE``) as
    the store keeps it; raises NotFound when the store has none."""
    row = session.get(DeadLetterPayloadRow, letter_key)
    if row is None:
        raise NotFound(f"the store keeps no whole input for dead letter {letter_key}")
    return row.payload


def annual_report_of(session: Session, year: int) -> dict[str, Any]:
    """The annual report of what the store holds."""
    referrals = [
        ReferralFacts(r.agency, r.referred_at, r.exact_duplicates, r.opened_case)
        for r in session.scalars(select(ReferralRow))
    ]
    receipts: dict[str, list[tuple[datetime, int]]] = {}
    for entry in session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.kind == "receipt")):
        receipts.setdefault(entry.case_id, []).append((entry.at, entry.amount_fen))
    cases = [
        CaseFacts(
            agency=c.agency or "",
            opened_at=c.opened_at or datetime.min.replace(tzinfo=UTC),
            filed_at=c.filed_at,
            decided_at=c.decided_at,
            decided_fen=c.decided_fen,
            major=bool(c.major),
            payments=tuple(receipts.get(c.case_id, ())),
        )
        for c in session.scalars(select(CaseRow).where(CaseRow.state != "MERGED"))
    ]
    return annual_report(year, referrals, cases)


def penalties_by_district(session: Session, year: int, org: Organisation) -> list[dict[str, Any]]:
    """Decided and collected by district in ``year``, collected the year before, the change
    in percent, and what was outstanding at the year's end (closed months only)."""
    rows = session.scalars(
        select(PenaltyTotalsRow).where(
            PenaltyTotalsRow.month.between(f"{year - 1}-01", f"{year}-12")
        )
    ).all()
    totals = {
        (r.month, r.district_code, r.squad_code, r.agency): Totals(
            r.decided_fen, r.collected_fen, r.outstanding_fen, r.overpaid_fen
        )
        for r in rows
    }
    changes = year_on_year(totals, year)
    last_month = max((r.month for r in rows if r.month.startswith(f"{year}-")), default=None)
    result = []
    for code, district in org.districts.items():
        this, before, change = changes.get(code, (0, 0, None))
        result.append(
            {
                "district_code": code,
                "district_name": district.name,
                "decided_fen": sum(
                    r.decided_fen
                    for r in rows
                    if r.district_code == code and r.month.startswith(f"{year}-")
                ),
                "collected_fen": this,
                "collected_before_fen": before,
                "collected_change_pct": change,
                "outstanding_fen": sum(
                    r.outstanding_fen
                    for r in rows
                    if r.district_code == code and r.month == last_month
                ),
            }
        )
    return result
