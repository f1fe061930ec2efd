"""Generated inputs whose right answer is known without running the pipeline."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

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
