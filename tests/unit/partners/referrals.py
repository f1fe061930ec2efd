"""Partner referrals for the partner-agency tests: the sample's first housing line, varied."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.harness import SAMPLE

NOW = datetime(2022, 6, 1, tzinfo=UTC)
HOUSING: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])
TRAFFIC: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[1])


def housing(**changes: Any) -> dict[str, Any]:
    """The sample housing referral with ``changes``; a value of ``...`` removes the field."""
    out = {**HOUSING, **changes}
    return {k: v for k, v in out.items() if v is not ...}


def write_lines(path: Path, items: list[Any]) -> Path:
    """A JSONL file: dicts as JSON, strings as they are."""
    text = "".join(
        (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in items
    )
    path.write_text(text, encoding="utf-8")
    return path
