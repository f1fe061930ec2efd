"""What the monitoring page reads from the SQL store, beside consumers/queries.py and the
scorecard feed's ``latest_scorecards``: cases by district and state, what is overdue, the
cases behind a scorecard's shortfalls, scorecard trends and penalties by month.

"Overdue" is judged at the event-time watermark (the latest instant the store holds), the
clock every other rule uses, so a replayed year reads as it did at its end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.models import CaseRow, PenaltyTotalsRow, ScorecardRow
from consumers.scorecard_feed import latest_scorecards
from consumers.scorecards.facts import of_case_row
from streams.ledger.rules import Receipt
from streams.scorecards.rubric import Rubric
from streams.scorecards.scoring import CaseFacts, deadlines, month_of

EPOCH = datetime.min.replace(tzinfo=UTC)


def facts_of(row: CaseRow) -> CaseFacts:
    """What scoring needs of one stored case (the feed's reading, its receipts from the
    snapshot)."""
    paid = tuple(
        Receipt(p["receipt_no"], datetime.fromisoformat(p["paid_at"]), p["amount_fen"])
        for p in row.snapshot.get("payments") or ()
    )
    return of_case_row(row, paid).facts


def _done_at(metric: str, case: CaseFacts) -> datetime | None:
    """When the item of ``metric`` was done (None: not yet); collection is never 'done'."""
    return {
        "filing_timeliness": case.filed_at or case.rejected_at,
        "decision_timeliness": case.decided_at,
        "legal_review": case.legal_reviewed_at,
        "feedback": case.feedback_at,
    }.get(metric)


@dataclass(frozen=True)
class Shortfall:
    """An item of a case that was due and not (wholly) on time."""

    metric: str
    case_id: str
    case_no: str | None
    district_code: str
    squad_code: str
    deadline: datetime
    due: int
    on_time: int
    done_at: datetime | None

    @property
    def status(self) -> str:
        if self.metric == "collection":
            return "partial" if self.on_time else "missing"
        return "late" if self.done_at is not None else "missing"

    def document(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "case_id": self.case_id,
            "case_no": self.case_no,
            "district_code": self.district_code,
            "squad_code": self.squad_code,
            "deadline": self.deadline.isoformat(),
            "due": self.due,
            "on_time": self.on_time,
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "status": self.status,
        }


def _live_cases(session: Session) -> Iterable[CaseRow]:
    return session.scalars(
        select(CaseRow).where(CaseRow.state != "MERGED").order_by(CaseRow.case_id)
    )


def _owned(row: CaseRow, level: str, code: str) -> bool:
    return level == "city" or (row.district_code if level == "district" else row.squad_code) == code


def shortfalls(
    session: Session, rubric: Rubric, month: str, level: str, code: str
) -> list[Shortfall]:
    """The items due in ``month`` of the unit's cases that were late, missing or partly
    paid: the cases behind each metric's shortfall on the unit's scorecard."""
    found = []
    for row in _live_cases(session):
        if not _owned(row, level, code):
            continue
        case = facts_of(row)
        for metric, deadline, due, on_time in deadlines(case, rubric):
            if month_of(deadline) == month and on_time < due:
                found.append(
                    Shortfall(
                        metric,
                        row.case_id,
                        row.case_no,
                        case.district_code,
                        case.squad_code,
                        deadline,
                        due,
                        on_time,
                        _done_at(metric, case),
                    )
                )
    return sorted(found, key=lambda s: (s.metric, s.deadline, s.case_id))


def overdue_items(case: CaseFacts, rubric: Rubric, as_of: datetime) -> list[str]:
    """The metrics whose item is past its deadline at ``as_of`` and still not done."""
    late = []
    for metric, deadline, due, on_time in deadlines(case, rubric):
        if deadline >= as_of or on_time >= due:
            continue
        unpaid = metric == "collection" and sum(r.amount_fen for r in case.receipts) < due
        if unpaid or (metric != "collection" and _done_at(metric, case) is None):
            late.append(metric)
    return late


def case_rows(
    session: Session,
    rubric: Rubric,
    as_of: datetime | None,
    *,
    district: str | None = None,
    state: str | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """Live cases (filtered), each with what is overdue at ``as_of``."""
    result = []
    for row in _live_cases(session):
        if (district and row.district_code != district) or (state and row.state != state):
            continue
        late = overdue_items(facts_of(row), rubric, as_of) if as_of else []
        if overdue and not late:
            continue
        result.append(
            {
                "case_id": row.case_id,
                "case_no": row.case_no,
                "state": row.state,
                "district_code": row.district_code,
                "squad_code": row.squad_code,
                "category": row.category,
                "opened_at": row.opened_at.isoformat() if row.opened_at else None,
                "outstanding_fen": row.outstanding_fen,
                "overdue": late,
            }
        )
    return result


def case_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """By district: cases in each state, and how many are overdue."""
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        tally = counts.setdefault(row["district_code"] or "", Counter())
        tally[row["state"]] += 1
        tally["overdue"] += bool(row["overdue"])
    return {district: dict(tally) for district, tally in sorted(counts.items())}


def scorecard_months(session: Session) -> list[str]:
    """Every month with a scorecard, newest first."""
    months = session.scalars(select(ScorecardRow.month).distinct())
    return sorted(months, reverse=True)


def previous_months(month: str, n: int) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first."""
    year, number = (int(x) for x in month.split("-"))
    months = []
    for _ in range(n):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return months[::-1]


def score_trend(
    session: Session, month: str, level: str = "district", n: int = 12
) -> dict[str, Any]:
    """Each unit's score in the ``n`` months up to ``month`` (None: not closed or nothing due)."""
    months = previous_months(month, n)
    names: dict[str, str] = {}
    scores: dict[str, list[float | None]] = {}
    for index, current in enumerate(months):
        for card in latest_scorecards(session, current, level):
            names[card["unit_code"]] = card["unit_name"]
            scores.setdefault(card["unit_code"], [None] * n)[index] = card["score"]
    return {
        "months": months,
        "units": [
            {"unit_code": code, "unit_name": names[code], "scores": scores[code]}
            for code in sorted(scores)
        ],
    }


def penalties_by_month(session: Session, year: int) -> list[dict[str, Any]]:
    """Decided, collected and outstanding (fen) by district and closed month of ``year``."""
    rows = session.scalars(select(PenaltyTotalsRow).where(PenaltyTotalsRow.month.like(f"{year}-%")))
    sums: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        total = sums.setdefault((row.district_code, row.month), [0, 0, 0])
        total[0] += row.decided_fen
        total[1] += row.collected_fen
        total[2] += row.outstanding_fen
    return [
        {
            "district_code": district,
            "month": month,
            "decided_fen": decided,
            "collected_fen": collected,
            "outstanding_fen": outstanding,
        }
        for (district, month), (decided, collected, outstanding) in sorted(sums.items())
    ]
