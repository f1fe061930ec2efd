"""What a group counts for the bureau's metrics: its live cases, merged referrals, exact
duplicates, amendments and penalties, by district; and how two tallies differ.

Kept in the group's state, so the agent can tell what a message changed without forming
the group's cases twice; counted by difference, so a redelivered message counts nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from streams.cases.forming import GroupView
from streams.dedup.rules import Version, counts
from streams.ledger.rules import ledger_for

CASES, DECIDED, COLLECTED = "cases", "decided", "collected"
MERGED, DUPLICATES, AMENDMENTS = "merged", "duplicates", "amendments"


def tally(view: GroupView, versions: Iterable[tuple[Version, ...]]) -> dict[str, int]:
    """Measures keyed ``measure`` or ``measure|district``."""
    out: Counter[str] = Counter()
    for case in view.cases.values():
        district = case.district_code
        ledger = ledger_for(case.decision, case.receipts)
        out[f"{CASES}|{district}"] += 1
        out[f"{DECIDED}|{district}"] += ledger.decided_fen
        out[f"{COLLECTED}|{district}"] += ledger.collected_fen
        out[MERGED] += len(case.members) - 1
    for kept in versions:
        tallied = counts(kept)
        out[DUPLICATES] += tallied.exact_duplicates
        out[AMENDMENTS] += tallied.versions - 1
    return {k: v for k, v in out.items() if v}


def changes(
    before: Mapping[str, int], after: Mapping[str, int]
) -> list[tuple[str, str | None, int]]:
    """(measure, district or None, change) for every measure that changed."""
    moved = []
    for key in sorted(before.keys() | after.keys()):
        delta = after.get(key, 0) - before.get(key, 0)
        if delta:
            measure, _, district = key.partition("|")
            moved.append((measure, district or None, delta))
    return moved
