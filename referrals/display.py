"""How the CLI shows things to people: progress bars, tables, yuan from fen."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from consumers.presentation import local_time, yuan
from runtime.batch import Reporter, Summary
from streams.cases.snapshots import INSTANTS


class _Count(MofNCompleteColumn):
    """``done/total`` while publishing; ``N left`` while waiting for the pipeline; nothing
    for a stage that counts nothing."""

    def render(self, task: Task) -> Text:
        left = task.fields.get("left")
        if left is not None:
            return Text(f"{left:,} left")
        return super().render(task) if task.total is not None else Text("")


class ProgressReporter(Reporter):
    """One progress bar per stage of a run, drawn on stderr."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            _Count(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.task: TaskID | None = None
        self.most_left = 0

    def __enter__(self) -> ProgressReporter:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # a run that failed or was stopped leaves its last bar as it stood
        self._finish(done=exc_type is None)
        self.progress.stop()

    def _finish(self, *, done: bool = True) -> None:
        """A stage that showed no progress of its own is full once done; one that did keeps
        its last figures, the truth also when the run was stopped in the middle."""
        if self.task is None:
            return
        task = self.progress.tasks[-1]
        if done and task.total is None:
            self.progress.update(self.task, total=1, completed=1)
        self.progress.stop_task(self.task)

    def stage(self, name: str, total: int | None = None) -> None:
        self._finish()
        self.task = self.progress.add_task(name, total=total)
        self.most_left = 0

    def advance(self, done: int, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done, total=max(total, 1))

    def remaining(self, left: int) -> None:
        if self.task is not None:
            self.most_left = max(self.most_left, left)
            total = max(self.most_left, 1)
            self.progress.update(self.task, completed=total - left, total=total, left=left)


def print_summary(console: Console, summary: Summary) -> None:
    table = Table(title="run summary", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("lines published", summary.published),
        ("dead-lettered", summary.dead_lettered),
        ("exact duplicates", summary.exact_duplicates),
        ("amendments", summary.amendments),
        ("merged into a case", summary.merged),
        ("cases opened", summary.cases_opened),
    ):
        table.add_row(label, str(value))
    console.print(table)


def print_case(console: Console, case: dict[str, Any]) -> None:
    table = Table(title=f"case {case['case_id']}  {case['case_no'] or ''}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("state", case["state"])
    table.add_row("district / squad", f"{case['district_code']} / {case['squad_code']}")
    for moment in INSTANTS:
        if case[moment]:
            table.add_row(moment.removesuffix("_at"), local_time(case[moment]))
    referrals = [
        f"{r['agency']}:{r['referral_id']}"
        + ("" if r["opened_case"] else " (merged)")
        + (f" ({r['amendments']} amendments)" if r["amendments"] else "")
        + (f" ({r['exact_duplicates']} duplicates)" if r["exact_duplicates"] else "")
        for r in case["referrals"]
    ]
    table.add_row("referrals", "\n".join(referrals))
    table.add_row("decided (yuan)", yuan(case["decided_fen"]))
    table.add_row("collected (yuan)", yuan(case["collected_fen"]))
    table.add_row("outstanding (yuan)", yuan(case["outstanding_fen"]))
    if case["overpaid_fen"]:
        table.add_row("overpaid (yuan)", yuan(case["overpaid_fen"]))
    console.print(table)


def print_dead_letters(console: Console, letters: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(letters)} dead letters")
    table.add_column("error", no_wrap=True)
    table.add_column("reason", ratio=3)
    table.add_column("source", ratio=1)
    table.add_column("at", no_wrap=True)
    for letter in letters:
        if letter["source_file"]:
            source = f"{Path(letter['source_file']).name}:{letter['source_line']}"
        else:
            source = (
                f"{letter['source_topic']}/{letter['source_partition']}/{letter['source_offset']}"
            )
        table.add_row(
            letter["error"], letter["reason"], source, local_time(letter["dead_lettered_at"])
        )
    console.print(table)


METRIC_LABELS = {
    "filing_timeliness": "立案",
    "decision_timeliness": "处罚",
    "legal_review": "法审",
    "collection": "执收",
    "feedback": "反馈",
}
GRADE_LABELS = {"EXCELLENT": "优秀", "GOOD": "良好", "PASS": "合格", "FAIL": "不合格"}


def _rate(metric: str, tally: dict[str, Any]) -> str:
    """On time of due for counted items; the amount ratio for collection (fen)."""
    if tally["rate"] is None:
        return "—"
    if metric == "collection":
        return f"{tally['rate']:.0%}"
    return f"{tally['on_time']}/{tally['due']}"


def print_scorecards(console: Console, cards: list[dict[str, Any]], month: str, level: str) -> None:
    if not cards:
        console.print(f"no scorecards for {month}: the month is not closed yet")
        return
    table = Table(title=f"{month} {level} scorecards (revision {cards[0]['revision']})")
    for column in ("rank", "unit", "score", "grade"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for metric in METRIC_LABELS.values():
        table.add_column(metric, justify="right")
    for card in cards:
        score = "—" if card["score"] is None else f"{card['score']:.2f}"
        table.add_row(
            str(card["rank"] or "—"),
            card["unit_name"],
            score,
            GRADE_LABELS.get(card["grade"] or "", "—"),
            *(_rate(m, card["metrics"][m]) for m in METRIC_LABELS),
        )
    console.print(table)


def scorecards_csv(cards: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "month",
            "level",
            "unit_code",
            "unit_name",
            "parent_code",
            "revision",
            "score",
            "grade",
            "rank",
            *(f"{m}_{part}" for m in METRIC_LABELS for part in ("due", "on_time", "rate")),
        ]
    )
    for card in cards:
        writer.writerow(
            [
                card["month"],
                card["level"],
                card["unit_code"],
                card["unit_name"],
                card["parent_code"],
                card["revision"],
                card["score"],
                card["grade"],
                card["rank"],
                *(
                    card["metrics"][m][part]
                    for m in METRIC_LABELS
                    for part in ("due", "on_time", "rate")
                ),
            ]
        )
    return buffer.getvalue()


def print_penalties(console: Console, rows: list[dict[str, Any]], year: int) -> None:
    table = Table(title=f"penalties {year} by district (yuan)")
    for column in (
        "district",
        "decided",
        "collected",
        f"collected {year - 1}",
        "change",
        "outstanding at year end",
    ):
        table.add_column(column, justify="left" if column == "district" else "right")
    for row in rows:
        change = row["collected_change_pct"]
        table.add_row(
            row["district_name"],
            yuan(row["decided_fen"]),
            yuan(row["collected_fen"]),
            yuan(row["collected_before_fen"]),
            "—" if change is None else f"{change:+.1f}%",
            yuan(row["outstanding_fen"]),
        )
    console.print(table)
