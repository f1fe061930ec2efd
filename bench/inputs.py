"""Generated inputs: the end-to-end benchmark's (``event_lines``, prepared once and
published as they are), and ones whose right answer is known without running the
pipeline (``decided_cases``, for the fault tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.scaled import scaled_lines
from consumers.publisher import Outgoing, prepare_line
from schemas.codec import default_store
from streams import topics
from streams.organisation import (
    Organisation,
    OrganisationError,
    default_organisation_path,
    load_organisation,
)

CST = timezone(timedelta(hours=8))
DISTRICTS = ("430202", "430203", "430204", "430211", "430212")


def decided_cases(path: Path, cases: int) -> dict[str, int]:
    """Write ``cases`` cases of six events each — a referral, a filing, a decision and two
    instalments, the first sent twice — and return each referral's decided amount, which
    is also what must end up collected."""
    amounts: dict[str, int] = {}
    start = datetime(2022, 1, 3, 9, 0, tzinfo=CST)
    with path.open("w", encoding="utf-8") as out:
        for i in range(cases):
            rid = f"F-{i:05d}"
            at = start + timedelta(minutes=37 * i)
            amount = 10_000 * (i % 50 + 1) + i  # fen, distinct per case
            amounts[rid] = amount
            ref = {"agency": "HOUSING", "referral_id": rid}
            first = {
                "kind": "payment",
                **ref,
                "receipt_no": f"R-{i}-1",
                "decision_no": f"D-{i}",
                "amount_fen": amount // 3,
                "paid_at": (at + timedelta(days=25)).isoformat(),
            }
            lines = [
                {
                    "kind": "referral",
                    **ref,
                    "referred_at": at.isoformat(),
                    "district_code": DISTRICTS[i % 5],
                    "address": f"{i}号",
                    "category": "ILLEGAL_CONSTRUCTION",
                    "description": "违法建设",
                    "housing": {"project_name": f"项目{i}"},
                },
                {"kind": "case_filed", **ref, "filed_at": (at + timedelta(days=2)).isoformat()},
                {
                    "kind": "case_decided",
                    **ref,
                    "decision_no": f"D-{i}",
                    "amount_fen": amount,
                    "tier": "GENERAL",
                    "decided_at": (at + timedelta(days=20)).isoformat(),
                },
                first,
                {
                    **first,
                    "receipt_no": f"R-{i}-2",
                    "amount_fen": amount - amount // 3,
                    "paid_at": (at + timedelta(days=40)).isoformat(),
                },
                first,
            ]
            out.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return amounts


def event_lines(seed: int, events: int) -> Iterator[str]:
    """``events`` JSONL lines of a city's referrals, cases and payments, in publication
    order: the input of the end-to-end runs. The one place to switch generators (a
    generator of incidents: ``islice`` it to ``events`` lines)."""
    return scaled_lines(seed, events)


@dataclass(frozen=True)
class Prepared:
    """Input encoded for its topics before any clock starts, and what the store must
    hold once it is processed: one row per distinct valid referral."""

    records: list[Outgoing]
    referrals: int


def prepare(lines: Iterable[str], source: str, org: Organisation | None = None) -> Prepared:
    org = org or load_organisation(default_organisation_path())
    store = default_store()
    records: list[Outgoing] = []
    referrals: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        record = prepare_line(line, source, number, store)
        records.append(record)
        if record.topic in topics.REFERRAL_TOPICS.values():
            obj = json.loads(line)
            try:
                org.route(obj["district_code"], obj.get("street_code"))
            except OrganisationError:
                continue  # dead-lettered by the pipeline
            referrals.add((obj["agency"], obj["referral_id"]))
    return Prepared(records, len(referrals))


def warm_up_lines(count: int) -> list[str]:
    """Referrals dated before any generated input, with keys on every partition, that a
    run publishes first to know its workers are consuming."""
    at = datetime(2015, 6, 1, 9, 0, tzinfo=CST)
    return [
        json.dumps(
            {
                "kind": "referral",
                "agency": "HOUSING",
                "referral_id": f"WARM-UP-{i:03d}",
                "referred_at": (at + timedelta(hours=i)).isoformat(),
                "district_code": DISTRICTS[i % len(DISTRICTS)],
                "address": f"{i}号",
                "category": "ILLEGAL_CONSTRUCTION",
                "description": "违法建设",
                "evidence": [],
                "housing": {"project_name": f"项目{i}", "permit_no": None},
            },
            ensure_ascii=False,
        )
        for i in range(count)
    ]
